//! The places fakebox keeps its sockets, locks and library copy cannot be taken, blocked
//! or planted by another local user (README, "State that lasts").

use fakebox_tests::{Case, UNPRIVILEGED, current_uid};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

/// A world-writable sticky directory, like /tmp, removed when dropped.
struct Sticky(PathBuf);

impl Sticky {
    fn new(name: &str) -> Sticky {
        let d = std::env::temp_dir().join(format!("fakebox-rv-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o1777)).unwrap();
        Sticky(d)
    }

    /// Another user's directory at `name`, with `mode`.
    fn foreign(&self, name: &str, owner: u32, mode: u32) -> PathBuf {
        let p = self.0.join(name);
        std::fs::create_dir(&p).unwrap();
        std::os::unix::fs::chown(&p, Some(owner), Some(owner)).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }
}

impl Drop for Sticky {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn another_user_cannot_block_or_plant_the_private_directory() {
    // Another user made /tmp/fakebox-UID first: for root, open to all (a planted library
    // could be put there); for uid 65534, closed (every session of that user was refused).
    // Root also runs with another user's XDG_RUNTIME_DIR (sudo -E). Sessions with a state
    // file still work, and nothing is written into or loaded from either.
    let tmp = Sticky::new("tmp");
    let xdg = Sticky::new("xdg");
    if current_uid() == 0 {
        tmp.foreign("fakebox-0", UNPRIVILEGED, 0o777);
        tmp.foreign(&format!("fakebox-{UNPRIVILEGED}"), 0, 0o700);
        std::os::unix::fs::chown(&xdg.0, Some(UNPRIVILEGED), Some(UNPRIVILEGED)).unwrap();
        std::fs::set_permissions(&xdg.0, std::fs::Permissions::from_mode(0o700)).unwrap();
    } else {
        // Not root: the other user's directory cannot be made; a symlink to a directory
        // that is not the user's stands in for it.
        std::os::unix::fs::symlink("/", tmp.0.join(format!("fakebox-{}", current_uid()))).unwrap();
    }
    Case::new("rendezvous_taken").check_outer(
        "5\n5\nempty",
        &format!(
            r#"mkdir solo && cp "$FB" solo/fakebox
c=$(mktemp -d /tmp/fbc.XXXXXX); export XDG_CACHE_HOME=$c/c
export TMPDIR={tmp}
# Root runs with the other user's XDG_RUNTIME_DIR; uid 65534 without one, so that it meets
# the directory taken in its name.
if [ "$(id -u)" = 0 ]; then export XDG_RUNTIME_DIR={xdg}; else unset XDG_RUNTIME_DIR; fi
solo/fakebox run --state S -- sh -c 'touch f && chown 5 f' || echo "first session failed"
solo/fakebox run --state S -- stat -c %u f
"$FB" run --state S -- stat -c %u f
[ -z "$(find {tmp}/fakebox-0 {xdg} -mindepth 1)" ] && echo empty || find {tmp}/fakebox-0 {xdg} -mindepth 1
rm -rf "$c""#,
            tmp = tmp.0.display(),
            xdg = xdg.0.display()
        ),
    );
}

#[test]
fn a_symlink_at_the_predictable_name_is_not_followed() {
    Case::new("rendezvous_symlink").check_outer(
        "5\nlink kept",
        r#"t=$(mktemp -d /tmp/fbt.XXXXXX) && ln -s /etc "$t/fakebox-$(id -u)"
c=$(mktemp -d /tmp/fbc.XXXXXX); export XDG_CACHE_HOME=$c/c
export TMPDIR=$t; unset XDG_RUNTIME_DIR
"$FB" run --state S -- sh -c 'touch f && chown 5 f' && "$FB" run --state S -- stat -c %u f
[ -L "$t/fakebox-$(id -u)" ] && [ "$(readlink "$t/fakebox-$(id -u)")" = /etc ] && echo "link kept"
rm -rf "$t" "$c""#,
    );
}

#[test]
fn the_library_copy_is_checked_by_content() {
    // A copy of the embedded library of the right name and length but other bytes (a
    // damaged file, or one planted while the directory was open) is replaced, not loaded.
    Case::new("library_copy_content").check_outer(
        "0\nrestored\n0",
        r#"mkdir solo && cp "$FB" solo/fakebox
t=$(mktemp -d /tmp/fbt.XXXXXX)
export TMPDIR=$t; unset XDG_RUNTIME_DIR
solo/fakebox run -- id -u
lib=$(ls "$t"/fakebox-*/libfakebox-*.so)
good=$(md5sum < "$lib")
printf 'XXXXXXXX' | dd of="$lib" bs=1 seek=4096 conv=notrunc 2>/dev/null
[ "$(md5sum < "$lib")" != "$good" ] || echo "not damaged"
solo/fakebox run -- true
[ "$(md5sum < "$lib")" = "$good" ] && echo restored || echo "damaged copy kept"
solo/fakebox run -- id -u
rm -rf "$t""#,
    );
}

#[test]
fn lock_files_do_not_pile_up() {
    // A state that cannot be loaded, a daemon killed with SIGKILL, a prune: none of them
    // leaves its lock file or socket behind for good; the next daemon to start sweeps what
    // nobody holds.
    Case::new("locks_swept").check_outer(
        "125\nleft: 0",
        r#"t=$(mktemp -d /tmp/fbt.XXXXXX); export TMPDIR=$t; unset XDG_RUNTIME_DIR
d="$t/fakebox-$(id -u)"
printf 'not a state' > bad
"$FB" run --state bad -- true 2>/dev/null; echo $?
k=k; "$FB" run --state "${k}state" -- sh -c 'touch f; chown 5 f; exec sleep 31.5' >/dev/null 2>&1 &
sleep 1
[ "$(ls "$d" | grep -c '\.lock$')" = 1 ] || echo "no lock while the daemon runs"
# (the name is put together at run time, so that this script's own command line does
# not match)
pkill -KILL -f -- "state [k]state"; pkill -KILL -f "^sleep 31[.]5$"; wait
"$FB" run --state p -- sh -c 'touch g; chown 6 g'
"$FB" inspect --state p --root . --prune >/dev/null
"$FB" run --state q -- true
sleep 0.5
echo "left: $(ls "$d" | grep -c -v '^libfakebox')"
rm -rf "$t""#,
    );
}
