//! Many processes and threads, forks, vforks and spawns: one consistent table (docs/ARCHITECTURE.md, promise 8),
//! and no escape from the session through children or closed descriptors.

use fakebox_tests::{Case, build_c, require};

#[test]
fn parallel_shells() {
    Case::new("parallel_shells").check(
        "0",
        r#"for j in 1 2 3 4; do (mkdir d$j; for i in $(seq 150); do touch d$j/$i; chown $j$i d$j/$i; done) & done; wait
bad=0; for j in 1 2 3 4; do for i in $(seq 150); do [ "$(stat -c %u d$j/$i)" = "$j$i" ] || bad=$((bad+1)); done; done; echo $bad"#,
    );
}

const THREADS_C: &str = r#"
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#define THREADS 8
#define FILES 100

static void *work(void *arg) {
    long t = (long)arg, bad = 0;
    char path[64];
    for (int i = 0; i < FILES; i++) {
        snprintf(path, sizeof path, "t%ld-%d", t, i);
        int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
        if (fd < 0) { bad++; continue; }
        uid_t u = 1000 + t * FILES + i;
        gid_t g = 2000 + t;
        int r = (i % 2) ? fchown(fd, u, g) : chown(path, u, g);
        if (r != 0) bad++;
        if (fchmod(fd, (i % 3) ? 0640 : 04755) != 0) bad++;
        struct stat a, b;
        if (stat(path, &a) || fstat(fd, &b)) { bad++; close(fd); continue; }
        mode_t want = (i % 3) ? 0640 : 04755;
        if (a.st_uid != u || a.st_gid != g || (a.st_mode & 07777) != want) bad++;
        if (b.st_uid != u || b.st_gid != g || (b.st_mode & 07777) != want) bad++;
        close(fd);
    }
    return (void *)bad;
}

int main(void) {
    pthread_t th[THREADS];
    for (long t = 0; t < THREADS; t++)
        if (pthread_create(&th[t], NULL, work, (void *)t)) { perror("pthread_create"); return 1; }
    long bad = 0;
    for (int t = 0; t < THREADS; t++) {
        void *r;
        pthread_join(th[t], &r);
        bad += (long)r;
    }
    /* Check again from the main thread once every thread is done. */
    char path[64];
    for (long t = 0; t < THREADS; t++)
        for (int i = 0; i < FILES; i++) {
            struct stat s;
            snprintf(path, sizeof path, "t%ld-%d", t, i);
            if (lstat(path, &s) || s.st_uid != (uid_t)(1000 + t * FILES + i) || s.st_gid != (gid_t)(2000 + t)) bad++;
        }
    printf("%ld\n", bad);
    return 0;
}
"#;

#[test]
fn threads_chown_and_stat() {
    let prog = build_c("threads", THREADS_C, &["-pthread"]);
    Case::new("threads_chown_and_stat").check(
        "0\n800\n1000:2000 4755\n1798:2007 640",
        &format!("{} && ls | grep -c '^t' && stat -c '%u:%g %a' t0-0 t7-98", prog.display()),
    );
}

const MAKEFILE: &str = "FILES = f1 f2 f3 f4 f5 f6 f7 f8\n\
\n\
all: $(FILES)\n\
\t@for f in $(FILES); do stat -c '%n %u:%g %a' $$f; done\n\
\n\
f%:\n\
\t@touch $@ && chown $*0:$*1 $@ && chmod 47$(subst 8,0,$*)0 $@\n";

#[test]
fn make_parallel() {
    require("make");
    Case::new("make_parallel").file("Makefile", MAKEFILE).check(
        "f1 10:11 4710\nf2 20:21 4720\nf3 30:31 4730\nf4 40:41 4740\nf5 50:51 4750\nf6 60:61 4760\nf7 70:71 4770\nf8 80:81 4700",
        "make -s -j4 --no-print-directory",
    );
}

