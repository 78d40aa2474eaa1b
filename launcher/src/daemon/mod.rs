//! The fake-inode daemon: owns the table, serves clients over a unix socket, persists.
#[cfg(test)]
mod fuzz;
pub mod host;
pub mod import;
pub mod server;
pub mod shared;
pub mod state;
pub mod table;

pub use server::Daemon;
pub use table::Table;

use fakebox_proto::wire;

/// One request and its reply over a stream (for the launcher's own clients; the preload
/// library has its own, allocation-free exchange). The reply's body is left in `buf`;
/// returns its length.
pub fn round_trip<S: std::io::Read + std::io::Write, T: serde::Serialize>(
    stream: &mut S,
    msg: &T,
    buf: &mut Vec<u8>,
) -> std::io::Result<usize> {
    let bad = |_| std::io::Error::from(std::io::ErrorKind::InvalidData);
    buf.resize(wire::MAX_FRAME + 4, 0);
    let n = wire::encode(msg, buf).map_err(bad)?;
    stream.write_all(&buf[..n])?;
    let mut header = [0u8; 4];
    stream.read_exact(&mut header)?;
    let len = wire::body_len(header).map_err(bad)?;
    stream.read_exact(&mut buf[..len])?;
    Ok(len)
}
