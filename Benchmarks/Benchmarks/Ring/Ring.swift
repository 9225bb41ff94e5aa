// The ring's hot path inside one process: push, pop, and a push-pop round
// trip, at 8 B and 1 KiB, with the ring far from its end (contiguous) and
// near it (records keep crossing the wrap point). Each sample runs 1000
// operations; the gate is on allocations and retain/release counts per
// sample, which must be zero (thresholds in Thresholds/); times are reported.
// Names have no spaces: package-benchmark writes threshold files with spaces
// turned into underscores but reads them with the spaces kept.
import Benchmark
import PVMTransport

let ringBytes = 1 << 16

/// Owns a ring and a payload for the benchmark closures (set up once, outside
/// the measured loops).
final class Fixture {
    var ring: ShmInProcessRing
    let payload: UnsafeMutableRawBufferPointer

    init(size: Int, wrapped: Bool) {
        // Wrapped: start 64 bytes before the end, so the records cross the end
        // within the first operations and again on every lap.
        ring = try! ShmInProcessRing(capacity: ringBytes, startingAt: wrapped ? UInt64(8 * ringBytes - 64) : 0)
        payload = .allocate(byteCount: size, alignment: 16)
        payload.initializeMemory(as: UInt8.self, repeating: 7)
    }
}

let metrics: [BenchmarkMetric] = [.wallClock, .throughput, .mallocCountTotal, .retainCount, .releaseCount]

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: metrics, scalingFactor: .kilo, maxDuration: .seconds(2), maxIterations: 100_000)

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
}
