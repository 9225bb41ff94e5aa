/*
 * pvmbench-ctask: the spawned end of `pvmbench pingpong --api c` (with
 * `--route daemon` or `--route tcp` for those paths), with `--sink` or
 * `--bibw` (and `--validate`) of `pvmbench bw` and `bibw --api c`, and with
 * `--sink` and `--stream-to TID` the two ends of a `msgrate --api c` pair,
 * and with `--collective OP` a member of `collective --api c`'s group, in
 * the same protocol as pvmbench-task's (see sink(), mirror(), stream() and
 * collective() below). A C PVM
 * program like any other: it echoes every message from its parent through
 * libpvm3.so.3 (initsend, pkbyte, send; recv, upkbyte) until a message with
 * another tag. The library is loaded with dlopen from beside this program
 * (the build folder) or from ../lib (an install prefix), so that the
 * measurement goes through the shared library a PVM program would use,
 * whatever the build system links. Not meant to be run by hand.
 */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int (*p_mytid)(void);
static int (*p_parent)(void);
static int (*p_exit)(void);
static int (*p_initsend)(int);
static int (*p_pkbyte)(char *, int, int);
static int (*p_upkbyte)(char *, int, int);
static int (*p_send)(int, int);
static int (*p_recv)(int, int);
static int (*p_bufinfo)(int, int *, int *, int *);
static int (*p_setopt)(int, int);
static int (*p_pkint)(int *, int, int);
static int (*p_upkint)(int *, int, int);
static int (*p_pklong)(long *, int, int);
static int (*p_upklong)(long *, int, int);
/* The group calls (libgpvm3's, which forwards them to libpvm3: resolved
 * there directly). */
typedef void (*reduce_fn)(int *, void *, void *, int *, int *);
static int (*p_joingroup)(char *);
static int (*p_lvgroup)(char *);
static int (*p_freezegroup)(char *, int);
static int (*p_gettid)(char *, int);
static int (*p_barrier)(char *, int);
static int (*p_reduce)(reduce_fn, void *, int, int, int, char *, int);
static reduce_fn p_sum;

enum { ECHO_TAG = 1, DATA_RAW = 1, OPT_ROUTE = 1, DONT_ROUTE = 1 };
/* bw and bibw (StreamingDriver's tags). */
enum { DATA_TAG = 8, MARK_TAG = 9, ACK_TAG = 10, GO_TAG = 11, REPORT_TAG = 12 };
/* collective (CollectiveDriver's tags). */
enum { STOP_TAG = 2, JOINED_TAG = 4, BCAST_TAG = 5, REDUCE_TAG = 6, RESULT_TAG = 7, PVM_DOUBLE_TYPE = 6 };

/* Test hook (PVMBENCH_TEST_CORRUPT_ECHO=1, as pvmbench-task's): damage the
 * last byte of what this end receives (sink) or sends (echo, bibw), so
 * that the tests can see -c catch it. */
static int corrupt_for_test;

/* Byte i of message number `round` under -c (PingPongDriver.pattern). */
static unsigned char pattern(long i, long round) { return (unsigned char)(i * 31 + round * 7 + 1); }

static int holds_pattern(const char *bytes, int count, long round) {
    for (int i = 0; i < count; i++)
        if ((unsigned char)bytes[i] != pattern(i, round)) return 0;
    return 1;
}

/* Grows *buf to at least n bytes. */
static char *room(char *buf, int *capacity, int n) {
    if (n <= *capacity) return buf;
    free(buf);
    *capacity = n;
    return malloc((size_t)n);
}

/* The far end of bw and of a msgrate pair: takes in the data messages of
 * its sender (the parent for bw; unpacked; checked under -c, numbered from
 * 0) and answers each marker to its sender with its verdict, 1 when every
 * message since the last one checked out. Leaves on any other tag (the
 * parent's stop). */
static void sink(int validate) {
    int capacity = 1 << 16, valid = 1;
    long counter = 0;
    char *scratch = malloc((size_t)capacity);
    for (;;) {
        int id = p_recv(-1, -1), bytes, tag, src;
        if (id < 0 || p_bufinfo(id, &bytes, &tag, &src) < 0) break;
        if (tag == DATA_TAG) {
            scratch = room(scratch, &capacity, bytes);
            p_upkbyte(scratch, bytes, 1);
            if (corrupt_for_test && bytes > 0) scratch[bytes - 1] ^= (char)0xFF;
            if (validate && !holds_pattern(scratch, bytes, counter)) valid = 0;
            counter++;
        } else if (tag == MARK_TAG) {
            p_initsend(DATA_RAW);
            p_pkint(&valid, 1, 1);
            p_send(src, ACK_TAG);
            valid = 1;
        } else {
            break;
        }
    }
    free(scratch);
}

