//! Environment variables that carry a session from one process to the next.
//!
//! The preload library puts every one of them back at each exec, so a program that clears
//! its environment (`env -i`) still runs inside the session.

/// Path of the daemon's unix socket.
pub const SOCKET: &str = "FAKEBOX_SOCKET";
/// Absolute path of the preload library (also present in `LD_PRELOAD`).
pub const LIB: &str = "FAKEBOX_LIB";
/// The process's fake identity: `ruid,euid,suid,fsuid:rgid,egid,sgid,fsgid:g1,g2,...`.
pub const IDS: &str = "FAKEBOX_IDS";
/// `debug` or `trace` makes the library and the daemon say what they do.
pub const LOG: &str = "FAKEBOX_LOG";
/// Where logs go (default: stderr).
pub const LOG_FILE: &str = "FAKEBOX_LOG_FILE";
/// Set only for the session's first process: a file descriptor the preload library writes
/// one byte to when it loads, so the launcher knows the fake really took hold.
pub const HELLO_FD: &str = "FAKEBOX_HELLO_FD";

/// The launcher's pid: the tracer, which a process names with PR_SET_PTRACER (Yama).
pub const TRACER: &str = "FAKEBOX_TRACER";
/// The socket of this `fakebox run`'s tracer, where `fakebox __attach` asks to be traced.
pub const ATTACH: &str = "FAKEBOX_ATTACH";
/// The fakebox binary, which hands a program the preload cannot reach to the tracer
/// (`fakebox __attach PATH ARGV...`) without changing its pid.
pub const EXE: &str = "FAKEBOX_EXE";

/// `/proc/PID/fd/N`: the shared table's memfd, held open by the launcher for the whole
/// session. A process maps the table from there, without a round trip to the daemon.
pub const TABLE: &str = "FAKEBOX_TABLE";

/// `off`: traced programs get no agent and stay traced, so every call stops in the tracer (for
/// comparison and diagnosis; read by the launcher only).
pub const AGENT: &str = "FAKEBOX_AGENT";

/// Every variable the session owns, in the order exec hooks write them back.
pub const ALL: [&str; 9] = [SOCKET, LIB, IDS, LOG, LOG_FILE, TRACER, EXE, ATTACH, TABLE];
