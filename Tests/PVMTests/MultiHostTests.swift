import Foundation
import PVM
import PVMSystem
import PVMTransport
import PVMTestSupport
import XCTest

/// The virtual machine across hosts, on test hosts made of network
/// namespaces (TestNetwork): host 0 is this process's own namespace, where
/// the master daemon runs (this test process is a task on it); hosts 1...N
/// are namespaces reached over a veth bridge, each with its own pvmd in its
/// own runtime directory, started by the master through a remote shell.
final class MultiHostTests: MultiHostTestCase {
    /// A pattern to cut messages from: message i is `pattern[i ..< i + n]`
    /// (made once: building megabytes element by element is slow in debug).
    static let pattern: [UInt8] = {
        var p = [UInt8](repeating: 0, count: (4 << 20) + 64)
        p.withUnsafeMutableBufferPointer { b in for j in b.indices { b[j] = UInt8(truncatingIfNeeded: j &* 7 &+ j >> 11) } }
        return p
    }()

    /// Sends numbered messages of `sizes` to an echoing task and checks that
    /// each comes back, in order, byte for byte.
    func echo(_ task: TaskID, sizes: [Int], tag: Int32 = 10) throws {
        for (i, n) in sizes.enumerated() {
            let m = Message(encoding: .raw)
            try m.pack(Int32(i))
            try Self.pattern.withUnsafeBufferPointer { p in try m.pack(p.baseAddress! + i, count: n) }
            try vm.send(m, to: task, tag: MessageTag(tag))
        }
        for (i, n) in sizes.enumerated() {
            guard let r = try vm.receive(from: task, tag: MessageTag(tag + 1), timeout: .seconds(20)) else {
                return XCTFail("no echo of message \(i) (\(n) bytes) from \(task)")
            }
            let seq: Int32 = try r.unpack()
            XCTAssertEqual(seq, Int32(i), "echoes from \(task) out of order")
            let bytes = try r.unpack(UInt8.self, count: n)
            let same = bytes.withUnsafeBytes { b in Self.pattern.withUnsafeBytes { p in n == 0 || memcmp(b.baseAddress!, p.baseAddress! + i, n) == 0 } }
            XCTAssertTrue(same, "message \(i) of \(n) bytes changed on its way to \(task) and back")
        }
    }

    func receiveNotify(tag: MessageTag, timeout: Duration) throws -> [Int32]? {
        guard let m = try vm.receive(from: TaskID(Int32(bitPattern: 0x8000_0000)), tag: tag, timeout: timeout) else { return nil }
        return try m.unpack(Int32.self, count: m.byteCount / 4)
    }

    // MARK: Tests

