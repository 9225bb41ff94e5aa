/*
 * Small exported helpers of the original libpvm3 that some programs call:
 * its allocator wrappers, descriptor-set hooks, control-message handlers,
 * and the temporary-name and remote-shell helpers declared in pvm3.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "pvm3.h"

char *pvm_alloc(unsigned len, char *tag) { (void)tag; return malloc(len ? len : 1); }
char *pvm_realloc(char *p, unsigned len) { return realloc(p, len ? len : 1); }
void pvm_free(char *p) { free(p); }

/* The original kept its own select() sets; this library waits in epoll, so
   there is nothing to add a descriptor to. */
int pvm_fd_add(int fd, int sets) { (void)sets; return fd < 0 ? PvmBadParam : 0; }
int pvm_fd_delete(int fd, int sets) { (void)sets; return fd < 0 ? PvmBadParam : 0; }

/* Handlers of the daemon's control messages in the original: each consumes
   (frees) the message it is given. Here the task library handles control
   messages itself, so these only free. */
static int consume(int mid) { if (mid > 0) pvm_freebuf(mid); return 0; }
int pvm_tc_noop(int mid) { return consume(mid); }
int pvm_tc_settmask(int mid) { return consume(mid); }
int pvm_tc_settrace(int mid) { return consume(mid); }
int pvm_tc_settrcbuf(int mid) { return consume(mid); }
int pvm_tc_settrcopt(int mid) { return consume(mid); }
int pvm_tc_siblings(int mid) { return consume(mid); }

/* $PVM_TMP, else /tmp. */
char *pvmgettmp(void) {
    char *t = getenv("PVM_TMP");
    return (t && *t) ? t : (char *)"/tmp";
}

/* $PVM_RSH, else ssh (PVM's default remote shell on today's systems). */
char *pvmgetrsh(void) {
    char *r = getenv("PVM_RSH");
    return (r && *r) ? r : (char *)"/usr/bin/ssh";
}

/* A fresh temporary name $PVM_TMP/pvmtmp<pid>.<n>, in `buf` or in a
   static buffer when buf is NULL. */
char *pvmtmpnam(char *buf) {
    static char own[PVMTMPNAMLEN];
    static int counter;
    char *out = buf ? buf : own;
    snprintf(out, PVMTMPNAMLEN, "%s/pvmtmp%06d.%d", pvmgettmp(), (int)getpid(), counter++);
    return out;
}

/* The name of a message tag, for programs that print what they receive
   (srm.pvm). This library reserves no tags in the user's space, so every
   tag is printed as a number; `*found` says no name was known. */
char *pvmnametag(int tag, int *found) {
    static char text[32];
    snprintf(text, sizeof text, "%d", tag);
    if (found) *found = 0;
    return text;
}

/* Prints this task's message handlers (mhf_server calls it). Handlers come
   with pvm_addmhf, which this library does not have yet: the table is empty. */
int pvmdisplaymhfinfo(char *who, char *msg, int tid) {
    printf("%s%s%s: message handlers of t%x: none\n", who ? who : "", who && msg ? ": " : "", msg ? msg : "", (unsigned)tid);
    fflush(stdout);
    return 0;
}
