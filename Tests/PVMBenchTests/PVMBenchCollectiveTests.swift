#if canImport(Glibc)
import Glibc
#endif
import Testing
import Foundation
import ArgumentParser
import PVMBench
import PVMTestSupport

/// `pvmbench collective`: its command line, and real runs of the built
/// binary (a group of real tasks spawned through a private daemon).
@Suite(.serialized) struct PVMBenchCollectiveTests {
    static let pvmbench = TestProducts.executable("pvmbench")

    /// The text ArgumentParser prints for the error of parsing `arguments` ("" if they parse).
    static func message(_ arguments: [String]) -> String {
        guard let error = CaptureError({ _ = try CollectiveOptions.parse(arguments) }).error else { return "" }
        return CollectiveOptions.fullMessage(for: error)
    }

    // MARK: The command line

    @Test func collectiveGroupOptionsParse() throws {
        let barrier = try CollectiveOptions.parse(["barrier"])
        #expect(barrier.operation == .barrier)
        #expect(barrier.tasks == 2)
        #expect(barrier.common.api == .pvm)
        #expect(try barrier.plan() == [CollectiveStep(bytes: 0, iterations: 20_000, warmup: 2_000)])
        let counted = try CollectiveOptions.parse(["barrier", "--tasks", "64", "-i", "100", "-x", "0"])
        #expect(counted.tasks == 64)
        #expect(try counted.plan() == [CollectiveStep(bytes: 0, iterations: 100, warmup: 0)])

        let bcast = try CollectiveOptions.parse(["bcast", "--tasks", "8", "--format", "json", "-c"])
        #expect(bcast.operation == .bcast)
        #expect(bcast.common.format == .json)
        #expect(bcast.common.checkData)
        let plan = try bcast.plan()
        #expect(plan.map(\.bytes) == [8, 1 << 10, 16 << 10, 128 << 10, 1 << 20])
        #expect(plan.map(\.bytes) == CollectiveDriver.defaultSizes)
        #expect(plan.first?.iterations ?? 0 > plan.last?.iterations ?? 0, "fewer iterations for large messages")
        #expect(plan.allSatisfy { $0.warmup >= 1 && $0.warmup < $0.iterations })

        let reduce = try CollectiveOptions.parse(["reduce", "--tasks", "3", "-m", "8:64", "-i", "7", "-x", "1", "--transport", "daemon"])
        #expect(reduce.common.transport == .daemon)
        #expect(try reduce.plan() == [8, 16, 32, 64].map { CollectiveStep(bytes: $0, iterations: 7, warmup: 1) })
        // The option may come before the operation.
        #expect(try CollectiveOptions.parse(["--tasks", "4", "reduce"]).tasks == 4)
    }

    @Test func collectiveGroupBadInputIsRefusedClearly() throws {
        #expect(Self.message(["barrier", "--tasks", "1"]).contains("--tasks must be 2...64"))
        #expect(Self.message(["bcast", "--tasks", "65"]).contains("--tasks must be 2...64"))
        #expect(Self.message(["allreduce"]).contains("'allreduce' is invalid"))
        #expect(Self.message(["allreduce"]).contains("barrier"))
        #expect(Self.message([]).contains("Missing expected argument"))
        #expect(Self.message(["reduce", "--sizes", "8,12"]).contains("multiple of 8 bytes, not 12"))
        #expect(Self.message(["reduce", "-m", "1:16"]).contains("multiple of 8 bytes, not 1"))
        #expect(Self.message(["barrier", "--sizes", "8"]).contains("a barrier carries no message"))
        #expect(Self.message(["barrier", "-c"]).contains("drop -c"))
        #expect(Self.message(["barrier", "--transport", "tcp"]).contains("meets in shared memory"))
        #expect(Self.message(["bcast", "--api", "transport"]).contains("use --api pvm"))
        // The shared options' own check speaks first when parsing.
        #expect(Self.message(["bcast", "--zero-copy"]).contains("--zero-copy measures the bare transport"))
        #expect(Self.message(["bcast", "--hosts", "a,b", "--transport", "shm"]).contains("between two hosts the paths are tcp and daemon"))
        #expect(throws: Never.self) { _ = try CollectiveOptions.parse(["bcast", "--hosts", "a,b"]) }
        #expect(Self.message(["bcast", "--transport", "verbs"]).contains("--transport verbs: "))
        #expect(Self.message(["bcast", "--sizes", "0"]).contains("is not a message size"))
        // Accepted: every path the task library has.
        for transport in ["auto", "shm", "tcp", "daemon"] {
            #expect(throws: Never.self) { _ = try CollectiveOptions.parse(["bcast", "--transport", transport]) }
        }
        // The driver checks options built without parsing, too.
        var options = try CollectiveOptions.parse(["barrier"])
        options.tasks = 1
        #expect(throws: BenchError.self) { _ = try CollectiveDriver.run(options, peerExecutable: "/nonexistent", progress: false) }
        options.tasks = 2
        options.common.zeroCopy = true
        let error = CaptureError { _ = try CollectiveDriver.run(options, peerExecutable: "/nonexistent", progress: false) }.error
        #expect((error as? BenchError)?.description.contains("does not take --zero-copy") == true, "\(String(describing: error))")
    }

