import CSupport

// The single-producer, single-consumer ring. Its byte layout is defined once,
// in CSupport/include/pvm_shm.h (with the picture); this file is the only
// Swift code that reads or writes it.

@usableFromInline let recordHeaderSize = Int(PVM_RECORD_HEADER)
@usableFromInline let ringHeaderSize = Int(PVM_RING_HEADER_SIZE)

/// Record kinds (pvm_shm.h).
@usableFromInline
enum RecordKind: UInt16 {
    case pad = 1, inline = 2, cma = 3, chunk = 4, loan = 5, cmaPieces = 6
}

/// Bytes a record of `length` payload bytes occupies.
@inlinable @inline(__always)
func recordSize(_ length: Int) -> UInt64 {
    UInt64((recordHeaderSize + length + Int(PVM_RECORD_ALIGN) - 1) & ~(Int(PVM_RECORD_ALIGN) - 1))
}

/// Where the parts of one mapped ring segment are.
@usableFromInline
struct RingLayout {
    @usableFromInline let header: UnsafeMutableRawPointer
    @usableFromInline let data: UnsafeMutableRawPointer
    @usableFromInline let capacity: UInt64

    @inlinable var mask: UInt64 { capacity &- 1 }
    @inlinable var head: UnsafeMutableRawPointer { header + 256 }
    @inlinable var armed: UnsafeMutableRawPointer { header + 384 }
    @inlinable var done: UnsafeMutableRawPointer { header + 512 }
    @inlinable var releaseTail: UnsafeMutableRawPointer { header + 640 }
    @inlinable var waiting: UnsafeMutableRawPointer { header + 768 }
    @inlinable var releaseQueue: UnsafeMutableRawPointer { header + 896 }
    @inlinable var split: UnsafeMutableRawPointer { header + Int(PVM_SPLIT_OFFSET) }

    /// Bytes a segment holding a ring of `capacity` data bytes needs.
    static func segmentSize(capacity: Int) -> Int { ringHeaderSize + capacity }

    /// Writes the description of a new ring at `base` (creator side, before
    /// the segment is handed to anyone). The memory is fresh from fallocate,
    /// so every control word and stamp is zero.
    init(initializing base: UnsafeMutableRawPointer, capacity: Int, creatorPID: Int32) {
        precondition(capacity >= 4096 && capacity & (capacity - 1) == 0, "ring capacity must be a power of two >= 4096")
        base.storeBytes(of: PVM_RING_MAGIC, toByteOffset: 0, as: UInt64.self)
        base.storeBytes(of: UInt32(PVM_RING_VERSION), toByteOffset: 8, as: UInt32.self)
        base.storeBytes(of: UInt32(ringHeaderSize), toByteOffset: 12, as: UInt32.self)
        base.storeBytes(of: UInt64(capacity), toByteOffset: 16, as: UInt64.self)
        base.storeBytes(of: UInt64(UInt32(bitPattern: creatorPID)), toByteOffset: 24, as: UInt64.self)
        self.header = base
        self.data = base + ringHeaderSize
        self.capacity = UInt64(capacity)
    }

    /// Checks the description of a ring that a peer created. The segment
    /// size was already checked and sealed; here the description must agree
    /// with it exactly.
    init(validating base: UnsafeMutableRawPointer, segmentSize: Int) throws(TransportError) {
        let magic = base.load(fromByteOffset: 0, as: UInt64.self)
        let version = base.load(fromByteOffset: 8, as: UInt32.self)
        let headerSize = base.load(fromByteOffset: 12, as: UInt32.self)
        let capacity = base.load(fromByteOffset: 16, as: UInt64.self)
        guard magic == PVM_RING_MAGIC else {
            throw TransportError(.malformed, "ring segment has magic 0x\(String(magic, radix: 16)), expected 0x\(String(PVM_RING_MAGIC, radix: 16))")
        }
        guard version == PVM_RING_VERSION else {
            throw TransportError(.malformed, "ring segment version \(version), this build speaks \(PVM_RING_VERSION)")
        }
        guard Int(headerSize) == ringHeaderSize, capacity >= 4096, capacity & (capacity &- 1) == 0,
              UInt64(segmentSize) == UInt64(headerSize) &+ capacity else {
            throw TransportError(.malformed, "ring segment description inconsistent: header \(headerSize) B, capacity \(capacity) B, segment \(segmentSize) B")
        }
        self.header = base
        self.data = base + ringHeaderSize
        self.capacity = capacity
    }
}

