#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Foundation
import PVMTransport

/// `pvmbench`: the latency and bandwidth suite (BENCHMARKS.md). The
/// executable's `main.swift` only calls `PVMBenchCommand.main()`.
public struct PVMBenchCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "pvmbench",
        abstract: "Latency and bandwidth of every PVM message path.",
        discussion: "With no subcommand, runs the default suite (see 'pvmbench help suite').",
        subcommands: [Suite.self, PingPong.self, Bandwidth.self, BidirectionalBandwidth.self, MsgRate.self, Collective.self, SpawnBench.self,
                      Convert.self, PlotCommand.self, Tune.self, Peer.self, MessageRatePair.self],
        defaultSubcommand: Suite.self)

    public init() {}

    /// Parses the command line and runs the chosen subcommand: the executable's
    /// whole `main.swift`. Declared here (it forwards to ArgumentParser's own
    /// `main(_:)`) so the executable, whose target depends only on PVMBench,
    /// need not import ArgumentParser under `MemberImportVisibility`.
    public static func main() {
        main(nil)
    }
}

/// Exit status of a run whose `-c` validation found a corrupted message
/// (distinct from 1, a run that could not complete, and 64, a usage error).
let validationFailedStatus: Int32 = 3

/// This program's own path, to start the far end of a measurement.
func ownExecutable() -> String {
    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
}

/// Progress lines go to standard error, and only when it is a terminal.
func showsProgress() -> Bool { isatty(2) != 0 }

func emit(_ text: String, to path: String?) throws {
    if let path {
        try writeFile(text, to: path)
    } else {
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}

/// Writes a result file, or says plainly why it cannot.
func writeFile(_ text: String, to path: String) throws {
    do {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    } catch {
        // The folder's state says it plainly (Foundation's error text is long).
        do { try checkWritable(path, option: "") } catch let plain { throw BenchError("cannot write \(path): \(plain.message)") }
        throw BenchError("cannot write \(path): \(error.localizedDescription)")
    }
}

/// Refuses, before anything is measured, an output file that could not be
/// written: its folder must exist and be writable, and it must not be a folder.
func checkWritable(_ path: String, option: String) throws(ValidationError) {
    let what = option.isEmpty ? "" : "\(option) \(path): "
    var isFolder: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
        throw ValidationError("\(what)is a folder, not a file")
    }
    let folder = (path as NSString).deletingLastPathComponent
    let dir = folder.isEmpty ? "." : folder
    guard FileManager.default.fileExists(atPath: dir, isDirectory: &isFolder), isFolder.boolValue else {
        throw ValidationError("\(what)the folder \(dir) does not exist")
    }
    guard access(dir, W_OK) == 0 else {
        throw ValidationError("\(what)cannot write in \(dir) (\(String(cString: strerror(errno))))")
    }
}

func warn(_ text: String) {
    FileHandle.standardError.write(Data("pvmbench: \(text)\n".utf8))
}

func render(_ runs: [RunResult], _ format: OutputFormat) throws -> String {
    switch format {
    case .table: return runs.map(Report.table).joined(separator: "\n")
    case .csv: return Report.csv(runs)
    case .json: return runs.count == 1 ? try Report.json(runs[0]) : try Report.json(runs)
    }
}

/// Sizes whose `-c` check failed, for the error line.
func failedSizes(_ runs: [RunResult]) -> [String] {
    runs.flatMap { run in run.results.filter { $0.validated == false }.map { "\($0.bytes) B (\(run.label))" } }
}

struct PingPong: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pingpong",
        abstract: "One-way latency and ping-pong bandwidth between two processes.",
        discussion: """
            The far end is a second process (this program, started by it) that echoes every message back \
            with the same size. One-way latency is half the round trip (as OSU and NetPIPE report it); \
            MB/s is the size divided by the mean one-way time.
            """)

    @OptionGroup var common: CommonOptions

    func run() throws {
        let result: RunResult
        switch common.api {
        case .pvm: result = try TaskLibraryDriver.pingpong(common, peerExecutable: TaskLibraryDriver.peerExecutable(besides: ownExecutable()), progress: showsProgress())
        case .c: result = try CLibraryDriver.pingpong(common, ownExecutable: ownExecutable(), progress: showsProgress())
        case .transport: result = try PingPongDriver.run(common, peerExecutable: ownExecutable(), progress: showsProgress())
        }
        try finishRun(result, common, what: "a received message differed from what was sent")
    }
}

