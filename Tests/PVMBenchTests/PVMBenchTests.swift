#if canImport(Glibc)
import Glibc
#endif
import Testing
import Foundation
import FoundationXML
import ArgumentParser
import PVMBench
import PVMTestSupport

// MARK: - Command line

@Suite struct PVMBenchParsingTests {
    @Test func sizeLists() throws {
        #expect(try parseSizeList("8,64,1K,4M") == [8, 64, 1024, 4 << 20])
        #expect(try parseSizeList("1k,2m") == [1024, 2 << 20])
        #expect(try parseSizeList("100") == [100])
        for bad in ["8,,16", "0", "", "-8", "8X", "K", "2G", "1,two"] {
            #expect(throws: ValidationError.self, "'\(bad)' should be refused") { try parseSizeList(bad) }
        }
    }

    @Test func osuRanges() throws {
        #expect(try parsePowerRange("2:128") == [2, 4, 8, 16, 32, 64, 128])
        #expect(try parsePowerRange("128") == [1, 2, 4, 8, 16, 32, 64, 128])
        #expect(try parsePowerRange("2:") == (1...22).map { 1 << $0 })
        #expect(try parsePowerRange("1M:") == [1 << 20, 2 << 20, 4 << 20])
        #expect(try parsePowerRange(":4") == [1, 2, 4])
        #expect(try parsePowerRange("3:10") == [3, 4, 8, 10])
        #expect(try parsePowerRange("64:64") == [64])
        for bad in ["64:8", "a:b", "1:2:3", "", "0:8", "8:2G"] {
            #expect(throws: ValidationError.self, "'-m \(bad)' should be refused") { try parsePowerRange(bad) }
        }
    }

    @Test func commonOptionsParseAndValidate() throws {
        let o = try CommonOptions.parse(["--transport", "shm", "--api", "transport", "--zero-copy", "-m", "8:64", "-i", "10", "-x", "2", "-c", "--format", "json",
                                         "-o", "out.json", "--plot", "out.svg"])
        #expect(o.transport == .shm)
        #expect(o.zeroCopy)
        #expect(o.checkData)
        #expect(o.format == .json)
        #expect(o.output == "out.json")
        #expect(o.plot == "out.svg")
        #expect(try o.messageSizes() == [8, 16, 32, 64])
        #expect(o.counts(for: 8) == (10, 2))
        let long = try CommonOptions.parse(["--sizes", "8,1K", "--iterations", "7", "--warmup", "0", "--validate", "--api", "transport"])
        #expect(try long.messageSizes() == [8, 1024])
        #expect(long.counts(for: 1 << 20) == (7, 0))
        #expect(long.checkData)
        #expect(throws: (any Error).self) { try CommonOptions.parse(["--sizes", "8", "-m", "8:16"]) }
        #expect(throws: (any Error).self) { try CommonOptions.parse(["--transport", "carrier-pigeon"]) }
        #expect(throws: (any Error).self) { try CommonOptions.parse(["--format", "xml"]) }
        #expect(throws: (any Error).self) { try CommonOptions.parse(["-i", "0"]) }
        #expect(throws: (any Error).self) { try CommonOptions.parse(["-x", "-1"]) }
        #expect(throws: (any Error).self) { try CommonOptions.parse(["-i", "many"]) }
        #expect(throws: (any Error).self) { try CommonOptions.parse(["--sizes", "8,0"]) }
    }

    @Test func defaultsScaleDownForLargeMessages() throws {
        let defaults = try CommonOptions.parse([])
        #expect(defaults.transport == .auto)
        #expect(defaults.api == .pvm)
        #expect(defaults.format == .table)
        #expect(try defaults.messageSizes() == (0...22).map { 1 << $0 })
        #expect(defaults.counts(for: 8) == (100_000, 10_000))
        #expect(defaults.counts(for: 128 << 10).iterations < defaults.counts(for: 64 << 10).iterations)
        #expect(defaults.counts(for: 4 << 20).iterations < defaults.counts(for: 8).iterations)
        #expect(defaults.counts(for: 4 << 20).warmup >= 1)
        // The suite's slow routes: fewer rounds for small messages, never
        // fewer than 1,000; large ones (already few) and -i as they are.
        var slow = defaults
        slow.iterationDivisor = 10
        #expect(slow.counts(for: 8) == (10_000, 1_000))
        #expect(slow.counts(for: 1 << 20) == (1_000, 100))
        #expect(slow.counts(for: 4 << 20) == (300, 30))
        let fixed = try CommonOptions.parse(["-i", "50", "--iteration-divisor", "10"])
        #expect(fixed.counts(for: 8).iterations == 50)
    }

