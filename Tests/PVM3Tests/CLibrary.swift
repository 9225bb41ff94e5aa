import Foundation
import PVMTestSupport
import XCTest

/// The driver of the C library tests (and of the Fortran ones): it links the
/// built `libpvm3.so` under its installed names in a private lib folder,
/// compiles C (or Fortran) programs against our header with the system
/// compilers, and runs them as real processes on a private virtual machine,
/// with `LD_LIBRARY_PATH` pointing at that lib folder as a user would set it.
///
/// Two libraries can be under test:
///   - ours (the default): `.build/<config>/libpvm3.so` and our pvmd, which
///     the first task starts on demand;
///   - the original PVM 3.4.6 (Debian's `libpvm3` and `pvmd`), when the
///     environment has `PVM_TEST_ORIGINAL=1`: programs are compiled against
///     `/usr/include/pvm3.h` and linked with the system library, and a private
///     original pvmd is started for each test (as root: `PVM_ALLOW_ROOT=1`).
///     This is how the expected outputs in the tests were confirmed.
///
/// Typical use, from a test's `setUpWithError`/`tearDown`:
///
///     harness = try CLibraryHarness()
///     let prog = try harness.buildC("basics")           // Tests/PVM3Tests/C/basics.c
///     let run = try harness.run(prog, ["arg"])
///     XCTAssertEqual(run.status, 0, run.report)
///     harness.tearDown()
final class CLibraryHarness {
    /// Which implementation the programs are built against and run on.
    enum Library: String {
        case ours
        case original
    }

    /// Which `pvm3.h` a program is compiled against.
    enum Header {
        /// Sources/CPVM3/include/pvm3.h
        case ours
        /// Debian's /usr/include/pvm3.h (binary compatibility).
        case debian
    }

    /// The outcome of one run.
    struct Run: CustomStringConvertible {
        var status: Int32
        var signal: Int32
        var stdout: String
        var stderr: String
        var timedOut: Bool
        var seconds: Double

        /// Standard output, line by line (no trailing empty line).
        var lines: [String] {
            var all = stdout.components(separatedBy: "\n")
            if all.last == "" { all.removeLast() }
            return all
        }

        var stderrLines: [String] {
            var all = stderr.components(separatedBy: "\n")
            if all.last == "" { all.removeLast() }
            return all
        }

        /// Everything one wants to see when an assertion about the run fails.
        var description: String {
            var text = "exit status \(status)"
            if signal != 0 { text += ", killed by signal \(signal)" }
            if timedOut { text += ", TIMED OUT after \(String(format: "%.1f", seconds)) s" }
            text += "\n--- stdout ---\n\(stdout)--- stderr ---\n\(stderr)--------------"
            return text
        }

        var report: String { description }
    }

    /// A compiler (or linker) that failed: the test fails with its message.
    struct BuildError: Error, CustomStringConvertible {
        var command: [String]
        var status: Int32
        var output: String
        var description: String {
            "build failed (status \(status)): \(command.joined(separator: " "))\n\(output)"
        }
    }

    struct SetupError: Error, CustomStringConvertible {
        var description: String
    }

    // MARK: Locations

    /// The package root, found from this file's path (Tests/PVM3Tests/CLibrary.swift).
    static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Our C sources: Tests/PVM3Tests/C.
    static var cSources: URL { packageRoot.appendingPathComponent("Tests/PVM3Tests/C") }

    /// The folder holding our pvm3.h.
    static var ourIncludeDirectory: URL { packageRoot.appendingPathComponent("Sources/CPVM3/include") }

    /// Debian's header (pvm-dev).
    static let debianHeader = "/usr/include/pvm3.h"

    /// The build products folder (`.build/<config>`).
    static var products: URL { TestProducts.directory }

    static var builtLibrary: URL { products.appendingPathComponent("libpvm3.so") }
    static var builtGroupLibrary: URL { products.appendingPathComponent("libgpvm3.so") }

    /// The library under test, from `PVM_TEST_ORIGINAL`.
    static var library: Library {
        let flag = ProcessInfo.processInfo.environment["PVM_TEST_ORIGINAL"] ?? ""
        return (flag.isEmpty || flag == "0") ? .ours : .original
    }

    // MARK: State

