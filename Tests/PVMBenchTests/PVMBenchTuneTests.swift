#if canImport(Glibc)
import Glibc
#endif
import Testing
import Foundation
import PVMBench
import PVMTestSupport
import PVMTransport

/// `pvmbench tune`: its decisions from measurements (pure), and real runs
/// of the built binary: a dry run, a run that writes the tune file, and a
/// new process that picks the file up.
@Suite(.serialized) struct PVMBenchTuneTests {
    static let pvmbench = TestProducts.executable("pvmbench")

    static func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not a JSON object: \(text.prefix(300))")
    }

    // MARK: Decisions

    @Test func tuneCrossoverIsWhereTheSecondWinsForGood() {
        typealias P = (bytes: Int, first: Double, second: Double)
        #expect(Tuner.crossover([]) == .firstThroughout)
        #expect(Tuner.crossover([(1000, 1, 2), (2000, 2, 3)]) == .firstThroughout)
        #expect(Tuner.crossover([(1000, 3, 2), (2000, 4, 3)]) == .secondThroughout)
        // Within the tie margin the first (simpler) mechanism keeps the size.
        #expect(Tuner.crossover([(1000, 102, 100), (2000, 202, 200)]) == .firstThroughout)
        // The first wins to 2000, the second from 3000: the lines meet in between.
        let points: [P] = [(1000, 10, 15), (2000, 20, 21), (3000, 40, 30)]
        guard case .between(let low, let high, let at) = Tuner.crossover(points) else {
            Issue.record("no crossover found")
            return
        }
        #expect(low == 2000 && high == 3000)
        #expect(at > 2100 && at < 2200, "\(at)")
        // A noisy win of the second in the middle does not count: only a win to the end does.
        let noisy: [P] = [(1000, 10, 9), (2000, 20, 25), (3000, 30, 35), (4000, 50, 40), (5000, 60, 45)]
        guard case .between(3000, 4000, _) = Tuner.crossover(noisy) else {
            Issue.record("\(Tuner.crossover(noisy))")
            return
        }
    }

    @Test func tuneSingleCopyLimitFromMeasurementsAndBeyond() {
        func timing(_ bytes: Int, single: Double, piped: Double) -> TransportTiming {
            TransportTiming(bytes: bytes, singleCopyNs: single, pipelinedNs: piped)
        }
        let mib = 1 << 20
        // Pipelining overtakes between 256K and 512K.
        let measured = [timing(128 << 10, single: 20_000, piped: 30_000), timing(256 << 10, single: 35_000, piped: 40_000),
                        timing(512 << 10, single: 70_000, piped: 50_000)]
        let (value, basis) = Tuner.singleCopyLimit(measured)
        #expect(value > 256 << 10 && value < 512 << 10 && value % 4096 == 0, "\(value): \(basis)")
        // Single copy wins throughout, and its per-byte cost is no higher: up to the ceiling.
        let always = [timing(mib, single: 100_000, piped: 150_000), timing(2 * mib, single: 200_000, piped: 260_000),
                      timing(4 * mib, single: 400_000, piped: 480_000)]
        #expect(Tuner.singleCopyLimit(always).value == 1 << 30)
        // Single copy wins throughout but pipelining's per-byte cost is lower: they would meet near 5.3 MiB.
        let later = [timing(mib, single: 100_000, piped: 150_000), timing(2 * mib, single: 200_000, piped: 250_000),
                     timing(4 * mib, single: 400_000, piped: 420_000)]
        let extrapolated = Tuner.singleCopyLimit(later).value
        #expect(extrapolated > 5 * mib && extrapolated < 6 * mib, "\(extrapolated)")
        // Pipelining wins everywhere: single copy is never used.
        #expect(Tuner.singleCopyLimit([timing(64 << 10, single: 9000, piped: 5000), timing(mib, single: 200_000, piped: 90_000)]).value == 0)
    }

    @Test func tuneEagerLimitComparesWithThePathTheRuntimeWouldTake() {
        let timings = [
            TransportTiming(bytes: 16 << 10, inlineNs: 1500, singleCopyNs: 4000, pipelinedNs: 1400),
            TransportTiming(bytes: 32 << 10, inlineNs: 2500, singleCopyNs: 5000, pipelinedNs: 2000),
            TransportTiming(bytes: 65520, inlineNs: 5000, singleCopyNs: 6000, pipelinedNs: 3000),
        ]
        // Single copy up to 1 MiB: inline wins at every size against it.
        #expect(Tuner.eagerLimit(timings, maxInline: 65520, singleCopy: 1 << 20).value == 65520)
        // No single copy (not permitted, or limit 0): pipelining beats inline at every size measured.
        #expect(Tuner.eagerLimit(timings, maxInline: 65520, singleCopy: nil).value == 16 << 10)
        #expect(Tuner.eagerLimit(timings, maxInline: 65520, singleCopy: 0).value == 16 << 10)
        // Single copy only to 32K: above it, pipelining is what inline must beat.
        let (mixed, basis) = Tuner.eagerLimit(timings, maxInline: 65520, singleCopy: 32 << 10)
        #expect(mixed >= 32 << 10 && mixed < 65520 && mixed % 64 == 0, "\(mixed): \(basis)")
    }

    @Test func tuneRefinesBetweenBracketingSizes() {
        #expect(Tuner.sizes(between: 48 << 10, and: 65520, alignment: 64) == [53184, 57280, 61376])
        #expect(Tuner.sizes(between: 2 << 20, and: 4 << 20, alignment: 4096) == [2621440, 3145728, 3670016])
        #expect(Tuner.sizes(between: 1000, and: 1004, alignment: 64).isEmpty)
    }

    @Test func tuneTimingsLoseUpwardNoise() {
        let raw = [
            TransportTiming(bytes: 4096, inlineNs: 900, pipelinedNs: 70_000),   // a busy moment
            TransportTiming(bytes: 1024, inlineNs: 500, pipelinedNs: 800),
            TransportTiming(bytes: 8192, inlineNs: 1200, singleCopyNs: 3000, pipelinedNs: 1500),
        ]
        let clean = Tuner.monotone(raw)
        #expect(clean.map(\.bytes) == [1024, 4096, 8192])
        #expect(clean.map(\.inlineNs) == [500, 900, 1200])
        #expect(clean.map(\.pipelinedNs) == [800, 1500, 1500])
        #expect(clean.map(\.singleCopyNs) == [nil, nil, 3000])
    }

    @Test func tunePieceAndSpin() {
        let k = 1 << 10
        let clear = [PieceTiming(piece: 16 * k, bytes: 1 << 20, ns: 80), PieceTiming(piece: 64 * k, bytes: 1 << 20, ns: 100),
                     PieceTiming(piece: 16 * k, bytes: 4 << 20, ns: 300), PieceTiming(piece: 64 * k, bytes: 4 << 20, ns: 400)]
        #expect(Tuner.bestPiece(clear, default: 64 * k).value == 16 * k)
        // Within the tie margin: the default stays.
        let tie = [PieceTiming(piece: 16 * k, bytes: 1 << 20, ns: 99), PieceTiming(piece: 64 * k, bytes: 1 << 20, ns: 100)]
        #expect(Tuner.bestPiece(tie, default: 64 * k).value == 64 * k)
        #expect(Tuner.bestPiece([], default: 64 * k).value == 64 * k)
        #expect(Tuner.spinTime(wakeupNs: 5_000) == 50_000)
        #expect(Tuner.spinTime(wakeupNs: 4_321) == 44_000)
        #expect(Tuner.spinTime(wakeupNs: 10) == 2_000)
        #expect(Tuner.spinTime(wakeupNs: 1e9) == 1_000_000)
    }

    @Test func tuneFileTextReadsBackAndKeepsWhatTuneDoesNotCompute() {
        var facts = TuneFacts()
        facts.wakeupNs = 4000
        facts.memcpy = []
        let thresholds = [
            TuneThreshold(name: "eager", key: .eager, value: 32768, defaultValue: 65520, basis: "measured"),
            TuneThreshold(name: "single_copy", key: .singleCopyMax, value: nil, defaultValue: 262144, basis: "not permitted"),
            TuneThreshold(name: "piece", key: .piece, value: 65536, defaultValue: 65536, basis: "default within the margin"),
            TuneThreshold(name: "spin", key: .spin, value: 40000, defaultValue: 50000, basis: "ten wake-ups"),
        ]
        let report = TuneReport(machine: .current(), build: "debug", seconds: 1, measured: facts, thresholds: thresholds)
        let previous = TuneFile(parsing: "PVM_SHM_RING = 512K\nPVM_SHM_LARGE = pipelined\nPVM_SHM_EAGER = 4\nPVM_SHM_SINGLE_COPY_MAX = 1M\n", path: "old")
        let text = Tuner.fileText(report, previous: previous)
        let back = TuneFile(parsing: text, path: "new")
        #expect(back.warnings == [], "\(text)")
        #expect(back.settings.eagerLimit == 32768 && back.settings.pipelinePiece == 65536 && back.settings.spinNanoseconds == 40000)
        // Not computed here: not written (the old file's value is not carried over either: it is a threshold tune owns).
        #expect(back.settings.singleCopyLimit == nil)
        #expect(back.settings.ringCapacity == 512 << 10 && back.settings.largeMode == .pipelined)
        #expect(text.contains("# kept from the previous file\nPVM_SHM_RING = 512K\n"))
        #expect(text.hasPrefix("# PVM tune file, written by pvmbench tune"))
    }

    // MARK: Real runs

    @Test func tuneDryRunPrintsJSONAndWritesNothing() throws {
        let dir = try TemporaryFolder()
        let file = dir.path("tune.conf")
        let r = try ChildProcess(Self.pvmbench, ["tune", "--dry-run", "--quick", "--format", "json"],
                                 environment: ["PVM_TUNE_FILE": file]).wait(seconds: 120)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.isEmpty, "no progress output when stderr is not a terminal: \(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: file))
        let object = try Self.json(r.stdout)
        #expect(object["benchmark"] as? String == "tune")
        #expect(object["written"] as? Bool == false)
        #expect(object["file"] as? String == file)
        #expect(["debug", "release"].contains(object["build"] as? String ?? ""))
        let measured = try #require(object["measured"] as? [String: Any])
        for key in ["syscall_ns", "eventfd_write_ns", "wakeup_ns"] {
            #expect((measured[key] as? Double ?? 0) > 0, "\(key)")
        }
        #expect((measured["memcpy"] as? [[String: Any]])?.count == 4)
        let transport = try #require(measured["transport"] as? [[String: Any]])
        #expect(transport.contains { $0["inline_ns"] != nil } && transport.contains { $0["pipelined_ns"] != nil })
        let thresholds = try #require(object["thresholds"] as? [[String: Any]])
        #expect(thresholds.compactMap { $0["key"] as? String } == ["PVM_SHM_EAGER", "PVM_SHM_SINGLE_COPY_MAX", "PVM_SHM_PIECE", "PVM_SHM_SPIN_NS"])
        for t in thresholds {
            #expect(t["default"] as? Int != nil && t["basis"] as? String != nil)
            if let value = t["value"] as? Int { #expect(t["differs"] as? Bool == (value != t["default"] as? Int)) }
        }
    }

    @Test func tuneWritesAFileThatANewProcessPicksUp() throws {
        let dir = try TemporaryFolder()
        let file = dir.path("sub/tune.conf")
        // Into a folder that does not exist yet.
        let r = try ChildProcess(Self.pvmbench, ["tune", "--quick", "-o", file, "--format", "json"]).wait(seconds: 120)
        #expect(r.status == 0, "\(r.stderr)")
        let object = try Self.json(r.stdout)
        #expect(object["written"] as? Bool == true && object["file"] as? String == file)
        let written = try #require(TuneFile.load(path: file))
        #expect(written.warnings == [], "\(written.warnings)")
        #expect(written.settings.eagerLimit != nil && written.settings.pipelinePiece != nil && written.settings.spinNanoseconds != nil)
        let measured = try #require(object["measured"] as? [String: Any])
        let cma = measured["cma_between_processes"] as? Bool == true
        #expect(written.settings.singleCopyLimit != nil || !cma)

        // The same file with a tiny eager limit: 8-byte messages now take the large-message path.
        var settings = written.settings
        settings.eagerLimit = 4
        try TuneFile.render(settings, header: ["test"]).write(toFile: file, atomically: true, encoding: .utf8)
        let expected = cma && (settings.singleCopyLimit ?? 0) >= 8 ? "single-copy" : "pipelined"
        let args = ["pingpong", "--api", "transport", "--sizes", "8", "-i", "100", "-x", "10", "--format", "json"]
        // (Not timing the two copies against each other above the limit: the file's choice only.)
        let tiny = try ChildProcess(Self.pvmbench, args, environment: ["PVM_TUNE_FILE": file, "PVM_SHM_ADAPTIVE": "off"]).wait(seconds: 60)
        #expect(tiny.status == 0, "\(tiny.stderr)")
        #expect(tiny.stderr.isEmpty, "a good file is read silently: \(tiny.stderr)")
        #expect(try Self.paths(tiny.stdout) == [expected])

        // The environment wins over the file.
        let env = try ChildProcess(Self.pvmbench, args, environment: ["PVM_TUNE_FILE": file, "PVM_SHM_EAGER": "65520"]).wait(seconds: 60)
        #expect(env.status == 0, "\(env.stderr)")
        #expect(try Self.paths(env.stdout) == ["express"])

        // A file with bad lines: one warning per line and process, naming file and line; the rest applies.
        try "PVM_SHM_EAGER = 4\nthis is not a setting\nPVM_SHM_SPIN_NS = lots\nPVM_SHM_LARGE = pipelined\n".write(toFile: file, atomically: true, encoding: .utf8)
        let bad = try ChildProcess(Self.pvmbench, args, environment: ["PVM_TUNE_FILE": file]).wait(seconds: 60)
        #expect(bad.status == 0, "\(bad.stderr)")
        #expect(try Self.paths(bad.stdout) == ["pipelined"])
        let lines = bad.stderr.split(separator: "\n")
        for line in [2, 3] {
            let mine = lines.filter { $0.hasPrefix("pvm: \(file):\(line): ") }
            // The measuring process and its peer each say it once.
            #expect((1...2).contains(mine.count), "\(bad.stderr)")
        }
        #expect(lines.allSatisfy { $0.hasPrefix("pvm: \(file):") }, "\(bad.stderr)")

        // No file at all (PVM_TUNE_FILE empty): the defaults, silently.
        let none = try ChildProcess(Self.pvmbench, args, environment: ["PVM_TUNE_FILE": ""]).wait(seconds: 60)
        #expect(none.status == 0 && none.stderr.isEmpty, "\(none.stderr)")
        #expect(try Self.paths(none.stdout) == ["express"])
    }

    @Test func tuneRefusesCSVAndNoPlace() throws {
        let csv = try ChildProcess(Self.pvmbench, ["tune", "--format", "csv"]).wait(seconds: 30)
        #expect(csv.status == 64, "\(csv.stderr)")
        let nowhere = try ChildProcess(Self.pvmbench, ["tune", "--quick"], environment: ["PVM_TUNE_FILE": ""]).wait(seconds: 30)
        #expect(nowhere.status != 0 && nowhere.stderr.contains("PVM_TUNE_FILE is empty"), "\(nowhere.stderr)")
    }

    static func paths(_ stdout: String) throws -> [String] {
        let results = try #require(try json(stdout)["results"] as? [[String: Any]])
        return results.compactMap { $0["path"] as? String }
    }
}
