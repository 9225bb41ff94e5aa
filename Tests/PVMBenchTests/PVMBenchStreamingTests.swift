#if canImport(Glibc)
import Glibc
#endif
import Testing
import Foundation
import FoundationXML
import ArgumentParser
import PVMBench
import PVMTestSupport

/// bw, bibw, msgrate with pairs, and plot: their command lines, their
/// output, and short real runs over every layer and path.
@Suite struct PVMBenchStreamingParsingTests {
    @Test func windowAndPairsParseAndAreChecked() throws {
        #expect(try StreamOptions.parse(["--sizes", "8"]).window == StreamingDriver.defaultWindow)
        #expect(try StreamOptions.parse(["-W", "16", "--api", "transport"]).window == 16)
        #expect(try StreamOptions.parse(["--window", "1", "--zero-copy", "--api", "transport"]).common.zeroCopy)
        for bad in [["--window", "0"], ["--window", "5000"], ["--zero-copy"], ["--transport", "verbs"]] {
            #expect(throws: (any Error).self, "\(bad) should be refused") { try StreamOptions.parse(bad) }
        }
        #expect(try MessageRateOptions.parse([]).pairs == 1)
        #expect(try MessageRateOptions.parse(["--pairs", "4", "--api", "transport"]).pairs == 4)
        // --hosts places the pairs' tasks of the virtual machine (--api pvm).
        #expect(try MessageRateOptions.parse(["--hosts", "a,b"]).common.hostPair! == ("a", "b"))
        #expect(try MessageRateOptions.parse(["--zero-copy", "--api", "transport"]).common.zeroCopy)
        for bad in [["--pairs", "0"], ["--pairs", "65"], ["--zero-copy"], ["--zero-copy", "--api", "c"], ["--hosts", "a,b", "--api", "transport"],
                    ["--hosts", "a,b", "--api", "c"]] {
            #expect(throws: (any Error).self, "\(bad) should be refused") { try MessageRateOptions.parse(bad) }
        }
        let message = CommonOptions.message(for: try #require(throws: (any Error).self) { try MessageRateOptions.parse(["--pairs", "0"]) })
        #expect(message.contains("--pairs must be 1...64"), "\(message)")
        // The subcommands exist, with their options.
        #expect(throws: Never.self) { try PVMBenchCommand.parseAsRoot(["bw", "--api", "pvm", "--transport", "tcp", "-W", "8"]) }
        #expect(throws: Never.self) { try PVMBenchCommand.parseAsRoot(["bibw", "--api", "transport", "--zero-copy"]) }
        #expect(throws: Never.self) { try PVMBenchCommand.parseAsRoot(["msgrate", "--pairs", "2", "-c"]) }
        #expect(throws: Never.self) { try PVMBenchCommand.parseAsRoot(["plot", "a.json", "b.json", "-o", "x.svg"]) }
        #expect(throws: (any Error).self) { try PVMBenchCommand.parseAsRoot(["plot", "-o", "x.svg"]) }
        #expect(throws: (any Error).self) { try PVMBenchCommand.parseAsRoot(["plot", "a.json"]) }
    }

    @Test func defaultCountsScaleWithSize() throws {
        let sweep = try SweepOptions.parse([])
        let small = StreamingDriver.windows(size: 8, window: 64, sweep: sweep)
        let large = StreamingDriver.windows(size: 4 << 20, window: 64, sweep: sweep)
        #expect(small.windows == 2_000 && large.windows == 20)
        #expect(small.warmup == 400 && large.warmup == 4)
        #expect(StreamingDriver.windows(size: 8, window: 64, sweep: sweep, divisor: 10).windows == 200)
        #expect(StreamingDriver.windows(size: 1 << 20, window: 64, sweep: sweep, divisor: 10) == (20, 4))
        let given = try SweepOptions.parse(["-i", "7", "-x", "3"])
        #expect(StreamingDriver.windows(size: 8, window: 64, sweep: given) == (7, 3))
        #expect(StreamingDriver.messages(size: 8, sweep: sweep).messages == 1_000_000)
        #expect(StreamingDriver.messages(size: 4 << 20, sweep: sweep).messages == 512)
        #expect(StreamingDriver.messages(size: 1 << 30, sweep: sweep).messages == 200)
        #expect(StreamingDriver.messages(size: 8, sweep: given) == (7, 3))
    }
}

@Suite struct PVMBenchStreamingOutputTests {
    static func run(_ benchmark: String, window: Int? = nil, pairs: Int? = nil) -> RunResult {
        var r = PVMBenchOutputTests.sample()
        r.benchmark = benchmark
        r.window = window
        r.pairs = pairs
        return r
    }

