/// The frame every transport and the daemon protocol carry: a fixed 48-byte
/// little-endian header, then the body. See docs/message-frame.md.
public struct FrameHeader: Equatable, Sendable {
    public static let size = 48
    public static let magic: UInt32 = 0x464D_5650  // "PVMF"
    public static let version: UInt16 = 1
    /// Largest frame accepted (header + body).
    public static let maxLength: UInt64 = 1 << 32

    /// Header plus body, in bytes.
    public var length: UInt64
    public var tag: Int32
    public var context: Int32
    public var source: Int32
    public var destination: Int32
    public var encoding: Encoding
    public var signature: DataSignature
    public var flags: UInt32
    public var sequence: UInt32

    @inlinable
    public init(bodyLength: Int, tag: Int32, context: Int32 = 0, source: Int32, destination: Int32,
                encoding: Encoding = .default, signature: DataSignature = .native, flags: UInt32 = 0, sequence: UInt32 = 0) {
        self.length = UInt64(Self.size + bodyLength)
        self.tag = tag
        self.context = context
        self.source = source
        self.destination = destination
        self.encoding = encoding
        self.signature = signature
        self.flags = flags
        self.sequence = sequence
    }

    public var bodyLength: Int { Int(length) - Self.size }

    public func encode(into p: UnsafeMutableRawPointer) {
        p.storeBytes(of: Self.magic.littleEndian, toByteOffset: 0, as: UInt32.self)
        p.storeBytes(of: Self.version.littleEndian, toByteOffset: 4, as: UInt16.self)
        p.storeBytes(of: UInt16(Self.size).littleEndian, toByteOffset: 6, as: UInt16.self)
        p.storeBytes(of: length.littleEndian, toByteOffset: 8, as: UInt64.self)
        p.storeBytes(of: tag.littleEndian, toByteOffset: 16, as: Int32.self)
        p.storeBytes(of: context.littleEndian, toByteOffset: 20, as: Int32.self)
        p.storeBytes(of: source.littleEndian, toByteOffset: 24, as: Int32.self)
        p.storeBytes(of: destination.littleEndian, toByteOffset: 28, as: Int32.self)
        p.storeBytes(of: encoding.rawValue.littleEndian, toByteOffset: 32, as: Int32.self)
        p.storeBytes(of: signature.rawValue.littleEndian, toByteOffset: 36, as: UInt32.self)
        p.storeBytes(of: flags.littleEndian, toByteOffset: 40, as: UInt32.self)
        p.storeBytes(of: sequence.littleEndian, toByteOffset: 44, as: UInt32.self)
    }

    public func encoded() -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: Self.size) { b, n in encode(into: UnsafeMutableRawPointer(b.baseAddress!)); n = Self.size }
    }

    /// Decodes and validates a header from untrusted bytes (at least the
    /// first 48 bytes of a frame; the body may not have arrived yet).
    public static func decode(_ raw: UnsafeRawBufferPointer) throws(PVMError) -> FrameHeader {
        guard raw.count >= size else { throw PVMError(.badMsg, "frame header needs \(size) bytes, got \(raw.count)") }
        func u32(_ o: Int) -> UInt32 { UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: o, as: UInt32.self)) }
        func i32(_ o: Int) -> Int32 { Int32(littleEndian: raw.loadUnaligned(fromByteOffset: o, as: Int32.self)) }
        guard u32(0) == magic else { throw PVMError(.badMsg, "frame magic 0x\(String(u32(0), radix: 16)) is not PVMF") }
        let v = UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 4, as: UInt16.self))
        guard v == version else { throw PVMError(.badVersion, "frame version \(v), this build speaks \(version)") }
        let headerSize = UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 6, as: UInt16.self))
        guard headerSize == size else { throw PVMError(.badMsg, "frame header size \(headerSize), expected \(size)") }
        let length = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        guard length >= UInt64(size), length <= maxLength else { throw PVMError(.badMsg, "frame length \(length) outside \(size)...\(maxLength)") }
        guard let encoding = Encoding(rawValue: i32(32)) else { throw PVMError(.badMsg, "unknown encoding \(i32(32))") }
        let signature = DataSignature(rawValue: u32(36))
        if encoding == .default || encoding == .trace { _ = try signature.validated() }
        let flags = u32(40)
        guard flags == 0 else { throw PVMError(.badMsg, "unknown frame flags 0x\(String(flags, radix: 16))") }
        var h = FrameHeader(bodyLength: 0, tag: i32(16), context: i32(20), source: i32(24), destination: i32(28),
                            encoding: encoding, signature: signature, flags: flags, sequence: u32(44))
        h.length = length
        return h
    }

    /// Decodes a whole frame and checks that its length matches the bytes.
    public static func decodeFrame(_ raw: UnsafeRawBufferPointer) throws(PVMError) -> (FrameHeader, UnsafeRawBufferPointer) {
        let h = try decode(raw)
        guard h.length == UInt64(raw.count) else {
            throw PVMError(.badMsg, "frame says \(h.length) bytes, \(raw.count) arrived")
        }
        return (h, UnsafeRawBufferPointer(rebasing: raw[size...]))
    }
}

