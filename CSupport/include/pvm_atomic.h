// C11 atomics on raw shared memory, typed and named by ordering.
//
// Swift cannot yet bind its own atomics onto memory that another process maps
// at an unknown address without extra machinery, so the rings use these
// `static inline` helpers: each compiles to the plain instruction (a `mov` for
// acquire loads and release stores on x86-64) at the call site. Never move them
// into a .c file: a call per operation would cost more than the operation.
#ifndef PVM_ATOMIC_H
#define PVM_ATOMIC_H

#include <stdatomic.h>
#include <stdint.h>

#define PVM_AT64(p) ((_Atomic uint64_t *)(p))
#define PVM_AT32(p) ((_Atomic uint32_t *)(p))

// MARK: 64-bit

static inline uint64_t pvm_load_relaxed_u64(const void *p) {
    return atomic_load_explicit(PVM_AT64((void *)p), memory_order_relaxed);
}
static inline uint64_t pvm_load_acquire_u64(const void *p) {
    return atomic_load_explicit(PVM_AT64((void *)p), memory_order_acquire);
}
static inline void pvm_store_relaxed_u64(void *p, uint64_t v) {
    atomic_store_explicit(PVM_AT64(p), v, memory_order_relaxed);
}
static inline void pvm_store_release_u64(void *p, uint64_t v) {
    atomic_store_explicit(PVM_AT64(p), v, memory_order_release);
}
static inline uint64_t pvm_fetch_add_acq_rel_u64(void *p, uint64_t v) {
    return atomic_fetch_add_explicit(PVM_AT64(p), v, memory_order_acq_rel);
}
static inline uint64_t pvm_fetch_add_relaxed_u64(void *p, uint64_t v) {
    return atomic_fetch_add_explicit(PVM_AT64(p), v, memory_order_relaxed);
}
static inline uint64_t pvm_exchange_acq_rel_u64(void *p, uint64_t v) {
    return atomic_exchange_explicit(PVM_AT64(p), v, memory_order_acq_rel);
}
/// Strong compare-and-swap; on failure `*expected` receives the current value.
static inline _Bool pvm_cas_acq_rel_u64(void *p, uint64_t *expected, uint64_t desired) {
    return atomic_compare_exchange_strong_explicit(
        PVM_AT64(p), expected, desired, memory_order_acq_rel, memory_order_acquire);
}

// MARK: 32-bit

static inline uint32_t pvm_load_relaxed_u32(const void *p) {
    return atomic_load_explicit(PVM_AT32((void *)p), memory_order_relaxed);
}
static inline uint32_t pvm_load_acquire_u32(const void *p) {
    return atomic_load_explicit(PVM_AT32((void *)p), memory_order_acquire);
}
static inline void pvm_store_relaxed_u32(void *p, uint32_t v) {
    atomic_store_explicit(PVM_AT32(p), v, memory_order_relaxed);
}
static inline void pvm_store_release_u32(void *p, uint32_t v) {
    atomic_store_explicit(PVM_AT32(p), v, memory_order_release);
}
static inline uint32_t pvm_fetch_add_acq_rel_u32(void *p, uint32_t v) {
    return atomic_fetch_add_explicit(PVM_AT32(p), v, memory_order_acq_rel);
}
static inline uint32_t pvm_fetch_or_acq_rel_u32(void *p, uint32_t v) {
    return atomic_fetch_or_explicit(PVM_AT32(p), v, memory_order_acq_rel);
}
static inline uint32_t pvm_exchange_acq_rel_u32(void *p, uint32_t v) {
    return atomic_exchange_explicit(PVM_AT32(p), v, memory_order_acq_rel);
}
static inline _Bool pvm_cas_acq_rel_u32(void *p, uint32_t *expected, uint32_t desired) {
    return atomic_compare_exchange_strong_explicit(
        PVM_AT32(p), expected, desired, memory_order_acq_rel, memory_order_acquire);
}

// MARK: Fences and the spin hint

/// Full (StoreLoad) fence: orders an earlier store before a later load of a
/// different location. The sleep/wake handshakes need exactly this.
static inline void pvm_fence_seq_cst(void) { atomic_thread_fence(memory_order_seq_cst); }
static inline void pvm_fence_acquire(void) { atomic_thread_fence(memory_order_acquire); }
static inline void pvm_fence_release(void) { atomic_thread_fence(memory_order_release); }

/// Tells the CPU this is a spin-wait loop (x86 `pause`, ARM `yield`).
static inline void pvm_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
    __asm__ __volatile__("yield" ::: "memory");
#else
    atomic_signal_fence(memory_order_seq_cst);
#endif
}

#endif
