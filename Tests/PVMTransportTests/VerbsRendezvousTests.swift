import Testing
import PVMTransport

@Suite struct VerbsRendezvousTests {
    @Test func announcementAndFinRoundTrip() throws {
        let a = try RendezvousAnnouncement(id: 7, address: 0x7f00_0000_1000, length: 4 << 20, rkey: 0x1234_5678)
        var buf = [UInt8](repeating: 0xFF, count: RendezvousAnnouncement.encodedSize)
        try buf.withUnsafeMutableBytes { try a.encode(into: $0) }
        #expect(buf[0] == 7 && buf[16] == 0 && buf[18] == 0x40 && buf[24] == 0x78 && buf[28] == 0)
        #expect(try buf.withUnsafeBytes { try RendezvousAnnouncement(decoding: $0) } == a)

        let f = RendezvousFin(id: 7, length: 4 << 20, status: 0)
        var fb = [UInt8](repeating: 0xFF, count: RendezvousFin.encodedSize)
        try fb.withUnsafeMutableBytes { try f.encode(into: $0) }
        #expect(try fb.withUnsafeBytes { try RendezvousFin(decoding: $0) } == f)

        for n in 0..<RendezvousAnnouncement.encodedSize {
            #expect(throws: RendezvousError.shortBuffer(needed: 32, got: n)) {
                try buf.withUnsafeBytes { try RendezvousAnnouncement(decoding: UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            }
        }
        #expect(throws: RendezvousError.trailingBytes(expected: 24, got: 25)) {
            try (fb + [0]).withUnsafeBytes { try RendezvousFin(decoding: $0) }
        }
    }

