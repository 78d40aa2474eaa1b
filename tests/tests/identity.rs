//! Who the session says it is (docs/ARCHITECTURE.md, promises 1 and 9).

use fakebox_tests::{Case, require};

#[test]
fn id_is_root() {
    Case::new("id_is_root").check("0\n0\n0\nroot", "id -u; id -g; id -G; whoami");
}

#[test]
fn id_from_options() {
    Case::new("id_from_options").args(&["--uid", "1000", "--gid", "100"]).check("1000\n100", "id -u; id -g");
}

#[test]
fn new_file_gets_fake_ids_from_options() {
    Case::new("new_file_gets_fake_ids_from_options")
        .args(&["--uid", "1000", "--gid", "100"])
        .check("1000:100", "touch f; stat -c %u:%g f");
}

#[test]
fn env_cleared() {
    Case::new("env_cleared").check("0", "env -i /usr/bin/id -u");
}

#[test]
fn env_cleared_chown() {
    Case::new("env_cleared_chown")
        .check("3:4", "touch f; env -i /usr/bin/chown 3:4 f; env -i /usr/bin/stat -c %u:%g f");
}

#[test]
fn ld_preload_unset() {
    Case::new("ld_preload_unset")
        .check("0\n5:6", "env -u LD_PRELOAD id -u; touch f; env -u LD_PRELOAD chown 5:6 f; stat -c %u:%g f");
}

#[test]
fn setuid_follows_kernel_rules() {
    require("python3");
    Case::new("setuid_follows_kernel_rules").check(
        "1000 1000 100 100\nEPERM\n1000 100\n1000",
        r#"mkdir -m 1777 pub
python3 -c '
import os
os.setgid(100); os.setuid(1000)
print(os.getuid(), os.geteuid(), os.getgid(), os.getegid(), flush=True)
try:
    os.setuid(0); print("setuid(0) succeeded", flush=True)
except PermissionError:
    print("EPERM", flush=True)
open("pub/g", "w").close()
s = os.stat("pub/g")
print(s.st_uid, s.st_gid, flush=True)
os.system("id -u")
'"#,
    );
}

#[test]
fn seteuid_and_back() {
    require("python3");
    // A root process that only changes its effective uid can change back.
    Case::new("seteuid_and_back").check(
        "0 7\n0 0",
        r#"python3 -c '
import os
os.seteuid(7)
print(os.getuid(), os.geteuid())
os.seteuid(0)
print(os.getuid(), os.geteuid())
'"#,
    );
}
