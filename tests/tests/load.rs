//! Heavy load and tight limits: the daemon keeps answering (README, "How it works").

use fakebox_tests::{Case, build_c};

/// Forks N children that each chown a file of their own (so each holds a connection to
/// the daemon) and then wait; then times a chown from a fresh process, and measures the
/// daemon's CPU time while nobody asks anything. The daemon is the session's launcher,
/// the parent of this program.
const HOLDERS_C: &str = r#"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

/* utime + stime of process pid, in clock ticks, and its thread count and RSS (kB) */
static long cpu_of(int pid, long *threads, long *rss) {
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    long ut = 0, st = 0;
    /* fields after ')': state(3) ... utime(14) stime(15) ... num_threads(20) */
    int field = 2;
    for (char *tok = strtok(p + 1, " "); tok; tok = strtok(NULL, " ")) {
        field++;
        if (field == 14) ut = atol(tok);
        if (field == 15) st = atol(tok);
        if (field == 20) *threads = atol(tok);
        if (field == 24) *rss = atol(tok) * (sysconf(_SC_PAGESIZE) / 1024);
    }
    return ut + st;
}

int main(int argc, char **argv) {
    int n = atoi(argv[1]);
    int ready[2], hold[2];
    if (pipe(ready) || pipe(hold)) return 1;
    for (int i = 0; i < n; i++) {
        pid_t p = fork();
        if (p < 0) { perror("fork"); return 1; }
        if (p == 0) {
            close(ready[0]);
            close(hold[1]);
            char name[32];
            snprintf(name, sizeof name, "h%d", i);
            int fd = open(name, O_CREAT | O_WRONLY, 0644);
            if (fd < 0 || fchown(fd, 1, 1) != 0) { perror("holder chown"); _exit(1); }
            close(fd);
            write(ready[1], "x", 1);
            char c;
            read(hold[0], &c, 1); /* until the parent closes its end */
            _exit(0);
        }
    }
    close(ready[1]);
    close(hold[0]);
    char c;
    for (int i = 0; i < n; i++) {
        if (read(ready[0], &c, 1) != 1) { fprintf(stderr, "a holder died\n"); return 1; }
    }
    int daemon = getppid();
    long threads = 0, rss = 0;
    long before = cpu_of(daemon, &threads, &rss);
    fprintf(stderr, "daemon at %d holders: %ld threads, %ld kB resident\n", n, threads, rss);
    sleep(1);
    long after = cpu_of(daemon, &threads, &rss);
    long hz = sysconf(_SC_CLK_TCK);
    fprintf(stderr, "daemon CPU while idle: %ld ticks of %ld in 1 s\n", after - before, hz);
    printf("idle: %s\n", after - before <= hz / 10 ? "yes" : "no");
    int fd = open("fresh", O_CREAT | O_WRONLY, 0644);
    close(fd);
    double t0 = now();
    pid_t p = fork();
    if (p == 0) _exit(chown("fresh", 7, 8) == 0 ? 0 : 1);
    int st;
    waitpid(p, &st, 0);
    double took = now() - t0;
    fprintf(stderr, "a fresh process's chown: %.3f s\n", took);
    struct stat s;
    stat("fresh", &s);
    printf("fresh chown: %s %u:%u\n", WIFEXITED(st) && WEXITSTATUS(st) == 0 && took < 1.0 ? "fast" : "slow or failed",
           s.st_uid, s.st_gid);
    close(hold[1]);
    while (wait(NULL) > 0) {}
    stat("h0", &s);
    printf("holder: %u:%u\n", s.st_uid, s.st_gid);
    return 0;
}
"#;

#[test]
fn two_thousand_clients_under_a_limit_of_1024_descriptors() {
    // A make -j of long-lived processes, each with its connection, in a session started
    // under `ulimit -n 1024` (soft and hard): a fresh process's chown is answered at once,
    // and the daemon sleeps while nobody asks.
    let holders = build_c("holders", HOLDERS_C, &[]);
    Case::new("two_thousand_clients").check_outer(
        "idle: yes\nfresh chown: fast 7:8\nholder: 1:1",
        &format!(r#"ulimit -n 1024 && "$FB" run -- {} 2000"#, holders.display()),
    );
}
