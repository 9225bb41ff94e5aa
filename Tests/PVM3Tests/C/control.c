/*
 * Task and virtual machine control: pvm_config, pvm_mstat, pvm_archcode,
 * pvm_tasks, pvm_pstat, pvm_spawn (its error conventions), pvm_notify,
 * pvm_kill, pvm_sendsig, pvm_export/pvm_unexport (seen by a spawned
 * worker), pvm_hostsync, pvm_tickle, pvm_getnoresets, and a child's
 * pvm_parent/pvm_getcontext.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>
#include <sys/time.h>
#include "pvm3.h"

extern int pvm_errno;

#define SHOW(e) printf("%s = %d\n", #e, (int)(e))
#define SHOWX(e) printf("%s = 0x%x\n", #e, (unsigned)(e))
#define YESNO(e) printf("%s: %s\n", #e, (e) ? "yes" : "no")

static int me;

static int recv_int(int tid, int tag, int *src)
{
    int v = -1, buf = pvm_recv(tid, tag);
    if (src) pvm_bufinfo(buf, 0, 0, src);
    pvm_upkint(&v, 1, 1);
    return v;
}

static const char *env_or_empty(const char *name)
{
    const char *v = getenv(name);
    return v ? v : "(unset)";
}

int main(void)
{
    int nhost = -1, narch = -1, ntask = -1, i, k, host, tids[4], src, numt, found;
    struct pvmhostinfo *hi = 0;
    struct pvmtaskinfo *ti = 0;
    char hostname[256], *sleepargs[] = { "sleep", 0 };
    struct timeval clk, delta;
    setvbuf(stdout, 0, _IOLBF, 0);   /* lines survive a kill on timeout */

    me = pvm_mytid();
    host = pvm_tidtohost(me);
    pvm_setopt(PvmAutoErr, 0);
    gethostname(hostname, sizeof hostname);
    hostname[sizeof hostname - 1] = 0;
    if (strchr(hostname, '.')) *strchr(hostname, '.') = 0;

    printf("== config\n");
    SHOW(pvm_config(&nhost, &narch, &hi));
    SHOW(nhost);
    SHOW(narch);
    YESNO(hi[0].hi_tid == host);
    YESNO(strcmp(hi[0].hi_name, hostname) == 0);
    printf("hi_arch = %s\n", hi[0].hi_arch);
    SHOW(hi[0].hi_speed);
    SHOWX(hi[0].hi_dsig);
    SHOW(pvm_config(0, 0, 0));

    printf("== mstat, archcode\n");
    SHOW(pvm_mstat(hi[0].hi_name));
    SHOW(pvm_mstat("no.such.host.invalid"));
    SHOW(pvm_mstat(""));
    SHOW(pvm_mstat(0));
    SHOWX(pvm_archcode("LINUX64"));
    SHOW(pvm_archcode("SUN4"));
    SHOW(pvm_archcode(""));
    SHOW(pvm_archcode(0));

    printf("== tasks, pstat\n");
    SHOW(pvm_tasks(0, &ntask, &ti));
    found = 0;
    for (k = 0; k < ntask; k++)
        if (ti[k].ti_tid == me) {
            found = 1;
            printf("self: ptid %d, host is mine %s, flag 0x%x, a_out [%s], pid is mine %s\n", ti[k].ti_ptid,
                   ti[k].ti_host == host ? "yes" : "no", ti[k].ti_flag, ti[k].ti_a_out,
                   ti[k].ti_pid == getpid() ? "yes" : "no");
        }
    YESNO(found);
    SHOW(pvm_tasks(me, &ntask, &ti));
    SHOW(ntask);
    YESNO(ntask == 1 && ti[0].ti_tid == me);
    SHOW(pvm_tasks(host, &ntask, &ti));
    YESNO(ntask >= 1);
    SHOW(pvm_tasks(0x40fff, &ntask, &ti));
    SHOW(ntask);
    SHOW(pvm_tasks(-1, &ntask, &ti));
    SHOW(pvm_tasks(0x1c0000, &ntask, &ti));
    SHOW(pvm_tasks(0, 0, 0));
    SHOW(pvm_pstat(me));
    SHOW(pvm_pstat(0x40fff));
    SHOW(pvm_pstat(0));
    SHOW(pvm_pstat(-1));
    SHOW(pvm_pstat(0x80040000));

    printf("== spawn errors\n");
    tids[0] = tids[1] = tids[2] = 12345;
    SHOW(pvm_spawn("no-such-program", 0, PvmTaskDefault, 0, 3, tids));
    printf("tids = %d %d %d\n", tids[0], tids[1], tids[2]);
    SHOW(pvm_spawn("worker", sleepargs, PvmTaskDefault, 0, 0, tids));
    SHOW(pvm_spawn("worker", sleepargs, PvmTaskDefault, 0, -1, tids));
    tids[0] = 12345;
    SHOW(pvm_spawn("worker", sleepargs, PvmTaskHost, "no.such.host.invalid", 1, tids));
    SHOW(tids[0]);
    tids[0] = 12345;
    SHOW(pvm_spawn("worker", sleepargs, PvmTaskArch, "SUN4", 1, tids));
    SHOW(tids[0]);
    tids[0] = 12345;
    SHOW(pvm_spawn("worker", sleepargs, PvmTaskHost | PvmHostCompl, hi[0].hi_name, 1, tids));
    SHOW(tids[0]);

    printf("== notify\n");
    tids[0] = 0x40fff;
    SHOW(pvm_notify(PvmTaskExit, 50, 1, tids));    /* already gone: at once */
    SHOWX(recv_int(-1, 50, &src));
    SHOWX(src);
    SHOW(pvm_notify(99, 50, 1, tids));
    SHOW(pvm_notify(0, 50, 1, tids));
    SHOW(pvm_notify(PvmTaskExit, -1, 1, tids));
    SHOW(pvm_notify(PvmHostDelete, 51, 1, &host));
    SHOW(pvm_notify(PvmHostDelete | PvmNotifyCancel, 51, 1, &host));
    SHOWX(recv_int(-1, 51, &src));
    SHOWX(src);

    printf("== kill, sendsig\n");
    numt = pvm_spawn("worker", sleepargs, PvmTaskDefault, "", 3, tids);
    SHOW(numt);
    for (i = 0; i < numt; i++) recv_int(tids[i], 5, 0);
    SHOW(pvm_pstat(tids[0]));
    SHOW(pvm_tasks(tids[0], &ntask, &ti));
    printf("child: ntask %d, parent is me %s, flag 0x%x, a_out [%s]\n", ntask,
           ntask == 1 && ti[0].ti_ptid == me ? "yes" : "no", ntask == 1 ? ti[0].ti_flag : -1,
           ntask == 1 ? ti[0].ti_a_out : "");
    SHOW(pvm_notify(PvmTaskExit, 52, 3, tids));
    SHOW(pvm_kill(tids[0]));
    YESNO(recv_int(-1, 52, &src) == tids[0]);
    SHOW(pvm_pstat(tids[0]));
    SHOW(pvm_kill(tids[0]));                       /* already dead */
    SHOW(pvm_sendsig(tids[1], SIGTERM));
    YESNO(recv_int(-1, 52, &src) == tids[1]);
    SHOW(pvm_sendsig(tids[2], SIGKILL));
    YESNO(recv_int(-1, 52, &src) == tids[2]);
    SHOW(pvm_kill(0x40fff));
    SHOW(pvm_sendsig(0x40fff, SIGTERM));
    SHOW(pvm_kill(0));
    SHOW(pvm_kill(-1));
    SHOW(pvm_sendsig(0, SIGTERM));

    printf("== export\n");
    unsetenv("PVM_EXPORT");
    setenv("CLIB_ONE", "first value", 1);
    setenv("CLIB_TWO", "second", 1);
    SHOW(pvm_export("CLIB_ONE"));
    printf("PVM_EXPORT = %s\n", env_or_empty("PVM_EXPORT"));
    SHOW(pvm_export("CLIB_TWO"));
    SHOW(pvm_export("CLIB_ONE"));
    printf("PVM_EXPORT = %s\n", env_or_empty("PVM_EXPORT"));
    {
        char *args[] = { "env", "CLIB_ONE", 0 }, value[64];
        if (pvm_spawn("worker", args, PvmTaskDefault, 0, 1, tids) == 1) {
            pvm_recv(tids[0], 6);
            pvm_upkstr(value);
            printf("worker sees CLIB_ONE = %s\n", value);
        }
        args[1] = "CLIB_THREE";
        setenv("CLIB_THREE", "not exported", 1);
        if (pvm_spawn("worker", args, PvmTaskDefault, 0, 1, tids) == 1) {
            pvm_recv(tids[0], 6);
            pvm_upkstr(value);
            printf("worker sees CLIB_THREE = %s\n", value);
        }
    }
    SHOW(pvm_unexport("CLIB_ONE"));
    printf("PVM_EXPORT = %s\n", env_or_empty("PVM_EXPORT"));
    SHOW(pvm_unexport("CLIB_NONE"));
    SHOW(pvm_unexport("CLIB_TWO"));
    printf("PVM_EXPORT = [%s]\n", env_or_empty("PVM_EXPORT"));

    printf("== child's parent and context\n");
    {
        char *args[] = { "parent", 0 };
        int ctx = pvm_newcontext(), old = pvm_setcontext(ctx), cparent = 0, cctx = 0;
        if (pvm_spawn("worker", args, PvmTaskDefault, 0, 1, tids) == 1) {
            pvm_recv(tids[0], 7);
            pvm_upkint(&cparent, 1, 1);
            pvm_upkint(&cctx, 1, 1);
            YESNO(cparent == me);
            YESNO(cctx == ctx);
        }
        pvm_setcontext(old);
        pvm_freecontext(ctx);
        if (pvm_spawn("worker", args, PvmNoSpawnParent, 0, 1, tids) == 1) {
            /* it cannot reply to its parent: watch it exit instead */
            pvm_notify(PvmTaskExit, 53, 1, tids);
            YESNO(recv_int(-1, 53, &src) == tids[0]);
        }
    }

    printf("== hostsync, tickle, getnoresets\n");
    memset(&delta, 0x7f, sizeof delta);
    SHOW(pvm_hostsync(host, &clk, &delta));
    YESNO(clk.tv_sec > 1000000000);
    YESNO(delta.tv_usec >= 0 && delta.tv_usec < 1000000);
    YESNO(delta.tv_sec >= -1 && delta.tv_sec <= 0);
    SHOW(pvm_hostsync(0x1c0000, &clk, &delta));
    {
        int args[2] = { 0, 0 }, nresp = -1, resp[16];
        SHOW(pvm_tickle(0, args, &nresp, resp));
        SHOW(pvm_tickle(-1, args, &nresp, resp));
    }
    {
        int *nr = 0, nn = -1;
        SHOW(pvm_getnoresets(&nr, &nn));
        SHOW(nn);
    }
    SHOW(pvm_exit());
    return 0;
}