/* The far end of bibw: for each go (size, window, windows), sends a window
 * and then receives one, window after window, while the parent does the
 * same (osu_bibw), then reports its verdict. Leaves on any other tag. */
static void mirror(int parent, int validate) {
    int capacity = 1 << 16, plan[3], bytes, tag, src;
    long sent = 0, received = 0;
    char *out = malloc((size_t)capacity), *in = malloc((size_t)capacity);
    for (;;) {
        int id = p_recv(parent, -1), valid = 1;
        if (id < 0 || p_bufinfo(id, &bytes, &tag, &src) < 0 || tag != GO_TAG) break;
        p_upkint(plan, 3, 1);
        if (plan[0] < 0 || plan[1] < 1 || plan[2] < 0) break;
        if (plan[0] > capacity) {
            int c = capacity;
            out = room(out, &capacity, plan[0]);
            in = room(in, &c, plan[0]);
        }
        memset(out, 0x5A, (size_t)plan[0]);
        for (int w = 0; w < plan[2]; w++) {
            for (int k = 0; k < plan[1]; k++, sent++) {
                if (validate)
                    for (int i = 0; i < plan[0]; i++) out[i] = (char)pattern(i, sent);
                if (corrupt_for_test && plan[0] > 0) out[plan[0] - 1] ^= (char)0xFF;
                p_initsend(DATA_RAW);
                p_pkbyte(out, plan[0], 1);
                p_send(parent, DATA_TAG);
            }
            for (int k = 0; k < plan[1]; k++, received++) {
                if ((id = p_recv(parent, DATA_TAG)) < 0 || p_bufinfo(id, &bytes, &tag, &src) < 0 || bytes != plan[0]) { valid = 0; continue; }
                p_upkbyte(in, bytes, 1);
                if (validate && !holds_pattern(in, bytes, received)) valid = 0;
            }
        }
        p_initsend(DATA_RAW);
        p_pkint(&valid, 1, 1);
        p_send(parent, REPORT_TAG);
    }
    free(out);
    free(in);
}

static long now_ns(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (long)ts.tv_sec * 1000000000L + ts.tv_nsec;
}

/* The sending end of a msgrate pair: for each go from the parent (size,
 * count; pklong), sends `count` data messages of `size` bytes to its sink
 * back to back (initsend, pkbyte, send), then a marker, waits for the
 * sink's verdict, and reports (elapsed ns, thread CPU ns, verdict, path 0;
 * pklong) to the parent, as pvmbench-task's stream() does. Leaves on any
 * other tag. */
static void stream(int parent, int receiver, int validate) {
    int capacity = 1 << 16, bytes, tag, src;
    long plan[2], counter = 0;
    char *out = malloc((size_t)capacity);
    memset(out, 0x5A, (size_t)capacity);
    for (;;) {
        int id = p_recv(parent, -1), valid = 0;
        if (id < 0 || p_bufinfo(id, &bytes, &tag, &src) < 0 || tag != GO_TAG) break;
        p_upklong(plan, 2, 1);
        if (plan[0] < 0 || plan[0] > INT_MAX || plan[1] < 0) break;
        if (plan[0] > capacity) {
            out = room(out, &capacity, (int)plan[0]);
            memset(out, 0x5A, (size_t)capacity);
        }
        long c0 = now_ns(CLOCK_THREAD_CPUTIME_ID), t0 = now_ns(CLOCK_MONOTONIC);
        for (long k = 0; k < plan[1]; k++, counter++) {
            if (validate)
                for (long i = 0; i < plan[0]; i++) out[i] = (char)pattern(i, counter);
            p_initsend(DATA_RAW);
            p_pkbyte(out, (int)plan[0], 1);
            if (p_send(receiver, DATA_TAG) < 0) break;
        }
        p_initsend(DATA_RAW);
        p_send(receiver, MARK_TAG);
        if ((id = p_recv(receiver, ACK_TAG)) >= 0) p_upkint(&valid, 1, 1);
        long report[4] = { now_ns(CLOCK_MONOTONIC) - t0, now_ns(CLOCK_THREAD_CPUTIME_ID) - c0, valid, 0 };
        p_initsend(DATA_RAW);
        p_pklong(report, 4, 1);
        p_send(parent, REPORT_TAG);
    }
    free(out);
}

/* Item `index` of the reduce input of `instance` in round `round`
 * (CollectiveDriver.reduceInput). */