#[test]
fn python_closerange() {
    require("python3");
    Case::new("python_closerange").check(
        "31 32\n31:32\n33",
        r#"python3 -c '
import os
os.closerange(3, 1024)
open("f", "w").close()
os.chown("f", 31, 32)
s = os.stat("f")
print(s.st_uid, s.st_gid, flush=True)
os.system("stat -c %u:%g f; touch g; chown 33 g; stat -c %u g")
'"#,
    );
}

const DUP2_C: &str = r#"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void) {
    int nul = open("/dev/null", O_RDWR);
    if (nul < 0) { perror("open /dev/null"); return 1; }
    for (int fd = 3; fd < 1024; fd++)
        if (fd != nul) dup2(nul, fd);
    close(1000);
    close(1001);
    int fd = open("f", O_CREAT | O_WRONLY, 0644);
    if (fd < 0) { perror("open f"); return 1; }
    if (fchown(fd, 41, 42)) { perror("fchown"); return 1; }
    if (chown("f", 43, 44)) { perror("chown"); return 1; }
    struct stat a, b;
    if (stat("f", &a) || fstat(fd, &b)) { perror("stat"); return 1; }
    printf("%d:%d %d:%d\n", (int)a.st_uid, (int)a.st_gid, (int)b.st_uid, (int)b.st_gid);
    fflush(stdout);
    return system("stat -c %u:%g f") == 0 ? 0 : 1;
}
"#;

#[test]
fn dup2_over_all_fds() {
    let prog = build_c("dup2_all", DUP2_C, &[]);
    Case::new("dup2_over_all_fds").check("43:44 43:44\n43:44", &prog.display().to_string());
}

const VFORK_C: &str = r#"
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    close(open("f", O_CREAT | O_WRONLY, 0644));
    close(open("g", O_CREAT | O_WRONLY, 0644));
    pid_t p = vfork();
    if (p == 0) {
        chown("f", 51, 52);
        _exit(0);
    }
    int st;
    waitpid(p, &st, 0);
    p = vfork();
    if (p == 0) {
        execl("/bin/chown", "chown", "53:54", "g", (char *)NULL);
        _exit(127);
    }
    waitpid(p, &st, 0);
    struct stat a, b;
    stat("f", &a);
    stat("g", &b);
    printf("%d:%d %d:%d %d\n", (int)a.st_uid, (int)a.st_gid, (int)b.st_uid, (int)b.st_gid,
           WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    return 0;
}
"#;

#[test]
fn vfork_children() {
    let prog = build_c("vfork", VFORK_C, &[]);
    Case::new("vfork_children").check("51:52 53:54 0", &prog.display().to_string());
}

const FORK_THREADS_C: &str = r#"
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Threads change and read their own files while the main thread forks: a child may start
 * while a thread is in the middle of a request on a pooled socket. Each child (and a
 * grandchild of each) then makes requests of its own. */
#define THREADS 3
#define CHILDREN 30

static volatile int stop;

static int check(const char *path, uid_t u, gid_t g) {
    struct stat st;
    if (chown(path, u, g) != 0 || stat(path, &st) != 0) return 1;
    return st.st_uid != u || st.st_gid != g;
}

static void *work(void *arg) {
    long t = (long)arg, bad = 0;
    char path[32];
    snprintf(path, sizeof path, "t%ld", t);
    for (int i = 0; !stop; i++) bad += check(path, 1000 + t * 100 + i % 100, 2000 + i % 100);
    return (void *)bad;
}

static int child(int k) {
    char path[32];
    snprintf(path, sizeof path, "c%d", k);
    int bad = check(path, 3000 + k, 4000 + k) + check(path, 5000 + k, 6000 + k);
    pid_t p = fork();
    if (p == 0) _exit(check(path, 7000 + k, 8000 + k));
    int st;
    if (p < 0 || waitpid(p, &st, 0) != p || !WIFEXITED(st)) return bad + 1;
    return bad + WEXITSTATUS(st);
}

