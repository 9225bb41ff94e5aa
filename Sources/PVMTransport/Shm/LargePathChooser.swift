/// Which copy a large message above the single-copy limit takes, when the
/// peer may read this task's memory: single copy (the receiver pulls it
/// with process_vm_readv) or the pipelined copy through the ring.
///
/// Measured, neither wins on this machine kind: at 4 MiB the pipelined copy
/// ran at 17 GB/s against single copy's 1.7-3 in one session, and at 7.3-8.7
/// against 8-11 in another, the same binaries back to back (the machine's
/// memory speed moves between phases that last seconds). So the endpoint
/// times what it sends: each path's cost per byte (a moving average of the
/// send calls' durations, the sender waits for the receiver's pull or for
/// ring space in either) decides, and the other path is tried again at most
/// once per `exploreInterval`, so a change of phase is noticed within about
/// that long while costing at most one message in that time. The endpoint
/// keeps one per size class (`LargePathChoosers`).
public struct LargePathChooser: Sendable, Equatable {
    /// Nanoseconds per byte, 0 while not measured yet.
    public private(set) var singleCopyCost = 0.0
    public private(set) var pipelinedCost = 0.0
    /// When the slower path was last tried.
    private var lastExplored: UInt64 = 0
    public let exploreInterval: UInt64

    public init(exploreInterval: UInt64 = 100_000_000) {
        self.exploreInterval = exploreInterval
    }

    /// The path for the next message (true: single copy) at time `now`.
    public mutating func chooseSingleCopy(now: UInt64) -> Bool {
        let best = prefersSingleCopy
        guard singleCopyCost != 0, pipelinedCost != 0, now &- lastExplored >= exploreInterval else { return best }
        lastExplored = now
        return !best
    }

    /// What the path of the current choice is, without exploring.
    public var prefersSingleCopy: Bool {
        singleCopyCost == 0 || (pipelinedCost != 0 && singleCopyCost <= pipelinedCost)
    }

    /// A message of `bytes` took `nanoseconds` to send by `singleCopy`.
    public mutating func record(singleCopy: Bool, bytes: Int, nanoseconds: UInt64) {
        guard bytes > 0 else { return }
        let cost = Double(max(nanoseconds, 1)) / Double(bytes)
        if singleCopy { Self.blend(&singleCopyCost, cost) } else { Self.blend(&pipelinedCost, cost) }
    }

    /// A moving average: the first measurement as it is, then a quarter of each new one.
    private static func blend(_ average: inout Double, _ cost: Double) {
        average = average == 0 ? cost : 0.75 * average + 0.25 * cost
    }
}

/// One `LargePathChooser` per power-of-two size class: which copy is cheaper
/// depends on the size too (measured back to back here: the pipelined copy
/// ahead at 1 MiB, single copy at 4 MiB), and a sweep of sizes would
/// otherwise teach the 4 MiB messages what the 512 KiB ones cost.
public struct LargePathChoosers: Sendable, Equatable {
    /// Classes from 2^18 (256 KiB) to 2^26 (64 MiB) and above.
    public static let smallestShift = 18
    public static let classes = 9
    private var choosers: [LargePathChooser]

    public init(exploreInterval: UInt64 = 100_000_000) {
        choosers = Array(repeating: LargePathChooser(exploreInterval: exploreInterval), count: Self.classes)
    }

    /// The class of a message of `bytes` (> 0).
    public static func sizeClass(_ bytes: Int) -> Int {
        let shift = Int.bitWidth - 1 - max(bytes, 1).leadingZeroBitCount
        return min(max(shift - smallestShift, 0), classes - 1)
    }

    public subscript(bytes bytes: Int) -> LargePathChooser {
        get { choosers[Self.sizeClass(bytes)] }
        set { choosers[Self.sizeClass(bytes)] = newValue }
    }
}
