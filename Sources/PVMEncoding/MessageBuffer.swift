/// PVM's message encodings (the values of PvmDataDefault, PvmDataRaw,
/// PvmDataInPlace and PvmDataTrace).
public enum Encoding: Int32, Sendable, CaseIterable {
    /// The sender packs in its native format and the message carries its
    /// signature; the receiver converts while unpacking when the signatures
    /// differ. (PVM 3.4 used XDR here; this runtime converts only between
    /// unlike hosts, so like hosts pay nothing.)
    case `default` = 0
    /// No conversion, ever: the bytes are taken as they are.
    case raw = 1
    /// Packing records where the caller's data is; it is read at send time,
    /// so a transport can move it without an intermediate copy.
    case inPlace = 2
    /// Accepted for compatibility; behaves like `default`.
    case trace = 4
}

extension Encoding {
    /// `init(rawValue:)` that callers in other modules inline (the
    /// synthesized initializer is a call, and every message makes one).
    @inlinable @inline(__always)
    public static func of(_ raw: Int32) -> Encoding? {
        switch raw {
        case 0: return .default
        case 1: return .raw
        case 2: return .inPlace
        case 4: return .trace
        default: return nil
        }
    }
}

/// Copies `count` bytes from `source` to `destination` (not overlapping).
/// Up to 16 bytes it is two possibly overlapping loads and stores inline:
/// the small messages this runtime is measured by pack, load and unpack a
/// few bytes each, where a call to memmove costs more than the copy.
@inlinable @inline(__always)
func copyBytes(to destination: UnsafeMutableRawPointer, from source: UnsafeRawPointer, count: Int) {
    if count >= 8 && count <= 16 {
        let head = source.loadUnaligned(as: UInt64.self)
        let tail = source.loadUnaligned(fromByteOffset: count &- 8, as: UInt64.self)
        destination.storeBytes(of: head, as: UInt64.self)
        destination.storeBytes(of: tail, toByteOffset: count &- 8, as: UInt64.self)
    } else if count >= 4 && count < 8 {
        let head = source.loadUnaligned(as: UInt32.self)
        let tail = source.loadUnaligned(fromByteOffset: count &- 4, as: UInt32.self)
        destination.storeBytes(of: head, as: UInt32.self)
        destination.storeBytes(of: tail, toByteOffset: count &- 4, as: UInt32.self)
    } else if count > 0 {
        destination.copyMemory(from: source, byteCount: count)
    }
}

/// Types that pack and unpack as one PVM numeric item.
public protocol PVMScalar {
    static var kind: ScalarKind? { get }  // nil: a byte, never converted
}
extension Int8: PVMScalar { public static var kind: ScalarKind? { nil } }
extension UInt8: PVMScalar { public static var kind: ScalarKind? { nil } }
extension Int16: PVMScalar { public static var kind: ScalarKind? { .short } }
extension UInt16: PVMScalar { public static var kind: ScalarKind? { .ushort } }
extension Int32: PVMScalar { public static var kind: ScalarKind? { .int } }
extension UInt32: PVMScalar { public static var kind: ScalarKind? { .uint } }
extension Int: PVMScalar { public static var kind: ScalarKind? { .long } }
extension UInt: PVMScalar { public static var kind: ScalarKind? { .ulong } }
extension Float: PVMScalar { public static var kind: ScalarKind? { .float } }
extension Double: PVMScalar { public static var kind: ScalarKind? { .double } }

/// A PVM message buffer: what `pvm_initsend`/`pvm_pk*` build and
/// `pvm_upk*` read.
///
/// A buffer being packed holds native-format bytes (and, for InPlace,
/// references to the caller's memory). A received buffer holds the sender's
/// bytes and signature and converts while unpacking when that signature is
/// not this host's. Storage grows geometrically and is reused by `reset`, so
/// packing into a warm buffer allocates nothing.
///
/// Single-threaded by contract (PVM's buffers belong to one task), so the
/// hot fields skip Swift's dynamic exclusivity checks.
public final class MessageBuffer {
    @usableFromInline @exclusivity(unchecked) var _encoding: Encoding
    @inlinable public var encoding: Encoding { _encoding }
    /// Format of the bytes: the sender's signature.
    @usableFromInline @exclusivity(unchecked) var _signature: DataSignature
    @inlinable public var signature: DataSignature { _signature }

