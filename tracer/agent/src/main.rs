//! The agent: lives inside a traced program, which the tracer has let go of, and
//! handles every call the tracer used to stop on (see `fakebox_proto::agent` for the whole
//! scheme).
//!
//! - [`agent_entry`]: run by the tracer at each exec, on the program's stack, before the
//!   program's first instruction: protects the image, maps the table, takes SIGSYS,
//!   stacks the trapping filter (with its listener), reports, and stops on an int3.
//! - [`on_sigsys`]: a call the filter trapped.
//!   - stat, lstat, fstat, newfstatat and statx run for real (their sixth argument carries
//!     the pass cookie) and get the session's view written over their result.
//!   - execve and execveat are announced to the tracer first, which then holds the
//!     process so as to place a new agent in the new program.
//!   - prctl(PR_SET_DUMPABLE) and prctl(PR_GET_DUMPABLE) are kept apart: the program sees
//!     the flag it set, the process stays dumpable (the supervisor reads its memory).
//!   - rt_sigaction(SIGSYS) is kept apart: the program sees the action it set, the agent
//!     keeps the signal; no handler's mask blocks SIGSYS. rt_sigprocmask never blocks
//!     SIGSYS (a trap while it is blocked kills the process) and takes effect through the
//!     signal frame's mask, which the return from the handler installs.
//!   - Everything else (and a stat the table cannot answer) is a request to the tracer's
//!     supervisor, which runs the tracer's handler for it and says what to do.
//!
//! Freestanding: no std, no libc calls, no allocation, nothing but the stack and a few
//! atomics; every system call is made here, with a cookie.
#![no_std]
#![no_main]

mod mem;
mod sys;

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use fakebox_proto::agent::{self as contract, COOKIE_PASS, COOKIE_TRACE, Ids, Params, Rpc};
use fakebox_proto::kernel;
use fakebox_proto::shm::Table;
use fakebox_proto::{Birth, Fake};

static TABLE_BASE: AtomicU64 = AtomicU64::new(0);
static TABLE_LEN: AtomicU64 = AtomicU64::new(0);
static MODE: AtomicU32 = AtomicU32::new(0);
/// The dumpable flag the program believes it set (prctl(PR_SET_DUMPABLE)); the process
/// itself stays dumpable, or the supervisor could not read its memory (without
/// CAP_SYS_PTRACE, the kernel lets no one read a non-dumpable process's memory).
static DUMPABLE: AtomicBool = AtomicBool::new(true);
/// The SIGSYS action the program believes it set (kernel `struct sigaction` layout:
/// handler, flags, restorer, mask).
static PROGRAM_SIGSYS: [AtomicU64; 4] = [const { AtomicU64::new(0) }; 4];
/// The process's fake credentials, as [`Ids`] laid out in words (a fork keeps them).
const ID_WORDS: usize = core::mem::size_of::<Ids>() / 4;
static IDS: [AtomicU32; ID_WORDS] = [const { AtomicU32::new(0) }; ID_WORDS];

const SIGSYS: u64 = 31;
const SIGSYS_BIT: u64 = 1 << (SIGSYS - 1);
const UNBLOCKABLE: u64 = (1 << (libc::SIGKILL - 1)) | (1 << (libc::SIGSTOP - 1));
const SYS_SECCOMP: i32 = 1;
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const SA_SIGINFO: u64 = 4;
const SA_ONSTACK: u64 = 0x0800_0000;
const SA_RESTORER: u64 = 0x0400_0000;
const SA_NODEFER: u64 = 0x4000_0000;
const SIG_DFL: u64 = 0;
const SIG_IGN: u64 = 1;

/// Offsets in the kernel's x86_64 `struct ucontext`: the general registers of
/// `uc_mcontext` (glibc's REG_* order), and `uc_sigmask`.
const UC_GREGS: usize = 40;
const UC_SIGMASK: usize = 296;
const REG_R8: usize = 0;
const REG_R9: usize = 1;
const REG_R10: usize = 2;
const REG_RDI: usize = 8;
const REG_RSI: usize = 9;
const REG_RDX: usize = 12;
const REG_RAX: usize = 13;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    sys::crash()
}

