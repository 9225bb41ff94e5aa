#if canImport(Glibc)
import Glibc
#endif
import Crypto
import PVMControl
import PVMEncoding

/// The secret of one virtual machine: 256 random bits, made by the master
/// daemon when the machine starts and kept in its runtime directory (mode
/// 0600 in a 0700 directory). Every daemon-to-daemon and task-to-task TCP
/// connection proves knowledge of it (`AuthenticationHandshake`) before
/// anything else on the connection is read. A daemon started on another
/// host receives it on its standard input (through the remote shell's
/// channel), never on a command line. It authenticates; it does not
/// encrypt: traffic between hosts is readable by whoever can see the wire.
public struct MachineSecret: Sendable, Equatable {
    public static let size = 32
    public let bytes: [UInt8]

    public init?(bytes: [UInt8]) {
        guard bytes.count == Self.size else { return nil }
        self.bytes = bytes
    }

    /// A fresh secret from the system's random source.
    public static func generate() -> MachineSecret {
        let key = SymmetricKey(size: .bits256)
        return MachineSecret(bytes: key.withUnsafeBytes { Array($0) })!
    }

    /// 64 lowercase hexadecimal digits (how the secret crosses a remote
    /// shell's standard input).
    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// Parses 64 hexadecimal digits (surrounding white space ignored).
    public init?(hex text: String) {
        let digits = Array(text.utf8.filter { $0 != 10 && $0 != 13 && $0 != 32 && $0 != 9 })
        guard digits.count == 2 * Self.size else { return nil }
        func value(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            case 65...70: return c - 55
            default: return nil
            }
        }
        var out: [UInt8] = []
        for i in stride(from: 0, to: digits.count, by: 2) {
            guard let hi = value(digits[i]), let lo = value(digits[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
        }
        self.bytes = out
    }

    /// Writes the secret to `path` (created with O_EXCL, mode 0600, never
    /// through a symbolic link).
    public func save(to path: String) throws(PVMError) {
        unlink(path)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw PVMError(.sysErr, "cannot create the machine secret \(path): \(String(cString: strerror(errno)))") }
        defer { _ = Glibc.close(fd) }
        let text = hex + "\n"
        let ok = text.withCString { Glibc.write(fd, $0, strlen($0)) == strlen($0) }
        if !ok { throw PVMError(.sysErr, "cannot write the machine secret \(path): \(String(cString: strerror(errno)))") }
    }

    /// Reads the secret at `path`, refusing a file that another user owns or
    /// that others may read.
    public static func load(from path: String) throws(PVMError) -> MachineSecret {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw PVMError(.sysErr, "cannot open the machine secret \(path): \(String(cString: strerror(errno)))") }
        defer { _ = Glibc.close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_uid == getuid(), st.st_mode & 0o077 == 0 else {
            throw PVMError(.sysErr, "the machine secret \(path) must belong to uid \(getuid()) with mode 0600")
        }
        var buf = [UInt8](repeating: 0, count: 256)
        let n = Glibc.read(fd, &buf, buf.count)
        guard n > 0, let secret = MachineSecret(hex: String(decoding: buf[0..<n], as: UTF8.self)) else {
            throw PVMError(.sysErr, "the machine secret \(path) is not 64 hexadecimal digits")
        }
        return secret
    }
}

/// HMAC-SHA256 with the machine's secret (what a daemon uses; see
/// `AuthenticationHandshake`).
public struct SecretAuthenticator: LinkAuthenticator {
    private let key: SymmetricKey
    public init(_ secret: MachineSecret) { key = SymmetricKey(data: secret.bytes) }

    public func code(for data: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: data, using: key))
    }

    public func isValid(_ code: [UInt8], for data: [UInt8]) -> Bool {
        HMAC<SHA256>.isValidAuthenticationCode(code, authenticating: data, using: key)
    }
}

extension AuthenticationHandshake {
    public init(side: Side, role: PeerRole, secret: MachineSecret) {
        self.init(side: side, role: role, authenticator: SecretAuthenticator(secret))
    }

    public static func run(_ side: Side, role: PeerRole, secret: MachineSecret, fd: Int32,
                           timeoutMilliseconds: Int) throws(PVMError) -> PeerRole {
        try run(side, role: role, authenticator: SecretAuthenticator(secret), fd: fd, timeoutMilliseconds: timeoutMilliseconds)
    }
}
