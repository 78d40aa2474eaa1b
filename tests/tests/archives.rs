//! Archives and images built inside a session hold what real root would put there
//! (README's first paragraph: the reason the tool exists).

use fakebox_tests::{Case, require};

const TREE: &str = "mkdir t; touch t/a t/b; chown 11:12 t/a; chmod 4755 t/b; mknod -m 644 t/c c 1 5; \
                    mkdir t/d; chown 5:6 t/d; chmod 1770 t/d";

#[test]
fn tar_create_list() {
    require("tar");
    Case::new("tar_create_list").check(
        "t/ drwxr-xr-x 0/0\nt/a -rw-r--r-- 11/12\nt/b -rwsr-xr-x 0/0\nt/c crw-r--r-- 0/0 1,5\nt/d/ drwxrwx--T 5/6",
        &format!(
            r#"{TREE}
tar --numeric-owner -cpf x.tar t && tar --numeric-owner -tvf x.tar | awk '{{ if ($1 ~ /^c/) print $NF, $1, $2, $3; else print $NF, $1, $2 }}' | sort"#
        ),
    );
}

#[test]
fn tar_listing_outside_session() {
    // The archive itself holds the fake owners: list it without fakebox.
    require("tar");
    Case::new("tar_listing_outside_session").check_outer(
        "t/ drwxr-xr-x 0/0\nt/a -rw-r--r-- 11/12\nt/b -rwsr-xr-x 0/0\nt/c crw-r--r-- 0/0 1,5\nt/d/ drwxrwx--T 5/6",
        &format!(
            r#""$FB" run -- sh -c '{TREE}; tar --numeric-owner -cpf x.tar t' || exit 1
tar --numeric-owner -tvf x.tar | awk '{{ if ($1 ~ /^c/) print $NF, $1, $2, $3; else print $NF, $1, $2 }}' | sort"#
        ),
    );
}

#[test]
fn tar_extract_restores_owners() {
    // Extracted in a new session (root extracts with --same-owner and --same-permissions).
    require("tar");
    Case::new("tar_extract_restores_owners").check_outer(
        "t 0:0 755 directory\nt/a 11:12 644 regular empty file\nt/b 0:0 4755 regular empty file\nt/c 0:0 644 character special file 1:5\nt/d 5:6 1770 directory",
        &format!(
            r#""$FB" run -- sh -c '{TREE}; tar --numeric-owner -cpf x.tar t' || exit 1
mkdir out && cd out || exit 1
"$FB" run -- sh -c 'tar --numeric-owner -xf ../x.tar && for f in t t/a t/b t/c t/d; do if [ -c $f ]; then stat -c "%n %u:%g %a %F %t:%T" $f; else stat -c "%n %u:%g %a %F" $f; fi; done'"#
        ),
    );
}

#[test]
fn tar_extract_by_name() {
    // Without --numeric-owner, tar maps the stored names back through /etc/passwd.
    require("tar");
    Case::new("tar_extract_by_name").check(
        "daemon/daemon\n1:1",
        r#"mkdir t; touch t/a; chown daemon:daemon t/a; tar -cf x.tar t
tar -tvf x.tar t/a | awk '{print $2}'
rm -rf t; tar -xf x.tar; stat -c %u:%g t/a"#,
    );
}

#[test]
fn cpio_newc() {
    require("cpio");
    Case::new("cpio_newc").check(
        "drwxr-xr-x 0 0 t\n-rw-r--r-- 11 12 t/a\n-rwsr-xr-x 0 0 t/b\ncrw-r--r-- 0 0 1,5 t/c\ndrwxrwx--T 5 6 t/d",
        &format!(
            r#"{TREE}
find t | sort | cpio -o -H newc > x.cpio 2>/dev/null && cpio -itv --numeric-uid-gid < x.cpio 2>/dev/null | awk '{{ if ($1 ~ /^c/) print $1, $3, $4, $5 $6, $NF; else print $1, $3, $4, $NF }}'"#
        ),
    );
}

#[test]
fn dpkg_deb_build() {
    require("dpkg-deb");
    Case::new("dpkg_deb_build").check(
        "-rwsr-xr-x root/root ./usr/bin/tool\n-rw-r--r-- daemon/daemon ./etc/tool.conf",
        r#"mkdir -p p/DEBIAN p/usr/bin p/etc
printf "Package: fbt\nVersion: 1\nArchitecture: all\nMaintainer: t <t@t>\nDescription: t\n" > p/DEBIAN/control
echo x > p/usr/bin/tool; echo y > p/etc/tool.conf; chmod 4755 p/usr/bin/tool; chown daemon:daemon p/etc/tool.conf
dpkg-deb -Zgzip --build p p.deb >/dev/null && dpkg-deb -c p.deb | awk '/tool/ {print $1, $2, $6}' | sort -r"#,
    );
}

#[test]
fn dpkg_deb_listing_outside_session() {
    require("dpkg-deb");
    Case::new("dpkg_deb_listing_outside_session").check_outer(
        "crw-rw---- root/disk ./dev/fbt\n-rwsr-xr-x root/root ./usr/bin/tool\n-rw-r--r-- daemon/daemon ./etc/tool.conf",
        r#""$FB" run -- sh -c 'mkdir -p p/DEBIAN p/usr/bin p/etc p/dev
printf "Package: fbt\nVersion: 1\nArchitecture: all\nMaintainer: t <t@t>\nDescription: t\n" > p/DEBIAN/control
echo x > p/usr/bin/tool; echo y > p/etc/tool.conf; chmod 4755 p/usr/bin/tool; chown daemon:daemon p/etc/tool.conf
mknod -m 660 p/dev/fbt c 1 9; chgrp disk p/dev/fbt
dpkg-deb -Zgzip --build p p.deb >/dev/null' || exit 1
dpkg-deb -c p.deb | awk '/tool|fbt/ {print $1, $2, $NF}' | sort -r"#,
    );
}

#[test]
fn mke2fs_from_directory() {
    require("mke2fs");
    require("debugfs");
    Case::new("mke2fs_from_directory").check_outer(
        "104755 0 0 tool\n100644 7 8 conf\n20620 0 5 tty\nDevice major/minor number: 04:01 (hex 04:01)",
        r#""$FB" run -- sh -c 'mkdir -p tree/bin; echo x > tree/bin/tool; chmod 4755 tree/bin/tool; touch tree/conf; chown 7:8 tree/conf; mknod -m 620 tree/tty c 4 1; chgrp 5 tree/tty
mke2fs -q -F -t ext4 -d tree img.ext4 4M >/dev/null' || exit 1
debugfs -R 'ls -l /bin' img.ext4 2>/dev/null | awk '$NF == "tool" {print $2, $4, $5, $NF}'
debugfs -R 'ls -l /' img.ext4 2>/dev/null | awk '$NF == "conf" || $NF == "tty" {print $2, $4, $5, $NF}'
debugfs -R 'stat /tty' img.ext4 2>/dev/null | grep -o 'Device major/minor number: .*'"#,
    );
}