    func testMultiHostAddConfigSpawnAndMessagesBothWays() throws {
        vm = try VirtualMachine.shared()
        try vm.notify(NotifyKind.hostAdd.rawValue, tag: 77, count: -1, tids: [])
        let results = try addHosts([1, 2, 3])
        XCTAssertEqual(results.map(\.status), [hostID(2), hostID(3), hostID(4)])

        // Every host is in the table, under the name it was added with.
        let hosts = try vm.config()
        XCTAssertEqual(hosts.map(\.tid), [hostID(1), hostID(2), hostID(3), hostID(4)])
        XCTAssertEqual(Array(hosts.dropFirst().map(\.name)), [network.address(1), network.address(2), network.address(3)])
        XCTAssertTrue(hosts.allSatisfy { $0.signature == hosts[0].signature && $0.architecture == "LINUX64" })
        // Each host's fabric (one machine here: the same on every host), and
        // one log line per joining host saying which transport and why.
        let fabric = HostFabric(VerbsLibrary.shared.availability)
        XCTAssertEqual(hosts.map(\.fabric), Array(repeating: fabric.text, count: 4))
        if !fabric.hasVerbs {
            for k in 2...4 {
                XCTAssertTrue(fixture.log.contains("host \(k) (\(network.address(k - 1))): task data over TCP: this host has no usable RDMA port"), fixture.log)
            }
        }
        for k in 1...3 { XCTAssertEqual(try vm.hostStatus(network.address(k)), 0) }
        XCTAssertEqual(try vm.hostStatus("no-such-host"), PVMError.Code.noHost.rawValue)
        // PvmHostAdd: one notify per new host, with the count and its id.
        var announced: [Int32] = []
        for _ in 0..<3 {
            guard let body = try receiveNotify(tag: 77, timeout: .seconds(5)) else { break }
            XCTAssertEqual(body.first, Int32(body.count - 1))
            announced += body.dropFirst()
        }
        XCTAssertEqual(announced.sorted(), [hostID(2), hostID(3), hostID(4)])
        // pvm_hostsync of another host: its clock (one clock here, so the
        // difference is the round trip's skew, well under a second).
        let (clock, delta) = try vm.hostClock(hostID(3))
        XCTAssertGreaterThan(clock.tv_sec, 1_000_000_000)
        XCTAssertTrue((0..<1_000_000).contains(delta.tv_usec))
        XCTAssertTrue(delta.tv_sec == 0 || (delta.tv_sec == -1 && delta.tv_usec > 900_000), "delta \(delta)")
        XCTAssertThrowsError(try vm.hostClock(hostID(9)))
        // Adding a host twice is PvmDupHost.
        XCTAssertEqual(try vm.addHosts([try spec(1)]).first?.status, PVMError.Code.dupHost.rawValue)

        // A task on each remote host (PvmTaskHost), and one placed by PVM.
        var workers: [TaskID] = []
        for k in 1...3 {
            let t = try XCTUnwrap(try vm.spawn("pvm-test-task", arguments: ["echo"], flags: .host, where: network.address(k)).first)
            XCTAssertEqual(t.hostPart, hostID(Int32(k + 1)), "spawned on the wrong host")
            workers.append(t)
        }
        // tasks() sees every host's tasks; tasks(host) one host's.
        let all = try vm.tasks()
        for w in workers { XCTAssertTrue(all.contains { $0.tid == w && $0.parent == vm.myTid.rawValue }, "\(w) missing from pvm_tasks") }
        XCTAssertEqual(try vm.tasks(where: hostID(3)).map(\.tid), [workers[1]])
        XCTAssertEqual(try vm.taskStatus(workers[2].rawValue), 0)
        XCTAssertEqual(try vm.taskStatus(hostID(3) | 0x3fff), PVMError.Code.noTask.rawValue)

        // Messages both ways, every size class, in order, bytes intact: the
        // first through the daemons, the rest over a direct TCP link.
        let sizes = [0, 1, 8, 1000, 70_000, 300_000, 1 << 20, 4 << 20]
        for w in workers {
            XCTAssertEqual(vm.path(to: w), .daemons)
            try echo(w, sizes: sizes)
            XCTAssertEqual(vm.path(to: w), .tcp, "no direct TCP link to \(w)")
        }
        // The notify of each remote task's exit comes back across hosts.
        try vm.notifyOnExit(of: workers, tag: 88)
        for w in workers {
            let m = Message()
            try vm.send(m, to: w, tag: 999)
        }
        var exited: [Int32] = []
        for _ in workers {
            guard let body = try receiveNotify(tag: 88, timeout: .seconds(10)) else { break }
            exited += body
        }
        XCTAssertEqual(exited.sorted(), workers.map(\.rawValue).sorted())
        // Sending to them now is not an error and must not end this process
        // (their end of the TCP link is closed: EPIPE, never SIGPIPE).
        for w in workers {
            for _ in 0..<3 { try vm.send(Message(), to: w, tag: 5); usleep(2000) }
        }

        // Default placement spreads copies over the hosts, as PVM does.
        let spread = try vm.spawn("pvm-test-task", arguments: ["hello"], count: 8)
        XCTAssertEqual(Set(spread.map(\.hostPart)).count, 4, "8 copies over 4 hosts: \(spread)")
        // Each copy, whichever host it runs on, has all eight as siblings.
        for _ in spread {
            let m = try XCTUnwrap(try vm.receive(from: .any, tag: 1, timeout: .seconds(10)))
            let me: Int32 = try m.unpack()
            _ = try m.unpack() as Int32
            let n: Int = try m.unpack()
            let siblings = try m.unpack(Int32.self, count: n)
            XCTAssertEqual(siblings.sorted(), spread.map(\.rawValue).sorted(), "the siblings of \(TaskID(me))")
        }
    }

    func testMultiHostDaemonKilledIsDetectedWithinTheTimeout() throws {
        try addHosts([1, 2])
        let sleeper = try XCTUnwrap(try vm.spawn("pvm-test-task", arguments: ["sleep", "60"], flags: .host, where: network.address(1)).first)
        XCTAssertNotNil(try vm.receive(from: sleeper, tag: 1, timeout: .seconds(10)))
        try vm.notify(NotifyKind.hostDelete.rawValue, tag: 55, count: 1, tids: [hostID(2)])
        try vm.notifyOnExit(of: [sleeper], tag: 56)
        let pid = try waitForDaemonPID(1)

        let start = Date()
        kill(pid, SIGKILL)
        let deleted = try receiveNotify(tag: 55, timeout: .seconds(10))
        let detection = Date().timeIntervalSince(start)
        XCTAssertEqual(deleted, [hostID(2)])
        print("MultiHost: a killed host's daemon was declared dead after \(Int(detection * 1000)) ms (timeout \(timeoutMilliseconds) ms)")
        XCTAssertLessThan(detection, Double(timeoutMilliseconds) / 1000 + 1.0, "host death detected late")
        // Its task is reported exited to whoever asked.
        XCTAssertEqual(try receiveNotify(tag: 56, timeout: .seconds(2)), [sleeper.rawValue])
        // The rest of the machine works on.
        XCTAssertEqual(try vm.config().map(\.tid), [hostID(1), hostID(3)])
        let other = try XCTUnwrap(try vm.spawn("pvm-test-task", arguments: ["echo"], flags: .host, where: network.address(2)).first)
        try echo(other, sizes: [8, 100_000])
        try vm.send(Message(), to: other, tag: 999)
        // A message to the dead host's task is dropped, not an error (as PVM).
        try vm.send(Message(), to: sleeper, tag: 3)
        // The killed daemon's tasks lose their daemon: the sleeper must not linger.
        _ = try? network.run(1, ["pkill", "-f", "pvm-test-task sleep"])
    }

