//! libfakebox.so: fakes root for dynamically linked glibc programs.
//!
//! - `hooks/`: the hook table and one file per family (stat, owner, create, lifetime,
//!   xattr, identity, exec, fds, walk). Each hook turns a libc call into operations.
//! - `fake`: the operations hooks are made of (see the kernel's inode, ask the session's).
//!   `fresh`: descriptors of files this process just made, still the default view.
//! - `client`: this process's connections to the daemon; `shared`: the daemon's table,
//!   mapped read-only, for lookups without a round trip.
//! - `ids`: the fake identity. `config`: the session's variables. `sys`: raw syscalls.
//!   `real`: the next libc definition, for the few hooks that need it. `log`: raw-fd log.
//!
//! Rules inside hooks: no allocation, no locks (only compare-and-swap that never waits),
//! no std I/O; a panic aborts (panic=abort), never falls through to the real call.
//!
//! The library does not link std (`no_std`; proto, serde and bincode are built without it).
//! Every exec in a session loads the library, and std's share of it cost each one page
//! faults: its runtime set-up at load, the data of its panic and backtrace machinery,
//! whose relocations the loader writes into pages of their own. What std would give is
//! here instead: a panic handler that says what went wrong and aborts, an allocator
//! (liballoc comes in with serde) that forwards to malloc and that no hook uses, and the
//! two unwinding symbols core's code names (csrc/unwind.c).
#![cfg_attr(not(test), no_std)]
#![allow(clippy::missing_safety_doc)]
// The unit tests leave out the load hook, and with it what only the load path calls.
#![cfg_attr(test, allow(dead_code))]

#[macro_use]
mod log;
#[macro_use]
mod real;
mod client;
mod config;
mod fake;
mod fresh;
pub mod hooks;
mod ids;
mod shared;
mod sys;

/// Runs when the library is loaded, before the program's main.
extern "C" fn on_load() {
    config::init();
    client::init();
    config::hello();
    debug!("loaded");
}

/// Not in the unit tests' binary, which is no program of a session.
#[cfg(not(test))]
#[used]
#[unsafe(link_section = ".init_array")]
static ON_LOAD: extern "C" fn() = on_load;

/// What std would have defined, in the library only (its unit tests link std). The two
/// unwinding symbols core's code names are in csrc/unwind.c, for the same reason.
#[cfg(not(test))]
mod freestanding {
    use crate::log;

    /// A panic is a bug in fakebox: say so on stderr (always, whatever the log level, in
    /// the `fakebox: ...` form of every other failure) and abort, as `panic=abort` with std
    /// would. Never fall through to the real call.
    #[panic_handler]
    fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
        log::warn(format_args!("internal error in the preload library (a bug; please report it): {info}"));
        // SAFETY: ends the process.
        unsafe { libc::abort() }
    }

    /// The allocator liballoc needs to link. No hook allocates (see the rules above); this
    /// only forwards to glibc.
    struct Malloc;

    // SAFETY: glibc's allocator honours size and (through aligned_alloc) alignment.
    unsafe impl core::alloc::GlobalAlloc for Malloc {
        unsafe fn alloc(&self, layout: core::alloc::Layout) -> *mut u8 {
            // SAFETY: glibc's allocator; aligned_alloc wants a size that is a multiple of align.
            unsafe {
                if layout.align() <= 16 {
                    libc::malloc(layout.size()).cast()
                } else {
                    libc::aligned_alloc(layout.align(), layout.size().next_multiple_of(layout.align())).cast()
                }
            }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, _: core::alloc::Layout) {
            // SAFETY: `ptr` came from alloc above.
            unsafe { libc::free(ptr.cast()) }
        }
    }

    #[global_allocator]
    static ALLOC: Malloc = Malloc;
}
