//! The hook table: every libc entry point the library replaces, in one place, grouped by
//! family. Each line exports one C symbol and forwards it to the family's function, which
//! says in its first lines what it does. The variadic ones (open, openat, execl...) are C
//! shims in `csrc/shims.c` that forward to `fakebox_openat` / `fakebox_execve`.
//!
//! Why not redhook: its macro cannot express variadic functions and, on a panic, calls the
//! real function, so the program would silently run unfaked. Here a panic aborts (the
//! library is built with panic=abort), and the real function is never called behind the
//! program's back: a hook that cannot reach the daemon fails the call with EIO and says so.
use libc::{FILE, c_char, c_int, c_uint, c_void, dev_t, gid_t, mode_t, pid_t, size_t, ssize_t, uid_t};

pub mod create;
pub mod exec;
pub mod fds;
pub mod identity;
pub mod lifetime;
pub mod owner;
pub mod stat;
pub mod walk;
pub mod xattr;

type Stat = libc::stat;
type Argv = *const *const c_char;
type Fts = *mut walk::FtsEnt;

macro_rules! hooks {
    ($( $family:ident :: $name:ident ( $($arg:ident : $ty:ty),* ) -> $ret:ty; )*) => {
        $(
            // Not in the unit tests' binary, whose own libc calls (std's) they would take.
            #[cfg_attr(not(test), unsafe(no_mangle))]
            pub unsafe extern "C" fn $name($($arg: $ty),*) -> $ret {
                // SAFETY: the program's arguments, forwarded unchanged.
                unsafe { $family::$name($($arg),*) }
            }
        )*
    };
}