    /// Paths this build cannot measure fail in validation with one clear
    /// message; every value of the enums is accepted by the parser.
    @Test func unavailablePathsAreRefusedClearly() throws {
        for transport in TransportChoice.allCases {
            let args = ["--transport", transport.rawValue]
            if transport.isAvailable {
                #expect(throws: Never.self) { _ = try CommonOptions.parse(args) }
            } else {
                let message = CommonOptions.message(for: CaptureError { _ = try CommonOptions.parse(args) }.error!)
                #expect(message.contains("--transport \(transport.rawValue): "), "\(message)")
                #expect(message.contains("measure TCP with --transport tcp"), "\(message)")
            }
        }
        for api in APIChoice.allCases {
            #expect(throws: Never.self) { _ = try CommonOptions.parse(["--api", api.rawValue]) }
        }
        let zeroCopyTCP = CaptureError { _ = try CommonOptions.parse(["--transport", "tcp", "--zero-copy"]) }.error
        #expect(CommonOptions.message(for: zeroCopyTCP!).contains("--zero-copy needs the shared-memory transport"))
    }

    @Test func commandTree() throws {
        // No arguments: the default suite.
        #expect(String(describing: type(of: try PVMBenchCommand.parseAsRoot([]))) == "Suite")
        #expect(String(describing: type(of: try PVMBenchCommand.parseAsRoot(["-m", "8:16", "-i", "5"]))) == "Suite")
        #expect(String(describing: type(of: try PVMBenchCommand.parseAsRoot(["pingpong", "-m", "8"]))) == "PingPong")
        #expect(String(describing: type(of: try PVMBenchCommand.parseAsRoot(["convert", "--bytes", "64K"]))) == "Convert")
        #expect(String(describing: type(of: try PVMBenchCommand.parseAsRoot(["peer", "--address", "x"]))) == "Peer")
        #expect(String(describing: type(of: try PVMBenchCommand.parseAsRoot(["spawn", "--tasks", "4"]))) == "SpawnBench")
        #expect(throws: (any Error).self) { try PVMBenchCommand.parseAsRoot(["pingpong", "--transport", "daemon", "--api", "transport"]) }
        #expect(throws: (any Error).self) { try PVMBenchCommand.parseAsRoot(["pingpong", "--zero-copy"]) }
        #expect(throws: (any Error).self) { try PVMBenchCommand.parseAsRoot(["spawn", "--tasks", "0"]) }
        #expect(throws: (any Error).self) { try PVMBenchCommand.parseAsRoot(["suite", "--zero-copy"]) }
        #expect(throws: (any Error).self) { try PVMBenchCommand.parseAsRoot(["msgrate", "--zero-copy"]) }
        #expect(throws: (any Error).self) { try PVMBenchCommand.parseAsRoot(["convert", "--bytes", "8"]) }
        // The internal peer is not advertised.
        let help = PVMBenchCommand.helpMessage()
        #expect(help.contains("pingpong"))
        #expect(help.contains("suite (default)"))
        #expect(!help.contains("peer"))
    }
}

/// Runs a throwing body and keeps the error it threw.
struct CaptureError {
    var error: (any Error)?
    init(_ body: () throws -> Void) {
        do { try body() } catch { self.error = error }
    }
}

// MARK: - Output formats

@Suite struct PVMBenchOutputTests {
    static func sample(zeroCopy: Bool = false) -> RunResult {
        RunResult(benchmark: "pingpong", transport: "shm", api: "transport", zeroCopy: zeroCopy,
                  machine: MachineInfo.current(),
                  results: [SizeResult(bytes: 8, iterations: 10, oneWayNs: OneWayFixture.make(p50: 180), gbytesPerS: 0.04, messagesPerS: 5e6,
                                       cpuNsPerMsg: 200, path: "inline", validated: true),
                            SizeResult(bytes: 4096, iterations: 10, oneWayNs: OneWayFixture.make(p50: 700), gbytesPerS: 6, messagesPerS: 1e6,
                                       cpuNsPerMsg: 600, path: "inline", validated: false)])
    }