    @Test func collectiveGroupCommandTree() throws {
        #expect(String(describing: type(of: try PVMBenchCommand.parseAsRoot(["collective", "barrier"]))) == "Collective")
        #expect(String(describing: type(of: try PVMBenchCommand.parseAsRoot(["collective", "reduce", "--tasks", "8"]))) == "Collective")
        #expect(throws: (any Error).self) { try PVMBenchCommand.parseAsRoot(["collective", "barrier", "--tasks", "1"]) }
        #expect(throws: (any Error).self) { try PVMBenchCommand.parseAsRoot(["collective", "scan"]) }
        #expect(PVMBenchCommand.helpMessage().contains("collective"))
    }

    /// The binary: a usage error is exit status 64 with the reason on
    /// standard error, before any task is started.
    @Test func collectiveGroupUsageErrorsExit64() throws {
        let dir = try TemporaryFolder()
        for (args, text) in [(["collective", "barrier", "--tasks", "1"], "--tasks must be 2...64"),
                             (["collective", "gather"], "'gather' is invalid"),
                             (["collective", "reduce", "--sizes", "4"], "multiple of 8 bytes")] {
            let r = try ChildProcess(Self.pvmbench, args, environment: ["PVM_TMP": dir.root]).wait(seconds: 30)
            #expect(r.status == 64, "\(args): \(r.status) \(r.stderr)")
            #expect(r.stderr.contains(text), "\(args): \(r.stderr)")
            #expect(r.stdout.isEmpty)
        }
        #expect(!FileManager.default.fileExists(atPath: dir.path("pvm.\(getuid())")), "no daemon for a usage error")
        let help = try ChildProcess(Self.pvmbench, ["collective", "--help"]).wait(seconds: 30)
        #expect(help.status == 0)
        #expect(help.stdout.contains("barrier|bcast|reduce"))
        #expect(help.stdout.contains("OSU"), "the help says how bcast and reduce are timed: \(help.stdout)")
    }

    // MARK: Output

    static func sample(_ operation: String, bytes: Int) -> RunResult {
        var r = SizeResult(bytes: bytes, iterations: 10, oneWayNs: OneWayFixture.make(p50: 300), gbytesPerS: 0, messagesPerS: 3e6,
                           cpuNsPerMsg: 280, path: "shm", validated: nil)
        r.tasks = 4
        var run = RunResult(benchmark: "collective", transport: "shm", api: "pvm", zeroCopy: false, machine: .current(), results: [r])
        run.operation = operation
        return run
    }

    @Test func collectiveGroupOutputFormats() throws {
        let barrier = Self.sample("barrier", bytes: 0)
        let table = Report.table(barrier)
        #expect(table.hasPrefix("# PVM collective barrier test, 4 tasks, transport shm, api pvm\n"))
        #expect(table.contains("CPU(ns/op)"))
        #expect(table.split(separator: "\n").filter { !$0.hasPrefix("#") }.first?.hasPrefix("0 ") == true)
        let csv = Report.csv([barrier]).split(separator: "\n").map(String.init)
        #expect(Report.csvHeader.hasSuffix(",path,validated,operation,tasks,window,pairs,send_mode"))
        #expect(csv.count == 2)
        #expect(csv[1].hasPrefix("collective,shm,pvm,false,0,10,"))
        #expect(csv[1].hasSuffix(",shm,,barrier,4,,,"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(try Report.json(barrier).utf8)) as? [String: Any])
        try PVMBenchOutputTests.checkContract(object)
        #expect(object["operation"] as? String == "barrier")
        // The other benchmarks carry no operation.
        let pingpong = try #require(try JSONSerialization.jsonObject(with: Data(try Report.json(PVMBenchOutputTests.sample()).utf8)) as? [String: Any])
        #expect(pingpong["operation"] == nil)
        // A barrier has no size to draw: the plot leaves it out and stays valid.
        let svg = Plot.svg([barrier, Self.sample("bcast", bytes: 8)])
        #expect(svg.contains("collective bcast shm/pvm, 4 tasks"))
        #expect(!svg.contains("collective barrier"))
        #expect(!svg.contains("nan") && !svg.contains("inf"))
    }

