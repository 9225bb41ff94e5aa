/*
 * Sending and receiving within one task: pvm_send (bad destinations and
 * tags), pvm_recv/pvm_nrecv/pvm_probe with wildcards and their order,
 * pvm_trecv with a timeout and with {0,0}, pvm_psend/pvm_precv of every
 * type, pvm_mcast (never to the sender), pvm_recvf, and contexts
 * (pvm_newcontext, pvm_setcontext, pvm_getcontext, pvm_freecontext).
 */
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include "pvm3.h"

extern int pvm_errno;

#define SHOW(e) printf("%s = %d\n", #e, (int)(e))
#define YESNO(e) printf("%s: %s\n", #e, (e) ? "yes" : "no")

static int me;

/* the original header declares pvm_recvf with a different (wrong) type:
 * casts keep this file clean under both headers */
typedef int (*matcher)(int, int, int);

static int tag_of(int bufid)
{
    int tag = -99;
    if (bufid <= 0) return bufid;
    pvm_bufinfo(bufid, 0, &tag, 0);
    return tag;
}

static int send_int(int to, int tag, int value)
{
    pvm_initsend(PvmDataDefault);
    pvm_pkint(&value, 1, 1);
    return pvm_send(to, tag);
}

static int upk_int(void)
{
    int v = -1;
    pvm_upkint(&v, 1, 1);
    return v;
}

/* Messages to self may travel through the daemon: probe and nrecv only see
 * what has arrived. A marker sent last and received (blocking) means all
 * that was sent before it is here (order per sender is kept). */
static void settle(void)
{
    send_int(me, 999, 0);
    pvm_recv(me, 999);
}

static double since(struct timeval *t0)
{
    struct timeval t1;
    gettimeofday(&t1, 0);
    return (t1.tv_sec - t0->tv_sec) + (t1.tv_usec - t0->tv_usec) / 1e6;
}

/* a matching function for pvm_recvf: takes only messages whose tag is even */
static int even_tags(int bufid, int tid, int tag)
{
    int t = -1;
    (void)tid;
    (void)tag;
    if (pvm_bufinfo(bufid, 0, &t, 0) < 0) return -1;
    return (t % 2 == 0) ? 1 : 0;
}

