#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import PVMAuthentication
import PVMControl
import PVMEncoding
import PVMSystem

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

    @Argument(help: "A hostfile: one host per line with PVM's options (lo= so= dx= ep= wd= sp= ip=, and bind= for NUMA placement; `*` for defaults, `&` to record a host without starting it); the hosts are added once the daemon runs.")
    var hostfile: String?

    @Flag(name: .customLong("record-only"), help: "With a hostfile: record its hosts' options (and `*` defaults) for later adds, but start none of them (the console starts the daemon so, and adds the hosts itself).")
    var recordOnly = false

    @Option(name: .customLong("host-timeout"), help: "Declare a host dead after this many milliseconds without a word from it (default 3000; PVM_HOST_TIMEOUT_MS).")
    var hostTimeout: Int?

    @Option(name: .customLong("listen"), help: "Address the master listens on for other hosts' daemons (default every address; PVM_LISTEN).")
    var listen: String?

    @Option(name: .customLong("ports"), help: "Port range for that listener, LOW-HIGH (default any; PVM_PORT_RANGE).")
    var ports: String?

    @Flag(name: .customLong("slurm"), help: "Inside a Slurm allocation: add every node of SLURM_JOB_NODELIST (Slurm's compressed syntax) but this one, each daemon started with srun (PVM_RSH overrides it).")
    var slurm = false

    @Flag(name: .customLong("slave"), help: "Join the machine of the master given by --master (how the master starts this daemon on another host). The machine's secret is read from standard input.")
    var slave = false

    @Option(name: .customLong("master"), help: "With --slave: the master's address, IP:PORT.")
    var master: String?

    @Option(name: .customLong("host-number"), help: "With --slave: the host number the master assigned.")
    var hostNumber: Int32?

    @Option(name: .customLong("speed"), help: "This host's relative speed (hostfile sp=).")
    var speed: Int32?

    @Option(name: .customLong("ep"), help: "Spawn search path of this host (hostfile ep=).")
    var executablePath: String?

    @Option(name: .customLong("wd"), help: "Working directory of tasks spawned here (hostfile wd=).")
    var workingDirectory: String?

    @Option(name: .customLong("bind"), help: "Placement of tasks spawned here: node:LIST, cpus:LIST or none (hostfile bind=; a spawn's exported PVM_BIND overrides it).")
    var bind: String?

    public init() {}

    /// Entry point of the `pvmd` executable.
    public static func runMain() { main() }

    public func run() throws {
        let env = Environment.current
        let dir = RuntimeDirectory.forCurrentUser(environment: env)
        let slurmNode = slurm ? env["SLURMD_NODENAME"].flatMap { $0.isEmpty ? nil : $0 } : nil
        var options = Daemon.Options(directory: dir, hostName: hostName ?? slurmNode ?? Self.shortHostName(), environment: env)
        options.slurm = slurm
        options.logToStandardError = foreground && !background
        try configure(&options, environment: env)
        var initialHosts: [HostEntry] = []
        var defaults = HostOptions()
        var recorded: [String: HostOptions] = [:]
        if let hostfile, !slave {
            let file: Hostfile
            do {
                file = try Hostfile.parse(try DaemonLauncher.readTextFile(hostfile), expand: { env[$0] })
            } catch {
                FileHandleWriter.standardError("pvmd: \(hostfile): \(error)\n")
                throw ExitCode(1)
            }
            defaults = file.defaults
            for entry in file.entries {
                let o = entry.options.merged(over: file.defaults)
                if entry.name == options.hostName {
                    // The master's own line sets its options.
                    if let sp = o.speed { options.speed = sp }
                    if let ep = o.executablePath { options.executablePath = ep }
                    if let wd = o.workingDirectory { options.workingDirectory = wd }
                    if let b = o.bind, bind == nil { options.bind = b }
                } else {
                    recorded[Hostfile.hostKey(entry.name)] = o
                    if entry.startNow && !recordOnly { initialHosts.append(HostEntry(name: entry.name, options: o, startNow: true)) }
                }
            }
        }
        if slurm && !slave {
            guard let list = SlurmHostList.fromEnvironment(env) else {
                FileHandleWriter.standardError("pvmd: --slurm: not inside a Slurm allocation (SLURM_JOB_NODELIST is not set)\n")
                throw ExitCode(1)
            }
            let nodes: [String]
            do { nodes = try SlurmHostList.expand(list) } catch {
                FileHandleWriter.standardError("pvmd: --slurm: \(error)\n")
                throw ExitCode(1)
            }
            for node in nodes where node != options.hostName && !initialHosts.contains(where: { $0.name == node }) {
                do {
                    initialHosts.append(try Hostfile.parseHostSpec(node, defaults: defaults))
                } catch {
                    FileHandleWriter.standardError("pvmd: --slurm: \(error)\n")
                    throw ExitCode(1)
                }
            }
        }
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
        daemon.hostDefaults = defaults
        daemon.recordedHosts = recorded
        if slave {
            do { try daemon.joinMaster() } catch {
                daemon.shutdown()
                FileHandleWriter.standardError("pvmd on \(options.hostName): \(error.detail)\n")
                throw ExitCode(1)
            }
            FileHandleWriter.standardOutput("pvmd on \(options.hostName) joined as host \(options.slave!.hostNumber)\n")
        }
        if background || slave {
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
        Glibc.exit(daemon.run(addingHosts: initialHosts))
    }

    /// Options from the command line and the environment (command line first).
    func configure(_ options: inout Daemon.Options, environment env: [String: String]) throws {
        func fail(_ text: String) throws -> Never {
            FileHandleWriter.standardError("pvmd: \(text)\n")
            throw ExitCode(1)
        }
        if let t = hostTimeout ?? env["PVM_HOST_TIMEOUT_MS"].flatMap({ Int($0) }) {
            guard t >= 30 else { try fail("--host-timeout must be at least 30 ms") }
            options.hostTimeoutMilliseconds = t
        }
        if let l = listen ?? env["PVM_LISTEN"], !l.isEmpty {
            guard TCPSocket.isIPv4(l) else { try fail("--listen needs an IPv4 address, not \(l)") }
            options.listenAddress = l
        }
        if let p = ports ?? env["PVM_PORT_RANGE"], !p.isEmpty {
            let parts = p.split(separator: "-").compactMap { Int($0) }
            guard parts.count == 2, parts[0] >= 1, parts[0] <= parts[1], parts[1] <= 65535 else {
                try fail("port range \(p): expected LOW-HIGH within 1-65535")
            }
            options.portRange = parts[0]...parts[1]
        }
        if let speed {
            guard HostOptions.speedRange.contains(speed) else { try fail("speed \(speed) is outside 1-1000000") }
            options.speed = speed
        }
        if let executablePath { options.executablePath = executablePath }
        if let workingDirectory { options.workingDirectory = workingDirectory }
        if let bind {
            do { options.bind = try Placement(parsing: bind) } catch { try fail("--bind: \(error)") }
        }
        guard slave else { return }
        guard let m = master, let endpoint = TCPEndpoint(parsing: m) else { try fail("--slave needs --master IP:PORT") }
        guard let n = hostNumber, n >= 2, n <= TaskID.maxHost else { try fail("--slave needs --host-number 2...\(TaskID.maxHost)") }
        // The secret comes on standard input (never on the command line).
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while line.count < 256 {
            let r = read(0, &byte, 1)
            if r < 0 && errno == EINTR { continue }
            if r <= 0 || byte == 10 { break }
            line.append(byte)
        }
        guard let secret = MachineSecret(hex: String(decoding: line, as: UTF8.self)) else {
            try fail("--slave expects the machine's secret (64 hexadecimal digits) on standard input")
        }
        options.slave = SlaveJoin(master: endpoint, hostNumber: n, secret: secret)
    }

    static func shortHostName() -> String { Environment.shortHostName() }
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
