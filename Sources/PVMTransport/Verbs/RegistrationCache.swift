/// Why a registration could not be had.
public enum RegistrationError: Error, Equatable, Sendable, CustomStringConvertible {
    case zeroLength
    case rangeOverflow(address: UInt, length: Int)
    /// One range larger than the whole cache.
    case exceedsCapacity(length: Int, capacity: Int)
    /// Every cached byte is pinned by a transfer in progress.
    case capacityExhausted(pinnedBytes: Int, capacity: Int)
    /// The register closure (ibv_reg_mr) failed; its error as text.
    case registrationFailed(String)
    case unknownLease(UInt64)

    public var description: String {
        switch self {
        case .zeroLength: "registration: 0 bytes"
        case let .rangeOverflow(a, l): "registration: \(l) bytes at \(a) wrap the address space"
        case let .exceedsCapacity(l, c): "registration: \(l) bytes exceed the cache's \(c)"
        case let .capacityExhausted(p, c): "registration: \(p) of \(c) bytes pinned by transfers in progress"
        case let .registrationFailed(why): "registration failed: \(why)"
        case let .unknownLease(id): "registration: release of unknown lease \(id)"
        }
    }
}

/// A registration in use: valid until released.
public struct RegistrationLease<Handle> {
    public let id: UInt64
    public let handle: Handle
    /// The registered (page-aligned) range that covers the request.
    public let address: UInt
    public let length: Int
}

/// An LRU cache of memory registrations keyed by address range, holding at
/// most `capacityBytes` registered bytes. A request inside a registered
/// range is a hit; a miss registers the request's range rounded out to
/// pages. Ranges pinned by a lease are never evicted; unpinned ones go in
/// least-recently-used order, through the injected deregister closure.
/// Registration costs tens of microseconds, so this is what lets large
/// messages from a reused buffer skip it.
///
/// Pure logic: register and deregister are closures (ibv_reg_mr and
/// ibv_dereg_mr on a device, counters in a test). Linear scans: the cache
/// holds tens of entries and is consulted once per large message.
public struct RegistrationCache<Handle> {
    public typealias Register = (_ address: UInt, _ length: Int) throws -> Handle
    public typealias Deregister = (_ handle: Handle) -> Void

    struct Entry {
        var id: UInt64
        var address: UInt
        var length: Int
        var handle: Handle
        var lastUse: UInt64
        var pins: Int
        /// Invalidated (unmapped) while pinned: deregistered at the last release.
        var stale: Bool
        var end: UInt { address + UInt(length) }
    }

    public let capacityBytes: Int
    public let pageSize: Int
    private let register: Register
    private let deregister: Deregister
    private var entries: [Entry] = []
    private var tick: UInt64 = 0
    private var nextID: UInt64 = 1
    public private(set) var registeredBytes = 0
    public private(set) var hits = 0
    public private(set) var misses = 0
    public private(set) var evictions = 0

    public init(capacityBytes: Int, pageSize: Int = 4096,
                register: @escaping Register, deregister: @escaping Deregister) {
        precondition(pageSize > 0 && pageSize & (pageSize - 1) == 0, "page size must be a power of two")
        self.capacityBytes = capacityBytes
        self.pageSize = pageSize
        self.register = register
        self.deregister = deregister
        entries.reserveCapacity(64)
    }

    public var count: Int { entries.count }

    /// The cached ranges, most recently used first (for tests and reports).
    public var ranges: [(address: UInt, length: Int, pinned: Bool)] {
        entries.sorted { $0.lastUse > $1.lastUse }.map { ($0.address, $0.length, $0.pins > 0) }
    }

    /// A registration covering [address, address + length), pinned until released.
    public mutating func acquire(address: UInt, length: Int) throws(RegistrationError) -> RegistrationLease<Handle> {
        guard length > 0 else { throw .zeroLength }
        let (end, overflow) = address.addingReportingOverflow(UInt(length))
        guard !overflow else { throw .rangeOverflow(address: address, length: length) }
        tick += 1
        if let i = entries.firstIndex(where: { !$0.stale && $0.address <= address && end <= $0.end }) {
            hits += 1
            entries[i].lastUse = tick
            entries[i].pins += 1
            return lease(entries[i])
        }
        misses += 1
        let mask = UInt(pageSize - 1)
        let start = address & ~mask
        let (roundedEnd, endOverflow) = end.addingReportingOverflow(mask)
        guard !endOverflow else { throw .rangeOverflow(address: address, length: length) }
        let alignedEnd = roundedEnd & ~mask
        let alignedLength = Int(alignedEnd - start)
        guard alignedLength <= capacityBytes else {
            throw .exceedsCapacity(length: alignedLength, capacity: capacityBytes)
        }
        // Unpinned ranges inside the new one are redundant once it exists.
        removeAll { $0.pins == 0 && start <= $0.address && $0.end <= alignedEnd }
        while registeredBytes + alignedLength > capacityBytes {
            guard let victim = leastRecentlyUsedUnpinned() else {
                throw .capacityExhausted(pinnedBytes: registeredBytes, capacity: capacityBytes)
            }
            evict(at: victim)
        }
        let handle: Handle
        do {
            handle = try register(start, alignedLength)
        } catch {
            throw .registrationFailed(String(describing: error))
        }
        let entry = Entry(id: nextID, address: start, length: alignedLength, handle: handle,
                          lastUse: tick, pins: 1, stale: false)
        nextID += 1
        entries.append(entry)
        registeredBytes += alignedLength
        return lease(entry)
    }

    /// Unpins a lease. A range invalidated while pinned is deregistered now.
    public mutating func release(_ lease: RegistrationLease<Handle>) throws(RegistrationError) {
        guard let i = entries.firstIndex(where: { $0.id == lease.id }), entries[i].pins > 0 else {
            throw .unknownLease(lease.id)
        }
        entries[i].pins -= 1
        if entries[i].pins == 0 && entries[i].stale { evict(at: i, counted: false) }
    }

    /// Memory in [address, address + length) was unmapped (or is about to
    /// be): every overlapping registration goes, at once if unpinned.
    public mutating func invalidate(address: UInt, length: Int) {
        let end = address.addingReportingOverflow(UInt(max(length, 0))).partialValue
        var i = 0
        while i < entries.count {
            let e = entries[i]
            if e.address < end && address < e.end {
                if e.pins == 0 {
                    evict(at: i, counted: false)
                    continue
                }
                entries[i].stale = true
            }
            i += 1
        }
    }

    /// Deregisters everything (the endpoint is closing; leases are void).
    public mutating func removeAll() {
        for e in entries { deregister(e.handle) }
        entries.removeAll()
        registeredBytes = 0
    }

    private func lease(_ e: Entry) -> RegistrationLease<Handle> {
        RegistrationLease(id: e.id, handle: e.handle, address: e.address, length: e.length)
    }

    private func leastRecentlyUsedUnpinned() -> Int? {
        var best: Int? = nil
        for (i, e) in entries.enumerated() where e.pins == 0 {
            if best == nil || e.lastUse < entries[best!].lastUse { best = i }
        }
        return best
    }

    private mutating func evict(at i: Int, counted: Bool = true) {
        let e = entries.remove(at: i)
        registeredBytes -= e.length
        if counted { evictions += 1 }
        deregister(e.handle)
    }

    private mutating func removeAll(where predicate: (Entry) -> Bool) {
        var i = 0
        while i < entries.count {
            if predicate(entries[i]) { evict(at: i) } else { i += 1 }
        }
    }
}
