/*
 * pvm_packf, pvm_unpackf and their va_list forms: a printf-like format
 * read left to right, each conversion handed to the pvm_pk* or pvm_upk*
 * entry point of its type. Variadic, so it is C; it holds no packing logic
 * of its own.
 *
 * A conversion is  % [count] [.stride] [h|l|u]... (c|d|f|x|s) , where
 * count and stride are digits or '*' (then taken from the arguments as
 * ints). With a count or a stride the argument is a pointer to the items;
 * without, pvm_packf takes a single value (as C promotes it: int or
 * double). "%+" at the start of a pvm_packf format calls pvm_initsend with
 * the next int argument. Anything between conversions is ignored.
 */
#include <stdarg.h>
#include "pvm3.h"
#include "pvm3_adapter.h"

struct conversion {
    int count, stride;
    int has_count, has_stride;
    int is_short, is_long, is_unsigned;
    char kind;
};

/* Reads one conversion after its '%'; returns the next position, or NULL
   if the format is malformed. */
static const char *parse(const char *p, va_list *ap, struct conversion *c) {
    c->count = 1;
    c->stride = 1;
    c->has_count = c->has_stride = 0;
    c->is_short = c->is_long = c->is_unsigned = 0;
    if (*p == '*') { c->count = va_arg(*ap, int); c->has_count = 1; p++; }
    else if (*p >= '0' && *p <= '9') {
        c->count = 0;
        while (*p >= '0' && *p <= '9') c->count = c->count * 10 + (*p++ - '0');
        c->has_count = 1;
    }
    if (*p == '.') {
        p++;
        if (*p == '*') { c->stride = va_arg(*ap, int); p++; }
        else {
            c->stride = 0;
            while (*p >= '0' && *p <= '9') c->stride = c->stride * 10 + (*p++ - '0');
        }
        c->has_stride = 1;
    }
    for (;; p++) {
        if (*p == 'h') c->is_short = 1;
        else if (*p == 'l') c->is_long = 1;
        else if (*p == 'u') c->is_unsigned = 1;
        else break;
    }
    switch (*p) {
    case 'c': case 'd': case 'f': case 'x': case 's':
        c->kind = *p;
        return p + 1;
    default:
        return 0;
    }
}

static int pack_pointer(const struct conversion *c, void *items) {
    int n = c->count, s = c->stride;
    switch (c->kind) {
    case 'c': return pvm_pkbyte((char *)items, n, s);
    case 'd':
        if (c->is_short) return c->is_unsigned ? pvm_pkushort((unsigned short *)items, n, s) : pvm_pkshort((short *)items, n, s);
        if (c->is_long) return c->is_unsigned ? pvm_pkulong((unsigned long *)items, n, s) : pvm_pklong((long *)items, n, s);
        return c->is_unsigned ? pvm_pkuint((unsigned int *)items, n, s) : pvm_pkint((int *)items, n, s);
    case 'f': return c->is_long ? pvm_pkdouble((double *)items, n, s) : pvm_pkfloat((float *)items, n, s);
    case 'x': return c->is_long ? pvm_pkdcplx((double *)items, n, s) : pvm_pkcplx((float *)items, n, s);
    default: return pvm_pkstr((char *)items);
    }
}

static int pack_value(const struct conversion *c, va_list *ap) {
    switch (c->kind) {
    case 'c': { char v = (char)va_arg(*ap, int); return pvm_pkbyte(&v, 1, 1); }
    case 'd':
        if (c->is_short) {
            if (c->is_unsigned) { unsigned short v = (unsigned short)va_arg(*ap, int); return pvm_pkushort(&v, 1, 1); }
            { short v = (short)va_arg(*ap, int); return pvm_pkshort(&v, 1, 1); }
        }
        if (c->is_long) {
            if (c->is_unsigned) { unsigned long v = va_arg(*ap, unsigned long); return pvm_pkulong(&v, 1, 1); }
            { long v = va_arg(*ap, long); return pvm_pklong(&v, 1, 1); }
        }
        if (c->is_unsigned) { unsigned int v = va_arg(*ap, unsigned int); return pvm_pkuint(&v, 1, 1); }
        { int v = va_arg(*ap, int); return pvm_pkint(&v, 1, 1); }
    case 'f':
        if (c->is_long) { double v = va_arg(*ap, double); return pvm_pkdouble(&v, 1, 1); }
        { float v = (float)va_arg(*ap, double); return pvm_pkfloat(&v, 1, 1); }
    default:
        /* complex numbers and strings are always passed by address */
        return pack_pointer(c, va_arg(*ap, void *));
    }
}

