/*
 * fortran.c: the Fortran interface of PVM 3.4 (the pvmf* routines), as thin
 * wrappers over the C calls of pvm3.h.
 *
 * Calling convention (gfortran, and g77/f2c before it): the external name is
 * the routine's name in lower case followed by one underscore, every argument
 * is passed by address, and for every CHARACTER argument the compiler appends
 * a hidden length (size_t) after the last visible argument, in the order the
 * CHARACTER arguments appear. Fortran strings are blank padded, not NUL
 * terminated: names coming in lose their trailing blanks, strings going out
 * are padded with blanks to the variable's length.
 *
 * The routines and their argument lists are those of PVM 3.4's libfpvm3.
 * Where that library's behaviour differs from its manual, the library's
 * behaviour is kept (it is what existing programs were tested against),
 * except for plain bugs, which are noted where they are fixed.
 */

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dlfcn.h>

#include "pvm3.h"

/*
 * The group calls (pvm_joingroup ..., PvmMax ...) belong to PVM's group
 * library. Where this library defines them itself, the weak references
 * below bind to those definitions. Otherwise they are looked up when first
 * used: in the objects already loaded, else by opening libgpvm3.so.3 (a
 * program that links libgpvm3 but calls groups only through these wrappers
 * loses it to --as-needed, and libpvm3 must load without it). When all of
 * that fails the wrapper reports PvmNotImpl.
 */
#pragma weak pvm_barrier
#pragma weak pvm_bcast
#pragma weak pvm_freezegroup
#pragma weak pvm_gather
#pragma weak pvm_getinst
#pragma weak pvm_gettid
#pragma weak pvm_gsize
#pragma weak pvm_joingroup
#pragma weak pvm_lvgroup
#pragma weak pvm_reduce
#pragma weak pvm_scatter
#pragma weak PvmMax
#pragma weak PvmMin
#pragma weak PvmSum
#pragma weak PvmProduct

static void
group_symbol(void *slot, const char *name)
{
    void *sym = dlsym(RTLD_DEFAULT, name);

    if (sym == NULL) {
        void *lib = dlopen("libgpvm3.so.3", RTLD_NOW | RTLD_GLOBAL);

        if (lib != NULL)
            sym = dlsym(lib, name);
    }
    if (sym == NULL) {
        pvm_errno = PvmNotImpl;
        return;
    }
    /* slot is a function pointer variable; POSIX makes the sizes equal. */
    memcpy(slot, &sym, sizeof sym);
}

/* Declares 'fn', a static function pointer of type 'type', and on first
   use points it at the group call 'direct' (named 'name'); it stays NULL
   when the call is not available. */
#define GROUP_FN(type, fn, direct, name) \
    static type fn = NULL; \
    if (fn == NULL) \
        fn = direct; \
    if (fn == NULL) \
        group_symbol(&fn, name)

/* ---- Strings -------------------------------------------------------- */

/* A C copy of a Fortran string without its trailing blanks; NULL when out
   of memory. The caller frees it. */
static char *
f2c_string(const char *s, size_t len)
{
    char *c;

    while (len > 0 && s[len - 1] == ' ')
        len--;
    c = malloc(len + 1);
    if (c != NULL) {
        memcpy(c, s, len);
        c[len] = '\0';
    }
    return c;
}

/* Stores a C string into a Fortran CHARACTER variable of length len:
   truncated if longer, padded with blanks if shorter. NULL stores blanks. */
static void
c2f_string(char *dst, size_t len, const char *src)
{
    size_t n = src != NULL ? strlen(src) : 0;

    if (n > len)
        n = len;
    if (n > 0)
        memcpy(dst, src, n);
    if (n < len)
        memset(dst + n, ' ', len - n);
}

/* ---- Enrollment and tasks ------------------------------------------- */

void
pvmfmytid_(int *tid)
{
    *tid = pvm_mytid();
}

void
pvmfparent_(int *tid)
{
    *tid = pvm_parent();
}

void
pvmfexit_(int *info)
{
    *info = pvm_exit();
}

