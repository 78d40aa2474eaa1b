//! fakebox where distributions use fakeroot: the `fakeroot` command line (through
//! `fakebox install-compat`), sessions started inside sessions, real Debian package builds
//! with `dpkg-buildpackage`, filesystem images (mke2fs, mksquashfs, genext2fs), cpio and
//! tar archives with capabilities, and `fakebox doctor`.
//!
//! The expectations are what a real root gives (`FAKEBOX_TESTS_NATIVE=1` checks the image
//! and archive ones) and, for the package builds, what `/usr/bin/fakeroot` builds from the
//! same source: the listings must be equal.

use fakebox_tests::{Case, check_all, require};

/// Bash: installs the fakeroot front in `./compat` and puts it first on PATH.
const COMPAT: &str = r#"mkdir -p compat && "$FB" install-compat "$PWD/compat" >/dev/null || { echo "fakebox install-compat failed"; exit 1; }
PATH=$PWD/compat:$PATH"#;

// --- The fakeroot front --------------------------------------------------------------

#[test]
fn fakeroot_front_identity_chown_and_variables() {
    Case::new("fakeroot_front_identity_chown_and_variables").check_outer(
        "link to fakebox\nfakeroot is the front\n0\n5:6\nkey\nunknown-is-root",
        &format!(
            r#"{COMPAT}
test -L compat/fakeroot && [ "$(readlink -f compat/fakeroot)" = "$(readlink -f "$FB")" ] && echo "link to fakebox"
[ "$(command -v fakeroot)" = "$PWD/compat/fakeroot" ] && echo "fakeroot is the front"
fakeroot -- sh -c 'id -u; touch f; chown 5:6 f; stat -c %u:%g f; test -n "$FAKEROOTKEY" && echo key; echo "$FAKED_MODE"'"#
        ),
    );
}

#[test]
fn fakeroot_front_files_on_disk_stay_the_users() {
    // The front is fakebox, not a pass-through: nothing real is chowned or made setuid.
    require("stat");
    Case::new("fakeroot_front_files_on_disk_stay_the_users").check_outer(
        "5:6 4755\nmine 755",
        &format!(
            r#"{COMPAT}
fakeroot -- sh -c 'touch f; chown 5:6 f; chmod 4755 f; stat -c "%u:%g %a" f'
[ "$(stat -c %u:%g f)" = "$(id -u):$(id -g)" ] && echo "mine $(stat -c %a f)""#
        ),
    );
}

#[test]
fn fakeroot_front_unknown_is_real() {
    // A file made before the session: -u shows its real owner, as fakeroot -u does;
    // without -u it is root's. (Files created inside the session are not compared:
    // real fakeroot -u shows the real owner after `touch` but root after `mkdir`.)
    Case::new("fakeroot_front_unknown_is_real").check_outer(
        "-u: real owner\n--unknown-is-real: real owner\ndefault: 0\nunknown-is-real",
        &format!(
            r#"{COMPAT}
touch pre; me=$(id -u)
[ "$(fakeroot -u stat -c %u pre)" = "$me" ] && echo "-u: real owner"
[ "$(fakeroot --unknown-is-real -- stat -c %u pre)" = "$me" ] && echo "--unknown-is-real: real owner"
echo "default: $(fakeroot -- stat -c %u pre)"
fakeroot -u -- sh -c 'echo "$FAKED_MODE"'"#
        ),
    );
}

#[test]
fn fakeroot_front_save_and_load_state() {
    // fakeroot -s F saves the table, -i F loads it (fakebox's own state format).
    Case::new("fakeroot_front_save_and_load_state").check_outer(
        "7\n7\n8:0",
        &format!(
            r#"{COMPAT}
fakeroot -s S -- sh -c 'touch h; chown 7 h' || echo "fakeroot -s failed"
fakeroot -i S -s S -- stat -c %u h
fakeroot -i S -- stat -c %u h
fakeroot -i S -s S chown 8 h
fakeroot -i S -- stat -c %u:%g h"#
        ),
    );
}

