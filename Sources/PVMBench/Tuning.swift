#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Foundation
import PVMSystem
import PVMTransport
import Synchronization

// `pvmbench tune`: measure this machine, compute the shared-memory
// transport's thresholds from the measurements, write them to the tune file
// (TRANSPORT-NOTES rule 4, "a measured protocol ladder").
//
// What is measured, in this order (each step uses what the previous chose):
//
//  1. Machine facts: memcpy rate in and out of cache, the cost of a trivial
//     system call and of ringing an eventfd doorbell, the wake-up latency of
//     a thread sleeping in epoll_wait on its doorbell (the transport's own
//     way to sleep), the one-way time of a cache line between two cores,
//     and whether process_vm_readv works at all (`CrossMemoryAttach`).
//  2. Spin time, from the wake-up latency (a formula: see `spinTime`).
//  3. Pipeline piece: the pipelined path, between two processes, at large
//     sizes, for each candidate piece.
//  4. The crossovers, measured with the transport itself between two
//     processes (ping-pong with this program's `peer` subcommand, the far
//     end of `pingpong --api transport`), each path forced through the
//     PVM_SHM_* variables that both ends read: inline against the
//     large-message path, single copy against pipelined. Whether single
//     copy is permitted between two processes is what the transport's
//     handshake found.
//
// A formula stands in for a measurement only beyond the sizes measured:
// when single copy still wins at the largest size, the two paths' fixed
// and per-byte costs (fitted on the two largest sizes, UCX-style) say
// whether and where pipelining would overtake it.

/// memcpy throughput at one size.
public struct MemcpyRate: Codable, Sendable, Equatable {
    public var bytes: Int
    public var gbytesPerS: Double

    enum CodingKeys: String, CodingKey {
        case bytes
        case gbytesPerS = "gbytes_per_s"
    }
}

/// One-way p50 times of one message size through each path of the
/// transport (nil: not measured, or not available).
public struct TransportTiming: Codable, Sendable, Equatable {
    public var bytes: Int
    public var inlineNs: Double?
    public var singleCopyNs: Double?
    public var pipelinedNs: Double?

    public init(bytes: Int, inlineNs: Double? = nil, singleCopyNs: Double? = nil, pipelinedNs: Double? = nil) {
        self.bytes = bytes
        self.inlineNs = inlineNs
        self.singleCopyNs = singleCopyNs
        self.pipelinedNs = pipelinedNs
    }

    enum CodingKeys: String, CodingKey {
        case bytes
        case inlineNs = "inline_ns"
        case singleCopyNs = "single_copy_ns"
        case pipelinedNs = "pipelined_ns"
    }
}

/// One-way p50 of the pipelined path at one size with one piece size.
public struct PieceTiming: Codable, Sendable, Equatable {
    public var piece: Int
    public var bytes: Int
    public var ns: Double

    public init(piece: Int, bytes: Int, ns: Double) {
        self.piece = piece
        self.bytes = bytes
        self.ns = ns
    }
}

/// Everything `tune` measured.
public struct TuneFacts: Codable, Sendable {
    public var memcpy: [MemcpyRate] = []
    /// One trivial system call (getppid), nanoseconds.
    public var syscallNs: Double = 0
    /// Ringing an eventfd doorbell (one 8-byte write), nanoseconds.
    public var eventfdWriteNs: Double = 0
    /// From ringing a sleeping thread's doorbell to that thread running
    /// (out of epoll_wait, doorbell drained): half a round trip, p50.
    public var wakeupNs: Double = 0
    /// One cache line from one core to another: half a round trip of two
    /// spinning threads; nil with a single CPU.
    public var cachelineNs: Double? = nil
    /// process_vm_readv on this process: "permitted", or why not.
    public var cmaSelf: String = ""
    /// Whether the transport's handshake found single copy permitted
    /// between two processes of this user.
    public var cmaBetweenProcesses: Bool = false
    /// The ring the transport was measured with (the effective one).
    public var ringCapacity: Int = 0
    /// The largest inline message with that ring.
    public var maxInline: Int = 0
    /// The spin time and piece the crossovers were measured with.
    public var measuredWithSpinNs: UInt64 = 0
    public var measuredWithPiece: Int = 0
    public var transport: [TransportTiming] = []
    public var pieces: [PieceTiming] = []

    public init() {}

    enum CodingKeys: String, CodingKey {
        case memcpy, transport, pieces
        case syscallNs = "syscall_ns"
        case eventfdWriteNs = "eventfd_write_ns"
        case wakeupNs = "wakeup_ns"
        case cachelineNs = "cacheline_ns"
        case cmaSelf = "cma_self"
        case cmaBetweenProcesses = "cma_between_processes"
        case ringCapacity = "ring_bytes"
        case maxInline = "max_inline_bytes"
        case measuredWithSpinNs = "measured_with_spin_ns"
        case measuredWithPiece = "measured_with_piece"
    }
}

/// One computed threshold beside its built-in default.
public struct TuneThreshold: Codable, Sendable, Equatable {
    /// Short name: eager, single_copy, piece, spin.
    public var name: String
    /// The environment variable and tune-file key.
    public var key: ShmSettingKey
    /// nil: not computed on this machine (see `basis`).
    public var value: Int?
    public var defaultValue: Int
    /// How the value was arrived at.
    public var basis: String

    public var differs: Bool? { value.map { $0 != defaultValue } }

    enum CodingKeys: String, CodingKey {
        case name, key, value, basis, differs
        case defaultValue = "default"
    }

    public init(name: String, key: ShmSettingKey, value: Int?, defaultValue: Int, basis: String) {
        self.name = name
        self.key = key
        self.value = value
        self.defaultValue = defaultValue
        self.basis = basis
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        let keyName = try c.decode(String.self, forKey: .key)
        guard let k = ShmSettingKey(rawValue: keyName) else {
            throw DecodingError.dataCorruptedError(forKey: .key, in: c, debugDescription: "unknown key \(keyName)")
        }
        key = k
        value = try c.decodeIfPresent(Int.self, forKey: .value)
        defaultValue = try c.decode(Int.self, forKey: .defaultValue)
        basis = try c.decode(String.self, forKey: .basis)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(key.rawValue, forKey: .key)
        try c.encode(value, forKey: .value)
        try c.encode(defaultValue, forKey: .defaultValue)
        try c.encode(basis, forKey: .basis)
        try c.encode(differs, forKey: .differs)
    }
}

