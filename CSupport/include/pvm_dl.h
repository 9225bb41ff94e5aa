// Run-time probes for optional system libraries. The programs never link
// libibverbs or libnuma: they are opened with dlopen where present, so the
// same binary runs on machines without them.
#ifndef PVM_DL_H
#define PVM_DL_H

typedef struct pvm_dl_probe {
    int present;              // 1 if the library and the probed symbol loaded
    char detail[256];         // the library path that loaded, or dlerror()'s text
} pvm_dl_probe;

/// Tries libibverbs.so.1 and resolves ibv_get_device_list.
void pvm_probe_ibverbs(pvm_dl_probe *out);
/// Tries libnuma.so.1 and resolves numa_available.
void pvm_probe_numa(pvm_dl_probe *out);

/* The absolute path of the shared library holding this code (libpvm3.so.3
   loaded by a C program), or NULL when the code is linked into the program. */
const char *pvm_image_path(void);

#endif