#[test]
fn fakeroot_front_ignored_options_version_and_help() {
    // -l, -f and -b name fakeroot's own library, daemon and fd base: accepted, ignored.
    Case::new("fakeroot_front_ignored_options_version_and_help").check_outer(
        "ignored options: 0\nid: 0\nversion: 0 says something\nhelp: 0 says something\nstatus: 3",
        &format!(
            r#"{COMPAT}
fakeroot -l /nonexistent/libfakeroot.so -f /nonexistent/faked -b 3 -- true; echo "ignored options: $?"
echo "id: $(fakeroot -l /nonexistent -f /nonexistent -- id -u)"
v=$(fakeroot -v); rc=$?; [ -n "$v" ] && echo "version: $rc says something"
h=$(fakeroot -h 2>&1); rc=$?; [ -n "$h" ] && echo "help: $rc says something"
fakeroot -- sh -c 'exit 3'; echo "status: $?""#
        ),
    );
}

// --- Sessions inside sessions ----------------------------------------------------------

#[test]
fn nested_run_joins_the_session() {
    // The inner `fakebox run` sees what the outer recorded, and what it records stays
    // after it ends (a second, private fake would lose both).
    Case::new("nested_run_joins_the_session").check_outer(
        "3\n4:5\nstatus 3\n0",
        r#""$FB" run -- sh -c '
touch n; chown 3 n; "$FB" run -- stat -c %u n
touch m; "$FB" run -- chown 4:5 m; stat -c %u:%g m
"$FB" run -- sh -c "exit 3"; echo "status $?"
"$FB" run -- id -u'"#,
    );
}

#[test]
fn nested_run_joins_a_traced_session() {
    Case::new("nested_run_joins_a_traced_session").check_outer(
        "3\n4:5",
        r#""$FB" run --mechanism tracer -- sh -c '
touch n; chown 3 n; "$FB" run -- stat -c %u n
touch m; "$FB" run -- chown 4:5 m; stat -c %u:%g m'"#,
    );
}

#[test]
fn nested_run_honours_or_refuses_its_options() {
    // --uid and --gid take that identity in the session (as a root's setpriv would);
    // --state, --mechanism and --unknown-is-real would need a table or a mechanism of
    // their own: refused with 125 and the option's name, never silently dropped. A nested
    // `fakeroot -s F` is refused before F is touched.
    Case::new("nested_run_honours_or_refuses_its_options").check_outer(
        "5:7:7\n0:3\nstate 125 1\nmechanism 125 1\nunknown-is-real 125 1\nfakeroot -s 125 1 keep\nback 125 1",
        &format!(
            r#"{COMPAT}
echo keep > F
"$FB" run -- sh -c '
"$FB" run --uid 5 --gid 7 -- sh -c "echo \$(id -u):\$(id -g):\$(id -G)"
"$FB" run --gid 3 -- sh -c "echo \$(id -u):\$(id -g)"
"$FB" run --state S2 -- true 2>e; echo "state $? $(grep -c -- "--state:" e)"
"$FB" run --mechanism tracer -- true 2>e; echo "mechanism $? $(grep -c -- "--mechanism:" e)"
"$FB" run --unknown-is-real -- true 2>e; echo "unknown-is-real $? $(grep -c -- "--unknown-is-real:" e)"
fakeroot -s F -- true 2>e; echo "fakeroot -s $? $(grep -c -- "-s:" e) $(cat F)"
"$FB" run --uid 5 -- "$FB" run --uid 0 -- true 2>e; echo "back $? $(grep -c "Operation not permitted" e)"'"#
        ),
    );
}

#[test]
fn a_misspelled_option_is_a_usage_error() {
    // Before the command (or before `--`), an argument starting with `-` is an option: an
    // unknown one names itself and the closest real one, rather than being run.
    let runs = Case::new("a_misspelled_option_is_a_usage_error").fakebox(&["run", "--stat", "x", "--", "true"]);
    fakebox_tests::expect_exit("a_misspelled_option_is_a_usage_error", &runs, 125, |e| {
        e.contains("'--stat'") && e.contains("'--state'") && !e.contains("not found")
    });
}

