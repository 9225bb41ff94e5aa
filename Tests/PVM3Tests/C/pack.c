/*
 * Packing and unpacking every type, with strides, in the three encodings
 * (PvmDataDefault = XDR, PvmDataRaw, PvmDataInPlace), through a message to
 * self; the byte images of Raw data (read back with pvm_upkbyte); packed
 * lengths (pvm_bufinfo); and the error codes.
 *
 * With argv[1] = "xdr" it shows instead what is particular to XDR in the
 * original: packed lengths (short and long take 4 bytes, strings and bytes
 * are padded to 4), the big-endian byte images, long cut to 32 bits and
 * unpacked without sign extension, the order of the words of a double, and
 * pvm_precv handing over the XDR bytes as they are.
 */
#include <stdio.h>
#include <string.h>
#include "pvm3.h"

extern int pvm_errno;

#define SHOW(e) printf("%s = %d\n", #e, (int)(e))
#define YESNO(e) printf("%s: %s\n", #e, (e) ? "yes" : "no")

static int me;
static int xdr_mode;

/* sends the active send buffer to self and receives it */
static int loop(int tag)
{
    int r;
    if (pvm_send(me, tag) < 0) return -1;
    r = pvm_recv(me, tag);
    return r;
}

static int packed_bytes(void)
{
    int bytes = -1;
    pvm_bufinfo(pvm_getsbuf(), &bytes, 0, 0);
    return bytes;
}

/* prints the bytes of the receive buffer from the current position;
 * positions marked 'p' in `pad` are XDR padding, which the original does
 * not clear: they are shown as "..". */
static void dump_padded(const char *what, int n, const char *pad)
{
    unsigned char b[64];
    int i;
    memset(b, 0, sizeof b);
    printf("%s:", what);
    if (pvm_upkbyte((char *)b, n, 1) < 0) { printf(" (upkbyte failed: %d)\n", pvm_errno); return; }
    for (i = 0; i < n; i++) {
        if (pad && pad[i] == 'p') printf(" ..");
        else printf(" %02x", b[i]);
    }
    printf("\n");
}

static void dump(const char *what, int n)
{
    dump_padded(what, n, 0);
}