int pvm_vpackf(const char *format, va_list ap) {
    va_list args;
    const char *p = format;
    int rc = 0;
    if (!format) return lpvmerr((char *)"pvm_packf", PvmBadParam);
    /* Packing needs a send buffer, unless the format makes one first. */
    while (*p == ' ') p++;
    if (!(p[0] == '%' && p[1] == '+') && pvm_getsbuf() <= 0) return lpvmerr((char *)"pvm_packf", PvmNoBuf);
    p = format;
    va_copy(args, ap);
    while (*p && rc >= 0) {
        struct conversion c;
        if (*p != '%') { p++; continue; }
        p++;
        if (*p == '+') {
            int how = va_arg(args, int);
            p++;
            rc = pvm_initsend(how);
            continue;
        }
        p = parse(p, &args, &c);
        if (!p) { rc = lpvmerr((char *)"pvm_packf", PvmBadParam); break; }
        rc = (c.has_count || c.has_stride) ? pack_pointer(&c, va_arg(args, void *)) : pack_value(&c, &args);
    }
    va_end(args);
    return rc < 0 ? rc : 0;
}

int pvm_vunpackf(const char *format, va_list ap) {
    va_list args;
    const char *p = format;
    int rc = 0;
    if (!format) return lpvmerr((char *)"pvm_unpackf", PvmBadParam);
    va_copy(args, ap);
    while (*p && rc >= 0) {
        struct conversion c;
        void *items;
        if (*p != '%') { p++; continue; }
        p++;
        if (*p == '+') { p++; continue; }
        p = parse(p, &args, &c);
        if (!p) { rc = lpvmerr((char *)"pvm_unpackf", PvmBadParam); break; }
        items = va_arg(args, void *);
        switch (c.kind) {
        case 'c': rc = pvm_upkbyte((char *)items, c.count, c.stride); break;
        case 'd':
            if (c.is_short) rc = c.is_unsigned ? pvm_upkushort((unsigned short *)items, c.count, c.stride) : pvm_upkshort((short *)items, c.count, c.stride);
            else if (c.is_long) rc = c.is_unsigned ? pvm_upkulong((unsigned long *)items, c.count, c.stride) : pvm_upklong((long *)items, c.count, c.stride);
            else rc = c.is_unsigned ? pvm_upkuint((unsigned int *)items, c.count, c.stride) : pvm_upkint((int *)items, c.count, c.stride);
            break;
        case 'f': rc = c.is_long ? pvm_upkdouble((double *)items, c.count, c.stride) : pvm_upkfloat((float *)items, c.count, c.stride); break;
        case 'x': rc = c.is_long ? pvm_upkdcplx((double *)items, c.count, c.stride) : pvm_upkcplx((float *)items, c.count, c.stride); break;
        default: rc = pvm_upkstr((char *)items); break;
        }
    }
    va_end(args);
    return rc < 0 ? rc : 0;
}

int pvm_packf(const char *format, ...) {
    va_list ap;
    int rc;
    va_start(ap, format);
    rc = pvm_vpackf(format, ap);
    va_end(ap);
    return rc;
}

int pvm_unpackf(const char *format, ...) {
    va_list ap;
    int rc;
    va_start(ap, format);
    rc = pvm_vunpackf(format, ap);
    va_end(ap);
    return rc;
}
