//! What each family of intercepted calls does at its seccomp stop. Each handler turns the
//! call into the daemon's operations (the same ones the preload hooks produce) and
//! either answers it itself (one stop: the call is skipped and returns the answer) or lets
//! the kernel run it, with a sanitized mode, and comes back at its exit to record a new
//! inode (two stops, only when the new inode's view differs from the default).
use crate::syscalls::{self, Family};
use crate::tracee::{self, Regs};
use crate::{Answer, Session};
use fakebox_proto::ids::{self, Cred};
use fakebox_proto::inode::mode;
use fakebox_proto::kernel;
use fakebox_proto::op::{XATTR_LIST_MAX, XATTR_SIZE_MAX};
use fakebox_proto::rules;
use fakebox_proto::{Fake, Op, Real};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// A process's fake identity, as the tracer keeps it (one per thread group).
#[derive(Clone, Debug)]
pub struct Ids {
    pub uid: Cred,
    pub gid: Cred,
    pub groups: Vec<u32>,
    /// The dumpable flag as the program set it (the process stays dumpable); an agent
    /// keeps its own.
    pub dumpable: bool,
}

/// What the tracer says when it stops a program for a 32-bit system call.
pub const REFUSED_32: &str = "a 32-bit (i386) system call: 32-bit programs are not supported by the tracer; the program was stopped rather than run without the fake";

impl Ids {
    pub fn new(uid: Cred, gid: Cred) -> Ids {
        Ids { uid, gid, groups: vec![gid.e], dumpable: true }
    }

    /// The ids as the agent keeps them (at most MAX_GROUPS groups).
    pub fn to_agent(&self) -> fakebox_proto::agent::Ids {
        let c = |c: &Cred| [c.r, c.e, c.s, c.fs];
        let mut a = fakebox_proto::agent::Ids { uid: c(&self.uid), gid: c(&self.gid), ..Default::default() };
        for (slot, g) in a.groups.iter_mut().zip(&self.groups) {
            *slot = *g;
            a.ngroups += 1;
        }
        a
    }

    pub fn from_agent(a: &fakebox_proto::agent::Ids) -> Ids {
        let c = |v: [u32; 4]| Cred { r: v[0], e: v[1], s: v[2], fs: v[3] };
        let n = (a.ngroups as usize).min(a.groups.len());
        Ids { uid: c(a.uid), gid: c(a.gid), groups: a.groups[..n].to_vec(), dumpable: true }
    }
    fn privileged(&self) -> bool {
        self.uid.e == 0
    }
    fn in_group(&self, g: u32) -> bool {
        g == self.gid.fs || self.groups.contains(&g)
    }
}

/// What to do with the stopped call.
#[derive(Debug)]
pub enum Action {
    /// Skip it: it returns this (a value, or -errno).
    Return(i64),
    /// Let the kernel run it; `regs` carries changed arguments, if any.
    Run(Option<Regs>),
    /// Let it run, then record a new inode at its exit.
    RunThen(Option<Regs>, Pending),
    /// A 32-bit (i386 ABI) call: the tracer refuses such programs.
    Refuse32,
}

/// Work left for the call's exit.
#[derive(Debug)]
pub enum Pending {
    /// A creation to record.
    Created {
        /// Where to find the new inode: the returned fd (open) or this path (mkdir, symlink).
        by_fd: bool,
        path: PathBuf,
        kind: u32,
        requested: u32,
    },
    /// Directory entries read into `buf` from `fd` (getdents64, or the old getdents).
    Dirents { fd: u64, buf: u64, old: bool },
}

pub struct Ctx<'a> {
    pub session: &'a dyn Session,
    pub tid: i32,
    pub tgid: i32,
    pub ids: &'a mut Ids,
}

type R = Result<i64, i32>;

fn err(e: std::io::Error) -> i32 {
    e.raw_os_error().unwrap_or(libc::EIO)
}

fn cpath(p: &Path) -> Result<CString, i32> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| libc::EINVAL)
}

/// statx by the tracer, on the tracee's behalf.
fn statx(p: &Path, flags: i32) -> Result<libc::statx, i32> {
    let c = cpath(p)?;
    // SAFETY: statx into a zeroed local.
    unsafe {
        let mut stx: libc::statx = std::mem::zeroed();
        if libc::statx(libc::AT_FDCWD, c.as_ptr(), flags, kernel::STATX_MASK, &mut stx) < 0 {
            return Err(tracee::errno());
        }
        Ok(stx)
    }
}

fn libc_ret(r: libc::c_int) -> R {
    if r < 0 { Err(tracee::errno()) } else { Ok(i64::from(r)) }
}

