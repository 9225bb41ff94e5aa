import ArgumentParser
import Foundation
import PVMEncoding
import PVMTransport

/// `pvmbench convert`: conversion throughput per type and foreign signature,
/// with memcpy measured in the same run. The measuring is
/// `measureConversions(bytes:iterations:types:from:)` (ConvertBenchmark.swift);
/// this file is only the command line and the output formats.
struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert", abstract: "Data conversion throughput per type and foreign signature (memcpy measured in the same run).")

    @Option(help: ArgumentHelp("Bytes converted per iteration (K/M suffixes).", valueName: "size")) var bytes = "8M"
    @Option(name: [.customShort("i"), .customLong("iterations")], help: ArgumentHelp("Iterations per row.", valueName: "n")) var iterations = 20
    @Option(help: ArgumentHelp("Types: short,int,long,float,double,cplx,dcplx.", valueName: "list")) var types: String?
    @Option(help: ArgumentHelp("Sources: architectures (PVM names) or data signatures (hex, as conf shows them), e.g. SUN4,LINUX,0x0658eb59.", valueName: "list")) var from: String?
    @Option(help: "Output format: table|csv|json.") var format: OutputFormat = .table
    @Option(name: .customShort("o"), help: ArgumentHelp("Write the output to FILE.", valueName: "file")) var output: String?

    func validate() throws {
        guard let n = parseSize(bytes), n >= 64 else { throw ValidationError("--bytes must be at least 64") }
        _ = n
        guard iterations >= 1 else { throw ValidationError("-i must be at least 1") }
        if let output { try checkWritable(output, option: "-o") }
        if let from {
            for name in from.split(separator: ",") {
                do { _ = try ConvertSource(String(name)) } catch { throw ValidationError(error.detail) }
            }
        }
    }

    func run() throws {
        let rows = try measureConversions(bytes: parseSize(bytes)!, iterations: iterations,
                                          types: types?.split(separator: ",").map(String.init),
                                          from: try from?.split(separator: ",").map { try ConvertSource(String($0)) })
        let text: String
        switch format {
        case .json:
            let run = ConvertRun(machine: .current(), results: rows)
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
                $0.type.padding(toLength: 24, withPad: " ", startingAt: 0) + $0.from.padding(toLength: 21, withPad: " ", startingAt: 0)
                    + String(format: "%-9.2f%.2f", $0.gbytesPerS, $0.gbytesPerS / memcpy)
            }.joined(separator: "\n") + "\n"
        }
        try emit(text, to: output)
    }
}

/// The JSON object of one `convert` run, with every run file's keys
/// (BENCHMARKS.md): no message crosses anything, so `transport` is "none";
/// `api` is the task library's unpacking, where the conversion happens.
struct ConvertRun: Codable {
    var benchmark = "convert"
    var transport = "none"
    var api = "pvm"
    var zeroCopy = false
    var machine: MachineInfo
    var results: [ConvertMeasurement]

    enum CodingKeys: String, CodingKey {
        case benchmark, transport, api, machine, results
        case zeroCopy = "zero_copy"
    }
}
