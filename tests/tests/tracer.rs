//! The tracer (ptrace + seccomp) end to end: many threads and processes at once, set*id
//! across Go's threads, exact exit statuses, signals, job control, crossings between
//! traced and preloaded programs in both directions, and what it refuses
//! (docs/ARCHITECTURE.md, "A chown and a stat, in each mechanism", and promises 1, 8-10
//! and 11).

use fakebox_tests::{Case, Outcome, bin_dir, build_c, build_cgo, build_go, check_all, expect_exit, require};
use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

/// A static C tool: one subcommand per behaviour under test.
const TOOL_C: &str = r#"
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got, got_cont, got_usr1;
static void on_sig(int s) {
    got = s;
    if (s == SIGCONT) got_cont = 1;
    if (s == SIGUSR1) got_usr1 = 1;
}

static void handle(int sig) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sig;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

static void block(int sig, sigset_t *old) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    sigprocmask(SIG_BLOCK, &s, old);
}

static void ready(void) {
    int fd = open("ready.tmp", O_CREAT | O_WRONLY, 0644);
    if (fd >= 0) close(fd);
    rename("ready.tmp", "ready");
}

static void touch(const char *p) {
    int fd = open(p, O_CREAT | O_WRONLY, 0644);
    if (fd >= 0) close(fd);
}

