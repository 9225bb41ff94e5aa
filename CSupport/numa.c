// NUMA: the libnuma loading table and the NUMA system calls (pvm_numa.h).
// No policy: no retries, no fallbacks between libnuma and the kernel; each
// function returns what it got and leaves errno as the callee set it.
#ifndef _GNU_SOURCE
#error "CSupport must be compiled with _GNU_SOURCE (Package.swift defines it)"
#endif

#include "include/pvm_numa.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

// The kernel header is only used to check our copies of its constants.
#if __has_include(<linux/mempolicy.h>)
#include <linux/mempolicy.h>
_Static_assert((int)PVM_MPOL_DEFAULT == (int)MPOL_DEFAULT, "MPOL_DEFAULT");
_Static_assert((int)PVM_MPOL_PREFERRED == (int)MPOL_PREFERRED, "MPOL_PREFERRED");
_Static_assert((int)PVM_MPOL_BIND == (int)MPOL_BIND, "MPOL_BIND");
_Static_assert((int)PVM_MPOL_INTERLEAVE == (int)MPOL_INTERLEAVE, "MPOL_INTERLEAVE");
_Static_assert((int)PVM_MPOL_LOCAL == (int)MPOL_LOCAL, "MPOL_LOCAL");
_Static_assert(PVM_MPOL_F_NODE == MPOL_F_NODE, "MPOL_F_NODE");
_Static_assert(PVM_MPOL_F_ADDR == MPOL_F_ADDR, "MPOL_F_ADDR");
_Static_assert(PVM_MPOL_F_MEMS_ALLOWED == MPOL_F_MEMS_ALLOWED, "MPOL_F_MEMS_ALLOWED");
_Static_assert(PVM_MPOL_MF_STRICT == MPOL_MF_STRICT, "MPOL_MF_STRICT");
_Static_assert(PVM_MPOL_MF_MOVE == MPOL_MF_MOVE, "MPOL_MF_MOVE");
#endif

// Where libnuma's header is installed (libnuma-dev), the table's types are
// checked against its prototypes; the library itself is never linked.
#if __has_include(<numa.h>)
#include <numa.h>
#define PVM_SAME_TYPE(field, function) \
    _Static_assert(__builtin_types_compatible_p(__typeof__(((pvm_numa_lib *)0)->field), __typeof__(&function)), \
                   "pvm_numa_lib." #field " does not match libnuma's " #function)
PVM_SAME_TYPE(available, numa_available);
PVM_SAME_TYPE(num_configured_nodes, numa_num_configured_nodes);
PVM_SAME_TYPE(max_node, numa_max_node);
PVM_SAME_TYPE(node_of_cpu, numa_node_of_cpu);
PVM_SAME_TYPE(allocate_cpumask, numa_allocate_cpumask);
PVM_SAME_TYPE(node_to_cpus, numa_node_to_cpus);
PVM_SAME_TYPE(bitmask_isbitset, numa_bitmask_isbitset);
PVM_SAME_TYPE(bitmask_nbytes, numa_bitmask_nbytes);
PVM_SAME_TYPE(bitmask_free, numa_bitmask_free);
#undef PVM_SAME_TYPE
#endif

// MARK: Loading

// Each entry point with the symbol version it has had since libnuma 2.0:
// numa_node_to_cpus has two (libnuma_1.1 took a plain buffer, libnuma_1.2
// a struct bitmask), so the version is asked for, not left to dlsym.
static const struct {
    const char *name;
    const char *version;
    size_t offset;
} entries[] = {
    {"numa_available", "libnuma_1.1", offsetof(pvm_numa_lib, available)},
    {"numa_max_node", "libnuma_1.1", offsetof(pvm_numa_lib, max_node)},
    {"numa_num_configured_nodes", "libnuma_1.2", offsetof(pvm_numa_lib, num_configured_nodes)},
    {"numa_node_of_cpu", "libnuma_1.2", offsetof(pvm_numa_lib, node_of_cpu)},
    {"numa_allocate_cpumask", "libnuma_1.2", offsetof(pvm_numa_lib, allocate_cpumask)},
    {"numa_node_to_cpus", "libnuma_1.2", offsetof(pvm_numa_lib, node_to_cpus)},
    {"numa_bitmask_isbitset", "libnuma_1.2", offsetof(pvm_numa_lib, bitmask_isbitset)},
    {"numa_bitmask_nbytes", "libnuma_1.2", offsetof(pvm_numa_lib, bitmask_nbytes)},
    {"numa_bitmask_free", "libnuma_1.2", offsetof(pvm_numa_lib, bitmask_free)},
};

int pvm_numa_open(pvm_numa_lib *lib, const char *soname, char *error, size_t error_size) {
    memset(lib, 0, sizeof *lib);
    if (error_size > 0) error[0] = 0;
    const char *name = soname != NULL ? soname : "libnuma.so.1";
    void *handle = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        const char *e = dlerror();
        if (error_size > 0) snprintf(error, error_size, "%s", e != NULL ? e : name);
        return -1;
    }
    for (size_t i = 0; i < sizeof entries / sizeof entries[0]; i++) {
        void *symbol = dlvsym(handle, entries[i].name, entries[i].version);
        if (symbol == NULL) {
            if (error_size > 0) {
                snprintf(error, error_size, "%s: no %s@%s (a libnuma older than 2.0?)", name, entries[i].name,
                         entries[i].version);
            }
            dlclose(handle);
            memset(lib, 0, sizeof *lib);
            return -1;
        }
        // POSIX guarantees that a data pointer from dlsym converts to a function pointer.
        memcpy((char *)lib + entries[i].offset, &symbol, sizeof symbol);
    }
    lib->handle = handle;
    if (error_size > 0) snprintf(error, error_size, "%s", name);
    return 0;
}

