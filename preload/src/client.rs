//! This process's connections to the daemon.
//!
//! A small pool of sockets, each taken with a compare-and-swap, never waited for: a
//! thread (or a signal handler) that finds every slot busy uses a connection of its own
//! for that one request. After fork() (the fork hooks call [`after_fork`] in the child)
//! the child replaces each inherited socket in place (same fd number) before first use;
//! a vfork or raw-clone child, which shares the parent's memory, never touches the pool
//! and uses one-off connections, as does a child the fork hooks did not see. The sockets
//! sit at high fd numbers, close-on-exec, and [`is_ours`] lets the fd hooks protect them.
//!
//! A program can still close a socket out of the hooks' sight (a raw `close_range`, a
//! `syscall(SYS_close, ...)`) and get its number back for a file of its own. So each slot
//! remembers what its socket is (device and inode), and a number is used, protected or
//! replaced (`dup3`) only while it still refers to that socket: a number that changed
//! hands is the program's, and is forgotten. Where there is no room for a socket at a
//! high number (a descriptor limit below it), the request goes on a connection of its
//! own, closed after.
use crate::config;
use crate::sys::{self, Res};
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, Ordering};
use fakebox_proto::{Op, Reply, wire};

const SLOTS: usize = 4;
/// The fd number is stale (inherited through fork) and must be replaced before use.
const STALE: i32 = 1 << 30;
const NONE: i32 = -1;

struct Slot {
    busy: AtomicBool,
    /// fd number, or NONE, possibly with the STALE bit.
    fd: AtomicI32,
    /// Replies to one-way requests ([`tell`]) still to be read from this socket.
    unread: AtomicU32,
    /// The socket's device and inode, as fstat tells them: the number is ours while it
    /// still refers to this socket.
    dev: AtomicU64,
    ino: AtomicU64,
}

static POOL: [Slot; SLOTS] = [const {
    Slot {
        busy: AtomicBool::new(false),
        fd: AtomicI32::new(NONE),
        unread: AtomicU32::new(0),
        dev: AtomicU64::new(0),
        ino: AtomicU64::new(0),
    }
}; SLOTS];
static OWNER: AtomicI32 = AtomicI32::new(0);
static WARNED: AtomicBool = AtomicBool::new(false);

/// Called once at load, in the process that owns the pool.
pub fn init() {
    OWNER.store(sys::getpid(), Ordering::Release);
}

/// In the child, when fork returns there (hooks::exec::fork): this process now owns the pool.
pub fn after_fork() {
    crate::shared::after_fork();
    // Only the forking thread exists now; every slot is free, and every socket is the
    // parent's: keep the numbers (so they stay protected) but replace them before use.
    OWNER.store(sys::getpid(), Ordering::Release);
    for s in &POOL {
        let fd = s.fd.load(Ordering::Relaxed);
        if fd != NONE {
            s.fd.store(fd | STALE, Ordering::Relaxed);
        }
        // Written only when set: each page a forked child writes is copied for it.
        if s.busy.load(Ordering::Relaxed) {
            s.busy.store(false, Ordering::Release);
        }
    }
}

/// Is `fd` one of the session's sockets, which the program must not close or replace?
/// A slot's number that no longer refers to its socket is the program's now: forgotten.
pub fn is_ours(fd: i32) -> bool {
    fd >= 0 && POOL.iter().any(|s| s.fd.load(Ordering::Relaxed) & !STALE == fd && still_ours(s, fd))
}

/// Does the slot's number `fd` still refer to the slot's socket? If not, the slot forgets
/// it (it is not ours to use, protect or replace any more).
fn still_ours(s: &Slot, fd: i32) -> bool {
    let same =
        sys::fd_identity(fd).is_ok_and(|id| id == (s.dev.load(Ordering::Relaxed), s.ino.load(Ordering::Relaxed)));
    if !same {
        let _ = s.fd.compare_exchange(fd, NONE, Ordering::Relaxed, Ordering::Relaxed);
        let _ = s.fd.compare_exchange(fd | STALE, NONE, Ordering::Relaxed, Ordering::Relaxed);
    }
    same
}

/// The program is about to dup2() over one of our sockets: forget it (its number becomes
/// the program's), and connect afresh next time.
pub fn surrender(fd: i32) {
    for s in &POOL {
        if s.fd.load(Ordering::Relaxed) & !STALE == fd {
            s.fd.store(NONE, Ordering::Relaxed);
        }
    }
}

