/*
 * pingpong.c - small-message latency between two PVM 3.4 tasks.
 *
 * Parent mode (started from a shell, already enrolled in a running pvmd):
 *   pingpong [-R default|direct|both] [-i iterations] [-w warm-ups]
 *            [-s bytes] [-p PEER]
 * For each routing policy asked for, the parent spawns one child (this same
 * binary by absolute path, in child mode), and the two bounce an s-byte
 * PvmDataRaw message (pvm_initsend + pvm_pkbyte + pvm_send, pvm_recv +
 * pvm_upkbyte) w times untimed, then i times, each round trip timed on its
 * own. One-way latency = round trip / 2; prints one JSON line per policy with
 * its p50 (and min, p90, mean).
 *
 * "default": PvmRoute left at its default (messages relayed by the pvmd).
 * "direct":  pvm_setopt(PvmRoute, PvmRouteDirect) in both tasks before the
 *            first message; the parent also asks for a PvmRouteAdd notify,
 *            and the JSON line says whether the direct link was seen opening.
 *
 * Child mode: pingpong --child default|direct BYTES
 *
 * Written for this project; uses only the documented PVM 3.4 C interface.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <pvm3.h>

#define TAG_PING  7101
#define TAG_PONG  7102
#define TAG_STOP  7103
#define TAG_ROUTE 7104
#define TAG_EXIT  7105
#define TAG_READY 7106
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

static double pct(const double *sorted, int n, double p)
{
    int k = (int)(p * (n - 1) + 0.5);
    return sorted[k];
}

static int trecv(int tid, int tag)
{
    struct timeval tmo = { RECV_TIMEOUT_S, 0 };
    int bufid = pvm_trecv(tid, tag, &tmo);
    if (bufid == 0) {
        fprintf(stderr, "pingpong: no message tag %d within %d s\n", tag,
                RECV_TIMEOUT_S);
        return -1;
    }
    if (bufid < 0) {
        pvm_perror("pingpong: pvm_trecv");
        return -1;
    }
    return bufid;
}

static int child_main(int direct, int bytes)
{
    int parent = pvm_parent();
    if (pvm_mytid() < 0 || parent < 0) {
        pvm_exit();
        return 1;
    }
    if (direct)
        pvm_setopt(PvmRoute, PvmRouteDirect);
    char *buf = calloc(bytes ? bytes : 1, 1);

    /* tell the parent our routing option is in place */
    pvm_initsend(PvmDataRaw);
    pvm_send(parent, TAG_READY);

    for (;;) {
        int bufid = pvm_recv(parent, -1);
        if (bufid < 0)
            break;
        int len, tag, src;
        pvm_bufinfo(bufid, &len, &tag, &src);
        if (tag != TAG_PING)
            break;
        pvm_upkbyte(buf, bytes, 1);
        pvm_initsend(PvmDataRaw);
        pvm_pkbyte(buf, bytes, 1);
        pvm_send(parent, TAG_PONG);
    }
    free(buf);
    pvm_exit();
    return 0;
}

