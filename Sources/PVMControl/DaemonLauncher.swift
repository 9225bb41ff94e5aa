#if canImport(Glibc)
import Glibc
#endif
import CSupport
import PVMEncoding
import PVMSystem

/// Finds the local daemon and starts it on demand: the first task or
/// console of a user finds no daemon (the normal first state), starts
/// `pvmd --background` and connects as soon as it listens.
public enum DaemonLauncher {
    /// The daemon socket: `$PVMSOCK` (set by the daemon for the tasks it
    /// spawns) or the runtime directory's.
    public static func socketPath(environment: [String: String]) -> String {
        socketPath(lookup: { environment[$0] })
    }

    /// The daemon socket, with the variables read through `lookup`.
    public static func socketPath(lookup: (String) -> String?) -> String {
        if let s = lookup("PVMSOCK"), !s.isEmpty { return s }
        return RuntimeDirectory.forCurrentUser(lookup: lookup).socketPath
    }

    /// Connects to the running daemon. nil when none listens there.
    public static func connect(socketPath: String) throws(PVMError) -> FrameConnection? {
        do {
            let fd = try UnixSocket.connect(path: socketPath)
            return FrameConnection(fd: fd.release())
        } catch {
            switch error.code {
            case ENOENT, ECONNREFUSED: return nil
            default: throw PVMError(.sysErr, "connecting to the daemon at \(socketPath): \(error)")
            }
        }
    }

    /// Connects to the daemon, starting one when none runs (unless
    /// `start` is false or `PVMSOCK` names a daemon that is gone).
    /// `environment` nil is the process's own: then only the few variables
    /// that find the daemon are read (getenv), and the whole environment
    /// only when a daemon has to be started with it (a spawned task's
    /// start-up, where building the dictionary was a measurable part).
    public static func connectOrStart(environment: [String: String]? = nil, start: Bool = true) throws(PVMError) -> (FrameConnection, started: Bool) {
        let lookup: (String) -> String? = environment.map { env in { env[$0] } } ?? Environment.value
        let path = socketPath(lookup: lookup)
        if let c = try connect(socketPath: path) { return (c, false) }
        guard start, lookup("PVMSOCK")?.isEmpty ?? true else {
            throw PVMError(.sysErr, "no daemon listens at \(path)")
        }
        try startDaemon(environment: environment ?? Environment.current)
        if let c = try connect(socketPath: path) { return (c, true) }
        throw PVMError(.sysErr, "the daemon started but does not listen at \(path)")
    }

    /// The pvmd executable: `$PVM_DPATH`, else beside this program, else
    /// `$PVM_ROOT/bin/pvmd`, else on `$PATH`.
    public static func daemonExecutable(environment: [String: String]) -> String? {
        var candidates: [String] = []
        if let d = environment["PVM_DPATH"], !d.isEmpty { candidates.append(d) }
        // Inside libpvm3.so.3, loaded by a C program: beside the library (a
        // build folder) or in ../bin (an install prefix). Before the
        // program's own folder: an old PVM program may sit beside the
        // original PVM's pvmd (Debian's /usr/bin).
        if let image = pvm_image_path().map({ String(cString: $0) }), image != executablePath() {
            candidates.append(directoryOf(image) + "/pvmd")
            candidates.append(directoryOf(image) + "/../bin/pvmd")
        }
        if let exe = executablePath() { candidates.append(directoryOf(exe) + "/pvmd") }
        if let root = environment["PVM_ROOT"], !root.isEmpty { candidates.append(root + "/bin/pvmd") }
        for dir in (environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
            candidates.append(String(dir) + "/pvmd")
        }
        return candidates.first { access($0, X_OK) == 0 }
    }