/// Writes a run's output, its chart when asked, and fails with the
/// validation status when a -c check failed.
func finishRun(_ run: RunResult, _ common: CommonOptions, what: String) throws {
    try emit(try render([run], common.format), to: common.output)
    if let plot = common.plot { try writeFile(Plot.svg([run]), to: plot) }
    let failed = failedSizes([run])
    if !failed.isEmpty {
        warn("validation failed: \(what) at \(failed.joined(separator: ", "))")
        throw ExitCode(validationFailedStatus)
    }
}

/// `pvmbench bw`: streaming bandwidth with a window of messages in flight.
struct Bandwidth: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bw",
        abstract: "Streaming bandwidth: a window of messages in flight, then one acknowledgement (OSU's osu_bw).",
        discussion: """
            This end sends --window messages of a size back to back and then a marker; the far end (a second \
            process, or a task spawned through the daemon with --api pvm) takes them in and acknowledges the \
            marker. -i and -x count windows (defaults: about 256 MiB a size, 10 to 2,000 windows). MB/s is the \
            size over the time per message (the whole run's time over its messages); us/msg p50 and p99 are \
            over windows. With --api pvm every message is initsend, pack and send, and the far end unpacks \
            each. -c gives every message a pattern of its own that the far end checks (the fill is timed).
            """)

    @OptionGroup var options: StreamOptions

    func run() throws {
        try finishRun(try StreamingDriver.run(options, bidirectional: false), options.common, what: "the far end received different data than was sent")
    }
}

/// `pvmbench bibw`: both directions at once.
struct BidirectionalBandwidth: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bibw",
        abstract: "Bidirectional bandwidth: both ends stream a window at once (OSU's osu_bibw).",
        discussion: """
            Both ends send --window messages back to back and then receive the other end's window, \
            window after window, at the same time (neither answers the other), so both directions carry \
            data at once. MB/s counts both directions (the size over the time per message, messages of \
            both directions counted). -c makes each end check every message it receives.
            """)

    @OptionGroup var options: StreamOptions

    func run() throws {
        try finishRun(try StreamingDriver.run(options, bidirectional: true), options.common, what: "a message arrived different from what the other end sent")
    }
}

extension StreamingDriver {
    /// bw or bibw through the layer the options name.
    static func run(_ options: StreamOptions, bidirectional: Bool) throws -> RunResult {
        switch options.common.api {
        case .transport:
            return try transport(options, bidirectional: bidirectional, peerExecutable: ownExecutable(), progress: showsProgress())
        case .pvm:
            return try taskLibrary(options, bidirectional: bidirectional,
                                   peerExecutable: TaskLibraryDriver.peerExecutable(besides: ownExecutable()), progress: showsProgress())
        case .c:
            return try CLibraryDriver.streaming(options, bidirectional: bidirectional, ownExecutable: ownExecutable(), progress: showsProgress())
        }
    }
}

/// Small-message rate: messages streamed back to back by N pairs.
struct MsgRate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "msgrate",
        abstract: "Message rate of N sender/receiver pairs streaming at once (OSU's osu_mbw_mr).",
        discussion: """
            Each pair's sender sends -x warm-up messages and then -i timed ones back to back (default: about \
            2 GiB a size, 200 to 1,000,000 messages; 8 B when no size is given), then a marker that its \
            receiver acknowledges. The rate is all pairs' timed messages over the longest pair's time; p50 and \
            p99 are over pairs. --api transport: the senders are this process (one pair) or one process per \
            pair, each with its own receiving process, joined by the shared-memory transport (--zero-copy: \
            each message in a buffer loaned from the shared heap, only its offset in the ring). --api pvm: 2N \
            tasks spawned through the daemon (initsend, pack, send; the receiver unpacks each); with \
            --hosts A,B every sender runs on host A (this one) and its receiver on host B. --api c: the same \
            with 2N C tasks (pvmbench-ctask) on libpvm3 (initsend, pkbyte, send; recv, upkbyte). With more \
            pairs than CPUs the pairs take turns on them.
            """)

    @OptionGroup var options: MessageRateOptions

    func run() throws {
        let run = try StreamingDriver.messageRate(options, ownExecutable: ownExecutable(), progress: showsProgress())
        try finishRun(run, options.common, what: "a receiver got different data than was sent")
    }
}

