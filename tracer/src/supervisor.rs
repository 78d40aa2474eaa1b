//! The supervisor: answers the agents of the processes the tracer has let go of (see
//! `fakebox_proto::agent`). One thread per notification listener (one per line of
//! processes that stacked the agent's filter), blocked in SECCOMP_IOCTL_NOTIF_RECV with
//! synchronous wake-ups, so that a request and its answer stay on the caller's CPU.
//!
//! A request is an [`Rpc`] block in the caller's memory. A trapped call runs through
//! the tracer's own handler ([`handlers::handle`]), exactly as at a seccomp stop, and its
//! [`Action`] becomes the answer; an exec is handed to the engine, which seizes the
//! process so as to place a new agent in the new program.
use crate::handlers::{self, Action, Ctx, Ids, Pending};
use crate::tracee::{self, errno};
use crate::{Session, engine};
use fakebox_proto::agent::{self as contract, Rpc};
use std::collections::HashMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::mpsc::{Sender, SyncSender};

#[repr(C)]
#[derive(Default)]
struct SeccompData {
    nr: i32,
    arch: u32,
    ip: u64,
    args: [u64; 6],
}

#[repr(C)]
#[derive(Default)]
struct Notif {
    id: u64,
    pid: u32,
    flags: u32,
    data: SeccompData,
}

#[repr(C)]
struct Resp {
    id: u64,
    val: i64,
    error: i32,
    flags: u32,
}

// _IOWR('!', 0, struct seccomp_notif), _IOWR('!', 1, struct seccomp_notif_resp),
// _IOW('!', 2, __u64), _IOW('!', 4, __u64).
const NOTIF_RECV: libc::c_ulong = 0xc050_2100;
const NOTIF_SEND: libc::c_ulong = 0xc018_2101;
const NOTIF_ID_VALID: libc::c_ulong = 0x4008_2102;
const NOTIF_SET_FLAGS: libc::c_ulong = 0x4008_2104;
const SYNC_WAKE_UP: u64 = 1;
const _: () = assert!(std::mem::size_of::<Notif>() == 80 && std::mem::size_of::<Resp>() == 24);

/// What a supervisor asks of the engine (the one thread that may ptrace).
pub enum Hold {
    /// Seize `tid`, which is about to exec (its fake ids come along for the next agent).
    Exec { tid: i32, tgid: i32, ids: Ids, reply: SyncSender<Result<(), i32>> },
    /// Let go of `tid` again: its exec failed.
    Release { tid: i32 },
}

/// A thread that blocks in a system call until another one stops it: the stopper sets
/// the flag and interrupts the wait with a signal until the thread says it is done (a
/// signal that lands just before the wait blocks would otherwise be lost).
#[derive(Default)]
struct Worker {
    stop: AtomicBool,
    done: AtomicBool,
    tid: AtomicI32,
}

impl Worker {
    /// In the thread, first.
    fn begin(&self) {
        // SAFETY: gettid cannot fail.
        self.tid.store(unsafe { libc::gettid() }, Ordering::Release);
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// In the thread, last.
    fn end(&self) {
        self.done.store(true, Ordering::Release);
    }

    /// Stops the thread and waits until it has. The thread usually ends within
    /// microseconds of the signal, so the waits between signals start short (every session
    /// ends through here: a fixed 1 ms was a quarter of `fakebox run -- true`).
    fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        let mut pause = std::time::Duration::from_micros(20);
        while !self.done.load(Ordering::Acquire) {
            engine::interrupt(self.tid.load(Ordering::Acquire));
            std::thread::sleep(pause);
            pause = (pause * 2).min(std::time::Duration::from_millis(1));
        }
    }
}

/// One listener and the thread that serves it.
pub struct Listener {
    fd: OwnedFd,
    worker: Worker,
}

impl Listener {
    pub fn new(fd: OwnedFd) -> Listener {
        Listener { fd, worker: Worker::default() }
    }

    pub fn fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }

    /// Stops the thread that serves it and waits until it has.
    pub fn stop(&self) {
        self.worker.stop();
    }
}

