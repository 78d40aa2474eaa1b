//! Creation: a new inode belongs to the fake fsuid/fsgid (and to a setgid directory's
//! group), its recorded mode is what was asked (less the umask), and the disk gets only
//! what docs/ARCHITECTURE.md, promise 4 allows. A character or block device is an empty placeholder file.
use crate::fake::{self, Seen};
use crate::fresh;
use crate::sys::{self, Res, ret};
use fakebox_proto::inode::mode;
use libc::{FILE, c_char, c_int, c_uint, dev_t, mode_t};

/// open / openat and every variant (the C shims and the fortified forms end here).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fakebox_openat(dirfd: c_int, path: *const c_char, flags: c_int, m: c_uint) -> c_int {
    ret(open_at(dirfd, path, flags, m))
}

pub unsafe fn creat(path: *const c_char, m: mode_t) -> c_int {
    ret(open_at(libc::AT_FDCWD, path, libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC, m))
}

pub unsafe fn creat64(path: *const c_char, m: mode_t) -> c_int {
    ret(open_at(libc::AT_FDCWD, path, libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC | libc::O_LARGEFILE, m))
}

fn open_at(dirfd: c_int, path: *const c_char, flags: c_int, m: c_uint) -> Res<c_int> {
    let tmpfile = flags & libc::O_TMPFILE == libc::O_TMPFILE;
    if flags & libc::O_CREAT == 0 && !tmpfile {
        return sys::openat(dirfd, path, flags, 0).inspect(|&fd| fresh::forget(fd));
    }
    let disk = mode::on_disk(mode::IFREG | (m & 0o7777));
    // A new file that will be the default view needs no record and no statx (tar).
    let count = if tmpfile { None } else { fake::plain_create(mode::IFREG, m) };
    // Learn whether this call creates the file: try exclusively first.
    let (fd, made) = if flags & libc::O_EXCL != 0 || tmpfile {
        (sys::openat(dirfd, path, flags, disk)?, true)
    } else {
        match sys::openat(dirfd, path, flags | libc::O_EXCL, disk) {
            Ok(fd) => (fd, true),
            Err(libc::EEXIST) => match sys::openat(dirfd, path, flags & !libc::O_CREAT, 0) {
                Err(libc::ENOENT) => (sys::openat(dirfd, path, flags, disk)?, true), // a dangling symlink, or a race
                r => (r?, false),
            },
            Err(e) => return Err(e),
        }
    };
    if let (true, Some(count)) = (made, count) {
        fresh::made(fd, count);
        return Ok(fd);
    }
    fresh::forget(fd);
    if made {
        let parent =
            || if tmpfile { fake::see(dirfd, path, 0).ok().map(|s| s.real) } else { fake::parent(dirfd, path) };
        if let Err(e) = record_fd(fd, parent, m) {
            let _ = sys::close(fd);
            return Err(e);
        }
    }
    Ok(fd)
}

fn record_fd(fd: c_int, parent: impl FnOnce() -> Option<fakebox_proto::Real>, requested: u32) -> Res<()> {
    let seen = fake::see_fd(fd)?;
    record(&seen, parent, fake::made_mode(mode::IFREG, requested, &seen), 0)
}

fn record(seen: &Seen, parent: impl FnOnce() -> Option<fakebox_proto::Real>, m: u32, rdev: u64) -> Res<()> {
    fake::created(seen, parent, m, rdev)
}

pub unsafe fn mkdir(path: *const c_char, m: mode_t) -> c_int {
    ret(mkdir_at(libc::AT_FDCWD, path, m))
}

pub unsafe fn mkdirat(dirfd: c_int, path: *const c_char, m: mode_t) -> c_int {
    ret(mkdir_at(dirfd, path, m))
}

fn mkdir_at(dirfd: c_int, path: *const c_char, m: mode_t) -> Res<c_int> {
    let quiet = fake::plain_create(mode::IFDIR, m & 0o1777).is_some();
    sys::mkdirat(dirfd, path, mode::on_disk(mode::IFDIR | (m & 0o777)))?;
    if quiet {
        return Ok(0);
    }
    let seen = fake::see(dirfd, path, libc::AT_SYMLINK_NOFOLLOW)?;
    // mkdir keeps only the permission and sticky bits; setgid comes from the parent.
    let m = fake::made_mode(mode::IFDIR, m & 0o1777, &seen);
    record(&seen, || fake::parent(dirfd, path), m, 0)?;
    Ok(0)
}

