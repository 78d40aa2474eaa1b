//! The vocabulary every part of fakebox shares.
//!
//! - [`inode`]: what a fake inode is (the kernel's view `Real`, the session's view `Fake`).
//! - [`op`]: every request a client (preload hook or tracer handler) makes of the daemon,
//!   and the daemon's replies. The daemon alone decides what an operation means.
//! - [`wire`]: length-prefixed bincode framing, shared by both ends.
//! - [`elf`]: which mechanism a program needs, decided from its ELF headers.
//! - [`env`]: the names of the session's environment variables.
//! - [`ids`]: the kernel's rules for set*id and permission checks.
//! - [`kernel`]: translation between the kernel's stat structures and the session's view.
#![deny(unsafe_code)]

pub mod elf;
pub mod env;
pub mod fdpass;
pub mod ids;
pub mod inode;
pub mod kernel;
pub mod op;
pub mod shm;
pub mod wire;

pub use inode::{Birth, Fake, Key, Real};
pub use op::{Op, Reply};
