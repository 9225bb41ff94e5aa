// THE layout of shared-memory segments. Every struct here is read by another
// process, so sizes and offsets are fixed and checked by _Static_assert in
// shim.c. Change a layout only together with PVM_RING_VERSION.
//
// A ring segment (one per ordered pair sender -> receiver, created and
// first-touched by the receiver, handed to the sender as a sealed memfd):
//
//   offset  size   written by  field
//   0       256    creator     desc: magic, version, header size, capacity (immutable)
//   256     128    consumer    head: bytes consumed, published in batches
//   384     128    consumer    armed: 1 while the consumer may sleep (producers ring its doorbell)
//   512     128    consumer    done: last single-copy token the consumer finished pulling
//   640     128    consumer    release_tail: entries written to the release queue
//   768     128    producer    waiting: 1 while the producer waits for the consumer
//   896     8192   consumer    release queue: 1024 heap offsets of loans given back
//   9088    64     both        express line (see below; used in one ring of each pair)
//   9216    64     both        split line: the receiver's offer to the sender to write part of
//                              a single-copy message itself (see below)
//   12288   capacity           data area (a power of two)
//
// Each control word has its own 128-byte slot (two cache lines, so the
// adjacent-line prefetcher does not couple them).
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
//          A producer killed mid-record never stores the stamp: the consumer
//          sees "not ready", never a torn record.
//
// The express line: one cache line that carries small messages both ways
// between the two tasks of a pair, so that a ping-pong moves one line per
// message (the reader of a line it is about to write is handed it
// exclusively) instead of two (the consumer's read of the record, then its
// write into the other ring, each a transfer). Only the express line of the
// ring that the connecting task created is used; half 0 is written by the
// connecting task, half 1 by the accepting one, each half by one writer:
//
//   0        4        8      10     12       16                 32
//   +--------+--------+------+------+--------+------------------+
//   | seqack | pos    | len  | flag | (zero) | payload (<= 16 B) |
//   +--------+--------+------+------+--------+------------------+
//   seqack: low 16 bits, messages written into this half (a message is
//           there when they differ from what the reader has taken); high
//           16 bits, messages of the other half this writer has taken.
//           Stored last, with release ordering. A writer writes the next
//           message only once the other half acknowledges the last one.
//   pos:    the low 32 bits of the writer's ring position when it wrote
//           the message: it is delivered after every ring record before
//           that position and before every one after it (per-pair order).
//
// The split line: a single-copy message is pulled by the receiver while its
// sender waits with a CPU of its own. The receiver may offer the sender a
// share of the copy (the sender writes it with process_vm_writev straight
// into the receiver's destination), so two CPUs copy at once:
//
//   0        8          16        24       32      36
//   +--------+----------+---------+--------+-------+
//   | token  | address  | offset  | count  | state |
//   +--------+----------+---------+--------+-------+
//   token:   the single-copy message (its pvm_rec_remote token)
//   address: where in the receiver's memory the share goes
//   offset, count: the share, in bytes of the message
//   state:   0 idle; 1 offered (the receiver, with release ordering, after
//            the fields); 2 claimed (the sender, compare-and-swap from 1,
//            then it writes); 3 written, 4 refused (the sender, release);
//            the receiver takes an unclaimed offer back (compare-and-swap
//            1 -> 0) and copies the share itself, and sets 0 after 3 or 4.
//   The sender claims only an offer for the message it waits on whose share
//   lies within that message.
#ifndef PVM_SHM_H
#define PVM_SHM_H

#include <stdint.h>

#define PVM_CACHE_LINE 64u
#define PVM_CONTROL_SLOT 128u
#define PVM_RING_MAGIC 0x31474e49524d5650ull  /* "PVMRING1" little-endian */
#define PVM_RING_VERSION 3u
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

#define PVM_RELEASE_QUEUE 1024u
#define PVM_RING_HEADER_SIZE 12288u
#define PVM_EXPRESS_PAYLOAD 16u
#define PVM_EXPRESS_OFFSET 9088u
#define PVM_SPLIT_OFFSET 9216u

typedef struct pvm_express_half {
    uint32_t seqack;
    uint32_t pos;
    uint16_t length;
    uint16_t flags;
    uint32_t zero;
    uint8_t  payload[PVM_EXPRESS_PAYLOAD];
} pvm_express_half;

typedef struct pvm_express_line {
    pvm_express_half half[2];
} pvm_express_line;

enum {
    PVM_SPLIT_IDLE = 0,
    PVM_SPLIT_OFFERED = 1,
    PVM_SPLIT_CLAIMED = 2,
    PVM_SPLIT_WRITTEN = 3,
    PVM_SPLIT_REFUSED = 4,
};

typedef struct pvm_split_line {
    uint64_t token;
    uint64_t address;
    uint64_t offset;
    uint64_t count;
    uint32_t state;
    uint8_t  pad[PVM_CACHE_LINE - 36];
} pvm_split_line;

typedef struct pvm_ring_header {
    pvm_ring_desc desc;
    pvm_ring_slot head;          // consumer position (bytes consumed), published in batches
    pvm_ring_slot armed;         // 1 while the consumer may sleep: producers must ring
    pvm_ring_slot done;          // last single-copy token pulled by the consumer
    pvm_ring_slot release_tail;  // release-queue entries written by the consumer
    pvm_ring_slot waiting;       // 1 while the producer waits for consumer progress
    uint64_t release_queue[PVM_RELEASE_QUEUE];  // heap offsets of released loans
    pvm_express_line express;    // small messages both ways (one ring of a pair)
    uint8_t  gap[PVM_SPLIT_OFFSET - PVM_EXPRESS_OFFSET - 64];
    pvm_split_line split;        // the receiver's offer of a share of a single-copy pull
    uint8_t  reserved[PVM_RING_HEADER_SIZE - PVM_SPLIT_OFFSET - 64];
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
    PVM_REC_LOAN = 5,       // payload: pvm_rec_loan; a buffer in the sender's shared heap
    PVM_REC_CMA_PIECES = 6, // payload: pvm_rec_remote_pieces, then its pieces; pull as one message
};

/// A piece of a message in the sender's memory (the first 16 bytes of a
/// pvm_rec_remote are one).
typedef struct pvm_remote_piece {
    uint64_t address;
    uint64_t length;
} pvm_remote_piece;

/// Most pieces a single-copy message may have.
#define PVM_REMOTE_PIECES_MAX 8u

/// A single-copy message in pieces (a PVM frame header, then the program's
/// own data, psend): `count` pvm_remote_piece follow, `total` bytes in all.
typedef struct pvm_rec_remote_pieces {
    uint64_t token;     // the consumer stores it in `done` once pulled
    uint64_t total;
    uint32_t count;
    uint32_t zero;
} pvm_rec_remote_pieces;

typedef struct pvm_rec_remote {
    uint64_t address;   // in the sender's address space
    uint64_t length;
    uint64_t token;     // the consumer stores it in `done` once pulled
} pvm_rec_remote;

typedef struct pvm_rec_chunk {
    uint64_t total;     // length of the whole message
    uint64_t offset;    // where this chunk's bytes go
} pvm_rec_chunk;

typedef struct pvm_rec_loan {
    uint64_t offset;    // from the start of the sender's heap segment
    uint64_t length;    // bytes of message
    uint64_t capacity;  // bytes of the block
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