/// Serves `l` until [`Listener::stop`].
pub fn serve(l: &Listener, session: &dyn Session, engine: &Sender<Hold>, log: Option<fn(std::fmt::Arguments<'_>)>) {
    l.worker.begin();
    let flags = SYNC_WAKE_UP;
    // SAFETY: the ioctl takes a pointer to a u64 (older kernels: plain wake-ups).
    unsafe { libc::ioctl(l.fd(), NOTIF_SET_FLAGS, &flags as *const u64) };
    let mut pending = Records::default();
    while !l.worker.stopping() {
        let mut n = Notif::default();
        // SAFETY: RECV fills a struct seccomp_notif.
        if unsafe { libc::ioctl(l.fd(), NOTIF_RECV, &mut n as *mut Notif) } < 0 {
            match errno() {
                libc::EINTR | libc::ENOENT => continue,
                _ => break,
            }
        }
        let mut resp = Resp { id: n.id, val: 0, error: 0, flags: 0 };
        let mut kept = None;
        if let Err(e) = answer(l, &n, session, engine, &mut pending, &mut kept, log) {
            resp.error = -e;
        }
        // SAFETY: SEND reads a struct seccomp_notif_resp (ENOENT: the caller is gone, or
        // a signal interrupted its wait and it will ask again).
        let sent = unsafe { libc::ioctl(l.fd(), NOTIF_SEND, &resp as *const Resp) } == 0;
        // A record whose call will not run as answered (it asks again) is dropped.
        if let Some(token) = kept.filter(|_| !sent || resp.error != 0) {
            pending.take(n.pid as i32, token);
        }
    }
    l.worker.end();
}

fn answer(
    l: &Listener,
    n: &Notif,
    session: &dyn Session,
    engine: &Sender<Hold>,
    pending: &mut Records,
    kept: &mut Option<u32>,
    log: Option<fn(std::fmt::Arguments<'_>)>,
) -> Result<(), i32> {
    if i64::from(n.data.nr) != contract::RPC_NR {
        return Err(libc::ENOSYS);
    }
    let tid = n.pid as i32;
    let at = n.data.args[0];
    let mut rpc = Rpc::default();
    // SAFETY: reading the block into our copy's bytes (Rpc is plain data; every bit
    // pattern is a value).
    let buf = unsafe { std::slice::from_raw_parts_mut(&mut rpc as *mut Rpc as *mut u8, std::mem::size_of::<Rpc>()) };
    if tracee::read(tid, at, buf).map_err(|e| e.raw_os_error().unwrap_or(libc::EFAULT))? < buf.len() {
        return Err(libc::EFAULT);
    }
    // The pid still names the caller (not a process that reused its number).
    // SAFETY: ID_VALID reads a u64.
    if unsafe { libc::ioctl(l.fd(), NOTIF_ID_VALID, &n.id as *const u64) } < 0 {
        return Err(libc::ENOENT);
    }
    let mut ids = Ids::from_agent(&rpc.ids);
    match rpc.kind {
        contract::RPC_CALL => {
            let mut regs: tracee::Regs = unsafe { std::mem::zeroed() };
            regs.orig_rax = rpc.nr as u64;
            for (i, v) in rpc.args.iter().enumerate() {
                tracee::set_arg(&mut regs, i, *v);
            }
            let action = {
                let mut ctx = Ctx { session, tid, tgid: rpc.tgid, ids: &mut ids };
                handlers::handle(&mut ctx, &regs, rpc.data)
            };
            if let Some(log) = log {
                log(format_args!("agent: {tid} {}({}) -> {action:?}", crate::syscalls::name(rpc.nr), rpc.nr));
            }
            (rpc.action, rpc.value, rpc.then) = (contract::ACT_RUN, 0, 0);
            rpc.run_args = rpc.args;
            match action {
                Action::Return(v) => (rpc.action, rpc.value) = (contract::ACT_RETURN, v),
                Action::Run(None) => {}
                Action::Run(Some(r)) => rpc.run_args = tracee::args(&r),
                Action::RunThen(r, p) => {
                    if let Some(r) = r {
                        rpc.run_args = tracee::args(&r);
                    }
                    rpc.then = 1;
                    rpc.token = pending.keep(tid, p);
                    *kept = Some(rpc.token);
                }
                Action::Refuse32 => {
                    eprintln!("fakebox: {}", handlers::REFUSED_32);
                    rpc.action = contract::ACT_KILL;
                }
            }
        }
        contract::RPC_EXITED => {
            if let Some(p) = pending.take(tid, rpc.token) {
                let mut ctx = Ctx { session, tid, tgid: rpc.tgid, ids: &mut ids };
                handlers::exited(&mut ctx, &p, rpc.value);
            }
        }
        contract::RPC_EXEC => {
            let (reply, answer) = std::sync::mpsc::sync_channel(1);
            let held = engine
                .send(Hold::Exec { tid, tgid: rpc.tgid, ids: ids.clone(), reply })
                .map_err(|_| libc::ESRCH)
                .and_then(|()| {
                    // Repeat the wake-up until the engine answers (a signal that lands just
                    // before its wait blocks would otherwise be lost).
                    loop {
                        engine::wake();
                        match answer.recv_timeout(std::time::Duration::from_millis(20)) {
                            Ok(r) => return r,
                            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
                            Err(_) => return Err(libc::ESRCH),
                        }
                    }
                });
            match held {
                Ok(()) => rpc.action = contract::ACT_RUN,
                Err(e) => (rpc.action, rpc.value) = (contract::ACT_RETURN, -i64::from(e)),
            }
        }
        contract::RPC_EXEC_FAILED => {
            let _ = engine.send(Hold::Release { tid });
            engine::wake();
        }
        _ => return Err(libc::EINVAL),
    }
    rpc.ids = ids.to_agent();
    tracee::write(tid, at, fakebox_proto::kernel::bytes_of(&rpc)).map_err(|e| e.raw_os_error().unwrap_or(libc::EFAULT))
}

/// What the calls that are running leave to do when they report their result, by thread
/// and token: a signal handler that interrupts a thread between a call's request and its
/// report may make requests of its own, and its records must not replace the
/// interrupted one's.
#[derive(Default)]
struct Records {
    map: HashMap<(i32, u32), Pending>,
    next: u32,
}

impl Records {
    /// Keeps `p` for `tid`'s call; returns the token its report brings back.
    fn keep(&mut self, tid: i32, p: Pending) -> u32 {
        // A thread killed between request and report never reports: drop the records
        // of threads that are gone once there are many.
        if self.map.len() >= 1024 {
            self.map.retain(|&(t, _), _| std::path::Path::new(&format!("/proc/{t}")).exists());
        }
        self.next = self.next.wrapping_add(1);
        self.map.insert((tid, self.next), p);
        self.next
    }

    fn take(&mut self, tid: i32, token: u32) -> Option<Pending> {
        self.map.remove(&(tid, token))
    }
}

/// Ends the supervisors whose filter no process uses any more (the listener polls
/// EPOLLHUP), so that a long session that starts many traced programs keeps no idle
/// threads.
pub struct Reaper {
    epoll: OwnedFd,
    live: std::sync::Mutex<Vec<std::sync::Arc<Listener>>>,
    worker: Worker,
}

impl Reaper {
    pub fn new() -> std::io::Result<Reaper> {
        // SAFETY: a fresh epoll fd, which we own.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Reaper {
            // SAFETY: as above.
            epoll: unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) },
            live: std::sync::Mutex::new(Vec::new()),
            worker: Worker::default(),
        })
    }

    /// Watches `l` (until its filter is orphaned).
    pub fn watch(&self, l: std::sync::Arc<Listener>) {
        let mut ev = libc::epoll_event { events: 0, u64: l.fd() as u64 }; // HUP is always reported
        // SAFETY: registering a listener fd that `live` keeps open.
        unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, l.fd(), &mut ev) };
        self.live.lock().unwrap_or_else(|p| p.into_inner()).push(l);
    }

    /// Every listener still served.
    pub fn all(&self) -> Vec<std::sync::Arc<Listener>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn run(&self) {
        self.worker.begin();
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 16];
        while !self.worker.stopping() {
            // SAFETY: epoll_wait into our array.
            let n = unsafe { libc::epoll_wait(self.epoll.as_raw_fd(), events.as_mut_ptr(), 16, -1) };
            for ev in events.iter().take(n.max(0) as usize) {
                if ev.events & (libc::EPOLLHUP | libc::EPOLLERR) as u32 == 0 {
                    continue;
                }
                let fd = ev.u64 as i32;
                let gone = {
                    let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
                    let i = live.iter().position(|l| l.fd() == fd);
                    i.map(|i| live.swap_remove(i))
                };
                if let Some(l) = gone {
                    // SAFETY: deregistering before the fd can close.
                    unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), libc::EPOLL_CTL_DEL, fd, std::ptr::null_mut()) };
                    l.stop();
                }
            }
        }
        self.worker.end();
    }

    /// Stops [`Reaper::run`] and waits until it has.
    pub fn stop(&self) {
        self.worker.stop();
    }
}