fn libc_size(r: libc::ssize_t) -> Result<usize, i32> {
    if r < 0 { Err(tracee::errno()) } else { Ok(r as usize) }
}

impl Ctx<'_> {
    fn ask(&self, op: &Op<'_>) -> Answer {
        self.session.apply(op)
    }

    fn attrs(&self, op: &Op<'_>) -> Result<Fake, i32> {
        match self.ask(op) {
            Answer::Attrs(f) => Ok(f),
            Answer::Errno(e) => Err(e),
            _ => Err(libc::EPROTO),
        }
    }

    fn view(&self, real: &Real) -> Result<Fake, i32> {
        self.attrs(&Op::Lookup { real: *real })
    }

    fn string(&self, addr: u64) -> Result<Vec<u8>, i32> {
        tracee::read_cstr(self.tid, addr).map_err(err)
    }

    /// A (dirfd, path) argument pair, resolved for the tracer. `flags` may carry
    /// AT_EMPTY_PATH; a NULL path with it is the empty path (Linux ≥ 6.11).
    fn path(&self, dirfd: u64, addr: u64, flags: i32) -> Result<PathBuf, i32> {
        let empty_ok = flags & libc::AT_EMPTY_PATH != 0;
        let p = if addr == 0 && empty_ok { Vec::new() } else { self.string(addr)? };
        tracee::resolve(self.tgid, self.tid, dirfd as i32, &p, empty_ok).map_err(err)
    }

    fn fd_path(&self, fd: u64) -> PathBuf {
        PathBuf::from(format!("/proc/{}/fd/{}", self.tid, fd as i32))
    }

    /// statx of a resolved path: `nofollow` for AT_SYMLINK_NOFOLLOW (never for an fd's
    /// own /proc link, which must be followed to reach the file).
    fn see(&self, p: &Path, nofollow: bool) -> Result<libc::statx, i32> {
        let fd_dir = format!("/proc/{}/fd", self.tid);
        let cwd = format!("/proc/{}/cwd", self.tid);
        let is_fd_link = p.parent() == Some(Path::new(&fd_dir)) || p == Path::new(&cwd);
        statx(p, if nofollow && !is_fd_link { libc::AT_SYMLINK_NOFOLLOW } else { 0 })
    }

    fn write(&self, addr: u64, bytes: &[u8]) -> Result<(), i32> {
        tracee::write(self.tid, addr, bytes).map_err(err)
    }
}

/// Handles one seccomp stop; `data` is what the filter attached to it.
pub fn handle(ctx: &mut Ctx<'_>, regs: &Regs, data: u32) -> Action {
    match data {
        crate::filter::DATA_OTHER_ABI => return Action::Refuse32,
        crate::filter::DATA_X32 => return Action::Return(-i64::from(libc::ENOSYS)),
        _ => {}
    }
    let nr = regs.orig_rax as i64;
    let a = tracee::args(regs);
    let r = match syscalls::family(nr) {
        Family::Stat => stat(ctx, nr, a),
        Family::Chown => chown(ctx, nr, a),
        Family::Chmod => chmod(ctx, nr, a),
        Family::Mknod => mknod(ctx, nr, a),
        Family::Create => return create(ctx, nr, a, regs),
        Family::Remove => remove(ctx, nr, a),
        Family::Xattr => match xattr(ctx, nr, a) {
            Some(r) => r,
            None => return Action::Run(None),
        },
        Family::Identity => identity(ctx, nr, a),
        Family::Access => access(ctx, nr, a),
        Family::Dirents => {
            let devices = ctx.session.table().is_some_and(|t| t.has_devices());
            return if devices {
                Action::RunThen(None, Pending::Dirents { fd: a[0], buf: a[1], old: nr == libc::SYS_getdents })
            } else {
                Action::Run(None)
            };
        }
        Family::Dumpable => {
            let (r, now) = kernel::dumpable_prctl(a[0], a[1], ctx.ids.dumpable);
            ctx.ids.dumpable = now;
            Ok(r)
        }
        Family::Unknown => return Action::Run(None),
    };
    Action::Return(match r {
        Ok(v) => v,
        Err(e) => -i64::from(e),
    })
}

