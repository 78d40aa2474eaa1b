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
#![allow(clippy::missing_safety_doc)]

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

#[used]
#[unsafe(link_section = ".init_array")]
static ON_LOAD: extern "C" fn() = on_load;

/// The symbols this library exports, for the launcher's tests.
#[unsafe(no_mangle)]
pub extern "C" fn fakebox_hook_count() -> usize {
    hooks::NAMES.len()
}
