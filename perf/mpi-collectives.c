/*
 * The Open MPI peer of `pvmbench collective`: MPI_Barrier, MPI_Bcast and
 * MPI_Reduce (MPI_SUM of doubles to rank 0) timed the way pvmbench times
 * PVM's barrier, pvm_bcast and pvm_reduce, so the two can be set side by
 * side in one run (perf/collectives.sh).
 *
 *   mpirun -np N mpi-collectives barrier|bcast|reduce [-sizes LIST] [-i N] [-x N]
 *
 * barrier: rank 0 records the time between the completions of consecutive
 *   barriers (one clock read per barrier).
 * bcast, reduce (OSU's osu_bcast / osu_reduce method): every iteration
 *   starts with an untimed MPI_Barrier; each rank times its own call; the
 *   sample of an iteration is the mean over ranks of their times.
 * -sizes: bytes per operation, a comma list (K and M suffixes); reduce
 *   sums bytes/8 doubles. Default 8,1K,16K,128K,1M. -i and -x: measured and
 *   warm-up iterations; by default the same as pvmbench's for the size
 *   (CollectiveDriver.defaultCounts in Sources/PVMBench/CollectiveBench.swift).
 *
 * Prints one JSON line per size on standard output (from rank 0):
 * {"peer":"openmpi-4.1.4","test":"bcast","tasks":2,"bytes":8,"iterations":10000,
 *  "warmup":1000,"mean_ns":...,"p50_ns":...,"p99_ns":...,"min_ns":...,"max_ns":...}
 * Percentiles are nearest-rank over the sorted samples.
 */
#define _GNU_SOURCE
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum op { OP_BARRIER, OP_BCAST, OP_REDUCE };

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* pvmbench's default counts for a size (0: the barrier). */
static void default_counts(long bytes, long *iterations, long *warmup)
{
    if (bytes == 0) { *iterations = 20000; *warmup = 2000; }
    else if (bytes <= 8192) { *iterations = 10000; *warmup = 1000; }
    else if (bytes <= 65536) { *iterations = 2000; *warmup = 200; }
    else if (bytes <= 1 << 20) { *iterations = 500; *warmup = 50; }
    else { *iterations = 100; *warmup = 10; }
}

/* "8,1K,4M" into sizes; the count, or -1 for a malformed list. */
static int parse_sizes(const char *text, long *sizes, int max)
{
    int n = 0;
    const char *p = text;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1) return -1;
        if (*end == 'K' || *end == 'k') { v <<= 10; end++; }
        else if (*end == 'M' || *end == 'm') { v <<= 20; end++; }
        if (*end != ',' && *end != '\0') return -1;
        if (n == max) return -1;
        sizes[n++] = v;
        p = *end == ',' ? end + 1 : end;
    }
    return n;
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest sample with at least p% at or below it. */
static uint64_t percentile(const uint64_t *sorted, long n, double p)
{
    long rank = (long)((p / 100.0) * (double)n + 0.999999);
    if (rank < 1) rank = 1;
    if (rank > n) rank = n;
    return sorted[rank - 1];
}

