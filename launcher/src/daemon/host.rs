//! The daemon of a state file, shared by every `fakebox run --state S` at once.
//!
//! It listens on a socket named after S (a hash of its directory's device and inode and
//! its name, symlinks followed: see `rendezvous`) in a private directory
//! (`$XDG_RUNTIME_DIR/fakebox`, else `/tmp/fakebox-UID`, else the user's cache directory:
//! `crate::private`). A session
//! joins it; if none answers, the session that takes the lock file beside the socket
//! loads S and starts the daemon in a process of its own (detached, so that it outlives
//! that session while others use it). The daemon holds the lock until it exits: after
//! the last session left and it saved S. A daemon on its way out refuses joins, and the
//! next session starts a new one once the lock is free, which then loads the saved S.
use super::server::Daemon;
use super::state;
use crate::session::{EXIT_FAILURE, Failure};
use fakebox_proto::{Op, Reply, wire};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn fail(msg: impl Into<String>) -> Failure {
    Failure(msg.into(), EXIT_FAILURE)
}

/// The private directory of this user's shared daemons (`crate::private`). Used by path
/// after the check: it is the user's, 0700, and stands in a directory the user owns or in
/// a sticky one, where nobody else can rename or replace it.
pub fn base_dir() -> Result<PathBuf, Failure> {
    crate::private::base_dir().map(|d| d.path)
}

/// The file `state` names (symlinks followed, [`state::resolve`]) and the name of its
/// daemon's lock and socket: a hash of its directory's device and inode and its name, so
/// that every path to one state file (a symlink, `./s` or `s`, another mount of the
/// directory) meets the same daemon. The name does not change when a save replaces the
/// file. A state file with several hard links is refused: a save replaces one of its
/// names with a new file, and the others would keep the old one.
fn rendezvous(state: &Path) -> Result<(PathBuf, String), Failure> {
    let target = state::resolve(state).map_err(fail)?;
    let dir = target.parent().unwrap_or(Path::new("/"));
    let d = std::fs::metadata(dir).map_err(|e| fail(format!("{}: {e}", dir.display())))?;
    if let Ok(m) = std::fs::metadata(&target)
        && m.is_file()
        && m.nlink() > 1
    {
        return Err(fail(format!(
            "{}: the state file has {} hard links; each save replaces it with a new file under one name, which would part them: use a symbolic link instead",
            state.display(),
            m.nlink()
        )));
    }
    let mut id = format!("{}:{}/", d.dev(), d.ino()).into_bytes();
    id.extend_from_slice(target.file_name().unwrap_or_default().as_encoded_bytes());
    Ok((target, format!("{:016x}", fnv64(&id))))
}

pub fn fnv64(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &c| (h ^ u64::from(c)).wrapping_mul(0x100_0000_01b3))
}

/// Joins the daemon of `state`, starting it if needed. Returns its socket and the
/// session's connection (kept open for the session's life: closing it leaves).
/// Must run before the launcher starts any thread (it may fork the daemon).
pub fn join(state: &Path, unknown_is_real: bool) -> Result<(PathBuf, UnixStream), Failure> {
    let (state, name) = rendezvous(state)?;
    let dir = base_dir()?;
    let sock = dir.join(format!("{name}.sock"));
    let lock = dir.join(format!("{name}.lock"));
    for _ in 0..3000 {
        if let Ok(mut s) = UnixStream::connect(&sock) {
            match ask(&mut s, &Op::Join { unknown_is_real }) {
                Some(Reply::Done) => return Ok((sock, s)),
                Some(Reply::Errno(libc::EINVAL)) => {
                    return Err(fail(format!(
                        "{} is in use by sessions {} --unknown-is-real; run this one the same way",
                        state.display(),
                        if unknown_is_real { "without" } else { "with" }
                    )));
                }
                _ => {} // on its way out, or gone: try again
            }
        } else if let Some(held) = try_lock(&lock)? {
            let _ = std::fs::remove_file(&sock);
            sweep(&dir, &name);
            start(&state, &sock, &lock, held, unknown_is_real)?;
            continue;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    Err(fail(format!("cannot reach or start the daemon of {} ({})", state.display(), sock.display())))
}

fn ask(s: &mut UnixStream, op: &Op<'_>) -> Option<Reply<'static>> {
    let mut buf = Vec::new();
    let len = crate::daemon::round_trip(s, op, &mut buf).ok()?;
    match wire::decode::<Reply<'_>>(&buf[..len]).ok()? {
        Reply::Done => Some(Reply::Done),
        Reply::Errno(e) => Some(Reply::Errno(e)),
        _ => None,
    }
}

/// Leaves the session; the last one out hears whether the state was saved, and every
/// one whether the journal refused changes (said on stderr: the command's status stands).
pub fn leave(mut s: UnixStream, state: &Path) -> Result<(), Failure> {
    let mut buf = Vec::new();
    let reply = crate::daemon::round_trip(&mut s, &Op::Leave, &mut buf)
        .ok()
        .and_then(|len| wire::decode::<Reply<'_>>(&buf[..len]).ok());
    match reply {
        Some(Reply::Done) => Ok(()),
        Some(Reply::Bytes(why)) => {
            crate::log::error(format_args!("{}", String::from_utf8_lossy(why)));
            Ok(())
        }
        _ => Err(fail(format!(
            "the daemon could not save the state {} (its journal keeps the changes it took)",
            state.display()
        ))),
    }
}

/// The lock of a state file's daemon, taken for a change made outside any session; the
/// lock file goes when it is dropped (still held then, so nobody is waiting on it).
pub struct IdleLock {
    path: PathBuf,
    _fd: OwnedFd,
}

impl Drop for IdleLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Takes the lock of `state`'s daemon for a change made outside any session (prune);
/// fails if a session is using the state.
pub fn lock_idle(state: &Path) -> Result<IdleLock, Failure> {
    let (state, name) = rendezvous(state)?;
    let path = base_dir()?.join(format!("{name}.lock"));
    let fd = try_lock(&path)?
        .ok_or_else(|| fail(format!("{} is in use by a running session; try again when it ends", state.display())))?;
    Ok(IdleLock { path, _fd: fd })
}

/// Removes what daemons that are gone left in the private directory: lock files nobody
/// holds (a daemon that could not start, or was killed) and sockets without a lock file.
/// Each lock file goes only while this process holds it, so nobody is waiting on it.
fn sweep(dir: &Path, keep: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let path = e.path();
        let (Some(stem), Some(ext)) = (path.file_stem(), path.extension()) else { continue };
        if stem == keep {
            continue;
        }
        match ext.to_str() {
            Some("lock") => {
                if let Ok(Some(_held)) = try_lock(&path) {
                    let _ = std::fs::remove_file(path.with_extension("sock"));
                    let _ = std::fs::remove_file(&path);
                }
            }
            // A daemon binds its socket after taking the lock and removes it before the
            // lock file: a socket without a lock file belongs to nobody.
            Some("sock") if !path.with_extension("lock").exists() => {
                let _ = std::fs::remove_file(&path);
            }
            _ => {}
        }
    }
}

/// The lock that makes one daemon per state file, if it is free.
fn try_lock(path: &Path) -> Result<Option<OwnedFd>, Failure> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(|e| fail(format!("{}: {e}", path.display())))?;
    // SAFETY: flock on our own fd.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Ok(None);
    }
    // A daemon removes its lock file as it exits: a lock taken on a file no longer at
    // that path guards nothing (someone may lock the new one); try again.
    let here = std::fs::metadata(path).map(|m| m.ino()).ok();
    let ours = f.metadata().map(|m| m.ino()).ok();
    if here.is_none() || here != ours {
        return Ok(None);
    }
    Ok(Some(OwnedFd::from(f)))
}

