// NUMA, in two halves. libnuma (Debian libnuma-dev) is opened at run time
// with dlopen("libnuma.so.1") into a table of entry points, so the programs
// run on machines without it; and the NUMA system calls (getcpu,
// sched_setaffinity, set_mempolicy, get_mempolicy, mbind, move_pages), which
// need no library at all, are called directly. Thin on purpose: every
// function returns what libnuma or the kernel returns and leaves errno
// alone; which call to make, and what to do on failure, is decided in Swift
// (PVMSystem/Numa.swift).
#ifndef PVM_NUMA_H
#define PVM_NUMA_H

#include <stddef.h>

// MARK: Kernel constants

// Memory policy modes, get_mempolicy flags and mbind flags: the values of
// <linux/mempolicy.h> (a kernel ABI that does not change; numa.c checks them
// against the kernel header where it is installed).
enum {
    PVM_MPOL_DEFAULT = 0,
    PVM_MPOL_PREFERRED = 1,
    PVM_MPOL_BIND = 2,
    PVM_MPOL_INTERLEAVE = 3,
    PVM_MPOL_LOCAL = 4,
    PVM_MPOL_PREFERRED_MANY = 5,
};
enum {
    PVM_MPOL_F_NODE = 1 << 0,           // get_mempolicy: the node, not the policy
    PVM_MPOL_F_ADDR = 1 << 1,           // get_mempolicy: of the page at addr
    PVM_MPOL_F_MEMS_ALLOWED = 1 << 2,   // get_mempolicy: the nodes the cpuset allows
};
enum {
    PVM_MPOL_MF_STRICT = 1 << 0,        // mbind: fail if pages already sit elsewhere
    PVM_MPOL_MF_MOVE = 1 << 1,          // mbind: move this process's pages to conform
};

/// Node masks are arrays of this many unsigned longs (1024 nodes, the
/// largest MAX_NUMNODES a distribution kernel is built with; get_mempolicy
/// refuses a mask shorter than the kernel's node count).
#define PVM_NUMA_MASK_WORDS 16

// MARK: libnuma, loaded at run time

struct bitmask;  // libnuma's; only ever handled through its own functions

/// The libnuma entry points this project uses. A zeroed table (`handle`
/// NULL) is "not loaded": every pvm_numa_* call on it fails with ENOSYS.
typedef struct pvm_numa_lib {
    void *handle;
    int (*available)(void);
    int (*num_configured_nodes)(void);
    int (*max_node)(void);
    int (*node_of_cpu)(int cpu);
    struct bitmask *(*allocate_cpumask)(void);
    int (*node_to_cpus)(int node, struct bitmask *mask);
    int (*bitmask_isbitset)(const struct bitmask *mask, unsigned int bit);
    unsigned int (*bitmask_nbytes)(struct bitmask *mask);
    void (*bitmask_free)(struct bitmask *mask);
} pvm_numa_lib;

/// dlopen(soname) and dlsym of every entry above (NULL: "libnuma.so.1").
/// 0 on success; -1 with the table zeroed and dlerror()'s text in `error`.
int pvm_numa_open(pvm_numa_lib *lib, const char *soname, char *error, size_t error_size);
/// dlclose, and the table zeroed.
void pvm_numa_close(pvm_numa_lib *lib);

/// numa_available(): 0 when the kernel has NUMA support, -1 when not (or
/// libnuma is not loaded).
int pvm_numa_available(const pvm_numa_lib *lib);
/// numa_num_configured_nodes(): nodes with memory; -1 (ENOSYS) when not loaded.
int pvm_numa_configured_nodes(const pvm_numa_lib *lib);
/// numa_max_node(): the highest node number; -1 (ENOSYS) when not loaded.
int pvm_numa_max_node(const pvm_numa_lib *lib);
/// numa_node_of_cpu(cpu): -1 with errno (EINVAL for a CPU that does not exist).
int pvm_numa_node_of_cpu(const pvm_numa_lib *lib, int cpu);
/// numa_node_to_cpus(node): writes up to `capacity` CPU numbers of the node
/// to `cpus`, ascending; returns how many the node has (more than
/// `capacity` means call again with more room), or -1 with errno.
int pvm_numa_node_cpus(const pvm_numa_lib *lib, int node, int *cpus, int capacity);

// MARK: System calls (no library needed)

/// getcpu(2): the CPU and node the calling thread runs on now. 0 or -1.
int pvm_getcpu(unsigned int *cpu, unsigned int *node);
/// sched_setaffinity(tid, ...) with the CPU set made of `cpus[0..<count]`
/// (tid 0: the calling thread). 0, or -1 with errno (EINVAL for a negative
/// CPU or a set with no usable CPU).
int pvm_set_affinity(int tid, const int *cpus, int count);
/// sched_getaffinity(tid): writes up to `capacity` allowed CPU numbers,
/// ascending; returns how many there are, or -1 with errno.
int pvm_get_affinity(int tid, int *cpus, int capacity);
/// set_mempolicy(2) of the calling thread. `mask` holds `words` unsigned
/// longs (NULL and 0 for MPOL_DEFAULT and MPOL_LOCAL). 0 or -1.
long pvm_set_mempolicy(int mode, const unsigned long *mask, size_t words);
/// get_mempolicy(2). `mask` may be NULL (then `words` is 0). 0 or -1.
long pvm_get_mempolicy(int *mode, unsigned long *mask, size_t words, void *addr, unsigned long flags);
/// mbind(2) of [addr, addr+length) (addr page-aligned). 0 or -1.
long pvm_mbind(void *addr, unsigned long length, int mode, const unsigned long *mask, size_t words, unsigned int flags);
/// move_pages(2) of the calling process with no target nodes: only asks
/// where each of `pages[0..<count]` is. `status[i]` gets its node, or a
/// negative errno (-ENOENT: not populated yet; -EFAULT: not mapped). 0 or -1.
long pvm_pages_node(void **pages, unsigned long count, int *status);

#endif
