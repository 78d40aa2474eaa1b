//! Places the agent (`tracer/agent/`, see `fakebox_proto::agent`) in a traced program, at
//! the stop its exec reports, before the program's first instruction:
//!
//! 1. an int3 at the entry point lets execve return to user mode and stop there;
//! 2. an injected mmap (a `syscall; int3` at the same place) makes room;
//! 3. the image, relocated to that address, and its [`Params`] are written in;
//! 4. the agent's entry point runs on the program's stack and ends on an int3; where it
//!    stacked its filter, the tracer takes a copy of the listener (pidfd_getfd) and runs
//!    the entry point once more to close the program's copy;
//! 5. the entry point's bytes and registers are put back.
//!
//! Three stops per exec (four for the first in a line of processes). A signal that
//! arrives meanwhile is held and raised again after.
use crate::tracee::{self, Regs, errno};
use fakebox_proto::agent::{self as contract, Params, Protect};
use std::os::fd::{FromRawFd, OwnedFd};

static IMAGE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/agent.bin"));
mod layout {
    include!(concat!(env!("OUT_DIR"), "/agent_layout.rs"));
}

const PAGE: u64 = 4096;

/// What the agent is to do in this program.
pub struct Plan<'a> {
    pub mode: u32,
    /// Stack the trapping filter (the first agent in this line of processes).
    pub filter: Option<&'a [u8]>,
    /// `/proc/PID/fd/N` of the table and its length (MODE_FAKE).
    pub table: Option<(&'a str, u64)>,
    /// The fake credentials the program starts with.
    pub ids: contract::Ids,
}