/// The 16-byte header of a message on the shared-memory path, where the
/// ring record already carries the length and the receiver is the ring's
/// owner: source, tag, context, and one word holding the sender's data
/// signature with the encoding in bits 27...29 and bit 31 set (a data
/// signature never uses bits 27...31). A small message then fits one cache
/// line with its ring record. See docs/message-frame.md.
public enum CompactFrame {
    public static let size = 16
    static let marker: UInt32 = 0x8000_0000
    static let encodingShift: UInt32 = 27
    static let encodingMask: UInt32 = 0x7 << 27

    @inline(__always)
    public static func encode(source: Int32, tag: Int32, context: Int32, encoding: Encoding,
                              signature: DataSignature, into p: UnsafeMutableRawPointer) {
        p.storeBytes(of: source.littleEndian, toByteOffset: 0, as: Int32.self)
        p.storeBytes(of: tag.littleEndian, toByteOffset: 4, as: Int32.self)
        p.storeBytes(of: context.littleEndian, toByteOffset: 8, as: Int32.self)
        let word = marker | UInt32(UInt8(truncatingIfNeeded: encoding.rawValue)) << encodingShift | signature.rawValue
        p.storeBytes(of: word.littleEndian, toByteOffset: 12, as: UInt32.self)
    }

    /// Decodes and validates the header of a message from another process;
    /// `destination` is the receiving task. Returns the header in the
    /// general form and the body.
    @inline(__always)
    public static func decode(_ raw: UnsafeRawBufferPointer, destination: Int32) throws(PVMError) -> (FrameHeader, UnsafeRawBufferPointer) {
        guard raw.count >= size else { throw PVMError(.badMsg, "message of \(raw.count) bytes is shorter than its \(size)-byte header") }
        let word = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
        guard word & 0xf000_0000 & ~encodingMask == marker else {
            throw PVMError(.badMsg, "message header word 0x\(String(word, radix: 16)) is not a compact frame")
        }
        guard let encoding = Encoding(rawValue: Int32((word & encodingMask) >> encodingShift)) else {
            throw PVMError(.badMsg, "unknown encoding \((word & encodingMask) >> encodingShift)")
        }
        let signature = DataSignature(rawValue: word & ~(marker | encodingMask))
        var h = FrameHeader(bodyLength: raw.count - size,
                            tag: Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4, as: Int32.self)),
                            context: Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: Int32.self)),
                            source: Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 0, as: Int32.self)),
                            destination: destination, encoding: encoding, signature: signature)
        h.length = UInt64(FrameHeader.size + raw.count - size)
        return (h, UnsafeRawBufferPointer(rebasing: raw[size...]))
    }
}

/// The 8-byte header of a small message in the common case (context 0, this
/// host's data format): source and tag only. The encoding travels in the
/// ring record's flags word (`shortFlag | encoding`), which the transport
/// delivers with inline messages; a message with flags 0 has the 16-byte
/// `CompactFrame`. With it an 8-byte message and its ring record fill half
/// a cache line, as in the bare transport.
public enum ShortFrame {
    public static let size = 8
    public static let shortFlag: UInt16 = 0x8000

    @inlinable @inline(__always)
    public static func flags(_ encoding: Encoding) -> UInt16 { shortFlag | UInt16(UInt8(truncatingIfNeeded: encoding.rawValue)) }

    @inlinable @inline(__always)
    public static func encode(source: Int32, tag: Int32, into p: UnsafeMutableRawPointer) {
        p.storeBytes(of: source.littleEndian, toByteOffset: 0, as: Int32.self)
        p.storeBytes(of: tag.littleEndian, toByteOffset: 4, as: Int32.self)
    }

    /// Decodes a message that arrived with `flags` (untrusted): the short
    /// form when the flag says so, else the compact form. Inlined into the
    /// receive path; the errors are made out of line.
    @inlinable @inline(__always)
    public static func decode(_ raw: UnsafeRawBufferPointer, flags: UInt16, destination: Int32) throws(PVMError) -> (FrameHeader, UnsafeRawBufferPointer) {
        guard flags & shortFlag != 0 else { return try CompactFrame.decode(raw, destination: destination) }
        guard raw.count >= size, flags & 0x7ff8 == 0, let encoding = Encoding.of(Int32(flags & 0x7)) else {
            throw malformed(raw.count, flags)
        }
        var h = FrameHeader(bodyLength: raw.count - size,
                            tag: Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4, as: Int32.self)),
                            context: 0,
                            source: Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 0, as: Int32.self)),
                            destination: destination, encoding: encoding, signature: .native)
        h.length = UInt64(FrameHeader.size + raw.count - size)
        return (h, UnsafeRawBufferPointer(rebasing: raw[size...]))
    }

    @usableFromInline
    static func malformed(_ count: Int, _ flags: UInt16) -> PVMError {
        if count < size { return PVMError(.badMsg, "message of \(count) bytes is shorter than its \(size)-byte header") }
        return PVMError(.badMsg, "record flags 0x\(String(flags, radix: 16)) do not describe a message")
    }
}