/// The result of one `tune` run: the JSON object of `--format json`.
public struct TuneReport: Codable, Sendable {
    public var benchmark = "tune"
    public var machine: MachineInfo
    /// "release" or "debug": the thresholds belong to the build measured.
    public var build: String
    public var seconds: Double
    public var measured: TuneFacts
    public var thresholds: [TuneThreshold]
    /// The 1-minute load average when tune started: well above zero, other
    /// work shared the CPUs with the measurements (nil: not known).
    public var loadAverage: Double?
    /// The share of the machine's CPU time (all CPUs, steal included) that
    /// went to other work than tune and its peer processes while it ran
    /// (nil: not known).
    public var otherShare: Double?
    /// Where the configuration was (or, with --dry-run, would be) written.
    public var file: String?
    public var written: Bool

    public init(machine: MachineInfo, build: String, seconds: Double, measured: TuneFacts, thresholds: [TuneThreshold],
                loadAverage: Double? = nil, otherShare: Double? = nil, file: String? = nil, written: Bool = false) {
        self.machine = machine
        self.build = build
        self.seconds = seconds
        self.measured = measured
        self.thresholds = thresholds
        self.loadAverage = loadAverage
        self.otherShare = otherShare
        self.file = file
        self.written = written
    }

    /// A cache line slower than this between two spinning threads means
    /// they could not run at once: other work held the CPUs.
    public static let busyCachelineNanoseconds = 1000.0

    /// More than this share of the machine's CPU time going to other work
    /// while tune ran makes the run a busy one.
    public static let busyOtherShare = 0.15

    /// Whether other work shared the CPUs with the measurements: a load
    /// average above half the CPUs when tune started, other work taking
    /// more than `busyOtherShare` of the CPU time while it ran, or a
    /// cache-line transfer so slow that the two threads cannot have run at
    /// once. The figures, and the thresholds from them, are then skewed.
    public var machineWasBusy: Bool {
        (loadAverage ?? 0) > Double(max(machine.cpus, 1)) / 2 || (otherShare ?? 0) > Self.busyOtherShare
            || (measured.cachelineNs ?? 0) > Self.busyCachelineNanoseconds
    }

    /// Why `machineWasBusy`, for the note (empty when it was not).
    public var busyReasons: [String] {
        var why: [String] = []
        if let load = loadAverage, load > Double(max(machine.cpus, 1)) / 2 {
            why.append("load average \(String(format: "%.2f", load)) on \(machine.cpus) CPUs when tune started")
        }
        if let other = otherShare, other > Self.busyOtherShare {
            why.append("other work took \(Int((other * 100).rounded())) % of the CPU time while tune ran")
        }
        if let line = measured.cachelineNs, line > Self.busyCachelineNanoseconds {
            why.append("two spinning threads could not run at once")
        }
        return why
    }

    /// The 1-minute load average (/proc/loadavg).
    public static func currentLoadAverage() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return nil }
        return text.split(separator: " ").first.flatMap { Double($0) }
    }

    enum CodingKeys: String, CodingKey {
        case benchmark, machine, build, seconds, measured, thresholds, file, written
        case loadAverage = "load_average"
        case otherShare = "other_cpu_share"
        case machineWasBusy = "machine_was_busy"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        benchmark = try c.decode(String.self, forKey: .benchmark)
        machine = try c.decode(MachineInfo.self, forKey: .machine)
        build = try c.decode(String.self, forKey: .build)
        seconds = try c.decode(Double.self, forKey: .seconds)
        measured = try c.decode(TuneFacts.self, forKey: .measured)
        thresholds = try c.decode([TuneThreshold].self, forKey: .thresholds)
        loadAverage = try c.decodeIfPresent(Double.self, forKey: .loadAverage)
        otherShare = try c.decodeIfPresent(Double.self, forKey: .otherShare)
        file = try c.decodeIfPresent(String.self, forKey: .file)
        written = try c.decode(Bool.self, forKey: .written)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(benchmark, forKey: .benchmark)
        try c.encode(machine, forKey: .machine)
        try c.encode(build, forKey: .build)
        try c.encode(seconds, forKey: .seconds)
        try c.encode(measured, forKey: .measured)
        try c.encode(thresholds, forKey: .thresholds)
        try c.encode(loadAverage, forKey: .loadAverage)
        try c.encode(otherShare, forKey: .otherShare)
        try c.encode(machineWasBusy, forKey: .machineWasBusy)
        try c.encode(file, forKey: .file)
        try c.encode(written, forKey: .written)
    }
}

/// CPU time spent by the whole machine and by this process with its
/// children (the peers, once reaped), in seconds: two readings bracket a
/// run, and what the machine spent beyond ours went to other work.
public struct CPUUse: Sendable {
    /// Busy time of all CPUs (/proc/stat: user, nice, system, irq,
    /// softirq and steal, which a VM's neighbours take).
    public var machine: Double
    /// This process and its reaped children (getrusage).
    public var ours: Double

    public static func now() -> CPUUse? {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
              let line = text.split(separator: "\n").first, line.hasPrefix("cpu ") else { return nil }
        let ticks = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard ticks.count >= 8 else { return nil }
        // user nice system idle iowait irq softirq steal
        let busy = ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6] + ticks[7]
        let hz = Double(max(sysconf(Int32(_SC_CLK_TCK)), 1))
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        var me = rusage(), children = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &me)
        getrusage(__rusage_who_t(RUSAGE_CHILDREN.rawValue), &children)
        let ours = seconds(me.ru_utime) + seconds(me.ru_stime) + seconds(children.ru_utime) + seconds(children.ru_stime)
        return CPUUse(machine: busy / hz, ours: ours)
    }

    /// The share of `cpus` CPUs over `elapsed` seconds that went to other
    /// work between `start` and `end`.
    public static func otherShare(from start: CPUUse, to end: CPUUse, elapsed: Double, cpus: Int) -> Double {
        let other = (end.machine - start.machine) - (end.ours - start.ours)
        return max(0, other) / max(elapsed * Double(max(cpus, 1)), 1e-9)
    }
}

/// Where one mechanism stops beating the next one up.
package enum Crossover: Equatable {
    /// The smaller-size mechanism wins (or ties) at every size measured.
    case firstThroughout
    /// The other one wins at every size measured.
    case secondThroughout
    /// The first wins up to `low` (measured), the second from `high` on;
    /// `at` is where the two lines of cost meet between them.
    case between(low: Int, high: Int, at: Int)
}

/// The measurements and the decisions of `pvmbench tune`.
public enum Tuner {
    /// How long and how carefully to measure. Every measurement stops at
    /// a count or a time budget, whichever comes first (a busy machine
    /// makes each round slower, not the whole run endless).
    public struct Plan: Sendable {
        /// Rounds of every transport measurement, alternating the order of
        /// the paths; each size keeps the best p50 of its rounds.
        public var rounds: Int
        /// Ping-pongs per size (at most), and warm-up ones.
        public var iterations: Int
        public var warmup: Int
        /// Time per size (warm-up included) after which a size stops
        /// early, once it has `minimumSamples`; at twice this it stops anyway.
        public var nanosecondsPerSize: UInt64
        public var minimumSamples: Int
        /// Ping-pong of the largest size at the start of each peer process,
        /// untimed: the first tenth of a second of a new pair is often much
        /// slower (placement on the CPUs settling, first touches), sometimes
        /// for every message of the first size measured.
        public var sessionWarmupNanoseconds: UInt64
        /// Wake-up round trips (at most) and their time budget.
        public var wakeupRounds: Int
        public var wakeupNanoseconds: UInt64
        /// Cache-line round trips per batch (at most) and each batch's budget.
        public var cachelineRounds: Int
        public var cachelineNanoseconds: UInt64
        /// Time spent on each memcpy size.
        public var memcpyNanoseconds: UInt64