void
pvmfhalt_(int *info)
{
    *info = pvm_halt();
}

void
pvmfkill_(int *tid, int *info)
{
    *info = pvm_kill(*tid);
}

void
pvmfsendsig_(int *tid, int *signum, int *info)
{
    *info = pvm_sendsig(*tid, *signum);
}

void
pvmfpstat_(int *tid, int *status)
{
    *status = pvm_pstat(*tid);
}

void
pvmftidtohost_(int *tid, int *dtid)
{
    *dtid = pvm_tidtohost(*tid);
}

/*
 * No argument vector can be given from Fortran. A 'where' beginning with
 * '*' means "anywhere" (a null 'where' in C).
 */
void
pvmfspawn_(char *task, int *flag, char *where, int *ntask, int *tids,
           int *numt, size_t task_len, size_t where_len)
{
    char *ctask, *cwhere = NULL;

    ctask = f2c_string(task, task_len);
    if (ctask == NULL) {
        *numt = PvmNoMem;
        return;
    }
    if (!(where_len > 0 && where[0] == '*')) {
        cwhere = f2c_string(where, where_len);
        if (cwhere == NULL) {
            free(ctask);
            *numt = PvmNoMem;
            return;
        }
    }
    *numt = pvm_spawn(ctask, NULL, *flag, cwhere, *ntask, tids);
    free(cwhere);
    free(ctask);
}

/*
 * The sibling list is fetched once and kept. 'index' in [0, ntids) returns
 * that sibling; any other index (also -1) returns PvmNoTask in 'sibling',
 * as PVM 3.4's library does (its manual says -1 leaves it unchanged).
 */
void
pvmfsiblings_(int *ntids, int *index, int *sibling)
{
    static int count = -1;
    static int *list = NULL;

    if (count < 0) {
        int *tids = NULL;
        int n = pvm_siblings(&tids);

        if (n < 0) {
            *ntids = n;
            *sibling = PvmNoTask;
            return;
        }
        count = n;
        list = tids;
    }
    *ntids = count;
    if (*index >= 0 && *index < count)
        *sibling = list[*index];
    else
        *sibling = PvmNoTask;
}

/*
 * pvmftasks returns one task per call. The first call (or any call with
 * ntask = -1) takes a new snapshot of the task list; each call then reports
 * the next task, info = 1, until the list is exhausted, and the call after
 * the last task starts over with a new snapshot.
 */
void
pvmftasks_(int *where, int *ntask, int *tid, int *ptid, int *dtid,
           int *flag, char *aout, int *info, size_t aout_len)
{
    static int count = 0, next = 0;
    static struct pvmtaskinfo *list = NULL;
    struct pvmtaskinfo *t;

    if (count == 0 || *ntask == -1) {
        int n = 0, cc = pvm_tasks(*where, &n, &list);

        if (cc < 0) {
            count = 0;
            *info = cc;
            return;
        }
        count = n;
        next = 0;
        if (count <= 0) {
            count = 0;
            *ntask = 0;
            *info = 0;
            return;
        }
    }
    t = &list[next];
    *ntask = count;
    *tid = t->ti_tid;
    *ptid = t->ti_ptid;
    *dtid = t->ti_host;
    *flag = t->ti_flag;
    c2f_string(aout, aout_len, t->ti_a_out);
    *info = 1;
    if (++next >= count)
        count = 0;
}

void
pvmfcatchout_(int *onoff, int *info)
{
    *info = pvm_catchout(*onoff ? stdout : NULL);
}

void
pvmfsleep_(int *secs)
{
    if (*secs > 0)
        sleep((unsigned) *secs);
}

/* ---- Hosts and the virtual machine ---------------------------------- */

