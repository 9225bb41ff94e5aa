/*
 * pvm_packf/pvm_unpackf and their va_list forms pvm_vpackf/pvm_vunpackf:
 * "%+" (initsend), conversions c d f x s with modifiers h l u, counts,
 * strides and "*", values without a count and pointers with one.
 */
#include <stdio.h>
#include <stdarg.h>
#include <string.h>
#include "pvm3.h"

extern int pvm_errno;
/* exported by libpvm3; the original pvm3.h does not declare them */
int pvm_vpackf(const char *fmt, va_list ap);
int pvm_vunpackf(const char *fmt, va_list ap);

#define SHOW(e) printf("%s = %d\n", #e, (int)(e))

static int my_packf(const char *fmt, ...)
{
    va_list ap;
    int rc;
    va_start(ap, fmt);
    rc = pvm_vpackf(fmt, ap);
    va_end(ap);
    return rc;
}

static int my_unpackf(const char *fmt, ...)
{
    va_list ap;
    int rc;
    va_start(ap, fmt);
    rc = pvm_vunpackf(fmt, ap);
    va_end(ap);
    return rc;
}

int main(void)
{
    int me = pvm_mytid(), arr[6] = { 1, 2, 3, 4, 5, 6 }, arr2[6], i, d = 0, n = 0;
    double x = 0, dd[3] = { 0.5, 1.5, 2.5 }, ddr[3];
    float f = 0, cx[4] = { 1, -1, 2, -2 }, cxr[4];
    short sh[3] = { -3, 4, -5 }, shr[3], h = 0;
    long l = 0, la[2] = { 123456789012L, -5 }, lar[2];
    unsigned int u = 0;
    unsigned long ul = 0;
    char s[32], c = 0, bytes[4] = { 'p', 'q', 'r', 's' }, br[4];
    setvbuf(stdout, 0, _IOLBF, 0);   /* lines survive a kill on timeout */

    pvm_setopt(PvmAutoErr, 0);

    printf("== packf\n");
    SHOW(pvm_packf("%+ %d %3d %lf %s", PvmDataDefault, 7, arr, 3.25, "hello"));
    SHOW(pvm_send(me, 1));
    pvm_recv(me, 1);
    memset(arr2, 0, sizeof arr2);
    SHOW(pvm_unpackf("%d %3d %lf %s", &d, arr2, &x, s));
    printf("d %d arr %d %d %d x %g s %s\n", d, arr2[0], arr2[1], arr2[2], x, s);

    SHOW(pvm_packf("%+", PvmDataRaw));
    SHOW(pvm_packf("%c %hd %ld %ud %lud %f", 'z', 12, 1234567890123L, 4000000000u, 99ul, 2.5));
    SHOW(pvm_packf("%*.*d", 3, 2, arr));                 /* 1 3 5 */
    SHOW(pvm_packf("%2.2lf %3hd %2x %2ld %4c", dd, sh, cx, la, bytes));
    SHOW(pvm_send(me, 2));
    pvm_recv(me, 2);
    SHOW(pvm_unpackf("%c %hd %ld %ud %lud %f", &c, &h, &l, &u, &ul, &f));
    printf("c %c h %d l %ld u %u ul %lu f %g\n", c, h, l, u, ul, f);
    memset(arr2, 0, sizeof arr2);
    SHOW(pvm_unpackf("%*.*d", 3, 2, arr2));
    printf("arr2 %d %d %d %d %d %d\n", arr2[0], arr2[1], arr2[2], arr2[3], arr2[4], arr2[5]);
    memset(ddr, 0, sizeof ddr); memset(shr, 0, sizeof shr); memset(cxr, 0, sizeof cxr);
    memset(lar, 0, sizeof lar); memset(br, 0, sizeof br);
    SHOW(pvm_unpackf("%2lf %3hd %2x %2ld %4c", ddr, shr, cxr, lar, br));
    printf("dd %g %g %g sh %d %d %d cx %g %g %g %g la %ld %ld bytes %.4s\n", ddr[0], ddr[1], ddr[2],
           shr[0], shr[1], shr[2], cxr[0], cxr[1], cxr[2], cxr[3], lar[0], lar[1], br);
    SHOW(pvm_unpackf("%d", &d));                         /* past the end */

    printf("== vpackf\n");
    SHOW(my_packf("%+ %d %s %lf", PvmDataDefault, 41, "va", 0.125));
    SHOW(pvm_send(me, 3));
    pvm_recv(me, 3);
    SHOW(my_unpackf("%d %s %lf", &n, s, &x));
    printf("n %d s %s x %g\n", n, s, x);

    printf("== errors\n");
    pvm_setsbuf(0);
    SHOW(pvm_packf("%d", 1));
    SHOW(pvm_packf("%+ %d", 7, 1));                      /* a bad encoding */
    pvm_setrbuf(0);
    SHOW(pvm_unpackf("%d", &d));
    for (i = 0; i < 1; i++) SHOW(pvm_packf(""));
    SHOW(pvm_exit());
    return 0;
}