/// The tracer's way in: `params` is a [`Params`] it wrote. Ends on an int3, which the
/// tracer catches before it puts the program's own registers back.
///
/// # Safety
/// Called only by the tracer, with a valid `Params` and the agent's image in place.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn agent_entry(params: *mut Params, step: u64) -> ! {
    // SAFETY: the tracer passes a writable Params.
    let p = unsafe { &mut *params };
    p.status = match step {
        _ if p.magic != contract::MAGIC => -i64::from(libc::EINVAL),
        contract::STEP_INIT => init(p),
        contract::STEP_CLOSE => sys::call(libc::SYS_close, [p.listener as u64, 0, 0, 0, 0, 0]),
        _ => -i64::from(libc::EINVAL),
    };
    sys::stop()
}

fn init(p: &mut Params) -> i64 {
    let base = agent_base();
    for r in p.protect.iter().filter(|r| r.len != 0) {
        let e = sys::call(libc::SYS_mprotect, [base + r.offset, r.len, r.prot, 0, 0, 0]);
        if e < 0 {
            return e;
        }
    }
    MODE.store(p.mode, Ordering::Relaxed);
    DUMPABLE.store(true, Ordering::Relaxed); // as the kernel's exec sets it
    if p.mode == contract::MODE_FAKE {
        let fd = sys::call(
            libc::SYS_openat,
            [libc::AT_FDCWD as u64, p.table_path.as_ptr() as u64, (libc::O_RDONLY | libc::O_CLOEXEC) as u64, 0, 0, 0],
        );
        if fd < 0 {
            return fd;
        }
        let at =
            sys::call(libc::SYS_mmap, [0, p.table_len, libc::PROT_READ as u64, libc::MAP_SHARED as u64, fd as u64, 0]);
        sys::call(libc::SYS_close, [fd as u64, 0, 0, 0, 0, 0]);
        if at < 0 {
            return at;
        }
        // SAFETY: a read-only mapping of `table_len` bytes that is never unmapped.
        if unsafe { Table::open(at as *const u8, p.table_len as usize) }.is_none() {
            return -i64::from(libc::EPROTO);
        }
        TABLE_BASE.store(at as u64, Ordering::Relaxed);
        TABLE_LEN.store(p.table_len, Ordering::Relaxed);
    }
    for a in &PROGRAM_SIGSYS {
        a.store(0, Ordering::Relaxed);
    }
    set_ids(&p.ids);
    let act: [u64; 4] =
        [on_sigsys as *const () as u64, SA_SIGINFO | SA_ONSTACK | SA_RESTORER | SA_NODEFER, sys::restorer(), 0];
    let e = sys::pass(libc::SYS_rt_sigaction, [SIGSYS, act.as_ptr() as u64, 0, 8, 0, 0]);
    if e < 0 {
        return e;
    }
    if p.install_filter != 0 {
        let len = (p.filter_len as usize).min(contract::MAX_FILTER);
        let prog: [u64; 2] = [len as u64, p.filter.as_ptr() as u64]; // struct sock_fprog
        const SET_MODE_FILTER: u64 = 1;
        const NEW_LISTENER: u64 = 1 << 3;
        // Once the supervisor has received a request, only a fatal signal interrupts the
        // wait for its answer (Linux 5.19): the supervisor may have acted on it (an
        // unlink, a rename), and the request made again would fail. Older kernels refuse
        // the flag; there a signal handler's run costs that answer.
        const WAIT_KILLABLE_RECV: u64 = 1 << 5;
        let install = |flags| sys::call(libc::SYS_seccomp, [SET_MODE_FILTER, flags, prog.as_ptr() as u64, 0, 0, 0]);
        let mut fd = install(NEW_LISTENER | WAIT_KILLABLE_RECV);
        if fd == -i64::from(libc::EINVAL) {
            fd = install(NEW_LISTENER);
        }
        if fd < 0 {
            return fd;
        }
        p.listener = fd;
    }
    0
}

/// Where the image starts: the tracer maps it page-aligned, entry code in its first
/// pages (offsets in `Params::protect` are from here).
fn agent_base() -> u64 {
    unsafe extern "C" {
        static __ehdr_start: u8;
    }
    // Only the address is taken (the linker puts the symbol at the image start).
    &raw const __ehdr_start as u64
}

