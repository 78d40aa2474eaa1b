//! Which mechanism a command needs: its file, followed through `#!` interpreters.
use fakebox_proto::elf::{self, Exec};
use fakebox_proto::mechanism::{self, Mechanism, Program};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

#[derive(Debug, PartialEq, Eq)]
pub enum Need {
    /// LD_PRELOAD reaches it; a sanitizer's runtime that it names goes first.
    Preload(Option<elf::Runtime>),
    /// Only the tracer can fake it; the string says why ("statically linked", "setuid"...).
    Tracer(String),
    /// Neither mechanism fakes it (a 32-bit program): it must not run.
    Refuse(String),
}

/// Finds `cmd` the way execvp would, in `path` (the PATH the command will see).
pub fn resolve(cmd: &OsStr, path: Option<&OsStr>) -> Option<PathBuf> {
    if cmd.as_bytes().contains(&b'/') {
        return Some(PathBuf::from(cmd));
    }
    let path = path.map(OsStr::to_owned).unwrap_or_else(|| OsString::from("/usr/local/bin:/usr/bin:/bin"));
    std::env::split_paths(&path)
        .map(|d| if d.as_os_str().is_empty() { PathBuf::from(".") } else { d }.join(cmd))
        .find(|p| p.metadata().map(|m| m.is_file() && m.mode() & 0o111 != 0).unwrap_or(false))
}

/// Decides for the program at `file`; `path` resolves `#!/usr/bin/env NAME`.
pub fn need(file: &Path, path: Option<&OsStr>) -> std::io::Result<Need> {
    need_depth(file, path, 0)
}

/// Does `file` carry file capabilities (a `security.capability` attribute)?
pub fn file_caps(file: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(file.as_os_str().as_bytes()) else { return false };
    // SAFETY: a size query (no buffer) on a NUL-terminated path.
    unsafe { libc::getxattr(c.as_ptr(), c"security.capability".as_ptr(), std::ptr::null_mut(), 0) >= 0 }
}

/// What `mechanism::decide` says of `file` (reached through `scripts` `#!` lines).
fn need_depth(file: &Path, path: Option<&OsStr>, scripts: u32) -> std::io::Result<Need> {
    let meta = std::fs::metadata(file)?;
    let privileged = mechanism::raises_privileges(meta.mode(), file_caps(file));
    let mut head = [0u8; 4096];
    let opened = match File::open(file) {
        Ok(f) => Some(f),
        // Mode 0111: the kernel runs it, nobody can read it.
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => None,
        Err(e) => return Err(e),
    };
    let n = match &opened {
        Some(f) => Some(f.read_at(&mut head, 0)?),
        None => None,
    };
    let program = Program { head: n.map(|n| &head[..n]), privileged, scripts };
    let decision = match &opened {
        Some(f) => mechanism::decide(program, &mut elf::Fd(f.as_raw_fd())),
        None => mechanism::decide(program, &mut &[][..]),
    };
    match decision {
        Mechanism::Preload(runtime) => Ok(Need::Preload(runtime)),
        // The kernel refuses it; execvp hands it to /bin/sh, which is what will run.
        Mechanism::NotExecutable => Ok(Need::Preload(None)),
        Mechanism::Refuse(why) => {
            Ok(Need::Refuse(format!("cannot fake {}: {}; it does not run", file.display(), why.refusal())))
        }
        Mechanism::Tracer(why) => Ok(Need::Tracer(format!("{} is a {} program", file.display(), why.describe()))),
        Mechanism::Script { interp, arg } => {
            let interp = Path::new(OsStr::from_bytes(&head[interp.0..interp.1]));
            let arg = arg.map(|a| OsStr::from_bytes(&head[a.0..a.1]));
            match (interp.file_name().map(OsStr::as_bytes), arg) {
                (Some(b"env"), Some(name)) if !name.as_bytes().starts_with(b"-") => match resolve(name, path) {
                    Some(p) => need_depth(&p, path, scripts + 1),
                    None => Ok(Need::Preload(None)), // env itself will say it is not found
                },
                _ => need_depth(interp, path, scripts + 1),
            }
        }
    }
}

/// Is `file` a dynamic program whose loader is not glibc's (musl, another libc)?
pub fn foreign_loader(file: &Path) -> bool {
    let Ok(f) = File::open(file) else { return false };
    let mut head = [0u8; 4096];
    let n = f.read_at(&mut head, 0).unwrap_or(0);
    matches!(elf::classify(&head[..n], &mut elf::Fd(f.as_raw_fd())), Exec::Elf(e) if matches!(e.interp, elf::Interp::Musl | elf::Interp::Other))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamic_glibc_programs_and_scripts_get_the_preload() {
        assert_eq!(need(Path::new("/bin/sh"), None).unwrap(), Need::Preload(None));
        let dir = std::env::temp_dir().join(format!("fbsniff-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let s = dir.join("s");
        std::fs::write(&s, "#!/usr/bin/env sh\necho hi\n").unwrap();
        assert_eq!(need(&s, Some(OsStr::new("/usr/bin:/bin"))).unwrap(), Need::Preload(None));
        std::fs::write(&s, "not an executable at all").unwrap();
        assert_eq!(need(&s, None).unwrap(), Need::Preload(None));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn resolve_follows_path() {
        assert_eq!(resolve(OsStr::new("sh"), Some(OsStr::new("/nonexistent:/bin"))), Some(PathBuf::from("/bin/sh")));
        assert_eq!(resolve(OsStr::new("no-such-program-here"), None), None);
    }
}