    @Test func streamingTablesLeadWithBandwidthAndSayHow() throws {
        let table = Report.table(Self.run("bw", window: 64))
        let lines = table.split(separator: "\n").map(String.init)
        #expect(lines[0] == "# PVM bw test, transport shm, api transport")
        #expect(table.contains("# window: 64 messages in flight, then an acknowledgement"))
        let header = try #require(lines.first { $0.hasPrefix("# Size") })
        #expect(header.split(separator: " ", omittingEmptySubsequences: true).prefix(4).joined(separator: " ") == "# Size MB/s Messages/s")
        // OSU-minded regexes read size then MB/s.
        let row = try #require(lines.first { $0.hasPrefix("8 ") }).split(separator: " ").map(String.init)
        let sample = PVMBenchOutputTests.sample().results[0]
        #expect(abs((Double(row[1]) ?? 0) - sample.gbytesPerS * 1000) < 0.01)
        #expect(Report.table(Self.run("bibw", window: 8)).contains("both directions at once, MB/s counts both"))
        #expect(Report.table(Self.run("msgrate", pairs: 4)).contains("# 4 sender/receiver pairs streaming at once"))
        // The JSON and CSV carry the window and the pairs.
        let object = try #require(try JSONSerialization.jsonObject(with: Data(try Report.json(Self.run("bw", window: 32)).utf8)) as? [String: Any])
        try PVMBenchOutputTests.checkContract(object)
        #expect(object["window"] as? Int == 32)
        #expect(object["pairs"] == nil)
        let csv = Report.csv([Self.run("msgrate", pairs: 3)]).split(separator: "\n").map(String.init)
        #expect(csv[1].hasSuffix(",,3,"))
        #expect(Self.run("msgrate", pairs: 3).label.hasSuffix(", 3 pairs"))
    }

    /// Two charts: latency of ping-pong runs, bandwidth of every run; one
    /// legend entry per run; streaming runs draw no latency curve.
    @Test func plotHasALatencyAndABandwidthChart() throws {
        let runs = [PVMBenchOutputTests.sample(), Self.run("bw", window: 64)]
        let svg = Plot.svg(runs, title: "two charts")
        let counter = ElementCounter()
        let parser = XMLParser(data: Data(svg.utf8))
        parser.delegate = counter
        #expect(parser.parse())
        #expect(counter.counts["polyline"] == 3, "pingpong in both charts, bw in the bandwidth chart only")
        #expect(counter.text.contains("one-way latency"))
        #expect(counter.text.contains("bandwidth"))
        #expect(counter.text.contains("two charts"))
        for run in runs { #expect(counter.text.components(separatedBy: run.label).count == 2, "one legend entry for \(run.label)") }
        #expect(counter.text.contains("GB/s") || counter.text.contains("MB/s"))
        #expect(!svg.contains("nan") && !svg.contains("inf"))
    }

    /// `plot` reads our files and peers' files converted to the schema
    /// (only the required fields), and names a bad file.
    @Test func plotLoadsResultFilesAndRefusesOthers() throws {
        let dir = try TemporaryFolder()
        try Report.json([PVMBenchOutputTests.sample(), Self.run("bw", window: 64)]).write(toFile: dir.path("ours.json"), atomically: true, encoding: .utf8)
        let peer = """
            {"benchmark": "pingpong", "transport": "shm", "api": "Open MPI",
             "results": [{"bytes": 8, "one_way_ns": {"mean": 180.5}, "gbytes_per_s": 0.044}]}
            """
        try peer.write(toFile: dir.path("peer.json"), atomically: true, encoding: .utf8)
        let runs = try Plot.load([dir.path("ours.json"), dir.path("peer.json")])
        #expect(runs.map(\.api) == ["transport", "transport", "Open MPI"])
        #expect(runs[2].results[0].oneWayNs.p50 == 181 && runs[2].results[0].oneWayNs.p99 == 181)
        try "{\"benchmark\": \"pingpong\"}".write(toFile: dir.path("bad.json"), atomically: true, encoding: .utf8)
        let error = try #require(throws: (any Error).self) { try Plot.load([dir.path("bad.json")]) }
        #expect("\(error)".contains("bad.json") && "\(error)".contains("missing"), "\(error)")
        let missing = try #require(throws: (any Error).self) { try Plot.load([dir.path("absent.json")]) }
        #expect("\(missing)".contains("cannot read"), "\(missing)")
    }
}

/// Short real runs of the built binary.
@Suite(.serialized) struct PVMBenchStreamingRunTests {
    static let pvmbench = TestProducts.executable("pvmbench")