/* One host per call, cycling like pvmftasks (nhost = -1 starts over). */
void
pvmfconfig_(int *nhost, int *narch, int *dtid, char *name, char *arch,
            int *speed, int *info, size_t name_len, size_t arch_len)
{
    static int count = 0, archs = 0, next = 0;
    static struct pvmhostinfo *list = NULL;
    struct pvmhostinfo *h;

    if (count == 0 || *nhost == -1) {
        int n = 0, a = 0, cc = pvm_config(&n, &a, &list);

        if (cc < 0) {
            count = 0;
            *info = cc;
            return;
        }
        count = n;
        archs = a;
        next = 0;
        if (count <= 0) {
            count = 0;
            *nhost = 0;
            *narch = a;
            *info = 0;
            return;
        }
    }
    h = &list[next];
    *nhost = count;
    *narch = archs;
    *dtid = h->hi_tid;
    c2f_string(name, name_len, h->hi_name);
    c2f_string(arch, arch_len, h->hi_arch);
    *speed = h->hi_speed;
    *info = 1;
    if (++next >= count)
        count = 0;
}

/* Adds one host; info is its new pvmd tid, or an error code. */
void
pvmfaddhost_(char *host, int *info, size_t host_len)
{
    char *name = f2c_string(host, host_len);
    int status = 0, cc;

    if (name == NULL) {
        *info = PvmNoMem;
        return;
    }
    cc = pvm_addhosts(&name, 1, &status);
    *info = cc < 0 ? cc : status;
    free(name);
}

void
pvmfdelhost_(char *host, int *info, size_t host_len)
{
    char *name = f2c_string(host, host_len);
    int status = 0, cc;

    if (name == NULL) {
        *info = PvmNoMem;
        return;
    }
    cc = pvm_delhosts(&name, 1, &status);
    *info = cc < 0 ? cc : status;
    free(name);
}

void
pvmfmstat_(char *host, int *mstat, size_t host_len)
{
    char *name = f2c_string(host, host_len);

    if (name == NULL) {
        *mstat = PvmNoMem;
        return;
    }
    *mstat = pvm_mstat(name);
    free(name);
}

void
pvmfarchcode_(char *arch, int *code, size_t arch_len)
{
    char *name = f2c_string(arch, arch_len);

    if (name == NULL) {
        *code = PvmNoMem;
        return;
    }
    *code = pvm_archcode(name);
    free(name);
}

void
pvmfhostsync_(int *host, int *clksec, int *clkusec, int *deltasec,
              int *deltausec, int *info)
{
    struct timeval clk, delta;

    memset(&clk, 0, sizeof clk);
    memset(&delta, 0, sizeof delta);
    *info = pvm_hostsync(*host, &clk, &delta);
    *clksec = (int) clk.tv_sec;
    *clkusec = (int) clk.tv_usec;
    *deltasec = (int) delta.tv_sec;
    *deltausec = (int) delta.tv_usec;
}

/* The words of 'args' (separated by blanks or tabs) become the pvmd's
   arguments. */
void
pvmfstartpvmd_(char *args, int *block, int *info, size_t args_len)
{
    char *line, **argv, *p;
    int argc = 0;

    line = malloc(args_len + 1);
    argv = malloc((args_len / 2 + 2) * sizeof *argv);
    if (line == NULL || argv == NULL) {
        free(line);
        free(argv);
        *info = PvmNoMem;
        return;
    }
    memcpy(line, args, args_len);
    line[args_len] = '\0';
    for (p = line; *p != '\0'; ) {
        while (*p == ' ' || *p == '\t')
            *p++ = '\0';
        if (*p == '\0')
            break;
        argv[argc++] = p;
        while (*p != '\0' && *p != ' ' && *p != '\t')
            p++;
    }
    argv[argc] = NULL;
    *info = pvm_start_pvmd(argc, argc > 0 ? argv : NULL, *block);
    free(argv);
    free(line);
}

/* ---- Options, errors, contexts, notification ------------------------- */

void
pvmfsetopt_(int *what, int *val, int *oldval)
{
    *oldval = pvm_setopt(*what, *val);
}

void
pvmfgetopt_(int *what, int *val)
{
    *val = pvm_getopt(*what);
}

/* The message is used as given, trailing blanks included (as PVM 3.4). */
void
pvmfperror_(char *msg, int *info, size_t msg_len)
{
    char *text = malloc(msg_len + 1);

    if (text == NULL) {
        *info = PvmNoMem;
        return;
    }
    memcpy(text, msg, msg_len);
    text[msg_len] = '\0';
    *info = pvm_perror(text);
    free(text);
}