        /// About 25 s on an idle 2-core VM. Three rounds: a new pair of
        /// processes is now and then slow for its whole life (placement),
        /// and each size keeps its best round.
        public static let standard = Plan(rounds: 3, iterations: 4000, warmup: 400, nanosecondsPerSize: 200_000_000, minimumSamples: 100,
                                          sessionWarmupNanoseconds: 150_000_000,
                                          wakeupRounds: 5000, wakeupNanoseconds: 500_000_000,
                                          cachelineRounds: 200_000, cachelineNanoseconds: 100_000_000, memcpyNanoseconds: 100_000_000)
        /// A few seconds: for tests and a first look (noisier thresholds).
        public static let quick = Plan(rounds: 1, iterations: 300, warmup: 30, nanosecondsPerSize: 20_000_000, minimumSamples: 10,
                                       sessionWarmupNanoseconds: 30_000_000,
                                       wakeupRounds: 300, wakeupNanoseconds: 100_000_000,
                                       cachelineRounds: 20_000, cachelineNanoseconds: 20_000_000, memcpyNanoseconds: 10_000_000)
    }

    /// Sizes whose memcpy rate is reported: in L1, in L2, in a large last
    /// level cache, and well beyond any cache.
    static let memcpySizes = [4 << 10, 64 << 10, 1 << 20, 64 << 20]
    /// Candidate pieces of the pipelined copy (a larger ring adds a quarter ring).
    static let pieceCandidates = [16 << 10, 32 << 10, 64 << 10]
    /// Sizes at which the pieces are compared.
    static let pieceSizes = [256 << 10, 1 << 20, 4 << 20]
    /// Sizes above the inline range at which single copy and pipelining are compared.
    static let largeSizes = [64 << 10, 128 << 10, 256 << 10, 512 << 10, 1 << 20, 2 << 20, 4 << 20]
    /// A mechanism within this fraction of the other counts as a tie, and a
    /// tie goes to the simpler one (inline over a large path; single copy,
    /// which keeps one CPU busy, over pipelining, which keeps two).
    static let tieTolerance = 0.03
    /// The largest single-copy limit written (the largest message a peer
    /// accepts by default).
    static let singleCopyCeiling = 1 << 30

    /// Sizes at which inline and the large path are compared: up to the
    /// largest inline message of `ring`.
    static func eagerSizes(maxInline: Int) -> [Int] {
        [1 << 10, 4 << 10, 8 << 10, 16 << 10, 24 << 10, 32 << 10, 48 << 10].filter { $0 < maxInline } + [maxInline]
    }

    // MARK: Decisions (pure)

    /// Spin this long before sleeping: ten times the wake-up latency, in
    /// whole microseconds, between 2 us and 1 ms. A wait that ends within
    /// the spin is caught by polling; past it, the sleep's wake-up adds at
    /// most a tenth to the wait (rule 6: spin briefly, then sleep).
    package static func spinTime(wakeupNs: Double) -> UInt64 {
        let microseconds = (10 * wakeupNs / 1000).rounded(.up)
        return UInt64(min(max(microseconds, 2), 1000)) * 1000
    }

    /// Where `second` overtakes `first`: points by ascending size. The
    /// first wins at a size if it is within `tieTolerance` of the second;
    /// the crossover is where the second wins from there on to the largest
    /// size (a noisy win in between does not count), placed by linear
    /// interpolation of the difference between the two bracketing sizes
    /// (costs are affine in the size on each path).
    package static func crossover(_ points: [(bytes: Int, first: Double, second: Double)]) -> Crossover {
        guard !points.isEmpty else { return .firstThroughout }
        func margin(_ p: (bytes: Int, first: Double, second: Double)) -> Double { p.first - p.second * (1 + tieTolerance) }
        var start = points.count
        while start > 0 && margin(points[start - 1]) > 0 { start -= 1 }
        if start == points.count { return .firstThroughout }
        if start == 0 { return .secondThroughout }
        let low = points[start - 1], high = points[start]
        let d0 = margin(low), d1 = margin(high)  // d0 <= 0 < d1
        let at = Double(low.bytes) + Double(high.bytes - low.bytes) * (-d0) / (d1 - d0)
        return .between(low: low.bytes, high: high.bytes, at: min(high.bytes - 1, max(low.bytes, Int(at))))
    }

    /// Single copy against pipelining, at each size both were measured.
    static func singleCopyPoints(_ timings: [TransportTiming]) -> [(bytes: Int, first: Double, second: Double)] {
        timings.compactMap { t in t.singleCopyNs.flatMap { s in t.pipelinedNs.map { (bytes: t.bytes, first: s, second: $0) } } }
    }

    /// Inline against the large-message path the runtime would take
    /// (single copy up to `singleCopy` when permitted, else pipelined).
    static func eagerPoints(_ timings: [TransportTiming], maxInline: Int, singleCopy: Int?) -> [(bytes: Int, first: Double, second: Double)] {
        var points: [(bytes: Int, first: Double, second: Double)] = []
        for t in timings where t.bytes <= maxInline {
            guard let inline = t.inlineNs else { continue }
            let large = singleCopy.flatMap { t.bytes <= $0 ? t.singleCopyNs : nil } ?? t.pipelinedNs
            if let large { points.append((t.bytes, inline, large)) }
        }
        return points
    }