pub unsafe fn mknod(path: *const c_char, m: mode_t, dev: dev_t) -> c_int {
    ret(mknod_at(libc::AT_FDCWD, path, m, dev))
}

pub unsafe fn mknodat(dirfd: c_int, path: *const c_char, m: mode_t, dev: dev_t) -> c_int {
    ret(mknod_at(dirfd, path, m, dev))
}

/// The pre-2.33 forms; `ver` is _MKNOD_VER (0) and `dev` a pointer.
pub unsafe fn __xmknod(_ver: c_int, path: *const c_char, m: mode_t, dev: *const dev_t) -> c_int {
    // SAFETY: the caller passes a valid dev_t pointer, as glibc's wrapper requires.
    ret(mknod_at(libc::AT_FDCWD, path, m, if dev.is_null() { 0 } else { unsafe { *dev } }))
}

pub unsafe fn __xmknodat(_ver: c_int, dirfd: c_int, path: *const c_char, m: mode_t, dev: *const dev_t) -> c_int {
    // SAFETY: as above.
    ret(mknod_at(dirfd, path, m, if dev.is_null() { 0 } else { unsafe { *dev } }))
}

pub unsafe fn mkfifo(path: *const c_char, m: mode_t) -> c_int {
    ret(mknod_at(libc::AT_FDCWD, path, mode::IFIFO | (m & 0o7777), 0))
}

pub unsafe fn mkfifoat(dirfd: c_int, path: *const c_char, m: mode_t) -> c_int {
    ret(mknod_at(dirfd, path, mode::IFIFO | (m & 0o7777), 0))
}

fn mknod_at(dirfd: c_int, path: *const c_char, m: mode_t, dev: dev_t) -> Res<c_int> {
    let kind = match m & mode::IFMT {
        0 => mode::IFREG,
        k => k,
    };
    let perm = m & 0o7777;
    match kind {
        // A device node: an empty file holds its place; the session sees the device.
        mode::IFCHR | mode::IFBLK => {
            let fd = sys::openat(
                dirfd,
                path,
                libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_CLOEXEC,
                mode::on_disk(mode::IFREG | perm),
            )?;
            let _ = sys::close(fd);
        }
        mode::IFREG | mode::IFIFO | mode::IFSOCK => sys::mknodat(dirfd, path, kind | mode::on_disk(kind | perm), 0)?,
        _ => return Err(libc::EINVAL),
    }
    let seen = fake::see(dirfd, path, libc::AT_SYMLINK_NOFOLLOW)?;
    let rdev = if matches!(kind, mode::IFCHR | mode::IFBLK) { dev } else { 0 };
    record(&seen, || fake::parent(dirfd, path), fake::made_mode(kind, perm, &seen), rdev)?;
    Ok(0)
}

pub unsafe fn symlink(target: *const c_char, path: *const c_char) -> c_int {
    ret(symlink_at(target, libc::AT_FDCWD, path))
}

pub unsafe fn symlinkat(target: *const c_char, dirfd: c_int, path: *const c_char) -> c_int {
    ret(symlink_at(target, dirfd, path))
}

fn symlink_at(target: *const c_char, dirfd: c_int, path: *const c_char) -> Res<c_int> {
    let quiet = fake::plain_create(mode::IFLNK, 0o777).is_some();
    sys::symlinkat(target, dirfd, path)?;
    if quiet {
        return Ok(0);
    }
    let seen = fake::see(dirfd, path, libc::AT_SYMLINK_NOFOLLOW)?;
    record(&seen, || fake::parent(dirfd, path), fake::made_mode(mode::IFLNK, 0o777, &seen), 0)?;
    Ok(0)
}

// Library calls whose internal open() no hook sees: record what they made afterwards.

next!(real_fopen = c"fopen": unsafe extern "C" fn(*const c_char, *const c_char) -> *mut FILE);
next!(real_fopen64 = c"fopen64": unsafe extern "C" fn(*const c_char, *const c_char) -> *mut FILE);
next!(real_freopen = c"freopen": unsafe extern "C" fn(*const c_char, *const c_char, *mut FILE) -> *mut FILE);
next!(real_freopen64 = c"freopen64": unsafe extern "C" fn(*const c_char, *const c_char, *mut FILE) -> *mut FILE);

/// Does an fopen mode string create files ("w", "a", "w+", ...)?
fn creates(m: *const c_char) -> bool {
    !m.is_null() && matches!(sys::cstr(m).first(), Some(b'w' | b'a'))
}