void
pvmfnotify_(int *what, int *msgtag, int *cnt, int *tids, int *info)
{
    *info = pvm_notify(*what, *msgtag, *cnt, tids);
}

void
pvmfnewcontext_(int *ctx)
{
    *ctx = pvm_newcontext();
}

void
pvmfsetcontext_(int *new_ctx, int *old_ctx)
{
    *old_ctx = pvm_setcontext(*new_ctx);
}

void
pvmfgetcontext_(int *ctx)
{
    *ctx = pvm_getcontext();
}

/* (PVM 3.4's version called pvm_setcontext here by mistake.) */
void
pvmffreecontext_(int *ctx, int *info)
{
    *info = pvm_freecontext(*ctx);
}

/*
 * Message handlers: the argument list is PVM 3.4's, whose fourth argument
 * is not used. The handler is called as from C, with the message id passed
 * by value.
 */
void
pvmfaddmhf_(int *src, int *tag, int *ctx, int *unused, int (*handler)(int),
            int *mhid)
{
    (void) unused;
    *mhid = pvm_addmhf(*src, *tag, *ctx, handler);
}

void
pvmfdelmhf_(int *mhid, int *info)
{
    *info = pvm_delmhf(*mhid);
}

/* ---- Message buffers ------------------------------------------------- */

void
pvmfinitsend_(int *encoding, int *bufid)
{
    *bufid = pvm_initsend(*encoding);
}

void
pvmfmkbuf_(int *encoding, int *bufid)
{
    *bufid = pvm_mkbuf(*encoding);
}

void
pvmffreebuf_(int *bufid, int *info)
{
    *info = pvm_freebuf(*bufid);
}

void
pvmfgetsbuf_(int *bufid)
{
    *bufid = pvm_getsbuf();
}

void
pvmfgetrbuf_(int *bufid)
{
    *bufid = pvm_getrbuf();
}

void
pvmfsetsbuf_(int *bufid, int *oldbuf)
{
    *oldbuf = pvm_setsbuf(*bufid);
}

void
pvmfsetrbuf_(int *bufid, int *oldbuf)
{
    *oldbuf = pvm_setrbuf(*bufid);
}

void
pvmfbufinfo_(int *bufid, int *bytes, int *msgtag, int *tid, int *info)
{
    *info = pvm_bufinfo(*bufid, bytes, msgtag, tid);
}

/*
 * Packing. 'what' is one of the Fortran type codes of fpvm3.h. A STRING is
 * packed as 'nitem' bytes (no terminator), like BYTE1, so it must be
 * unpacked as STRING or BYTE1 with the same count; INTEGER8 is a C long.
 * When xp is a CHARACTER variable the compiler appends its length; it is
 * not needed (nitem counts the characters) and not declared here.
 */
void
pvmfpack_(int *what, void *xp, int *nitem, int *stride, int *info)
{
    int n = *nitem, s = *stride;

    switch (*what) {
    case 0: /* STRING */
    case 1: /* BYTE1 */
        *info = pvm_pkbyte((char *) xp, n, s);
        break;
    case 2: /* INTEGER2 */
        *info = pvm_pkshort((short *) xp, n, s);
        break;
    case 3: /* INTEGER4 */
        *info = pvm_pkint((int *) xp, n, s);
        break;
    case 4: /* REAL4 */
        *info = pvm_pkfloat((float *) xp, n, s);
        break;
    case 5: /* COMPLEX8 */
        *info = pvm_pkcplx((float *) xp, n, s);
        break;
    case 6: /* REAL8 */
        *info = pvm_pkdouble((double *) xp, n, s);
        break;
    case 7: /* COMPLEX16 */
        *info = pvm_pkdcplx((double *) xp, n, s);
        break;
    case 8: /* INTEGER8 */
        *info = pvm_pklong((long *) xp, n, s);
        break;
    default:
        *info = PvmBadParam;
        break;
    }
}