/* An i386 system call from this 64-bit process (the int 0x80 gate). */
static long int80(long nr, long a, long b, long c) {
    long r;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory", "r8", "r9", "r10", "r11");
    return r;
}
static char low_path[256]; /* in .bss: a 32-bit address in this non-PIE program */

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    const char *op = argv[1];
    if (!strcmp(op, "pid")) {
        printf("%d\n", (int)getpid());
        return 0;
    }
    if (!strcmp(op, "segv")) {
        volatile int *p = (volatile int *)(long)(argc - 2); /* NULL, unknown to the compiler */
        *p = 1;
        return 1;
    }
    if (!strcmp(op, "kill")) {
        kill(getpid(), SIGKILL);
        pause();
        return 1;
    }
    if (!strcmp(op, "chown") && argc == 5) {
        if (chown(argv[2], atoi(argv[3]), atoi(argv[4]))) { perror("chown"); return 1; }
        return 0;
    }
    if (!strcmp(op, "fork-chown") && argc == 3) {
        /* N children at once, each creating and chowning its own file. */
        int n = atoi(argv[2]), failed = 0, bad = 0;
        pid_t *kids = calloc(n, sizeof *kids);
        for (int i = 0; i < n; i++) {
            pid_t p = fork();
            if (p < 0) { perror("fork"); return 1; }
            if (p == 0) {
                char name[32];
                snprintf(name, sizeof name, "c%d", i);
                int fd = open(name, O_CREAT | O_WRONLY, 0644);
                if (fd < 0) _exit(1);
                close(fd);
                _exit(chown(name, 1000 + i, 2000 + i) ? 2 : 0);
            }
            kids[i] = p;
        }
        for (int i = 0; i < n; i++) {
            int st;
            if (waitpid(kids[i], &st, 0) != kids[i] || !WIFEXITED(st) || WEXITSTATUS(st)) failed++;
        }
        for (int i = 0; i < n; i++) {
            char name[32];
            struct stat s;
            snprintf(name, sizeof name, "c%d", i);
            if (stat(name, &s) || s.st_uid != (uid_t)(1000 + i) || s.st_gid != (gid_t)(2000 + i)) bad++;
        }
        printf("failed %d mismatches %d\n", failed, bad);
        return 0;
    }
    if (!strcmp(op, "vfork-chown") && argc == 3) {
        /* vfork + exec of the dynamic /usr/bin/chown, N times, then stat here. */
        int n = atoi(argv[2]), failed = 0, bad = 0;
        for (int i = 0; i < n; i++) {
            char name[32], owner[32];
            snprintf(name, sizeof name, "v%d", i);
            snprintf(owner, sizeof owner, "%d:%d", 3000 + i, 4000 + i);
            touch(name);
            char *args[] = {"chown", owner, name, NULL};
            pid_t p = vfork();
            if (p == 0) {
                execv("/usr/bin/chown", args);
                _exit(127);
            }
            int st;
            if (p < 0 || waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st)) failed++;
        }
        for (int i = 0; i < n; i++) {
            char name[32];
            struct stat s;
            snprintf(name, sizeof name, "v%d", i);
            if (stat(name, &s) || s.st_uid != (uid_t)(3000 + i) || s.st_gid != (gid_t)(4000 + i)) bad++;
        }
        printf("failed %d mismatches %d\n", failed, bad);
        return 0;
    }
    if (!strcmp(op, "usr1")) {
        /* A handler in a child, signalled by its parent; then one to ourselves. */
        sigset_t old, empty;
        sigemptyset(&empty);
        block(SIGUSR1, &old);
        handle(SIGUSR1);
        pid_t c = fork();
        if (c == 0) {
            while (!got) sigsuspend(&empty);
            printf("child got %d\n", (int)got);
            fflush(stdout);
            _exit(3);
        }
        kill(c, SIGUSR1);
        int st;
        waitpid(c, &st, 0);
        printf("child exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        raise(SIGUSR1);
        sigprocmask(SIG_SETMASK, &old, NULL);
        printf("parent got %d\n", (int)got);
        return 0;
    }
    if (!strcmp(op, "term")) {
        /* Waits for SIGTERM from another process, which finds the file "ready". */
        sigset_t empty;
        sigemptyset(&empty);
        block(SIGTERM, NULL);
        handle(SIGTERM);
        ready();
        while (!got) sigsuspend(&empty);
        printf("got TERM\n");
        return 3;
    }
    if (!strcmp(op, "wait-ready")) {
        /* Creates "ready", then sleeps until killed. */
        ready();
        for (;;) pause();
    }
    if (!strcmp(op, "sleeper")) {
        /* Creates "ready", sleeps 300 ms (a stop and continue in between), exits 5. */
        ready();
        struct timespec ts = {0, 300 * 1000 * 1000};
        while (nanosleep(&ts, &ts) && errno == EINTR) {}
        return 5;
    }
    if (!strcmp(op, "stopcont")) {
        /* The real parent sees its child stop and continue, as with job control. The child
           exits only on SIGUSR1, after the parent has seen it continue (an exited child
           would be reported before its continue). */
        sigset_t empty;
        sigemptyset(&empty);
        block(SIGCONT, NULL);
        block(SIGUSR1, NULL);
        handle(SIGCONT);
        handle(SIGUSR1);
        pid_t c = fork();
        if (c == 0) {
            while (!got_usr1) sigsuspend(&empty);
            _exit(got_cont ? 5 : 6);
        }
        int st;
        kill(c, SIGSTOP);
        if (waitpid(c, &st, WUNTRACED) != c) { perror("waitpid"); return 1; }
        if (WIFSTOPPED(st)) printf("stopped %d\n", WSTOPSIG(st));
        else printf("not stopped: %#x\n", st);
        kill(c, SIGCONT);
        if (waitpid(c, &st, WCONTINUED) != c) { perror("waitpid"); return 1; }
        printf(WIFCONTINUED(st) ? "continued\n" : "not continued\n");
        kill(c, SIGUSR1);
        if (!WIFEXITED(st) && waitpid(c, &st, 0) != c) { perror("waitpid"); return 1; }
        printf("exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        return 0;
    }
    if (!strcmp(op, "exec-env-i") && argc >= 3) {
        char *envp[] = {NULL};
        execve(argv[2], argv + 2, envp);
        perror("execve");
        return 127;
    }
    if (!strcmp(op, "int80-chown") && argc == 5) {
        /* chown32 (i386 number 212) through int 0x80. */
        strncpy(low_path, argv[2], sizeof low_path - 1);
        long r = int80(212, (long)low_path, atoi(argv[3]), atoi(argv[4]));
        printf("int80 chown32: %ld\n", r);
        return r == 0 ? 0 : 1;
    }
    if (!strcmp(op, "ids")) {
        uid_t r, e, sv;
        getresuid(&r, &e, &sv);
        printf("%d %d %d %d\n", (int)r, (int)e, (int)sv, (int)getgid());
        return 0;
    }
    if (!strcmp(op, "setuid-fork-exec") && argc == 3) {
        /* Fake ids set here survive a fork and an exec of a traced program. */
        if (setgid(77) || setuid(1000)) { perror("setid"); return 1; }
        pid_t c = fork();
        if (c == 0) {
            execl(argv[2], argv[2], "ids", (char *)NULL);
            _exit(127);
        }
        int st;
        waitpid(c, &st, 0);
        return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
    }
    if (!strcmp(op, "full-mask-stat") && argc == 3) {
        /* Every signal blocked (SIGSYS among them, as far as the program knows), then a
           stat and a chown; and a SIGSYS action set here reads back as set. */
        sigset_t all;
        sigfillset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        struct stat s;
        if (lstat(argv[2], &s)) { perror("lstat"); return 1; }
        printf("stat under a full mask: %d\n", (int)s.st_uid);
        if (chown(argv[2], 5, 6) || lstat(argv[2], &s)) { perror("chown"); return 1; }
        printf("chown under a full mask: %d:%d\n", (int)s.st_uid, (int)s.st_gid);
        struct sigaction sa, old;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_sig;
        sigaction(SIGSYS, &sa, NULL);
        sigaction(SIGSYS, NULL, &old);
        printf("SIGSYS action kept: %s\n", old.sa_handler == on_sig ? "yes" : "no");
        return 0;
    }
    if (!strcmp(op, "execvp") && argc >= 4) {
        /* execvp through a PATH whose first entries do not hold the program: one failed
           exec after another, then the one that works. */
        setenv("PATH", argv[2], 1);
        execvp(argv[3], argv + 3);
        perror("execvp");
        return 127;
    }
    if (!strcmp(op, "raise-sys")) {
        /* A SIGSYS the program raises itself acts as it would without fakebox. */
        raise(SIGSYS);
        return 1;
    }
    if (!strcmp(op, "exec-fails-then-chown") && argc == 3) {
        execl("/nonexistent/program", "x", (char *)NULL);
        int e = errno;
        struct stat s;
        if (chown(argv[2], 9, 10) || stat(argv[2], &s)) { perror("chown"); return 1; }
        printf("%s; then %d:%d\n", strerror(e), (int)s.st_uid, (int)s.st_gid);
        return 0;
    }
    fprintf(stderr, "bad op %s\n", op);
    return 2;
}
"#;

/// The tool, linked statically: traced.
fn tool() -> String {
    build_c("tracer-tool-static", TOOL_C, &["-static"]).display().to_string()
}

/// The same tool, glibc dynamic: preloaded.
fn tool_dynamic() -> String {
    build_c("tracer-tool-dyn", TOOL_C, &[]).display().to_string()
}

const GO_TOOL: &str = r#"package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

func storm() {
	runtime.GOMAXPROCS(8)
	const workers, files = 16, 50
	var wg sync.WaitGroup
	var mu sync.Mutex
	bad := 0
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			miss := 0
			for i := 0; i < files; i++ {
				name := fmt.Sprintf("g%d_%d", g, i)
				uid, gid := 10000+g*files+i, 20000+g
				f, err := os.Create(name)
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					miss++
					continue
				}
				var st syscall.Stat_t
				if g%2 == 0 {
					// fchownat + newfstatat
					if err := os.Chown(name, uid, gid); err != nil {
						fmt.Fprintln(os.Stderr, err)
						miss++
					}
					if err := syscall.Stat(name, &st); err != nil {
						fmt.Fprintln(os.Stderr, err)
						miss++
					}
				} else {
					// fchown + fstat
					if err := f.Chown(uid, gid); err != nil {
						fmt.Fprintln(os.Stderr, err)
						miss++
					}
					if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
						fmt.Fprintln(os.Stderr, err)
						miss++
					}
				}
				f.Close()
				if int(st.Uid) != uid || int(st.Gid) != gid {
					miss++
				}
			}
			mu.Lock()
			bad += miss
			mu.Unlock()
		}(g)
	}
	wg.Wait()
	fmt.Println("mismatches", bad)
}