    /// The data. `headroom` bytes in front of it are reserved for a frame
    /// header, so a transport sends header and body as one contiguous piece
    /// with no copy (see `withFrame`).
    @usableFromInline @exclusivity(unchecked) var _storage: UnsafeMutableRawPointer
    @usableFromInline @exclusivity(unchecked) var _capacity: Int
    /// Bytes from the start of the storage's allocation to `storage`: at
    /// least `headroom` (more for a block adopted from a transport).
    @usableFromInline @exclusivity(unchecked) var _front = MessageBuffer.headroom
    /// Bytes reserved in front of the data for a frame header.
    public static let headroom = 48
    /// Bytes of owned data.
    @usableFromInline @exclusivity(unchecked) var _ownedCount = 0
    @inlinable public var ownedCount: Int { _ownedCount }
    /// Unpack position (in the contiguous view).
    @usableFromInline @exclusivity(unchecked) var _readOffset = 0
    @inlinable public var readOffset: Int { _readOffset }

    /// One piece of the message: owned bytes or a reference to the caller's memory.
    public enum Segment {
        case owned(Range<Int>)
        case reference(UnsafeRawBufferPointer)
    }
    /// InPlace only: the pieces in order (owned bytes between references).
    @usableFromInline @exclusivity(unchecked) var _segments: [Segment] = []
    public var segments: [Segment] { _segments }
    @usableFromInline @exclusivity(unchecked) var _segmentStart = 0

    /// A buffer to pack into, in this host's format.
    public init(encoding: Encoding, capacity: Int = 256) {
        self._encoding = encoding
        self._signature = .native
        self._capacity = max(capacity, 16)
        self._storage = Self.allocateStorage(self._capacity)
    }

    /// Storage of this many bytes and more starts on a page. Where glibc
    /// puts a large block of alignment 16 (a fresh mapping's 16 bytes in, or
    /// anywhere in the heap) the kernel's copy into it ran at about a fifth
    /// of its speed into a page-aligned buffer: a pack-mode 4 MiB message
    /// over TCP took 2.9-3.8 ms one way, 1.5-1.9 ms page-aligned, in the same
    /// runs (perf: the time was in _copy_to_iter; a C loopback test shows
    /// the same copy 2.4x slower from the destination's offset alone).
    static let pageAlignedStorage = 1 << 16

    private static func allocateStorage(_ capacity: Int) -> UnsafeMutableRawPointer {
        let alignment = capacity >= pageAlignedStorage ? 4096 : 16
        return UnsafeMutableRawPointer.allocate(byteCount: capacity + headroom, alignment: alignment) + headroom
    }

