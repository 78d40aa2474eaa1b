//! System calls, made directly. Every call the trapping filter watches carries a cookie
//! in its sixth argument, which no program passes there (the watched calls take at most
//! five).
use core::arch::{asm, global_asm};
use fakebox_proto::agent::COOKIE_PASS;

/// A raw system call: the result, or -errno.
#[inline(always)]
pub fn call(nr: i64, a: [u64; 6]) -> i64 {
    let r: i64;
    // SAFETY: a system call clobbers rcx and r11 only; callers pass what the call takes.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") nr => r,
            in("rdi") a[0], in("rsi") a[1], in("rdx") a[2], in("r10") a[3], in("r8") a[4], in("r9") a[5],
            lateout("rcx") _, lateout("r11") _,
            options(nostack),
        );
    }
    r
}

/// The call as the program made it, run by the kernel (past both filters).
pub fn pass(nr: i64, mut a: [u64; 6]) -> i64 {
    a[5] = u64::from(COOKIE_PASS);
    call(nr, a)
}

pub fn getpid() -> i32 {
    call(libc::SYS_getpid, [0; 6]) as i32
}

/// statx of (`dirfd`, `path`, `flags`), run as it is: the result, or None.
pub fn statx(dirfd: u64, path: u64, flags: u64, mask: u32) -> Option<libc::statx> {
    // SAFETY: plain data; all-zero is valid.
    let mut stx: libc::statx = unsafe { core::mem::zeroed() };
    (pass(libc::SYS_statx, [dirfd, path, flags, u64::from(mask), &raw mut stx as u64, 0]) == 0).then_some(stx)
}

/// Stops for the tracer (the end of the entry point); never resumed from here.
pub fn stop() -> ! {
    loop {
        // SAFETY: a breakpoint trap, which the tracer catches.
        unsafe { asm!("int3", options(nomem, nostack)) };
    }
}

/// A broken invariant: die at once (there is no one to tell).
pub fn crash() -> ! {
    // SAFETY: an invalid instruction: SIGILL.
    unsafe { asm!("ud2", options(noreturn, nomem, nostack)) }
}

global_asm!(
    ".globl fakebox_agent_restorer",
    ".hidden fakebox_agent_restorer",
    "fakebox_agent_restorer:",
    "mov eax, 15", // rt_sigreturn
    "syscall",
    "ud2",
);

/// The sa_restorer of the agent's handler: rt_sigreturn.
pub fn restorer() -> u64 {
    unsafe extern "C" {
        fn fakebox_agent_restorer();
    }
    fakebox_agent_restorer as *const () as u64
}
