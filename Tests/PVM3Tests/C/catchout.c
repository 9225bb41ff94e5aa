/*
 * pvm_catchout: the output of a spawned worker (stdout and stderr, and a
 * last line without a newline) is printed on our stdout, framed by BEGIN
 * and EOF lines with the child's tid when PvmShowTids is 1 (argv[1] = "1"),
 * raw when it is 0. pvm_exit waits until the output is complete.
 */
#include <stdio.h>
#include <stdlib.h>
#include "pvm3.h"

int main(int argc, char **argv)
{
    int tid = 0, show = argc > 1 ? atoi(argv[1]) : 1, rc;
    char *args[] = { "print", 0 };
    setvbuf(stdout, 0, _IOLBF, 0);   /* lines survive a kill on timeout */

    pvm_mytid();
    printf("pvm_catchout(stdout) = %d\n", pvm_catchout(stdout));
    printf("pvm_setopt(PvmShowTids, %d) = %d\n", show, pvm_setopt(PvmShowTids, show));
    fflush(stdout);
    if (pvm_spawn("worker", args, PvmTaskDefault, 0, 1, &tid) != 1) {
        printf("spawn failed: %d\n", tid);
        return 1;
    }
    pvm_notify(PvmTaskExit, 9, 1, &tid);
    pvm_recv(-1, 9);
    rc = pvm_exit();
    printf("\npvm_exit() = %d\n", rc);
    printf("pvm_catchout(0) = %d\n", pvm_catchout(0));
    return 0;
}