    /// A received message: `bytes` in the format of `signature`.
    public init(received bytes: UnsafeRawBufferPointer, encoding: Encoding, signature: DataSignature) throws(PVMError) {
        self._encoding = encoding
        self._signature = try Self.receivedSignature(signature, encoding: encoding)
        self._capacity = max(bytes.count, 16)
        self._storage = Self.allocateStorage(_capacity)
        if bytes.count > 0 { _storage.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
        _ownedCount = bytes.count
    }

    /// Turns this buffer into a received message holding a copy of `bytes`,
    /// reusing its storage (no allocation once it is large enough).
    // Inlined into the task library: a small message's load is a few
    // stores and a copy. A signature to validate, storage to grow or an
    // InPlace buffer being emptied takes the out-of-line path.
    @inlinable @inline(__always)
    public func load(received bytes: UnsafeRawBufferPointer, encoding: Encoding, signature: DataSignature) throws(PVMError) {
        if _fastPath((signature == .native || encoding == .raw) && bytes.count <= _capacity && _segments.isEmpty) {
            _ownedCount = bytes.count
            _readOffset = 0
            _segmentStart = 0
            _encoding = encoding
            _signature = signature
            if bytes.count > 0 { copyBytes(to: _storage, from: bytes.baseAddress!, count: bytes.count) }
            return
        }
        try loadSlowly(received: bytes, encoding: encoding, signature: signature)
    }

    @usableFromInline
    func loadSlowly(received bytes: UnsafeRawBufferPointer, encoding: Encoding, signature: DataSignature) throws(PVMError) {
        let checked = try Self.receivedSignature(signature, encoding: encoding)
        reset()
        self._encoding = encoding
        self._signature = checked
        if bytes.count > _capacity {
            freeStorage()
            _capacity = bytes.count
            _storage = Self.allocateStorage(_capacity)
        }
        if bytes.count > 0 { _storage.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
        _ownedCount = bytes.count
    }

    /// Makes this buffer hold a received message of `count` bytes in
    /// `encoding` from a sender of `signature`, and returns its storage for
    /// the caller to write the bytes into (a socket read, say, possibly over
    /// several calls): no copy through an intermediate buffer. The storage
    /// stays valid until the buffer is reset or loaded again; a caller that
    /// cannot fill it all must `reset()` the buffer.
    public func prepareReceived(count: Int, encoding: Encoding, signature: DataSignature) throws(PVMError) -> UnsafeMutableRawPointer {
        let checked = try Self.receivedSignature(signature, encoding: encoding)
        reset()
        if count > _capacity {
            freeStorage()
            _capacity = count
            _storage = Self.allocateStorage(_capacity)
        }
        self._encoding = encoding
        self._signature = checked
        _ownedCount = count
        return _storage
    }

    /// Empties the buffer and makes it a send buffer of `encoding` in this
    /// host's format (keeps its storage).
    @inlinable @inline(__always)
    public func reset(encoding: Encoding) {
        reset()
        self._encoding = encoding
        self._signature = .native
    }

    /// True when the whole message lies in this buffer's own storage (no
    /// references: InPlace packing, or `reset(encoding:referencing:)`), so
    /// `withFrame` needs no gathering copy.
    @inlinable public var isContiguous: Bool { _segments.isEmpty }

    // Read by the task library for every message: computed here, as reads
    // of the stored state from another module pay a dynamic exclusivity
    // check each (swift_beginAccess, a thread-local lookup).

    /// The ring record's flags word for a short frame, when the buffer can
    /// go as one (this host's format, all bytes its own); else nil.
    @inlinable public var shortFrameFlags: UInt16? { signature == .native && _segments.isEmpty ? ShortFrame.flags(encoding) : nil }

    /// The length pvm_bufinfo reports: an InPlace buffer being packed holds
    /// references, not bytes, and counts only what was copied into it.
    @inlinable public var reportedLength: Int { encoding == .inPlace ? _ownedCount : byteCount }

    /// Empties the buffer and makes it a message of `encoding` in this
    /// host's format whose body is `bytes`, where they are (a reference, no
    /// copy), read when the message is sent: for a one-shot send
    /// (pvm_psend) of the program's own memory. `reset()` drops it.
    public func reset(encoding: Encoding, referencing bytes: UnsafeRawBufferPointer) {
        reset(encoding: encoding)
        if bytes.count > 0 { _segments.append(.reference(bytes)) }
    }

    /// Calls `body` with the frame (header written by `writeHeader` into the
    /// headroom, then the body) as one contiguous piece. For an InPlace
    /// buffer with references the pieces are gathered into `scratch` first.
    /// `headerSize` (at most `headroom`) is the size of the header.
    @inlinable @inline(__always)
    public func withFrame<R>(headerSize: Int = MessageBuffer.headroom,
                             _ writeHeader: (UnsafeMutableRawPointer) -> Void,
                             _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        precondition(headerSize <= Self.headroom)
        if _fastPath(isContiguous) {
            let start = _storage - headerSize
            writeHeader(start)
            return try body(UnsafeRawBufferPointer(start: start, count: headerSize + _ownedCount))
        }
        let total = headerSize + byteCount
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: total, alignment: 16)
        defer { scratch.deallocate() }
        writeHeader(scratch)
        gather(into: scratch + headerSize)
        return try body(UnsafeRawBufferPointer(start: scratch, count: total))
    }

    /// Copies the message's pieces, in order, to `destination`.
    @usableFromInline
    func gather(into destination: UnsafeMutableRawPointer) {
        var offset = 0
        withPieces { piece in
            if piece.count > 0 { (destination + offset).copyMemory(from: piece.baseAddress!, byteCount: piece.count) }
            offset += piece.count
        }
    }

    /// Calls `body` with the frame as pieces, in order (the header written
    /// by `writeHeader` into a small buffer of `headerSize` bytes, then the
    /// message's pieces: for InPlace, references into the program's memory
    /// between owned bytes) and their total size, so that a transport can
    /// write them without gathering them into one copy first.
    public func withFramePieces<R>(headerSize: Int, _ writeHeader: (UnsafeMutableRawPointer) -> Void,
                                   _ body: (UnsafeBufferPointer<UnsafeRawBufferPointer>, Int) throws -> R) rethrows -> R {
        precondition(headerSize <= Self.headroom)
        return try withUnsafeTemporaryAllocation(byteCount: Self.headroom, alignment: 16) { head in
            writeHeader(head.baseAddress!)
            return try withUnsafeTemporaryAllocation(of: UnsafeRawBufferPointer.self, capacity: _segments.count + 2) { list in
                list[0] = UnsafeRawBufferPointer(start: head.baseAddress!, count: headerSize)
                var n = 1, total = headerSize
                withPieces { piece in
                    list[n] = piece
                    n += 1
                    total += piece.count
                }
                return try body(UnsafeBufferPointer(rebasing: list[0..<n]), total)
            }
        }
    }

    deinit { (_storage - _front).deallocate() }

    private func freeStorage() {
        (_storage - _front).deallocate()
        _front = Self.headroom
    }

    /// The signature a received message in `encoding` from a sender of
    /// `signature` is read with (validated where the bytes are converted).
    public static func receivedSignature(_ signature: DataSignature, encoding: Encoding) throws(PVMError) -> DataSignature {
        encoding == .default || encoding == .trace ? try signature.validated() : signature
    }

    /// This buffer's storage as one allocation (`UnsafeMutableRawPointer.allocate`):
    /// its start and size. For a transport that exchanges it for a block
    /// holding a received message (see `adopt`).
    public var storageBlock: (base: UnsafeMutableRawPointer, size: Int) { (_storage - _front, _front + _capacity) }

    /// Makes this buffer a received message whose bytes, `body`, already lie
    /// inside `block` (an allocation of `size` bytes from
    /// `UnsafeMutableRawPointer.allocate`, with at least `headroom` bytes in
    /// front of `body`), taking ownership of the block: a large message
    /// assembled by a transport becomes the receive buffer without a copy.
    /// The previous storage is no longer this buffer's: the caller has
    /// handed `storageBlock` to whoever gave `block` (or frees it).
    /// `signature` comes from `receivedSignature`.
    public func adopt(block: UnsafeMutableRawPointer, size: Int, body: UnsafeRawBufferPointer,
                      encoding: Encoding, signature: DataSignature) {
        let start = UnsafeMutableRawPointer(mutating: body.baseAddress!)
        let offset = start - block
        precondition(offset >= Self.headroom && offset + body.count <= size, "adopted block does not hold the message with headroom")
        reset()
        _storage = start
        _front = offset
        _capacity = size - offset
        self._encoding = encoding
        self._signature = signature
        _ownedCount = body.count
    }

    /// Total bytes of the message (owned and referenced).
    @inlinable public var byteCount: Int {
        guard !_segments.isEmpty else { return _ownedCount }
        return referencedByteCount
    }

    @usableFromInline var referencedByteCount: Int {
        var n = _ownedCount - _segmentStart
        for s in _segments { if case .reference(let r) = s { n += r.count } else if case .owned(let range) = s { n += range.count } }
        return n
    }

    /// Empties the buffer for reuse (keeps its storage).
    @inlinable @inline(__always)
    public func reset() {
        _ownedCount = 0
        _readOffset = 0
        // (removeAll on an empty array would allocate a fresh empty buffer.)
        if !_segments.isEmpty { _segments.removeAll(keepingCapacity: true) }
        _segmentStart = 0
    }

    // MARK: Packing

    @inline(__always)
    private func reserve(_ n: Int) -> UnsafeMutableRawPointer {
        if _slowPath(_ownedCount + n > _capacity) { grow(_ownedCount + n) }
        defer { _ownedCount += n }
        return _storage + _ownedCount
    }

    private func grow(_ needed: Int) {
        var c = _capacity
        while c < needed { c *= 2 }
        let s = Self.allocateStorage(c)
        s.copyMemory(from: _storage, byteCount: _ownedCount)
        freeStorage()
        _storage = s
        _capacity = c
    }

    private static func checked(count: Int, stride: Int, size: Int) throws(PVMError) -> Int {
        guard count >= 0 else { throw PVMError(.badParam, "negative item count \(count)") }
        guard stride >= 0 else { throw PVMError(.badParam, "negative stride \(stride)") }
        let (bytes, o) = count.multipliedReportingOverflow(by: size)
        guard !o, bytes <= Int(Int32.max) else { throw PVMError(.badParam, "\(count) items of \(size) bytes do not fit in a message") }
        return bytes
    }

    /// Packs `count` items starting at `items`, taking every `stride`-th
    /// (PVM semantics: stride in items; 0 repeats the first item).
    // Inlined into callers: packing a run of items that fits the storage
    // is a copy and one store. Everything else (InPlace, strides, growth,
    // bad counts) goes to `packSlowly`.
    @inlinable @inline(__always)
    public func pack<T: PVMScalar>(_ items: UnsafePointer<T>, count: Int, stride: Int = 1) throws(PVMError) {
        if _fastPath(packIfSimple(items, count: count, stride: stride)) { return }
        try packSlowly(items, count: count, stride: stride)
    }

    /// `pack`'s inlined part: packs and returns true when the items are a
    /// run that fits the storage (no throwing, so a caller may call it
    /// from a plain closure); else changes nothing and returns false.
    @inlinable @inline(__always)
    public func packIfSimple<T: PVMScalar>(_ items: UnsafePointer<T>, count: Int, stride: Int) -> Bool {
        let size = MemoryLayout<T>.size
        guard stride == 1 && count > 0 && count <= Self.fastItemLimit && _encoding != .inPlace
              && count &* size <= _capacity &- _ownedCount else { return false }
        copyBytes(to: _storage + _ownedCount, from: items, count: count &* size)
        _ownedCount &+= count &* size
        return true
    }

    /// Item counts up to this take the inlined paths (no overflow in
    /// `count * size` below it, and far below a message's limit).
    @usableFromInline static let fastItemLimit = 1 << 24

    // Specialized here for every scalar: callers in other modules (the task
    // library, the C ABI) then call concrete code, not generic code.
    @_specialize(exported: true, where T == UInt8)
    @_specialize(exported: true, where T == Int8)
    @_specialize(exported: true, where T == Int16)
    @_specialize(exported: true, where T == UInt16)
    @_specialize(exported: true, where T == Int32)
    @_specialize(exported: true, where T == UInt32)
    @_specialize(exported: true, where T == Int)
    @_specialize(exported: true, where T == UInt)
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    @usableFromInline
    func packSlowly<T: PVMScalar>(_ items: UnsafePointer<T>, count: Int, stride: Int) throws(PVMError) {
        let size = MemoryLayout<T>.size
        let bytes = try Self.checked(count: count, stride: stride, size: size)
        guard count > 0 else { return }
        if encoding == .inPlace {
            guard stride == 1 else { throw PVMError(.notImpl, "InPlace packing with stride \(stride)") }
            flushOwnedSegment()
            _segments.append(.reference(UnsafeRawBufferPointer(start: items, count: bytes)))
            return
        }
        let out = reserve(bytes)
        if stride == 1 {
            out.copyMemory(from: items, byteCount: bytes)
        } else {
            for i in 0..<count { out.storeBytes(of: items[i &* stride], toByteOffset: i &* size, as: T.self) }
        }
    }

    /// Packs every element of `array`.
    public func pack<T: PVMScalar>(_ array: [T]) throws(PVMError) {
        try array.withUnsafeBufferPointer { (b: UnsafeBufferPointer<T>) throws(PVMError) in
            if let base = b.baseAddress { try pack(base, count: b.count) }
        }
    }

    /// Packs one value.
    @inlinable
    public func pack<T: PVMScalar>(_ value: T) throws(PVMError) {
        var v = value
        try withUnsafePointer(to: &v) { (p: UnsafePointer<T>) throws(PVMError) in try pack(p, count: 1) }
    }

    /// Packs `count` complex numbers (pairs of `T`, real then imaginary)
    /// starting at `pairs`, taking every `stride`-th pair (`pvm_pkcplx`,
    /// `pvm_pkdcplx`: the stride counts complex numbers, not scalars).
    public func packComplex<T: PVMScalar & BinaryFloatingPoint>(_ pairs: UnsafePointer<T>, count: Int, stride: Int = 1) throws(PVMError) {
        _ = try Self.checked(count: count, stride: stride, size: 2 * MemoryLayout<T>.size)
        guard count > 0 else { return }
        if stride == 1 { return try pack(pairs, count: 2 * count) }
        guard encoding != .inPlace else { throw PVMError(.notImpl, "InPlace packing with stride \(stride)") }
        for i in 0..<count { try pack(pairs + 2 &* i &* stride, count: 2) }
    }

    /// Unpacks `count` complex numbers into every `stride`-th pair at `pairs`.
    public func unpackComplex<T: PVMScalar & BinaryFloatingPoint>(into pairs: UnsafeMutablePointer<T>, count: Int, stride: Int = 1) throws(PVMError) {
        _ = try Self.checked(count: count, stride: stride, size: 2 * MemoryLayout<T>.size)
        guard count > 0 else { return }
        if stride == 1 { return try unpack(into: pairs, count: 2 * count) }
        let need = 2 * count * (T.kind.map { $0.size(in: converts ? signature : .native) } ?? 1)
        guard need <= remaining else { throw PVMError(.noData, "\(count) complex numbers wanted, \(remaining) bytes left") }
        for i in 0..<count { try unpack(into: pairs + 2 &* i &* stride, count: 2) }
    }

    /// Packs a string: its length + 1 as an int, then its bytes and a NUL.
    /// Not into an InPlace buffer (PvmNotImpl, as PVM).
    public func pack(string: String) throws(PVMError) {
        guard encoding != .inPlace else { throw PVMError(.notImpl, "InPlace packing of a string") }
        var utf8 = Array(string.utf8)
        guard !utf8.contains(0) else { throw PVMError(.badParam, "string contains a NUL byte") }
        utf8.append(0)
        utf8.withUnsafeBytes { packString(bytesWithNUL: $0) }
    }

    /// Packs a NUL-terminated C string (`pvm_pkstr`), as `pack(string:)` does.
    public func pack(cString: UnsafePointer<CChar>) throws(PVMError) {
        guard encoding != .inPlace else { throw PVMError(.notImpl, "InPlace packing of a string") }
        var n = 0
        while cString[n] != 0 { n &+= 1 }
        guard n < Int(Int32.max) else { throw PVMError(.badParam, "string too long for a message") }
        packString(bytesWithNUL: UnsafeRawBufferPointer(start: cString, count: n + 1))
    }

    /// Length (with the NUL) as an int in this host's format, then the bytes.
    private func packString(bytesWithNUL bytes: UnsafeRawBufferPointer) {
        let out = reserve(4 + bytes.count)
        out.storeBytes(of: Int32(bytes.count), as: Int32.self)
        (out + 4).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
    }

    private func flushOwnedSegment() {
        if _ownedCount > _segmentStart { _segments.append(.owned(_segmentStart..<_ownedCount)) }
        _segmentStart = _ownedCount
    }

    /// Calls `body` with each piece of the message in order, as a transport
    /// gathers it (InPlace data is read from the caller's memory now).
    public func withPieces(_ body: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        if !_segments.isEmpty {
            for s in _segments {
                switch s {
                case .owned(let r): try body(UnsafeRawBufferPointer(start: _storage + r.lowerBound, count: r.count))
                case .reference(let p): try body(p)
                }
            }
            if _ownedCount > _segmentStart { try body(UnsafeRawBufferPointer(start: _storage + _segmentStart, count: _ownedCount - _segmentStart)) }
        } else {
            try body(UnsafeRawBufferPointer(start: _storage, count: _ownedCount))
        }
    }

    /// Calls `body` with the message's bytes in one piece (gathered into a
    /// copy only for an InPlace buffer with references).
    public func withContiguousBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        if isContiguous { return try body(UnsafeRawBufferPointer(start: _storage, count: _ownedCount)) }
        return try contiguousBytes().withUnsafeBytes(body)
    }

