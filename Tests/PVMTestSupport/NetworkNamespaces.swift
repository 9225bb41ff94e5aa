import Foundation
#if canImport(Glibc)
import Glibc
#endif

// Test hosts made of Linux network namespaces (see DESIGN.md, "Multi-host
// testing without a cluster").
//
// Topology of a `TestNetwork` with prefix P and N hosts:
//
//     root namespace (host 0)            namespace P-br              namespace P-h<n>
//     P-r  198.18.S.1/24  <--veth-->  v0 ─┐
//                                         br0 (bridge, no address)
//                                      v<n> ─┘  <--veth-->  eth0 198.18.S.<n+1>/24
//
// The bridge lives in a namespace of its own, so the root namespace's
// firewall and bridge-netfilter settings never see the hosts' traffic, and
// every host, the root one included, is attached the same way: one veth into
// the bridge. Host 0 is the test process's own (root) namespace, because the
// test process is itself a member of the virtual machine. No namespace has a
// default route: traffic can only go between the hosts of one network.
//
// All hosts share the file system (`ip netns exec` only remounts /sys), so
// per-host state such as PVM_TMP must be kept apart by the test.

/// A failure of the namespace harness, with a message meant for people.
public struct TestNetworkError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Finding and running the system tools the harness needs.
enum HostTools {
    static func executable(_ path: String) -> Bool { access(path, X_OK) == 0 }

    /// The first executable `name` in `directories`.
    static func find(_ name: String, in directories: [String]) -> String? {
        directories.map { $0 + "/" + name }.first(where: executable)
    }

    static let systemDirectories = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]

    /// The `ip` command of iproute2.
    static let ipPath: String? = find("ip", in: ["/usr/sbin", "/sbin", "/usr/bin", "/bin"])

    /// `command` as an absolute path, searched in `path` (a PATH value) and
    /// then in the system folders, when it holds no slash.
    static func resolve(_ command: String, path: String?) -> String? {
        if command.contains("/") { return executable(command) ? command : nil }
        let folders = (path ?? "").split(separator: ":").map(String.init) + systemDirectories
        return find(command, in: folders)
    }

    static func mergedEnvironment(_ extra: [String: String]?) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        for (k, v) in extra ?? [:] { env[k] = v }
        return env
    }

    /// A fresh temporary file in /tmp, open for reading and writing.
    static func temporaryFile() throws -> (fd: Int32, path: String) {
        var template = Array("/tmp/pvmnet.XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw TestNetworkError("mkstemp in /tmp failed: \(String(cString: strerror(errno)))") }
        return (fd, template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
    }

    /// Runs `executable` to completion and returns its status and its standard
    /// output and error, interleaved. The output goes to a temporary file, not
    /// a pipe, so that a daemon the command leaves behind (holding the output
    /// open) cannot make us wait forever. `input` becomes its standard input
    /// (otherwise /dev/null). A status for a death by signal is the negated
    /// signal number, as in `ChildProcess`.
    static func run(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
        input: Data? = nil, timeout: Double = 30
    ) throws -> (status: Int32, output: String) {
        let out = try temporaryFile()
        unlink(out.path)
        defer { close(out.fd) }
        var inFD = open("/dev/null", O_RDONLY | O_CLOEXEC)
        if let input {
            close(inFD)
            let file = try temporaryFile()
            unlink(file.path)
            inFD = file.fd
            let written = input.withUnsafeBytes { write(inFD, $0.baseAddress, $0.count) }
            guard written == input.count else { close(inFD); throw TestNetworkError("cannot write a command's input to /tmp") }
            lseek(inFD, 0, SEEK_SET)
        }
        defer { close(inFD) }
        let child = try SpawnedChild(executable, arguments, environment: mergedEnvironment(environment),
                                     stdin: inFD, stdout: out.fd, stderr: out.fd)
        let deadline = Date().addingTimeInterval(timeout)
        var pause: UInt32 = 100
        while child.isRunning && Date() < deadline { usleep(pause); pause = min(pause * 2, 5_000) }
        let timedOut = child.isRunning
        if timedOut { child.kill(SIGKILL) }
        let status = child.wait()
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = pread(out.fd, &buffer, buffer.count, off_t(data.count))
            if n <= 0 { break }
            data.append(contentsOf: buffer[0..<n])
        }
        let text = String(decoding: data, as: UTF8.self)
        if timedOut {
            throw TestNetworkError("\(([executable] + arguments).joined(separator: " ")) did not finish within \(timeout) s; output so far: \(text)")
        }
        return (status, text)
    }

    /// Runs `ip ARGS`, throwing with its message when it fails.
    @discardableResult
    static func ip(_ arguments: [String]) throws -> String {
        guard let ip = ipPath else { throw TestNetworkError("the `ip` command (Debian package iproute2) is not installed") }
        let r = try run(ip, arguments, timeout: 20)
        guard r.status == 0 else {
            throw TestNetworkError("`ip \(arguments.joined(separator: " "))` failed (status \(r.status)): \(r.output.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return r.output
    }

    /// Names of the existing named network namespaces.
    static func namespaces() -> [String] {
        guard let out = try? ip(["netns", "list"]) else { return [] }
        // Lines look like "name (id: 3)" or just "name".
        return out.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }
    }

    /// Pids of the processes whose network namespace is `namespace`.
    static func pids(in namespace: String) -> [pid_t] {
        guard let out = try? ip(["netns", "pids", namespace]) else { return [] }
        return out.split(whereSeparator: { $0 == "\n" || $0 == " " }).compactMap { pid_t($0) }
    }

    /// SIGKILLs every process in `namespace` until none is left (a process
    /// may fork while we kill). Returns false when some survive `timeout`.
    static func killAll(in namespace: String, timeout: Double = 5) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let pids = pids(in: namespace).filter { $0 != getpid() }
            if pids.isEmpty { return true }
            if Date() > deadline { return false }
            for pid in pids { kill(pid, SIGKILL) }
            usleep(5_000)
        }
    }

    /// Is process `pid` there and not a zombie?
    static func alive(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
        guard let close = stat.lastIndex(of: ")") else { return true }
        let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first
        return state != "Z" && state != "X"
    }
}

