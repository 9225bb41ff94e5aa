#if canImport(Glibc)
import Glibc
#endif
@_exported import PVM

/// The PVM console: a task that reads commands (from `~/.pvmrc`, then from
/// standard input) and manages the virtual machine with them, as PVM 3.4's
/// `pvm` does: `conf`, `ps`, `spawn`, `kill`, `halt`, jobs whose output it
/// prints, and the rest (`help` lists them).
///
/// Between commands it keeps taking in the output of `spawn ->` jobs, so
/// children's lines appear as they arrive, also while it waits at the
/// prompt: one wait covers standard input and the daemon.
public final class Console {
    let vm: VirtualMachine
    let out = OutputChannel(fd: 1)
    /// Standard input is not a terminal: each command is echoed after the
    /// prompt, so a transcript reads like a session.
    let echo: Bool
    var aliases: [(name: String, words: [String])] = []
    var jobs: [Job] = []
    /// The output tag of the next job; PVM starts at 4 (job [1]).
    var nextJobTag: Int32 = Console.firstJobTag
    static let firstJobTag: Int32 = 4
    /// The hosts as `conf` last saw them (for `ps` host names).
    var hosts: [HostInfo]? = nil
    /// Set by `quit`, `halt` or the end of input: the status to exit with.
    var exitStatus: Int32? = nil

    public static let prompt = "pvm> "

    /// A console over the enrolled task library `vm` (enrolled with
    /// `VirtualMachine.sharedConsole()`). Sets the options PVM's console
    /// runs with: no-reset, daemon routing, output of its own children
    /// off until a `spawn ->` asks for it.
    public init(vm: VirtualMachine, echoCommands: Bool) {
        self.vm = vm
        self.echo = echoCommands
        for (option, value): (PVMOption, Int32) in [
            (.resvTids, 1), (.route, RoutePolicy.dontRoute.rawValue), (.selfTraceTid, -1), (.selfOutputTid, -1),
            (.noReset, 1), (.traceOptions, 1), (.traceBuffer, 0), (.outputTid, -1), (.traceTid, -1),
        ] {
            _ = try? vm.setOption(option.rawValue, value)
        }
    }

    // MARK: The loop

    /// Runs the startup file, then commands from `inputFD` until `quit`,
    /// `halt` or the end of input. Returns the exit status.
    public func run(inputFD: Int32 = 0, startupFile: String? = Console.defaultStartupFile) -> Int32 {
        if let path = startupFile { runStartupFile(path) }
        out.flush()
        if let status = exitStatus { return status }
        var input = InputLines(fd: inputFD)
        let canWait = (try? vm.watchDescriptor(inputFD)) ?? false
        out.write(Self.prompt)
        while exitStatus == nil {
            do { try collectOutput() } catch { return daemonGone(error) }
            out.flush()
            if let line = input.next() {
                if echo { out.line(line) }
                execute(line)
                if exitStatus == nil { out.write(Self.prompt) }
                continue
            }
            if input.exhausted {
                out.line("quit")
                quit()
                break
            }
            if canWait {
                do { try vm.waitForActivity(timeoutNanoseconds: nil) } catch { return daemonGone(error) }
                if input.readable() { input.fill() }
            } else {
                input.fill()  // a file or /dev/null: reading does not block
            }
        }
        out.flush()
        for job in jobs { job.sink?.close() }
        return exitStatus ?? 0
    }

    /// `$HOME/.pvmrc` (`./.pvmrc` without HOME).
    public static var defaultStartupFile: String {
        let home = getenv("HOME").map { String(cString: $0) } ?? "."
        return home + "/.pvmrc"
    }

    /// Runs each line of `path` (if it exists), echoing it first as the
    /// original console does.
    func runStartupFile(_ path: String) {
        guard let f = fopen(path, "r") else { return }
        defer { fclose(f) }
        var buffer = [CChar](repeating: 0, count: 4096)
        while exitStatus == nil, fgets(&buffer, Int32(buffer.count), f) != nil {
            var line = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if line.hasSuffix("\n") { line.removeLast() }
            out.line(line)
            execute(line)
            out.flush()
        }
    }

    func daemonGone(_ error: PVMError) -> Int32 {
        out.flush()
        diagnostic("Console: lost the pvmd: \(error.text)")
        return 1
    }

    // MARK: Commands

    /// Runs one command line: splits it into words, expands aliases, checks
    /// the number of words and runs the command.
    public func execute(_ line: String) {
        var words: [String]
        switch ConsoleWords.split(line) {
        case .success(let w): words = w
        case .failure(.unmatched(let c)):
            out.line("unmatched \(c)")
            return
        case .failure(.tooManyWords):
            out.line("command too long")
            return
        }
        guard !words.isEmpty else { return }
        guard expandAliases(&words) else { return }
        let name = words[0]
        guard let spec = CommandSpec.named(name) else {
            out.line("\(name): not found")
            return
        }
        guard words.count >= spec.minWords, spec.maxWords == 0 || words.count <= spec.maxWords else {
            out.line("\(name): wrong #args")
            return
        }
        run(name, words)
        out.flush()
    }

    /// Replaces a leading alias by its words, repeatedly; an alias whose
    /// first word is its own name ends the expansion. False on a loop.
    func expandAliases(_ words: inout [String]) -> Bool {
        var used: Set<String> = []
        while let alias = aliases.first(where: { $0.name == words[0] }) {
            if used.contains(alias.name) {
                out.line("alias loop")
                return false
            }
            used.insert(alias.name)
            let expansion = alias.words
            guard words.count - 1 + expansion.count <= ConsoleWords.maxWords else {
                out.line("command too long")
                return false
            }
            let isSelf = expansion.first == words[0]
            words = expansion + words.dropFirst()
            if isSelf { break }
        }
        return true
    }

    private func run(_ name: String, _ av: [String]) {
        switch name {
        case "add": add(av)
        case "alias": alias(av)
        case "conf": conf()
        case "delete": delete(av)
        case "echo": out.line(av.dropFirst().joined(separator: " "))
        case "export": export(av)
        case "getopt": getopt(av)
        case "halt": halt()
        case "help": help(av)
        case "id": out.line(vm.myTid.description)
        case "jobs": listJobs(av)
        case "kill": kill(av)
        case "mstat": mstat(av)
        case "names": names(av)
        case "ps": ps(av)
        case "pstat": pstat(av)
        case "put": put(av)
        case "quit": quit()
        case "reset": reset(av)
        case "setenv": setenv(av)
        case "setopt": setopt(av)
        case "sig": sig(av)
        case "spawn": spawn(av)
        case "trace": out.line("trace: \(PVMError.text(for: PVMError.Code.notImpl.rawValue)) (no tracing yet)")
        case "unalias": aliases.removeAll { a in av.dropFirst().contains(a.name) }
        case "unexport": for name in av.dropFirst() { VirtualMachine.unexport(name) }
        case "version": out.line(VirtualMachine.version)
        default: out.line("\(name): not found")
        }
    }

    // MARK: Diagnostics

    /// A line on standard error (after what standard output has so far).
    func diagnostic(_ text: String) {
        out.flush()
        let line = text + "\n"
        _ = line.withCString { Glibc.write(2, $0, strlen($0)) }
    }

    /// What libpvm prints when a call fails and PvmAutoErr is on:
    /// `libpvm [t40001]: pvm_kill(): Bad parameter`.
    func autoError(_ function: String, _ error: PVMError) {
        guard ((try? vm.option(PVMOption.autoErr.rawValue)) ?? 1) != 0 else { return }
        diagnostic("libpvm [\(vm.myTid)]: \(function)(): \(error.text)")
    }
}
