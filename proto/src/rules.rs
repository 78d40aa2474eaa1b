//! What a client (a preload hook or a tracer handler) decides on its own side of a call,
//! written once for both mechanisms: the mode a new inode is recorded with, whether it
//! needs a record at all, whether a rename took a link from another inode, and which
//! extended attributes the session keeps instead of the file. What a change *means* stays
//! the daemon's (`launcher/src/daemon/table.rs`); these only say what to send it.
use crate::inode::{Real, mode};

/// The permission bits the session records for an inode of `kind` just made with
/// `requested`, given the mode the kernel gave it on disk: the umask shows as the bits
/// the kernel left out; setuid, setgid and sticky bits, which never reach the disk, are
/// kept as asked. A symlink's mode is always 0777.
pub fn made_mode(kind: u32, requested: u32, on_disk: u32) -> u32 {
    if kind == mode::IFLNK { 0o777 } else { (requested & 0o7000) | (requested & 0o777 & on_disk) }
}

/// Will an inode of `kind` made with permission bits `requested` show on disk exactly
/// the mode the session would record for it? Not with a setuid, setgid or sticky bit, nor
/// without the owner rights the disk always keeps (read and write; search on a
/// directory: see [`mode::on_disk`]). The umask is then all that can differ, and the
/// disk shows it.
pub fn plain_mode(kind: u32, requested: u32) -> bool {
    let perm = requested & 0o7777;
    perm & 0o7000 == 0 && mode::on_disk(kind | perm) & 0o777 == perm & 0o777
}

/// Does a new inode get the owner an untouched file shows? It does when made with fake
/// fsuid and fsgid 0, in a directory that passes no group on (not setgid), in a session
/// whose untouched files show root (not `--unknown-is-real`).
pub fn default_owner(fsuid: u32, fsgid: u32, parent_setgid: bool, unknown_is_real: bool) -> bool {
    fsuid == 0 && fsgid == 0 && !parent_setgid && !unknown_is_real
}

/// Does a new inode need a record in the table? Not when the session sees it exactly as
/// an untouched file: a plain mode ([`plain_mode`]) and the default owner
/// ([`default_owner`]).
pub fn needs_record(
    kind: u32,
    requested: u32,
    fsuid: u32,
    fsgid: u32,
    parent_setgid: bool,
    unknown_is_real: bool,
) -> bool {
    !plain_mode(kind, requested) || !default_owner(fsuid, fsgid, parent_setgid, unknown_is_real)
}

/// renameat2's flags (`linux/fs.h`), spelled here so that the crate needs no libc.
pub const RENAME_NOREPLACE: u32 = 1;
pub const RENAME_EXCHANGE: u32 = 2;

/// Can a rename with these flags take a link from an inode at its target? Not with
/// RENAME_NOREPLACE (it fails instead) nor RENAME_EXCHANGE (both inodes keep their link).
pub fn rename_may_replace(flags: u32) -> bool {
    flags & (RENAME_EXCHANGE | RENAME_NOREPLACE) == 0
}

/// After a rename succeeded: the inode that lost a link, given what was at the target and
/// at the source before it (`None`: nothing, or not looked at). A rename keeps its own
/// inode (the table is keyed by inode); a rename onto another link of the same inode
/// removes nothing.
pub fn rename_replaced<'a>(target: Option<&'a Real>, source: Option<&Real>) -> Option<&'a Real> {
    match (target, source) {
        (Some(t), Some(s)) if t.key != s.key => Some(t),
        _ => None,
    }
}

/// Is this extended attribute kept by the session rather than the file? The names an
/// ordinary user may not set for real: `security.*` (file capabilities, SELinux labels)
/// and `trusted.*`. `user.*` and `system.*` (ACLs) are the file's own.
pub fn is_faked_xattr(name: &[u8]) -> bool {
    name.starts_with(b"security.") || name.starts_with(b"trusted.")
}

