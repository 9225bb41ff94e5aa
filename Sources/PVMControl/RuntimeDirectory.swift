#if canImport(Glibc)
import Glibc
#endif
import PVMEncoding

/// Where one user's virtual machine keeps its daemon socket, lock and log:
/// `$PVM_TMP` (else `$XDG_RUNTIME_DIR`, else `/tmp`) / `pvm.<uid>[.<vmid>]`,
/// a directory of mode 0700 owned by the user. Tasks and the console find
/// it from the environment alone, with no configuration. A directory that
/// exists with another owner, wider permissions or as a symbolic link is
/// refused: another user could have planted it.
public struct RuntimeDirectory: Sendable {
    public let path: String
    public var socketPath: String { path + "/pvmd.sock" }
    public var lockPath: String { path + "/pvmd.lock" }
    public var logPath: String { path + "/pvmd.log" }
    public var pidPath: String { path + "/pvmd.pid" }
    /// The machine's secret (mode 0600; see `MachineSecret`).
    public var secretPath: String { path + "/secret" }

    public init(path: String) { self.path = path }

    /// The directory for this user and `PVM_VMID`, from the environment.
    public static func forCurrentUser(environment: [String: String]) -> RuntimeDirectory {
        forCurrentUser(lookup: { environment[$0] })
    }

    /// The directory for this user and `PVM_VMID`, with the variables read
    /// through `lookup` (by default the process environment, variable by
    /// variable).
    public static func forCurrentUser(lookup: (String) -> String? = Environment.value) -> RuntimeDirectory {
        var base = lookup("PVM_TMP") ?? lookup("XDG_RUNTIME_DIR") ?? "/tmp"
        if base.isEmpty { base = "/tmp" }
        while base.count > 1 && base.hasSuffix("/") { base.removeLast() }
        var name = "pvm.\(getuid())"
        if let vmid = lookup("PVM_VMID"), !vmid.isEmpty {
            name += "." + String(vmid.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" })
        }
        return RuntimeDirectory(path: base + "/" + name)
    }

    /// Creates the directory (mode 0700) or checks that the existing one is
    /// private to this user.
    public func prepare() throws(PVMError) {
        if mkdir(path, 0o700) != 0 && errno != EEXIST {
            throw PVMError(.sysErr, "cannot create runtime directory \(path): \(String(cString: strerror(errno)))")
        }
        try verify()
    }

    /// Checks owner, type and mode of the existing directory.
    public func verify() throws(PVMError) {
        var st = stat()
        guard lstat(path, &st) == 0 else {
            throw PVMError(.sysErr, "runtime directory \(path): \(String(cString: strerror(errno)))")
        }
        guard st.st_mode & S_IFMT == S_IFDIR else {
            throw PVMError(.sysErr, "runtime directory \(path) is not a directory (a symbolic link or file is in the way; remove it)")
        }
        guard st.st_uid == getuid() else {
            throw PVMError(.sysErr, "runtime directory \(path) belongs to uid \(st.st_uid), not \(getuid()); refusing it")
        }
        guard st.st_mode & 0o077 == 0 else {
            throw PVMError(.sysErr, "runtime directory \(path) has mode \(String(st.st_mode & 0o777, radix: 8)); it must be 0700")
        }
    }

    /// True when a socket file is there (a daemon runs or died uncleanly).
    public var socketExists: Bool { access(socketPath, F_OK) == 0 }
}

/// The process environment.
public enum Environment {
    /// One variable (getenv). Cheaper than `current` where a few are
    /// wanted: a spawned task's start-up reads them this way.
    public static func value(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    /// The whole environment as a dictionary.
    public static var current: [String: String] {
        var out: [String: String] = [:]
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if let eq = s.firstIndex(of: "=") {
                out[String(s[..<eq])] = String(s[s.index(after: eq)...])
            }
            p += 1
        }
        return out
    }
}
