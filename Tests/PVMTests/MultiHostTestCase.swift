import Foundation
import PVM
import PVMTestSupport
import XCTest

/// What every test across hosts sets up: a private machine whose master is
/// this test process's own host (host 0 of the TestNetwork), `hostCount`
/// test hosts made of network namespaces, a remote shell into them, and a
/// pvmd per test host in a runtime directory of its own. The teardown halts
/// the machine and checks that every host's daemon stopped and that the
/// namespaces are gone. Skipped where namespaces cannot be made.
class MultiHostTestCase: XCTestCase {
    var fixture: VirtualMachineFixture!
    var network: TestNetwork!
    var vm: VirtualMachine!
    var directory: String { fixture.base }
    /// The silence after which a host is declared dead, in these tests.
    let timeoutMilliseconds = 1500
    /// How many test hosts a subclass's tests use.
    class var hostCount: Int { 3 }

    override func setUpWithError() throws {
        if let reason = TestNetwork.available() { throw XCTSkip(reason) }
        fixture = VirtualMachineFixture()
        network = try TestNetwork(hosts: Self.hostCount)
        setenv("PVM_HOST_TIMEOUT_MS", String(timeoutMilliseconds), 1)
        setenv("PVM_RSH", try network.rshScript(directory: directory), 1)
    }

    override func tearDown() {
        if let vm { try? vm.exit() }
        let masterHalted = fixture?.halt() ?? true
        if let network {
            // A halt of the master stops every host's daemon.
            let stopped = VirtualMachineFixture.eventually(timeout: 5) {
                (1...network.hostCount).allSatisfy { self.daemonPID($0) == nil }
            }
            XCTAssertTrue(stopped, "a host's daemon outlived the halt of the machine")
            XCTAssertEqual(network.teardown(), [])
        }
        XCTAssertTrue(masterHalted, "the master did not halt cleanly")
        unsetenv("PVM_HOST_TIMEOUT_MS")
        unsetenv("PVM_RSH")
    }

    /// The runtime base of test host `k` (its PVM_TMP).
    func base(_ k: Int) -> String { directory + "/h\(k)" }

    /// A pvmd for host `k`: its own runtime directory, the build folder as
    /// its spawn path (the hostfile's dx= names it).
    func daemonScript(_ k: Int) throws -> String {
        let path = directory + "/pvmd-h\(k)"
        let script = """
            #!/bin/sh
            mkdir -p \(base(k))
            export PVM_TMP=\(base(k)) PVM_PATH=\(TestProducts.directory.path)
            exec \(TestProducts.executable("pvmd").path) "$@"

            """
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
        return path
    }

    func spec(_ k: Int, _ extra: String = "") throws -> String {
        "\(network.address(k)) dx=\(try daemonScript(k))" + (extra.isEmpty ? "" : " " + extra)
    }

    /// The pid of test host `k`'s daemon, if it runs.
    func daemonPID(_ k: Int) -> Int32? {
        guard let text = try? String(contentsOfFile: base(k) + "/pvm.\(getuid())/pvmd.pid", encoding: .utf8),
              let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)),
              VirtualMachineFixture.alive(pid) else { return nil }
        return pid
    }

    /// The daemon of test host `k` once it has written its pid file (it does
    /// so once detached, just after joining).
    func waitForDaemonPID(_ k: Int) throws -> Int32 {
        var pid: Int32? = nil
        _ = VirtualMachineFixture.eventually(timeout: 5) { pid = self.daemonPID(k); return pid != nil }
        return try XCTUnwrap(pid, "test host \(k) has no daemon running")
    }

    func hostID(_ number: Int32) -> Int32 { number << 18 }

    /// Adds test hosts `hosts` to the machine (enrolling this process first).
    @discardableResult
    func addHosts(_ hosts: [Int]) throws -> [HostChange] {
        if vm == nil { vm = try VirtualMachine.shared() }
        let results = try vm.addHosts(try hosts.map { try spec($0) })
        for (k, r) in zip(hosts, results) {
            XCTAssertGreaterThan(r.status, 0, "adding test host \(k) failed: \(PVMError.text(for: r.status)): \(r.message)")
        }
        return results
    }
}
