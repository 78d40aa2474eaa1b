/* What loading a preload library costs one exec, and nothing else: forks and execs
 * /bin/true many times, with a different LD_PRELOAD for each variant, the variants taking
 * turns, and prints for each the median over the rounds of (time / native's time in the
 * same round), in wall-clock and in the children's CPU time.
 *
 * The child calls execve directly (a raw system call), so no exec hook runs on its way:
 * the difference between two variants is what the loader and the library's constructor
 * cost. Run it inside a session, so that libfakebox.so finds the session's variables:
 *
 *   cc -O2 -o /tmp/execs bench/floor/execs.c
 *   cc -shared -fPIC -O2 -o /tmp/empty.so bench/floor/empty.c
 *   target/release/fakebox run -- /tmp/execs 100 40 native /tmp/empty.so "$PWD/target/release/libfakebox.so"
 *
 * Arguments: ROUNDS BATCH VARIANT...; each round runs BATCH execs of every variant. A
 * variant is `native` (no LD_PRELOAD) or the path of a library to preload alone.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static double children_cpu_us(void) {
    struct rusage u;
    getrusage(RUSAGE_CHILDREN, &u);
    return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e6 + u.ru_utime.tv_usec + u.ru_stime.tv_usec;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, n, sizeof *v, by_value);
    return v[n / 2];
}

/* The environment without LD_PRELOAD, plus LD_PRELOAD=lib unless lib is "native". */
static char **environment(const char *lib) {
    int n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 2, sizeof *env);
    int k = 0;
    for (int i = 0; i < n; i++)
        if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0)
            env[k++] = environ[i];
    if (strcmp(lib, "native") != 0) {
        size_t len = strlen(lib) + 12;
        env[k] = malloc(len);
        snprintf(env[k], len, "LD_PRELOAD=%s", lib);
    }
    return env;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s ROUNDS BATCH native|LIBRARY...\n", argv[0]);
        return 2;
    }
    int rounds = atoi(argv[1]), batch = atoi(argv[2]), variants = argc - 3;
    if (rounds < 1 || batch < 1) {
        fprintf(stderr, "%s: ROUNDS and BATCH must be positive\n", argv[0]);
        return 2;
    }
    char ***envs = calloc(variants, sizeof *envs);
    double *wall = calloc((size_t)rounds * variants, sizeof *wall);
    double *cpu = calloc((size_t)rounds * variants, sizeof *cpu);
    double *ratio = calloc(rounds, sizeof *ratio);
    for (int v = 0; v < variants; v++)
        envs[v] = environment(argv[3 + v]);
    char *child_argv[] = {"/bin/true", NULL};
    for (int r = 0; r < rounds; r++) {
        for (int v = 0; v < variants; v++) {
            double t0 = now_us(), c0 = children_cpu_us();
            for (int b = 0; b < batch; b++) {
                pid_t pid = fork();
                if (pid == 0) {
                    syscall(SYS_execve, child_argv[0], child_argv, envs[v]);
                    _exit(127);
                }
                int status;
                if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                    fprintf(stderr, "%s: /bin/true under %s failed\n", argv[0], argv[3 + v]);
                    return 1;
                }
            }
            wall[v * rounds + r] = (now_us() - t0) / batch;
            cpu[v * rounds + r] = (children_cpu_us() - c0) / batch;
        }
    }
    for (int v = 0; v < variants; v++) {
        for (int r = 0; r < rounds; r++)
            ratio[r] = wall[v * rounds + r] / wall[r];
        double wall_ratio = median(ratio, rounds);
        for (int r = 0; r < rounds; r++)
            ratio[r] = cpu[v * rounds + r] / cpu[r];
        double cpu_ratio = median(ratio, rounds);
        printf("%-48s wall %.3fx  cpu %.3fx  (median %.0f us, %.0f us of CPU, per exec)\n", argv[3 + v], wall_ratio,
               cpu_ratio, median(wall + v * rounds, rounds), median(cpu + v * rounds, rounds));
    }
    return 0;
}
