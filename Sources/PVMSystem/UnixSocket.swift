#if canImport(Glibc)
import Glibc
#endif
import CSupport

/// Unix-domain stream sockets with descriptor passing (SCM_RIGHTS) and peer
/// credentials (SO_PEERCRED).
public enum UnixSocket {
    /// Process credentials of the other end of a connected socket, as the
    /// kernel recorded them at connect time.
    public struct Credentials: Sendable, Equatable {
        public var pid: pid_t
        public var uid: uid_t
        public var gid: gid_t
    }

    /// What one `receive` returned.
    public struct Received {
        /// Bytes placed in the caller's buffer; 0 means the peer closed.
        public var count: Int
        /// Descriptors that came with the bytes (owned by the caller now).
        public var descriptors: [Int32]
        /// The kernel dropped data or descriptors: treat as malformed.
        public var truncated: Bool
    }

    /// A non-blocking listening socket at `path` (the path must not exist).
    public static func listen(path: String, backlog: Int32 = 64) throws(SystemError) -> OwnedDescriptor {
        let fd = pvm_unix_listen(path, backlog)
        if fd < 0 { throw SystemError.current("listen(\(path))") }
        return OwnedDescriptor(taking: fd)
    }

    /// Accepts one connection, or returns nil when none is pending. The new
    /// socket is blocking and close-on-exec.
    public static func accept(_ listener: borrowing OwnedDescriptor) throws(SystemError) -> OwnedDescriptor? {
        while true {
            let fd = pvm_accept(listener.rawValue)
            if fd >= 0 { return OwnedDescriptor(taking: fd) }
            let code = errno
            switch code {
            case EINTR, ECONNABORTED: continue
            case EAGAIN, EWOULDBLOCK: return nil
            default:
                checkProgrammerError(code, "accept4")
                throw SystemError(code: code, operation: "accept4")
            }
        }
    }

    /// Connects to the listening socket at `path` (blocking connect).
    public static func connect(path: String) throws(SystemError) -> OwnedDescriptor {
        let fd = pvm_unix_connect(path)
        if fd < 0 { throw SystemError.current("connect(\(path))") }
        return OwnedDescriptor(taking: fd)
    }

    public static func credentials(of socket: borrowing OwnedDescriptor) throws(SystemError) -> Credentials {
        var c = Credentials(pid: 0, uid: 0, gid: 0)
        if pvm_peer_credentials(socket.rawValue, &c.pid, &c.uid, &c.gid) != 0 {
            throw SystemError.current("getsockopt(SO_PEERCRED)")
        }
        return c
    }

    /// Sends all of `bytes`, with `descriptors` attached to the first piece.
    /// Blocks until sent (the sockets carry small control messages only).
    public static func send(_ socket: borrowing OwnedDescriptor, _ bytes: UnsafeRawBufferPointer, descriptors: [Int32] = []) throws(SystemError) {
        var offset = 0
        var fds = descriptors
        while offset < bytes.count || (offset == 0 && bytes.count == 0) {
            let n = fds.withUnsafeBufferPointer { f in
                pvm_send_with_fds(socket.rawValue, bytes.baseAddress.map { $0 + offset }, bytes.count - offset, f.baseAddress, Int32(f.count))
            }
            if n < 0 {
                let code = errno
                if code == EINTR { continue }
                if code == EAGAIN || code == EWOULDBLOCK {
                    var p = pollfd(fd: socket.rawValue, events: Int16(POLLOUT), revents: 0)
                    _ = poll(&p, 1, -1)
                    continue
                }
                checkProgrammerError(code, "sendmsg")
                throw SystemError(code: code, operation: "sendmsg")
            }
            fds = []
            offset += n
            if bytes.count == 0 { break }
        }
    }

    /// Receives into `buffer`. Returns nil when nothing is available on a
    /// non-blocking socket.
    public static func receive(_ socket: borrowing OwnedDescriptor, into buffer: UnsafeMutableRawBufferPointer, maxDescriptors: Int = 8) throws(SystemError) -> Received? {
        var fds = [Int32](repeating: -1, count: max(maxDescriptors, 1))
        var nfds: Int32 = 0
        var truncated: Int32 = 0
        while true {
            let n = fds.withUnsafeMutableBufferPointer { f in
                pvm_recv_with_fds(socket.rawValue, buffer.baseAddress, buffer.count, f.baseAddress, Int32(maxDescriptors), &nfds, &truncated)
            }
            if n >= 0 {
                return Received(count: n, descriptors: Array(fds.prefix(Int(nfds))), truncated: truncated != 0)
            }
            let code = errno
            switch code {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return nil
            case ECONNRESET: return Received(count: 0, descriptors: [], truncated: false)
            default:
                checkProgrammerError(code, "recvmsg")
                throw SystemError(code: code, operation: "recvmsg")
            }
        }
    }

    /// Reads exactly `buffer.count` bytes (blocking socket), collecting any
    /// descriptors that arrive with them. Throws `ECONNRESET` on a short read.
    public static func receiveExactly(_ socket: borrowing OwnedDescriptor, into buffer: UnsafeMutableRawBufferPointer, descriptors: inout [Int32]) throws(SystemError) {
        var offset = 0
        while offset < buffer.count {
            let rest = UnsafeMutableRawBufferPointer(rebasing: buffer[offset...])
            guard let got = try receive(socket, into: rest) else {
                var p = pollfd(fd: socket.rawValue, events: Int16(POLLIN), revents: 0)
                _ = poll(&p, 1, -1)
                continue
            }
            descriptors += got.descriptors
            if got.truncated {
                throw SystemError(code: EMSGSIZE, operation: "recvmsg: control data truncated")
            }
            if got.count == 0 { throw SystemError(code: ECONNRESET, operation: "recvmsg: peer closed") }
            offset += got.count
        }
    }

    public static func setNonBlocking(_ socket: borrowing OwnedDescriptor, _ on: Bool) throws(SystemError) {
        if pvm_set_nonblocking(socket.rawValue, on ? 1 : 0) != 0 { throw SystemError.current("fcntl(O_NONBLOCK)") }
    }
}
