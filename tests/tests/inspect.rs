//! `fakebox inspect`: what a state file holds, said plainly, and never a silent all-clear.

use fakebox_tests::Case;

#[test]
fn check_without_root_is_refused_not_an_all_clear() {
    // A state records inodes, not paths: without --root nothing can tell a deleted file,
    // so --check and --prune refuse (a usage error naming --root) instead of printing
    // nothing and exiting 0. (With --root, the deleted file's inode may already belong to
    // one of the files the script makes: reported as reused then.)
    Case::new("inspect_check_without_root").check_outer(
        "check 125 2\nprune 125 2\nwith root 1 1",
        r#""$FB" run --state S -- sh -c 'touch f && chown 5 f'
rm f
"$FB" inspect --state S --check >out 2>err; echo "check $? $(grep -c -- --root err)"
"$FB" inspect --state S --prune >out 2>err; echo "prune $? $(grep -c -- --root err)"
"$FB" inspect --state S --root . --check >out 2>err; echo "with root $? $(grep -cE 'not-found|reused' out)""#,
    );
}

#[test]
fn a_missing_path_is_named_with_its_reason_and_the_others_shown() {
    Case::new("inspect_missing_path").check_outer(
        "a 5\nb 6\nstatus 1\nmissing: No such file or directory",
        r#""$FB" run --state S -- sh -c 'touch a b && chown 5 a && chown 6 b'
"$FB" inspect --state S a missing b >out 2>err; st=$?
awk '{print $NF, $2}' out | sort
echo "status $st"
sed -n 's/^fakebox: inspect: //p' err"#,
    );
}