/// A trapped call. Runs on the thread's signal stack when it has one.
extern "C" fn on_sigsys(sig: i32, info: *mut u8, uc: *mut u8) {
    // SAFETY: the kernel passes a valid siginfo (SIGSYS layout: si_errno holds the
    // filter's data) and ucontext.
    let (data, code, nr, arch) = unsafe {
        (
            *(info.add(4) as *const i32),
            *(info.add(8) as *const i32),
            *(info.add(24) as *const i32),
            *(info.add(28) as *const u32),
        )
    };
    // A trap of a filter the program stacked itself (the kernel reports the data of the
    // filter stacked last) is the program's: running it here would trap again, forever.
    if code != SYS_SECCOMP || data as u32 != contract::TRAP_DATA {
        return not_ours(sig, info, uc);
    }
    let gregs = unsafe { uc.add(UC_GREGS) as *mut u64 };
    let reg = |i: usize| unsafe { *gregs.add(i) };
    let a = [reg(REG_RDI), reg(REG_RSI), reg(REG_RDX), reg(REG_R10), reg(REG_R8), reg(REG_R9)];
    let nr = i64::from(nr);
    let r = if arch != AUDIT_ARCH_X86_64 {
        ask(nr, a, contract::DATA_OTHER_ABI) // refused: the supervisor says so, and it dies
    } else {
        match nr {
            libc::SYS_rt_sigaction => sigaction(a),
            // SAFETY: the frame's mask, which the return from this handler installs.
            libc::SYS_rt_sigprocmask => sigprocmask(a, unsafe { &mut *(uc.add(UC_SIGMASK) as *mut u64) }),
            libc::SYS_execve | libc::SYS_execveat => exec(nr, a),
            libc::SYS_prctl => dumpable(a),
            n if MODE.load(Ordering::Relaxed) != contract::MODE_FAKE => sys::pass(n, a),
            libc::SYS_stat | libc::SYS_lstat | libc::SYS_fstat | libc::SYS_newfstatat => stat(nr, a),
            libc::SYS_statx => statx(a),
            libc::SYS_getdents64 | libc::SYS_getdents => dirents(nr, a),
            n => ask(n, a, 0),
        }
    };
    // SAFETY: as above; the return value lands in rax when the handler returns.
    unsafe { *gregs.add(REG_RAX) = r as u64 };
}

fn ids() -> Ids {
    let mut ids = Ids::default();
    // SAFETY: Ids is ID_WORDS plain u32 words.
    let words = unsafe { core::slice::from_raw_parts_mut(&raw mut ids as *mut u32, ID_WORDS) };
    for (w, a) in words.iter_mut().zip(&IDS) {
        *w = a.load(Ordering::Relaxed);
    }
    ids
}

fn set_ids(ids: &Ids) {
    // SAFETY: as in ids().
    let words = unsafe { core::slice::from_raw_parts(ids as *const Ids as *const u32, ID_WORDS) };
    for (w, a) in words.iter().zip(&IDS) {
        a.store(*w, Ordering::Relaxed);
    }
}

/// One request to the supervisor; false if there is none (the session is over). A signal
/// that interrupts the wait before the supervisor received the request (its handler has
/// run by the time the call returns) costs the request, whatever the handler's
/// SA_RESTART: it is made again (the filter's WAIT_KILLABLE_RECV keeps later signals
/// waiting for the answer; without it, the supervisor drops what it kept for a request it
/// could not answer).
fn rpc(req: &mut Rpc) -> bool {
    loop {
        let r = sys::call(contract::RPC_NR, [req as *mut Rpc as u64, 0, 0, 0, 0, u64::from(COOKIE_TRACE)]);
        if r != -i64::from(libc::EINTR) {
            return r == 0;
        }
    }
}

/// A call the tracer's handler decides: it returns a value, or runs as the handler
/// says (and reports its result when the handler wants to record what it made).
fn ask(nr: i64, a: [u64; 6], data: u32) -> i64 {
    let mut req = Rpc::new(contract::RPC_CALL, sys::getpid(), ids());
    req.nr = nr;
    req.args = a;
    req.data = data;
    if !rpc(&mut req) {
        return -i64::from(libc::ENOSYS);
    }
    set_ids(&req.ids);
    match req.action {
        contract::ACT_RETURN => req.value,
        contract::ACT_RUN => {
            let r = sys::pass(nr, req.run_args);
            if req.then != 0 {
                let mut done = Rpc::new(contract::RPC_EXITED, req.tgid, req.ids);
                done.nr = nr;
                done.value = r;
                done.token = req.token;
                rpc(&mut done);
            }
            r
        }
        contract::ACT_KILL => {
            sys::call(libc::SYS_kill, [sys::getpid() as u64, libc::SIGKILL as u64, 0, 0, 0, 0]);
            sys::crash()
        }
        _ => -i64::from(libc::ENOSYS),
    }
}

