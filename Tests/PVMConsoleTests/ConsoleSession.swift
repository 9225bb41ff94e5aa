import Foundation
import PVMTestSupport

/// The built `pvm` run as a real process, scripted through its standard
/// input like a person at a terminal would: send a command, wait for what
/// it prints. Standard input is a pipe, so the console echoes each command
/// after its prompt.
final class ConsoleSession: @unchecked Sendable {
    static let prompt = "pvm> "

    let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private let errors = Pipe()
    private let lock = NSLock()
    private var out = Data()
    private var err = Data()
    private let readers = DispatchGroup()

    /// `viaPath`: start it as a shell would from a bare `pvm` looked up on
    /// PATH (through env(1)), from `directory`.
    init(arguments: [String] = [], environment: [String: String], viaPath: Bool = false, directory: URL? = nil) throws {
        if viaPath {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["pvm"] + arguments
        } else {
            process.executableURL = TestProducts.executable("pvm")
            process.arguments = arguments
        }
        if let directory { process.currentDirectoryURL = directory }
        var env = ProcessInfo.processInfo.environment
        env["PVMSOCK"] = nil
        env["PVM_VMID"] = nil
        for (k, v) in environment { env[k] = v }
        process.environment = env
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        collect(output.fileHandleForReading) { s, d in s.out.append(d) }
        collect(errors.fileHandleForReading) { s, d in s.err.append(d) }
    }

    private func collect(_ handle: FileHandle, _ append: @escaping @Sendable (ConsoleSession, Data) -> Void) {
        readers.enter()
        let thread = Thread { [self] in
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                lock.lock()
                append(self, data)
                lock.unlock()
            }
            readers.leave()
        }
        thread.start()
    }

    /// Everything the console printed on standard output so far.
    var stdout: String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: out, as: UTF8.self)
    }

    var stderr: String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: err, as: UTF8.self)
    }

    /// Waits until standard output, from `offset` on, contains `text`.
    /// Returns what it holds from `offset` on then, or nil on timeout.
    @discardableResult
    func wait(for text: String, from offset: String.Index? = nil, timeout: Double = 10) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            let all = stdout
            let tail = offset.map { all[$0...] } ?? all[...]
            if tail.contains(text) { return String(tail) }
            usleep(2_000)
        } while Date() < deadline
        return nil
    }

    /// Sends one command and waits until the console has echoed it and
    /// then printed `until` (by default its next prompt). Returns what it
    /// printed after the echo, or nil on timeout.
    @discardableResult
    func command(_ line: String, until: String = ConsoleSession.prompt, timeout: Double = 10) -> String? {
        let mark = stdout.endIndex
        send(line)
        let echo = line + "\n"
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            let all = stdout
            if mark <= all.endIndex, let e = all[mark...].range(of: echo) {
                let after = all[e.upperBound...]
                if after.contains(until) { return String(after) }
            }
            usleep(2_000)
        } while Date() < deadline
        return nil
    }

    func send(_ line: String) {
        input.fileHandleForWriting.write(Data((line + "\n").utf8))
    }

    /// Ends standard input (the console reads it as `quit`).
    func closeInput() {
        try? input.fileHandleForWriting.close()
    }

    /// Waits for the console to exit (killing it after `timeout`); returns
    /// its status (negative: the signal that ended it) and its output.
    @discardableResult
    func finish(timeout: Double = 10) -> (status: Int32, stdout: String, stderr: String) {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(2_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        closeInput()
        _ = readers.wait(timeout: .now() + 5)
        let status = process.terminationReason == .uncaughtSignal ? -process.terminationStatus : process.terminationStatus
        return (status, stdout, stderr)
    }

    /// Lines of `text` that are task ids (`t40002`), in order.
    static func tids(in text: String) -> [String] {
        text.split(separator: "\n").map(String.init).filter { line in
            line.count > 1 && line.first == "t" && line.dropFirst().allSatisfy(\.isHexDigit)
        }
    }
}
