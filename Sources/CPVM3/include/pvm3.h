/*
 * pvm3.h: the C interface of libpvm3.so.3 (and the group calls of
 * libgpvm3.so.3), source and binary compatible with PVM 3.4.6.
 *
 * Written for this project. Every name, value, structure layout and
 * prototype below is part of the ABI that existing PVM 3.4 programs were
 * compiled against, so none of them may change.
 */

#ifndef _PVM3_H_
#define _PVM3_H_

#include <stdarg.h>     /* va_list, for pvm_vpackf/pvm_vunpackf */
#include <stdio.h>      /* FILE, for pvm_catchout */
#include <sys/time.h>   /* struct timeval, for pvm_trecv/pvm_hostsync */

/* ---- Release --------------------------------------------------------- */

#define PVM_VER             "3.4.6"
#define PVM_MAJOR_VERSION   3
#define PVM_MINOR_VERSION   4
#define PVM_PATCH_VERSION   6

/* ---- Message encodings (pvm_initsend, pvm_mkbuf) ---------------------- */

#define PvmDataDefault      0   /* XDR: portable between architectures */
#define PvmDataRaw          1   /* the sender's native layout */
#define PvmDataInPlace      2   /* native, data left in the caller's memory */
#define PvmDataFoo          PvmDataDefault
#define PvmDataTrace        4   /* trace event encoding */

/* ---- pvm_spawn flags (combined with |) ------------------------------- */

#define PvmTaskDefault      0   /* let PVM choose where */
#define PvmTaskHost         1   /* 'where' names a host */
#define PvmTaskArch         2   /* 'where' names an architecture */
#define PvmTaskDebug        4   /* run under the debugger script */
#define PvmTaskTrace        8   /* the task produces trace events */
#define PvmMppFront         16  /* MPP ports: start on the front end */
#define PvmHostCompl        32  /* every host except 'where' */
#define PvmNoSpawnParent    64  /* the children get no parent */

/* ---- pvm_notify event kinds ----------------------------------------- */

#define PvmTaskExit         1
#define PvmHostDelete       2
#define PvmHostAdd          3
#define PvmRouteAdd         4
#define PvmRouteDelete      5
#define PvmNotifyCancel     256 /* OR-ed with a kind: withdraw the request */

/* ---- pvm_setopt / pvm_getopt: options, and values some of them take --- */

#define PvmRoute                1
#define   PvmDontRoute          1   /* always through the daemons */
#define   PvmAllowDirect        2   /* accept direct links, do not ask */
#define   PvmRouteDirect        3   /* ask for direct links */
#define PvmDebugMask            2
#define PvmAutoErr              3   /* 0 quiet, 1 print, 2 print+exit, 3 abort */
#define PvmOutputTid            4   /* children's output goes to this task */
#define PvmOutputCode           5   /* ... with this tag */
#define PvmTraceTid             6   /* children's trace events go here */
#define PvmTraceCode            7
#define PvmTraceBuffer          8
#define PvmTraceOptions         9
#define   PvmTraceFull          1
#define   PvmTraceTime          2
#define   PvmTraceCount         3
#define PvmFragSize             10
#define PvmResvTids             11  /* permit reserved tags and tids */
#define PvmSelfOutputTid        12  /* the same, for this task itself */
#define PvmSelfOutputCode       13
#define PvmSelfTraceTid         14
#define PvmSelfTraceCode        15
#define PvmSelfTraceBuffer      16
#define PvmSelfTraceOptions     17
#define PvmShowTids             18  /* pvm_catchout prefixes lines with [tid] */
#define PvmPollType             19
#define   PvmPollConstant       1
#define   PvmPollSleep          2
#define PvmPollTime             20
#define PvmOutputContext        21
#define PvmTraceContext         22
#define PvmSelfOutputContext    23
#define PvmSelfTraceContext     24
#define PvmNoReset              25  /* survive a console reset */

/* ---- Whose trace mask (pvm_gettmask / pvm_settmask) ------------------- */

#define PvmTaskSelf         0
#define PvmTaskChild        1

/* The context every task starts in. */
#define PvmBaseContext      0

/* ---- Message mailbox flags (pvm_putinfo, pvm_recvinfo, ...) ----------- */

