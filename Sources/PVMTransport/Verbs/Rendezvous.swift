/// Why a rendezvous step was refused.
public enum RendezvousError: Error, Equatable, Sendable, CustomStringConvertible {
    case shortBuffer(needed: Int, got: Int)
    case trailingBytes(expected: Int, got: Int)
    case zeroLength
    case nullAddress
    /// address + length wraps around the 64-bit address space.
    case addressOverflow(address: UInt64, length: UInt64)
    case nonzeroFlags(UInt32)
    /// A FIN for a message this side never announced (or already finished).
    case unknownMessage(id: UInt64)
    /// A FIN whose length is not the announced one.
    case lengthMismatch(id: UInt64, announced: UInt64, reported: UInt64)
    case destinationTooSmall(needed: UInt64, capacity: UInt64)
    case tooManyOutstanding(limit: Int)
    case invalidLimits(maxReadSize: Int, maxOutstandingReads: Int)
    /// A read completion that is not the oldest read in flight.
    case completionOutOfOrder(expected: Int, got: Int)
    case notComplete(remaining: UInt64)

    public var description: String {
        switch self {
        case let .shortBuffer(n, g): "rendezvous: \(g) bytes, need \(n)"
        case let .trailingBytes(e, g): "rendezvous: \(g) bytes, expected exactly \(e)"
        case .zeroLength: "rendezvous: message of 0 bytes"
        case .nullAddress: "rendezvous: buffer at address 0"
        case let .addressOverflow(a, l): "rendezvous: \(l) bytes at \(a) wrap the address space"
        case let .nonzeroFlags(f): "rendezvous: flags \(f) set, none defined"
        case let .unknownMessage(id): "rendezvous: FIN for unknown message \(id)"
        case let .lengthMismatch(id, a, r): "rendezvous: message \(id) announced \(a) bytes, FIN says \(r)"
        case let .destinationTooSmall(n, c): "rendezvous: \(n) bytes announced, destination holds \(c)"
        case let .tooManyOutstanding(l): "rendezvous: \(l) messages already outstanding"
        case let .invalidLimits(s, n): "rendezvous: read size \(s) and \(n) reads in flight (want both > 0)"
        case let .completionOutOfOrder(e, g): "rendezvous: completion of read \(g), expected \(e)"
        case let .notComplete(r): "rendezvous: \(r) bytes still to read"
        }
    }
}

/// The sender's offer of a large message: the receiver reads it with RDMA
/// READ straight into its destination. Wire layout, little-endian, 32 bytes:
/// `u64 id, u64 address, u64 length, u32 rkey, u32 flags (0)`.
public struct RendezvousAnnouncement: Equatable, Sendable {
    public static let encodedSize = 32
    public var id: UInt64
    public var address: UInt64
    public var length: UInt64
    public var rkey: UInt32

    public init(id: UInt64, address: UInt64, length: UInt64, rkey: UInt32) throws(RendezvousError) {
        try Self.check(address: address, length: length)
        self.id = id
        self.address = address
        self.length = length
        self.rkey = rkey
    }

    static func check(address: UInt64, length: UInt64) throws(RendezvousError) {
        if length == 0 { throw .zeroLength }
        if address == 0 { throw .nullAddress }
        if address.addingReportingOverflow(length).overflow { throw .addressOverflow(address: address, length: length) }
    }

    public func encode(into buffer: UnsafeMutableRawBufferPointer) throws(RendezvousError) {
        guard buffer.count >= Self.encodedSize else { throw .shortBuffer(needed: Self.encodedSize, got: buffer.count) }
        let w = VerbsWireWriter(buffer)
        w.put(id, at: 0)
        w.put(address, at: 8)
        w.put(length, at: 16)
        w.put(rkey, at: 24)
        w.put(UInt32(0), at: 28)
    }

    /// Decodes and validates untrusted bytes from the peer.
    public init(decoding bytes: UnsafeRawBufferPointer) throws(RendezvousError) {
        guard bytes.count >= Self.encodedSize else { throw .shortBuffer(needed: Self.encodedSize, got: bytes.count) }
        guard bytes.count == Self.encodedSize else { throw .trailingBytes(expected: Self.encodedSize, got: bytes.count) }
        let r = VerbsWireReader(bytes)
        let flags = r.get(UInt32.self, at: 28)
        guard flags == 0 else { throw .nonzeroFlags(flags) }
        try self.init(id: r.get(UInt64.self, at: 0), address: r.get(UInt64.self, at: 8),
                      length: r.get(UInt64.self, at: 16), rkey: r.get(UInt32.self, at: 24))
    }
}

/// The receiver's "done": the sender may free and deregister the buffer.
/// Wire layout, little-endian, 24 bytes: `u64 id, u64 length, u32 status, u32 reserved (0)`.
/// A non-zero status says the receiver gave up (the data did not arrive).
public struct RendezvousFin: Equatable, Sendable {
    public static let encodedSize = 24
    public var id: UInt64
    public var length: UInt64
    public var status: UInt32

    public init(id: UInt64, length: UInt64, status: UInt32 = 0) {
        self.id = id
        self.length = length
        self.status = status
    }

    public func encode(into buffer: UnsafeMutableRawBufferPointer) throws(RendezvousError) {
        guard buffer.count >= Self.encodedSize else { throw .shortBuffer(needed: Self.encodedSize, got: buffer.count) }
        let w = VerbsWireWriter(buffer)
        w.put(id, at: 0)
        w.put(length, at: 8)
        w.put(status, at: 16)
        w.put(UInt32(0), at: 20)
    }

