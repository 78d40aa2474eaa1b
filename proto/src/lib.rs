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
//! - [`shm`]: the shared table every client reads without asking.
//! - [`agent`]: what the tracer hands the agent it places in a traced process.
//!
//! Without the default `std` feature only what the agent needs is built (`inode`,
//! `kernel`, `shm`, `agent`), for the freestanding agent (see `tracer/agent/`).
#![deny(unsafe_code)]
#![cfg_attr(not(feature = "std"), no_std)]

pub mod agent;
#[cfg(feature = "std")]
pub mod elf;
#[cfg(feature = "std")]
pub mod env;
#[cfg(feature = "std")]
pub mod fdpass;
#[cfg(feature = "std")]
pub mod ids;
pub mod inode;
pub mod kernel;
#[cfg(feature = "std")]
pub mod op;
pub mod shm;
#[cfg(feature = "std")]
pub mod wire;

pub use inode::{Birth, Fake, Key, Real};
#[cfg(feature = "std")]
pub use op::{Op, Reply};
