//! The fakeroot-compatible front: the fakebox binary invoked as `fakeroot` (a link made by
//! `fakebox install-compat DIR`) takes fakeroot's command line, so that dpkg-buildpackage
//! -rfakeroot, debuild and scripts that call fakeroot use fakebox without a change.
//!
//!   fakeroot [-l LIB] [-f FAKED] [-s FILE] [-i FILE] [-u|--unknown-is-real] [-b FD]
//!            [-h|--help] [-v|--version] [--] [COMMAND [ARG]...]
//!
//! -l, -f and -b name fakeroot's own library, daemon and descriptor: accepted, ignored.
//! -s and -i keep the table in a fakebox state file; `-i` also reads fakeroot's own save
//! file (daemon/import.rs), and an empty file is an empty table, as for fakeroot:
//! `-i F -s F` and `-s F` both use F (any two names of one file are F; a fakeroot file F
//! becomes a fakebox state file); `-i F` alone loads F and leaves it unchanged;
//! `-i A -s B` starts B from A.
use crate::cli::{Mechanism, RunArgs};
use crate::daemon::state::{self, journal_path};
use crate::session::{self, EXIT_FAILURE, Failure};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

const HELP: &str = "\
usage: fakeroot [-l LIB] [-f FAKED] [-s FILE] [-i FILE] [-u|--unknown-is-real] [-b FD] [--] [COMMAND [ARG]...]
fakebox's fakeroot-compatible front: runs COMMAND (default: $SHELL) as fake root.
  -s FILE   save the fake table to FILE when the session ends (a fakebox state file)
  -i FILE   load the fake table from FILE (a fakebox state file or fakeroot's save file)
  -u, --unknown-is-real   files the session never touched show their real owner
  -l LIB, -f FAKED, -b FD  fakeroot's own options: accepted and ignored
  -h, --help  this text;  -v, --version  the version
See `fakebox run --help` for everything fakebox can do.
";

fn fail(msg: impl Into<String>) -> Failure {
    Failure(msg.into(), EXIT_FAILURE)
}

fn resolve(p: &Path) -> Result<PathBuf, Failure> {
    state::resolve(p).map_err(|e| fail(format!("fakeroot: {e}")))
}

/// Do `a` and `b` name one state file (`./s` and `s`, a symlink, a hard link)? Copying
/// one onto the other would then empty it.
fn same_file(a: &Path, b: &Path) -> Result<bool, Failure> {
    use std::os::unix::fs::MetadataExt;
    let (ra, rb) = (resolve(a)?, resolve(b)?);
    let id = |p: &Path| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    Ok(ra == rb || id(&ra).is_some_and(|x| Some(x) == id(&rb)))
}

/// Starts the state file `to` from `from`: a fakebox state file (with its journal: changes
/// a killed session left there) or fakeroot's save file, read as it is; a journal `to`
/// had is removed. Errors name `from`, the user's file.
fn start_from(from: &Path, to: &Path) -> Result<(), Failure> {
    let table = state::load_any(from, false).map_err(|e| fail(format!("fakeroot: cannot load {e}")))?;
    let to = resolve(to)?;
    state::save(&to, &table).map_err(|e| fail(format!("fakeroot: cannot start {e} from {}", from.display())))?;
    match std::fs::remove_file(journal_path(&to)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(fail(format!("fakeroot: cannot start {}: {e}", journal_path(&to).display())))
        }
        _ => Ok(()),
    }
}

/// Is `f` fakeroot's save file (which the session's daemon does not read)?
fn is_fakeroot_file(f: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 4];
    std::fs::File::open(f).and_then(|mut h| h.read_exact(&mut head)).is_ok()
        && crate::daemon::import::is_fakeroot(&head)
}

pub fn main(args: &[OsString]) -> Result<i32, Failure> {
    let mut save: Option<PathBuf> = None;
    let mut load: Option<PathBuf> = None;
    let mut unknown_is_real = false;
    let mut i = 0;
    let value = |i: &mut usize, opt: &str| -> Result<OsString, Failure> {
        *i += 1;
        args.get(*i).cloned().ok_or_else(|| fail(format!("fakeroot: option {opt} needs a value")))
    };
    while i < args.len() {
        let a = args[i].to_string_lossy();
        match a.as_ref() {
            "--" => {
                i += 1;
                break;
            }
            "-l" | "--lib" | "-f" | "--faked" | "-b" | "--fd-base" => {
                value(&mut i, &a)?;
            }
            "-s" => save = Some(value(&mut i, "-s")?.into()),
            "-i" => load = Some(value(&mut i, "-i")?.into()),
            "-u" | "--unknown-is-real" => unknown_is_real = true,
            "-h" | "--help" => {
                print!("{HELP}");
                return Ok(0);
            }
            "-v" | "--version" => {
                println!("fakeroot version 1.31 (fakebox {})", env!("CARGO_PKG_VERSION"));
                return Ok(0);
            }
            s if s.starts_with('-') && s.len() > 1 => {
                return Err(fail(format!("fakeroot: unknown option {s}; try fakeroot -h")));
            }
            _ => break,
        }
        i += 1;
    }
    if let Some((opt, _)) = [("-s", &save), ("-i", &load)].into_iter().find(|(_, f)| f.is_some())
        && session::inside_a_session()
    {
        // Checked before anything is done to the files: -s would start F afresh.
        return Err(fail(format!(
            "fakeroot: {opt}: this command is inside a fakebox session already, which keeps its own table; leave {opt} out to run it in this session, or run it outside the session"
        )));
    }
    // The private directory of `-i F` alone, removed at the end.
    let mut scratch = None;
    let state = match (load, save) {
        (None, None) => None,
        (Some(l), Some(s)) if same_file(&l, &s)? => {
            // fakeroot's file becomes fakebox's, which the session saves there at the end.
            if is_fakeroot_file(&l) {
                start_from(&l, &s)?;
            }
            Some(s)
        }
        (None, Some(s)) => {
            // fakeroot -s starts a fresh table and writes it at the end.
            let target = resolve(&s)?;
            let _ = std::fs::remove_file(&target);
            let _ = std::fs::remove_file(journal_path(&target));
            Some(s)
        }
        (Some(l), Some(s)) => {
            start_from(&l, &s)?;
            Some(s)
        }
        (Some(l), None) => {
            // Load, but leave the file as it was: work on a private copy.
            let dir = crate::private::temporary("fakebox-i-")?;
            let copy = dir.join("state");
            if let Err(e) = start_from(&l, &copy) {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e);
            }
            scratch = Some(dir);
            Some(copy)
        }
    };
    let run = RunArgs {
        state: state.clone(),
        uid: 0,
        gid: 0,
        unknown_is_real,
        mechanism: Mechanism::Auto,
        command: args[i.min(args.len())..].to_vec(),
        given: state.iter().map(|_| "state").collect(),
    };
    let r = session::run(run);
    if let Some(dir) = scratch {
        let _ = std::fs::remove_dir_all(dir);
    }
    r
}
