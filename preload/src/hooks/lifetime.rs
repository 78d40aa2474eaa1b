//! Inode lifetime: unlink, rmdir and rename over a file tell the daemon a link went away;
//! it forgets an inode whose last link did (docs/ARCHITECTURE.md, promise 7).
use crate::fake;
use crate::sys::{self, Res, ret};
use fakebox_proto::rules;
use libc::{c_char, c_int, c_uint};

pub unsafe fn unlink(path: *const c_char) -> c_int {
    ret(unlink_at(libc::AT_FDCWD, path, 0))
}

pub unsafe fn unlinkat(dirfd: c_int, path: *const c_char, flags: c_int) -> c_int {
    ret(unlink_at(dirfd, path, flags))
}

pub unsafe fn rmdir(path: *const c_char) -> c_int {
    ret(unlink_at(libc::AT_FDCWD, path, libc::AT_REMOVEDIR))
}

/// remove(3): unlink, or rmdir for a directory.
pub unsafe fn remove(path: *const c_char) -> c_int {
    ret(match unlink_at(libc::AT_FDCWD, path, 0) {
        Err(libc::EISDIR) => unlink_at(libc::AT_FDCWD, path, libc::AT_REMOVEDIR),
        r => r,
    })
}

fn unlink_at(dirfd: c_int, path: *const c_char, flags: c_int) -> Res<c_int> {
    let before = fake::see(dirfd, path, libc::AT_SYMLINK_NOFOLLOW).ok();
    sys::unlinkat(dirfd, path, flags)?;
    if let Some(seen) = before {
        fake::unlinked(&seen.real)?;
    }
    Ok(0)
}

pub unsafe fn rename(old: *const c_char, new: *const c_char) -> c_int {
    ret(rename_at(libc::AT_FDCWD, old, libc::AT_FDCWD, new, 0))
}

pub unsafe fn renameat(olddir: c_int, old: *const c_char, newdir: c_int, new: *const c_char) -> c_int {
    ret(rename_at(olddir, old, newdir, new, 0))
}

pub unsafe fn renameat2(olddir: c_int, old: *const c_char, newdir: c_int, new: *const c_char, flags: c_uint) -> c_int {
    ret(rename_at(olddir, old, newdir, new, flags))
}

/// A rename keeps the inode (the table is keyed by inode); only a file it replaces loses a link.
fn rename_at(olddir: c_int, old: *const c_char, newdir: c_int, new: *const c_char, flags: c_uint) -> Res<c_int> {
    let replaces = rules::rename_may_replace(flags);
    let target = if replaces { fake::see(newdir, new, libc::AT_SYMLINK_NOFOLLOW).ok() } else { None };
    let source = if target.is_some() { fake::see(olddir, old, libc::AT_SYMLINK_NOFOLLOW).ok() } else { None };
    sys::renameat2(olddir, old, newdir, new, flags)?;
    if let Some(t) = rules::rename_replaced(target.as_ref().map(|t| &t.real), source.as_ref().map(|s| &s.real)) {
        fake::unlinked(t)?;
    }
    Ok(0)
}
