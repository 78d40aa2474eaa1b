//! The `--state` file under stress: reused inode numbers, killed sessions and daemons,
//! several sessions at once, damaged files, and trees moved or copied between sessions
//! (docs/ARCHITECTURE.md, promises 7, 8 and 11; README "State that lasts").
//!
//! The simple cases (a state persists, accumulates, is private; a file deleted outside is
//! forgotten) are in `semantics.rs`. Here every expectation is still what real root would
//! show; the cases that reach for fakebox's own daemon (to kill it, or to see that it is
//! gone) cannot run against the native stand-in.

use fakebox_tests::{Case, require};

/// Shell helpers the outer scripts share.
///
/// - `holders PATH`: the pids of the processes that have PATH open (the daemon of a state
///   file is the only process holding `S.journal` and the lock beside its socket).
/// - `wait_file PATH`: waits up to 20 s for PATH to appear.
/// - `alive PID`: the process runs (a zombie has ended: the daemon is nobody's child, and
///   the init of a container may be slow to reap it).
/// - `wait_gone PID...`: waits up to 20 s for the processes to end (they need not be our
///   children).
const HELPERS: &str = r#"
holders() { find /proc/[0-9]*/fd -maxdepth 1 -lname "$1" 2>/dev/null | cut -d/ -f3 | sort -u; }
alive() { local s; s=$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null); [ -n "$s" ] && [ "$s" != Z ]; }
wait_file() {
  local end=$(( $(date +%s) + 20 ))
  while [ ! -e "$1" ]; do
    [ "$(date +%s)" -ge "$end" ] && { echo "timed out waiting for $1"; return 1; }
    sleep 0.01
  done
}
wait_gone() {
  local end=$(( $(date +%s) + 20 )) p
  for p in "$@"; do
    while alive "$p"; do
      [ "$(date +%s)" -ge "$end" ] && { echo "process $p did not end"; return 1; }
      sleep 0.01
    done
  done
}
"#;

/// The same loop inside a session (`sh`): waits up to 20 s for the file `$1`.
const SH_WAIT: &str = r#"w() { n=0; while [ ! -e "$1" ]; do n=$((n+1)); [ $n -gt 2000 ] && { echo "timed out waiting for $1"; exit 1; }; sleep 0.01; done; }"#;

fn outer(case: &str, want: &str, body: &str) {
    require("setsid");
    Case::new(case).check_outer(want, &format!("S=$(pwd -P)/S\n{HELPERS}\n{body}"));
}

#[test]
fn reused_inode_numbers_start_clean_in_the_next_session() {
    // Session 1 gives 50 files owners 1001..1050; outside any session they are deleted and
    // 50 new files made, which on ext4 take most of the freed inode numbers (tmpfs never
    // reuses them, so the case stays in the temp dir). Other tests may take some of the
    // numbers first: the round is repeated until at least 25 were reused. The new files
    // are then root's, as real root's new files are. Files only written to, renamed,
    // hard-linked or unlinked by one of two names outside keep their fake owners.
    let want =
        "enough reused\n50 0:0\nk1 77:78 640\nk2.renamed 77:78 640\nk3 77:78 640\nk3.link 77:78 640\nk4b 77:78 640";
    outer(
        "reused_inode_numbers_start_clean_in_the_next_session",
        want,
        r#"mkdir keep && cd keep || exit 1
"$FB" run --state "$S" -- sh -c 'for k in k1 k2 k3 k4; do echo x > $k; chown 77:78 $k; chmod 640 $k; done' || exit 1
echo more >> k1; mv k2 k2.renamed; ln k3 k3.link; ln k4 k4b; rm k4
cd .. || exit 1
for try in $(seq 10); do
  rm -rf "w$try"; mkdir "w$try"; cd "w$try" || exit 1
  "$FB" run --state "$S" -- sh -c 'for i in $(seq 50); do touch o$i; chown $((1000+i)):$((1000+i)) o$i; done' || exit 1
  stat -c %i o* | sort > ../old
  rm o*
  for i in $(seq 50); do touch "n$i"; done
  stat -c %i n* | sort > ../new
  reused=$(comm -12 ../old ../new | wc -l)
  if [ "$reused" -ge 25 ]; then
    echo enough reused
    "$FB" run --state "$S" -- stat -c %u:%g n* | sort | uniq -c | awk '{print $1, $2}'
    cd ../keep && "$FB" run --state "$S" -- stat -c '%n %u:%g %a' k1 k2.renamed k3 k3.link k4b
    exit
  fi
  cd ..
done
echo "at most $reused of 50 inode numbers were reused in 10 rounds""#,
    );
}