    /// The message as one contiguous byte array (a copy).
    public func contiguousBytes() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(byteCount)
        withPieces { out.append(contentsOf: $0) }
        return out
    }

    // MARK: Unpacking

    @inlinable var converts: Bool { (encoding == .default || encoding == .trace) && signature != .native }

    /// Unpacks `count` items into `items`, every `stride`-th slot, converting
    /// from the sender's format when needed.
    // Inlined into callers: items that need no conversion are one copy.
    @inlinable @inline(__always)
    public func unpack<T: PVMScalar>(into items: UnsafeMutablePointer<T>, count: Int, stride: Int = 1) throws(PVMError) {
        if _fastPath(unpackIfSimple(into: items, count: count, stride: stride)) { return }
        try unpackSlowly(into: items, count: count, stride: stride)
    }

    /// `unpack`'s inlined part: unpacks and returns true when the items are
    /// a run there to read with no conversion; else changes nothing and
    /// returns false.
    @inlinable @inline(__always)
    public func unpackIfSimple<T: PVMScalar>(into items: UnsafeMutablePointer<T>, count: Int, stride: Int) -> Bool {
        let size = MemoryLayout<T>.size
        guard stride == 1 && count > 0 && count <= Self.fastItemLimit && _segments.isEmpty
              && count &* size <= _ownedCount &- _readOffset
              && (T.kind == nil || !converts) else { return false }
        copyBytes(to: UnsafeMutableRawPointer(items), from: _storage + _readOffset, count: count &* size)
        _readOffset &+= count &* size
        return true
    }

    @_specialize(exported: true, where T == UInt8)
    @_specialize(exported: true, where T == Int8)
    @_specialize(exported: true, where T == Int16)
    @_specialize(exported: true, where T == UInt16)
    @_specialize(exported: true, where T == Int32)
    @_specialize(exported: true, where T == UInt32)
    @_specialize(exported: true, where T == Int)
    @_specialize(exported: true, where T == UInt)
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    @usableFromInline
    func unpackSlowly<T: PVMScalar>(into items: UnsafeMutablePointer<T>, count: Int, stride: Int) throws(PVMError) {
        guard _segments.isEmpty else { throw PVMError(.badParam, "unpacking a buffer that is being packed") }
        let kind = T.kind
        let wireSize = kind.map { $0.size(in: converts ? signature : .native) } ?? 1
        let bytes = try Self.checked(count: count, stride: stride, size: wireSize)
        guard count > 0 else { return }
        guard bytes <= _ownedCount - _readOffset else {
            throw PVMError(.noData, "\(count) items of \(wireSize) bytes wanted, \(_ownedCount - _readOffset) bytes left")
        }
        let source = UnsafeRawPointer(_storage + _readOffset)
        let size = MemoryLayout<T>.size
        if let kind, converts {
            if stride == 1 {
                try Conversion.convert(kind, count: count, from: signature, source: source, to: .native, destination: UnsafeMutableRawPointer(items))
            } else {
                var one = (UInt64(0), UInt64(0))
                for i in 0..<count {
                    try withUnsafeMutableBytes(of: &one) { (tmp: UnsafeMutableRawBufferPointer) throws(PVMError) in
                        try Conversion.convert(kind, count: 1, from: signature, source: source + i * wireSize, to: .native, destination: tmp.baseAddress!)
                        items[i &* stride] = tmp.load(as: T.self)
                    }
                }
            }
        } else if stride == 1 {
            UnsafeMutableRawPointer(items).copyMemory(from: source, byteCount: bytes)
        } else {
            for i in 0..<count { items[i &* stride] = source.loadUnaligned(fromByteOffset: i &* size, as: T.self) }
        }
        _readOffset += bytes
    }

    /// Unpacks `count` items into a new array.
    public func unpack<T: PVMScalar>(_ type: T.Type, count: Int) throws(PVMError) -> [T] {
        guard count >= 0 else { throw PVMError(.badParam, "negative item count \(count)") }
        var failure: PVMError? = nil
        let out = [T](unsafeUninitializedCapacity: count) { buf, n in
            do throws(PVMError) { try unpack(into: buf.baseAddress!, count: count); n = count } catch { failure = error; n = 0 }
        }
        if let failure { throw failure }
        return out
    }

    /// Unpacks one value (into a local: no array made).
    public func unpack<T: PVMScalar>(_ type: T.Type) throws(PVMError) -> T {
        try withUnsafeTemporaryAllocation(of: T.self, capacity: 1) { (slot: UnsafeMutableBufferPointer<T>) throws(PVMError) -> T in
            try unpack(into: slot.baseAddress!, count: 1)
            return slot.baseAddress!.pointee
        }
    }

    /// Unpacks a string packed by `pack(string:)`.
    public func unpackString() throws(PVMError) -> String {
        let start = _readOffset
        let length = Int(try unpack(Int32.self))
        guard length >= 1, length <= _ownedCount - _readOffset else {
            _readOffset = start
            throw PVMError(.noData, "string of \(length) bytes with \(_ownedCount - _readOffset) bytes left")
        }
        let bytes = UnsafeRawBufferPointer(start: _storage + _readOffset, count: length)
        guard bytes[length - 1] == 0 else {
            _readOffset = start
            throw PVMError(.badMsg, "string is not NUL-terminated")
        }
        _readOffset += length
        return String(decoding: bytes.prefix(length - 1), as: UTF8.self)
    }

    /// Unpacks a string into `destination` with its NUL (`pvm_upkstr`: the
    /// caller's array must be large enough, as in PVM).
    public func unpackString(into destination: UnsafeMutablePointer<CChar>) throws(PVMError) {
        let start = _readOffset
        var length32: Int32 = 0
        try unpack(into: &length32, count: 1)
        let length = Int(length32)
        guard length >= 1, length <= _ownedCount - _readOffset else {
            _readOffset = start
            throw PVMError(.noData, "string of \(length) bytes with \(_ownedCount - _readOffset) bytes left")
        }
        let bytes = UnsafeRawPointer(_storage + _readOffset)
        guard bytes.load(fromByteOffset: length - 1, as: UInt8.self) == 0 else {
            _readOffset = start
            throw PVMError(.badMsg, "string is not NUL-terminated")
        }
        UnsafeMutableRawPointer(destination).copyMemory(from: bytes, byteCount: length)
        _readOffset += length
    }

    /// Starts unpacking again from the first byte.
    public func rewind() { _readOffset = 0 }

    /// Bytes not yet unpacked.
    public var remaining: Int { _ownedCount - _readOffset }
}