/// The writing end of a ring (lives in the sender; the memory is the
/// receiver's). Not thread-safe: one producer per ring.
@usableFromInline
struct RingProducer {
    @usableFromInline let ring: RingLayout
    /// Absolute position of the next record.
    @usableFromInline var tail: UInt64 = 0
    /// Last consumer position we read; refreshed only when the ring looks full.
    @usableFromInline var cachedHead: UInt64 = 0

    @usableFromInline init(_ ring: RingLayout) { self.ring = ring }

    /// Largest payload one record may carry (a quarter of the ring, so a
    /// record plus the padding before it always fits in an empty ring).
    @inlinable var maxPayload: Int { Int(ring.capacity / 4) - recordHeaderSize }

    /// Reserves room for a record of `length` payload bytes and returns where
    /// to write the payload, or nil when the ring is full. Writes the padding
    /// record when the record would cross the end. Follow with `commit`.
    @inlinable @inline(__always)
    mutating func reserve(_ length: Int) -> UnsafeMutableRawPointer? {
        let size = recordSize(length)
        var offset = tail & ring.mask
        let toEnd = ring.capacity &- offset
        let needed = size <= toEnd ? size : toEnd &+ size
        if _slowPath(tail &+ needed &- cachedHead > ring.capacity) {
            // Acquire: the consumer has finished reading everything before `head`.
            cachedHead = pvm_load_acquire_u64(ring.head)
            if tail &+ needed &- cachedHead > ring.capacity { return nil }
        }
        if _slowPath(size > toEnd) {
            let pad = ring.data + Int(offset)
            pad.storeBytes(of: UInt32(toEnd) &- UInt32(recordHeaderSize), toByteOffset: 8, as: UInt32.self)
            pad.storeBytes(of: RecordKind.pad.rawValue, toByteOffset: 12, as: UInt16.self)
            // Release: the consumer may read the padding record only after this store.
            pvm_store_release_u64(pad, tail &+ 1)
            tail &+= toEnd
            offset = 0
        }
        return ring.data + Int(offset) + recordHeaderSize
    }

    /// Publishes the record reserved last. Returns true when the consumer
    /// announced that it may be asleep, in which case the caller must ring
    /// its doorbell (see `claimWakeUp`).
    @inlinable @inline(__always)
    mutating func commit(_ kind: RecordKind, length: Int, flags: UInt16 = 0) -> Bool {
        let record = ring.data + Int(tail & ring.mask)
        record.storeBytes(of: UInt32(truncatingIfNeeded: length), toByteOffset: 8, as: UInt32.self)
        record.storeBytes(of: kind.rawValue, toByteOffset: 12, as: UInt16.self)
        record.storeBytes(of: flags, toByteOffset: 14, as: UInt16.self)
        // Release: payload and header fields become visible before the stamp
        // that tells the consumer the record is ready.
        pvm_store_release_u64(record, tail &+ 1)
        tail &+= recordSize(length)
        // StoreLoad: our stamp must be visible before we read `armed`, or we
        // could miss a consumer that is just going to sleep (it sets `armed`,
        // fences, then re-polls the stamp: one of us sees the other).
        pvm_fence_seq_cst()
        return consumerArmed()
    }

    /// The consumer announced that it may be asleep (after a fence).
    @inlinable @inline(__always)
    func consumerArmed() -> Bool { pvm_load_relaxed_u32(ring.armed) != 0 }

    /// Clears `armed` if it is set; true if this caller must ring the bell.
    /// Only one of several producers wins, so a sleeper is woken once.
    @usableFromInline func claimWakeUp() -> Bool {
        var expected: UInt32 = 1
        return pvm_cas_acq_rel_u32(ring.armed, &expected, 0)
    }

    /// Free bytes as last known (refreshes the consumer position).
    mutating func refreshHead() -> UInt64 {
        cachedHead = pvm_load_acquire_u64(ring.head)
        return cachedHead
    }

    /// Announces that this producer waits for consumer progress (space,
    /// a single-copy completion, a loan release).
    func setWaiting(_ on: Bool) {
        pvm_store_relaxed_u32(ring.waiting, on ? 1 : 0)
    }