fn stat(ctx: &mut Ctx<'_>, nr: i64, a: [u64; 6]) -> R {
    let fdcwd = libc::AT_FDCWD as u64;
    let (path, flags, buf, is_statx) = match nr {
        libc::SYS_stat => (ctx.path(fdcwd, a[0], 0)?, 0, a[1], false),
        libc::SYS_lstat => (ctx.path(fdcwd, a[0], 0)?, libc::AT_SYMLINK_NOFOLLOW, a[1], false),
        libc::SYS_fstat => (ctx.fd_path(a[0]), 0, a[1], false),
        libc::SYS_newfstatat => (ctx.path(a[0], a[1], a[3] as i32)?, a[3] as i32, a[2], false),
        _ => (ctx.path(a[0], a[1], a[2] as i32)?, a[2] as i32, a[4], true),
    };
    let mut stx = ctx.see(&path, flags & libc::AT_SYMLINK_NOFOLLOW != 0)?;
    let f = ctx.view(&kernel::real_of(&stx))?;
    if is_statx {
        kernel::patch_statx(&mut stx, &f);
        ctx.write(buf, kernel::bytes_of(&stx))?;
    } else {
        ctx.write(buf, kernel::bytes_of(&kernel::to_stat(&stx, &f)))?;
    }
    Ok(0)
}

fn chown(ctx: &mut Ctx<'_>, nr: i64, a: [u64; 6]) -> R {
    let fdcwd = libc::AT_FDCWD as u64;
    let (path, nofollow, uid, gid) = match nr {
        libc::SYS_chown => (ctx.path(fdcwd, a[0], 0)?, false, a[1], a[2]),
        libc::SYS_lchown => (ctx.path(fdcwd, a[0], 0)?, true, a[1], a[2]),
        libc::SYS_fchown => (ctx.fd_path(a[0]), false, a[1], a[2]),
        _ => {
            let flags = a[4] as i32;
            if flags & !(libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH) != 0 {
                return Err(libc::EINVAL);
            }
            (ctx.path(a[0], a[1], flags)?, flags & libc::AT_SYMLINK_NOFOLLOW != 0, a[2], a[3])
        }
    };
    let real = kernel::real_of(&ctx.see(&path, nofollow)?);
    let uid = (uid as u32 != u32::MAX).then_some(uid as u32);
    let gid = (gid as u32 != u32::MAX).then_some(gid as u32);
    if ctx.ids.uid.fs != 0 && !ids::may_chown(&ctx.view(&real)?, ctx.ids.uid.fs, |g| ctx.ids.in_group(g), uid, gid) {
        return Err(libc::EPERM);
    }
    ctx.attrs(&Op::Chown { real, uid, gid })?;
    Ok(0)
}

fn chmod(ctx: &mut Ctx<'_>, nr: i64, a: [u64; 6]) -> R {
    let fdcwd = libc::AT_FDCWD as u64;
    let (path, nofollow, m) = match nr {
        libc::SYS_chmod => (ctx.path(fdcwd, a[0], 0)?, false, a[1] as u32),
        libc::SYS_fchmod => (ctx.fd_path(a[0]), false, a[1] as u32),
        libc::SYS_fchmodat => (ctx.path(a[0], a[1], 0)?, false, a[2] as u32),
        _ => {
            let flags = a[3] as i32;
            (ctx.path(a[0], a[1], flags)?, flags & libc::AT_SYMLINK_NOFOLLOW != 0, a[2] as u32)
        }
    };
    chmod_path(ctx, &path, nofollow, m)
}

fn chmod_path(ctx: &mut Ctx<'_>, path: &Path, nofollow: bool, m: u32) -> R {
    let stx = ctx.see(path, nofollow)?;
    let kind = u32::from(stx.stx_mode) & mode::IFMT;
    if kind == mode::IFLNK {
        return Err(libc::EOPNOTSUPP);
    }
    let real = kernel::real_of(&stx);
    if ctx.ids.uid.fs != 0 && !ids::may_chmod(&ctx.view(&real)?, ctx.ids.uid.fs) {
        return Err(libc::EPERM);
    }
    let c = cpath(path)?;
    // SAFETY: chmod of a path we built.
    match libc_ret(unsafe { libc::chmod(c.as_ptr(), mode::on_disk(kind | (m & 0o7777))) }) {
        Ok(_) | Err(libc::EPERM) => {}
        Err(e) => return Err(e),
    }
    ctx.attrs(&Op::Chmod { real, mode: m & 0o7777 })?;
    Ok(0)
}

/// The directory holding a resolved path, as the kernel sees it (for setgid inheritance).
fn parent_of(p: &Path) -> Option<Real> {
    statx(p.parent()?, 0).ok().map(|s| kernel::real_of(&s))
}