fn fopen_with(path: *const c_char, m: *const c_char, open: impl FnOnce() -> *mut FILE) -> *mut FILE {
    let existed = !creates(m) || path.is_null() || fake::see(libc::AT_FDCWD, path, 0).is_ok();
    let f = open();
    if f.is_null() {
        return f;
    }
    // SAFETY: a FILE we just opened.
    let fd = unsafe { libc::fileno(f) };
    fresh::forget(fd);
    if !existed && let Err(e) = record_fd(fd, || fake::parent(libc::AT_FDCWD, path), 0o666) {
        debug!("fopen: could not record a new file: errno {e}");
    }
    f
}

pub unsafe fn fopen(path: *const c_char, m: *const c_char) -> *mut FILE {
    let Some(real) = real_fopen() else { return core::ptr::null_mut() };
    // SAFETY: forwarding the caller's arguments.
    fopen_with(path, m, || unsafe { real(path, m) })
}

pub unsafe fn fopen64(path: *const c_char, m: *const c_char) -> *mut FILE {
    let Some(real) = real_fopen64() else { return core::ptr::null_mut() };
    // SAFETY: as above.
    fopen_with(path, m, || unsafe { real(path, m) })
}

pub unsafe fn freopen(path: *const c_char, m: *const c_char, s: *mut FILE) -> *mut FILE {
    fresh::forget_all(); // it closes the stream's descriptor inside glibc
    let Some(real) = real_freopen() else { return core::ptr::null_mut() };
    // SAFETY: as above.
    fopen_with(path, m, || unsafe { real(path, m, s) })
}

pub unsafe fn freopen64(path: *const c_char, m: *const c_char, s: *mut FILE) -> *mut FILE {
    fresh::forget_all(); // it closes the stream's descriptor inside glibc
    let Some(real) = real_freopen64() else { return core::ptr::null_mut() };
    // SAFETY: as above.
    fopen_with(path, m, || unsafe { real(path, m, s) })
}

next!(real_mkostemps = c"mkostemps": unsafe extern "C" fn(*mut c_char, c_int, c_int) -> c_int);
next!(real_mkdtemp = c"mkdtemp": unsafe extern "C" fn(*mut c_char) -> *mut c_char);

/// Every mkstemp variant: glibc makes the file 0600; record it for the creator.
fn temp_file(template: *mut c_char, suffix: c_int, flags: c_int) -> c_int {
    let Some(real) = real_mkostemps() else {
        sys::set_errno(libc::ENOSYS);
        return -1;
    };
    // SAFETY: forwarding the caller's template.
    let fd = unsafe { real(template, suffix, flags) };
    if fd < 0 {
        return fd;
    }
    fresh::forget(fd);
    if let Err(e) = record_fd(fd, || fake::parent(libc::AT_FDCWD, template), 0o600) {
        debug!("mkstemp: could not record a new file: errno {e}");
    }
    fd
}

pub unsafe fn mkstemp(t: *mut c_char) -> c_int {
    temp_file(t, 0, 0)
}
pub unsafe fn mkstemp64(t: *mut c_char) -> c_int {
    temp_file(t, 0, 0)
}
pub unsafe fn mkostemp(t: *mut c_char, flags: c_int) -> c_int {
    temp_file(t, 0, flags)
}
pub unsafe fn mkostemp64(t: *mut c_char, flags: c_int) -> c_int {
    temp_file(t, 0, flags)
}
pub unsafe fn mkstemps(t: *mut c_char, suffix: c_int) -> c_int {
    temp_file(t, suffix, 0)
}
pub unsafe fn mkstemps64(t: *mut c_char, suffix: c_int) -> c_int {
    temp_file(t, suffix, 0)
}
pub unsafe fn mkostemps(t: *mut c_char, suffix: c_int, flags: c_int) -> c_int {
    temp_file(t, suffix, flags)
}
pub unsafe fn mkostemps64(t: *mut c_char, suffix: c_int, flags: c_int) -> c_int {
    temp_file(t, suffix, flags)
}

pub unsafe fn mkdtemp(t: *mut c_char) -> *mut c_char {
    let Some(real) = real_mkdtemp() else { return core::ptr::null_mut() };
    // SAFETY: forwarding the caller's template.
    let r = unsafe { real(t) };
    if !r.is_null()
        && let Ok(seen) = fake::see(libc::AT_FDCWD, r, libc::AT_SYMLINK_NOFOLLOW)
    {
        let _ = record(&seen, || fake::parent(libc::AT_FDCWD, r), mode::IFDIR | 0o700, 0);
    }
    r
}
