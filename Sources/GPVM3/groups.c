/*
 * libgpvm3.so.3: PVM 3.4's group library. Programs link it beside
 * libpvm3.so.3; the group calls are implemented in libpvm3 (which exports
 * them too), and each entry point here forwards to libpvm3's definition,
 * found once through the dynamic loader. So a call reaches the same code
 * whichever of the two libraries the loader searches first.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

static void *libpvm3(void) {
    static void *handle;
    if (!handle) {
        handle = dlopen("libpvm3.so.3", RTLD_LAZY | RTLD_GLOBAL);
        if (!handle) {
            fprintf(stderr, "libgpvm3: cannot load libpvm3.so.3: %s\n", dlerror());
            abort();
        }
    }
    return handle;
}

/* The definition of `name` in libpvm3 itself (never this library's). */
static void *resolve(const char *name) {
    void *f = dlsym(libpvm3(), name);
    if (!f) {
        fprintf(stderr, "libgpvm3: libpvm3.so.3 has no %s\n", name);
        abort();
    }
    return f;
}

#define FORWARD(ret, name, params, args)                                  \
    ret name params {                                                     \
        static ret (*target) params;                                      \
        if (!target) *(void **)&target = resolve(#name);                  \
        return target args;                                               \
    }

typedef void (*reduce_fn)(int *, void *, void *, int *, int *);

FORWARD(int, pvm_joingroup, (char *g), (g))
FORWARD(int, pvm_lvgroup, (char *g), (g))
FORWARD(int, pvm_gsize, (char *g), (g))
FORWARD(int, pvm_getinst, (char *g, int tid), (g, tid))
FORWARD(int, pvm_gettid, (char *g, int inst), (g, inst))
FORWARD(int, pvm_barrier, (char *g, int count), (g, count))
FORWARD(int, pvm_bcast, (char *g, int tag), (g, tag))
FORWARD(int, pvm_freezegroup, (char *g, int size), (g, size))
FORWARD(int, pvm_reduce, (reduce_fn f, void *d, int n, int type, int tag, char *g, int root), (f, d, n, type, tag, g, root))
FORWARD(int, pvm_gather, (void *r, void *d, int n, int type, int tag, char *g, int root), (r, d, n, type, tag, g, root))
FORWARD(int, pvm_scatter, (void *r, void *d, int n, int type, int tag, char *g, int root), (r, d, n, type, tag, g, root))
FORWARD(int, pvm_grphostinfo, (char *g, int host, int *coord, int *members, int *hosts), (g, host, coord, members, hosts))
FORWARD(int, pvm_grpvhostinfo, (char *g, int **coords, int **members, int *hosts), (g, coords, members, hosts))
FORWARD(int, pvm_gsdump, (void), ())

/* The reduce operators: programs pass their addresses to pvm_reduce. */
#define FORWARD_OP(name)                                                  \
    void name(int *type, void *x, void *y, int *num, int *info) {         \
        static reduce_fn target;                                          \
        if (!target) *(void **)&target = resolve(#name);                  \
        target(type, x, y, num, info);                                    \
    }

FORWARD_OP(PvmMax)
FORWARD_OP(PvmMin)
FORWARD_OP(PvmSum)
FORWARD_OP(PvmProduct)
