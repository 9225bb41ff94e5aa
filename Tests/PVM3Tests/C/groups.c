/*
 * Dynamic groups (libgpvm3): the root joins "clib.group" and spawns three
 * copies of this program ("groups member"); all four join, meet at
 * pvm_barrier, and run pvm_bcast, pvm_reduce (PvmSum, PvmMax, PvmMin,
 * PvmProduct and a function of our own), pvm_gather and pvm_scatter; then
 * pvm_getinst/pvm_gettid/pvm_gsize, the error codes, pvm_lvgroup and
 * pvm_freezegroup. Only the root prints; members report to it by message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include "pvm3.h"

#define SHOW(e) printf("%s = %d\n", #e, (int)(e))
#define YESNO(e) printf("%s: %s\n", #e, (e) ? "yes" : "no")
#define G "clib.group"
#define N 4

static void maxabs(int *datatype, void *x, void *y, int *num, int *info)
{
    int i, *a = (int *)x, *b = (int *)y;
    *info = PvmOk;
    if (*datatype != PVM_INT) { *info = PvmBadParam; return; }
    for (i = 0; i < *num; i++)
        if (abs(b[i]) > abs(a[i])) a[i] = b[i];
}

/* what every member (root included) does once all have joined */
static int collective(int inst, int report)
{
    int v[3], all[3 * N], mine[2], parts[2 * N], i, rc, tag, bc = -1, ok = 1;
    char line[256];

    /* bcast: from instance 0 to the others */
    if (inst == 0) {
        pvm_initsend(PvmDataDefault);
        bc = 4242;
        pvm_pkint(&bc, 1, 1);
        rc = pvm_bcast(G, 20);
        if (report) printf("pvm_bcast = %d\n", rc);
    } else {
        pvm_recv(-1, 20);
        pvm_upkint(&bc, 1, 1);
        if (bc != 4242) ok = 0;
    }
    pvm_barrier(G, N);

    /* reduce into instance 0 */
    v[0] = inst + 1; v[1] = -(inst + 1) * 10; v[2] = 2;
    rc = pvm_reduce(PvmSum, v, 3, PVM_INT, 21, G, 0);
    if (report) printf("PvmSum: rc %d, %d %d %d\n", rc, v[0], v[1], v[2]);
    pvm_barrier(G, N);
    v[0] = inst + 1; v[1] = -(inst + 1) * 10; v[2] = 2;
    rc = pvm_reduce(PvmMax, v, 3, PVM_INT, 22, G, 0);
    if (report) printf("PvmMax: rc %d, %d %d %d\n", rc, v[0], v[1], v[2]);
    pvm_barrier(G, N);
    v[0] = inst + 1; v[1] = -(inst + 1) * 10; v[2] = 2;
    rc = pvm_reduce(PvmMin, v, 3, PVM_INT, 23, G, 0);
    if (report) printf("PvmMin: rc %d, %d %d %d\n", rc, v[0], v[1], v[2]);
    pvm_barrier(G, N);
    v[0] = inst + 1; v[1] = -(inst + 1) * 10; v[2] = 2;
    rc = pvm_reduce(PvmProduct, v, 3, PVM_INT, 24, G, 0);
    if (report) printf("PvmProduct: rc %d, %d %d %d\n", rc, v[0], v[1], v[2]);
    pvm_barrier(G, N);
    v[0] = inst + 1; v[1] = -(inst + 1) * 10; v[2] = 2;
    rc = pvm_reduce(maxabs, v, 3, PVM_INT, 25, G, 0);
    if (report) printf("own function: rc %d, %d %d %d\n", rc, v[0], v[1], v[2]);
    pvm_barrier(G, N);
    {
        double d[2];
        d[0] = 0.5 * (inst + 1); d[1] = inst;
        rc = pvm_reduce(PvmSum, d, 2, PVM_DOUBLE, 26, G, 0);
        if (report) printf("PvmSum doubles: rc %d, %g %g\n", rc, d[0], d[1]);
    }
    pvm_barrier(G, N);

    /* gather into instance 0: instance i's two ints at offset 2i */
    mine[0] = inst * 100; mine[1] = inst * 100 + 1;
    memset(parts, 0, sizeof parts);
    rc = pvm_gather(parts, mine, 2, PVM_INT, 27, G, 0);
    if (report) {
        sprintf(line, "gather: rc %d,", rc);
        for (i = 0; i < 2 * N; i++) sprintf(line + strlen(line), " %d", parts[i]);
        printf("%s\n", line);
    }
    pvm_barrier(G, N);

    /* scatter from instance 0: instance i gets all[3i..3i+2] */
    for (i = 0; i < 3 * N; i++) all[i] = i;
    memset(v, 0, sizeof v);
    rc = pvm_scatter(v, all, 3, PVM_INT, 28, G, 0);
    if (v[0] != 3 * inst || v[1] != 3 * inst + 1 || v[2] != 3 * inst + 2) ok = 0;
    if (report) printf("scatter: rc %d, mine %d %d %d\n", rc, v[0], v[1], v[2]);
    pvm_barrier(G, N);
    (void)tag;
    return ok;
}

