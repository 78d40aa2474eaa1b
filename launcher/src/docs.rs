//! `fakebox completions SHELL` and `fakebox man`: made from the clap definitions, so they
//! never disagree with `--help`.
use crate::cli::Cli;
use crate::session::{EXIT_FAILURE, Failure};
use clap::CommandFactory;
use std::io::Write;

fn print(out: &[u8]) -> Result<i32, Failure> {
    // A reader that stops early (`| head`) is fine.
    let _ = std::io::stdout().write_all(out);
    Ok(0)
}

pub fn completions(shell: clap_complete::Shell) -> Result<i32, Failure> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "fakebox", &mut out);
    print(&out)
}

/// The sections every page ends with: what fakebox reads from the environment, the files
/// it makes, and its exit statuses (roff).
const COMMON: &str = r#".SH EXIT STATUS
\fBfakebox run\fR exits with the command's status, or 128+N when signal N killed it.
125: fakebox itself failed (a message starting \fBfakebox:\fR says what and why).
126: the command cannot run. 127: the command is not found.
\fBfakebox inspect \-\-check\fR exits 1 when it reports entries, and \fBinspect\fR
exits 1 when a PATH given cannot be read.
.SH ENVIRONMENT
.TP
\fBFAKEBOX_LOG\fR
\fBdebug\fR or \fBtrace\fR: the preload library, the tracer and the daemon say what they do, on
standard error. Unset: silent.
.TP
\fBFAKEBOX_LOG_FILE\fR
Write that log to this file instead.
.TP
\fBFAKEBOX_AGENT\fR
\fBoff\fR: traced programs stay under ptrace (one stop per faked call) instead of
running with the in-process agent.
.TP
\fBSHELL\fR
The command \fBfakebox run\fR starts when none is given (else \fB/bin/sh\fR).
.TP
\fBXDG_RUNTIME_DIR\fR, \fBTMPDIR\fR, \fBXDG_CACHE_HOME\fR, \fBHOME\fR
Where the private directory goes (see FILES). An \fBXDG_RUNTIME_DIR\fR that is not the
caller's, or that others may enter, is ignored.
.TP
\fBFAKEROOTKEY\fR, \fBFAKED_MODE\fR
Set for the command, as fakeroot sets them; a \fBfakebox run\fR or \fBfakeroot\fR that
finds them (with a live session) joins that session.
.TP
\fBFAKEBOX_SOCKET\fR, \fBFAKEBOX_LIB\fR, \fBFAKEBOX_IDS\fR, \fBFAKEBOX_TABLE\fR, \fBFAKEBOX_TRACER\fR, \fBFAKEBOX_ATTACH\fR, \fBFAKEBOX_EXE\fR, \fBFAKEBOX_HELLO_FD\fR, \fBFAKEBOX_RUNTIME\fR
Set by fakebox for the programs of a session, and put back at every exec; not for users.
.SH FILES
.TP
\fIS\fR, \fIS\fR\fB.journal\fR
The state of \fBfakebox run \-\-state \fIS\fR (mode 0600): the table when the last session
left, and every change since, appended before the program hears back.
.TP
\fB$XDG_RUNTIME_DIR/fakebox\fR, else \fB${TMPDIR:\-/tmp}/fakebox\-\fIUID\fR, else \fB${XDG_CACHE_HOME:\-~/.cache}/fakebox\-\fIUID\fR
The private directory (0700, the first of these that is the caller's alone): the socket
and lock of each state file's daemon, and the copy of the embedded preload library
(\fBlibfakebox\-\fIHASH\fB.so\fR) when none is installed beside the binary.
.TP
\fB$XDG_RUNTIME_DIR/fakebox\-\fIXXXXXX\fR (else in \fB$TMPDIR\fR or \fB/tmp\fR)
Each session's own sockets, removed when it ends.
"#;

/// One page: clap's sections, then the common ones, then the other pages.
fn page(cmd: clap::Command, others: &[String]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut out)?;
    out.extend_from_slice(COMMON.as_bytes());
    if !others.is_empty() {
        let names: Vec<String> = others.iter().map(|o| format!("\\fB{o}\\fR(1)")).collect();
        out.extend_from_slice(format!(".SH SEE ALSO\n{}, fakeroot(1)\n", names.join(", ")).as_bytes());
    }
    Ok(out)
}

/// Every page: fakebox.1 and one per subcommand, with their names.
fn pages() -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let subs: Vec<clap::Command> = cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned().collect();
    let name = |c: &clap::Command| c.get_display_name().unwrap_or(c.get_name()).to_string();
    let all: Vec<String> = std::iter::once("fakebox".to_string()).chain(subs.iter().map(name)).collect();
    let mut out = Vec::new();
    for c in std::iter::once(cmd.clone()).chain(subs) {
        let n = name(&c);
        let others: Vec<String> = all.iter().filter(|o| **o != n).cloned().collect();
        out.push((n, page(c, &others)?));
    }
    Ok(out)
}

pub fn man(dir: Option<&std::path::Path>) -> Result<i32, Failure> {
    let err = |e: std::io::Error| Failure(format!("man: {e}"), EXIT_FAILURE);
    let pages = pages().map_err(err)?;
    let Some(dir) = dir else { return print(&pages[0].1) };
    std::fs::create_dir_all(dir).map_err(|e| Failure(format!("man: {}: {e}", dir.display()), EXIT_FAILURE))?;
    for (name, text) in &pages {
        let path = dir.join(format!("{name}.1"));
        std::fs::write(&path, text).map_err(|e| Failure(format!("man: {}: {e}", path.display()), EXIT_FAILURE))?;
        println!("{}", path.display());
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_for_every_subcommand_and_each_names_only_pages_that_exist() {
        let pages = pages().unwrap();
        let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
        for want in ["fakebox", "fakebox-run", "fakebox-inspect", "fakebox-doctor", "fakebox-man"] {
            assert!(names.contains(&want), "{want} in {names:?}");
        }
        for (name, text) in &pages {
            let text = String::from_utf8_lossy(text);
            for section in [".SH EXIT STATUS", ".SH ENVIRONMENT", ".SH FILES", "FAKEBOX_LOG_FILE", "FAKEBOX_AGENT"] {
                assert!(text.contains(section), "{name} lacks {section}");
            }
            // Every page named is one that is written.
            for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')) {
                if word.starts_with("fakebox-") && text.contains(&format!("{word}\\fR(1)")) {
                    assert!(names.contains(&word), "{name} names {word}(1), which is not written");
                }
            }
        }
        let run = &pages.iter().find(|(n, _)| n == "fakebox-run").unwrap().1;
        assert!(String::from_utf8_lossy(run).contains("mechanism"), "run's options are on its page");
    }
}
