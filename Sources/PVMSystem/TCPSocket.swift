#if canImport(Glibc)
import Glibc
#endif
import CSupport

/// An IPv4 address and port, written `198.18.0.1:40001`.
public struct TCPEndpoint: Hashable, Sendable, CustomStringConvertible {
    public var address: String
    public var port: Int

    public init(address: String, port: Int) {
        self.address = address
        self.port = port
    }

    /// Parses `a.b.c.d:port`; nil for anything else.
    public init?(parsing text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (1...65535).contains(port) else { return nil }
        let address = String(text[..<colon])
        guard TCPSocket.isIPv4(address) else { return nil }
        self.init(address: address, port: port)
    }

    public var description: String { "\(address):\(port)" }
}

/// Non-blocking IPv4 TCP sockets for the daemons' links and the task-to-task
/// TCP transport. Every socket is close-on-exec; connected sockets have
/// TCP_NODELAY set (small messages are latency-bound).
public enum TCPSocket {
    public static func isIPv4(_ text: String) -> Bool {
        var a = in_addr()
        return inet_pton(AF_INET, text, &a) == 1
    }

    /// A listening socket on `address` (empty or "0.0.0.0": every address)
    /// at the first free port of `ports` (nil: any port the kernel picks).
    /// The caller owns the descriptor returned.
    public static func listen(address: String, ports: ClosedRange<Int>? = nil, backlog: Int32 = 128) throws(SystemError) -> (fd: Int32, endpoint: TCPEndpoint) {
        let candidates: [Int] = ports.map { Array($0) } ?? [0]
        var last = SystemError(code: EADDRINUSE, operation: "bind(\(address))")
        for port in candidates {
            let fd = pvm_tcp_listen(address, Int32(port), backlog)
            if fd >= 0 {
                guard let local = localEndpoint(fd) else {
                    let e = SystemError.current("getsockname")
                    _ = Glibc.close(fd)
                    throw e
                }
                return (fd, local)
            }
            last = SystemError.current("bind(\(address):\(port))")
            if last.code != EADDRINUSE && last.code != EACCES { throw last }
        }
        throw ports == nil ? last : SystemError(code: last.code, operation: "bind(\(address)) in port range \(ports!.lowerBound)-\(ports!.upperBound)")
    }

    /// Connects to `endpoint`, waiting up to `timeoutMilliseconds`. The
    /// socket returned is non-blocking; the caller owns it.
    public static func connect(to endpoint: TCPEndpoint, from local: String? = nil, timeoutMilliseconds: Int32) throws(SystemError) -> Int32 {
        let fd = pvm_tcp_connect_start(endpoint.address, Int32(endpoint.port), local)
        if fd < 0 { throw SystemError.current("connect(\(endpoint))") }
        var ok = false
        defer { if !ok { _ = Glibc.close(fd) } }
        var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        while true {
            let r = poll(&p, 1, timeoutMilliseconds)
            if r < 0 && errno == EINTR { continue }
            if r == 0 { throw SystemError(code: ETIMEDOUT, operation: "connect(\(endpoint))") }
            if r < 0 { throw SystemError.current("poll") }
            break
        }
        let err = pvm_socket_error(fd)
        if err != 0 { throw SystemError(code: err < 0 ? errno : err, operation: "connect(\(endpoint))") }
        ok = true
        return fd
    }

    /// Accepts one pending connection (non-blocking, TCP_NODELAY), or nil.
    public static func accept(_ listener: Int32) -> (fd: Int32, peer: TCPEndpoint)? {
        var buf = [CChar](repeating: 0, count: 64)
        var port: Int32 = 0
        while true {
            let fd = pvm_tcp_accept(listener, &buf, buf.count, &port)
            if fd >= 0 {
                let address = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                return (fd, TCPEndpoint(address: address, port: Int(port)))
            }
            if errno == EINTR || errno == ECONNABORTED { continue }
            return nil
        }
    }

    /// The local address and port of a bound socket.
    public static func localEndpoint(_ fd: Int32) -> TCPEndpoint? {
        var buf = [CChar](repeating: 0, count: 64)
        var port: Int32 = 0
        guard pvm_tcp_local_address(fd, &buf, buf.count, &port) == 0 else { return nil }
        return TCPEndpoint(address: String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self), port: Int(port))
    }

    /// The first IPv4 address of `name` (an address is returned as it is).
    public static func resolve(_ name: String) -> String? {
        if isIPv4(name) { return name }
        // RFC 6761: names under .invalid never resolve; do not ask a server.
        let lower = name.lowercased()
        if lower == "invalid" || lower.hasSuffix(".invalid") || lower.hasSuffix(".invalid.") { return nil }
        var buf = [CChar](repeating: 0, count: 64)
        guard pvm_resolve_ipv4(name, &buf, buf.count) == 0 else { return nil }
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The local address this host would use to reach `address` (the
    /// kernel's route choice, found with an unconnected-then-connected UDP
    /// socket; nothing is sent).
    public static func localAddress(toward address: String) -> String? {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { _ = Glibc.close(fd) }
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = in_port_t(9).bigEndian
        guard inet_pton(AF_INET, address, &sin.sin_addr) == 1 else { return nil }
        let rc = withUnsafePointer(to: &sin) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { return nil }
        return localEndpoint(fd)?.address
    }
}
