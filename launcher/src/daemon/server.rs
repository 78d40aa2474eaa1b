//! Serves the table to many clients at once: one thread per connection, one lock around
//! the table. A client that sends anything malformed, truncated or oversized loses its
//! connection; nothing a client sends can stop the daemon.
//!
//! A daemon of a state file is shared: each `fakebox run` joins it, and when the last
//! session leaves (or its connection drops, if it was killed) the daemon saves the state
//! and exits (see `host`).
use super::table::Table;
use crate::log;
use fakebox_proto::wire::{self, MAX_FRAME};
use fakebox_proto::{Op, Reply};
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

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
        })
    }

    /// Accepts clients until [`Daemon::stop`]; each gets its own thread.
    pub fn serve(self: &Arc<Self>, listener: UnixListener) {
        for conn in listener.incoming() {
            if self.stopping.load(Ordering::Acquire) {
                break;
            }
            match conn {
                Ok(stream) => {
                    let me = Arc::clone(self);
                    let spawned = std::thread::Builder::new()
                        .name("fakebox-client".into())
                        .stack_size(256 * 1024)
                        .spawn(move || me.client(stream));
                    if let Err(e) = spawned {
                        log::error(format_args!("cannot start a client thread: {e}"));
                    }
                }
                Err(e) => log::debug(format_args!("accept: {e}")),
            }
        }
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

    fn client(&self, mut stream: UnixStream) {
        let mut joined = false;
        let mut last = false;
        self.converse(&mut stream, &mut joined, &mut last);
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
    fn converse(&self, stream: &mut UnixStream, joined: &mut bool, last: &mut bool) {
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
        }
    }
}

/// Replies `Done` to MapTable with the shared table's memfd attached (SCM_RIGHTS).
fn send_table(stream: &UnixStream, daemon: &Daemon, reply: &mut [u8]) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let n = wire::encode(&Reply::Done, reply).map_err(|_| std::io::Error::other("encode"))?;
    let table = daemon.table.lock().unwrap_or_else(|p| p.into_inner());
    fakebox_proto::fdpass::send_with_fd(stream.as_raw_fd(), &reply[..n], table.memfd().as_raw_fd())
        .map_err(std::io::Error::from_raw_os_error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fakebox_proto::{Key, Real, Reply};

    fn start() -> (std::path::PathBuf, Arc<Daemon>) {
        let dir =
            std::env::temp_dir().join(format!("fbd-test-{}-{:?}", std::process::id(), std::thread::current().id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("s");
        let l = UnixListener::bind(&sock).unwrap();
        let d = Daemon::new(Table::new(false).unwrap());
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
}
