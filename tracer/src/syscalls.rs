//! The table of intercepted x86_64 system calls: number, name, family. The seccomp
//! filter is built from it and the handlers dispatch on its families, so a call is added
//! in one place. Numbers above [`MAX_KNOWN`] (newer than this table) go to the tracer too.
use libc::c_long;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// stat-like: report the session's view.
    Stat,
    /// chown family: record.
    Chown,
    /// chmod family: record; the disk gets only what the user may have.
    Chmod,
    /// mknod: devices become placeholder files.
    Mknod,
    /// May create an inode (open with O_CREAT, mkdir, symlink): sanitize the mode, and
    /// record the creator when the view differs from the default.
    Create,
    /// unlink, rmdir, rename: the table follows.
    Remove,
    /// Extended attributes.
    Xattr,
    /// get/set ids, groups, capabilities.
    Identity,
    /// access checks answered as the fake identity would.
    Access,
    /// Directory reads: a recorded device node's entry gets its type (at the call's exit).
    Dirents,
    /// prctl(PR_GET_DUMPABLE / PR_SET_DUMPABLE): the flag is kept apart, and the process
    /// stays dumpable (the tracer reads its memory).
    Dumpable,
    /// Newer than this table: let through, but logged.
    Unknown,
}

/// When does the filter send the call to the tracer?
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    Always,
    /// Only when argument `arg` has one of `bits` set (open flags: O_CREAT, O_TMPFILE).
    ArgHas {
        arg: u8,
        bits: u32,
    },
    /// Only when argument `arg` (its low 32 bits) is one of `values` (prctl options).
    ArgIs {
        arg: u8,
        values: [u32; 2],
    },
}

pub struct Sys {
    pub nr: c_long,
    pub name: &'static str,
    pub family: Family,
    pub when: When,
}

const fn s(nr: c_long, name: &'static str, family: Family) -> Sys {
    Sys { nr, name, family, when: When::Always }
}

/// O_CREAT | __O_TMPFILE's own bit (O_TMPFILE without O_DIRECTORY).
const CREATES: u32 = (libc::O_CREAT | (libc::O_TMPFILE & !libc::O_DIRECTORY)) as u32;

