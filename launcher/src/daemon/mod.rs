//! The fake-inode daemon: owns the table, serves clients over a unix socket, persists.
pub mod host;
pub mod server;
pub mod shared;
pub mod state;
pub mod table;

pub use server::Daemon;
pub use table::Table;
