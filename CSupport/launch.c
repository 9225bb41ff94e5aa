// Starting a program without waiting for its exec: the daemon's launcher.
//
// posix_spawn (glibc) clones with CLONE_VM | CLONE_VFORK, so the caller is
// suspended until the child has called execve. With 2 CPUs and the tasks of
// the same spawn already starting, that child waits in the run queue behind
// them, and the daemon, whose single thread is the caller, stops serving
// the very tasks it is waiting for (measured: posix_spawn took 0.5 ms at the
// median inside pvmd against 0.17 ms from an idle parent). So the daemon
// clones with CLONE_VM but not CLONE_VFORK and goes on; a close-on-exec
// status pipe, watched in its epoll set, says when the exec happened (end
// of file) or why it failed (an errno, then end of file).
//
// The child shares the daemon's memory until it execs, so it touches only
// its own stack and the block that pvm_launch_start filled: every call it
// makes is a raw system call, never a libc function, because a libc
// wrapper would write errno (the daemon thread's, as the child runs with
// its thread pointer) or take a lock. The block is unmapped only after end
// of file on the status pipe, when the child has left this address space
// (execve switches the memory map before it closes close-on-exec
// descriptors; exit releases the memory map before the descriptors).
#ifndef _GNU_SOURCE
#error "CSupport must be compiled with _GNU_SOURCE (Package.swift defines it)"
#endif

#include "include/CSupport.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__aarch64__)
#define PVM_ASYNC_LAUNCH 1
#endif

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

enum { launch_stack_size = 64 * 1024 };

struct pvm_launch {
    size_t mapped;          // bytes of this mapping (block and stack)
    int status_write;       // the child's end of the status pipe
    int out_fd;             // standard output and error of the child
    const char *path;
    const char *cwd;        // NULL: inherited
    char **argv;
    char **envp;
    // The parent's side: the status read so far.
    int status;
    size_t status_bytes;
};

#ifdef PVM_ASYNC_LAUNCH

// A system call that never touches errno: the result, or -errno.
static inline long raw6(long n, long a, long b, long c, long d, long e, long f) {
#if defined(__x86_64__)
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
#else
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    register long x4 __asm__("x4") = e;
    register long x5 __asm__("x5") = f;
    __asm__ volatile("svc 0"
                     : "+r"(x0)
                     : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
                     : "memory");
    return x0;
#endif
}
#define raw(n, a, b, c, d) raw6((n), (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)

// The kernel's struct sigaction (x86-64 and arm64 both define SA_RESTORER).
struct kernel_sigaction {
    void *handler;
    unsigned long flags;
    void *restorer;
    uint64_t mask;
};

static void child_fail(const struct pvm_launch *l, long rc) {
    int err = (int)-rc;
    raw(SYS_write, l->status_write, &err, sizeof err, 0);
    for (;;) raw(SYS_exit_group, 127, 0, 0, 0);
}

// Runs in the child, on its own stack, in the daemon's address space.
static int child_main(void *arg) {
    const struct pvm_launch *l = arg;
    long rc;
    // Handlers the daemon installed are of no use (and not safe) here; the
    // signals the daemon ignores or blocks for itself start at their
    // defaults. Other ignored signals stay ignored, as across exec.
    for (int sig = 1; sig < 65; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        struct kernel_sigaction old = {0}, dfl = {0};
        int reset = sig == SIGPIPE || sig == SIGTERM || sig == SIGINT || sig == SIGHUP || sig == SIGCHLD;
        if (!reset) {
            if (raw(SYS_rt_sigaction, sig, NULL, &old, 8) != 0) continue;
            reset = old.handler != (void *)SIG_IGN && old.handler != (void *)SIG_DFL;
        }
        if (reset) raw(SYS_rt_sigaction, sig, &dfl, NULL, 8);
    }
    uint64_t none = 0;
    raw(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, 8);

    rc = raw(SYS_openat, AT_FDCWD, "/dev/null", O_RDONLY, 0);
    if (rc < 0) child_fail(l, rc);
    if (rc != 0) {
        long nul = rc;
        rc = raw(SYS_dup3, nul, 0, 0, 0);
        raw(SYS_close, nul, 0, 0, 0);
        if (rc < 0) child_fail(l, rc);
    }
    if (l->out_fd >= 0) {
        if (l->out_fd != 1 && (rc = raw(SYS_dup3, l->out_fd, 1, 0, 0)) < 0) child_fail(l, rc);
        if (l->out_fd != 2 && (rc = raw(SYS_dup3, l->out_fd, 2, 0, 0)) < 0) child_fail(l, rc);
    }
    if (l->cwd != NULL && (rc = raw(SYS_chdir, l->cwd, 0, 0, 0)) < 0) child_fail(l, rc);
    // Nothing else the daemon holds reaches the program; the status pipe
    // closes with the exec.
    if (raw(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC, 0) < 0) {
        int s = l->status_write;
        if (s > 3) raw(SYS_close_range, 3, s - 1, 0, 0);
        raw(SYS_close_range, s + 1, ~0U, 0, 0);
    }
    rc = raw(SYS_execve, l->path, l->argv, l->envp, 0);
    child_fail(l, rc);
    return 127;
}