hooks! {
    // stat family
    stat::stat(path: *const c_char, st: *mut Stat) -> c_int;
    stat::stat64(path: *const c_char, st: *mut Stat) -> c_int;
    stat::lstat(path: *const c_char, st: *mut Stat) -> c_int;
    stat::lstat64(path: *const c_char, st: *mut Stat) -> c_int;
    stat::fstat(fd: c_int, st: *mut Stat) -> c_int;
    stat::fstat64(fd: c_int, st: *mut Stat) -> c_int;
    stat::fstatat(dirfd: c_int, path: *const c_char, st: *mut Stat, flags: c_int) -> c_int;
    stat::fstatat64(dirfd: c_int, path: *const c_char, st: *mut Stat, flags: c_int) -> c_int;
    stat::statx(dirfd: c_int, path: *const c_char, flags: c_int, mask: c_uint, out: *mut libc::statx) -> c_int;
    stat::__xstat(ver: c_int, path: *const c_char, st: *mut Stat) -> c_int;
    stat::__xstat64(ver: c_int, path: *const c_char, st: *mut Stat) -> c_int;
    stat::__lxstat(ver: c_int, path: *const c_char, st: *mut Stat) -> c_int;
    stat::__lxstat64(ver: c_int, path: *const c_char, st: *mut Stat) -> c_int;
    stat::__fxstat(ver: c_int, fd: c_int, st: *mut Stat) -> c_int;
    stat::__fxstat64(ver: c_int, fd: c_int, st: *mut Stat) -> c_int;
    stat::__fxstatat(ver: c_int, dirfd: c_int, path: *const c_char, st: *mut Stat, flags: c_int) -> c_int;
    stat::__fxstatat64(ver: c_int, dirfd: c_int, path: *const c_char, st: *mut Stat, flags: c_int) -> c_int;
    walk::fts_read(fts: *mut c_void) -> Fts;
    walk::fts64_read(fts: *mut c_void) -> Fts;
    walk::fts_children(fts: *mut c_void, opts: c_int) -> Fts;
    walk::fts64_children(fts: *mut c_void, opts: c_int) -> Fts;
    walk::nftw(dir: *const c_char, cb: walk::NftwFn, nopenfd: c_int, flags: c_int) -> c_int;
    walk::nftw64(dir: *const c_char, cb: walk::NftwFn, nopenfd: c_int, flags: c_int) -> c_int;
    walk::ftw(dir: *const c_char, cb: walk::FtwFn, nopenfd: c_int) -> c_int;
    walk::ftw64(dir: *const c_char, cb: walk::FtwFn, nopenfd: c_int) -> c_int;
    walk::readdir(dir: *mut c_void) -> *mut libc::dirent;
    walk::readdir64(dir: *mut c_void) -> *mut libc::dirent64;
    // owner and mode
    owner::chown(path: *const c_char, uid: uid_t, gid: gid_t) -> c_int;
    owner::lchown(path: *const c_char, uid: uid_t, gid: gid_t) -> c_int;
    owner::fchown(fd: c_int, uid: uid_t, gid: gid_t) -> c_int;
    owner::fchownat(dirfd: c_int, path: *const c_char, uid: uid_t, gid: gid_t, flags: c_int) -> c_int;
    owner::chmod(path: *const c_char, m: mode_t) -> c_int;
    owner::lchmod(path: *const c_char, m: mode_t) -> c_int;
    owner::fchmod(fd: c_int, m: mode_t) -> c_int;
    owner::fchmodat(dirfd: c_int, path: *const c_char, m: mode_t, flags: c_int) -> c_int;
    // creation (open, openat and their 64 and fortified forms are C shims)
    create::creat(path: *const c_char, m: mode_t) -> c_int;
    create::creat64(path: *const c_char, m: mode_t) -> c_int;
    create::mkdir(path: *const c_char, m: mode_t) -> c_int;
    create::mkdirat(dirfd: c_int, path: *const c_char, m: mode_t) -> c_int;
    create::mknod(path: *const c_char, m: mode_t, dev: dev_t) -> c_int;
    create::mknodat(dirfd: c_int, path: *const c_char, m: mode_t, dev: dev_t) -> c_int;
    create::__xmknod(ver: c_int, path: *const c_char, m: mode_t, dev: *const dev_t) -> c_int;
    create::__xmknodat(ver: c_int, dirfd: c_int, path: *const c_char, m: mode_t, dev: *const dev_t) -> c_int;
    create::mkfifo(path: *const c_char, m: mode_t) -> c_int;
    create::mkfifoat(dirfd: c_int, path: *const c_char, m: mode_t) -> c_int;
    create::symlink(target: *const c_char, path: *const c_char) -> c_int;
    create::symlinkat(target: *const c_char, dirfd: c_int, path: *const c_char) -> c_int;
    create::fopen(path: *const c_char, m: *const c_char) -> *mut FILE;
    create::fopen64(path: *const c_char, m: *const c_char) -> *mut FILE;
    create::freopen(path: *const c_char, m: *const c_char, s: *mut FILE) -> *mut FILE;
    create::freopen64(path: *const c_char, m: *const c_char, s: *mut FILE) -> *mut FILE;
    create::mkstemp(t: *mut c_char) -> c_int;
    create::mkstemp64(t: *mut c_char) -> c_int;
    create::mkostemp(t: *mut c_char, flags: c_int) -> c_int;
    create::mkostemp64(t: *mut c_char, flags: c_int) -> c_int;
    create::mkstemps(t: *mut c_char, suffix: c_int) -> c_int;
    create::mkstemps64(t: *mut c_char, suffix: c_int) -> c_int;
    create::mkostemps(t: *mut c_char, suffix: c_int, flags: c_int) -> c_int;
    create::mkostemps64(t: *mut c_char, suffix: c_int, flags: c_int) -> c_int;
    create::mkdtemp(t: *mut c_char) -> *mut c_char;
    // inode lifetime
    lifetime::unlink(path: *const c_char) -> c_int;
    lifetime::unlinkat(dirfd: c_int, path: *const c_char, flags: c_int) -> c_int;
    lifetime::rmdir(path: *const c_char) -> c_int;
    lifetime::remove(path: *const c_char) -> c_int;
    lifetime::rename(old: *const c_char, new: *const c_char) -> c_int;
    lifetime::renameat(olddir: c_int, old: *const c_char, newdir: c_int, new: *const c_char) -> c_int;
    lifetime::renameat2(olddir: c_int, old: *const c_char, newdir: c_int, new: *const c_char, flags: c_uint) -> c_int;
    // extended attributes
    xattr::setxattr(p: *const c_char, n: *const c_char, v: *const c_void, s: size_t, f: c_int) -> c_int;
    xattr::lsetxattr(p: *const c_char, n: *const c_char, v: *const c_void, s: size_t, f: c_int) -> c_int;
    xattr::fsetxattr(fd: c_int, n: *const c_char, v: *const c_void, s: size_t, f: c_int) -> c_int;
    xattr::getxattr(p: *const c_char, n: *const c_char, v: *mut c_void, s: size_t) -> ssize_t;
    xattr::lgetxattr(p: *const c_char, n: *const c_char, v: *mut c_void, s: size_t) -> ssize_t;
    xattr::fgetxattr(fd: c_int, n: *const c_char, v: *mut c_void, s: size_t) -> ssize_t;
    xattr::listxattr(p: *const c_char, l: *mut c_char, s: size_t) -> ssize_t;
    xattr::llistxattr(p: *const c_char, l: *mut c_char, s: size_t) -> ssize_t;
    xattr::flistxattr(fd: c_int, l: *mut c_char, s: size_t) -> ssize_t;
    xattr::removexattr(p: *const c_char, n: *const c_char) -> c_int;
    xattr::lremovexattr(p: *const c_char, n: *const c_char) -> c_int;
    xattr::fremovexattr(fd: c_int, n: *const c_char) -> c_int;
    // identity
    identity::getuid() -> uid_t;
    identity::geteuid() -> uid_t;
    identity::getgid() -> gid_t;
    identity::getegid() -> gid_t;
    identity::getresuid(r: *mut uid_t, e: *mut uid_t, s: *mut uid_t) -> c_int;
    identity::getresgid(r: *mut gid_t, e: *mut gid_t, s: *mut gid_t) -> c_int;
    identity::setuid(u: uid_t) -> c_int;
    identity::setgid(g: gid_t) -> c_int;
    identity::seteuid(u: uid_t) -> c_int;
    identity::setegid(g: gid_t) -> c_int;
    identity::setreuid(r: uid_t, e: uid_t) -> c_int;
    identity::setregid(r: gid_t, e: gid_t) -> c_int;
    identity::setresuid(r: uid_t, e: uid_t, s: uid_t) -> c_int;
    identity::setresgid(r: gid_t, e: gid_t, s: gid_t) -> c_int;
    identity::setfsuid(u: uid_t) -> c_int;
    identity::setfsgid(g: gid_t) -> c_int;
    identity::getgroups(size: c_int, list: *mut gid_t) -> c_int;
    identity::setgroups(size: size_t, list: *const gid_t) -> c_int;
    identity::initgroups(user: *const c_char, group: gid_t) -> c_int;
    identity::capset(hdr: *mut c_void, data: *const c_void) -> c_int;
    identity::access(path: *const c_char, how: c_int) -> c_int;
    identity::faccessat(dirfd: c_int, path: *const c_char, how: c_int, flags: c_int) -> c_int;
    identity::euidaccess(path: *const c_char, how: c_int) -> c_int;
    identity::eaccess(path: *const c_char, how: c_int) -> c_int;
    // processes (execl, execle, execlp are C shims)
    exec::execve(path: *const c_char, argv: Argv, envp: Argv) -> c_int;
    exec::execv(path: *const c_char, argv: Argv) -> c_int;
    exec::execvp(file: *const c_char, argv: Argv) -> c_int;
    exec::execvpe(file: *const c_char, argv: Argv, envp: Argv) -> c_int;
    exec::fexecve(fd: c_int, argv: Argv, envp: Argv) -> c_int;
    exec::execveat(dirfd: c_int, path: *const c_char, argv: Argv, envp: Argv, flags: c_int) -> c_int;
    exec::fork() -> pid_t;
    exec::__fork() -> pid_t;
    exec::posix_spawn(pid: *mut pid_t, path: *const c_char, fa: *const c_void, attr: *const c_void, argv: Argv, envp: Argv) -> c_int;
    exec::posix_spawnp(pid: *mut pid_t, file: *const c_char, fa: *const c_void, attr: *const c_void, argv: Argv, envp: Argv) -> c_int;
    exec::system(cmd: *const c_char) -> c_int;
    exec::popen(cmd: *const c_char, kind: *const c_char) -> *mut FILE;
    // file descriptors: the session's own sockets, and the marks of files just made
    fds::close(fd: c_int) -> c_int;
    fds::dup2(old: c_int, new: c_int) -> c_int;
    fds::dup3(old: c_int, new: c_int, flags: c_int) -> c_int;
    fds::close_range(first: c_uint, last: c_uint, flags: c_int) -> c_int;
    fds::closefrom(low: c_int) -> ();
    fds::fclose(f: *mut FILE) -> c_int;
    fds::fcloseall() -> c_int;
    fds::closedir(d: *mut c_void) -> c_int;
}
