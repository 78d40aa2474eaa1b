//! What fakebox's caller gave it, handed on unchanged to the command: the signal state and
//! the soft limit on open files.
//!
//! A command must start with the blocked mask and the set of ignored signals its caller
//! gave fakebox, as it would had the caller started it directly. Three things in this
//! binary change that state before the command's exec, and this module undoes all three:
//!
//! - std's runtime ignores SIGPIPE in `main`'s set-up, before any code of ours runs (so a
//!   Go or busybox `yes | head -1` traced through `fakebox __attach` never got SIGPIPE);
//! - std's `Command` starts a child with an empty mask and SIGPIPE at its default, whatever
//!   the caller had;
//! - glibc's `posix_spawn`, which `Command` uses when it can, ignores glibc's two internal
//!   signals (32 and 33) in every child it starts.
//!
//! So the state is read by a constructor in `.init_array`, which the loader runs before
//! std's runtime set-up, and written back with raw system calls right before the exec.
//!
//! The daemon raises its own soft limit on open files to the hard limit (one descriptor
//! per client: `raise_open_files`); the command gets the caller's soft limit back, since
//! programs size tables by it and some close every descriptor up to it.

use std::sync::atomic::{AtomicU64, Ordering};

/// Signals the caller ignores, bit `n - 1` for signal `n`.
static IGNORED: AtomicU64 = AtomicU64::new(0);
/// The caller's blocked mask, in the kernel's layout.
static BLOCKED: AtomicU64 = AtomicU64::new(0);

/// The kernel's `struct sigaction` on x86_64 (what `rt_sigaction` takes, unlike libc's).
#[repr(C)]
#[derive(Default)]
struct KernelSigaction {
    handler: usize,
    flags: u64,
    restorer: usize,
    mask: u64,
}

/// The caller's soft limit on open files (`u64::MAX`: not read).
static OPEN_FILES: AtomicU64 = AtomicU64::new(u64::MAX);

/// The size of the kernel's signal set: 64 signals.
const SIGSET_SIZE: usize = 8;

/// Every signal number whose disposition can be read and set (not SIGKILL, not SIGSTOP).
fn settable() -> impl Iterator<Item = i32> {
    (1..=64).filter(|&s| s != libc::SIGKILL && s != libc::SIGSTOP)
}

extern "C" fn capture() {
    let mut ignored = 0u64;
    for sig in settable() {
        let mut old = KernelSigaction::default();
        // SAFETY: reads this process's disposition of `sig` into a local of the kernel's
        // layout; the raw call, because glibc's sigaction refuses signals 32 and 33.
        let r = unsafe {
            libc::syscall(libc::SYS_rt_sigaction, sig, std::ptr::null::<KernelSigaction>(), &mut old, SIGSET_SIZE)
        };
        if r == 0 && old.handler == libc::SIG_IGN {
            ignored |= 1 << (sig - 1);
        }
    }
    let mut mask = 0u64;
    // SAFETY: reads the blocked mask into a local of the kernel's size.
    unsafe {
        libc::syscall(libc::SYS_rt_sigprocmask, libc::SIG_BLOCK, std::ptr::null::<u64>(), &mut mask, SIGSET_SIZE)
    };
    IGNORED.store(ignored, Ordering::Relaxed);
    BLOCKED.store(mask, Ordering::Relaxed);
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit into a local.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
        OPEN_FILES.store(lim.rlim_cur, Ordering::Relaxed);
    }
}

/// Raises this process's soft limit on open files to its hard limit (the daemon holds a
/// descriptor per client); returns the limit now in force.
pub fn raise_open_files() -> u64 {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit with a local.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 1024;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit { rlim_cur: lim.rlim_max, rlim_max: lim.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                return lim.rlim_max;
            }
        }
    }
    lim.rlim_cur
}

/// Runs `capture` when the loader starts the binary, before std's runtime set-up.
#[used]
#[unsafe(link_section = ".init_array")]
static CAPTURE: extern "C" fn() = capture;

/// Puts back what the caller gave: each signal ignored or at its default, as the caller
/// had it, the caller's mask and its soft limit on open files. For a process about to exec
/// only (any handler of this process is dropped). It makes system calls and nothing else
/// (no allocation, no lock), so it is safe between fork and exec. It cannot fail (each call
/// is given valid arguments); the result is what `Command::pre_exec` takes.
pub fn restore() -> std::io::Result<()> {
    let ignored = IGNORED.load(Ordering::Relaxed);
    for sig in settable() {
        let handler = if ignored & (1 << (sig - 1)) != 0 { libc::SIG_IGN } else { libc::SIG_DFL };
        let act = KernelSigaction { handler, ..KernelSigaction::default() };
        // SAFETY: sets a disposition to SIG_IGN or SIG_DFL, which needs no restorer; the
        // struct is of the kernel's layout and lives across the call.
        unsafe {
            libc::syscall(libc::SYS_rt_sigaction, sig, &act, std::ptr::null_mut::<KernelSigaction>(), SIGSET_SIZE)
        };
    }
    let open_files = OPEN_FILES.load(Ordering::Relaxed);
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit with a local: the caller's soft limit, under the
    // hard limit it came with.
    unsafe {
        if open_files != u64::MAX && libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur != open_files {
            lim.rlim_cur = open_files.min(lim.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
    let mask = BLOCKED.load(Ordering::Relaxed);
    // SAFETY: sets the blocked mask from a local of the kernel's size.
    unsafe {
        libc::syscall(libc::SYS_rt_sigprocmask, libc::SIG_SETMASK, &mask, std::ptr::null_mut::<u64>(), SIGSET_SIZE)
    };
    Ok(())
}

/// Is `sig` ignored by the caller?
pub fn caller_ignores(sig: i32) -> bool {
    (1..=64).contains(&sig) && IGNORED.load(Ordering::Relaxed) & (1 << (sig - 1)) != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_caller_state_is_read_before_std_ignores_sigpipe() {
        // The test harness runs std's set-up too, so SIGPIPE is ignored by now; cargo
        // starts test binaries with SIGPIPE at its default, and that is what was captured.
        let mut now = KernelSigaction::default();
        // SAFETY: reads the current disposition into a local.
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                libc::SIGPIPE,
                std::ptr::null::<KernelSigaction>(),
                &mut now,
                SIGSET_SIZE,
            )
        };
        assert_eq!(now.handler, libc::SIG_IGN, "std ignores SIGPIPE in its runtime set-up");
        assert!(!caller_ignores(libc::SIGPIPE), "the capture ran after std's set-up");
    }
}