static void roundtrip(int enc, const char *name)
{
    char cb[6] = { 'a', 'b', 'c', 'd', 'e', 'f' }, cr[6];
    short sh[6] = { -1, 2, -3, 4, -5, 32767 }, shr[6];
    unsigned short us[6] = { 1, 65535, 3, 4, 5, 6 }, usr[6];
    int in[6] = { -100000, 2, 3, 4, 5, 2147483647 }, inr[6];
    unsigned int ui[6] = { 4294967295u, 2, 3, 4, 5, 6 }, uir[6];
    long lo[6] = { -7, 8, -9, 10, 11, 2147483647L }, lor[6];
    unsigned long ul[6] = { 1, 2, 3, 4, 5, 4294967295ul }, ulr[6];
    float fl[6] = { 1.5f, -2.25f, 3.0f, 4.0f, 5.0f, 1e30f }, flr[6];
    double db[6] = { 1.0 / 3.0, -2.5, 1e300, 4, 5, -0.0 }, dbr[6];
    float cx[6] = { 1, 2, 3, 4, 5, 6 }, cxr[6];        /* 3 complex */
    double dc[6] = { -1, -2, -3, -4, -5, -6 }, dcr[6]; /* 3 double complex */
    char str[16], stre[4];
    int stride = enc == PvmDataInPlace ? 1 : 2;
    int n = enc == PvmDataInPlace ? 6 : 3;
    int i, ok;

    /* XDR cuts longs to 32 bits: without the xdr details, only values that
     * survive it */
    if (enc == PvmDataDefault && !xdr_mode) { lo[0] = 7; lo[2] = 9; }
    printf("== %s, stride %d\n", name, stride);
    pvm_initsend(enc);
    SHOW(pvm_pkbyte(cb, n, stride));
    SHOW(pvm_pkshort(sh, n, stride));
    SHOW(pvm_pkushort(us, n, stride));
    SHOW(pvm_pkint(in, n, stride));
    SHOW(pvm_pkuint(ui, n, stride));
    SHOW(pvm_pklong(lo, n, stride));
    SHOW(pvm_pkulong(ul, n, stride));
    SHOW(pvm_pkfloat(fl, n, stride));
    SHOW(pvm_pkdouble(db, n, stride));
    if (enc == PvmDataInPlace) {
        SHOW(pvm_pkcplx(cx, 3, 1));
        SHOW(pvm_pkdcplx(dc, 3, 1));
        SHOW(pvm_pkstr("hello"));
    } else {
        SHOW(pvm_pkcplx(cx, 2, 2));    /* complex 0 and 2 */
        SHOW(pvm_pkdcplx(dc, 2, 2));
        SHOW(pvm_pkstr("hello"));
        SHOW(pvm_pkstr(""));
    }
    if (enc != PvmDataDefault || xdr_mode) printf("packed bytes = %d\n", packed_bytes());
    YESNO(loop(10 + enc) > 0);

    memset(cr, 0, sizeof cr); memset(shr, 0, sizeof shr); memset(usr, 0, sizeof usr);
    memset(inr, 0, sizeof inr); memset(uir, 0, sizeof uir); memset(lor, 0, sizeof lor);
    memset(ulr, 0, sizeof ulr); memset(flr, 0, sizeof flr); memset(dbr, 0, sizeof dbr);
    memset(cxr, 0, sizeof cxr); memset(dcr, 0, sizeof dcr);
    memset(str, 'x', sizeof str); memset(stre, 'x', sizeof stre);
    /* unpack into every other slot when packed with a stride */
    SHOW(pvm_upkbyte(cr, n, stride));
    SHOW(pvm_upkshort(shr, n, stride));
    SHOW(pvm_upkushort(usr, n, stride));
    SHOW(pvm_upkint(inr, n, stride));
    SHOW(pvm_upkuint(uir, n, stride));
    SHOW(pvm_upklong(lor, n, stride));
    SHOW(pvm_upkulong(ulr, n, stride));
    SHOW(pvm_upkfloat(flr, n, stride));
    SHOW(pvm_upkdouble(dbr, n, stride));
    if (enc == PvmDataInPlace) {
        SHOW(pvm_upkcplx(cxr, 3, 1));
        SHOW(pvm_upkdcplx(dcr, 3, 1));
        SHOW(pvm_upkstr(str));
    } else {
        SHOW(pvm_upkcplx(cxr, 2, 2));
        SHOW(pvm_upkdcplx(dcr, 2, 2));
        SHOW(pvm_upkstr(str));
        SHOW(pvm_upkstr(stre));
    }
    SHOW(pvm_upkint(inr, 1, 1));      /* end of buffer */

    printf("byte:");
    for (i = 0; i < 6; i++) printf(" %d", cr[i]);
    printf("\nshort:");
    for (i = 0; i < 6; i++) printf(" %d", shr[i]);
    printf("\nushort:");
    for (i = 0; i < 6; i++) printf(" %u", usr[i]);
    printf("\nint:");
    for (i = 0; i < 6; i++) printf(" %d", inr[i]);
    printf("\nuint:");
    for (i = 0; i < 6; i++) printf(" %u", uir[i]);
    printf("\nlong:");
    for (i = 0; i < 6; i++) printf(" %ld", lor[i]);
    printf("\nulong:");
    for (i = 0; i < 6; i++) printf(" %lu", ulr[i]);
    printf("\nfloat:");
    for (i = 0; i < 6; i++) printf(" %g", flr[i]);
    printf("\ndouble:");
    for (i = 0; i < 6; i++) printf(" %.17g", dbr[i]);
    printf("\ncplx:");
    for (i = 0; i < 6; i++) printf(" %g", cxr[i]);
    printf("\ndcplx:");
    for (i = 0; i < 6; i++) printf(" %g", dcr[i]);
    printf("\nstr: %s\n", str);
    if (enc != PvmDataInPlace) printf("empty str: [%s] then %c\n", stre, stre[1]);
    ok = 1;
    for (i = 0; i < 6; i++) if (i % stride == 0 && inr[i] != in[i]) ok = 0;
    YESNO(ok);
}

static void image(int enc)
{
    int i32 = 0x01020304;
    short s16 = 0x0506;
    long l64 = 0x1122334455667788L;
    float f = 1.0f;
    double d = 1.0;
    char b3[3] = { 9, 8, 7 };

    printf("== images, encoding %d\n", enc);
    pvm_initsend(enc);
    pvm_pkint(&i32, 1, 1); printf("int bytes = %d\n", packed_bytes());
    pvm_pkshort(&s16, 1, 1); printf("+short bytes = %d\n", packed_bytes());
    pvm_pklong(&l64, 1, 1); printf("+long bytes = %d\n", packed_bytes());
    pvm_pkfloat(&f, 1, 1); printf("+float bytes = %d\n", packed_bytes());
    pvm_pkdouble(&d, 1, 1); printf("+double bytes = %d\n", packed_bytes());
    pvm_pkstr("abc"); printf("+str bytes = %d\n", packed_bytes());
    pvm_pkbyte(b3, 3, 1);
    pvm_pkbyte(b3, 3, 1); printf("+2x3 bytes = %d\n", packed_bytes());
    loop(20 + enc);
    dump("int", 4);
    dump("short", enc == PvmDataDefault ? 4 : 2);
    dump("long", enc == PvmDataDefault ? 4 : 8);
    dump("float", 4);
    dump("double", 8);
    dump("str", enc == PvmDataDefault ? 8 : 8);
    if (enc == PvmDataDefault) dump_padded("bytes", 8, "...p...p");
    else dump("bytes", 6);
}

