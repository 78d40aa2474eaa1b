//! File descriptors: the session's sockets survive programs that close or dup2 over every
//! descriptor (daemons, test harnesses, `closefrom`). Closing one of them is a no-op the
//! program cannot tell from success; dup2 over one takes the number and the library
//! connects afresh elsewhere.
//!
//! Every way a descriptor number stops holding what it held also drops its `fresh` mark;
//! fclose, fcloseall and closedir close inside glibc, out of the library's sight, so they
//! drop them all.
use crate::client;
use crate::fresh;
use crate::sys::{self, ret};
use libc::{FILE, c_int, c_uint, c_void};

pub unsafe fn close(fd: c_int) -> c_int {
    fresh::forget(fd);
    if client::is_ours(fd) {
        return 0;
    }
    ret(sys::close(fd).map(|()| 0))
}

pub unsafe fn dup2(old: c_int, new: c_int) -> c_int {
    fresh::forget(new);
    if old == new {
        // dup2(fd, fd) only checks that fd is open.
        return ret(sys::fcntl_getfd(old).map(|_| new));
    }
    if client::is_ours(new) {
        client::surrender(new);
    }
    ret(sys::dup3(old, new, 0))
}

pub unsafe fn dup3(old: c_int, new: c_int, flags: c_int) -> c_int {
    fresh::forget(new);
    if client::is_ours(new) {
        client::surrender(new);
    }
    ret(sys::dup3(old, new, flags))
}

/// close_range: close the range around the session's sockets.
pub unsafe fn close_range(first: c_uint, last: c_uint, flags: c_int) -> c_int {
    fresh::forget_range(first, last);
    ret(close_around(first, last, flags as c_uint).map(|()| 0))
}

/// closefrom(3): close everything from `low` up, except the session's sockets; one by
/// one where close_range is refused (a kernel before 5.9, a seccomp profile), as glibc's
/// own closefrom does.
pub unsafe fn closefrom(low: c_int) {
    let low = low.max(0) as c_uint;
    fresh::forget_range(low, c_uint::MAX);
    if close_around(low, c_uint::MAX, 0).is_err() {
        close_each_from(low);
    }
}

/// Closes every open descriptor from `low` up but the session's, as /proc/self/fd lists
/// them (read again from the start while a pass closed any, since closing changes the
/// listing), or, without /proc, every number up to the descriptor limit.
fn close_each_from(low: c_uint) {
    let Ok(dir) =
        sys::openat(libc::AT_FDCWD, c"/proc/self/fd".as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC, 0)
    else {
        let limit = sys::nofile_limit().unwrap_or(1024).min(1 << 20) as c_uint;
        for fd in low..limit {
            if !client::is_ours(fd as c_int) {
                let _ = sys::close(fd as c_int);
            }
        }
        return;
    };
    let mut buf = [0u8; 1024];
    loop {
        let mut closed = false;
        if sys::rewind(dir).is_err() {
            break;
        }
        while let Ok(n) = sys::getdents64(dir, &mut buf) {
            if n == 0 {
                break;
            }
            let mut at = 0;
            // struct linux_dirent64: ino (8), off (8), reclen (2), type (1), name.
            while at + 19 < n {
                let reclen = u16::from_ne_bytes([buf[at + 16], buf[at + 17]]) as usize;
                if reclen == 0 {
                    break;
                }
                let name = &buf[at + 19..(at + reclen).min(n)];
                let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
                if let Some(fd) = fd_number(name)
                    && fd >= low
                    && fd as c_int != dir
                    && !client::is_ours(fd as c_int)
                {
                    let _ = sys::close(fd as c_int);
                    closed = true;
                }
                at += reclen;
            }
        }
        if !closed {
            break;
        }
    }
    let _ = sys::close(dir);
}

/// A descriptor number as /proc/self/fd names it ("." and ".." are none).
fn fd_number(name: &[u8]) -> Option<c_uint> {
    if name.is_empty() || name.len() > 10 {
        return None;
    }
    name.iter()
        .try_fold(0u64, |v, &b| b.is_ascii_digit().then(|| v * 10 + u64::from(b - b'0')))
        .and_then(|v| c_uint::try_from(v).ok())
}

next!(real_fclose = c"fclose": unsafe extern "C" fn(*mut FILE) -> c_int);
next!(real_fcloseall = c"fcloseall": unsafe extern "C" fn() -> c_int);
next!(real_closedir = c"closedir": unsafe extern "C" fn(*mut c_void) -> c_int);

pub unsafe fn fclose(f: *mut FILE) -> c_int {
    fresh::forget_all();
    let Some(real) = real_fclose() else { return ret(Err(libc::ENOSYS)) };
    // SAFETY: the caller's stream, forwarded.
    unsafe { real(f) }
}

pub unsafe fn fcloseall() -> c_int {
    fresh::forget_all();
    let Some(real) = real_fcloseall() else { return ret(Err(libc::ENOSYS)) };
    // SAFETY: no arguments.
    unsafe { real() }
}

pub unsafe fn closedir(d: *mut c_void) -> c_int {
    fresh::forget_all();
    let Some(real) = real_closedir() else { return ret(Err(libc::ENOSYS)) };
    // SAFETY: the caller's directory stream, forwarded.
    unsafe { real(d) }
}

fn close_around(first: c_uint, last: c_uint, flags: c_uint) -> Result<(), c_int> {
    if first > last {
        return Err(libc::EINVAL);
    }
    let mut start = first;
    // The few session fds, in ascending order, split the range.
    let mut ours = [c_int::MAX; 8];
    let mut n = 0;
    for fd in first..=last.min(first.saturating_add(4096)) {
        if n < ours.len() && client::is_ours(fd as c_int) {
            ours[n] = fd as c_int;
            n += 1;
        }
        if fd == c_uint::MAX {
            break;
        }
    }
    for &fd in &ours[..n] {
        let fd = fd as c_uint;
        if fd > start {
            sys::close_range(start, fd - 1, flags)?;
        }
        start = fd + 1;
    }
    if start <= last { sys::close_range(start, last, flags) } else { Ok(()) }
}
