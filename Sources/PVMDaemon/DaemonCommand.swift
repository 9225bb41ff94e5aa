#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import PVMControl
import PVMEncoding

/// `pvmd`: the daemon of one user on one host. Tasks and the console start
/// it on demand (`pvmd --background`); it can also be started by hand.
public struct DaemonCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "pvmd",
        abstract: "The PVM daemon: one per user per host (started on demand by tasks and the console).",
        discussion: """
        Runtime files live in $PVM_TMP (else $XDG_RUNTIME_DIR, else /tmp)/pvm.<uid>[.<PVM_VMID>], \
        a directory of mode 0700: the socket pvmd.sock, the log pvmd.log, pvmd.pid and a lock. \
        A clean halt (console 'halt', pvm_halt(), SIGTERM) stops every task and removes them.
        """)

    @Flag(name: .customLong("background"), help: "Detach once listening (what tasks use to start it).")
    var background = false

    @Flag(name: [.customShort("f"), .customLong("foreground")], help: "Stay attached and log to standard error too.")
    var foreground = false

    @Option(name: .customShort("n"), help: "The name of this host in the virtual machine (default: the host name).")
    var hostName: String?

    @Argument(help: "A hostfile (multi-host virtual machines are not supported yet; only this host's options are read).")
    var hostfile: String?

    public init() {}

    /// Entry point of the `pvmd` executable.
    public static func runMain() { main() }

    public func run() throws {
        let env = Environment.current
        let dir = RuntimeDirectory.forCurrentUser(environment: env)
        var options = Daemon.Options(directory: dir, hostName: hostName ?? Self.shortHostName(), environment: env)
        options.logToStandardError = foreground && !background
        let daemon: Daemon
        do {
            daemon = try Daemon(options: options)
        } catch let error where error.code == PVMError.Code.dupHost.rawValue {
            if background { Glibc.exit(0) }  // the caller connects to the one that runs
            FileHandleWriter.standardError("pvmd already running (\(dir.path))\n")
            throw ExitCode(1)
        } catch {
            FileHandleWriter.standardError("pvmd: \(error)\n")
            throw ExitCode(1)
        }
        if background {
            let pid = fork()
            if pid < 0 {
                FileHandleWriter.standardError("pvmd: fork: \(String(cString: strerror(errno)))\n")
                throw ExitCode(1)
            }
            if pid > 0 { _exit(0) }  // listening already: the starter may connect
            let null = open("/dev/null", O_RDWR)
            if null >= 0 { dup2(null, 0); dup2(null, 1); dup2(null, 2); if null > 2 { _ = Glibc.close(null) } }
        } else if !foreground {
            FileHandleWriter.standardOutput("pvmd listening at \(dir.socketPath) (log \(dir.logPath))\n")
        }
        Glibc.exit(daemon.run())
    }

    static func shortHostName() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        guard gethostname(&buf, buf.count - 1) == 0 else { return "localhost" }
        let name = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return String(name.split(separator: ".").first ?? "localhost")
    }
}

enum FileHandleWriter {
    static func standardError(_ s: String) { write(2, s) }
    static func standardOutput(_ s: String) { write(1, s) }
    private static func write(_ fd: Int32, _ s: String) {
        var bytes = Array(s.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + off, $0.count - off) }
            if n <= 0 { if n < 0 && errno == EINTR { continue }; return }
            off += n
        }
    }
}
