//! Ownership, modes and special files through ordinary coreutils (docs/ARCHITECTURE.md, promises 2-5 and 7).

use fakebox_tests::{Case, cases_dir, different_filesystems, require_path};
use std::path::Path;

#[test]
fn new_file_is_root() {
    Case::new("new_file_is_root").check("0:0\n0:0", "touch f; mkdir d; stat -c %u:%g f d");
}

#[test]
fn untouched_system_file_is_root() {
    Case::new("untouched_system_file_is_root").check("0:0", "stat -c %u:%g /etc/passwd");
}

#[test]
fn chown_numeric() {
    Case::new("chown_numeric").check("1234:5678", "touch f; chown 1234:5678 f; stat -c %u:%g f");
}

#[test]
fn chown_names() {
    Case::new("chown_names").check(
        "1:1\ndaemon daemon",
        r#"touch f; chown daemon:daemon f; stat -c %u:%g f; ls -l f | awk '{print $3, $4}'"#,
    );
}

#[test]
fn chown_group_only() {
    Case::new("chown_group_only").check("0:33", "touch f; chgrp 33 f; stat -c %u:%g f");
}

#[test]
fn chown_h_symlink() {
    Case::new("chown_h_symlink")
        .check("7:8\n0:0", "touch t; ln -s t l; chown -h 7:8 l; stat -c %u:%g l; stat -L -c %u:%g l");
}

#[test]
fn chown_follows_symlink() {
    Case::new("chown_follows_symlink")
        .check("0:0\n7:8", "touch t; ln -s t l; chown 7:8 l; stat -c %u:%g l; stat -c %u:%g t");
}

#[test]
fn chown_recursive() {
    Case::new("chown_recursive").check(
        "5:6 a\n5:6 a/b\n5:6 a/b/c\n5:6 a/b/c/x\n5:6 a/y",
        r#"mkdir -p a/b/c; touch a/b/c/x a/y; chown -R 5:6 a; find a -printf '%U:%G %p\n' | sort"#,
    );
}

#[test]
fn chmod_special_bits() {
    Case::new("chmod_special_bits").check(
        "4755 -rwsr-xr-x\n2755 -rwxr-sr-x\n1777 drwxrwxrwt\n0 ----------\n6711 -rws--s--x",
        "touch f; chmod 4755 f; stat -c '%a %A' f; chmod 2755 f; stat -c '%a %A' f; \
         mkdir d; chmod 1777 d; stat -c '%a %A' d; chmod 000 f; stat -c '%a %A' f; \
         chmod 6711 f; stat -c '%a %A' f",
    );
}

#[test]
fn chmod_000_file_still_usable() {
    Case::new("chmod_000_file_still_usable")
        .check("0\na\nb", "echo a > f; chmod 000 f; stat -c %a f; cat f; echo b >> f; tail -n 1 f");
}

#[test]
fn chmod_000_dir_still_usable() {
    Case::new("chmod_000_dir_still_usable").check(
        "0\nx\ny\ngone",
        "mkdir d; touch d/x; chmod 000 d; stat -c %a d; ls d; touch d/y; ls d | tail -n 1; \
         rm -rf d; [ -e d ] || echo gone",
    );
}

#[test]
fn chown_clears_setuid() {
    // Since Linux 2.2.13 root is treated like other users: chown clears S_ISUID, and
    // S_ISGID when the group may execute.
    Case::new("chown_clears_setuid").check(
        "755\n755\n755",
        "touch f; chmod 4755 f; chown 1:1 f; stat -c %a f; \
         touch g; chmod 2755 g; chown 1:1 g; stat -c %a g; \
         touch h; chmod 6755 h; chown 1 h; stat -c %a h",
    );
}

#[test]
fn setgid_kept_after_chmod() {
    Case::new("setgid_kept_after_chmod")
        .check("0:4242 2755", "touch f; chown :4242 f; chmod 2755 f; stat -c '%u:%g %a' f");
}

#[test]
fn setgid_directory_inherits() {
    Case::new("setgid_directory_inherits").check(
        "d 50 2775\nd/f 50 644\nd/sub 50 2755",
        "mkdir d; chown :50 d; chmod 2775 d; mkdir d/sub; touch d/f; stat -c '%n %g %a' d d/f d/sub",
    );
}

#[test]
fn cp_a_keeps_owner_and_mode() {
    Case::new("cp_a_keeps_owner_and_mode")
        .check("42:43 4755", "touch a; chown 42:43 a; chmod 4755 a; cp -a a b; stat -c '%u:%g %a' b");
}

#[test]
fn cp_a_chowned_file_mode() {
    // cp -a (as root) creates the copy 0600, chowns it, then sets the mode through a
    // minimal system.posix_acl_access ACL (fsetxattr), not through fchmod.
    Case::new("cp_a_chowned_file_mode").check(
        "640 3:4\n640 0:0",
        "touch k; chown 3:4 k; chmod 640 k; cp -a k k2; stat -c '%a %u:%g' k2; \
         touch m; chmod 640 m; cp -a m m2; stat -c '%a %u:%g' m2",
    );
}

#[test]
fn cp_a_tree() {
    Case::new("cp_a_tree").check(
        "1:2 2750 dst\n3:4 640 dst/f",
        r#"mkdir src; touch src/f; chown 1:2 src; chmod 2750 src; chown 3:4 src/f; chmod 640 src/f
cp -a src dst; find dst -printf '%U:%G %m %p\n' | sort"#,
    );
}

#[test]
fn cp_a_device() {
    Case::new("cp_a_device")
        .check("character special file 5:1 3:4", "mknod d c 5 1; chown 3:4 d; cp -a d e; stat -c '%F %t:%T %u:%g' e");
}

