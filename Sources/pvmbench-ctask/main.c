/*
 * pvmbench-ctask: the spawned end of `pvmbench pingpong --api c` (with
 * `--route daemon` or `--route tcp` for those paths). A C PVM program like
 * any other: it echoes every message from its parent through
 * libpvm3.so.3 (initsend, pkbyte, send; recv, upkbyte) until a message with
 * another tag. The library is loaded with dlopen from beside this program
 * (the build folder) or from ../lib (an install prefix), so that the
 * measurement goes through the shared library a PVM program would use,
 * whatever the build system links. Not meant to be run by hand.
 */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int (*p_mytid)(void);
static int (*p_parent)(void);
static int (*p_exit)(void);
static int (*p_initsend)(int);
static int (*p_pkbyte)(char *, int, int);
static int (*p_upkbyte)(char *, int, int);
static int (*p_send)(int, int);
static int (*p_recv)(int, int);
static int (*p_bufinfo)(int, int *, int *, int *);
static int (*p_setopt)(int, int);

enum { ECHO_TAG = 1, DATA_RAW = 1, OPT_ROUTE = 1, DONT_ROUTE = 1 };

static void *library(void) {
    char self[PATH_MAX], path[PATH_MAX + 32];
    const char *names[] = { "/libpvm3.so.3", "/libpvm3.so", "/../lib/libpvm3.so.3" };
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        char *slash;
        self[n] = 0;
        slash = strrchr(self, '/');
        if (slash) *slash = 0;
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            void *h;
            snprintf(path, sizeof path, "%s%s", self, names[i]);
            if ((h = dlopen(path, RTLD_NOW))) return h;
        }
    }
    return dlopen("libpvm3.so.3", RTLD_NOW);
}

static void *need(void *h, const char *name) {
    void *f = dlsym(h, name);
    if (!f) { fprintf(stderr, "pvmbench-ctask: libpvm3 has no %s\n", name); exit(1); }
    return f;
}

int main(int argc, char **argv) {
    void *h = library();
    int parent, capacity = 1 << 16, daemon_route = argc > 2 && !strcmp(argv[1], "--route") && !strcmp(argv[2], "daemon");
    /* --route tcp: TCP even to the parent on this host (read at enrollment). */
    if (argc > 2 && !strcmp(argv[1], "--route") && !strcmp(argv[2], "tcp")) setenv("PVM_TRANSPORT", "tcp", 1);
    char *scratch;
    if (!h) { fprintf(stderr, "pvmbench-ctask: cannot load libpvm3.so.3: %s\n", dlerror()); return 1; }
    *(void **)&p_mytid = need(h, "pvm_mytid");
    *(void **)&p_parent = need(h, "pvm_parent");
    *(void **)&p_exit = need(h, "pvm_exit");
    *(void **)&p_initsend = need(h, "pvm_initsend");
    *(void **)&p_pkbyte = need(h, "pvm_pkbyte");
    *(void **)&p_upkbyte = need(h, "pvm_upkbyte");
    *(void **)&p_send = need(h, "pvm_send");
    *(void **)&p_recv = need(h, "pvm_recv");
    *(void **)&p_bufinfo = need(h, "pvm_bufinfo");
    *(void **)&p_setopt = need(h, "pvm_setopt");
    if (p_mytid() < 0 || (parent = p_parent()) < 0) return 1;
    if (daemon_route) p_setopt(OPT_ROUTE, DONT_ROUTE);
    scratch = malloc((size_t)capacity);
    for (;;) {
        int id = p_recv(parent, -1), bytes, tag, src;
        if (id < 0 || p_bufinfo(id, &bytes, &tag, &src) < 0 || tag != ECHO_TAG) break;
        if (bytes > capacity) { free(scratch); capacity = bytes; scratch = malloc((size_t)capacity); }
        p_upkbyte(scratch, bytes, 1);
        p_initsend(DATA_RAW);
        p_pkbyte(scratch, bytes, 1);
        p_send(parent, ECHO_TAG);
    }
    free(scratch);
    p_exit();
    return 0;
}
