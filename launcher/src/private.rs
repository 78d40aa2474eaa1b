//! Where fakebox keeps what must be the user's alone: the daemons' sockets and locks, the
//! copy of the embedded preload library, each session's directory.
//!
//! Another local user can create a predictable name in `/tmp` first (`/tmp/fakebox-UID`),
//! and root may run with another user's `XDG_RUNTIME_DIR` (`su` without `-`, `sudo -E`).
//! Neither may block a session or make it use anything of theirs, so:
//! - `XDG_RUNTIME_DIR` counts only when it is a directory of the caller's, closed to others;
//! - a directory is used only once it was opened without following a symlink and found,
//!   through that descriptor, to be the caller's and closed to everyone else;
//! - when the predictable name is taken by someone else, the next place is the user's own
//!   cache directory (under `$XDG_CACHE_HOME` or `$HOME`, checked the same way), which is
//!   stable (the shared daemons of a state file must be found again) and which nobody else
//!   can create.
use crate::session::{EXIT_FAILURE, Failure};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

/// A directory found to be the caller's and closed to others, held open.
pub struct PrivateDir {
    pub path: PathBuf,
    pub fd: OwnedFd,
}

/// Why a directory cannot be used, for the message when no place is left.
fn refuse(path: &Path, why: impl std::fmt::Display) -> String {
    format!("{}: {why}", path.display())
}

fn uid() -> u32 {
    // SAFETY: getuid cannot fail. (The launcher starting a session is not faked, and the
    // real uid is what owns the directories.)
    unsafe { libc::getuid() }
}

/// Opens `path` as a directory without following a symlink and checks, through the
/// descriptor, that it belongs to `owner` and that nobody else may write (`closed`:
/// nor read or search) in it.
fn open_checked(path: &Path, owner: u32, closed: bool) -> Result<OwnedFd, String> {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(|_| refuse(path, "a NUL in the name"))?;
    // SAFETY: open of a NUL-terminated path; the descriptor is owned below.
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(refuse(path, std::io::Error::last_os_error()));
    }
    // SAFETY: a descriptor just opened, owned here alone.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: fstat of our descriptor into a zeroed local.
    let st = unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        if libc::fstat(fd.as_raw_fd(), &mut st) != 0 {
            return Err(refuse(path, std::io::Error::last_os_error()));
        }
        st
    };
    let mask = if closed { 0o077 } else { 0o022 };
    if st.st_uid != owner {
        return Err(refuse(path, format_args!("belongs to uid {}, not to you (uid {owner})", st.st_uid)));
    }
    if st.st_mode & mask != 0 {
        return Err(refuse(path, format_args!("mode {:o} lets others in", st.st_mode & 0o7777)));
    }
    Ok(fd)
}

/// `$XDG_RUNTIME_DIR`, if it is a directory of the caller's that nobody else may enter.
pub fn runtime_dir() -> Option<PathBuf> {
    let d = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from).filter(|d| d.is_absolute())?;
    open_checked(&d, uid(), true).ok().map(|_| d)
}

/// The longest name fakebox puts in its private directory: a daemon's socket.
const LONGEST_NAME: &str = "0123456789abcdef.sock";

/// The room for a socket's path (`sun_path`, less its terminating NUL).
const SUN_PATH_MAX: usize = 107;

/// Makes (mode 0700) or finds `path` and checks it.
fn make_private(path: &Path) -> Result<PrivateDir, String> {
    if path.as_os_str().len() + 1 + LONGEST_NAME.len() > SUN_PATH_MAX {
        return Err(refuse(path, format_args!("too long for a socket's path ({SUN_PATH_MAX} bytes at most)")));
    }
    match std::fs::DirBuilder::new().mode(0o700).create(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(refuse(path, e)),
    }
    let fd = open_checked(path, uid(), true)?;
    Ok(PrivateDir { path: path.to_path_buf(), fd })
}

/// The user's cache directory, if it is theirs and closed to others' writes.
fn cache_home() -> Option<PathBuf> {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from).filter(|p| p.is_absolute());
    let cache = env("XDG_CACHE_HOME").or_else(|| env("HOME").map(|h| h.join(".cache")))?;
    // The home directory (or the cache's parent) must be the user's: created below it,
    // nothing of another user's can stand in the way.
    open_checked(cache.parent()?, uid(), false).ok()?;
    let _ = std::fs::DirBuilder::new().mode(0o700).create(&cache);
    open_checked(&cache, uid(), false).ok()?;
    Some(cache)
}

/// The places for fakebox's private directory, best first.
fn candidates() -> Vec<PathBuf> {
    let tmp = std::env::var_os("TMPDIR").filter(|t| !t.is_empty()).map(PathBuf::from).unwrap_or_else(|| "/tmp".into());
    let mut c = Vec::new();
    c.extend(runtime_dir().map(|d| d.join("fakebox")));
    c.push(tmp.join(format!("fakebox-{}", uid())));
    c.extend(cache_home().map(|d| d.join(format!("fakebox-{}", uid()))));
    c
}