#endif // PVM_ASYNC_LAUNCH

static size_t strings_size(char *const list[], size_t *count) {
    size_t n = 0, bytes = 0;
    for (; list[n] != NULL; n++) bytes += strlen(list[n]) + 1;
    *count = n;
    return bytes;
}

static char **copy_list(char *const list[], size_t count, char ***slots, char **text) {
    char **out = *slots;
    for (size_t i = 0; i < count; i++) {
        size_t len = strlen(list[i]) + 1;
        memcpy(*text, list[i], len);
        out[i] = *text;
        *text += len;
    }
    out[count] = NULL;
    *slots += count + 1;
    return out;
}

static char *copy_string(const char *s, char **text) {
    size_t len = strlen(s) + 1;
    char *out = memcpy(*text, s, len);
    *text += len;
    return out;
}

int pvm_launch_start(const char *path, char *const argv[], char *const envp[], const char *cwd, int out_fd,
                     pvm_launch **handle, pid_t *pid, int *pidfd, int *status_fd) {
    *handle = NULL;
    *pid = -1;
    *pidfd = -1;
    *status_fd = -1;
    size_t argc, envc;
    size_t text = strings_size(argv, &argc) + strings_size(envp, &envc) + strlen(path) + 1 + (cwd ? strlen(cwd) + 1 : 0);
    size_t block = sizeof(struct pvm_launch) + (argc + envc + 2) * sizeof(char *) + text;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t mapped = ((block + page - 1) / page) * page + launch_stack_size;
    void *base = mmap(NULL, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (base == MAP_FAILED) return -errno;
    // The block first, the stack (growing down) at the end of the mapping.
    struct pvm_launch *l = base;
    char **slots = (char **)(l + 1);
    char *cursor = (char *)(slots + argc + envc + 2);
    l->mapped = mapped;
    l->out_fd = out_fd;
    l->argv = copy_list(argv, argc, &slots, &cursor);
    l->envp = copy_list(envp, envc, &slots, &cursor);
    l->path = copy_string(path, &cursor);
    l->cwd = cwd ? copy_string(cwd, &cursor) : NULL;
    l->status = 0;
    l->status_bytes = 0;

    int fds[2];
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
        int e = errno;
        munmap(base, mapped);
        return -e;
    }
    l->status_write = fds[1];

#ifdef PVM_ASYNC_LAUNCH
    // Every signal blocked across the clone, so that none reaches the child
    // before it has put its handlers back to their defaults.
    sigset_t all, saved;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved);
    void *stack_top = (char *)base + mapped;
    int child_pidfd = -1;
    pid_t child = clone(child_main, stack_top, CLONE_VM | CLONE_PIDFD | SIGCHLD, l, &child_pidfd, NULL, NULL);
    if (child < 0 && errno == EINVAL) {
        child_pidfd = -1;
        child = clone(child_main, stack_top, CLONE_VM | SIGCHLD, l, NULL, NULL, NULL);
    }
    int e = errno;
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    close(fds[1]);
    if (child < 0) {
        close(fds[0]);
        munmap(base, mapped);
        return -e;
    }
    *pidfd = child_pidfd;
#else
    // Elsewhere: posix_spawn, which returns after the exec; the status pipe
    // is at end of file already.
    close(fds[1]);
    pid_t child = pvm_spawn_process(path, argv, envp, cwd, out_fd, 0);
    if (child < 0) {
        close(fds[0]);
        munmap(base, mapped);
        return (int)child;
    }
#endif
    *handle = l;
    *pid = child;
    *status_fd = fds[0];
    return 0;
}

int pvm_launch_poll(pvm_launch *l, int status_fd) {
    for (;;) {
        if (l->status_bytes < sizeof l->status) {
            ssize_t n = read(status_fd, (char *)&l->status + l->status_bytes, sizeof l->status - l->status_bytes);
            if (n > 0) { l->status_bytes += (size_t)n; continue; }
            if (n == 0) break;
            if (errno == EINTR) continue;
            if (errno == EAGAIN) return -1;
            return errno;
        }
        // An errno came; the end of file follows when the child has gone.
        char extra;
        ssize_t n = read(status_fd, &extra, 1);
        if (n == 0) break;
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return -1;
        if (n < 0) return errno;
    }
    if (l->status_bytes == 0) return 0;
    return l->status_bytes == sizeof l->status && l->status > 0 ? l->status : EIO;
}

void pvm_launch_free(pvm_launch *handle) {
    if (handle != NULL) munmap(handle, handle->mapped);
}