fn connect() -> Res<i32> {
    let path = config::SOCKET.get();
    if path.is_empty() {
        return Err(libc::ENOTCONN);
    }
    // SAFETY: plain socket calls on a fresh fd and a filled-in address.
    unsafe {
        let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(sys::errno());
        }
        let mut addr: libc::sockaddr_un = core::mem::zeroed();
        addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
        for (d, s) in addr.sun_path.iter_mut().zip(path) {
            *d = *s as libc::c_char;
        }
        let len = core::mem::size_of::<libc::sa_family_t>() + path.len() + 1;
        loop {
            if libc::connect(fd, &addr as *const _ as *const libc::sockaddr, len as libc::socklen_t) == 0 {
                return Ok(fd);
            }
            let e = sys::errno();
            if e != libc::EINTR {
                let _ = sys::close(fd);
                return Err(e);
            }
        }
    }
}

/// Where the pool's sockets go: high, out of the way of programs that expect small fds.
fn high_fd_base() -> i32 {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit into a local.
    let cur = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 { lim.rlim_cur } else { 1024 };
    (cur.min(1024) as i32 - 64).max(10)
}

fn send_all(fd: i32, mut buf: &[u8]) -> Res<()> {
    while !buf.is_empty() {
        // SAFETY: sending from a valid slice; MSG_NOSIGNAL keeps a dead daemon from
        // killing the program with SIGPIPE.
        let n = unsafe { libc::send(fd, buf.as_ptr() as *const libc::c_void, buf.len(), libc::MSG_NOSIGNAL) };
        if n < 0 {
            let e = sys::errno();
            if e == libc::EINTR {
                continue;
            }
            return Err(e);
        }
        buf = &buf[n as usize..];
    }
    Ok(())
}

fn recv_exact(fd: i32, buf: &mut [u8]) -> Res<()> {
    let mut got = 0;
    while got < buf.len() {
        // SAFETY: receiving into a valid slice.
        let n = unsafe { libc::recv(fd, buf[got..].as_mut_ptr() as *mut libc::c_void, buf.len() - got, 0) };
        if n < 0 {
            let e = sys::errno();
            if e == libc::EINTR {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return Err(libc::ECONNRESET);
        }
        got += n as usize;
    }
    Ok(())
}

/// One request and its reply on `fd`; returns the length of the reply's body, which is
/// left at the start of `reply`.
fn exchange(fd: i32, request: &[u8], reply: &mut [u8]) -> Res<usize> {
    send_all(fd, request)?;
    let mut header = [0u8; 4];
    recv_exact(fd, &mut header)?;
    let len = wire::body_len(header).map_err(|_| libc::EPROTO)?;
    if len > reply.len() {
        return Err(libc::EPROTO);
    }
    recv_exact(fd, &mut reply[..len])?;
    Ok(len)
}

/// Sends `op` without waiting for the daemon's answer, for news whose outcome the caller
/// has no use for (a link went away); false when it could not (a vfork child, every
/// pooled socket busy, a send that failed): the caller then asks as usual. The daemon
/// handles a connection's requests in order, so this process's later requests on the
/// socket find it done; its reply is read before the next one.
pub fn tell(op: &Op<'_>) -> bool {
    config::init();
    let mut request = [0u8; 256];
    let Ok(n) = wire::encode(op, &mut request) else { return false };
    let Some(s) = take_slot() else { return false };
    trace!("tell {op:?}");
    let sent = socket_of(s, false).is_ok_and(|fd| send_all(fd, &request[..n]).is_ok());
    if sent {
        s.unread.fetch_add(1, Ordering::Relaxed);
    } else {
        s.fd.fetch_or(STALE, Ordering::Relaxed); // perhaps half sent: start on a new socket
    }
    s.busy.store(false, Ordering::Release);
    sent
}

/// A free pooled slot, taken, if this process owns the pool.
fn take_slot() -> Option<&'static Slot> {
    if OWNER.load(Ordering::Acquire) != sys::getpid() {
        return None;
    }
    POOL.iter().find(|s| s.busy.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).is_ok())
}

/// Sends `op` and returns the daemon's reply, whose bytes live in `reply`.
///
/// Fails with EIO when the daemon cannot be reached (the session has ended): the caller
/// must fail the hooked call rather than let the program run unfaked without a word.
pub fn ask<'r>(op: &Op<'_>, request: &mut [u8], reply: &'r mut [u8]) -> Res<Reply<'r>> {
    config::init();
    let n = wire::encode(op, request).map_err(|_| libc::E2BIG)?;
    let request = &request[..n];
    trace!("ask {op:?}");
    let r = match take_slot() {
        Some(s) => {
            let r = pooled(s, request, reply);
            s.busy.store(false, Ordering::Release);
            r
        }
        None => one_off(request, reply),
    };
    let r = r.and_then(|len| wire::decode(&reply[..len]).map_err(|_| libc::EPROTO));
    r.map_err(|e| {
        if !WARNED.swap(true, Ordering::Relaxed) {
            crate::log::warn(format_args!(
                "cannot reach the session's daemon ({}); this program's file ownership calls fail from now on",
                Errno(e)
            ));
        }
        libc::EIO
    })
}

