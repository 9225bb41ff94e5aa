/* The foreign end of the encoding tests. Built by the tests with Debian's
 * cross compilers and run under qemu-user, it stands for a real SPARC,
 * PowerPC, Alpha or 32-bit x86 host.
 *
 *   foreign write FILE   write the known values below, in this CPU's native
 *                        format, one array after another
 *   foreign check FILE   read arrays in the same order and compare them bit
 *                        for bit with the known values; exit 1 on a mismatch
 *
 * The Swift side (ForeignEncodingTests.swift) holds the same list. */
#include <float.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static short shorts[] = {0, 1, -1, SHRT_MIN, SHRT_MAX, 12345, -12345};
static unsigned short ushorts[] = {0, 1, USHRT_MAX, 40000};
static int ints[] = {0, 1, -1, INT_MIN, INT_MAX, 0x01020304, -123456789};
static unsigned int uints[] = {0, UINT_MAX, 0x80000000u, 3000000000u};
static long longs[] = {0, 1, -1, LONG_MIN, LONG_MAX, 0x01020304, -123456789};
static unsigned long ulongs[] = {0, ULONG_MAX, 1};
static uint32_t float_bits[] = {
    0x00000000u, 0x80000000u, 0x3f800000u, 0xbfc00000u, 0x7f7fffffu, /* 0, -0, 1, -1.5, FLT_MAX */
    0x00800000u, 0x00000001u, 0x7f800000u, 0xff800000u, 0x7fc12345u, /* FLT_MIN, smallest subnormal, +inf, -inf, NaN payload */
};
static uint64_t double_bits[] = {
    0x0000000000000000ull, 0x8000000000000000ull, 0x3ff0000000000000ull, 0x7fefffffffffffffull,
    0x0010000000000000ull, 0x0000000000000001ull, 0x7ff0000000000000ull, 0xfff0000000000000ull,
    0x7ff8000012345678ull, 0xc00921fb54442d18ull, /* NaN payload, -pi */
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

int main(int argc, char **argv) {
    float floats[COUNT(float_bits)];
    double doubles[COUNT(double_bits)];
    memcpy(floats, float_bits, sizeof floats);
    memcpy(doubles, double_bits, sizeof doubles);
    struct { void *data; size_t size; const char *name; } arrays[] = {
        {shorts, sizeof shorts, "short"}, {ushorts, sizeof ushorts, "unsigned short"},
        {ints, sizeof ints, "int"}, {uints, sizeof uints, "unsigned int"},
        {longs, sizeof longs, "long"}, {ulongs, sizeof ulongs, "unsigned long"},
        {floats, sizeof floats, "float"}, {doubles, sizeof doubles, "double"},
    };
    if (argc != 3) { fprintf(stderr, "usage: foreign write|check FILE\n"); return 2; }
    int writing = strcmp(argv[1], "write") == 0;
    FILE *f = fopen(argv[2], writing ? "wb" : "rb");
    if (!f) { perror(argv[2]); return 2; }
    int bad = 0;
    for (size_t i = 0; i < COUNT(arrays); i++) {
        if (writing) {
            if (fwrite(arrays[i].data, 1, arrays[i].size, f) != arrays[i].size) { perror("write"); return 2; }
        } else {
            unsigned char got[256];
            if (fread(got, 1, arrays[i].size, f) != arrays[i].size) { fprintf(stderr, "short file at %s\n", arrays[i].name); return 1; }
            if (memcmp(got, arrays[i].data, arrays[i].size) != 0) {
                fprintf(stderr, "%s values differ\n", arrays[i].name);
                bad = 1;
            }
        }
    }
    fclose(f);
    if (!writing && !bad) printf("all values match (sizeof long = %u)\n", (unsigned)sizeof(long));
    return bad;
}