fn mknod(ctx: &mut Ctx<'_>, nr: i64, a: [u64; 6]) -> R {
    let (path, m, dev) = match nr {
        libc::SYS_mknod => (ctx.path(libc::AT_FDCWD as u64, a[0], 0)?, a[1] as u32, a[2]),
        _ => (ctx.path(a[0], a[1], 0)?, a[2] as u32, a[3]),
    };
    let kind = match m & mode::IFMT {
        0 => mode::IFREG,
        k => k,
    };
    let perm = m & 0o7777 & !(tracee::umask_of(ctx.tid) & 0o777);
    let c = cpath(&path)?;
    let disk = mode::on_disk(kind | perm);
    // SAFETY: creating at a path we built; the mode is set exactly afterwards (the
    // tracer's own umask must not apply).
    unsafe {
        match kind {
            mode::IFCHR | mode::IFBLK => {
                let fd = libc::open(c.as_ptr(), libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_CLOEXEC, 0o600);
                libc_ret(fd)?;
                libc::close(fd);
            }
            mode::IFREG | mode::IFIFO | mode::IFSOCK => {
                libc_ret(libc::mknod(c.as_ptr(), kind | 0o600, 0))?;
            }
            _ => return Err(libc::EINVAL),
        }
        libc::chmod(c.as_ptr(), disk);
    }
    let seen = kernel::real_of(&statx(&path, libc::AT_SYMLINK_NOFOLLOW)?);
    let rdev = if matches!(kind, mode::IFCHR | mode::IFBLK) { dev } else { 0 };
    let op = Op::Create {
        real: seen,
        parent: parent_of(&path),
        uid: ctx.ids.uid.fs,
        gid: ctx.ids.gid.fs,
        mode: kind | perm,
        rdev,
    };
    ctx.attrs(&op)?;
    Ok(0)
}

/// `struct open_how` (openat2): its first version's size, and where `flags` and `mode` are
/// (`u64` each; `resolve` follows).
const OPEN_HOW_SIZE: usize = 24;
const OPEN_HOW_FLAGS: usize = 0;
const OPEN_HOW_MODE: usize = 8;

/// open(O_CREAT), creat, openat2, mkdir, symlink: the kernel makes the inode (with the
/// tracee's umask) after the mode argument lost what may not reach the disk; when the
/// session's view of the new inode differs from what an untouched file shows, the exit
/// stop records it.
fn create(ctx: &mut Ctx<'_>, nr: i64, a: [u64; 6], regs: &Regs) -> Action {
    match plan_create(ctx, nr, a, regs) {
        Ok(action) => action,
        Err(e) => Action::Return(-i64::from(e)),
    }
}

fn plan_create(ctx: &mut Ctx<'_>, nr: i64, a: [u64; 6], regs: &Regs) -> Result<Action, i32> {
    let fdcwd = libc::AT_FDCWD as u64;
    // (dirfd, path address, flags, mode, where the mode lives, kind)
    enum ModeAt {
        Arg(usize),
        OpenHow(u64),
        None,
    }
    let creat_flags = (libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC) as u64;
    let (dirfd, addr, flags, m, at, kind) = match nr {
        libc::SYS_open => (fdcwd, a[0], a[1], a[2], ModeAt::Arg(2), mode::IFREG),
        libc::SYS_openat => (a[0], a[1], a[2], a[3], ModeAt::Arg(3), mode::IFREG),
        libc::SYS_creat => (fdcwd, a[0], creat_flags, a[1], ModeAt::Arg(1), mode::IFREG),
        libc::SYS_openat2 => {
            let mut how = [0u8; OPEN_HOW_SIZE];
            if (a[3] as usize) < OPEN_HOW_SIZE || tracee::read(ctx.tid, a[2], &mut how).map_err(err)? < OPEN_HOW_SIZE {
                return Ok(Action::Run(None)); // the kernel will say what is wrong
            }
            let field = |at: usize| u64::from_ne_bytes(how[at..at + 8].try_into().unwrap_or_default());
            let (flags, m) = (field(OPEN_HOW_FLAGS), field(OPEN_HOW_MODE));
            (a[0], a[1], flags, m, ModeAt::OpenHow(a[2]), mode::IFREG)
        }
        libc::SYS_mkdir => (fdcwd, a[0], 0, a[1], ModeAt::Arg(1), mode::IFDIR),
        libc::SYS_mkdirat => (a[0], a[1], 0, a[2], ModeAt::Arg(2), mode::IFDIR),
        libc::SYS_symlink => (fdcwd, a[1], 0, 0o777, ModeAt::None, mode::IFLNK),
        _ => (a[1], a[2], 0, 0o777, ModeAt::None, mode::IFLNK),
    };
    let flags = flags as i32;
    let tmpfile = flags & libc::O_TMPFILE == libc::O_TMPFILE;
    if kind == mode::IFREG && flags & libc::O_CREAT == 0 && !tmpfile {
        return Ok(Action::Run(None));
    }
    let requested = if kind == mode::IFDIR { m as u32 & 0o1777 } else { m as u32 & 0o7777 };
    let disk = mode::on_disk(kind | requested);
    let mut new_regs = None;
    if disk != requested && kind != mode::IFLNK {
        match at {
            ModeAt::Arg(i) => {
                let mut r = *regs;
                tracee::set_arg(&mut r, i, u64::from(disk));
                new_regs = Some(r);
            }
            ModeAt::OpenHow(addr) => ctx.write(addr + OPEN_HOW_MODE as u64, &u64::from(disk).to_ne_bytes())?,
            ModeAt::None => {}
        }
    }
    let path = ctx.path(dirfd, addr, 0)?;
    // Does the new inode need a record? Not if it looks exactly like an untouched file.
    let parent = if tmpfile { statx(&path, 0).ok().map(|s| kernel::real_of(&s)) } else { parent_of(&path) };
    let parent_setgid = match parent {
        Some(p) => ctx.view(&p)?.mode & mode::ISGID != 0,
        None => false,
    };
    let unknown_is_real = ctx.session.unknown_is_real();
    if !rules::needs_record(kind, requested, ctx.ids.uid.fs, ctx.ids.gid.fs, parent_setgid, unknown_is_real) {
        return Ok(Action::Run(new_regs));
    }
    if kind == mode::IFREG && !tmpfile && flags & libc::O_EXCL == 0 && statx(&path, 0).is_ok() {
        return Ok(Action::Run(new_regs)); // it exists: open will not create it
    }
    let pending = Pending::Created { by_fd: kind == mode::IFREG, path, kind, requested };
    Ok(Action::RunThen(new_regs, pending))
}

