/*
 * The mailbox's finer points, as the original behaves: which errors are
 * reported, PvmMboxMultiInstance with a direct index, deletes of one exact
 * index, the order and the matching of pvm_getmboxinfo, the buffer that
 * pvm_recvinfo makes (and the one it frees), orphans read back from their
 * old owner, the no-reset class, and PVM 3.3's insert/lookup/delete
 * (persistent entries, PvmDupEntry, -1 refused by delete). Auto-error is
 * on: standard error is part of the expected output.
 */
#include <stdio.h>
#include <string.h>
#include "pvm3.h"

#define SHOW(e) do { int v_ = (int)(e); fflush(stderr); printf("%s = %d\n", #e, v_); } while (0)

static int me, oldme;

static int msg(int v)
{
    int b = pvm_initsend(PvmDataDefault);
    pvm_pkint(&v, 1, 1);
    return b;
}

static const char *who(int tid)
{
    return tid == me ? "me" : tid == oldme ? "old me" : tid == 0 ? "0" : "other";
}

static void list(char *pattern)
{
    int n = -1, i, k;
    struct pvmmboxinfo *c = 0;
    int cc = pvm_getmboxinfo(pattern, &n, &c);
    printf("getmboxinfo(\"%s\") = %d:", pattern, cc);
    for (i = 0; i < n; i++) {
        printf(" %s{", c[i].mi_name);
        for (k = 0; k < c[i].mi_nentries; k++)
            printf("%s%d %s 0x%x", k ? ", " : "", c[i].mi_indices[k], who(c[i].mi_owners[k]), c[i].mi_flags[k]);
        printf("}");
    }
    printf("\n");
}

static int value(int bufid)
{
    int v = -1;
    if (bufid <= 0) return bufid;
    pvm_upkint(&v, 1, 1);
    return v;
}