/// A child process started with posix_spawn and reaped by pid with
/// waitpid. (Foundation's Process is not used: it learns of a child's end
/// from a socket the child inherits, so a daemon like sshd that closes all
/// its descriptors at start looks finished at once, and Foundation's
/// monitoring thread then blocks in waitpid for it, stalling every other
/// Process of the test.) The child leads a process group of its own, so that
/// `kill` reaches what it forks too.
final class SpawnedChild: @unchecked Sendable {
    let pid: pid_t
    private let lock = NSLock()
    private var exitStatus: Int32?

    init(_ executable: String, _ arguments: [String], environment: [String: String],
         stdin: Int32, stdout: Int32, stderr: Int32) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdin, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        // Nothing else of the test process leaks into the child. (glibc 2.34
        // has the call but Swift's Glibc module does not show it.)
        if let closeFrom = Self.addCloseFrom { _ = closeFrom(&actions, 3) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        sigdelset(&all, SIGKILL)
        sigdelset(&all, SIGSTOP)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for p in argv + envp { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard rc == 0 else {
            throw TestNetworkError("cannot start \(executable): \(String(cString: strerror(rc)))")
        }
        self.pid = pid
    }

    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private static let addCloseFrom: AddCloseFrom? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: AddCloseFrom.self)
    }()

    /// Reaps the child if it has ended; true while it runs.
    var isRunning: Bool {
        lock.lock(); defer { lock.unlock() }
        return reapLocked(block: false) == nil
    }

    /// Waits for the end; the status, or the negated signal number.
    @discardableResult
    func wait() -> Int32 {
        lock.lock(); defer { lock.unlock() }
        return reapLocked(block: true)!
    }

    /// Signals the child's whole process group (and the child, should it
    /// have left the group), unless it has been reaped.
    func kill(_ signal: Int32) {
        lock.lock(); defer { lock.unlock() }
        guard exitStatus == nil else { return }
        _ = Glibc.kill(-pid, signal)
        _ = Glibc.kill(pid, signal)
    }

    private func reapLocked(block: Bool) -> Int32? {
        if let exitStatus { return exitStatus }
        var raw: Int32 = 0
        while true {
            let r = waitpid(pid, &raw, block ? 0 : WNOHANG)
            if r == pid { break }
            if r == 0 { return nil }
            if errno == EINTR { continue }
            // ECHILD: someone else reaped it; it has ended all the same.
            exitStatus = -1000
            return exitStatus
        }
        let signal = raw & 0x7f
        exitStatus = signal == 0 ? (raw >> 8) & 0xff : -signal
        return exitStatus
    }
}

