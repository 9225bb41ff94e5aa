#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Histogram
import PVMSystem

/// A histogram of times in nanoseconds, as every measurement records them
/// (up to a minute, three significant digits).
func timeHistogram() -> Histogram<UInt64> {
    Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
}

/// One-way time statistics in nanoseconds.
public struct OneWay: Codable, Sendable, Equatable {
    public var min: UInt64
    public var p50: UInt64
    public var p90: UInt64
    public var p99: UInt64
    public var p999: UInt64
    public var max: UInt64
    public var mean: Double

    public init(_ h: Histogram<UInt64>) {
        min = h.min
        p50 = h.valueAtPercentile(50)
        p90 = h.valueAtPercentile(90)
        p99 = h.valueAtPercentile(99)
        p999 = h.valueAtPercentile(99.9)
        max = h.max
        mean = h.mean
    }

    enum CodingKeys: String, CodingKey {
        case min, p50, p90, p99, p999, max, mean
    }

    /// Reads what other tools' converted results may lack: a peer that
    /// reports only a mean (NetPIPE) gives every percentile that mean.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        mean = try c.decode(Double.self, forKey: .mean)
        let m = UInt64(Swift.max(mean, 0).rounded())
        min = try c.decodeIfPresent(UInt64.self, forKey: .min) ?? m
        p50 = try c.decodeIfPresent(UInt64.self, forKey: .p50) ?? m
        p90 = try c.decodeIfPresent(UInt64.self, forKey: .p90) ?? m
        p99 = try c.decodeIfPresent(UInt64.self, forKey: .p99) ?? m
        p999 = try c.decodeIfPresent(UInt64.self, forKey: .p999) ?? p99
        max = try c.decodeIfPresent(UInt64.self, forKey: .max) ?? m
    }
}

/// One message size's measurement (BENCHMARKS.md's `results` entries, plus
/// compatible extra fields).
public struct SizeResult: Codable, Sendable {
    public var bytes: Int
    public var iterations: Int
    public var oneWayNs: OneWay
    public var gbytesPerS: Double
    public var messagesPerS: Double
    /// CPU time of the measuring thread per message (CLOCK_THREAD_CPUTIME_ID; a round trip counts as two messages).
    public var cpuNsPerMsg: Double
    /// How the messages travelled (inline, single-copy, pipelined, loan).
    public var path: String
    /// nil when not validated; otherwise whether every message checked out.
    public var validated: Bool?
    /// Tasks involved (spawn and collective results).
    public var tasks: Int? = nil

    public init(bytes: Int, iterations: Int, oneWayNs: OneWay, gbytesPerS: Double, messagesPerS: Double,
                cpuNsPerMsg: Double, path: String, validated: Bool?) {
        self.bytes = bytes
        self.iterations = iterations
        self.oneWayNs = oneWayNs
        self.gbytesPerS = gbytesPerS
        self.messagesPerS = messagesPerS
        self.cpuNsPerMsg = cpuNsPerMsg
        self.path = path
        self.validated = validated
    }

    enum CodingKeys: String, CodingKey {
        case bytes, iterations, path, validated, tasks
        case oneWayNs = "one_way_ns"
        case gbytesPerS = "gbytes_per_s"
        case messagesPerS = "messages_per_s"
        case cpuNsPerMsg = "cpu_ns_per_msg"
    }

    /// Reads BENCHMARKS.md's required fields and defaults the extras
    /// (`cpu_ns_per_msg`, `path`, ...), so results converted from other
    /// tools can be drawn beside ours.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        bytes = try c.decode(Int.self, forKey: .bytes)
        iterations = try c.decodeIfPresent(Int.self, forKey: .iterations) ?? 0
        oneWayNs = try c.decode(OneWay.self, forKey: .oneWayNs)
        gbytesPerS = try c.decode(Double.self, forKey: .gbytesPerS)
        messagesPerS = try c.decodeIfPresent(Double.self, forKey: .messagesPerS) ?? (oneWayNs.mean > 0 ? 1e9 / oneWayNs.mean : 0)
        cpuNsPerMsg = try c.decodeIfPresent(Double.self, forKey: .cpuNsPerMsg) ?? 0
        path = try c.decodeIfPresent(String.self, forKey: .path) ?? ""
        validated = try c.decodeIfPresent(Bool.self, forKey: .validated)
        tasks = try c.decodeIfPresent(Int.self, forKey: .tasks)
    }
}