    /// The single-copy limit: where pipelining overtakes single copy.
    package static func singleCopyLimit(_ timings: [TransportTiming]) -> (value: Int, basis: String) {
        let points = singleCopyPoints(timings)
        switch crossover(points) {
        case .secondThroughout:
            return (0, "pipelining is faster than single copy at every size measured (from \(sizeText(points.first?.bytes ?? 0))): single copy is not used")
        case .between(let low, let high, let at):
            let value = max(low, at & ~4095)
            return (value, "single copy is faster up to \(sizeText(low)), pipelining from \(sizeText(high)); they meet near \(sizeText(at))")
        case .firstThroughout:
            // Beyond the sizes measured: each path's cost as fixed + per byte,
            // fitted on the two largest sizes.
            guard points.count >= 2 else { return (singleCopyCeiling, "single copy is faster at every size measured") }
            let a = points[points.count - 2], b = points[points.count - 1]
            let span = Double(b.bytes - a.bytes)
            let (singlePerByte, pipePerByte) = ((b.first - a.first) / span, (b.second - a.second) / span)
            let (singleFixed, pipeFixed) = (b.first - singlePerByte * Double(b.bytes), b.second - pipePerByte * Double(b.bytes))
            let largest = sizeText(b.bytes)
            if pipePerByte < singlePerByte {
                let meet = (pipeFixed - singleFixed) / (singlePerByte - pipePerByte)
                if meet < Double(singleCopyCeiling) {
                    let value = max(b.bytes, Int(meet) & ~4095)
                    return (value, "single copy is faster at every size measured (to \(largest)); per-byte costs fitted there put the crossover near \(sizeText(Int(meet)))")
                }
            }
            return (singleCopyCeiling, "single copy is faster at every size measured (to \(largest)), and its per-byte cost is no higher: single copy up to \(sizeText(singleCopyCeiling))")
        }
    }

    /// The eager limit: where the large-message path the runtime would take
    /// (single copy up to `singleCopyLimit` when permitted, else pipelined)
    /// overtakes inline.
    package static func eagerLimit(_ timings: [TransportTiming], maxInline: Int, singleCopy: Int?) -> (value: Int, basis: String) {
        let points = eagerPoints(timings, maxInline: maxInline, singleCopy: singleCopy)
        let path = singleCopy.map { $0 > 0 ? "single copy" : "pipelining" } ?? "pipelining"
        switch crossover(points) {
        case .firstThroughout:
            return (maxInline, "inline is faster than \(path) at every size up to the largest inline message (\(maxInline) B with this ring)")
        case .secondThroughout:
            let smallest = points.first?.bytes ?? 0
            return (smallest, "\(path) is faster than inline at every size measured: the limit is the smallest size measured")
        case .between(let low, let high, let at):
            return (max(low, at & ~63), "inline is faster up to \(sizeText(low)), \(path) from \(sizeText(high)); they meet near \(sizeText(at))")
        }
    }

    /// The pipeline piece: the candidate with the lowest times relative to
    /// the best at each size; the default unless another is more than a
    /// tie's margin better.
    package static func bestPiece(_ timings: [PieceTiming], default fallback: Int) -> (value: Int, basis: String) {
        let sizes = Set(timings.map(\.bytes))
        var best: [Int: Double] = [:]
        for t in timings { best[t.bytes] = min(best[t.bytes] ?? .infinity, t.ns) }
        var score: [Int: Double] = [:]
        for piece in Set(timings.map(\.piece)) {
            let mine = timings.filter { $0.piece == piece }
            guard Set(mine.map(\.bytes)) == sizes else { continue }
            score[piece] = mine.map { $0.ns / best[$0.bytes]! }.reduce(0, +) / Double(mine.count)
        }
        guard let winner = score.min(by: { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }) else {
            return (fallback, "not measured")
        }
        let list = score.sorted { $0.key < $1.key }.map { "\(sizeText($0.key)) \(String(format: "%.2f", $0.value))" }.joined(separator: ", ")
        if let mine = score[fallback], mine <= winner.value * (1 + tieTolerance) {
            return (fallback, "the default is within \(Int(tieTolerance * 100)) % of the best (time relative to the best per size: \(list))")
        }
        return (winner.key, "fastest pipelined copy over \(sizes.sorted().map(sizeText).joined(separator: ", ")) (time relative to the best per size: \(list))")
    }

    /// The timings with upward noise taken out: on one path a message costs
    /// no less than a smaller one, and a busy moment only ever adds time, so
    /// each size keeps at most the time of any larger size on its path.
    package static func monotone(_ timings: [TransportTiming]) -> [TransportTiming] {
        var out = timings.sorted { $0.bytes < $1.bytes }
        for path in [\TransportTiming.inlineNs, \.singleCopyNs, \.pipelinedNs] {
            var least = Double.infinity
            for i in out.indices.reversed() {
                guard let v = out[i][keyPath: path] else { continue }
                least = min(least, v)
                out[i][keyPath: path] = least
            }
        }
        return out
    }

    /// Every threshold from the facts, beside the built-in defaults. The
    /// crossovers are found on the `monotone` timings.
    public static func thresholds(_ facts: TuneFacts) -> [TuneThreshold] {
        let defaults = ShmConfiguration()
        let transport = monotone(facts.transport)
        var out: [TuneThreshold] = []
        var singleCopy: Int? = nil
        let sc: TuneThreshold
        if facts.cmaBetweenProcesses {
            let (value, basis) = singleCopyLimit(transport)
            singleCopy = value
            sc = TuneThreshold(name: "single_copy", key: .singleCopyMax, value: value, defaultValue: defaults.singleCopyLimit, basis: basis)
        } else {
            sc = TuneThreshold(name: "single_copy", key: .singleCopyMax, value: nil, defaultValue: defaults.singleCopyLimit,
                               basis: "single copy is not permitted between processes here (\(facts.cmaSelf)): large messages are pipelined")
        }
        let (eager, eagerBasis) = eagerLimit(transport, maxInline: facts.maxInline, singleCopy: singleCopy)
        out.append(TuneThreshold(name: "eager", key: .eager, value: eager, defaultValue: defaults.eagerLimit, basis: eagerBasis))
        out.append(sc)
        let (piece, pieceBasis) = bestPiece(facts.pieces, default: defaults.pipelinePiece)
        out.append(TuneThreshold(name: "piece", key: .piece, value: piece, defaultValue: defaults.pipelinePiece, basis: pieceBasis))
        let spin = spinTime(wakeupNs: facts.wakeupNs)
        out.append(TuneThreshold(name: "spin", key: .spin, value: Int(spin), defaultValue: Int(defaults.spinNanoseconds),
                                 basis: "ten times the wake-up latency (\(String(format: "%.2f", facts.wakeupNs / 1000)) us), rounded up to a microsecond, within 2 us...1 ms"))
        return out
    }

    // MARK: Measuring