    /// Last single-copy token the consumer has finished with.
    func completedToken() -> UInt64 {
        // Acquire: the consumer's reads of our memory happened before this.
        pvm_load_acquire_u64(ring.done)
    }

    /// The consumer's offer of a share of single-copy message `token`'s
    /// copy (pvm_shm.h, the split line), claimed: where it goes and which
    /// bytes. Nil when there is none for this message, or another message's.
    /// The offer is untrusted: the caller checks the share against the message.
    mutating func claimSplit(token: UInt64) -> SplitShare? {
        let line = ring.split
        guard pvm_load_acquire_u32(line + 32) == UInt32(PVM_SPLIT_OFFERED),
              line.load(as: UInt64.self) == token else { return nil }
        var expected = UInt32(PVM_SPLIT_OFFERED)
        guard pvm_cas_acq_rel_u32(line + 32, &expected, UInt32(PVM_SPLIT_CLAIMED)) else { return nil }
        return SplitShare(address: line.load(fromByteOffset: 8, as: UInt64.self),
                          offset: line.load(fromByteOffset: 16, as: UInt64.self),
                          count: line.load(fromByteOffset: 24, as: UInt64.self))
    }

    /// The claimed share is written into the consumer's memory (or refused).
    func finishSplit(written: Bool) {
        // Release: our process_vm_writev into the consumer is complete.
        pvm_store_release_u32(ring.split + 32, UInt32(written ? PVM_SPLIT_WRITTEN : PVM_SPLIT_REFUSED))
    }
}

/// A share of a single-copy message that its sender writes into the
/// receiver's memory: bytes offset..<offset+count of the message, at
/// `address` in the receiver.
@usableFromInline
struct SplitShare {
    var address: UInt64
    var offset: UInt64
    var count: UInt64
}

/// The reading end of a ring (lives in the receiver, which owns the memory).
@usableFromInline
struct RingConsumer {
    @usableFromInline let ring: RingLayout
    /// Absolute position of the next record.
    @usableFromInline var head: UInt64 = 0
    /// Position last published to the producer.
    @usableFromInline var published: UInt64 = 0
    /// Release-queue entries written.
    @usableFromInline var releaseTail: UInt64 = 0
    /// Position of the oldest record a handler is still reading (UInt64.max:
    /// none). `head` may move past it (a handler that sends may block and
    /// drain this ring further), but the published position never does, so
    /// the producer cannot overwrite bytes that are still being read.
    @usableFromInline var pinned: UInt64 = .max

    @usableFromInline init(_ ring: RingLayout) { self.ring = ring }

    /// The record at `head` if its stamp says it is complete.
    @inlinable @inline(__always)
    func ready() -> UnsafeMutableRawPointer? {
        let record = ring.data + Int(head & ring.mask)
        // Acquire: pairs with the producer's release store of the stamp; the
        // payload may be read only after this load sees the right value.
        return pvm_load_acquire_u64(record) == head &+ 1 ? record : nil
    }

    /// Reads and checks the header of a ready record. The producer is not
    /// trusted: the values are copied once and bounded here, and the caller
    /// uses only these copies.
    @inlinable @inline(__always)
    func decode(_ record: UnsafeMutableRawPointer) -> (kind: RecordKind, length: Int)? {
        let length = Int(record.load(fromByteOffset: 8, as: UInt32.self))
        let rawKind = record.load(fromByteOffset: 12, as: UInt16.self)
        let room = Int(ring.capacity &- (head & ring.mask)) - recordHeaderSize
        guard length <= room, let kind = RecordKind(rawValue: rawKind) else { return nil }
        return (kind, length)
    }

    /// The sender's 16-bit word of a ready record (opaque to the ring).
    @inlinable @inline(__always)
    func flags(_ record: UnsafeMutableRawPointer) -> UInt16 {
        record.load(fromByteOffset: 14, as: UInt16.self)
    }