/* one routing policy; prints its JSON line; returns 0 on success */
static int run_policy(const char *self, int direct, int iters, int warm,
                      int bytes, const char *peer)
{
    char nbytes[32];
    snprintf(nbytes, sizeof nbytes, "%d", bytes);
    char *child_argv[] = { "--child", direct ? "direct" : "default", nbytes,
                           NULL };
    int child, rc = 1, route_added = 0;
    double *rt = calloc(iters, sizeof *rt);
    char *buf = calloc(bytes ? bytes : 1, 1);
    if (!rt || !buf) {
        fprintf(stderr, "pingpong: out of memory\n");
        goto out_nochild;
    }
    for (int i = 0; i < bytes; i++)
        buf[i] = (char)i;

    pvm_setopt(PvmRoute, direct ? PvmRouteDirect : PvmAllowDirect);
    if (direct)
        pvm_notify(PvmRouteAdd, TAG_ROUTE, -1, NULL);

    if (pvm_spawn((char *)self, child_argv, PvmTaskDefault, "", 1, &child)
        != 1) {
        fprintf(stderr, "pingpong: pvm_spawn failed (%d)\n", child);
        goto out_nochild;
    }
    if (trecv(child, TAG_READY) < 0)
        goto out;

    for (int i = 0; i < warm + iters; i++) {
        double t0 = now_us();
        pvm_initsend(PvmDataRaw);
        pvm_pkbyte(buf, bytes, 1);
        if (pvm_send(child, TAG_PING) < 0) {
            pvm_perror("pingpong: pvm_send");
            goto out;
        }
        if (pvm_recv(child, TAG_PONG) < 0) {
            pvm_perror("pingpong: pvm_recv");
            goto out;
        }
        pvm_upkbyte(buf, bytes, 1);
        double dt = now_us() - t0;
        if (i >= warm)
            rt[i - warm] = dt;
    }

    if (direct) {
        int bufid;
        while ((bufid = pvm_nrecv(-1, TAG_ROUTE)) > 0)
            route_added++;
    }

    qsort(rt, iters, sizeof *rt, cmp_double);
    double sum = 0;
    for (int i = 0; i < iters; i++)
        sum += rt[i];
    printf("{\"peer\":\"%s\",\"test\":\"pingpong\",\"route\":\"%s\","
           "\"bytes\":%d,\"encoding\":\"PvmDataRaw\",\"iterations\":%d,"
           "\"one_way_us_p50\":%.2f,\"one_way_us_min\":%.2f,"
           "\"one_way_us_p90\":%.2f,\"one_way_us_mean\":%.2f",
           peer, direct ? "direct" : "default", bytes, iters,
           pct(rt, iters, 0.5) / 2, rt[0] / 2, pct(rt, iters, 0.9) / 2,
           sum / iters / 2);
    if (direct)
        printf(",\"direct_route_seen\":%s", route_added ? "true" : "false");
    printf("}\n");
    fflush(stdout);
    rc = 0;

out:
    /* stop the child and wait (bounded) for it to leave */
    pvm_notify(PvmTaskExit, TAG_EXIT, 1, &child);
    pvm_initsend(PvmDataRaw);
    pvm_send(child, TAG_STOP);
    if (trecv(-1, TAG_EXIT) < 0)
        rc = 1;
out_nochild:
    free(rt);
    free(buf);
    return rc;
}

int main(int argc, char **argv)
{
    int iters = 2000, warm = 200, bytes = 8;
    const char *routes = "both", *peer = "pvm-3.4.6";

    if (argc > 1 && strcmp(argv[1], "--child") == 0) {
        if (argc < 4)
            return 2;
        return child_main(strcmp(argv[2], "direct") == 0, atoi(argv[3]));
    }

    int opt;
    while ((opt = getopt(argc, argv, "R:i:w:s:p:")) != -1) {
        switch (opt) {
        case 'R': routes = optarg; break;
        case 'i': iters = atoi(optarg); break;
        case 'w': warm = atoi(optarg); break;
        case 's': bytes = atoi(optarg); break;
        case 'p': peer = optarg; break;
        default:
            fprintf(stderr,
                    "usage: %s [-R default|direct|both] [-i iterations] "
                    "[-w warm-ups] [-s bytes] [-p peer-name]\n", argv[0]);
            return 2;
        }
    }
    int do_default = !strcmp(routes, "default") || !strcmp(routes, "both");
    int do_direct = !strcmp(routes, "direct") || !strcmp(routes, "both");
    if ((!do_default && !do_direct) || iters < 1 || warm < 0 || bytes < 0) {
        fprintf(stderr, "pingpong: bad -R/-i/-w/-s\n");
        return 2;
    }

    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) {
        perror("pingpong: readlink /proc/self/exe");
        return 1;
    }
    self[len] = '\0';

    pvm_setopt(PvmAutoErr, 0);
    int me = pvm_mytid();
    if (me < 0) {
        fprintf(stderr, "pingpong: pvm_mytid failed (%d): is a pvmd running "
                "(PVM_TMP=%s)?\n", me, getenv("PVM_TMP") ? getenv("PVM_TMP")
                : "unset");
        return 1;
    }

    int rc = 0;
    if (do_default && run_policy(self, 0, iters, warm, bytes, peer) != 0)
        rc = 1;
    if (rc == 0 && do_direct && run_policy(self, 1, iters, warm, bytes, peer))
        rc = 1;
    pvm_exit();
    return rc;
}