#[test]
fn nested_fakeroot_front_joins_the_session() {
    Case::new("nested_fakeroot_front_joins_the_session").check_outer(
        "3\n4:5\n6\n3",
        &format!(
            r#"{COMPAT}
"$FB" run -- sh -c '
touch n; chown 3 n; fakeroot -- stat -c %u n
touch m; fakeroot chown 4:5 m; stat -c %u:%g m'
fakeroot -- sh -c '
touch o; chown 6 o; "$FB" run -- stat -c %u o
touch p; "$FB" run -- chown 3 p; fakeroot -- stat -c %u p'"#
        ),
    );
}

// --- dpkg-buildpackage ----------------------------------------------------------------

const DEB_CONTROL: &str = "Source: fbpkg
Section: misc
Priority: optional
Maintainer: Fakebox Tests <tests@example.org>
Build-Depends: debhelper-compat (= 13)
Rules-Requires-Root: binary-targets
Standards-Version: 4.6.2

Package: fbpkg
Architecture: all
Depends: ${misc:Depends}
Description: fakebox test package
 Built by fakebox's end-to-end tests.
";

const DEB_CHANGELOG: &str = "fbpkg (1.0) unstable; urgency=medium

  * Test package.

 -- Fakebox Tests <tests@example.org>  Mon, 01 Jan 2024 00:00:00 +0000
";

/// Only dynamically linked tools (real fakeroot cannot fake static ones). `../gain-root.env`
/// tells which fake ran the binary targets; `../caps` what getcap saw in the session.
const DEB_RULES: &str = "#!/usr/bin/make -f
%:
\tdh $@

override_dh_auto_install:
\tinstall -d debian/fbpkg/usr/bin debian/fbpkg/etc debian/fbpkg/dev
\tprintf '#!/bin/sh\\necho tool\\n' > debian/fbpkg/usr/bin/tool
\tcp debian/fbpkg/usr/bin/tool debian/fbpkg/usr/bin/tool2
\techo key=value > debian/fbpkg/etc/fbpkg.conf

override_dh_fixperms:
\tdh_fixperms
\tchown daemon:daemon debian/fbpkg/etc/fbpkg.conf
\tchmod 4755 debian/fbpkg/usr/bin/tool
\tinstall -d -m 2775 -g staff debian/fbpkg/var/lib/fbpkg
\tmknod -m 644 debian/fbpkg/dev/pkgdev c 1 7
\tsetcap cap_net_raw+ep debian/fbpkg/usr/bin/tool2
\tgetcap debian/fbpkg/usr/bin/tool2 > ../caps
\tenv > ../gain-root.env
";

/// What the fakebox build's package holds (as the real-fakeroot build holds it), then the
/// comparisons.
const DEB_WANT: &str = "fakeroot built ref
fakebox built fb
caps: debian/fbpkg/usr/bin/tool2 cap_net_raw=ep
crw-r--r-- root/root 1,7 ./dev/pkgdev
-rw-r--r-- daemon/daemon 10 ./etc/fbpkg.conf
-rwsr-xr-x root/root 20 ./usr/bin/tool
-rwxr-xr-x root/root 20 ./usr/bin/tool2
drwxrwsr-x root/staff 0 ./var/lib/fbpkg/
listing: same as fakeroot's
control: same as fakeroot's";

/// Bash: `build DIR COMMAND...` builds a copy of `pkg` in DIR/fbpkg with COMMAND.
const DEB_BUILD: &str = r#"build() {
  d=$1; shift
  mkdir "$d" && cp -r pkg "$d/fbpkg" && chmod 755 "$d/fbpkg/debian/rules" || exit 1
  if ! (cd "$d/fbpkg" && "$@") > "$d/build.log" 2>&1; then echo "build in $d failed:"; tail -n 30 "$d/build.log"; exit 1; fi
}"#;