int main(void)
{
    int r1, r2, d = -1, len = -1, tag = -1, src = -1, *nr = 0, nn = -1;
    struct pvmminfo mi;
    setvbuf(stdout, 0, _IOLBF, 0);
    me = pvm_mytid();

    printf("== bad arguments\n");
    SHOW(pvm_recvinfo("", 0, 0));
    SHOW(pvm_delinfo("", 0, 0));
    SHOW(pvm_recvinfo("x", -1, 0));
    SHOW(pvm_delinfo("x", -1, 0));
    SHOW(pvm_insert("", -1, 1));
    SHOW(pvm_lookup("", 0, &d));
    SHOW(pvm_delete("", 0));
    SHOW(pvm_insert("p", -2, 1));
    SHOW(pvm_lookup("p", -2, &d));
    SHOW(pvm_delete("nope", -1));
    SHOW(pvm_lookup("nope", -1, &d));
    SHOW(pvm_delete("nope", 0));

    printf("== indices\n");
    SHOW(pvm_putinfo("d", msg(5), PvmMboxDirectIndex(5)));
    SHOW(pvm_putinfo("d", msg(6), PvmMboxDirectIndex(5)));
    SHOW(value(pvm_recvinfo("d", 5, 0)));
    SHOW(pvm_putinfo("m", msg(0), PvmMboxMultiInstance));
    SHOW(pvm_putinfo("m", msg(1), PvmMboxMultiInstance));
    SHOW(pvm_putinfo("m", msg(2), PvmMboxMultiInstance | PvmMboxDirectIndex(2)));
    SHOW(pvm_putinfo("m", msg(3), PvmMboxMultiInstance | PvmMboxFirstAvail | PvmMboxDirectIndex(1)));
    SHOW(pvm_putinfo("m", msg(4), PvmMboxMultiInstance | PvmMboxFirstAvail));
    SHOW(pvm_putinfo("m", msg(9), PvmMboxFirstAvail));
    SHOW(value(pvm_recvinfo("m", 0, 0)));
    SHOW(pvm_putinfo("m", msg(8), PvmMboxDefault));
    list("m");
    SHOW(pvm_delinfo("m", 1, PvmMboxFirstAvail));
    SHOW(pvm_delinfo("m", 1, PvmMboxFirstAvail));
    SHOW(value(pvm_recvinfo("m", 1, PvmMboxFirstAvail | PvmMboxWaitForInfo)));
    SHOW(value(pvm_recvinfo("m", 3, PvmMboxReadAndDelete)));
    list("m");

    printf("== the buffer recvinfo makes\n");
    r1 = pvm_recvinfo("m", 0, 0);
    r2 = pvm_recvinfo("m", 2, 0);
    SHOW(pvm_bufinfo(r1, &len, &tag, &src));
    SHOW(pvm_bufinfo(r2, &len, &tag, &src));
    printf("len %d tag %d src %s\n", len, tag, who(src));
    SHOW(pvm_getrbuf() == r2);
    pvm_setcontext(pvm_newcontext());
    r1 = pvm_recvinfo("m", 0, 0);
    pvm_getminfo(r1, &mi);
    printf("ctx %d tag %d src %s enc 0x%x len %d\n", mi.ctx, mi.tag, who(mi.src), mi.enc, mi.len);
    pvm_setcontext(0);

    printf("== order and patterns\n");
    pvm_delinfo("d", 5, 0);
    SHOW(pvm_putinfo("abc", msg(1), 0));
    SHOW(pvm_putinfo("xbcx", msg(1), 0));
    SHOW(pvm_putinfo("b.c", msg(1), 0));
    SHOW(pvm_putinfo("ab", msg(1), 0));
    SHOW(pvm_delinfo("abc", 0, 0));
    SHOW(pvm_putinfo("abc", msg(1), 0));
    list("");
    list("*");
    list("ab");
    list("b");
    list("c");
    list("*x");
    list("a*c");
    list("*b*c*");
    list("b.");
    list("?bc");
    list("[ab]");
    list("abcd");

    printf("== orphans\n");
    SHOW(pvm_putinfo("orph", msg(7), PvmMboxPersistent));
    SHOW(pvm_putinfo("orph2", msg(7), PvmMboxPersistent | PvmMboxOverWritable));
    SHOW(pvm_insert("q", 3, 30));
    SHOW(pvm_insert("q", 3, 31));
    SHOW(pvm_insert("q", -1, 32));
    SHOW(pvm_lookup("q", -1, &d));
    SHOW(d);
    SHOW(pvm_lookup("q", 3, &d));
    SHOW(d);
    SHOW(pvm_putinfo("q", msg(40), 0));
    list("q");
    oldme = me;
    SHOW(pvm_exit());
    me = pvm_mytid();
    SHOW(me != oldme);
    list("orph");
    list("q");
    r1 = pvm_recvinfo("orph", 0, 0);
    SHOW(pvm_bufinfo(r1, &len, &tag, &src));
    printf("orphan from %s, value %d\n", who(src), value(r1));
    SHOW(pvm_recvinfo("orph", 0, PvmMboxReadAndDelete));
    SHOW(pvm_delinfo("orph", 0, 0));
    SHOW(pvm_putinfo("orph", msg(8), 0));
    SHOW(pvm_putinfo("orph2", msg(8), 0));
    SHOW(pvm_delete("q", 3));
    SHOW(pvm_insert("q", 3, 1));
    SHOW(pvm_insert("q", -1, 1));
    list("orph");

    printf("== no-reset tasks\n");
    SHOW(pvm_getnoresets(&nr, &nn));
    SHOW(nn);
    SHOW(pvm_setopt(PvmNoReset, 1));
    SHOW(pvm_getnoresets(&nr, &nn));
    SHOW(nn);
    printf("listed: %s\n", nn > 0 ? who(nr[0]) : "-");
    list("###");
    r1 = pvm_recvinfo("###_PVM_NO_RESET_###", 0, 0);
    pvm_bufinfo(r1, &len, &tag, &src);
    printf("len %d src %s value %s\n", len, who(src), who(value(r1)));
    SHOW(pvm_setopt(PvmNoReset, 1));
    list("###");
    SHOW(pvm_setopt(PvmNoReset, 0));
    SHOW(pvm_getnoresets(&nr, &nn));
    SHOW(nn);
    list("###");
    SHOW(pvm_exit());
    return 0;
}
