/*
 * Automatic error reporting (PvmAutoErr). With the default (1) every
 * failing call prints "libpvm [t<tid>]: <function>(): <text>" on stderr;
 * the test compares stderr with the task id replaced. Some failures are
 * silent in the original (pvm_parent's PvmNoParent, the spawn codes in the
 * tid array). argv[1] = "exit": PvmAutoErr 2 exits with the code as
 * status; "abort": PvmAutoErr 3 aborts; "off": PvmAutoErr 0 prints nothing.
 */
#include <stdio.h>
#include <string.h>
#include "pvm3.h"

#define SHOW(e) do { int r_ = (int)(e); fflush(stderr); printf("%s = %d\n", #e, r_); fflush(stdout); } while (0)

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "print";
    int tids[2], v = 1;
    setvbuf(stdout, 0, _IOLBF, 0);   /* lines survive a kill on timeout */

    pvm_mytid();
    if (strcmp(mode, "exit") == 0) {
        SHOW(pvm_setopt(PvmAutoErr, 2));
        pvm_initsend(PvmDataDefault);
        printf("sending to tid 0\n");
        fflush(stdout);
        pvm_send(0, 1);
        printf("still here\n");
        return 0;
    }
    if (strcmp(mode, "abort") == 0) {
        SHOW(pvm_setopt(PvmAutoErr, 3));
        printf("freeing buffer -1\n");
        fflush(stdout);
        pvm_freebuf(-1);
        printf("still here\n");
        return 0;
    }
    if (strcmp(mode, "off") == 0)
        SHOW(pvm_setopt(PvmAutoErr, 0));

    SHOW(pvm_parent());
    SHOW(pvm_initsend(3));
    SHOW(pvm_send(0, 1));
    SHOW(pvm_send(pvm_mytid(), -1));
    SHOW(pvm_mcast(tids, -1, 1));
    SHOW(pvm_psend(pvm_mytid(), 1, "x", 1, PVM_STR));
    SHOW(pvm_freebuf(-1));
    SHOW(pvm_freebuf(12345));
    SHOW(pvm_setsbuf(12345));
    SHOW(pvm_setrbuf(12345));
    SHOW(pvm_bufinfo(0, 0, 0, 0));
    SHOW(pvm_getminfo(12345, 0));
    SHOW(pvm_pkint(&v, -1, 1));
    pvm_setsbuf(0);
    SHOW(pvm_pkint(&v, 1, 1));
    SHOW(pvm_pkstr("x"));
    pvm_setrbuf(0);
    SHOW(pvm_upkint(&v, 1, 1));
    pvm_initsend(PvmDataDefault);
    pvm_send(pvm_mytid(), 9);
    pvm_recv(-1, 9);
    SHOW(pvm_upkint(&v, 1, 1));
    SHOW(pvm_upkstr((char *)tids));
    SHOW(pvm_getopt(99));
    SHOW(pvm_setopt(99, 1));
    SHOW(pvm_setopt(PvmPollType, 1));
    SHOW(pvm_notify(99, 1, 1, tids));
    SHOW(pvm_pstat(0x40fff));
    SHOW(pvm_pstat(0));
    SHOW(pvm_kill(0));
    SHOW(pvm_sendsig(0, 15));
    SHOW(pvm_tasks(-1, &v, 0));
    SHOW(pvm_mstat("no.such.host.invalid"));
    SHOW(pvm_archcode("SUN4"));
    SHOW(pvm_spawn("no-such-program", 0, 0, 0, 1, tids));
    SHOW(pvm_spawn("no-such-program", 0, 0, 0, 0, tids));
    SHOW(pvm_freecontext(0x4ffff));
    SHOW(pvm_recvinfo("clib.nothing", 0, 0));
    SHOW(pvm_delinfo("clib.nothing", 0, 0));
    SHOW(pvm_putinfo("", pvm_getsbuf(), 0));
    SHOW(pvm_lookup("clib.nothing", 0, &v));
    SHOW(pvm_delmhf(12345));
    SHOW(pvm_exit());
    return 0;
}