int main(int argc, char **argv)
{
    int v[6] = { 1, 2, 3, 4, 5, 6 }, r[6], i;
    long big = 0x1122334455667788L, lr = 0;
    unsigned long ubig = 0xffffffff00000001UL, ulr = 0;
    char s[8];
    setvbuf(stdout, 0, _IOLBF, 0);   /* lines survive a kill on timeout */

    me = pvm_mytid();
    pvm_setopt(PvmAutoErr, 0);
    xdr_mode = argc > 1 && strcmp(argv[1], "xdr") == 0;

    if (xdr_mode) {
        double d = 1.0;
        int two[2], x = 144, atid, atag, alen;

        roundtrip(PvmDataDefault, "PvmDataDefault");
        image(PvmDataDefault);
        printf("== long in XDR\n");
        pvm_initsend(PvmDataDefault);
        pvm_pklong(&big, 1, 1);
        pvm_pkulong(&ubig, 1, 1);
        loop(30);
        pvm_upklong(&lr, 1, 1);
        pvm_upkulong(&ulr, 1, 1);
        printf("xdr long = 0x%lx, ulong = 0x%lx\n", lr, ulr);
        printf("== untyped unpacking\n");
        pvm_initsend(PvmDataDefault);
        pvm_pkdouble(&d, 1, 1);
        pvm_pkint(v, 1, 1);
        loop(33);
        SHOW(pvm_upkint(two, 2, 1));
        printf("two = 0x%x 0x%x\n", two[0], two[1]);
        SHOW(pvm_upkstr(s));          /* the int 1 read as a length */
        printf("== precv of an XDR message\n");
        pvm_initsend(PvmDataDefault);
        pvm_pkint(&x, 1, 1);
        pvm_send(me, 34);
        x = 0;
        SHOW(pvm_precv(me, 34, &x, 1, PVM_INT, &atid, &atag, &alen));
        printf("x = 0x%x, len %d\n", (unsigned)x, alen);
        SHOW(pvm_exit());
        return 0;
    }

    roundtrip(PvmDataDefault, "PvmDataDefault");
    roundtrip(PvmDataRaw, "PvmDataRaw");
    roundtrip(PvmDataInPlace, "PvmDataInPlace");
    image(PvmDataRaw);

    printf("== long in Raw\n");
    pvm_initsend(PvmDataRaw);
    pvm_pklong(&big, 1, 1);
    pvm_pkulong(&ubig, 1, 1);
    loop(31);
    pvm_upklong(&lr, 1, 1);
    pvm_upkulong(&ulr, 1, 1);
    printf("raw long = 0x%lx, ulong = 0x%lx\n", lr, ulr);

    printf("== strides and counts\n");
    pvm_initsend(PvmDataDefault);
    SHOW(pvm_pkint(v, 3, 2));
    SHOW(pvm_pkint(v, 0, 1));
    SHOW(pvm_pkint(v, -1, 1));
    SHOW(pvm_pkint(v + 5, 2, 0));     /* stride 0: the same item again */
    SHOW(pvm_pkint(v, 2, 3));
    SHOW(packed_bytes());
    loop(32);
    memset(r, 0, sizeof r);
    SHOW(pvm_upkint(r, 3, 1));
    printf("r = %d %d %d\n", r[0], r[1], r[2]);
    SHOW(pvm_upkint(r, 2, 1));
    printf("r = %d %d\n", r[0], r[1]);
    memset(r, 0, sizeof r);
    SHOW(pvm_upkint(r, 2, 3));
    printf("r = %d %d %d %d %d %d\n", r[0], r[1], r[2], r[3], r[4], r[5]);
    SHOW(pvm_upkint(r, -1, 1));
    SHOW(pvm_upkint(r, 0, 1));
    SHOW(pvm_upkint(r, 1, 1));

    printf("== untyped unpacking\n");
    {
        double d = 1.0;
        int two[2];
        pvm_initsend(PvmDataRaw);
        pvm_pkdouble(&d, 1, 1);
        pvm_pkint(v, 1, 1);
        loop(33);
        SHOW(pvm_upkint(two, 2, 1));
        printf("two = 0x%x 0x%x\n", two[0], two[1]);
        SHOW(pvm_upkstr(s));          /* the int 1 read as a length */
    }

    printf("== errors\n");
    pvm_initsend(PvmDataInPlace);
    SHOW(pvm_pkint(v, 3, 2));
    SHOW(pvm_pkstr("x"));
    SHOW(pvm_pkint(v, 3, 1));
    pvm_setsbuf(0);
    SHOW(pvm_pkint(v, 1, 1));
    SHOW(pvm_pkstr("x"));
    SHOW(pvm_pkbyte(s, 1, 1));
    SHOW(pvm_pkdouble((double *)r, 1, 1));
    pvm_setrbuf(0);
    SHOW(pvm_upkint(r, 1, 1));
    SHOW(pvm_upkstr(s));
    SHOW(pvm_upkbyte(s, 1, 1));
    for (i = 0; i < 1; i++) {
        pvm_initsend(PvmDataRaw);
        SHOW(pvm_pkshort((short *)v, -2, 1));
        SHOW(pvm_pkfloat((float *)v, -1, 1));
        SHOW(pvm_pkcplx((float *)v, -1, 1));
        SHOW(pvm_pkdcplx((double *)v, -1, 1));
        SHOW(pvm_pklong((long *)v, -1, 1));
        SHOW(pvm_pkbyte((char *)v, -1, 1));
    }
    SHOW(pvm_exit());
    return 0;
}
