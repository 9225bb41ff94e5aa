import Testing
import PVMTransport

/// A small deterministic generator, so that a failing sequence can be replayed.
struct VerbsTestRandom {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

@Suite struct VerbsCreditTests {
    @Test func consumeUntilEmptyThenAcknowledge() throws {
        var w = try CreditWindow(window: 4)
        for _ in 0..<4 {
            let took = w.tryConsume()
            #expect(took)
        }
        let overdrawn = w.tryConsume()
        #expect(!overdrawn)
        #expect(w.available == 0)
        try w.acknowledge(returnedTotal: 3)
        #expect(w.available == 3)
        try w.acknowledge(returnedTotal: 2)      // stale: ignored
        #expect(w.available == 3)
        #expect(throws: CreditError.returnedBeyondSent(returned: 5, sent: 4)) { try w.acknowledge(returnedTotal: 5) }
        try w.acknowledge(returnedLow16: 4)
        #expect(w.available == 4)
        try w.acknowledge(returnedLow16: 3)      // older (wraps to 65535 ahead): ignored
        #expect(w.available == 4)
    }

    @Test func windowLimits() {
        #expect(throws: CreditError.invalidWindow(0)) { try CreditWindow(window: 0) }
        #expect(throws: CreditError.invalidWindow(40000)) { try CreditReturner(window: 40000) }
    }

    @Test func receiverDetectsOverrunAndBadFrees() throws {
        var r = try CreditReturner(window: 2)
        try r.arrived()
        try r.arrived()
        #expect(throws: CreditError.overrun(outstanding: 3, window: 2)) { try r.arrived() }
        #expect(throws: CreditError.freedBeyondArrived(freed: 3, arrived: 2)) { try r.freed(count: 3) }
        try r.freed(count: 1)
        #expect(r.explicitThreshold == 1)
        #expect(r.explicitReturnDue)
        let value1 = r.takeExplicit()
        #expect(value1 == 1)
        let value2 = r.takeExplicit()
        #expect(value2 == nil)
        try r.arrived()                          // one returned: room for one more
    }

    @Test func explicitReturnAtHalfWindow() throws {
        var r = try CreditReturner(window: 8)
        #expect(r.explicitThreshold == 4)
        for _ in 0..<8 { try r.arrived() }
        try r.freed(count: 3)
        #expect(!r.explicitReturnDue)
        try r.freed()
        #expect(r.explicitReturnDue)
        let value3 = r.takeExplicit()
        #expect(value3 == 4)
        let value4 = r.takePiggyback()
        #expect(value4 == 4)          // nothing new, same total
        try r.freed(count: 2)
        let value5 = r.takePiggyback()
        #expect(value5 == 6)
        let value6 = r.takeAll()
        #expect(value6 == nil)
    }

