//! Extended attributes. Names an ordinary user may not set for real (`security.*`,
//! `trusted.*`) are kept by the daemon and read back; `user.*` and `system.*` (ACLs) are
//! the file's own. Lists merge both.
use crate::client;
use crate::fake::{self, Seen};
use crate::sys::{self, Res, Scratch};
use fakebox_proto::{Op, Reply};
use libc::{c_char, c_int, c_void, size_t, ssize_t};

/// How the file is named: a path (following symlinks or not) or an fd.
#[derive(Clone, Copy)]
enum Target {
    Path(*const c_char),
    LPath(*const c_char),
    Fd(c_int),
}

impl Target {
    /// The (dirfd, path, flags) triple the *at calls take.
    fn at(self) -> (c_int, *const c_char, c_int) {
        match self {
            Target::Path(p) => (libc::AT_FDCWD, p, 0),
            Target::LPath(p) => (libc::AT_FDCWD, p, libc::AT_SYMLINK_NOFOLLOW),
            Target::Fd(fd) => (fd, c"".as_ptr(), libc::AT_EMPTY_PATH),
        }
    }

    fn see(self) -> Res<Seen> {
        match self {
            Target::Path(p) => fake::see(libc::AT_FDCWD, p, 0),
            Target::LPath(p) => fake::see(libc::AT_FDCWD, p, libc::AT_SYMLINK_NOFOLLOW),
            Target::Fd(fd) => fake::see_fd(fd),
        }
    }

    /// The real system call for this target; `nr` picks the path, lpath or fd number.
    fn syscall(self, nrs: [libc::c_long; 3], a: usize, b: usize, c: usize, d: usize) -> Res<usize> {
        let (nr, first) = match self {
            Target::Path(p) => (nrs[0], p as usize),
            Target::LPath(p) => (nrs[1], p as usize),
            Target::Fd(fd) => (nrs[2], fd as usize),
        };
        sys::syscall6(nr, [first, a, b, c, d, 0])
    }
}

fn is_faked(name: *const c_char) -> bool {
    fakebox_proto::rules::is_faked_xattr(sys::cstr(name))
}

fn name_str<'a>(name: *const c_char) -> Res<&'a str> {
    core::str::from_utf8(sys::cstr(name)).map_err(|_| libc::EINVAL)
}

const SET: [libc::c_long; 3] = [libc::SYS_setxattr, libc::SYS_lsetxattr, libc::SYS_fsetxattr];
const GET: [libc::c_long; 3] = [libc::SYS_getxattr, libc::SYS_lgetxattr, libc::SYS_fgetxattr];
const LIST: [libc::c_long; 3] = [libc::SYS_listxattr, libc::SYS_llistxattr, libc::SYS_flistxattr];
const REMOVE: [libc::c_long; 3] = [libc::SYS_removexattr, libc::SYS_lremovexattr, libc::SYS_fremovexattr];

/// Room for any request or reply: a 64 KiB value plus its name and framing.
const SCRATCH: usize = fakebox_proto::wire::MAX_FRAME + 4;

fn ask<T>(op: &Op<'_>, then: impl FnOnce(Reply<'_>) -> Res<T>) -> Res<T> {
    let mut req = Scratch::new(SCRATCH)?;
    let mut rep = Scratch::new(SCRATCH)?;
    let r = client::ask(op, req.bytes(), rep.bytes())?;
    then(r)
}

fn set(t: Target, name: *const c_char, value: *const c_void, size: size_t, flags: c_int) -> Res<ssize_t> {
    if sys::cstr(name) == fakebox_proto::rules::ACL_ACCESS && size > 0 {
        // SAFETY: the caller's value of `size` bytes.
        let v = unsafe { core::slice::from_raw_parts(value as *const u8, size) };
        if let Some(perm) = fakebox_proto::inode::acl_equiv_mode(v) {
            // A minimal ACL is a mode: chmod, keeping the setuid, setgid and sticky bits.
            let seen = t.see()?;
            let special = fake::view(&seen.real)?.mode & 0o7000;
            let (dirfd, path, flags) = t.at();
            return super::owner::chmod_at(dirfd, path, special | perm, flags).map(|_| 0);
        }
    }
    if !is_faked(name) {
        return t.syscall(SET, name as usize, value as usize, size, flags as usize).map(|_| 0);
    }
    let seen = t.see()?;
    // SAFETY: the caller's value of `size` bytes (none read when `size` is 0).
    let value: &[u8] = if size == 0 { &[] } else { unsafe { core::slice::from_raw_parts(value as *const u8, size) } };
    let op = Op::SetXattr { real: seen.real, name: name_str(name)?, value, flags };
    ask(&op, |r| match r {
        Reply::Done => Ok(0),
        Reply::Errno(e) => Err(e),
        _ => Err(libc::EPROTO),
    })
}

fn get(t: Target, name: *const c_char, value: *mut c_void, size: size_t) -> Res<ssize_t> {
    // ls -l reads security.selinux of every file: with nothing recorded, the file's own.
    if !is_faked(name) || fake::no_xattrs_anywhere() {
        return t.syscall(GET, name as usize, value as usize, size, 0).map(|n| n as ssize_t);
    }
    let seen = t.see()?;
    let op = Op::GetXattr { real: seen.real, name: name_str(name)? };
    let faked = if !fake::may_have_xattrs(&seen.real) {
        Err(libc::ENODATA)
    } else {
        ask(&op, |r| match r {
            Reply::Bytes(b) => {
                if size == 0 {
                    return Ok(b.len());
                }
                if b.len() > size {
                    return Err(libc::ERANGE);
                }
                // SAFETY: the caller's buffer holds `size` bytes.
                unsafe { core::ptr::copy_nonoverlapping(b.as_ptr(), value as *mut u8, b.len()) };
                Ok(b.len())
            }
            Reply::Errno(e) => Err(e),
            _ => Err(libc::EPROTO),
        })
    };
    match faked {
        // Not recorded: the file's own value, if any (SELinux labels and the like).
        Err(libc::ENODATA) => t.syscall(GET, name as usize, value as usize, size, 0).map(|n| n as ssize_t),
        r => r.map(|n| n as ssize_t),
    }
}

