import Testing
import PVMTransport

@Suite struct RingTests {
    /// Messages of every size class pushed and popped with the ring starting
    /// at every 16-byte offset of its last kilobyte, so records and padding
    /// cross the wrap point in every possible way.
    @Test func ringAtEveryWrapOffset() throws {
        let capacity = 4096
        var scratch = [UInt8](repeating: 0, count: capacity)
        for back in stride(from: 0, through: 1024, by: 16) {
            var ring = try ShmInProcessRing(capacity: capacity, startingAt: UInt64(8 * capacity - back))
            var sent = 0, received = 0
            let sizes = [0, 1, 7, 8, 15, 16, 17, 48, 100, 500, ring.maxMessage]
            for round in 0..<40 {
                let n = sizes[(round + back / 16) % sizes.count]
                for i in 0..<n { scratch[i] = UInt8(truncatingIfNeeded: sent &* 31 &+ i) }
                let pushed = scratch.withUnsafeBytes { ring.tryPush(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                if pushed { sent += 1 }
                if !pushed || round % 3 == 2 {
                    while try ring.tryPop({ bytes in
                        for (i, b) in bytes.enumerated() where b != UInt8(truncatingIfNeeded: received &* 31 &+ i) {
                            Issue.record("message \(received) byte \(i) wrong at offset \(back)")
                            break
                        }
                        received += 1
                    }) {}
                }
            }
            while try ring.tryPop({ _ in received += 1 }) {}
            #expect(sent == received, "offset \(back): sent \(sent), received \(received)")
            #expect(sent >= 30)
        }
    }

    @Test func fullRingRefusesThenAcceptsAfterPop() throws {
        var ring = try ShmInProcessRing(capacity: 4096)
        let payload = [UInt8](repeating: 7, count: 100)
        var pushed = 0
        while payload.withUnsafeBytes({ ring.tryPush($0) }) { pushed += 1 }
        #expect(pushed == 4096 / 128)
        var first = 0
        #expect(try ring.tryPop { first = $0.count })
        #expect(first == 100)
        // Space is reported to the producer only when the consumer publishes
        // (a quarter ring, or when idle).
        while try ring.tryPop({ _ in }) {}
        #expect(payload.withUnsafeBytes { ring.tryPush($0) })
    }

    @Test func oversizedMessageIsRefused() throws {
        var ring = try ShmInProcessRing(capacity: 4096)
        let big = [UInt8](repeating: 1, count: ring.maxMessage + 1)
        #expect(!big.withUnsafeBytes { ring.tryPush($0) })
    }
}
