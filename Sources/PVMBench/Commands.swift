#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Foundation
import PVMEncoding
import PVMTransport

/// `pvmbench`: the latency and bandwidth suite (BENCHMARKS.md).
public struct PVMBenchCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "pvmbench",
        abstract: "Latency and bandwidth of every PVM message path.",
        subcommands: [Suite.self, PingPong.self, MsgRate.self, Convert.self, Peer.self],
        defaultSubcommand: Suite.self)

    public init() {}

    /// Parses the command line and runs the chosen subcommand (the executable's entry point).
    public static func runFromCommandLine() { main() }
}

/// This program's own path, to start the far end of a measurement.
func ownExecutable() -> String {
    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
}

func emit(_ text: String, to path: String?) throws {
    if let path {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    } else {
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}

func render(_ runs: [RunResult], _ format: OutputFormat) throws -> String {
    switch format {
    case .table: return runs.map(Report.table).joined(separator: "\n")
    case .csv: return Report.csv(runs)
    case .json: return runs.count == 1 ? try Report.json(runs[0]) : try Report.json(runs)
    }
}

/// Runs a measurement; a `BenchError` becomes the command-line error users see.
func measure(_ body: () throws -> RunResult) throws -> RunResult {
    do {
        return try body()
    } catch let error as BenchError {
        throw ValidationError(error.description)
    }
}

struct PingPong: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pingpong", abstract: "One-way latency and ping-pong bandwidth between two processes.")

    @OptionGroup var common: CommonOptions

    func run() throws {
        let result = try measure { try PingPongDriver.run(common, peerExecutable: ownExecutable(), progress: isatty(2) != 0) }
        try emit(try render([result], common.format), to: common.output)
        if let plot = common.plot { try Plot.svg([result]).write(toFile: plot, atomically: true, encoding: .utf8) }
        if result.results.contains(where: { $0.validated == false }) {
            FileHandle.standardError.write(Data("pvmbench: validation failed: a received message differed from what was sent\n".utf8))
            throw ExitCode(3)
        }
    }
}

/// Small-message rate: messages streamed back to back to one receiver.
struct MsgRate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "msgrate", abstract: "Streaming message rate between two processes (one pair in this build).")

    @OptionGroup var common: CommonOptions

    func run() throws {
        let result = try measure { try PingPongDriver.messageRate(common, peerExecutable: ownExecutable(), progress: isatty(2) != 0) }
        try emit(try render([result], common.format), to: common.output)
    }
}

/// The default suite: ping-pong over every path this host has, 1 B to 4 MiB.
struct Suite: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "suite",
        abstract: "The default suite: pingpong over every available path, 1 B to 4 MiB; writes pvmbench-results.json and .svg.")

    @Option(help: "Prefix of the result files.")
    var results = "pvmbench-results"

    func run() throws {
        var runs: [RunResult] = []
        for zeroCopy in [false, true] {
            var options = try CommonOptions.parse([])
            options.transport = .shm
            options.zeroCopy = zeroCopy
            let run = try PingPongDriver.run(options, peerExecutable: ownExecutable(), progress: isatty(2) != 0)
            FileHandle.standardOutput.write(Data((Report.table(run) + "\n").utf8))
            runs.append(run)
        }
        try Report.json(runs).write(toFile: results + ".json", atomically: true, encoding: .utf8)
        try Plot.svg(runs).write(toFile: results + ".svg", atomically: true, encoding: .utf8)
        FileHandle.standardOutput.write(Data("wrote \(results).json and \(results).svg\n".utf8))
    }
}

/// The far end of a measurement (started by pvmbench itself).
struct Peer: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "peer", abstract: "Internal: the echoing end of a measurement.", shouldDisplay: false)

    @Option var address: String
    @Flag(name: .customLong("zero-copy")) var zeroCopy = false
    @Flag var validate = false
    @Flag var sink = false

    func run() throws {
        try PingPongDriver.serve(address: address, zeroCopy: zeroCopy, validate: validate, sink: sink)
    }
}

/// Conversion throughput per type and foreign signature, with memcpy beside it.
struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert", abstract: "Data conversion throughput per type and foreign signature (memcpy measured in the same run).")

    @Option(help: "Bytes converted per iteration (K/M suffixes).") var bytes = "8M"
    @Option(name: [.customShort("i"), .customLong("iterations")], help: "Iterations per row.") var iterations = 20
    @Option(help: "Types: short,int,long,float,double,cplx,dcplx.") var types: String?
    @Option(help: "Source architectures (PVM names), e.g. SUN4,LINUX.") var from: String?
    @Option(help: "Output format: table|csv|json.") var format: OutputFormat = .table
    @Option(name: .customShort("o"), help: "Write the output to FILE.") var output: String?

    func validate() throws {
        guard let n = parseSize(bytes), n >= 64 else { throw ValidationError("--bytes must be at least 64") }
        _ = n
        guard iterations >= 1 else { throw ValidationError("-i must be at least 1") }
        if let from {
            for name in from.split(separator: ",") where Architecture.named(String(name)) == nil {
                throw ValidationError("unknown architecture \(name); known: \(Architecture.known.map(\.name).joined(separator: ","))")
            }
        }
    }

    func run() throws {
        let rows = try measureConversions(bytes: parseSize(bytes)!, iterations: iterations,
                                          types: types?.split(separator: ",").map(String.init),
                                          from: from?.split(separator: ",").map(String.init))
        let text: String
        switch format {
        case .json:
            let run = ConvertRun(benchmark: "convert", machine: .current(), results: rows)
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys]
            text = String(decoding: try e.encode(run), as: UTF8.self) + "\n"
        case .csv:
            text = "type,from,bytes,iterations,gbytes_per_s,ns_per_iteration\n" + rows.map {
                "\($0.type),\($0.from),\($0.bytes),\($0.iterations),\(String(format: "%.3f", $0.gbytesPerS)),\(String(format: "%.0f", $0.nsPerIteration))"
            }.joined(separator: "\n") + "\n"
        case .table:
            let memcpy = rows.first { $0.type == "memcpy" }?.gbytesPerS ?? 1
            text = "# PVM convert test: unpack with conversion, \(bytes) per iteration\n# type                  from                 GB/s     x memcpy\n" + rows.map {
                "  " + $0.type.padding(toLength: 22, withPad: " ", startingAt: 0) + $0.from.padding(toLength: 21, withPad: " ", startingAt: 0)
                    + String(format: "%-9.2f%.2f", $0.gbytesPerS, $0.gbytesPerS / memcpy)
            }.joined(separator: "\n") + "\n"
        }
        try emit(text, to: output)
    }
}

struct ConvertRun: Codable {
    var benchmark: String
    var machine: MachineInfo
    var results: [ConvertMeasurement]
}