    public init(decoding bytes: UnsafeRawBufferPointer) throws(RendezvousError) {
        guard bytes.count >= Self.encodedSize else { throw .shortBuffer(needed: Self.encodedSize, got: bytes.count) }
        guard bytes.count == Self.encodedSize else { throw .trailingBytes(expected: Self.encodedSize, got: bytes.count) }
        let r = VerbsWireReader(bytes)
        let reserved = r.get(UInt32.self, at: 20)
        guard reserved == 0 else { throw .nonzeroFlags(reserved) }
        self.init(id: r.get(UInt64.self, at: 0), length: r.get(UInt64.self, at: 8), status: r.get(UInt32.self, at: 16))
    }
}

/// The sender's table of announced messages, each holding a token (the
/// registration to release) until its FIN arrives. Fixed capacity, no
/// allocation after creation.
public struct RendezvousSender<Token> {
    struct Entry {
        var id: UInt64
        var length: UInt64
        var token: Token
    }

    public let maxOutstanding: Int
    private var entries: [Entry?]
    private var nextID: UInt64 = 1
    public private(set) var outstanding = 0

    public init(maxOutstanding: Int) {
        self.maxOutstanding = max(1, maxOutstanding)
        self.entries = Array(repeating: nil, count: self.maxOutstanding)
    }

    /// Records an offer and returns what to send to the peer.
    public mutating func announce(address: UInt64, length: UInt64, rkey: UInt32, token: Token) throws(RendezvousError) -> RendezvousAnnouncement {
        guard let free = entries.firstIndex(where: { $0 == nil }) else {
            throw .tooManyOutstanding(limit: maxOutstanding)
        }
        let announcement = try RendezvousAnnouncement(id: nextID, address: address, length: length, rkey: rkey)
        entries[free] = Entry(id: nextID, length: length, token: token)
        nextID += 1
        outstanding += 1
        return announcement
    }

    /// The peer's FIN: returns the token to release. An unknown id or a
    /// wrong length is a protocol error (the entry stays, for `cancelAll`).
    public mutating func finished(_ fin: RendezvousFin) throws(RendezvousError) -> Token {
        guard let i = entries.firstIndex(where: { $0?.id == fin.id }), let entry = entries[i] else {
            throw .unknownMessage(id: fin.id)
        }
        guard entry.length == fin.length else {
            throw .lengthMismatch(id: fin.id, announced: entry.length, reported: fin.length)
        }
        entries[i] = nil
        outstanding -= 1
        return entry.token
    }

    /// The connection is gone: every token, to release.
    public mutating func cancelAll() -> [Token] {
        let tokens = entries.compactMap { $0?.token }
        for i in entries.indices { entries[i] = nil }
        outstanding = 0
        return tokens
    }
}

/// One RDMA READ of a rendezvous transfer.
public struct RendezvousRead: Equatable, Sendable {
    public var index: Int
    public var remoteAddress: UInt64
    public var rkey: UInt32
    public var localAddress: UInt64
    public var lkey: UInt32
    public var length: Int
}

/// The receiver's side of one large message: the reads that bring it
/// straight into the destination, at most `maxReadSize` bytes each and at
/// most `maxOutstandingReads` in flight (the QP's max_rd_atomic), then the FIN.
public struct RendezvousTransfer: Sendable {
    public let announcement: RendezvousAnnouncement
    public let destination: UInt64
    public let lkey: UInt32
    public let maxReadSize: Int
    public let maxOutstandingReads: Int
    public private(set) var issuedBytes: UInt64 = 0
    public private(set) var completedBytes: UInt64 = 0
    public private(set) var issued = 0
    public private(set) var completed = 0

    public init(
        announcement: RendezvousAnnouncement, destination: UInt64, capacity: UInt64, lkey: UInt32,
        maxReadSize: Int, maxOutstandingReads: Int
    ) throws(RendezvousError) {
        guard maxReadSize > 0, maxOutstandingReads > 0 else {
            throw .invalidLimits(maxReadSize: maxReadSize, maxOutstandingReads: maxOutstandingReads)
        }
        guard capacity >= announcement.length else {
            throw .destinationTooSmall(needed: announcement.length, capacity: capacity)
        }
        try RendezvousAnnouncement.check(address: destination, length: announcement.length)
        self.announcement = announcement
        self.destination = destination
        self.lkey = lkey
        self.maxReadSize = maxReadSize
        self.maxOutstandingReads = maxOutstandingReads
    }

    public var inFlight: Int { issued - completed }
    public var chunkCount: Int { Int((announcement.length + UInt64(maxReadSize) - 1) / UInt64(maxReadSize)) }
    public var isComplete: Bool { completedBytes == announcement.length }

    /// The next read to post, while the limit allows and bytes remain.
    public mutating func nextRead() -> RendezvousRead? {
        guard issuedBytes < announcement.length, inFlight < maxOutstandingReads else { return nil }
        let length = Int(min(UInt64(maxReadSize), announcement.length - issuedBytes))
        let read = RendezvousRead(index: issued, remoteAddress: announcement.address + issuedBytes,
                                  rkey: announcement.rkey, localAddress: destination + issuedBytes,
                                  lkey: lkey, length: length)
        issuedBytes += UInt64(length)
        issued += 1
        return read
    }

    /// A read finished. Reads complete in the order posted (one RC send
    /// queue), so anything else is a bug or a corrupt completion.
    public mutating func readCompleted(_ read: RendezvousRead) throws(RendezvousError) {
        guard read.index == completed, completed < issued else {
            throw .completionOutOfOrder(expected: completed, got: read.index)
        }
        completed += 1
        completedBytes += UInt64(read.length)
    }

    /// The FIN to send once every byte is in place.
    public func fin() throws(RendezvousError) -> RendezvousFin {
        guard isComplete else { throw .notComplete(remaining: announcement.length - completedBytes) }
        return RendezvousFin(id: announcement.id, length: announcement.length)
    }
}