/// At the exit of a call that left work: record a new inode, or correct entry types.
pub fn exited(ctx: &mut Ctx<'_>, p: &Pending, result: i64) {
    match p {
        Pending::Created { by_fd, path, kind, requested } if result >= 0 => {
            created(ctx, *by_fd, path, *kind, *requested, result)
        }
        Pending::Dirents { fd, buf, old } if result > 0 => dirents(ctx, *fd, *buf, *old, result as usize),
        _ => {} // the call failed, or read nothing
    }
}

fn created(ctx: &mut Ctx<'_>, by_fd: bool, path: &Path, kind: u32, requested: u32, result: i64) {
    let stx = if by_fd { statx(&ctx.fd_path(result as u64), 0) } else { statx(path, libc::AT_SYMLINK_NOFOLLOW) };
    let Ok(stx) = stx else { return };
    let perm = rules::made_mode(kind, requested, u32::from(stx.stx_mode));
    let parent =
        if by_fd && path.is_dir() { statx(path, 0).ok().map(|s| kernel::real_of(&s)) } else { parent_of(path) };
    let op = Op::Create {
        real: kernel::real_of(&stx),
        parent,
        uid: ctx.ids.uid.fs,
        gid: ctx.ids.gid.fs,
        mode: kind | perm,
        rdev: 0,
    };
    let _ = ctx.attrs(&op);
}

/// A device node is a plain file on disk: its directory entry says DT_REG, and `find
/// -type c` trusts that. Give recorded devices their type in what getdents returned.
fn dirents(ctx: &mut Ctx<'_>, fd: u64, buf: u64, old: bool, len: usize) {
    let Some(t) = ctx.session.table() else { return };
    let Ok(dir) = statx(&ctx.fd_path(fd), 0) else { return };
    let dev = kernel::real_of(&dir).key.dev;
    let mut bytes = vec![0u8; len];
    if tracee::read(ctx.tid, buf, &mut bytes).map_or(true, |n| n < len) {
        return;
    }
    let changed = kernel::fix_dirent_types(&mut bytes, old, dev, |k| t.lookup(k).map(|r| r.map(|r| r.mode)));
    if changed {
        let _ = tracee::write(ctx.tid, buf, &bytes);
    }
}

