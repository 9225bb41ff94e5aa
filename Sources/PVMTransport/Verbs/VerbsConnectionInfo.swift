/// Path MTU of an RDMA port (the values of enum ibv_mtu).
public enum VerbsMTU: UInt8, Sendable, CaseIterable, Comparable, CustomStringConvertible {
    case mtu256 = 1, mtu512 = 2, mtu1024 = 3, mtu2048 = 4, mtu4096 = 5

    public var bytes: Int { 128 << Int(rawValue) }
    public var description: String { String(bytes) }
    public static func < (a: VerbsMTU, b: VerbsMTU) -> Bool { a.rawValue < b.rawValue }
}

/// What a port speaks underneath the verbs (IBV_LINK_LAYER_*).
public enum VerbsLinkLayer: UInt8, Sendable, CustomStringConvertible {
    case unspecified = 0
    case infiniband = 1
    /// RoCE: addressing by GID, a global route header on every packet.
    case ethernet = 2

    public var description: String {
        switch self {
        case .unspecified: "unspecified"
        case .infiniband: "InfiniBand"
        case .ethernet: "Ethernet"
        }
    }
}

/// A 128-bit global identifier (an IPv6 address on RoCE), kept in the
/// byte order the device reports it (network order).
public struct VerbsGID: Hashable, Sendable, CustomStringConvertible {
    /// Bytes 0..7 and 8..15, each read big-endian.
    public var high: UInt64
    public var low: UInt64

    public static let zero = VerbsGID(high: 0, low: 0)

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// The first 16 bytes of `bytes` (missing bytes are zero).
    public init(bytes: some Sequence<UInt8>) {
        var h: UInt64 = 0, l: UInt64 = 0, i = 0
        for b in bytes where i < 16 {
            if i < 8 { h = h << 8 | UInt64(b) } else { l = l << 8 | UInt64(b) }
            i += 1
        }
        while i < 16 {
            if i < 8 { h <<= 8 } else { l <<= 8 }
            i += 1
        }
        self.init(high: h, low: l)
    }

    public var bytes: [UInt8] {
        (0..<16).map { i in
            let word = i < 8 ? high : low
            return UInt8(truncatingIfNeeded: word >> (56 - 8 * UInt64(i % 8)))
        }
    }

    public var isZero: Bool { high == 0 && low == 0 }

    /// ::ffff:a.b.c.d, the form RoCE v2 gives an IPv4 address.
    public var isIPv4Mapped: Bool { high == 0 && low >> 32 == 0xffff }

    /// Eight groups of four hex digits, as ibv_devinfo -v prints them.
    public var description: String {
        bytes.chunks(ofCount: 2).map { pair in
            pair.map { b in
                let s = String(b, radix: 16)
                return b < 16 ? "0" + s : s
            }.joined()
        }.joined(separator: ":")
    }
}

extension Array {
    fileprivate func chunks(ofCount n: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: n).map { self[$0..<Swift.min($0 + n, count)] }
    }
}

/// Why a peer's connection info was refused. Each field's rule has its own
/// case so that a log line names exactly what was wrong.
public enum VerbsInfoError: Error, Equatable, Sendable, CustomStringConvertible {
    case shortBuffer(needed: Int, got: Int)
    case trailingBytes(expected: Int, got: Int)
    case unsupportedVersion(UInt16)
    case sizeMismatch(declared: UInt16)
    case unknownLinkLayer(UInt8)
    case mtuOutOfRange(UInt8)
    case qpnOutOfRange(UInt32)
    /// QP numbers 0 and 1 are the subnet management and general services QPs.
    case reservedQPN(UInt32)
    case psnOutOfRange(UInt32)
    /// InfiniBand routes by LID and 0 is not a valid one.
    case missingLID
    /// LIDs 0xC000...0xFFFF are multicast (0xFFFF permissive), not a port.
    case multicastLID(UInt16)
    /// RoCE routes by GID and the peer sent none.
    case missingGID
    case nullRingAddress
    case emptyRing
    case ringSlotsNotPowerOfTwo(UInt32)
    case ringTooLarge(slots: UInt32)
    case invalidSlotSize(UInt32)
    case invalidCredits(UInt32)
    case nullReleaseAddress
    case nonzeroFlags(UInt32)

