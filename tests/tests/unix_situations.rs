//! Programs keep being faked in ordinary Unix situations: a sandboxed tool with its own
//! seccomp filter that traps, a signal handler that creates a file while a request is
//! under way, a process that made itself non-dumpable, a child that closes every
//! descriptor under a tiny descriptor limit, `closefrom` where `close_range` is refused,
//! a traced program still running after the session's command ended.

use fakebox_tests::{Case, build_c};

/// One subcommand per situation; each prints what the test compares.
const TOOL_C: &str = r#"
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/ucontext.h>
#include <sys/wait.h>
#include <unistd.h>

#define LD_NR BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr))
#define LD_ARG_LOW(i) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[i]))
#define RET(v) BPF_STMT(BPF_RET | BPF_K, (v))
#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1
#endif

static void own_filter(struct sock_filter *f, unsigned short n) {
    struct sock_fprog prog = { n, f };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog)) {
        perror("seccomp");
        exit(3);
    }
}

static void on_sys(int sig, siginfo_t *si, void *ctx);

static void take_sigsys(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sys;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSYS, &sa, NULL);
}

/* The program's own SIGSYS handler: what its filter trapped gets 1000 + the filter's
   data. */
static void on_sys(int sig, siginfo_t *si, void *ctx) {
    ucontext_t *uc = ctx;
    if (si->si_code != SYS_SECCOMP) return;
    uc->uc_mcontext.gregs[REG_RAX] = 1000 + si->si_errno;
}

static void name_of(char *out, char prefix, int i) {
    char digits[12];
    int n = 0;
    do { digits[n++] = '0' + i % 10; i /= 10; } while (i);
    *out++ = prefix;
    while (n) *out++ = digits[--n];
    *out = 0;
}

static volatile sig_atomic_t handled, handler_failed;

static void on_alarm(int sig) {
    char name[16];
    int e = errno;
    name_of(name, 'h', handled++);
    int fd = open(name, O_CREAT | O_EXCL | O_WRONLY, 0400);
    if (fd < 0) handler_failed++;
    else close(fd);
    errno = e;
}

static volatile sig_atomic_t ticks;

static void on_tick(int sig) {
    ticks++;
}

