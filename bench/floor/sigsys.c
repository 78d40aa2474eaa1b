/* The floor under a traced program's faked calls: what a call trapped into a SIGSYS
 * handler costs on this machine, next to an lstat made natively. Run it alone (the trap
 * loop needs the argument), then inside fakebox without it (the lstat loop is then trapped
 * by fakebox's agent):
 *
 *   cc -O2 -static -o /tmp/sigsys bench/floor/sigsys.c
 *   /tmp/sigsys trap && target/release/fakebox run -- /tmp/sigsys
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

enum { N = 200000 };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

/* Answers the trapped call with 0, and nothing else. */
static void on_sigsys(int sig, siginfo_t *si, void *ctx) {
    (void)sig, (void)si;
    ((ucontext_t *)ctx)->uc_mcontext.gregs[REG_RAX] = 0;
}

int main(int argc, char **argv) {
    struct stat st;
    double a = now();
    for (int i = 0; i < N; i++)
        syscall(SYS_newfstatat, AT_FDCWD, "/usr/share", &st, AT_SYMLINK_NOFOLLOW);
    printf("lstat: %.2f us\n", (now() - a) / N * 1e6);
    if (argc < 2)
        return 0;
    struct sigaction sa = {0};
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSYS, &sa, 0);
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof f / sizeof f[0], f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)) {
        perror("seccomp");
        return 1;
    }
    a = now();
    for (int i = 0; i < N; i++)
        syscall(SYS_getppid);
    printf("a call trapped into an empty SIGSYS handler: %.2f us\n", (now() - a) / N * 1e6);
    return 0;
}
