//! Identity: the session's uid, gids and groups (docs/ARCHITECTURE.md, promise 1), changed by the kernel's
//! rules for root and never for real; access checks answer as that identity would.
use crate::fake;
use crate::ids::{self, GID, UID};
use crate::sys::{self, Res, ret};
use core::sync::atomic::Ordering::Relaxed;
use libc::{c_char, c_int, gid_t, uid_t};

pub unsafe fn getuid() -> uid_t {
    UID.r.load(Relaxed)
}
pub unsafe fn geteuid() -> uid_t {
    UID.e.load(Relaxed)
}
pub unsafe fn getgid() -> gid_t {
    GID.r.load(Relaxed)
}
pub unsafe fn getegid() -> gid_t {
    GID.e.load(Relaxed)
}

fn write3(set: &ids::Set, r: *mut u32, e: *mut u32, s: *mut u32) -> c_int {
    if r.is_null() || e.is_null() || s.is_null() {
        sys::set_errno(libc::EFAULT);
        return -1;
    }
    // SAFETY: the caller's pointers, checked non-null.
    unsafe {
        *r = set.r.load(Relaxed);
        *e = set.e.load(Relaxed);
        *s = set.s.load(Relaxed);
    }
    0
}

pub unsafe fn getresuid(r: *mut uid_t, e: *mut uid_t, s: *mut uid_t) -> c_int {
    write3(&UID, r, e, s)
}
pub unsafe fn getresgid(r: *mut gid_t, e: *mut gid_t, s: *mut gid_t) -> c_int {
    write3(&GID, r, e, s)
}

fn zero(r: Result<(), c_int>) -> c_int {
    ret(r.map(|()| 0))
}

pub unsafe fn setuid(u: uid_t) -> c_int {
    zero(ids::change(&UID, |c, p| c.set(u, p)))
}
pub unsafe fn setgid(g: gid_t) -> c_int {
    zero(ids::change(&GID, |c, p| c.set(g, p)))
}
pub unsafe fn seteuid(u: uid_t) -> c_int {
    zero(ids::change(&UID, |c, p| c.set_e(u, p)))
}
pub unsafe fn setegid(g: gid_t) -> c_int {
    zero(ids::change(&GID, |c, p| c.set_e(g, p)))
}
pub unsafe fn setreuid(r: uid_t, e: uid_t) -> c_int {
    zero(ids::change(&UID, |c, p| c.set_re(r, e, p)))
}
pub unsafe fn setregid(r: gid_t, e: gid_t) -> c_int {
    zero(ids::change(&GID, |c, p| c.set_re(r, e, p)))
}
pub unsafe fn setresuid(r: uid_t, e: uid_t, s: uid_t) -> c_int {
    zero(ids::change(&UID, |c, p| c.set_res(r, e, s, p)))
}
pub unsafe fn setresgid(r: gid_t, e: gid_t, s: gid_t) -> c_int {
    zero(ids::change(&GID, |c, p| c.set_res(r, e, s, p)))
}
pub unsafe fn setfsuid(u: uid_t) -> c_int {
    ids::change(&UID, |c, p| c.set_fs(u, p)) as c_int
}
pub unsafe fn setfsgid(g: gid_t) -> c_int {
    ids::change(&GID, |c, p| c.set_fs(g, p)) as c_int
}

pub unsafe fn getgroups(size: c_int, list: *mut gid_t) -> c_int {
    let n = ids::ngroups();
    if size == 0 {
        return n as c_int;
    }
    if size < 0 || (size as usize) < n || list.is_null() {
        sys::set_errno(libc::EINVAL);
        return -1;
    }
    for (i, g) in ids::groups().enumerate() {
        // SAFETY: the caller's array holds `size` >= n entries.
        unsafe { *list.add(i) = g };
    }
    n as c_int
}

pub unsafe fn setgroups(size: libc::size_t, list: *const gid_t) -> c_int {
    if size > 0 && list.is_null() {
        sys::set_errno(libc::EFAULT);
        return -1;
    }
    let list = if size == 0 { &[][..] } else { unsafe { core::slice::from_raw_parts(list, size) } };
    zero(ids::set_groups(list))
}

next!(real_getgrouplist = c"getgrouplist": unsafe extern "C" fn(*const c_char, gid_t, *mut gid_t, *mut c_int) -> c_int);

/// initgroups: the user's groups from the group database, set as setgroups would.
pub unsafe fn initgroups(user: *const c_char, group: gid_t) -> c_int {
    let Some(real) = real_getgrouplist() else {
        sys::set_errno(libc::ENOSYS);
        return -1;
    };
    let mut list = [0 as gid_t; ids::MAX_GROUPS];
    let mut n = list.len() as c_int;
    // SAFETY: a buffer of n entries.
    if unsafe { real(user, group, list.as_mut_ptr(), &mut n) } < 0 {
        n = list.len() as c_int; // more groups than we keep: the first MAX_GROUPS
    }
    zero(ids::set_groups(&list[..n.max(0) as usize]))
}

/// capset succeeds: a root process may drop or raise what it likes.
pub unsafe fn capset(_hdr: *mut libc::c_void, _data: *const libc::c_void) -> c_int {
    0
}

// access family: answer as the fake identity would, from the session's owner and mode.

pub unsafe fn access(path: *const c_char, how: c_int) -> c_int {
    ret(access_at(libc::AT_FDCWD, path, how, 0))
}
pub unsafe fn faccessat(dirfd: c_int, path: *const c_char, how: c_int, flags: c_int) -> c_int {
    ret(access_at(dirfd, path, how, flags))
}
pub unsafe fn euidaccess(path: *const c_char, how: c_int) -> c_int {
    ret(access_at(libc::AT_FDCWD, path, how, libc::AT_EACCESS))
}
pub unsafe fn eaccess(path: *const c_char, how: c_int) -> c_int {
    ret(access_at(libc::AT_FDCWD, path, how, libc::AT_EACCESS))
}

fn access_at(dirfd: c_int, path: *const c_char, how: c_int, flags: c_int) -> Res<c_int> {
    if how & !(libc::R_OK | libc::W_OK | libc::X_OK) != 0 {
        return Err(libc::EINVAL);
    }
    let seen = fake::see(dirfd, path, flags & (libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH))?;
    if how == libc::F_OK {
        return Ok(0);
    }
    if how & libc::W_OK != 0 {
        // A read-only filesystem refuses even root.
        if let Err(libc::EROFS) =
            sys::faccessat2(dirfd, path, libc::W_OK, flags & (libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH))
        {
            return Err(libc::EROFS);
        }
    }
    let f = fake::view(&seen.real)?;
    let (uid, gid) = if flags & libc::AT_EACCESS != 0 {
        (UID.e.load(Relaxed), GID.e.load(Relaxed))
    } else {
        (UID.r.load(Relaxed), GID.r.load(Relaxed))
    };
    let ok = fakebox_proto::ids::may_access(&f, uid, |g| g == gid || ids::in_group(g), how as u32);
    if ok { Ok(0) } else { Err(libc::EACCES) }
}