    /// Measures this machine. `peerExecutable` is this program (its `peer`
    /// subcommand is the far end of the transport measurements); `progress`
    /// hears what is being measured.
    public static func measure(plan: Plan, peerExecutable: String, progress: (String) -> Void) throws -> TuneFacts {
        var facts = TuneFacts()
        progress("memcpy")
        facts.memcpy = memcpySizes.map { MemcpyRate(bytes: $0, gbytesPerS: memcpyRate(bytes: $0, nanoseconds: plan.memcpyNanoseconds)) }
        progress("system call and doorbell")
        facts.syscallNs = syscallCost()
        facts.eventfdWriteNs = try eventfdWriteCost()
        progress("wake-up")
        facts.wakeupNs = try wakeupLatency(rounds: plan.wakeupRounds, nanoseconds: plan.wakeupNanoseconds)
        progress("cache line")
        facts.cachelineNs = try cachelineTransfer(rounds: plan.cachelineRounds, nanoseconds: plan.cachelineNanoseconds)
        switch CrossMemoryAttach.probeSelf() {
        case .readable: facts.cmaSelf = "process_vm_readv works"
        case .refused(let code): facts.cmaSelf = "process_vm_readv fails: \(String(cString: strerror(code)))"
        case .mismatch: facts.cmaSelf = "process_vm_readv read back the wrong value"
        }

        // The transport as this process would configure it (the file and
        // the environment), but the thresholds under test forced.
        let effective = ShmConfiguration.fromEnvironment()
        facts.ringCapacity = effective.ringCapacity
        facts.maxInline = ShmConfiguration.largestInline(ringCapacity: effective.ringCapacity)
        let spin = spinTime(wakeupNs: facts.wakeupNs)
        facts.measuredWithSpinNs = spin
        let rig = TransportRig(ring: facts.ringCapacity, spin: spin, peer: peerExecutable, plan: plan)

        // The pipeline piece first: the crossovers are measured with it.
        var candidates = pieceCandidates
        if facts.ringCapacity / 4 > candidates.last! { candidates.append(facts.ringCapacity / 4) }
        var pieceBest: [Int: [Int: Double]] = [:]
        for round in 0..<plan.rounds {
            for piece in round % 2 == 0 ? candidates : candidates.reversed() {
                progress("pipeline piece \(sizeText(piece)) (round \(round + 1) of \(plan.rounds))")
                let r = try rig.pingpong(.pipelined, sizes: pieceSizes, piece: piece)
                for (bytes, ns, _) in r { pieceBest[piece, default: [:]][bytes] = min(pieceBest[piece]?[bytes] ?? .infinity, ns) }
            }
        }
        facts.pieces = pieceBest.flatMap { piece, sizes in sizes.map { PieceTiming(piece: piece, bytes: $0.key, ns: $0.value) } }
            .sorted { ($0.piece, $0.bytes) < ($1.piece, $1.bytes) }
        let piece = bestPiece(facts.pieces, default: ShmConfiguration().pipelinePiece).value
        facts.measuredWithPiece = piece

        // The crossovers.
        let small = eagerSizes(maxInline: facts.maxInline)
        var best: [Int: TransportTiming] = [:]
        func keep(_ results: [(Int, Double, String)], _ path: WritableKeyPath<TransportTiming, Double?>) {
            for (bytes, ns, _) in results {
                var t = best[bytes] ?? TransportTiming(bytes: bytes)
                t[keyPath: path] = min(t[keyPath: path] ?? .infinity, ns)
                best[bytes] = t
            }
        }
        var cma: Bool? = nil
        /// Every path over its sizes, `plan.rounds` times, alternating the order.
        func sweep(inline: [Int], large: [Int], what: String) throws {
            for round in 0..<plan.rounds {
                let modes: [TransportRig.Mode] = round % 2 == 0 ? [.inline, .singleCopy, .pipelined] : [.pipelined, .singleCopy, .inline]
                for mode in modes {
                    let label = "\(mode), \(what) (round \(round + 1) of \(plan.rounds))"
                    switch mode {
                    case .inline:
                        guard !inline.isEmpty else { continue }
                        progress("transport: " + label)
                        keep(try rig.pingpong(.inline, sizes: inline, piece: piece), \.inlineNs)
                    case .singleCopy:
                        guard cma != false, !large.isEmpty else { continue }
                        progress("transport: " + label)
                        let r = try rig.pingpong(.singleCopy, sizes: large, piece: piece)
                        // The handshake decides: without permission these went pipelined.
                        cma = r.allSatisfy { $0.2 == ShmPath.singleCopy.rawValue }
                        guard cma == true else { continue }
                        keep(r, \.singleCopyNs)
                    case .pipelined:
                        guard !large.isEmpty else { continue }
                        progress("transport: " + label)
                        keep(try rig.pingpong(.pipelined, sizes: large, piece: piece), \.pipelinedNs)
                    }
                }
            }
        }
        var timings: [TransportTiming] { monotone(Array(best.values)) }
        try sweep(inline: small, large: small + largeSizes, what: "ladder")
        // Where a crossover falls between two sizes far apart, measure
        // between them: a step in the cost (a ring that fills up, a cache
        // that overflows) is where it is, not where a straight line puts it.
        var singleCopy: Int? = nil
        if cma == true {
            if case .between(let low, let high, _) = crossover(singleCopyPoints(timings)), high - low > 16 << 10 {
                try sweep(inline: [], large: sizes(between: low, and: high, alignment: 4096), what: "between \(sizeText(low)) and \(sizeText(high))")
            }
            singleCopy = singleCopyLimit(timings).value
        }
        if case .between(let low, let high, _) = crossover(eagerPoints(timings, maxInline: facts.maxInline, singleCopy: singleCopy)), high - low > 1024 {
            let between = sizes(between: low, and: high, alignment: 64)
            try sweep(inline: between, large: between, what: "between \(sizeText(low)) and \(sizeText(high))")
        }
        facts.cmaBetweenProcesses = cma ?? false
        facts.transport = best.values.sorted { $0.bytes < $1.bytes }
        return facts
    }

    /// Three sizes evenly between `low` and `high` (exclusive), rounded down to `alignment`.
    package static func sizes(between low: Int, and high: Int, alignment: Int) -> [Int] {
        let step = (high - low) / 4
        return Array(Set((1...3).map { (low + $0 * step) & ~(alignment - 1) }.filter { $0 > low && $0 < high })).sorted()
    }