int main(void) {
    char path[32];
    for (int i = 0; i < THREADS; i++) { snprintf(path, sizeof path, "t%d", i); close(open(path, O_CREAT | O_WRONLY, 0644)); }
    for (int k = 0; k < CHILDREN; k++) { snprintf(path, sizeof path, "c%d", k); close(open(path, O_CREAT | O_WRONLY, 0644)); }
    pthread_t th[THREADS];
    for (long i = 0; i < THREADS; i++) pthread_create(&th[i], NULL, work, (void *)i);
    long bad = 0;
    for (int k = 0; k < CHILDREN; k++) {
        pid_t p = fork();
        if (p == 0) _exit(child(k));
        int st;
        if (p < 0 || waitpid(p, &st, 0) != p || !WIFEXITED(st)) bad++;
        else bad += WEXITSTATUS(st);
    }
    stop = 1;
    for (int i = 0; i < THREADS; i++) { void *r; pthread_join(th[i], &r); bad += (long)r; }
    for (int k = 0; k < CHILDREN; k++) {
        struct stat st;
        snprintf(path, sizeof path, "c%d", k);
        if (stat(path, &st) != 0 || st.st_uid != (uid_t)(7000 + k) || st.st_gid != (gid_t)(8000 + k)) bad++;
    }
    printf("%ld\n", bad);
    return 0;
}
"#;

#[test]
fn fork_while_threads_ask() {
    // The fork hooks hand the pool to the child (client::after_fork); a fork in the middle
    // of another thread's request must leave neither the child nor the parent with a
    // socket in a half-spoken state.
    let prog = build_c("fork-threads", FORK_THREADS_C, &["-pthread"]);
    Case::new("fork_while_threads_ask").check("0", &prog.display().to_string());
}

const SANITIZED_C: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

int main(int argc, char **argv) {
    struct stat st;
    if (argc < 2 || stat(argv[1], &st) != 0) return 2;
    printf("%d:%d\n", (int)st.st_uid, (int)st.st_gid);
    fflush(stdout);
    /* A child: faked, and without the sanitizer's runtime before the library. */
    return system("stat -c %u:%g f; case \"$LD_PRELOAD\" in *asan*) echo runtime inherited;; *) echo clean;; esac");
}
"#;

#[test]
fn sanitized_program_gets_its_runtime_first() {
    // AddressSanitizer refuses to start unless its runtime is the first library loaded
    // ("ASan runtime does not come first in initial library list"), which a preloaded
    // library never is: under fakeroot and pseudo such a program exits at once. The
    // library's exec hook (and the launcher, for the first command) put the runtime the
    // program names before it in LD_PRELOAD, for that program alone.
    let prog = build_c("asan-stat", SANITIZED_C, &["-fsanitize=address"]);
    let p = prog.display();
    Case::new("sanitized_program_gets_its_runtime_first").check(
        "5:6\n5:6\nclean\nstatus 0\n5:6\n5:6\nclean",
        &format!("touch f; chown 5:6 f; {p} f; echo \"status $?\"; exec {p} f"),
    );
    // As the session's first command, placed by the launcher.
    Case::new("sanitized_program_first").check_outer("0:0\n0:0\nclean", &format!("touch f; \"$FB\" run -- {p} f"));
}

#[test]
fn second_copy_of_the_library() {
    // A second copy of the library, preloaded by hand (another fakebox build's, say), next
    // to the session's: env's execvp goes through both copies' exec hooks, once each. When
    // the library exported its internal entry points, the second copy's execvp reached the
    // first copy's, whose next execvpe is the second copy's, round and round until the
    // stack ran out (SIGSEGV, status 139).
    Case::new("second_copy_of_the_library").check_outer(
        "0\n3",
        r#"cp "$(dirname "$FB")/libfakebox.so" copy.so 2>/dev/null
"$FB" run -- sh -c 'touch f; chown 3 f; LD_PRELOAD=$PWD/copy.so env true; echo $?; LD_PRELOAD=$PWD/copy.so env stat -c %u f' 2>&1"#,
    );
}