    public var description: String {
        switch self {
        case let .shortBuffer(needed, got): "verbs connection info: \(got) bytes, need \(needed)"
        case let .trailingBytes(expected, got): "verbs connection info: \(got) bytes, expected exactly \(expected)"
        case let .unsupportedVersion(v): "verbs connection info: version \(v), this side speaks \(VerbsConnectionInfo.version)"
        case let .sizeMismatch(declared): "verbs connection info: declares \(declared) bytes, version 1 has \(VerbsConnectionInfo.encodedSize)"
        case let .unknownLinkLayer(code): "verbs connection info: unknown link layer \(code)"
        case let .mtuOutOfRange(code): "verbs connection info: MTU code \(code) outside 1...5"
        case let .qpnOutOfRange(qpn): "verbs connection info: QP number \(qpn) exceeds 24 bits"
        case let .reservedQPN(qpn): "verbs connection info: QP number \(qpn) is reserved"
        case let .psnOutOfRange(psn): "verbs connection info: PSN \(psn) exceeds 24 bits"
        case .missingLID: "verbs connection info: InfiniBand port with LID 0"
        case let .multicastLID(lid): "verbs connection info: LID \(lid) is a multicast LID"
        case .missingGID: "verbs connection info: Ethernet (RoCE) port without a GID"
        case .nullRingAddress: "verbs connection info: receive ring at address 0"
        case .emptyRing: "verbs connection info: receive ring of 0 slots"
        case let .ringSlotsNotPowerOfTwo(n): "verbs connection info: ring of \(n) slots, not a power of two"
        case let .ringTooLarge(n): "verbs connection info: ring of \(n) slots, at most \(VerbsConnectionInfo.maxRingSlots)"
        case let .invalidSlotSize(n): "verbs connection info: slot size \(n), want a power of two in 64...65536"
        case let .invalidCredits(n): "verbs connection info: \(n) initial credits, want 1...\(VerbsConnectionInfo.maxCredits)"
        case .nullReleaseAddress: "verbs connection info: release word at address 0"
        case let .nonzeroFlags(f): "verbs connection info: flags \(f) set, version 1 defines none"
        }
    }
}

/// What the two ends of a reliable-connected queue pair tell each other,
/// over the daemons' authenticated TCP link, before the QP can be used.
///
/// Wire layout, version 1, little-endian, 72 bytes:
///
/// ```
///  0  u16 version (1)          2  u16 size (72)
///  4  u8  link layer (1 IB, 2 Ethernet)   5  u8 MTU (ibv_mtu 1...5)
///  6  u16 LID                  8  u32 QPN (24 bits)      12 u32 PSN (24 bits)
/// 16  16 bytes GID (network order, as the device reports it)
/// 32  u64 ring address        40  u32 ring rkey
/// 44  u32 ring slots (power of two)     48  u32 slot size (power of two)
/// 52  u32 initial credits (receive requests posted for this peer)
/// 56  u64 release address     64  u32 release rkey      68  u32 flags (0)
/// ```
///
/// The ring is where the peer writes its messages to us; the release word
/// is where the peer writes back how far it has consumed the ring we write
/// into, and how many receive credits it has returned.
public struct VerbsConnectionInfo: Equatable, Sendable {
    public static let version: UInt16 = 1
    public static let encodedSize = 72
    /// Credits and ring positions travel as 16-bit serial numbers, so a
    /// window may not exceed half their range.
    public static let maxCredits: UInt32 = 1 << 15
    public static let maxRingSlots: UInt32 = 1 << 15
    public static let minSlotSize: UInt32 = 64
    public static let maxSlotSize: UInt32 = 1 << 16

    public var linkLayer: VerbsLinkLayer
    public var mtu: VerbsMTU
    public var lid: UInt16
    public var qpn: UInt32
    public var psn: UInt32
    public var gid: VerbsGID
    public var ringAddress: UInt64
    public var ringRKey: UInt32
    public var ringSlots: UInt32
    public var slotSize: UInt32
    public var initialCredits: UInt32
    public var releaseAddress: UInt64
    public var releaseRKey: UInt32

    /// Builds and validates (the same rules a received one must pass).
    public init(
        linkLayer: VerbsLinkLayer, mtu: VerbsMTU, lid: UInt16, qpn: UInt32, psn: UInt32,
        gid: VerbsGID, ringAddress: UInt64, ringRKey: UInt32, ringSlots: UInt32, slotSize: UInt32,
        initialCredits: UInt32, releaseAddress: UInt64, releaseRKey: UInt32
    ) throws(VerbsInfoError) {
        self.linkLayer = linkLayer
        self.mtu = mtu
        self.lid = lid
        self.qpn = qpn
        self.psn = psn
        self.gid = gid
        self.ringAddress = ringAddress
        self.ringRKey = ringRKey
        self.ringSlots = ringSlots
        self.slotSize = slotSize
        self.initialCredits = initialCredits
        self.releaseAddress = releaseAddress
        self.releaseRKey = releaseRKey
        try validate()
    }

    /// Every rule, in the order a reader of the layout meets the fields.
    public func validate() throws(VerbsInfoError) {
        if linkLayer == .unspecified { throw .unknownLinkLayer(linkLayer.rawValue) }
        if qpn > 0xFF_FFFF { throw .qpnOutOfRange(qpn) }
        if qpn < 2 { throw .reservedQPN(qpn) }
        if psn > 0xFF_FFFF { throw .psnOutOfRange(psn) }
        switch linkLayer {
        case .infiniband:
            if lid == 0 { throw .missingLID }
            if lid >= 0xC000 { throw .multicastLID(lid) }
        case .ethernet, .unspecified:
            if gid.isZero { throw .missingGID }
        }
        if ringAddress == 0 { throw .nullRingAddress }
        if ringSlots == 0 { throw .emptyRing }
        if !verbsIsPowerOfTwo(ringSlots) { throw .ringSlotsNotPowerOfTwo(ringSlots) }
        if ringSlots > Self.maxRingSlots { throw .ringTooLarge(slots: ringSlots) }
        if !verbsIsPowerOfTwo(slotSize) || slotSize < Self.minSlotSize || slotSize > Self.maxSlotSize {
            throw .invalidSlotSize(slotSize)
        }
        if initialCredits == 0 || initialCredits > Self.maxCredits { throw .invalidCredits(initialCredits) }
        if releaseAddress == 0 { throw .nullReleaseAddress }
    }

