//! This `fakebox run`'s attach socket: `fakebox __attach` asks here to be traced. Each
//! request is checked (the thread must belong to the process at the other end), handed
//! to the tracer thread, and answered with the seccomp filter to install.
use crate::log;
use fakebox_proto::ids::Cred;
use fakebox_proto::{Op, Reply, wire};
use fakebox_tracer::engine::{self, AttachRequest};
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::mpsc::Sender;

/// Serves attach requests until the process ends.
pub fn serve(listener: UnixListener, tracer: Sender<AttachRequest>) {
    for conn in listener.incoming().flatten() {
        let tx = tracer.clone();
        let _ = std::thread::Builder::new().name("fakebox-attach".into()).spawn(move || one(conn, &tx));
    }
}

fn one(mut stream: UnixStream, tracer: &Sender<AttachRequest>) {
    let mut header = [0u8; 4];
    if stream.read_exact(&mut header).is_err() {
        return;
    }
    let Ok(len) = wire::body_len(header) else { return };
    let mut body = vec![0u8; len];
    if stream.read_exact(&mut body).is_err() {
        return;
    }
    let Ok(Op::Attach { tid, uid, gid }) = wire::decode::<Op<'_>>(&body) else { return };
    let r = attach(&stream, tracer, tid, uid, gid);
    let mut reply = vec![0u8; 64 * 1024];
    let n = match &r {
        Ok(filter) => wire::encode(&Reply::Bytes(filter), &mut reply),
        Err(e) => wire::encode(&Reply::Errno(*e), &mut reply),
    };
    if let Ok(n) = n {
        let _ = stream.write_all(&reply[..n]);
    }
}

/// Passes an attach request to the tracer thread and waits for its answer.
fn attach(stream: &UnixStream, tracer: &Sender<AttachRequest>, tid: i32, uid: Cred, gid: Cred) -> Result<Vec<u8>, i32> {
    let peer = peer_pid(stream).ok_or(libc::EPERM)?;
    if !std::path::Path::new(&format!("/proc/{peer}/task/{tid}")).exists() {
        log::debug(format_args!("attach: thread {tid} is not in process {peer}"));
        return Err(libc::EPERM);
    }
    let (reply, answer) = std::sync::mpsc::sync_channel(1);
    tracer.send(AttachRequest { tid, uid, gid, reply }).map_err(|_| libc::ESRCH)?;
    // The tracer answers within microseconds unless the wake-up landed just before it
    // went to sleep: then wake it again.
    for _ in 0..3000 {
        engine::wake();
        match answer.recv_timeout(std::time::Duration::from_millis(10)) {
            Ok(r) => {
                log::debug(format_args!("attach {tid} (process {peer}): {}", if r.is_ok() { "ok" } else { "refused" }));
                return r;
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
            Err(_) => return Err(libc::ESRCH),
        }
    }
    Err(libc::ETIMEDOUT)
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