    // MARK: Real runs

    static func run(_ arguments: [String], seconds: Double = 180) throws -> (object: [String: Any], results: [[String: Any]]) {
        let dir = try TemporaryFolder()
        let r = try ChildProcess(Self.pvmbench, ["collective"] + arguments + ["--format", "json"],
                                 environment: ["PVM_TMP": dir.root]).wait(seconds: seconds)
        #expect(r.status == 0, "\(arguments): \(r.stderr)")
        #expect(r.stderr.isEmpty, "no progress output when stderr is not a terminal: \(r.stderr)")
        let object = try PVMBenchRunTests.json(r.stdout)
        try PVMBenchOutputTests.checkContract(object)
        #expect(object["benchmark"] as? String == "collective")
        #expect(object["api"] as? String == (arguments.contains("c") ? "c" : "pvm"))
        #expect(!FileManager.default.fileExists(atPath: dir.path("pvm.\(getuid())")), "the daemon it started is still there")
        return (object, try #require(object["results"] as? [[String: Any]]))
    }

    static func positiveTimes(_ result: [String: Any]) -> Bool {
        guard let oneWay = result["one_way_ns"] as? [String: Any] else { return false }
        return (oneWay["mean"] as? Double ?? 0) > 0 && (oneWay["p50"] as? Int ?? 0) > 0 && (oneWay["min"] as? Int ?? 0) > 0
    }

    @Test func collectiveGroupBarrierRun() throws {
        let (object, results) = try Self.run(["barrier", "--tasks", "2", "-i", "100"])
        #expect(object["operation"] as? String == "barrier")
        #expect(object["transport"] as? String == "shm")
        #expect(results.count == 1)
        let result = try #require(results.first)
        #expect(result["tasks"] as? Int == 2)
        #expect(result["bytes"] as? Int == 0)
        #expect(result["iterations"] as? Int == 100)
        #expect(Self.positiveTimes(result), "\(result)")
        #expect((result["cpu_ns_per_msg"] as? Double ?? 0) > 0)
    }

    @Test func collectiveGroupReduceRun() throws {
        let (object, results) = try Self.run(["reduce", "--tasks", "3", "--sizes", "8,64K", "-i", "50", "-x", "5", "-c"])
        #expect(object["operation"] as? String == "reduce")
        #expect(object["transport"] as? String == "shm")
        #expect(results.map { $0["bytes"] as? Int } == [8, 64 << 10])
        #expect(results.allSatisfy { $0["tasks"] as? Int == 3 && $0["iterations"] as? Int == 50 })
        #expect(results.allSatisfy { $0["validated"] as? Bool == true }, "the root's sums were wrong: \(results)")
        #expect(results.allSatisfy(Self.positiveTimes), "\(results)")
    }

    @Test(arguments: ["shm", "daemon"])
    func collectiveGroupBroadcastRun(transport: String) throws {
        let (object, results) = try Self.run(["bcast", "--tasks", "3", "--transport", transport, "--sizes", "1,8,100K", "-i", "30", "-x", "3", "-c"])
        #expect(object["transport"] as? String == transport)
        #expect(results.map { $0["bytes"] as? Int } == [1, 8, 100 << 10])
        #expect(results.allSatisfy { $0["tasks"] as? Int == 3 && $0["validated"] as? Bool == true }, "\(results)")
        #expect(results.allSatisfy(Self.positiveTimes), "\(results)")
    }

    /// Every operation through the C library (--api c: the root through
    /// libpvm3's group calls, the members C programs), with -c.
    @Test(arguments: ["barrier", "bcast", "reduce"])
    func collectiveGroupThroughTheCLibrary(operation: String) throws {
        let sizes = operation == "barrier" ? [] : ["--sizes", "8,64K", "-c"]
        let (object, results) = try Self.run([operation, "--api", "c", "--tasks", "3", "-i", "40", "-x", "4"] + sizes)
        #expect(object["operation"] as? String == operation)
        #expect(object["transport"] as? String == "shm")
        #expect(results.map { $0["bytes"] as? Int } == (operation == "barrier" ? [0] : [8, 64 << 10]))
        #expect(results.allSatisfy { $0["tasks"] as? Int == 3 && $0["iterations"] as? Int == 40 })
        #expect(results.allSatisfy { operation == "barrier" || $0["validated"] as? Bool == true }, "\(results)")
        #expect(results.allSatisfy(Self.positiveTimes), "\(results)")
    }

    /// -c catches damage through the C library: a member damages the
    /// broadcast it received, or its reduce input (the test hook).
    @Test(arguments: ["bcast", "reduce"])
    func collectiveGroupThroughTheCLibraryCatchesDamage(operation: String) throws {
        let dir = try TemporaryFolder()
        let r = try ChildProcess(Self.pvmbench, ["collective", operation, "--api", "c", "--sizes", "8,64K", "-i", "5", "-x", "1", "-c"],
                                 environment: ["PVMBENCH_TEST_CORRUPT_ECHO": "1", "PVM_TMP": dir.root]).wait(seconds: 120)
        #expect(r.status == 3, "\(r.stderr)")
        let rows = r.stdout.split(separator: "\n").filter { !$0.hasPrefix("#") }
        #expect(rows.count == 2 && rows.allSatisfy { $0.hasSuffix("Fail") }, "\(r.stdout)")
    }

    /// A member killed in the middle: the root says so and exits non-zero
    /// promptly (the barrier between iterations fails for the others),
    /// through the task library and through the C library.
    @Test(arguments: [("pvm", "pvmbench-task"), ("c", "pvmbench-ctask")])
    func collectiveGroupMemberKilledFailsClearly(api: (name: String, member: String)) throws {
        let dir = try TemporaryFolder()
        let run = try ChildProcess(Self.pvmbench, ["collective", "barrier", "--api", api.name, "--tasks", "3", "-i", "100000000", "-x", "0"],
                                   environment: ["PVM_TMP": dir.root])
        // The members are the daemon's children, not pvmbench's: find them by name.
        let deadline = Date().addingTimeInterval(20)
        var members: [Int32] = []
        while Date() < deadline && members.count < 2 {
            usleep(50_000)
            members = processes(named: api.member, environment: "PVM_TMP=\(dir.root)")
        }
        try #require(members.count == 2, "the members did not start")
        usleep(300_000)  // well into the measurement
        kill(members[0], SIGKILL)
        let start = Date()
        let r = run.wait(seconds: 30)
        #expect(Date().timeIntervalSince(start) < 15)
        #expect(r.status == 1, "\(r.status) \(r.stderr)")
        #expect(r.stderr.contains("exited during the barrier"), "\(r.stderr)")
        // Nothing left behind: the other member and the daemon are gone.
        let gone = Date().addingTimeInterval(10)
        while Date() < gone && !processes(named: api.member, environment: "PVM_TMP=\(dir.root)").isEmpty { usleep(50_000) }
        #expect(processes(named: api.member, environment: "PVM_TMP=\(dir.root)").isEmpty)
        #expect(!FileManager.default.fileExists(atPath: dir.path("pvm.\(getuid())")))
    }
}

/// Live processes whose command name is `name` and whose environment holds
/// the entry `environment` (so a test finds its own tasks only).
func processes(named name: String, environment entry: String) -> [Int32] {
    var found: [Int32] = []
    for e in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
        guard let pid = Int32(e),
              let comm = try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8),
              comm.trimmingCharacters(in: .whitespacesAndNewlines) == String(name.prefix(15)),
              let env = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { continue }
        if processState(pid) == "Z" { continue }
        if env.split(separator: 0).contains(where: { String(decoding: $0, as: UTF8.self) == entry }) { found.append(pid) }
    }
    return found.sorted()
}
