//! The session behaves like the command it wraps (docs/ARCHITECTURE.md, promise 10) and fails clearly (promise 11).

use fakebox_tests::{Case, build_c, check_all, expect_exit, fakebox};
use std::ffi::OsString;

#[test]
fn exit_code_passes_through() {
    let runs = Case::new("exit_code_passes_through").fakebox(&["run", "--", "sh", "-c", "exit 3"]);
    expect_exit("exit_code_passes_through", &runs, 3, |_| true);
}

#[test]
fn exit_code_zero() {
    let runs = Case::new("exit_code_zero").fakebox(&["run", "--", "true"]);
    expect_exit("exit_code_zero", &runs, 0, |_| true);
}

#[test]
fn exit_code_in_shell() {
    Case::new("exit_code_in_shell").check_outer(
        "3\n0\n1",
        r#""$FB" run -- sh -c "exit 3"; echo $?; "$FB" run -- true; echo $?; "$FB" run -- false; echo $?"#,
    );
}

#[test]
fn killed_by_term() {
    let runs = Case::new("killed_by_term").fakebox(&["run", "--", "sh", "-c", "kill -TERM $$"]);
    expect_exit("killed_by_term", &runs, 143, |_| true);
}

#[test]
fn killed_by_kill() {
    let runs = Case::new("killed_by_kill").fakebox(&["run", "--", "sh", "-c", "kill -KILL $$"]);
    expect_exit("killed_by_kill", &runs, 137, |_| true);
}

#[test]
fn killed_by_segv() {
    let runs = Case::new("killed_by_segv").fakebox(&["run", "--", "sh", "-c", "kill -SEGV $$"]);
    expect_exit("killed_by_segv", &runs, 139, |_| true);
}