void
pvmfunpack_(int *what, void *xp, int *nitem, int *stride, int *info)
{
    int n = *nitem, s = *stride;

    switch (*what) {
    case 0: /* STRING */
    case 1: /* BYTE1 */
        *info = pvm_upkbyte((char *) xp, n, s);
        break;
    case 2: /* INTEGER2 */
        *info = pvm_upkshort((short *) xp, n, s);
        break;
    case 3: /* INTEGER4 */
        *info = pvm_upkint((int *) xp, n, s);
        break;
    case 4: /* REAL4 */
        *info = pvm_upkfloat((float *) xp, n, s);
        break;
    case 5: /* COMPLEX8 */
        *info = pvm_upkcplx((float *) xp, n, s);
        break;
    case 6: /* REAL8 */
        *info = pvm_upkdouble((double *) xp, n, s);
        break;
    case 7: /* COMPLEX16 */
        *info = pvm_upkdcplx((double *) xp, n, s);
        break;
    case 8: /* INTEGER8 */
        *info = pvm_upklong((long *) xp, n, s);
        break;
    default:
        *info = PvmBadParam;
        break;
    }
}

/* ---- Sending and receiving -------------------------------------------- */

void
pvmfsend_(int *tid, int *msgtag, int *info)
{
    *info = pvm_send(*tid, *msgtag);
}

void
pvmfmcast_(int *ntask, int *tids, int *msgtag, int *info)
{
    *info = pvm_mcast(tids, *ntask, *msgtag);
}

void
pvmfrecv_(int *tid, int *msgtag, int *bufid)
{
    *bufid = pvm_recv(*tid, *msgtag);
}

void
pvmfnrecv_(int *tid, int *msgtag, int *bufid)
{
    *bufid = pvm_nrecv(*tid, *msgtag);
}

void
pvmfprobe_(int *tid, int *msgtag, int *bufid)
{
    *bufid = pvm_probe(*tid, *msgtag);
}

/* sec = -1 waits without a time limit. */
void
pvmftrecv_(int *tid, int *msgtag, int *sec, int *usec, int *bufid)
{
    struct timeval tmout;

    tmout.tv_sec = *sec;
    tmout.tv_usec = *usec;
    *bufid = pvm_trecv(*tid, *msgtag, *sec == -1 ? NULL : &tmout);
}

/* The Fortran type codes equal the C PVM_* codes (STRING = PVM_STR,
   INTEGER8 = PVM_LONG), so 'datatype' is passed on unchanged. */
void
pvmfpsend_(int *tid, int *msgtag, void *buf, int *len, int *datatype,
           int *info)
{
    *info = pvm_psend(*tid, *msgtag, buf, *len, *datatype);
}

void
pvmfprecv_(int *tid, int *msgtag, void *buf, int *len, int *datatype,
           int *atid, int *atag, int *alen, int *info)
{
    *info = pvm_precv(*tid, *msgtag, buf, *len, *datatype, atid, atag, alen);
}

/* ---- Message mailbox ------------------------------------------------- */

void
pvmfputinfo_(char *name, int *bufid, int *flags, int *index,
             size_t name_len)
{
    char *key = f2c_string(name, name_len);

    if (key == NULL) {
        *index = PvmNoMem;
        return;
    }
    *index = pvm_putinfo(key, *bufid, *flags);
    free(key);
}

void
pvmfrecvinfo_(char *name, int *index, int *flags, int *bufid,
              size_t name_len)
{
    char *key = f2c_string(name, name_len);

    if (key == NULL) {
        *bufid = PvmNoMem;
        return;
    }
    *bufid = pvm_recvinfo(key, *index, *flags);
    free(key);
}

void
pvmfdelinfo_(char *name, int *index, int *flags, int *info,
             size_t name_len)
{
    char *key = f2c_string(name, name_len);

    if (key == NULL) {
        *info = PvmNoMem;
        return;
    }
    *info = pvm_delinfo(key, *index, *flags);
    free(key);
}

