//! The vocabulary every part of fakebox shares.
//!
//! - [`inode`]: what a fake inode is (the kernel's view `Real`, the session's view `Fake`).
//! - [`op`]: every request a client (preload hook or tracer handler) makes of the daemon,
//!   and the daemon's replies. The daemon alone decides what an operation means.
//! - [`wire`]: length-prefixed bincode framing, shared by both ends.
//! - [`elf`]: what a program is, read from its ELF headers or `#!` line.
//! - [`mechanism`]: which mechanism a program needs (the one rule every caller applies).
//! - [`env`]: the names of the session's environment variables.
//! - [`ids`]: the kernel's rules for set*id and permission checks.
//! - [`rules`]: what a client decides around a call that makes, renames or sets xattrs
//!   on a file (the mode a new inode gets, whether it needs a record...), for both mechanisms.
//! - [`kernel`]: translation between the kernel's stat structures and the session's view.
//! - [`shm`]: the shared table every client reads without asking.
//! - [`agent`]: what the tracer hands the agent it places in a traced process.
//!
//! The crate never links std, so that the preload library that builds on it stays
//! freestanding too (a std in the graph costs every exec in a session page faults: see
//! preload/src/lib.rs). Without the default `wire` feature (serde and bincode) `op` and
//! `wire` are left out, for the freestanding agent (see `tracer/agent/`).
#![deny(unsafe_code)]
#![no_std]

// fakebox reads and writes x86_64 registers, system call numbers and structure layouts:
// other architectures are refused here, where every crate of the workspace starts.
#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
compile_error!(
    "fakebox runs on x86_64 Linux only (system call numbers, registers and the kernel's structure layouts are x86_64's)"
);
#[cfg(test)]
extern crate std;

pub mod agent;
pub mod elf;
pub mod env;
pub mod fdpass;
pub mod ids;
pub mod inode;
pub mod kernel;
pub mod mechanism;
#[cfg(feature = "wire")]
pub mod op;
pub mod rules;
pub mod shm;
#[cfg(feature = "wire")]
pub mod wire;

pub use inode::{Birth, Fake, Key, Real};
#[cfg(feature = "wire")]
pub use op::{Op, Reply};
