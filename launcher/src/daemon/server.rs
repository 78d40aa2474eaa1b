//! Serves the table to many clients at once: one thread per connection, one lock around
//! the table. A client that sends anything malformed, truncated or oversized loses its
//! connection; nothing a client sends can stop the daemon.
//!
//! Clients are many and their connections long-lived (every process of a `make -j` keeps
//! its own), while descriptors and threads are bounded. So the daemon holds at most
//! `max_clients` connections: past that, and whenever accept runs out of descriptors, it
//! drops the connection that has been idle longest. Only an idle connection is dropped,
//! one whose next request the daemon has not started to read: the client then finds its
//! socket closed, connects again and asks again (the preload library's pool does that once
//! per request), and no request is ever applied twice. Session memberships (`Join`) are
//! never dropped. A client that stops reading a reply loses its connection after
//! `SEND_TIMEOUT`, and nobody else waits for it.
//!
//! A daemon of a state file is shared: each `fakebox run` joins it, and when the last
//! session leaves (or its connection drops, if it was killed) the daemon saves the state
//! and exits (see `host`).
use super::table::Table;
use crate::log;
use fakebox_proto::wire::{self, MAX_FRAME};
use fakebox_proto::{Op, Reply};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a reply may wait for a client that does not read it.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// The most connections a daemon holds, whatever its limit on descriptors.
const MAX_CLIENTS: usize = 1024;
/// Descriptors kept for the daemon's own use (state file, journal, listener, logs).
const RESERVED_FDS: u64 = 32;
/// How long accept waits before trying again when no connection could be dropped.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(20);

/// A connection's state, which says whether it may be dropped to make room.
const IDLE: u8 = 0;
/// A request is being read, applied or answered.
const BUSY: u8 = 1;
/// A session's membership: never dropped.
const PINNED: u8 = 2;
/// Dropped to make room: its thread stops at its next step.
const DROPPED: u8 = 3;

/// What the daemon knows of one connection, shared with its thread.
struct Conn {
    fd: RawFd,
    state: AtomicU8,
    /// When it was last busy, in the daemon's ticks (a counter of requests).
    last: AtomicU64,
}

/// How many connections a daemon may hold with `open_files` descriptors.
pub fn max_clients(open_files: u64) -> usize {
    (open_files.saturating_sub(RESERVED_FDS) as usize).clamp(4, MAX_CLIENTS)
}

/// What a shared daemon does when its last session leaves: save, and say how it went.
pub type OnLastLeave = Box<dyn Fn(&mut Table) -> Result<(), String> + Send + Sync>;

pub struct Daemon {
    pub table: Mutex<Table>,
    /// How many clients announced themselves with `Hello`.
    pub hellos: AtomicUsize,
    /// Sessions that joined and have not left.
    sessions: Mutex<Sessions>,
    on_last_leave: Option<OnLastLeave>,
    stopping: AtomicBool,
    /// The connections held, each with its state.
    conns: Mutex<Vec<Arc<Conn>>>,
    /// How many connections to hold at most.
    max_clients: usize,
    /// Counts requests: the clock by which the idlest connection is found.
    ticks: AtomicU64,
}

#[derive(Default)]
struct Sessions {
    live: usize,
    /// The last session left: the daemon is saving and going; joins are refused.
    closing: bool,
}

impl Daemon {
    pub fn new(table: Table) -> Arc<Daemon> {
        Daemon::with_end(table, None)
    }

    /// A shared daemon, which runs `on_last_leave` and exits when the last session leaves.
    pub fn with_end(table: Table, on_last_leave: Option<OnLastLeave>) -> Arc<Daemon> {
        Arc::new(Daemon {
            table: Mutex::new(table),
            hellos: AtomicUsize::new(0),
            sessions: Mutex::new(Sessions::default()),
            on_last_leave,
            stopping: AtomicBool::new(false),
            conns: Mutex::new(Vec::new()),
            max_clients: max_clients(crate::caller::raise_open_files()),
            ticks: AtomicU64::new(0),
        })
    }