static double reduce_input(long index, long round, int instance) {
    return (double)((instance + 1) * ((index + round) % 1000 + 1));
}

/* A member of `pvmbench collective --api c`'s group: joins, says so to the
 * parent (the root), freezes the group, runs the plan ("bytes:iterations:
 * warmup,..."; bytes 0 for the barrier), sending the parent its own times of
 * each size and its -c verdict, and leaves when told to stop: as
 * pvmbench-task's collective() does, through libpvm3's group calls. */
static int collective(const char *operation, char *group, int tasks, const char *plan, int validate) {
    int parent = p_parent(), instance = p_joingroup(group), root, largest = 8, most = 1, valid;
    long bytes, iterations, warmup;
    const char *at;
    if (instance < 0) return 1;
    p_initsend(DATA_RAW);
    p_pkint(&instance, 1, 1);
    p_send(parent, JOINED_TAG);
    if (p_freezegroup(group, tasks) < 0 || (root = p_gettid(group, 0)) < 0) return 1;
    for (at = plan; sscanf(at, "%ld:%ld:%ld", &bytes, &iterations, &warmup) == 3;) {
        if (bytes > largest) largest = (int)bytes;
        if (iterations > most) most = (int)iterations;
        if (!(at = strchr(at, ','))) break;
        at++;
    }
    char *scratch = calloc(1, (size_t)largest);
    double *values = (double *)scratch;
    long *times = calloc((size_t)most, sizeof(long));
    for (at = plan; sscanf(at, "%ld:%ld:%ld", &bytes, &iterations, &warmup) == 3;) {
        long count = bytes / 8;
        valid = 1;
        if (!strcmp(operation, "barrier")) {
            for (long r = 0; r < warmup + iterations; r++)
                if (p_barrier(group, -1) < 0) return 1;
            memset(times, 0, sizeof(long) * (size_t)iterations);
        } else if (!strcmp(operation, "bcast")) {
            for (long r = 0; r < warmup + iterations; r++) {
                int id, n, tag, src;
                if (p_barrier(group, -1) < 0) return 1;
                long t0 = now_ns(CLOCK_MONOTONIC);
                if ((id = p_recv(root, BCAST_TAG)) < 0) return 1;
                p_upkbyte(scratch, (int)bytes, 1);
                long t1 = now_ns(CLOCK_MONOTONIC);
                if (corrupt_for_test && bytes > 0) scratch[bytes - 1] ^= (char)0xFF;
                if (r >= warmup) times[r - warmup] = t1 - t0;
                if (validate && (p_bufinfo(id, &n, &tag, &src) < 0 || n != bytes || !holds_pattern(scratch, (int)bytes, r))) valid = 0;
            }
        } else if (!strcmp(operation, "reduce")) {
            for (long i = 0; i < count; i++) values[i] = reduce_input(i, 0, instance);
            for (long r = 0; r < warmup + iterations; r++) {
                if (validate)
                    for (long i = 0; i < count; i++) values[i] = reduce_input(i, r, instance);
                if (corrupt_for_test && count > 0) values[0] += 1;  /* the root's sum comes out wrong */
                if (p_barrier(group, -1) < 0) return 1;
                long t0 = now_ns(CLOCK_MONOTONIC);
                if (p_reduce(p_sum, values, (int)count, PVM_DOUBLE_TYPE, REDUCE_TAG, group, 0) < 0) return 1;
                long t1 = now_ns(CLOCK_MONOTONIC);
                if (r >= warmup) times[r - warmup] = t1 - t0;
            }
        } else {
            return 1;
        }
        p_initsend(DATA_RAW);
        p_pkint(&valid, 1, 1);
        p_pkbyte((char *)times, (int)(8 * iterations), 1);
        p_send(parent, RESULT_TAG);
        if (!(at = strchr(at, ','))) break;
        at++;
    }
    p_recv(parent, STOP_TAG);
    p_lvgroup(group);
    free(scratch);
    free(times);
    return 0;
}

static void *library(void) {
    char self[PATH_MAX], path[PATH_MAX + 32];
    const char *names[] = { "/libpvm3.so.3", "/libpvm3.so", "/../lib/libpvm3.so.3" };
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        char *slash;
        self[n] = 0;
        slash = strrchr(self, '/');
        if (slash) *slash = 0;
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            void *h;
            snprintf(path, sizeof path, "%s%s", self, names[i]);
            if ((h = dlopen(path, RTLD_NOW))) return h;
        }
    }
    return dlopen("libpvm3.so.3", RTLD_NOW);
}