    /// Moves past the current record; publishes the position every quarter
    /// ring. Returns true when the producer waits and must be woken.
    @inlinable @inline(__always)
    mutating func advance(_ kind: RecordKind, length: Int) -> Bool {
        if kind == .pad {
            head &+= ring.capacity &- (head & ring.mask)
        } else {
            head &+= recordSize(length)
        }
        if _slowPath(head &- published >= ring.capacity / 4) {
            return publish()
        }
        // A producer waiting for space gets our position right away.
        return _slowPath(pvm_load_relaxed_u32(ring.waiting) != 0) ? publish() : false
    }

    /// Publishes `head`. Returns true if the producer waits (caller wakes it).
    @usableFromInline
    mutating func publish() -> Bool {
        let position = min(head, pinned)
        guard position != published else { return pvm_load_relaxed_u32(ring.waiting) != 0 }
        // Release: our reads of the records before `position` are complete.
        pvm_store_release_u64(ring.head, position)
        published = position
        // StoreLoad: pairs with the producer's (set waiting; fence; read head).
        pvm_fence_seq_cst()
        return pvm_load_relaxed_u32(ring.waiting) != 0
    }

    /// Called when this ring has nothing ready: if the producer waits for
    /// space, publish now. (No store and no fence otherwise: a spinning
    /// consumer sees the producer's `waiting` within nanoseconds, and one
    /// that goes to sleep publishes with a full fence first, see
    /// `ShmEndpoint.sleep`.)
    @inlinable @inline(__always)
    mutating func idle() -> Bool {
        _slowPath(pvm_load_relaxed_u32(ring.waiting) != 0) ? publish() : false
    }

    /// Marks a single-copy transfer finished. Returns true if the producer waits.
    mutating func complete(token: UInt64) -> Bool {
        // Release: our process_vm_readv of the sender's memory is finished.
        pvm_store_release_u64(ring.done, token)
        pvm_fence_seq_cst()
        return pvm_load_relaxed_u32(ring.waiting) != 0
    }

    /// Offers the producer a share of single-copy message `token`'s copy:
    /// bytes offset..<offset+count of it, to be written at `address` here.
    func offerSplit(token: UInt64, address: UnsafeMutableRawPointer, offset: Int, count: Int) {
        let line = ring.split
        line.storeBytes(of: token, as: UInt64.self)
        line.storeBytes(of: UInt64(UInt(bitPattern: address)), toByteOffset: 8, as: UInt64.self)
        line.storeBytes(of: UInt64(offset), toByteOffset: 16, as: UInt64.self)
        line.storeBytes(of: UInt64(count), toByteOffset: 24, as: UInt64.self)
        // Release: the fields before the state that tells the producer.
        pvm_store_release_u32(line + 32, UInt32(PVM_SPLIT_OFFERED))
    }

    /// Takes an offer back unless the producer claimed it: true when taken
    /// back (the share is ours to copy), false when claimed.
    func withdrawSplit() -> Bool {
        var expected = UInt32(PVM_SPLIT_OFFERED)
        return pvm_cas_acq_rel_u32(ring.split + 32, &expected, UInt32(PVM_SPLIT_IDLE))
    }

    /// The state of a claimed offer (PVM_SPLIT_CLAIMED until the producer
    /// is done with it).
    func splitState() -> UInt32 {
        // Acquire: the producer's writes into our memory happened before this.
        pvm_load_acquire_u32(ring.split + 32)
    }

    /// Makes the line idle again after the producer answered.
    func resetSplit() {
        pvm_store_relaxed_u32(ring.split + 32, UInt32(PVM_SPLIT_IDLE))
    }

    /// Gives a loaned block back to its owner. Returns true if the producer waits.
    mutating func release(offset: UInt64) -> Bool {
        let slot = Int(releaseTail % UInt64(PVM_RELEASE_QUEUE))
        ring.releaseQueue.storeBytes(of: offset, toByteOffset: slot * 8, as: UInt64.self)
        releaseTail &+= 1
        // Release: the entry is written before the owner can see the new tail.
        pvm_store_release_u64(ring.releaseTail, releaseTail)
        pvm_fence_seq_cst()
        return pvm_load_relaxed_u32(ring.waiting) != 0
    }

    /// Announces (or withdraws) that the consumer may sleep.
    func setArmed(_ on: Bool) {
        pvm_store_relaxed_u32(ring.armed, on ? 1 : 0)
    }