    let library: Library
    /// Private folder of this harness: lib/, bin/, out/ (the runs' output files).
    let root: URL
    let lib: URL
    let bin: URL
    private let out: URL
    /// Is there a libgpvm3 to link against?
    let hasGroupLibrary: Bool
    /// The private virtual machine (PVM_TMP and friends).
    let fixture: VirtualMachineFixture
    private var originalDaemon: pid_t?
    private var runs = 0

    /// Prepares the folders and the private virtual machine. With the
    /// original library a private original pvmd is started at once (it does
    /// not start on demand); ours starts when the first program enrolls.
    init(library: Library = CLibraryHarness.library) throws {
        self.library = library
        var template = Array("/tmp/pvmc.XXXXXX".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw SetupError(description: "mkdtemp failed: \(String(cString: strerror(errno)))")
        }
        root = URL(fileURLWithPath: String(cString: template))
        lib = root.appendingPathComponent("lib")
        bin = root.appendingPathComponent("bin")
        out = root.appendingPathComponent("out")
        let fm = FileManager.default
        for dir in [lib, bin, out] { try fm.createDirectory(at: dir, withIntermediateDirectories: true) }
        fixture = VirtualMachineFixture()

        switch library {
        case .ours:
            let built = Self.builtLibrary
            guard fm.fileExists(atPath: built.path) else {
                try? fm.removeItem(at: root)
                fixture.halt()
                throw SetupError(description: "\(built.path) is missing: run `swift build` first (the test builds only test targets)")
            }
            let daemon = Self.products.appendingPathComponent("pvmd")
            guard fm.isExecutableFile(atPath: daemon.path) else {
                try? fm.removeItem(at: root)
                fixture.halt()
                throw SetupError(description: "\(daemon.path) is missing: run `swift build` first (the test builds only test targets)")
            }
            for name in ["libpvm3.so.3", "libpvm3.so"] {
                try fm.createSymbolicLink(at: lib.appendingPathComponent(name), withDestinationURL: built)
            }
            hasGroupLibrary = fm.fileExists(atPath: Self.builtGroupLibrary.path)
            if hasGroupLibrary {
                for name in ["libgpvm3.so.3", "libgpvm3.so"] {
                    try fm.createSymbolicLink(at: lib.appendingPathComponent(name), withDestinationURL: Self.builtGroupLibrary)
                }
            }
        case .original:
            hasGroupLibrary = fm.fileExists(atPath: "/usr/lib/x86_64-linux-gnu/libgpvm3.so")
                || fm.fileExists(atPath: "/usr/lib/x86_64-linux-gnu/libgpvm3.so.3")
            // The original's libgpvm3 starts its group server by spawning
            // "pvmgs" along the search path: put it there.
            if fm.isExecutableFile(atPath: "/usr/lib/pvm3/lib/pvmgs") {
                try? fm.createSymbolicLink(atPath: bin.appendingPathComponent("pvmgs").path,
                                           withDestinationPath: "/usr/lib/pvm3/lib/pvmgs")
            }
            do { try startOriginalDaemon() } catch {
                tearDown()
                throw error
            }
        }
    }

    // MARK: Building

    /// Runs a compiler (any tool: cc, c++, gfortran) and returns the output
    /// path. `sources` are absolute paths or names in Tests/PVM3Tests/C;
    /// `output` is a path or a bare name (placed in the bin folder).
    @discardableResult
    func compile(tool: String, flags: [String], sources: [String], output: String) throws -> URL {
        let target = output.contains("/") ? URL(fileURLWithPath: output) : bin.appendingPathComponent(output)
        let files = sources.map { $0.hasPrefix("/") ? $0 : Self.cSources.appendingPathComponent($0).path }
        let command = [tool] + files + ["-o", target.path] + flags
        let log = out.appendingPathComponent("build-\(target.lastPathComponent).log")
        let result = try Self.spawnAndWait(["/usr/bin/env"] + command, environment: ProcessInfo.processInfo.environment,
                                           stdout: log.path, stderr: log.path, timeout: 120)
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        guard result.status == 0, result.signal == 0, !result.timedOut else {
            throw BuildError(command: command, status: result.status, output: text)
        }
        return target
    }

    /// The flags that select the header: ours by -I, Debian's is the default
    /// include path (/usr/include).
    func headerFlags(_ header: Header) throws -> [String] {
        switch header {
        case .ours:
            guard library == .ours else { return [] }   // the original is built against its own header
            return ["-I", Self.ourIncludeDirectory.path]
        case .debian:
            guard FileManager.default.fileExists(atPath: Self.debianHeader) else {
                throw XCTSkip("\(Self.debianHeader) is missing (Debian package pvm-dev): cannot check binary compatibility against the original header")
            }
            return []
        }
    }