/// One pair of a several-pair `msgrate --api transport` (started by
/// pvmbench itself, never by users): for each size it says `ready SIZE`,
/// waits for a line on standard input, streams, and says
/// `result SIZE MESSAGES ELAPSED_NS CPU_NS PATH pass|fail`.
struct MessageRatePair: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "msgrate-pair", abstract: "Internal: one pair of a several-pair msgrate.", shouldDisplay: false)

    @OptionGroup var sweep: SweepOptions

    @Flag(name: .customLong("zero-copy"), help: "Send buffers loaned from the shared heap.")
    var zeroCopy = false

    func run() throws {
        var common = try CommonOptions.parse(["--api", "transport"] + (zeroCopy ? ["--zero-copy"] : []))
        common.sweep = sweep
        let sizes = try common.messageSizes(default: [8])
        var stream = try RateStream(common, peerExecutable: ownExecutable(), largest: sizes.max()!)
        defer { stream.finish() }
        for size in sizes {
            say("ready \(size)")
            guard readLine() != nil else { return }
            let (n, warmup) = StreamingDriver.messages(size: size, sweep: sweep)
            let m = try stream.measure(size: size, messages: n, warmup: warmup)
            say("result \(size) \(n) \(m.elapsed) \(m.cpu) \(m.path) \(m.valid ? "pass" : "fail")")
        }
    }

    /// One line to pvmbench, at once (standard output is a pipe).
    func say(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}

/// `pvmbench plot`: draws result files on one chart.
struct PlotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plot",
        abstract: "Draws result files (--format json output) as one SVG: latency and bandwidth against size, one curve per run.",
        discussion: """
            Each FILE holds one run object or an array of them (BENCHMARKS.md's JSON; the default suite's \
            pvmbench-results.json, or a peer's figures converted to the same schema, as perf/peers.sh does). \
            Every run becomes one curve, labelled by its benchmark, transport and api, in the latency chart \
            (ping-pong and collective runs: p50 one way) and in the bandwidth chart (every run that moves data).
            """)

    @Argument(help: ArgumentHelp("Result files to draw.", valueName: "file.json"))
    var files: [String] = []

    @Option(name: .customShort("o"), help: ArgumentHelp("The SVG file to write.", valueName: "file.svg"))
    var output: String

    @Option(help: "The chart's title.")
    var title = "pvmbench"

    func validate() throws {
        if files.isEmpty { throw ValidationError("give at least one result file to draw") }
        try checkWritable(output, option: "-o")
    }

    func run() throws {
        let runs = try Plot.load(files)
        guard !runs.isEmpty else { throw BenchError("no runs in \(files.joined(separator: ", "))") }
        try writeFile(Plot.svg(runs, title: title), to: output)
        FileHandle.standardError.write(Data("pvmbench: drew \(runs.count) run\(runs.count == 1 ? "" : "s") in \(output)\n".utf8))
    }
}

/// The default suite: ping-pong over every path this host has, 1 B to 4 MiB.
struct Suite: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "suite",
        abstract: "The default suite: pingpong over every available path, 1 B to 4 MiB, and a group barrier; writes pvmbench-results.json and .svg.",
        discussion: """
            Paths on this build: the task library over shared memory, over TCP (forced between two tasks \
            of this host) and through the daemon, and the bare shared-memory transport, copying and zero copy \
            (--api transport --transport shm [--zero-copy]); then the barrier of a group of two tasks \
            (collective barrier --tasks 2, with -i and -x if given). Prints one table per run; the JSON file \
            holds one run object per run (an array), the SVG one curve per ping-pong path.
            """)

    @OptionGroup var sweep: SweepOptions

    @Option(help: ArgumentHelp("Prefix of the result files, written in the current folder.", valueName: "prefix"))
    var results = "pvmbench-results"

    /// The group of the suite's barrier.
    static let barrierTasks = 2

    /// The paths this build can measure, in the order they are run.
    static let paths: [(api: APIChoice, transport: TransportChoice, zeroCopy: Bool)] = [
        (.pvm, .shm, false), (.pvm, .tcp, false), (.pvm, .daemon, false), (.transport, .shm, false), (.transport, .shm, true),
    ]

    func validate() throws {
        try checkWritable(results + ".json", option: "--results")
    }

    func run() throws {
        var runs: [RunResult] = []
        var errors: [String] = []
        for path in Self.paths {
            var options = try CommonOptions.parse([])
            options.sweep = sweep
            options.api = path.api
            options.transport = path.transport
            options.zeroCopy = path.zeroCopy
            // The routes through the daemon and over TCP take 15 and 5 us a
            // message here, the shared-memory ones under half a microsecond:
            // fewer rounds for small messages keep the suite near a minute.
            options.iterationDivisor = path.transport == .daemon ? 10 : path.transport == .tcp ? 4 : 1
            do {
                let run = path.api == .pvm
                    ? try TaskLibraryDriver.pingpong(options, peerExecutable: TaskLibraryDriver.peerExecutable(besides: ownExecutable()), progress: showsProgress())
                    : try PingPongDriver.run(options, peerExecutable: ownExecutable(), progress: showsProgress())
                FileHandle.standardOutput.write(Data((Report.table(run) + "\n").utf8))
                runs.append(run)
            } catch {
                // One path failing does not hide the others' results.
                let label = "\(path.api.rawValue) \(path.transport.rawValue)\(path.zeroCopy ? " zero-copy" : "")"
                warn("\(label): \(error)")
                errors.append(label)
            }
        }
        // The group barrier (a fraction of a second).
        do {
            var barrier = try CollectiveOptions.parse(["barrier", "--tasks", "\(Self.barrierTasks)"])
            barrier.common.sweep.iterations = sweep.iterations
            barrier.common.sweep.warmup = sweep.warmup
            let run = try CollectiveDriver.run(barrier, peerExecutable: TaskLibraryDriver.peerExecutable(besides: ownExecutable()),
                                               progress: showsProgress())
            FileHandle.standardOutput.write(Data((Report.table(run) + "\n").utf8))
            runs.append(run)
        } catch {
            warn("collective barrier: \(error)")
            errors.append("collective barrier")
        }
        try writeFile(Report.json(runs), to: results + ".json")
        try writeFile(Plot.svg(runs), to: results + ".svg")
        FileHandle.standardOutput.write(Data("wrote \(results).json and \(results).svg\n".utf8))
        if !errors.isEmpty { throw BenchError("the suite could not measure: \(errors.joined(separator: ", "))") }
        let failed = failedSizes(runs)
        if !failed.isEmpty {
            warn("validation failed at \(failed.joined(separator: ", "))")
            throw ExitCode(validationFailedStatus)
        }
    }
}

