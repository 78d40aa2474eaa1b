//! The kernel's stat structures and the session's view of them, for both mechanisms.
#![allow(unsafe_code)]
use crate::{Birth, Fake, Key, Real};

/// The mask both mechanisms ask statx for: the basic fields and the birth time (which
/// tells two incarnations of one inode number apart).
pub const STATX_MASK: u32 = libc::STATX_BASIC_STATS | libc::STATX_BTIME;

pub fn real_of(stx: &libc::statx) -> Real {
    let birth = (stx.stx_mask & libc::STATX_BTIME != 0)
        .then_some(Birth { sec: stx.stx_btime.tv_sec, nsec: stx.stx_btime.tv_nsec });
    Real {
        key: Key { dev: libc::makedev(stx.stx_dev_major, stx.stx_dev_minor), ino: stx.stx_ino },
        birth,
        uid: stx.stx_uid,
        gid: stx.stx_gid,
        mode: u32::from(stx.stx_mode),
        rdev: libc::makedev(stx.stx_rdev_major, stx.stx_rdev_minor),
        nlink: stx.stx_nlink,
    }
}

/// The session's view written over a statx result.
pub fn patch_statx(stx: &mut libc::statx, f: &Fake) {
    stx.stx_uid = f.uid;
    stx.stx_gid = f.gid;
    stx.stx_mode = f.mode as u16;
    stx.stx_rdev_major = libc::major(f.rdev);
    stx.stx_rdev_minor = libc::minor(f.rdev);
}

/// The session's view written over a struct stat the kernel filled.
pub fn patch_stat(st: &mut libc::stat, f: &Fake) {
    st.st_mode = f.mode;
    st.st_uid = f.uid;
    st.st_gid = f.gid;
    st.st_rdev = f.rdev;
}

/// A struct stat (x86_64; the same layout as stat64) from a statx and the session's view.
pub fn to_stat(stx: &libc::statx, f: &Fake) -> libc::stat {
    // SAFETY: struct stat is plain data; all-zero is a valid value (and what the kernel
    // leaves in the padding).
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    st.st_dev = libc::makedev(stx.stx_dev_major, stx.stx_dev_minor);
    st.st_ino = stx.stx_ino;
    st.st_nlink = u64::from(stx.stx_nlink);
    patch_stat(&mut st, f);
    st.st_size = stx.stx_size as i64;
    st.st_blksize = i64::from(stx.stx_blksize);
    st.st_blocks = stx.stx_blocks as i64;
    st.st_atime = stx.stx_atime.tv_sec;
    st.st_atime_nsec = i64::from(stx.stx_atime.tv_nsec);
    st.st_mtime = stx.stx_mtime.tv_sec;
    st.st_mtime_nsec = i64::from(stx.stx_mtime.tv_nsec);
    st.st_ctime = stx.stx_ctime.tv_sec;
    st.st_ctime_nsec = i64::from(stx.stx_ctime.tv_nsec);
    st
}

/// The directory-entry type a recorded device node has (d_type), where the disk says
/// "regular file" for its placeholder; None for anything else.
pub fn device_dtype(recorded_mode: u32) -> Option<u8> {
    match recorded_mode & crate::inode::mode::IFMT {
        crate::inode::mode::IFCHR => Some(libc::DT_CHR),
        crate::inode::mode::IFBLK => Some(libc::DT_BLK),
        _ => None,
    }
}

/// The type a directory entry that the disk calls DT_REG should have, given what the
/// table holds for it: a recorded device's, DT_UNKNOWN when the table cannot tell (the
/// program then stats the entry, which asks the daemon), else none (DT_REG stands).
pub fn dirent_type(recorded_mode: Result<Option<u32>, crate::shm::Unsure>) -> Option<u8> {
    match recorded_mode {
        Ok(m) => m.and_then(device_dtype),
        Err(crate::shm::Unsure) => Some(libc::DT_UNKNOWN),
    }
}

/// Gives each entry of a directory read (getdents64's `linux_dirent64`s, or with `old`
/// getdents's `linux_dirent`s) that names a recorded device node its type, where the
/// disk says DT_REG; `mode_of` finds a recorded mode. Entries of `dir_dev`, the
/// directory's device. An entry the table cannot tell about (`Unsure`: a reader gave up)
/// gets DT_UNKNOWN, which sends the program to stat it. True if anything changed.
pub fn fix_dirent_types(
    bytes: &mut [u8],
    old: bool,
    dir_dev: u64,
    mode_of: impl Fn(Key) -> Result<Option<u32>, crate::shm::Unsure>,
) -> bool {
    let mut changed = false;
    let mut at = 0;
    // linux_dirent64: ino u64, off i64, reclen u16, type u8, name. The old linux_dirent:
    // ino, off, reclen u16, name, and the type in the record's last byte.
    while at + 19 <= bytes.len() {
        let reclen = usize::from(u16::from_ne_bytes([bytes[at + 16], bytes[at + 17]]));
        if reclen == 0 || at + reclen > bytes.len() {
            break;
        }
        let mut ino = [0u8; 8];
        ino.copy_from_slice(&bytes[at..at + 8]);
        let type_at = if old { at + reclen - 1 } else { at + 18 };
        if bytes[type_at] == libc::DT_REG
            && let Some(d) = dirent_type(mode_of(Key { dev: dir_dev, ino: u64::from_ne_bytes(ino) }))
        {
            bytes[type_at] = d;
            changed = true;
        }
        at += reclen;
    }
    changed
}