    /// Sender and receiver under random schedules: messages in flight,
    /// piggybacked totals in flight the other way (in order), and an explicit
    /// release word read at random times. The receiver never holds more than
    /// the window, nothing throws, totals wrap the 16-bit piggyback many
    /// times, and at the end every credit is back.
    @Test(arguments: [1, 2, 7, 64, 1 << 15])
    func creditsNeverOverrun(window: Int) throws {
        var rng = VerbsTestRandom(state: UInt64(window) &* 7919)
        var sender = try CreditWindow(window: UInt32(window))
        var receiver = try CreditReturner(window: UInt32(window))
        var inFlight = 0                  // messages sender -> receiver
        var piggybacks: [UInt16] = []     // receiver -> sender, in order
        var piggybackHead = 0
        var releaseWord: UInt64 = 0
        var held: UInt64 = 0              // arrived, not yet freed
        var sent = 0
        let steps = window == 1 << 15 ? 400_000 : 300_000
        for _ in 0..<steps {
            switch rng.below(7) {
            case 0, 1:
                for _ in 0..<(rng.below(8) + 1) where sender.tryConsume() { inFlight += 1; sent += 1 }
            case 2:
                if inFlight > 0 {
                    let n = rng.below(inFlight) + 1
                    inFlight -= n
                    for _ in 0..<n { try receiver.arrived() }
                    held += UInt64(n)
                }
            case 3:
                if held > 0 {
                    let n = UInt64(rng.below(Int(held)) + 1)
                    try receiver.freed(count: n)
                    held -= n
                }
            case 4:
                piggybacks.append(receiver.takePiggyback())
                if let total = receiver.takeExplicit() { releaseWord = total }
            case 5:
                // A poll takes a batch of completions, oldest first.
                let queued = piggybacks.count - piggybackHead
                if queued > 0 {
                    for _ in 0..<(rng.below(queued) + 1) {
                        try sender.acknowledge(returnedLow16: piggybacks[piggybackHead])
                        piggybackHead += 1
                    }
                }
            default:
                if let total = receiver.takeExplicit() { releaseWord = total }
                try sender.acknowledge(returnedTotal: releaseWord)
            }
            #expect(receiver.arrived - receiver.returned <= UInt64(window))
            #expect(sender.outstanding <= UInt64(window))
            if piggybacks.count > 4096 { piggybacks.removeFirst(piggybackHead); piggybackHead = 0 }
        }
        // Drain: deliver, free, report.
        while inFlight > 0 { inFlight -= 1; try receiver.arrived(); held += 1 }
        try receiver.freed(count: held)
        for p in piggybacks[piggybackHead...] { try sender.acknowledge(returnedLow16: p) }
        if let total = receiver.takeAll() { releaseWord = total }
        try sender.acknowledge(returnedTotal: releaseWord)
        #expect(sender.available == UInt32(window))
        #expect(sent > 1000)
        if window >= 64 { #expect(sent > 70_000, "the 16-bit totals must wrap") }
    }
}

@Suite struct VerbsRingSlotTests {
    @Test func geometryRules() throws {
        #expect(throws: RingSlotsError.invalidGeometry(slots: 1, slotSize: 64)) { try RingGeometry(slots: 1, slotSize: 64) }
        #expect(throws: RingSlotsError.invalidGeometry(slots: 12, slotSize: 64)) { try RingGeometry(slots: 12, slotSize: 64) }
        #expect(throws: RingSlotsError.invalidGeometry(slots: 8, slotSize: 48)) { try RingGeometry(slots: 8, slotSize: 48) }
        let g = try RingGeometry(slots: 8, slotSize: 64)
        #expect(g.byteCount == 512)
        #expect(g.maxPayload == 4 * 64 - 12)
        #expect(g.recordSlots(payloadLength: 0) == 1)
        #expect(g.recordSlots(payloadLength: 52) == 1)   // 8 + 52 + 4 = 64
        #expect(g.recordSlots(payloadLength: 53) == 2)
        #expect(RingGeometry.recordBytes(payloadLength: 5) == 8 + 8 + 4)
        #expect(RingGeometry.seal(0) & 1 == 1)
    }

    @Test func reserveWaitsForReleaseAndPadsAtTheWrap() throws {
        let g = try RingGeometry(slots: 8, slotSize: 64)
        var s = RemoteRingSlots(geometry: g)
        let aMaybe = try s.reserve(payloadLength: 100)    // 2 slots at 0
        let a = try #require(aMaybe)
        #expect(a.slotIndex == 0 && a.slotCount == 2 && a.padding == nil && a.byteOffset == 0)
        let bMaybe = try s.reserve(payloadLength: 200)    // 4 slots at 2
        let b = try #require(bMaybe)
        #expect(b.slotIndex == 2 && b.slotCount == 4 && b.byteOffset == 128)
        #expect(s.freeSlots == 2)
        // 3 slots do not fit before the end (2 left): padding, then wait.
        let value9 = try s.reserve(payloadLength: 150)
        #expect(value9 == nil)
        #expect(!s.fits(payloadLength: 150))
        try s.acknowledge(releasedTotal: 2)      // 2 + 3 slots would overlap slot 2
        let stillWaiting = try s.reserve(payloadLength: 150)
        #expect(stillWaiting == nil)
        try s.acknowledge(releasedTotal: 3)
        let cMaybe = try s.reserve(payloadLength: 150)
        let c = try #require(cMaybe)
        let pad = try #require(c.padding)
        #expect(pad.position == 6 && pad.slotIndex == 6 && pad.slotCount == 2 && pad.byteOffset == 384)
        #expect(pad.seal == RingGeometry.seal(6))
        #expect(c.position == 8 && c.slotIndex == 0 && c.slotCount == 3)
        #expect(throws: RingSlotsError.releasedBeyondProduced(released: 12, produced: 11)) {
            try s.acknowledge(releasedTotal: 12)
        }
        #expect(throws: RingSlotsError.recordTooLarge(length: 245, max: 244)) { try s.reserve(payloadLength: 245) }
    }

