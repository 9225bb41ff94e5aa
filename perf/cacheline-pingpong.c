// The floor for shared-memory latency on this machine: two processes bounce
// one cache line (a counter in a MAP_SHARED page), each spinning on the
// other's write. Prints the one-way time (half the round trip): p50 and mean
// of individually timed rounds (as pvmbench times them, clock reads included)
// and the mean of a batch timed as a whole, in nanoseconds.
//
//   cc -O2 -o cacheline-pingpong cacheline-pingpong.c && ./cacheline-pingpong [rounds]
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int compare(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    long rounds = argc > 1 ? atol(argv[1]) : 200000;
    _Atomic uint64_t *line = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (line == MAP_FAILED) { perror("mmap"); return 1; }
    atomic_store(line, 0);
    pid_t child = fork();
    if (child == 0) {
        for (uint64_t expect = 1; expect < 2 * (uint64_t)(2 * rounds + 1000); expect += 2) {
            while (atomic_load_explicit(line, memory_order_acquire) != expect) __builtin_ia32_pause();
            atomic_store_explicit(line, expect + 1, memory_order_release);
        }
        _exit(0);
    }
    uint64_t *samples = malloc(sizeof(uint64_t) * (size_t)rounds);
    uint64_t value = 0;
    for (long i = -1000; i < rounds; i++) {
        uint64_t t0 = now_ns();
        atomic_store_explicit(line, value + 1, memory_order_release);
        while (atomic_load_explicit(line, memory_order_acquire) != value + 2) __builtin_ia32_pause();
        uint64_t t1 = now_ns();
        value += 2;
        if (i >= 0) samples[i] = (t1 - t0) / 2;
    }
    // The same rounds timed as one batch: no clock read inside the loop.
    uint64_t b0 = now_ns();
    for (long i = 0; i < rounds; i++) {
        atomic_store_explicit(line, value + 1, memory_order_release);
        while (atomic_load_explicit(line, memory_order_acquire) != value + 2) __builtin_ia32_pause();
        value += 2;
    }
    double batch = (double)(now_ns() - b0) / (double)rounds / 2.0;
    waitpid(child, NULL, 0);
    qsort(samples, (size_t)rounds, sizeof samples[0], compare);
    double sum = 0;
    for (long i = 0; i < rounds; i++) sum += (double)samples[i];
    printf("cache-line ping-pong one-way: p50 %llu ns, mean %.1f ns, min %llu ns per timed round; "
           "%.1f ns in a batch without clock reads (%ld rounds)\n",
           (unsigned long long)samples[rounds / 2], sum / (double)rounds, (unsigned long long)samples[0], batch, rounds);
    return 0;
}