    /// Accepts clients until [`Daemon::stop`]; each gets its own thread.
    pub fn serve(self: &Arc<Self>, listener: UnixListener) {
        let mut warned = false;
        loop {
            let conn = listener.accept();
            if self.stopping.load(Ordering::Acquire) {
                break;
            }
            match conn {
                Ok((stream, _)) => self.admit(stream),
                Err(e)
                    if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)) =>
                {
                    // Out of descriptors: make room by dropping the idlest connection, or
                    // wait for one to go; never spin.
                    if !warned {
                        log::debug(format_args!("accept: {e}: dropping idle clients to make room"));
                        warned = true;
                    }
                    if !self.drop_idlest() {
                        std::thread::sleep(ACCEPT_BACKOFF);
                    }
                }
                Err(e) => log::debug(format_args!("accept: {e}")),
            }
        }
    }

    /// Takes a new connection: makes room if the daemon holds as many as it may, and
    /// gives it a thread.
    fn admit(self: &Arc<Self>, stream: UnixStream) {
        // A reply waits so long for a client that does not read it, then the client goes.
        let _ = stream.set_write_timeout(Some(SEND_TIMEOUT));
        let conn = Arc::new(Conn {
            fd: stream.as_raw_fd(),
            state: AtomicU8::new(IDLE),
            last: AtomicU64::new(self.ticks.fetch_add(1, Ordering::Relaxed)),
        });
        let held = {
            let mut conns = self.conns.lock().unwrap_or_else(|p| p.into_inner());
            conns.push(Arc::clone(&conn));
            conns.len()
        };
        if held > self.max_clients {
            self.drop_idlest();
        }
        let me = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name("fakebox-client".into())
            .stack_size(256 * 1024)
            .spawn(move || me.client(stream, conn));
        if let Err(e) = spawned {
            // The stream went with the closure: the client finds its socket closed, tries
            // once more, and then its call fails with EIO and a fakebox: line.
            log::error(format_args!("cannot start a client thread: {e}"));
        }
    }

    /// Drops the connection idle longest, if there is one; says whether it did.
    fn drop_idlest(&self) -> bool {
        let conns = self.conns.lock().unwrap_or_else(|p| p.into_inner());
        let mut idle: Vec<&Arc<Conn>> = conns.iter().filter(|c| c.state.load(Ordering::Acquire) == IDLE).collect();
        idle.sort_by_key(|c| c.last.load(Ordering::Relaxed));
        for c in idle {
            if c.state.compare_exchange(IDLE, DROPPED, Ordering::AcqRel, Ordering::Acquire).is_ok() {
                // SAFETY: the descriptor is still open: its thread closes it only after
                // taking it out of `conns`, whose lock is held here. shutdown wakes the
                // thread from its read.
                unsafe { libc::shutdown(c.fd, libc::SHUT_RDWR) };
                return true;
            }
        }
        false
    }

    /// How many connections the daemon holds now.
    #[cfg(test)]
    fn clients(&self) -> usize {
        self.conns.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
    }

    fn join(&self, unknown_is_real: bool) -> Result<(), i32> {
        if self.table.lock().unwrap_or_else(|p| p.into_inner()).unknown_is_real() != unknown_is_real {
            return Err(libc::EINVAL);
        }
        let mut s = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        if s.closing {
            return Err(libc::EAGAIN);
        }
        s.live += 1;
        Ok(())
    }

    /// A session leaves; the last one out saves the state. Returns whether this was the
    /// last session of a shared daemon (which must then exit), and how the save went.
    fn leave(&self) -> (bool, Result<(), String>) {
        let last = {
            let mut s = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
            s.live = s.live.saturating_sub(1);
            s.closing |= s.live == 0;
            s.live == 0
        };
        match (&self.on_last_leave, last) {
            (Some(end), true) => {
                let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
                let r = end(&mut table);
                log::debug(format_args!("last session left: state saved: {r:?}"));
                (true, r)
            }
            _ => (false, Ok(())),
        }
    }

    fn client(&self, mut stream: UnixStream, conn: Arc<Conn>) {
        let mut joined = false;
        let mut last = false;
        self.converse(&mut stream, &conn, &mut joined, &mut last);
        // Out of the list before the descriptor closes (when `stream` drops), so that
        // `drop_idlest` never shuts down a number the process reused.
        self.conns.lock().unwrap_or_else(|p| p.into_inner()).retain(|c| !Arc::ptr_eq(c, &conn));
        if joined {
            // The session went away without leaving (it was killed): it leaves now.
            let (was_last, r) = self.leave();
            if let Err(e) = r {
                log::error(format_args!("{e}"));
            }
            last |= was_last;
        }
        if last {
            // Only the thread that saw the last session out ends the daemon, after saving
            // and answering it.
            std::process::exit(0);
        }
    }

    /// Answers one client until it goes or leaves the session (`last`: it was the last).
    fn converse(&self, stream: &mut UnixStream, conn: &Conn, joined: &mut bool, last: &mut bool) {
        let mut body = vec![0u8; 4096];
        let mut out = Vec::new();
        let mut reply = vec![0u8; MAX_FRAME + 4];
        loop {
            let mut header = [0u8; 4];
            if stream.read_exact(&mut header).is_err() {
                return; // the client went away
            }
            let Ok(len) = wire::body_len(header) else {
                log::debug(format_args!("oversized frame: dropping the client"));
                return;
            };
            if body.len() < len {
                body.resize(len, 0);
            }
            if stream.read_exact(&mut body[..len]).is_err() {
                return;
            }
            let Ok(op) = wire::decode::<Op<'_>>(&body[..len]) else {
                log::debug(format_args!("malformed message: dropping the client"));
                return;
            };
            // The request is whole: from now on it is answered, unless the connection was
            // dropped while it was read, in which case it is not applied at all (the
            // client asks again on a new connection).
            let pin = matches!(op, Op::Join { .. } | Op::MapTable);
            let busy = if pin { PINNED } else { BUSY };
            if conn.state.load(Ordering::Acquire) != PINNED
                && conn.state.compare_exchange(IDLE, busy, Ordering::AcqRel, Ordering::Acquire).is_err()
            {
                return;
            }
            let answer = match op {
                Op::Hello { pid } => {
                    self.hellos.fetch_add(1, Ordering::AcqRel);
                    log::debug(format_args!("hello from pid {pid}"));
                    None
                }
                Op::MapTable => {
                    if send_table(stream, self, &mut reply).is_err() {
                        return;
                    }
                    continue;
                }
                Op::Join { unknown_is_real } if !*joined => {
                    let r = self.join(unknown_is_real);
                    *joined = r.is_ok();
                    Some(r.map_or_else(Reply::Errno, |()| Reply::Done))
                }
                Op::Leave if *joined => {
                    *joined = false;
                    let (was_last, r) = self.leave();
                    *last = was_last;
                    let r = r.map_err(|e| {
                        log::error(format_args!("{e}"));
                        libc::EIO
                    });
                    // A journal that refused changes is news for every session leaving.
                    let failure = self.table.lock().unwrap_or_else(|p| p.into_inner()).journal_failure();
                    let answer = match (&r, &failure) {
                        (Err(e), _) => Reply::Errno(*e),
                        (Ok(()), Some(why)) => Reply::Bytes(why.as_bytes()),
                        (Ok(()), None) => Reply::Done,
                    };
                    let n = wire::encode(&answer, &mut reply);
                    if let Ok(n) = n {
                        let _ = stream.write_all(&reply[..n]);
                    }
                    return;
                }
                _ => None,
            };
            let n = match answer {
                Some(r) => wire::encode(&r, &mut reply),
                None => {
                    let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
                    let r = table.apply(&op, &mut out);
                    log::trace(format_args!("{op:?} -> {r:?}"));
                    wire::encode(&r, &mut reply)
                }
            };
            let Ok(n) = n else {
                log::error(format_args!("a reply did not fit in a frame"));
                return;
            };
            if stream.write_all(&reply[..n]).is_err() {
                return;
            }
            conn.last.store(self.ticks.fetch_add(1, Ordering::Relaxed), Ordering::Relaxed);
            let _ = conn.state.compare_exchange(BUSY, IDLE, Ordering::AcqRel, Ordering::Acquire);
        }
    }
}