/// Every live network of this process, torn down at exit in case a test
/// ends without reaching its teardown (a crash in a signal handler still
/// leaves them behind: `TestNetwork.removeLeftovers()` at the next start
/// removes those whose process is gone).
private final class NetworkRegistry: @unchecked Sendable {
    static let shared = NetworkRegistry()
    private let lock = NSLock()
    private var networks: [ObjectIdentifier: Weak] = [:]
    private var counter = 0
    private var exitHookInstalled = false

    final class Weak { weak var network: TestNetwork?; init(_ n: TestNetwork) { network = n } }

    func nextIndex() -> Int {
        lock.lock(); defer { lock.unlock() }
        counter += 1
        return counter - 1
    }

    func add(_ network: TestNetwork) {
        lock.lock(); defer { lock.unlock() }
        networks[ObjectIdentifier(network)] = Weak(network)
        if !exitHookInstalled {
            exitHookInstalled = true
            atexit { NetworkRegistry.shared.tearDownAll() }
        }
    }

    func remove(_ network: TestNetwork) {
        lock.lock(); defer { lock.unlock() }
        networks[ObjectIdentifier(network)] = nil
    }

    func tearDownAll() {
        lock.lock()
        let live = networks.values.compactMap(\.network)
        lock.unlock()
        for network in live { network.teardown() }
    }
}

/// A set of test hosts joined by one virtual Ethernet segment. Host 0 is the
/// test process's own (root) namespace at `198.18.S.1`; hosts 1...N are the
/// namespaces `<prefix>-h<n>` at `198.18.S.<n+1>` (S: a /24 from
/// 198.18.0.0/15 free on this machine, first tried from the pid). The bridge
/// is in the namespace `<prefix>-br`, the root namespace's end of its veth is
/// the interface `<prefix>-r`. Needs root; see `available()`.
public final class TestNetwork: @unchecked Sendable {
    /// The common beginning of every name this network makes.
    public let prefix: String
    /// The number of namespace hosts (host 0, the root namespace, not counted).
    public let hostCount: Int
    /// The first three octets of every address, e.g. "198.18.42".
    public let subnet: String
    /// The namespace holding the bridge.
    public let bridgeNamespace: String
    /// The root namespace's interface into the bridge (host 0's link).
    public let rootInterface: String

    private let lock = NSLock()
    private var processes: [(host: Int, child: SpawnedChild)] = []
    private var tornDown = false

    /// Why namespaces cannot be made here, or nil when they can.
    public static func available() -> String? { availability }

    private static let availability: String? = {
        guard geteuid() == 0 else {
            return "multi-host tests need root (creating network namespaces needs CAP_SYS_ADMIN); running as uid \(geteuid())"
        }
        guard HostTools.ipPath != nil else {
            return "the `ip` command is missing (Debian package iproute2; Tests/install-deps.sh installs it)"
        }
        let probe = "pvtprobe\(getpid())"
        _ = try? HostTools.ip(["netns", "del", probe])
        do { try HostTools.ip(["netns", "add", probe]) } catch {
            return "cannot create a network namespace here: \(error)"
        }
        defer { _ = try? HostTools.ip(["netns", "del", probe]) }
        do {
            try HostTools.ip(["-n", probe, "link", "add", "b0", "type", "bridge"])
            try HostTools.ip(["-n", probe, "link", "add", "v0", "type", "veth", "peer", "name", "v1"])
            try HostTools.ip(["-n", probe, "link", "set", "v0", "master", "b0"])
        } catch {
            return "network namespaces work but bridges or veth pairs cannot be made in them: \(error)"
        }
        return nil
    }()