fn remove(ctx: &mut Ctx<'_>, nr: i64, a: [u64; 6]) -> R {
    let fdcwd = libc::AT_FDCWD as u64;
    match nr {
        libc::SYS_unlink | libc::SYS_rmdir | libc::SYS_unlinkat => {
            let (path, flags) = match nr {
                libc::SYS_unlink => (ctx.path(fdcwd, a[0], 0)?, 0),
                libc::SYS_rmdir => (ctx.path(fdcwd, a[0], 0)?, libc::AT_REMOVEDIR),
                _ => (ctx.path(a[0], a[1], 0)?, a[2] as i32),
            };
            let before = statx(&path, libc::AT_SYMLINK_NOFOLLOW).ok();
            let c = cpath(&path)?;
            // SAFETY: unlinkat of a path we built.
            libc_ret(unsafe { libc::unlinkat(libc::AT_FDCWD, c.as_ptr(), flags) })?;
            if let Some(stx) = before {
                ctx.ask(&Op::Unlinked { real: kernel::real_of(&stx) });
            }
            Ok(0)
        }
        _ => {
            let (old, new, flags) = match nr {
                libc::SYS_rename => (ctx.path(fdcwd, a[0], 0)?, ctx.path(fdcwd, a[1], 0)?, 0),
                libc::SYS_renameat => (ctx.path(a[0], a[1], 0)?, ctx.path(a[2], a[3], 0)?, 0),
                _ => (ctx.path(a[0], a[1], 0)?, ctx.path(a[2], a[3], 0)?, a[4] as u32),
            };
            let replaces = rules::rename_may_replace(flags);
            let target = if replaces { statx(&new, libc::AT_SYMLINK_NOFOLLOW).ok() } else { None };
            let source = if target.is_some() { statx(&old, libc::AT_SYMLINK_NOFOLLOW).ok() } else { None };
            let (o, n) = (cpath(&old)?, cpath(&new)?);
            // SAFETY: renameat2 of paths we built.
            libc_ret(unsafe { libc::renameat2(libc::AT_FDCWD, o.as_ptr(), libc::AT_FDCWD, n.as_ptr(), flags) })?;
            let (target, source) = (target.map(|t| kernel::real_of(&t)), source.map(|s| kernel::real_of(&s)));
            if let Some(t) = rules::rename_replaced(target.as_ref(), source.as_ref()) {
                ctx.ask(&Op::Unlinked { real: *t });
            }
            Ok(0)
        }
    }
}

/// Extended attributes: `None` lets the kernel handle a name the user owns for real.
#[allow(non_upper_case_globals)]
fn xattr(ctx: &mut Ctx<'_>, nr: i64, a: [u64; 6]) -> Option<R> {
    use libc::*;
    if (syscalls::SYS_SETXATTRAT..=syscalls::SYS_REMOVEXATTRAT).contains(&nr) {
        return Some(Err(ENOSYS)); // callers fall back to the path and fd forms
    }
    let (path, nofollow) = match nr {
        SYS_setxattr | SYS_getxattr | SYS_listxattr | SYS_removexattr => (ctx.path(AT_FDCWD as u64, a[0], 0), false),
        SYS_lsetxattr | SYS_lgetxattr | SYS_llistxattr | SYS_lremovexattr => (ctx.path(AT_FDCWD as u64, a[0], 0), true),
        _ => (Ok(ctx.fd_path(a[0])), false),
    };
    let path = match path {
        Ok(p) => p,
        Err(e) => return Some(Err(e)),
    };
    let list = matches!(nr, SYS_listxattr | SYS_llistxattr | SYS_flistxattr);
    let name = if list {
        Vec::new()
    } else {
        match ctx.string(a[1]) {
            Ok(n) => n,
            Err(e) => return Some(Err(e)),
        }
    };
    if matches!(nr, SYS_setxattr | SYS_lsetxattr | SYS_fsetxattr) && name == rules::ACL_ACCESS {
        // A minimal ACL is a mode: chmod, keeping the setuid, setgid and sticky bits.
        let mut v = vec![0u8; (a[3] as usize).min(XATTR_SIZE_MAX)];
        if tracee::read(ctx.tid, a[2], &mut v).is_ok_and(|n| n == v.len())
            && let Some(perm) = fakebox_proto::inode::acl_equiv_mode(&v)
        {
            let special = match ctx.see(&path, nofollow).and_then(|s| ctx.view(&kernel::real_of(&s))) {
                Ok(f) => f.mode & 0o7000,
                Err(e) => return Some(Err(e)),
            };
            return Some(chmod_path(ctx, &path, nofollow, special | perm));
        }
    }
    if !list && !rules::is_faked_xattr(&name) {
        return None;
    }
    Some(xattr_faked(ctx, nr, a, &path, nofollow, &name))
}