#[test]
fn stdin_passes_through() {
    Case::new("stdin_passes_through").check_outer("hi", r#"echo hi | "$FB" run -- cat"#);
}

#[test]
fn stdin_from_case() {
    Case::new("stdin_from_case").stdin("one\ntwo\n").check_outer("2", r#""$FB" run -- wc -l"#);
}

#[test]
fn stderr_passes_through() {
    Case::new("stderr_passes_through").check_outer("oops", r#""$FB" run -- sh -c 'echo oops >&2' 2>&1 >/dev/null"#);
}

#[test]
fn stdout_not_held_open() {
    // Command substitution only returns when every holder of the pipe closes it: a daemon
    // that keeps the caller's stdout would hang here until the timeout.
    Case::new("stdout_not_held_open").check_outer(
        "hi 0\ndone",
        r#"x=$("$FB" run -- sh -c 'echo hi; touch f; chown 1 f; stat -c %u:%g f >/dev/null'); echo "$x $?"; y=$("$FB" run -- true 2>&1); echo done"#,
    );
}

/// Another preloaded library that kills the program in its start-up, before fakebox's
/// library says hello: fakebox fails (125) and says the program died, not that the
/// library did not load.
const ABORT_AT_LOAD_C: &str = r#"
#include <stdlib.h>
/* Only inside the session: the fakebox binary itself loads this library too. */
__attribute__((constructor)) static void die(void) { if (getenv("FAKEBOX_SOCKET")) abort(); }
"#;

#[test]
fn crash_while_loading_is_named() {
    let lib = build_c("abort-at-load.so", ABORT_AT_LOAD_C, &["-shared", "-fPIC"]);
    let preload = format!("LD_PRELOAD={}", lib.display());
    let argv: Vec<OsString> =
        vec!["env".into(), preload.into(), fakebox().into(), "run".into(), "--".into(), "true".into()];
    let runs = Case::new("crash_while_loading_is_named").run_argv(&argv);
    expect_exit("crash_while_loading_is_named", &runs, 125, |e| {
        e.contains("fakebox: true was killed by signal 6 before the preload library") && !e.contains("did not load")
    });
}

#[test]
fn command_not_found() {
    let runs = Case::new("command_not_found").fakebox(&["run", "--", "/nonexistent"]);
    expect_exit("command_not_found", &runs, 127, |e| e.starts_with("fakebox:"));
}

#[test]
fn command_not_found_on_path() {
    let runs = Case::new("command_not_found_on_path").fakebox(&["run", "--", "no-such-command-fakebox-test"]);
    expect_exit("command_not_found_on_path", &runs, 127, |e| e.starts_with("fakebox:"));
}

#[test]
fn command_not_executable() {
    // A real root cannot execute a file without any execute bit either (EACCES).
    let runs =
        Case::new("command_not_executable").file("plain", "#!/bin/sh\necho ran\n").fakebox(&["run", "--", "./plain"]);
    expect_exit("command_not_executable", &runs, 126, |e| e.starts_with("fakebox:"));
}

#[test]
fn command_is_directory() {
    let runs = Case::new("command_is_directory").fakebox(&["run", "--", "/tmp"]);
    expect_exit("command_is_directory", &runs, 126, |e| e.starts_with("fakebox:"));
}

#[test]
fn bad_mechanism() {
    let name = "bad_mechanism";
    let runs = Case::new(name).fakebox(&["run", "--mechanism", "bogus", "--", "true"]);
    check_all(name, &runs, |o| match o.code() {
        Some(2) | Some(125) if o.stderr.contains("fakebox") => Ok(()),
        Some(2) | Some(125) => Err("stderr does not mention fakebox".into()),
        _ => Err("want exit code 2 (usage error) or 125".into()),
    });
}

#[test]
fn default_command_is_a_shell() {
    // Without COMMAND, fakebox runs a shell; fed by stdin here.
    Case::new("default_command_is_a_shell").stdin("id -u\n").check_outer("0", r#""$FB" run"#);
}

#[test]
fn mechanism_preload() {
    Case::new("mechanism_preload").args(&["--mechanism", "preload"]).check(
        "0\n3:4 4755\ncharacter special file 1:3",
        "id -u; touch f; chown 3:4 f; chmod 4755 f; stat -c '%u:%g %a' f; mknod d c 1 3; stat -c '%F %t:%T' d",
    );
}

#[test]
fn mechanism_tracer() {
    Case::new("mechanism_tracer").args(&["--mechanism", "tracer"]).check(
        "0\n3:4 4755\ncharacter special file 1:3",
        "id -u; touch f; chown 3:4 f; chmod 4755 f; stat -c '%u:%g %a' f; mknod d c 1 3; stat -c '%F %t:%T' d",
    );
}

#[test]
fn mechanism_tracer_exit_status() {
    let runs = Case::new("mechanism_tracer_exit_status").fakebox(&[
        "run",
        "--mechanism",
        "tracer",
        "--",
        "sh",
        "-c",
        "kill -TERM $$",
    ]);
    expect_exit("mechanism_tracer_exit_status", &runs, 143, |_| true);
}

#[test]
fn mechanism_auto() {
    Case::new("mechanism_auto")
        .args(&["--mechanism", "auto"])
        .check("0\n3:4", "id -u; touch f; chown 3:4 f; stat -c %u:%g f");
}

#[test]
fn command_starts_with_the_signal_state_of_its_caller() {
    // A command that inherited a blocked SIGCHLD would hang in `wait` (dash waits with
    // sigsuspend): fakebox hands on the caller's signal mask and ignored set unchanged.
    Case::new("command_starts_with_the_signal_state_of_its_caller").check_outer(
        "same\ndone",
        r#"a=$(grep -E '^Sig(Blk|Ign)' /proc/self/status)
b=$("$FB" run -- grep -E '^Sig(Blk|Ign)' /proc/self/status)
[ "$a" = "$b" ] && echo same || printf 'caller:\n%s\ncommand:\n%s\n' "$a" "$b"
"$FB" run -- sh -c '(true) & wait; echo done'"#,
    );
    // A caller with a mask and an ignored set of its own (SIGPIPE among them), and glibc's
    // two internal signals at their default, which a caller spawned by a threaded
    // program's posix_spawn does not have: every command, first or exec'd inside the
    // session, preloaded or traced, starts with exactly that state.
    let caller = build_c("sigcaller", SIGCALLER_C, &[]);
    Case::new("every_command_starts_with_the_signal_state_of_its_caller").check_outer(
        "same",
        &format!(
            r#"exec {caller} bash -c '
st() {{ "$@" -E "^Sig(Blk|Ign)" /proc/self/status | tr "\n" " "; }}
two() {{ "$@" -c "grep -E ^Sig[BI] /proc/self/status; busybox grep -E ^Sig[BI] /proc/self/status" | tr "\n" " "; }}
fail=
for m in auto tracer; do
  for p in grep "busybox grep"; do
    [ "$(st $p)" = "$(st "$FB" run --mechanism $m -- $p)" ] || fail="$fail $m:$p:$(st "$FB" run --mechanism $m -- $p)"
  done
  for s in sh "busybox sh"; do
    [ "$(two $s)" = "$(two "$FB" run --mechanism $m -- $s)" ] || fail="$fail $m:$s:$(two "$FB" run --mechanism $m -- $s)"
  done
done
[ -z "$fail" ] && echo same || echo "caller: $(st grep) differs:$fail"'"#,
            caller = caller.display()
        ),
    );
    // Signals the caller ignores (nohup's SIGHUP, a background job's SIGINT) stay ignored
    // in the command, though fakebox passes on the ones it handles.
    Case::new("command_keeps_the_ignored_signals_of_its_caller").check_outer(
        "same",
        r#"trap '' HUP INT
a=$(grep -E '^SigIgn' /proc/self/status)
b=$("$FB" run -- grep -E '^SigIgn' /proc/self/status)
[ "$a" = "$b" ] && echo same || printf 'caller:\n%s\ncommand:\n%s\n' "$a" "$b""#,
    );
}

/// Sets a signal state (SIGUSR1 and SIGWINCH blocked, SIGPIPE and SIGUSR2 ignored, signals
/// 32 and 33 at their default) and execs its arguments.
const SIGCALLER_C: &str = r#"
#include <signal.h>
#include <unistd.h>
#include <sys/syscall.h>
int main(int argc, char **argv) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    sigaddset(&s, SIGWINCH);
    sigprocmask(SIG_SETMASK, &s, 0);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGUSR2, SIG_IGN);
    /* the kernel's struct sigaction: handler, flags, restorer, mask; SIG_DFL is 0 */
    unsigned long dfl[4] = {0, 0, 0, 0};
    syscall(SYS_rt_sigaction, 32, dfl, 0, 8);
    syscall(SYS_rt_sigaction, 33, dfl, 0, 8);
    execvp(argv[1], argv + 1);
    return 127;
}
"#;