#[test]
fn python_system() {
    require("python3");
    Case::new("python_system").check(
        "5:0\n0",
        r#"touch f; python3 -c 'import os; os.system("chown 5 f"); os.system("stat -c %u:%g f; id -u")'"#,
    );
}

#[test]
fn python_posix_spawn() {
    require("python3");
    Case::new("python_posix_spawn").check(
        "0\n6:7",
        r#"touch f; python3 -c '
import os
pid = os.posix_spawn("/bin/chown", ["chown", "6:7", "f"], os.environ)
_, st = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(st))
s = os.stat("f")
print("%d:%d" % (s.st_uid, s.st_gid))
'"#,
    );
}

#[test]
fn python_subprocess() {
    require("python3");
    Case::new("python_subprocess").check(
        "8:9\n0",
        r#"touch f; python3 -c '
import subprocess
subprocess.run(["chown", "8:9", "f"], check=True)
print(subprocess.run(["stat", "-c", "%u:%g", "f"], capture_output=True, text=True, check=True).stdout.strip())
print(subprocess.run(["id", "-u"], capture_output=True, text=True, check=True).stdout.strip())
'"#,
    );
}

#[test]
fn python_fork() {
    require("python3");
    Case::new("python_fork").check(
        "0\n5:6 5:6",
        r#"touch f; python3 -c '
import os
pid = os.fork()
if pid == 0:
    os.chown("f", 5, 6)
    os._exit(0)
_, st = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(st), flush=True)
s = os.stat("f")
pid = os.fork()
if pid == 0:
    c = os.stat("f")
    print("%d:%d %d:%d" % (s.st_uid, s.st_gid, c.st_uid, c.st_gid), flush=True)
    os._exit(0)
os.waitpid(pid, 0)
'"#,
    );
}

#[test]
fn shell_pipeline_and_subshells() {
    Case::new("shell_pipeline_and_subshells").check(
        "3:3\n3:3\n0",
        "touch f; (chown 3:3 f); stat -c %u:%g f | cat; echo f | xargs stat -c %u:%g; \
         sh -c 'sh -c \"id -u\"'",
    );
}

#[test]
fn exec_chain_keeps_session() {
    Case::new("exec_chain_keeps_session").check(
        "0\n12:13",
        "touch f; chown 12:13 f; exec sh -c 'id -u; exec stat -c %u:%g f; echo not reached'; echo not reached either",
    );
}

/// A file this process just made is fchowned to root and fchmodded without a statx while
/// nothing is recorded in between (tar's pattern). Each case here makes that shortcut
/// wrong if it were taken: a record made in between, and a descriptor number that now
/// holds another file because glibc closed it out of sight (fclose), dup2 moved another
/// file onto it, or a vfork child made a file under that number in its own table.
const FRESH_C: &str = r#"
#include <fcntl.h>
#include <stdio.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void show(const char *p) {
    struct stat s;
    if (stat(p, &s)) { perror(p); return; }
    printf("%s %d:%d %o\n", p, (int)s.st_uid, (int)s.st_gid, (unsigned)(s.st_mode & 07777));
}

static int made(const char *p, int m) {
    int fd = open(p, O_CREAT | O_EXCL | O_WRONLY, m);
    if (fd < 0) perror(p);
    return fd;
}

static void touch_as(const char *p, int u, int g) {
    close(open(p, O_CREAT | O_WRONLY, 0644));
    if (chown(p, u, g)) perror("chown");
}