    @Test func announcementValidation() throws {
        #expect(throws: RendezvousError.zeroLength) { try RendezvousAnnouncement(id: 1, address: 4096, length: 0, rkey: 1) }
        #expect(throws: RendezvousError.nullAddress) { try RendezvousAnnouncement(id: 1, address: 0, length: 10, rkey: 1) }
        #expect(throws: RendezvousError.addressOverflow(address: UInt64.max - 10, length: 20)) {
            try RendezvousAnnouncement(id: 1, address: UInt64.max - 10, length: 20, rkey: 1)
        }
        var buf = [UInt8](repeating: 0, count: 32)
        try buf.withUnsafeMutableBytes { try RendezvousAnnouncement(id: 1, address: 8192, length: 5, rkey: 1).encode(into: $0) }
        buf[28] = 1
        #expect(throws: RendezvousError.nonzeroFlags(1)) { try buf.withUnsafeBytes { try RendezvousAnnouncement(decoding: $0) } }
    }

    /// 10 MiB + 5 bytes in 1 MiB reads, at most 3 in flight: 11 reads that
    /// tile the destination exactly, then the FIN.
    @Test func readsAreChunkedAndBounded() throws {
        let length: UInt64 = 10 << 20 + 5
        let a = try RendezvousAnnouncement(id: 3, address: 0x1000_0000, length: length, rkey: 9)
        var t = try RendezvousTransfer(announcement: a, destination: 0x5000_0000, capacity: 16 << 20, lkey: 4,
                                       maxReadSize: 1 << 20, maxOutstandingReads: 3)
        #expect(t.chunkCount == 11)
        var issued: [RendezvousRead] = []
        var inFlight: [RendezvousRead] = []
        while !t.isComplete {
            while let r = t.nextRead() { inFlight.append(r); issued.append(r) }
            #expect(inFlight.count <= 3)
            #expect(throws: RendezvousError.notComplete(remaining: length - t.completedBytes)) { try t.fin() }
            try t.readCompleted(inFlight.removeFirst())
        }
        #expect(issued.count == 11)
        var offset: UInt64 = 0
        for (i, r) in issued.enumerated() {
            #expect(r.index == i && r.rkey == 9 && r.lkey == 4)
            #expect(r.remoteAddress == 0x1000_0000 + offset && r.localAddress == 0x5000_0000 + offset)
            #expect(r.length == (i < 10 ? 1 << 20 : 5))
            offset += UInt64(r.length)
        }
        #expect(offset == length)
        #expect(try t.fin() == RendezvousFin(id: 3, length: length))
        let value1 = t.nextRead()
        #expect(value1 == nil)
    }

    @Test func transferErrors() throws {
        let a = try RendezvousAnnouncement(id: 1, address: 4096, length: 100, rkey: 1)
        #expect(throws: RendezvousError.destinationTooSmall(needed: 100, capacity: 99)) {
            try RendezvousTransfer(announcement: a, destination: 8192, capacity: 99, lkey: 1, maxReadSize: 64, maxOutstandingReads: 1)
        }
        #expect(throws: RendezvousError.invalidLimits(maxReadSize: 0, maxOutstandingReads: 1)) {
            try RendezvousTransfer(announcement: a, destination: 8192, capacity: 100, lkey: 1, maxReadSize: 0, maxOutstandingReads: 1)
        }
        var t = try RendezvousTransfer(announcement: a, destination: 8192, capacity: 100, lkey: 1, maxReadSize: 64, maxOutstandingReads: 2)
        let r0Maybe = t.nextRead()
        let r0 = try #require(r0Maybe)
        let r1Maybe = t.nextRead()
        let r1 = try #require(r1Maybe)
        let value4 = t.nextRead()
        #expect(value4 == nil)                         // two in flight
        #expect(throws: RendezvousError.completionOutOfOrder(expected: 0, got: 1)) { try t.readCompleted(r1) }
        try t.readCompleted(r0)
        #expect(throws: RendezvousError.completionOutOfOrder(expected: 1, got: 0)) { try t.readCompleted(r0) }
        try t.readCompleted(r1)
        #expect(t.isComplete && t.completedBytes == 100)
    }

    @Test func senderFreesOnFinAndRejectsBadFins() throws {
        var s = RendezvousSender<String>(maxOutstanding: 2)
        let a = try s.announce(address: 4096, length: 1000, rkey: 5, token: "first")
        let b = try s.announce(address: 8192, length: 2000, rkey: 6, token: "second")
        #expect(a.id != b.id)
        #expect(throws: RendezvousError.tooManyOutstanding(limit: 2)) {
            try s.announce(address: 12288, length: 1, rkey: 7, token: "third")
        }
        #expect(throws: RendezvousError.unknownMessage(id: 99)) { try s.finished(RendezvousFin(id: 99, length: 1000)) }
        #expect(throws: RendezvousError.lengthMismatch(id: b.id, announced: 2000, reported: 1999)) {
            try s.finished(RendezvousFin(id: b.id, length: 1999))
        }
        let value5 = try s.finished(RendezvousFin(id: b.id, length: 2000))
        #expect(value5 == "second")
        #expect(throws: RendezvousError.unknownMessage(id: b.id)) { try s.finished(RendezvousFin(id: b.id, length: 2000)) }
        #expect(s.outstanding == 1)
        _ = try s.announce(address: 12288, length: 1, rkey: 7, token: "third")
        let value6 = Set(s.cancelAll())
        #expect(value6 == ["first", "third"])
        #expect(s.outstanding == 0)
    }
}

@Suite struct VerbsRegistrationCacheTests {
    /// Registrations and deregistrations, as a device would see them.
    final class Log {
        var registered: [(UInt, Int)] = []
        var deregistered: [Int] = []
        var failNext = false
    }

    struct Failure: Error {}

    func cache(_ log: Log, capacity: Int) -> RegistrationCache<Int> {
        RegistrationCache(capacityBytes: capacity, pageSize: 4096, register: { address, length in
            if log.failNext { log.failNext = false; throw Failure() }
            log.registered.append((address, length))
            return log.registered.count               // handle: registration number
        }, deregister: { handle in log.deregistered.append(handle) })
    }