/// Bash: builds the package in `ref/` with /usr/bin/fakeroot and in `fb/` with
/// `dpkg-buildpackage ARGS` (environment assignments first: `env A=B dpkg-buildpackage`),
/// then compares the two.
fn deb_snippet(fb_build: &str) -> String {
    format!(
        r#"{DEB_BUILD}
listing() {{ dpkg-deb -c "$1" | awk '{{ $4 = ""; $5 = ""; print }}'; }}
control() {{ dpkg-deb -f "$1"; dpkg-deb --ctrl-tarfile "$1" | tar -tvf - | awk '{{ print $1, $2, $NF }}'; }}
build ref dpkg-buildpackage -us -uc -b -r/usr/bin/fakeroot
build fb {fb_build}
grep -q '^FAKEROOTKEY=' ref/gain-root.env && ! grep -q '^FAKEBOX_SOCKET=' ref/gain-root.env && echo "fakeroot built ref"
if grep -q '^FAKEBOX_SOCKET=' fb/gain-root.env || [ "$FAKEBOX_TESTS_NATIVE" = 1 ]; then echo "fakebox built fb"; else echo "fb was not built in a fakebox session"; fi
echo "caps: $(cat fb/caps)"
deb=fbpkg_1.0_all.deb
dpkg-deb -c fb/$deb | awk '/pkgdev|fbpkg.conf|tool|var.lib.fbpkg/ {{ print $1, $2, $3, $NF }}'
diff <(listing ref/$deb) <(listing fb/$deb) && echo "listing: same as fakeroot's"
diff <(control ref/$deb) <(control fb/$deb) && echo "control: same as fakeroot's""#
    )
}

fn deb_case(name: &str) -> Case {
    for tool in ["dpkg-buildpackage", "dpkg-deb", "dh", "fakeroot", "setcap", "getcap", "mknod"] {
        require(tool);
    }
    Case::new(name)
        .file("pkg/debian/control", DEB_CONTROL)
        .file("pkg/debian/changelog", DEB_CHANGELOG)
        .file("pkg/debian/rules", DEB_RULES)
}