    /// The flags that link libpvm3 (and libgpvm3 with `groups`).
    func linkFlags(groups: Bool = false) -> [String] {
        var flags: [String] = []
        if library == .ours { flags += ["-L", lib.path] }
        if groups { flags.append("-lgpvm3") }
        flags.append("-lpvm3")
        return flags
    }

    /// Compiles a C program from Tests/PVM3Tests/C into the bin folder.
    /// `sources` defaults to `<name>.c`.
    @discardableResult
    func buildC(_ name: String, sources: [String]? = nil, header: Header = .ours, flags: [String] = [],
                groups: Bool = false, compiler: String = "cc") throws -> URL {
        let common = ["-g", "-O1", "-Wall", "-Wno-unused-result"]
        return try compile(tool: compiler, flags: try headerFlags(header) + common + flags + linkFlags(groups: groups),
                           sources: sources ?? ["\(name).c"], output: name)
    }

    // MARK: Running

    /// The environment of a run: the private virtual machine, the lib folder
    /// on LD_LIBRARY_PATH, the bin folder first on PVM_PATH (spawned workers
    /// are found by name).
    func environment(_ extra: [String: String] = [:]) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        for name in ["PVMSOCK", "PVM_VMID", "PVM_EXPORT", "PVMEPID", "PVMCTX", "PVMTMASK", "PVMTRCBUF", "PVMTRCOPT", "PVM_TEST_ORIGINAL"] {
            env[name] = nil
        }
        env["PVM_TMP"] = fixture.base
        switch library {
        case .ours:
            env["PVM_PATH"] = "\(bin.path):\(Self.products.path)"
            env["PVM_DPATH"] = Self.products.appendingPathComponent("pvmd").path
            env["PVM_ROOT"] = nil
            let old = env["LD_LIBRARY_PATH"].map { ":" + $0 } ?? ""
            env["LD_LIBRARY_PATH"] = lib.path + old
        case .original:
            env["PVM_PATH"] = bin.path
            env["PVM_ROOT"] = "/usr/lib/pvm3"
            env["PVM_ALLOW_ROOT"] = "1"
            env["PVM_DPATH"] = nil
        }
        for (k, v) in extra { env[k] = v }
        return env
    }

    /// Runs a program (a URL, or a name in the bin folder), capturing its
    /// standard output and error in files (nothing can block on a pipe that a
    /// daemon it started inherited), killing it after `timeout` seconds.
    func run(_ program: URL, _ arguments: [String] = [], timeout: Double = 20,
             environment extra: [String: String] = [:], stdin: String? = nil) throws -> Run {
        runs += 1
        let stdoutURL = out.appendingPathComponent("run\(runs).out")
        let stderrURL = out.appendingPathComponent("run\(runs).err")
        FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        var stdinPath = "/dev/null"
        if let text = stdin {
            stdinPath = out.appendingPathComponent("run\(runs).in").path
            FileManager.default.createFile(atPath: stdinPath, contents: Data(text.utf8))
        }
        let r = try Self.spawnAndWait([program.path] + arguments, environment: environment(extra),
                                      stdin: stdinPath, stdout: stdoutURL.path, stderr: stderrURL.path, timeout: timeout)
        return Run(status: r.status, signal: r.signal,
                   stdout: (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "",
                   stderr: (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "",
                   timedOut: r.timedOut, seconds: r.seconds)
    }

    func run(_ name: String, _ arguments: [String] = [], timeout: Double = 20,
             environment extra: [String: String] = [:], stdin: String? = nil) throws -> Run {
        try run(bin.appendingPathComponent(name), arguments, timeout: timeout, environment: extra, stdin: stdin)
    }

    // MARK: The virtual machine

    /// The daemon's log (ours or the original's), for failure reports.
    var daemonLog: String {
        switch library {
        case .ours: return fixture.log
        case .original:
            return (try? String(contentsOfFile: "\(fixture.base)/pvml.\(getuid())", encoding: .utf8)) ?? ""
        }
    }

    private func startOriginalDaemon() throws {
        let candidates = ["/usr/lib/pvm3/lib/pvmd", "/usr/bin/pvmd"]
        guard let path = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw XCTSkip("the original pvmd (Debian package pvm) is not installed")
        }
        let log = out.appendingPathComponent("pvmd.out").path
        // Without a hostfile the master pvmd stays in the foreground and
        // writes $PVM_TMP/pvmd.<uid> when it is ready.
        let pid = try Self.spawn([path], environment: environment(), stdout: log, stderr: log)
        originalDaemon = pid
        var exited = false
        let ready = VirtualMachineFixture.eventually(timeout: 10) {
            if Self.reap(pid, block: false) != nil { exited = true; return true }
            let size = (try? FileManager.default.attributesOfItem(atPath: "\(fixture.base)/pvmd.\(getuid())")[.size] as? Int) ?? 0
            return size > 0
        }
        guard ready, !exited else {
            if exited { originalDaemon = nil }
            throw SetupError(description: "the original pvmd did not start: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        }
    }

    // MARK: Processes (posix_spawn and waitpid: Foundation's Process waits
    // for its children one at a time on a shared thread, so a long-lived
    // child such as a daemon can stall the others)

    struct Exit {
        var status: Int32
        var signal: Int32
        var timedOut: Bool
        var seconds: Double
    }

    /// Starts `argv` with the given environment and standard streams (files,
    /// created or truncated), in its own process group.
    static func spawn(_ argv: [String], environment: [String: String],
                      stdin: String = "/dev/null", stdout: String, stderr: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdin, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0o644)
        if stderr == stdout {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        } else {
            posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0o644)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attributes, 0)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigdefault(&attributes, &all)

        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            cArgs.forEach { free($0) }
            cEnv.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, argv[0], &actions, &attributes, cArgs, cEnv)
        guard rc == 0 else {
            throw SetupError(description: "cannot start \(argv[0]): \(String(cString: strerror(rc)))")
        }
        return pid
    }

    /// The exit of `pid` if it has ended (or when it ends, with `block`).
    static func reap(_ pid: pid_t, block: Bool) -> (status: Int32, signal: Int32)? {
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, block ? 0 : WNOHANG)
            if r == pid { break }
            if r == 0 { return nil }
            if errno == EINTR { continue }
            return (-1, 0)   // not our child any more
        }
        let signal = status & 0x7f
        if signal == 0 { return ((status >> 8) & 0xff, 0) }
        return (-1, signal)
    }

    /// Runs `argv` to its end, killing it (SIGKILL) after `timeout` seconds.
    static func spawnAndWait(_ argv: [String], environment: [String: String], stdin: String = "/dev/null",
                             stdout: String, stderr: String, timeout: Double) throws -> Exit {
        let start = Date()
        let pid = try spawn(argv, environment: environment, stdin: stdin, stdout: stdout, stderr: stderr)
        var timedOut = false
        var result: (status: Int32, signal: Int32)?
        while true {
            result = reap(pid, block: false)
            if result != nil { break }
            if Date().timeIntervalSince(start) > timeout {
                timedOut = true
                kill(pid, SIGKILL)
                result = reap(pid, block: true)
                break
            }
            usleep(1_000)
        }
        return Exit(status: result?.status ?? -1, signal: result?.signal ?? 0, timedOut: timedOut,
                    seconds: Date().timeIntervalSince(start))
    }

    /// Waits until the daemon has gone by itself (after pvm_halt).
    func waitForDaemonToStop(timeout: Double) -> Bool {
        switch library {
        case .ours:
            let pid = fixture.daemonPID
            return VirtualMachineFixture.eventually(timeout: timeout) {
                !FileManager.default.fileExists(atPath: fixture.runtimeDirectory)
                    && (pid.map { !VirtualMachineFixture.alive($0) } ?? true)
            }
        case .original:
            guard let pid = originalDaemon else { return true }
            let gone = VirtualMachineFixture.eventually(timeout: timeout) { Self.reap(pid, block: false) != nil }
            if gone { originalDaemon = nil }
            return gone
        }
    }

    /// Stops the virtual machine, kills anything still running from the bin
    /// folder, removes the private folders.
    func tearDown() {
        if let pid = originalDaemon {
            // SIGTERM: the original pvmd kills its tasks, then exits.
            kill(pid, SIGTERM)
            if !VirtualMachineFixture.eventually(timeout: 5, { Self.reap(pid, block: false) != nil }) {
                kill(pid, SIGKILL)
                _ = Self.reap(pid, block: true)
            }
            originalDaemon = nil
        }
        fixture.halt()
        for pid in leftoverTasks() { kill(pid, SIGKILL) }
        try? FileManager.default.removeItem(at: root)
    }

    /// Processes still running one of our compiled programs.
    func leftoverTasks() -> [Int32] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        let prefix = bin.path + "/"
        return entries.compactMap { entry -> Int32? in
            guard let pid = Int32(entry),
                  let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(entry)/exe"),
                  exe.hasPrefix(prefix) else { return nil }
            return pid
        }
    }
}