// Keeps several OS threads alive, so that set*id must reach all of them.
func busyThreads(n int, stop chan struct{}, started *sync.WaitGroup) {
	for i := 0; i < n; i++ {
		started.Add(1)
		go func() {
			runtime.LockOSThread()
			started.Done()
			for {
				select {
				case <-stop:
					return
				default:
					syscall.Getpid()
				}
			}
		}()
	}
}

func setid() {
	runtime.GOMAXPROCS(8)
	stop := make(chan struct{})
	var started sync.WaitGroup
	busyThreads(6, stop, &started)
	started.Wait()
	if err := syscall.Setgid(100); err != nil {
		fmt.Println("setgid:", err)
	}
	if err := syscall.Setuid(1000); err != nil {
		fmt.Println("setuid:", err)
	}
	fmt.Println(os.Getuid(), os.Geteuid(), os.Getgid())
	fmt.Println(syscall.Setuid(0))
	close(stop)
	// Every thread sees the new identity.
	var wg sync.WaitGroup
	var mu sync.Mutex
	agree := 0
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			if syscall.Getuid() == 1000 && syscall.Geteuid() == 1000 && syscall.Getgid() == 100 && syscall.Getegid() == 100 {
				mu.Lock()
				agree++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	fmt.Println("threads agree", agree)
}

func execEnvI() {
	cmd := exec.Command("/usr/bin/id", "-u")
	cmd.Env = []string{}
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Println(err)
	}
}

