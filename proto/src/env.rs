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

/// The entries of an `LD_PRELOAD` value, split as the loader splits it (on colons and
/// spaces), empty ones left out.
pub fn preload_entries(list: &[u8]) -> impl Iterator<Item = &[u8]> {
    list.split(|&c| c == b':' || c == b' ').filter(|e| !e.is_empty())
}

/// A sanitizer's runtime that an exec put before the library in `LD_PRELOAD` for one
/// program, which names it (see [`crate::elf::Runtime`]): that program's children leave it
/// out again, unless they name it too.
pub const RUNTIME: &str = "FAKEBOX_RUNTIME";

/// `LD_PRELOAD` in a session, as entries in order, written into `out` (how many it holds
/// comes back, with whether `runtime` had to be added: then `RUNTIME` names it).
///
/// Sanitizers' runtimes come first: AddressSanitizer refuses to start unless its runtime
/// is the first library loaded. The program's own (`runtime`) leads, then any that the
/// program was given; then the session's library `lib`, if `load` (not for a loader that
/// cannot take it); then the rest of `current`, the `LD_PRELOAD` the program was given.
/// Each entry once; `added`, the runtime an earlier exec put in for its own program
/// alone, is left out.
pub fn preload_order<'a>(
    lib: &'a [u8],
    load: bool,
    runtime: Option<&'a [u8]>,
    current: &'a [u8],
    added: &[u8],
    out: &mut [&'a [u8]],
) -> (usize, bool) {
    let given = || preload_entries(current).filter(move |e| *e != added && *e != lib);
    let mut n = 0;
    let mut push = |e: &'a [u8]| {
        if !e.is_empty() && n < out.len() && !out[..n].contains(&e) {
            out[n] = e;
            n += 1;
        }
    };
    if let Some(r) = runtime {
        push(r);
    }
    given().filter(|e| crate::elf::is_sanitizer_runtime(e)).for_each(&mut push);
    if load {
        push(lib);
    }
    given().filter(|e| !crate::elf::is_sanitizer_runtime(e)).for_each(&mut push);
    let added_now = runtime.is_some_and(|r| !given().any(|e| e == r));
    (n, added_now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(lib: &str, runtime: Option<&str>, current: &str, added: &str) -> (std::string::String, bool) {
        order_for(lib, true, runtime, current, added)
    }

    fn order_for(
        lib: &str,
        load: bool,
        runtime: Option<&str>,
        current: &str,
        added: &str,
    ) -> (std::string::String, bool) {
        let mut out = [&b""[..]; 16];
        let (lib, current, added) = (lib.as_bytes(), current.as_bytes(), added.as_bytes());
        let (n, added_now) = preload_order(lib, load, runtime.map(str::as_bytes), current, added, &mut out);
        let joined: std::vec::Vec<&str> = out[..n].iter().map(|e| core::str::from_utf8(e).unwrap()).collect();
        (joined.join(":"), added_now)
    }

    #[test]
    fn the_library_first_then_what_the_program_was_given() {
        assert_eq!(order("/l/fb.so", None, "", ""), ("/l/fb.so".into(), false));
        assert_eq!(order("/l/fb.so", None, "/l/fb.so", ""), ("/l/fb.so".into(), false));
        assert_eq!(order("/l/fb.so", None, "a.so /l/fb.so:b.so", ""), ("/l/fb.so:a.so:b.so".into(), false));
        // A loader that cannot take the library keeps the rest.
        assert_eq!(order_for("/l/fb.so", false, None, "/l/fb.so:a.so", ""), ("a.so".into(), false));
        assert_eq!(order_for("/l/fb.so", false, None, "/l/fb.so", ""), ("".into(), false));
    }

    #[test]
    fn a_sanitizer_runtime_comes_before_the_library() {
        // The program names it: it goes first, for this program alone.
        assert_eq!(order("/l/fb.so", Some("libasan.so.8"), "/l/fb.so", ""), ("libasan.so.8:/l/fb.so".into(), true));
        // Its children do not name it: it goes again.
        assert_eq!(order("/l/fb.so", None, "libasan.so.8:/l/fb.so", "libasan.so.8"), ("/l/fb.so".into(), false));
        // A child that names it too gets it again.
        assert_eq!(
            order("/l/fb.so", Some("libasan.so.8"), "libasan.so.8:/l/fb.so", "libasan.so.8"),
            ("libasan.so.8:/l/fb.so".into(), true)
        );
        // One the user preloads stays, for every program, but before the library.
        assert_eq!(
            order("/l/fb.so", None, "/l/fb.so:x.so:libasan.so.8", ""),
            ("libasan.so.8:/l/fb.so:x.so".into(), false)
        );
        assert_eq!(
            order("/l/fb.so", Some("libasan.so.8"), "libasan.so.8", ""),
            ("libasan.so.8:/l/fb.so".into(), false)
        );
    }
}