/// The far end of a measurement (started by pvmbench itself, never by users).
struct Peer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "peer", abstract: "Internal: the far end of a measurement.", shouldDisplay: false)

    @Option var address: String
    @Flag(name: .customLong("zero-copy")) var zeroCopy = false
    @Flag var validate = false
    @Flag var sink = false
    /// bibw's far end: streams its own windows (PingPongDriver.mirror).
    @Flag var bibw = false
    /// Test hook (not API): flip the last byte of every echo, so tests can
    /// prove that `-c` catches corrupted data. Also set by the environment
    /// variable `PVMBENCH_TEST_CORRUPT_ECHO=1`, which reaches the peer through
    /// a `pvmbench` run started by a test.
    @Flag(help: .private) var corrupt = false

    func run() throws {
        let corruptFromEnvironment = ProcessInfo.processInfo.environment["PVMBENCH_TEST_CORRUPT_ECHO"] == "1"
        if bibw {
            try PingPongDriver.mirror(address: address, zeroCopy: zeroCopy, validate: validate, corrupt: corrupt || corruptFromEnvironment)
            return
        }
        try PingPongDriver.serve(address: address, zeroCopy: zeroCopy, validate: validate, sink: sink,
                                 corrupt: corrupt || corruptFromEnvironment)
    }
}

/// Time to spawn N tasks and hear from each.
struct SpawnBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spawn",
        abstract: "Time to spawn N tasks through the daemon and hear one message from each.",
        discussion: """
            Each repetition spawns --tasks copies of a small task (pvmbench-task, beside pvmbench) that sends \
            its task id to the spawner and exits; the time from the spawn request to the last message, \
            divided by N, is one sample. A first, uncounted repetition warms the daemon and page cache. \
            Starts a local virtual machine if none runs, and stops what it started.
            """)

    @Option(help: "Tasks spawned per repetition.") var tasks = 16
    @Option(name: [.customShort("r"), .customLong("repetitions")], help: "Measured repetitions.") var repetitions = 10
    @Option(help: "Output format: table|csv|json.") var format: OutputFormat = .table
    @Option(name: .customShort("o"), help: ArgumentHelp("Write the output to FILE.", valueName: "file")) var output: String?

    func validate() throws {
        guard (1...4096).contains(tasks) else { throw ValidationError("--tasks must be 1...4096") }
        guard (1...10_000).contains(repetitions) else { throw ValidationError("--repetitions must be 1...10000") }
        if let output { try checkWritable(output, option: "-o") }
    }

    func run() throws {
        let result = try TaskLibraryDriver.spawn(tasks: tasks, repetitions: repetitions,
                                                 peerExecutable: TaskLibraryDriver.peerExecutable(besides: ownExecutable()), progress: showsProgress())
        try emit(try render([result], format), to: output)
    }
}

