//! Owner and mode: chown and chmod succeed as they would for root and are recorded. No
//! real chown ever happens; a real chmod keeps only what docs/ARCHITECTURE.md, promise 4 allows on disk.
use crate::fake::{self, Seen};
use crate::fresh;
use crate::ids;
use crate::sys::{self, Res, ret};
use core::sync::atomic::Ordering::Relaxed;
use fakebox_proto::Op;
use fakebox_proto::inode::mode;
use libc::{c_char, c_int, gid_t, mode_t, uid_t};

pub unsafe fn chown(path: *const c_char, uid: uid_t, gid: gid_t) -> c_int {
    ret(chown_at(libc::AT_FDCWD, path, uid, gid, 0))
}

pub unsafe fn lchown(path: *const c_char, uid: uid_t, gid: gid_t) -> c_int {
    ret(chown_at(libc::AT_FDCWD, path, uid, gid, libc::AT_SYMLINK_NOFOLLOW))
}

pub unsafe fn fchown(fd: c_int, uid: uid_t, gid: gid_t) -> c_int {
    ret(chown_at(fd, c"".as_ptr(), uid, gid, libc::AT_EMPTY_PATH))
}

pub unsafe fn fchownat(dirfd: c_int, path: *const c_char, uid: uid_t, gid: gid_t, flags: c_int) -> c_int {
    ret(chown_at(dirfd, path, uid, gid, flags))
}

fn chown_at(dirfd: c_int, path: *const c_char, uid: uid_t, gid: gid_t, flags: c_int) -> Res<c_int> {
    if flags & !(libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH) != 0 {
        return Err(libc::EINVAL);
    }
    let uid = (uid != u32::MAX).then_some(uid);
    let gid = (gid != u32::MAX).then_some(gid);
    // Fake root giving root a file it just made (tar): nothing to learn, nothing to record.
    let root = ids::UID.fs.load(Relaxed) == 0;
    if root && by_fd(flags, path) && fresh::still(dirfd) && uid.is_none_or(|u| u == 0) && gid.is_none_or(|g| g == 0) {
        return Ok(0);
    }
    let seen = fake::see(dirfd, path, flags)?;
    may_chown(&seen, uid, gid)?;
    // Giving a file the owner and group it already has changes nothing (tar restoring
    // root's files) unless it carries bits or a capability a chown drops: no round trip.
    let cur = fake::view(&seen.real)?;
    let same = uid.is_none_or(|u| u == cur.uid) && gid.is_none_or(|g| g == cur.gid);
    let drops = !mode::is_dir(cur.mode) && cur.mode & (mode::ISUID | mode::ISGID) != 0;
    if same && !drops && !fake::may_have_xattrs(&seen.real) {
        return Ok(0);
    }
    fake::attrs(&Op::Chown { real: seen.real, uid, gid })?;
    Ok(0)
}

/// The kernel's rule: root may give anything to anyone; the owner may only change the
/// group, to one of their own.
fn may_chown(seen: &Seen, uid: Option<u32>, gid: Option<u32>) -> Res<()> {
    let fsuid = ids::UID.fs.load(Relaxed);
    if fsuid == 0 {
        return Ok(());
    }
    let cur = fake::view(&seen.real)?;
    if fakebox_proto::ids::may_chown(&cur, fsuid, ids::in_group, uid, gid) { Ok(()) } else { Err(libc::EPERM) }
}

pub unsafe fn chmod(path: *const c_char, m: mode_t) -> c_int {
    ret(chmod_at(libc::AT_FDCWD, path, m, 0))
}

pub unsafe fn lchmod(path: *const c_char, m: mode_t) -> c_int {
    ret(chmod_at(libc::AT_FDCWD, path, m, libc::AT_SYMLINK_NOFOLLOW))
}

pub unsafe fn fchmod(fd: c_int, m: mode_t) -> c_int {
    ret(chmod_at(fd, c"".as_ptr(), m, libc::AT_EMPTY_PATH))
}

pub unsafe fn fchmodat(dirfd: c_int, path: *const c_char, m: mode_t, flags: c_int) -> c_int {
    ret(chmod_at(dirfd, path, m, flags))
}

pub(crate) fn chmod_at(dirfd: c_int, path: *const c_char, m: mode_t, flags: c_int) -> Res<c_int> {
    if flags & !(libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH) != 0 {
        return Err(libc::EINVAL);
    }
    // A file this process just made, given bits the disk can hold as they are: the real
    // chmod is all (no statx, no record).
    let plain = mode::on_disk(mode::IFREG | (m & 0o7777)) & 0o7777;
    let root = ids::UID.fs.load(Relaxed) == 0;
    if root && by_fd(flags, path) && plain == m & 0o7777 && fresh::still(dirfd) {
        match sys::fchmod(dirfd, plain) {
            Err(libc::EPERM) => {}
            r => return r.map(|()| 0),
        }
    }
    let seen = fake::see(dirfd, path, flags)?;
    let kind = u32::from(seen.stx.stx_mode) & mode::IFMT;
    if kind == mode::IFLNK {
        return Err(libc::EOPNOTSUPP); // symlinks have no mode of their own on Linux
    }
    let fsuid = ids::UID.fs.load(Relaxed);
    if fsuid != 0 && !fakebox_proto::ids::may_chmod(&fake::view(&seen.real)?, fsuid) {
        return Err(libc::EPERM);
    }
    let disk = mode::on_disk(kind | (m & 0o7777));
    let r = if by_fd(flags, path) { sys::fchmod(dirfd, disk) } else { sys::fchmodat(dirfd, path, disk) };
    let after = match r {
        Ok(()) => fakebox_proto::Real { mode: kind | (disk & 0o7777), ..seen.real },
        // A file the user does not own keeps its real mode; the session still sees the new one.
        Err(libc::EPERM) => seen.real,
        Err(e) => return Err(e),
    };
    // The disk has what it may; a record is needed only where the session's mode differs
    // from it (setuid bits, a mode without owner rights, a file not ours).
    if fake::view(&after)?.mode & 0o7777 != m & 0o7777 {
        fake::attrs(&Op::Chmod { real: after, mode: m & 0o7777 })?;
    }
    Ok(0)
}

/// Does the call name its file by descriptor alone (fchown, fchmod)? (A null path with
/// AT_EMPTY_PATH is an empty one, as recent kernels take it.)
fn by_fd(flags: c_int, path: *const c_char) -> bool {
    flags & libc::AT_EMPTY_PATH != 0 && (path.is_null() || sys::cstr_len(path) == 0)
}
