import Foundation
import PVM
import PVMSystem
import PVMTestSupport
import XCTest

/// Faults: tasks and daemons killed, malformed frames, clients of another
/// user, and a halt that must leave nothing behind.
final class DaemonFaultTests: XCTestCase {
    var fixture: VirtualMachineFixture!
    var vm: VirtualMachine!

    override func setUpWithError() throws {
        fixture = VirtualMachineFixture()
        vm = try VirtualMachine.shared()
    }

    override func tearDown() {
        try? vm?.exit()
        fixture.halt()
    }

    func code(_ body: () throws -> Void) -> Int32? {
        do { try body(); return nil } catch let e as PVMError { return e.code } catch { return -999 }
    }

    func sleeper() throws -> (TaskID, Int32) {
        let kid = try XCTUnwrap(vm.spawn("pvm-test-task", arguments: ["sleep", "60"]).first)
        _ = try vm.receive(from: kid, tag: 1)
        let pid = try XCTUnwrap(vm.tasks(where: kid.rawValue).first?.pid)
        return (kid, pid)
    }

    /// SIGKILL a task: those who asked are notified, the others go on, and
    /// the daemon forgets it.
    func testTaskKilledIsNotifiedAndOthersContinue() throws {
        let (victim, pid) = try sleeper()
        let echo = try XCTUnwrap(vm.spawn("pvm-test-task", arguments: ["echo"]).first)
        try vm.notifyOnExit(of: [victim], tag: 90)
        kill(pid, SIGKILL)
        let note = try vm.receive(from: .notifySource, tag: 90)
        XCTAssertEqual(try note.unpack(Int32.self), victim.rawValue)
        XCTAssertEqual(try vm.taskStatus(victim.rawValue), PVMError.Code.noTask.rawValue)
        XCTAssertFalse(try vm.tasks().contains { $0.tid == victim })
        // Messages to the dead task are dropped; the living one still answers.
        _ = try vm.initSend(encoding: 0)
        try vm.send(to: victim.rawValue, tag: 1)
        try vm.send(to: echo.rawValue, tag: 1)
        XCTAssertGreaterThan(try vm.receive(from: echo.rawValue, tag: 2, timeoutNanoseconds: 10_000_000_000), 0)
        try vm.send(to: echo.rawValue, tag: 999)
        XCTAssertTrue(fixture.log.contains("\(victim)"), fixture.log)
    }

    /// A task that crashes (abort) after talking: its message still arrives,
    /// then its exit is reported.
    func testCrashedTaskDeliversThenIsReported() throws {
        let kid = try XCTUnwrap(vm.spawn("pvm-test-task", arguments: ["crash"]).first)
        try vm.notifyOnExit(of: [kid], tag: 91)
        XCTAssertEqual(try vm.receive(from: kid, tag: 1).unpack(Int32.self), 1)
        XCTAssertEqual(try vm.receive(from: .notifySource, tag: 91).unpack(Int32.self), kid.rawValue)
    }