static void print_owner(const char *p) {
    struct stat st;
    if (stat(p, &st)) printf("%s: %s\n", p, strerror(errno));
    else printf("%s %u:%u %o\n", p, st.st_uid, st.st_gid, st.st_mode & 07777);
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    const char *cmd = argv[1];
    if (!strcmp(cmd, "own-trap")) {
        /* getppid traps with data 7, mkdir (which fakebox watches too) with data 8. */
        struct sock_filter f[] = {
            LD_NR,
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
            RET(SECCOMP_RET_TRAP | 7),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_mkdir, 0, 1),
            RET(SECCOMP_RET_TRAP | 8),
            RET(SECCOMP_RET_ALLOW),
        };
        take_sigsys();
        own_filter(f, sizeof f / sizeof f[0]);
        long p = syscall(SYS_getppid);
        long m = syscall(SYS_mkdir, "d", 0755);
        struct stat st;
        printf("%ld %ld %s\n", p, m, stat("d", &st) == 0 ? "made" : "not made");
        if (chown("f", 5, 6)) perror("chown");
        print_owner("f");
        return 0;
    }
    if (!strcmp(cmd, "signal-create")) {
        /* signal-create N: creates files (mode 0400, which needs a record) until a timer's
           handler (without SA_RESTART) has run N times, creating a file each time, many
           of them while a creation of the loop is under way. */
        int want = atoi(argv[2]), n = 0, failed = 0, bad = 0;
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_alarm;
        sigaction(SIGALRM, &sa, NULL);
        struct itimerval it = { { 0, 200 }, { 0, 200 } };
        setitimer(ITIMER_REAL, &it, NULL);
        char name[16];
        for (; handled < want && n < 1000000; n++) {
            name_of(name, 'm', n);
            int fd = open(name, O_CREAT | O_EXCL | O_WRONLY, 0400);
            if (fd < 0) failed++;
            else close(fd);
        }
        struct itimerval off = { { 0, 0 }, { 0, 0 } };
        setitimer(ITIMER_REAL, &off, NULL);
        int made = handled;
        for (int i = 0; i < n + made; i++) {
            struct stat st;
            if (i < n) name_of(name, 'm', i);
            else name_of(name, 'h', i - n);
            if (stat(name, &st) == 0 && (st.st_mode & 07777) != 0400) bad++;
        }
        printf("failed %d (in the handler %d), not 0400: %d\n", failed, handler_failed, bad);
        return 0;
    }
    if (!strcmp(cmd, "signal-rename")) {
        /* signal-rename N: renames a file back and forth until a timer's handler (without
           SA_RESTART) has run N times; every rename must succeed once. */
        int want = atoi(argv[2]), n = 0, failed = 0;
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_tick;
        sigaction(SIGALRM, &sa, NULL);
        struct itimerval it = { { 0, 200 }, { 0, 200 } };
        setitimer(ITIMER_REAL, &it, NULL);
        for (; ticks < want && n < 1000000; n++) {
            if (rename(n % 2 ? "r1" : "r0", n % 2 ? "r0" : "r1")) {
                failed++;
                if (failed < 3) perror("rename");
            }
        }
        struct itimerval off = { { 0, 0 }, { 0, 0 } };
        setitimer(ITIMER_REAL, &off, NULL);
        printf("failed %d\n", failed);
        return 0;
    }
    if (!strcmp(cmd, "nodump")) {
        prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        printf("dumpable %d\n", prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
        if (chown("f", 5, 6)) perror("chown");
        if (mkdir("d", 01777)) perror("mkdir");
        print_owner("f");
        print_owner("d");
        fflush(stdout);
        pid_t c = fork();
        if (c == 0) {
            printf("child dumpable %d\n", prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
            if (chown("f", 7, 8)) perror("chown");
            print_owner("f");
            fflush(stdout);
            execl(argv[2], argv[2], "stat", "-c", "exec %u:%g", "f", (char *)0);
            _exit(127);
        }
        int st;
        waitpid(c, &st, 0);
        return 0;
    }
    if (!strcmp(cmd, "fd-limit")) {
        /* fd-limit LIMIT N [parent-too]: a chown first (the session may keep a connection for it),
           then a child lowers the descriptor limit, closes every descriptor with a raw
           close_range, opens N files, chowns the next to last, and checks that each
           descriptor is still the file it opened (and closes as asked). */
        int limit = atoi(argv[2]), n = atoi(argv[3]);
        if (argc > 4) {
            struct rlimit rl = { limit, limit };
            if (setrlimit(RLIMIT_NOFILE, &rl)) perror("setrlimit");
        }
        if (chown("f", 1, 1)) perror("chown");
        fflush(stdout);
        pid_t c = fork();
        if (c == 0) {
            struct rlimit rl = { limit, limit };
            if (setrlimit(RLIMIT_NOFILE, &rl)) _exit(90);
            syscall(SYS_close_range, 0, ~0U, 0);
            char name[16];
            for (int i = 0; i < n; i++) {
                snprintf(name, sizeof name, "f%d", i);
                if (open(name, O_CREAT | O_RDWR, 0644) != i) _exit(91);
            }
            snprintf(name, sizeof name, "f%d", n - 2);
            int chowned = chown(name, 7, 8) == 0;
            for (int i = 0; i < n; i++) {
                struct stat a, b;
                snprintf(name, sizeof name, "f%d", i);
                if (fstat(i, &a) || stat(name, &b) || a.st_ino != b.st_ino) _exit(10 + i);
            }
            struct stat s;
            snprintf(name, sizeof name, "f%d", n - 2);
            if (!chowned) _exit(70);
            if (stat(name, &s) || s.st_uid != 7 || s.st_gid != 8) _exit(71);
            for (int i = 0; i < n; i++)
                if (close(i) || fcntl(i, F_GETFD) != -1) _exit(40 + i);
            _exit(0);
        }
        int st;
        waitpid(c, &st, 0);
        printf("child %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
        print_owner("f");
        return 0;
    }
    if (!strcmp(cmd, "closefrom")) {
        /* closefrom where close_range says ENOSYS (an older kernel, a seccomp profile). */
        int fds[4];
        for (int i = 0; i < 4; i++) fds[i] = open("f", O_RDONLY);
        struct sock_filter f[] = {
            LD_NR,
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_close_range, 0, 1),
            RET(SECCOMP_RET_ERRNO | ENOSYS),
            RET(SECCOMP_RET_ALLOW),
        };
        own_filter(f, sizeof f / sizeof f[0]);
        closefrom(3);
        int open_after = 0;
        for (int i = 0; i < 4; i++) open_after += fcntl(fds[i], F_GETFD) != -1;
        printf("still open %d\n", open_after);
        if (chown("f", 5, 6)) perror("chown");
        print_owner("f");
        return 0;
    }
    if (!strcmp(cmd, "linger")) {
        /* linger DIR: the parent returns at once; the child, after its parent is gone,
           chowns and execs, and leaves its results in DIR/result. */
        pid_t parent = getpid();
        if (fork() != 0) return 0;
        while (getppid() == parent) usleep(1000);
        usleep(300000);
        if (chdir(argv[2])) _exit(1);
        FILE *o = fopen("result.tmp", "w");
        if (!o) _exit(1);
        fprintf(o, "chown %s\n", chown("f", 5, 6) == 0 ? "ok" : strerror(errno));
        mkdir("d", 0700);
        struct stat st;
        if (stat("f", &st) == 0) fprintf(o, "f %u:%u\n", st.st_uid, st.st_gid);
        fclose(o);
        pid_t c = fork();
        if (c == 0) {
            int fd = open("result.tmp", O_WRONLY | O_APPEND);
            dup2(fd, 1);
            dup2(fd, 2);
            execl(argv[3], argv[3], "stat", "-c", "exec %u:%g", "f", (char *)0);
            printf("exec: %s\n", strerror(errno));
            _exit(127);
        }
        int s;
        waitpid(c, &s, 0);
        rename("result.tmp", "result");
        return 0;
    }
    if (!strcmp(cmd, "leave-child")) {
        /* leave-child SECONDS: a child that sleeps on after the command returns. */
        pid_t c = fork();
        if (c == 0) {
            sleep(atoi(argv[2]));
            _exit(0);
        }
        FILE *o = fopen("child.pid", "w");
        fprintf(o, "%d\n", c);
        fclose(o);
        return 3;
    }
    return 2;
}
"#;

fn tool_static() -> String {
    build_c("unix-situations-static", TOOL_C, &["-static"]).display().to_string()
}

fn tool_dynamic() -> String {
    build_c("unix-situations-dyn", TOOL_C, &[]).display().to_string()
}

#[test]
fn a_program_s_own_seccomp_traps_reach_its_own_handler() {
    // A sandboxed tool's filter returns SECCOMP_RET_TRAP: its handler, not fakebox's,
    // gets those traps (also for a call fakebox watches too), and the rest stays faked.
    let t = tool_static();
    Case::new("a_program_s_own_seccomp_traps_reach_its_own_handler")
        .check("1007 1008 not made\nf 5:6 644", &format!("touch f; {t} own-trap"));
}

#[test]
fn files_made_in_a_signal_handler_during_requests_keep_their_records() {
    // A timer's handler creates files while the loop's creations are under way (between
    // the request and the report of its result): every file keeps its fake mode, and no
    // call fails because a signal interrupted its request.
    let t = tool_static();
    Case::new("files_made_in_a_signal_handler_during_requests_keep_their_records")
        .check("failed 0 (in the handler 0), not 0400: 0", &format!("{t} signal-create 1000"));
}

#[test]
fn calls_the_supervisor_makes_succeed_once_under_a_signal_storm() {
    // rename is made by the supervisor itself: a signal that interrupts the wait for its
    // answer must neither fail the call nor have it made twice (ENOENT).
    let t = tool_static();
    Case::new("calls_the_supervisor_makes_succeed_once_under_a_signal_storm")
        .check("failed 0", &format!("touch r0; {t} signal-rename 1000"));
}

#[test]
fn a_non_dumpable_process_stays_faked() {
    // prctl(PR_SET_DUMPABLE, 0), as ssh and gpg-agent do: the program sees what it set,
    // and its changes, its children's and their execs are still faked.
    let t = tool_static();
    let busybox = fakebox_tests::require("busybox");
    Case::new("a_non_dumpable_process_stays_faked").check(
        "dumpable 0\nf 5:6 644\nd 0:0 1755\nchild dumpable 0\nf 7:8 644\nexec 7:8",
        &format!("touch f; {t} nodump {}", busybox.display()),
    );
}

#[test]
fn a_non_dumpable_process_stays_faked_without_the_agent() {
    // The same where the program stays traced, one stop per call (no agent).
    let t = tool_static();
    let busybox = fakebox_tests::require("busybox");
    Case::new("a_non_dumpable_process_stays_faked_without_the_agent").check_outer(
        "dumpable 0\nf 5:6 644\nd 0:0 1755\nchild dumpable 0\nf 7:8 644\nexec 7:8",
        &format!("touch f; FAKEBOX_AGENT=off \"$FB\" run -- {t} nodump {}", busybox.display()),
    );
}

fn fd_limit(name: &str, tool: &str, limit: u32, files: u32, parent_too: bool) {
    let too = if parent_too { " parent-too" } else { "" };
    Case::new(name).check("child 0\nf 1:1 644", &format!("touch f; {tool} fd-limit {limit} {files}{too}"));
}

#[test]
fn descriptors_stay_the_program_s_under_a_limit_of_5() {
    // No room for a connection at a high number: a chown still reaches the daemon, and
    // leaves no descriptor of the session's among the program's.
    for tool in [tool_static(), tool_dynamic()] {
        fd_limit("descriptors_stay_the_program_s_under_a_limit_of_5", &tool, 5, 4, false);
    }
}

#[test]
fn descriptors_stay_the_program_s_where_the_session_s_socket_was() {
    // Under a limit of 30 (set before the first chown) the session's socket sits at a
    // number the program's own files reach once a raw close_range closed it.
    for tool in [tool_static(), tool_dynamic()] {
        fd_limit("descriptors_stay_the_program_s_where_the_session_s_socket_was", &tool, 30, 29, true);
    }
}

#[test]
fn closefrom_closes_where_close_range_is_refused() {
    let t = tool_dynamic();
    Case::new("closefrom_closes_where_close_range_is_refused")
        .check("still open 0\nf 5:6 644", &format!("touch f; {t} closefrom"));
}

fn outlives(name: &str, env: &str) {
    let t = tool_static();
    let busybox = fakebox_tests::require("busybox");
    Case::new(name).check_outer(
        "waited\nchown ok\nf 5:6\nexec 5:6",
        &format!(
            r#"touch f; {env} "$FB" run -- {t} linger "$PWD" {b}; [ -e result ] && echo waited || echo "returned first"
for i in $(seq 100); do [ -e result ] && break; sleep 0.1; done; cat result"#,
            b = busybox.display()
        ),
    );
}

#[test]
fn a_traced_process_that_outlives_the_command_stays_faked() {
    // The command returns at once; its child, still running, chowns and execs: the
    // session serves it until it ends (and fakebox returns only then).
    outlives("a_traced_process_that_outlives_the_command_stays_faked", "");
}

#[test]
fn a_traced_process_that_outlives_the_command_stays_faked_without_the_agent() {
    // The same where the programs stay traced, one stop per call.
    outlives("a_traced_process_that_outlives_the_command_stays_faked_without_the_agent", "FAKEBOX_AGENT=off");
}

#[test]
fn a_signal_ends_the_wait_for_processes_the_command_left() {
    // fakebox waits for a traced process the command left running; SIGTERM ends that
    // wait, and fakebox exits as the command did.
    let t = tool_static();
    Case::new("a_signal_ends_the_wait_for_processes_the_command_left").check_outer(
        "still waiting\n3",
        &format!(
            r#""$FB" run -- {t} leave-child 60 >/dev/null 2>&1 & fb=$!
sleep 1; kill -0 $fb 2>/dev/null && echo "still waiting"
kill -TERM $fb; wait $fb; echo $?; kill -9 $(cat child.pid)"#
        ),
    );
}