    /// Makes `hosts` namespace hosts (1...250). `prefix` (letters, digits and
    /// '-', at most 13 characters, not already in use) names everything; by
    /// default it is "pvt<pid>-<k>", unique on the machine, and leftovers of
    /// earlier test processes that died are removed first.
    public init(hosts: Int, prefix: String? = nil) throws {
        if let reason = Self.available() { throw TestNetworkError(reason) }
        guard (1...250).contains(hosts) else { throw TestNetworkError("a test network has 1...250 hosts, not \(hosts)") }
        Self.removeLeftovers()
        let existing = Set(HostTools.namespaces())
        let chosen: String
        if let prefix {
            let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")
            guard !prefix.isEmpty, prefix.count <= 13, prefix.allSatisfy(allowed.contains) else {
                throw TestNetworkError("test network prefix \"\(prefix)\" must be 1...13 letters, digits or '-'")
            }
            if let clash = existing.first(where: { $0.hasPrefix(prefix + "-") }) {
                throw TestNetworkError("namespace \(clash) already exists: prefix \"\(prefix)\" is in use (remove it with `ip netns del \(clash)` if it is a leftover)")
            }
            chosen = prefix
        } else {
            var candidate: String
            repeat {
                candidate = "pvt\(getpid())-\(NetworkRegistry.shared.nextIndex() % 1000)"
            } while existing.contains(where: { $0.hasPrefix(candidate + "-") })
            chosen = candidate
        }
        self.prefix = chosen
        self.hostCount = hosts
        self.bridgeNamespace = chosen + "-br"
        self.rootInterface = chosen + "-r"

        // Choosing a free /24 and putting it on the root interface must not
        // race with another test process doing the same.
        let lockFD = open("/tmp/pvm-test-network.lock", O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        if lockFD >= 0 { flock(lockFD, LOCK_EX) }
        defer { if lockFD >= 0 { flock(lockFD, LOCK_UN); close(lockFD) } }
        let used = Self.subnetsInUse()
        var index = Int(getpid()) % 512
        var tries = 0
        while used.contains(index) && tries < 512 { index = (index + 1) % 512; tries += 1 }
        guard tries < 512 else { throw TestNetworkError("every /24 of 198.18.0.0/15 is in use in the root namespace") }
        self.subnet = "198.\(18 + index / 256).\(index % 256)"

        NetworkRegistry.shared.add(self)
        do { try build() } catch {
            let problems = teardown()
            let extra = problems.isEmpty ? "" : " (and cleaning up: \(problems.joined(separator: "; ")))"
            throw TestNetworkError("cannot build test network \(chosen): \(error)\(extra)")
        }
    }

    deinit { teardown() }

    /// The /24s of 198.18.0.0/15 on some interface of the root namespace, as
    /// indexes 0..<512.
    private static func subnetsInUse() -> Set<Int> {
        guard let out = try? HostTools.ip(["-o", "-4", "addr", "show"]) else { return [] }
        var used = Set<Int>()
        for word in out.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
            let octets = word.split(separator: "/").first?.split(separator: ".").compactMap { Int($0) } ?? []
            if octets.count == 4, octets[0] == 198, octets[1] == 18 || octets[1] == 19 {
                used.insert((octets[1] - 18) * 256 + octets[2])
            }
        }
        return used
    }

    private func build() throws {
        let br = bridgeNamespace
        try HostTools.ip(["netns", "add", br])
        try HostTools.ip(["-n", br, "link", "add", "br0", "type", "bridge", "stp_state", "0", "forward_delay", "0"])
        try HostTools.ip(["-n", br, "link", "set", "br0", "up"])
        // Host 0: the root namespace.
        try HostTools.ip(["link", "add", rootInterface, "type", "veth", "peer", "name", "v0", "netns", br])
        try HostTools.ip(["-n", br, "link", "set", "v0", "master", "br0", "up"])
        try HostTools.ip(["addr", "add", address(0) + "/24", "dev", rootInterface])
        try HostTools.ip(["link", "set", rootInterface, "up"])
        for n in 1...hostCount {
            let ns = namespace(n)!
            try HostTools.ip(["netns", "add", ns])
            try HostTools.ip(["-n", ns, "link", "set", "lo", "up"])
            try HostTools.ip(["-n", br, "link", "add", "v\(n)", "type", "veth", "peer", "name", "eth0", "netns", ns])
            try HostTools.ip(["-n", br, "link", "set", "v\(n)", "master", "br0", "up"])
            try HostTools.ip(["-n", ns, "addr", "add", address(n) + "/24", "dev", "eth0"])
            try HostTools.ip(["-n", ns, "link", "set", "eth0", "up"])
        }
        for n in 0...hostCount { try waitUntilUp(n) }
    }