func main() {
	switch os.Args[1] {
	case "storm":
		storm()
	case "setid":
		setid()
	case "exec-env-i":
		execEnvI()
	default:
		os.Exit(2)
	}
}
"#;

fn go_tool() -> String {
    build_go("tracer-go-tool", GO_TOOL).display().to_string()
}

/// A Go program built with cgo: dynamically linked against glibc, yet its `syscall`
/// package makes raw system calls that LD_PRELOAD never sees.
const CGO_TOOL: &str = r#"package main

/*
#include <unistd.h>
*/
import "C"

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
)

func main() {
	a := os.Args[1:]
	uid, _ := strconv.Atoi(a[1])
	gid, _ := strconv.Atoi(a[2])
	if err := syscall.Chown(a[0], uid, gid); err != nil {
		fmt.Println("chown:", err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(a[0], &st); err != nil {
		fmt.Println("stat:", err)
	}
	fmt.Printf("%d:%d %d\n", st.Uid, st.Gid, int(C.getuid()))
}
"#;

/// CGO_TOOL, built with cgo.
fn cgo_tool() -> String {
    build_cgo("tracer-cgo", CGO_TOOL).display().to_string()
}

// ---- many threads and processes ----

#[test]
fn go_goroutines_chown_and_stat() {
    let g = go_tool();
    Case::new("go_goroutines_chown_and_stat").check(
        "mismatches 0\n800\n10000:20000\n10799:20015\n10425:20008",
        &format!("{g} storm && ls | grep -c '^g' && stat -c %u:%g g0_0 g15_49 g8_25"),
    );
}

#[test]
fn go_setuid_on_all_threads() {
    let g = go_tool();
    Case::new("go_setuid_on_all_threads")
        .check("1000 1000 100\noperation not permitted\nthreads agree 8", &format!("{g} setid"));
}

#[test]
fn static_fork_200_children() {
    let t = tool();
    Case::new("static_fork_200_children")
        .check("failed 0 mismatches 0\n1000:2000\n1199:2199", &format!("{t} fork-chown 200 && stat -c %u:%g c0 c199"));
}

#[test]
fn static_vfork_exec_dynamic_chown() {
    let t = tool();
    Case::new("static_vfork_exec_dynamic_chown")
        .check("failed 0 mismatches 0\n3019:4019", &format!("{t} vfork-chown 20 && stat -c %u:%g v19"));
}

#[test]
fn go_cgo_raw_syscalls_are_faked() {
    // Go's raw chown in a cgo program must be faked (the tracer), and never reach the disk.
    let c = cgo_tool();
    Case::new("go_cgo_raw_syscalls_are_faked").check_outer(
        "11:12 0\n11:12\nreal owner kept",
        &format!(
            "touch f; \"$FB\" run -- sh -c '{c} f 11 12; stat -c %u:%g f'\n\
             [ \"$(stat -c %u:%g f)\" = \"$(id -u):$(id -g)\" ] && echo real owner kept || stat -c %u:%g f"
        ),
    );
}

// ---- exit status ----

#[test]
fn exit_status_segv() {
    let t = tool();
    Case::new("exit_status_segv").check_outer("139", &format!("\"$FB\" run -- {t} segv; echo $?"));
}

#[test]
fn exit_status_sigkill() {
    let t = tool();
    Case::new("exit_status_sigkill").check_outer("137", &format!("\"$FB\" run -- {t} kill; echo $?"));
}

#[test]
fn exit_status_busybox() {
    require("busybox");
    Case::new("exit_status_busybox").check_outer("7", "\"$FB\" run -- busybox sh -c 'exit 7'; echo $?");
}

#[test]
fn exit_status_static_inside_shell() {
    // The shell inside the session sees the exact status of its traced children.
    require("busybox");
    let t = tool();
    Case::new("exit_status_static_inside_shell").check(
        "139\n137\n7",
        &format!("{t} segv 2>/dev/null; echo $?; {t} kill; echo $?; busybox sh -c 'exit 7'; echo $?"),
    );
}

// ---- signals ----

#[test]
fn signal_trap_in_busybox() {
    require("busybox");
    Case::new("signal_trap_in_busybox")
        .check("got\ndone", r#"busybox sh -c 'trap "echo got" USR1; kill -USR1 $$; echo done'"#);
}

#[test]
fn signal_handler_in_static_program() {
    let t = tool();
    Case::new("signal_handler_in_static_program")
        .check("child got 10\nchild exit 3\nparent got 10", &format!("{t} usr1"));
}

#[test]
fn signal_term_from_sibling() {
    let t = tool();
    Case::new("signal_term_from_sibling").check(
        "got TERM\n3\n143",
        &format!(
            "{t} term & p=$!\nuntil [ -e ready ]; do sleep 0.01; done\nkill -TERM $p; wait $p; echo $?\n\
             rm ready; {t} wait-ready & p=$!\nuntil [ -e ready ]; do sleep 0.01; done\nkill -TERM $p; wait $p; echo $?"
        ),
    );
}

// ---- job control ----

#[test]
fn stop_and_continue_from_sibling() {
    let t = tool();
    Case::new("stop_and_continue_from_sibling").check(
        "5",
        &format!(
            "{t} sleeper & p=$!\nuntil [ -e ready ]; do sleep 0.01; done\n\
             kill -STOP $p; sleep 0.2; kill -CONT $p; wait $p; echo $?"
        ),
    );
}

#[test]
fn stop_and_continue_seen_by_parent() {
    let t = tool();
    Case::new("stop_and_continue_seen_by_parent").check("stopped 19\ncontinued\nexit 5", &format!("{t} stopcont"));
}

// ---- mixed trees ----

/// `sh -c 'echo $$; exec PROG pid'` prints the same number twice.
fn same_pid_snippet(shell: &str, prog: &str) -> String {
    format!(
        "{shell} -c 'echo $$; exec {prog} pid' > o; \
         [ \"$(sort -u o | wc -l)\" = 1 ] && [ \"$(wc -l < o)\" = 2 ] && echo same || cat o"
    )
}

#[test]
fn exec_keeps_pid_dynamic_to_static() {
    let t = tool();
    Case::new("exec_keeps_pid_dynamic_to_static").check("same", &same_pid_snippet("sh", &t));
}

#[test]
fn exec_keeps_pid_static_to_dynamic() {
    require("busybox");
    let d = tool_dynamic();
    Case::new("exec_keeps_pid_static_to_dynamic").check("same", &same_pid_snippet("busybox sh", &d));
}

#[test]
fn exec_keeps_pid_static_to_static() {
    require("busybox");
    let t = tool();
    Case::new("exec_keeps_pid_static_to_static").check("same", &same_pid_snippet("busybox sh", &t));
}

#[test]
fn static_shell_runs_dynamic_chown() {
    require("busybox");
    Case::new("static_shell_runs_dynamic_chown")
        .check("3", "busybox sh -c 'touch f; /usr/bin/chown 3:3 f; busybox stat -c %u f'");
}

#[test]
fn python_spawns_static_program() {
    require("python3");
    let t = tool();
    Case::new("python_spawns_static_program").check(
        "41 42 43 44 0",
        &format!(
            r#"python3 - <<'EOF'
import os, subprocess
open("f", "w").close()
open("g", "w").close()
subprocess.run(["{t}", "chown", "f", "41", "42"], check=True)
pid = os.posix_spawn("{t}", ["{t}", "chown", "g", "43", "44"], os.environ)
_, st = os.waitpid(pid, 0)
s, u = os.stat("f"), os.stat("g")
print(s.st_uid, s.st_gid, u.st_uid, u.st_gid, os.waitstatus_to_exitcode(st))
EOF"#
        ),
    );
}

#[test]
fn env_i_from_static_to_dynamic() {
    require("busybox");
    let t = tool();
    Case::new("env_i_from_static_to_dynamic").check(
        "0\n0\n7:8",
        &format!("busybox env -i /usr/bin/id -u; {t} exec-env-i /usr/bin/id -u; touch f; busybox env -i /usr/bin/chown 7:8 f; stat -c %u:%g f"),
    );
}

#[test]
fn env_i_from_go_to_dynamic() {
    let g = go_tool();
    Case::new("env_i_from_go_to_dynamic").check("0", &format!("{g} exec-env-i"));
}

#[test]
fn mechanism_tracer_on_dynamic_programs() {
    Case::new("mechanism_tracer_on_dynamic_programs")
        .args(&["--mechanism", "tracer"])
        .check("5:6\n0", "touch f; chown 5:6 f; stat -c %u:%g f; id -u");
}

// ---- what the tracer refuses ----

fn bash_outer(snippet: &str) -> Vec<OsString> {
    vec![require("bash").into(), "-c".into(), snippet.into()]
}

#[test]
fn already_traced_is_refused() {
    // strace -f traces fakebox's child, so the tracer cannot seize it: the static program
    // must not run unfaked, and fakebox says why.
    require("strace");
    require("busybox");
    let case = Case::new("already_traced_is_refused");
    let runs = case.run_argv(&bash_outer("strace -f -o /dev/null \"$FB\" run -- busybox true; echo $?"));
    check_all("already_traced_is_refused", &runs, |o: &Outcome| {
        if o.stdout.trim() != "125" {
            return Err(format!("want stdout \"125\", got {:?}", o.stdout.trim()));
        }
        if !o.stderr.contains("fakebox:") {
            return Err("stderr has no \"fakebox:\" message".into());
        }
        Ok(())
    });
}

#[test]
fn already_traced_preload_still_works() {
    // The preload does not need ptrace: under strace -f a dynamic command is faked.
    require("strace");
    Case::new("already_traced_preload_still_works").check_outer(
        "1:2\n0",
        "strace -f -o /dev/null \"$FB\" run -- sh -c 'touch f; chown 1:2 f; stat -c %u:%g f'; echo $?",
    );
}

/// A minimal i386 executable: one PT_LOAD, code `mov eax,1; mov ebx,42; int 0x80`.
/// Written once per test process (rewriting it while another test runs it: ETXTBSY).
fn elf32() -> PathBuf {
    static WRITTEN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    WRITTEN.get_or_init(write_elf32).clone()
}

fn write_elf32() -> PathBuf {
    const BASE: u32 = 0x0804_8000;
    const CODE: &[u8] = &[0xb8, 1, 0, 0, 0, 0xbb, 42, 0, 0, 0, 0xcd, 0x80];
    let code_at = 52 + 32;
    let total = (code_at + CODE.len()) as u32;
    let mut f = Vec::new();
    f.extend_from_slice(b"\x7fELF\x01\x01\x01\x00");
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    f.extend_from_slice(&3u16.to_le_bytes()); // EM_386
    f.extend_from_slice(&1u32.to_le_bytes()); // EV_CURRENT
    f.extend_from_slice(&(BASE + code_at as u32).to_le_bytes()); // e_entry
    f.extend_from_slice(&52u32.to_le_bytes()); // e_phoff
    f.extend_from_slice(&0u32.to_le_bytes()); // e_shoff
    f.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    for v in [52u16, 32, 1, 0, 0, 0] {
        f.extend_from_slice(&v.to_le_bytes()); // ehsize, phentsize, phnum, shentsize, shnum, shstrndx
    }
    // PT_LOAD, offset 0, vaddr, paddr, filesz, memsz, flags R+X, align.
    for v in [1u32, 0, BASE, BASE, total, total, 5, 0x1000] {
        f.extend_from_slice(&v.to_le_bytes());
    }
    f.extend_from_slice(CODE);
    let tmp = bin_dir().join("elf32.tmp");
    fs::write(&tmp, &f).expect("cannot write elf32");
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755)).expect("cannot chmod elf32");
    let p = bin_dir().join("elf32");
    fs::rename(&tmp, &p).expect("cannot rename elf32");
    p
}

/// What the kernel does with the i386 program outside fakebox: `Some(42)` with IA32
/// emulation.
fn elf32_native() -> Option<i32> {
    let p = elf32();
    let r = std::process::Command::new(&p).status();
    eprintln!("elf32 outside fakebox: {r:?}");
    r.ok().and_then(|s| s.code())
}

#[test]
fn i386_program_is_refused_at_the_top() {
    let native = elf32_native();
    let p = elf32().display().to_string();
    let runs = Case::new("i386_program_is_refused_at_the_top").fakebox(&["run", "--", &p]);
    eprintln!("(natively the program exits {native:?})");
    expect_exit("i386_program_is_refused_at_the_top", &runs, 125, |e| e.contains("fakebox:") && e.contains("32-bit"));
}

fn never_42(name: &str, args: &[&str]) {
    let runs = Case::new(name).fakebox(args);
    check_all(name, &runs, |o: &Outcome| {
        if o.stdout.lines().any(|l| l.trim() == "42") {
            return Err("the i386 program ran without the fake (it printed 42)".into());
        }
        if !(o.stderr.contains("fakebox:") && o.stderr.contains("32-bit")) {
            return Err("stderr does not say fakebox refused a 32-bit program".into());
        }
        Ok(())
    });
}

#[test]
fn i386_program_is_refused_from_a_preloaded_shell() {
    let _ = elf32_native();
    let p = elf32().display().to_string();
    never_42("i386_program_is_refused_from_a_preloaded_shell", &["run", "--", "sh", "-c", &format!("{p}; echo $?")]);
}

#[test]
fn i386_program_is_refused_from_a_traced_shell() {
    require("busybox");
    let p = elf32().display().to_string();
    never_42(
        "i386_program_is_refused_from_a_traced_shell",
        &["run", "--", "busybox", "sh", "-c", &format!("{p}; echo $?")],
    );
}

#[test]
fn i386_program_is_refused_under_mechanism_tracer() {
    let p = elf32().display().to_string();
    never_42(
        "i386_program_is_refused_under_mechanism_tracer",
        &["run", "--mechanism", "tracer", "--", "sh", "-c", &format!("{p}; echo $?")],
    );
}

#[test]
fn int80_from_a_64_bit_program_never_runs_unfaked() {
    // A 64-bit static program making an i386 system call (chown32 through int 0x80) must
    // not reach the real file: as real root that would be a real chown.
    let t = tool();
    Case::new("int80_from_a_64_bit_program_never_runs_unfaked").check_outer(
        "real owner kept",
        &format!(
            "touch f; \"$FB\" run -- {t} int80-chown f 7 8 >/dev/null 2>&1\n\
             [ \"$(stat -c %u:%g f)\" = \"$(id -u):$(id -g)\" ] && echo real owner kept || stat -c %u:%g f"
        ),
    );
}

#[test]
fn fake_ids_survive_fork_and_exec_of_static_programs() {
    // The ids live in the process (its agent), so a fork and an exec keep them.
    let t = tool();
    Case::new("fake_ids_survive_fork_and_exec_of_static_programs")
        .check("1000 1000 1000 77", &format!("{t} setuid-fork-exec {t}"));
}

#[test]
fn a_full_signal_mask_does_not_lose_the_fake() {
    // The agent's SIGSYS must never be blocked (a trap while it is, kills), and the
    // program's own SIGSYS action reads back as it set it.
    let t = tool();
    Case::new("a_full_signal_mask_does_not_lose_the_fake").check(
        "stat under a full mask: 0\nchown under a full mask: 5:6\nSIGSYS action kept: yes",
        &format!("touch f; {t} full-mask-stat f"),
    );
}

#[test]
fn execvp_through_a_path_of_missing_dirs() {
    let t = tool();
    Case::new("execvp_through_a_path_of_missing_dirs").check(
        "3:4",
        &format!("touch f; {t} execvp /nope/a:/nope/b:/nope/c:/usr/bin chown 3:4 f && {t} execvp /nope:/usr/bin stat -c %u:%g f"),
    );
}

#[test]
fn a_raised_sigsys_acts_as_without_fakebox() {
    let t = tool();
    Case::new("a_raised_sigsys_acts_as_without_fakebox")
        .check_outer("159", &format!("\"$FB\" run -- {t} raise-sys; echo $?"));
}

#[test]
fn a_failed_exec_leaves_the_program_faked() {
    let t = tool();
    Case::new("a_failed_exec_leaves_the_program_faked")
        .check("No such file or directory; then 9:10", &format!("touch f; {t} exec-fails-then-chown f"));
}

#[test]
fn busybox_find_sees_fake_devices() {
    // A device node is a plain file on disk; its directory entry must still say device
    // (find trusts d_type without a stat), also when getdents comes from a traced program.
    require("busybox");
    Case::new("busybox_find_sees_fake_devices").check(
        "c: d/c\nb: d/b\nf: d/f\np: d/p",
        r#"mkdir d; mknod d/c c 1 3; mknod d/b b 8 1; touch d/f; mkfifo d/p
echo "c: $(busybox find d -type c)"; echo "b: $(busybox find d -type b)"
echo "f: $(busybox find d -type f)"; echo "p: $(busybox find d -type p)""#,
    );
}