    /// Clears the producer's waiting flag if set; true if the caller must ring.
    func claimProducerWakeUp() -> Bool {
        var expected: UInt32 = 1
        return pvm_cas_acq_rel_u32(ring.waiting, &expected, 0)
    }
}

/// The express line of a pair (pvm_shm.h): one cache line that carries
/// small messages both ways, one outstanding per direction. This task
/// writes only its own half.
@usableFromInline
struct ExpressLine {
    @usableFromInline let mine: UnsafeMutableRawPointer
    @usableFromInline let other: UnsafeMutableRawPointer
    /// Messages written into our half.
    @usableFromInline var sent: UInt16 = 0
    /// Messages of the other half taken.
    @usableFromInline var taken: UInt16 = 0
    /// We may use the line: set when the peer sends us something, cleared
    /// when we write. A ping-pong keeps using it; a stream uses it for its
    /// first message only, so streams stay in the ring, where a line holds
    /// several records and the consumer touches it once.
    @usableFromInline var turn = true

    /// Largest payload.
    @usableFromInline static let capacity = Int(PVM_EXPRESS_PAYLOAD)

    /// `line` is the express line of the pair's ring that the connecting
    /// task made; `connector` says whether that is this task.
    @usableFromInline init(line: UnsafeMutableRawPointer, connector: Bool) {
        let half = MemoryLayout<pvm_express_half>.size
        mine = line + (connector ? 0 : half)
        other = line + (connector ? half : 0)
    }

    static func line(in ring: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer {
        ring + Int(PVM_EXPRESS_OFFSET)
    }

    /// The other side has taken our last message.
    @inlinable @inline(__always)
    func acknowledged() -> Bool {
        // Acquire: its reads of our half happened before it acknowledged.
        UInt16(truncatingIfNeeded: pvm_load_acquire_u32(other) >> 16) == sent
    }

    /// Writes a message (at most `capacity` bytes; `acknowledged()` was
    /// true) that is to come after the ring records before `position`.
    @inlinable @inline(__always)
    mutating func write(_ bytes: UnsafeRawBufferPointer, flags: UInt16, position: UInt64) {
        mine.storeBytes(of: UInt32(truncatingIfNeeded: position), toByteOffset: 4, as: UInt32.self)
        mine.storeBytes(of: UInt16(truncatingIfNeeded: bytes.count), toByteOffset: 8, as: UInt16.self)
        mine.storeBytes(of: flags, toByteOffset: 10, as: UInt16.self)
        if bytes.count > 0 { (mine + 16).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
        sent &+= 1
        turn = false
        // Release: the message before the count that announces it (and our
        // reads of the peer's last message before the acknowledgement).
        pvm_store_release_u32(mine, UInt32(taken) << 16 | UInt32(sent))
    }

    /// The other side has written a message we have not taken.
    @inlinable @inline(__always)
    func incoming() -> Bool {
        // Acquire: pairs with the writer's release; the message may be read after.
        UInt16(truncatingIfNeeded: pvm_load_acquire_u32(other)) != taken
    }

    /// The ring position (low 32 bits) of the message waiting.
    @inlinable @inline(__always)
    func position() -> UInt32 { other.load(fromByteOffset: 4, as: UInt32.self) }

    /// Copies the waiting message out into `buffer` (`capacity` bytes).
    /// Returns its length and flags, or nil for a malformed one (the peer is
    /// not trusted: the length is read once and bounded).
    ///
    /// The acknowledgement is not written here: it goes with our next
    /// express message (`write`), which is the only time the peer needs it
    /// (it writes again only after hearing from us). Written here, it
    /// handed the line to this side, the peer's polling took it back, and
    /// the reply had to fetch it again: measured, the task library's 8 B
    /// one-way p50 was 0.130-0.135 us with the acknowledgement here and
    /// 0.110-0.115 us with it in the reply (bare transport 0.070 either way).
    @inlinable @inline(__always)
    mutating func take(into buffer: UnsafeMutableRawPointer) -> (length: Int, flags: UInt16)? {
        let length = Int(other.load(fromByteOffset: 8, as: UInt16.self))
        let flags = other.load(fromByteOffset: 10, as: UInt16.self)
        guard length <= Self.capacity else { return nil }
        buffer.copyMemory(from: other + 16, byteCount: Self.capacity)
        taken &+= 1
        turn = true
        return (length, flags)
    }
}
