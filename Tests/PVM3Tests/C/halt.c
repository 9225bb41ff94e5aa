/*
 * pvm_halt stops the whole virtual machine, the caller included: the
 * daemon sends SIGTERM to every task. Spawned workers go too.
 */
#include <stdio.h>
#include <unistd.h>
#include "pvm3.h"

int main(void)
{
    int tids[2], i, n;
    char *args[] = { "sleep", 0 };
    setvbuf(stdout, 0, _IOLBF, 0);   /* lines survive a kill on timeout */

    pvm_mytid();
    n = pvm_spawn("worker", args, PvmTaskDefault, 0, 2, tids);
    printf("spawned %d\n", n);
    for (i = 0; i < n; i++) pvm_recv(tids[i], 5);
    printf("halting\n");
    fflush(stdout);
    i = pvm_halt();
    /* the original never gets here: it is killed first */
    sleep(3);
    printf("pvm_halt() returned %d\n", i);
    return 0;
}