/// Why the agent is not in place.
#[derive(Debug)]
pub enum Failed {
    /// The process ended meanwhile: its wait status, for the engine.
    Ended(i32),
    /// A step failed (errno); the program runs on as it was.
    Step(&'static str, i32),
    /// A step failed after the agent's filter was stacked: the program cannot run on (its
    /// trapped calls would wait for a supervisor that never comes).
    Stranded(&'static str, i32),
}

fn ptrace(req: libc::c_uint, tid: i32, addr: u64, data: u64) -> i64 {
    // SAFETY: ptrace requests on a stopped tracee of ours.
    unsafe { libc::ptrace(req, tid, addr as usize, data as usize) as i64 }
}

/// Resumes `tid` and waits for its int3; other signals are held in `held`.
fn run_to_trap(tid: i32, regs: Option<&Regs>, held: &mut Vec<i32>) -> Result<Regs, Failed> {
    if let Some(r) = regs {
        tracee::set_regs(tid, r).map_err(|e| Failed::Step("set registers", e.raw_os_error().unwrap_or(0)))?;
    }
    if ptrace(libc::PTRACE_CONT, tid, 0, 0) < 0 {
        return Err(Failed::Step("resume", errno()));
    }
    loop {
        let mut status = 0;
        // Each step takes a few microseconds (the wait polls before it sleeps).
        let pid = crate::engine::wait(tid, &mut status);
        if pid < 0 {
            if errno() == libc::EINTR {
                continue;
            }
            return Err(Failed::Step("wait", errno()));
        }
        if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
            return Err(Failed::Ended(status));
        }
        let sig = libc::WSTOPSIG(status);
        if (status >> 16) == 0 && sig == libc::SIGTRAP {
            return tracee::get_regs(tid).map_err(|e| Failed::Step("get registers", e.raw_os_error().unwrap_or(0)));
        }
        if (status >> 16) == 0 && sig != (libc::SIGTRAP | 0x80) {
            held.push(sig);
        }
        if ptrace(libc::PTRACE_CONT, tid, 0, 0) < 0 {
            return Err(Failed::Step("resume", errno()));
        }
    }
}

/// Places the agent in `tid`, stopped at PTRACE_EVENT_EXEC; returns the listener of
/// the filter it stacked, if it stacked one. The tracee is left at a signal stop.
pub fn place(tid: i32, tgid: i32, plan: &Plan<'_>) -> Result<Option<OwnedFd>, Failed> {
    let at_exec = tracee::get_regs(tid).map_err(|e| Failed::Step("get registers", e.raw_os_error().unwrap_or(0)))?;
    let entry = at_exec.rip;
    // SAFETY: PEEKTEXT returns the word or -1 with errno set; errno is cleared first.
    let word = unsafe {
        *libc::__errno_location() = 0;
        libc::ptrace(libc::PTRACE_PEEKTEXT, tid, entry as usize, 0usize)
    };
    if word == -1 && errno() != 0 {
        return Err(Failed::Step("read the entry point", errno()));
    }
    let word = word as u64;
    // int3; syscall; int3
    let stub = (word & !0xffff_ffff) | 0xcc05_0fcc;
    if ptrace(libc::PTRACE_POKETEXT, tid, entry, stub) < 0 {
        return Err(Failed::Step("write the entry point", errno()));
    }
    let mut held = Vec::new();
    let r = inject(tid, entry, plan, &mut held);
    // Put the program back as the kernel made it, whatever happened (unless it is gone).
    if !matches!(r, Err(Failed::Ended(_))) {
        ptrace(libc::PTRACE_POKETEXT, tid, entry, word);
        let regs = Regs { rax: 0, orig_rax: u64::MAX, ..at_exec }; // execve returned 0
        let _ = tracee::set_regs(tid, &regs);
        for sig in held {
            // SAFETY: raising again a signal that was on its way to our tracee.
            unsafe { libc::syscall(libc::SYS_tgkill, tgid, tid, sig) };
        }
    }
    r
}

fn inject(tid: i32, entry: u64, plan: &Plan<'_>, held: &mut Vec<i32>) -> Result<Option<OwnedFd>, Failed> {
    // 1. Out of execve, onto the first int3.
    let user = run_to_trap(tid, None, held)?;
    // 2. mmap the image and a page of parameters.
    let size = IMAGE.len() as u64 + std::mem::size_of::<Params>().div_ceil(PAGE as usize) as u64 * PAGE;
    let mut r = user;
    r.rip = entry + 1;
    r.orig_rax = u64::MAX;
    r.rax = libc::SYS_mmap as u64;
    r.rdi = 0;
    r.rsi = size;
    r.rdx = (libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC) as u64;
    r.r10 = (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS) as u64;
    r.r8 = u64::MAX;
    r.r9 = 0;
    let after = run_to_trap(tid, Some(&r), held)?;
    let base = after.rax;
    if (base as i64) < 0 && (base as i64) > -4096 {
        return Err(Failed::Step("map room for the agent", -(base as i64) as i32));
    }
    // 3. The image, relocated, then the parameters.
    let mut image = IMAGE.to_vec();
    for &(offset, addend) in layout::RELOCS {
        image[offset as usize..offset as usize + 8].copy_from_slice(&(base + addend).to_le_bytes());
    }
    let params_at = base + IMAGE.len() as u64;
    let mut p = Params { mode: plan.mode, ids: plan.ids, ..Params::default() };
    for (slot, &(offset, len, prot)) in p.protect.iter_mut().zip(layout::PROTECT) {
        *slot = Protect { offset, len, prot };
    }
    if let Some((path, len)) = plan.table {
        let n = path.len().min(p.table_path.len() - 1);
        p.table_path[..n].copy_from_slice(&path.as_bytes()[..n]);
        p.table_len = len;
    }
    if let Some(f) = plan.filter {
        p.install_filter = 1;
        p.filter_len = (f.len() / 8).min(contract::MAX_FILTER) as u64;
        for (slot, insn) in p.filter.iter_mut().zip(f.chunks_exact(8)) {
            *slot = u64::from_le_bytes(insn.try_into().unwrap_or_default());
        }
    }
    let write = |at: u64, bytes: &[u8]| {
        tracee::write(tid, at, bytes).map_err(|e| Failed::Step("write the agent", e.raw_os_error().unwrap_or(0)))
    };
    write(base, &image)?;
    write(params_at, fakebox_proto::kernel::bytes_of(&p))?;
    // 4. Its entry point, on the program's stack (below what the kernel put there).
    let mut r = after;
    r.rip = base + layout::ENTRY;
    r.rdi = params_at;
    r.rsi = contract::STEP_INIT;
    r.rsp = ((user.rsp - 2 * PAGE) & !15) - 8;
    run_to_trap(tid, Some(&r), held)?;
    let read = |field: usize| -> Result<i64, Failed> {
        let mut v = [0u8; 8];
        tracee::read(tid, params_at + field as u64, &mut v)
            .map_err(|e| Failed::Step("read the agent's report", e.raw_os_error().unwrap_or(0)))?;
        Ok(i64::from_le_bytes(v))
    };
    let status = read(std::mem::offset_of!(Params, status))?;
    if status != 0 {
        return Err(Failed::Step("start the agent", (-status) as i32));
    }
    let fd = read(std::mem::offset_of!(Params, listener))?;
    if fd < 0 {
        return Ok(None);
    }
    let listener = take_fd(tid, fd as i32).map_err(|e| Failed::Stranded("take the listener", e));
    r.rsi = contract::STEP_CLOSE;
    run_to_trap(tid, Some(&r), held)?;
    listener.map(Some)
}

/// A copy of the tracee's `fd` (pidfd_getfd: allowed to whoever may ptrace it).
fn take_fd(tid: i32, fd: i32) -> Result<OwnedFd, i32> {
    // SAFETY: plain system calls; the fds returned are ours to own.
    unsafe {
        let pidfd = libc::syscall(libc::SYS_pidfd_open, tid, 0);
        if pidfd < 0 {
            return Err(errno());
        }
        let pidfd = OwnedFd::from_raw_fd(pidfd as i32);
        let got = libc::syscall(libc::SYS_pidfd_getfd, std::os::fd::AsRawFd::as_raw_fd(&pidfd), fd, 0);
        if got < 0 {
            return Err(errno());
        }
        Ok(OwnedFd::from_raw_fd(got as i32))
    }
}