#define PvmMboxDefault          0
#define PvmMboxPersistent       1   /* outlives the task that put it */
#define PvmMboxMultiInstance    2   /* several entries under one name */
#define PvmMboxOverWritable     4   /* others may replace it */
#define PvmMboxFirstAvail       8   /* first index at or above the one given */
#define PvmMboxReadAndDelete    16  /* read and remove in one step */
#define PvmMboxWaitForInfo      32  /* pvm_recvinfo waits for an entry */
#define PvmMboxMaxFlag          512 /* highest plain flag bit */

/* An entry index can also travel in the flags word, above the flag bits. */
#define PvmMboxDirectIndexShift 10
#define PvmMboxMaxDirectIndex \
    ((unsigned) 1 << (31 - PvmMboxDirectIndexShift))
#define PvmMboxDirectIndexOf(_flags) \
    (((_flags) & ((PvmMboxMaxDirectIndex - 1) << PvmMboxDirectIndexShift)) \
        >> PvmMboxDirectIndexShift)
#define PvmMboxDirectIndex(_index) \
    (((unsigned) (_index) >= PvmMboxMaxDirectIndex) \
        ? (fprintf(stderr, "Mbox Direct Index Too Large: %d >= %d\n", \
                   (int) (_index), (int) PvmMboxMaxDirectIndex), 0) \
        : ((_index) << PvmMboxDirectIndexShift))

/* Mailbox names reserved by the system. */
#define PVMNORESETCLASS     "###_PVM_NO_RESET_###"
#define PVMHOSTERCLASS      "###_PVM_HOSTER_###"
#define PVMTASKERCLASS      "###_PVM_TASKER_###"
#define PVMTRACERCLASS      "###_PVM_TRACER_###"
#define PVMRMCLASS          "###_PVM_RM_###"

/* ---- Error codes (returned negative; pvm_errlist[-code] is the text) -- */

#define PvmOk               0
#define PvmBadParam         -2
#define PvmMismatch         -3
#define PvmOverflow         -4
#define PvmNoData           -5   /* read past the end of the message */
#define PvmNoHost           -6
#define PvmNoFile           -7
#define PvmDenied           -8
#define PvmNoMem            -10
#define PvmBadMsg           -12
#define PvmSysErr           -14  /* no contact with the local daemon */
#define PvmNoBuf            -15
#define PvmNoSuchBuf        -16
#define PvmNullGroup        -17
#define PvmDupGroup         -18
#define PvmNoGroup          -19
#define PvmNotInGroup       -20
#define PvmNoInst           -21
#define PvmHostFail         -22
#define PvmNoParent         -23
#define PvmNotImpl          -24
#define PvmDSysErr          -25
#define PvmBadVersion       -26
#define PvmOutOfRes         -27
#define PvmDupHost          -28
#define PvmCantStart        -29
#define PvmAlready          -30
#define PvmNoTask           -31
#define PvmNotFound         -32
#define PvmExists           -33
#define PvmHostrNMstr       -34
#define PvmParentNotSet     -35
#define PvmIPLoopback       -36

/* Names kept from PVM 3.3. */
#define PvmNoEntry          PvmNotFound
#define PvmDupEntry         PvmDenied

/* ---- Element types for pvm_psend, pvm_precv, pvm_reduce, ... --------- */

#define PVM_STR             0
#define PVM_BYTE            1
#define PVM_SHORT           2
#define PVM_INT             3
#define PVM_FLOAT           4
#define PVM_CPLX            5   /* two floats */
#define PVM_DOUBLE          6
#define PVM_DCPLX           7   /* two doubles */
#define PVM_LONG            8
#define PVM_USHORT          9
#define PVM_UINT            10
#define PVM_ULONG           11

/* ---- Structures filled in by the library (layout is ABI) ------------- */

/* One host of the virtual machine (pvm_config, pvm_reg_rm). */
struct pvmhostinfo {
    int hi_tid;         /* tid of the host's daemon */
    char *hi_name;
    char *hi_arch;
    int hi_speed;
    int hi_dsig;        /* data signature of the host */
};

/* One task (pvm_tasks). */
struct pvmtaskinfo {
    int ti_tid;
    int ti_ptid;        /* parent */
    int ti_host;        /* tid of the daemon it runs under */
    int ti_flag;        /* daemon's status bits for the task */
    char *ti_a_out;     /* program name as given to spawn */
    int ti_pid;         /* process id on its host */
};