#[allow(non_upper_case_globals)]
fn xattr_faked(ctx: &mut Ctx<'_>, nr: i64, a: [u64; 6], path: &Path, nofollow: bool, name: &[u8]) -> R {
    use libc::*;
    let real = kernel::real_of(&ctx.see(path, nofollow)?);
    let name_s = std::str::from_utf8(name).map_err(|_| EINVAL)?;
    let c = cpath(path)?;
    let cname = CString::new(name).map_err(|_| EINVAL)?;
    match nr {
        SYS_setxattr | SYS_lsetxattr | SYS_fsetxattr => {
            let size = a[3] as usize;
            if size > XATTR_SIZE_MAX {
                return Err(E2BIG);
            }
            let mut value = vec![0u8; size];
            if size > 0 && tracee::read(ctx.tid, a[2], &mut value).map_err(err)? < size {
                return Err(EFAULT);
            }
            match ctx.ask(&Op::SetXattr { real, name: name_s, value: &value, flags: a[4] as i32 }) {
                Answer::Done => Ok(0),
                Answer::Errno(e) => Err(e),
                _ => Err(EPROTO),
            }
        }
        SYS_getxattr | SYS_lgetxattr | SYS_fgetxattr => {
            let (buf, size) = (a[2], a[3] as usize);
            let value = match ctx.ask(&Op::GetXattr { real, name: name_s }) {
                Answer::Bytes(v) => v,
                Answer::Errno(ENODATA) => {
                    // Not recorded: the file's own value, if any.
                    let mut v = vec![0u8; XATTR_SIZE_MAX];
                    // SAFETY: getxattr into our buffer.
                    let n = libc_size(unsafe {
                        if nofollow {
                            lgetxattr(c.as_ptr(), cname.as_ptr(), v.as_mut_ptr() as *mut c_void, v.len())
                        } else {
                            getxattr(c.as_ptr(), cname.as_ptr(), v.as_mut_ptr() as *mut c_void, v.len())
                        }
                    })?;
                    v.truncate(n);
                    v
                }
                Answer::Errno(e) => return Err(e),
                _ => return Err(EPROTO),
            };
            give(ctx, buf, size, &value)
        }
        SYS_removexattr | SYS_lremovexattr | SYS_fremovexattr => match ctx.ask(&Op::RemoveXattr { real, name: name_s })
        {
            Answer::Done => Ok(0),
            // SAFETY: removexattr of a path we built.
            Answer::Errno(ENODATA) => libc_ret(unsafe {
                if nofollow {
                    lremovexattr(c.as_ptr(), cname.as_ptr())
                } else {
                    removexattr(c.as_ptr(), cname.as_ptr())
                }
            }),
            Answer::Errno(e) => Err(e),
            _ => Err(EPROTO),
        },
        _ => {
            let (buf, size) = (a[1], a[2] as usize);
            let mut own = vec![0u8; XATTR_LIST_MAX];
            // SAFETY: listxattr into our buffer.
            let n = libc_size(unsafe {
                if nofollow {
                    llistxattr(c.as_ptr(), own.as_mut_ptr() as *mut c_char, own.len())
                } else {
                    listxattr(c.as_ptr(), own.as_mut_ptr() as *mut c_char, own.len())
                }
            })?;
            own.truncate(n);
            if let Answer::Bytes(faked) = ctx.ask(&Op::ListXattr { real }) {
                for name in faked.split(|&b| b == 0).filter(|n| !n.is_empty()) {
                    if !own.split(|&b| b == 0).any(|o| o == name) {
                        own.extend_from_slice(name);
                        own.push(0);
                    }
                }
            }
            give(ctx, buf, size, &own)
        }
    }
}

/// The getxattr/listxattr convention: size 0 asks for the length; too small is ERANGE.
fn give(ctx: &Ctx<'_>, buf: u64, size: usize, value: &[u8]) -> R {
    if size == 0 {
        return Ok(value.len() as i64);
    }
    if value.len() > size {
        return Err(libc::ERANGE);
    }
    ctx.write(buf, value)?;
    Ok(value.len() as i64)
}

/// Capabilities 32 to 40 (CAP_MAC_OVERRIDE to CAP_CHECKPOINT_RESTORE, the last one Linux
/// 5.9 to 6.x know), in capget's second word.
const CAPS_HIGH: u32 = 0x1ff;