    @Test func partialRecordIsNotReadyAndStaleLapIsIgnored() throws {
        let g = try RingGeometry(slots: 4, slotSize: 64)
        var ring = [UInt8](repeating: 0, count: g.byteCount)
        var sender = RemoteRingSlots(geometry: g)
        var receiver = LocalRingSlots(geometry: g, releaseBatch: 1)
        let payload: [UInt8] = Array(0..<40)
        let rMaybe = try sender.reserve(payloadLength: payload.count)
        let r = try #require(rMaybe)
        var record = [UInt8](repeating: 0, count: r.byteCount)
        try record.withUnsafeMutableBytes { rec in
            try payload.withUnsafeBytes { try RemoteRingSlots.writeRecord(into: rec, payload: $0, kind: 1, seal: r.seal) }
        }
        // Everything but the trailer has landed.
        for i in 0..<(r.byteCount - 4) { ring[r.byteOffset + i] = record[i] }
        let value12 = try ring.withUnsafeMutableBytes { try receiver.poll($0) }
        #expect(value12 == nil)
        for i in (r.byteCount - 4)..<r.byteCount { ring[r.byteOffset + i] = record[i] }
        let gotMaybe = try ring.withUnsafeMutableBytes { try receiver.poll($0) }
        let got = try #require(gotMaybe)
        #expect(got.kind == 1 && got.length == 40 && Array(ring[got.payloadOffset..<(got.payloadOffset + 40)]) == payload)
        try ring.withUnsafeMutableBytes { try receiver.release(got, in: $0) }
        let value14 = receiver.takeRelease()
        #expect(value14 == 1)
        // Slot 0 still holds the old record's bytes but its seal was cleared,
        // and a copy of it at slot 1 has the wrong seal for position 1.
        for i in 0..<64 { ring[64 + i] = record[min(i, record.count - 1)] }
        let value15 = try ring.withUnsafeMutableBytes { try receiver.poll($0) }
        #expect(value15 == nil)
        #expect(throws: RingSlotsError.releaseOutOfOrder(expected: 1, got: 0)) {
            try ring.withUnsafeMutableBytes { try receiver.release(got, in: $0) }
        }
    }