    static func run(_ arguments: [String], environment: [String: String] = [:], seconds: Double = 180) throws -> (status: Int32, object: [String: Any]?, stderr: String) {
        let r = try ChildProcess(Self.pvmbench, arguments, environment: environment).wait(seconds: seconds)
        let object = try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        return (r.status, object, r.stderr)
    }

    static func results(_ object: [String: Any]?) throws -> [[String: Any]] {
        let object = try #require(object)
        try PVMBenchOutputTests.checkContract(object)
        return try #require(object["results"] as? [[String: Any]])
    }

    /// bw and bibw over the bare transport, copying and zero copy: every
    /// size class arrives intact, figures are positive.
    @Test(arguments: ["bw", "bibw"], [false, true])
    func streamsOverTheTransport(benchmark: String, zeroCopy: Bool) throws {
        var args = [benchmark, "--api", "transport", "--sizes", "8,64K,300K,1M", "-i", "3", "-x", "1", "-W", "16", "-c", "--format", "json"]
        if zeroCopy { args.append("--zero-copy") }
        let r = try Self.run(args)
        #expect(r.status == 0, "\(r.stderr)")
        let results = try Self.results(r.object)
        #expect(r.object?["benchmark"] as? String == benchmark)
        #expect(r.object?["window"] as? Int == 16)
        #expect(r.object?["zero_copy"] as? Bool == zeroCopy)
        #expect(results.map { $0["bytes"] as? Int } == [8, 64 << 10, 300 << 10, 1 << 20])
        #expect(results.allSatisfy { $0["validated"] as? Bool == true })
        // Messages: windows x window, both directions for bibw.
        #expect(results.allSatisfy { $0["iterations"] as? Int == 3 * 16 * (benchmark == "bibw" ? 2 : 1) })
        #expect(results.allSatisfy { ($0["gbytes_per_s"] as? Double ?? 0) > 0 && ($0["messages_per_s"] as? Double ?? 0) > 0 })
        if zeroCopy { #expect(results.allSatisfy { $0["path"] as? String == "loan" }) }
    }

    /// bibw over the bare transport without -c posts its receives (each
    /// end names its buffer before it sends, as osu_bibw): large messages
    /// take the `placed` path at both ends' sizes, small ones stay inline.
    @Test func bibwOverTheTransportPostsItsReceives() throws {
        let r = try Self.run(["bibw", "--api", "transport", "--sizes", "8,300K,1M", "-i", "3", "-x", "1", "-W", "16", "--format", "json"])
        #expect(r.status == 0, "\(r.stderr)")
        let results = try Self.results(r.object)
        #expect(results.map { $0["path"] as? String } == ["inline", "placed", "placed"])
        #expect(results.allSatisfy { $0["iterations"] as? Int == 3 * 16 * 2 })
    }

    /// Through the task library over every path, with -c.
    @Test(arguments: ["bw", "bibw"], ["shm", "tcp", "daemon"])
    func streamsThroughTheTaskLibrary(benchmark: String, transport: String) throws {
        let dir = try TemporaryFolder()
        let r = try Self.run([benchmark, "--transport", transport, "--sizes", "8,64K,1M", "-i", "2", "-x", "1", "-W", "8", "-c", "--format", "json"],
                             environment: ["PVM_TMP": dir.root])
        #expect(r.status == 0, "\(r.stderr)")
        let results = try Self.results(r.object)
        #expect(r.object?["api"] as? String == "pvm")
        #expect(r.object?["transport"] as? String == transport)
        #expect(results.allSatisfy { $0["validated"] as? Bool == true && $0["path"] as? String == transport })
        #expect(!FileManager.default.fileExists(atPath: dir.path("pvm.\(getuid())")), "the daemon it started is still there")
    }

    /// bw and bibw through the C library (both ends libpvm3's calls) over
    /// shared memory and TCP, with -c.
    @Test(arguments: ["bw", "bibw"], ["shm", "tcp"])
    func streamsThroughTheCLibrary(benchmark: String, transport: String) throws {
        let dir = try TemporaryFolder()
        let r = try Self.run([benchmark, "--api", "c", "--transport", transport, "--sizes", "8,64K,1M", "-i", "2", "-x", "1", "-W", "8",
                              "-c", "--format", "json"], environment: ["PVM_TMP": dir.root])
        #expect(r.status == 0, "\(r.stderr)")
        let results = try Self.results(r.object)
        #expect(r.object?["api"] as? String == "c")
        #expect(r.object?["transport"] as? String == transport)
        #expect(results.map { $0["bytes"] as? Int } == [8, 64 << 10, 1 << 20])
        #expect(results.allSatisfy { $0["validated"] as? Bool == true && $0["path"] as? String == transport })
        #expect(results.allSatisfy { $0["iterations"] as? Int == 2 * 8 * (benchmark == "bibw" ? 2 : 1) })
        #expect(!FileManager.default.fileExists(atPath: dir.path("pvm.\(getuid())")), "the daemon it started is still there")
    }

    /// bw and bibw with InPlace data and with pvm_psend/pvm_precv
    /// (--send-mode), over shared memory and TCP, up to 4 MiB, with -c.
    @Test(arguments: ["bw", "bibw"], [("shm", "inplace"), ("shm", "psend"), ("tcp", "inplace"), ("tcp", "psend")])
    func streamsThroughTheTaskLibraryInEachSendMode(benchmark: String, path: (transport: String, mode: String)) throws {
        let dir = try TemporaryFolder()
        let r = try Self.run([benchmark, "--transport", path.transport, "--send-mode", path.mode, "--sizes", "8,64K,4M", "-i", "2", "-x", "1",
                              "-W", "8", "-c", "--format", "json"], environment: ["PVM_TMP": dir.root])
        #expect(r.status == 0, "\(r.stderr)")
        let results = try Self.results(r.object)
        #expect(r.object?["send_mode"] as? String == path.mode)
        #expect(results.allSatisfy { $0["validated"] as? Bool == true && $0["path"] as? String == path.transport })
        #expect(!FileManager.default.fileExists(atPath: dir.path("pvm.\(getuid())")), "the daemon it started is still there")
    }

    /// Both tasks stream 4 MiB messages at each other over TCP, each
    /// frame far larger than the sockets' buffers: each end, waiting to
    /// write, must keep taking in the other's. (A large body used to be
    /// read with a blocking wait: both ends then waited in each other's
    /// frame, the link was closed after 30 s and messages were lost.)
    @Test func bothEndsStreamingLargeMessagesOverTCPKeepMoving() throws {
        let dir = try TemporaryFolder()
        let r = try Self.run(["bibw", "--transport", "tcp", "--sizes", "4M", "-i", "2", "-x", "1", "-W", "16", "-c", "--format", "json"],
                             environment: ["PVM_TMP": dir.root], seconds: 120)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!r.stderr.contains("stopped in the middle of a message"), "\(r.stderr)")
        let results = try Self.results(r.object)
        #expect(results.count == 1 && results.allSatisfy { $0["validated"] as? Bool == true && $0["path"] as? String == "tcp" })
    }

