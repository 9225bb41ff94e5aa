#if canImport(Glibc)
import Glibc
#endif
import PVMControl
import PVMEncoding
import PVMTransport

// What the console `pvm` needs beyond the task API: one wait that covers
// standard input as well as messages, and pvm_version/pvm_export/
// pvm_unexport, which the C library will want too.

extension VirtualMachine {
    /// PVM's version string (pvm_version).
    public static let version = "3.4.6"

    /// Adds `fd` to what `waitForActivity` wakes up for (the console
    /// watches its standard input). Returns false when the descriptor cannot
    /// be waited for (a regular file or /dev/null: such input never blocks,
    /// so the caller reads it without waiting).
    public func watchDescriptor(_ fd: Int32) throws(PVMError) -> Bool {
        try checkDaemon()
        guard let ep = endpoint else { throw PVMError(.sysErr, "not connected to the daemon") }
        do { try ep.watch(fd) } catch { return false }
        return true
    }

    /// Descriptors that poll readable when the task library has input to
    /// handle (pvm_getfds): a program may select() on them, then call a
    /// receive.
    public var pollDescriptors: [Int32] { endpoint.map { [$0.pollDescriptor] } ?? [] }

    /// Stops watching `fd`.
    public func unwatchDescriptor(_ fd: Int32) {
        endpoint?.unwatch(fd)
    }

    /// Waits until something happens, at most `timeoutNanoseconds` (nil:
    /// no limit): a message from a task or from the daemon (output,
    /// notifies), or a watched descriptor becoming readable. What arrived is
    /// queued for `receive`; the caller then reads its descriptor or
    /// receives. Throws PvmSysErr when the daemon is gone.
    public func waitForActivity(timeoutNanoseconds: UInt64?) throws(PVMError) {
        try checkDaemon()
        try pump(timeoutNanoseconds: timeoutNanoseconds)
        if state != .enrolled { throw PVMError(.sysErr, "the local daemon is gone") }
    }

    /// Adds `name` to the colon-separated list in `PVM_EXPORT` (pvm_export):
    /// children spawned from now on get that variable from this process's
    /// environment. A name already listed is not added again.
    public static func export(_ name: String) {
        guard !name.isEmpty else { return }
        var names = exportedNames
        if names.contains(name) { return }
        names.append(name)
        setenv("PVM_EXPORT", names.joined(separator: ":"), 1)
    }

    /// Removes `name` from `PVM_EXPORT` (pvm_unexport). Removing the last
    /// one leaves `PVM_EXPORT` set to the empty string, as PVM does.
    public static func unexport(_ name: String) {
        let names = exportedNames
        guard names.contains(name) else { return }
        setenv("PVM_EXPORT", names.filter { $0 != name }.joined(separator: ":"), 1)
    }

    /// The names listed in `PVM_EXPORT`.
    public static var exportedNames: [String] {
        guard let p = getenv("PVM_EXPORT") else { return [] }
        return String(cString: p).split(separator: ":").map(String.init)
    }
}