    /// This process's executable (/proc/self/exe).
    public static func executablePath() -> String? {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func directoryOf(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return String(path[..<slash])
    }

    /// Runs `pvmd --background` and waits for it to report: it exits once
    /// the daemon it forked listens (0), finds one running (0), or fails
    /// (non-zero, with the reason on its standard error).
    /// `arguments` go after `--background` (the console passes `-n host`).
    public static func startDaemon(environment: [String: String], arguments: [String] = []) throws(PVMError) {
        guard let pvmd = daemonExecutable(environment: environment) else {
            throw PVMError(.sysErr, "no pvmd executable found (set PVM_DPATH, or put pvmd beside this program or on PATH)")
        }
        var fds: [Int32] = [-1, -1]
        guard pvm_pipe(&fds) == 0 else { throw PVMError(.sysErr, "pipe: \(String(cString: strerror(errno)))") }
        let env = environment.map { "\($0.key)=\($0.value)" }
        let pid = withCStrings([pvmd, "--background"] + arguments) { argv in
            withCStrings(env) { envp in pvm_spawn_process(pvmd, argv, envp, nil, fds[1], 1) }
        }
        _ = Glibc.close(fds[1])
        defer { _ = Glibc.close(fds[0]) }
        guard pid > 0 else {
            throw PVMError(.sysErr, "cannot run \(pvmd): \(String(cString: strerror(-pid)))")
        }
        var message = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 512)
        while true {
            let n = Glibc.read(fds[0], &chunk, chunk.count)
            if n > 0 { message.append(contentsOf: chunk[0..<n]); continue }
            if n < 0 && errno == EINTR { continue }
            break
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        if code != 0 {
            let text = String(decoding: message, as: UTF8.self).trimmingTrailingNewlines()
            throw PVMError(.sysErr, "pvmd failed to start (status \(code)): \(text)")
        }
    }
}

/// Calls `body` with a NULL-terminated C array of the strings.
public func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for p in pointers { free(p) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

extension String {
    public func trimmingTrailingNewlines() -> String {
        var s = self
        while s.hasSuffix("\n") || s.hasSuffix("\r") { s.removeLast() }
        return s
    }
}

extension DaemonLauncher {
    /// Stops the daemon of this user and `PVM_VMID` as a halt does (SIGTERM:
    /// it terminates its tasks and removes its files), for a program that
    /// started one and must not be terminated with it. Waits up to
    /// `timeoutMilliseconds` for its socket to go. False if none ran or it
    /// did not stop in time.
    @discardableResult
    public static func stopDaemon(environment: [String: String] = Environment.current, timeoutMilliseconds: Int = 5000) -> Bool {
        let dir = RuntimeDirectory.forCurrentUser(environment: environment)
        guard let text = try? readSmallFile(dir.pidPath), let pid = Int32(text.trimmingTrailingNewlines()), pid > 0 else { return false }
        guard kill(pid, SIGTERM) == 0 else { return false }
        for _ in 0..<max(1, timeoutMilliseconds / 5) {
            if access(dir.socketPath, F_OK) != 0 && kill(pid, 0) != 0 { return true }
            if access(dir.path, F_OK) != 0 { return true }
            usleep(5000)
        }
        return false
    }

    static func readSmallFile(_ path: String) throws(PVMError) -> String {
        let text = try readTextFile(path, limit: 256)
        guard !text.isEmpty else { throw PVMError(.sysErr, "\(path) is empty") }
        return text
    }

    /// The text of the file at `path` (at most `limit` bytes are read).
    public static func readTextFile(_ path: String, limit: Int = 1 << 22) throws(PVMError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw PVMError(.sysErr, "\(path): \(String(cString: strerror(errno)))") }
        defer { _ = Glibc.close(fd) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: min(limit, 65536))
        while out.count < limit {
            let n = read(fd, &buf, min(buf.count, limit - out.count))
            if n > 0 { out += buf[0..<n]; continue }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw PVMError(.sysErr, "\(path): \(String(cString: strerror(errno)))") }
            break
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension Environment {
    /// This machine's host name up to its first dot (what a daemon calls
    /// its host unless told otherwise).
    public static func shortHostName() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        guard gethostname(&buf, buf.count - 1) == 0 else { return "localhost" }
        let name = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return String(name.split(separator: ".").first ?? "localhost")
    }
}
