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

/// A system call's return: the kernel's -4095..-1 are error numbers.
#[inline]
fn check(r: c_long) -> Res<c_long> {
    if (-4095..0).contains(&r) { Err(-r as c_int) } else { Ok(r) }
}

/// One system call with up to six argument words, made with the `syscall` instruction
/// rather than through libc's syscall(): the program's errno stays untouched (a hook sets
/// it only for the result it returns), and a forked child on its way to exec does not
/// fault in the page of libc's code that holds the wrapper.
#[cfg(target_arch = "x86_64")]
#[inline]
pub unsafe fn raw(nr: c_long, a: [usize; 6]) -> c_long {
    let r: c_long;
    // SAFETY: the caller's system call; the kernel clobbers rcx and r11 and nothing else.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") nr => r,
            in("rdi") a[0], in("rsi") a[1], in("rdx") a[2], in("r10") a[3], in("r8") a[4], in("r9") a[5],
            lateout("rcx") _, lateout("r11") _,
            options(nostack),
        );
    }
    r
}

/// Elsewhere, libc's syscall(), its -1 and errno turned into the kernel's convention.
#[cfg(not(target_arch = "x86_64"))]
#[inline]
pub unsafe fn raw(nr: c_long, a: [usize; 6]) -> c_long {
    // SAFETY: as above.
    let r = unsafe { libc::syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]) };
    if r == -1 { -(errno() as c_long) } else { r }
}

/// A system call argument, as the register word the kernel reads (an int sign-extended,
/// as the C calling convention leaves it for a variadic call).
pub trait Word {
    fn word(self) -> usize;
}

macro_rules! words {
    ($($t:ty),*) => { $(impl Word for $t { #[inline] fn word(self) -> usize { self as usize } })* };
}
words!(u32, u64, usize, i64, isize);

impl Word for i32 {
    #[inline]
    fn word(self) -> usize {
        self as isize as usize
    }
}

impl<T> Word for *const T {
    #[inline]
    fn word(self) -> usize {
        self as usize
    }
}

impl<T> Word for *mut T {
    #[inline]
    fn word(self) -> usize {
        self as usize
    }
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
    ($nr:expr $(, $a:expr)*) => {{
        let mut words = [0usize; 6];
        let mut _i = 0;
        $( words[_i] = Word::word($a); _i += 1; )*
        // SAFETY: a raw system call; the kernel validates every argument.
        check(unsafe { raw($nr, words) })
    }};
}

/// A system call with arguments already in words (for callers that pick the call).
pub fn syscall6(nr: c_long, a: [usize; 6]) -> Res<usize> {
    // SAFETY: as in syscall!.
    check(unsafe { raw(nr, a) }).map(|r| r as usize)
}

pub fn getpid() -> i32 {
    // SAFETY: getpid cannot fail.
    unsafe { raw(libc::SYS_getpid, [0; 6]) as i32 }
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

pub fn faccessat(dirfd: c_int, path: *const c_char, mode: c_int) -> Res<()> {
    syscall!(libc::SYS_faccessat, dirfd, path, mode).map(drop)
}

/// Does the file open at `fd` carry the attribute `name` (its size, not its value)?
pub fn fgetxattr_size(fd: c_int, name: &core::ffi::CStr) -> Res<usize> {
    syscall!(libc::SYS_fgetxattr, fd, name.as_ptr(), 0usize, 0usize).map(|n| n as usize)
}

/// A copy of `fd` at `min` or above that survives exec (no FD_CLOEXEC).
pub fn fcntl_dupfd(fd: c_int, min: c_int) -> Res<c_int> {
    syscall!(libc::SYS_fcntl, fd, libc::F_DUPFD, min).map(|fd| fd as c_int)
}

pub fn dup3(old: c_int, new: c_int, flags: c_int) -> Res<c_int> {
    syscall!(libc::SYS_dup3, old, new, flags).map(|fd| fd as c_int)
}

pub fn close_range(first: c_uint, last: c_uint, flags: c_uint) -> Res<()> {
    syscall!(libc::SYS_close_range, first, last, flags).map(drop)
}

/// What `fd` refers to: (device, inode) of the open file.
pub fn fd_identity(fd: c_int) -> Res<(u64, u64)> {
    // SAFETY: plain data; all-zero is valid.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    syscall!(libc::SYS_fstat, fd, &mut st as *mut libc::stat).map(|_| (st.st_dev, st.st_ino))
}

/// The soft limit on descriptor numbers (RLIMIT_NOFILE), if the kernel says.
pub fn nofile_limit() -> Option<u64> {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    let none: *const libc::rlimit = core::ptr::null();
    syscall!(libc::SYS_prlimit64, 0i32, libc::RLIMIT_NOFILE, none, &mut lim as *mut libc::rlimit).ok()?;
    Some(lim.rlim_cur)
}

pub fn rewind(fd: c_int) -> Res<()> {
    syscall!(libc::SYS_lseek, fd, 0i64, libc::SEEK_SET).map(drop)
}

pub fn getdents64(fd: c_int, buf: &mut [u8]) -> Res<usize> {
    syscall!(libc::SYS_getdents64, fd, buf.as_mut_ptr(), buf.len()).map(|n| n as usize)
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
        let prot = libc::PROT_READ | libc::PROT_WRITE;
        let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
        syscall!(libc::SYS_mmap, 0usize, len, prot, flags, -1i32, 0usize).map(|p| Scratch { ptr: p as *mut u8, len })
    }

    pub fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: the mapping is ours and `len` long.
        unsafe { core::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = syscall!(libc::SYS_munmap, self.ptr, self.len);
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
