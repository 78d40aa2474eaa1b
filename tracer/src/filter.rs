//! The seccomp-bpf programs, built from [`crate::syscalls::TABLE`].
//!
//! - [`program`], the tracer's: the listed calls (and every number above the table, and
//!   any other ABI) stop in the tracer; everything else runs at full speed.
//! - [`agent_program`], stacked on it by the agent (see `fakebox_proto::agent`): the same
//!   calls, and execs and the signal calls, trap into the agent; its requests go to the
//!   supervisor.
//!
//! In both, a call the agent makes itself (the pass cookie in its sixth argument) runs.
use crate::syscalls::{AGENT_ALSO, MAX_KNOWN, TABLE, When};
use fakebox_proto::agent::{COOKIE_PASS, COOKIE_TRACE, RPC_NR, TRAP_DATA};

pub const SECCOMP_RET_TRACE: u32 = 0x7ff0_0000;
/// The data the filter attaches to a stop (PTRACE_GETEVENTMSG) when the call came
/// through another ABI: i386 (`int 0x80`, even from a 64-bit program) or x32.
pub const DATA_OTHER_ABI: u32 = fakebox_proto::agent::DATA_OTHER_ABI;
pub const DATA_X32: u32 = 2;
pub const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
pub const SECCOMP_RET_TRAP: u32 = 0x0003_0000;
/// The agent's traps, told apart from those of a filter the program stacks itself.
pub const AGENT_TRAP: u32 = SECCOMP_RET_TRAP | TRAP_DATA;
pub const SECCOMP_RET_USER_NOTIF: u32 = 0x7fc0_0000;
pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JEQ_K: u16 = 0x15;
const BPF_JGE_K: u16 = 0x35;
const BPF_JGT_K: u16 = 0x25;
const BPF_JSET_K: u16 = 0x45;
const BPF_RET_K: u16 = 0x06;

// Offsets in struct seccomp_data.
const NR: u32 = 0;
const ARCH: u32 = 4;
const fn arg_low(i: u8) -> u32 {
    16 + 8 * i as u32
}

