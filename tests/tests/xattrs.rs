//! File capabilities and extended attributes an ordinary user may not set (docs/ARCHITECTURE.md, promise 6).

use fakebox_tests::{Case, require};

#[test]
fn setcap_getcap() {
    require("setcap");
    require("getcap");
    Case::new("setcap_getcap").check("f cap_net_raw=ep", "touch f; setcap cap_net_raw+ep f && getcap f");
}

#[test]
fn setcap_survives_cp_a_and_tar() {
    require("setcap");
    require("getcap");
    require("tar");
    Case::new("setcap_survives_cp_a_and_tar").check(
        "g cap_net_admin,cap_net_raw=ep\nout/f cap_net_admin,cap_net_raw=ep",
        "touch f; setcap cap_net_raw,cap_net_admin+ep f; cp -a f g; getcap g; \
         tar --xattrs --xattrs-include='*' -cf x.tar f; mkdir out; tar --xattrs --xattrs-include='*' -xf x.tar -C out; getcap out/f",
    );
}

#[test]
fn setcap_remove() {
    require("setcap");
    require("getcap");
    Case::new("setcap_remove").check(
        "f cap_chown=ep\nnone",
        "touch f; setcap cap_chown+ep f; getcap f; setcap -r f; [ -z \"$(getcap f)\" ] && echo none",
    );
}

#[test]
fn trusted_xattr() {
    require("setfattr");
    require("getfattr");
    Case::new("trusted_xattr").check(
        "bar\n# file: f\ntrusted.foo=\"bar\"\n\nnone",
        "touch f; setfattr -n trusted.foo -v bar f && getfattr -n trusted.foo --only-values f; echo; \
         getfattr -d -m '^trusted\\.' f; setfattr -x trusted.foo f; \
         getfattr -n trusted.foo f 2>/dev/null || echo none",
    );
}

#[test]
fn security_xattr() {
    require("setfattr");
    require("getfattr");
    Case::new("security_xattr").check(
        "system_u:object_r:bin_t:s0",
        "touch f; setfattr -n security.selinux -v system_u:object_r:bin_t:s0 f && \
         getfattr -n security.selinux --only-values f",
    );
}

#[test]
fn user_xattr_is_real() {
    require("setfattr");
    require("getfattr");
    Case::new("user_xattr_is_real")
        .check("v1", "touch f; setfattr -n user.k -v v1 f; getfattr -n user.k --only-values f");
}

#[test]
fn python_stat_family_agrees() {
    require("python3");
    Case::new("python_stat_family_agrees").check(
        "21 22 21 22 21 22\n31 32 0 0\n41 42 100644 4755",
        r#"ln -s f l
python3 -c '
import os, stat
fd = os.open("f", os.O_CREAT | os.O_WRONLY, 0o644)
os.fchown(fd, 21, 22)
s, f = os.stat("f"), os.fstat(fd)
print(s.st_uid, s.st_gid, f.st_uid, f.st_gid, os.lstat("f").st_uid, os.stat("f", follow_symlinks=False).st_gid)
os.lchown("l", 31, 32)
ls, ts = os.lstat("l"), os.stat("l")
print(ls.st_uid, ls.st_gid, ts.st_uid - 21, ts.st_gid - 22)
os.chown("f", 41, 42)
os.chmod("f", 0o4755)
d = os.open(".", os.O_RDONLY)
at = os.stat("f", dir_fd=d)
print(os.fstat(fd).st_uid, at.st_gid, oct(stat.S_IFMT(at.st_mode) | 0o644)[2:], oct(stat.S_IMODE(os.stat("f").st_mode))[2:])
'"#,
    );
}

#[test]
fn minimal_acl_sets_mode() {
    // A minimal POSIX ACL (user::rw- group::r-- other::---) written as the
    // system.posix_acl_access xattr is a chmod 640, as coreutils' cp -a does it.
    require("python3");
    Case::new("minimal_acl_sets_mode").check(
        "640 3:4\n640 0:0",
        r#"touch f g; chown 3:4 f
python3 -c '
import os, struct
acl = struct.pack("<I", 2) + b"".join(struct.pack("<HHI", tag, perm, 0xFFFFFFFF) for tag, perm in ((1, 6), (4, 4), (0x20, 0)))
for name in ("f", "g"):
    os.setxattr(name, "system.posix_acl_access", acl)
    s = os.stat(name)
    print(oct(s.st_mode & 0o7777)[2:], "%d:%d" % (s.st_uid, s.st_gid))
'"#,
    );
}

#[test]
fn xattrs_stop_where_the_kernel_stops_and_any_list_reaches_the_program() {
    // 255-byte names until the inode's list of names is full (64 KiB, the kernel's
    // XATTR_LIST_MAX): the next one fails with ENOSPC, as on a full file system, and the
    // whole list, and a 64 KiB value, reach the program. Both mechanisms.
    require("python3");
    let script = r#"import errno, os
open('f', 'w').close()
n = 0
try:
    for i in range(1000):
        os.setxattr('f', 'security.%04d' % i + 'y' * 242, b'v')
        n += 1
except OSError as e:
    print('stop', errno.errorcode[e.errno])
names = os.listxattr('f')
print(n, len(names), sum(len(x) + 1 for x in names))
os.setxattr('f', 'security.%04d' % 0 + 'y' * 242, b'z' * 65536)
print(len(os.getxattr('f', 'security.%04d' % 0 + 'y' * 242)))"#;
    let want = "stop ENOSPC\n256 256 65536\n65536";
    Case::new("xattr_limits").file("x.py", script).check(want, "python3 x.py");
    Case::new("xattr_limits_traced").args(&["--mechanism", "tracer"]).file("x.py", script).check(want, "python3 x.py");
}