static void *need(void *h, const char *name) {
    void *f = dlsym(h, name);
    if (!f) { fprintf(stderr, "pvmbench-ctask: libpvm3 has no %s\n", name); exit(1); }
    return f;
}

int main(int argc, char **argv) {
    void *h = library();
    int parent, capacity = 1 << 16, daemon_route = 0, sinking = 0, mirroring = 0, validate = 0, stream_to = 0, tasks = 0;
    const char *operation = 0, *plan = "";
    char *group = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--route") && i + 1 < argc) {
            i++;
            if (!strcmp(argv[i], "daemon")) daemon_route = 1;
            /* TCP even to the parent on this host (read at enrollment). */
            if (!strcmp(argv[i], "tcp")) setenv("PVM_TRANSPORT", "tcp", 1);
        } else if (!strcmp(argv[i], "--sink")) sinking = 1;
        else if (!strcmp(argv[i], "--bibw")) mirroring = 1;
        else if (!strcmp(argv[i], "--validate")) validate = 1;
        else if (!strcmp(argv[i], "--stream-to") && i + 1 < argc) stream_to = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--collective") && i + 1 < argc) operation = argv[++i];
        else if (!strcmp(argv[i], "--group") && i + 1 < argc) group = argv[++i];
        else if (!strcmp(argv[i], "--tasks") && i + 1 < argc) tasks = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--plan") && i + 1 < argc) plan = argv[++i];
    }
    char *scratch;
    if (!h) { fprintf(stderr, "pvmbench-ctask: cannot load libpvm3.so.3: %s\n", dlerror()); return 1; }
    *(void **)&p_mytid = need(h, "pvm_mytid");
    *(void **)&p_parent = need(h, "pvm_parent");
    *(void **)&p_exit = need(h, "pvm_exit");
    *(void **)&p_initsend = need(h, "pvm_initsend");
    *(void **)&p_pkbyte = need(h, "pvm_pkbyte");
    *(void **)&p_upkbyte = need(h, "pvm_upkbyte");
    *(void **)&p_send = need(h, "pvm_send");
    *(void **)&p_recv = need(h, "pvm_recv");
    *(void **)&p_bufinfo = need(h, "pvm_bufinfo");
    *(void **)&p_setopt = need(h, "pvm_setopt");
    *(void **)&p_pkint = need(h, "pvm_pkint");
    *(void **)&p_upkint = need(h, "pvm_upkint");
    *(void **)&p_pklong = need(h, "pvm_pklong");
    *(void **)&p_upklong = need(h, "pvm_upklong");
    *(void **)&p_joingroup = need(h, "pvm_joingroup");
    *(void **)&p_lvgroup = need(h, "pvm_lvgroup");
    *(void **)&p_freezegroup = need(h, "pvm_freezegroup");
    *(void **)&p_gettid = need(h, "pvm_gettid");
    *(void **)&p_barrier = need(h, "pvm_barrier");
    *(void **)&p_reduce = need(h, "pvm_reduce");
    *(void **)&p_sum = need(h, "PvmSum");
    corrupt_for_test = getenv("PVMBENCH_TEST_CORRUPT_ECHO") && !strcmp(getenv("PVMBENCH_TEST_CORRUPT_ECHO"), "1");
    if (p_mytid() < 0 || (parent = p_parent()) < 0) return 1;
    if (daemon_route) p_setopt(OPT_ROUTE, DONT_ROUTE);
    if (operation) {
        int rc = group && tasks > 1 ? collective(operation, group, tasks, plan, validate) : 64;
        p_exit();
        return rc;
    }
    if (sinking || mirroring || stream_to > 0) {
        if (sinking) sink(validate);
        else if (mirroring) mirror(parent, validate);
        else stream(parent, stream_to, validate);
        p_exit();
        return 0;
    }
    scratch = malloc((size_t)capacity);
    for (;;) {
        int id = p_recv(parent, -1), bytes, tag, src;
        if (id < 0 || p_bufinfo(id, &bytes, &tag, &src) < 0 || tag != ECHO_TAG) break;
        if (bytes > capacity) { free(scratch); capacity = bytes; scratch = malloc((size_t)capacity); }
        p_upkbyte(scratch, bytes, 1);
        if (corrupt_for_test && bytes > 0) scratch[bytes - 1] ^= (char)0xFF;
        p_initsend(DATA_RAW);
        p_pkbyte(scratch, bytes, 1);
        p_send(parent, ECHO_TAG);
    }
    free(scratch);
    p_exit();
    return 0;
}