/*
 * One mailbox class per call, cycling like pvmftasks (nclasses = -1 starts
 * over with a new query for 'pattern'). index, owner and flags receive the
 * class's nentries entries. No class matching: info = PvmNotFound.
 */
void
pvmfgetmboxinfo_(char *pattern, char *name, int *nclasses, int *nentries,
                 int *index, int *owner, int *flags, int *info,
                 size_t pattern_len, size_t name_len)
{
    static int count = 0, next = 0;
    static struct pvmmboxinfo *list = NULL;
    struct pvmmboxinfo *c;
    int i;

    if (count == 0 || *nclasses == -1) {
        char *pat = f2c_string(pattern, pattern_len);
        int n = 0, cc;

        if (pat == NULL) {
            *info = PvmNoMem;
            return;
        }
        cc = pvm_getmboxinfo(pat, &n, &list);
        free(pat);
        count = 0;
        if (cc < 0) {
            *info = cc;
            return;
        }
        if (n <= 0) {
            *nclasses = 0;
            *info = PvmNotFound;
            return;
        }
        count = n;
        next = 0;
    }
    c = &list[next];
    *nclasses = count;
    c2f_string(name, name_len, c->mi_name);
    *nentries = c->mi_nentries;
    for (i = 0; i < c->mi_nentries; i++) {
        index[i] = c->mi_indices[i];
        owner[i] = c->mi_owners[i];
        flags[i] = c->mi_flags[i];
    }
    *info = PvmOk;
    if (++next >= count)
        count = 0;
}

/* ---- Groups (libgpvm3) ------------------------------------------------ */

typedef int (*group_name_fn)(char *);
typedef int (*group_name_int_fn)(char *, int);
typedef void (*reduce_op_fn)(int *, void *, void *, int *, int *);
typedef int (*reduce_fn)(reduce_op_fn, void *, int, int, int, char *, int);
typedef int (*collect_fn)(void *, void *, int, int, int, char *, int);

/* Calls fn(group) with the group name converted. */
static int
call_name(group_name_fn fn, const char *group, size_t len)
{
    char *g;
    int cc;

    if (fn == NULL)
        return PvmNotImpl;
    g = f2c_string(group, len);
    if (g == NULL)
        return PvmNoMem;
    cc = fn(g);
    free(g);
    return cc;
}

/* Calls fn(group, arg) with the group name converted. */
static int
call_name_int(group_name_int_fn fn, const char *group, size_t len, int arg)
{
    char *g;
    int cc;

    if (fn == NULL)
        return PvmNotImpl;
    g = f2c_string(group, len);
    if (g == NULL)
        return PvmNoMem;
    cc = fn(g, arg);
    free(g);
    return cc;
}

void
pvmfjoingroup_(char *group, int *inum, size_t group_len)
{
    GROUP_FN(group_name_fn, fn, pvm_joingroup, "pvm_joingroup");
    *inum = call_name(fn, group, group_len);
}

void
pvmflvgroup_(char *group, int *info, size_t group_len)
{
    GROUP_FN(group_name_fn, fn, pvm_lvgroup, "pvm_lvgroup");
    *info = call_name(fn, group, group_len);
}

void
pvmfgsize_(char *group, int *size, size_t group_len)
{
    GROUP_FN(group_name_fn, fn, pvm_gsize, "pvm_gsize");
    *size = call_name(fn, group, group_len);
}

void
pvmfgetinst_(char *group, int *tid, int *inum, size_t group_len)
{
    GROUP_FN(group_name_int_fn, fn, pvm_getinst, "pvm_getinst");
    *inum = call_name_int(fn, group, group_len, *tid);
}

void
pvmfgettid_(char *group, int *inum, int *tid, size_t group_len)
{
    GROUP_FN(group_name_int_fn, fn, pvm_gettid, "pvm_gettid");
    *tid = call_name_int(fn, group, group_len, *inum);
}

void
pvmfbarrier_(char *group, int *count, int *info, size_t group_len)
{
    GROUP_FN(group_name_int_fn, fn, pvm_barrier, "pvm_barrier");
    *info = call_name_int(fn, group, group_len, *count);
}

