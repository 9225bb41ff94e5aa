/* The data symbols of libpvm3.so.3 and the texts of PVM's errors. */
#include "pvm3.h"
#include "pvm3_adapter.h"

int pvm_errno = 0;

/* Data the original exported that packaged programs read (srm.pvm): the
   tracer settings of this task (struct Pvmtracer: eight ints and a
   36-byte event mask; no tracing here, so all zero) and its message
   context, kept current by pvm_mytid, pvm_setcontext and pvm_getcontext. */
struct pvm3_tracer {
    int trctid, trcctx, trctag, outtid, outctx, outtag, trcbuf, trcopt;
    char tmask[36];
};
_Static_assert(sizeof(struct pvm3_tracer) == 68, "struct Pvmtracer is 68 bytes in PVM 3.4");
struct pvm3_tracer pvmctrc;
int pvmmyctx = 0;

/* Indexed by -code; the texts programs print (pvm_perror, auto errors). */
char *pvm_errlist[] = {
    "Error 0", "Error 1", "Bad parameter", "Parameter mismatch", "Value too large",
    "End of buffer", "No such host", "No such file", "Permission denied", "Error 9",
    "Malloc failed", "Error 11", "Can't decode message", "Error 13",
    "Can't contact local daemon", "No current buffer", "No such buffer",
    "Null group name", "Already in group", "No such group", "Not in group",
    "No such instance", "Host failed", "No parent task", "Not implemented",
    "Pvmd system error", "Version mismatch", "Out of resources", "Duplicate host",
    "Can't start pvmd", "Already in progress", "No such task", "Not Found",
    "Already Exists", "Hoster must run on master host", "Spawning parent set PvmNoParent",
    "Master Host IP Address is Loopback! (See pvm3/Readme)"
};

int pvm_nerr = (int)(sizeof pvm_errlist / sizeof pvm_errlist[0]);

static char version[] = PVM_VER;

char *pvm3_version_string(void) { return version; }

char *pvm3_error_text(int code) {
    static char unknown[] = "Unknown Error";
    if (code > 0 || -code >= pvm_nerr) return unknown;
    return pvm_errlist[-code];
}