public struct MachineInfo: Codable, Sendable {
    public var hostname: String
    public var cpus: Int
    public var cpuModel: String
    public var kernel: String

    enum CodingKeys: String, CodingKey {
        case hostname, cpus, kernel
        case cpuModel = "cpu_model"
    }

    public static func current() -> MachineInfo {
        var name = [CChar](repeating: 0, count: 256)
        gethostname(&name, 255)
        var u = utsname()
        uname(&u)
        let kernel = withUnsafeBytes(of: u.release) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { String($0.split(separator: ":", maxSplits: 1).last ?? "").trimmingCharacters(in: .whitespaces) } ?? "unknown"
        return MachineInfo(hostname: String(decoding: name.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self),
                           cpus: Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), cpuModel: model, kernel: kernel)
    }
}

/// Where one end of a run ran, seen at the end of the measurement: the CPU
/// it last ran on and that CPU's NUMA node, and the CPUs it was allowed
/// (its affinity: a `bind=` or `PVM_BIND` placement shows here) with their nodes.
public struct NumaEnd: Codable, Sendable, Equatable {
    public var cpu: Int
    public var node: Int
    /// Allowed CPUs in the kernel's list form ("0-3,8").
    public var cpusAllowed: String
    public var nodesAllowed: [Int]

    enum CodingKeys: String, CodingKey {
        case cpu, node
        case cpusAllowed = "cpus_allowed"
        case nodesAllowed = "nodes_allowed"
    }

    public init(cpu: Int, node: Int, cpusAllowed: [Int]) {
        self.cpu = cpu
        self.node = node
        self.cpusAllowed = Numa.listText(cpusAllowed)
        nodesAllowed = Array(Set(cpusAllowed.compactMap { Numa.node(ofCPU: $0) })).sorted()
    }

    /// This thread, now.
    public static func here() -> NumaEnd {
        NumaEnd(cpu: Numa.currentCPU(), node: Numa.currentNode(), cpusAllowed: (try? Numa.affinity()) ?? [])
    }

    /// Another process of this host, from the kernel's view of its main
    /// thread (/proc/PID/stat, sched_getaffinity); nil if it is gone.
    public static func process(_ pid: Int32) -> NumaEnd? {
        guard pid > 0, let cpu = Numa.lastCPU(ofThread: pid), let allowed = try? Numa.affinity(ofThread: pid) else { return nil }
        return NumaEnd(cpu: cpu, node: Numa.node(ofCPU: cpu) ?? 0, cpusAllowed: allowed)
    }
}

/// The NUMA side of a run (`numa` in the JSON): the machine's node count
/// and where each end ran. `peer` is nil when the far end could not be seen
/// from here (another host, several peer processes); `peer_note` says why.
public struct NumaInfo: Codable, Sendable, Equatable {
    public var nodes: Int
    public var local: NumaEnd
    public var peer: NumaEnd?
    public var peerNote: String?

    enum CodingKeys: String, CodingKey {
        case nodes, local, peer
        case peerNote = "peer_note"
    }

    /// This end, now; the peer not (yet) known.
    public static func here() -> NumaInfo {
        NumaInfo(nodes: Numa.nodeCount(), local: .here(), peer: nil, peerNote: "not observed")
    }

    /// Records the peer process `pid` of this host.
    public mutating func observePeer(pid: Int32) {
        peer = NumaEnd.process(pid)
        peerNote = peer == nil ? "the peer process (pid \(pid)) had gone" : nil
    }

    /// One line for the table's header.
    var summary: String {
        func end(_ e: NumaEnd) -> String { "CPU \(e.cpu) (node \(e.node); allowed CPUs \(e.cpusAllowed))" }
        return "# NUMA: \(nodes) node\(nodes == 1 ? "" : "s"); this end \(end(local)); peer \(peer.map(end) ?? peerNote ?? "not observed")\n"
    }
}

