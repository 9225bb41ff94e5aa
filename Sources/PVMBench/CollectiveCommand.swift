import ArgumentParser
import Foundation

/// The group operations `pvmbench collective` measures.
public enum CollectiveOperation: String, CaseIterable, ExpressibleByArgument, Sendable, Codable {
    case barrier, bcast, reduce
}

/// The command line of `pvmbench collective` (parsed on its own by tests
/// and by library callers; the driver is `CollectiveDriver`).
public struct CollectiveOptions: ParsableArguments, Sendable {
    /// Group sizes the benchmark accepts: the measuring task and at least
    /// one other, up to what one host's daemon is sensibly asked to run.
    public static let taskRange = 2...64

    @Argument(help: ArgumentHelp("The operation: \(CollectiveOperation.allCases.map(\.rawValue).joined(separator: "|")).", valueName: "operation"))
    public var operation: CollectiveOperation

    @Option(help: ArgumentHelp("Tasks in the group, the measuring one included (\(taskRange.lowerBound)...\(taskRange.upperBound)).", valueName: "n"))
    public var tasks = 2

    @OptionGroup public var common: CommonOptions

    public init() {}

    public func validate() throws {
        try check()
    }

    /// What this build can measure and what makes sense for the operation.
    /// Also called by the driver, for library callers that build options
    /// without parsing.
    public func check() throws {
        guard common.sendMode == .pack else {
            throw ValidationError("--send-mode is for pingpong, bw and bibw; collective measures the group calls")
        }
        guard Self.taskRange.contains(tasks) else {
            throw ValidationError("--tasks must be \(Self.taskRange.lowerBound)...\(Self.taskRange.upperBound) (the measuring task and at least one other), not \(tasks)")
        }
        if common.zeroCopy { throw ValidationError("collective does not take --zero-copy (it measures the task library's messages)") }
        guard common.api != .transport else {
            throw ValidationError("collective measures the group calls: use --api pvm (the default) or --api c, not --api transport")
        }
        try common.checkAvailable()
        switch operation {
        case .barrier:
            if common.sweep.sizes != nil || common.sweep.range != nil {
                throw ValidationError("a barrier carries no message: --sizes and -m do not apply to collective barrier")
            }
            if common.checkData { throw ValidationError("-c checks message data, and a barrier carries none: drop -c for collective barrier") }
            if common.transport != .auto && common.transport != .shm {
                throw ValidationError("a barrier carries no message, so the message path does not apply: a group on one host meets in shared memory, one across hosts (--hosts) at the group server; drop --transport \(common.transport.rawValue)")
            }
        case .reduce:
            let sizes = try common.sweep.messageSizes(default: CollectiveDriver.defaultSizes)
            if let bad = sizes.first(where: { $0 % 8 != 0 }) {
                throw ValidationError("collective reduce sums doubles: every size must be a multiple of 8 bytes, not \(bad)")
            }
        case .bcast:
            break
        }
    }

    /// The options checked (as parsing checks them, for options built
    /// without parsing) and the plan, a refusal as a BenchError.
    func checkedPlan() throws -> [CollectiveStep] {
        do {
            try check()
            return try plan()
        } catch let error as ValidationError {
            throw BenchError(error.message)
        }
    }

    /// What to measure, in order: bytes per operation (0 for the barrier),
    /// measured and warm-up iterations. Every member runs the same plan.
    public func plan() throws -> [CollectiveStep] {
        if operation == .barrier {
            let (i, x) = CollectiveDriver.defaultCounts(bytes: 0)
            return [CollectiveStep(bytes: 0, iterations: common.sweep.iterations ?? i, warmup: common.sweep.warmup ?? x)]
        }
        return try common.sweep.messageSizes(default: CollectiveDriver.defaultSizes).map { size in
            let (i, x) = CollectiveDriver.defaultCounts(bytes: size)
            return CollectiveStep(bytes: size, iterations: common.sweep.iterations ?? i, warmup: common.sweep.warmup ?? x)
        }
    }
}

/// One size of a collective measurement.
public struct CollectiveStep: Equatable, Sendable {
    public var bytes: Int
    public var iterations: Int
    public var warmup: Int

    public init(bytes: Int, iterations: Int, warmup: Int) {
        self.bytes = bytes
        self.iterations = iterations
        self.warmup = warmup
    }
}

/// `pvmbench collective barrier|bcast|reduce`.
struct Collective: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "collective",
        abstract: "Time per group operation (barrier, broadcast, reduce) among --tasks tasks of this host (or of two, --hosts).",
        discussion: """
            This task enrolls, joins a new group as instance 0 (the root), spawns --tasks - 1 copies of \
            pvmbench-task (beside pvmbench) on this host, which join it too, and every member freezes the \
            group. Each size then runs -x warm-up and -i measured iterations on every member. Starts a local \
            virtual machine if none runs, and stops what it started. With --hosts A,B the root runs on A (this \
            host) and the other members on B: the group spans two hosts, its barriers meet at the group server \
            (path daemon) and its messages take the path between the hosts (tcp, or daemon).

            barrier: the root records the time between the completions of consecutive barriers, one clock \
            read per barrier (about 40 ns on a 2-CPU VM). The samples add up to the loop's wall time, so the \
            mean is OSU's osu_barrier figure. Not batched: on such a VM a loop of barriers with no clock read \
            took as long per barrier or longer (the two arrivals collide), so the read does not inflate it.

            bcast (OSU's osu_bcast method): every iteration starts with a barrier that is not timed; then \
            each member times its own part: the root from initsend through pack and pvm_bcast of a message of \
            the size, each other member from the barrier's end until it has received and unpacked that \
            message. The sample of an iteration is the mean of the members' times (so the mean of the samples \
            is OSU's "Avg Latency"); p50 and p99 are over iterations.

            reduce: the same method around pvm_reduce with PvmSum of size/8 doubles to instance 0 (sizes \
            must be multiples of 8): a binomial tree, so the root combines log2(N) messages.

            CPU(ns/op) is the root's thread CPU time over the measured iterations divided by their number; \
            for bcast and reduce it includes the untimed barrier of each iteration. MB/s is bytes over the \
            mean time per operation. Default sizes for bcast and reduce: 8 B, 1 KiB, 16 KiB, 128 KiB, 1 MiB. \
            -c fills each broadcast with a pattern per iteration that every member checks, and gives every \
            reduce inputs whose sum the root checks. With --tasks above the CPU count the members take turns \
            on the CPUs (the barrier sleeps instead of spinning), and times grow accordingly.

            --api c: the same through libpvm3's C calls at every member (pvm_joingroup, pvm_barrier, \
            pvm_bcast, pvm_reduce with PvmSum), the root this process and the other members the C program \
            pvmbench-ctask, on this host.
            """)

    @OptionGroup var options: CollectiveOptions

    func run() throws {
        let result = options.common.api == .c
            ? try CLibraryDriver.collective(options, ownExecutable: ownExecutable(), progress: showsProgress())
            : try CollectiveDriver.run(options, peerExecutable: TaskLibraryDriver.peerExecutable(besides: ownExecutable()),
                                       progress: showsProgress())
        try finishRun(result, options.common, what: "a member received different data than was sent")
    }
}