/* A message buffer's header (pvm_getminfo, pvm_setminfo). */
struct pvmminfo {
    int len;
    int ctx;
    int tag;
    int wid;
    int enc;
    int crc;
    int src;
    int dst;
};

/* One mailbox name and its entries (pvm_getmboxinfo). */
struct pvmmboxinfo {
    char *mi_name;
    int mi_nentries;
    int *mi_indices;
    int *mi_owners;
    int *mi_flags;
};

/* ---- Temporary file names ------------------------------------------ */

/* 128 bytes hold a name from either function (L_tmpnam is smaller). */
#define PVMTMPNAMLEN        128
#ifdef NOTMPNAM
#define PVMTMPNAMFUN(x)     pvmtmpnam(x)
#else
#define PVMTMPNAMFUN(x)     tmpnam(x)
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Library data -------------------------------------------------- */

extern int pvm_errno;           /* code of the last failed call */
extern char *pvm_errlist[];     /* error texts, indexed by -code */
extern int pvm_nerr;            /* number of entries in pvm_errlist */

/* ---- libpvm3: helpers --------------------------------------------- */

char *pvmtmpnam(char *buf);
char *pvmgetrsh(void);
char *pvmgettmp(void);
char *pvm_strerror(void);

/* ---- libpvm3: enrollment, tasks, hosts ---------------------------- */

int pvm_mytid(void);
int pvm_parent(void);
int pvm_exit(void);
int pvm_siblings(int **tids);
int pvm_tidtohost(int tid);
int pvm_spawn(char *task, char **argv, int flag, char *where,
              int ntask, int *tids);
int pvm_kill(int tid);
int pvm_sendsig(int tid, int signum);
int pvm_pstat(int tid);
int pvm_tasks(int where, int *ntask, struct pvmtaskinfo **taskp);
int pvm_config(int *nhost, int *narch, struct pvmhostinfo **hostp);
int pvm_addhosts(char **hosts, int nhost, int *infos);
int pvm_delhosts(char **hosts, int nhost, int *infos);
int pvm_mstat(char *host);
int pvm_archcode(char *arch);
int pvm_hostsync(int host, struct timeval *clk, struct timeval *delta);
int pvm_halt(void);
int pvm_start_pvmd(int argc, char **argv, int block);
int pvm_catchout(FILE *ff);
int pvm_export(char *name);
int pvm_unexport(char *name);
int pvm_getfds(int **fds);
int pvm_getnoresets(int **tids, int *ntids);
int pvm_tickle(int narg, int *argp, int *nresp, int *resp);
char *pvm_version(void);

/* ---- libpvm3: options, errors, contexts, notification --------------- */

int pvm_setopt(int what, int val);
int pvm_getopt(int what);
int pvm_perror(char *msg);
int pvm_notify(int what, int msgtag, int cnt, int *tids);
int pvm_newcontext(void);
int pvm_setcontext(int ctx);
int pvm_getcontext(void);
int pvm_freecontext(int ctx);
int pvm_gettmask(int who, char *tmask);
int pvm_settmask(int who, char *tmask);

/* ---- libpvm3: message buffers -------------------------------------- */

int pvm_initsend(int encoding);
int pvm_mkbuf(int encoding);
int pvm_freebuf(int bufid);
int pvm_getsbuf(void);
int pvm_getrbuf(void);
int pvm_setsbuf(int bufid);
int pvm_setrbuf(int bufid);
int pvm_bufinfo(int bufid, int *bytes, int *msgtag, int *tid);
int pvm_getminfo(int bufid, struct pvmminfo *info);
int pvm_setminfo(int bufid, struct pvmminfo *info);
int pvm_pkmesg(int bufid);
int pvm_pkmesgbody(int bufid);
int pvm_upkmesg(void);

/* ---- libpvm3: packing and unpacking --------------------------------- */

int pvm_pkbyte(char *cp, int nitem, int stride);
int pvm_pkcplx(float *xp, int nitem, int stride);
int pvm_pkdcplx(double *zp, int nitem, int stride);
int pvm_pkdouble(double *dp, int nitem, int stride);
int pvm_pkfloat(float *fp, int nitem, int stride);
int pvm_pkint(int *ip, int nitem, int stride);
int pvm_pkuint(unsigned int *ip, int nitem, int stride);
int pvm_pklong(long *ip, int nitem, int stride);
int pvm_pkulong(unsigned long *ip, int nitem, int stride);
int pvm_pkshort(short *jp, int nitem, int stride);
int pvm_pkushort(unsigned short *jp, int nitem, int stride);
int pvm_pkstr(char *sp);
int pvm_packf(const char *fmt, ...);
int pvm_vpackf(const char *fmt, va_list ap);

