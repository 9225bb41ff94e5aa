import Testing
import Foundation
import FoundationXML
import ArgumentParser
import PVMBench
import PVMTestSupport

@Suite struct PVMBenchParsingTests {
    @Test func sizeListsAndRanges() throws {
        #expect(try parseSizeList("8,64,1K,4M") == [8, 64, 1024, 4 << 20])
        #expect(try parsePowerRange("2:128") == [2, 4, 8, 16, 32, 64, 128])
        #expect(try parsePowerRange("128") == [1, 2, 4, 8, 16, 32, 64, 128])
        #expect(try parsePowerRange("1M:") == [1 << 20, 2 << 20, 4 << 20])
        #expect(try parsePowerRange("3:10") == [3, 4, 8, 10])
        #expect(throws: (any Error).self) { try parseSizeList("8,,16") }
        #expect(throws: (any Error).self) { try parseSizeList("0") }
        #expect(throws: (any Error).self) { try parsePowerRange("64:8") }
        #expect(throws: (any Error).self) { try parsePowerRange("a:b") }
    }

    @Test func commonOptionsParseAndValidate() throws {
        let o = try CommonOptions.parse(["--transport", "shm", "--zero-copy", "-m", "8:64", "-i", "10", "-x", "2", "-c", "--format", "json"])
        #expect(o.transport == .shm)
        #expect(o.zeroCopy)
        #expect(o.checkData)
        #expect(try o.messageSizes() == [8, 16, 32, 64])
        #expect(o.counts(for: 8) == (10, 2))
        #expect(throws: (any Error).self) { try CommonOptions.parse(["--sizes", "8", "-m", "8:16"]) }
        #expect(throws: (any Error).self) { try CommonOptions.parse(["--transport", "carrier-pigeon"]) }
        #expect(throws: (any Error).self) { try CommonOptions.parse(["-i", "0"]) }
        let defaults = try CommonOptions.parse([])
        #expect(try defaults.messageSizes().first == 1)
        #expect(try defaults.messageSizes().last == 4 << 20)
        #expect(defaults.counts(for: 4 << 20).iterations < defaults.counts(for: 8).iterations)
    }
}

@Suite struct PVMBenchOutputTests {
    static func sample() -> RunResult {
        let one = OneWayFixture.make(p50: 180)
        return RunResult(benchmark: "pingpong", transport: "shm", api: "transport", zeroCopy: false,
                         machine: MachineInfo.current(),
                         results: [SizeResult(bytes: 8, iterations: 10, oneWayNs: one, gbytesPerS: 0.04, messagesPerS: 5e6,
                                              cpuNsPerMsg: 200, path: "inline", validated: true),
                                   SizeResult(bytes: 4096, iterations: 10, oneWayNs: OneWayFixture.make(p50: 700), gbytesPerS: 6, messagesPerS: 1e6,
                                              cpuNsPerMsg: 600, path: "inline", validated: nil)])
    }

    @Test func jsonHasTheContractKeys() throws {
        let text = try Report.json(Self.sample())
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        for key in ["benchmark", "transport", "api", "zero_copy", "machine", "results"] { #expect(object[key] != nil, "missing \(key)") }
        let machine = try #require(object["machine"] as? [String: Any])
        for key in ["hostname", "cpus", "cpu_model", "kernel"] { #expect(machine[key] != nil, "missing machine.\(key)") }
        let first = try #require((object["results"] as? [[String: Any]])?.first)
        for key in ["bytes", "iterations", "one_way_ns", "gbytes_per_s", "messages_per_s"] { #expect(first[key] != nil, "missing \(key)") }
        let oneWay = try #require(first["one_way_ns"] as? [String: Any])
        for key in ["min", "p50", "p90", "p99", "max", "mean"] { #expect(oneWay[key] != nil, "missing one_way_ns.\(key)") }
    }

    @Test func csvAndTable() {
        let csv = Report.csv([Self.sample()]).split(separator: "\n")
        #expect(csv.first.map(String.init) == Report.csvHeader)
        #expect(csv.count == 3)
        #expect(csv[1].split(separator: ",", omittingEmptySubsequences: false).count == Report.csvHeader.split(separator: ",").count)
        let table = Report.table(Self.sample())
        #expect(table.hasPrefix("# PVM pingpong test"))
        #expect(table.contains("Pass"))
    }

    @Test func svgIsWellFormed() throws {
        let svg = Plot.svg([Self.sample(), Self.sample()])
        let parser = XMLParser(data: Data(svg.utf8))
        #expect(parser.parse(), "\(parser.parserError.map { "\($0)" } ?? "")")
        #expect(svg.contains("<polyline"))
        #expect(svg.contains("message size"))
    }
}

enum OneWayFixture {
    static func make(p50: UInt64) -> OneWay {
        var h = HistogramFixture()
        return h.oneWay(p50: p50)
    }
}

/// A real pvmbench between two real processes (the debug build).
@Suite(.serialized) struct PVMBenchRunTests {
    static let pvmbench = TestProducts.executable("pvmbench")

    @Test(arguments: [false, true])
    func pingpongRunsAndValidates(zeroCopy: Bool) throws {
        var args = ["pingpong", "--sizes", "1,8,65520,65536,300K,4M", "-i", "20", "-x", "2", "-c", "--format", "json"]
        if zeroCopy { args.append("--zero-copy") }
        let run = try ChildProcess(Self.pvmbench, args)
        let r = run.wait(seconds: 120)
        #expect(r.status == 0, "\(r.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let results = try #require(object["results"] as? [[String: Any]])
        #expect(results.count == 6)
        #expect(results.allSatisfy { $0["validated"] as? Bool == true })
        let paths = results.compactMap { $0["path"] as? String }
        if zeroCopy {
            #expect(Set(paths) == ["loan"])
        } else {
            #expect(paths == ["inline", "inline", "inline", "single-copy", "pipelined", "pipelined"])
        }
    }

    @Test func msgrateStreamsAndReportsARate() throws {
        let run = try ChildProcess(Self.pvmbench, ["msgrate", "--sizes", "8,100K", "-i", "20000", "--format", "json"])
        let r = run.wait(seconds: 120)
        #expect(r.status == 0, "\(r.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(object["benchmark"] as? String == "msgrate")
        let results = try #require(object["results"] as? [[String: Any]])
        #expect(results.count == 2)
        #expect(results.allSatisfy { ($0["messages_per_s"] as? Double ?? 0) > 0 })
    }

    @Test func unavailablePathsFailClearly() throws {
        let run = try ChildProcess(Self.pvmbench, ["pingpong", "--transport", "tcp", "--sizes", "8"])
        let r = run.wait(seconds: 30)
        #expect(r.status != 0)
        #expect(r.stderr.contains("not available yet"))
    }
}
