/// The fixed 64-byte messages exchanged on a peer's Unix socket: the
/// three-step handshake and the later hand-over of the shared heap.
///
///     0     4     6     8        16       24       32     36     40       48      64
///     +-----+-----+-----+--------+--------+--------+------+------+--------+-------+
///     |magic|vers |type | ring   | probe  | probe  |flags | pid  | heap   | zero  |
///     |PVMH | 1   |     | bytes  | addr   | value  |      |      | bytes  |       |
///     +-----+-----+-----+--------+--------+--------+------+------+--------+-------+
///
/// hello   (connector -> listener), fds: [ring the listener writes into, connector's doorbell]
/// welcome (listener -> connector), fds: [ring the connector writes into, listener's doorbell];
///         flags bit 0: the listener can read the connector's memory (single copy)
/// confirm (connector -> listener), no fds; flags bit 0: the connector can read the listener's
/// heap    (either way, any time), fds: [heap segment]; before the first loan record
///
/// Little-endian on the wire (both ends are on one host); every field is
/// checked on receipt and anything unexpected closes the connection.
struct ControlMessage: Equatable {
    static let size = 64
    static let magic: UInt32 = 0x484D_5650  // "PVMH"
    static let version: UInt16 = 1

    enum Kind: UInt16 { case hello = 1, welcome = 2, confirm = 3, heap = 4 }

    var kind: Kind
    var ringBytes: UInt64 = 0
    var probeAddress: UInt64 = 0
    var probeValue: UInt64 = 0
    var canReadPeer: Bool = false
    var pid: Int32 = 0
    var heapBytes: UInt64 = 0

    var expectedDescriptors: Int {
        switch kind {
        case .hello, .welcome: return 2
        case .confirm: return 0
        case .heap: return 1
        }
    }

    func encode(into raw: UnsafeMutableRawBufferPointer) {
        precondition(raw.count >= Self.size)
        raw.initializeMemory(as: UInt8.self, repeating: 0)
        raw.storeBytes(of: Self.magic.littleEndian, toByteOffset: 0, as: UInt32.self)
        raw.storeBytes(of: Self.version.littleEndian, toByteOffset: 4, as: UInt16.self)
        raw.storeBytes(of: kind.rawValue.littleEndian, toByteOffset: 6, as: UInt16.self)
        raw.storeBytes(of: ringBytes.littleEndian, toByteOffset: 8, as: UInt64.self)
        raw.storeBytes(of: probeAddress.littleEndian, toByteOffset: 16, as: UInt64.self)
        raw.storeBytes(of: probeValue.littleEndian, toByteOffset: 24, as: UInt64.self)
        raw.storeBytes(of: (canReadPeer ? 1 : 0 as UInt32).littleEndian, toByteOffset: 32, as: UInt32.self)
        raw.storeBytes(of: pid.littleEndian, toByteOffset: 36, as: Int32.self)
        raw.storeBytes(of: heapBytes.littleEndian, toByteOffset: 40, as: UInt64.self)
    }

    /// Decodes and validates 64 received bytes.
    init(decoding raw: UnsafeRawBufferPointer) throws(TransportError) {
        guard raw.count == Self.size else {
            throw TransportError(.malformed, "control message of \(raw.count) bytes, expected \(Self.size)")
        }
        let magic = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt32.self))
        let version = UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 4, as: UInt16.self))
        let rawKind = UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 6, as: UInt16.self))
        guard magic == Self.magic else {
            throw TransportError(.malformed, "control message magic 0x\(String(magic, radix: 16)) is not PVMH")
        }
        guard version == Self.version else {
            throw TransportError(.malformed, "control protocol version \(version), this build speaks \(Self.version)")
        }
        guard let kind = Kind(rawValue: rawKind) else {
            throw TransportError(.malformed, "unknown control message type \(rawKind)")
        }
        let flags = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 32, as: UInt32.self))
        guard flags & ~1 == 0 else { throw TransportError(.malformed, "unknown control flags 0x\(String(flags, radix: 16))") }
        for offset in stride(from: 48, to: 64, by: 8) where raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self) != 0 {
            throw TransportError(.malformed, "reserved control bytes are not zero")
        }
        self.kind = kind
        self.ringBytes = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        self.probeAddress = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
        self.probeValue = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
        self.canReadPeer = flags & 1 != 0
        self.pid = Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 36, as: Int32.self))
        self.heapBytes = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 40, as: UInt64.self))
    }

    init(kind: Kind) { self.kind = kind }
}
