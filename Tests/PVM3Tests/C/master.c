/*
 * Master and workers: the master spawns N C workers by name ("worker sum"),
 * hands each a slice of numbers (pvm_initsend/pvm_pkint/pvm_send), checks
 * the sums they send back, their view of pvm_siblings and pvm_parent,
 * multicasts "quit", and collects their PvmTaskExit notifications.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pvm3.h"

#define SHOW(e) printf("%s = %d\n", #e, (int)(e))
#define YESNO(e) printf("%s: %s\n", #e, (e) ? "yes" : "no")
#define MAXW 16

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 4;
    int tids[MAXW], i, k, me, numt, got, expected, ok;
    int sums[MAXW], nsibs[MAXW], oksib[MAXW], okpar[MAXW], seen[MAXW];
    char *args[] = { "sum", 0 };
    int ntask = 0;
    struct pvmtaskinfo *ti;
    setvbuf(stdout, 0, _IOLBF, 0);   /* lines survive a kill on timeout */

    if (n > MAXW) n = MAXW;
    me = pvm_mytid();
    YESNO(me > 0);
    numt = pvm_spawn("worker", args, PvmTaskDefault, "", n, tids);
    printf("spawned %d of %d\n", numt, n);
    if (numt != n) { pvm_exit(); return 1; }
    ok = 1;
    for (i = 0; i < n; i++) if (tids[i] <= 0 || tids[i] == me) ok = 0;
    for (i = 1; i < n; i++) if (tids[i] == tids[i - 1]) ok = 0;
    YESNO(ok);
    SHOW(pvm_notify(PvmTaskExit, 99, n, tids));

    /* the workers are ours: pvm_tasks shows them with us as parent */
    SHOW(pvm_tasks(0, &ntask, &ti));
    got = 0;
    for (k = 0; k < ntask; k++)
        for (i = 0; i < n; i++)
            if (ti[k].ti_tid == tids[i] && ti[k].ti_ptid == me && strcmp(ti[k].ti_a_out, "worker") == 0
                && ti[k].ti_pid > 0 && ti[k].ti_host == pvm_tidtohost(me))
                got++;
    printf("workers listed by pvm_tasks with parent, name, pid and host: %d\n", got);

    for (i = 0; i < n; i++) {
        int v[64], cnt = 10 + i;
        for (k = 0; k < cnt; k++) v[k] = i * 100 + k;
        pvm_initsend(PvmDataDefault);
        pvm_pkint(&i, 1, 1);
        pvm_pkint(&cnt, 1, 1);
        pvm_pkint(v, cnt, 1);
        if (pvm_send(tids[i], 1) < 0) printf("send to worker %d failed\n", i);
    }
    memset(seen, 0, sizeof seen);
    for (got = 0; got < n; got++) {
        int idx, src = 0, buf = pvm_recv(-1, 2);
        pvm_bufinfo(buf, 0, 0, &src);
        pvm_upkint(&idx, 1, 1);
        if (idx < 0 || idx >= n) { printf("bad index %d\n", idx); continue; }
        pvm_upkint(&sums[idx], 1, 1);
        pvm_upkint(&nsibs[idx], 1, 1);
        pvm_upkint(&oksib[idx], 1, 1);
        pvm_upkint(&okpar[idx], 1, 1);
        seen[idx] = src == tids[idx];
    }
    for (i = 0; i < n; i++) {
        int cnt = 10 + i;
        expected = i * 100 * cnt + cnt * (cnt - 1) / 2;
        printf("worker %d: sum %s, siblings %d, in sibling list %s, parent %s, reply from it %s\n", i,
               sums[i] == expected ? "right" : "WRONG", nsibs[i], oksib[i] ? "yes" : "no",
               okpar[i] ? "yes" : "no", seen[i] ? "yes" : "no");
    }

    pvm_initsend(PvmDataDefault);
    SHOW(pvm_mcast(tids, n, 3));
    ok = 1;
    memset(seen, 0, sizeof seen);
    for (got = 0; got < n; got++) {
        int src = 0, tag = 0, who = 0, buf = pvm_recv(-1, 99);
        pvm_bufinfo(buf, 0, &tag, &src);
        pvm_upkint(&who, 1, 1);
        if (src != (int)0x80000000) ok = 0;
        for (i = 0; i < n; i++) if (tids[i] == who) seen[i]++;
    }
    YESNO(ok);
    ok = 1;
    for (i = 0; i < n; i++) if (seen[i] != 1) ok = 0;
    printf("one exit notice per worker: %s\n", ok ? "yes" : "no");
    for (i = 0; i < n; i++) if (pvm_pstat(tids[i]) != PvmNoTask) printf("worker %d still there\n", i);
    SHOW(pvm_exit());
    return 0;
}
