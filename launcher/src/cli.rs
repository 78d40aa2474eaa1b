//! The command line.
use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use std::ffi::OsString;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "fakebox",
    version,
    about = "Run a build as if it were root: files get any owner, mode, device node or capability as the build sees them, while nothing on disk changes beyond your own rights.",
    after_help = "Example: fakebox run -- sh -c 'make install DESTDIR=$PWD/pkg && tar -cf pkg.tar -C pkg .'

Environment: FAKEBOX_LOG=debug|trace (what the library, tracer and daemon do, on stderr),
FAKEBOX_LOG_FILE=PATH (that log to a file), FAKEBOX_AGENT=off (traced programs stay under
ptrace), SHELL (the default command), XDG_RUNTIME_DIR, TMPDIR, XDG_CACHE_HOME (where the
private directory goes). The command gets FAKEROOTKEY and FAKED_MODE. See fakebox man."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parses `args` (the program's name first), noting which of `run`'s options were
    /// given on the command line rather than left at their defaults.
    pub fn parse_from_args(args: &[OsString]) -> Result<Cli, clap::Error> {
        let m = Cli::command().try_get_matches_from(args)?;
        let mut cli = Cli::from_arg_matches(&m)?;
        if let (Command::Run(r), Some(("run", sub))) = (&mut cli.command, m.subcommand()) {
            r.given = RunArgs::OPTIONS
                .iter()
                .copied()
                .filter(|id| sub.value_source(id) == Some(ValueSource::CommandLine))
                .collect();
        }
        Ok(cli)
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run COMMAND (default: $SHELL, else /bin/sh) in a fake-root session and exit with its status.
    #[command(after_help = "\
Examples:
  fakebox run -- make install DESTDIR=$PWD/pkg
  fakebox run --state pkg.state -- sh -c 'chown -R root:root pkg && chmod 4755 pkg/usr/bin/tool'
  fakebox run --state pkg.state -- tar --numeric-owner -cpf pkg.tar -C pkg .
  fakebox run -- dpkg-deb --build pkg pkg.deb
  dpkg-buildpackage -us -uc -b -r'fakebox run --'

Exit status: that of COMMAND (128+N when a signal N killed it); 125 when fakebox itself
fails, 126 when COMMAND cannot run, 127 when it is not found.")]
    Run(RunArgs),
    /// Show what a state file holds: owner, group, mode, device, xattr names, and the path
    /// where it is known.
    #[command(after_help = "\
Examples:
  fakebox inspect --state pkg.state                 every recorded inode
  fakebox inspect --state pkg.state pkg/usr/bin/*    what these files are in the session
  fakebox inspect --state pkg.state --json > entries.json
  fakebox inspect --state pkg.state --root pkg --check
  fakebox inspect --state pkg.state --root pkg --prune

Recorded inodes are named by device and inode number; a path is shown for the PATHs given
and, with --root, for what is found below DIR. --check reports entries whose inode now
belongs to another file (reused) and entries not found below DIR (gone, or elsewhere);
--prune drops them from the state. A state in use by a running session is not pruned.")]
    Inspect(InspectArgs),
    /// Convert another tool's table into a new fakebox state file (e.g. fakebox import-state
    /// --from fakeroot build.save --state pkg.state).
    #[command(after_help = "\
Examples:
  fakeroot -s build.save -- make install DESTDIR=$PWD/pkg    (the real fakeroot)
  fakebox import-state --from fakeroot build.save --state pkg.state
  fakebox run --state pkg.state -- tar -cpf pkg.tar -C pkg .

FILE is left as it is. The state file must be new (missing or empty): an import does not
merge into a table. fakebox's `fakeroot -i FILE` reads fakeroot's file without a conversion.")]
    ImportState(ImportArgs),
    /// Make DIR/fakeroot, a link to fakebox that takes fakeroot's command line
    /// (e.g. fakebox install-compat ~/.local/bin; then dpkg-buildpackage -rfakeroot).
    InstallCompat {
        /// Where the link goes (e.g. ~/.local/bin).
        dir: PathBuf,
    },
    /// Say what this machine allows fakebox to do, and what each failure means.
    Doctor,
    /// Print shell completions (e.g. fakebox completions bash > /etc/bash_completion.d/fakebox).
    Completions {
        /// bash, zsh or fish (e.g. zsh).
        shell: clap_complete::Shell,
    },
    /// Print the man page fakebox.1, or write every page (fakebox.1, fakebox-run.1, ...) to a
    /// directory (e.g. fakebox man --dir ~/.local/share/man/man1).
    Man {
        /// Write fakebox.1 and a page for each subcommand into DIR (made if missing).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    /// The state file (e.g. --state pkg.state).
    #[arg(long, value_name = "PATH")]
    pub state: PathBuf,

    /// Print JSON, one object per entry, for scripts (e.g. --json | jq .).
    #[arg(long)]
    pub json: bool,

    /// Look for the recorded inodes below DIR to name them (e.g. --root pkg).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// Report entries whose file is gone or whose inode number was reused (e.g. --check --root pkg).
    /// Needs --root: a state records inodes, not paths, so only a walk of DIR can tell.
    #[arg(long, requires = "root")]
    pub check: bool,

    /// Drop the entries --check reports (e.g. --prune --root pkg). Needs --root.
    #[arg(long, conflicts_with = "check", requires = "root")]
    pub prune: bool,

    /// Show these files as the session sees them (e.g. pkg/usr/bin/tool).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// The tool that wrote FILE (e.g. --from fakeroot: a file of `fakeroot -s FILE`).
    #[arg(long, value_enum, value_name = "TOOL")]
    pub from: ImportFrom,

    /// The state file to write (e.g. --state pkg.state); it must not hold a table yet.
    #[arg(long, value_name = "PATH")]
    pub state: PathBuf,

    /// The file to convert (e.g. build.save).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportFrom {
    /// fakeroot's save file (fakeroot -s FILE): dev, ino, mode, uid, gid, nlink, rdev per line.
    Fakeroot,
    /// pseudo's database, files.db in its PSEUDO_LOCALSTATEDIR (stop its server first: pseudo -S).
    Pseudo,
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Load the fake table from PATH when it exists, save it there when the session ends
    /// (e.g. --state build/fakebox.state).
    #[arg(long, value_name = "PATH")]
    pub state: Option<PathBuf>,

    /// The fake user id the session runs as (e.g. --uid 1000).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub uid: u32,

    /// The fake group id the session runs as (e.g. --gid 100).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub gid: u32,

    /// Files the session never touched show their real owner instead of root
    /// (e.g. fakebox run --unknown-is-real -- ls -l ~).
    #[arg(long)]
    pub unknown_is_real: bool,

    /// How programs are faked: LD_PRELOAD, ptrace, or chosen per program (e.g. --mechanism preload).
    #[arg(long, value_enum, default_value_t = Mechanism::Auto)]
    pub mechanism: Mechanism,

    /// The command and its arguments (e.g. -- tar -cpf out.tar dir). Before the command,
    /// an argument that starts with `-` is one of fakebox's options.
    #[arg(trailing_var_arg = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,

    /// Which of the options above were given (by their names in `OPTIONS`).
    #[arg(skip)]
    pub given: Vec<&'static str>,
}

impl RunArgs {
    /// The options of `run`, by the names clap knows them by (the fields' names).
    pub const OPTIONS: [&'static str; 5] = ["state", "uid", "gid", "unknown_is_real", "mechanism"];

    /// Was option `id` given on the command line?
    pub fn given(&self, id: &str) -> bool {
        self.given.contains(&id)
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    /// Preload for glibc dynamic programs, the tracer for everything else.
    Auto,
    /// LD_PRELOAD only.
    Preload,
    /// ptrace only.
    Tracer,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::parse_from_args(&args.iter().map(OsString::from).collect::<Vec<_>>())
    }

    #[test]
    fn options_given_are_told_from_defaults() {
        let Command::Run(r) = parse(&["fakebox", "run", "--uid", "0", "--", "id"]).unwrap().command else {
            panic!("not run")
        };
        assert_eq!(r.given, ["uid"]);
        assert!(r.given("uid") && !r.given("gid") && !r.given("state"));
        let Command::Run(r) = parse(&["fakebox", "run", "id", "--state", "x"]).unwrap().command else {
            panic!("not run")
        };
        assert!(r.given.is_empty(), "--state belongs to the command here");
        assert_eq!(r.command, ["id", "--state", "x"]);
        for id in RunArgs::OPTIONS {
            let flag = format!("--{}", id.replace('_', "-"));
            let argv: Vec<&str> = match id {
                "unknown_is_real" => vec!["fakebox", "run", &flag, "--", "true"],
                "mechanism" => vec!["fakebox", "run", &flag, "tracer", "--", "true"],
                _ => vec!["fakebox", "run", &flag, "1", "--", "true"],
            };
            let Command::Run(r) = parse(&argv).unwrap().command else { panic!("not run") };
            assert_eq!(r.given, [id], "{flag}");
        }
    }

    #[test]
    fn a_misspelled_option_before_the_command_is_a_usage_error() {
        for argv in [&["fakebox", "run", "--stat", "x", "--", "true"][..], &["fakebox", "run", "--sate", "x", "true"]] {
            let e = parse(argv).unwrap_err();
            assert_eq!(e.kind(), clap::error::ErrorKind::UnknownArgument, "{argv:?}");
            assert!(e.to_string().contains("--state"), "names the closest option: {e}");
        }
        let e = parse(&["fakebox", "run", "-x", "sh"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::UnknownArgument);
        let Command::Run(r) = parse(&["fakebox", "run", "--", "-x", "--stat"]).unwrap().command else {
            panic!("not run")
        };
        assert_eq!(r.command, ["-x", "--stat"]);
    }

    #[test]
    fn command_after_double_dash_keeps_its_flags() {
        let cli = Cli::try_parse_from(["fakebox", "run", "--uid", "5", "--", "ls", "-l", "--color"]).unwrap();
        let Command::Run(r) = cli.command else { panic!("not run") };
        assert_eq!(r.uid, 5);
        assert_eq!(r.command, ["ls", "-l", "--color"]);
    }
}
