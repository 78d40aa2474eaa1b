#define _GNU_SOURCE
/* The variadic hooks, which stable Rust cannot define: each collects its arguments and
 * calls the Rust hook of the same family (fakebox_openat, fakebox_execve...), so the logic
 * lives in one place. Nothing here allocates. */
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>

#define EXPORT __attribute__((visibility("default")))

int fakebox_openat(int dirfd, const char *path, int flags, unsigned mode);
int fakebox_execve(const char *path, char *const argv[], char *const envp[]);
int fakebox_execvpe(const char *file, char *const argv[], char *const envp[]);
extern char **environ;

/* The mode argument exists only when the flags say a file may be created. */
#define MODE_ARG(flags, mode)                                   \
    do {                                                        \
        if ((flags) & (O_CREAT | __O_TMPFILE)) {                \
            va_list ap;                                         \
            va_start(ap, flags);                                \
            mode = va_arg(ap, unsigned);                        \
            va_end(ap);                                         \
        }                                                       \
    } while (0)

EXPORT int open(const char *path, int flags, ...) {
    unsigned mode = 0;
    MODE_ARG(flags, mode);
    return fakebox_openat(AT_FDCWD, path, flags, mode);
}
EXPORT int open64(const char *path, int flags, ...) {
    unsigned mode = 0;
    MODE_ARG(flags, mode);
    return fakebox_openat(AT_FDCWD, path, flags | O_LARGEFILE, mode);
}
EXPORT int openat(int dirfd, const char *path, int flags, ...) {
    unsigned mode = 0;
    MODE_ARG(flags, mode);
    return fakebox_openat(dirfd, path, flags, mode);
}
EXPORT int openat64(int dirfd, const char *path, int flags, ...) {
    unsigned mode = 0;
    MODE_ARG(flags, mode);
    return fakebox_openat(dirfd, path, flags | O_LARGEFILE, mode);
}
/* _FORTIFY_SOURCE's checked forms: called only without a mode. */
EXPORT int __open_2(const char *path, int flags) { return fakebox_openat(AT_FDCWD, path, flags, 0); }
EXPORT int __open64_2(const char *path, int flags) { return fakebox_openat(AT_FDCWD, path, flags | O_LARGEFILE, 0); }
EXPORT int __openat_2(int dirfd, const char *path, int flags) { return fakebox_openat(dirfd, path, flags, 0); }
EXPORT int __openat64_2(int dirfd, const char *path, int flags) { return fakebox_openat(dirfd, path, flags | O_LARGEFILE, 0); }

/* execl and friends: the argument list goes into an array on the stack, as glibc does. */
#define MAX_EXECL_ARGS 4096
#define COLLECT_ARGS(arg0, argv, ap, n)                                      \
    do {                                                                     \
        argv[0] = (char *)(arg0);                                            \
        for (n = 1; argv[n - 1] != NULL; n++) {                              \
            if (n == MAX_EXECL_ARGS) { errno = E2BIG; va_end(ap); return -1; } \
            argv[n] = va_arg(ap, char *);                                    \
        }                                                                    \
    } while (0)

EXPORT int execl(const char *path, const char *arg0, ...) {
    char *argv[MAX_EXECL_ARGS];
    size_t n;
    va_list ap;
    va_start(ap, arg0);
    COLLECT_ARGS(arg0, argv, ap, n);
    va_end(ap);
    return fakebox_execve(path, argv, environ);
}
EXPORT int execle(const char *path, const char *arg0, ...) {
    char *argv[MAX_EXECL_ARGS];
    size_t n;
    va_list ap;
    va_start(ap, arg0);
    COLLECT_ARGS(arg0, argv, ap, n);
    char *const *envp = va_arg(ap, char *const *);
    va_end(ap);
    return fakebox_execve(path, argv, envp);
}
EXPORT int execlp(const char *file, const char *arg0, ...) {
    char *argv[MAX_EXECL_ARGS];
    size_t n;
    va_list ap;
    va_start(ap, arg0);
    COLLECT_ARGS(arg0, argv, ap, n);
    va_end(ap);
    return fakebox_execvpe(file, argv, environ);
}
