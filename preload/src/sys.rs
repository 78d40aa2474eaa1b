//! Raw system calls. The library never calls libc's wrapper of a function it hooks (that
//! would re-enter its own hook); it calls the kernel.
use libc::{c_char, c_int, c_long, c_uint};

pub type Res<T> = Result<T, c_int>;

#[inline]
pub fn errno() -> c_int {
    // SAFETY: glibc's errno location is always valid for the calling thread.
    unsafe { *libc::__errno_location() }
}

#[inline]
pub fn set_errno(e: c_int) {
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = e };
}

#[inline]
fn check(r: c_long) -> Res<c_long> {
    if r < 0 { Err(errno()) } else { Ok(r) }
}

/// Converts a result into the C convention: the value, or -1 with errno set.
#[inline]
pub fn ret(r: Res<c_int>) -> c_int {
    match r {
        Ok(v) => v,
        Err(e) => {
            set_errno(e);
            -1
        }
    }
}

macro_rules! syscall {
    ($nr:expr $(, $a:expr)*) => {
        // SAFETY: a raw system call; the kernel validates every argument.
        check(unsafe { libc::syscall($nr $(, $a)*) })
    };
}

pub fn getpid() -> i32 {
    // SAFETY: getpid cannot fail.
    unsafe { libc::syscall(libc::SYS_getpid) as i32 }
}

pub fn statx(dirfd: c_int, path: *const c_char, flags: c_int, buf: &mut libc::statx) -> Res<()> {
    let mask = fakebox_proto::kernel::STATX_MASK;
    syscall!(libc::SYS_statx, dirfd, path, flags, mask, buf as *mut libc::statx).map(drop)
}

pub fn openat(dirfd: c_int, path: *const c_char, flags: c_int, mode: c_uint) -> Res<c_int> {
    syscall!(libc::SYS_openat, dirfd, path, flags, mode).map(|fd| fd as c_int)
}

pub fn close(fd: c_int) -> Res<()> {
    syscall!(libc::SYS_close, fd).map(drop)
}

pub fn mkdirat(dirfd: c_int, path: *const c_char, mode: c_uint) -> Res<()> {
    syscall!(libc::SYS_mkdirat, dirfd, path, mode).map(drop)
}

pub fn mknodat(dirfd: c_int, path: *const c_char, mode: c_uint, dev: u64) -> Res<()> {
    syscall!(libc::SYS_mknodat, dirfd, path, mode, dev).map(drop)
}

pub fn symlinkat(target: *const c_char, dirfd: c_int, path: *const c_char) -> Res<()> {
    syscall!(libc::SYS_symlinkat, target, dirfd, path).map(drop)
}

pub fn unlinkat(dirfd: c_int, path: *const c_char, flags: c_int) -> Res<()> {
    syscall!(libc::SYS_unlinkat, dirfd, path, flags).map(drop)
}

pub fn renameat2(olddir: c_int, old: *const c_char, newdir: c_int, new: *const c_char, flags: c_uint) -> Res<()> {
    syscall!(libc::SYS_renameat2, olddir, old, newdir, new, flags).map(drop)
}

pub fn fchmodat(dirfd: c_int, path: *const c_char, mode: c_uint) -> Res<()> {
    syscall!(libc::SYS_fchmodat, dirfd, path, mode).map(drop)
}

pub fn fchmod(fd: c_int, mode: c_uint) -> Res<()> {
    syscall!(libc::SYS_fchmod, fd, mode).map(drop)
}

pub fn faccessat2(dirfd: c_int, path: *const c_char, mode: c_int, flags: c_int) -> Res<()> {
    syscall!(libc::SYS_faccessat2, dirfd, path, mode, flags).map(drop)
}

pub fn dup3(old: c_int, new: c_int, flags: c_int) -> Res<c_int> {
    syscall!(libc::SYS_dup3, old, new, flags).map(|fd| fd as c_int)
}

pub fn close_range(first: c_uint, last: c_uint, flags: c_uint) -> Res<()> {
    syscall!(libc::SYS_close_range, first, last, flags).map(drop)
}

pub fn fcntl_dupfd_cloexec(fd: c_int, min: c_int) -> Res<c_int> {
    syscall!(libc::SYS_fcntl, fd, libc::F_DUPFD_CLOEXEC, min).map(|fd| fd as c_int)
}

pub fn write(fd: c_int, buf: &[u8]) -> Res<usize> {
    syscall!(libc::SYS_write, fd, buf.as_ptr(), buf.len()).map(|n| n as usize)
}

pub fn execve(path: *const c_char, argv: *const *const c_char, envp: *const *const c_char) -> Res<()> {
    syscall!(libc::SYS_execve, path, argv, envp).map(drop)
}

pub fn execveat(
    dirfd: c_int,
    path: *const c_char,
    argv: *const *const c_char,
    envp: *const *const c_char,
    flags: c_int,
) -> Res<()> {
    syscall!(libc::SYS_execveat, dirfd, path, argv, envp, flags).map(drop)
}

pub fn pread(fd: c_int, buf: &mut [u8], off: u64) -> Res<usize> {
    syscall!(libc::SYS_pread64, fd, buf.as_mut_ptr(), buf.len(), off).map(|n| n as usize)
}

/// An anonymous private mapping of `len` bytes, for the rare buffers too big for a stack.
pub struct Scratch {
    pub ptr: *mut u8,
    pub len: usize,
}

impl Scratch {
    pub fn new(len: usize) -> Res<Scratch> {
        // SAFETY: a fresh anonymous mapping.
        let p = unsafe {
            libc::syscall(
                libc::SYS_mmap,
                0usize,
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0usize,
            )
        };
        check(p).map(|p| Scratch { ptr: p as *mut u8, len })
    }

    pub fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: the mapping is ours and `len` long.
        unsafe { core::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // SAFETY: unmapping our own mapping.
        unsafe { libc::syscall(libc::SYS_munmap, self.ptr, self.len) };
    }
}

/// The length of a NUL-terminated string.
pub fn cstr_len(s: *const c_char) -> usize {
    // SAFETY: callers pass C strings they received from the program.
    unsafe { libc::strlen(s) }
}

/// A NUL-terminated string as bytes (without the NUL).
pub fn cstr<'a>(s: *const c_char) -> &'a [u8] {
    // SAFETY: as above.
    unsafe { core::slice::from_raw_parts(s as *const u8, cstr_len(s)) }
}

pub fn fcntl_getfd(fd: c_int) -> Res<c_int> {
    syscall!(libc::SYS_fcntl, fd, libc::F_GETFD).map(|r| r as c_int)
}
