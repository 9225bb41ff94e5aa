/*
 * Header hygiene: this file must compile without a single warning as
 * C89 (-std=c89 -pedantic -Wall -Wextra -Werror), C99, C11 and as C++
 * (c++ -x c++ -Wall -Wextra -Werror), and link against libpvm3 (and
 * libgpvm3 with -DCLIB_WITH_GROUPS). It takes the address of every
 * function pvm3.h declares, so a prototype that does not match an exported
 * symbol fails to link, and checks the structure layouts at compile time.
 */
#include "pvm3.h"
#include "pvm3.h"   /* a second inclusion must be harmless */
#include <stdio.h>
#include <stddef.h>

/* compile-time checks (C89 has no static_assert) */
typedef char check_hostinfo[sizeof(struct pvmhostinfo) == 32 ? 1 : -1];
typedef char check_taskinfo[sizeof(struct pvmtaskinfo) == 32 ? 1 : -1];
typedef char check_minfo[sizeof(struct pvmminfo) == 32 ? 1 : -1];
typedef char check_mboxinfo[sizeof(struct pvmmboxinfo) == 40 ? 1 : -1];
typedef char check_ti_pid[offsetof(struct pvmtaskinfo, ti_pid) == 24 ? 1 : -1];
typedef char check_hi_dsig[offsetof(struct pvmhostinfo, hi_dsig) == 28 ? 1 : -1];
typedef char check_mi_flags[offsetof(struct pvmmboxinfo, mi_flags) == 32 ? 1 : -1];

typedef void (*anyfn)(void);

static const anyfn functions[] = {
    (anyfn)pvm_mytid, (anyfn)pvm_parent, (anyfn)pvm_exit, (anyfn)pvm_siblings,
    (anyfn)pvm_tidtohost, (anyfn)pvm_spawn, (anyfn)pvm_kill, (anyfn)pvm_sendsig,
    (anyfn)pvm_pstat, (anyfn)pvm_tasks, (anyfn)pvm_config, (anyfn)pvm_addhosts,
    (anyfn)pvm_delhosts, (anyfn)pvm_mstat, (anyfn)pvm_archcode, (anyfn)pvm_hostsync,
    (anyfn)pvm_halt, (anyfn)pvm_start_pvmd, (anyfn)pvm_catchout, (anyfn)pvm_export,
    (anyfn)pvm_unexport, (anyfn)pvm_getfds, (anyfn)pvm_getnoresets, (anyfn)pvm_tickle,
    (anyfn)pvm_version, (anyfn)pvm_setopt, (anyfn)pvm_getopt, (anyfn)pvm_perror,
    (anyfn)pvm_strerror, (anyfn)pvm_notify, (anyfn)pvm_newcontext, (anyfn)pvm_setcontext,
    (anyfn)pvm_getcontext, (anyfn)pvm_freecontext, (anyfn)pvm_initsend, (anyfn)pvm_mkbuf,
    (anyfn)pvm_freebuf, (anyfn)pvm_getsbuf, (anyfn)pvm_getrbuf, (anyfn)pvm_setsbuf,
    (anyfn)pvm_setrbuf, (anyfn)pvm_bufinfo, (anyfn)pvm_getminfo, (anyfn)pvm_setminfo,
    (anyfn)pvm_pkmesg, (anyfn)pvm_pkmesgbody, (anyfn)pvm_upkmesg, (anyfn)pvm_pkbyte,
    (anyfn)pvm_pkcplx, (anyfn)pvm_pkdcplx, (anyfn)pvm_pkdouble, (anyfn)pvm_pkfloat,
    (anyfn)pvm_pkint, (anyfn)pvm_pkuint, (anyfn)pvm_pklong, (anyfn)pvm_pkulong,
    (anyfn)pvm_pkshort, (anyfn)pvm_pkushort, (anyfn)pvm_pkstr, (anyfn)pvm_packf,
    (anyfn)pvm_upkbyte, (anyfn)pvm_upkcplx, (anyfn)pvm_upkdcplx, (anyfn)pvm_upkdouble,
    (anyfn)pvm_upkfloat, (anyfn)pvm_upkint, (anyfn)pvm_upkuint, (anyfn)pvm_upklong,
    (anyfn)pvm_upkulong, (anyfn)pvm_upkshort, (anyfn)pvm_upkushort, (anyfn)pvm_upkstr,
    (anyfn)pvm_unpackf, (anyfn)pvm_send, (anyfn)pvm_mcast, (anyfn)pvm_psend,
    (anyfn)pvm_recv, (anyfn)pvm_nrecv, (anyfn)pvm_trecv, (anyfn)pvm_probe,
    (anyfn)pvm_precv, (anyfn)pvm_recvf, (anyfn)pvm_addmhf, (anyfn)pvm_delmhf,
    (anyfn)pvm_putinfo, (anyfn)pvm_recvinfo, (anyfn)pvm_delinfo, (anyfn)pvm_getmboxinfo,
    (anyfn)pvm_insert, (anyfn)pvm_lookup, (anyfn)pvm_delete, (anyfn)pvm_reg_hoster,
    (anyfn)pvm_reg_rm, (anyfn)pvm_reg_tasker, (anyfn)pvm_reg_tracer,
    (anyfn)pvmgetrsh, (anyfn)pvmgettmp, (anyfn)pvmtmpnam,
#ifdef CLIB_WITH_GROUPS
    (anyfn)pvm_joingroup, (anyfn)pvm_lvgroup, (anyfn)pvm_gsize, (anyfn)pvm_getinst,
    (anyfn)pvm_gettid, (anyfn)pvm_barrier, (anyfn)pvm_bcast, (anyfn)pvm_freezegroup,
    (anyfn)pvm_reduce, (anyfn)pvm_gather, (anyfn)pvm_scatter,
    (anyfn)PvmMax, (anyfn)PvmMin, (anyfn)PvmSum, (anyfn)PvmProduct,
#endif
    0
};

/* typed uses: the prototypes accept what PVM programs pass */
static int typed_uses(void)
{
    struct timeval tv;
    struct pvmminfo mi;
    struct pvmhostinfo *hosts = 0;
    struct pvmtaskinfo *tasks = 0;
    struct pvmmboxinfo *classes = 0;
    int n = 0, narch = 0, x = 0, *tids = 0;
    char name[PVMTMPNAMLEN];
    int (*match)(int, int, int) = 0;

    tv.tv_sec = 0;
    tv.tv_usec = 0;
    (void)name;
    if (n) {
        pvm_trecv(-1, -1, &tv);
        pvm_getminfo(0, &mi);
        pvm_config(&n, &narch, &hosts);
        pvm_tasks(0, &n, &tasks);
        pvm_getmboxinfo(name, &n, &classes);
        pvm_siblings(&tids);
        pvm_recvf(match);
        pvm_catchout(stdout);
        pvm_upkint(&x, 1, 1);
        pvm_packf("%d", x);
    }
    return pvm_errno + pvm_nerr + (pvm_errlist[0] != 0) + PvmMboxDirectIndex(1);
}

int main(void)
{
    int n = 0;
    while (functions[n]) n++;
    printf("functions: %d\n", n);
    printf("version: %s\n", pvm_version());
    printf("typed uses: %d\n", typed_uses());
    return 0;
}
