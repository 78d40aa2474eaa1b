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
use crate::agent;
use crate::handlers::{self, Action, Ctx, Ids, Pending};
use crate::supervisor::{self, Hold, Listener};
use crate::tracee;
use fakebox_proto::agent as contract;
use fakebox_proto::elf;
use fakebox_proto::ids::Cred;
use fakebox_proto::mechanism::{self, Mechanism, Program};
use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::mpsc::{Receiver, Sender, SyncSender};

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
    interrupt(TRACER_TID.load(Ordering::Acquire));
}

/// Interrupts the blocking call of one of this process's threads (the tracer's waitpid,
/// a supervisor's wait for a request).
pub fn interrupt(tid: i32) {
    if tid > 0 {
        // SAFETY: a signal to a thread of our own process, whose handler does nothing.
        unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, wake_signal()) };
    }
}

/// The session's command has ended (the engine serves on for the traced processes it
/// left running).
static COMMAND_ENDED: AtomicBool = AtomicBool::new(false);
/// Stop serving the processes the command left running (fakebox was told to end).
static STOP_WAITING: AtomicBool = AtomicBool::new(false);

/// Has the session's command ended? (Async-signal-safe.)
pub fn command_ended() -> bool {
    COMMAND_ENDED.load(Ordering::Acquire)
}

/// Ends the session without waiting any longer for the traced processes its command left
/// running (they lose their supervisor). Async-signal-safe: for a signal handler.
pub fn stop_waiting() {
    STOP_WAITING.store(true, Ordering::Release);
    wake();
}

/// Waits a while (or until a wake-up) for the processes that use the filters of
/// `listeners`; false at once if none has any user left (each listener hangs up when its
/// filter's last user is gone).
fn wait_for_users(listeners: &[i32]) -> bool {
    let mut fds: Vec<libc::pollfd> = listeners.iter().map(|&fd| libc::pollfd { fd, events: 0, revents: 0 }).collect();
    // SAFETY: poll on our array of listener fds, which the caller keeps open.
    unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 0) };
    fds.retain(|p| p.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) == 0);
    if fds.is_empty() {
        return false;
    }
    for p in &mut fds {
        p.revents = 0;
    }
    // A hang-up, a wake-up (a supervisor's request) or a while, whichever comes first.
    // SAFETY: as above.
    unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 100) };
    true
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

/// How many times a wait polls for the next stop before it blocks (about 50 µs).
const SPIN: usize = 150;

/// waitpid(`pid`, __WALL) that polls for a while before it sleeps: a traced program that
/// stops often (a stat storm, the steps of placing an agent) stops again within a few
/// microseconds, and looking for that stop spares both sides the wake-up of an idle CPU.
pub(crate) fn wait(pid: i32, status: &mut i32) -> i32 {
    for _ in 0..SPIN {
        // SAFETY: polling for our children and tracees.
        let got = unsafe { libc::waitpid(pid, status, libc::__WALL | libc::WNOHANG) };
        if got != 0 {
            return got;
        }
    }
    // SAFETY: as above, blocking.
    unsafe { libc::waitpid(pid, status, libc::__WALL) }
}

const OPTIONS: libc::c_int = libc::PTRACE_O_TRACESECCOMP
    | libc::PTRACE_O_TRACECLONE
    | libc::PTRACE_O_TRACEFORK
    | libc::PTRACE_O_TRACEVFORK
    | libc::PTRACE_O_TRACEEXEC
    | libc::PTRACE_O_TRACESYSGOOD
    | libc::PTRACE_O_EXITKILL;

struct Task {
    tgid: i32,
    /// The agent's filter is stacked on this process (it outlives exec): every program
    /// it runs needs an agent, in MODE_PASS where the preload library fakes it.
    agent_filter: bool,
    /// The preload library runs in this process: let its calls through untouched, so
    /// that nothing is faked twice.
    preloaded: bool,
    /// Let go of it at its next stop (its announced exec failed).
    release: bool,
    pending: Option<Pending>,
}