    // MARK: Hosts

    /// The address of host `host` (0: the root namespace).
    public func address(_ host: Int) -> String {
        precondition((0...hostCount).contains(host), "no test host \(host) in a network of \(hostCount)")
        return "\(subnet).\(host + 1)"
    }

    /// Every host's address, host 0 first.
    public var addresses: [String] { (0...hostCount).map(address) }

    /// The namespace of host `host`; nil for host 0, the root namespace.
    public func namespace(_ host: Int) -> String? {
        precondition((0...hostCount).contains(host), "no test host \(host) in a network of \(hostCount)")
        return host == 0 ? nil : "\(prefix)-h\(host)"
    }

    /// The host whose address or namespace name is `name`.
    public func host(named name: String) -> Int? {
        (0...hostCount).first { address($0) == name || namespace($0) == name }
    }

    /// The `ip` command used (absolute path), for tests that run it.
    public static var ipCommand: String? { HostTools.ipPath }

    // MARK: Processes

    private func commandLine(_ host: Int, _ argv: [String], _ environment: [String: String]?) throws -> (String, [String]) {
        guard let first = argv.first else { throw TestNetworkError("empty command for test host \(host)") }
        let path = HostTools.mergedEnvironment(environment)["PATH"]
        guard let exe = HostTools.resolve(first, path: path) else {
            throw TestNetworkError("command not found for test host \(host): \(first)")
        }
        guard let ns = namespace(host) else { return (exe, Array(argv.dropFirst())) }
        // `ip netns exec` enters the namespace and execs the command itself,
        // so the command keeps the pid we spawn.
        return (HostTools.ipPath!, ["netns", "exec", ns, exe] + argv.dropFirst())
    }

    /// Runs `argv` on host `host` to completion: its status (negative: killed
    /// by that signal) and its standard output and error, interleaved.
    /// `environment` is added to this process's; `input` is its standard input
    /// (default /dev/null). A command still running after `timeout` seconds is
    /// killed and reported as an error.
    public func run(
        _ host: Int, _ argv: [String], environment: [String: String]? = nil,
        input: Data? = nil, timeout: Double = 30
    ) throws -> (status: Int32, output: String) {
        let (exe, args) = try commandLine(host, argv, environment)
        return try HostTools.run(exe, args, environment: environment, input: input, timeout: timeout)
    }

