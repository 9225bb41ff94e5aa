import Foundation

/// A private virtual machine for one test: its own runtime directory
/// (PVM_TMP), the build folder as the spawn search path (PVM_PATH) and the
/// built pvmd (PVM_DPATH), all in this process's environment so that the
/// daemon started on demand, and the tasks it spawns, inherit them.
public final class VirtualMachineFixture {
    public let base: String
    public var runtimeDirectory: String { base + "/pvm.\(getuid())" }
    public var logPath: String { runtimeDirectory + "/pvmd.log" }

    public init() {
        var template = Array("/tmp/pvmt.XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        base = String(cString: template)
        setenv("PVM_TMP", base, 1)
        setenv("PVM_PATH", TestProducts.directory.path, 1)
        setenv("PVM_DPATH", TestProducts.executable("pvmd").path, 1)
        unsetenv("PVMSOCK")
        unsetenv("PVM_VMID")
    }

    /// The daemon's pid, if one runs.
    public var daemonPID: Int32? {
        guard let text = try? String(contentsOfFile: runtimeDirectory + "/pvmd.pid", encoding: .utf8) else { return nil }
        return Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Stops the daemon (SIGTERM: it halts cleanly) and waits until its
    /// runtime directory is gone. Returns false if it had to be killed.
    @discardableResult
    public func halt(timeout: Double = 10) -> Bool {
        guard let pid = daemonPID else { removeBase(); return true }
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(timeout)
        while FileManager.default.fileExists(atPath: runtimeDirectory) && Date() < deadline { usleep(5_000) }
        let clean = !FileManager.default.fileExists(atPath: runtimeDirectory)
        if !clean { kill(pid, SIGKILL) }
        removeBase()
        return clean
    }

    func removeBase() { try? FileManager.default.removeItem(atPath: base) }

    /// Is process `pid` still there (not a zombie)?
    public static func alive(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
        return !stat.contains(") Z ")
    }

    /// Waits until `condition` holds or `timeout` passes.
    public static func eventually(timeout: Double = 10, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            usleep(5_000)
        }
        return condition()
    }
}