    @Test func malformedHeadersAreRefused() throws {
        let g = try RingGeometry(slots: 4, slotSize: 64)
        var ring = [UInt8](repeating: 0, count: g.byteCount)
        var receiver = LocalRingSlots(geometry: g)
        func put(_ v: UInt32, at o: Int) { for i in 0..<4 { ring[o + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(i))) } }
        put(RingGeometry.seal(0), at: 0)
        put(1 << 24 | 1000, at: 4)                    // longer than half the ring
        #expect(throws: RingSlotsError.malformedLength(length: 1000, max: g.maxPayload)) {
            try ring.withUnsafeMutableBytes { try receiver.poll($0) }
        }
        // A legal-length record claimed at the last slot would cross the end.
        var r2 = LocalRingSlots(geometry: g)
        var s2 = RemoteRingSlots(geometry: g)
        for _ in 0..<3 {
            let resMaybe = try s2.reserve(payloadLength: 0)
            let res = try #require(resMaybe)
            var rec = [UInt8](repeating: 0, count: res.byteCount)
            try rec.withUnsafeMutableBytes { try RemoteRingSlots.writeRecord(into: $0, payload: UnsafeRawBufferPointer(start: nil, count: 0), kind: 1, seal: res.seal) }
            for i in 0..<rec.count { ring[res.byteOffset + i] = rec[i] }
            let gotMaybe = try ring.withUnsafeMutableBytes { try r2.poll($0) }
            let got = try #require(gotMaybe)
            try ring.withUnsafeMutableBytes { try r2.release(got, in: $0) }
        }
        put(RingGeometry.seal(3), at: 192)
        put(1 << 24 | 100, at: 196)
        #expect(throws: RingSlotsError.recordCrossesEnd(slotIndex: 3, slotCount: 2)) {
            try ring.withUnsafeMutableBytes { try r2.poll($0) }
        }
        #expect(throws: RingSlotsError.bufferTooSmall(needed: 256, got: 10)) {
            var small = [UInt8](repeating: 0, count: 10)
            _ = try small.withUnsafeMutableBytes { try r2.poll($0) }
        }
    }

    /// Records of random sizes (spanning up to half the ring) written into a
    /// real ring as the NIC would, starting at every slot offset, with the
    /// receiver releasing in batches and the sender learning of it in full
    /// or through 16-bit piggybacks. Every message arrives once, in order,
    /// intact, and no reservation ever covers an unreleased slot.
    @Test(arguments: [(8 as UInt32, 64 as UInt32), (16, 64), (32, 128)])
    func ringWrapsWithSpanningRecords(slots: UInt32, slotSize: UInt32) throws {
        let g = try RingGeometry(slots: slots, slotSize: slotSize)
        for startOffset in 0..<Int(slots) {
            var rng = VerbsTestRandom(state: UInt64(startOffset) &+ UInt64(slots) << 32)
            var ring = [UInt8](repeating: 0xEE, count: g.byteCount)
            var sender = RemoteRingSlots(geometry: g)
            var receiver = LocalRingSlots(geometry: g)
            var nextToSend = 0, nextToReceive = 0, paddings = 0
            var pending: [UInt16] = []
            func payload(_ n: Int) -> [UInt8] {
                let len = n < startOffset ? 0 : (n &* 7919) % (g.maxPayload + 1)
                return (0..<len).map { UInt8(truncatingIfNeeded: $0 &+ n) }
            }
            while nextToReceive < 400 + startOffset {
                if nextToSend < 400 + startOffset && rng.below(3) != 0 {
                    let p = payload(nextToSend)
                    if let r = try sender.reserve(payloadLength: p.count) {
                        #expect(r.position + UInt64(r.slotCount) - receiver.consumed <= UInt64(slots))
                        if let pad = r.padding {
                            paddings += 1
                            var h = [UInt8](repeating: 0, count: 8)
                            try h.withUnsafeMutableBytes { try RemoteRingSlots.writePadding(into: $0, seal: pad.seal) }
                            for i in 0..<8 { ring[pad.byteOffset + i] = h[i] }
                        }
                        var rec = [UInt8](repeating: 0, count: r.byteCount)
                        try rec.withUnsafeMutableBytes { rec in
                            try p.withUnsafeBytes { try RemoteRingSlots.writeRecord(into: rec, payload: $0, kind: 1, seal: r.seal) }
                        }
                        for i in 0..<rec.count { ring[r.byteOffset + i] = rec[i] }
                        nextToSend += 1
                    }
                } else {
                    while let rec = try ring.withUnsafeMutableBytes({ try receiver.poll($0) }) {
                        let expected = payload(nextToReceive)
                        #expect(rec.length == expected.count)
                        #expect(Array(ring[rec.payloadOffset..<(rec.payloadOffset + rec.length)]) == expected,
                                "message \(nextToReceive) at start offset \(startOffset)")
                        try ring.withUnsafeMutableBytes { try receiver.release(rec, in: $0) }
                        nextToReceive += 1
                        if rng.below(4) == 0 { break }
                    }
                    if rng.below(2) == 0 {
                        if let total = receiver.takeRelease() { try sender.acknowledge(releasedTotal: total) }
                    } else {
                        pending.append(receiver.takePiggyback())
                        if rng.below(2) == 0, !pending.isEmpty {
                            try sender.acknowledge(releasedLow16: pending.removeFirst())
                        }
                    }
                    if let total = receiver.takeAll(), rng.below(8) == 0 { try sender.acknowledge(releasedTotal: total) }
                }
                // Nothing more can be sent or received without a release: report.
                if !sender.fits(payloadLength: payload(nextToSend).count) && nextToReceive == nextToSend {
                    for p in pending { try sender.acknowledge(releasedLow16: p) }
                    pending.removeAll()
                    try sender.acknowledge(releasedTotal: receiver.consumed)
                }
            }
            #expect(nextToReceive == nextToSend)
            #expect(sender.produced >= UInt64(slots) * 20, "wrapped many times")
            #expect(paddings > 0)
        }
    }
}
