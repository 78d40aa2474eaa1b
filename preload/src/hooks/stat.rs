//! stat family: every stat-like call reports the session's owner, group, mode and device.
//! All of them go through one real `statx` (which also yields the birth time the daemon
//! uses to spot reused inode numbers) and one lookup.
use crate::fake;
use crate::sys::{Res, ret};
use libc::{c_char, c_int, c_uint};

type Stat = libc::stat;

pub unsafe fn stat(path: *const c_char, st: *mut Stat) -> c_int {
    ret(fake::stat_at(libc::AT_FDCWD, path, st, 0).map(|()| 0))
}

pub unsafe fn lstat(path: *const c_char, st: *mut Stat) -> c_int {
    ret(fake::stat_at(libc::AT_FDCWD, path, st, libc::AT_SYMLINK_NOFOLLOW).map(|()| 0))
}

pub unsafe fn fstat(fd: c_int, st: *mut Stat) -> c_int {
    ret(fake::stat_at(fd, c"".as_ptr(), st, libc::AT_EMPTY_PATH).map(|()| 0))
}

pub unsafe fn fstatat(dirfd: c_int, path: *const c_char, st: *mut Stat, flags: c_int) -> c_int {
    ret(fake::stat_at(dirfd, path, st, flags).map(|()| 0))
}

/// statx: the real answer, with the session's owner, group, mode and device over it.
pub unsafe fn statx(dirfd: c_int, path: *const c_char, flags: c_int, mask: c_uint, out: *mut libc::statx) -> c_int {
    ret(statx_faked(dirfd, path, flags, mask, out).map(|()| 0))
}

fn statx_faked(dirfd: c_int, path: *const c_char, flags: c_int, mask: c_uint, out: *mut libc::statx) -> Res<()> {
    if out.is_null() {
        return Err(libc::EFAULT);
    }
    // SAFETY: the caller's buffer, checked non-null.
    let out = unsafe { &mut *out };
    crate::sys::statx(dirfd, path, flags, out)?;
    let _ = mask; // the kernel fills the basic fields whatever was asked; so do we
    let f = fake::view(&fake::real_of(out))?;
    fake::patch_statx(out, &f);
    Ok(())
}

// The pre-2.33 entry points (binaries built against older glibc): `ver` is the struct
// version, 1 (_STAT_VER_LINUX) on x86_64, whose struct stat is the one above.
fn check_ver(ver: c_int) -> Res<()> {
    if ver == 0 || ver == 1 { Ok(()) } else { Err(libc::EINVAL) }
}

pub unsafe fn __xstat(ver: c_int, path: *const c_char, st: *mut Stat) -> c_int {
    ret(check_ver(ver).and_then(|()| fake::stat_at(libc::AT_FDCWD, path, st, 0)).map(|()| 0))
}

pub unsafe fn __lxstat(ver: c_int, path: *const c_char, st: *mut Stat) -> c_int {
    ret(check_ver(ver).and_then(|()| fake::stat_at(libc::AT_FDCWD, path, st, libc::AT_SYMLINK_NOFOLLOW)).map(|()| 0))
}

pub unsafe fn __fxstat(ver: c_int, fd: c_int, st: *mut Stat) -> c_int {
    ret(check_ver(ver).and_then(|()| fake::stat_at(fd, c"".as_ptr(), st, libc::AT_EMPTY_PATH)).map(|()| 0))
}

pub unsafe fn __fxstatat(ver: c_int, dirfd: c_int, path: *const c_char, st: *mut Stat, flags: c_int) -> c_int {
    ret(check_ver(ver).and_then(|()| fake::stat_at(dirfd, path, st, flags)).map(|()| 0))
}

// The 64 forms: the same struct on x86_64.
pub use self::{__fxstat as __fxstat64, __fxstatat as __fxstatat64, __lxstat as __lxstat64, __xstat as __xstat64};
pub use self::{fstat as fstat64, fstatat as fstatat64, lstat as lstat64, stat as stat64};
