// THE layout of shared-memory segments. Every struct here is read by another
// process, so sizes and offsets are fixed and checked by _Static_assert in
// shim.c. Change a layout only together with PVM_RING_VERSION.
//
// A ring segment (one per ordered pair sender -> receiver, created and
// first-touched by the receiver, handed to the sender as a memfd):
//
//   0      256    384    512    640                    640 + capacity
//   +------+------+------+------+----------------------+
//   | desc | cons | wake | prod | data (power of two)  |
//   +------+------+------+------+----------------------+
//   desc: immutable description (magic, version, capacity), written before
//         the descriptor leaves the creator.
//   cons: consumer-owned line: `head`, published in batches.
//   wake: consumer-owned line: `armed`, set while the consumer may sleep.
//   prod: producer-owned line: `waiting`, set while the producer waits for
//         space.
//   Each control word has its own 128-byte slot (two cache lines, so the
//   adjacent-line prefetcher does not couple them).
//
// A record, 16-byte aligned, never wraps (a padding record fills the end):
//
//   0        8        12     14     16
//   +--------+--------+------+------+---------------- - -
//   | stamp  | length | kind | flag | payload (length bytes)
//   +--------+--------+------+------+---------------- - -
//   stamp: the record's absolute ring position + 1, stored last with
//          release ordering. The consumer polls it: a record is ready when
//          stamp == its own position + 1. Stale bytes from earlier laps hold
//          older positions, so no zeroing is needed and nothing can alias.
#ifndef PVM_SHM_H
#define PVM_SHM_H

#include <stdint.h>

#define PVM_CACHE_LINE 64u
#define PVM_CONTROL_SLOT 128u
#define PVM_RING_MAGIC 0x31474e49524d5650ull  /* "PVMRING1" little-endian */
#define PVM_RING_VERSION 1u
#define PVM_RECORD_ALIGN 16u
#define PVM_RECORD_HEADER 16u

typedef struct pvm_ring_desc {
    uint64_t magic;
    uint32_t version;
    uint32_t header_size;   // offset of the data area
    uint64_t capacity;      // bytes in the data area, a power of two
    uint64_t creator_pid;   // receiver's pid (diagnostics only; never trusted)
    uint8_t  reserved[PVM_CONTROL_SLOT * 2 - 32];
} pvm_ring_desc;

typedef struct pvm_ring_slot {
    uint64_t value;
    uint8_t  pad[PVM_CONTROL_SLOT - 8];
} pvm_ring_slot;

typedef struct pvm_ring_header {
    pvm_ring_desc desc;
    pvm_ring_slot head;      // consumer position (bytes consumed), published in batches
    pvm_ring_slot armed;     // 1 while the consumer may sleep: producers must ring
    pvm_ring_slot waiting;   // 1 while the producer waits for space: the consumer must ring
} pvm_ring_header;

typedef struct pvm_record_header {
    uint64_t stamp;
    uint32_t length;
    uint16_t kind;
    uint16_t flags;
} pvm_record_header;

/// Record kinds. Anything else is a malformed ring.
enum {
    PVM_REC_PAD = 1,        // skip to the end of the data area
    PVM_REC_INLINE = 2,     // payload is the message
    PVM_REC_CMA = 3,        // payload: pvm_rec_remote; pull with process_vm_readv
    PVM_REC_CHUNK = 4,      // payload: pvm_rec_chunk header + bytes of a pipelined message
    PVM_REC_CMA_DONE = 5,   // payload: uint64 token; the receiver has pulled a CMA message
    PVM_REC_LOAN = 6,       // payload: pvm_rec_loan; a buffer in the sender's shared heap
    PVM_REC_LOAN_DONE = 7,  // payload: pvm_rec_loan; the receiver releases the buffer
};

typedef struct pvm_rec_remote {
    uint64_t address;   // in the sender's address space
    uint64_t length;
    uint64_t token;     // echoed in PVM_REC_CMA_DONE
} pvm_rec_remote;

typedef struct pvm_rec_chunk {
    uint64_t total;     // length of the whole message
    uint64_t offset;    // where this chunk's bytes go
} pvm_rec_chunk;

typedef struct pvm_rec_loan {
    uint64_t offset;    // from the start of the sender's heap segment
    uint64_t length;    // bytes of message
    uint64_t capacity;  // bytes of the block (returned on release)
} pvm_rec_loan;

/// The shared heap ("loan pool") segment a task hands to its peers for zero copy.
#define PVM_HEAP_MAGIC 0x31504145484d5650ull  /* "PVMHEAP1" */

typedef struct pvm_heap_header {
    uint64_t magic;
    uint32_t version;
    uint32_t header_size;
    uint64_t capacity;      // bytes of the data area after the header
    uint8_t  reserved[PVM_CONTROL_SLOT - 24];
} pvm_heap_header;

#endif