/// The raw bytes of a plain C struct, to copy into another process.
pub fn bytes_of<T: Copy>(v: &T) -> &[u8] {
    // SAFETY: T is a plain C struct (stat, statx); reading its bytes is always valid.
    unsafe { core::slice::from_raw_parts(v as *const T as *const u8, core::mem::size_of::<T>()) }
}

/// What the session makes of a stat structure the kernel filled without a birth time
/// (fts and nftw results inside glibc).
pub fn real_of_stat(st: &libc::stat) -> Real {
    Real {
        key: Key { dev: st.st_dev, ino: st.st_ino },
        birth: None,
        uid: st.st_uid,
        gid: st.st_gid,
        mode: st.st_mode,
        rdev: st.st_rdev,
        nlink: st.st_nlink as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shm::Unsure;

    /// One linux_dirent64 of `name` (inode `ino`, type DT_REG), 8-byte aligned.
    fn dirent64(ino: u64, name: &[u8]) -> std::vec::Vec<u8> {
        let reclen = (19 + name.len() + 1).next_multiple_of(8);
        let mut e = std::vec![0u8; reclen];
        e[..8].copy_from_slice(&ino.to_ne_bytes());
        e[16..18].copy_from_slice(&(reclen as u16).to_ne_bytes());
        e[18] = libc::DT_REG;
        e[19..19 + name.len()].copy_from_slice(name);
        e
    }

    #[test]
    fn entries_the_table_cannot_tell_about_become_unknown() {
        let mut bytes = dirent64(1, b"dev");
        let second = bytes.len();
        bytes.extend(dirent64(2, b"plain"));
        let third = bytes.len();
        bytes.extend(dirent64(3, b"unsure"));
        let changed = fix_dirent_types(&mut bytes, false, 5, |k| match k.ino {
            1 => Ok(Some(crate::inode::mode::IFCHR | 0o600)),
            2 => Ok(None),
            _ => Err(Unsure),
        });
        assert!(changed);
        assert_eq!((bytes[18], bytes[second + 18], bytes[third + 18]), (libc::DT_CHR, libc::DT_REG, libc::DT_UNKNOWN));
    }
}

/// prctl(PR_GET_DUMPABLE) and prctl(PR_SET_DUMPABLE), answered from the flag the program
/// set (`now`), for both mechanisms: a traced process stays dumpable for real, since the
/// tracer reads its memory and its `/proc/PID` links, which the kernel refuses for a
/// non-dumpable process to anyone without CAP_SYS_PTRACE. Returns the call's result
/// (or -errno) and the flag after it.
pub fn dumpable_prctl(option: u64, arg: u64, now: bool) -> (i64, bool) {
    // The kernel takes the option as an int, and SUID_DUMP_DISABLE (0) or
    // SUID_DUMP_USER (1) alone for a process to set.
    match option as u32 as i32 {
        libc::PR_GET_DUMPABLE => (i64::from(now), now),
        libc::PR_SET_DUMPABLE if arg <= 1 => (0, arg == 1),
        _ => (-i64::from(libc::EINVAL), now),
    }
}

#[cfg(test)]
mod dumpable_tests {
    use super::dumpable_prctl;

    #[test]
    fn the_program_reads_back_what_it_set() {
        let set = libc::PR_SET_DUMPABLE as u64;
        let get = libc::PR_GET_DUMPABLE as u64;
        assert_eq!(dumpable_prctl(get, 0, true), (1, true));
        assert_eq!(dumpable_prctl(set, 0, true), (0, false));
        assert_eq!(dumpable_prctl(get, 0, false), (0, false));
        assert_eq!(dumpable_prctl(set, 1, false), (0, true));
        // SUID_DUMP_ROOT (2) is not the process's to set; the upper word is not the option's.
        assert_eq!(dumpable_prctl(set, 2, true), (-i64::from(libc::EINVAL), true));
        assert_eq!(dumpable_prctl(set | 1 << 32, 0, true), (0, false));
    }
}