void pvm_numa_close(pvm_numa_lib *lib) {
    if (lib->handle != NULL) dlclose(lib->handle);
    memset(lib, 0, sizeof *lib);
}

int pvm_numa_available(const pvm_numa_lib *lib) {
    if (lib->handle == NULL) { errno = ENOSYS; return -1; }
    return lib->available();
}

int pvm_numa_configured_nodes(const pvm_numa_lib *lib) {
    if (lib->handle == NULL) { errno = ENOSYS; return -1; }
    return lib->num_configured_nodes();
}

int pvm_numa_max_node(const pvm_numa_lib *lib) {
    if (lib->handle == NULL) { errno = ENOSYS; return -1; }
    return lib->max_node();
}

int pvm_numa_node_of_cpu(const pvm_numa_lib *lib, int cpu) {
    if (lib->handle == NULL) { errno = ENOSYS; return -1; }
    return lib->node_of_cpu(cpu);
}

int pvm_numa_node_cpus(const pvm_numa_lib *lib, int node, int *cpus, int capacity) {
    if (lib->handle == NULL) { errno = ENOSYS; return -1; }
    if (node < 0 || capacity < 0) { errno = EINVAL; return -1; }
    struct bitmask *mask = lib->allocate_cpumask();
    if (mask == NULL) { errno = ENOMEM; return -1; }
    if (lib->node_to_cpus(node, mask) != 0) {
        int saved = errno;
        lib->bitmask_free(mask);
        errno = saved;
        return -1;
    }
    unsigned int bits = lib->bitmask_nbytes(mask) * CHAR_BIT;
    int count = 0;
    for (unsigned int cpu = 0; cpu < bits; cpu++) {
        if (!lib->bitmask_isbitset(mask, cpu)) continue;
        if (count < capacity) cpus[count] = (int)cpu;
        count++;
    }
    lib->bitmask_free(mask);
    return count;
}

// MARK: System calls

int pvm_getcpu(unsigned int *cpu, unsigned int *node) {
    // The raw call: glibc's getcpu() wrapper is only 2.29 and later, and the
    // kernel's call needs no library (the vDSO one is what sched_getcpu uses).
    return (int)syscall(SYS_getcpu, cpu, node, NULL);
}

int pvm_set_affinity(int tid, const int *cpus, int count) {
    if (count <= 0) { errno = EINVAL; return -1; }
    int highest = 0;
    for (int i = 0; i < count; i++) {
        if (cpus[i] < 0) { errno = EINVAL; return -1; }
        if (cpus[i] > highest) highest = cpus[i];
    }
    // A set sized for the highest CPU named, not the fixed 1024 of cpu_set_t.
    cpu_set_t *set = CPU_ALLOC((size_t)highest + 1);
    if (set == NULL) { errno = ENOMEM; return -1; }
    size_t size = CPU_ALLOC_SIZE((size_t)highest + 1);
    CPU_ZERO_S(size, set);
    for (int i = 0; i < count; i++) CPU_SET_S((size_t)cpus[i], size, set);
    int rc = sched_setaffinity((pid_t)tid, size, set);
    int saved = errno;
    CPU_FREE(set);
    errno = saved;
    return rc;
}

int pvm_get_affinity(int tid, int *cpus, int capacity) {
    if (capacity < 0) { errno = EINVAL; return -1; }
    // The kernel refuses a set smaller than its own CPU mask: grow until it fits.
    for (size_t n = 1024; n <= (1u << 20); n *= 2) {
        cpu_set_t *set = CPU_ALLOC(n);
        if (set == NULL) { errno = ENOMEM; return -1; }
        size_t size = CPU_ALLOC_SIZE(n);
        CPU_ZERO_S(size, set);
        if (sched_getaffinity((pid_t)tid, size, set) != 0) {
            int saved = errno;
            CPU_FREE(set);
            if (saved == EINVAL) continue;
            errno = saved;
            return -1;
        }
        int count = 0;
        for (size_t cpu = 0; cpu < n; cpu++) {
            if (!CPU_ISSET_S(cpu, size, set)) continue;
            if (count < capacity) cpus[count] = (int)cpu;
            count++;
        }
        CPU_FREE(set);
        return count;
    }
    errno = EINVAL;
    return -1;
}

// The kernel reads one bit fewer than maxnode says (a historical off-by-one
// that libnuma also compensates for): pass the mask's bit count plus one.
static unsigned long maxnode_of(size_t words) {
    return words == 0 ? 0 : (unsigned long)words * sizeof(unsigned long) * CHAR_BIT + 1;
}

long pvm_set_mempolicy(int mode, const unsigned long *mask, size_t words) {
    return syscall(SYS_set_mempolicy, mode, words == 0 ? NULL : mask, maxnode_of(words));
}

long pvm_get_mempolicy(int *mode, unsigned long *mask, size_t words, void *addr, unsigned long flags) {
    return syscall(SYS_get_mempolicy, mode, words == 0 ? NULL : mask, maxnode_of(words), addr, flags);
}

long pvm_mbind(void *addr, unsigned long length, int mode, const unsigned long *mask, size_t words, unsigned int flags) {
    return syscall(SYS_mbind, addr, length, mode, words == 0 ? NULL : mask, maxnode_of(words), flags);
}

long pvm_pages_node(void **pages, unsigned long count, int *status) {
    // pid 0 (this process) and nodes NULL: a query, nothing moves.
    return syscall(SYS_move_pages, 0, count, pages, NULL, status, 0);
}