#[allow(non_upper_case_globals)]
fn identity(ctx: &mut Ctx<'_>, nr: i64, a: [u64; 6]) -> R {
    use libc::*;
    let ids = &mut *ctx.ids;
    let p = ids.privileged();
    let unit = |r: Result<(), i32>| r.map(|()| 0);
    match nr {
        SYS_getuid => Ok(i64::from(ids.uid.r)),
        SYS_geteuid => Ok(i64::from(ids.uid.e)),
        SYS_getgid => Ok(i64::from(ids.gid.r)),
        SYS_getegid => Ok(i64::from(ids.gid.e)),
        SYS_getresuid | SYS_getresgid => {
            let c = if nr == SYS_getresuid { ids.uid } else { ids.gid };
            for (addr, v) in [(a[0], c.r), (a[1], c.e), (a[2], c.s)] {
                tracee::write(ctx.tid, addr, &v.to_ne_bytes()).map_err(err)?;
            }
            Ok(0)
        }
        SYS_getgroups => {
            let size = a[0] as i32;
            let n = ids.groups.len();
            if size == 0 {
                return Ok(n as i64);
            }
            if size < 0 || (size as usize) < n {
                return Err(EINVAL);
            }
            let bytes: Vec<u8> = ids.groups.iter().flat_map(|g| g.to_ne_bytes()).collect();
            tracee::write(ctx.tid, a[1], &bytes).map_err(err)?;
            Ok(n as i64)
        }
        SYS_setgroups => {
            if !p {
                return Err(EPERM);
            }
            let n = a[0] as usize;
            if n > ids::NGROUPS_MAX {
                return Err(EINVAL);
            }
            let mut raw = vec![0u8; n * 4];
            if n > 0 && tracee::read(ctx.tid, a[1], &mut raw).map_err(err)? < raw.len() {
                return Err(EFAULT);
            }
            ids.groups = raw.chunks_exact(4).map(|c| u32::from_ne_bytes([c[0], c[1], c[2], c[3]])).collect();
            Ok(0)
        }
        SYS_setuid => unit(ids.uid.set(a[0] as u32, p)),
        SYS_setgid => unit(ids.gid.set(a[0] as u32, p)),
        SYS_setreuid => unit(ids.uid.set_re(a[0] as u32, a[1] as u32, p)),
        SYS_setregid => unit(ids.gid.set_re(a[0] as u32, a[1] as u32, p)),
        SYS_setresuid => unit(ids.uid.set_res(a[0] as u32, a[1] as u32, a[2] as u32, p)),
        SYS_setresgid => unit(ids.gid.set_res(a[0] as u32, a[1] as u32, a[2] as u32, p)),
        SYS_setfsuid => Ok(i64::from(ids.uid.set_fs(a[0] as u32, p))),
        SYS_setfsgid => Ok(i64::from(ids.gid.set_fs(a[0] as u32, p))),
        SYS_capget => {
            // Root holds every capability; others none. Two 32-bit words (v2/v3).
            if a[1] != 0 {
                let (lo, hi) = if p { (u32::MAX, CAPS_HIGH) } else { (0, 0) };
                let data: Vec<u8> = [lo, lo, 0, hi, hi, 0].iter().flat_map(|w: &u32| w.to_ne_bytes()).collect();
                tracee::write(ctx.tid, a[1], &data).map_err(err)?;
            }
            Ok(0)
        }
        _ => Ok(0), // capset: a root process may drop or raise what it likes
    }
}

fn access(ctx: &mut Ctx<'_>, nr: i64, a: [u64; 6]) -> R {
    let (path, how, flags) = match nr {
        libc::SYS_access => (ctx.path(libc::AT_FDCWD as u64, a[0], 0)?, a[1] as i32, 0),
        libc::SYS_faccessat => (ctx.path(a[0], a[1], 0)?, a[2] as i32, 0),
        _ => (ctx.path(a[0], a[1], a[3] as i32)?, a[2] as i32, a[3] as i32),
    };
    if how & !(libc::R_OK | libc::W_OK | libc::X_OK) != 0 {
        return Err(libc::EINVAL);
    }
    let stx = ctx.see(&path, flags & libc::AT_SYMLINK_NOFOLLOW != 0)?;
    if how == libc::F_OK {
        return Ok(0);
    }
    if how & libc::W_OK != 0 {
        let c = cpath(&path)?;
        // SAFETY: faccessat of a path we built.
        if unsafe { libc::faccessat(libc::AT_FDCWD, c.as_ptr(), libc::W_OK, 0) } < 0
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::EROFS)
        {
            return Err(libc::EROFS);
        }
    }
    let f = ctx.view(&kernel::real_of(&stx))?;
    let (uid, gid) =
        if flags & libc::AT_EACCESS != 0 { (ctx.ids.uid.e, ctx.ids.gid.e) } else { (ctx.ids.uid.r, ctx.ids.gid.r) };
    if ids::may_access(&f, uid, |g| g == gid || ctx.ids.in_group(g), how as u32) { Ok(0) } else { Err(libc::EACCES) }
}
