/// Why a ring operation was refused.
public enum RingSlotsError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidGeometry(slots: UInt32, slotSize: UInt32)
    case recordTooLarge(length: Int, max: Int)
    /// The receiver reports consuming slots the sender never filled.
    case releasedBeyondProduced(released: UInt64, produced: UInt64)
    /// A record header in the ring names an impossible length.
    case malformedLength(length: UInt32, max: Int)
    /// A record header in the ring claims slots past the ring's end.
    case recordCrossesEnd(slotIndex: UInt32, slotCount: UInt32)
    /// A release for a record that is not the oldest unreleased one.
    case releaseOutOfOrder(expected: UInt64, got: UInt64)
    case bufferTooSmall(needed: Int, got: Int)

    public var description: String {
        switch self {
        case let .invalidGeometry(s, z): "ring: \(s) slots of \(z) bytes (want powers of two, 2...32768 slots of 64...65536 bytes)"
        case let .recordTooLarge(l, m): "ring: record of \(l) bytes, at most \(m)"
        case let .releasedBeyondProduced(r, p): "ring: peer released up to \(r), only \(p) produced"
        case let .malformedLength(l, m): "ring: record header says \(l) bytes, at most \(m)"
        case let .recordCrossesEnd(i, n): "ring: record at slot \(i) of \(n) slots crosses the ring's end"
        case let .releaseOutOfOrder(e, g): "ring: release of position \(g), oldest unreleased is \(e)"
        case let .bufferTooSmall(n, g): "ring: \(g) bytes of buffer, need \(n)"
        }
    }
}

/// The shape of a receiver-resident ring: a power of two of fixed slots.
///
/// ```
///  slot i·size                                             (i+n)·size
///  ├─ seal u32 ─┬─ kind u8 · length u24 ─┬─ payload … (pad to 4) ─┬─ seal u32 ─┤ … unused
///  └────────────── header, 8 bytes ──────┘                        └ trailer ──┘
/// ```
///
/// A record occupies `n` whole slots and never wraps: when it does not fit
/// before the ring's end, a padding record (header only, kind 0xFF) fills
/// the rest. The seal is derived from the record's position (odd, so never
/// 0), and the receiver zeroes it when it releases the record, so a slot
/// left over from an earlier lap is never taken for a new record. The
/// trailer is written last, so header and trailer both sealed means the
/// record is complete (where the NIC's placement order is not trusted, the
/// write-with-immediate's completion says the same).
public struct RingGeometry: Equatable, Sendable {
    public static let headerSize = 8
    public static let trailerSize = 4
    public static let paddingKind: UInt8 = 0xFF
    public static let maxLength = (1 << 24) - 1

    public let slots: UInt32
    public let slotSize: UInt32
    @usableFromInline let shift: UInt32

    public init(slots: UInt32, slotSize: UInt32) throws(RingSlotsError) {
        guard verbsIsPowerOfTwo(slots), slots >= 2, slots <= VerbsConnectionInfo.maxRingSlots,
              verbsIsPowerOfTwo(slotSize), slotSize >= VerbsConnectionInfo.minSlotSize,
              slotSize <= VerbsConnectionInfo.maxSlotSize
        else { throw .invalidGeometry(slots: slots, slotSize: slotSize) }
        self.slots = slots
        self.slotSize = slotSize
        self.shift = UInt32(slotSize.trailingZeroBitCount)
    }

    public var byteCount: Int { Int(slots) * Int(slotSize) }

    /// The largest payload: a record may take at most half the ring, so
    /// that a record plus the padding before it always fits an empty ring.
    public var maxPayload: Int {
        min(Int(slots / 2) * Int(slotSize) - Self.headerSize - Self.trailerSize, Self.maxLength)
    }

    /// Bytes a record of `length` payload bytes writes: header, payload
    /// padded to 4, trailer.
    @inlinable public static func recordBytes(payloadLength length: Int) -> Int {
        headerSize + ((length + 3) & ~3) + trailerSize
    }

    @inlinable public func recordSlots(payloadLength length: Int) -> UInt32 {
        UInt32((Self.recordBytes(payloadLength: length) + Int(slotSize) - 1) >> Int(shift))
    }

    @inlinable public func slotIndex(_ position: UInt64) -> UInt32 {
        UInt32(truncatingIfNeeded: position) & (slots - 1)
    }

    /// The seal of the record starting at `position`: odd, so never 0.
    @inlinable public static func seal(_ position: UInt64) -> UInt32 {
        UInt32(truncatingIfNeeded: position << 1) | 1
    }
}