    /// The daemon killed: a blocked receive returns PvmSysErr instead of
    /// hanging, later calls fail the same way, and mytid stays cached.
    func testDaemonKilledGivesSysErrNotAHang() throws {
        let me = vm.myTid
        let pid = try XCTUnwrap(fixture.daemonPID)
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.3) { kill(pid, SIGKILL) }
        let start = Date()
        XCTAssertEqual(code { _ = try vm.receive(from: -1, tag: -1, timeoutNanoseconds: nil) }, PVMError.Code.sysErr.rawValue)
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
        _ = try vm.initSend(encoding: 0)
        XCTAssertEqual(code { try vm.send(to: 0x40fff, tag: 1) }, PVMError.Code.sysErr.rawValue)
        XCTAssertEqual(code { _ = try vm.tasks() }, PVMError.Code.sysErr.rawValue)
        XCTAssertEqual(vm.myTid, me)
        XCTAssertEqual(code { try vm.exit() }, PVMError.Code.sysErr.rawValue)
        // A new enrollment starts a new daemon over the dead one's files.
        vm = try VirtualMachine.shared()
        XCTAssertTrue(vm.startedDaemon)
        XCTAssertTrue(vm.myTid.isTask)
    }

    /// Garbage on the daemon's socket: refused with a log line; the daemon
    /// and its tasks carry on.
    func testMalformedFramesAreRefusedAndTheDaemonLives() throws {
        let socketPath = fixture.runtimeDirectory + "/pvmd.sock"
        let garbage: [[UInt8]] = [
            Array("hello, daemon, this is not a frame at all......................".utf8),
            // A valid magic and version, then a length below the header size.
            [0x50, 0x56, 0x4d, 0x46, 1, 0, 48, 0, 8, 0, 0, 0, 0, 0, 0, 0] + [UInt8](repeating: 0, count: 32),
            // A request before connect.
            Self.frame(tag: 0x1003, context: 0x7fffe),
            // An unknown request code.
            Self.frame(tag: 0x1FFF, context: 0x7fffe),
        ]
        for bytes in garbage {
            let fd = try Self.connect(socketPath)
            _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            // The daemon closes the connection.
            var buf = [UInt8](repeating: 0, count: 64)
            var tv = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            XCTAssertEqual(read(fd, &buf, buf.count), 0, "the daemon should close a connection that sent garbage")
            close(fd)
        }
        XCTAssertTrue(fixture.log.contains("malformed frame"), fixture.log)
        XCTAssertEqual(try vm.config().count, 1, "the daemon still serves")
        let kid = try XCTUnwrap(vm.spawn("pvm-test-task", arguments: ["hello"]).first)
        XCTAssertGreaterThan(try vm.receive(from: kid, tag: 1).byteCount, 0)
    }

    /// A client of another user is refused (SO_PEERCRED), even when it can
    /// reach the socket.
    func testClientOfAnotherUserIsRefused() throws {
        guard getuid() == 0, access("/usr/bin/setpriv", X_OK) == 0, access("/usr/bin/python3", X_OK) == 0 else {
            throw XCTSkip("needs root, setpriv and python3 to connect as another user")
        }
        let dir = fixture.runtimeDirectory
        let socketPath = dir + "/pvmd.sock"
        // Open the way for the test only: the directory and socket are private otherwise.
        chmod(fixture.base, 0o755)
        chmod(dir, 0o711)
        chmod(socketPath, 0o666)
        defer { chmod(dir, 0o700); chmod(socketPath, 0o600) }
        let script = "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.connect(sys.argv[1])\ns.settimeout(5)\nprint(len(s.recv(64)))"
        let child = try ChildProcess(URL(fileURLWithPath: "/usr/bin/setpriv"),
                                     ["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", script, socketPath])
        let r = child.wait(seconds: 20)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "0", "the daemon should hang up at once")
        XCTAssertTrue(VirtualMachineFixture.eventually { self.fixture.log.contains("refused a client of uid 65534") }, fixture.log)
        XCTAssertEqual(try vm.config().count, 1)
    }

    /// Halt: every task is stopped and nothing is left: no process, socket,
    /// file or directory.
    func testHaltStopsEveryTaskAndLeavesNothing() throws {
        let (_, pid1) = try sleeper()
        let (_, pid2) = try sleeper()
        let daemon = try XCTUnwrap(fixture.daemonPID)
        try vm.exit()
        XCTAssertTrue(fixture.halt(), "the daemon did not halt in time")
        for pid in [pid1, pid2, daemon] {
            XCTAssertTrue(VirtualMachineFixture.eventually { !VirtualMachineFixture.alive(pid) }, "process \(pid) survived the halt")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: fixture.runtimeDirectory))
        vm = nil
    }

    /// pvm_halt from a task: the daemon stops every task, the caller included.
    func testHaltFromATaskTerminatesTheCallerToo() throws {
        let (_, pid) = try sleeper()
        try vm.exit()  // this test process must not be a task when the machine halts
        let haltProgram = try ChildProcess(TestProducts.executable("pvm-test-task"), ["halt"])
        let r = haltProgram.wait(seconds: 20)
        XCTAssertEqual(r.status, -SIGTERM, "pvm_halt terminates its caller, as PVM does: \(r)")
        XCTAssertTrue(VirtualMachineFixture.eventually { !VirtualMachineFixture.alive(pid) })
        XCTAssertTrue(VirtualMachineFixture.eventually { !FileManager.default.fileExists(atPath: self.fixture.runtimeDirectory) })
        vm = nil
    }

    // MARK: Helpers

    static func frame(tag: Int32, context: Int32) -> [UInt8] {
        var h = [UInt8](repeating: 0, count: 48)
        func put<T>(_ v: T, _ at: Int) { withUnsafeBytes(of: v) { for (i, b) in $0.enumerated() { h[at + i] = b } } }
        put(UInt32(0x464D_5650).littleEndian, 0)
        put(UInt16(1).littleEndian, 4)
        put(UInt16(48).littleEndian, 6)
        put(UInt64(48).littleEndian, 8)
        put(tag.littleEndian, 16)
        put(context.littleEndian, 20)
        put(Int32(1).littleEndian, 32)  // raw encoding
        return h
    }

    static func connect(_ path: String) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { p in
            for (i, b) in path.utf8.enumerated() where i < p.count - 1 { p[i] = b }
        }
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        if rc != 0 { close(fd); throw XCTSkip("cannot connect to \(path): errno \(errno)") }
        return fd
    }

    /// A task's TCP listener takes its port within `PVM_PORT_RANGE` (read
    /// at enrollment), skipping ports that are taken; with every port of
    /// the range taken it has none (it is reached through the daemons) and
    /// its messaging goes on. `PVM_TCP_ADDRESS` is where it listens.
    func testTaskTCPListenerKeepsToPVMPortRangeAndAddress() throws {
        try vm.exit()
        defer { unsetenv("PVM_PORT_RANGE"); unsetenv("PVM_TCP_ADDRESS") }
        // A free range of 4 ports, its first one taken by this test.
        let taken = try TCPSocket.listen(address: "127.0.0.1")
        defer { close(taken.fd) }
        let low = taken.endpoint.port
        setenv("PVM_PORT_RANGE", "\(low)-\(low + 3)", 1)
        setenv("PVM_TCP_ADDRESS", "127.0.0.1", 1)
        vm = try VirtualMachine.shared()
        let port = try XCTUnwrap(vm.tcpListeningPort, "no listener within \(low)-\(low + 3)")
        XCTAssertTrue((low + 1)...(low + 3) ~= port, "listens on \(port), outside the free part of \(low)-\(low + 3)")
        // It answers there, on the address asked (not on another one).
        let fd = try TCPSocket.connect(to: TCPEndpoint(address: "127.0.0.1", port: port), timeoutMilliseconds: 2000)
        close(fd)
        let local = try XCTUnwrap(try? TCPSocket.listen(address: "127.0.0.2"), "127.0.0.2 is not usable here")
        close(local.fd)
        XCTAssertThrowsError(try TCPSocket.connect(to: TCPEndpoint(address: "127.0.0.2", port: port), timeoutMilliseconds: 500))
        // The whole range taken: no listener, and messages still flow.
        try vm.exit()
        setenv("PVM_PORT_RANGE", "\(low)-\(low)", 1)
        vm = try VirtualMachine.shared()
        XCTAssertNil(vm.tcpListeningPort)
        let echo = try XCTUnwrap(vm.spawn("pvm-test-task", arguments: ["echo"]).first)
        for _ in 0..<3 {
            try vm.send(Message(), to: echo, tag: 20)
            XCTAssertNotNil(try vm.receive(from: echo, tag: 21, timeout: .seconds(10)))
        }
        try vm.send(Message(), to: echo, tag: 999)
    }

    /// Tasks whose listeners are on one address (`PVM_TCP_ADDRESS`, here
    /// 127.0.0.2) are told each other's address by the daemons' lookup, and
    /// their TCP links are made there (they were told the host's address,
    /// where nothing answered, and fell back to the daemons).
    func testTasksListeningOnOneAddressConnectThere() throws {
        let probe = try XCTUnwrap(try? TCPSocket.listen(address: "127.0.0.2"), "127.0.0.2 is not usable here")
        close(probe.fd)
        try vm.exit()
        setenv("PVM_TCP_ADDRESS", "127.0.0.2", 1)
        setenv("PVM_EXPORT", "PVM_TCP_ADDRESS", 1)
        defer { unsetenv("PVM_TCP_ADDRESS"); unsetenv("PVM_EXPORT") }
        vm = try VirtualMachine.shared()
        XCTAssertNotNil(vm.tcpListeningPort)
        vm.tcpToEveryPeer = true
        let echo = try XCTUnwrap(vm.spawn("pvm-test-task", arguments: ["echo"]).first)
        for _ in 0..<3 {
            try vm.send(Message(), to: echo, tag: 20)
            XCTAssertNotNil(try vm.receive(from: echo, tag: 21, timeout: .seconds(10)))
        }
        XCTAssertEqual(vm.path(to: echo), .tcp, "no TCP link to a task listening on 127.0.0.2")
        try vm.send(Message(), to: echo, tag: 999)
    }

    /// Garbage and a wrong secret on a task's TCP listener: refused and
    /// closed, and the task's messaging goes on (shared memory and TCP).
    func testTaskTCPListenerRefusesGarbageAndStrangers() throws {
        let port = try XCTUnwrap(vm.tcpListeningPort, "the task has no TCP listener")
        func probe(_ bytes: [UInt8]) throws -> Bool {
            let fd = try TCPSocket.connect(to: TCPEndpoint(address: "127.0.0.1", port: port), timeoutMilliseconds: 2000)
            defer { close(fd) }
            _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
            // Let the library take the connection in (it serves its listener while it waits).
            _ = try vm.receive(from: .any, tag: 4242, timeout: .milliseconds(200))
            // Whatever it answers (a challenge), then it closes.
            var buf = [UInt8](repeating: 0, count: 256)
            while true {
                var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&pfd, 1, 2000) == 1 else { return false }
                if read(fd, &buf, buf.count) <= 0 { return true }
            }
        }
        XCTAssertTrue(try probe(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8) + [UInt8](repeating: 0x41, count: 64)), "garbage was not refused")
        // A proper hello, then a response that proves no secret.
        var hello = Array("PVMH".utf8) + [1, 0, 2, 0]
        hello += [UInt8](repeating: 7, count: 40)
        XCTAssertTrue(try probe(hello + Array("PVMR".utf8) + [1, 0, 2, 0] + [UInt8](repeating: 9, count: 32)), "a stranger was not refused")
        // Still a working task, on every path.
        let echo = try XCTUnwrap(vm.spawn("pvm-test-task", arguments: ["echo"]).first)
        for _ in 0..<3 {
            try vm.send(Message(), to: echo, tag: 20)
            XCTAssertNotNil(try vm.receive(from: echo, tag: 21, timeout: .seconds(10)))
        }
        try vm.send(Message(), to: echo, tag: 999)
    }
}