/// Base class of the C library tests: a harness per test.
class CLibraryTestCase: XCTestCase {
    var harness: CLibraryHarness!

    override func setUpWithError() throws {
        try super.setUpWithError()
        harness = try CLibraryHarness()
    }

    override func tearDown() {
        harness?.tearDown()
        harness = nil
        super.tearDown()
    }

    var library: CLibraryHarness.Library { harness.library }

    /// Builds `<name>.c` (plus any worker programs it spawns) and runs it.
    func buildAndRun(_ name: String, _ arguments: [String] = [], workers: [String] = [],
                     timeout: Double = 20, environment: [String: String] = [:],
                     file: StaticString = #filePath, line: UInt = #line) throws -> CLibraryHarness.Run {
        for w in workers { try harness.buildC(w) }
        let program = try harness.buildC(name)
        let run = try harness.run(program, arguments, timeout: timeout, environment: environment)
        XCTAssertFalse(run.timedOut, "\(name) timed out\n\(run)\n--- daemon log ---\n\(harness.daemonLog)", file: file, line: line)
        return run
    }

    /// The lines that differ: "-" expected (the original's), "+" got, by a
    /// longest common subsequence, with line numbers of the expected text.
    static func diff(expected: [String], got: [String]) -> String {
        let n = expected.count, m = got.count
        var lcs = Array(repeating: Array(repeating: 0, count: m + 1), count: n + 1)
        for i in stride(from: n - 1, through: 0, by: -1) {
            for j in stride(from: m - 1, through: 0, by: -1) {
                lcs[i][j] = expected[i] == got[j] ? lcs[i + 1][j + 1] + 1 : max(lcs[i + 1][j], lcs[i][j + 1])
            }
        }
        var out: [String] = []
        var i = 0, j = 0
        while i < n || j < m {
            if i < n && j < m && expected[i] == got[j] {
                i += 1; j += 1
            } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
                out.append("  + [\(i + 1)] \(got[j])"); j += 1
            } else {
                out.append("  - [\(i + 1)] \(expected[i])"); i += 1
            }
        }
        return out.joined(separator: "\n")
    }

    /// Task ids in output (`[t40001]`) replaced by `[tX]`: they differ
    /// between runs and implementations.
    static func normalizingTids(_ text: String) -> String {
        text.replacingOccurrences(of: #"\[t[0-9a-f]+\]"#, with: "[tX]", options: .regularExpression)
    }

    /// `expected` given as one text (a Swift multi-line literal).
    func assertOutput(_ run: CLibraryHarness.Run, _ expected: String, status: Int32 = 0, normalizeTids: Bool = false,
                      file: StaticString = #filePath, line: UInt = #line) {
        var r = run
        if normalizeTids { r.stdout = Self.normalizingTids(r.stdout) }
        assertOutput(r, expected.isEmpty ? [] : expected.components(separatedBy: "\n"), status: status, file: file, line: line)
    }

    /// Asserts standard error, task ids normalized, line by line.
    func assertStderr(_ run: CLibraryHarness.Run, _ expected: String,
                      file: StaticString = #filePath, line: UInt = #line) {
        let got = run.stderrLines.map(Self.normalizingTids)
        let want = expected.isEmpty ? [] : expected.components(separatedBy: "\n")
        if got != want {
            XCTFail("standard error differs from the original's (\(library.rawValue) library):\n\(Self.diff(expected: want, got: got))\n\(run)",
                    file: file, line: line)
        }
    }

    /// Asserts that a run's standard output is exactly `expected` (line by
    /// line, with the first differing line named), and that it exited with 0.
    func assertOutput(_ run: CLibraryHarness.Run, _ expected: [String], status: Int32 = 0,
                      file: StaticString = #filePath, line: UInt = #line) {
        let got = run.lines
        if got != expected {
            XCTFail("output differs from the original's (\(library.rawValue) library):\n\(Self.diff(expected: expected, got: got))\n\(run)",
                    file: file, line: line)
        }
        XCTAssertEqual(run.status, status, "exit status\n\(run)", file: file, line: line)
    }
}