#[test]
fn dpkg_buildpackage_gain_root_option() {
    deb_case("dpkg_buildpackage_gain_root_option")
        .check_outer(DEB_WANT, &deb_snippet(r#"dpkg-buildpackage -us -uc -b "-r$FB run --""#));
}

#[test]
fn dpkg_buildpackage_root_command_in_config() {
    // What a build farm sets once: `root-command` in dpkg's buildpackage.conf. (bookworm's
    // dpkg-buildpackage does not read DEB_GAIN_ROOT_CMD: it only sets it for debian/rules
    // when Rules-Requires-Root names implementation keywords; without -r it falls back to
    // fakeroot, or to nothing as real root.)
    deb_case("dpkg_buildpackage_root_command_in_config").check_outer(
        DEB_WANT,
        &format!(
            "mkdir -p xdg/dpkg && printf 'root-command = \"%s run --\"\\n' \"$FB\" > xdg/dpkg/buildpackage.conf\n{}",
            deb_snippet(r#"env "XDG_CONFIG_HOME=$PWD/xdg" dpkg-buildpackage -us -uc -b"#)
        ),
    );
}

#[test]
fn dpkg_buildpackage_fakeroot_front() {
    deb_case("dpkg_buildpackage_fakeroot_front").check_outer(
        DEB_WANT,
        &format!(
            "{COMPAT}\n{}",
            deb_snippet(r#"env "PATH=$PWD/compat:$PATH" dpkg-buildpackage -us -uc -b -rfakeroot"#)
        ),
    );
}

#[test]
fn dpkg_buildpackage_md5sums_leave_out_device_nodes() {
    // dh_md5sums sums regular files only (`find -type f`): as real root the device node is
    // not in md5sums. (Real fakeroot lists the empty placeholder of dev/pkgdev there,
    // because readdir's d_type shows the placeholder as a regular file; see
    // `find_type_sees_fake_devices`.)
    deb_case("dpkg_buildpackage_md5sums_leave_out_device_nodes").check_outer(
        "usr/bin/tool usr/bin/tool2 usr/share/doc/fbpkg/changelog.gz",
        &format!(
            r#"{DEB_BUILD}
build fb dpkg-buildpackage -us -uc -b "-r$FB run --"
echo $(dpkg-deb --ctrl-tarfile fb/fbpkg_1.0_all.deb | tar -xOf - ./md5sums | awk '{{ print $2 }}')"#
        ),
    );
}

#[test]
fn find_type_sees_fake_devices() {
    // find (and every fts or readdir user) trusts d_type when it is set; the placeholder of
    // a device node is a regular file on disk, so d_type must be faked too.
    require("find");
    Case::new("find_type_sees_fake_devices").check(
        "c: ./d/c\nf: ./d/f\np: ./d/p",
        "mkdir d; mknod -m 644 d/c c 1 7; touch d/f; mkfifo d/p
for t in c f p; do echo \"$t: $(find . -type $t)\"; done",
    );
}

// --- Images and archives built in a session, read outside it -------------------------

/// Bash: makes `tree` inside a session (owners, setuid, setgid and sticky directories, a
/// character and a block device, a capability, a symlink with its own owner) and runs
/// BUILD there too.
fn tree_then(build: &str) -> String {
    tree_then_with("", build)
}

/// `tree_then` in a session started with `fakebox run OPTIONS`.
fn tree_then_with(options: &str, build: &str) -> String {
    format!(
        r#""$FB" run {options} -- sh -c '
mkdir -p tree/bin tree/dev tree/etc tree/var
echo x > tree/bin/tool; chown 1234:5678 tree/bin/tool; chmod 4755 tree/bin/tool
echo c > tree/etc/conf; chown 7:8 tree/etc/conf; chmod 640 tree/etc/conf
mknod -m 620 tree/dev/tty0 c 4 1; chgrp 5 tree/dev/tty0
mknod -m 660 tree/dev/sda b 8 0; chgrp 6 tree/dev/sda
mkdir tree/var/tmp; chmod 1777 tree/var/tmp
mkdir tree/srv; chown 100:200 tree/srv; chmod 2750 tree/srv
echo y > tree/bin/ping; chmod 755 tree/bin/ping; setcap cap_net_raw+ep tree/bin/ping
ln -s tool tree/bin/link; chown -h 3:4 tree/bin/link
{build}' || {{ echo "the session failed"; exit 1; }}"#
    )
}

/// Bash: `stat` of each path of `tree` as debugfs shows it in IMAGE, one line per path.
fn debugfs_stat(image: &str) -> String {
    format!(
        r#"for f in /bin/tool /bin/link /etc/conf /dev/tty0 /dev/sda /srv /var/tmp; do
  echo "$f $(debugfs -R "stat $f" {image} 2>/dev/null | grep -E '^(Inode:|User:|Device)' | sed -E 's/^Inode: *[0-9]+ *//; s/ *Flags:.*//; s/ *Project:.*//; s/ *Size:.*//; s/ \(hex.*//; s/ +/ /g' | tr '\n' ' ')" | sed 's/ *$//'
done"#
    )
}

const DEBUGFS_WANT: &str = "/bin/tool Type: regular Mode: 04755 User: 1234 Group: 5678
/bin/link Type: symlink Mode: 0777 User: 3 Group: 4
/etc/conf Type: regular Mode: 0640 User: 7 Group: 8
/dev/tty0 Type: character special Mode: 0620 User: 0 Group: 5 Device major/minor number: 04:01
/dev/sda Type: block special Mode: 0660 User: 0 Group: 6 Device major/minor number: 08:00
/srv Type: directory Mode: 02750 User: 100 Group: 200
/var/tmp Type: directory Mode: 01777 User: 0 Group: 0";

#[test]
fn mke2fs_image_holds_fake_owners_devices_and_capability() {
    require("mke2fs");
    require("debugfs");
    require("setcap");
    Case::new("mke2fs_image_holds_fake_owners_devices_and_capability").check_outer(
        &format!(
            "{DEBUGFS_WANT}\nsecurity.capability (20) = 01 00 00 02 00 20 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
        ),
        &format!(
            "{}\n{}\ndebugfs -R 'ea_list /bin/ping' img.ext4 2>/dev/null | grep -o 'security.capability.*'",
            tree_then("mke2fs -q -F -t ext4 -d tree img.ext4 8M >/dev/null"),
            debugfs_stat("img.ext4")
        ),
    );
}

#[test]
fn genext2fs_image_holds_fake_owners_and_devices() {
    require("genext2fs");
    require("debugfs");
    require("setcap");
    Case::new("genext2fs_image_holds_fake_owners_and_devices").check_outer(
        DEBUGFS_WANT,
        &format!("{}\n{}", tree_then("genext2fs -d tree -b 4096 img.ext2 >/dev/null"), debugfs_stat("img.ext2")),
    );
}

const SQUASHFS_WANT: &str = "drwxr-xr-x 0/0 squashfs-root
drwxr-xr-x 0/0 squashfs-root/bin
lrwxrwxrwx 3/4 squashfs-root/bin/link
-rwxr-xr-x 0/0 squashfs-root/bin/ping
-rwsr-xr-x 1234/5678 squashfs-root/bin/tool
drwxr-xr-x 0/0 squashfs-root/dev
brw-rw---- 0/6 8,0 squashfs-root/dev/sda
crw--w---- 0/5 4,1 squashfs-root/dev/tty0
drwxr-xr-x 0/0 squashfs-root/etc
-rw-r----- 7/8 squashfs-root/etc/conf
drwxr-s--- 100/200 squashfs-root/srv
drwxr-xr-x 0/0 squashfs-root/var
drwxrwxrwt 0/0 squashfs-root/var/tmp";

/// Bash: `unsquashfs -lln img.sqfs`, one line per path: mode, owner, device, path.
const UNSQUASHFS_LIST: &str = "unsquashfs -lln img.sqfs | awk '$1 ~ /^[bc]/ { print $1, $2, $3 $4, $7; next } \
     $1 ~ /^l/ { print $1, $2, $6; next } { print $1, $2, $NF }'";

#[test]
fn mksquashfs_image_holds_fake_owners_devices_and_capability() {
    for tool in ["mksquashfs", "unsquashfs", "setcap", "getcap"] {
        require(tool);
    }
    Case::new("mksquashfs_image_holds_fake_owners_devices_and_capability").check_outer(
        &format!(
            "{SQUASHFS_WANT}
out/bin/ping cap_net_raw=ep
out/bin/tool 1234:5678 4755 regular file
out/dev/tty0 0:5 620 character special file 4:1"
        ),
        &format!(
            r#"{}
{UNSQUASHFS_LIST}
"$FB" run -- sh -c 'unsquashfs -q -d out img.sqfs >/dev/null; getcap out/bin/ping; stat -c "%n %u:%g %a %F" out/bin/tool; stat -c "%n %u:%g %a %F %t:%T" out/dev/tty0'"#,
            tree_then("mksquashfs tree img.sqfs -quiet -noappend >/dev/null")
        ),
    );
}

#[test]
fn images_built_by_traced_programs() {
    // The same images with every program under the tracer (mksquashfs is multithreaded).
    for tool in ["mksquashfs", "unsquashfs", "mke2fs", "debugfs", "setcap"] {
        require(tool);
    }
    Case::new("images_built_by_traced_programs").check_outer(
        &format!("{SQUASHFS_WANT}\n{DEBUGFS_WANT}"),
        &format!(
            "{}\n{UNSQUASHFS_LIST}\n{}",
            tree_then_with(
                "--mechanism tracer",
                "mksquashfs tree img.sqfs -quiet -noappend >/dev/null; mke2fs -q -F -t ext4 -d tree img.ext4 8M >/dev/null"
            ),
            debugfs_stat("img.ext4")
        ),
    );
}

#[test]
fn cpio_archive_holds_fake_owners_and_devices() {
    require("cpio");
    require("setcap");
    Case::new("cpio_archive_holds_fake_owners_and_devices").check_outer(
        "drwxr-xr-x 0 0 tree
drwxr-xr-x 0 0 tree/bin
lrwxrwxrwx 3 4 tree/bin/link
-rwxr-xr-x 0 0 tree/bin/ping
-rwsr-xr-x 1234 5678 tree/bin/tool
drwxr-xr-x 0 0 tree/dev
brw-rw---- 0 6 8,0 tree/dev/sda
crw--w---- 0 5 4,1 tree/dev/tty0
drwxr-xr-x 0 0 tree/etc
-rw-r----- 7 8 tree/etc/conf
drwxr-s--- 100 200 tree/srv
drwxr-xr-x 0 0 tree/var
drwxrwxrwt 0 0 tree/var/tmp
out/tree/bin/tool 1234:5678 4755
out/tree/dev/sda 0:6 660 block special file 8:0",
        &format!(
            r#"{}
cpio -tv --numeric-uid-gid < a.cpio 2>/dev/null | awk '$1 ~ /^[bc]/ {{ print $1, $3, $4, $5 $6, $NF; next }} $1 ~ /^l/ {{ print $1, $3, $4, $(NF-2); next }} {{ print $1, $3, $4, $NF }}'
mkdir out && "$FB" run -- sh -c 'cd out && cpio -id --quiet < ../a.cpio && stat -c "%n %u:%g %a" tree/bin/tool && stat -c "%n %u:%g %a %F %t:%T" tree/dev/sda' | sed 's|^|out/|'"#,
            tree_then("find tree | sort | cpio -o -H newc > a.cpio 2>/dev/null")
        ),
    );
}

#[test]
fn tar_keeps_capability_xattr() {
    // The archive (read outside the session) holds the owners and the capability; a new
    // session extracting it (as root would) gets the capability back.
    require("tar");
    require("setcap");
    require("getcap");
    Case::new("tar_keeps_capability_xattr").check_outer(
        "tree/bin/ping -rwxr-xr-x 0/0
tree/bin/tool -rwsr-xr-x 1234/5678
tree/dev/tty0 crw--w---- 0/5 4,1
archive holds security.capability
tree/bin/ping cap_net_raw=ep
tree/bin/tool 1234:5678 4755",
        &format!(
            r#"{}
tar --numeric-owner -tvf x.tar | awk '/bin.ping|bin.tool|tty0/ {{ if ($1 ~ /^c/) print $NF, $1, $2, $3; else print $NF, $1, $2 }}' | sort
grep -a -q 'SCHILY.xattr.security.capability' x.tar && echo "archive holds security.capability"
mkdir out && cd out && "$FB" run -- sh -c 'tar --xattrs --xattrs-include="*" -xpf ../x.tar && getcap tree/bin/ping && stat -c "%n %u:%g %a" tree/bin/tool'"#,
            tree_then("tar --xattrs --xattrs-include=\"*\" --numeric-owner -cf x.tar tree")
        ),
    );
}

// --- doctor ---------------------------------------------------------------------------

#[test]
fn doctor_reports_and_succeeds() {
    let outcomes = Case::new("doctor_reports_and_succeeds").fakebox(&["doctor"]);
    check_all("doctor_reports_and_succeeds", &outcomes, |o| {
        if o.code() != Some(0) {
            return Err("fakebox doctor did not exit 0 on a machine where fakebox works".into());
        }
        let text = o.stdout.to_lowercase();
        let missing: Vec<&str> =
            ["ptrace", "seccomp", "preload", "agent"].into_iter().filter(|w| !text.contains(w)).collect();
        if missing.is_empty() { Ok(()) } else { Err(format!("stdout does not mention {}", missing.join(", "))) }
    });
}