/// The xattr that holds a file's access ACL; a minimal one is a chmod
/// ([`crate::inode::acl_equiv_mode`]).
pub const ACL_ACCESS: &[u8] = b"system.posix_acl_access";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inode::{Key, Real};

    #[test]
    fn made_mode_keeps_special_bits_and_the_umask() {
        // umask 022: the disk shows 0644 for a requested 0666.
        assert_eq!(made_mode(mode::IFREG, 0o666, mode::IFREG | 0o644), 0o644);
        // setuid and setgid never reach the disk but are recorded as asked.
        assert_eq!(made_mode(mode::IFREG, 0o4755, mode::IFREG | 0o755), 0o4755);
        // the owner bits the disk always keeps do not leak into the record.
        assert_eq!(made_mode(mode::IFREG, 0o000, mode::IFREG | 0o600), 0o000);
        assert_eq!(made_mode(mode::IFDIR, 0o1777, mode::IFDIR | 0o755), 0o1755);
        // a symlink is 0777 whatever was asked or is on disk.
        assert_eq!(made_mode(mode::IFLNK, 0, mode::IFLNK | 0o777), 0o777);
        assert_eq!(made_mode(mode::IFLNK, 0o777, 0), 0o777);
    }

    #[test]
    fn plain_modes_are_what_the_disk_shows() {
        assert!(plain_mode(mode::IFREG, 0o644));
        assert!(plain_mode(mode::IFREG, 0o600));
        assert!(plain_mode(mode::IFREG, 0o100666)); // type bits in the argument are ignored
        assert!(plain_mode(mode::IFDIR, 0o755));
        assert!(plain_mode(mode::IFLNK, 0o777));
        assert!(!plain_mode(mode::IFREG, 0o4755)); // setuid
        assert!(!plain_mode(mode::IFREG, 0o2644)); // setgid
        assert!(!plain_mode(mode::IFDIR, 0o1777)); // sticky
        assert!(!plain_mode(mode::IFREG, 0o444)); // the disk adds owner write
        assert!(!plain_mode(mode::IFREG, 0o000));
        assert!(!plain_mode(mode::IFDIR, 0o644)); // the disk adds owner search
        assert!(plain_mode(mode::IFREG, 0o700)); // a file needs no search bit
    }

    #[test]
    fn a_record_is_needed_unless_the_inode_looks_untouched() {
        assert!(!needs_record(mode::IFREG, 0o644, 0, 0, false, false));
        assert!(needs_record(mode::IFREG, 0o4755, 0, 0, false, false));
        assert!(needs_record(mode::IFREG, 0o644, 1000, 0, false, false));
        assert!(needs_record(mode::IFREG, 0o644, 0, 1000, false, false));
        assert!(needs_record(mode::IFREG, 0o644, 0, 0, true, false));
        assert!(needs_record(mode::IFREG, 0o644, 0, 0, false, true));
        assert!(default_owner(0, 0, false, false));
        assert!(!default_owner(0, 0, false, true));
    }

    fn real(ino: u64) -> Real {
        Real { key: Key { dev: 1, ino }, birth: None, uid: 0, gid: 0, mode: mode::IFREG | 0o644, rdev: 0, nlink: 1 }
    }

    #[test]
    fn rename_takes_a_link_only_from_another_inode_at_the_target() {
        assert!(rename_may_replace(0));
        assert!(!rename_may_replace(RENAME_NOREPLACE));
        assert!(!rename_may_replace(RENAME_EXCHANGE));
        assert!(rename_may_replace(4)); // RENAME_WHITEOUT still replaces
        let (a, b) = (real(1), real(2));
        assert_eq!(rename_replaced(Some(&b), Some(&a)), Some(&b));
        assert_eq!(rename_replaced(Some(&a), Some(&a)), None); // two links of one inode
        assert_eq!(rename_replaced(None, Some(&a)), None);
        assert_eq!(rename_replaced(Some(&b), None), None);
    }

    #[test]
    fn security_and_trusted_xattrs_are_faked() {
        assert!(is_faked_xattr(b"security.capability"));
        assert!(is_faked_xattr(b"security.selinux"));
        assert!(is_faked_xattr(b"trusted.overlay.opaque"));
        assert!(!is_faked_xattr(b"user.mime_type"));
        assert!(!is_faked_xattr(ACL_ACCESS));
        assert!(!is_faked_xattr(b"security")); // the prefix needs its dot
        assert!(!is_faked_xattr(b""));
    }
}
