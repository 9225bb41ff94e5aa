/*
 * spawn16.c - spawn cost of a PVM 3.4 virtual machine.
 *
 * Parent mode (started from a shell, already enrolled in a running pvmd):
 *   spawn16 [-n N] [-r R] [-w W] [-p PEER]
 * spawns N copies of this same binary (by absolute path, so nothing has to be
 * installed in $HOME/pvm3/bin/$PVM_ARCH) in child mode; each child sends its
 * tid back to the parent and exits. One repetition is timed from just before
 * pvm_spawn() to the arrival of the N-th tid. Before the next repetition the
 * parent waits (untimed) for the N PvmTaskExit notifications, so the
 * repetitions do not overlap. W untimed warm-up repetitions come first
 * (default 1). Prints one JSON line.
 *
 * Child mode: spawn16 --child
 *
 * Written for this project; uses only the documented PVM 3.4 C interface.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <pvm3.h>

#define TAG_HELLO 7001
#define TAG_EXIT  7002
#define RECV_TIMEOUT_S 30

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return (n % 2) ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

static int child_main(void)
{
    int me = pvm_mytid();
    int parent = pvm_parent();
    if (me < 0 || parent < 0) {
        pvm_exit();
        return 1;
    }
    pvm_initsend(PvmDataRaw);
    pvm_pkint(&me, 1, 1);
    pvm_send(parent, TAG_HELLO);
    pvm_exit();
    return 0;
}

/* receive with a timeout so a lost child cannot hang the benchmark */
static int trecv(int tid, int tag)
{
    struct timeval tmo = { RECV_TIMEOUT_S, 0 };
    int bufid = pvm_trecv(tid, tag, &tmo);
    if (bufid == 0) {
        fprintf(stderr, "spawn16: no message tag %d within %d s\n", tag,
                RECV_TIMEOUT_S);
        return -1;
    }
    if (bufid < 0) {
        pvm_perror("spawn16: pvm_trecv");
        return -1;
    }
    return bufid;
}

/* one repetition; returns the wall time in microseconds, or < 0 on error */
static double one_round(const char *self, int n, int *tids)
{
    char *child_argv[] = { "--child", NULL };
    double t0 = now_us();
    int started = pvm_spawn((char *)self, child_argv, PvmTaskDefault, "", n,
                            tids);
    if (started < n) {
        fprintf(stderr, "spawn16: pvm_spawn started %d of %d\n", started, n);
        for (int i = 0; i < n; i++)
            if (i >= started || tids[i] < 0)
                fprintf(stderr, "  tids[%d] = %d\n", i, tids[i]);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        int who;
        if (trecv(-1, TAG_HELLO) < 0)
            return -1;
        pvm_upkint(&who, 1, 1);
    }
    double dt = now_us() - t0;

    /* untimed: wait until every child has left the virtual machine.
     * (A notify on a task that is already gone is delivered at once.) */
    if (pvm_notify(PvmTaskExit, TAG_EXIT, n, tids) < 0) {
        pvm_perror("spawn16: pvm_notify");
        return -1;
    }
    for (int i = 0; i < n; i++)
        if (trecv(-1, TAG_EXIT) < 0)
            return -1;
    return dt;
}

int main(int argc, char **argv)
{
    int n = 16, reps = 5, warm = 1;
    const char *peer = "pvm-3.4.6";

    if (argc > 1 && strcmp(argv[1], "--child") == 0)
        return child_main();

    int opt;
    while ((opt = getopt(argc, argv, "n:r:w:p:")) != -1) {
        switch (opt) {
        case 'n': n = atoi(optarg); break;
        case 'r': reps = atoi(optarg); break;
        case 'w': warm = atoi(optarg); break;
        case 'p': peer = optarg; break;
        default:
            fprintf(stderr,
                    "usage: %s [-n tasks] [-r repetitions] [-w warm-ups] "
                    "[-p peer-name]\n", argv[0]);
            return 2;
        }
    }
    if (n < 1 || reps < 1 || warm < 0) {
        fprintf(stderr, "spawn16: bad -n/-r/-w\n");
        return 2;
    }

    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) {
        perror("spawn16: readlink /proc/self/exe");
        return 1;
    }
    self[len] = '\0';

    pvm_setopt(PvmAutoErr, 0); /* we print our own errors */
    int me = pvm_mytid();
    if (me < 0) {
        fprintf(stderr, "spawn16: pvm_mytid failed (%d): is a pvmd running "
                "(PVM_TMP=%s)?\n", me, getenv("PVM_TMP") ? getenv("PVM_TMP")
                : "unset");
        return 1;
    }

    int *tids = calloc(n, sizeof *tids);
    double *per = calloc(reps, sizeof *per);
    double *tot = calloc(reps, sizeof *tot);
    if (!tids || !per || !tot) {
        fprintf(stderr, "spawn16: out of memory\n");
        pvm_exit();
        return 1;
    }

    for (int i = 0; i < warm; i++)
        if (one_round(self, n, tids) < 0)
            goto fail;
    for (int i = 0; i < reps; i++) {
        double dt = one_round(self, n, tids);
        if (dt < 0)
            goto fail;
        tot[i] = dt;
        per[i] = dt / n;
    }

    double per_min = per[0], tot_min = tot[0];
    for (int i = 1; i < reps; i++) {
        if (per[i] < per_min) per_min = per[i];
        if (tot[i] < tot_min) tot_min = tot[i];
    }
    double per_med = median(per, reps), tot_med = median(tot, reps);

    printf("{\"peer\":\"%s\",\"test\":\"spawn\",\"tasks\":%d,\"repetitions\":%d,"
           "\"per_task_us_median\":%.1f,\"per_task_us_min\":%.1f,"
           "\"total_us_median\":%.1f,\"total_us_min\":%.1f}\n",
           peer, n, reps, per_med, per_min, tot_med, tot_min);
    fflush(stdout);
    pvm_exit();
    return 0;

fail:
    pvm_exit();
    return 1;
}
