//! Which mechanism a command needs: its file, followed through `#!` interpreters.
use fakebox_proto::elf::{self, Exec};
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

fn need_depth(file: &Path, path: Option<&OsStr>, depth: u32) -> std::io::Result<Need> {
    let f = File::open(file)?;
    let meta = f.metadata()?;
    if meta.mode() & 0o6000 != 0 {
        return Ok(Need::Tracer(format!("{} is setuid or setgid", file.display())));
    }
    let mut head = [0u8; 4096];
    let n = f.read_at(&mut head, 0)?;
    let head = &head[..n];
    match elf::classify(head, &mut elf::Fd(f.as_raw_fd())) {
        Exec::Elf(e) if e.preload_reaches() => Ok(Need::Preload(e.runtime)),
        Exec::Elf(e) if !e.class64 => Ok(Need::Refuse(format!(
            "{} is a 32-bit program: the tracer does not fake the i386 ABI, so it does not run",
            file.display()
        ))),
        Exec::Elf(e) => Ok(Need::Tracer(format!("{} is a {} program", file.display(), e.describe()))),
        Exec::Script { interp, arg } if depth < 4 => {
            let interp = Path::new(OsStr::from_bytes(&head[interp.0..interp.1]));
            let arg = arg.map(|a| OsStr::from_bytes(&head[a.0..a.1]));
            match (interp.file_name().map(OsStr::as_bytes), arg) {
                (Some(b"env"), Some(name)) if !name.as_bytes().starts_with(b"-") => match resolve(name, path) {
                    Some(p) => need_depth(&p, path, depth + 1),
                    None => Ok(Need::Preload(None)), // env itself will say it is not found
                },
                _ => need_depth(interp, path, depth + 1),
            }
        }
        // The kernel refuses it; execvp hands it to /bin/sh, which is what will run.
        _ => Ok(Need::Preload(None)),
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