    /// Writes the 72-byte encoding into the start of `buffer`.
    public func encode(into buffer: UnsafeMutableRawBufferPointer) throws(VerbsInfoError) {
        try validate()
        guard buffer.count >= Self.encodedSize else {
            throw .shortBuffer(needed: Self.encodedSize, got: buffer.count)
        }
        let w = VerbsWireWriter(buffer)
        w.put(Self.version, at: 0)
        w.put(UInt16(Self.encodedSize), at: 2)
        w.put(linkLayer.rawValue, at: 4)
        w.put(mtu.rawValue, at: 5)
        w.put(lid, at: 6)
        w.put(qpn, at: 8)
        w.put(psn, at: 12)
        w.put(bytes: gid.bytes, at: 16)
        w.put(ringAddress, at: 32)
        w.put(ringRKey, at: 40)
        w.put(ringSlots, at: 44)
        w.put(slotSize, at: 48)
        w.put(initialCredits, at: 52)
        w.put(releaseAddress, at: 56)
        w.put(releaseRKey, at: 64)
        w.put(UInt32(0), at: 68)
    }

    public func encoded() throws(VerbsInfoError) -> [UInt8] {
        try validate()
        var out = [UInt8](repeating: 0, count: Self.encodedSize)
        // Cannot fail: validated above and the buffer has the size.
        out.withUnsafeMutableBytes { b in try? encode(into: b) }
        return out
    }

    /// Decodes exactly one encoding and validates every field. `bytes` is
    /// untrusted (it came from the peer).
    public init(decoding bytes: UnsafeRawBufferPointer) throws(VerbsInfoError) {
        // The version comes first so that a newer peer gets "version", not "length".
        guard bytes.count >= 4 else { throw .shortBuffer(needed: Self.encodedSize, got: bytes.count) }
        let r = VerbsWireReader(bytes)
        let version = r.get(UInt16.self, at: 0)
        guard version == Self.version else { throw .unsupportedVersion(version) }
        let size = r.get(UInt16.self, at: 2)
        guard Int(size) == Self.encodedSize else { throw .sizeMismatch(declared: size) }
        guard bytes.count >= Self.encodedSize else {
            throw .shortBuffer(needed: Self.encodedSize, got: bytes.count)
        }
        guard bytes.count == Self.encodedSize else {
            throw .trailingBytes(expected: Self.encodedSize, got: bytes.count)
        }
        let linkCode = r.get(UInt8.self, at: 4)
        guard let link = VerbsLinkLayer(rawValue: linkCode), link != .unspecified else {
            throw .unknownLinkLayer(linkCode)
        }
        let mtuCode = r.get(UInt8.self, at: 5)
        guard let mtu = VerbsMTU(rawValue: mtuCode) else { throw .mtuOutOfRange(mtuCode) }
        let flags = r.get(UInt32.self, at: 68)
        guard flags == 0 else { throw .nonzeroFlags(flags) }
        try self.init(
            linkLayer: link, mtu: mtu, lid: r.get(UInt16.self, at: 6),
            qpn: r.get(UInt32.self, at: 8), psn: r.get(UInt32.self, at: 12),
            gid: VerbsGID(bytes: r.bytes(at: 16, count: 16)),
            ringAddress: r.get(UInt64.self, at: 32), ringRKey: r.get(UInt32.self, at: 40),
            ringSlots: r.get(UInt32.self, at: 44), slotSize: r.get(UInt32.self, at: 48),
            initialCredits: r.get(UInt32.self, at: 52),
            releaseAddress: r.get(UInt64.self, at: 56), releaseRKey: r.get(UInt32.self, at: 64))
    }

    public init(decoding bytes: [UInt8]) throws(VerbsInfoError) {
        let result: Result<VerbsConnectionInfo, VerbsInfoError> = bytes.withUnsafeBytes { raw in
            do throws(VerbsInfoError) { return .success(try VerbsConnectionInfo(decoding: raw)) } catch {
                return .failure(error)
            }
        }
        self = try result.get()
    }

    /// Whether packets to this end need a global route header: always on
    /// RoCE, and on InfiniBand when it is given a GID to cross subnets (we
    /// send one only when asked, as rc_pingpong does with its -g option).
    public var needsGlobalRoute: Bool { linkLayer == .ethernet }
}
