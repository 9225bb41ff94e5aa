/*
 * Message buffers: pvm_mkbuf, pvm_freebuf, pvm_initsend, pvm_getsbuf,
 * pvm_getrbuf, pvm_setsbuf, pvm_setrbuf, pvm_bufinfo, pvm_getminfo,
 * pvm_setminfo, pvm_pkmesg, pvm_pkmesgbody, pvm_upkmesg, with the error
 * codes of bad buffer ids and encodings. Buffer ids are printed only as
 * relations (the first id handed out differs between implementations).
 */
#include <stdio.h>
#include <string.h>
#include "pvm3.h"

extern int pvm_errno;

#define SHOW(e) printf("%s = %d\n", #e, (int)(e))
#define SHOWX(e) printf("%s = 0x%x\n", #e, (unsigned)(e))
#define YESNO(e) printf("%s: %s\n", #e, (e) ? "yes" : "no")

int main(void)
{
    int me, a, b, c, s, r, inner, bytes, tag, tid, i;
    int data[4] = { 1, 2, 3, 4 }, back[4];
    char text[32];
    struct pvmminfo mi;
    setvbuf(stdout, 0, _IOLBF, 0);   /* lines survive a kill on timeout */

    me = pvm_mytid();
    pvm_setopt(PvmAutoErr, 0);

    /* nothing active at start */
    SHOW(pvm_getsbuf());
    SHOW(pvm_getrbuf());

    /* mkbuf: every encoding, bad ones refused */
    a = pvm_mkbuf(PvmDataDefault);
    b = pvm_mkbuf(PvmDataRaw);
    c = pvm_mkbuf(PvmDataInPlace);
    YESNO(a > 0 && b > 0 && c > 0);
    YESNO(a != b && b != c && a != c);
    SHOW(pvm_mkbuf(3));
    SHOW(pvm_mkbuf(99));
    SHOW(pvm_mkbuf(-1));
    YESNO(pvm_getsbuf() == 0);      /* mkbuf does not make it active */

    /* setsbuf/setrbuf return the previous id */
    SHOW(pvm_setsbuf(a));
    YESNO(pvm_getsbuf() == a);
    YESNO(pvm_setsbuf(b) == a);
    YESNO(pvm_setsbuf(0) == b);
    SHOW(pvm_getsbuf());
    SHOW(pvm_setrbuf(c));
    YESNO(pvm_getrbuf() == c);
    YESNO(pvm_setrbuf(0) == c);
    SHOW(pvm_getrbuf());
    SHOW(pvm_setsbuf(12345));
    SHOW(pvm_setrbuf(12345));
    SHOW(pvm_setsbuf(-3));
    SHOW(pvm_setrbuf(-3));

    /* bufinfo of a fresh buffer, NULL out-pointers allowed */
    SHOW(pvm_bufinfo(a, &bytes, &tag, &tid));
    SHOW(bytes);
    SHOW(tag);
    YESNO(tid == me);
    SHOW(pvm_bufinfo(a, 0, 0, 0));
    SHOW(pvm_bufinfo(0, &bytes, &tag, &tid));
    SHOW(pvm_bufinfo(-1, &bytes, &tag, &tid));
    SHOW(pvm_bufinfo(12345, &bytes, &tag, &tid));

    /* getminfo of unsent buffers */
    memset(&mi, 0x55, sizeof mi);
    SHOW(pvm_getminfo(a, &mi));
    SHOW(mi.len); SHOW(mi.ctx); SHOW(mi.tag); SHOWX(mi.enc);
    YESNO(mi.src == me);
    SHOW(mi.dst);
    SHOW(pvm_getminfo(b, &mi));
    SHOWX(mi.enc);
    SHOW(pvm_getminfo(c, &mi));
    SHOWX(mi.enc);
    SHOW(pvm_getminfo(0, &mi));
    SHOW(pvm_getminfo(12345, &mi));

    /* setminfo changes tag, src, dst, ctx, wid */
    SHOW(pvm_setsbuf(0));
    pvm_setsbuf(a);
    SHOW(pvm_pkint(data, 4, 1));
    pvm_getminfo(a, &mi);
    SHOW(mi.len);
    mi.tag = 77; mi.src = 0x40999; mi.dst = 0x40998; mi.ctx = 5; mi.wid = 3;
    SHOW(pvm_setminfo(a, &mi));
    memset(&mi, 0, sizeof mi);
    SHOW(pvm_getminfo(a, &mi));
    SHOW(mi.tag); SHOWX(mi.src); SHOWX(mi.dst); SHOW(mi.ctx); SHOW(mi.wid); SHOW(mi.len);
    SHOW(pvm_bufinfo(a, &bytes, &tag, &tid));
    SHOW(bytes); SHOW(tag); SHOWX(tid);
    SHOW(pvm_setminfo(12345, &mi));
    SHOW(pvm_setminfo(0, &mi));

    /* freebuf */
    SHOW(pvm_freebuf(0));
    SHOW(pvm_freebuf(-1));
    SHOW(pvm_freebuf(12345));
    SHOW(pvm_freebuf(b));
    SHOW(pvm_freebuf(b));
    SHOW(pvm_setsbuf(b));
    YESNO(pvm_getsbuf() == a);
    SHOW(pvm_freebuf(a));           /* the active send buffer may go */
    SHOW(pvm_getsbuf());
    SHOW(pvm_pkint(data, 1, 1));    /* nothing to pack into */
    SHOW(pvm_freebuf(c));

    /* initsend frees the previous send buffer and makes a new one active */
    s = pvm_initsend(PvmDataDefault);
    YESNO(s > 0 && pvm_getsbuf() == s);
    a = pvm_initsend(PvmDataRaw);
    YESNO(a > 0 && pvm_getsbuf() == a);
    SHOW(pvm_bufinfo(s, 0, 0, 0) == PvmNoSuchBuf || s == a);
    SHOW(pvm_initsend(3));
    SHOW(pvm_initsend(-1));
    YESNO(pvm_getsbuf() == a);      /* a bad encoding keeps the old one */
    s = pvm_initsend(PvmDataDefault);
    YESNO(s > 0);

    /* receiving frees the previous receive buffer */
    SHOW(pvm_pkint(data, 4, 1));
    SHOW(pvm_send(me, 1));
    SHOW(pvm_send(me, 2));
    r = pvm_recv(me, 1);
    YESNO(r > 0 && pvm_getrbuf() == r);
    SHOW(pvm_bufinfo(r, &bytes, &tag, &tid));
    SHOW(bytes); SHOW(tag); YESNO(tid == me);
    SHOW(pvm_getminfo(r, &mi));
    SHOW(mi.len); SHOW(mi.tag); SHOW(mi.ctx); SHOWX(mi.enc); YESNO(mi.src == me); YESNO(mi.dst == me);
    i = pvm_recv(me, 2);
    YESNO(i > 0 && pvm_getrbuf() == i);
    /* the previous receive buffer is gone (or its id handed out again) */
    YESNO(i == r || pvm_bufinfo(r, 0, 0, 0) == PvmNoSuchBuf);
    memset(back, 0, sizeof back);
    SHOW(pvm_upkint(back, 4, 1));
    printf("back = %d %d %d %d\n", back[0], back[1], back[2], back[3]);
    SHOW(pvm_upkint(back, 1, 1));   /* past the end */

    /* setrbuf to a send buffer: it can be read back */
    s = pvm_initsend(PvmDataDefault);
    pvm_pkstr("inside");
    YESNO(pvm_setrbuf(s) == i);     /* i is no longer the receive buffer ... */
    SHOW(pvm_bufinfo(i, 0, 0, 0));  /* ... but not freed */
    memset(text, 0, sizeof text);
    SHOW(pvm_upkstr(text));
    printf("text = %s\n", text);
    pvm_setrbuf(0);

    /* pkmesg/upkmesg: a whole message inside another */
    inner = pvm_mkbuf(PvmDataDefault);
    pvm_setsbuf(inner);
    pvm_pkint(data, 4, 1);
    pvm_pkstr("payload");
    mi.tag = 42; mi.src = me; mi.dst = me; mi.ctx = 0; mi.wid = 0;
    pvm_getminfo(inner, &mi);
    mi.tag = 42;
    SHOW(pvm_setminfo(inner, &mi));
    YESNO(pvm_setsbuf(0) == inner);  /* so that initsend does not free it */
    s = pvm_initsend(PvmDataDefault);
    SHOW(pvm_pkint(data, 1, 1));
    SHOW(pvm_pkmesg(inner));
    SHOW(pvm_pkmesg(s));            /* not the active send buffer itself */
    SHOW(pvm_pkmesg(12345));
    SHOW(pvm_send(me, 3));
    r = pvm_recv(me, 3);
    YESNO(r > 0);
    back[0] = 0;
    SHOW(pvm_upkint(back, 1, 1));
    SHOW(back[0]);
    b = pvm_upkmesg();
    YESNO(b > 0 && b != r);
    SHOW(pvm_bufinfo(b, &bytes, &tag, &tid));
    SHOW(bytes); SHOW(tag); YESNO(tid == me);
    YESNO(pvm_getrbuf() == r);
    SHOW(pvm_upkmesg());            /* nothing left in the outer message */
    pvm_setrbuf(b);
    memset(back, 0, sizeof back);
    memset(text, 0, sizeof text);
    SHOW(pvm_upkint(back, 4, 1));
    SHOW(pvm_upkstr(text));
    printf("inner = %d %d %d %d %s\n", back[0], back[1], back[2], back[3], text);

    /* pkmesgbody: only the body is appended */
    pvm_setrbuf(0);
    SHOW(pvm_bufinfo(b, 0, 0, 0));  /* setrbuf(0) does not free it */
    SHOW(pvm_freebuf(b));
    s = pvm_initsend(PvmDataDefault);
    SHOW(pvm_pkmesgbody(inner));
    SHOW(pvm_bufinfo(s, &bytes, 0, 0));
    SHOW(bytes);
    SHOW(pvm_send(me, 4));
    r = pvm_recv(me, 4);
    memset(back, 0, sizeof back);
    memset(text, 0, sizeof text);
    SHOW(pvm_upkint(back, 4, 1));
    SHOW(pvm_upkstr(text));
    printf("body = %d %d %d %d %s\n", back[0], back[1], back[2], back[3], text);
    SHOW(pvm_pkmesgbody(12345));

    SHOW(pvm_exit());
    return 0;
}