    /// Best of five timings of `memcpy` at `bytes`, in decimal GB/s.
    static func memcpyRate(bytes: Int, nanoseconds: UInt64) -> Double {
        let source = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 4096)
        let target = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 4096)
        defer { source.deallocate(); target.deallocate() }
        memset(source, 0x5A, bytes)
        memset(target, 0, bytes)
        // Size each timing from one copy, so every size gets about the same time.
        var t0 = Clock.monotonicNanoseconds()
        copy(target, source, bytes)
        let once = max(Clock.monotonicNanoseconds() - t0, 1)
        let repetitions = max(1, Int(nanoseconds / 5 / once))
        var bestNs = Double.infinity
        for _ in 0..<5 {
            t0 = Clock.monotonicNanoseconds()
            for _ in 0..<repetitions { copy(target, source, bytes) }
            bestNs = min(bestNs, Double(Clock.monotonicNanoseconds() - t0) / Double(repetitions))
        }
        return Double(bytes) / bestNs
    }

    /// memcpy behind an optimisation barrier: the copy's result is never
    /// read, and the optimizer must not drop it for that.
    @inline(never) @_optimize(none)
    static func copy(_ target: UnsafeMutableRawPointer, _ source: UnsafeRawPointer, _ bytes: Int) {
        memcpy(target, source, bytes)
    }

    /// getppid(2): a system call that does nothing (glibc does not cache it).
    static func syscallCost() -> Double {
        let n = 100_000
        var best = Double.infinity
        for _ in 0..<3 {
            let t0 = Clock.monotonicNanoseconds()
            for _ in 0..<n { _ = getppid() }
            best = min(best, Double(Clock.monotonicNanoseconds() - t0) / Double(n))
        }
        return best
    }

    /// Ringing a doorbell nobody sleeps on: the sender's share of a wake-up.
    static func eventfdWriteCost() throws -> Double {
        let bell = try Doorbell()
        let n = 50_000
        var best = Double.infinity
        for _ in 0..<3 {
            let t0 = Clock.monotonicNanoseconds()
            for _ in 0..<n { bell.ring() }
            best = min(best, Double(Clock.monotonicNanoseconds() - t0) / Double(n))
            bell.drain()
        }
        return best
    }

    /// Two threads, each sleeping in epoll_wait on its own doorbell, waking
    /// each other in turn: the p50 of half a round trip is the time from a
    /// ring to the sleeper running with its doorbell drained — what a
    /// message that finds its receiver asleep pays on top of the copy.
    static func wakeupLatency(rounds: Int, nanoseconds: UInt64) throws -> Double {
        let rig = try WakeupRig()
        let echo = try Worker {
            while true {
                rig.echoEpoll.wait(timeoutMilliseconds: 1000) { _, _ in }
                guard rig.echoBell.drain() else { continue }
                // Acquire: pairs with the release below; the ring that woke us came after it.
                if rig.stop.load(ordering: .acquiring) { return }
                rig.mainBell.ring()
            }
        }
        defer {
            // Release: published before the ring that wakes the other thread to see it.
            rig.stop.store(true, ordering: .releasing)
            rig.echoBell.ring()
            echo.join()
        }
        let warmup = max(rounds / 10, 10)
        var samples: [UInt64] = []
        samples.reserveCapacity(rounds)
        let started = Clock.monotonicNanoseconds()
        for round in 0..<(warmup + rounds) {
            let t0 = Clock.monotonicNanoseconds()
            rig.echoBell.ring()
            var waited = 0
            while !rig.mainBell.drain() {
                if rig.mainEpoll.wait(timeoutMilliseconds: 1000, { _, _ in }) == 0 {
                    waited += 1
                    if waited >= 5 { throw BenchError("wake-up measurement: the other thread did not answer for 5 s") }
                }
            }
            let t1 = Clock.monotonicNanoseconds()
            if round >= warmup { samples.append((t1 - t0) / 2) }
            if t1 - started > nanoseconds && samples.count >= 50 || t1 - started > 2 * nanoseconds && !samples.isEmpty { break }
        }
        samples.sort()
        return Double(samples[samples.count / 2])
    }

    /// Two threads bouncing one cache line, each spinning on the other's
    /// write (perf/cacheline-pingpong.c in Swift): half the round trip,
    /// best of three batches timed as a whole. nil with one CPU, where the
    /// two spinners would take turns on it instead.
    static func cachelineTransfer(rounds: Int, nanoseconds: UInt64) throws -> Double? {
        guard SystemProbe.availableCPUs() >= 2 else { return nil }
        let line = CacheLine()
        let stop = UInt64.max
        let echo = try Worker {
            var expect: UInt64 = 1
            var polls: UInt32 = 0
            let started = Clock.monotonicNanoseconds()
            while true {
                // Acquire: waits for the measuring thread's next odd value (or `stop`).
                let v = line.word.pointee.load(ordering: .acquiring)
                if v == stop { return }
                if v == expect {
                    // Release: the measuring thread may go on once it sees this.
                    line.word.pointee.store(expect + 1, ordering: .releasing)
                    expect += 2
                    continue
                }
                polls &+= 1
                // The measuring thread stores `stop` even when it gives up; a
                // bound on the wait is the backstop.
                if polls & 0xFFFFF == 0 && Clock.monotonicNanoseconds() - started > 60_000_000_000 { return }
            }
        }
        defer {
            // Release: the other thread may return once it sees this.
            line.word.pointee.store(stop, ordering: .releasing)
            echo.join()
        }
        var value: UInt64 = 0
        var best = Double.infinity
        for batch in 0..<4 {
            // The first batch warms up (and brings the two threads onto their CPUs).
            let n = batch == 0 ? max(rounds / 10, 1000) : rounds
            let t0 = Clock.monotonicNanoseconds()
            var done = 0
            var late = false
            while done < n && !late {
                // Release/acquire as a message would use them; the value is the whole payload.
                line.word.pointee.store(value + 1, ordering: .releasing)
                var polls: UInt32 = 0
                // Acquire: waits for the other thread's answer to this round.
                while line.word.pointee.load(ordering: .acquiring) != value + 2 {
                    polls &+= 1
                    // A long wait (the other thread is not running: the CPUs
                    // are busy) reads the clock; the batch ends at its budget.
                    if polls & 0x3FFF == 0 {
                        let elapsed = Clock.monotonicNanoseconds() - t0
                        if elapsed > nanoseconds { late = true }
                        if elapsed > 10_000_000_000 { throw BenchError("cache-line measurement: the other thread did not answer for 10 s") }
                    }
                }
                value += 2
                done += 1
                // Otherwise the clock is read once in 256 rounds.
                if done & 255 == 0 && Clock.monotonicNanoseconds() - t0 > nanoseconds { break }
            }
            if batch > 0 { best = min(best, Double(Clock.monotonicNanoseconds() - t0) / Double(done) / 2) }
        }
        return best
    }

    // MARK: The file

    /// The tune file's text: the thresholds computed here, then the keys
    /// `previous` (the file being replaced) set that tune does not compute
    /// (the ring, the large-message mode, the heap, the peer table), kept.
    public static func fileText(_ report: TuneReport, previous: TuneFile?) -> String {
        var settings = ShmSettings()
        var comments: [ShmSettingKey: String] = [:]
        for t in report.thresholds {
            guard let value = t.value else { continue }
            switch t.key {
            case .eager: settings.eagerLimit = value
            case .singleCopyMax: settings.singleCopyLimit = value
            case .piece: settings.pipelinePiece = value
            case .spin: settings.spinNanoseconds = UInt64(value)
            default: continue
            }
            comments[t.key] = "\(t.basis) (default \(t.defaultValue))"
        }
        if let previous {
            let kept = previous.settings
            for key in ShmSettingKey.allCases where !settings.has(key) && kept.has(key) {
                switch key {
                case .ring: settings.ringCapacity = kept.ringCapacity
                case .large: settings.largeMode = kept.largeMode
                case .heap: settings.heapSize = kept.heapSize
                case .maxPeers: settings.maxPeers = kept.maxPeers
                case .eager, .singleCopyMax, .piece, .spin: continue
                }
                comments[key] = "kept from the previous file"
            }
        }
        let m = report.machine
        let f = report.measured
        var facts = "measured: memcpy " + f.memcpy.map { "\(sizeText($0.bytes)) \(String(format: "%.1f", $0.gbytesPerS)) GB/s" }.joined(separator: ", ")
        facts += String(format: "; wake-up %.2f us; system call %.0f ns", f.wakeupNs / 1000, f.syscallNs)
        if let line = f.cachelineNs { facts += String(format: "; cache line %.0f ns", line) }
        facts += "; single copy between processes " + (f.cmaBetweenProcesses ? "permitted" : "not permitted")
        if report.machineWasBusy { facts += ". Measured while other work shared the CPUs: run pvmbench tune again on an idle machine" }
        let header = [
            "PVM tune file, written by pvmbench tune on \(m.hostname) (\(m.cpus) CPUs, \(m.cpuModel), Linux \(m.kernel), \(report.build) build)",
            "at \(ISO8601DateFormatter().string(from: Date())).",
            "Read by every PVM program when its first endpoint is made; a PVM_SHM_* environment variable overrides its line.",
            facts,
        ]
        return TuneFile.render(settings, header: header, comments: comments)
    }

    // MARK: Tables

    /// The human-readable report.
    public static func table(_ report: TuneReport) -> String {
        let m = report.machine
        let f = report.measured
        var out = "# pvmbench tune: \(m.hostname), \(m.cpus) CPUs, \(m.cpuModel), Linux \(m.kernel); \(report.build) build; \(String(format: "%.1f", report.seconds)) s\n"
        if report.build == "debug" { out += "# note: a debug build measures a slower transport than release programs run; build with -c release to tune\n" }
        if report.machineWasBusy {
            out += "# note: other work shared the CPUs (\(report.busyReasons.joined(separator: "; "))): the figures and thresholds are skewed; tune an idle machine\n"
        }
        out += "# Measured on this machine\n"
        for r in f.memcpy { out += row("memcpy \(sizeText(r.bytes))", String(format: "%.2f GB/s", r.gbytesPerS)) }
        out += row("system call (getppid)", String(format: "%.0f ns", f.syscallNs))
        out += row("eventfd write (doorbell)", String(format: "%.0f ns", f.eventfdWriteNs))
        out += row("wake-up, one way", String(format: "%.2f us", f.wakeupNs / 1000), "doorbell rung -> sleeper out of epoll_wait, p50")
        out += row("cache-line transfer", f.cachelineNs.map { String(format: "%.0f ns", $0) } ?? "n/a", f.cachelineNs == nil ? "one CPU" : "one way, two spinning threads")
        out += row("cross-memory attach", f.cmaBetweenProcesses ? "permitted" : "not permitted", "between two processes (transport handshake); \(f.cmaSelf) on itself")
        out += "#\n# Transport one-way p50 (us): ring \(sizeText(f.ringCapacity)), spin \(f.measuredWithSpinNs / 1000) us, piece \(sizeText(f.measuredWithPiece))\n"
        out += Report.pad("# Size", 12) + Report.pad("inline", 12) + Report.pad("single-copy", 14) + "pipelined\n"
        let us = { (v: Double?) in v.map { String(format: "%.3f", $0 / 1000) } ?? "-" }
        for t in f.transport {
            out += Report.pad("\(t.bytes)", 12) + Report.pad(us(t.inlineNs), 12) + Report.pad(us(t.singleCopyNs), 14) + us(t.pipelinedNs) + "\n"
        }
        out += "# (the crossovers take, at each size, the least time of it and any larger size on the same path: busy moments only add time)\n"
        let pieces = Array(Set(f.pieces.map(\.piece))).sorted()
        if !pieces.isEmpty {
            out += "#\n# Pipelined one-way p50 (us) by piece\n"
            out += Report.pad("# Size", 12) + pieces.map { Report.pad(sizeText($0), 12) }.joined() + "\n"
            for bytes in Array(Set(f.pieces.map(\.bytes))).sorted() {
                out += Report.pad("\(bytes)", 12)
                out += pieces.map { p in Report.pad(us(f.pieces.first { $0.piece == p && $0.bytes == bytes }?.ns), 12) }.joined() + "\n"
            }
        }
        out += "#\n" + Report.pad("# Threshold", 22) + Report.pad("key", 26) + Report.pad("computed", 12) + Report.pad("default", 12) + "\n"
        let names = ["eager": "inline (eager) limit", "single_copy": "single-copy limit", "piece": "pipeline piece", "spin": "spin time (ns)"]
        for t in report.thresholds {
            out += Report.pad(names[t.name] ?? t.name, 22) + Report.pad(t.key.rawValue, 26) + Report.pad(t.value.map(String.init) ?? "-", 12)
                + Report.pad(String(t.defaultValue), 12) + (t.differs.map { $0 ? "differs" : "same" } ?? "not computed") + "\n"
        }
        for t in report.thresholds { out += "#   \(t.name): \(t.basis)\n" }
        return out
    }

    private static func row(_ label: String, _ value: String, _ note: String = "") -> String {
        Report.pad(label, 30) + (note.isEmpty ? value : Report.pad(value, 14) + "(\(note))") + "\n"
    }
}

