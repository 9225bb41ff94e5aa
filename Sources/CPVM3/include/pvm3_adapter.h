#ifndef PVM3_ADAPTER_H
#define PVM3_ADAPTER_H
/* For the Swift half of libpvm3 only (not installed): what Swift cannot
   reach by itself in the C half. */
#include <stdarg.h>
#include "pvm3.h"

char *pvm3_version_string(void);
int lpvmerr(char *function, int code);   /* PVM's own reporter, defined in Swift */
char *pvm3_error_text(int code);

static inline void pvm3_set_errno(int code) { pvm_errno = code; }
extern int pvmmyctx;
static inline void pvm3_set_context(int ctx) { pvmmyctx = ctx; }
static inline int pvm3_errno(void) { return pvm_errno; }

#endif