/// Replies `Done` to MapTable with the shared table's memfd attached (SCM_RIGHTS).
fn send_table(stream: &UnixStream, daemon: &Daemon, reply: &mut [u8]) -> std::io::Result<()> {
    let n = wire::encode(&Reply::Done, reply).map_err(|_| std::io::Error::other("encode"))?;
    // A copy of the descriptor, so that the table's lock is not held while a client that
    // does not read keeps the send waiting.
    let memfd = daemon.table.lock().unwrap_or_else(|p| p.into_inner()).memfd().try_clone_to_owned()?;
    fakebox_proto::fdpass::send_with_fd(stream.as_raw_fd(), &reply[..n], memfd.as_raw_fd())
        .map_err(std::io::Error::from_raw_os_error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fakebox_proto::{Key, Real, Reply};

    fn start() -> (std::path::PathBuf, Arc<Daemon>) {
        start_with(MAX_CLIENTS)
    }

    fn start_with(max: usize) -> (std::path::PathBuf, Arc<Daemon>) {
        let dir =
            std::env::temp_dir().join(format!("fbd-test-{}-{:?}", std::process::id(), std::thread::current().id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("s");
        let l = UnixListener::bind(&sock).unwrap();
        let mut d = Daemon::new(Table::new(false).unwrap());
        Arc::get_mut(&mut d).expect("not shared yet").max_clients = max;
        let d2 = Arc::clone(&d);
        std::thread::spawn(move || d2.serve(l));
        (sock, d)
    }

    fn ask(s: &mut UnixStream, op: &Op<'_>) -> std::io::Result<Vec<u8>> {
        let mut buf = Vec::new();
        let len = crate::daemon::round_trip(s, op, &mut buf)?;
        buf.truncate(len);
        Ok(buf)
    }

    #[test]
    fn garbage_costs_the_client_not_the_daemon() {
        let (sock, _d) = start();
        let real = Real { key: Key { dev: 1, ino: 2 }, birth: None, uid: 1, gid: 1, mode: 0o100644, rdev: 0, nlink: 1 };
        // Oversized, malformed and truncated messages each close that connection.
        for bad in [
            ((MAX_FRAME as u32) + 1).to_le_bytes().to_vec(),
            vec![3, 0, 0, 0, 0xff, 0xff, 0xff],
            vec![200, 0, 0, 0, 1, 2],
        ] {
            let mut s = UnixStream::connect(&sock).unwrap();
            s.write_all(&bad).unwrap();
            s.shutdown(std::net::Shutdown::Write).unwrap();
            let mut rest = Vec::new();
            assert_eq!(s.read_to_end(&mut rest).unwrap(), 0);
        }
        // The daemon still answers a well-formed client.
        let mut s = UnixStream::connect(&sock).unwrap();
        let body = ask(&mut s, &Op::Chown { real, uid: Some(7), gid: None }).unwrap();
        let r: Reply<'_> = wire::decode(&body).unwrap();
        assert!(matches!(r, Reply::Attrs(f) if f.uid == 7));
    }

    #[test]
    fn many_clients_at_once() {
        let (sock, d) = start();
        let threads: Vec<_> = (0..8u64)
            .map(|t| {
                let sock = sock.clone();
                std::thread::spawn(move || {
                    let mut s = UnixStream::connect(&sock).unwrap();
                    for i in 0..200u64 {
                        let real = Real {
                            key: Key { dev: t, ino: i },
                            birth: None,
                            uid: 1,
                            gid: 1,
                            mode: 0o100644,
                            rdev: 0,
                            nlink: 1,
                        };
                        ask(&mut s, &Op::Chown { real, uid: Some(i as u32 + 1), gid: None }).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(d.table.lock().unwrap().len(), 1600);
    }

    #[test]
    fn the_idlest_client_makes_room_and_a_member_never_does() {
        let (sock, d) = start_with(4);
        let real =
            |ino| Real { key: Key { dev: 9, ino }, birth: None, uid: 1, gid: 1, mode: 0o100644, rdev: 0, nlink: 1 };
        let chown = |s: &mut UnixStream, ino| ask(s, &Op::Chown { real: real(ino), uid: Some(7), gid: None });
        // The first client is a session's member, then three clients that asked once.
        let mut member = UnixStream::connect(&sock).unwrap();
        let r = ask(&mut member, &Op::Join { unknown_is_real: false }).unwrap();
        assert_eq!(wire::decode::<Reply<'_>>(&r).unwrap(), Reply::Done);
        let mut old: Vec<UnixStream> = (0..3).map(|_| UnixStream::connect(&sock).unwrap()).collect();
        for (i, s) in old.iter_mut().enumerate() {
            chown(s, i as u64).unwrap();
        }
        // A fifth: the idlest of the three goes, and the new one is served.
        let mut new = UnixStream::connect(&sock).unwrap();
        chown(&mut new, 10).unwrap();
        assert!(chown(&mut old[0], 0).is_err(), "the idlest connection was dropped");
        chown(&mut old[1], 1).unwrap();
        chown(&mut member, 11).expect("a session's membership is never dropped");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while d.clients() > 4 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(d.clients(), 4);
        assert_eq!(max_clients(1024), 992);
        assert_eq!(max_clients(20), 4);
        assert_eq!(max_clients(1 << 20), MAX_CLIENTS);
    }
}