int main(void)
{
    int i, r, ctx1, ctx2, atid, atag, alen;
    int list[4];
    struct timeval tv, t0;
    double secs;
    matcher old;
    setvbuf(stdout, 0, _IOLBF, 0);   /* lines survive a kill on timeout */

    me = pvm_mytid();
    pvm_setopt(PvmAutoErr, 0);

    printf("== send: bad destinations and tags\n");
    SHOW(pvm_setsbuf(0) >= 0);
    SHOW(pvm_send(me, 1));              /* no send buffer */
    pvm_initsend(PvmDataDefault);
    SHOW(pvm_send(0, 1));
    SHOW(pvm_send(-1, 1));
    SHOW(pvm_send(0x80040000, 1));      /* a pvmd */
    SHOW(pvm_send(me, -1));
    SHOW(pvm_send(me, -7));
    SHOW(pvm_send(0x40fff, 1));         /* no such task: silently dropped */
    SHOW(pvm_send(0x1c0001, 1));        /* no such host */
    SHOW(pvm_nrecv(-1, -1));

    printf("== ordering and wildcards\n");
    SHOW(send_int(me, 11, 111));
    SHOW(send_int(me, 12, 112));
    SHOW(send_int(me, 13, 113));
    settle();
    SHOW(tag_of(pvm_probe(-1, -1)));
    SHOW(tag_of(pvm_probe(-1, 13)));
    SHOW(pvm_probe(-1, 14));
    SHOW(pvm_probe(0x40fff, -1));
    SHOW(tag_of(pvm_recv(-1, 12)));
    SHOW(upk_int());
    SHOW(tag_of(pvm_recv(-1, -1)));
    SHOW(upk_int());
    SHOW(tag_of(pvm_nrecv(me, -1)));
    SHOW(upk_int());
    SHOW(pvm_nrecv(-1, -1));
    SHOW(pvm_nrecv(-1, -5));
    SHOW(pvm_nrecv(0, -1));
    SHOW(pvm_nrecv(-2, -1));
    SHOW(pvm_probe(-1, -1));
    send_int(me, 0x7fffffff, 5);
    SHOW(tag_of(pvm_recv(me, 0x7fffffff)));

    printf("== trecv\n");
    tv.tv_sec = 0; tv.tv_usec = 300000;
    gettimeofday(&t0, 0);
    SHOW(pvm_trecv(-1, -1, &tv));
    secs = since(&t0);
    YESNO(secs >= 0.29 && secs < 1.5);
    tv.tv_sec = 0; tv.tv_usec = 200000;
    gettimeofday(&t0, 0);
    SHOW(pvm_trecv(-1, -2, &tv));       /* a bad tag just never matches */
    secs = since(&t0);
    YESNO(secs >= 0.19 && secs < 1.5);
    tv.tv_sec = 0; tv.tv_usec = 0;
    gettimeofday(&t0, 0);
    SHOW(pvm_trecv(-1, -1, &tv));
    YESNO(since(&t0) < 0.2);
    send_int(me, 21, 121);
    tv.tv_sec = 5; tv.tv_usec = 0;
    gettimeofday(&t0, 0);
    SHOW(tag_of(pvm_trecv(-1, 21, &tv)));
    YESNO(since(&t0) < 1.0);
    SHOW(upk_int());
    send_int(me, 22, 122);
    settle();
    tv.tv_sec = 0; tv.tv_usec = 0;
    SHOW(tag_of(pvm_trecv(me, 22, &tv)));
    send_int(me, 23, 123);
    SHOW(tag_of(pvm_trecv(me, 23, 0)));  /* NULL: block like pvm_recv */

    printf("== psend/precv\n");
    {
        char c[3] = { 'x', 'y', 'z' }, cr[3];
        short s[3] = { -1, 2, -3 }, sr[3];
        int in[3] = { 10, -20, 30 }, ir[3];
        float f[3] = { 0.5f, 1.5f, -2.5f }, fr[3];
        double d[4] = { 1.25, 2.5, 3.75, -5.0 }, dr[4];
        float cx[4] = { 1, 2, 3, 4 }, cxr[4];
        double dc[4] = { 5, 6, 7, 8 }, dcr[4];
        long l[2] = { -1234567890123L, 7 }, lr[2];
        unsigned short us[2] = { 65535, 1 }, usr[2];
        unsigned int ui[2] = { 4000000000u, 2 }, uir[2];
        unsigned long ul[2] = { 18000000000000000000ul, 3 }, ulr[2];
        int sb = pvm_initsend(PvmDataDefault);

        SHOW(pvm_psend(me, 31, c, 3, PVM_BYTE));
        SHOW(pvm_psend(me, 32, s, 3, PVM_SHORT));
        SHOW(pvm_psend(me, 33, in, 3, PVM_INT));
        SHOW(pvm_psend(me, 34, f, 3, PVM_FLOAT));
        SHOW(pvm_psend(me, 35, d, 4, PVM_DOUBLE));
        SHOW(pvm_psend(me, 36, cx, 2, PVM_CPLX));
        SHOW(pvm_psend(me, 37, dc, 2, PVM_DCPLX));
        SHOW(pvm_psend(me, 38, l, 2, PVM_LONG));
        SHOW(pvm_psend(me, 39, us, 2, PVM_USHORT));
        SHOW(pvm_psend(me, 40, ui, 2, PVM_UINT));
        SHOW(pvm_psend(me, 41, ul, 2, PVM_ULONG));
        SHOW(pvm_psend(me, 42, d, 4, PVM_DOUBLE));
        SHOW(pvm_psend(me, 43, "ab", 3, PVM_STR));
        SHOW(pvm_psend(me, 43, in, 1, 12));
        SHOW(pvm_psend(me, 43, in, 1, -1));
        SHOW(pvm_psend(0, 43, in, 1, PVM_INT));
        SHOW(pvm_psend(me, -1, in, 1, PVM_INT));
        YESNO(pvm_getsbuf() == sb);     /* the active send buffer is untouched */

        SHOW(pvm_precv(me, 31, cr, 3, PVM_BYTE, &atid, &atag, &alen));
        printf("bytes %c%c%c tag %d len %d from me %s\n", cr[0], cr[1], cr[2], atag, alen, atid == me ? "yes" : "no");
        SHOW(pvm_precv(me, 32, sr, 3, PVM_SHORT, &atid, &atag, &alen));
        printf("shorts %d %d %d len %d\n", sr[0], sr[1], sr[2], alen);
        SHOW(pvm_precv(-1, 33, ir, 3, PVM_INT, &atid, &atag, &alen));
        printf("ints %d %d %d len %d\n", ir[0], ir[1], ir[2], alen);
        SHOW(pvm_precv(-1, 34, fr, 3, PVM_FLOAT, &atid, &atag, &alen));
        printf("floats %g %g %g len %d\n", fr[0], fr[1], fr[2], alen);
        SHOW(pvm_precv(-1, 35, dr, 4, PVM_DOUBLE, &atid, &atag, &alen));
        printf("doubles %g %g %g %g len %d\n", dr[0], dr[1], dr[2], dr[3], alen);
        SHOW(pvm_precv(-1, 36, cxr, 2, PVM_CPLX, &atid, &atag, &alen));
        printf("cplx %g %g %g %g len %d\n", cxr[0], cxr[1], cxr[2], cxr[3], alen);
        SHOW(pvm_precv(-1, 37, dcr, 2, PVM_DCPLX, &atid, &atag, &alen));
        printf("dcplx %g %g %g %g len %d\n", dcr[0], dcr[1], dcr[2], dcr[3], alen);
        SHOW(pvm_precv(-1, 38, lr, 2, PVM_LONG, &atid, &atag, &alen));
        printf("longs %ld %ld len %d\n", lr[0], lr[1], alen);
        SHOW(pvm_precv(-1, 39, usr, 2, PVM_USHORT, &atid, &atag, &alen));
        printf("ushorts %u %u len %d\n", usr[0], usr[1], alen);
        SHOW(pvm_precv(-1, 40, uir, 2, PVM_UINT, &atid, &atag, &alen));
        printf("uints %u %u len %d\n", uir[0], uir[1], alen);
        SHOW(pvm_precv(-1, 41, ulr, 2, PVM_ULONG, &atid, &atag, &alen));
        printf("ulongs %lu %lu len %d\n", ulr[0], ulr[1], alen);
        memset(dr, 0, sizeof dr);
        SHOW(pvm_precv(-1, -1, dr, 2, PVM_DOUBLE, &atid, &atag, &alen));  /* shorter than the message */
        printf("doubles %g %g %g tag %d len %d\n", dr[0], dr[1], dr[2], atag, alen);
        pvm_initsend(PvmDataRaw);      /* (precv of XDR data: see pack.c xdr) */
        ir[0] = 144;
        pvm_pkint(ir, 1, 1);
        pvm_send(me, 44);
        ir[0] = 0;
        SHOW(pvm_precv(-1, 44, ir, 1, PVM_INT, 0, 0, 0));    /* NULL out-pointers */
        SHOW(ir[0]);
        SHOW(pvm_nrecv(-1, -1));
    }

    printf("== mcast\n");
    pvm_initsend(PvmDataDefault);
    list[0] = me; list[1] = 0x40fff; list[2] = me;
    SHOW(pvm_mcast(list, 3, 51));       /* never to the sender, even if listed */
    SHOW(pvm_mcast(list, 0, 52));
    SHOW(pvm_mcast(list, -1, 53));
    SHOW(pvm_mcast(list, 1, -1));
    tv.tv_sec = 0; tv.tv_usec = 200000;
    SHOW(pvm_trecv(-1, -1, &tv));

    printf("== recvf\n");
    old = (matcher)pvm_recvf(even_tags);
    YESNO(old != 0);
    send_int(me, 61, 161);
    send_int(me, 62, 162);
    SHOW(tag_of(pvm_recv(-1, -1)));
    SHOW(tag_of(pvm_nrecv(-1, -1)));
    SHOW((matcher)pvm_recvf(old) == even_tags);
    SHOW(tag_of(pvm_nrecv(-1, -1)));

    printf("== contexts\n");
    SHOW(pvm_getcontext());
    ctx1 = pvm_newcontext();
    ctx2 = pvm_newcontext();
    YESNO(ctx1 > 0 && ctx2 > 0 && ctx1 != ctx2);
    YESNO((ctx1 & 0x3ffc0000) == (me & 0x3ffc0000));
    SHOW(pvm_getcontext());             /* newcontext does not switch */
    SHOW(pvm_setcontext(ctx1));
    YESNO(pvm_getcontext() == ctx1);
    send_int(me, 70, 1);                /* sent in ctx1 */
    YESNO(pvm_setcontext(0) == ctx1);
    send_int(me, 70, 0);                /* sent in the base context */
    r = pvm_recv(-1, 70);
    SHOW(upk_int());                    /* the base context's message */
    SHOW(pvm_nrecv(-1, 70));            /* ctx1's is not seen here */
    pvm_setcontext(ctx1);
    r = pvm_nrecv(-1, 70);
    YESNO(r > 0);
    SHOW(upk_int());
    {
        struct pvmminfo mi;
        pvm_getminfo(r, &mi);
        YESNO(mi.ctx == ctx1);
    }
    SHOW(pvm_setcontext(-5) == ctx1);   /* no validation */
    SHOW(pvm_getcontext());
    pvm_setcontext(0);
    SHOW(pvm_freecontext(ctx1));
    SHOW(pvm_freecontext(ctx1));
    SHOW(pvm_freecontext(ctx2));
    SHOW(pvm_freecontext(0x4ffff));
    for (i = 0; i < 1; i++) SHOW(pvm_getcontext());

    SHOW(pvm_exit());
    return 0;
}
