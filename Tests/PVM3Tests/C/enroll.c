/* The smallest PVM program: enroll, say whether it got a task id, leave. */
#include <stdio.h>
#include "pvm3.h"

int main(void)
{
    int me;

    setvbuf(stdout, 0, _IOLBF, 0);   /* lines survive a kill on timeout */
    me = pvm_mytid();
    printf("pvm_mytid() > 0: %s\n", me > 0 ? "yes" : "no");
    printf("pvm_exit() = %d\n", pvm_exit());
    return 0;
}
