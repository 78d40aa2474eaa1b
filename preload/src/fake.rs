//! The operations every hook is made of: learn what the kernel says about an inode, ask
//! the daemon what the session says, and translate between the two. Hooks stay a few
//! lines each; what an operation *means* is decided by the daemon alone.
use crate::client;
use crate::sys::{self, Res};
use fakebox_proto::rules;
use fakebox_proto::{Fake, Op, Real, Reply};
use libc::{c_char, c_int};

/// The kernel's view of an inode, with the raw statx it came from.
pub struct Seen {
    pub stx: libc::statx,
    pub real: Real,
}

/// statx of `path` relative to `dirfd` (flags as for fstatat: AT_SYMLINK_NOFOLLOW,
/// AT_EMPTY_PATH, AT_NO_AUTOMOUNT).
pub fn see(dirfd: c_int, path: *const c_char, flags: c_int) -> Res<Seen> {
    // SAFETY: statx is plain data; zero is a valid value.
    let mut stx: libc::statx = unsafe { core::mem::zeroed() };
    sys::statx(dirfd, path, flags, &mut stx)?;
    Ok(Seen { real: real_of(&stx), stx })
}

/// The inode behind an open file descriptor.
pub fn see_fd(fd: c_int) -> Res<Seen> {
    see(fd, c"".as_ptr(), libc::AT_EMPTY_PATH)
}

pub use fakebox_proto::kernel::real_of;

/// Asks the daemon; replies other than attributes become errors.
pub fn attrs(op: &Op<'_>) -> Res<Fake> {
    let mut req = [0u8; 256];
    let mut rep = [0u8; 256];
    match client::ask(op, &mut req, &mut rep)? {
        Reply::Attrs(f) => Ok(f),
        Reply::Errno(e) => Err(e),
        _ => Err(libc::EPROTO),
    }
}

/// Sends an operation whose reply carries nothing but success or an errno.
pub fn done(op: &Op<'_>) -> Res<()> {
    let mut req = [0u8; 256];
    let mut rep = [0u8; 64];
    match client::ask(op, &mut req, &mut rep)? {
        Reply::Done | Reply::Attrs(_) => Ok(()),
        Reply::Errno(e) => Err(e),
        Reply::Bytes(_) => Err(libc::EPROTO),
    }
}

/// What the session sees for an inode: from the shared table when it can tell, else from
/// the daemon (a stale record, which the daemon then drops, or a table that overflowed).
pub fn view(real: &Real) -> Res<Fake> {
    if let Some(f) = crate::shared::table().and_then(|t| t.view(real)) {
        return Ok(f);
    }
    attrs(&Op::Lookup { real: *real })
}

/// A link to `real` went away: the daemon forgets the inode if that was its last. No
/// round trip when the shared table says the daemon holds nothing for it (rm -rf of files
/// the session never changed, a compiler's temporary files).
///
/// Otherwise the news goes without waiting for the answer, when every record carries a
/// birth time: then a record the news arrives too late for (a new file that got the freed
/// inode number meanwhile) tells itself apart, to readers and to the daemon.
pub fn unlinked(real: &Real) -> Res<()> {
    let table = crate::shared::table();
    if let Some(t) = &table
        && t.complete()
        && t.lookup(real.key) == Ok(None)
    {
        return Ok(());
    }
    let op = Op::Unlinked { real: *real };
    let quiet = table.is_some_and(|t| t.births_everywhere()) && real.birth.is_some();
    if quiet && client::tell(&op) { Ok(()) } else { done(&op) }
}

/// Does the daemon hold no extended attributes for any inode, as the shared table says?
/// Then an xattr read needs no statx to learn which inode it is about.
pub fn no_xattrs_anywhere() -> bool {
    crate::shared::table().is_some_and(|t| t.complete() && !t.has_xattrs())
}

/// Might the daemon hold extended attributes for this inode? (No, when the shared table
/// says so: then getxattr and listxattr need no round trip.)
pub fn may_have_xattrs(real: &Real) -> bool {
    match crate::shared::table() {
        Some(t) => match t.lookup(real.key) {
            Ok(Some(r)) => r.xattrs,
            Ok(None) => !t.complete(),
            Err(_) => true, // the table cannot tell: ask the daemon
        },
        None => true,
    }
}