int main(void) {
    umask(022);
    /* tar: made 0600, given to root, then its mode */
    int fd = made("a", 0600);
    if (fchown(fd, 0, 0) || fchmod(fd, 0644)) perror("a");
    close(fd);
    show("a");
    /* a record made in between (by path) */
    fd = made("b", 0600);
    if (chown("b", 7, 8) || fchmod(fd, 0640) || fchown(fd, 0, -1)) perror("b");
    close(fd);
    show("b");
    /* fclose closes the descriptor inside glibc; fopen then takes its number */
    touch_as("d", 9, 9);
    fd = made("c", 0600);
    FILE *f = fdopen(fd, "w");
    fclose(f);
    FILE *g = fopen("d", "r");
    if (!g || fileno(g) != fd) printf("d not at %d\n", fd);
    if (fchown(fileno(g), 0, 0)) perror("d");
    fclose(g);
    show("d");
    /* dup2 moves another file onto the number */
    touch_as("e", 10, 10);
    fd = made("c2", 0600);
    int e = open("e", O_RDONLY);
    dup2(e, fd);
    if (fchown(fd, 0, 0)) perror("e");
    close(e);
    close(fd);
    show("e");
    /* a vfork child makes a file at a number that is free in its parent */
    touch_as("w", 11, 11);
    int wfd = open("w", O_RDONLY);
    int free_fd = dup(wfd);
    close(free_fd);
    pid_t p = vfork();
    if (p == 0) {
        made("v", 0600);
        execl("/bin/true", "true", (char *)NULL);
        _exit(127);
    }
    int st;
    waitpid(p, &st, 0);
    int w2 = dup(wfd);
    if (w2 != free_fd) printf("w not at %d\n", free_fd);
    if (fchown(w2, 0, 0) || fchmod(w2, 0600)) perror("w");
    show("w");
    /* the umask shows on disk and in the session alike */
    fd = made("u", 0666);
    if (fchown(fd, 0, 0)) perror("u");
    close(fd);
    show("u");
    /* a fake non-root fsuid may not chmod root's file */
    fd = made("n", 0600);
    if (setfsuid(5) < 0) perror("setfsuid");
    printf("n %s\n", fchmod(fd, 0644) ? "refused" : "allowed");
    return 0;
}
"#;

#[test]
fn fresh_files_and_reused_numbers() {
    let prog = build_c("fresh", FRESH_C, &[]);
    Case::new("fresh_files_and_reused_numbers").check(
        "a 0:0 644\nb 0:8 640\nd 0:0 644\ne 0:0 644\nw 0:0 600\nu 0:0 644\nn refused",
        &prog.display().to_string(),
    );
}

/// nftw and ftw hand their callback glibc's struct stat, which a trampoline corrects on
/// the way. The callback in use is kept per thread, and a walk started inside a callback
/// puts the outer one back when it ends: two threads walk at once with callbacks of their
/// own, and the outer walk goes on with its own callback after an inner nftw and ftw.
const WALK_C: &str = r#"
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void say(const char *tag, const char *path, const struct stat *st) {
    char line[256];
    int n = snprintf(line, sizeof line, "%s %s %u:%u %o\n", tag, path, st->st_uid, st->st_gid, st->st_mode & 07777);
    write(1, line, n);
}

static int inner(const char *path, const struct stat *st, int flag, struct FTW *f) { say("inner", path, st); return 0; }
static int inner_ftw(const char *path, const struct stat *st, int flag) { say("ftw", path, st); return 0; }

static int outer(const char *path, const struct stat *st, int flag, struct FTW *f) {
    say("outer", path, st);
    if (strcmp(path, "t/a") == 0 && (nftw(path, inner, 4, FTW_PHYS) != 0 || ftw(path, inner_ftw, 4) != 0))
        write(1, "inner failed\n", 13);
    return 0;
}

static int cb_a(const char *path, const struct stat *st, int flag, struct FTW *f) { say("A", path, st); return 0; }
static int cb_b(const char *path, const struct stat *st, int flag, struct FTW *f) { say("B", path, st); return 0; }

static void *walk(void *cb) {
    for (int i = 0; i < 50; i++)
        if (nftw("t", (int (*)(const char *, const struct stat *, int, struct FTW *))cb, 8, FTW_PHYS) != 0) return (void *)1;
    return 0;
}

