#if canImport(Glibc)
import Glibc
#endif
import CSupport

/// A file descriptor that this value owns: it is closed when the value is
/// destroyed. Moving it (`consume`) hands ownership over; borrowing it lends
/// the raw number for the duration of a call.
public struct OwnedDescriptor: ~Copyable {
    /// The raw descriptor. Valid while this value lives.
    public let rawValue: Int32

    /// Takes ownership of `rawValue`.
    public init(taking rawValue: Int32) {
        precondition(rawValue >= 0, "OwnedDescriptor needs a valid descriptor")
        self.rawValue = rawValue
    }

    /// Gives up ownership without closing; the caller must close it.
    public consuming func release() -> Int32 {
        let fd = rawValue
        discard self
        return fd
    }

    /// A new descriptor for the same open file (close-on-exec).
    public func duplicate() throws(SystemError) -> OwnedDescriptor {
        let fd = try retryingEINTR("fcntl(F_DUPFD_CLOEXEC)") { fcntl(rawValue, F_DUPFD_CLOEXEC, 0) }
        return OwnedDescriptor(taking: fd)
    }

    deinit {
        // close(2) must not be retried on EINTR on Linux: the descriptor is gone either way.
        _ = Glibc.close(rawValue)
    }
}

/// A pair of connected Unix stream sockets (socketpair), both close-on-exec.
public struct SocketPair: ~Copyable {
    public var first: OwnedDescriptor
    public var second: OwnedDescriptor

    public init() throws(SystemError) {
        var fds: (Int32, Int32) = (-1, -1)
        let rc = withUnsafeMutableBytes(of: &fds) { pvm_socketpair($0.baseAddress!.assumingMemoryBound(to: Int32.self)) }
        if rc != 0 { throw SystemError.current("socketpair") }
        first = OwnedDescriptor(taking: fds.0)
        second = OwnedDescriptor(taking: fds.1)
    }
}