fn pooled(s: &Slot, request: &[u8], reply: &mut [u8]) -> Res<usize> {
    // Two tries: a socket that went bad (the daemon dropped it) is replaced once.
    for attempt in 0..2 {
        let fd = match socket_of(s, attempt > 0) {
            Ok(fd) => fd,
            // No room for a pooled socket (a descriptor limit below the pool's numbers).
            Err(Placing) => return one_off(request, reply),
            Err(Failed(e)) if attempt == 1 => return Err(e),
            Err(Failed(_)) => continue,
        };
        match exchange(fd, request, reply) {
            Ok(len) => return Ok(len),
            Err(e) if attempt == 1 => return Err(e),
            Err(_) => continue,
        }
    }
    Err(libc::EIO)
}

/// Why the slot has no socket to offer.
enum NoSocket {
    /// The new socket has no number to go to: ask on a connection of its own.
    Placing,
    Failed(i32),
}
use NoSocket::{Failed, Placing};

/// The slot's socket, ready for a request: connected (again) when it has none, was
/// inherited through fork, or `renew` asks for a new one; the replies to earlier one-way
/// requests read and dropped. A number that no longer refers to the slot's socket (the
/// program closed it behind the hooks' back and perhaps got it again) is never used nor
/// replaced.
fn socket_of(s: &Slot, renew: bool) -> Result<i32, NoSocket> {
    let mut fd = s.fd.load(Ordering::Relaxed);
    if fd != NONE && !still_ours(s, fd & !STALE) {
        fd = NONE;
    }
    if fd != NONE && fd & STALE == 0 && !renew {
        while s.unread.load(Ordering::Relaxed) > 0 {
            let mut reply = [0u8; 64];
            let mut header = [0u8; 4];
            recv_exact(fd, &mut header).map_err(Failed)?;
            let len = wire::body_len(header).map_err(|_| Failed(libc::EPROTO))?;
            recv_exact(fd, reply.get_mut(..len).ok_or(Failed(libc::EPROTO))?).map_err(Failed)?;
            s.unread.fetch_sub(1, Ordering::Relaxed);
        }
        return Ok(fd);
    }
    let fresh = connect().map_err(Failed)?;
    let placed = if fd != NONE {
        // Keep the number we had (it may be the one the program knows to avoid): it still
        // refers to our old socket, so nothing of the program's is replaced.
        sys::dup3(fresh, fd & !STALE, libc::O_CLOEXEC)
    } else {
        sys::fcntl_dupfd_cloexec(fresh, high_fd_base())
    };
    let _ = sys::close(fresh);
    let Ok(placed) = placed else {
        s.fd.store(NONE, Ordering::Relaxed);
        return Err(Placing);
    };
    let Ok((dev, ino)) = sys::fd_identity(placed) else {
        let _ = sys::close(placed);
        s.fd.store(NONE, Ordering::Relaxed);
        return Err(Placing);
    };
    s.dev.store(dev, Ordering::Relaxed);
    s.ino.store(ino, Ordering::Relaxed);
    s.fd.store(placed, Ordering::Relaxed);
    s.unread.store(0, Ordering::Relaxed); // they went with the old socket
    Ok(placed)
}

/// Asks the daemon for the shared table's memfd (SCM_RIGHTS), on a connection of its own.
pub fn fetch_table() -> Res<i32> {
    config::init();
    let mut req = [0u8; 16];
    let n = wire::encode(&Op::MapTable, &mut req).map_err(|_| libc::E2BIG)?;
    let fd = connect()?;
    let r = (|| {
        send_all(fd, &req[..n])?;
        let mut header = [0u8; 4];
        let got = fakebox_proto::fdpass::recv_with_fd(fd, &mut header)?;
        let len = wire::body_len(header).map_err(|_| libc::EPROTO)?;
        let mut body = [0u8; 16];
        if len > body.len() {
            let _ = sys::close(got);
            return Err(libc::EPROTO);
        }
        recv_exact(fd, &mut body[..len])?;
        match wire::decode::<Reply<'_>>(&body[..len]) {
            Ok(Reply::Done) => Ok(got),
            _ => {
                let _ = sys::close(got);
                Err(libc::EPROTO)
            }
        }
    })();
    let _ = sys::close(fd);
    r
}

fn one_off(request: &[u8], reply: &mut [u8]) -> Res<usize> {
    let fd = connect()?;
    let r = exchange(fd, request, reply);
    let _ = sys::close(fd);
    r
}

struct Errno(i32);
impl core::fmt::Display for Errno {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // SAFETY: strerror returns a static string for any errno on glibc.
        let s = unsafe { core::ffi::CStr::from_ptr(libc::strerror(self.0)) };
        f.write_str(s.to_str().unwrap_or("error"))
    }
}