#[test]
fn cp_without_p_is_root() {
    // Without -p, cp makes a new file owned by the copier, with the source's mode minus umask.
    Case::new("cp_without_p_is_root")
        .check("0:0 755", "touch a; chown 42:43 a; chmod 755 a; cp a b; stat -c '%u:%g %a' b");
}

#[test]
fn mv_keeps_owner() {
    Case::new("mv_keeps_owner")
        .check("42:43 4711", "touch a; chown 42:43 a; chmod 4711 a; mv a c; stat -c '%u:%g %a' c");
}

#[test]
fn mv_across_filesystems() {
    let shm = require_path("/dev/shm");
    assert!(
        different_filesystems(&shm, &cases_dir()),
        "/dev/shm and {} are on the same filesystem: this test needs a second one",
        cases_dir().display()
    );
    assert!(Path::new("/dev/shm").is_dir());
    Case::new("mv_across_filesystems").check(
        "differ\n42:43 4711 regular empty file\n42:43 4711\n44:45 2750 directory\n7:8 640\n44:45 2750",
        r#"S=$(mktemp -d /dev/shm/fakebox-test.XXXXXX) || exit 1
[ "$(stat -c %d .)" != "$(stat -c %d "$S")" ] && echo differ
touch a; chown 42:43 a; chmod 4711 a
mv a "$S/a"; stat -c '%u:%g %a %F' "$S/a"
mv "$S/a" b; stat -c '%u:%g %a' b
mkdir t; touch t/x; chown 44:45 t; chmod 2750 t; chown 7:8 t/x; chmod 640 t/x
mv t "$S/t"; stat -c '%u:%g %a %F' "$S/t"; stat -c '%u:%g %a' "$S/t/x"
mv "$S/t" t2; stat -c '%u:%g %a' t2
rm -rf "$S""#,
    );
}

#[test]
fn rm_then_recreate_is_root() {
    Case::new("rm_then_recreate_is_root")
        .check("0:0 644", "touch a; chown 42:43 a; chmod 4755 a; rm a; touch a; stat -c '%u:%g %a' a");
}

#[test]
fn rmdir_then_recreate_is_root() {
    Case::new("rmdir_then_recreate_is_root")
        .check("0:0 755", "mkdir d; chown 42:43 d; chmod 1777 d; rmdir d; mkdir d; stat -c '%u:%g %a' d");
}

#[test]
fn rename_over_chowned_file() {
    Case::new("rename_over_chowned_file").check(
        "0:0\n9:9",
        "touch a b; chown 9:9 a; mv b a; stat -c %u:%g a; touch c; chown 9:9 c; mv c a; stat -c %u:%g a",
    );
}

#[test]
fn hardlink_keeps_owner() {
    Case::new("hardlink_keeps_owner").check(
        "42 4755\n42 4755\n2",
        "touch a; chown 42 a; chmod 4755 a; ln a b; stat -c '%u %a' b; rm a; stat -c '%u %a' b; \
         ln b c; stat -c %h c",
    );
}

#[test]
fn install_owner_mode() {
    Case::new("install_owner_mode").check(
        "17:18:4755\n0:0:755",
        "echo x > s; install -o 17 -g 18 -m 4755 s d; stat -c %u:%g:%a d; \
         install -d -m 755 dir; stat -c %u:%g:%a dir",
    );
}

#[test]
fn mknod_char() {
    Case::new("mknod_char")
        .check("character special file 1:3\n0:0 644", "mknod d c 1 3; stat -c '%F %t:%T' d; stat -c '%u:%g %a' d");
}

#[test]
fn mknod_block() {
    Case::new("mknod_block").check("block special file 8:1", "mknod b b 8 1; stat -c '%F %t:%T' b");
}

#[test]
fn mknod_ls() {
    Case::new("mknod_ls").check("crw-r--r-- 4, 64", r#"mknod -m 644 t c 4 64; ls -l t | awk '{print $1, $5, $6}'"#);
}

#[test]
fn mknod_chown_chmod() {
    Case::new("mknod_chown_chmod").check(
        "brw-rw---- 0 6 8, 17",
        r#"mknod b b 8 17; chgrp 6 b; chmod 660 b; ls -ln b | awk '{print $1, $3, $4, $5, $6}'"#,
    );
}

#[test]
fn mkfifo_is_fifo() {
    Case::new("mkfifo_is_fifo").check(
        "fifo 0:0\nfifo 3:4 600",
        "mkfifo p; stat -c '%F %u:%g' p; chown 3:4 p; chmod 600 p; stat -c '%F %u:%g %a' p",
    );
}

#[test]
fn find_printf() {
    Case::new("find_printf").check(
        "3:4 1777 a/b\n3:4 4755 a/b/f\n3:4 755 a",
        r#"mkdir -p a/b; touch a/b/f; chown -R 3:4 a; chmod 4755 a/b/f; chmod 1777 a/b; find a -printf '%U:%G %m %p\n' | sort"#,
    );
}

#[test]
fn ls_ln() {
    Case::new("ls_ln").check(
        "-rw-r----- 12 34\ndrwsr-x--- 0 0",
        r#"touch f; chown 12:34 f; chmod 640 f; ls -ln f | awk '{print $1, $3, $4}'; mkdir d; chmod 4750 d; ls -lnd d | awk '{print $1, $3, $4}'"#,
    );
}

#[test]
fn symlink_is_root_and_777() {
    Case::new("symlink_is_root_and_777").check("0:0 lrwxrwxrwx", "ln -s nowhere l; stat -c '%u:%g %A' l");
}