/// "64 KiB", "1 MiB", or bytes.
func sizeText(_ n: Int) -> String {
    if n >= 1 << 30 && n % (1 << 30) == 0 { return "\(n >> 30) GiB" }
    if n >= 1 << 20 && n % (1 << 20) == 0 { return "\(n >> 20) MiB" }
    if n >= 1 << 10 && n % (1 << 10) == 0 { return "\(n >> 10) KiB" }
    return "\(n) B"
}

/// Runs ping-pongs through the transport between this process and a peer
/// process (this program's `peer` subcommand, as `pingpong --api transport`
/// uses), with one path forced on both ends through the environment (the
/// peer, a child, inherits it). Each size runs to the plan's count or time
/// budget, whichever comes first.
struct TransportRig {
    enum Mode: CustomStringConvertible {
        case inline, singleCopy, pipelined
        var description: String {
            switch self {
            case .inline: "inline"
            case .singleCopy: "single copy"
            case .pipelined: "pipelined"
            }
        }
    }

    let ring: Int
    let spin: UInt64
    let peer: String
    let plan: Tuner.Plan

    /// One peer process over `sizes`: (bytes, one-way p50 ns, path the replies took).
    func pingpong(_ mode: Mode, sizes: [Int], piece: Int) throws -> [(Int, Double, String)] {
        var settings: [ShmSettingKey: String] = [
            .ring: String(ring), .piece: String(piece), .spin: String(spin),
        ]
        switch mode {
        case .inline:
            settings[.eager] = String(ShmConfiguration.largestInline(ringCapacity: ring))
            settings[.large] = ShmLargeMode.automatic.rawValue
            settings[.singleCopyMax] = String(1 << 30)
        case .singleCopy:
            settings[.eager] = "0"
            settings[.large] = ShmLargeMode.automatic.rawValue
            settings[.singleCopyMax] = String(1 << 30)
        case .pipelined:
            settings[.eager] = "0"
            settings[.large] = ShmLargeMode.pipelined.rawValue
            settings[.singleCopyMax] = "0"
        }
        let options = try CommonOptions.parse(["--api", "transport", "--transport", "shm"])
        // Both endpoints are made here, under the forced settings: this one
        // by the session, the peer's by the child process it starts.
        let session = try withEnvironment(settings) { try PeerSession(options, peerExecutable: peer, arguments: []) }
        defer { session.finish() }
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: sizes.max() ?? 1, alignment: 4096)
        defer { scratch.deallocate() }
        scratch.initializeMemory(as: UInt8.self, repeating: 0x5A)
        var out: [(Int, Double, String)] = []
        var size = sizes.max() ?? 0
        do {
            _ = try oneSize(session, UnsafeRawBufferPointer(rebasing: scratch[0..<size]), untimedFor: plan.sessionWarmupNanoseconds)
            for s in sizes {
                size = s
                let (ns, path) = try oneSize(session, UnsafeRawBufferPointer(rebasing: scratch[0..<size]))
                out.append((size, ns, path))
            }
        } catch let error as BenchError {
            throw error
        } catch {
            throw BenchError("tune: transport error at \(size) B (\(mode)): \(error)")
        }
        return out
    }

    /// Ping-pongs of one message until the plan's count or budget; the p50
    /// of half the round trips, and the path of the replies. With
    /// `untimedFor`, only ping-pongs for that long (the session's warm-up).
    private func oneSize(_ session: PeerSession, _ message: UnsafeRawBufferPointer, untimedFor warmup: UInt64? = nil) throws -> (Double, String) {
        let endpoint = session.endpoint
        var replyAt: UInt64 = 0
        var path = ShmPath.inline
        var gone: String? = nil
        let handler: (ShmEvent) throws -> Void = { event in
            switch event {
            case .message(_, let reply):
                replyAt = Clock.monotonicNanoseconds()
                path = reply.path
            case .disconnected(_, let reason): gone = reason
            case .connected, .readable: break
            }
        }
        var samples: [UInt64] = []
        samples.reserveCapacity(plan.iterations)
        let started = Clock.monotonicNanoseconds()
        var round = 0
        while samples.count < plan.iterations {
            let t0 = Clock.monotonicNanoseconds()
            try endpoint.send(message, to: session.peer)
            replyAt = 0
            while replyAt == 0 {
                if try endpoint.receive(timeoutNanoseconds: PeerSession.watchdogNanoseconds, handler) == 0 {
                    try session.checkAlive(waitingSince: t0)
                }
                if let gone { throw BenchError("tune: the peer process went away (\(message.count) B): \(gone)") }
            }
            round += 1
            let elapsed = replyAt - started
            if let warmup {
                if elapsed > warmup { return (0, path.rawValue) }
                continue
            }
            if round > plan.warmup {
                samples.append((replyAt - t0) / 2)
                if elapsed > plan.nanosecondsPerSize && samples.count >= plan.minimumSamples { break }
            } else if elapsed > plan.nanosecondsPerSize / 4 {
                round = plan.warmup  // the warm-up ends early on a slow size
            }
            if elapsed > 2 * plan.nanosecondsPerSize && !samples.isEmpty { break }
        }
        samples.sort()
        return (Double(samples[samples.count / 2]), path.rawValue)
    }

    /// Runs `body` with the variables set, and puts back what was there.
    private func withEnvironment<T>(_ settings: [ShmSettingKey: String], _ body: () throws -> T) throws -> T {
        var saved: [(String, String?)] = []
        for (key, value) in settings {
            saved.append((key.rawValue, getenv(key.rawValue).map { String(cString: $0) }))
            setenv(key.rawValue, value, 1)
        }
        defer {
            for (name, value) in saved {
                if let value { setenv(name, value, 1) } else { unsetenv(name) }
            }
        }
        return try body()
    }
}

