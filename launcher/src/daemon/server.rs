//! Serves the table to many clients at once: one thread per connection, one lock around
//! the table. A client that sends anything malformed, truncated or oversized loses its
//! connection; nothing a client sends can stop the daemon.
use super::table::Table;
use crate::log;
use fakebox_proto::wire::{self, MAX_FRAME};
use fakebox_proto::{Op, Reply};
use fakebox_tracer::engine::{self, AttachRequest};
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

pub struct Daemon {
    pub table: Mutex<Table>,
    /// Where attach requests go: the tracer thread (None when the session has no tracer).
    pub tracer: Mutex<Option<std::sync::mpsc::Sender<AttachRequest>>>,
    /// How many clients announced themselves with `Hello`.
    pub hellos: AtomicUsize,
    stopping: AtomicBool,
}

impl Daemon {
    pub fn new(table: Table) -> Arc<Daemon> {
        Arc::new(Daemon {
            table: Mutex::new(table),
            tracer: Mutex::new(None),
            hellos: AtomicUsize::new(0),
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

    fn client(&self, mut stream: UnixStream) {
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
            if let Op::Hello { pid } = op {
                self.hellos.fetch_add(1, Ordering::AcqRel);
                log::debug(format_args!("hello from pid {pid}"));
            }
            if let Op::MapTable = op {
                if send_table(&stream, self, &mut reply).is_err() {
                    return;
                }
                continue;
            }
            if let Op::Attach { tid, uid, gid } = op {
                let r = self.attach(&stream, tid, uid, gid);
                let n = match &r {
                    Ok(filter) => wire::encode(&Reply::Bytes(filter), &mut reply),
                    Err(e) => wire::encode(&Reply::Errno(*e), &mut reply),
                };
                match n {
                    Ok(n) if stream.write_all(&reply[..n]).is_ok() => continue,
                    _ => return,
                }
            }
            let n = {
                let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
                let r = table.apply(&op, &mut out);
                log::trace(format_args!("{op:?} -> {r:?}"));
                wire::encode(&r, &mut reply)
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

impl Daemon {
    /// Passes an attach request to the tracer thread and waits for its answer. The thread
    /// to trace must belong to the process at the other end of the socket.
    fn attach(
        &self,
        stream: &UnixStream,
        tid: i32,
        uid: fakebox_proto::ids::Cred,
        gid: fakebox_proto::ids::Cred,
    ) -> Result<Vec<u8>, i32> {
        let peer = peer_pid(stream).ok_or(libc::EPERM)?;
        if !std::path::Path::new(&format!("/proc/{peer}/task/{tid}")).exists() {
            log::debug(format_args!("attach: thread {tid} is not in process {peer}"));
            return Err(libc::EPERM);
        }
        let Some(tx) = self.tracer.lock().unwrap_or_else(|p| p.into_inner()).clone() else {
            return Err(libc::ENOSYS);
        };
        let (reply, answer) = std::sync::mpsc::sync_channel(1);
        tx.send(AttachRequest { tid, uid, gid, reply }).map_err(|_| libc::ESRCH)?;
        // The tracer answers within microseconds unless the wake-up landed just before it
        // went to sleep: then wake it again.
        let mut r = Err(libc::ETIMEDOUT);
        for _ in 0..3000 {
            engine::wake();
            match answer.recv_timeout(std::time::Duration::from_millis(10)) {
                Ok(a) => {
                    r = a;
                    break;
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
                Err(_) => {
                    r = Err(libc::ESRCH);
                    break;
                }
            }
        }
        log::debug(format_args!("attach {tid} (process {peer}): {:?}", r.as_ref().map(|_| "ok")));
        r
    }
}

/// Replies `Done` to MapTable with the shared table's memfd attached (SCM_RIGHTS).
fn send_table(stream: &UnixStream, daemon: &Daemon, reply: &mut [u8]) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let n = wire::encode(&Reply::Done, reply).map_err(|_| std::io::Error::other("encode"))?;
    let table = daemon.table.lock().unwrap_or_else(|p| p.into_inner());
    let fd = table.memfd().as_raw_fd();
    let mut iov = libc::iovec { iov_base: reply.as_mut_ptr() as *mut libc::c_void, iov_len: n };
    // SAFETY: building a one-fd SCM_RIGHTS message in a local buffer and sending it.
    unsafe {
        let space = libc::CMSG_SPACE(std::mem::size_of::<libc::c_int>() as u32) as usize;
        let mut cbuf = vec![0u8; space];
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr() as *mut libc::c_void;
        msg.msg_controllen = space;
        let c = libc::CMSG_FIRSTHDR(&msg);
        (*c).cmsg_level = libc::SOL_SOCKET;
        (*c).cmsg_type = libc::SCM_RIGHTS;
        (*c).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<libc::c_int>() as u32) as usize;
        std::ptr::write_unaligned(libc::CMSG_DATA(c) as *mut libc::c_int, fd);
        if libc::sendmsg(stream.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) != n as isize {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The pid of the process at the other end of a unix socket (SO_PEERCRED).
fn peer_pid(stream: &UnixStream) -> Option<i32> {
    use std::os::fd::AsRawFd;
    let mut cred = libc::ucred { pid: 0, uid: 0, gid: 0 };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: getsockopt into a local of the right size.
    let r = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            &mut cred as *mut _ as *mut libc::c_void,
            &mut len,
        )
    };
    (r == 0 && cred.pid > 0).then_some(cred.pid)
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
        let mut buf = vec![0u8; 1024];
        let n = wire::encode(op, &mut buf).unwrap();
        s.write_all(&buf[..n])?;
        let mut h = [0u8; 4];
        s.read_exact(&mut h)?;
        let mut body = vec![0u8; wire::body_len(h).unwrap()];
        s.read_exact(&mut body)?;
        Ok(body)
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
