/*
 * The message mailbox: pvm_putinfo, pvm_recvinfo, pvm_delinfo,
 * pvm_getmboxinfo, and the PVM 3.3 layer pvm_insert/pvm_lookup/pvm_delete;
 * owner rights checked from a spawned worker ("worker mbox").
 */
#include <stdio.h>
#include <string.h>
#include "pvm3.h"

extern int pvm_errno;

#define SHOW(e) printf("%s = %d\n", #e, (int)(e))
#define YESNO(e) printf("%s: %s\n", #e, (e) ? "yes" : "no")

static int me;

static int msg(int v)
{
    int b = pvm_initsend(PvmDataDefault);
    pvm_pkint(&v, 1, 1);
    return b;
}

static int value_of(int bufid)
{
    int v = -1;
    if (bufid <= 0) return bufid;
    pvm_setrbuf(bufid);
    pvm_upkint(&v, 1, 1);
    return v;
}

int main(void)
{
    int b, r, n = -1, i, k, data = 0, tid, codes[3], src = 0, tag = -1;
    struct pvmmboxinfo *classes = 0;
    char *args[] = { "mbox", 0 };
    setvbuf(stdout, 0, _IOLBF, 0);   /* lines survive a kill on timeout */

    me = pvm_mytid();
    pvm_setopt(PvmAutoErr, 0);

    printf("== put, recv, replace\n");
    b = msg(10);
    SHOW(pvm_putinfo("clib.box", b, PvmMboxDefault));
    b = msg(11);
    SHOW(pvm_putinfo("clib.box", b, PvmMboxDefault));          /* the owner replaces it */
    r = pvm_recvinfo("clib.box", 0, PvmMboxDefault);
    YESNO(r > 0);
    YESNO(pvm_getrbuf() == r);
    SHOW(value_of(r));
    pvm_bufinfo(r, 0, &tag, &src);
    SHOW(tag);
    YESNO(src == me);
    SHOW(pvm_recvinfo("clib.box", 1, PvmMboxDefault));
    SHOW(pvm_recvinfo("clib.none", 0, PvmMboxDefault));
    SHOW(pvm_putinfo("", b, PvmMboxDefault));
    SHOW(pvm_recvinfo("", 0, PvmMboxDefault));

    printf("== multiple instances\n");
    SHOW(pvm_putinfo("clib.multi", msg(20), PvmMboxMultiInstance));
    SHOW(pvm_putinfo("clib.multi", msg(21), PvmMboxMultiInstance));
    SHOW(pvm_putinfo("clib.multi", msg(22), PvmMboxMultiInstance));
    SHOW(pvm_delinfo("clib.multi", 1, PvmMboxDefault));
    SHOW(pvm_putinfo("clib.multi", msg(23), PvmMboxMultiInstance));  /* refills the hole */
    SHOW(value_of(pvm_recvinfo("clib.multi", 1, PvmMboxDefault)));
    SHOW(value_of(pvm_recvinfo("clib.multi", 2, PvmMboxDefault)));
    SHOW(pvm_delinfo("clib.multi", 0, PvmMboxDefault));
    SHOW(value_of(pvm_recvinfo("clib.multi", 0, PvmMboxFirstAvail)));
    SHOW(pvm_putinfo("clib.multi", msg(24), PvmMboxMultiInstance | PvmMboxDirectIndex(7)));
    SHOW(value_of(pvm_recvinfo("clib.multi", 7, PvmMboxDefault)));
    SHOW(value_of(pvm_recvinfo("clib.multi", 2, PvmMboxReadAndDelete)));
    SHOW(pvm_recvinfo("clib.multi", 2, PvmMboxDefault));

    printf("== getmboxinfo\n");
    SHOW(pvm_putinfo("clib.open", msg(30), PvmMboxOverWritable));
    SHOW(pvm_getmboxinfo("clib.*", &n, &classes));
    SHOW(n);
    for (i = 0; i < n; i++) {
        printf("class %s: %d entries:", classes[i].mi_name, classes[i].mi_nentries);
        for (k = 0; k < classes[i].mi_nentries; k++)
            printf(" [%d owner %s flags 0x%x]", classes[i].mi_indices[k],
                   classes[i].mi_owners[k] == me ? "me" : "other", classes[i].mi_flags[k]);
        printf("\n");
    }
    SHOW(pvm_getmboxinfo("clib.nothing*", &n, &classes));
    SHOW(n);

    printf("== rights of another task\n");
    if (pvm_spawn("worker", args, PvmTaskDefault, 0, 1, &tid) == 1) {
        pvm_recv(tid, 8);
        pvm_upkint(codes, 3, 1);
        printf("worker: putinfo over mine %d, delinfo of mine %d, putinfo over overwritable %d\n",
               codes[0], codes[1], codes[2]);
        SHOW(value_of(pvm_recvinfo("clib.box", 0, PvmMboxDefault)));
    }

    printf("== delete\n");
    SHOW(pvm_delinfo("clib.box", 0, PvmMboxDefault));
    SHOW(pvm_delinfo("clib.box", 0, PvmMboxDefault));
    SHOW(pvm_delinfo("clib.multi", 7, PvmMboxDefault));
    SHOW(pvm_delinfo("", 0, PvmMboxDefault));

    printf("== insert, lookup, delete\n");
    SHOW(pvm_insert("clib.old", -1, 42));
    SHOW(pvm_insert("clib.old", -1, 43));
    SHOW(pvm_lookup("clib.old", 0, &data));
    SHOW(data);
    SHOW(pvm_lookup("clib.old", 1, &data));
    SHOW(data);
    SHOW(pvm_lookup("clib.old", -1, &data));
    SHOW(pvm_delete("clib.old", 0));
    SHOW(pvm_lookup("clib.old", 0, &data));
    SHOW(pvm_delete("clib.old", 0));
    SHOW(pvm_lookup("clib.none", -1, &data));
    SHOW(pvm_insert("", -1, 1));
    SHOW(pvm_exit());
    return 0;
}
