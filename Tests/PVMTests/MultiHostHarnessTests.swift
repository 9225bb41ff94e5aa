import Foundation
import PVMTestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The multi-host harness itself: namespaces as hosts, links that can be
/// cut, a teardown that leaves nothing, a remote shell script and a real
/// sshd. Skipped where namespaces cannot be made (not root, no iproute2).
final class MultiHostHarnessTests: XCTestCase {
    var directory: String!

    override func setUpWithError() throws {
        if let reason = TestNetwork.available() { throw XCTSkip(reason) }
        var template = Array("/tmp/pvmmh.XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) != nil }
        guard made else { throw XCTSkip("mkdtemp in /tmp failed: \(String(cString: strerror(errno)))") }
        directory = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    override func tearDown() {
        if let directory { try? FileManager.default.removeItem(atPath: directory) }
    }

    /// A network torn down when the test ends, however it ends.
    func makeNetwork(hosts: Int = 3) throws -> TestNetwork {
        let network = try TestNetwork(hosts: hosts)
        addTeardownBlock { XCTAssertEqual(network.teardown(), [], "teardown problems") }
        return network
    }

    var ip: String { TestNetwork.ipCommand! }

    static let ping: String? = ["/usr/bin/ping", "/bin/ping"].first { (path: String) in access(path, X_OK) == 0 }
    static let python3: String? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        return (path.split(separator: ":").map(String.init) + ["/usr/bin"])
            .map { $0 + "/python3" }.first { access($0, X_OK) == 0 }
    }()

    /// Can host `from` reach `address`? ping when there is one; otherwise a
    /// TCP connection to a closed port (a refusal proves the way is open).
    func reachable(_ network: TestNetwork, from host: Int, _ address: String) throws -> Bool {
        if let ping = Self.ping {
            return try network.run(host, [ping, "-c1", "-W1", "-q", address]).status == 0
        }
        guard let python3 = Self.python3 else { throw XCTSkip("neither ping nor python3 is installed") }
        let probe = """
            import socket, sys
            s = socket.socket(); s.settimeout(1)
            try: s.connect((sys.argv[1], 9))
            except ConnectionRefusedError: sys.exit(0)
            except OSError: sys.exit(1)
            """
        return try network.run(host, [python3, "-c", probe, address]).status == 0
    }

    func testMultiHostRootReachesEveryHost() throws {
        let network = try makeNetwork()
        XCTAssertNil(network.namespace(0))
        XCTAssertEqual(network.addresses.count, 4)
        XCTAssertTrue(network.address(0).hasPrefix("198.18.") || network.address(0).hasPrefix("198.19."))
        XCTAssertTrue(network.address(0).hasSuffix(".1"))
        XCTAssertEqual(network.address(3), network.subnet + ".4")
        let listed = try network.run(0, [ip, "netns", "list"]).output
        for host in 1...3 {
            XCTAssertTrue(listed.contains(network.namespace(host)!), listed)
            XCTAssertTrue(try reachable(network, from: 0, network.address(host)), "root cannot reach host \(host)")
            // Each host has exactly its own address, and no default route.
            let addr = try network.run(host, [ip, "-o", "-4", "addr", "show", "dev", "eth0"]).output
            XCTAssertTrue(addr.contains(network.address(host) + "/24"), addr)
            let routes = try network.run(host, [ip, "route", "show", "default"]).output
            XCTAssertEqual(routes.trimmingCharacters(in: .whitespacesAndNewlines), "")
        }
    }

    func testMultiHostHostsReachEachOther() throws {
        let network = try makeNetwork()
        XCTAssertTrue(try reachable(network, from: 1, network.address(2)))
        XCTAssertTrue(try reachable(network, from: 2, network.address(1)))
        XCTAssertTrue(try reachable(network, from: 3, network.address(0)), "a host cannot reach the root namespace")
        // Real TCP from host 1 to a listener on host 2.
        guard let python3 = Self.python3 else { return }
        let server = """
            import socket
            s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("\(network.address(2))", 7000)); s.listen(1)
            c, peer = s.accept(); c.sendall(("hello " + peer[0]).encode()); c.close()
            """
        let pid = try network.spawn(2, [python3, "-c", server])
        let client = """
            import socket, time
            for i in range(200):
                try:
                    c = socket.create_connection(("\(network.address(2))", 7000), timeout=1); break
                except ConnectionRefusedError: time.sleep(0.02)
            print(c.recv(100).decode())
            """
        let r = try network.run(1, [python3, "-c", client], timeout: 10)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertEqual(r.output.trimmingCharacters(in: .whitespacesAndNewlines), "hello " + network.address(1))
        XCTAssertTrue(VirtualMachineFixture.eventually(timeout: 5) { !network.isRunning(pid) })
    }

    func testMultiHostCutLinkStopsTrafficAndRestoreBringsItBack() throws {
        let network = try makeNetwork()
        XCTAssertTrue(try reachable(network, from: 0, network.address(1)))
        try network.cutLink(1)
        XCTAssertFalse(try reachable(network, from: 0, network.address(1)), "root still reaches a cut host")
        XCTAssertFalse(try reachable(network, from: 1, network.address(2)), "a cut host still reaches another")
        XCTAssertTrue(try reachable(network, from: 2, network.address(3)), "cutting host 1 cut others too")
        try network.restoreLink(1)
        XCTAssertTrue(try reachable(network, from: 0, network.address(1)), "restored link carries nothing")
        XCTAssertTrue(try reachable(network, from: 1, network.address(2)))
    }

    func testMultiHostTeardownLeavesNothing() throws {
        let network = try TestNetwork(hosts: 3)
        var torn = false
        addTeardownBlock { if !torn { network.teardown() } }
        let spawned = try network.spawn(1, ["sleep", "300"])
        let local = try network.spawn(0, ["sleep", "300"])
        // A process the harness did not start: a background child left in
        // host 2's namespace by a command that has ended.
        let r = try network.run(2, ["/bin/sh", "-c", "sleep 300 >/dev/null 2>&1 </dev/null & echo $!"])
        let orphan = try XCTUnwrap(pid_t(r.output.trimmingCharacters(in: .whitespacesAndNewlines)), r.output)
        for pid in [spawned, local, orphan] { XCTAssertTrue(VirtualMachineFixture.alive(pid)) }

        XCTAssertEqual(network.teardown(), [])
        torn = true
        XCTAssertEqual(network.teardown(), [], "a second teardown must be harmless")

        for pid in [spawned, local, orphan] {
            XCTAssertTrue(VirtualMachineFixture.eventually(timeout: 5) { !VirtualMachineFixture.alive(pid) }, "pid \(pid) survives teardown")
        }
        let listed = try network.run(0, [ip, "netns", "list"]).output
        XCTAssertFalse(listed.contains(network.prefix + "-"), listed)
        let links = try network.run(0, [ip, "-o", "link", "show"]).output
        XCTAssertFalse(links.contains(network.rootInterface), links)
        let addresses = try network.run(0, [ip, "-o", "-4", "addr", "show"]).output
        XCTAssertFalse(addresses.contains(network.address(0) + "/"), addresses)
        XCTAssertThrowsError(try network.spawn(1, ["sleep", "1"]))
    }

    func testMultiHostRshScriptRunsInTheRightNamespaceWithStdin() throws {
        let network = try makeNetwork()
        let rsh = try network.rshScript(directory: directory)
        for host in 0...3 {
            let r = try network.run(0, [rsh, network.address(host), ip, "-o", "-4", "addr", "show"])
            XCTAssertEqual(r.status, 0, r.output)
            for other in 0...3 {
                XCTAssertEqual(r.output.contains(network.address(other) + "/"), other == host, "host \(host): \(r.output)")
            }
        }
        // The namespace name works as a host name too.
        let byName = try network.run(0, [rsh, network.namespace(2)!, ip, "-o", "-4", "addr", "show", "dev", "eth0"])
        XCTAssertTrue(byName.output.contains(network.address(2) + "/"), byName.output)

        // Standard input reaches the remote command; words are joined as by ssh.
        let secret = "secret-\(UInt64.random(in: 0...UInt64.max))\n"
        let piped = try network.run(0, [rsh, network.address(3), "cat;", "echo", "done"], input: Data(secret.utf8))
        XCTAssertEqual(piped.status, 0, piped.output)
        XCTAssertEqual(piped.output, secret + "done\n")
        let local = try network.run(0, [rsh, network.address(0), "cat"], input: Data(secret.utf8))
        XCTAssertEqual(local.output, secret)
        // -n: no standard input.
        let none = try network.run(0, [rsh, "-n", network.address(1), "cat"], input: Data(secret.utf8))
        XCTAssertEqual(none.output, "")

        // The command's status comes back; an unknown host is ssh's 255.
        XCTAssertEqual(try network.run(0, [rsh, network.address(1), "exit", "7"]).status, 7)
        let unknown = try network.run(0, [rsh, "203.0.113.9", "true"])
        XCTAssertEqual(unknown.status, 255)
        XCTAssertTrue(unknown.output.contains("no such test host"), unknown.output)
    }

    func testMultiHostSSHServerRunsCommandsWithStdin() throws {
        if let reason = TestSSHServer.available() { throw XCTSkip(reason) }
        let network = try makeNetwork()
        let server = try TestSSHServer(network: network, host: 2, directory: directory + "/ssh")
        defer { server.stop() }
        let ssh = server.sshCommand.split(separator: " ").map(String.init)
        XCTAssertEqual(ssh, server.sshArguments)

        // From the root namespace: stdin passes through, and the command runs
        // on host 2.
        let secret = "ssh-secret-\(UInt64.random(in: 0...UInt64.max))\n"
        let r = try network.run(0, ssh + [network.address(2), "cat;", ip, "-o", "-4", "addr", "show", "dev", "eth0"],
                                input: Data(secret.utf8), timeout: 20)
        XCTAssertEqual(r.status, 0, r.output + "\nsshd log:\n" + server.log)
        XCTAssertTrue(r.output.hasPrefix(secret), r.output)
        XCTAssertTrue(r.output.contains(network.address(2) + "/"), r.output)

        // From host 1 to host 2, as one daemon starting another; status comes back.
        let fromHost1 = try network.run(1, ssh + [network.address(2), "exit", "3"], timeout: 20)
        XCTAssertEqual(fromHost1.status, 3, fromHost1.output + "\nsshd log:\n" + server.log)

        // A second server sharing the directory takes the same command line.
        let second = try TestSSHServer(network: network, host: 3, directory: directory + "/ssh")
        XCTAssertEqual(second.sshCommand, server.sshCommand)
        let third = try network.run(0, ssh + [network.address(3), ip, "-o", "-4", "addr", "show", "dev", "eth0"], timeout: 20)
        XCTAssertTrue(third.output.contains(network.address(3) + "/"), third.output + "\nsshd log:\n" + second.log)

        server.stop()
        let after = try network.run(0, ssh + [network.address(2), "true"], timeout: 10)
        XCTAssertEqual(after.status, 255, "a stopped sshd still accepts: " + after.output)
    }
}
