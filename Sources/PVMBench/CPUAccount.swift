import PVMSystem

/// The measuring thread's CPU time over the timed rounds of a run, less
/// what it spent outside the measurement inside them (filling and checking
/// payloads for -c): the figure behind "CPU ns per message".
struct CPUAccount {
    private var started: UInt64 = 0
    private var excluded: UInt64 = 0

    /// The first timed round begins (warm-up rounds are not counted).
    mutating func start() {
        started = Clock.threadCPUNanoseconds()
        excluded = 0
    }

    /// Runs `body` without counting its CPU time.
    @inline(__always)
    mutating func excluding<R>(_ body: () throws -> R) rethrows -> R {
        let c0 = Clock.threadCPUNanoseconds()
        defer { excluded &+= Clock.threadCPUNanoseconds() &- c0 }
        return try body()
    }

    /// CPU nanoseconds per operation, for `operations` timed operations.
    func perOperation(_ operations: Int) -> Double {
        let total = Clock.threadCPUNanoseconds() &- started
        return Double(total &- min(excluded, total)) / Double(max(operations, 1))
    }
}