/// A session doing `chown -R 5:5` of a 20,000-file tree (20 directories of 1,000) is
/// killed with SIGKILL once its journal holds at least 300 changes (12,000 bytes; a record
/// is at most 40). `kill` is what the outer script runs, given the session's pid as `$fb`
/// (a process group of its own) and the daemon's as `$daemon`.
///
/// The tree is on /dev/shm: tmpfs makes 20,000 files in a blink, where ext4 in a busy
/// temp dir can take seconds (the state file stays in the case directory).
///
/// Then a new session must load the state and show a prefix of the work: every entry
/// 5:5 or 0:0, at least 300 at 5:5, not all of them (the kill came mid-way), and the done
/// part a prefix of chown's depth-first walk: at most one of the 20 directories is part
/// done (chown -R changes a directory after its contents), and the top one is not done.
fn killed_chown(case: &str, kill: &str) {
    let want = "loaded\nowners 5:5 or 0:0\nat least 300 done\nnot all done\nprefix\nt 0:0";
    outer(
        case,
        want,
        &format!(
            r#"T=$(mktemp -d /dev/shm/fakebox-tests-state.XXXXXX) || exit 1
trap 'rm -rf "$T"' EXIT
cd "$T" && mkdir t || exit 1
for d in $(seq 20); do mkdir t/d$d && (cd t/d$d && seq 1000 | xargs touch) || exit 1; done
setsid "$FB" run --state "$S" -- chown -R 5:5 t 2>/dev/null &
fb=$!
end=$(( $(date +%s) + 30 ))
while [ "$(stat -c %s "$S.journal" 2>/dev/null || echo 0)" -lt 12000 ]; do
  [ "$(date +%s)" -ge "$end" ] && {{ echo "the journal did not grow to 12000 bytes"; exit 1; }}
  sleep 0.005
done
daemon=$(holders "$S.journal")
[ -n "$daemon" ] || {{ echo "no daemon holds $S.journal"; exit 1; }}
kids=$(cat /proc/$fb/task/*/children 2>/dev/null)
{kill}
wait $fb
wait_gone $kids $daemon || exit 1
"$FB" run --state "$S" -- find t -printf '%U:%G %P\n' > list 2> err && echo loaded || cat err
awk '$1 != "5:5" && $1 != "0:0"' list | head -3 | grep . || echo owners 5:5 or 0:0
awk '{{
  if ($2 == "") {{ top = $1; next }}
  split($2, p, "/"); tot[p[1]]++; all++
  if ($1 == "5:5") {{ five[p[1]]++; done++ }}
}}
END {{
  if (done >= 300) print "at least 300 done"; else print "only " done " done"
  if (done < all) print "not all done"; else print "all done"
  part = 0
  for (d in tot) if (five[d] > 0 && five[d] < tot[d]) part++
  if (part <= 1) print "prefix"; else print part " directories part done"
  print "t " top
}}' list"#
        ),
    );
}

#[test]
fn killed_session_leaves_a_prefix_of_its_work() {
    // Only the fakebox process: its command, orphaned, can no longer reach the daemon (which
    // saves and goes when its session's connection drops) and fails the rest; wait for it.
    killed_chown("killed_session_leaves_a_prefix_of_its_work", "kill -KILL $fb");
}

#[test]
fn killed_process_group_leaves_a_prefix_of_its_work() {
    killed_chown("killed_process_group_leaves_a_prefix_of_its_work", "kill -KILL -- -$fb");
}

#[test]
fn killed_daemon_leaves_a_prefix_of_its_work() {
    // No save: the next session replays the journal.
    killed_chown("killed_daemon_leaves_a_prefix_of_its_work", "kill -KILL $daemon");
}

#[test]
fn concurrent_sessions_see_each_others_changes_at_once() {
    // B starts first and looks at f; A starts, chowns f and raises a flag; B's first look
    // after the flag must show the new owner (no retry, so well within a second). Then the
    // other way round with g. Each session waits for the other's last step, so both run
    // from B's first look to A's last.
    let want = "A: g 0\nA: g 8\nA ended 0\nB ended 0\nB: f 0\nB: f 7\nC ended 0\n7 8";
    outer(
        "concurrent_sessions_see_each_others_changes_at_once",
        want,
        &format!(
            r#"touch f g
"$FB" run --state "$S" -- sh -c '{SH_WAIT}
  stat -c "B: f %u" f; touch b.up
  w a.flag; stat -c "B: f %u" f
  chown 8 g; touch b.flag
  w a.done' > b.out 2>&1 &
B=$!
wait_file b.up || exit 1
"$FB" run --state "$S" -- sh -c '{SH_WAIT}
  stat -c "A: g %u" g
  chown 7 f; touch a.flag
  w b.flag; stat -c "A: g %u" g
  touch a.done' 2>&1
echo "A ended $?"
wait $B; echo "B ended $?"
cat b.out
"$FB" run --state "$S" -- stat -c %u f g > c.out; echo "C ended $?"
tr '\n' ' ' < c.out | sed 's/ $//'; echo"#
        ),
    );
}

#[test]
fn damaged_state_is_an_error_and_nothing_runs() {
    // Each damaged file: exit 125, stderr starts with "fakebox:" and names the file, the
    // command did not run, and the file is left as it was.
    // (An empty file is not damaged: it is an empty table, as mktemp makes it; migrate.rs.)
    let kinds = [
        "short",
        "header-only",
        "half",
        "one-byte-short",
        "garbage",
        "bad-magic",
        "trailing-bytes",
        "newer-version",
        "version-ffffffff",
        "directory",
    ];
    let want: Vec<String> = kinds.iter().map(|k| format!("{k}: 125 fakebox: named not-run unchanged")).collect();
    outer(
        "damaged_state_is_an_error_and_nothing_runs",
        &want.join("\n"),
        &format!(
            r#""$FB" run --state good -- sh -c 'touch a b; chown 1:2 a; chown 3:4 b; chmod 4755 b' || exit 1
size=$(stat -c %s good)
[ "$size" -gt 40 ] || {{ echo "the good state is only $size bytes"; exit 1; }}
mk() {{
  case $1 in
    empty) : > "$2" ;;
    short) head -c 10 good > "$2" ;;
    header-only) head -c 20 good > "$2" ;;
    half) head -c $((size / 2)) good > "$2" ;;
    one-byte-short) head -c $((size - 1)) good > "$2" ;;
    garbage) for i in $(seq 100); do echo "this is not a fakebox state file"; done > "$2" ;;
    bad-magic) {{ printf 'FAKEBOX-STATX'; tail -c +14 good; }} > "$2" ;;
    trailing-bytes) {{ cat good; printf 'xyz'; }} > "$2" ;;
    newer-version) cp good "$2"; printf '\002\000\000\000' | dd of="$2" bs=1 seek=16 conv=notrunc status=none ;;
    version-ffffffff) cp good "$2"; printf '\377\377\377\377' | dd of="$2" bs=1 seek=16 conv=notrunc status=none ;;
    directory) mkdir "$2" ;;
  esac
}}
for k in {kinds}; do
  s=$k.state
  mk $k $s
  before=$(ls -ld --time-style=+%s.%N $s; [ -f $s ] && md5sum < $s)
  "$FB" run --state $s -- touch marker-$k 2> err-$k
  rc=$?
  after=$(ls -ld --time-style=+%s.%N $s; [ -f $s ] && md5sum < $s)
  line="$k: $rc $(head -c 8 err-$k)"
  grep -qF "$s" err-$k && line="$line named" || line="$line unnamed"
  [ -e marker-$k ] && line="$line ran" || line="$line not-run"
  [ "$before" = "$after" ] && line="$line unchanged" || line="$line changed"
  echo "$line"
  [ "$line" = "$k: 125 fakebox: named not-run unchanged" ] || sed 's/^/    stderr: /' err-$k
done"#,
            kinds = kinds.join(" ")
        ),
    );
}

#[test]
fn state_is_saved_when_the_last_of_several_sessions_ends() {
    // A starts, B starts (one daemon for both), A ends (the daemon stays for B), B chowns
    // g, B ends: the state holds g, the journal is empty, and within a second no process
    // holds the daemon's lock.
    let want = "one daemon\nA ended 0\ndaemon stays\nB: 6:7\nB ended 0\ndaemon gone\njournal empty\nC ended 0\n6:7 1:1";
    outer(
        "state_is_saved_when_the_last_of_several_sessions_ends",
        want,
        &format!(
            r#"touch g a
"$FB" run --state "$S" -- sh -c '{SH_WAIT}; chown 1:1 a; touch a.up; w a.go' &
A=$!
wait_file a.up || exit 1
"$FB" run --state "$S" -- sh -c '{SH_WAIT}; touch b.up; w b.go; chown 6:7 g; stat -c "B: %u:%g" g' &
B=$!
wait_file b.up || exit 1
daemon=$(holders "$S.journal")
[ "$(echo "$daemon" | grep -c .)" = 1 ] && echo one daemon || echo "daemons: $daemon"
lock=$(find /proc/$daemon/fd -maxdepth 1 -lname '*.lock' -printf '%l\n' 2>/dev/null | head -1)
[ -n "$lock" ] || echo "the daemon $daemon holds no .lock file"
touch a.go; wait $A; echo "A ended $?"
alive "$daemon" && [ "$(holders "$S.journal")" = "$daemon" ] && echo daemon stays || echo "daemon gone after A"
touch b.go; wait $B; echo "B ended $?"
end=$(( $(date +%s%N) + 1000000000 ))
while [ -n "$(holders "$lock")" ] || alive "$daemon"; do
  [ "$(date +%s%N)" -ge "$end" ] && break
  sleep 0.01
done
[ -z "$(holders "$lock")" ] && ! alive "$daemon" && echo daemon gone || echo "daemon still there after 1s: $(holders "$lock")"
[ -s "$S.journal" ] && echo "journal has $(stat -c %s "$S.journal") bytes" || echo journal empty
"$FB" run --state "$S" -- stat -c %u:%g g a > c.out; echo "C ended $?"
tr '\n' ' ' < c.out | sed 's/ $//'; echo"#
        ),
    );
}

#[test]
fn journal_outlives_a_killed_daemon_and_session() {
    // As close to a power loss as a test gets: a saved state, then a session whose daemon
    // and process group are killed right after its changes, before any save. The next
    // session sees the saved state and the changes (journal replayed over the snapshot).
    let want = "not saved\nh 3:3 644 regular empty file\nf 9:8 4755 regular empty file\ndev 0:0 640 character special file 4:5";
    outer(
        "journal_outlives_a_killed_daemon_and_session",
        want,
        &format!(
            r#""$FB" run --state "$S" -- sh -c 'touch h f; chown 3:3 h' || exit 1
cp "$S" saved
setsid "$FB" run --state "$S" -- sh -c '{SH_WAIT}; chown 9:8 f; chmod 4755 f; mknod -m 640 dev c 4 5; touch done; w never' &
fb=$!
wait_file done || exit 1
daemon=$(holders "$S.journal")
[ -n "$daemon" ] || {{ echo "no daemon holds $S.journal"; exit 1; }}
kill -KILL $daemon; kill -KILL -- -$fb
wait $fb
wait_gone $daemon || exit 1
cmp -s saved "$S" && echo not saved || echo "the state was saved (so this tested nothing)"
"$FB" run --state "$S" -- stat -c '%n %u:%g %a %F' h f
"$FB" run --state "$S" -- stat -c '%n %u:%g %a %F %t:%T' dev"#
        ),
    );
}

#[test]
fn moved_and_copied_trees_keep_their_owners() {
    // Session 1 builds a tree; session 2 renames it (mv within the filesystem) and copies
    // it with cp -a and with tar; it is renamed once more outside; session 3 sees the
    // same owners, modes and device in all three.
    require("tar");
    let tree = ". 1234:5678 755 d\n./a 1234:5678 2750 d\n./a/b 1234:5678 755 d\n./a/b/f 42:43 644 f\n\
                ./a/c 1234:5678 644 c 1:3\n./x 1234:5678 4755 f";
    let want = format!("no d\n{tree}\n{tree}\n{tree}");
    outer(
        "moved_and_copied_trees_keep_their_owners",
        &want,
        r#""$FB" run --state "$S" -- sh -c 'mkdir -p d/a/b && touch d/a/b/f d/x && mknod d/a/c c 1 3 &&
  chown -R 1234:5678 d && chown 42:43 d/a/b/f && chmod 4755 d/x && chmod 2750 d/a' || exit 1
"$FB" run --state "$S" -- sh -c 'mv d e && cp -a e c && tar -C e -cf t.tar . && mkdir u && tar -C u -xf t.tar' || exit 1
mv e e2
[ -e d ] || echo no d
for t in e2 c u; do
  "$FB" run --state "$S" -- sh -c "cd $t && find . -printf '%p %U:%G %m %y\n' | sort" |
    while read -r p o m y; do
      if [ "$y" = c ]; then echo "$p $o $m $y $("$FB" run --state "$S" -- stat -c %t:%T "$t/$p")"; else echo "$p $o $m $y"; fi
    done
done"#,
    );
}

#[test]
fn a_torn_journal_hides_nothing_appended_after_it() {
    // A crash in the middle of an append left a torn record at the end of the journal;
    // the next session chowns a file and is killed (daemon and session) before it saves.
    // The session after it sees the chown: the torn record was cut off before the append.
    let want = "not saved\nf 7:7\ng 1:1";
    outer(
        "a_torn_journal_hides_nothing_appended_after_it",
        want,
        &format!(
            r#"touch f g
"$FB" run --state "$S" -- chown 1:1 g || exit 1
printf xyz >> "$S.journal"
cp "$S" saved
setsid "$FB" run --state "$S" -- sh -c '{SH_WAIT}; chown 7:7 f; touch done; w never' &
fb=$!
wait_file done || exit 1
daemon=$(holders "$S.journal")
[ -n "$daemon" ] || {{ echo "no daemon holds $S.journal"; exit 1; }}
kill -KILL $daemon; kill -KILL -- -$fb
wait $fb
wait_gone $daemon || exit 1
cmp -s saved "$S" && echo not saved || echo "the state was saved (so this tested nothing)"
"$FB" run --state "$S" -- stat -c '%n %u:%g' f g"#
        ),
    );
}

#[test]
fn a_change_the_journal_cannot_take_fails_and_is_said() {
    // The journal cannot be written (here: it is /dev/full, as a full disk would be): the
    // chown fails with EIO, the session says why on stderr ("fakebox: ... journal ..."),
    // and the next session does not see the change that was refused.
    let want = "chown failed\nsaid\n0:0";
    outer(
        "a_change_the_journal_cannot_take_fails_and_is_said",
        want,
        r#"touch f
ln -s /dev/full "$S.journal"
"$FB" run --state "$S" -- chown 5:5 f 2> err && echo "chown succeeded" || echo "chown failed"
grep -q 'Input/output error' err && grep -q '^fakebox: .*journal' err && echo said || cat err
rm -f "$S.journal"
"$FB" run --state "$S" -- stat -c %u:%g f"#,
    );
}

#[test]
fn a_symlinked_state_stays_a_symlink_and_every_name_meets_one_daemon() {
    // S is a symlink to real/state. A session through the link and one through
    // `real/./state` run at once: they share one daemon, so each sees the other's change
    // at once. After them the link is still a link, and the file it names holds both.
    let want = "A: g 0\nA: g 8\nB: f 7\nlink\nf 7:0\ng 8:0";
    outer(
        "a_symlinked_state_stays_a_symlink_and_every_name_meets_one_daemon",
        want,
        &format!(
            r#"mkdir real && touch f g && ln -s real/state "$S" || exit 1
"$FB" run --state "$S" -- sh -c '{SH_WAIT}
  stat -c "A: g %u" g; touch a.up
  w b.flag; stat -c "A: g %u" g
  chown 7 f; touch a.flag' > a.out 2>&1 &
A=$!
wait_file a.up || exit 1
"$FB" run --state real/./state -- sh -c '{SH_WAIT}
  chown 8 g; touch b.flag
  w a.flag; stat -c "B: f %u" f' > b.out 2>&1
wait $A
cat a.out b.out
[ -L "$S" ] && echo link || echo "not a link any more"
"$FB" run --state "$(pwd)/real/state" -- stat -c '%n %u:%g' f g"#
        ),
    );
}

#[test]
fn a_hard_linked_state_is_refused() {
    // A save replaces the file under one of its names: the other would keep the old
    // table. fakebox says so (exit 125) instead of running with one of them.
    let want = "125\nsaid\nnot run";
    outer(
        "a_hard_linked_state_is_refused",
        want,
        r#""$FB" run --state "$S" -- true || exit 1
ln "$S" other
"$FB" run --state other -- touch ran 2> err; echo $?
grep -q '^fakebox: .*hard link' err && echo said || cat err
[ -e ran ] && echo ran || echo "not run""#,
    );
}

#[test]
fn fakeroot_with_two_names_of_one_state_keeps_it() {
    // `fakeroot -i ./s -s s` names one file twice: it is loaded and saved, not emptied
    // by a copy onto itself.
    let want = "f 5:5\nf 5:5\ng 6:6";
    outer(
        "fakeroot_with_two_names_of_one_state_keeps_it",
        want,
        r#"mkdir -p compat && "$FB" install-compat "$PWD/compat" >/dev/null || exit 1
touch f g
compat/fakeroot -s s -- chown 5:5 f || exit 1
compat/fakeroot -i ./s -s s -- stat -c '%n %u:%g' f || exit 1
compat/fakeroot -i s -s "$PWD/s" -- chown 6:6 g || exit 1
compat/fakeroot -i s -- stat -c '%n %u:%g' f g"#,
    );
}

/// `halfwrite PID FILE`: in the shared table of the daemon PID (its writable mapping of
/// the memfd, through /proc/PID/mem), makes the sequence number of FILE's slot odd, as a
/// daemon killed in the middle of writing that slot leaves it. The slot is found the way
/// readers find it (proto/src/shm.rs: the header, the filter, then 56-byte slots probed
/// linearly from the key's hash).
const HALFWRITE_C: &str = r#"
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t hash(uint64_t dev, uint64_t ino) {
    uint64_t x = (dev * 0x9e3779b97f4a7c15ULL) ^ (ino / 16);
    x ^= x >> 30; x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27; x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x * 16 + ino % 16;
}

int main(int argc, char **argv) {
    if (argc != 3) return 2;
    struct stat st;
    if (stat(argv[2], &st) != 0) { perror(argv[2]); return 1; }
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%s/maps", argv[1]);
    FILE *maps = fopen(path, "r");
    if (!maps) { perror(path); return 1; }
    unsigned long base = 0;
    while (fgets(line, sizeof line, maps))
        if (strstr(line, "memfd:fakebox-table") && strstr(line, " rw-s ")) { base = strtoul(line, 0, 16); break; }
    if (!base) { fprintf(stderr, "no writable table in %s\n", path); return 1; }
    snprintf(path, sizeof path, "/proc/%s/mem", argv[1]);
    int mem = open(path, O_RDWR);
    if (mem < 0) { perror(path); return 1; }
    uint64_t cap;
    if (pread(mem, &cap, 8, base + 8) != 8) { perror("capacity"); return 1; }
    unsigned long slots = base + 4096 + (1 << 17);
    for (uint64_t n = 0, i = hash(st.st_dev, st.st_ino) & (cap - 1); n < cap; n++, i = (i + 1) & (cap - 1)) {
        unsigned char s[56];
        if (pread(mem, s, 56, slots + i * 56) != 56) { perror("slot"); return 1; }
        uint32_t seq, state; uint64_t dev, ino;
        memcpy(&seq, s, 4); memcpy(&state, s + 4, 4); memcpy(&dev, s + 8, 8); memcpy(&ino, s + 16, 8);
        if ((state & 0xff) != 1) break;
        if (dev == st.st_dev && ino == st.st_ino) {
            seq |= 1;
            if (pwrite(mem, &seq, 4, slots + i * 56) != 4) { perror("seq"); return 1; }
            return 0;
        }
    }
    fprintf(stderr, "%s is not in the table\n", argv[2]);
    return 1;
}
"#;

#[test]
fn a_slot_left_half_written_neither_hangs_nor_lies() {
    // A session records f; then f's slot in the shared table is left half-written (its
    // sequence odd), as a daemon killed mid-write leaves it. A stat of f in the session
    // gives up on the table and asks the daemon: the right owner, at once. With the
    // daemon then killed, the stat fails (EIO) and says so, rather than hang or show
    // f unfaked.
    let half = fakebox_tests::build_c("halfwrite", HALFWRITE_C, &[]);
    let want = "alive 7\nstat 0\nstat 1\nEIO\nsaid";
    outer(
        "a_slot_left_half_written_neither_hangs_nor_lies",
        want,
        &format!(
            r#"touch f
setsid "$FB" run --state "$S" -- sh -c '{SH_WAIT}; chown 7:7 f; touch up; w odd
  timeout 20 stat -c "alive %u" f; echo "stat $?"; touch asked; w gone
  timeout 20 stat -c "gone %u" f 2> err; echo "stat $?"
  grep -q "Input/output error" err && echo EIO; grep -q "^fakebox.*daemon" err && echo said || cat err' > res 2> /dev/null &
fb=$!
wait_file up || exit 1
daemon=$(holders "$S.journal")
[ -n "$daemon" ] || {{ echo "no daemon holds $S.journal"; exit 1; }}
"{half}" $daemon f && touch odd || exit 1
wait_file asked || exit 1
kill -KILL $daemon
wait_gone $daemon || exit 1
touch gone
wait $fb
cat res"#,
            half = half.display()
        ),
    );
}