    @Test func subRangesHitAndMissesArePageAligned() throws {
        let log = Log()
        var c = cache(log, capacity: 1 << 20)
        let l1 = try c.acquire(address: 0x10010, length: 8000)
        #expect(l1.address == 0x10000 && l1.length == 8192)
        #expect(log.registered.count == 1 && log.registered[0] == (0x10000, 8192))
        let l2 = try c.acquire(address: 0x10100, length: 100)
        let l3 = try c.acquire(address: 0x10000, length: 8192)
        #expect(l2.handle == 1 && l3.handle == 1 && c.hits == 2 && c.misses == 1)
        #expect(log.registered.count == 1)
        _ = try c.acquire(address: 0x11000, length: 8192)    // crosses the end: a miss
        #expect(c.misses == 2)
        for l in [l1, l2, l3] { try c.release(l) }
        #expect(throws: RegistrationError.unknownLease(l1.id)) { try c.release(l1) }
    }

    @Test func evictsLeastRecentlyUsedUnpinned() throws {
        let log = Log()
        var c = cache(log, capacity: 3 * 4096)
        let a = try c.acquire(address: 0x1000, length: 4096)     // handle 1
        let b = try c.acquire(address: 0x3000, length: 4096)     // handle 2
        let d = try c.acquire(address: 0x5000, length: 4096)     // handle 3
        for l in [a, b, d] { try c.release(l) }
        try c.release(try c.acquire(address: 0x1000, length: 10)) // a is now the most recent
        let e = try c.acquire(address: 0x7000, length: 4096)     // evicts b (least recent)
        #expect(log.deregistered == [2])
        let f = try c.acquire(address: 0x9000, length: 4096)     // evicts d
        #expect(log.deregistered == [2, 3])
        #expect(c.registeredBytes == 3 * 4096 && c.evictions == 2)
        // Everything pinned: no room.
        let g = try c.acquire(address: 0x1000, length: 4096)
        #expect(throws: RegistrationError.capacityExhausted(pinnedBytes: 3 * 4096, capacity: 3 * 4096)) {
            try c.acquire(address: 0xB000, length: 4096)
        }
        #expect(throws: RegistrationError.exceedsCapacity(length: 4 * 4096, capacity: 3 * 4096)) {
            try c.acquire(address: 0x20000, length: 4 * 4096)
        }
        for l in [e, f, g] { try c.release(l) }
    }

    @Test func largerRangeAbsorbsContainedOnes() throws {
        let log = Log()
        var c = cache(log, capacity: 1 << 20)
        try c.release(try c.acquire(address: 0x2000, length: 4096))
        try c.release(try c.acquire(address: 0x4000, length: 4096))
        let big = try c.acquire(address: 0x1000, length: 8 * 4096)
        #expect(log.deregistered == [1, 2])
        #expect(c.count == 1 && c.registeredBytes == 8 * 4096)
        try c.release(big)
    }

    @Test func invalidateDropsOverlapsAndDefersPinned() throws {
        let log = Log()
        var c = cache(log, capacity: 1 << 20)
        let pinned = try c.acquire(address: 0x10000, length: 4096)      // 1
        try c.release(try c.acquire(address: 0x20000, length: 4096))   // 2
        try c.release(try c.acquire(address: 0x30000, length: 4096))   // 3
        c.invalidate(address: 0x10800, length: 0x10000)                // overlaps 1 and 2
        #expect(log.deregistered == [2])
        // The stale range is no longer a hit.
        let again = try c.acquire(address: 0x10000, length: 100)
        #expect(again.handle == 4)
        try c.release(pinned)
        #expect(log.deregistered == [2, 1])
        try c.release(again)
        c.removeAll()
        #expect(Set(log.deregistered) == [1, 2, 3, 4] && c.registeredBytes == 0)
    }

    @Test func badRequestsAndFailedRegistration() throws {
        let log = Log()
        var c = cache(log, capacity: 1 << 20)
        #expect(throws: RegistrationError.zeroLength) { try c.acquire(address: 4096, length: 0) }
        #expect(throws: RegistrationError.rangeOverflow(address: UInt.max - 10, length: 100)) {
            try c.acquire(address: UInt.max - 10, length: 100)
        }
        log.failNext = true
        #expect(throws: RegistrationError.registrationFailed("Failure()")) { try c.acquire(address: 4096, length: 1) }
        #expect(c.count == 0 && c.registeredBytes == 0)
    }
}