int main(int argc, char **argv)
{
    int me = pvm_mytid(), inst, tids[N], i, ok, all_ok = 1;
    char *args[] = { "member", 0 };
    setvbuf(stdout, 0, _IOLBF, 0);   /* lines survive a kill on timeout */

    if (argc > 1 && strcmp(argv[1], "member") == 0) {
        int parent = pvm_parent();
        inst = pvm_joingroup(G);
        ok = 0;
        if (inst >= 0) {               /* without a group there is nothing to wait for */
            pvm_barrier(G, N);
            ok = collective(inst, 0);
        }
        pvm_initsend(PvmDataDefault);
        pvm_pkint(&inst, 1, 1);
        pvm_pkint(&ok, 1, 1);
        pvm_send(parent, 30);
        pvm_recv(parent, 31);              /* stay in the group until told */
        pvm_lvgroup(G);
        pvm_exit();
        return 0;
    }

    pvm_setopt(PvmAutoErr, 0);
    SHOW(pvm_joingroup(G));
    SHOW(pvm_joingroup(G));
    SHOW(pvm_joingroup(""));
    SHOW(pvm_gsize(G));
    SHOW(pvm_spawn("groups", args, PvmTaskDefault, 0, N - 1, tids));
    SHOW(pvm_barrier(G, N));
    SHOW(pvm_gsize(G));
    all_ok = collective(0, 1);
    for (i = 0; i < N - 1; i++) {
        int minst = -1, mok = 0;
        struct timeval tv;
        tv.tv_sec = 5; tv.tv_usec = 0;
        if (pvm_trecv(-1, 30, &tv) <= 0) { printf("a member did not report\n"); all_ok = 0; break; }
        pvm_upkint(&minst, 1, 1);
        pvm_upkint(&mok, 1, 1);
        if (!mok) all_ok = 0;
    }
    printf("members saw the broadcast and their scatter part: %s\n", all_ok ? "yes" : "no");
    SHOW(pvm_getinst(G, me));
    ok = 1;
    for (i = 0; i < N - 1; i++) {
        int in = pvm_getinst(G, tids[i]);
        if (in < 1 || in >= N || pvm_gettid(G, in) != tids[i]) ok = 0;
    }
    printf("getinst/gettid agree for the members: %s\n", ok ? "yes" : "no");
    YESNO(pvm_gettid(G, 0) == me);
    SHOW(pvm_gettid(G, 99));
    SHOW(pvm_getinst(G, 0x40fff));
    SHOW(pvm_getinst("clib.nogroup", me));
    SHOW(pvm_gsize("clib.nogroup"));
    SHOW(pvm_reduce(PvmSum, tids, 1, 99, 40, G, 0));
    SHOW(pvm_lvgroup("clib.nogroup"));
    pvm_initsend(PvmDataDefault);
    pvm_mcast(tids, N - 1, 31);
    for (i = 0; i < 50 && pvm_gsize(G) > 1; i++) {
        struct timeval tv;
        tv.tv_sec = 0; tv.tv_usec = 100000;
        pvm_trecv(-1, 12345, &tv);
    }
    SHOW(pvm_gsize(G));
    SHOW(pvm_lvgroup(G));
    SHOW(pvm_gsize(G));
    SHOW(pvm_lvgroup(G));
    SHOW(pvm_joingroup("clib.frozen"));
    SHOW(pvm_freezegroup("clib.frozen", -1));
    SHOW(pvm_gsize("clib.frozen"));
    SHOW(pvm_exit());
    return 0;
}