/// The user's private fakebox directory: the daemons of state files listen there, and
/// the embedded preload library is written there.
pub fn base_dir() -> Result<PrivateDir, Failure> {
    let mut why = Vec::new();
    for c in candidates() {
        match make_private(&c) {
            Ok(d) => return Ok(d),
            Err(e) => why.push(e),
        }
    }
    Err(Failure(
        format!(
            "no private directory for fakebox's sockets: {}; set XDG_RUNTIME_DIR or XDG_CACHE_HOME to a short directory of yours",
            why.join("; ")
        ),
        EXIT_FAILURE,
    ))
}

/// Writes `bytes` as `name` in `dir` unless a file of exactly those bytes is there,
/// through the directory's descriptor (never its path). Returns the file's path.
pub fn install_file(dir: &PrivateDir, name: &str, bytes: &[u8], mode: u32) -> std::io::Result<PathBuf> {
    use std::io::{Read, Write};
    let path = dir.path.join(name);
    let cname = std::ffi::CString::new(name).map_err(std::io::Error::other)?;
    // SAFETY: openat relative to our checked directory; the descriptor is owned below.
    let fd = unsafe {
        libc::openat(dir.fd.as_raw_fd(), cname.as_ptr(), libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
    };
    if fd >= 0 {
        // SAFETY: a descriptor just opened, owned here alone.
        let mut f = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
        let mut have = Vec::with_capacity(bytes.len());
        if f.metadata().is_ok_and(|m| m.len() == bytes.len() as u64)
            && f.read_to_end(&mut have).is_ok()
            && have == bytes
        {
            return Ok(path);
        }
    }
    let tmp = std::ffi::CString::new(format!("{name}.tmp{}", std::process::id())).map_err(std::io::Error::other)?;
    // SAFETY: openat relative to our checked directory; O_EXCL makes a new file.
    let fd = unsafe {
        libc::unlinkat(dir.fd.as_raw_fd(), tmp.as_ptr(), 0);
        libc::openat(
            dir.fd.as_raw_fd(),
            tmp.as_ptr(),
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            mode,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a descriptor just opened, owned here alone.
    let mut f = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    let written = f.write_all(bytes).and_then(|()| f.sync_all());
    // SAFETY: fchmod of our own file (the umask may have taken bits of `mode`), then a
    // rename within our checked directory.
    let r = written.and_then(|()| unsafe {
        if libc::fchmod(f.as_raw_fd(), mode) != 0
            || libc::renameat(dir.fd.as_raw_fd(), tmp.as_ptr(), dir.fd.as_raw_fd(), cname.as_ptr()) != 0
        {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(())
        }
    });
    if r.is_err() {
        // SAFETY: removing our own temporary file, relative to the checked directory.
        unsafe { libc::unlinkat(dir.fd.as_raw_fd(), tmp.as_ptr(), 0) };
    }
    r.map(|()| path)
}

/// A new private directory with an unpredictable name (mkdtemp, 0700) in a place of the
/// user's: `$XDG_RUNTIME_DIR`, else `$TMPDIR`, else `/tmp`.
pub fn temporary(prefix: &str) -> Result<PathBuf, Failure> {
    let base = runtime_dir()
        .or_else(|| std::env::var_os("TMPDIR").filter(|t| !t.is_empty()).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    let template = base.join(format!("{prefix}XXXXXX"));
    nix::unistd::mkdtemp(&template)
        .map_err(|e| Failure(format!("cannot create a private directory in {}: {e}", base.display()), EXIT_FAILURE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_of_someone_else_or_open_to_others_is_refused() {
        let me = uid();
        let d = std::env::temp_dir().join(format!("fb-private-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let p = make_private(&d).expect("a new directory is private");
        assert_eq!(p.path, d);
        assert!(open_checked(&d, me + 1, true).is_err(), "another owner");
        std::fs::set_permissions(&d, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        assert!(open_checked(&d, me, true).is_err(), "readable by others");
        assert!(open_checked(&d, me, false).is_ok(), "not writable by others");
        std::fs::set_permissions(&d, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
        let link = d.with_extension("link");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&d, &link).unwrap();
        assert!(open_checked(&link, me, true).is_err(), "a symlink is not followed");
        let p = make_private(&d).unwrap();
        let f = install_file(&p, "x.so", b"abc", 0o755).unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), b"abc");
        std::fs::write(&f, b"abd").unwrap(); // same length, other content
        install_file(&p, "x.so", b"abc", 0o755).unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), b"abc", "checked by content, not length");
        let _ = std::fs::remove_file(&link);
        let _ = std::fs::remove_dir_all(&d);
    }
}