    func testMultiHostCutLinkIsDetectedAndTheCutOffHostStops() throws {
        try addHosts([1, 2])
        // A task of the host to be cut off, whose process must stop with it.
        let sleeper = try XCTUnwrap(try vm.spawn("pvm-test-task", arguments: ["sleep", "60"], flags: .host, where: network.address(1)).first)
        XCTAssertNotNil(try vm.receive(from: sleeper, tag: 1, timeout: .seconds(10)))
        let sleeperPID = try XCTUnwrap(try vm.tasks(of: sleeper).first?.pid)
        try vm.notify(NotifyKind.hostDelete.rawValue, tag: 55, count: 2, tids: [hostID(2), hostID(3)])
        let cutPID = try waitForDaemonPID(1)
        let start = Date()
        try network.cutLink(1)
        let deleted = try receiveNotify(tag: 55, timeout: .seconds(10))
        let detection = Date().timeIntervalSince(start)
        XCTAssertEqual(deleted, [hostID(2)])
        print("MultiHost: a cut link was declared dead after \(Int(detection * 1000)) ms (timeout \(timeoutMilliseconds) ms)")
        // Silence is counted from the last heartbeat heard, up to a third of
        // the timeout before the cut.
        XCTAssertGreaterThan(detection, Double(timeoutMilliseconds) / 1000 * 0.5, "declared dead before the timeout")
        XCTAssertLessThan(detection, Double(timeoutMilliseconds) / 1000 + 0.3, "a cut link detected late")
        // The host that lost the master stops rather than going on alone.
        XCTAssertTrue(VirtualMachineFixture.eventually(timeout: Double(timeoutMilliseconds) / 1000 + 3) { !VirtualMachineFixture.alive(cutPID) },
                      "the cut-off host's daemon did not stop")
        XCTAssertTrue(VirtualMachineFixture.eventually(timeout: 5) { !VirtualMachineFixture.alive(sleeperPID) },
                      "the cut-off host's task runs on")
        // The other host is unaffected.
        let t = try XCTUnwrap(try vm.spawn("pvm-test-task", arguments: ["echo"], flags: .host, where: network.address(2)).first)
        try echo(t, sizes: [8, 5000])
        try vm.send(Message(), to: t, tag: 999)
        try network.restoreLink(1)
    }

    func testMultiHostDeleteStopsTheHostsDaemonAndItsTasks() throws {
        try addHosts([1])
        let sleeper = try XCTUnwrap(try vm.spawn("pvm-test-task", arguments: ["sleep", "60"], flags: .host, where: network.address(1)).first)
        XCTAssertNotNil(try vm.receive(from: sleeper, tag: 1, timeout: .seconds(10)))
        try vm.notify(NotifyKind.hostDelete.rawValue, tag: 55, count: 1, tids: [hostID(2)])
        let pid = try waitForDaemonPID(1)
        XCTAssertEqual(try vm.deleteHosts([network.address(1), "no-such-host"]), [0, PVMError.Code.noHost.rawValue])
        XCTAssertEqual(try receiveNotify(tag: 55, timeout: .seconds(5)), [hostID(2)])
        XCTAssertEqual(try vm.config().count, 1)
        XCTAssertTrue(VirtualMachineFixture.eventually(timeout: 5) { !VirtualMachineFixture.alive(pid) }, "the deleted host's daemon runs on")
        XCTAssertTrue(VirtualMachineFixture.eventually(timeout: 5) {
            (try? self.network.run(1, ["pgrep", "-f", "pvm-test-task sleep"]).status) == 1
        }, "the deleted host's task runs on")
        // And it can be added again.
        try addHosts([1])
    }