/// One run: the JSON object of BENCHMARKS.md.
public struct RunResult: Codable, Sendable {
    public var benchmark: String
    public var transport: String
    public var api: String
    public var zeroCopy: Bool
    public var machine: MachineInfo
    public var results: [SizeResult]
    /// The group operation of a `collective` run (barrier, bcast, reduce);
    /// nil (and absent from the JSON) for the other benchmarks.
    public var operation: String? = nil
    /// Messages in flight per window of a bw or bibw run (OSU's window size).
    public var window: Int? = nil
    /// Sender/receiver pairs of a msgrate run.
    public var pairs: Int? = nil
    /// Where the two ends ran (NUMA node and CPU); the measuring end is
    /// taken when the result is made, the peer by the driver that knows it.
    public var numa: NumaInfo? = nil
    /// How a task-library run moved its messages (`--send-mode`: pack,
    /// inplace, psend); nil (and absent from the JSON) for other layers.
    public var sendMode: String? = nil

    public init(benchmark: String, transport: String, api: String, zeroCopy: Bool, machine: MachineInfo, results: [SizeResult]) {
        self.benchmark = benchmark
        self.transport = transport
        self.api = api
        self.zeroCopy = zeroCopy
        self.machine = machine
        self.results = results
        self.numa = .here()
    }

    enum CodingKeys: String, CodingKey {
        case benchmark, transport, api, machine, results, operation, window, pairs, numa
        case zeroCopy = "zero_copy"
        case sendMode = "send_mode"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        benchmark = try c.decode(String.self, forKey: .benchmark)
        transport = try c.decode(String.self, forKey: .transport)
        api = try c.decode(String.self, forKey: .api)
        zeroCopy = try c.decodeIfPresent(Bool.self, forKey: .zeroCopy) ?? false
        machine = try c.decodeIfPresent(MachineInfo.self, forKey: .machine)
            ?? MachineInfo(hostname: "unknown", cpus: 0, cpuModel: "unknown", kernel: "unknown")
        results = try c.decode([SizeResult].self, forKey: .results)
        operation = try c.decodeIfPresent(String.self, forKey: .operation)
        window = try c.decodeIfPresent(Int.self, forKey: .window)
        pairs = try c.decodeIfPresent(Int.self, forKey: .pairs)
        numa = try c.decodeIfPresent(NumaInfo.self, forKey: .numa)
        sendMode = try c.decodeIfPresent(String.self, forKey: .sendMode)
    }

    /// A short label for tables and plot legends.
    public var label: String {
        "\(title) \(transport)/\(api)\(sendMode.flatMap { $0 == "pack" ? nil : " \($0)" } ?? "")\(zeroCopy ? " zero-copy" : "")\(groupSize.map { ", \($0) tasks" } ?? "")\(pairs.flatMap { $0 > 1 ? ", \($0) pairs" : nil } ?? "")"
    }

    /// The benchmark's name, with the operation of a collective run.
    var title: String { operation.map { "\(benchmark) \($0)" } ?? benchmark }

    /// The tasks of a collective run (every result has the same).
    var groupSize: Int? { operation == nil ? nil : results.first?.tasks }
}