/// execve, execveat: the tracer holds the process first (to place an agent in the new
/// program, which the stacked filter needs), and lets go again if the exec fails.
fn exec(nr: i64, a: [u64; 6]) -> i64 {
    let mut req = Rpc::new(contract::RPC_EXEC, sys::getpid(), ids());
    req.nr = nr;
    req.args = a;
    if !rpc(&mut req) {
        return -i64::from(libc::ENOSYS);
    }
    if req.action == contract::ACT_RETURN {
        return req.value;
    }
    let r = sys::pass(nr, a);
    let mut failed = Rpc::new(contract::RPC_EXEC_FAILED, req.tgid, req.ids);
    failed.value = r;
    rpc(&mut failed);
    r
}

fn table() -> Option<Table> {
    let base = TABLE_BASE.load(Ordering::Relaxed);
    // SAFETY: our read-only mapping, never unmapped (checked by init).
    unsafe { Table::open(base as *const u8, TABLE_LEN.load(Ordering::Relaxed) as usize) }
}

/// stat, lstat, fstat, newfstatat: the kernel fills the program's buffer (and says
/// EFAULT for a bad one); the view is written over it. A record with a birth time is
/// checked against the file's, which a `struct stat` lacks: a statx then fetches it.
fn stat(nr: i64, a: [u64; 6]) -> i64 {
    let r = sys::pass(nr, a);
    if r != 0 {
        return r;
    }
    let (buf, dirfd, path, flags) = match nr {
        libc::SYS_stat => (a[1], libc::AT_FDCWD as u64, a[0], 0),
        libc::SYS_lstat => (a[1], libc::AT_FDCWD as u64, a[0], libc::AT_SYMLINK_NOFOLLOW as u64),
        libc::SYS_fstat => (a[1], a[0], c"".as_ptr() as u64, libc::AT_EMPTY_PATH as u64),
        _ => (a[2], a[0], a[1], a[3]),
    };
    // SAFETY: the kernel just filled this buffer, so it is a writable struct stat.
    let st = unsafe { &mut *(buf as *mut libc::stat) };
    let real = kernel::real_of_stat(st);
    let birth = || -> Option<Birth> {
        let stx = sys::statx(dirfd, path, flags, libc::STATX_BTIME)?;
        (stx.stx_mask & libc::STATX_BTIME != 0)
            .then_some(Birth { sec: stx.stx_btime.tv_sec, nsec: stx.stx_btime.tv_nsec })
    };
    match table().and_then(|t| t.view_lazy(&real, birth)) {
        Some(f) => {
            kernel::patch_stat(st, &f);
            0
        }
        None => ask(nr, a, 0),
    }
}

/// statx: asked for the birth time too (which tells a reused inode number), then
/// patched in place.
fn statx(a: [u64; 6]) -> i64 {
    let mut b = a;
    b[3] |= u64::from(kernel::STATX_MASK);
    let r = sys::pass(libc::SYS_statx, b);
    if r != 0 {
        return r;
    }
    // SAFETY: the kernel just filled this buffer.
    let stx = unsafe { &mut *(a[4] as *mut libc::statx) };
    let view: Option<Fake> = table().and_then(|t| t.view(&kernel::real_of(stx)));
    match view {
        Some(f) => {
            kernel::patch_statx(stx, &f);
            0
        }
        None => ask(libc::SYS_statx, a, 0),
    }
}

/// getdents64, getdents: a recorded device node is a plain file on disk, and its entry
/// gets its type back (find trusts d_type); nothing to do while none is recorded.
fn dirents(nr: i64, a: [u64; 6]) -> i64 {
    let r = sys::pass(nr, a);
    let Some(t) = table().filter(|t| r > 0 && t.has_devices()) else { return r };
    if let Some(dir) = sys::statx(a[0], c"".as_ptr() as u64, libc::AT_EMPTY_PATH as u64, libc::STATX_BASIC_STATS) {
        // SAFETY: the kernel just filled these `r` bytes of the program's buffer.
        let bytes = unsafe { core::slice::from_raw_parts_mut(a[1] as *mut u8, r as usize) };
        let dev = kernel::real_of(&dir).key.dev;
        kernel::fix_dirent_types(bytes, nr == libc::SYS_getdents, dev, |k| t.lookup(k).map(|r| r.map(|rec| rec.mode)));
    }
    r
}