    /// The master's listener for other hosts' daemons keeps to
    /// `PVM_LISTEN` and `PVM_PORT_RANGE` (for firewalls), skipping a port
    /// that is taken, and the hosts join through it.
    func testMultiHostMasterListensWithinPVMListenAndPortRange() throws {
        let taken = try TCPSocket.listen(address: network.address(0))
        defer { close(taken.fd) }
        let low = taken.endpoint.port
        setenv("PVM_LISTEN", network.address(0), 1)
        setenv("PVM_PORT_RANGE", "\(low)-\(low + 5)", 1)
        defer { unsetenv("PVM_LISTEN"); unsetenv("PVM_PORT_RANGE") }
        try addHosts([1, 2])
        XCTAssertEqual(try vm.config().count, 3)
        let log = fixture.log
        let listening = try XCTUnwrap(log.range(of: #"listening for daemons of other hosts at [0-9.]+:[0-9]+"#, options: .regularExpression), log)
        let endpoint = String(log[listening].split(separator: " ").last!)
        let port = try XCTUnwrap(Int(endpoint.split(separator: ":").last!))
        XCTAssertEqual(endpoint.split(separator: ":").first.map(String.init), network.address(0))
        XCTAssertTrue((low + 1)...(low + 5) ~= port, "listening on \(port), outside the free part of \(low)-\(low + 5)")
    }

    func testMultiHostRefusesAWrongSecretGarbageAndUnaskedJoins() throws {
        try addHosts([1])
        let masterLog = fixture.log
        let listening = try XCTUnwrap(masterLog.range(of: #"listening for daemons of other hosts at [0-9.]+:[0-9]+"#, options: .regularExpression))
        let port = try XCTUnwrap(Int(masterLog[listening].split(separator: ":").last!))
        let master = "\(network.address(0)):\(port)"

        // A daemon that does not know the secret is refused, and says why.
        let wrong = String(repeating: "ab", count: 32) + "\n"
        let refused = try network.run(2, [try daemonScript(2), "--slave", "--master", master, "--host-number", "3", "-n", "intruder"],
                                      input: Data(wrong.utf8), timeout: 20)
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.output.contains("refused"), refused.output)
        // One that knows it but was not asked for is refused too.
        let secret = try String(contentsOfFile: fixture.runtimeDirectory + "/secret", encoding: .utf8)
        let unasked = try network.run(2, [try daemonScript(2), "--slave", "--master", master, "--host-number", "3", "-n", "unasked"],
                                      input: Data(secret.utf8), timeout: 20)
        XCTAssertEqual(unasked.status, 1)
        XCTAssertTrue(unasked.output.contains("no host 3 is being added"), unasked.output)

        // Garbage on the master's port: closed, logged, nothing else happens.
        let garbage = try network.run(3, ["python3", "-c", """
            import socket,sys
            s=socket.create_connection(("\(network.address(0))",\(port)),5)
            s.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n"+b"x"*500)
            s.settimeout(5)
            try:
                d=s.recv(100)
            except Exception as e:
                d=b""
            print("closed" if d==b"" else "answered")
            """], timeout: 20)
        XCTAssertEqual(garbage.output.trimmingCharacters(in: .whitespacesAndNewlines), "closed", garbage.output)
        XCTAssertTrue(VirtualMachineFixture.eventually(timeout: 5) {
            self.fixture.log.components(separatedBy: "refused a daemon connection").count >= 4
        }, fixture.log)
        // The machine is as it was.
        XCTAssertEqual(try vm.config().map(\.tid), [hostID(1), hostID(2)])
        let t = try XCTUnwrap(try vm.spawn("pvm-test-task", arguments: ["echo"], flags: .host, where: network.address(1)).first)
        try echo(t, sizes: [8])
        try vm.send(Message(), to: t, tag: 999)
    }

    func testMultiHostAddReportsWhyAHostCannotStart() throws {
        vm = try VirtualMachine.shared()
        let results = try vm.addHosts(["198.18.255.254 dx=/nonexistent/pvmd", "\(network.address(1)) dx=/nonexistent/pvmd", "bad;host",
                                       "\(network.address(2)) so=pw"])
        XCTAssertEqual(results.map(\.status), [PVMError.Code.cantStart.rawValue, PVMError.Code.cantStart.rawValue, PVMError.Code.badParam.rawValue,
                                                PVMError.Code.cantStart.rawValue])
        XCTAssertTrue(results[3].message.contains("so=pw"), results[3].message)
        XCTAssertTrue(results[0].message.contains("198.18.255.254"), results[0].message)
        XCTAssertTrue(results[1].message.contains("/nonexistent/pvmd"), results[1].message)
        XCTAssertEqual(try vm.config().count, 1)
    }

    func testMultiHostStartsRemoteDaemonsThroughSSH() throws {
        if let reason = TestSSHServer.available() { throw XCTSkip(reason) }
        let ssh = try TestSSHServer(network: network, host: 1, directory: directory + "/ssh")
        setenv("PVM_RSH", ssh.sshCommand, 1)
        vm = try VirtualMachine.shared()
        let results = try vm.addHosts([try spec(1)])
        XCTAssertEqual(results.first?.status, hostID(2), results.first?.message ?? "")
        let t = try XCTUnwrap(try vm.spawn("pvm-test-task", arguments: ["echo"], flags: .host, where: network.address(1)).first)
        try echo(t, sizes: [8, 70_000])
        try vm.send(Message(), to: t, tag: 999)
        // The secret crossed on the shell's standard input, not the command line.
        let secret = try String(contentsOfFile: fixture.runtimeDirectory + "/secret", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertFalse(fixture.log.contains(secret))
        XCTAssertFalse(ssh.log.contains(secret))
        XCTAssertEqual(try String(contentsOfFile: base(1) + "/pvm.\(getuid())/secret", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines), secret)
        ssh.stop()
    }

    /// The person at test host `k` (so=ms): waits for the command the
    /// master logs for starting that host's daemon by hand, and runs it
    /// there with `secret()` on its standard input (in a thread of its own).
    func startByHandWhenAsked(_ k: Int, secret: @escaping @Sendable () -> String) {
        let address = network.address(k)
        let log = fixture.logPath
        let net = network!
        Thread {
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline {
                let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                if let start = text.range(of: "start the daemon of \(address) by hand: run `"),
                   let end = text[start.upperBound...].firstIndex(of: "`") {
                    let command = String(text[start.upperBound..<end])
                    _ = try? net.run(k, ["/bin/sh", "-c", command], input: Data(secret().utf8), timeout: 20)
                    return
                }
                usleep(20_000)
            }
        }.start()
    }

    func testMultiHostManualStartPrintsTheCommandAndWaitsForIt() throws {
        vm = try VirtualMachine.shared()
        let address = network.address(1)
        let secretPath = fixture.runtimeDirectory + "/secret"
        startByHandWhenAsked(1) { (try? String(contentsOfFile: secretPath, encoding: .utf8)) ?? "" }
        let results = try vm.addHosts([try spec(1, "so=ms")])
        XCTAssertEqual(results.first?.status, hostID(2), results.first?.message ?? "")
        let t = try XCTUnwrap(try vm.spawn("pvm-test-task", arguments: ["echo"], flags: .host, where: address).first)
        try echo(t, sizes: [8])
        try vm.send(Message(), to: t, tag: 999)
    }

    /// A host started by hand (so=ms) whose daemon is given another
    /// secret: its join is refused, and the add fails at once saying so
    /// (it waited out its 5-minute timeout before), while the machine goes on.
    func testMultiHostRefusedJoinFailsItsAddWithTheReason() throws {
        vm = try VirtualMachine.shared()
        startByHandWhenAsked(1) { String(repeating: "cd", count: 32) + "\n" }
        let started = Date()
        let results = try vm.addHosts([try spec(1, "so=ms")])
        XCTAssertLessThan(Date().timeIntervalSince(started), 30, "the add waited for its timeout")
        XCTAssertEqual(results.first?.status, PVMError.Code.cantStart.rawValue, results.first?.message ?? "")
        XCTAssertTrue(results.first?.message.contains("refused") == true && results.first?.message.contains("secret") == true,
                      results.first?.message ?? "")
        XCTAssertEqual(try vm.config().count, 1)
        // The right secret still gets in afterwards.
        try addHosts([1])
        XCTAssertEqual(try vm.config().count, 2)
    }

    func testMultiHostStartsEveryNodeOfASlurmAllocation() throws {
        // A stand-in for srun that runs the step on the named node (a test host).
        var cases = ""
        for k in 1...3 {
            cases += "  \(network.address(k))) mkdir -p \(base(k)); exec \(TestNetwork.ipCommand!) netns exec \(network.namespace(k)!) env PVM_TMP=\(base(k)) PVM_PATH=\(TestProducts.directory.path) \"$@\" ;;\n"
        }
        let srun = """
            #!/bin/sh
            # srun --nodes=1 --ntasks=1 --overlap --quiet -w NODE COMMAND...
            while [ $# -gt 0 ]; do case "$1" in -w) node=$2; shift 2; break ;; *) shift ;; esac; done
            case "$node" in
            \(cases)  *) echo "srun: error: no node $node in this allocation" >&2; exit 1 ;;
            esac

            """
        try FileManager.default.createDirectory(atPath: directory + "/slurm", withIntermediateDirectories: true)
        try srun.write(toFile: directory + "/slurm/srun", atomically: true, encoding: .utf8)
        chmod(directory + "/slurm/srun", 0o755)
        // The master is started on the allocation's first node, as a batch script would.
        let started = try network.run(0, ["/usr/bin/env", "-u", "PVM_RSH",
                                          "PATH=\(directory)/slurm:\(ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")",
                                          "SLURM_JOB_NODELIST=\(network.subnet).[1-4]", "SLURMD_NODENAME=\(network.address(0))",
                                          TestProducts.executable("pvmd").path, "--slurm", "--background"])
        XCTAssertEqual(started.status, 0, started.output)
        vm = try VirtualMachine.shared()
        XCTAssertTrue(VirtualMachineFixture.eventually(timeout: 20) { ((try? self.vm.config().count) ?? 0) == 4 },
                      "the allocation's nodes did not all join: \(fixture.log)")
        let hosts = try vm.config()
        XCTAssertEqual(hosts.map(\.name), (0...3).map { network.address($0) })
        let t = try XCTUnwrap(try vm.spawn("pvm-test-task", arguments: ["echo"], flags: .host, where: network.address(3)).first)
        try echo(t, sizes: [8, 2000])
        try vm.send(Message(), to: t, tag: 999)
    }

    /// `pvmd hostfile` adds the file's hosts itself, with PVM's per-host
    /// options: `ip=` (the address to reach a host whose name does not
    /// resolve), `lo=` (the login the remote shell is given: `-l`), `wd=`
    /// (where that host's tasks start) and `sp=`.
    func testMultiHostPvmdHostfileWithIpLoginAndWorkingDirectory() throws {
        // The remote shell, logging how it is called.
        let calls = directory + "/rsh-calls"
        let rsh = directory + "/logging-rsh"
        try """
            #!/bin/sh
            echo "$*" >> \(calls)
            exec \(try network.rshScript(directory: directory)) "$@"

            """.write(toFile: rsh, atomically: true, encoding: .utf8)
        chmod(rsh, 0o755)
        setenv("PVM_RSH", rsh, 1)
        let wd = directory + "/work-of-node-b"
        try FileManager.default.createDirectory(atPath: wd, withIntermediateDirectories: true)
        let hostfile = directory + "/hostfile"
        try """
            node-b.invalid ip=\(network.address(2)) lo=pvmtester wd=\(wd) sp=4321 dx=\(try daemonScript(2))

            """.write(toFile: hostfile, atomically: true, encoding: .utf8)
        let started = try network.run(0, [TestProducts.executable("pvmd").path, "--background", "-n", "master", hostfile])
        XCTAssertEqual(started.status, 0, started.output)
        vm = try VirtualMachine.shared()
        XCTAssertTrue(VirtualMachineFixture.eventually(timeout: 20) { ((try? self.vm.config().count) ?? 0) == 2 },
                      "the hostfile's host did not join: \(fixture.log)")
        let node = try XCTUnwrap(try vm.config().last)
        XCTAssertEqual(node.name, "node-b.invalid")
        XCTAssertEqual(node.speed, 4321)
        let call = (try? String(contentsOfFile: calls, encoding: .utf8)) ?? ""
        XCTAssertTrue(call.hasPrefix("-l pvmtester \(network.address(2)) "), "remote shell called as: \(call)")
        let kid = try XCTUnwrap(try vm.spawn("pvm-test-task", arguments: ["cwd"], flags: .host, where: "node-b.invalid").first)
        XCTAssertEqual(try vm.receive(from: kid, tag: 1).unpackString(), wd, "the task did not start in the host's wd=")
    }

    func testMultiHostConsoleHostfileAddConfAndDelete() throws {
        let hostfile = directory + "/hostfile"
        try """
            # two of the test hosts; the third is only recorded
            * sp=1234
            \(network.address(1)) dx=\(try daemonScript(1))
            \(network.address(2)) dx=\(try daemonScript(2)) sp=500
            &\(network.address(3)) dx=\(try daemonScript(3)) sp=777

            """.write(toFile: hostfile, atomically: true, encoding: .utf8)
        // Added by name alone, hosts 3 (a `&` line) and 1 (again, after its
        // delete) start with the options the hostfile recorded for them.
        let script = "conf\nadd \(network.address(3))\nconf\ndelete \(network.address(1))\nconf\nadd \(network.address(1))\nquit\n"
        let run = try network.run(0, [TestProducts.executable("pvm").path, "-n", "master", hostfile], input: Data(script.utf8), timeout: 60)
        XCTAssertEqual(run.status, 0, run.output)
        let out = run.output
        XCTAssertTrue(out.contains("3 hosts, 1 data format"), out)
        XCTAssertTrue(out.contains(Self.right(network.address(1), 24) + "    80000  LINUX64    1234 0x00408c41"), out)
        XCTAssertTrue(out.contains(Self.right(network.address(2), 24) + "    c0000  LINUX64     500 0x00408c41"), out)
        XCTAssertTrue(out.contains("1 successful\n                    HOST     DTID\n" + Self.right(network.address(3), 24) + "   100000"), out)
        XCTAssertTrue(out.contains("4 hosts, 1 data format"), out)
        XCTAssertTrue(out.contains("1 successful\n                    HOST  STATUS\n" + Self.right(network.address(1), 24) + "   deleted"), out)
        XCTAssertTrue(out.contains("pvmd still running."), out)
        vm = try VirtualMachine.shared()
        let hosts = try vm.config()
        XCTAssertEqual(hosts.map(\.name), ["master", network.address(2), network.address(3), network.address(1)])
        XCTAssertEqual(hosts.map(\.speed), [1000, 500, 777, 1234], "the recorded sp= (and the `*` default) of hosts added by name")
    }

    func testMultiHostBothWaysAtOnceOverTCP() throws {
        try addHosts([1])
        let peer = try XCTUnwrap(try vm.spawn("pvm-test-task", arguments: ["exchange"], flags: .host, where: network.address(1)).first)
        let sizes = [8, 1000, 70_000, 300_000]
        // Our 200 go out while its 200 come in: large sends on both sides at
        // once, and both ends setting up their links at the same moment.
        for seq in 0..<200 {
            let m = Message(encoding: .raw)
            try m.pack(Int32(seq))
            try m.pack([UInt8](repeating: UInt8(truncatingIfNeeded: seq), count: sizes[seq % sizes.count]))
            try vm.send(m, to: peer, tag: 9)
        }
        // Asked now: the peer cannot leave before this task has read most of
        // its 18 MB, and once it has left, its link is closed (no path).
        XCTAssertEqual(vm.path(to: peer), .tcp)
        for seq in 0..<200 {
            guard let r = try vm.receive(from: peer, tag: 8, timeout: .seconds(30)) else { return XCTFail("message \(seq) did not come") }
            let got: Int32 = try r.unpack()
            XCTAssertEqual(got, Int32(seq), "out of order")
            let bytes = try r.unpack(UInt8.self, count: r.byteCount - 4)
            XCTAssertEqual(bytes.count, sizes[seq % sizes.count])
            XCTAssertFalse(bytes.contains { $0 != UInt8(truncatingIfNeeded: seq) }, "message \(seq) changed")
        }
        let verdict = try XCTUnwrap(try vm.receive(from: peer, tag: 10, timeout: .seconds(30)))
        XCTAssertEqual(try verdict.unpack() as Int32, 0, "the remote task got bad messages")
    }

    /// InPlace messages of many pieces to a task of another host: written
    /// over the TCP link with writev straight from the program's memory.
    func testMultiHostInPlaceMessagesOverTCPStraightFromTheProgramsMemory() throws {
        _ = try addHosts([1])
        let kid = try XCTUnwrap(try vm.spawn("pvm-test-task", arguments: ["echo"], flags: .host, where: network.address(1)).first)
        try TaskLibraryTests.checkInPlaceEchoes(vm, kid)
        XCTAssertEqual(vm.path(to: kid), .tcp)
        _ = try vm.initSend(encoding: 0)
        try vm.send(to: kid.rawValue, tag: 999)
    }

    func testMultiHostPvmbenchMeasuresBetweenTwoHosts() throws {
        try addHosts([1])
        let me = vm.hostName
        let run = try network.run(0, [TestProducts.executable("pvmbench").path, "pingpong", "--hosts", "\(me),\(network.address(1))",
                                      "--sizes", "8,1M", "-i", "20", "-x", "2", "-c", "--format", "json"], timeout: 60)
        XCTAssertEqual(run.status, 0, run.output)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any], run.output)
        XCTAssertEqual(object["transport"] as? String, "tcp", "the path between two hosts")
        let results = try XCTUnwrap(object["results"] as? [[String: Any]])
        XCTAssertEqual(results.map { $0["bytes"] as? Int }, [8, 1 << 20])
        XCTAssertTrue(results.allSatisfy { $0["validated"] as? Bool == true })
        // Both hosts' ends streaming windows at each other at once (bibw),
        // each checking what it receives.
        let both = try network.run(0, [TestProducts.executable("pvmbench").path, "bibw", "--hosts", "\(me),\(network.address(1))", "--send-mode", "psend",
                                       "--sizes", "8,1M", "-i", "3", "-x", "1", "-W", "8", "-c", "--format", "json"], timeout: 60)
        XCTAssertEqual(both.status, 0, both.output)
        let bibw = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(both.output.utf8)) as? [String: Any], both.output)
        XCTAssertEqual(bibw["transport"] as? String, "tcp")
        let rows = try XCTUnwrap(bibw["results"] as? [[String: Any]])
        XCTAssertEqual(rows.map { $0["iterations"] as? Int }, [48, 48], "3 windows of 8, both directions")
        XCTAssertTrue(rows.allSatisfy { $0["validated"] as? Bool == true })
        // Two pairs streaming from this host to the other (msgrate): each
        // sender here, its receiver there, over TCP, every message checked.
        let rate = try network.run(0, [TestProducts.executable("pvmbench").path, "msgrate", "--hosts", "\(me),\(network.address(1))", "--pairs", "2",
                                       "--sizes", "8,64K", "-i", "300", "-x", "10", "-c", "--format", "json"], timeout: 60)
        XCTAssertEqual(rate.status, 0, rate.output)
        let rateRun = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(rate.output.utf8)) as? [String: Any], rate.output)
        XCTAssertEqual(rateRun["transport"] as? String, "tcp", "each pair's path runs between the two hosts")
        let rateRows = try XCTUnwrap(rateRun["results"] as? [[String: Any]])
        XCTAssertEqual(rateRows.map { $0["iterations"] as? Int }, [600, 600], "both pairs' messages")
        XCTAssertTrue(rateRows.allSatisfy { $0["validated"] as? Bool == true && $0["path"] as? String == "tcp" })
        // A group across the two hosts (the root here, two members there):
        // barriers at the group server, a checked broadcast over TCP.
        for (operation, extra, path) in [("barrier", [String](), "daemon"), ("bcast", ["--sizes", "8,64K", "-c"], "tcp")] {
            let group = try network.run(0, [TestProducts.executable("pvmbench").path, "collective", operation, "--hosts", "\(me),\(network.address(1))",
                                            "--tasks", "3", "-i", "20", "-x", "2", "--format", "json"] + extra, timeout: 60)
            XCTAssertEqual(group.status, 0, group.output)
            let groupRun = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(group.output.utf8)) as? [String: Any], group.output)
            XCTAssertEqual(groupRun["transport"] as? String, path, operation)
            let groupRows = try XCTUnwrap(groupRun["results"] as? [[String: Any]])
            XCTAssertTrue(groupRows.allSatisfy { $0["iterations"] as? Int == 20 && $0["tasks"] as? Int == 3 }, group.output)
            if operation == "bcast" { XCTAssertTrue(groupRows.allSatisfy { $0["validated"] as? Bool == true }, group.output) }
        }
        // A host that is not in the machine is refused with the list.
        let wrong = try network.run(0, [TestProducts.executable("pvmbench").path, "pingpong", "--hosts", "\(me),nowhere", "--sizes", "8"], timeout: 30)
        XCTAssertNotEqual(wrong.status, 0)
        XCTAssertTrue(wrong.output.contains("nowhere is not a host of the virtual machine"), wrong.output)
    }

    /// pvm_addhosts and pvm_delhosts through the C library, succeeding: a
    /// C program (built here against our pvm3.h and libpvm3.so) adds a
    /// namespace host, sees it in pvm_config, is refused a second add
    /// (PvmDupHost in infos), deletes it and sees it gone.
    func testMultiHostCLibraryAddsAndDeletesAHost() throws {
        vm = try VirtualMachine.shared()
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let source = directory + "/addhosts.c", program = directory + "/addhosts"
        try """
            #include <stdio.h>
            #include <pvm3.h>
            static void show(void) {
                int nhost = 0, narch = 0, i;
                struct pvmhostinfo *hi = 0;
                printf("config %d", pvm_config(&nhost, &narch, &hi));
                for (i = 0; i < nhost; i++) printf(" %s", hi[i].hi_name);
                printf("\\n");
            }
            int main(int argc, char **argv) {
                char *spec[1] = { argv[1] }, *name[1] = { argv[2] };
                int info[1] = { 12345 }, rc;
                if (argc < 3) return 2;
                if ((rc = pvm_mytid()) < 0) { printf("mytid %d\\n", rc); return 1; }
                pvm_setopt(PvmAutoErr, 0);
                rc = pvm_addhosts(spec, 1, info);
                printf("add %d %s\\n", rc, info[0] > 0 && (info[0] & 0x3ffff) == 0 ? "dtid" : "no");
                show();
                info[0] = 12345;
                rc = pvm_addhosts(spec, 1, info);
                printf("again %d %d\\n", rc, info[0]);
                info[0] = 12345;
                rc = pvm_delhosts(name, 1, info);
                printf("delete %d %d\\n", rc, info[0]);
                show();
                pvm_exit();
                return 0;
            }

            """.write(toFile: source, atomically: true, encoding: .utf8)
        // Our library under its soname, first on the program's search path
        // (Debian's libpvm3.so.3, the original's, may be installed too).
        let lib = directory + "/lib"
        try FileManager.default.createDirectory(atPath: lib, withIntermediateDirectories: true)
        for name in ["libpvm3.so.3", "libpvm3.so"] {
            try FileManager.default.createSymbolicLink(atPath: lib + "/" + name, withDestinationPath: TestProducts.executable("libpvm3.so").path)
        }
        let built = try TestProducts.run(path: "/usr/bin/env", ["cc", source, "-o", program, "-I", root.path + "/Sources/CPVM3/include",
                                                               "-L", lib, "-Wl,-rpath," + lib, "-lpvm3"])
        XCTAssertEqual(built.status, 0, built.output)
        let host = network.address(1)
        let run = try TestProducts.run(path: program, [try spec(1), host])
        XCTAssertEqual(run.status, 0, run.output)
        let lines = run.output.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.first { $0.hasPrefix("add ") }, "add 1 dtid", run.output)
        let configs = lines.filter { $0.hasPrefix("config ") }
        XCTAssertEqual(configs.count, 2, run.output)
        XCTAssertTrue(configs.first?.hasPrefix("config 0 ") == true && configs.first?.hasSuffix(" \(host)") == true, run.output)
        XCTAssertEqual(lines.first { $0.hasPrefix("again ") }, "again 0 \(PVMError.Code.dupHost.rawValue)", run.output)
        XCTAssertEqual(lines.first { $0.hasPrefix("delete ") }, "delete 1 0", run.output)
        XCTAssertFalse(configs.last?.contains(host) ?? true, run.output)
        XCTAssertEqual(try vm.config().count, 1, "the host was deleted")
    }

    static func right(_ s: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - s.count)) + s }
}
