#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// An error number returned by a system call (errno), with the call that failed.
///
/// Every wrapper in `PVMSystem` throws this for errors that the caller can act
/// on; "would block" is returned as a value, `EINTR` is retried, and errnos
/// that can only mean a bug in this project (`EFAULT`, `EBADF` on a descriptor
/// we own) trap with the call's name.
public struct SystemError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The errno value.
    public var code: Int32
    /// The system call or operation that failed, e.g. `"memfd_create"`.
    public var operation: String

    public init(code: Int32, operation: String) {
        self.code = code
        self.operation = operation
    }

    /// Builds the error from the current thread's `errno`.
    @inline(never)
    public static func current(_ operation: String) -> SystemError {
        SystemError(code: errno, operation: operation)
    }

    public var description: String {
        let text = String(cString: strerror(code))
        return "\(operation): \(text) (errno \(code))"
    }
}

/// Runs `body` until it returns something other than -1 with `EINTR`.
/// Returns the result, or throws for every other failure.
@inline(__always)
package func retryingEINTR<T: BinaryInteger>(_ operation: String, _ body: () -> T) throws(SystemError) -> T {
    while true {
        let result = body()
        if result == -1 {
            let code = errno
            if code == EINTR { continue }
            checkProgrammerError(code, operation)
            throw SystemError(code: code, operation: operation)
        }
        return result
    }
}

/// Traps on errnos that only a bug of ours can cause.
@inline(never)
package func checkProgrammerError(_ code: Int32, _ operation: String) {
    if code == EFAULT || code == EBADF {
        fatalError("\(operation) failed with \(String(cString: strerror(code))): a bug in PVM")
    }
}