/// Where one record goes in the remote ring.
public struct RingReservation: Equatable, Sendable {
    /// The record's start, in slots since the ring's creation.
    public var position: UInt64
    public var slotIndex: UInt32
    public var slotCount: UInt32
    /// Byte offset of the record in the ring.
    public var byteOffset: Int
    /// Bytes to write (header, payload padded to 4, trailer).
    public var byteCount: Int
    public var seal: UInt32
    /// A padding record to write first, at the end of the ring, if any.
    public var padding: RingPadding?
}

public struct RingPadding: Equatable, Sendable {
    public var position: UInt64
    public var slotIndex: UInt32
    public var slotCount: UInt32
    public var byteOffset: Int
    public var seal: UInt32
}

/// The sender's accounting of the ring it fills, in the receiver's memory,
/// by RDMA write. It knows the receiver's progress only from the released
/// position the receiver writes back (in full into our release word, or its
/// low 16 bits piggybacked on the receiver's own messages); it never
/// reserves beyond it, so it can never overwrite an unread record.
public struct RemoteRingSlots: Sendable {
    public let geometry: RingGeometry
    public private(set) var produced: UInt64 = 0
    public private(set) var released: UInt64 = 0

    public init(geometry: RingGeometry) { self.geometry = geometry }

    public var freeSlots: UInt32 { geometry.slots - UInt32(produced - released) }

    /// Reserves the slots of one record of `length` payload bytes (and the
    /// padding before it at the wrap). Nil when the ring lacks the space:
    /// wait for the receiver's released position. Throws when the record
    /// can never fit.
    public mutating func reserve(payloadLength length: Int) throws(RingSlotsError) -> RingReservation? {
        guard length >= 0, length <= geometry.maxPayload else {
            throw .recordTooLarge(length: length, max: geometry.maxPayload)
        }
        let need = geometry.recordSlots(payloadLength: length)
        let index = geometry.slotIndex(produced)
        let toEnd = geometry.slots - index
        let pad: UInt32 = need > toEnd ? toEnd : 0
        guard produced + UInt64(pad + need) - released <= UInt64(geometry.slots) else { return nil }
        var padding: RingPadding? = nil
        if pad > 0 {
            padding = RingPadding(position: produced, slotIndex: index, slotCount: pad,
                                  byteOffset: Int(index) << Int(geometry.shift),
                                  seal: RingGeometry.seal(produced))
            produced += UInt64(pad)
        }
        let start = geometry.slotIndex(produced)
        let reservation = RingReservation(
            position: produced, slotIndex: start, slotCount: need,
            byteOffset: Int(start) << Int(geometry.shift),
            byteCount: RingGeometry.recordBytes(payloadLength: length),
            seal: RingGeometry.seal(produced), padding: padding)
        produced += UInt64(need)
        return reservation
    }

    /// Whether a record of `length` bytes would fit now.
    public func fits(payloadLength length: Int) -> Bool {
        guard length >= 0, length <= geometry.maxPayload else { return false }
        let need = geometry.recordSlots(payloadLength: length)
        let toEnd = geometry.slots - geometry.slotIndex(produced)
        let pad: UInt32 = need > toEnd ? toEnd : 0
        return produced + UInt64(pad + need) - released <= UInt64(geometry.slots)
    }

    /// The receiver's consumer position in full. Older reports are ignored.
    public mutating func acknowledge(releasedTotal total: UInt64) throws(RingSlotsError) {
        guard total > released else { return }
        guard total <= produced else { throw .releasedBeyondProduced(released: total, produced: produced) }
        released = total
    }

    /// The low 16 bits of the receiver's consumer position (the ring holds
    /// at most 2^15 slots, so a newer report is less than 2^15 ahead).
    public mutating func acknowledge(releasedLow16 low: UInt16) throws(RingSlotsError) {
        guard let total = widenedTotal(low16: low, known: released) else { return }
        try acknowledge(releasedTotal: total)
    }

    /// Builds a record in `record` (the `byteCount` bytes to be written at
    /// the reservation's offset): header, payload, trailer last.
    public static func writeRecord(
        into record: UnsafeMutableRawBufferPointer, payload: UnsafeRawBufferPointer,
        kind: UInt8, seal: UInt32
    ) throws(RingSlotsError) {
        let needed = RingGeometry.recordBytes(payloadLength: payload.count)
        guard record.count >= needed else { throw .bufferTooSmall(needed: needed, got: record.count) }
        guard payload.count <= RingGeometry.maxLength else {
            throw .recordTooLarge(length: payload.count, max: RingGeometry.maxLength)
        }
        let w = VerbsWireWriter(record)
        w.put(seal, at: 0)
        w.put(UInt32(kind) << 24 | UInt32(payload.count), at: 4)
        if let src = payload.baseAddress, payload.count > 0 {
            record.baseAddress!.advanced(by: RingGeometry.headerSize).copyMemory(from: src, byteCount: payload.count)
        }
        w.put(seal, at: needed - RingGeometry.trailerSize)
    }

