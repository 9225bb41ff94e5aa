#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Foundation
import PVMSystem
import PVMTransport

/// `pvmbench tune`: measures this machine, computes the shared-memory
/// transport's thresholds, prints them beside the defaults and writes the
/// tune file that every PVM program reads at start-up (`TuneFile`).
struct Tune: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tune",
        abstract: "Measure this machine and write the shared-memory transport's thresholds to the tune file.",
        discussion: """
            Measures memcpy rates, the cost of a system call and of a doorbell, the wake-up latency, the \
            cache-line transfer time and whether single copy (process_vm_readv) is permitted between \
            processes; then times messages through the transport between two processes on each path \
            (inline, single copy, pipelined) to find where one overtakes the next. Computes the inline \
            (eager) limit, the single-copy limit, the pipeline piece and the spin time, prints them beside \
            the built-in defaults, and writes them to the tune file: $PVM_TUNE_FILE, else \
            $XDG_CONFIG_HOME/pvm/tune.conf, else $HOME/.config/pvm/tune.conf. Keys not computed here \
            (PVM_SHM_RING, PVM_SHM_LARGE, PVM_SHM_HEAP, PVM_SHM_MAX_PEERS) are kept from the file it \
            replaces. A PVM_SHM_* environment variable overrides the file; the runtime works without it. \
            Takes about 20 s on a 2-core machine (--quick: a few seconds, noisier). Measure a release build.
            """)

    @Option(name: [.customShort("o"), .customLong("output")],
            help: ArgumentHelp("Write the tune file to FILE instead of the default place.", valueName: "file"))
    var output: String?

    @Flag(name: .customLong("dry-run"), help: "Measure and print; write no file.")
    var dryRun = false

    @Option(help: "Output format: table|json.")
    var format: OutputFormat = .table

    @Flag(help: "Fewer rounds: a few seconds instead of about 20, with noisier thresholds.")
    var quick = false

    func validate() throws {
        if format == .csv { throw ValidationError("tune prints a table or JSON (--format table|json)") }
        if let output, output.isEmpty { throw ValidationError("-o needs a file name") }
    }

    func run() throws {
        let environment = { (name: String) in getenv(name).map { String(cString: $0) } }
        let destination = output ?? TuneFile.defaultPath(environment: environment)
        if destination == nil && !dryRun {
            let why = environment(TuneFile.environmentVariable) != nil ? "PVM_TUNE_FILE is empty (no tune file)" : "neither HOME nor XDG_CONFIG_HOME is set"
            throw ValidationError("\(why): give -o FILE, or --dry-run")
        }
        let progress = showsProgress()
        let load = TuneReport.currentLoadAverage()
        let use = CPUUse.now()
        let started = Clock.monotonicNanoseconds()
        let facts = try Tuner.measure(plan: quick ? .quick : .standard, peerExecutable: ownExecutable()) { step in
            if progress { FileHandle.standardError.write(Data("\rtune: \(step)...\u{1B}[K".utf8)) }
        }
        if progress { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        #if DEBUG
        let build = "debug"
        #else
        let build = "release"
        #endif
        let seconds = Double(Clock.monotonicNanoseconds() - started) / 1e9
        let machine = MachineInfo.current()
        let other = use.flatMap { start in CPUUse.now().map { CPUUse.otherShare(from: start, to: $0, elapsed: seconds, cpus: machine.cpus) } }
        var report = TuneReport(machine: machine, build: build, seconds: seconds, measured: facts, thresholds: Tuner.thresholds(facts),
                                loadAverage: load, otherShare: other, file: destination)
        if let destination, !dryRun {
            let text = Tuner.fileText(report, previous: TuneFile.load(path: destination))
            do {
                let folder = URL(fileURLWithPath: destination).deletingLastPathComponent().path
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                try text.write(toFile: destination, atomically: true, encoding: .utf8)
            } catch {
                throw BenchError("could not write the tune file \(destination): \(error.localizedDescription)")
            }
            report.written = true
        }
        switch format {
        case .json:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try emit(String(decoding: try encoder.encode(report), as: UTF8.self) + "\n", to: nil)
        case .table, .csv:
            var text = Tuner.table(report)
            if report.written, let destination {
                text += "wrote \(destination)\n"
            } else if let destination {
                text += "dry run: would write \(destination)\n"
            }
            // The environment wins over the file: say so where it hides a value.
            let overridden = ShmSettingKey.allCases.filter { key in
                environment(key.rawValue) != nil && report.thresholds.contains { $0.key == key && $0.value != nil }
            }
            if !overridden.isEmpty {
                text += "note: \(overridden.map(\.rawValue).joined(separator: ", ")) set in the environment override\(overridden.count == 1 ? "s" : "") the file\n"
            }
            try emit(text, to: nil)
        }
    }
}
