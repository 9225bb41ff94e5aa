/*
 * The worker spawned by the C test programs (found by name along PVM_PATH).
 * What it does is chosen by argv[1]:
 *   sum      receive (index, n, n ints) from the parent (tag 1), reply (tag 2)
 *            with index, sum, number of siblings, whether siblings[index] is
 *            itself, whether pvm_parent() is the sender; then wait for the
 *            multicast "quit" (tag 3) and leave
 *   sleep    report to the parent (tag 5), then block in pvm_recv forever
 *   env NAME reply (tag 6) with the value of NAME in the environment
 *   print    print lines on stdout and stderr (for pvm_catchout), then exit
 *   parent   reply (tag 7) with pvm_parent() and pvm_getcontext()
 *   mbox     try to overwrite and delete the parent's mailbox entry "clib.box"
 *            and reply (tag 8) with the codes
 *   echo     answer every message: tag+1000, same body, until tag 999
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "pvm3.h"

int main(int argc, char **argv)
{
    int me = pvm_mytid();
    int parent = pvm_parent();
    const char *mode = argc > 1 ? argv[1] : "sum";

    if (me < 0) return 1;
    if (strcmp(mode, "sum") == 0) {
        int index, n, i, sum = 0, nsib, *sibs = 0, buf, src = 0, ok_sib, ok_parent, v[64];
        buf = pvm_recv(-1, 1);
        pvm_bufinfo(buf, 0, 0, &src);
        pvm_upkint(&index, 1, 1);
        pvm_upkint(&n, 1, 1);
        if (n > 64) n = 64;
        pvm_upkint(v, n, 1);
        for (i = 0; i < n; i++) sum += v[i];
        nsib = pvm_siblings(&sibs);
        ok_sib = nsib > index && sibs[index] == me;
        ok_parent = parent == src;
        pvm_initsend(PvmDataDefault);
        pvm_pkint(&index, 1, 1);
        pvm_pkint(&sum, 1, 1);
        pvm_pkint(&nsib, 1, 1);
        pvm_pkint(&ok_sib, 1, 1);
        pvm_pkint(&ok_parent, 1, 1);
        pvm_send(parent, 2);
        pvm_recv(parent, 3);
        pvm_exit();
        return 0;
    }
    if (strcmp(mode, "sleep") == 0) {
        pvm_initsend(PvmDataDefault);
        pvm_pkint(&me, 1, 1);
        pvm_send(parent, 5);
        pvm_recv(-1, 0x7ffffff0);
        return 0;
    }
    if (strcmp(mode, "env") == 0 && argc > 2) {
        const char *v = getenv(argv[2]);
        pvm_initsend(PvmDataDefault);
        pvm_pkstr((char *)(v ? v : "(unset)"));
        pvm_send(parent, 6);
        pvm_exit();
        return 0;
    }
    if (strcmp(mode, "print") == 0) {
        printf("worker stdout line 1\n");
        fflush(stdout);
        fprintf(stderr, "worker stderr line\n");
        fflush(stderr);
        printf("partial line without newline");
        fflush(stdout);
        pvm_exit();
        return 0;
    }
    if (strcmp(mode, "parent") == 0) {
        int ctx = pvm_getcontext();
        pvm_initsend(PvmDataDefault);
        pvm_pkint(&parent, 1, 1);
        pvm_pkint(&ctx, 1, 1);
        pvm_send(parent, 7);
        pvm_exit();
        return 0;
    }
    if (strcmp(mode, "mbox") == 0) {
        int codes[3], b;
        pvm_setopt(PvmAutoErr, 0);
        b = pvm_initsend(PvmDataDefault);
        pvm_pkint(&me, 1, 1);
        codes[0] = pvm_putinfo("clib.box", b, PvmMboxDefault);
        codes[1] = pvm_delinfo("clib.box", 0, PvmMboxDefault);
        codes[2] = pvm_putinfo("clib.open", b, PvmMboxDefault);   /* overwritable: allowed */
        pvm_initsend(PvmDataDefault);
        pvm_pkint(codes, 3, 1);
        pvm_send(parent, 8);
        pvm_exit();
        return 0;
    }
    if (strcmp(mode, "echo") == 0) {
        for (;;) {
            int buf = pvm_recv(-1, -1), tag = 0, src = 0;
            pvm_bufinfo(buf, 0, &tag, &src);
            if (tag == 999) break;
            pvm_setsbuf(0);
            pvm_setsbuf(buf);
            pvm_setrbuf(0);
            pvm_send(src, tag + 1000);
            pvm_freebuf(buf);
            pvm_setsbuf(0);
        }
        pvm_exit();
        return 0;
    }
    fprintf(stderr, "worker: unknown mode %s\n", mode);
    pvm_exit();
    return 2;
}