    /// Several pairs, over the transport (a process per pair), through
    /// the task library (2N tasks) and through the C library (2N C tasks):
    /// the rate adds up over pairs.
    @Test(arguments: ["transport", "pvm", "c"])
    func msgrateWithPairs(api: String) throws {
        let dir = try TemporaryFolder()
        let r = try Self.run(["msgrate", "--api", api, "--pairs", "2", "--sizes", "8,4K", "-i", "2000", "-x", "100", "-c", "--format", "json"],
                             environment: ["PVM_TMP": dir.root])
        #expect(r.status == 0, "\(r.stderr)")
        let results = try Self.results(r.object)
        #expect(r.object?["pairs"] as? Int == 2)
        #expect(results.map { $0["bytes"] as? Int } == [8, 4096])
        #expect(results.allSatisfy { $0["iterations"] as? Int == 4000 }, "both pairs' messages are counted")
        #expect(results.allSatisfy { $0["validated"] as? Bool == true && ($0["messages_per_s"] as? Double ?? 0) > 0 })
        #expect(results.allSatisfy { ["inline", "shm"].contains($0["path"] as? String ?? "") }, "\(results.map { $0["path"] ?? "" })")
        #expect(r.object?["api"] as? String == api)
        #expect(!FileManager.default.fileExists(atPath: dir.path("pvm.\(getuid())")), "the daemon it started is still there")
    }

    /// msgrate with loaned buffers over the bare transport, one pair and
    /// two (a process per pair), checked: every message on the loan path.
    @Test(arguments: [1, 2])
    func msgrateWithLoanedBuffers(pairs: Int) throws {
        let r = try Self.run(["msgrate", "--api", "transport", "--zero-copy", "--pairs", "\(pairs)", "--sizes", "8,4K,64K", "-i", "3000", "-x", "100",
                              "-c", "--format", "json"])
        #expect(r.status == 0, "\(r.stderr)")
        let results = try Self.results(r.object)
        #expect(r.object?["zero_copy"] as? Bool == true)
        #expect(results.allSatisfy { $0["iterations"] as? Int == 3000 * pairs && $0["path"] as? String == "loan" }, "\(results)")
        #expect(results.allSatisfy { $0["validated"] as? Bool == true && ($0["messages_per_s"] as? Double ?? 0) > 0 })
    }

