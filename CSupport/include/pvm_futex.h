// futex(2) has no glibc wrapper. Shared (not PRIVATE) operations, because the
// word lives in memory that several processes map.
#ifndef PVM_FUTEX_H
#define PVM_FUTEX_H

#include <linux/futex.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/// Sleeps while `*word == expected`; returns 0, or -1 with errno
/// (EAGAIN: the value differed, ETIMEDOUT, EINTR).
static inline int pvm_futex_wait(uint32_t *word, uint32_t expected, const struct timespec *timeout) {
    return (int)syscall(SYS_futex, word, FUTEX_WAIT, expected, timeout, NULL, 0);
}

/// Wakes up to `count` sleepers; returns how many woke, or -1 with errno.
static inline int pvm_futex_wake(uint32_t *word, int count) {
    return (int)syscall(SYS_futex, word, FUTEX_WAKE, count, NULL, NULL, 0);
}

#endif
