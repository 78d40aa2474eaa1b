//! What fakebox must leave on disk, what it keeps between sessions, and what it forgets
//! (docs/ARCHITECTURE.md, promises 2, 4, 5, 7 and 11).

use fakebox_tests::Case;

#[test]
fn no_real_change_on_disk() {
    // Checked outside the session: the real owner is whoever ran fakebox (also when that
    // is real root), and no real setuid/setgid bit or device node appears.
    Case::new("no_real_change_on_disk").check_outer(
        "session ok\nowner kept\ngroup kept\n755\n755\nrw\nregular empty file\nowner kept",
        r#""$FB" run -- sh -c 'touch f; chown 1234:5678 f; chmod 4755 f; mkdir d; chmod 2755 d; touch z; chmod 000 z; mknod c c 1 3; chown 9:9 c' && echo session ok
[ "$(stat -c %u f)" = "$(id -u)" ] && echo owner kept
[ "$(stat -c %g f)" = "$(id -g)" ] && echo group kept
stat -c %a f
stat -c %a d
stat -c %A z | cut -c2-3
stat -c %F c
[ "$(stat -c %u c)" = "$(id -u)" ] && echo owner kept"#,
    );
}

#[test]
fn no_real_chown_of_directory_tree() {
    Case::new("no_real_chown_of_directory_tree").check_outer(
        "0\n0",
        r#""$FB" run -- sh -c 'mkdir -p a/b; touch a/b/c a/d; chown -R 1:1 a; chmod -R 6777 a'
find a ! -user "$(id -u)" | wc -l
find a -perm /6000 | wc -l"#,
    );
}

#[test]
fn chmod_000_dir_removable_after_session() {
    // The user can clean up after a session that recorded mode 000.
    Case::new("chmod_000_dir_removable_after_session").check_outer(
        "gone",
        r#""$FB" run -- sh -c 'mkdir -p d/e; touch d/e/f; chmod 000 d/e d'
rm -rf d && [ ! -e d ] && echo gone"#,
    );
}

#[test]
fn unknown_is_real() {
    // A file made before the session by the user: root by default, its real owner with
    // --unknown-is-real.
    Case::new("unknown_is_real").check_outer(
        "0:0\nreal",
        r#"touch pre
"$FB" run -- stat -c %u:%g pre
[ "$("$FB" run --unknown-is-real -- stat -c %u:%g pre)" = "$(id -u):$(id -g)" ] && echo real"#,
    );
}

#[test]
fn state_persists() {
    Case::new("state_persists").check_outer(
        "77:78\ncharacter special file 1:3\n4755 0:0",
        r#""$FB" run --state "$PWD/state" -- sh -c 'touch f; chown 77:78 f; mknod d c 1 3; touch s; chmod 4755 s' || exit 1
"$FB" run --state "$PWD/state" -- sh -c 'stat -c %u:%g f; stat -c "%F %t:%T" d; stat -c "%a %u:%g" s'"#,
    );
}

#[test]
fn state_accumulates() {
    Case::new("state_accumulates").check_outer(
        "1:1\n2:2",
        r#""$FB" run --state "$PWD/state" -- sh -c 'touch a; chown 1:1 a' || exit 1
"$FB" run --state "$PWD/state" -- sh -c 'touch b; chown 2:2 b' || exit 1
"$FB" run --state "$PWD/state" -- stat -c %u:%g a b"#,
    );
}

#[test]
fn without_state_nothing_persists() {
    Case::new("without_state_nothing_persists").check_outer(
        "0:0",
        r#""$FB" run -- sh -c 'touch f; chown 77:78 f' || exit 1
"$FB" run -- stat -c %u:%g f"#,
    );
}

#[test]
fn state_is_private() {
    // README "The `--state` format": the state file is private to the user (mode 0600).
    Case::new("state_is_private").check_outer(
        "private",
        r#""$FB" run --state "$PWD/state" -- sh -c 'touch f; chown 1:1 f' || exit 1
[ -e state ] || { echo "no state at $PWD/state"; exit 1; }
case $(stat -c %A state) in ????------) echo private ;; *) stat -c %A state ;; esac"#,
    );
}

#[test]
fn deleted_outside_is_forgotten() {
    // docs/ARCHITECTURE.md, promise 7: a file deleted outside fakebox is forgotten, so a new file that gets
    // the same inode number starts clean. ext4 hands a freed inode to the next file made
    // nearby; other tests running at the same time may take it first, hence the retries.
    Case::new("deleted_outside_is_forgotten").check_outer(
        "reused\n0:0 644",
        r#"S=$PWD/state
for try in $(seq 20); do
  rm -rf w; mkdir w; cd w || exit 1
  "$FB" run --state "$S" -- sh -c 'touch f; chown 77:78 f; chmod 4755 f' || exit 1
  ino=$(stat -c %i f); rm f
  hit=
  for n in $(seq 50); do touch "n$n"; if [ "$(stat -c %i "n$n")" = "$ino" ]; then hit=n$n; break; fi; done
  if [ -n "$hit" ]; then echo reused; "$FB" run --state "$S" -- stat -c '%u:%g %a' "$hit"; exit; fi
  cd ..
done
echo "no inode number was reused in 20 tries""#,
    );
}

#[test]
fn deleted_inside_is_forgotten() {
    Case::new("deleted_inside_is_forgotten").check(
        "reused\n0:0 644",
        r#"for try in $(seq 20); do
  rm -rf w; mkdir w; cd w || exit 1
  touch f; chown 77:78 f; chmod 4755 f; ino=$(stat -c %i f); rm f
  hit=
  for n in $(seq 50); do touch "n$n"; if [ "$(stat -c %i "n$n")" = "$ino" ]; then hit=n$n; break; fi; done
  if [ -n "$hit" ]; then echo reused; stat -c '%u:%g %a' "$hit"; exit; fi
  cd ..
done
echo "no inode number was reused in 20 tries""#,
    );
}