/// The two doorbells and epoll sets of the wake-up measurement. Shared by
/// two threads: each waits only on its own epoll set and drains only its own
/// doorbell (a `read`), and rings the other's (a `write`); the kernel
/// orders those.
final class WakeupRig: @unchecked Sendable {
    let mainBell: Doorbell
    let echoBell: Doorbell
    let mainEpoll: Epoll
    let echoEpoll: Epoll
    let stop = Atomic<Bool>(false)

    init() throws {
        mainBell = try Doorbell()
        echoBell = try Doorbell()
        mainEpoll = try Epoll()
        echoEpoll = try Epoll()
        try mainEpoll.add(mainBell.descriptor.rawValue, events: .readable, token: 0)
        try echoEpoll.add(echoBell.descriptor.rawValue, events: .readable, token: 0)
    }
}

/// One word alone on its cache line (and the next: the adjacent-line
/// prefetcher pairs lines), for the cache-line measurement. Shared by two
/// threads through atomic loads and stores only.
final class CacheLine: @unchecked Sendable {
    private let storage: UnsafeMutableRawPointer
    private let pointer: UnsafeMutablePointer<Atomic<UInt64>>

    init() {
        storage = .allocate(byteCount: 256, alignment: 128)
        pointer = (storage + 128).bindMemory(to: Atomic<UInt64>.self, capacity: 1)
        pointer.initialize(to: Atomic(0))
    }

    var word: UnsafeMutablePointer<Atomic<UInt64>> { pointer }

    deinit {
        _ = pointer.move()
        storage.deallocate()
    }
}

/// A thread running `body`; `join()` waits for it to return.
final class Worker: @unchecked Sendable {
    private var thread = pthread_t()
    private let body: @Sendable () -> Void

    init(_ body: @escaping @Sendable () -> Void) throws {
        self.body = body
        let context = Unmanaged.passRetained(self).toOpaque()
        let rc = pthread_create(&thread, nil, { raw in
            let worker = Unmanaged<Worker>.fromOpaque(raw!).takeRetainedValue()
            worker.body()
            return nil
        }, context)
        if rc != 0 {
            Unmanaged<Worker>.fromOpaque(context).release()
            throw BenchError("could not start a thread: \(String(cString: strerror(rc)))")
        }
    }

    func join() {
        pthread_join(thread, nil)
    }
}
