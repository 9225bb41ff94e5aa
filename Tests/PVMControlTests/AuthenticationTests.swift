#if canImport(Glibc)
import Glibc
#endif
import CSupport
import Foundation
import PVMAuthentication
import PVMControl
import PVMEncoding
import Testing

@Suite("Authentication")
struct AuthenticationTests {
    /// Runs both sides of the handshake in memory; returns each side's error, if any.
    func exchange(_ connectorSecret: MachineSecret, _ acceptorSecret: MachineSecret,
                  tamper: (inout [UInt8], Int) -> Void = { _, _ in }) -> (connector: PVMError?, acceptor: PVMError?, done: Bool) {
        var c = AuthenticationHandshake(side: .connector, role: .task, secret: connectorSecret)
        var a = AuthenticationHandshake(side: .acceptor, role: .daemon, secret: acceptorSecret)
        var toAcceptor = c.start()
        tamper(&toAcceptor, 0)
        var challenge: [UInt8]
        do { challenge = try a.receive(toAcceptor) } catch { return (nil, error, false) }
        tamper(&challenge, 1)
        var response: [UInt8]
        do { response = try c.receive(challenge) } catch { return (error, nil, false) }
        tamper(&response, 2)
        do { _ = try a.receive(response) } catch { return (nil, error, false) }
        return (nil, nil, c.isComplete && a.isComplete && a.peerRole == .task && c.peerRole == .daemon)
    }

    @Test func authenticationSucceedsWithTheSameSecret() {
        let s = MachineSecret.generate()
        let r = exchange(s, s)
        #expect(r.connector == nil && r.acceptor == nil)
        #expect(r.done)
    }

    @Test func authenticationWithAWrongSecretFailsOnBothSides() {
        // The connector refuses an acceptor that cannot prove the secret...
        let r = exchange(MachineSecret.generate(), MachineSecret.generate())
        #expect(r.connector?.code == PVMError.Code.sysErr.rawValue)
        #expect(!r.done)
        // ...and an acceptor refuses a connector that replays a response made with another key.
        let good = MachineSecret.generate()
        var a = AuthenticationHandshake(side: .acceptor, role: .daemon, secret: good)
        var c = AuthenticationHandshake(side: .connector, role: .daemon, secret: good)
        var evil = AuthenticationHandshake(side: .connector, role: .daemon, secret: MachineSecret.generate())
        let challenge = try! a.receive(c.start())
        _ = try? c.receive(challenge)
        _ = evil.start()
        // evil cannot verify the challenge, so it forges a response from the honest one's shape
        var forged = Array("PVMR".utf8) + [1, 0, 1, 0]
        forged += [UInt8](repeating: 0xAB, count: 32)
        #expect(throws: PVMError.self) { try a.receive(forged) }
        #expect(!a.isComplete)
    }

    @Test func authenticationRefusesTamperedAndForeignMessages() {
        let s = MachineSecret.generate()
        // A flipped bit in either MAC breaks the handshake.
        for message in [1, 2] {
            let r = exchange(s, s) { bytes, index in if index == message { bytes[bytes.count - 1] ^= 1 } }
            #expect(!r.done, "tampered message \(message) was accepted")
        }
        // Not our protocol, or another version, or a wrong size.
        var a = AuthenticationHandshake(side: .acceptor, role: .daemon, secret: s)
        #expect(throws: PVMError.self) { try a.receive(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n0123456789abcdefghij".utf8)) }
        var b = AuthenticationHandshake(side: .acceptor, role: .daemon, secret: s)
        var hello = AuthenticationHandshake(side: .connector, role: .task, secret: s).start()
        hello[4] = 9
        #expect(throws: PVMError.self) { try b.receive(hello) }
        var c = AuthenticationHandshake(side: .acceptor, role: .daemon, secret: s)
        #expect(throws: PVMError.self) { try c.receive([1, 2, 3]) }
    }

    @Test func authenticationNoncesAreFreshSoMessagesDoNotRepeat() {
        let s = MachineSecret.generate()
        let h1 = AuthenticationHandshake(side: .connector, role: .task, secret: s).start()
        let h2 = AuthenticationHandshake(side: .connector, role: .task, secret: s).start()
        #expect(h1.count == AuthenticationHandshake.helloSize)
        #expect(h1 != h2)
    }

    @Test func authenticationRunsOverARealSocketPair() throws {
        var fds: [Int32] = [-1, -1]
        #expect(pvm_socketpair(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        let s = MachineSecret.generate()
        let fd1 = fds[1]
        // The acceptor on a thread of its own (not a fork: the test runner is multithreaded).
        let acceptor = Thread { _ = try? AuthenticationHandshake.run(.acceptor, role: .daemon, secret: s, fd: fd1, timeoutMilliseconds: 5000) }
        acceptor.start()
        let role = try AuthenticationHandshake.run(.connector, role: .task, secret: s, fd: fds[0], timeoutMilliseconds: 5000)
        #expect(role == .daemon)
    }

    @Test func authenticationTimesOutOnASilentPeer() {
        var fds: [Int32] = [-1, -1]
        #expect(pvm_socketpair(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        let start = pvm_monotonic_ns()
        #expect(throws: PVMError.self) {
            try AuthenticationHandshake.run(.acceptor, role: .daemon, secret: .generate(), fd: fds[0], timeoutMilliseconds: 200)
        }
        let elapsed = pvm_monotonic_ns() - start
        #expect(elapsed >= 190_000_000 && elapsed < 2_000_000_000)
    }

    @Test func authenticationSecretFileIsPrivateAndRoundTrips() throws {
        let dir = "/tmp/pvm-secret-test.\(getpid())"
        mkdir(dir, 0o700)
        defer { unlink(dir + "/secret"); rmdir(dir) }
        let s = MachineSecret.generate()
        try s.save(to: dir + "/secret")
        var st = stat()
        stat(dir + "/secret", &st)
        #expect(st.st_mode & 0o777 == 0o600)
        #expect(try MachineSecret.load(from: dir + "/secret") == s)
        #expect(MachineSecret(hex: s.hex) == s)
        #expect(MachineSecret(hex: "zz") == nil)
        chmod(dir + "/secret", 0o644)
        #expect(throws: PVMError.self) { try MachineSecret.load(from: dir + "/secret") }
    }
}