    /// msgrate through the C library over TCP between two tasks of this
    /// host, checked.
    @Test func msgrateThroughTheCLibraryOverTCP() throws {
        let dir = try TemporaryFolder()
        let r = try Self.run(["msgrate", "--api", "c", "--transport", "tcp", "--sizes", "8,64K", "-i", "500", "-x", "10", "-c", "--format", "json"],
                             environment: ["PVM_TMP": dir.root])
        #expect(r.status == 0, "\(r.stderr)")
        let results = try Self.results(r.object)
        #expect(r.object?["transport"] as? String == "tcp")
        #expect(results.allSatisfy { $0["validated"] as? Bool == true && $0["iterations"] as? Int == 500 && $0["path"] as? String == "tcp" })
    }

    /// -c notices damaged data on every streaming path (the test hook
    /// damages the last byte at the receiving end): exit status 3, Fail.
    @Test(arguments: [["bw", "--api", "transport", "-W", "4"], ["bibw", "--api", "transport", "-W", "4"], ["bw", "--api", "pvm", "-W", "4"],
                      ["bibw", "--api", "pvm", "-W", "4"], ["msgrate", "--api", "transport"], ["msgrate", "--api", "pvm", "--pairs", "2"],
                      ["msgrate", "--api", "c", "--pairs", "2"], ["msgrate", "--api", "transport", "--zero-copy"],
                      ["pingpong"], ["pingpong", "--send-mode", "psend"], ["pingpong", "--send-mode", "inplace"],
                      ["bw", "--api", "pvm", "-W", "4", "--send-mode", "psend"], ["bibw", "--api", "pvm", "-W", "4", "--send-mode", "inplace"],
                      ["pingpong", "--api", "c"], ["bw", "--api", "c", "-W", "4"], ["bibw", "--api", "c", "-W", "4"]])
    func validationCatchesDamage(arguments: [String]) throws {
        let dir = try TemporaryFolder()
        let r = try ChildProcess(Self.pvmbench, arguments + ["--sizes", "8,64K", "-i", "2", "-x", "1", "-c"],
                                 environment: ["PVMBENCH_TEST_CORRUPT_ECHO": "1", "PVM_TMP": dir.root]).wait(seconds: 120)
        #expect(r.status == 3, "\(r.stderr)")
        #expect(r.stderr.contains("validation failed"), "\(r.stderr)")
        let rows = r.stdout.split(separator: "\n").filter { !$0.hasPrefix("#") }
        #expect(rows.count == 2 && rows.allSatisfy { $0.hasSuffix("Fail") }, "\(r.stdout)")
    }

    /// `plot` draws files written by real runs.
    @Test func plotDrawsRunFiles() throws {
        let dir = try TemporaryFolder()
        let a = try ChildProcess(Self.pvmbench, ["pingpong", "--api", "transport", "--sizes", "8,1K", "-i", "100", "--format", "json", "-o", dir.path("a.json")]).wait(seconds: 60)
        let b = try ChildProcess(Self.pvmbench, ["bw", "--api", "transport", "--sizes", "8,1K", "-i", "2", "--format", "json", "-o", dir.path("b.json")]).wait(seconds: 60)
        #expect(a.status == 0 && b.status == 0, "\(a.stderr) \(b.stderr)")
        let p = try ChildProcess(Self.pvmbench, ["plot", dir.path("a.json"), dir.path("b.json"), "-o", dir.path("c.svg"), "--title", "same run"]).wait(seconds: 30)
        #expect(p.status == 0, "\(p.stderr)")
        #expect(p.stderr.contains("drew 2 runs"))
        let svg = try String(contentsOfFile: dir.path("c.svg"), encoding: .utf8)
        #expect(XMLParser(data: Data(svg.utf8)).parse())
        #expect(svg.contains("pingpong shm/transport") && svg.contains("bw shm/transport") && svg.contains("same run"))
        let bad = try ChildProcess(Self.pvmbench, ["plot", dir.path("c.svg"), "-o", dir.path("d.svg")]).wait(seconds: 30)
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("is not a pvmbench result file"), "\(bad.stderr)")
    }
}
