//! The tracer: fakes root for programs LD_PRELOAD cannot reach (static glibc, musl, Go,
//! busybox-static), over the same daemon operations as the preload library.
//!
//! - [`syscalls`]: the one table of intercepted system calls, grouped into families; it
//!   drives both the handlers and the seccomp filter.
//! - [`filter`]: the seccomp-bpf program built from that table.
//! - [`tracee`]: a stopped thread's registers, memory and paths.
//! - [`handlers`]: what each family does at its seccomp stop (one stop per call where the
//!   kernel allows; creations that must be recorded take a second, at syscall exit).
//! - [`agent`]: places the agent in each traced program at its exec, after which the
//!   tracer lets go of the process (see `fakebox_proto::agent`).
//! - [`supervisor`]: answers those agents' requests with the same handlers.
//! - [`engine`]: the event loop: attach, follow forks and threads, forward signals,
//!   report the exact exit status.
pub mod agent;
pub mod engine;
pub mod filter;
pub mod handlers;
pub mod supervisor;
pub mod syscalls;
pub mod tracee;

use fakebox_proto::{Fake, Op};

/// What the daemon answered, owned (the tracer may allocate; hooks may not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Attrs(Fake),
    Done,
    Errno(i32),
    Bytes(Vec<u8>),
}

/// The session's table, as the tracer reaches it (in the launcher's process).
pub trait Session: Sync {
    fn apply(&self, op: &Op<'_>) -> Answer;
    /// Do untouched files show their real owner (`--unknown-is-real`)?
    fn unknown_is_real(&self) -> bool;
    /// The shared table, to read without asking (None: ask with `apply`).
    fn table(&self) -> Option<fakebox_proto::shm::Table>;
    /// This process's fd of the table's memfd, which a traced program's agent maps
    /// (through /proc/PID/fd); None: no agent; traced programs stay traced.
    fn table_fd(&self) -> Option<i32>;

    /// Where any process of the session opens the table: `/proc/PID/fd/N` of
    /// [`Session::table_fd`] (for the agents, and for the preload library through
    /// `FAKEBOX_TABLE`).
    fn table_path(&self) -> Option<String> {
        self.table_fd().map(|fd| format!("/proc/{}/fd/{fd}", std::process::id()))
    }
}
