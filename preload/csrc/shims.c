#define _GNU_SOURCE
/* The variadic hooks, which stable Rust cannot define: each collects its arguments and
 * calls the Rust hook of the same family (fakebox_openat, fakebox_execve...), so the logic
 * lives in one place. Nothing here allocates. */
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>

#define EXPORT __attribute__((visibility("default")))

/* The Rust entry points, declared hidden: the linker gives a symbol the most constraining
 * visibility among its references, so these are not exported, and every call to them, from
 * here and from Rust, binds within this library. Exported, they could be preempted: with
 * two copies of the library in one process (nested sessions of two fakebox builds), the
 * second copy's execvp reached the first copy's fakebox_execvpe, whose next execvpe is the
 * second copy's, and the two recursed until the stack ran out. */
#define INTERNAL __attribute__((visibility("hidden")))
INTERNAL int fakebox_openat(int dirfd, const char *path, int flags, unsigned mode);
INTERNAL int fakebox_execve(const char *path, char *const argv[], char *const envp[]);
INTERNAL int fakebox_execvpe(const char *file, char *const argv[], char *const envp[]);
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

/* execl and friends: count the arguments, then copy them into an array of that size on
 * the stack, as glibc does (a fixed array of the largest size would move the stack far
 * down, and a forked child would fault in fresh stack pages for what follows). */
#define MAX_EXECL_ARGS 65536
/* The arguments before the terminating NULL (arg0 is the first). */
#define COUNT_ARGS(arg0, n)                                                  \
    do {                                                                     \
        va_list c_;                                                          \
        va_start(c_, arg0);                                                  \
        n = 0;                                                               \
        if ((arg0) != NULL)                                                  \
            for (n = 1; n < MAX_EXECL_ARGS && va_arg(c_, char *) != NULL; n++) {} \
        va_end(c_);                                                          \
        if (n >= MAX_EXECL_ARGS) { errno = E2BIG; return -1; }               \
    } while (0)
/* Copies them, and consumes the terminating NULL: what follows it (execle's envp) is next. */
#define COLLECT_ARGS(arg0, argv, ap, n)                                      \
    do {                                                                     \
        argv[0] = (char *)(arg0);                                            \
        for (size_t i_ = 1; i_ < n; i_++) argv[i_] = va_arg(ap, char *);    \
        argv[n] = NULL;                                                      \
        if (n > 0) (void)va_arg(ap, char *);                                 \
    } while (0)

EXPORT int execl(const char *path, const char *arg0, ...) {
    size_t n;
    COUNT_ARGS(arg0, n);
    char *argv[n + 1];
    va_list ap;
    va_start(ap, arg0);
    COLLECT_ARGS(arg0, argv, ap, n);
    va_end(ap);
    return fakebox_execve(path, argv, environ);
}
EXPORT int execle(const char *path, const char *arg0, ...) {
    size_t n;
    COUNT_ARGS(arg0, n);
    char *argv[n + 1];
    va_list ap;
    va_start(ap, arg0);
    COLLECT_ARGS(arg0, argv, ap, n);
    char *const *envp = va_arg(ap, char *const *);
    va_end(ap);
    return fakebox_execve(path, argv, envp);
}
EXPORT int execlp(const char *file, const char *arg0, ...) {
    size_t n;
    COUNT_ARGS(arg0, n);
    char *argv[n + 1];
    va_list ap;
    va_start(ap, arg0);
    COLLECT_ARGS(arg0, argv, ap, n);
    va_end(ap);
    return fakebox_execvpe(file, argv, environ);
}

/* The program's nftw (0) and ftw (1) callbacks in use on this thread (hooks/walk.rs):
 * stable Rust has thread-local storage only through std, which the library does not link. */
static __thread void *walk_cb[2];
void *fakebox_walk_cb(int which) { return walk_cb[which]; }
void *fakebox_walk_cb_swap(int which, void *cb) {
    void *old = walk_cb[which];
    walk_cb[which] = cb;
    return old;
}