/// rt_sigaction: SIGSYS stays the agent's, and the program sees what it set; other
/// handlers run with SIGSYS unblocked.
fn sigaction(a: [u64; 6]) -> i64 {
    let (sig, act, old, size) = (a[0], a[1], a[2], a[3]);
    if size != 8 {
        return sys::pass(libc::SYS_rt_sigaction, a); // the kernel's EINVAL
    }
    if sig == SIGSYS {
        let mut copy = [0u64; 4];
        if act != 0 && !mem::read_user(act, &mut copy) {
            return -i64::from(libc::EFAULT);
        }
        if old != 0 {
            let now: [u64; 4] = core::array::from_fn(|i| PROGRAM_SIGSYS[i].load(Ordering::Relaxed));
            if !mem::write_user(old, &now) {
                return -i64::from(libc::EFAULT);
            }
        }
        if act != 0 {
            for (slot, v) in PROGRAM_SIGSYS.iter().zip(copy) {
                slot.store(v, Ordering::Relaxed);
            }
        }
        return 0;
    }
    if act == 0 {
        return sys::pass(libc::SYS_rt_sigaction, a);
    }
    let mut copy = [0u64; 4];
    if !mem::read_user(act, &mut copy) {
        return -i64::from(libc::EFAULT);
    }
    copy[3] &= !SIGSYS_BIT;
    let mut b = a;
    b[1] = copy.as_ptr() as u64;
    sys::pass(libc::SYS_rt_sigaction, b)
}

/// prctl(PR_GET_DUMPABLE), prctl(PR_SET_DUMPABLE) (the only prctls the filter traps):
/// the flag as the program set it, kept here.
fn dumpable(a: [u64; 6]) -> i64 {
    let (r, now) = kernel::dumpable_prctl(a[0], a[1], DUMPABLE.load(Ordering::Relaxed));
    DUMPABLE.store(now, Ordering::Relaxed);
    r
}

/// rt_sigprocmask, applied to the mask the return from this handler restores.
fn sigprocmask(a: [u64; 6], frame_mask: &mut u64) -> i64 {
    let (how, set, old, size) = (a[0], a[1], a[2], a[3]);
    if size != 8 {
        return -i64::from(libc::EINVAL);
    }
    let before = *frame_mask;
    let mut new = before;
    if set != 0 {
        let mut s = [0u64; 1];
        if !mem::read_user(set, &mut s) {
            return -i64::from(libc::EFAULT);
        }
        new = match how as i32 {
            libc::SIG_BLOCK => before | s[0],
            libc::SIG_UNBLOCK => before & !s[0],
            libc::SIG_SETMASK => s[0],
            _ => return -i64::from(libc::EINVAL),
        };
    }
    if old != 0 && !mem::write_user(old, &[before]) {
        return -i64::from(libc::EFAULT);
    }
    *frame_mask = new & !(UNBLOCKABLE | SIGSYS_BIT);
    0
}

/// A SIGSYS that no filter of ours raised (kill -SYS, a bad call, a trap of the program's
/// own filter): what the program asked for happens.
fn not_ours(sig: i32, info: *mut u8, uc: *mut u8) {
    let handler = PROGRAM_SIGSYS[0].load(Ordering::Relaxed);
    let flags = PROGRAM_SIGSYS[1].load(Ordering::Relaxed);
    match handler {
        SIG_IGN => {}
        SIG_DFL => {
            // Die of it, as the program would have.
            let dfl = [SIG_DFL, 0, 0, 0];
            sys::pass(libc::SYS_rt_sigaction, [SIGSYS, dfl.as_ptr() as u64, 0, 8, 0, 0]);
            let pid = sys::getpid() as u64;
            let tid = sys::call(libc::SYS_gettid, [0; 6]) as u64;
            sys::call(libc::SYS_tgkill, [pid, tid, SIGSYS, 0, 0, 0]);
        }
        h if flags & SA_SIGINFO != 0 => {
            // SAFETY: the program's own handler, called as the kernel would have.
            let f: extern "C" fn(i32, *mut u8, *mut u8) = unsafe { core::mem::transmute(h as usize) };
            f(sig, info, uc);
        }
        h => {
            // SAFETY: as above.
            let f: extern "C" fn(i32) = unsafe { core::mem::transmute(h as usize) };
            f(sig);
        }
    }
}

const _: () = assert!(COOKIE_PASS != COOKIE_TRACE);
