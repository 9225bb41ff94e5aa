/*
 * Identity and errors: pvm_mytid, pvm_parent, pvm_version, pvm_tidtohost,
 * pvm_siblings, pvm_getfds, pvm_exit and re-enrollment, pvm_errno,
 * pvm_errlist/pvm_nerr, pvm_strerror, pvm_perror (on stderr).
 * Lines printed do not depend on task ids or timing.
 */
#include <stdio.h>
#include <string.h>
#include "pvm3.h"

/* not declared by the original pvm3.h; ours declares them the same way */
extern int pvm_errno;
extern char *pvm_errlist[];
extern int pvm_nerr;

#define SHOW(e) printf("%s = %d\n", #e, (int)(e))
#define SHOWX(e) printf("%s = 0x%x\n", #e, (unsigned)(e))
#define YESNO(e) printf("%s: %s\n", #e, (e) ? "yes" : "no")

int main(void)
{
    int me, again, i, n, *tids = 0, *fds = 0;
    setvbuf(stdout, 0, _IOLBF, 0);   /* lines survive a kill on timeout */

    /* perror before enrollment uses the pid form: checked by the test */
    pvm_errno = PvmNoBuf;
    SHOW(pvm_perror("before enrollment"));

    me = pvm_mytid();
    YESNO(me > 0);
    YESNO((me & 0x3ffff) != 0);
    YESNO(pvm_mytid() == me);
    SHOW(pvm_parent());
    printf("pvm_version() = %s\n", pvm_version());

    SHOWX(pvm_tidtohost(-1));
    SHOWX(pvm_tidtohost(0x1c0001));
    SHOWX(pvm_tidtohost(0));
    YESNO(pvm_tidtohost(me) == (me & 0x3ffc0000));

    n = pvm_siblings(&tids);
    SHOW(n);
    YESNO(tids != 0 && tids[0] == me);

    n = pvm_getfds(&fds);
    YESNO(n >= 1);
    YESNO(fds != 0 && fds[0] >= 0);

    /* the error table */
    SHOW(pvm_nerr);
    for (i = 0; i < pvm_nerr; i++)
        printf("pvm_errlist[%d] = %s\n", i, pvm_errlist[i]);

    /* pvm_strerror and pvm_perror follow pvm_errno, which stays set */
    pvm_errno = PvmNoSuchBuf;
    printf("pvm_strerror() = %s\n", pvm_strerror());
    SHOW(pvm_perror("my message"));
    pvm_errno = 0;
    printf("pvm_strerror() = %s\n", pvm_strerror());
    SHOW(pvm_perror("zero"));
    pvm_errno = -37;
    SHOW(pvm_perror("below"));
    pvm_errno = PvmIPLoopback;
    SHOW(pvm_perror("last"));

    pvm_setopt(PvmAutoErr, 0);
    pvm_errno = 0;
    SHOW(pvm_freebuf(-1));
    SHOW(pvm_errno);
    SHOW(pvm_getsbuf());
    SHOW(pvm_errno);          /* sticky: a successful call does not reset it */

    /* leave; local buffers stay usable; the next call enrolls again */
    SHOW(pvm_exit());
    SHOW(pvm_exit());
    YESNO(pvm_initsend(PvmDataDefault) > 0);
    again = pvm_mytid();
    YESNO(again > 0);
    YESNO(again != me);
    SHOW(pvm_exit());
    return 0;
}