    /// Starts a long-running `argv` on host `host` and returns its pid. Its
    /// standard output and error are appended to `outputPath` (default
    /// /dev/null), its standard input is /dev/null. `teardown()` kills it.
    public func spawn(
        _ host: Int, _ argv: [String], environment: [String: String]? = nil, outputPath: String? = nil
    ) throws -> pid_t {
        let (exe, args) = try commandLine(host, argv, environment)
        let nullFD = open("/dev/null", O_RDWR | O_CLOEXEC)
        defer { close(nullFD) }
        var outFD = nullFD
        if let outputPath {
            outFD = open(outputPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            guard outFD >= 0 else { throw TestNetworkError("cannot open \(outputPath): \(String(cString: strerror(errno)))") }
        }
        defer { if outFD != nullFD { close(outFD) } }
        lock.lock()
        defer { lock.unlock() }
        guard !tornDown else { throw TestNetworkError("test network \(prefix) is torn down") }
        let child: SpawnedChild
        do {
            child = try SpawnedChild(exe, args, environment: HostTools.mergedEnvironment(environment),
                                     stdin: nullFD, stdout: outFD, stderr: outFD)
        } catch {
            throw TestNetworkError("cannot start \(argv.joined(separator: " ")) on test host \(host): \(error)")
        }
        processes.append((host, child))
        return child.pid
    }

    /// Is process `pid` alive (not a zombie)?
    public func isRunning(_ pid: pid_t) -> Bool {
        lock.lock()
        let tracked = processes.first { $0.child.pid == pid }?.child
        lock.unlock()
        if let tracked { return tracked.isRunning }
        return HostTools.alive(pid)
    }

    /// Sends `signal` to `pid` (one this network spawned, or any other) and
    /// waits up to `timeout` for it to end, then SIGKILLs it. Returns true when
    /// it ended before the SIGKILL.
    @discardableResult
    public func stop(_ pid: pid_t, signal: Int32 = SIGTERM, timeout: Double = 5) -> Bool {
        lock.lock()
        let index = processes.firstIndex { $0.child.pid == pid }
        let tracked = index.map { processes.remove(at: $0).child }
        lock.unlock()
        let running = { tracked?.isRunning ?? HostTools.alive(pid) }
        guard running() else { return true }
        if let tracked { tracked.kill(signal) } else { kill(pid, signal) }
        let deadline = Date().addingTimeInterval(timeout)
        while running() && Date() < deadline { usleep(2_000) }
        let clean = !running()
        if !clean {
            if let tracked { tracked.kill(SIGKILL); tracked.wait() } else { kill(pid, SIGKILL) }
        }
        return clean
    }

    // MARK: Links

    /// Host `host`'s two interfaces: (namespace or nil for the root, name)
    /// on its side, and its port on the bridge.
    private func link(_ host: Int) -> (hostSide: (String?, String), bridgeSide: String) {
        host == 0 ? ((nil, rootInterface), "v0") : ((namespace(host), "eth0"), "v\(host)")
    }

    private func setLink(_ host: Int, _ state: String) throws {
        let l = link(host)
        try HostTools.ip(["-n", bridgeNamespace, "link", "set", l.bridgeSide, state])
        if let ns = l.hostSide.0 {
            try HostTools.ip(["-n", ns, "link", "set", l.hostSide.1, state])
        } else {
            try HostTools.ip(["link", "set", l.hostSide.1, state])
        }
    }

    private func waitUntilUp(_ host: Int, timeout: Double = 3) throws {
        let l = link(host)
        let hostArgs = (l.hostSide.0.map { ["-n", $0] } ?? []) + ["-o", "link", "show", "dev", l.hostSide.1]
        let bridgeArgs = ["-n", bridgeNamespace, "-o", "link", "show", "dev", l.bridgeSide]
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let a = (try? HostTools.ip(hostArgs)) ?? ""
            let b = (try? HostTools.ip(bridgeArgs)) ?? ""
            if a.contains("state UP") && b.contains("state UP") { return }
            if Date() > deadline {
                throw TestNetworkError("link of test host \(host) did not come up within \(timeout) s: \(a) / \(b)")
            }
            usleep(2_000)
        }
    }

    /// Cuts host `host` off the network: both ends of its veth go down, so
    /// nothing passes in either direction (its sockets see "network
    /// unreachable" on its side, silence from the others).
    public func cutLink(_ host: Int) throws {
        precondition((0...hostCount).contains(host), "no test host \(host) in a network of \(hostCount)")
        try setLink(host, "down")
    }

    /// Puts host `host` back on the network and waits until its link is up.
    public func restoreLink(_ host: Int) throws {
        precondition((0...hostCount).contains(host), "no test host \(host) in a network of \(hostCount)")
        try setLink(host, "up")
        try waitUntilUp(host)
    }

    // MARK: Remote shell

