//! Framing: a 4-byte little-endian length, then a bincode 2 (serde, standard config) body.
//!
//! Both ends encode into and decode from caller-provided buffers, so the preload library
//! never allocates. A frame longer than [`MAX_FRAME`] is refused by both ends.
use serde::{Deserialize, Serialize};

/// The largest body either end accepts: room for a 64 KiB xattr value and its name.
pub const MAX_FRAME: usize = 80 * 1024;

// A value or a list of names of the largest size the kernel allows, with its request's
// other fields, fits in a frame.
const _: () = assert!(MAX_FRAME >= crate::op::XATTR_SIZE_MAX + 1024 && MAX_FRAME >= crate::op::XATTR_LIST_MAX + 1024);

#[derive(Debug, PartialEq, Eq)]
pub enum WireError {
    /// The body would not fit in the buffer, or exceeds [`MAX_FRAME`].
    TooLong,
    /// The bytes are not a valid message.
    Malformed,
}

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<MAX_FRAME>()
}

/// Writes the frame for `msg` into `buf`; returns the frame's length (header included).
pub fn encode<T: Serialize>(msg: &T, buf: &mut [u8]) -> Result<usize, WireError> {
    if buf.len() < 4 {
        return Err(WireError::TooLong);
    }
    let room = (buf.len() - 4).min(MAX_FRAME);
    let n = bincode::serde::encode_into_slice(msg, &mut buf[4..4 + room], config()).map_err(|_| WireError::TooLong)?;
    buf[..4].copy_from_slice(&(n as u32).to_le_bytes());
    Ok(4 + n)
}

/// The body length a frame header announces, or an error if it is over the limit.
pub fn body_len(header: [u8; 4]) -> Result<usize, WireError> {
    let n = u32::from_le_bytes(header) as usize;
    if n > MAX_FRAME { Err(WireError::TooLong) } else { Ok(n) }
}

/// Decodes one body (without its header); the whole body must be consumed.
pub fn decode<'de, T: Deserialize<'de>>(body: &'de [u8]) -> Result<T, WireError> {
    match bincode::serde::borrow_decode_from_slice(body, config()) {
        Ok((v, n)) if n == body.len() => Ok(v),
        _ => Err(WireError::Malformed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Birth, Fake, Key, Op, Real, Reply};

    fn real() -> Real {
        Real {
            key: Key { dev: 2049, ino: 1 << 40 },
            birth: Some(Birth { sec: 1_700_000_000, nsec: 999 }),
            uid: 65534,
            gid: 65534,
            mode: 0o100644,
            rdev: 0,
            nlink: 1,
        }
    }

    fn roundtrip(op: Op<'_>) {
        let mut buf = [0u8; 1024];
        let n = encode(&op, &mut buf).unwrap();
        let len = body_len(buf[..4].try_into().unwrap()).unwrap();
        assert_eq!(len + 4, n);
        let back: Op<'_> = decode(&buf[4..n]).unwrap();
        assert_eq!(back, op);
    }

    #[test]
    fn every_op_roundtrips() {
        let r = real();
        roundtrip(Op::Hello { pid: 42 });
        roundtrip(Op::Attach {
            tid: 7,
            uid: crate::ids::Cred::all(0),
            gid: crate::ids::Cred { r: 1, e: 2, s: 3, fs: 4 },
        });
        roundtrip(Op::Lookup { real: r });
        roundtrip(Op::MapTable);
        roundtrip(Op::Join { unknown_is_real: true });
        roundtrip(Op::Leave);
        roundtrip(Op::Chown { real: r, uid: Some(0), gid: None });
        roundtrip(Op::Chmod { real: r, mode: 0o4755 });
        roundtrip(Op::Create { real: r, parent: Some(r), uid: 1, gid: 2, mode: 0o20644, rdev: 259 });
        roundtrip(Op::Unlinked { real: r });
        roundtrip(Op::SetXattr { real: r, name: "security.capability", value: &[1, 2, 3], flags: 0 });
        roundtrip(Op::GetXattr { real: r, name: "user.x" });
        roundtrip(Op::ListXattr { real: r });
        roundtrip(Op::RemoveXattr { real: r, name: "trusted.y" });
    }

    #[test]
    fn replies_roundtrip_and_borrow() {
        let mut buf = [0u8; 256];
        for rep in [
            Reply::Attrs(Fake { uid: 1, gid: 2, mode: 0o40755, rdev: 0 }),
            Reply::Done,
            Reply::Errno(61),
            Reply::Bytes(b"a\0bc\0"),
        ] {
            let n = encode(&rep, &mut buf).unwrap();
            let back: Reply<'_> = decode(&buf[4..n]).unwrap();
            assert_eq!(back, rep);
        }
    }

    #[test]
    fn oversized_and_truncated_frames_are_refused() {
        assert_eq!(body_len((MAX_FRAME as u32 + 1).to_le_bytes()), Err(WireError::TooLong));
        let mut small = [0u8; 8];
        assert_eq!(encode(&Op::Lookup { real: real() }, &mut small), Err(WireError::TooLong));
        let mut buf = [0u8; 256];
        let n = encode(&Op::Lookup { real: real() }, &mut buf).unwrap();
        for cut in 0..n - 4 {
            assert!(decode::<Op<'_>>(&buf[4..4 + cut]).is_err(), "cut at {cut}");
        }
        // Trailing garbage is as bad as missing bytes.
        assert!(decode::<Op<'_>>(&buf[4..n + 1]).is_err());
    }

    #[test]
    fn garbage_never_panics() {
        // A cheap deterministic fuzz: every byte pattern decodes to a value or an error.
        let mut x: u64 = 0x9e3779b97f4a7c15;
        let mut body = [0u8; 64];
        for _ in 0..20_000 {
            for b in body.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
            let len = (x % 64) as usize;
            let _ = decode::<Op<'_>>(&body[..len]);
            let _ = decode::<Reply<'_>>(&body[..len]);
        }
    }
}
