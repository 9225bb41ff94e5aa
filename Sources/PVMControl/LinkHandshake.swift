#if canImport(Glibc)
import Glibc
#endif
import CSupport
import PVMEncoding

/// Who is at the other end of an authenticated TCP connection.
public enum PeerRole: UInt16, Sendable {
    /// A daemon joining or serving the machine.
    case daemon = 1
    /// A task opening a direct connection to another task.
    case task = 2
}

/// Computes and checks message authentication codes (HMAC-SHA256, 32
/// bytes) with the machine's secret.
public protocol LinkAuthenticator {
    func code(for data: [UInt8]) throws(PVMError) -> [UInt8]
    /// Constant-time comparison with the code for `data`.
    func isValid(_ code: [UInt8], for data: [UInt8]) throws(PVMError) -> Bool
}

/// Mutual HMAC-SHA256 challenge and response over a fresh TCP connection,
/// done before anything else on it is read. Three fixed-size messages:
///
/// ```
///  connector                                acceptor
///    hello     "PVMH" ver role Nc  ------->           (48 bytes)
///              <-------  "PVMC" ver role Na MACa      (72 bytes)
///    response  "PVMR" ver role MACc ------->          (40 bytes)
///
///  MACa = HMAC(K, "pvm accept"  | ver | roles | Nc | Na)
///  MACc = HMAC(K, "pvm connect" | ver | roles | Na | Nc)
/// ```
///
/// Both sides send fresh 256-bit nonces, so neither message can be
/// replayed; the labels differ, so one side's MAC cannot be reflected back
/// as the other's. MACs are compared in constant time. A wrong secret, a
/// wrong magic or version, or a message of the wrong size is
/// `PvmBadMsg`/`PvmSysErr` with a reason, and the caller closes the
/// connection. A side is authenticated only when `isComplete`.
public struct AuthenticationHandshake {
    public enum Side: Sendable { case connector, acceptor }

    public static let version: UInt16 = 1
    public static let helloSize = 48
    public static let challengeSize = 72
    public static let responseSize = 40

    public let side: Side
    public let role: PeerRole
    public private(set) var peerRole: PeerRole? = nil
    public private(set) var isComplete = false
    private let authenticator: any LinkAuthenticator
    private let nonce: [UInt8]
    private var peerNonce: [UInt8] = []
    private var stage = 0

    /// `authenticator` computes and checks the MACs with the machine's
    /// secret: in a daemon, HMAC over the secret it holds; in a task, its
    /// daemon does it (tasks never hold the secret).
    public init(side: Side, role: PeerRole, authenticator: any LinkAuthenticator) {
        self.side = side
        self.role = role
        self.authenticator = authenticator
        var n: [UInt8] = []
        for _ in 0..<4 { withUnsafeBytes(of: pvm_random_u64()) { n += $0 } }
        self.nonce = n
    }

    /// What this side sends first (the connector's hello; nothing for the acceptor).
    public func start() -> [UInt8] {
        guard side == .connector else { return [] }
        var m = Self.head("PVMH", role)
        m += nonce
        m += [UInt8](repeating: 0, count: Self.helloSize - m.count)
        return m
    }

    /// Size of the message this side waits for next (0 when complete).
    public var expectedLength: Int {
        if isComplete { return 0 }
        switch (side, stage) {
        case (.connector, 0): return Self.challengeSize
        case (.acceptor, 0): return Self.helloSize
        case (.acceptor, 1): return Self.responseSize
        default: return 0
        }
    }

    /// Takes the next message (exactly `expectedLength` bytes) and returns
    /// what to send back (possibly nothing). Throws when the peer does not
    /// know the secret or does not speak this protocol.
    public mutating func receive(_ message: [UInt8]) throws(PVMError) -> [UInt8] {
        guard message.count == expectedLength, !isComplete else {
            throw PVMError(.badMsg, "authentication message of \(message.count) bytes, expected \(expectedLength)")
        }
        switch (side, stage) {
        case (.acceptor, 0):
            peerRole = try Self.check(message, "PVMH")
            peerNonce = Array(message[8..<40])
            stage = 1
            var m = Self.head("PVMC", role)
            m += nonce
            m += try mac("pvm accept", first: peerNonce, second: nonce, connectorRole: peerRole!, acceptorRole: role)
            return m
        case (.connector, 0):
            peerRole = try Self.check(message, "PVMC")
            peerNonce = Array(message[8..<40])
            let expected = authenticationData("pvm accept", first: nonce, second: peerNonce, connectorRole: role, acceptorRole: peerRole!)
            guard try authenticator.isValid(Array(message[40..<72]), for: expected) else {
                throw PVMError(.sysErr, "the other side does not know this virtual machine's secret")
            }
            isComplete = true
            var m = Self.head("PVMR", role)
            m += try mac("pvm connect", first: peerNonce, second: nonce, connectorRole: role, acceptorRole: peerRole!)
            return m
        case (.acceptor, 1):
            guard try Self.check(message, "PVMR") == peerRole else { throw PVMError(.badMsg, "authentication: the peer changed its role") }
            let expected = authenticationData("pvm connect", first: nonce, second: peerNonce, connectorRole: peerRole!, acceptorRole: role)
            guard try authenticator.isValid(Array(message[8..<40]), for: expected) else {
                throw PVMError(.sysErr, "the connecting side does not know this virtual machine's secret")
            }
            isComplete = true
            return []
        default:
            throw PVMError(.badMsg, "authentication message after the handshake")
        }
    }

    private static func head(_ magic: String, _ role: PeerRole) -> [UInt8] {
        var m = Array(magic.utf8)
        m += [UInt8(version & 0xff), UInt8(version >> 8), UInt8(role.rawValue & 0xff), UInt8(role.rawValue >> 8)]
        return m
    }

