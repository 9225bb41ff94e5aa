/*
 * Messages of many sizes (0 bytes to 4 MiB) to a spawned worker and back
 * ("worker echo" forwards each received buffer with pvm_setsbuf/pvm_send),
 * in the three encodings, routed through the daemon and directly; the
 * content is checked on return.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pvm3.h"

static const int sizes[] = { 0, 1, 7, 1019, 1020, 4096, 100000, 1 << 20 };
#define NSIZES ((int)(sizeof sizes / sizeof sizes[0]))

int main(void)
{
    int me = pvm_mytid(), tid = 0, e, r, s, i, bytes, tag, src, ok;
    int encs[3] = { PvmDataDefault, PvmDataRaw, PvmDataInPlace };
    int routes[2] = { PvmDontRoute, PvmRouteDirect };
    char *args[] = { "echo", 0 };
    int *out = malloc(sizeof(int) * (1 << 20)), *back = malloc(sizeof(int) * (1 << 20));
    setvbuf(stdout, 0, _IOLBF, 0);   /* lines survive a kill on timeout */

    if (me < 0 || pvm_spawn("worker", args, PvmTaskDefault, 0, 1, &tid) != 1) {
        printf("spawn failed\n");
        return 1;
    }
    for (r = 0; r < 2; r++) {
        pvm_setopt(PvmRoute, routes[r]);
        for (e = 0; e < 3; e++) {
            for (s = 0; s < NSIZES; s++) {
                int n = sizes[s];
                for (i = 0; i < n; i++) out[i] = i * 7 + s + e * 1000 + r;
                pvm_initsend(encs[e]);
                pvm_pkint(&n, 1, 1);
                pvm_pkint(out, n, 1);
                if (pvm_send(tid, 10 + s) < 0) { printf("send failed\n"); continue; }
                pvm_recv(tid, 1010 + s);
                pvm_bufinfo(pvm_getrbuf(), &bytes, &tag, &src);
                memset(back, 0, sizeof(int) * n);
                i = -1;
                pvm_upkint(&i, 1, 1);
                ok = i == n && pvm_upkint(back, n, 1) == 0 && memcmp(out, back, sizeof(int) * n) == 0
                     && src == tid && tag == 1010 + s;
                printf("route %d encoding %d ints %d: %s\n", routes[r], encs[e], n, ok ? "ok" : "WRONG");
            }
        }
    }
    pvm_initsend(PvmDataDefault);
    pvm_send(tid, 999);
    free(out);
    free(back);
    printf("pvm_exit() = %d\n", pvm_exit());
    return 0;
}