void
pvmfbcast_(char *group, int *msgtag, int *info, size_t group_len)
{
    GROUP_FN(group_name_int_fn, fn, pvm_bcast, "pvm_bcast");
    *info = call_name_int(fn, group, group_len, *msgtag);
}

void
pvmffreezegroup_(char *group, int *size, int *info, size_t group_len)
{
    GROUP_FN(group_name_int_fn, fn, pvm_freezegroup, "pvm_freezegroup");
    *info = call_name_int(fn, group, group_len, *size);
}

/*
 * 'func' is a reduction routine with the argument list
 * (datatype, x, y, num, info), all by address, which is also how Fortran
 * calls: a Fortran subroutine can be given directly, as can the predefined
 * operators (EXTERNAL PvmMax etc., below).
 */
void
pvmfreduce_(reduce_op_fn func, void *data, int *count, int *datatype,
            int *msgtag, char *group, int *rootginst, int *info,
            size_t group_len)
{
    char *g;
    GROUP_FN(reduce_fn, fn, pvm_reduce, "pvm_reduce");

    if (fn == NULL) {
        *info = PvmNotImpl;
        return;
    }
    g = f2c_string(group, group_len);
    *info = g != NULL
        ? fn(func, data, *count, *datatype, *msgtag, g, *rootginst)
        : PvmNoMem;
    free(g);
}

/* Shared by pvmfgather and pvmfscatter, which differ only in the call. */
static int
collect(collect_fn fn, void *result, void *data, int *count, int *datatype,
        int *msgtag, const char *group, size_t group_len, int *rootginst)
{
    char *g;
    int cc;

    if (fn == NULL)
        return PvmNotImpl;
    g = f2c_string(group, group_len);
    if (g == NULL)
        return PvmNoMem;
    cc = fn(result, data, *count, *datatype, *msgtag, g, *rootginst);
    free(g);
    return cc;
}

void
pvmfgather_(void *result, void *data, int *count, int *datatype,
            int *msgtag, char *group, int *rootginst, int *info,
            size_t group_len)
{
    GROUP_FN(collect_fn, fn, pvm_gather, "pvm_gather");
    *info = collect(fn, result, data, count, datatype, msgtag, group,
                    group_len, rootginst);
}

void
pvmfscatter_(void *result, void *data, int *count, int *datatype,
             int *msgtag, char *group, int *rootginst, int *info,
             size_t group_len)
{
    GROUP_FN(collect_fn, fn, pvm_scatter, "pvm_scatter");
    *info = collect(fn, result, data, count, datatype, msgtag, group,
                    group_len, rootginst);
}

/*
 * The predefined reduction operators under their Fortran names, so that a
 * program can write  EXTERNAL PvmSum  and pass PvmSum to pvmfreduce. Their
 * arguments are already all addresses; each forwards to the C operator.
 */
static void
reduce_op(reduce_op_fn op, int *datatype, void *x, void *y, int *num,
          int *info)
{
    if (op == NULL) {
        *info = PvmNotImpl;
        return;
    }
    op(datatype, x, y, num, info);
}

void
pvmmax_(int *datatype, void *x, void *y, int *num, int *info)
{
    GROUP_FN(reduce_op_fn, op, PvmMax, "PvmMax");
    reduce_op(op, datatype, x, y, num, info);
}

void
pvmmin_(int *datatype, void *x, void *y, int *num, int *info)
{
    GROUP_FN(reduce_op_fn, op, PvmMin, "PvmMin");
    reduce_op(op, datatype, x, y, num, info);
}

void
pvmsum_(int *datatype, void *x, void *y, int *num, int *info)
{
    GROUP_FN(reduce_op_fn, op, PvmSum, "PvmSum");
    reduce_op(op, datatype, x, y, num, info);
}

void
pvmproduct_(int *datatype, void *x, void *y, int *num, int *info)
{
    GROUP_FN(reduce_op_fn, op, PvmProduct, "PvmProduct");
    reduce_op(op, datatype, x, y, num, info);
}
