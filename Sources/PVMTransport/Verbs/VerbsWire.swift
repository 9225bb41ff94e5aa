// Little-endian field access for the verbs transport's fixed wire layouts
// (connection info, rendezvous announcements, ring records). Callers check
// the buffer's length once, against the layout's size, before any access.

@usableFromInline
struct VerbsWireWriter {
    @usableFromInline let base: UnsafeMutableRawBufferPointer

    @inlinable init(_ base: UnsafeMutableRawBufferPointer) { self.base = base }

    @inlinable func put<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        base.storeBytes(of: value.littleEndian, toByteOffset: offset, as: T.self)
    }

    @inlinable func put(bytes: some Collection<UInt8>, at offset: Int) {
        var i = offset
        for b in bytes { base[i] = b; i += 1 }
    }
}

@usableFromInline
struct VerbsWireReader {
    @usableFromInline let base: UnsafeRawBufferPointer

    @inlinable init(_ base: UnsafeRawBufferPointer) { self.base = base }

    @inlinable func get<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        T(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    @inlinable func bytes(at offset: Int, count: Int) -> [UInt8] {
        Array(base[offset..<(offset + count)])
    }
}

/// True for 1, 2, 4, 8, ... (and false for 0).
@inlinable func verbsIsPowerOfTwo<T: FixedWidthInteger>(_ value: T) -> Bool {
    value > 0 && (value & (value &- 1)) == 0
}

/// A running total that the peer reports by its low 16 bits only (a
/// piggybacked credit or release word), widened against the last total
/// known here: nil when the report is not newer. Newer reports lie less
/// than 2^15 ahead, since windows and rings hold at most 2^15 entries.
func widenedTotal(low16 low: UInt16, known: UInt64) -> UInt64? {
    let ahead = UInt64(low &- UInt16(truncatingIfNeeded: known))
    guard ahead != 0, ahead < 1 << 15 else { return nil }
    return known + ahead
}