pub use fakebox_proto::kernel::patch_statx;

/// fstatat as the session sees it.
pub fn stat_at(dirfd: c_int, path: *const c_char, st: *mut libc::stat, flags: c_int) -> Res<()> {
    if st.is_null() {
        return Err(libc::EFAULT);
    }
    let seen = see(dirfd, path, flags)?;
    let f = view(&seen.real)?;
    // SAFETY: the caller's buffer, checked non-null.
    unsafe { *st = fakebox_proto::kernel::to_stat(&seen.stx, &f) };
    Ok(())
}

/// The directory that holds `path` (relative to `dirfd`), for setgid inheritance.
pub fn parent(dirfd: c_int, path: *const c_char) -> Option<Real> {
    let p = sys::cstr(path);
    let mut buf = [0u8; 4096];
    let cut = p.iter().rposition(|&b| b == b'/');
    let dir: &[u8] = match cut {
        None => b".",
        Some(0) => b"/",
        Some(i) => &p[..i],
    };
    if dir.len() >= buf.len() {
        return None;
    }
    buf[..dir.len()].copy_from_slice(dir);
    see(dirfd, buf.as_ptr() as *const c_char, 0).ok().map(|s| s.real)
}

/// Records a new inode made by this process: `mode` carries the type the session should
/// see (a device node is a plain file on disk), owned by the fake fsuid/fsgid.
///
/// No round trip when the new inode looks exactly like an untouched file (see
/// [`quiet_create`]), with the mode the disk has and no old record for its inode number:
/// the shared table can tell all of that.
pub fn created(seen: &Seen, parent: impl FnOnce() -> Option<Real>, mode: u32, rdev: u64) -> Res<()> {
    if rdev == 0
        && mode == seen.real.mode
        && let Some(t) = quiet_create()
        && t.lookup(seen.real.key) == Ok(None)
    {
        return Ok(());
    }
    let uid = crate::ids::UID.fs.load(core::sync::atomic::Ordering::Relaxed);
    let gid = crate::ids::GID.fs.load(core::sync::atomic::Ordering::Relaxed);
    attrs(&Op::Create { real: seen.real, parent: parent(), uid, gid, mode, rdev }).map(drop)
}

/// Is a new inode made now an untouched file as far as the session goes: made by fake
/// root, in a directory that passes no group on, with a complete table whose unknown
/// files are root's? (Its mode and inode number are the caller's to check.)
fn quiet_create() -> Option<fakebox_proto::shm::Table> {
    use core::sync::atomic::Ordering::Relaxed;
    let (fsuid, fsgid) = (crate::ids::UID.fs.load(Relaxed), crate::ids::GID.fs.load(Relaxed));
    // Which directory the inode is made in is not known yet: any setgid one will do.
    crate::shared::table()
        .filter(|t| t.complete() && rules::default_owner(fsuid, fsgid, t.has_setgid_dirs(), t.unknown_is_real()))
}

/// Before making an inode of `kind` with permission bits `requested`: will it need no
/// record whatever its inode number (see [`created`])? Then no statx either, and the
/// table's change count, read before the inode exists: anything recorded about it later
/// moves the count (see `fresh`). The disk must keep the bits as they are (no setuid,
/// owner rights present: then the umask is all that can differ, and the disk shows it),
/// and every record must carry a birth time, so that an old record for the same inode
/// number shows itself stale to any reader.
pub fn plain_create(kind: u32, requested: u32) -> Option<u64> {
    if !rules::plain_mode(kind, requested) {
        return None;
    }
    let count = crate::shared::table()?.writes();
    quiet_create().filter(|t| t.births_everywhere()).map(|_| count)
}

/// The mode (type and permission bits) the session records for an inode of `kind` just
/// made with `requested`, as the kernel made it (`seen`): see [`rules::made_mode`].
pub fn made_mode(kind: u32, requested: u32, seen: &Seen) -> u32 {
    kind | rules::made_mode(kind, requested, u32::from(seen.stx.stx_mode))
}
