#if canImport(Glibc)
import Glibc
#endif
import CPVM3
import PVM

// How every entry point of libpvm3 turns the task library's typed errors
// into PVM's C conventions: a negative return value, `pvm_errno` set (and
// never cleared by a success, as in PVM), and with PvmAutoErr the line
// `libpvm [t40005]: pvm_send(): Bad parameter` on standard error (2: then
// exit with the code as status; 3: abort).

/// Runs `body` on the task library; on error reports it as `function`
/// failing and returns the code.
@inline(__always)
func call(_ function: StaticString, _ body: (VirtualMachine) throws(PVMError) -> Int32) -> Int32 {
    do { return try VirtualMachine.withShared(body) } catch { return fail(function, error) }
}

/// Which failures an entry point returns without the auto-error line, as
/// the original does: all of them (libgpvm3's group calls), or some codes
/// (the mailbox's PvmNotFound and PvmDenied, ...).
enum Quiet {
    case all
    case codes([PVMError.Code])

    func covers(_ code: Int32) -> Bool {
        switch self {
        case .all: return true
        case .codes(let list): return list.contains(PVMError.Code(rawValue: code))
        }
    }
}

/// `call`, with the failures `quiet` covers returned (and pvm_errno set)
/// without printing.
func call(_ function: StaticString, quiet: Quiet, _ body: (VirtualMachine) throws(PVMError) -> Int32) -> Int32 {
    do { return try VirtualMachine.withShared(body) } catch {
        guard quiet.covers(error.code) else { return fail(function, error) }
        pvm3_set_errno(error.code)
        return error.code
    }
}

/// Like `call`, for entry points that do not enroll (they work before
/// pvm_mytid, or on values alone).
@inline(__always)
func local(_ function: StaticString, _ body: () throws(PVMError) -> Int32) -> Int32 {
    do { return try body() } catch { return fail(function, error) }
}

/// Sets `pvm_errno`, prints the auto-error line if the option asks for it,
/// and returns the code.
@discardableResult
func fail(_ function: StaticString, _ error: PVMError) -> Int32 {
    report(function.description, code: error.code)
}

@discardableResult
func report(_ function: String, code: Int32) -> Int32 {
    pvm3_set_errno(code)
    let mode = autoErrorMode()
    if mode != 0 {
        writeDiagnostic("\(diagnosticPrefix()): \(function)(): \(PVMError(code: code).text)")
        if mode == 2 { exit(code) }
        if mode == 3 { abort() }
    }
    return code
}

/// PvmAutoErr of this task (1 before it enrolls, as in PVM).
func autoErrorMode() -> Int32 {
    guard let vm = VirtualMachine.existing else { return 1 }
    return (try? vm.option(PVMOption.autoErr.rawValue)) ?? 1
}

/// `libpvm [t40005]`, or `libpvm [pid1234]` before the task has an id.
func diagnosticPrefix() -> String {
    if let vm = VirtualMachine.existing, vm.myTid.rawValue > 0 { return "libpvm [\(vm.myTid)]" }
    return "libpvm [pid\(getpid())]"
}

/// One line on standard error, written at once (no stdio buffering
/// between the program's own output and ours).
func writeDiagnostic(_ line: String) {
    var text = line
    text.append("\n")
    text.withUTF8 { b in
        var p = b.baseAddress!
        var left = b.count
        while left > 0 {
            let n = write(2, p, left)
            if n < 0 { if errno == EINTR { continue }; return }
            p += n
            left -= n
        }
    }
}

/// A C string as a Swift one (nil for a null pointer).
func string(_ p: UnsafePointer<CChar>?) -> String? {
    p.map { String(cString: $0) }
}

/// Storage that the library owns and hands to the program (pvm_config's
/// host table, pvm_tasks' task table, pvm_siblings' ids). PVM documents it
/// as valid until the next call of the same function, but programs use the
/// old table after calling again (a pvm_config(0, 0, 0) in between, say), so
/// a table is freed only two calls later, and its strings (host,
/// architecture and program names, few and reused) are kept for the life of
/// the process.
struct LibraryOwned<Element> {
    private(set) var base: UnsafeMutablePointer<Element>? = nil
    private var previous: UnsafeMutablePointer<Element>? = nil

    /// Replaces the storage with `count` elements made by `make`, which
    /// gets C strings through `keep`.
    mutating func replace(count: Int, _ make: (Int, (String) -> UnsafeMutablePointer<CChar>) -> Element) -> UnsafeMutablePointer<Element> {
        previous?.deallocate()
        previous = base
        let p = UnsafeMutablePointer<Element>.allocate(capacity: max(count, 1))
        for i in 0..<count { (p + i).initialize(to: make(i, internedCString)) }
        base = p
        return p
    }
}

/// One C copy of each distinct string handed out, never freed.
nonisolated(unsafe) var interned: [String: UnsafeMutablePointer<CChar>] = [:]

func internedCString(_ s: String) -> UnsafeMutablePointer<CChar> {
    if let c = interned[s] { return c }
    let c = strdup(s)!
    interned[s] = c
    return c
}

// The entry points run on the program's one PVM thread, as the original's
// do; the library-owned tables are process globals like the original's.
nonisolated(unsafe) var hostTable = LibraryOwned<pvmhostinfo>()
nonisolated(unsafe) var taskTable = LibraryOwned<pvmtaskinfo>()
nonisolated(unsafe) var siblingTable = LibraryOwned<Int32>()
nonisolated(unsafe) var descriptorTable = LibraryOwned<Int32>()