fn list(t: Target, out: *mut c_char, size: size_t) -> Res<ssize_t> {
    if fake::no_xattrs_anywhere() {
        return t.syscall(LIST, out as usize, size, 0, 0).map(|n| n as ssize_t);
    }
    let seen = t.see()?;
    let mut real = Scratch::new(SCRATCH)?;
    let n = t.syscall(LIST, real.ptr as usize, real.len, 0, 0)?;
    let own = &real.bytes()[..n];
    if !fake::may_have_xattrs(&seen.real) {
        return give_list(own, &[], out, size);
    }
    ask(&Op::ListXattr { real: seen.real }, |r| {
        let Reply::Bytes(faked) = r else { return Err(libc::EPROTO) };
        give_list(own, faked, out, size)
    })
}

/// The names the file has for real, then the recorded names it lacks, as listxattr
/// returns them (size 0 asks for the length).
fn give_list(own: &[u8], faked: &[u8], out: *mut c_char, size: size_t) -> Res<ssize_t> {
    {
        // Names the file has for real come first; recorded names it lacks follow.
        let mut total = own.len();
        let extra = faked.split(|&b| b == 0).filter(|n| !n.is_empty() && !own.split(|&b| b == 0).any(|o| o == *n));
        for name in extra.clone() {
            total += name.len() + 1;
        }
        // As the kernel, which never lists more than this for one file.
        if total > fakebox_proto::op::XATTR_LIST_MAX {
            return Err(libc::E2BIG);
        }
        if size == 0 {
            return Ok(total as ssize_t);
        }
        if total > size {
            return Err(libc::ERANGE);
        }
        // SAFETY: the caller's buffer holds `size` >= `total` bytes.
        let dst = unsafe { core::slice::from_raw_parts_mut(out as *mut u8, size) };
        dst[..own.len()].copy_from_slice(own);
        let mut at = own.len();
        for name in extra {
            dst[at..at + name.len()].copy_from_slice(name);
            dst[at + name.len()] = 0;
            at += name.len() + 1;
        }
        Ok(total as ssize_t)
    }
}

fn remove(t: Target, name: *const c_char) -> Res<ssize_t> {
    if !is_faked(name) {
        return t.syscall(REMOVE, name as usize, 0, 0, 0).map(|_| 0);
    }
    let seen = t.see()?;
    let op = Op::RemoveXattr { real: seen.real, name: name_str(name)? };
    match ask(&op, |r| match r {
        Reply::Done => Ok(0),
        Reply::Errno(e) => Err(e),
        _ => Err(libc::EPROTO),
    }) {
        Err(libc::ENODATA) => t.syscall(REMOVE, name as usize, 0, 0, 0).map(|_| 0),
        r => r,
    }
}

fn ret_size(r: Res<ssize_t>) -> ssize_t {
    match r {
        Ok(n) => n,
        Err(e) => {
            sys::set_errno(e);
            -1
        }
    }
}

fn ret_int(r: Res<ssize_t>) -> c_int {
    ret_size(r) as c_int
}

pub unsafe fn setxattr(p: *const c_char, n: *const c_char, v: *const c_void, s: size_t, f: c_int) -> c_int {
    ret_int(set(Target::Path(p), n, v, s, f))
}
pub unsafe fn lsetxattr(p: *const c_char, n: *const c_char, v: *const c_void, s: size_t, f: c_int) -> c_int {
    ret_int(set(Target::LPath(p), n, v, s, f))
}
pub unsafe fn fsetxattr(fd: c_int, n: *const c_char, v: *const c_void, s: size_t, f: c_int) -> c_int {
    ret_int(set(Target::Fd(fd), n, v, s, f))
}
pub unsafe fn getxattr(p: *const c_char, n: *const c_char, v: *mut c_void, s: size_t) -> ssize_t {
    ret_size(get(Target::Path(p), n, v, s))
}
pub unsafe fn lgetxattr(p: *const c_char, n: *const c_char, v: *mut c_void, s: size_t) -> ssize_t {
    ret_size(get(Target::LPath(p), n, v, s))
}
pub unsafe fn fgetxattr(fd: c_int, n: *const c_char, v: *mut c_void, s: size_t) -> ssize_t {
    ret_size(get(Target::Fd(fd), n, v, s))
}
pub unsafe fn listxattr(p: *const c_char, l: *mut c_char, s: size_t) -> ssize_t {
    ret_size(list(Target::Path(p), l, s))
}
pub unsafe fn llistxattr(p: *const c_char, l: *mut c_char, s: size_t) -> ssize_t {
    ret_size(list(Target::LPath(p), l, s))
}
pub unsafe fn flistxattr(fd: c_int, l: *mut c_char, s: size_t) -> ssize_t {
    ret_size(list(Target::Fd(fd), l, s))
}
pub unsafe fn removexattr(p: *const c_char, n: *const c_char) -> c_int {
    ret_int(remove(Target::Path(p), n))
}
pub unsafe fn lremovexattr(p: *const c_char, n: *const c_char) -> c_int {
    ret_int(remove(Target::LPath(p), n))
}
pub unsafe fn fremovexattr(fd: c_int, n: *const c_char) -> c_int {
    ret_int(remove(Target::Fd(fd), n))
}
