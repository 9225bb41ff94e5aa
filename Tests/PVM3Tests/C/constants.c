/*
 * Every constant of pvm3.h and the layout of its structures, printed one
 * per line. The test compiles this file against our header and against
 * Debian's original /usr/include/pvm3.h and requires the same output; it
 * needs no virtual machine (nothing is called).
 */
#include <stdio.h>
#include <stddef.h>
#include "pvm3.h"

#define INT(name) printf("%s = %ld\n", #name, (long)(name))
#define STR(name) printf("%s = \"%s\"\n", #name, name)
#define LAYOUT(type, field) printf("%s.%s at %d size %d\n", #type, #field, \
    (int)offsetof(struct type, field), (int)sizeof(((struct type *)0)->field))

int main(void)
{
    STR(PVM_VER);
    STR(PVMNORESETCLASS);
    STR(PVMHOSTERCLASS);
    STR(PVMTASKERCLASS);
    STR(PVMTRACERCLASS);
    STR(PVMRMCLASS);
    INT(PVM_MAJOR_VERSION);
    INT(PVM_MINOR_VERSION);
    INT(PVM_PATCH_VERSION);
    INT(PvmDataDefault);
    INT(PvmDataRaw);
    INT(PvmDataInPlace);
    INT(PvmDataFoo);
    INT(PvmDataTrace);
    INT(PvmTaskDefault);
    INT(PvmTaskHost);
    INT(PvmTaskArch);
    INT(PvmTaskDebug);
    INT(PvmTaskTrace);
    INT(PvmMppFront);
    INT(PvmHostCompl);
    INT(PvmNoSpawnParent);
    INT(PvmTaskExit);
    INT(PvmHostDelete);
    INT(PvmHostAdd);
    INT(PvmRouteAdd);
    INT(PvmRouteDelete);
    INT(PvmNotifyCancel);
    INT(PvmRoute);
    INT(PvmDontRoute);
    INT(PvmAllowDirect);
    INT(PvmRouteDirect);
    INT(PvmDebugMask);
    INT(PvmAutoErr);
    INT(PvmOutputTid);
    INT(PvmOutputCode);
    INT(PvmTraceTid);
    INT(PvmTraceCode);
    INT(PvmTraceBuffer);
    INT(PvmTraceOptions);
    INT(PvmTraceFull);
    INT(PvmTraceTime);
    INT(PvmTraceCount);
    INT(PvmFragSize);
    INT(PvmResvTids);
    INT(PvmSelfOutputTid);
    INT(PvmSelfOutputCode);
    INT(PvmSelfTraceTid);
    INT(PvmSelfTraceCode);
    INT(PvmSelfTraceBuffer);
    INT(PvmSelfTraceOptions);
    INT(PvmShowTids);
    INT(PvmPollType);
    INT(PvmPollConstant);
    INT(PvmPollSleep);
    INT(PvmPollTime);
    INT(PvmOutputContext);
    INT(PvmTraceContext);
    INT(PvmSelfOutputContext);
    INT(PvmSelfTraceContext);
    INT(PvmNoReset);
    INT(PvmTaskSelf);
    INT(PvmTaskChild);
    INT(PvmBaseContext);
    INT(PvmMboxDefault);
    INT(PvmMboxPersistent);
    INT(PvmMboxMultiInstance);
    INT(PvmMboxOverWritable);
    INT(PvmMboxFirstAvail);
    INT(PvmMboxReadAndDelete);
    INT(PvmMboxWaitForInfo);
    INT(PvmMboxMaxFlag);
    INT(PvmMboxDirectIndexShift);
    INT(PvmMboxMaxDirectIndex);
    INT(PvmOk);
    INT(PvmBadParam);
    INT(PvmMismatch);
    INT(PvmOverflow);
    INT(PvmNoData);
    INT(PvmNoHost);
    INT(PvmNoFile);
    INT(PvmDenied);
    INT(PvmNoMem);
    INT(PvmBadMsg);
    INT(PvmSysErr);
    INT(PvmNoBuf);
    INT(PvmNoSuchBuf);
    INT(PvmNullGroup);
    INT(PvmDupGroup);
    INT(PvmNoGroup);
    INT(PvmNotInGroup);
    INT(PvmNoInst);
    INT(PvmHostFail);
    INT(PvmNoParent);
    INT(PvmNotImpl);
    INT(PvmDSysErr);
    INT(PvmBadVersion);
    INT(PvmOutOfRes);
    INT(PvmDupHost);
    INT(PvmCantStart);
    INT(PvmAlready);
    INT(PvmNoTask);
    INT(PvmNotFound);
    INT(PvmExists);
    INT(PvmHostrNMstr);
    INT(PvmParentNotSet);
    INT(PvmIPLoopback);
    INT(PvmNoEntry);
    INT(PvmDupEntry);
    INT(PVM_STR);
    INT(PVM_BYTE);
    INT(PVM_SHORT);
    INT(PVM_INT);
    INT(PVM_FLOAT);
    INT(PVM_CPLX);
    INT(PVM_DOUBLE);
    INT(PVM_DCPLX);
    INT(PVM_LONG);
    INT(PVM_USHORT);
    INT(PVM_UINT);
    INT(PVM_ULONG);
    /* the original's value depends on L_tmpnam (20 with glibc when stdio.h
     * comes first); a larger buffer size is as good */
    printf("PVMTMPNAMLEN >= L_tmpnam: %s\n", PVMTMPNAMLEN >= L_tmpnam ? "yes" : "no");
    INT(PvmMboxDirectIndex(5));
    INT(PvmMboxDirectIndexOf(0x1c02));
    INT(sizeof(struct pvmhostinfo));
    LAYOUT(pvmhostinfo, hi_tid);
    LAYOUT(pvmhostinfo, hi_name);
    LAYOUT(pvmhostinfo, hi_arch);
    LAYOUT(pvmhostinfo, hi_speed);
    LAYOUT(pvmhostinfo, hi_dsig);
    INT(sizeof(struct pvmtaskinfo));
    LAYOUT(pvmtaskinfo, ti_tid);
    LAYOUT(pvmtaskinfo, ti_ptid);
    LAYOUT(pvmtaskinfo, ti_host);
    LAYOUT(pvmtaskinfo, ti_flag);
    LAYOUT(pvmtaskinfo, ti_a_out);
    LAYOUT(pvmtaskinfo, ti_pid);
    INT(sizeof(struct pvmminfo));
    LAYOUT(pvmminfo, len);
    LAYOUT(pvmminfo, ctx);
    LAYOUT(pvmminfo, tag);
    LAYOUT(pvmminfo, wid);
    LAYOUT(pvmminfo, enc);
    LAYOUT(pvmminfo, crc);
    LAYOUT(pvmminfo, src);
    LAYOUT(pvmminfo, dst);
    INT(sizeof(struct pvmmboxinfo));
    LAYOUT(pvmmboxinfo, mi_name);
    LAYOUT(pvmmboxinfo, mi_nentries);
    LAYOUT(pvmmboxinfo, mi_indices);
    LAYOUT(pvmmboxinfo, mi_owners);
    LAYOUT(pvmmboxinfo, mi_flags);
    return 0;
}