static void report(const char *peer, const char *test, int tasks, long bytes, long iterations, long warmup,
                   uint64_t *samples)
{
    double sum = 0;
    for (long i = 0; i < iterations; i++) sum += (double)samples[i];
    qsort(samples, (size_t)iterations, sizeof *samples, compare_u64);
    printf("{\"peer\":\"%s\",\"test\":\"%s\",\"tasks\":%d,\"bytes\":%ld,\"iterations\":%ld,\"warmup\":%ld,"
           "\"mean_ns\":%.1f,\"p50_ns\":%llu,\"p99_ns\":%llu,\"min_ns\":%llu,\"max_ns\":%llu}\n",
           peer, test, tasks, bytes, iterations, warmup, sum / (double)iterations,
           (unsigned long long)percentile(samples, iterations, 50), (unsigned long long)percentile(samples, iterations, 99),
           (unsigned long long)samples[0], (unsigned long long)samples[iterations - 1]);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, tasks;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &tasks);

    enum op op;
    long sizes[64] = {8, 1 << 10, 16 << 10, 128 << 10, 1 << 20};
    int nsizes = 5;
    long iterations_given = 0, warmup_given = -1;
    const char *usage = "usage: mpi-collectives barrier|bcast|reduce [-sizes LIST] [-i N] [-x N]\n";
    if (argc < 2) goto bad;
    if (strcmp(argv[1], "barrier") == 0) op = OP_BARRIER;
    else if (strcmp(argv[1], "bcast") == 0) op = OP_BCAST;
    else if (strcmp(argv[1], "reduce") == 0) op = OP_REDUCE;
    else goto bad;
    for (int a = 2; a < argc; a++) {
        if (a + 1 >= argc) goto bad;
        if (strcmp(argv[a], "-sizes") == 0) {
            nsizes = parse_sizes(argv[++a], sizes, 64);
            if (nsizes < 1) goto bad;
        } else if (strcmp(argv[a], "-i") == 0) {
            iterations_given = atol(argv[++a]);
            if (iterations_given < 1) goto bad;
        } else if (strcmp(argv[a], "-x") == 0) {
            warmup_given = atol(argv[++a]);
            if (warmup_given < 0) goto bad;
        } else goto bad;
    }
    if (op == OP_BARRIER) { sizes[0] = 0; nsizes = 1; }
    if (op == OP_REDUCE)
        for (int s = 0; s < nsizes; s++)
            if (sizes[s] % 8 != 0) {
                if (rank == 0) fprintf(stderr, "mpi-collectives: reduce sizes must be multiples of 8 bytes\n");
                MPI_Finalize();
                return 64;
            }

    char peer[64] = "openmpi";
#if defined(OMPI_MAJOR_VERSION)
    snprintf(peer, sizeof peer, "openmpi-%d.%d.%d", OMPI_MAJOR_VERSION, OMPI_MINOR_VERSION, OMPI_RELEASE_VERSION);
#endif
    const char *test = op == OP_BARRIER ? "barrier" : op == OP_BCAST ? "bcast" : "reduce";

    long largest = 8;
    for (int s = 0; s < nsizes; s++) if (sizes[s] > largest) largest = sizes[s];
    char *buffer = aligned_alloc(4096, (size_t)((largest + 4095) / 4096 * 4096));
    double *result = aligned_alloc(4096, (size_t)((largest + 4095) / 4096 * 4096));
    memset(buffer, 0x5a, (size_t)largest);
    if (op == OP_REDUCE)
        for (long i = 0; i < largest / 8; i++) ((double *)buffer)[i] = (double)((rank + 1) * (i % 1000 + 1));

    for (int s = 0; s < nsizes; s++) {
        long bytes = sizes[s], iterations, warmup;
        default_counts(bytes, &iterations, &warmup);
        if (iterations_given > 0) iterations = iterations_given;
        if (warmup_given >= 0) warmup = warmup_given;
        uint64_t *times = calloc((size_t)iterations, sizeof *times);
        uint64_t *sums = calloc((size_t)iterations, sizeof *sums);
        if (op == OP_BARRIER) {
            uint64_t previous = now_ns();
            for (long r = 0; r < warmup + iterations; r++) {
                MPI_Barrier(MPI_COMM_WORLD);
                uint64_t t = now_ns();
                if (r >= warmup) times[r - warmup] = t - previous;
                previous = t;
            }
            if (rank == 0) report(peer, test, tasks, bytes, iterations, warmup, times);
        } else {
            for (long r = 0; r < warmup + iterations; r++) {
                MPI_Barrier(MPI_COMM_WORLD);
                uint64_t t0 = now_ns();
                if (op == OP_BCAST)
                    MPI_Bcast(buffer, (int)bytes, MPI_BYTE, 0, MPI_COMM_WORLD);
                else
                    MPI_Reduce(buffer, result, (int)(bytes / 8), MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
                uint64_t t1 = now_ns();
                if (r >= warmup) times[r - warmup] = t1 - t0;
            }
            /* Per iteration, the mean over ranks. */
            MPI_Reduce(times, sums, (int)iterations, MPI_UINT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
            if (rank == 0) {
                for (long i = 0; i < iterations; i++) sums[i] = (sums[i] + (uint64_t)tasks / 2) / (uint64_t)tasks;
                report(peer, test, tasks, bytes, iterations, warmup, sums);
            }
        }
        free(times);
        free(sums);
    }
    free(buffer);
    free(result);
    MPI_Finalize();
    return 0;

bad:
    if (rank == 0) fputs(usage, stderr);
    MPI_Finalize();
    return 64;
}
