import Foundation

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