int main(void) {
    if (nftw("t", outer, 8, FTW_PHYS) != 0) { perror("nftw"); return 1; }
    pthread_t a, b;
    pthread_create(&a, 0, walk, (void *)cb_a);
    pthread_create(&b, 0, walk, (void *)cb_b);
    void *ra, *rb;
    pthread_join(a, &ra);
    pthread_join(b, &rb);
    return ra || rb;
}
"#;

#[test]
fn nftw_and_ftw_callbacks() {
    let prog = build_c("walk", WALK_C, &["-pthread"]);
    Case::new("nftw_and_ftw_callbacks").check(
        "50 A t 0:0 755\n50 A t/a 7:8 2750\n50 A t/a/f 5:6 4711\n\
         50 B t 0:0 755\n50 B t/a 7:8 2750\n50 B t/a/f 5:6 4711\n\
         1 ftw t/a 7:8 2750\n1 ftw t/a/f 5:6 4711\n\
         1 inner t/a 7:8 2750\n1 inner t/a/f 5:6 4711\n\
         1 outer t 0:0 755\n1 outer t/a 7:8 2750\n1 outer t/a/f 5:6 4711",
        &format!(
            "mkdir -p t/a && chmod 755 t && touch t/a/f && chown 5:6 t/a/f && chmod 4711 t/a/f && chown 7:8 t/a && chmod 2750 t/a && {} | LC_ALL=C sort | uniq -c | sed 's/^ *//'",
            prog.display()
        ),
    );
}

/// execl, execle and execlp are C shims (variadic): the arguments, the environment after
/// the terminating NULL, and the PATH search all arrive, and the program run is faked.
const EXECL_C: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void wait_child(void) { int st; wait(&st); fflush(stdout); }

int main(void) {
    char *env[] = { "X=from-execle", "PATH=/usr/bin:/bin", NULL };
    fflush(stdout);
    if (fork() == 0) { execl("/bin/sh", "sh", "-c", "echo execl $0 $1 $2 $(id -u)", "a", "b c", (char *)NULL); _exit(127); }
    wait_child();
    if (fork() == 0) { execle("/bin/sh", "sh", "-c", "echo execle $X $(id -u)", (char *)NULL, env); _exit(127); }
    wait_child();
    if (fork() == 0) { execlp("sh", "sh", "-c", "echo execlp $(id -u)", (char *)NULL); _exit(127); }
    wait_child();
    return 0;
}
"#;

#[test]
fn execl_family() {
    let prog = build_c("execl", EXECL_C, &[]);
    Case::new("execl_family").check("execl a b c 0\nexecle from-execle 0\nexeclp 0", &prog.display().to_string());
}

/// Under a process limit close to what the user runs already (RLIMIT_NPROC counts the
/// user's threads; root is not bound by it), threads and forks fail: a program whose
/// calls cannot be served gets errors, never an unfaked success, and the session ends.
/// It once waited forever at its end for a supervisor thread that had never started.
#[test]
fn a_process_limit_fails_calls_and_never_hangs() {
    let busybox = require("busybox");
    let busybox = busybox.display();
    Case::new("nproc_limit").check_outer(
        "done",
        &format!(
            r#"n=$(ps -L -u "$(id -u)" --no-headers | wc -l)
timeout -k 5 60 prlimit --nproc=$((n + 30)) "$FB" run -- bash -c '
i=0; while [ $i -lt 60 ]; do i=$((i+1)); ({busybox} touch f$i && {busybox} chown $i f$i && echo $i >> ok) 2>/dev/null & done; wait
bad=0; while read i; do [ "$(stat -c %u f$i)" = "$i" ] || bad=$((bad+1)); done < ok
echo "bad=$bad"' > out 2> err
st=$?
if [ $st = 124 ] || [ $st = 137 ]; then echo "hung"; tail -5 err; exit; fi
if grep -q "bad=[1-9]" out; then echo "unfaked: $(cat out)"; exit; fi
echo done"#
        ),
    );
}