public enum Report {
    public static func json(_ run: RunResult) throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try e.encode(run), as: UTF8.self) + "\n"
    }

    public static func json(_ runs: [RunResult]) throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try e.encode(runs), as: UTF8.self) + "\n"
    }

    public static let csvHeader = "benchmark,transport,api,zero_copy,bytes,iterations,min_ns,p50_ns,p90_ns,p99_ns,p999_ns,max_ns,mean_ns,gbytes_per_s,messages_per_s,cpu_ns_per_msg,path,validated,operation,tasks,window,pairs,send_mode"

    public static func csv(_ runs: [RunResult]) -> String {
        var out = csvHeader + "\n"
        for run in runs {
            for r in run.results {
                let o = r.oneWayNs
                let v = r.validated.map { $0 ? "pass" : "fail" } ?? ""
                out += "\(run.benchmark),\(run.transport),\(run.api),\(run.zeroCopy),\(r.bytes),\(r.iterations),\(o.min),\(o.p50),\(o.p90),\(o.p99),\(o.p999),\(o.max),\(fmt(o.mean, 1)),\(fmt(r.gbytesPerS, 4)),\(fmt(r.messagesPerS, 0)),\(fmt(r.cpuNsPerMsg, 1)),\(r.path),\(v),\(run.operation ?? ""),\(r.tasks.map(String.init) ?? ""),\(run.window.map(String.init) ?? ""),\(run.pairs.map(String.init) ?? ""),\(run.sendMode ?? "")\n"
            }
        }
        return out
    }

    /// OSU-style text: '#' header lines, then one row per size starting at
    /// column 0 with the size, then the mean one-way latency (OSU's
    /// `Latency (us)` column), so OSU-minded regexes (`^8\s+(\S+)`,
    /// ReFrame's `^<size>.*Pass`) read it.
    public static func table(_ run: RunResult) -> String {
        var out = "# PVM \(run.title) test\(run.groupSize.map { ", \($0) tasks" } ?? ""), transport \(run.transport), api \(run.api)\(run.sendMode.map { ", send mode \($0)" } ?? "")\(run.zeroCopy ? ", zero copy" : "")\n"
        out += "# \(run.machine.hostname): \(run.machine.cpus) CPUs, \(run.machine.cpuModel), Linux \(run.machine.kernel)\n"
        if let numa = run.numa { out += numa.summary }
        switch run.operation {
        case nil: break
        case "barrier"?: out += "# time per barrier: between consecutive completions at the root (instance 0)\n"
        case let op?: out += "# time per \(op): each member times its own part after an untimed barrier; the mean over members (OSU)\n"
        }
        if run.zeroCopy {
            out += "# zero copy: loaned buffers are handed over in place and not read or written while timed (unless -c);\n"
            out += "#   MB/s is size over hand-over time, not a memory bandwidth\n"
        }
        if let window = run.window { out += "# window: \(window) messages in flight, then an acknowledgement (OSU's method)\(run.benchmark == "bibw" ? "; both directions at once, MB/s counts both" : "")\n" }
        if let pairs = run.pairs { out += "# \(pairs) sender/receiver pair\(pairs == 1 ? "" : "s") streaming at once; the rate is their sum\n" }
        let validated = run.results.contains { $0.validated != nil }
        if Plot.streaming.contains(run.benchmark) {
            return out + streamingTable(run, validated: validated)
        }
        out += pad("# Size", 10) + pad("Latency(us)", 13) + pad("p50(us)", 11) + pad("p90(us)", 11) + pad("p99(us)", 11)
            + pad("p99.9(us)", 11) + pad("min(us)", 11) + pad("max(us)", 11) + pad("MB/s", 13) + pad(run.operation == nil ? "CPU(ns/msg)" : "CPU(ns/op)", 13)
            + (validated ? pad("Path", 13) + "Validation" : "Path") + "\n"
        for r in run.results {
            let o = r.oneWayNs
            let us = { (ns: UInt64) in fmt(Double(ns) / 1000, 3) }
            out += pad("\(r.bytes)", 10) + pad(fmt(o.mean / 1000, 3), 13) + pad(us(o.p50), 11) + pad(us(o.p90), 11) + pad(us(o.p99), 11)
                + pad(us(o.p999), 11) + pad(us(o.min), 11) + pad(us(o.max), 11) + pad(fmt(r.gbytesPerS * 1000, 2), 13)
                + pad(fmt(r.cpuNsPerMsg, 1), 13)
                + (r.validated.map { pad(r.path, 13) + ($0 ? "Pass" : "Fail") } ?? r.path) + "\n"
        }
        return out
    }

    /// bw, bibw, msgrate: OSU's osu_bw / osu_mbw_mr columns first (size,
    /// MB/s, messages/s), then the time per message (mean over the run, and
    /// percentiles over windows or pairs).
    static func streamingTable(_ run: RunResult, validated: Bool) -> String {
        var out = pad("# Size", 10) + pad("MB/s", 13) + pad("Messages/s", 15) + pad("us/msg", 11) + pad("p50(us)", 11)
            + pad("p99(us)", 11) + pad("CPU(ns/msg)", 13) + (validated ? pad("Path", 13) + "Validation" : "Path") + "\n"
        for r in run.results {
            let o = r.oneWayNs
            out += pad("\(r.bytes)", 10) + pad(fmt(r.gbytesPerS * 1000, 2), 13) + pad(fmt(r.messagesPerS, 0), 15)
                + pad(fmt(o.mean / 1000, 4), 11) + pad(fmt(Double(o.p50) / 1000, 4), 11) + pad(fmt(Double(o.p99) / 1000, 4), 11)
                + pad(fmt(r.cpuNsPerMsg, 1), 13)
                + (r.validated.map { pad(r.path, 13) + ($0 ? "Pass" : "Fail") } ?? r.path) + "\n"
        }
        return out
    }

    static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
    }

    static func fmt(_ v: Double, _ digits: Int) -> String {
        String(format: "%.\(digits)f", v)
    }
}