int pvm_upkbyte(char *cp, int nitem, int stride);
int pvm_upkcplx(float *xp, int nitem, int stride);
int pvm_upkdcplx(double *zp, int nitem, int stride);
int pvm_upkdouble(double *dp, int nitem, int stride);
int pvm_upkfloat(float *fp, int nitem, int stride);
int pvm_upkint(int *ip, int nitem, int stride);
int pvm_upkuint(unsigned int *ip, int nitem, int stride);
int pvm_upklong(long *ip, int nitem, int stride);
int pvm_upkulong(unsigned long *ip, int nitem, int stride);
int pvm_upkshort(short *jp, int nitem, int stride);
int pvm_upkushort(unsigned short *jp, int nitem, int stride);
int pvm_upkstr(char *sp);
int pvm_unpackf(const char *fmt, ...);
int pvm_vunpackf(const char *fmt, va_list ap);

/* ---- libpvm3: sending and receiving -------------------------------- */

int pvm_send(int tid, int msgtag);
int pvm_mcast(int *tids, int ntask, int msgtag);
int pvm_psend(int tid, int msgtag, void *buf, int len, int datatype);
int pvm_recv(int tid, int msgtag);
int pvm_nrecv(int tid, int msgtag);
int pvm_trecv(int tid, int msgtag, struct timeval *tmout);
int pvm_probe(int tid, int msgtag);
int pvm_precv(int tid, int msgtag, void *buf, int len, int datatype,
              int *rtid, int *rtag, int *rlen);
/* Installs a new message matching function and returns the old one. */
int (*pvm_recvf(int (*match)(int bufid, int tid, int tag)))
    (int bufid, int tid, int tag);

/* ---- libpvm3: message handlers ------------------------------------- */

int pvm_addmhf(int src, int tag, int ctx, int (*handler)(int mid));
int pvm_delmhf(int mhid);

/* ---- libpvm3: message mailbox -------------------------------------- */

int pvm_putinfo(char *name, int bufid, int flags);
int pvm_recvinfo(char *name, int index, int flags);
int pvm_delinfo(char *name, int index, int flags);
int pvm_getmboxinfo(char *pattern, int *nclasses,
                    struct pvmmboxinfo **classes);
/* PVM 3.3's database calls, now on top of the mailbox. */
int pvm_insert(char *name, int req, int data);
int pvm_lookup(char *name, int req, int *datap);
int pvm_delete(char *name, int req);

/* ---- libpvm3: resource manager, hoster, tasker, tracer -------------- */

int pvm_reg_hoster(void);
int pvm_reg_rm(struct pvmhostinfo **hip);
int pvm_reg_tasker(void);
int pvm_reg_tracer(int tctx, int ttag, int octx, int otag,
                   char *tmask, int tbuf, int topt);

/* ---- libgpvm3: dynamic groups -------------------------------------- */

int pvm_joingroup(char *group);
int pvm_lvgroup(char *group);
int pvm_gsize(char *group);
int pvm_getinst(char *group, int tid);
int pvm_gettid(char *group, int inum);
int pvm_barrier(char *group, int count);
int pvm_bcast(char *group, int msgtag);
int pvm_freezegroup(char *group, int size);
int pvm_reduce(void (*func)(int *datatype, void *x, void *y,
                            int *num, int *info),
               void *data, int count, int datatype, int msgtag,
               char *group, int rootginst);
int pvm_gather(void *result, void *data, int count, int datatype,
               int msgtag, char *group, int rootginst);
int pvm_scatter(void *result, void *data, int count, int datatype,
                int msgtag, char *group, int rootginst);

/* Reduction operators for pvm_reduce: y[i] combined into x[i]. */
void PvmMax(int *datatype, void *x, void *y, int *num, int *info);
void PvmMin(int *datatype, void *x, void *y, int *num, int *info);
void PvmSum(int *datatype, void *x, void *y, int *num, int *info);
void PvmProduct(int *datatype, void *x, void *y, int *num, int *info);

#ifdef __cplusplus
}
#endif

#endif /* _PVM3_H_ */
