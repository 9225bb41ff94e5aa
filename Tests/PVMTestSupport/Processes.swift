import Foundation
import CSupport

/// Helpers for tests that run the project's own executables.
public enum TestProducts {
    /// The folder holding the built products (next to the test bundle).
    public static var directory: URL {
        let exe = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
        var dir = exe.deletingLastPathComponent()
        // Inside an .xctest bundle on some layouts.
        if dir.pathExtension == "xctest" { dir = dir.deletingLastPathComponent() }
        return dir
    }

    public static func executable(_ name: String) -> URL {
        directory.appendingPathComponent(name)
    }

    /// A product that could not be started (the text says why).
    public struct StartFailure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Runs the built product `name` with `arguments` (and this process's
    /// environment) to its end: see `run(path:_:environment:)`.
    public static func runToEnd(_ name: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        try run(path: executable(name).path, arguments)
    }

    /// Runs the program at `path` with `arguments` to its end, with
    /// `environment` (nil: this process's): its exit status (negative: the
    /// signal that ended it) and its standard output and error together.
    /// Started with posix_spawn and reaped by pid: Foundation's Process would
    /// wait for a daemon that backgrounds itself too, as it inherits the
    /// pipe Process watches.
    public static func run(path: String, _ arguments: [String], environment: [String: String]? = nil) throws -> (status: Int32, output: String) {
        var fds: [Int32] = [-1, -1]
        guard pvm_pipe(&fds) == 0 else { throw StartFailure(description: "pipe: \(String(cString: strerror(errno)))") }
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for p in argv + envp { free(p) } }
        let pid = pvm_spawn_process(path, argv, envp, nil, fds[1], 0)
        close(fds[1])
        defer { close(fds[0]) }
        guard pid > 0 else { throw StartFailure(description: "cannot start \(path): \(String(cString: strerror(-pid)))") }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fds[0], $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            output += chunk.prefix(n)
        }
        var raw: Int32 = 0
        while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
        let status = raw & 0x7f == 0 ? (raw >> 8) & 0xff : -(raw & 0x7f)
        return (status, String(decoding: output, as: UTF8.self))
    }
}

/// A child process started by a test, with its output captured.
public final class ChildProcess: @unchecked Sendable {
    public let process = Process()
    private let out = Pipe()
    private let err = Pipe()

    public init(_ executable: URL, _ arguments: [String], environment: [String: String] = [:]) throws {
        process.executableURL = executable
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        process.standardOutput = out
        process.standardError = err
        try process.run()
    }

    public var pid: Int32 { process.processIdentifier }

    /// Waits up to `seconds`; kills the child (and fails) if it takes longer.
    @discardableResult
    public func wait(seconds: Double = 60) -> (status: Int32, stdout: String, stderr: String) {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(2_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
        let o = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let e = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return (process.terminationReason == .uncaughtSignal ? -process.terminationStatus : process.terminationStatus, o, e)
    }
}
