//! Every request a client makes of the daemon, and the replies.
//!
//! A preload hook and a tracer handler both turn their call into one of these: the rule for
//! what `Chown` or `Unlinked` means lives in the daemon and nowhere else.
use crate::ids::Cred;
use crate::inode::{Fake, Real};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op<'a> {
    /// A process announces itself (used for logging and the launcher's liveness check).
    Hello {
        pid: i32,
    },
    /// A process about to exec a program LD_PRELOAD cannot reach asks the tracer to take
    /// it over (PTRACE_SEIZE of thread `tid`, which must belong to the asking process).
    /// `uid`/`gid` are its fake ids, which the tracer carries on. The reply is the
    /// seccomp filter to install (raw `struct sock_filter` bytes) before the exec.
    Attach {
        tid: i32,
        uid: Cred,
        gid: Cred,
    },
    /// A `fakebox run` joins the daemon of its state file (which several sessions may
    /// share); the daemon lives while any session has joined. A session with another
    /// `--unknown-is-real` than the daemon's is refused (EINVAL); a daemon on its way out
    /// answers EAGAIN (start a new one once it is gone).
    Join {
        unknown_is_real: bool,
    },
    /// The session ends: the last one out has the daemon save the state, and hears
    /// whether that worked (Done, or the errno).
    Leave,
    /// Send me the shared table (a memfd, passed with SCM_RIGHTS beside a `Done`), so that
    /// lookups need no round trip.
    MapTable,
    /// What does the session see for this inode?
    Lookup {
        real: Real,
    },
    /// chown family; `None` leaves that id unchanged (the `-1` of the C API).
    Chown {
        real: Real,
        uid: Option<u32>,
        gid: Option<u32>,
    },
    /// chmod family: the full permission bits (including setuid, setgid, sticky).
    Chmod {
        real: Real,
        mode: u32,
    },
    /// A new inode: by open(O_CREAT), mkdir, mknod, symlink. `mode` carries the file type
    /// the session should see (a device node is a plain file on disk), `uid`/`gid` the
    /// creator's fake fsuid/fsgid; `parent` is the directory it was made in, so that a
    /// setgid directory passes its group (and, to directories, its setgid bit) on.
    Create {
        real: Real,
        parent: Option<Real>,
        uid: u32,
        gid: u32,
        mode: u32,
        rdev: u64,
    },
    /// A link to `real` went away (unlink, rmdir, rename over it). `real` is the inode as
    /// it was before the removal, so its `nlink` says whether this was the last link.
    Unlinked {
        real: Real,
    },
    SetXattr {
        real: Real,
        name: &'a str,
        value: &'a [u8],
        /// XATTR_CREATE / XATTR_REPLACE.
        flags: i32,
    },
    GetXattr {
        real: Real,
        name: &'a str,
    },
    /// The names the session recorded, each followed by a NUL, as listxattr returns them.
    ListXattr {
        real: Real,
    },
    RemoveXattr {
        real: Real,
        name: &'a str,
    },
}

pub const XATTR_CREATE: i32 = 1;
pub const XATTR_REPLACE: i32 = 2;

/// The kernel's limits on extended attributes, which bound what a client can make the
/// daemon keep for one inode: a value (XATTR_SIZE_MAX), a name (XATTR_NAME_MAX), and the
/// list of an inode's names, each with its NUL (XATTR_LIST_MAX).
pub const XATTR_SIZE_MAX: usize = 65536;
pub const XATTR_NAME_MAX: usize = 255;
pub const XATTR_LIST_MAX: usize = 65536;
/// The most value bytes the daemon keeps for one inode, all names together: sixteen
/// values of the largest size. Past it a set fails with ENOSPC, as on a full file system.
pub const XATTR_VALUES_MAX: usize = 16 * XATTR_SIZE_MAX;

/// The most inodes the daemon records (four times what the shared table holds: the rest
/// wait in the daemon, asked for). A change that would record one more fails with ENOSPC,
/// as on a full file system, and the daemon says so once on stderr. With
/// [`MAX_XATTR_BYTES`] it bounds the daemon's memory and the state file's size, whatever
/// inode numbers, devices and names its clients send (README "Limits").
pub const MAX_ENTRIES: usize = 1 << 23;
/// The most bytes of extended attributes the daemon keeps, all inodes together (each name
/// with its NUL, and its value); past it a change that adds some fails with ENOSPC.
pub const MAX_XATTR_BYTES: usize = 512 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply<'a> {
    /// The inode as the session sees it (after the operation, for changes).
    Attrs(Fake),
    Done,
    /// The operation fails with this errno (for xattrs: ENODATA, EEXIST, ERANGE...).
    Errno(i32),
    /// The value of an xattr, or a NUL-separated list of names.
    Bytes(&'a [u8]),
}

impl Op<'_> {
    /// The inode the operation is about, if any.
    pub fn real(&self) -> Option<&Real> {
        match self {
            Op::Hello { .. } | Op::Attach { .. } | Op::MapTable | Op::Join { .. } | Op::Leave => None,
            Op::Lookup { real }
            | Op::Chown { real, .. }
            | Op::Chmod { real, .. }
            | Op::Create { real, .. }
            | Op::Unlinked { real }
            | Op::SetXattr { real, .. }
            | Op::GetXattr { real, .. }
            | Op::ListXattr { real }
            | Op::RemoveXattr { real, .. } => Some(real),
        }
    }
}
