// The ring's hot path inside one process: push, pop, and a push-pop round
// trip, at 8 B and 1 KiB, each in two variants:
//
//   contiguous  a 1 MiB ring starting at 0: records rarely meet the end
//               (1 KiB records, 1040 B with their header, pad once per ~1000)
//   wrapped     an 8 KiB ring (the smallest that takes a 1 KiB message: a
//               record is at most a quarter ring) starting 64 bytes before
//               its end: the first records cross the end, then every lap
//               does; a 1 KiB record needs a padding record every 8th
//               operation, 8 B records (32 B) wrap the index every 256
//
// and a round trip through a pair's express line (8 B each way).
//
// Each sample runs 1000 operations; the gate is on allocations and
// retain/release counts per sample, which must be zero (thresholds in
// Thresholds/); times are reported, never gated. Two canaries with known
// counts prove the counters are alive. Names have no spaces:
// package-benchmark writes threshold files with spaces turned into
// underscores but reads them with the spaces kept.
import Benchmark
import PVMTransport

/// Ring sizes of the two variants.
let contiguousRingBytes = 1 << 20
let wrappedRingBytes = 8192

/// Owns a ring and a payload for the benchmark closures (set up once, outside
/// the measured loops).
final class Fixture {
    var ring: ShmInProcessRing
    let payload: UnsafeMutableRawBufferPointer

    init(size: Int, wrapped: Bool) {
        // Wrapped: start 64 bytes before the end (of the eighth lap, so the
        // absolute positions are not small), so the first records cross it.
        let capacity = wrapped ? wrappedRingBytes : contiguousRingBytes
        ring = try! ShmInProcessRing(capacity: capacity, startingAt: wrapped ? UInt64(8 * capacity - 64) : 0)
        payload = .allocate(byteCount: size, alignment: 16)
        payload.initializeMemory(as: UInt8.self, repeating: 7)
        // The loops ignore tryPush's result for speed: a message over the
        // largest record would never be pushed, and the benchmark would time nothing.
        precondition(size <= ring.maxMessage, "a \(size) B message does not fit a \(capacity) B ring")
    }
}

let metrics: [BenchmarkMetric] = [.wallClock, .throughput, .mallocCountTotal, .retainCount, .releaseCount]

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: metrics, scalingFactor: .kilo, maxDuration: .seconds(2), maxIterations: 100_000)

    // Canaries: they prove the counters the gate reads are alive. Each does
    // exactly one allocation, or one retain and one release, per operation,
    // and their thresholds say so; if the toolchain or package-benchmark ever
    // stopped counting (all zeros), the check would fail as "BETTER than the
    // defined thresholds" instead of passing every ring benchmark vacuously.
    let canaryBox = CanaryBox()
    Benchmark("gate_canary_retain_release") { benchmark in
        for _ in benchmark.scaledIterations {
            let token = Unmanaged.passUnretained(canaryBox.token).retain()
            blackHole(token)
            token.release()
        }
    }
    Benchmark("gate_canary_malloc") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(CanaryToken())
        }
    }

    for size in [8, 1024] {
        for wrapped in [false, true] {
            let variant = "\(size)B_\(wrapped ? "wrapped" : "contiguous")"
            let roundTrip = Fixture(size: size, wrapped: wrapped)
            let push = Fixture(size: size, wrapped: wrapped)
            let pop = Fixture(size: size, wrapped: wrapped)

            Benchmark("round_trip_\(variant)") { benchmark in
                let bytes = UnsafeRawBufferPointer(roundTrip.payload)
                var sum = 0
                for _ in benchmark.scaledIterations {
                    _ = roundTrip.ring.tryPush(bytes)
                    _ = roundTrip.ring.tryPop { sum &+= Int($0[0]) }
                }
                blackHole(sum)
            }

            // Push until full, then drain (the drain is part of the cost, once a lap).
            Benchmark("push_\(variant)") { benchmark in
                let bytes = UnsafeRawBufferPointer(push.payload)
                for _ in benchmark.scaledIterations {
                    if !push.ring.tryPush(bytes) {
                        while push.ring.tryPop({ blackHole($0.count) }) {}
                        _ = push.ring.tryPush(bytes)
                    }
                }
            }

            // Pop until empty, then refill (the refill is part of the cost, once a lap).
            Benchmark("pop_\(variant)") { benchmark in
                let bytes = UnsafeRawBufferPointer(pop.payload)
                var sum = 0
                for _ in benchmark.scaledIterations {
                    if !pop.ring.tryPop({ sum &+= Int($0[0]) }) {
                        while pop.ring.tryPush(bytes) {}
                        _ = pop.ring.tryPop { sum &+= Int($0[0]) }
                    }
                }
                blackHole(sum)
            }
        }
    }

    // The express line (small messages both ways in one cache line): a
    // message each way per operation, as a ping-pong uses it.
    let express = ExpressFixture(size: 8)
    Benchmark("express_round_trip_8B") { benchmark in
        let bytes = UnsafeRawBufferPointer(express.payload)
        var sum = 0
        for _ in benchmark.scaledIterations {
            _ = express.line.tryWrite(bytes, fromConnector: true)
            _ = express.line.tryTake(atConnector: false) { sum &+= Int($0[0]) }
            _ = express.line.tryWrite(bytes, fromConnector: false)
            _ = express.line.tryTake(atConnector: true) { sum &+= Int($0[0]) }
        }
        blackHole(sum)
    }
}

/// Owns an express line and a payload for the benchmark closure.
final class ExpressFixture {
    var line = ShmInProcessExpressLine()
    let payload: UnsafeMutableRawBufferPointer

    init(size: Int) {
        precondition(size <= ShmInProcessExpressLine.capacity)
        payload = .allocate(byteCount: size, alignment: 16)
        payload.initializeMemory(as: UInt8.self, repeating: 7)
    }
}

/// The canaries' objects: one to allocate, one to retain and release.
final class CanaryToken { var value = 1 }
final class CanaryBox { let token = CanaryToken() }