    static let requiredRunKeys = ["benchmark", "transport", "api", "zero_copy", "machine", "results"]
    static let requiredMachineKeys = ["hostname", "cpus", "cpu_model", "kernel"]
    static let requiredResultKeys = ["bytes", "iterations", "one_way_ns", "gbytes_per_s", "messages_per_s"]
    static let requiredOneWayKeys = ["min", "p50", "p90", "p99", "max", "mean"]

    /// Checks one run object against BENCHMARKS.md's JSON contract (keys and
    /// value types).
    static func checkContract(_ object: [String: Any], sourceLocation: SourceLocation = #_sourceLocation) throws {
        for key in requiredRunKeys { #expect(object[key] != nil, "missing \(key)", sourceLocation: sourceLocation) }
        #expect(object["benchmark"] is String, sourceLocation: sourceLocation)
        #expect(object["transport"] is String, sourceLocation: sourceLocation)
        #expect(object["api"] is String, sourceLocation: sourceLocation)
        #expect(object["zero_copy"] as? Bool != nil, sourceLocation: sourceLocation)
        let machine = try #require(object["machine"] as? [String: Any], sourceLocation: sourceLocation)
        for key in requiredMachineKeys { #expect(machine[key] != nil, "missing machine.\(key)", sourceLocation: sourceLocation) }
        #expect(machine["cpus"] as? Int ?? 0 >= 1, sourceLocation: sourceLocation)
        let results = try #require(object["results"] as? [[String: Any]], sourceLocation: sourceLocation)
        #expect(!results.isEmpty, sourceLocation: sourceLocation)
        for result in results {
            for key in requiredResultKeys { #expect(result[key] != nil, "missing \(key)", sourceLocation: sourceLocation) }
            // A barrier carries no message: 0 bytes.
            let barrier = object["benchmark"] as? String == "collective" && object["operation"] as? String == "barrier"
            #expect(result["bytes"] as? Int ?? -1 >= (barrier ? 0 : 1), sourceLocation: sourceLocation)
            #expect(result["iterations"] as? Int ?? 0 >= 1, sourceLocation: sourceLocation)
            #expect(result["gbytes_per_s"] is Double, sourceLocation: sourceLocation)
            #expect(result["messages_per_s"] is Double, sourceLocation: sourceLocation)
            let oneWay = try #require(result["one_way_ns"] as? [String: Any], sourceLocation: sourceLocation)
            for key in requiredOneWayKeys { #expect(oneWay[key] is NSNumber, "missing one_way_ns.\(key)", sourceLocation: sourceLocation) }
            let (mn, p50, p90, p99, mx) = (oneWay["min"] as? Int ?? -1, oneWay["p50"] as? Int ?? -1, oneWay["p90"] as? Int ?? -1,
                                           oneWay["p99"] as? Int ?? -1, oneWay["max"] as? Int ?? -1)
            #expect(0 <= mn && mn <= p50 && p50 <= p90 && p90 <= p99 && p99 <= mx, "percentiles out of order: \(oneWay)", sourceLocation: sourceLocation)
        }
    }

    @Test func jsonHasTheContractKeys() throws {
        let text = try Report.json(Self.sample())
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        try Self.checkContract(object)
        #expect(text.contains("\"zero_copy\" : false"), "zero_copy is a JSON boolean")
        let first = try #require((object["results"] as? [[String: Any]])?.first)
        // Additions beside the contract.
        for key in ["cpu_ns_per_msg", "path", "validated"] { #expect(first[key] != nil, "missing \(key)") }
        #expect((first["one_way_ns"] as? [String: Any])?["p999"] != nil)
        // And it decodes back.
        let decoded = try JSONDecoder().decode(RunResult.self, from: Data(text.utf8))
        #expect(decoded.results.map(\.bytes) == [8, 4096])
        #expect(decoded.results.first?.oneWayNs == Self.sample().results.first?.oneWayNs)
    }

    @Test func jsonOfSeveralRunsIsAnArrayOfRunObjects() throws {
        let text = try Report.json([Self.sample(), Self.sample(zeroCopy: true)])
        let array = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]])
        #expect(array.count == 2)
        for object in array { try Self.checkContract(object) }
        #expect(array.map { $0["zero_copy"] as? Bool } == [false, true])
    }

    @Test func csvHasAHeaderAndOneRowPerSize() {
        let lines = Report.csv([Self.sample(), Self.sample(zeroCopy: true)]).split(separator: "\n").map(String.init)
        #expect(lines.first == Report.csvHeader)
        #expect(Report.csvHeader.hasPrefix("benchmark,transport,api,zero_copy,bytes,iterations,min_ns,p50_ns,p90_ns,p99_ns,"))
        #expect(lines.count == 1 + 4)
        let columns = Report.csvHeader.split(separator: ",").count
        for line in lines.dropFirst() {
            #expect(line.split(separator: ",", omittingEmptySubsequences: false).count == columns, "\(line)")
        }
        #expect(lines[1].hasPrefix("pingpong,shm,transport,false,8,10,"))
        #expect(lines[1].hasSuffix(",inline,pass,,,,,"), "no operation, no tasks")
        #expect(lines[2].hasSuffix(",inline,fail,,,,,"))
    }

    @Test func tableIsOSULike() throws {
        let table = Report.table(Self.sample())
        let lines = table.split(separator: "\n").map(String.init)
        #expect(lines[0].hasPrefix("# PVM pingpong test"))
        let header = try #require(lines.first { $0.hasPrefix("# Size") })
        let columns = header.dropFirst(2).split(separator: " ").map(String.init)
        #expect(Array(columns.prefix(5)) == ["Size", "Latency(us)", "p50(us)", "p90(us)", "p99(us)"])
        #expect(columns.contains("MB/s"))
        #expect(columns.last == "Validation")
        // Rows start at column 0 with the size, then the mean latency (as OSU prints it).
        let rows = lines.filter { !$0.hasPrefix("#") }
        #expect(rows.count == 2)
        let eight = try #require(rows.first?.split(separator: " ").map(String.init))
        #expect(eight[0] == "8")
        let mean = try #require(Double(eight[1]))
        #expect(abs(mean - Self.sample().results[0].oneWayNs.mean / 1000) < 0.001)
        #expect(rows[0].hasSuffix("Pass"))
        #expect(rows[1].hasPrefix("4096 "))
        #expect(rows[1].hasSuffix("Fail"))
        // No validation column when nothing was validated; a note on zero-copy figures.
        var plain = Self.sample(zeroCopy: true)
        for i in plain.results.indices { plain.results[i].validated = nil }
        let zeroCopy = Report.table(plain)
        #expect(!zeroCopy.contains("Validation"))
        #expect(zeroCopy.contains("# zero copy:"))
    }

    @Test func svgIsWellFormedWithAxesAndLegend() throws {
        let runs = [Self.sample(), Self.sample(zeroCopy: true)]
        let svg = Plot.svg(runs)
        let counter = ElementCounter()
        let parser = XMLParser(data: Data(svg.utf8))
        parser.delegate = counter
        #expect(parser.parse(), "\(parser.parserError.map { "\($0)" } ?? "")")
        #expect(counter.counts["svg"] == 1)
        // One curve per run in each chart (latency, bandwidth), but for the
        // zero-copy run's bandwidth: only an offset crosses.
        #expect(counter.counts["polyline"] == 2 * runs.count - 1, "latency for both runs, bandwidth for the copying one")
        #expect(counter.text.contains("message size"))
        #expect(counter.text.contains("one-way latency"))
        for run in runs { #expect(counter.text.contains(run.label), "legend entry for \(run.label)") }
        // Log axes: decade ticks on y, power-of-two size labels on x.
        #expect(counter.text.contains("100 ns"))
        #expect(counter.text.contains("4K"))
        // Nothing to draw is still a valid document.
        #expect(XMLParser(data: Data(Plot.svg([]).utf8)).parse())
    }
}

final class ElementCounter: NSObject, XMLParserDelegate {
    var counts: [String: Int] = [:]
    var text = ""
    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
        counts[name, default: 0] += 1
    }
    func parser(_ parser: XMLParser, foundCharacters string: String) { text += string + "\n" }
}

enum OneWayFixture {
    static func make(p50: UInt64) -> OneWay {
        var h = HistogramFixture()
        return h.oneWay(p50: p50)
    }
}

extension CommonOptions {
    /// The text ArgumentParser would print for a parse or validation error.
    static func message(for error: any Error) -> String { fullMessage(for: error) }
}
