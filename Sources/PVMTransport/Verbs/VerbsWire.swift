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
