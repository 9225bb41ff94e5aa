/*
 * pvm_setopt/pvm_getopt: every option's default in a task started from the
 * shell, setopt returning the previous value, unknown options, and the
 * options this PVM does not implement (PvmPollType, PvmPollTime).
 */
#include <stdio.h>
#include "pvm3.h"

#define SHOW(e) printf("%s = %d\n", #e, (int)(e))

static const char *names[] = {
    "", "PvmRoute", "PvmDebugMask", "PvmAutoErr", "PvmOutputTid", "PvmOutputCode",
    "PvmTraceTid", "PvmTraceCode", "PvmTraceBuffer", "PvmTraceOptions", "PvmFragSize",
    "PvmResvTids", "PvmSelfOutputTid", "PvmSelfOutputCode", "PvmSelfTraceTid",
    "PvmSelfTraceCode", "PvmSelfTraceBuffer", "PvmSelfTraceOptions", "PvmShowTids",
    "PvmPollType", "PvmPollTime", "PvmOutputContext", "PvmTraceContext",
    "PvmSelfOutputContext", "PvmSelfTraceContext", "PvmNoReset"
};

int main(void)
{
    int i, autoerr;
    setvbuf(stdout, 0, _IOLBF, 0);   /* lines survive a kill on timeout */

    pvm_mytid();
    autoerr = pvm_getopt(PvmAutoErr);
    pvm_setopt(PvmAutoErr, 0);
    for (i = 1; i <= 25; i++)
        printf("getopt(%s) = %d\n", names[i], i == PvmAutoErr ? autoerr : pvm_getopt(i));
    SHOW(pvm_getopt(0));
    SHOW(pvm_getopt(26));
    SHOW(pvm_getopt(-1));
    SHOW(pvm_getopt(1000));

    SHOW(pvm_setopt(PvmAutoErr, 1));
    SHOW(pvm_setopt(PvmAutoErr, 0));
    SHOW(pvm_setopt(PvmRoute, PvmDontRoute));
    SHOW(pvm_setopt(PvmRoute, PvmRouteDirect));
    SHOW(pvm_getopt(PvmRoute));
    SHOW(pvm_setopt(PvmRoute, PvmAllowDirect));
    SHOW(pvm_setopt(PvmFragSize, 100000));
    SHOW(pvm_getopt(PvmFragSize));
    SHOW(pvm_setopt(PvmFragSize, 4080));
    SHOW(pvm_setopt(PvmShowTids, 0));
    SHOW(pvm_setopt(PvmShowTids, 1));
    SHOW(pvm_setopt(PvmOutputCode, 17));
    SHOW(pvm_getopt(PvmOutputCode));
    SHOW(pvm_setopt(PvmOutputTid, pvm_mytid()) == 0);
    SHOW(pvm_getopt(PvmOutputTid) == pvm_mytid());
    SHOW(pvm_setopt(PvmOutputTid, 0) == pvm_mytid());
    SHOW(pvm_setopt(PvmNoReset, 1));
    SHOW(pvm_getopt(PvmNoReset));
    SHOW(pvm_setopt(PvmResvTids, 1));
    SHOW(pvm_setopt(PvmResvTids, 0));
    SHOW(pvm_setopt(PvmDebugMask, 0));
    SHOW(pvm_setopt(PvmPollType, PvmPollConstant));
    SHOW(pvm_setopt(PvmPollTime, 1000));
    SHOW(pvm_setopt(0, 1));
    SHOW(pvm_setopt(26, 1));
    SHOW(pvm_setopt(-1, 1));
    SHOW(pvm_exit());
    return 0;
}
