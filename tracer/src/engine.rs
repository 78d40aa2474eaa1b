//! The event loop. One thread (the launcher's main thread) is the tracer: it spawns or
//! seizes tracees, and for every stop decides and resumes. Threads and children are
//! followed (PTRACE_O_TRACECLONE/FORK/VFORK); every signal is passed on; group-stops are
//! listened through, so job control works; the first command's exact status is returned.
//!
//! Wake-ups: the loop blocks in waitpid. An attach request (from a daemon thread) wakes
//! it with a signal whose handler does nothing, so waitpid returns EINTR; the requester
//! repeats the signal until answered, so a signal that lands just before waitpid blocks
//! costs a short delay, never a lost request.
use crate::Session;
use crate::handlers::{self, Action, Ctx, Ids, Pending};
use crate::tracee;
use fakebox_proto::elf::{self, Exec};
use fakebox_proto::ids::Cred;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};

/// A process asking to be traced from its next exec on (see `fakebox __attach`).
pub struct AttachRequest {
    pub tid: i32,
    pub uid: Cred,
    pub gid: Cred,
    /// The seccomp program to install, or why the tracer could not take the process.
    pub reply: SyncSender<Result<Vec<u8>, i32>>,
}

static TRACER_TID: AtomicI32 = AtomicI32::new(0);

/// The signal that interrupts the tracer's waitpid.
fn wake_signal() -> libc::c_int {
    libc::SIGRTMIN() + 3
}

extern "C" fn on_wake(_: libc::c_int) {}

/// Wakes the tracer thread (after queueing an attach request); call again if no answer
/// comes soon.
pub fn wake() {
    let tid = TRACER_TID.load(Ordering::Acquire);
    if tid > 0 {
        // SAFETY: a signal to our own process's tracer thread.
        unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, wake_signal()) };
    }
}

/// Installs the wake-up handler, without SA_RESTART so that waitpid returns EINTR.
fn install_wake_handler() {
    // SAFETY: a handler that does nothing.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_wake as *const () as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        sa.sa_flags = 0;
        libc::sigaction(wake_signal(), &sa, std::ptr::null_mut());
    }
}

/// How many times the loop polls for the next stop before it blocks (about 50 µs).
const SPIN: usize = 150;

const OPTIONS: libc::c_int = libc::PTRACE_O_TRACESECCOMP
    | libc::PTRACE_O_TRACECLONE
    | libc::PTRACE_O_TRACEFORK
    | libc::PTRACE_O_TRACEVFORK
    | libc::PTRACE_O_TRACEEXEC
    | libc::PTRACE_O_TRACESYSGOOD
    | libc::PTRACE_O_EXITKILL;

struct Task {
    tgid: i32,
    /// The preload library runs in this process: let its calls through untouched, so
    /// that nothing is faked twice.
    preloaded: bool,
    pending: Option<Pending>,
}

pub struct Engine<'s> {
    session: &'s dyn Session,
    /// Where the tracer says what it does (FAKEBOX_LOG=debug), if anywhere.
    log: Option<fn(std::fmt::Arguments<'_>)>,
    tasks: HashMap<i32, Task>,
    ids: HashMap<i32, Ids>,
    default_ids: Ids,
    /// The preload library's path: a process whose LD_PRELOAD names it is preloaded.
    lib: Vec<u8>,
}

fn ptrace(req: libc::c_uint, tid: i32, data: usize) -> i64 {
    // SAFETY: ptrace requests on our tracees; errors are returned, not trusted.
    unsafe { libc::ptrace(req, tid, 0usize, data) as i64 }
}

impl<'s> Engine<'s> {
    pub fn new(
        session: &'s dyn Session,
        uid: u32,
        gid: u32,
        lib: Vec<u8>,
        log: Option<fn(std::fmt::Arguments<'_>)>,
    ) -> Engine<'s> {
        // SAFETY: gettid cannot fail.
        TRACER_TID.store(unsafe { libc::gettid() }, Ordering::Release);
        let default_ids = Ids::new(Cred::all(uid), Cred::all(gid));
        Engine { session, log, tasks: HashMap::new(), ids: HashMap::new(), default_ids, lib }
    }

    fn say(&self, args: std::fmt::Arguments<'_>) {
        if let Some(log) = self.log {
            log(args);
        }
    }

