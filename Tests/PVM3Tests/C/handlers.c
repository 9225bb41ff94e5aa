/*
 * Message handlers: pvm_addmhf/pvm_delmhf. A handler runs when a matching
 * message is read in (here during pvm_trecv), consumes it, and can receive
 * its contents; duplicates and unknown ids are refused.
 */
#include <stdio.h>
#include <sys/time.h>
#include "pvm3.h"

extern int pvm_errno;

#define SHOW(e) printf("%s = %d\n", #e, (int)(e))
#define YESNO(e) printf("%s: %s\n", #e, (e) ? "yes" : "no")

static int calls, last_value, last_tag;

static int handler(int mid)
{
    int tag = -1, v = -1, old = pvm_setrbuf(mid);
    pvm_bufinfo(mid, 0, &tag, 0);
    pvm_upkint(&v, 1, 1);
    pvm_setrbuf(old);
    calls++;
    last_value = v;
    last_tag = tag;
    return 0;
}

static void send_int(int to, int tag, int v)
{
    pvm_initsend(PvmDataDefault);
    pvm_pkint(&v, 1, 1);
    pvm_send(to, tag);
}

int main(void)
{
    int me = pvm_mytid(), h1, h2, h3, got = 0;
    struct timeval tv;
    setvbuf(stdout, 0, _IOLBF, 0);   /* lines survive a kill on timeout */

    pvm_setopt(PvmAutoErr, 0);
    h1 = pvm_addmhf(-1, 71, -1, handler);
    SHOW(h1);
    h2 = pvm_addmhf(me, 72, 0, handler);
    YESNO(h2 > h1);
    SHOW(pvm_addmhf(-1, 71, -1, handler));      /* the same triple again */
    send_int(me, 71, 701);
    send_int(me, 72, 702);
    send_int(me, 73, 703);
    tv.tv_sec = 0; tv.tv_usec = 300000;
    got = pvm_trecv(-1, -1, &tv);
    YESNO(got > 0);
    if (got > 0) {
        int tag = -1;
        pvm_bufinfo(got, 0, &tag, 0);
        SHOW(tag);                                /* only the unhandled message */
    }
    SHOW(calls);
    SHOW(pvm_nrecv(-1, 71));
    SHOW(pvm_nrecv(-1, 72));
    SHOW(pvm_delmhf(h1));
    SHOW(pvm_delmhf(h1));
    SHOW(pvm_delmhf(12345));
    SHOW(pvm_delmhf(-1));
    send_int(me, 71, 711);
    got = pvm_recv(-1, -1);
    {
        int tag = -1;
        pvm_bufinfo(got, 0, &tag, 0);
        SHOW(tag);                                /* not handled any more */
    }
    send_int(me, 72, 712);
    tv.tv_sec = 0; tv.tv_usec = 200000;
    SHOW(pvm_trecv(-1, -1, &tv));
    SHOW(calls);
    SHOW(last_tag);
    SHOW(last_value);
    h3 = pvm_addmhf(-1, 71, -1, handler);        /* a freed id is handed out again */
    SHOW(h3 == h1);
    SHOW(pvm_delmhf(h2));
    SHOW(pvm_delmhf(h3));
    SHOW(pvm_exit());
    return 0;
}