    /// The 8-byte header of a padding record.
    public static func writePadding(into header: UnsafeMutableRawBufferPointer, seal: UInt32) throws(RingSlotsError) {
        guard header.count >= RingGeometry.headerSize else {
            throw .bufferTooSmall(needed: RingGeometry.headerSize, got: header.count)
        }
        let w = VerbsWireWriter(header)
        w.put(seal, at: 0)
        w.put(UInt32(RingGeometry.paddingKind) << 24, at: 4)
    }
}

/// A complete record found in the local ring.
public struct RingRecord: Equatable, Sendable {
    public var position: UInt64
    public var slotIndex: UInt32
    public var slotCount: UInt32
    public var kind: UInt8
    /// Byte offset of the payload in the ring.
    public var payloadOffset: Int
    public var length: Int
}

/// The receiver's side of the ring: finds complete records in order,
/// releases them, and says when to write the consumer position back.
public struct LocalRingSlots: Sendable {
    public let geometry: RingGeometry
    /// Report the consumer position once this many slots are unreported.
    public let releaseBatch: UInt32
    public private(set) var consumed: UInt64 = 0
    public private(set) var published: UInt64 = 0

    /// `releaseBatch` defaults to a quarter of the ring.
    public init(geometry: RingGeometry, releaseBatch: UInt32? = nil) {
        self.geometry = geometry
        self.releaseBatch = max(1, min(geometry.slots, releaseBatch ?? geometry.slots / 4))
    }

    /// The oldest complete record, or nil when the next one is not (fully)
    /// there yet. Padding is skipped (and released) on the way. `ring` is
    /// the whole ring, written by the peer: every header is checked.
    public mutating func poll(_ ring: UnsafeMutableRawBufferPointer) throws(RingSlotsError) -> RingRecord? {
        guard ring.count >= geometry.byteCount else {
            throw .bufferTooSmall(needed: geometry.byteCount, got: ring.count)
        }
        let r = VerbsWireReader(UnsafeRawBufferPointer(ring))
        let w = VerbsWireWriter(ring)
        while true {
            let index = geometry.slotIndex(consumed)
            let base = Int(index) << Int(geometry.shift)
            let seal = RingGeometry.seal(consumed)
            guard r.get(UInt32.self, at: base) == seal else { return nil }
            let word = r.get(UInt32.self, at: base + 4)
            let kind = UInt8(word >> 24)
            if kind == RingGeometry.paddingKind {
                w.put(UInt32(0), at: base)
                consumed += UInt64(geometry.slots - index)
                continue
            }
            let length = word & 0xFF_FFFF
            guard Int(length) <= geometry.maxPayload else {
                throw .malformedLength(length: length, max: geometry.maxPayload)
            }
            let count = geometry.recordSlots(payloadLength: Int(length))
            guard index + count <= geometry.slots else {
                throw .recordCrossesEnd(slotIndex: index, slotCount: count)
            }
            let trailer = base + RingGeometry.recordBytes(payloadLength: Int(length)) - RingGeometry.trailerSize
            guard r.get(UInt32.self, at: trailer) == seal else { return nil }
            return RingRecord(position: consumed, slotIndex: index, slotCount: count, kind: kind,
                              payloadOffset: base + RingGeometry.headerSize, length: Int(length))
        }
    }

    /// Releases the oldest record (the one `poll` returned): unseals it and
    /// moves the consumer past it.
    public mutating func release(_ record: RingRecord, in ring: UnsafeMutableRawBufferPointer) throws(RingSlotsError) {
        guard record.position == consumed else { throw .releaseOutOfOrder(expected: consumed, got: record.position) }
        guard ring.count >= geometry.byteCount else {
            throw .bufferTooSmall(needed: geometry.byteCount, got: ring.count)
        }
        let w = VerbsWireWriter(ring)
        let base = Int(record.slotIndex) << Int(geometry.shift)
        w.put(UInt32(0), at: base)
        w.put(UInt32(0), at: base + RingGeometry.recordBytes(payloadLength: record.length) - RingGeometry.trailerSize)
        consumed += UInt64(record.slotCount)
    }

    public var unpublished: UInt64 { consumed - published }
    public var releaseDue: Bool { unpublished >= UInt64(releaseBatch) }

    /// The position to write back when a batch is due.
    public mutating func takeRelease() -> UInt64? {
        guard releaseDue else { return nil }
        published = consumed
        return consumed
    }

    /// The position to write back now (going idle), if anything is unreported.
    public mutating func takeAll() -> UInt64? {
        guard unpublished > 0 else { return nil }
        published = consumed
        return consumed
    }

    /// The low 16 bits to piggyback on an outgoing message.
    public mutating func takePiggyback() -> UInt16 {
        published = consumed
        return UInt16(truncatingIfNeeded: consumed)
    }
}
