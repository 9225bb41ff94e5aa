#if canImport(Glibc)
import Glibc
#endif
import Testing
import PVMTransport
import Foundation
import FoundationXML
import ArgumentParser
import PVMBench
import PVMTestSupport

/// Real runs: the built `pvmbench` (debug) between two real processes, and
/// the library's driver with that binary as the far end.
@Suite(.serialized) struct PVMBenchRunTests {
    static let pvmbench = TestProducts.executable("pvmbench")

    static func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not a JSON object: \(text.prefix(200))")
    }

    /// On a terminal (a pseudo-terminal from script(1)) a run shows its
    /// progress on standard error, one line rewritten in place (carriage
    /// returns), and clears it before the table.
    @Test(.enabled(if: access("/usr/bin/script", X_OK) == 0, "needs script(1) (bsdutils) for a pseudo-terminal"))
    func progressShowsOnATerminal() throws {
        let command = "\(Self.pvmbench.path) pingpong --api transport --transport shm --sizes 8,4K -i 2000 -x 10"
        let r = try ChildProcess(URL(fileURLWithPath: "/usr/bin/script"), ["-q", "-e", "-c", command, "/dev/null"]).wait(seconds: 60)
        #expect(r.status == 0, "\(r.stdout) \(r.stderr)")
        #expect(r.stdout.contains("\rpingpong 8 B: 2000 iterations..."), "no progress line: \(r.stdout.debugDescription)")
        #expect(r.stdout.contains("\rpingpong 4096 B: 2000 iterations..."), "\(r.stdout.debugDescription)")
        #expect(r.stdout.contains("\r\u{1B}[K"), "the progress line is not cleared")
        #expect(r.stdout.contains("Latency(us)"), "no table after the progress")
    }

    @Test(arguments: [false, true])
    func pingpongRunsAndValidates(zeroCopy: Bool) throws {
        let dir = try TemporaryFolder()
        var args = ["pingpong", "--transport", "shm", "--api", "transport", "--sizes", "1,8,65520,65536,300K,4M", "-i", "20", "-x", "2", "-c",
                    "--format", "json", "--plot", dir.path("plot.svg")]
        if zeroCopy { args.append("--zero-copy") }
        let r = try ChildProcess(Self.pvmbench, args).wait(seconds: 120)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.isEmpty, "no progress output when stderr is not a terminal: \(r.stderr)")
        let object = try Self.json(r.stdout)
        try PVMBenchOutputTests.checkContract(object)
        #expect(object["benchmark"] as? String == "pingpong")
        #expect(object["transport"] as? String == "shm")
        #expect(object["api"] as? String == "transport")
        #expect(object["zero_copy"] as? Bool == zeroCopy)
        let results = try #require(object["results"] as? [[String: Any]])
        #expect(results.map { $0["bytes"] as? Int } == [1, 8, 65520, 65536, 300 << 10, 4 << 20])
        #expect(results.allSatisfy { $0["iterations"] as? Int == 20 })
        #expect(results.allSatisfy { $0["validated"] as? Bool == true })
        #expect(results.allSatisfy { ($0["gbytes_per_s"] as? Double ?? 0) > 0 && ($0["cpu_ns_per_msg"] as? Double ?? 0) > 0 })
        let paths = results.compactMap { $0["path"] as? String }
        if zeroCopy {
            #expect(Set(paths) == ["loan"])
        } else {
            // 1 and 8 B through the pair's express line (a ping-pong takes turns);
            // above the single-copy limit (256K), whichever copy measured cheaper.
            #expect(Array(paths.prefix(4)) == ["express", "express", "inline", "single-copy"])
            #expect(paths.dropFirst(4).allSatisfy { ["single-copy", "pipelined"].contains($0) }, "\(paths)")
        }
        #expect(XMLParser(data: try Data(contentsOf: URL(fileURLWithPath: dir.path("plot.svg")))).parse())
    }

    @Test func tableAndCSVGoToAFile() throws {
        let dir = try TemporaryFolder()
        let table = try ChildProcess(Self.pvmbench, ["pingpong", "--api", "transport", "-m", "8:16", "-i", "50", "-x", "5", "-o", dir.path("t.txt")]).wait(seconds: 60)
        #expect(table.status == 0, "\(table.stderr)")
        #expect(table.stdout.isEmpty)
        let text = try String(contentsOfFile: dir.path("t.txt"), encoding: .utf8)
        #expect(text.hasPrefix("# PVM pingpong test, transport shm, api transport\n"))
        #expect(text.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { $0.split(separator: " ")[0] } == ["8", "16"])
        let csv = try ChildProcess(Self.pvmbench, ["pingpong", "--api", "transport", "--sizes", "8", "-i", "50", "--format", "csv"]).wait(seconds: 60)
        #expect(csv.status == 0, "\(csv.stderr)")
        #expect(csv.stdout.split(separator: "\n").first.map(String.init) == Report.csvHeader)
        #expect(csv.stdout.split(separator: "\n").count == 2)
    }

    /// An output file that cannot be written is refused before anything is
    /// measured (exit 64, the reason in words), by every subcommand that writes one.
    @Test func unwritableOutputIsRefusedBeforeTheRun() throws {
        let dir = try TemporaryFolder()
        let missing = dir.path("no/such/folder/out.json")
        for (args, text) in [(["pingpong", "--api", "transport", "--sizes", "8", "-o", missing], "-o \(missing): the folder"),
                             (["bw", "--api", "transport", "--sizes", "8", "--plot", missing], "--plot \(missing): the folder"),
                             (["msgrate", "--api", "transport", "-o", dir.root], "is a folder, not a file"),
                             (["convert", "-o", missing], "does not exist"), (["spawn", "-o", missing], "does not exist"),
                             (["plot", "a.json", "-o", missing], "does not exist"), (["--results", dir.path("no/r")], "does not exist")] {
            let r = try ChildProcess(Self.pvmbench, args, environment: ["PVM_TMP": dir.root]).wait(seconds: 30)
            #expect(r.status == 64, "\(args): \(r.status) \(r.stderr)")
            #expect(r.stderr.contains(text), "\(args): \(r.stderr)")
            #expect(r.stdout.isEmpty, "\(args): nothing measured")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.path("pvm.\(getuid())")), "no daemon for a usage error")
    }

    /// The driver is library code: run it directly with the built binary as the far end.
    @Test func driverRunsFromTheLibrary() throws {
        let options = try CommonOptions.parse(["--sizes", "8,64K", "-i", "50", "-x", "5", "-c"])
        let run = try PingPongDriver.run(options, peerExecutable: Self.pvmbench.path, progress: false)
        #expect(run.results.map(\.bytes) == [8, 64 << 10])
        #expect(run.results.allSatisfy { $0.validated == true && $0.iterations == 50 })
        #expect(run.results.allSatisfy { $0.oneWayNs.min > 0 && $0.oneWayNs.min <= $0.oneWayNs.p50 && $0.oneWayNs.p99 <= $0.oneWayNs.max })
        // The same with a peer that damages every echo: -c must notice.
        let bad = try PingPongDriver.run(options, peerExecutable: Self.pvmbench.path, progress: false, peerArguments: ["--corrupt"])
        #expect(bad.results.allSatisfy { $0.validated == false })
    }

    @Test(arguments: [false, true])
    func corruptedDataFailsTheRun(zeroCopy: Bool) throws {
        var args = ["pingpong", "--api", "transport", "--sizes", "8,4M", "-i", "5", "-x", "1", "-c"]
        if zeroCopy { args.append("--zero-copy") }
        let r = try ChildProcess(Self.pvmbench, args, environment: ["PVMBENCH_TEST_CORRUPT_ECHO": "1"]).wait(seconds: 60)
        #expect(r.status == 3, "\(r.stderr)")
        #expect(r.stderr.contains("validation failed"))
        let rows = r.stdout.split(separator: "\n").filter { !$0.hasPrefix("#") }
        #expect(rows.count == 2)
        #expect(rows.allSatisfy { $0.hasSuffix("Fail") })
    }

    @Test func msgrateStreamsAndReportsARate() throws {
        let r = try ChildProcess(Self.pvmbench, ["msgrate", "--api", "transport", "--sizes", "8,100K", "-i", "20000", "--format", "json"]).wait(seconds: 120)
        #expect(r.status == 0, "\(r.stderr)")
        let object = try Self.json(r.stdout)
        try PVMBenchOutputTests.checkContract(object)
        #expect(object["benchmark"] as? String == "msgrate")
        let results = try #require(object["results"] as? [[String: Any]])
        #expect(results.count == 2)
        #expect(results.allSatisfy { ($0["messages_per_s"] as? Double ?? 0) > 0 })
    }

    @Test func unavailablePathsFailClearly() throws {
        let r = try ChildProcess(Self.pvmbench, ["pingpong", "--sizes", "8", "--transport", "verbs"]).wait(seconds: 30)
        #expect(r.status != 0)
        // Without a device (this machine) the loader's report says why; with
        // one, that the messages do not go over verbs yet. Either way: TCP.
        let verbs = VerbsLibrary.shared
        if verbs.usablePort == nil {
            #expect(r.stderr.contains("--transport verbs: no usable RDMA port on this host: \(verbs.report)"), "\(r.stderr)")
        } else {
            #expect(r.stderr.contains("do not carry messages over verbs yet"), "\(r.stderr)")
        }
        #expect(r.stderr.contains("--transport tcp"), "\(r.stderr)")
        #expect(r.stdout.isEmpty)
        let bare = try ChildProcess(Self.pvmbench, ["pingpong", "--sizes", "8", "--transport", "tcp", "--api", "transport"]).wait(seconds: 30)
        #expect(bare.status != 0)
        #expect(bare.stderr.contains("--transport tcp is measured through the task library"), "\(bare.stderr)")
    }

    /// The peer dies in the middle: the measuring side says so and exits
    /// non-zero promptly, rather than waiting forever for a reply.
    @Test func peerKilledMidRunFailsClearly() throws {
        let run = try ChildProcess(Self.pvmbench, ["pingpong", "--api", "transport", "--sizes", "8", "-i", "100000000", "-x", "0"])
        let peer = try #require(waitForChild(of: run.pid), "the peer process did not start")
        usleep(300_000)  // well into the measurement
        kill(peer, SIGKILL)
        let start = Date()
        let r = run.wait(seconds: 20)
        #expect(Date().timeIntervalSince(start) < 10)
        #expect(r.status > 0, "exited by itself with an error status, not killed: \(r.status)")
        #expect(r.stderr.contains("peer process"), "\(r.stderr)")
    }

    /// The measuring side dies: the peer notices the hang-up and exits
    /// instead of waiting (or spinning) forever.
    @Test func peerExitsWhenTheMeasuringSideDies() throws {
        let run = try ChildProcess(Self.pvmbench, ["pingpong", "--api", "transport", "--zero-copy", "--sizes", "8", "-i", "100000000", "-x", "0"])
        let peer = try #require(waitForChild(of: run.pid), "the peer process did not start")
        usleep(300_000)
        kill(run.pid, SIGKILL)
        run.wait(seconds: 10)
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline, let state = processState(peer), state != "Z" { usleep(10_000) }
        let state = processState(peer)
        #expect(state == nil || state == "Z", "peer \(peer) still running (state \(state.map(String.init) ?? "?"))")
        if state != nil && state != "Z" { kill(peer, SIGKILL) }
    }

    /// The default suite with a short sweep: tables on stdout, the two result
    /// files in the current folder, one run per path.
    @Test func suiteWritesItsResultFiles() throws {
        let dir = try TemporaryFolder()
        let process = Process()
        process.executableURL = Self.pvmbench
        process.arguments = ["-m", "1K:4K", "-i", "50", "-x", "5", "-c"]  // no subcommand: the suite
        process.currentDirectoryURL = URL(fileURLWithPath: dir.root)
        // A private runtime directory: the suite starts its own virtual machine there.
        var env = ProcessInfo.processInfo.environment
        env["PVM_TMP"] = dir.root
        process.environment = env
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(stdout.components(separatedBy: "# PVM pingpong test").count == 6)
        #expect(stdout.contains("# PVM collective barrier test, 2 tasks"))
        #expect(stdout.contains("wrote pvmbench-results.json and pvmbench-results.svg"))
        let data = try Data(contentsOf: URL(fileURLWithPath: dir.path("pvmbench-results.json")))
        let runs = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        #expect(runs.map { $0["benchmark"] as? String } == ["pingpong", "pingpong", "pingpong", "pingpong", "pingpong", "collective"])
        #expect(runs.map { $0["zero_copy"] as? Bool } == [false, false, false, false, true, false])
        #expect(runs.map { $0["api"] as? String } == ["pvm", "pvm", "pvm", "transport", "transport", "pvm"])
        #expect(runs.map { $0["transport"] as? String } == ["shm", "tcp", "daemon", "shm", "shm", "shm"])
        // It stopped the virtual machine it started: nothing left in its runtime directory.
        #expect(!FileManager.default.fileExists(atPath: dir.path("pvm.\(getuid())")))
        for run in runs { try PVMBenchOutputTests.checkContract(run) }
        for run in runs.prefix(5) {
            #expect((run["results"] as? [[String: Any]])?.map { $0["bytes"] as? Int } == [1024, 2048, 4096])
        }
        // The group barrier, with the suite's -i and -x.
        let barrier = try #require((runs.last?["results"] as? [[String: Any]])?.first)
        #expect(runs.last?["operation"] as? String == "barrier")
        #expect(barrier["tasks"] as? Int == 2)
        #expect(barrier["iterations"] as? Int == 50)
        let svg = try Data(contentsOf: URL(fileURLWithPath: dir.path("pvmbench-results.svg")))
        #expect(XMLParser(data: svg).parse())
    }

    /// Through the task library: a peer task spawned by the daemon, over
    /// shared memory, over TCP (forced between two tasks of one host) and
    /// routed through the daemon, with -c.
    @Test(arguments: ["shm", "daemon", "tcp"])
    func pingpongThroughTheTaskLibrary(transport: String) throws {
        let dir = try TemporaryFolder()
        let r = try ChildProcess(Self.pvmbench, ["pingpong", "--transport", transport, "--sizes", "1,8,64K,1M", "-i", "20", "-x", "2", "-c",
                                                 "--format", "json"], environment: ["PVM_TMP": dir.root]).wait(seconds: 120)
        #expect(r.status == 0, "\(r.stderr)")
        let object = try Self.json(r.stdout)
        try PVMBenchOutputTests.checkContract(object)
        #expect(object["api"] as? String == "pvm")
        #expect(object["transport"] as? String == transport)
        let results = try #require(object["results"] as? [[String: Any]])
        #expect(results.map { $0["bytes"] as? Int } == [1, 8, 64 << 10, 1 << 20])
        #expect(results.allSatisfy { $0["validated"] as? Bool == true })
        #expect(!FileManager.default.fileExists(atPath: dir.path("pvm.\(getuid())")), "the daemon it started is still there")
    }

    /// A run over TCP asks for TCP without putting PVM_TRANSPORT in its
    /// environment, where the daemon it starts would inherit it and pass it
    /// to every task it spawns: killed mid-run, the run leaves that daemon
    /// behind, and the next run on it measures shared memory as asked.
    @Test func aTCPRunLeavesNoTransportChoiceInTheDaemonItStarts() throws {
        let dir = try TemporaryFolder()
        let env = ["PVM_TMP": dir.root]
        let pidFile = dir.path("pvm.\(getuid())/pvmd.pid")
        let run = try ChildProcess(Self.pvmbench, ["pingpong", "--transport", "tcp", "--sizes", "8", "-i", "100000000", "-x", "1"],
                                   environment: env)
        var daemon: pid_t = 0
        defer {
            if daemon > 0 {
                kill(daemon, SIGTERM)
                for _ in 0..<1000 where kill(daemon, 0) == 0 { usleep(5_000) }
            }
        }
        for _ in 0..<2000 where daemon == 0 {
            daemon = (try? String(contentsOfFile: pidFile, encoding: .utf8)).flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 0
            usleep(5_000)
        }
        try #require(daemon > 0, "the run started no daemon")
        usleep(500_000)  // the peer spawned, the measurement under way
        kill(run.pid, SIGKILL)
        run.wait(seconds: 10)
        #expect(kill(daemon, 0) == 0, "the daemon should outlive the killed run")
        let environ = try Data(contentsOf: URL(fileURLWithPath: "/proc/\(daemon)/environ"))
        let variables = environ.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        #expect(!variables.contains { $0.hasPrefix("PVM_TRANSPORT=") }, "\(variables.filter { $0.hasPrefix("PVM") })")
        let next = try ChildProcess(Self.pvmbench, ["pingpong", "--sizes", "8", "-i", "20", "-x", "2", "--format", "json"],
                                    environment: env).wait(seconds: 60)
        #expect(next.status == 0, "\(next.stderr)")
        let results = try #require(try Self.json(next.stdout)["results"] as? [[String: Any]])
        #expect(results.map { $0["path"] as? String } == ["shm"])
    }

    /// The task library's other ways of moving a message (--send-mode):
    /// InPlace data and pvm_psend/pvm_precv, both ends, over shared memory
    /// and TCP, up to 4 MiB (the large-message paths), with -c; the JSON
    /// says which calls were measured.
    @Test(arguments: [("shm", "inplace"), ("shm", "psend"), ("tcp", "inplace"), ("tcp", "psend")])
    func pingpongThroughTheTaskLibraryInEachSendMode(transport: String, mode: String) throws {
        let dir = try TemporaryFolder()
        let r = try ChildProcess(Self.pvmbench, ["pingpong", "--transport", transport, "--send-mode", mode, "--sizes", "1,8,64K,1M,4M",
                                                 "-i", "10", "-x", "2", "-c", "--format", "json"], environment: ["PVM_TMP": dir.root]).wait(seconds: 120)
        #expect(r.status == 0, "\(r.stderr)")
        let object = try Self.json(r.stdout)
        try PVMBenchOutputTests.checkContract(object)
        #expect(object["send_mode"] as? String == mode)
        #expect(object["transport"] as? String == transport)
        let results = try #require(object["results"] as? [[String: Any]])
        #expect(results.map { $0["bytes"] as? Int } == [1, 8, 64 << 10, 1 << 20, 4 << 20])
        #expect(results.allSatisfy { $0["validated"] as? Bool == true })
        #expect(!FileManager.default.fileExists(atPath: dir.path("pvm.\(getuid())")), "the daemon it started is still there")
    }

    /// --send-mode picks task-library calls: refused where they do not apply.
    @Test(arguments: [["pingpong", "--api", "transport", "--send-mode", "psend"], ["pingpong", "--api", "c", "--send-mode", "inplace"],
                      ["msgrate", "--send-mode", "psend"], ["collective", "barrier", "--send-mode", "psend"], ["pingpong", "--send-mode", "sendrecv"]])
    func sendModeRefusedWhereItDoesNotApply(arguments: [String]) throws {
        let r = try ChildProcess(Self.pvmbench, arguments + ["--sizes", "8"]).wait(seconds: 30)
        #expect(r.status != 0)
        #expect(r.stderr.contains("send-mode"), "\(r.stderr)")
    }

    /// Through the C library: both ends call libpvm3.so.3 (pvmbench by
    /// dlopen, the far end the C program pvmbench-ctask), with -c, over
    /// shared memory, through the daemon and over TCP on this host.
    @Test(arguments: ["shm", "daemon", "tcp"])
    func pingpongThroughTheCLibrary(transport: String) throws {
        let dir = try TemporaryFolder()
        let r = try ChildProcess(Self.pvmbench, ["pingpong", "--api", "c", "--transport", transport, "--sizes", "1,8,64K,1M",
                                                 "-i", "20", "-x", "2", "-c", "--format", "json"],
                                 environment: ["PVM_TMP": dir.root]).wait(seconds: 120)
        #expect(r.status == 0, "\(r.stderr)")
        let object = try Self.json(r.stdout)
        try PVMBenchOutputTests.checkContract(object)
        #expect(object["api"] as? String == "c")
        #expect(object["transport"] as? String == transport)
        let results = try #require(object["results"] as? [[String: Any]])
        #expect(results.map { $0["bytes"] as? Int } == [1, 8, 64 << 10, 1 << 20])
        #expect(results.allSatisfy { $0["validated"] as? Bool == true })
        #expect(!FileManager.default.fileExists(atPath: dir.path("pvm.\(getuid())")), "the daemon it started is still there")
    }

    @Test func spawnBenchmarkHearsFromEveryTask() throws {
        let dir = try TemporaryFolder()
        let r = try ChildProcess(Self.pvmbench, ["spawn", "--tasks", "4", "-r", "2", "--format", "json"],
                                 environment: ["PVM_TMP": dir.root]).wait(seconds: 120)
        #expect(r.status == 0, "\(r.stderr)")
        let object = try Self.json(r.stdout)
        try PVMBenchOutputTests.checkContract(object)
        #expect(object["benchmark"] as? String == "spawn")
        let results = try #require(object["results"] as? [[String: Any]])
        #expect(results.count == 1)
        #expect(results.first?["tasks"] as? Int == 4)
        let oneWay = try #require(results.first?["one_way_ns"] as? [String: Any])
        #expect((oneWay["p50"] as? Double ?? 0) > 0)
        #expect(!FileManager.default.fileExists(atPath: dir.path("pvm.\(getuid())")))
    }

    @Test func convertRuns() throws {
        // From an architecture by name and from a data signature (SPARC 64-bit's, in hex).
        let r = try ChildProcess(Self.pvmbench, ["convert", "--bytes", "64K", "-i", "1", "--types", "int", "--from", "SUN4,0x0658ef59", "--format", "json"])
            .wait(seconds: 60)
        #expect(r.status == 0, "\(r.stderr)")
        let object = try Self.json(r.stdout)
        #expect(object["benchmark"] as? String == "convert")
        try PVMBenchOutputTests.checkContract(object)
        let results = try #require(object["results"] as? [[String: Any]])
        #expect(results.contains { $0["type"] as? String == "memcpy" })
        #expect(results.allSatisfy { $0["gbytes_per_s"] is Double && $0["from"] is String })
        #expect(results.filter { $0["type"] as? String == "int" }.compactMap { $0["from"] as? String } == ["SUN4", "0x0658ef59"])
    }

    /// A source that is neither a known architecture nor a valid data
    /// signature in hex is refused before anything is measured, saying why.
    @Test(arguments: [("VAX", "unknown source VAX"), ("0658ef59", "unknown source 0658ef59"), ("0xzz", "unknown source 0xzz"),
                      ("0x0fffffff", "bits set above bit 26")])
    func convertRefusesAnUnknownSource(source: String, says: String) throws {
        let r = try ChildProcess(Self.pvmbench, ["convert", "--from", source]).wait(seconds: 30)
        #expect(r.status != 0)
        #expect(r.stderr.contains(says), "\(r.stderr)")
    }
}

/// A folder under /tmp, removed when the value goes away.
final class TemporaryFolder {
    let root: String

    init() throws {
        root = NSTemporaryDirectory() + "pvmbench-tests-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { root + "/" + name }

    deinit { try? FileManager.default.removeItem(atPath: root) }
}

/// The state letter of a process (R, S, Z, ...) from /proc, or nil if it is gone.
func processState(_ pid: Int32) -> Character? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return nil }
    return stat[stat.index(after: close)...].split(separator: " ").first?.first
}

/// The first child process of `parent` to appear within `seconds`.
func waitForChild(of parent: Int32, seconds: Double = 10) -> Int32? {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry),
                  let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, Int32(fields[1]) == parent { return pid }
        }
        usleep(10_000)
    }
    return nil
}