use Family::*;
pub const TABLE: &[Sys] = &[
    s(libc::SYS_stat, "stat", Stat),
    s(libc::SYS_fstat, "fstat", Stat),
    s(libc::SYS_lstat, "lstat", Stat),
    s(libc::SYS_newfstatat, "newfstatat", Stat),
    s(libc::SYS_statx, "statx", Stat),
    s(libc::SYS_chown, "chown", Chown),
    s(libc::SYS_fchown, "fchown", Chown),
    s(libc::SYS_lchown, "lchown", Chown),
    s(libc::SYS_fchownat, "fchownat", Chown),
    s(libc::SYS_chmod, "chmod", Chmod),
    s(libc::SYS_fchmod, "fchmod", Chmod),
    s(libc::SYS_fchmodat, "fchmodat", Chmod),
    s(SYS_FCHMODAT2, "fchmodat2", Chmod),
    s(libc::SYS_mknod, "mknod", Mknod),
    s(libc::SYS_mknodat, "mknodat", Mknod),
    Sys { nr: libc::SYS_open, name: "open", family: Create, when: When::ArgHas { arg: 1, bits: CREATES } },
    Sys { nr: libc::SYS_openat, name: "openat", family: Create, when: When::ArgHas { arg: 2, bits: CREATES } },
    s(libc::SYS_creat, "creat", Create),
    s(libc::SYS_openat2, "openat2", Create),
    s(libc::SYS_mkdir, "mkdir", Create),
    s(libc::SYS_mkdirat, "mkdirat", Create),
    s(libc::SYS_symlink, "symlink", Create),
    s(libc::SYS_symlinkat, "symlinkat", Create),
    s(libc::SYS_unlink, "unlink", Remove),
    s(libc::SYS_unlinkat, "unlinkat", Remove),
    s(libc::SYS_rmdir, "rmdir", Remove),
    s(libc::SYS_rename, "rename", Remove),
    s(libc::SYS_renameat, "renameat", Remove),
    s(libc::SYS_renameat2, "renameat2", Remove),
    s(libc::SYS_setxattr, "setxattr", Xattr),
    s(libc::SYS_lsetxattr, "lsetxattr", Xattr),
    s(libc::SYS_fsetxattr, "fsetxattr", Xattr),
    s(libc::SYS_getxattr, "getxattr", Xattr),
    s(libc::SYS_lgetxattr, "lgetxattr", Xattr),
    s(libc::SYS_fgetxattr, "fgetxattr", Xattr),
    s(libc::SYS_listxattr, "listxattr", Xattr),
    s(libc::SYS_llistxattr, "llistxattr", Xattr),
    s(libc::SYS_flistxattr, "flistxattr", Xattr),
    s(libc::SYS_removexattr, "removexattr", Xattr),
    s(libc::SYS_lremovexattr, "lremovexattr", Xattr),
    s(libc::SYS_fremovexattr, "fremovexattr", Xattr),
    s(SYS_SETXATTRAT, "setxattrat", Xattr),
    s(SYS_GETXATTRAT, "getxattrat", Xattr),
    s(SYS_LISTXATTRAT, "listxattrat", Xattr),
    s(SYS_REMOVEXATTRAT, "removexattrat", Xattr),
    s(libc::SYS_getuid, "getuid", Identity),
    s(libc::SYS_geteuid, "geteuid", Identity),
    s(libc::SYS_getgid, "getgid", Identity),
    s(libc::SYS_getegid, "getegid", Identity),
    s(libc::SYS_getresuid, "getresuid", Identity),
    s(libc::SYS_getresgid, "getresgid", Identity),
    s(libc::SYS_getgroups, "getgroups", Identity),
    s(libc::SYS_setuid, "setuid", Identity),
    s(libc::SYS_setgid, "setgid", Identity),
    s(libc::SYS_setreuid, "setreuid", Identity),
    s(libc::SYS_setregid, "setregid", Identity),
    s(libc::SYS_setresuid, "setresuid", Identity),
    s(libc::SYS_setresgid, "setresgid", Identity),
    s(libc::SYS_setfsuid, "setfsuid", Identity),
    s(libc::SYS_setfsgid, "setfsgid", Identity),
    s(libc::SYS_setgroups, "setgroups", Identity),
    s(libc::SYS_capget, "capget", Identity),
    s(libc::SYS_capset, "capset", Identity),
    s(libc::SYS_access, "access", Access),
    s(libc::SYS_faccessat, "faccessat", Access),
    s(libc::SYS_faccessat2, "faccessat2", Access),
    s(libc::SYS_getdents64, "getdents64", Dirents),
    s(libc::SYS_getdents, "getdents", Dirents),
    Sys {
        nr: libc::SYS_prctl,
        name: "prctl",
        family: Dumpable,
        when: When::ArgIs { arg: 0, values: [libc::PR_GET_DUMPABLE as u32, libc::PR_SET_DUMPABLE as u32] },
    },
];

/// Calls the agent's filter traps besides those of the table, which the tracer never
/// sees as such: execs, which the agent announces, and the signal calls by which it
/// keeps SIGSYS for itself.
pub const AGENT_ALSO: &[c_long] =
    &[libc::SYS_execve, libc::SYS_execveat, libc::SYS_rt_sigaction, libc::SYS_rt_sigprocmask];

pub const SYS_FCHMODAT2: c_long = 452;
pub const SYS_SETXATTRAT: c_long = 463;
pub const SYS_GETXATTRAT: c_long = 464;
pub const SYS_LISTXATTRAT: c_long = 465;
pub const SYS_REMOVEXATTRAT: c_long = 466;

/// The highest system call number this table knows of; anything above is traced.
pub const MAX_KNOWN: c_long = 466;

pub fn family(nr: c_long) -> Family {
    TABLE.iter().find(|s| s.nr == nr).map_or(Family::Unknown, |s| s.family)
}

pub fn name(nr: c_long) -> &'static str {
    TABLE.iter().find(|s| s.nr == nr).map_or("unknown", |s| s.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_unique_and_below_the_unknown_line() {
        for (i, a) in TABLE.iter().enumerate() {
            assert!(a.nr <= MAX_KNOWN, "{}", a.name);
            for b in &TABLE[i + 1..] {
                assert_ne!(a.nr, b.nr, "{} and {}", a.name, b.name);
            }
        }
    }
}