fn insn(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// The watched calls, with the system call number loaded: the table's, those in `also`,
/// and every number above the table jump to `tail` (which follows); the rest run. The
/// rest never look at an argument, so the kernel's seccomp cache lets them through
/// without running the program at all.
fn watch(p: &mut Vec<libc::sock_filter>, also: &[libc::c_long], tail: &[libc::sock_filter]) {
    let mut to_tail: Vec<usize> = Vec::new(); // instructions whose jt goes to the tail
    for s in TABLE {
        match s.when {
            When::Always => {
                to_tail.push(p.len());
                p.push(insn(BPF_JEQ_K, 0, 0, s.nr as u32));
            }
            When::ArgHas { arg, bits } => {
                p.push(insn(BPF_JEQ_K, 0, 3, s.nr as u32));
                p.push(insn(BPF_LD_W_ABS, 0, 0, arg_low(arg)));
                to_tail.push(p.len());
                p.push(insn(BPF_JSET_K, 0, 0, bits));
                p.push(insn(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW));
            }
            When::ArgIs { arg, values } => {
                p.push(insn(BPF_JEQ_K, 0, 2 + values.len() as u8, s.nr as u32));
                p.push(insn(BPF_LD_W_ABS, 0, 0, arg_low(arg)));
                for v in values {
                    to_tail.push(p.len());
                    p.push(insn(BPF_JEQ_K, 0, 0, v));
                }
                p.push(insn(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW));
            }
        }
    }
    for &nr in also {
        to_tail.push(p.len());
        p.push(insn(BPF_JEQ_K, 0, 0, nr as u32));
    }
    to_tail.push(p.len());
    p.push(insn(BPF_JGT_K, 0, 0, MAX_KNOWN as u32));
    p.push(insn(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW));
    let tail_at = p.len();
    for i in to_tail {
        let off = tail_at - i - 1;
        assert!(off <= 255, "the filter's watch list is too long for a BPF jump");
        p[i].jt = off as u8;
    }
    p.extend_from_slice(tail);
}

/// The tracer's program, instruction by instruction.
pub fn program() -> Vec<libc::sock_filter> {
    let mut p = vec![
        // Another ABI (i386, x32): the tracer refuses it rather than let it run unfaked.
        insn(BPF_LD_W_ABS, 0, 0, ARCH),
        insn(BPF_JEQ_K, 1, 0, AUDIT_ARCH_X86_64),
        insn(BPF_RET_K, 0, 0, SECCOMP_RET_TRACE | DATA_OTHER_ABI),
        insn(BPF_LD_W_ABS, 0, 0, NR),
        insn(BPF_JGE_K, 0, 1, X32_SYSCALL_BIT),
        insn(BPF_RET_K, 0, 0, SECCOMP_RET_TRACE | DATA_X32),
    ];
    // A watched call stops, unless the agent makes it (the pass cookie).
    let tail = [
        insn(BPF_LD_W_ABS, 0, 0, arg_low(5)),
        insn(BPF_JEQ_K, 0, 1, COOKIE_PASS),
        insn(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW),
        insn(BPF_RET_K, 0, 0, SECCOMP_RET_TRACE),
    ];
    watch(&mut p, &[], &tail);
    p
}

/// The agent's program: what the tracer's traces, plus execs and the signal calls, traps
/// into the agent (SECCOMP_RET_TRAP outranks SECCOMP_RET_TRACE), as does any other ABI;
/// a request of the agent goes to the supervisor (SECCOMP_RET_USER_NOTIF); the agent's
/// own calls run; x32 calls are left to the tracer's program (ENOSYS). Every trap carries
/// [`TRAP_DATA`], which tells the agent's from the program's own.
pub fn agent_program() -> Vec<libc::sock_filter> {
    let mut p = vec![
        insn(BPF_LD_W_ABS, 0, 0, ARCH),
        insn(BPF_JEQ_K, 1, 0, AUDIT_ARCH_X86_64),
        insn(BPF_RET_K, 0, 0, AGENT_TRAP),
        insn(BPF_LD_W_ABS, 0, 0, NR),
        insn(BPF_JGE_K, 0, 1, X32_SYSCALL_BIT),
        insn(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW),
    ];
    let tail = [
        insn(BPF_LD_W_ABS, 0, 0, arg_low(5)),
        insn(BPF_JEQ_K, 0, 1, COOKIE_PASS),
        insn(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW),
        insn(BPF_JEQ_K, 0, 3, COOKIE_TRACE),
        insn(BPF_LD_W_ABS, 0, 0, NR),
        insn(BPF_JEQ_K, 0, 1, RPC_NR as u32),
        insn(BPF_RET_K, 0, 0, SECCOMP_RET_USER_NOTIF),
        insn(BPF_RET_K, 0, 0, AGENT_TRAP),
    ];
    watch(&mut p, AGENT_ALSO, &tail);
    p
}

/// A program as bytes (what travels to the process that installs it).
pub fn bytes(p: &[libc::sock_filter]) -> Vec<u8> {
    p.iter()
        .flat_map(|i| {
            let mut b = [0u8; 8];
            b[..2].copy_from_slice(&i.code.to_ne_bytes());
            b[2] = i.jt;
            b[3] = i.jf;
            b[4..].copy_from_slice(&i.k.to_ne_bytes());
            b
        })
        .collect()
}

/// The tracer's program as bytes.
pub fn program_bytes() -> Vec<u8> {
    bytes(&program())
}

/// Installs a program received as bytes on the calling thread: no_new_privs (which lets
/// an unprivileged process install a filter), then the filter. It can never be removed.
pub fn install(bytes: &[u8]) -> Result<(), std::io::Error> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(8) || bytes.len() / 8 > 4096 {
        return Err(std::io::Error::from_raw_os_error(libc::EINVAL));
    }
    let insns: Vec<libc::sock_filter> = bytes
        .chunks_exact(8)
        .map(|b| insn(u16::from_ne_bytes([b[0], b[1]]), b[2], b[3], u32::from_ne_bytes([b[4], b[5], b[6], b[7]])))
        .collect();
    let prog = libc::sock_fprog { len: insns.len() as u16, filter: insns.as_ptr() as *mut libc::sock_filter };
    // SAFETY: prctl and seccomp with a valid program that outlives the calls.
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, 0, &prog as *const libc::sock_fprog) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny interpreter for the instructions the program uses.
    fn run(p: &[libc::sock_filter], arch: u32, nr: u32, args: [u32; 6]) -> u32 {
        run_seeing(p, arch, nr, args).0
    }

    /// The action, and whether the program read an argument on the way (then the kernel
    /// cannot cache its answer for that call number).
    fn run_seeing(p: &[libc::sock_filter], arch: u32, nr: u32, args: [u32; 6]) -> (u32, bool) {
        let mut read_args = false;
        let mut pc = 0usize;
        let mut a = 0u32;
        loop {
            let i = &p[pc];
            let jump = |cond: bool| if cond { i.jt as usize } else { i.jf as usize };
            pc += 1;
            match i.code {
                BPF_LD_W_ABS => {
                    a = match i.k {
                        NR => nr,
                        ARCH => arch,
                        k => {
                            read_args = true;
                            args[((k - 16) / 8) as usize]
                        }
                    }
                }
                BPF_JEQ_K => pc += jump(a == i.k),
                BPF_JGE_K => pc += jump(a >= i.k),
                BPF_JGT_K => pc += jump(a > i.k),
                BPF_JSET_K => pc += jump(a & i.k != 0),
                BPF_RET_K => return (i.k, read_args),
                c => panic!("unexpected code {c:#x}"),
            }
        }
    }

    #[test]
    fn traces_what_the_table_lists_and_nothing_else() {
        let p = program();
        assert!(p.len() < 4096);
        let x86 = AUDIT_ARCH_X86_64;
        for s in TABLE {
            let mut args = [0u32; 6];
            match s.when {
                When::ArgHas { arg, bits } => {
                    assert_eq!(run(&p, x86, s.nr as u32, args), SECCOMP_RET_ALLOW, "{}", s.name);
                    args[arg as usize] = bits;
                }
                When::ArgIs { arg, values } => {
                    args[arg as usize] = values[0].wrapping_add(1000);
                    assert_eq!(run(&p, x86, s.nr as u32, args), SECCOMP_RET_ALLOW, "{}", s.name);
                    for v in values {
                        args[arg as usize] = v;
                        assert_eq!(run(&p, x86, s.nr as u32, args), SECCOMP_RET_TRACE, "{}", s.name);
                    }
                }
                When::Always => {}
            }
            assert_eq!(run(&p, x86, s.nr as u32, args), SECCOMP_RET_TRACE, "{}", s.name);
            args[5] = COOKIE_PASS;
            assert_eq!(run(&p, x86, s.nr as u32, args), SECCOMP_RET_ALLOW, "{}", s.name);
        }
        for nr in [libc::SYS_read, libc::SYS_write, libc::SYS_mmap, libc::SYS_getpid, libc::SYS_execve] {
            assert_eq!(run(&p, x86, nr as u32, [0; 6]), SECCOMP_RET_ALLOW);
        }
        // open without O_CREAT runs free; with it, it stops.
        assert_eq!(run(&p, x86, libc::SYS_openat as u32, [0, 0, libc::O_RDONLY as u32, 0, 0, 0]), SECCOMP_RET_ALLOW);
        assert_eq!(run(&p, x86, libc::SYS_openat as u32, [0, 0, libc::O_CREAT as u32, 0, 0, 0]), SECCOMP_RET_TRACE);
        // Newer than the table, another ABI, x32: the tracer decides.
        assert_eq!(run(&p, x86, MAX_KNOWN as u32 + 1, [0; 6]), SECCOMP_RET_TRACE);
        assert_eq!(run(&p, 0x4000_0003, 4, [0; 6]), SECCOMP_RET_TRACE | DATA_OTHER_ABI);
        assert_eq!(run(&p, x86, X32_SYSCALL_BIT | 1, [0; 6]), SECCOMP_RET_TRACE | DATA_X32);
    }

    #[test]
    fn the_agent_program_traps_what_the_tracer_would_stop_on() {
        let (tracer, agent) = (program(), agent_program());
        let x86 = AUDIT_ARCH_X86_64;
        for nr in (0..=MAX_KNOWN as u32 + 3).chain([RPC_NR as u32]) {
            for args in [[0u32; 6], [0, libc::O_CREAT as u32, libc::O_CREAT as u32, 0, 0, 0]] {
                let t = run(&tracer, x86, nr, args);
                let a = run(&agent, x86, nr, args);
                let also = AGENT_ALSO.contains(&i64::from(nr));
                assert_eq!(a == AGENT_TRAP, t == SECCOMP_RET_TRACE || also, "nr {nr}");
                let mut passed = args;
                passed[5] = COOKIE_PASS;
                assert_eq!(run(&agent, x86, nr, passed), SECCOMP_RET_ALLOW, "nr {nr}");
                assert_eq!(run(&tracer, x86, nr, passed), SECCOMP_RET_ALLOW, "nr {nr}");
            }
        }
        let rpc = [0, 0, 0, 0, 0, COOKIE_TRACE];
        assert_eq!(run(&agent, x86, RPC_NR as u32, rpc), SECCOMP_RET_USER_NOTIF);
        assert_eq!(run(&agent, x86, libc::SYS_chown as u32, rpc), AGENT_TRAP);
        assert_eq!(run(&agent, 0x4000_0003, 4, [0; 6]), AGENT_TRAP);
        assert_eq!(run(&agent, x86, X32_SYSCALL_BIT | 4, [0; 6]), SECCOMP_RET_ALLOW);
        // The dumpable flag is kept apart by both; other prctls run.
        let prctl = libc::SYS_prctl as u32;
        for (option, kept) in [
            (libc::PR_SET_DUMPABLE, true),
            (libc::PR_GET_DUMPABLE, true),
            (libc::PR_SET_NAME, false),
            (libc::PR_SET_NO_NEW_PRIVS, false),
        ] {
            let args = [option as u32, 0, 0, 0, 0, 0];
            let (t, a) = if kept { (SECCOMP_RET_TRACE, AGENT_TRAP) } else { (SECCOMP_RET_ALLOW, SECCOMP_RET_ALLOW) };
            assert_eq!(run(&tracer, x86, prctl, args), t, "prctl {option}");
            assert_eq!(run(&agent, x86, prctl, args), a, "prctl {option}");
        }
        assert!(agent.len() <= fakebox_proto::agent::MAX_FILTER);
    }

    #[test]
    fn calls_nobody_watches_never_run_the_programs() {
        // Their answer depends on the call number alone, so the kernel caches it.
        for p in [program(), agent_program()] {
            for nr in [libc::SYS_read, libc::SYS_close, libc::SYS_futex, libc::SYS_mmap, libc::SYS_rt_sigreturn] {
                assert_eq!(run_seeing(&p, AUDIT_ARCH_X86_64, nr as u32, [0; 6]), (SECCOMP_RET_ALLOW, false));
            }
        }
    }

    #[test]
    fn bytes_roundtrip() {
        let b = program_bytes();
        assert_eq!(b.len(), program().len() * 8);
    }
}