    fn seize(&mut self, tid: i32, ids: Ids) -> Result<(), i32> {
        if self.tasks.contains_key(&tid) {
            return Ok(()); // already ours (a traced program exec'ing through the preload)
        }
        if ptrace(libc::PTRACE_SEIZE, tid, OPTIONS as usize) < 0 {
            return Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EPERM));
        }
        let tgid = tracee::tgid_of(tid).unwrap_or(tid);
        // Until it execs, the process runs the preload library (it asked from there).
        self.tasks.insert(tid, Task { tgid, preloaded: true, pending: None });
        self.ids.insert(tgid, ids);
        Ok(())
    }

    fn attach(&mut self, req: AttachRequest) {
        let r = self.seize(req.tid, Ids::new(req.uid, req.gid)).map(|()| crate::filter::program_bytes());
        self.say(format_args!("tracer: seize {}: {}", req.tid, if r.is_ok() { "ok" } else { "refused" }));
        let _ = req.reply.send(r);
    }

    /// Runs until `top` (the session's command, our child, traced or not) ends; returns
    /// its exit status as a shell reports it (128+N for signal N).
    pub fn run(&mut self, top: i32, attach: &Receiver<AttachRequest>) -> i32 {
        install_wake_handler();
        loop {
            while let Ok(req) = attach.try_recv() {
                self.attach(req);
            }
            let mut status = 0;
            // A traced program that stops often (a stat storm) stops again within a few
            // microseconds: look for that stop for a moment before sleeping, which spares
            // both sides the wake-up of an idle CPU.
            let mut pid = 0;
            for _ in 0..SPIN {
                // SAFETY: waitpid on our children and tracees.
                pid = unsafe { libc::waitpid(-1, &mut status, libc::__WALL | libc::WNOHANG) };
                if pid != 0 {
                    break;
                }
            }
            if pid == 0 {
                // SAFETY: as above.
                pid = unsafe { libc::waitpid(-1, &mut status, libc::__WALL) };
            }
            if pid < 0 {
                if std::io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD) {
                    return 125; // cannot happen while `top` lives
                }
                continue; // EINTR: an attach request
            }
            if let Some(code) = self.event(pid, status, top) {
                return code;
            }
        }
    }

    /// Handles one wait status; returns the session's exit code when `top` ended.
    fn event(&mut self, pid: i32, status: i32, top: i32) -> Option<i32> {
        if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
            self.tasks.remove(&pid);
            if pid == top {
                return Some(if libc::WIFEXITED(status) {
                    libc::WEXITSTATUS(status)
                } else {
                    128 + libc::WTERMSIG(status)
                });
            }
            return None;
        }
        if !libc::WIFSTOPPED(status) {
            return None;
        }
        if !self.tasks.contains_key(&pid) {
            // A new thread or child whose stop came before its parent's event.
            let tgid = tracee::tgid_of(pid).unwrap_or(pid);
            let preloaded = self.tasks.values().find(|t| t.tgid == tgid).is_some_and(|t| t.preloaded);
            self.tasks.insert(pid, Task { tgid, preloaded, pending: None });
        }
        let sig = libc::WSTOPSIG(status);
        let event = (status >> 16) & 0xff;
        match event {
            libc::PTRACE_EVENT_SECCOMP => self.seccomp(pid),
            libc::PTRACE_EVENT_FORK | libc::PTRACE_EVENT_VFORK | libc::PTRACE_EVENT_CLONE => {
                self.new_task(pid);
                ptrace(libc::PTRACE_CONT, pid, 0);
            }
            libc::PTRACE_EVENT_EXEC => {
                self.exec(pid);
                ptrace(libc::PTRACE_CONT, pid, 0);
            }
            libc::PTRACE_EVENT_STOP => {
                if matches!(sig, libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU) {
                    ptrace(libc::PTRACE_LISTEN, pid, 0); // a group-stop: stay stopped
                } else {
                    ptrace(libc::PTRACE_CONT, pid, 0);
                }
            }
            0 if sig == (libc::SIGTRAP | 0x80) => {
                self.syscall_exit(pid);
                ptrace(libc::PTRACE_CONT, pid, 0);
            }
            // A signal on its way to the tracee: pass it on.
            0 => {
                ptrace(libc::PTRACE_CONT, pid, sig as usize);
            }
            _ => {
                ptrace(libc::PTRACE_CONT, pid, 0);
            }
        }
        None
    }

    fn new_task(&mut self, parent: i32) {
        let mut msg: libc::c_ulong = 0;
        if ptrace(libc::PTRACE_GETEVENTMSG, parent, &mut msg as *mut _ as usize) < 0 {
            return;
        }
        let child = msg as i32;
        let Some(p) = self.tasks.get(&parent) else { return };
        let (ptgid, preloaded) = (p.tgid, p.preloaded);
        let tgid = tracee::tgid_of(child).unwrap_or(child);
        if tgid != ptgid {
            let ids = self.ids.get(&ptgid).cloned().unwrap_or_else(|| self.default_ids.clone());
            self.ids.insert(tgid, ids);
        }
        self.tasks.entry(child).or_insert(Task { tgid, preloaded, pending: None });
    }

    /// After an exec: decide again which mechanism this program needs.
    fn exec(&mut self, pid: i32) {
        let (class, has_lib) = sniff(pid, &self.lib);
        let tgid = tracee::tgid_of(pid).unwrap_or(pid);
        if let Some(e) = class
            && !e.class64
        {
            eprintln!(
                "fakebox: {}: 32-bit programs are not supported by the tracer; it was stopped rather than run without the fake",
                std::fs::read_link(format!("/proc/{pid}/exe")).map(|p| p.display().to_string()).unwrap_or_default()
            );
            // SAFETY: killing our own tracee.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            return;
        }
        let preloaded = class.is_some_and(|e| e.preload_reaches()) && has_lib;
        self.say(format_args!(
            "tracer: {pid} exec'd a {} program: {}",
            class.map_or("non-ELF", |e| e.describe()),
            if preloaded { "the preload library fakes it" } else { "traced" }
        ));
        let t = self.tasks.entry(pid).or_insert(Task { tgid, preloaded, pending: None });
        t.tgid = tgid;
        t.preloaded = preloaded;
        t.pending = None;
        if !self.ids.contains_key(&tgid) {
            self.ids.insert(tgid, self.default_ids.clone());
        }
    }

    fn seccomp(&mut self, tid: i32) {
        let Some(task) = self.tasks.get(&tid) else {
            ptrace(libc::PTRACE_CONT, tid, 0);
            return;
        };
        let mut data: libc::c_ulong = 0;
        ptrace(libc::PTRACE_GETEVENTMSG, tid, &mut data as *mut _ as usize);
        let data = data as u32;
        // The preload library fakes this process; only another ABI (int 0x80), which no
        // library sees, is the tracer's business.
        if task.preloaded && data != crate::filter::DATA_OTHER_ABI {
            ptrace(libc::PTRACE_CONT, tid, 0);
            return;
        }
        let tgid = task.tgid;
        let Ok(mut regs) = tracee::get_regs(tid) else {
            ptrace(libc::PTRACE_CONT, tid, 0);
            return;
        };
        let mut ids = self.ids.remove(&tgid).unwrap_or_else(|| self.default_ids.clone());
        let action = {
            let mut ctx = Ctx { session: self.session, tid, tgid, ids: &mut ids };
            handlers::handle(&mut ctx, &regs, data)
        };
        if self.log.is_some() {
            let nr = regs.orig_rax as i64;
            self.say(format_args!("tracer: {tid} {}({nr}) -> {action:?}", crate::syscalls::name(nr)));
        }
        self.ids.insert(tgid, ids);
        match action {
            Action::Return(v) => {
                regs.orig_rax = u64::MAX; // skip the call
                regs.rax = v as u64;
                let _ = tracee::set_regs(tid, &regs);
                ptrace(libc::PTRACE_CONT, tid, 0);
            }
            Action::Run(new) => {
                if let Some(r) = new {
                    let _ = tracee::set_regs(tid, &r);
                }
                ptrace(libc::PTRACE_CONT, tid, 0);
            }
            Action::RunThen(new, pending) => {
                if let Some(r) = new {
                    let _ = tracee::set_regs(tid, &r);
                }
                if let Some(t) = self.tasks.get_mut(&tid) {
                    t.pending = Some(pending);
                }
                ptrace(libc::PTRACE_SYSCALL, tid, 0);
            }
            Action::Refuse32 => {
                eprintln!(
                    "fakebox: a 32-bit (i386) system call: 32-bit programs are not supported by the tracer; the program was stopped rather than run without the fake"
                );
                // SAFETY: killing our own tracee.
                unsafe { libc::kill(tid, libc::SIGKILL) };
            }
        }
    }

    fn syscall_exit(&mut self, tid: i32) {
        let Some(task) = self.tasks.get_mut(&tid) else { return };
        let Some(pending) = task.pending.take() else { return };
        let tgid = task.tgid;
        let Ok(regs) = tracee::get_regs(tid) else { return };
        let mut ids = self.ids.remove(&tgid).unwrap_or_else(|| self.default_ids.clone());
        {
            let mut ctx = Ctx { session: self.session, tid, tgid, ids: &mut ids };
            handlers::exited(&mut ctx, &pending, regs.rax as i64);
        }
        self.ids.insert(tgid, ids);
    }
}

/// The new program's ELF class and whether its environment preloads our library.
fn sniff(pid: i32, lib: &[u8]) -> (Option<elf::Elf>, bool) {
    // The headers only, not the whole program.
    let class = std::fs::File::open(format!("/proc/{pid}/exe")).ok().and_then(|f| {
        let mut head = [0u8; 4096];
        let n = elf::ReadAt::read_at(&mut &f, 0, &mut head);
        match elf::classify(&head[..n], &mut &f) {
            Exec::Elf(e) => Some(e),
            _ => None,
        }
    });
    let has_lib = std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| {
        env.split(|&b| b == 0).any(|v| {
            v.strip_prefix(b"LD_PRELOAD=").is_some_and(|list| list.split(|&c| c == b':' || c == b' ').any(|x| x == lib))
        })
    });
    (class, has_lib)
}