impl Task {
    fn new(tgid: i32, preloaded: bool, agent_filter: bool) -> Task {
        Task { tgid, agent_filter, preloaded, release: false, pending: None }
    }
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
    /// What an agent that fakes needs; None: traced programs get none (and stay traced).
    agent: Option<AgentSetup>,
    /// Requests of the supervisors.
    holds: (Sender<Hold>, Receiver<Hold>),
    /// Listeners of filters the agents stacked, not yet served.
    new_listeners: Vec<OwnedFd>,
}

/// What became of a process at its exec.
enum Placed {
    /// It stays traced (or was killed).
    Not,
    /// An agent is in place: let go of it.
    Agent,
    /// It ended meanwhile (its wait status).
    Ended(i32),
}

/// Made once per session: the agent's filter and where it finds the table.
struct AgentSetup {
    filter: Vec<u8>,
    table_path: String,
    table_len: u64,
}

impl AgentSetup {
    fn new(session: &dyn Session) -> Option<AgentSetup> {
        if std::env::var_os(fakebox_proto::env::AGENT).is_some_and(|v| v == "off") {
            return None;
        }
        let table = session.table()?;
        Some(AgentSetup {
            filter: crate::filter::bytes(&crate::filter::agent_program()),
            table_path: session.table_path()?,
            table_len: fakebox_proto::shm::size_for(table.capacity()) as u64,
        })
    }
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
        // The handler first: a wake-up signal that found none would kill the launcher.
        install_wake_handler();
        // SAFETY: gettid cannot fail.
        TRACER_TID.store(unsafe { libc::gettid() }, Ordering::Release);
        let default_ids = Ids::new(Cred::all(uid), Cred::all(gid));
        let agent = AgentSetup::new(session);
        let holds = std::sync::mpsc::channel();
        Engine {
            session,
            log,
            tasks: HashMap::new(),
            ids: HashMap::new(),
            default_ids,
            lib,
            agent,
            holds,
            new_listeners: Vec::new(),
        }
    }

    fn say(&self, args: std::fmt::Arguments<'_>) {
        if let Some(log) = self.log {
            log(args);
        }
    }

    /// Traces `tid` from now on as `task`; true if it was not traced yet. One that is
    /// (a traced program exec'ing through the preload, or one still held since an exec
    /// that failed, as execvp's tries of each PATH entry do) stays as it is, held.
    fn seize(&mut self, tid: i32, task: Task) -> Result<bool, i32> {
        if let Some(t) = self.tasks.get_mut(&tid) {
            t.release = false;
            return Ok(false);
        }
        if ptrace(libc::PTRACE_SEIZE, tid, OPTIONS as usize) < 0 {
            return Err(tracee::errno());
        }
        self.tasks.insert(tid, task);
        Ok(true)
    }

    fn attach(&mut self, req: AttachRequest) {
        let tgid = tracee::tgid_of(req.tid).unwrap_or(req.tid);
        // Until it execs, the process runs the preload library (it asked from there).
        let r = self.seize(req.tid, Task::new(tgid, true, false)).map(|new| {
            if new {
                self.ids.insert(tgid, Ids::new(req.uid, req.gid));
            }
            crate::filter::program_bytes()
        });
        self.say(format_args!("tracer: seize {}: {}", req.tid, if r.is_ok() { "ok" } else { "refused" }));
        let _ = req.reply.send(r);
    }

    /// Runs until `top` (the session's command, our child, traced or not) ends, and then
    /// on while any traced process still lives (a daemon the command started keeps its
    /// supervisor and the session's daemon, as the README says); returns `top`'s exit
    /// status as a shell reports it (128+N for signal N).
    pub fn run(&mut self, top: i32, attach: &Receiver<AttachRequest>) -> i32 {
        let (session, log) = (self.session, self.log);
        let to_engine = self.holds.0.clone();
        let reaper = supervisor::Reaper::new().ok();
        std::thread::scope(|scope| {
            // A thread that could not start (RLIMIT_NPROC, a cgroup's pids.max) is never
            // waited for: stopping it would wait forever.
            let reaper = reaper.as_ref().filter(|r| {
                let r: &supervisor::Reaper = r;
                std::thread::Builder::new().name("fakebox-reaper".into()).spawn_scoped(scope, move || r.run()).is_ok()
            });
            let mut unwatched: Vec<Arc<Listener>> = Vec::new();
            let mut code = None;
            loop {
                for fd in self.new_listeners.drain(..) {
                    let l = Arc::new(Listener::new(fd));
                    let to_engine = to_engine.clone();
                    let served = Arc::clone(&l);
                    let spawned = std::thread::Builder::new()
                        .name("fakebox-supervisor".into())
                        .stack_size(256 * 1024)
                        .spawn_scoped(scope, move || supervisor::serve(&served, session, &to_engine, log));
                    match (spawned, reaper) {
                        (Ok(_), Some(r)) => r.watch(l),
                        (Ok(_), None) => unwatched.push(l),
                        // The listener closes here: the program's requests (its chown, its
                        // exec) fail with ENOSYS instead of waiting for an answer forever.
                        (Err(e), _) => eprintln!(
                            "fakebox: cannot start a thread to serve a traced program ({e}); its file ownership \
                             calls fail from now on"
                        ),
                    }
                }
                if code.is_none() {
                    code = self.step(top, attach);
                    COMMAND_ENDED.store(code.is_some(), Ordering::Release);
                    continue;
                }
                if STOP_WAITING.load(Ordering::Acquire) {
                    break;
                }
                // The command has ended. Processes still traced stop in this loop; those
                // the tracer let go of hold a filter whose listener hangs up when the last
                // of them is gone.
                if !self.tasks.is_empty() {
                    if self.step(top, attach).is_some() {
                        self.tasks.clear(); // ECHILD: none of them is left after all
                    }
                    continue;
                }
                let mut fds: Vec<i32> = unwatched.iter().map(|l| l.fd()).collect();
                if let Some(r) = &reaper {
                    fds.extend(r.all().iter().map(|l| l.fd()));
                }
                if !wait_for_users(&fds) {
                    break;
                }
                while let Ok(req) = attach.try_recv() {
                    self.attach(req);
                }
                while let Ok(h) = self.holds.1.try_recv() {
                    self.hold(h);
                }
            }
            // The session is over, and no traced process is left.
            if let Some(r) = &reaper {
                r.stop();
                unwatched.extend(r.all());
            }
            for l in &unwatched {
                l.stop();
            }
            code.unwrap_or(125)
        })
    }

    /// Serves the requests that wait, then handles one wait status; returns the
    /// session's exit code when `top` ended.
    fn step(&mut self, top: i32, attach: &Receiver<AttachRequest>) -> Option<i32> {
        while let Ok(req) = attach.try_recv() {
            self.attach(req);
        }
        while let Ok(h) = self.holds.1.try_recv() {
            self.hold(h);
        }
        let mut status = 0;
        let pid = wait(-1, &mut status);
        if pid < 0 {
            if tracee::errno() == libc::ECHILD {
                return Some(125); // cannot happen while `top` lives
            }
            return None; // EINTR: a request
        }
        self.event(pid, status, top)
    }

    /// A supervisor's request: hold a process for its exec, or let go of it again.
    fn hold(&mut self, h: Hold) {
        match h {
            Hold::Exec { tid, tgid, ids, reply } => {
                let r = self.seize(tid, Task::new(tgid, false, true)).map(|_| {
                    self.ids.insert(tgid, ids);
                });
                self.say(format_args!("tracer: hold {tid} for its exec: {r:?}"));
                let _ = reply.send(r);
            }
            Hold::Release { tid } => {
                if let Some(t) = self.tasks.get_mut(&tid) {
                    t.release = true;
                    ptrace(libc::PTRACE_INTERRUPT, tid, 0);
                }
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
            let kin = self.tasks.values().find(|t| t.tgid == tgid);
            let (preloaded, agent_filter) = kin.map_or((false, false), |t| (t.preloaded, t.agent_filter));
            self.tasks.insert(pid, Task::new(tgid, preloaded, agent_filter));
        }
        let sig = libc::WSTOPSIG(status);
        let event = (status >> 16) & 0xff;
        if self.tasks.get(&pid).is_some_and(|t| t.release) {
            let pass = if event == 0 && sig != (libc::SIGTRAP | 0x80) { sig } else { 0 };
            self.let_go(pid, pass);
            return None;
        }
        match event {
            libc::PTRACE_EVENT_SECCOMP => self.seccomp(pid),
            libc::PTRACE_EVENT_FORK | libc::PTRACE_EVENT_VFORK | libc::PTRACE_EVENT_CLONE => {
                self.new_task(pid);
                ptrace(libc::PTRACE_CONT, pid, 0);
            }
            libc::PTRACE_EVENT_EXEC => match self.exec(pid) {
                Placed::Not => {
                    ptrace(libc::PTRACE_CONT, pid, 0);
                }
                Placed::Agent => self.let_go(pid, 0),
                Placed::Ended(status) => return self.event(pid, status, top),
            },
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

    /// Stops tracing `pid` (stopped), passing `sig` on.
    fn let_go(&mut self, pid: i32, sig: i32) {
        ptrace(libc::PTRACE_DETACH, pid, sig as usize);
        if let Some(t) = self.tasks.remove(&pid)
            && !self.tasks.values().any(|o| o.tgid == t.tgid)
        {
            self.ids.remove(&t.tgid);
        }
    }

    fn new_task(&mut self, parent: i32) {
        let mut msg: libc::c_ulong = 0;
        if ptrace(libc::PTRACE_GETEVENTMSG, parent, &mut msg as *mut _ as usize) < 0 {
            return;
        }
        let child = msg as i32;
        let Some(p) = self.tasks.get(&parent) else { return };
        let (ptgid, preloaded, agent_filter) = (p.tgid, p.preloaded, p.agent_filter);
        let tgid = tracee::tgid_of(child).unwrap_or(child);
        if tgid != ptgid {
            let ids = self.ids.get(&ptgid).cloned().unwrap_or_else(|| self.default_ids.clone());
            self.ids.insert(tgid, ids);
        }
        let t = self.tasks.entry(child).or_insert(Task::new(tgid, preloaded, agent_filter));
        t.agent_filter |= agent_filter; // its own stop may have come first
    }

    /// After an exec: decide again which mechanism this program needs, and place the
    /// agent where it is wanted.
    fn exec(&mut self, pid: i32) -> Placed {
        let (decision, has_lib) = sniff(pid, &self.lib);
        let tgid = tracee::tgid_of(pid).unwrap_or(pid);
        if let Mechanism::Refuse(why) = decision {
            eprintln!(
                "fakebox: cannot fake {}: {}; it was stopped rather than run without the fake",
                std::fs::read_link(format!("/proc/{pid}/exe")).map(|p| p.display().to_string()).unwrap_or_default(),
                why.refusal()
            );
            // SAFETY: killing our own tracee.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            return Placed::Not;
        }
        let preloaded = matches!(decision, Mechanism::Preload(_)) && has_lib;
        self.say(format_args!(
            "tracer: {pid} exec'd {}: {}",
            match decision {
                Mechanism::Tracer(why) => why.describe(),
                Mechanism::Preload(_) => "a glibc program",
                _ => "a non-ELF program",
            },
            if preloaded { "the preload library fakes it" } else { "traced" }
        ));
        let t = self.tasks.entry(pid).or_insert(Task::new(tgid, preloaded, false));
        t.tgid = tgid;
        t.preloaded = preloaded;
        t.pending = None;
        let stacked = t.agent_filter;
        let ids = self.ids.entry(tgid).or_insert_with(|| self.default_ids.clone());
        ids.dumpable = true; // as the kernel's exec sets it
        self.place_agent(pid, tgid, preloaded, stacked)
    }

    /// The agent: in a traced program when the table can be mapped; in any program under
    /// the agent's filter (which traps whether or not an agent is there).
    fn place_agent(&mut self, pid: i32, tgid: i32, preloaded: bool, stacked: bool) -> Placed {
        let fake = !preloaded && self.agent.is_some();
        if !fake && !stacked {
            return Placed::Not;
        }
        let ids = self.ids.get(&tgid).unwrap_or(&self.default_ids).to_agent();
        let plan = match (&self.agent, fake) {
            (Some(a), true) => agent::Plan {
                mode: contract::MODE_FAKE,
                filter: (!stacked).then_some(a.filter.as_slice()),
                table: Some((a.table_path.as_str(), a.table_len)),
                ids,
            },
            _ => agent::Plan { mode: contract::MODE_PASS, filter: None, table: None, ids },
        };
        let failed = match agent::place(pid, tgid, &plan) {
            Ok(listener) => {
                self.say(format_args!(
                    "tracer: {pid}: agent in place ({}); let go",
                    if fake { "fakes" } else { "passes" }
                ));
                self.new_listeners.extend(listener);
                return Placed::Agent;
            }
            Err(agent::Failed::Ended(status)) => return Placed::Ended(status),
            Err(agent::Failed::Step(what, e)) if !stacked => {
                self.say(format_args!(
                    "tracer: {pid}: no agent ({what}: {}); it stays traced",
                    std::io::Error::from_raw_os_error(e)
                ));
                return Placed::Not;
            }
            Err(agent::Failed::Step(what, e) | agent::Failed::Stranded(what, e)) => (what, e),
        };
        // A filter of the agent's would trap its calls with nobody to answer: stop it, and
        // say so.
        eprintln!(
            "fakebox: cannot place the agent in process {pid} ({}: {}); it was stopped rather than run without the fake",
            failed.0,
            std::io::Error::from_raw_os_error(failed.1)
        );
        // SAFETY: killing our own tracee.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        Placed::Not
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
                eprintln!("fakebox: {}", handlers::REFUSED_32);
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

/// What `mechanism::decide` says of the program `pid` has just exec'd, and whether its
/// environment preloads our library. The exec has happened: whether it raised privileges
/// is the kernel's AT_SECURE (ld.so then ignored LD_PRELOAD), not the file's mode bits.
fn sniff(pid: i32, lib: &[u8]) -> (Mechanism, bool) {
    // The headers only, not the whole program. A program of mode 0111 cannot be read.
    let file = std::fs::File::open(format!("/proc/{pid}/exe")).ok();
    let mut head = [0u8; 4096];
    let n = file.as_ref().map(|f| elf::ReadAt::read_at(&mut elf::Fd(std::os::fd::AsRawFd::as_raw_fd(f)), 0, &mut head));
    let program = Program { head: n.map(|n| &head[..n]), privileged: secure(pid), scripts: 0 };
    let decision = match &file {
        Some(f) => mechanism::decide(program, &mut elf::Fd(std::os::fd::AsRawFd::as_raw_fd(f))),
        None => mechanism::decide(program, &mut &[][..]),
    };
    let has_lib = std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| {
        env.split(|&b| b == 0).any(|v| {
            v.strip_prefix(b"LD_PRELOAD=")
                .is_some_and(|list| fakebox_proto::env::preload_entries(list).any(|x| x == lib))
        })
    });
    (decision, has_lib)
}

/// Did the kernel run `pid`'s program in secure mode (AT_SECURE in its auxiliary vector)?
/// When that cannot be read, assume it did: the preload library is then not counted on.
fn secure(pid: i32) -> bool {
    const AT_SECURE: u64 = 23;
    let Ok(auxv) = std::fs::read(format!("/proc/{pid}/auxv")) else { return true };
    for pair in auxv.chunks_exact(16) {
        let key = u64::from_ne_bytes(pair[..8].try_into().unwrap_or_default());
        let value = u64::from_ne_bytes(pair[8..].try_into().unwrap_or_default());
        if key == AT_SECURE {
            return value != 0;
        }
    }
    true
}