    private static func check(_ message: [UInt8], _ magic: String) throws(PVMError) -> PeerRole {
        guard Array(message[0..<4]) == Array(magic.utf8) else {
            throw PVMError(.badMsg, "not a PVM authentication message (expected \(magic))")
        }
        let version = UInt16(message[4]) | UInt16(message[5]) << 8
        guard version == Self.version else { throw PVMError(.badMsg, "authentication protocol version \(version), this side speaks \(Self.version)") }
        guard let role = PeerRole(rawValue: UInt16(message[6]) | UInt16(message[7]) << 8) else {
            throw PVMError(.badMsg, "authentication: unknown peer role")
        }
        return role
    }

    private func authenticationData(_ label: String, first: [UInt8], second: [UInt8], connectorRole: PeerRole, acceptorRole: PeerRole) -> [UInt8] {
        var d = Array(label.utf8)
        d += [UInt8(Self.version & 0xff), UInt8(Self.version >> 8)]
        d += [UInt8(connectorRole.rawValue), UInt8(acceptorRole.rawValue)]
        d += first
        d += second
        return d
    }

    private func mac(_ label: String, first: [UInt8], second: [UInt8], connectorRole: PeerRole, acceptorRole: PeerRole) throws(PVMError) -> [UInt8] {
        let data = authenticationData(label, first: first, second: second, connectorRole: connectorRole, acceptorRole: acceptorRole)
        let code = try authenticator.code(for: data)
        guard code.count == 32 else { throw PVMError(.sysErr, "authentication code of \(code.count) bytes") }
        return code
    }
}

extension AuthenticationHandshake {
    /// Runs the whole handshake on the connected socket `fd` (blocking or
    /// not), giving up after `timeoutMilliseconds`. Returns the peer's role.
    /// For a side that may wait (a daemon joining, a task connecting); the
    /// daemon's accepting side runs the same state machine from its epoll loop.
    public static func run(_ side: Side, role: PeerRole, authenticator: any LinkAuthenticator, fd: Int32,
                           timeoutMilliseconds: Int) throws(PVMError) -> PeerRole {
        var hs = AuthenticationHandshake(side: side, role: role, authenticator: authenticator)
        let deadline = pvm_monotonic_ns() &+ UInt64(timeoutMilliseconds) * 1_000_000
        try SocketIO.writeAll(fd, hs.start(), deadline: deadline)
        while !hs.isComplete {
            let message = try SocketIO.readExactly(fd, hs.expectedLength, deadline: deadline)
            let reply = try hs.receive(message)
            try SocketIO.writeAll(fd, reply, deadline: deadline)
        }
        return hs.peerRole!
    }
}

/// Whole-message reads and writes with a deadline, on blocking or
/// non-blocking sockets (control paths only: they allocate).
public enum SocketIO {
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8], deadline: UInt64) throws(PVMError) {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { FrameConnection.send(fd, $0.baseAddress! + off, $0.count - off) }
            if n > 0 { off += n; continue }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { try wait(fd, Int16(POLLOUT), deadline); continue }
            throw PVMError(.sysErr, "write: \(String(cString: strerror(errno)))")
        }
    }

    public static func readExactly(_ fd: Int32, _ count: Int, deadline: UInt64) throws(PVMError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var off = 0
        while off < count {
            // Wait first: on a blocking socket a read would not see the deadline.
            try wait(fd, Int16(POLLIN), deadline)
            let n = out.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + off, count - off) }
            if n > 0 { off += n; continue }
            if n == 0 { throw PVMError(.sysErr, "the other side closed the connection") }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { try wait(fd, Int16(POLLIN), deadline); continue }
            throw PVMError(.sysErr, "read: \(String(cString: strerror(errno)))")
        }
        return out
    }

    static func wait(_ fd: Int32, _ events: Int16, _ deadline: UInt64) throws(PVMError) {
        while true {
            let now = pvm_monotonic_ns()
            guard now < deadline else { throw PVMError(.sysErr, "timed out waiting for the other side") }
            var p = pollfd(fd: fd, events: events, revents: 0)
            let r = poll(&p, 1, Int32(min((deadline - now) / 1_000_000 + 1, 60_000)))
            if r > 0 { return }
            if r < 0 && errno != EINTR { throw PVMError(.sysErr, "poll: \(String(cString: strerror(errno)))") }
        }
    }
}

extension AuthenticationHandshake {
    /// Advances the handshake on a non-blocking socket, for an event loop:
    /// reads no more than the next message (so nothing that follows the
    /// handshake is consumed), answers each complete one, and returns true
    /// once complete, false when it must wait for more. `input` keeps a
    /// partly received message between calls. Throws with the reason when
    /// the peer closes, fails the challenge or speaks another protocol.
    public mutating func advance(fd: Int32, input: inout [UInt8]) throws(PVMError) -> Bool {
        while !isComplete {
            let want = expectedLength - input.count
            var chunk = [UInt8](repeating: 0, count: want)
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, want) }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) { return false }
            guard n > 0 else { throw PVMError(.sysErr, "the other side closed the connection during authentication") }
            input += chunk[0..<n]
            guard input.count == expectedLength else { continue }
            let message = input
            input.removeAll()
            let reply = try receive(message)
            if !reply.isEmpty {
                let ok = reply.withUnsafeBytes { FrameConnection.send(fd, $0.baseAddress!, $0.count) == $0.count }
                guard ok else { throw PVMError(.sysErr, "cannot write to the other side") }
            }
        }
        return true
    }
}