    /// Writes an executable `rsh`-like script into `directory` and returns its
    /// path: `SCRIPT [-n] [-l USER] HOST COMMAND...` runs COMMAND (its words
    /// joined with spaces, like ssh) with `sh -c` on the host whose address
    /// (or namespace name) is HOST, in the namespace through `ip netns exec`,
    /// locally for host 0. Its standard input reaches the command (unless
    /// -n), its status is the command's, and an unknown HOST is reported on
    /// standard error with status 255, as ssh does. USER is ignored.
    public func rshScript(directory: String) throws -> String {
        guard let ip = HostTools.ipPath else { throw TestNetworkError("the `ip` command (Debian package iproute2) is not installed") }
        var cases = ""
        for host in 0...hostCount {
            let names = [address(host)] + (namespace(host).map { [$0] } ?? [])
            let target = namespace(host).map { "\(ip) netns exec \($0) " } ?? ""
            cases += "  \(names.joined(separator: "|"))) exec \(target)/bin/sh -c \"$*\" ;;\n"
        }
        let script = """
            #!/bin/sh
            # Remote shell into the test hosts of network \(prefix) (written by TestNetwork).
            usage() { echo "usage: $0 [-n] [-l user] host command..." >&2; exit 255; }
            while [ $# -gt 0 ]; do
              case "$1" in
                -n) exec </dev/null; shift ;;
                -l) [ $# -ge 2 ] || usage; shift 2 ;;
                --) shift; break ;;
                -*) echo "$0: unknown option $1" >&2; exit 255 ;;
                *) break ;;
              esac
            done
            [ $# -ge 1 ] || usage
            host=$1
            shift
            [ $# -ge 1 ] || { echo "$0: $host: no command given (interactive login is not supported)" >&2; exit 255; }
            case "$host" in
            \(cases)  *) echo "$0: $host: no such test host in network \(prefix) (hosts: \(addresses.joined(separator: " ")))" >&2; exit 255 ;;
            esac

            """
        let path = directory + "/\(prefix)-rsh"
        do {
            try script.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw TestNetworkError("cannot write the remote shell script \(path): \(error)")
        }
        guard chmod(path, 0o755) == 0 else {
            throw TestNetworkError("chmod \(path): \(String(cString: strerror(errno)))")
        }
        return path
    }

    // MARK: Teardown

    /// Kills every process this network started and every other process in
    /// its namespaces (SIGKILL), then removes the namespaces, the veths and
    /// the bridge. Idempotent; also run by deinit and at exit. Returns what
    /// could not be cleaned (empty when all went well); those are also
    /// printed on standard error.
    @discardableResult
    public func teardown() -> [String] {
        lock.lock()
        if tornDown { lock.unlock(); return [] }
        tornDown = true
        let started = processes
        processes = []
        lock.unlock()
        NetworkRegistry.shared.remove(self)

        var problems: [String] = []
        for (_, child) in started { child.kill(SIGKILL) }
        let present = Set(HostTools.namespaces())
        let names = (1...hostCount).compactMap(namespace) + [bridgeNamespace]
        for ns in names where present.contains(ns) {
            if !HostTools.killAll(in: ns) {
                problems.append("processes in namespace \(ns) survive SIGKILL: \(HostTools.pids(in: ns))")
            }
        }
        for (host, child) in started {
            let deadline = Date().addingTimeInterval(5)
            while child.isRunning && Date() < deadline { usleep(1_000) }
            if child.isRunning { problems.append("process \(child.pid) on test host \(host) survives SIGKILL") }
        }
        if (try? HostTools.ip(["link", "show", "dev", rootInterface])) != nil {
            do { try HostTools.ip(["link", "del", rootInterface]) } catch { problems.append("\(error)") }
        }
        for ns in names where present.contains(ns) {
            do { try HostTools.ip(["netns", "del", ns]) } catch { problems.append("\(error)") }
        }
        for problem in problems {
            FileHandle.standardError.write(Data("TestNetwork \(prefix) teardown: \(problem)\n".utf8))
        }
        return problems
    }

    /// Removes the namespaces and interfaces of default-named networks
    /// ("pvt<pid>-<k>-...") whose process is gone: what a test process that
    /// crashed left behind. Run by every init.
    public static func removeLeftovers() {
        guard HostTools.ipPath != nil, geteuid() == 0 else { return }
        var stalePrefixes = Set<String>()
        for name in HostTools.namespaces() {
            guard name.hasPrefix("pvt") else { continue }
            let parts = name.dropFirst(3).split(separator: "-", omittingEmptySubsequences: false)
            guard parts.count == 3, let pid = pid_t(parts[0]), Int(parts[1]) != nil,
                  parts[2] == "br" || (parts[2].hasPrefix("h") && Int(parts[2].dropFirst()) != nil)
            else { continue }
            if pid != getpid() && kill(pid, 0) != 0 && errno == ESRCH {
                stalePrefixes.insert("pvt\(parts[0])-\(parts[1])")
                _ = HostTools.killAll(in: name)
                _ = try? HostTools.ip(["netns", "del", name])
            }
        }
        for prefix in stalePrefixes {
            _ = try? HostTools.ip(["link", "del", prefix + "-r"])
        }
    }
}
