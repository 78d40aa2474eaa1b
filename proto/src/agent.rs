//! What the tracer and the agent it places in each traced program agree on.
//!
//! A stop in the tracer costs two context switches and, on a VM, the wake-up of an idle
//! CPU (about 15 µs here); a program that stats every file pays that per file. And while
//! a process is ptraced, every signal it receives is a stop too. So at each exec of a
//! traced program the tracer places a small freestanding agent (`tracer/agent/`) in it and then
//! lets go of the process (PTRACE_DETACH):
//!
//! - A second seccomp filter, stacked on the tracer's, traps every call the tracer's
//!   filter would stop on (SECCOMP_RET_TRAP outranks SECCOMP_RET_TRACE) into the agent's
//!   SIGSYS handler.
//! - The stat family is answered there, from the shared table the agent maps read-only:
//!   a signal (about 2 µs) instead of a stop.
//! - Everything else is one request to the tracer's supervisor, carried by a call the
//!   filter hands to it (SECCOMP_RET_USER_NOTIF on [`RPC_NR`]): the [`Rpc`] block says
//!   what the program called, and the supervisor runs the tracer's own handler on it and
//!   says what to do. The process's fake ids live in the agent, so a fork keeps them.
//! - An exec is announced first: the tracer seizes the process again, so that it can
//!   place a new agent in the new program.
//!
//! The agent's own calls carry a cookie in their unused sixth argument: [`COOKIE_PASS`]
//! (both filters let it run) or [`COOKIE_TRACE`] (on [`RPC_NR`]: to the supervisor).

/// The call number that carries a request to the supervisor; no kernel has it.
pub const RPC_NR: i64 = 1023;
/// In the sixth argument of a call the agent makes: run it as it is.
pub const COOKIE_PASS: u32 = 0x6662_7870; // "pxbf"
/// In the sixth argument of a call the agent makes: the tracer must answer it.
pub const COOKIE_TRACE: u32 = 0x6662_7874; // "txbf"

pub const MAGIC: u64 = 0x3130_5447_4142_4642; // "FBAGT01"

/// The agent fakes the stat family from the table.
pub const MODE_FAKE: u32 = 1;
/// The preload library fakes this program: the agent only makes the trapped calls as
/// they were (the stacked filter outlives the exec that made the process preloaded),
/// except that it still announces execs.
pub const MODE_PASS: u32 = 2;

/// Most supplementary groups the agent keeps.
pub const MAX_GROUPS: usize = 64;

/// A process's fake credentials (the kernel's four ids each, and the groups).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ids {
    /// real, effective, saved, filesystem
    pub uid: [u32; 4],
    pub gid: [u32; 4],
    pub ngroups: u32,
    pub groups: [u32; MAX_GROUPS],
}

impl Default for Ids {
    fn default() -> Ids {
        Ids { uid: [0; 4], gid: [0; 4], ngroups: 0, groups: [0; MAX_GROUPS] }
    }
}

/// [`Rpc::kind`]: a trapped call to decide.
pub const RPC_CALL: u32 = 1;
/// [`Rpc::kind`]: the call decided with `then` set has run; `value` is its result.
pub const RPC_EXITED: u32 = 2;
/// [`Rpc::kind`]: the process is about to exec (the tracer must hold it first).
pub const RPC_EXEC: u32 = 3;
/// [`Rpc::kind`]: the exec announced failed (the tracer lets go again).
pub const RPC_EXEC_FAILED: u32 = 4;

/// [`Rpc::data`]: the call came through another ABI (i386), which the tracer refuses.
pub const DATA_OTHER_ABI: u32 = 1;

/// The data (SECCOMP_RET_DATA, which the kernel hands on in the SIGSYS's `si_errno`) of
/// every trap of the agent's filter. A program may stack a filter of its own that traps
/// too (a sandboxed tool); the kernel then takes the data of the filter stacked last, so
/// a SIGSYS without this data is the program's, and goes to the program's own action.
pub const TRAP_DATA: u32 = 0xfb0c;

/// [`Rpc::action`]: the call returns `value`.
pub const ACT_RETURN: u32 = 1;
/// [`Rpc::action`]: the agent runs the call with `run_args`.
pub const ACT_RUN: u32 = 2;
/// [`Rpc::action`]: the process must die (a 32-bit call, which the tracer refuses).
pub const ACT_KILL: u32 = 3;

/// One request to the supervisor, on the agent's stack; its address is the first
/// argument of the [`RPC_NR`] call. The supervisor reads it, writes the answer fields
/// (and the ids, which the handler may change) back, and lets the call return 0.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Rpc {
    pub kind: u32,
    /// The program's pid (the supervisor sees the calling thread's id).
    pub tgid: i32,
    pub nr: i64,
    pub args: [u64; 6],
    /// The seccomp filter's data for the call (e.g. another ABI).
    pub data: u32,
    // The answer.
    pub action: u32,
    /// ACT_RETURN: the result. RPC_EXITED: the call's result.
    pub value: i64,
    pub run_args: [u64; 6],
    /// Report the result with RPC_EXITED after running the call.
    pub then: u32,
    /// With `then`: names the record the supervisor keeps for the call, which the
    /// RPC_EXITED report carries back. A signal handler may make requests of its own
    /// between the two (and those may leave records too), so the thread's id alone does
    /// not name it.
    pub token: u32,
    pub ids: Ids,
}

impl Rpc {
    pub fn new(kind: u32, tgid: i32, ids: Ids) -> Rpc {
        Rpc { kind, tgid, ids, ..Rpc::default() }
    }
}

/// The agent's entry point sets itself up.
pub const STEP_INIT: u64 = 1;
/// The agent's entry point closes its copy of the listener.
pub const STEP_CLOSE: u64 = 2;

/// Most instructions of a filter the agent installs.
pub const MAX_FILTER: usize = 256;

/// A range of the agent's image to protect once it is in place (offset from its start).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Protect {
    pub offset: u64,
    pub len: u64,
    /// PROT_* bits.
    pub prot: u64,
}

/// What the tracer writes for the agent's entry point (its address arrives in `rdi`,
/// and a step in `rsi`: [`STEP_INIT`], then [`STEP_CLOSE`] where a listener was made);
/// the agent writes `status` back and stops with an int3.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Params {
    pub magic: u64,
    pub mode: u32,
    /// Install `filter` (the first agent in this line of processes; filters outlive exec).
    pub install_filter: u32,
    /// `/proc/PID/fd/N` of the table's memfd, NUL-terminated; empty in MODE_PASS.
    pub table_path: [u8; 64],
    pub table_len: u64,
    pub protect: [Protect; 4],
    pub filter_len: u64,
    /// `struct sock_filter` instructions, each as 8 bytes.
    pub filter: [u64; MAX_FILTER],
    /// The fake credentials the program starts with.
    pub ids: Ids,
    /// Written by the agent: 0, or -errno of the step that failed.
    pub status: i64,
    /// Written by the agent: its fd of the new filter's notification listener (the
    /// tracer takes a copy, then has the agent close it), or -1.
    pub listener: i64,
}

impl Default for Params {
    fn default() -> Params {
        Params {
            magic: MAGIC,
            mode: 0,
            install_filter: 0,
            table_path: [0; 64],
            table_len: 0,
            protect: [Protect::default(); 4],
            filter_len: 0,
            filter: [0; MAX_FILTER],
            ids: Ids::default(),
            status: 0,
            listener: -1,
        }
    }
}
