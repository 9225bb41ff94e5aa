import Testing
@testable import PVMTransport

/// The choice between single copy and the pipelined copy above the
/// single-copy limit: each path measured first, then the cheaper, with the
/// other tried again once per interval.
@Suite struct LargePathChooserTests {
    @Test func measuresEachPathFirstThenTakesTheCheaper() {
        var c = LargePathChooser(exploreInterval: 1_000)
        var single = c.chooseSingleCopy(now: 10)
        #expect(single)
        c.record(singleCopy: true, bytes: 1_000, nanoseconds: 300)     // 0.3 ns/B
        single = c.chooseSingleCopy(now: 20)
        #expect(!single)
        c.record(singleCopy: false, bytes: 1_000, nanoseconds: 100)    // 0.1 ns/B
        #expect(!c.prefersSingleCopy)
        // The first comparison is also the first exploration: the slower path once.
        single = c.chooseSingleCopy(now: 2_000)
        #expect(single)
        for t in stride(from: 2_001, to: 2_900, by: 100) {
            single = c.chooseSingleCopy(now: UInt64(t))
            #expect(!single)
        }
        single = c.chooseSingleCopy(now: 3_000)
        #expect(single, "tried again once the interval has passed")
        single = c.chooseSingleCopy(now: 3_001)
        #expect(!single)
    }

    @Test func followsAChangeOfPhase() {
        var c = LargePathChooser(exploreInterval: 1_000)
        c.record(singleCopy: true, bytes: 1 << 20, nanoseconds: 300_000)
        c.record(singleCopy: false, bytes: 1 << 20, nanoseconds: 100_000)
        #expect(!c.prefersSingleCopy)
        // Single copy becomes the cheaper (the pipelined copy slows down): the
        // moving average turns within a few messages of each.
        for _ in 0..<8 {
            c.record(singleCopy: false, bytes: 1 << 20, nanoseconds: 900_000)
        }
        #expect(c.prefersSingleCopy)
        #expect(c.pipelinedCost > c.singleCopyCost)
    }

    @Test func ignoresEmptyMessagesAndZeroTimes() {
        var c = LargePathChooser()
        c.record(singleCopy: true, bytes: 0, nanoseconds: 5)
        #expect(c.singleCopyCost == 0)
        c.record(singleCopy: true, bytes: 10, nanoseconds: 0)
        #expect(c.singleCopyCost > 0, "a zero duration still counts as measured")
    }

    @Test func sizeClassesArePowersOfTwoFrom256KiB() {
        #expect(LargePathChoosers.sizeClass(1) == 0)
        #expect(LargePathChoosers.sizeClass((256 << 10) + 1) == 0)
        #expect(LargePathChoosers.sizeClass(512 << 10) == 1)
        #expect(LargePathChoosers.sizeClass((1 << 20) - 1) == 1)
        #expect(LargePathChoosers.sizeClass(4 << 20) == 4)
        #expect(LargePathChoosers.sizeClass(1 << 30) == LargePathChoosers.classes - 1)
        // Each class learns on its own.
        var all = LargePathChoosers()
        all[bytes: 1 << 20].record(singleCopy: true, bytes: 1 << 20, nanoseconds: 1_000)
        #expect(all[bytes: 1 << 20].singleCopyCost > 0)
        #expect(all[bytes: 4 << 20].singleCopyCost == 0)
    }
}
