//! What a fake inode is.
#[cfg(feature = "wire")]
use serde::{Deserialize, Serialize};

/// An inode's identity on this machine: device and inode number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "wire", derive(Serialize, Deserialize))]
pub struct Key {
    pub dev: u64,
    pub ino: u64,
}

/// The birth time of an inode (statx `STATX_BTIME`), which tells two incarnations of one
/// inode number apart. `None` where the filesystem does not report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "wire", derive(Serialize, Deserialize))]
pub struct Birth {
    pub sec: i64,
    pub nsec: u32,
}

/// An inode as the kernel reports it to the client that asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "wire", derive(Serialize, Deserialize))]
pub struct Real {
    pub key: Key,
    pub birth: Option<Birth>,
    pub uid: u32,
    pub gid: u32,
    /// File type and permission bits, as in `st_mode`.
    pub mode: u32,
    pub rdev: u64,
    pub nlink: u32,
}

/// An inode as the session sees it: what stat-like calls report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "wire", derive(Serialize, Deserialize))]
pub struct Fake {
    pub uid: u32,
    pub gid: u32,
    /// File type and permission bits, as in `st_mode`.
    pub mode: u32,
    pub rdev: u64,
}

/// `S_IFMT` and friends, spelled here so that the crate needs no libc.
pub mod mode {
    pub const IFMT: u32 = 0o170000;
    pub const IFDIR: u32 = 0o040000;
    pub const IFREG: u32 = 0o100000;
    pub const IFLNK: u32 = 0o120000;
    pub const IFCHR: u32 = 0o020000;
    pub const IFBLK: u32 = 0o060000;
    pub const IFIFO: u32 = 0o010000;
    pub const IFSOCK: u32 = 0o140000;
    pub const ISUID: u32 = 0o4000;
    pub const ISGID: u32 = 0o2000;
    pub const ISVTX: u32 = 0o1000;
    pub const IXGRP: u32 = 0o0010;

    pub fn is_dir(m: u32) -> bool {
        m & IFMT == IFDIR
    }

    /// The bits a file may really carry on disk for a mode recorded in the session: no
    /// setuid, setgid or sticky bit ever reaches the disk, and the owner always keeps read
    /// and write (and search on directories), so that a mode of 000 recorded for root still
    /// lets the session read, write and delete.
    pub fn on_disk(m: u32) -> u32 {
        let owner = if is_dir(m) { 0o700 } else { 0o600 };
        (m & 0o777) | owner
    }
}

/// The permission bits a POSIX ACL (the `system.posix_acl_access` xattr value) stands for,
/// when it is a minimal ACL (owner, group or mask, other; no named users or groups): the
/// kernel stores such an ACL as a plain mode, which is how `cp -a` and `setfacl` set modes.
pub fn acl_equiv_mode(value: &[u8]) -> Option<u32> {
    const VERSION: u32 = 2;
    const USER_OBJ: u16 = 0x01;
    const GROUP_OBJ: u16 = 0x04;
    const MASK: u16 = 0x10;
    const OTHER: u16 = 0x20;
    let head = value.get(..4)?;
    if u32::from_le_bytes(head.try_into().ok()?) != VERSION || !(value.len() - 4).is_multiple_of(8) || value.len() == 4
    {
        return None;
    }
    let mut m = 0u32;
    for e in value[4..].chunks_exact(8) {
        let tag = u16::from_le_bytes([e[0], e[1]]);
        let perm = u32::from(u16::from_le_bytes([e[2], e[3]]) & 7);
        match tag {
            USER_OBJ => m |= perm << 6,
            GROUP_OBJ => m |= perm << 3,
            MASK => m = (m & !0o070) | (perm << 3),
            OTHER => m |= perm,
            _ => return None,
        }
    }
    Some(m)
}

/// What an inode the session never touched looks like: root's (or, with
/// `--unknown-is-real`, its real owner's), with its real mode and device.
pub fn default_view(real: &crate::Real, unknown_is_real: bool) -> crate::Fake {
    let (uid, gid) = if unknown_is_real { (real.uid, real.gid) } else { (0, 0) };
    crate::Fake { uid, gid, mode: real.mode, rdev: real.rdev }
}

/// Does a record (its mode and the birth time it was made with) describe an earlier
/// incarnation of this inode number? The birth time tells where the filesystem reports
/// it; a change of file type tells everywhere (a device node is a plain file on disk).
pub fn is_stale(recorded_mode: u32, recorded_birth: Option<crate::Birth>, real: &crate::Real) -> bool {
    if let (Some(a), Some(b)) = (recorded_birth, real.birth)
        && a != b
    {
        return true;
    }
    let on_disk = match recorded_mode & mode::IFMT {
        mode::IFCHR | mode::IFBLK => mode::IFREG,
        t => t,
    };
    on_disk != real.mode & mode::IFMT
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn acl(entries: &[(u16, u16)]) -> Vec<u8> {
        let mut v = 2u32.to_le_bytes().to_vec();
        for (tag, perm) in entries {
            v.extend_from_slice(&tag.to_le_bytes());
            v.extend_from_slice(&perm.to_le_bytes());
            v.extend_from_slice(&u32::MAX.to_le_bytes());
        }
        v
    }

    #[test]
    fn minimal_acls_are_modes() {
        assert_eq!(acl_equiv_mode(&acl(&[(1, 6), (4, 4), (0x20, 0)])), Some(0o640));
        assert_eq!(acl_equiv_mode(&acl(&[(1, 7), (4, 7), (0x10, 5), (0x20, 5)])), Some(0o755));
        assert_eq!(acl_equiv_mode(&acl(&[(1, 7), (2, 7), (4, 5), (0x20, 5)])), None);
        assert_eq!(acl_equiv_mode(b"\x02\0\0\0\x01"), None);
        assert_eq!(acl_equiv_mode(b""), None);
    }
}