/// Loads the state here (so that a damaged file is this session's error) and starts the
/// daemon in a detached process that holds the lock.
fn start(state: &Path, sock: &Path, lock_path: &Path, lock: OwnedFd, unknown_is_real: bool) -> Result<(), Failure> {
    let ready = (|| {
        let mut table = state::load_with_journal(state, unknown_is_real)
            .map_err(|e| fail(format!("cannot load the state: {e}")))?;
        let journal = state::Journal::open(state).map_err(|e| fail(format!("cannot open the journal: {e}")))?;
        table.attach_journal(journal);
        let listener = UnixListener::bind(sock).map_err(|e| fail(format!("cannot create {}: {e}", sock.display())))?;
        Ok((table, listener))
    })();
    let (table, listener) = match ready {
        Ok(r) => r,
        Err(e) => {
            // No daemon: its lock file goes, while still held.
            let _ = std::fs::remove_file(lock_path);
            return Err(e);
        }
    };
    // SAFETY: fork while single-threaded (join runs before any thread starts).
    match unsafe { libc::fork() } {
        -1 => Err(fail(format!("cannot start the daemon: {}", std::io::Error::last_os_error()))),
        0 => {
            // SAFETY: detach: a new session, and a second fork so that the daemon is
            // nobody's child in the user's process tree.
            unsafe {
                libc::setsid();
                if libc::fork() != 0 {
                    libc::_exit(0);
                }
            }
            detached(state, table, listener, lock, sock)
        }
        child => {
            let mut st = 0;
            // SAFETY: reaping the intermediate child.
            unsafe { libc::waitpid(child, &mut st, 0) };
            Ok(())
        }
    }
}

/// The daemon process: serve until the last session leaves, then save and exit.
fn detached(state: &Path, table: super::Table, listener: UnixListener, lock: OwnedFd, sock: &Path) -> ! {
    // Nothing of the session's terminal or pipes: a caller reading our stdout must not wait
    // for the daemon.
    if let Ok(null) = std::fs::OpenOptions::new().read(true).write(true).open("/dev/null") {
        for fd in 0..3 {
            // SAFETY: replacing our own standard descriptors.
            unsafe { libc::dup2(null.as_raw_fd(), fd) };
        }
    }
    let state = state.to_path_buf();
    let sock = sock.to_path_buf();
    let lock_path = sock.with_extension("lock");
    crate::session::start_flusher_for(&table);
    let end: super::server::OnLastLeave = Box::new(move |table: &mut super::Table| {
        // Make way for the next daemon before saving: new sessions wait for the lock.
        let _ = std::fs::remove_file(&sock);
        let r = state::save(&state, table);
        if r.is_ok()
            && let Some(j) = table.journal_mut()
        {
            let _ = j.clear();
        }
        // Still holding the lock: nobody can be starting a daemon with this file now.
        let _ = std::fs::remove_file(&lock_path);
        r
    });
    let daemon = Daemon::with_end(table, Some(end));
    let _lock = lock; // held until the process exits
    Arc::clone(&daemon).serve(listener);
    std::process::exit(0)
}
