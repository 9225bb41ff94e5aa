import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real OpenSSH server on one host of a `TestNetwork`, for tests of the
/// daemon's remote start through ssh. Everything it needs (host key, client
/// key, authorized_keys, sshd_config, pid file, log) is in `directory`; it
/// listens only on the host's address, so it cannot meet a system sshd.
///
/// Servers on several hosts may share one directory: they then share the
/// client key (and so `sshCommand`, when they use the same port), each with
/// its own host key, configuration and log named after its host.
public final class TestSSHServer: @unchecked Sendable {
    public let network: TestNetwork
    public let host: Int
    public let address: String
    public let port: Int
    public let directory: String
    public let clientKeyPath: String
    public let hostKeyPath: String
    public let configPath: String
    public let logPath: String
    public private(set) var pid: pid_t?

    /// The client: argv of a remote-shell command, to be followed by
    /// `HOST COMMAND...`.
    public let sshArguments: [String]

    /// `sshArguments` joined with spaces, for PVM_RSH and the like (the words
    /// hold no spaces, so splitting on spaces gives them back).
    public var sshCommand: String { sshArguments.joined(separator: " ") }

    /// The server's standard error (`sshd -e`): connections, failures.
    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    static let sshd = "/usr/sbin/sshd"
    static var ssh: String? { HostTools.find("ssh", in: ["/usr/bin", "/bin", "/usr/local/bin"]) }
    static var sshKeygen: String? { HostTools.find("ssh-keygen", in: ["/usr/bin", "/bin", "/usr/local/bin"]) }

    /// Why an ssh server cannot be run here, or nil when it can.
    public static func available() -> String? {
        if let reason = TestNetwork.available() { return reason }
        guard HostTools.executable(sshd) else {
            return "\(sshd) is missing (Debian package openssh-server; Tests/install-deps.sh installs it)"
        }
        guard ssh != nil, sshKeygen != nil else {
            return "ssh or ssh-keygen is missing (Debian package openssh-client; Tests/install-deps.sh installs it)"
        }
        guard getpwnam("sshd") != nil else {
            return "the privilege separation user \"sshd\" does not exist (reinstall openssh-server)"
        }
        return nil
    }

    /// Starts sshd on host `host` of `network`, port `port` (each namespace
    /// has its own ports, so 22 is free there; for host 0, the root
    /// namespace, choose a port nothing else uses). `environment` is set in
    /// every session (sshd's SetEnv) on top of PATH, which is this process's.
    /// Root logs in with the client key only.
    public init(
        network: TestNetwork, host: Int, directory: String, port: Int = 22,
        environment: [String: String] = [:]
    ) throws {
        if let reason = Self.available() { throw TestNetworkError(reason) }
        guard !directory.contains(where: \.isWhitespace) else {
            throw TestNetworkError("TestSSHServer directory \"\(directory)\" must not hold white space (sshCommand is split on spaces)")
        }
        self.network = network
        self.host = host
        self.address = network.address(host)
        self.port = port
        self.directory = directory
        clientKeyPath = directory + "/client_ed25519"
        hostKeyPath = directory + "/host\(host)_ed25519"
        configPath = directory + "/sshd-h\(host).config"
        logPath = directory + "/sshd-h\(host).log"
        sshArguments = [
            Self.ssh!, "-F", "/dev/null", "-i", clientKeyPath, "-o", "IdentitiesOnly=yes",
            "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "GlobalKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5",
            "-p", String(port),
        ]

        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for key in [clientKeyPath, hostKeyPath] where !FileManager.default.fileExists(atPath: key) {
            let r = try HostTools.run(Self.sshKeygen!, ["-q", "-t", "ed25519", "-N", "", "-C", "pvm-test", "-f", key])
            guard r.status == 0 else { throw TestNetworkError("ssh-keygen -f \(key) failed: \(r.output)") }
        }
        let clientPublic = try String(contentsOfFile: clientKeyPath + ".pub", encoding: .utf8)
        try clientPublic.write(toFile: directory + "/authorized_keys", atomically: true, encoding: .utf8)

        var settings = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"]
        for (k, v) in environment { settings[k] = v }
        for (k, v) in settings where k.isEmpty || k.contains(where: { $0 == "=" || $0.isWhitespace }) || v.contains(where: { $0 == "\"" || $0.isNewline }) {
            throw TestNetworkError("TestSSHServer cannot pass environment variable \(k)=\(v) through sshd_config")
        }
        let setEnv = settings.keys.sorted().map { "\"\($0)=\(settings[$0]!)\"" }.joined(separator: " ")
        let config = """
            # sshd for test host \(host) of network \(network.prefix) (written by TestSSHServer).
            Port \(port)
            ListenAddress \(address)
            HostKey \(hostKeyPath)
            PidFile \(directory)/sshd-h\(host).pid
            AuthorizedKeysFile \(directory)/authorized_keys
            PermitRootLogin prohibit-password
            PubkeyAuthentication yes
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            StrictModes no
            UsePAM no
            UseDNS no
            PrintMotd no
            PrintLastLog no
            X11Forwarding no
            MaxStartups 100:30:200
            MaxSessions 100
            SetEnv \(setEnv)

            """
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)

        // The privilege separation folder sshd insists on.
        mkdir("/run/sshd", 0o755)
        let check = try HostTools.run(Self.sshd, ["-t", "-f", configPath])
        guard check.status == 0 else { throw TestNetworkError("sshd rejects \(configPath): \(check.output)") }

        let started = try network.spawn(host, [Self.sshd, "-D", "-e", "-f", configPath], outputPath: logPath)
        pid = started
        let deadline = Date().addingTimeInterval(10)
        while !Self.accepts(address, port) {
            if !network.isRunning(started) {
                pid = nil
                throw TestNetworkError("sshd on test host \(host) (\(address):\(port)) exited: \(log)")
            }
            if Date() > deadline {
                stop()
                throw TestNetworkError("sshd on test host \(host) does not accept on \(address):\(port) after 10 s: \(log)")
            }
            usleep(5_000)
        }
    }

    deinit { stop() }

    /// Stops the server (SIGTERM, then SIGKILL). Sessions still open end with
    /// the network's teardown. Idempotent.
    public func stop() {
        guard let pid else { return }
        self.pid = nil
        network.stop(pid)
    }

    /// Does `address:port` accept a TCP connection (from this process, the
    /// root namespace) within half a second?
    static func accepts(_ address: String, _ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, address, &sa.sin_addr) == 1 else { return false }
        let rc = withUnsafePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc == 0 { return true }
        guard errno == EINPROGRESS else { return false }
        var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        guard poll(&p, 1, 500) == 1 else { return false }
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
        return err == 0
    }
}
