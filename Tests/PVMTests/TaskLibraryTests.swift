import Foundation
import PVM
import PVMTestSupport
import XCTest

/// The task library against a real daemon and real spawned processes. This
/// test process is itself a PVM task; each test has a private virtual
/// machine (its own runtime directory) that tearDown halts.
final class TaskLibraryTests: XCTestCase {
    var fixture: VirtualMachineFixture!
    var vm: VirtualMachine!

    override func setUpWithError() throws {
        fixture = VirtualMachineFixture()
        vm = try VirtualMachine.shared()
    }

    override func tearDown() {
        if let vm {
            _ = vm.setContext(0)
            vm.route = .allowDirect
            vm.catchOutput(to: nil)
            try? vm.exit()
        }
        XCTAssertTrue(fixture.halt(), "the daemon did not halt cleanly")
    }

    func code(_ body: () throws -> Void) -> Int32? {
        do { try body(); return nil } catch let e as PVMError { return e.code } catch { return -999 }
    }

    func spawnOne(_ args: [String], flags: SpawnFlags = [], where location: String = "") throws -> TaskID {
        let kids = try vm.spawn("pvm-test-task", arguments: args, flags: flags, where: location, count: 1)
        return try XCTUnwrap(kids.first)
    }

    // MARK: Enrollment and identity

    func testEnrollStartsDaemonOnDemandWithPVMTaskIDs() throws {
        XCTAssertTrue(vm.startedDaemon, "no daemon ran: enrollment must start one")
        XCTAssertTrue(vm.myTid.isTask)
        XCTAssertEqual(vm.myTid.hostPart, 0x40000)
        XCTAssertEqual(vm.myTid.description, "t40001")
        XCTAssertEqual(code { _ = try vm.parent() }, PVMError.Code.noParent.rawValue)
        XCTAssertEqual(vm.siblings, [vm.myTid])
        let attributes = try FileManager.default.attributesOfItem(atPath: fixture.runtimeDirectory)
        XCTAssertEqual(attributes[.posixPermissions] as? Int, 0o700)
        XCTAssertEqual(VirtualMachine.host(of: vm.myTid.rawValue), 0x40000)
        XCTAssertEqual(VirtualMachine.host(of: -1), 0x3ffc0000, "tidtohost does no validation, as in PVM")
    }

    func testExitThenNextCallEnrollsWithANewTid() throws {
        let first = vm.myTid
        try vm.exit()
        try vm.exit()  // twice is fine
        vm = try VirtualMachine.shared()
        XCTAssertNotEqual(vm.myTid, first)
        XCTAssertEqual(vm.myTid.localPart, first.localPart + 1)
    }

    func testRuntimeDirectoryOfAnotherModeIsRefused() throws {
        try vm.exit()
        XCTAssertTrue(fixture.halt())
        let other = VirtualMachineFixture()
        fixture = other
        try FileManager.default.createDirectory(atPath: other.runtimeDirectory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o755])
        XCTAssertEqual(code { _ = try VirtualMachine.shared() }, PVMError.Code.sysErr.rawValue)
        vm = nil
    }

    // MARK: Spawn

    func testSpawnHelloReportsParentSiblingsAndArguments() throws {
        let kids = try vm.spawn("pvm-test-task", arguments: ["hello", "a", "b"], count: 3)
        XCTAssertEqual(kids.count, 3)
        var heard: Set<TaskID> = []
        for _ in 0..<3 {
            let m = try vm.receive(from: .any, tag: 1)
            let tid: Int32 = try m.unpack()
            let parent: Int32 = try m.unpack()
            let n: Int = try m.unpack()
            let sibs = try m.unpack(Int32.self, count: n)
            let text = try m.unpackString()
            XCTAssertEqual(TaskID(tid), m.source)
            XCTAssertEqual(parent, vm.myTid.rawValue)
            XCTAssertEqual(sibs.map { TaskID($0) }, kids)
            XCTAssertEqual(text, "a b")
            heard.insert(m.source)
        }
        XCTAssertEqual(heard, Set(kids))
    }

    func testSpawnOfMissingProgramReportsNoFileAndUsesUpTids() throws {
        let results = try vm.spawnResults("no-such-program", count: 3)
        XCTAssertEqual(results, [-7, -7, -7])
        XCTAssertEqual(code { _ = try vm.spawn("no-such-program") }, PVMError.Code.noFile.rawValue)
        XCTAssertEqual(code { _ = try vm.spawnResults("pvm-test-task", count: 0) }, PVMError.Code.badParam.rawValue)
        // The working directory is not searched, and a relative path is not either.
        XCTAssertEqual(try vm.spawnResults("bin/pvm-test-task", count: 1), [-7])
        let kid = try spawnOne(["hello"])
        XCTAssertEqual(kid.localPart, vm.myTid.localPart + 1 + 3 + 1 + 1, "failed spawns use up task ids, as in PVM")
        _ = try vm.receive(from: kid, tag: 1)
    }

    /// Spawn finds a program by name as PVM does, each search path tried
    /// with a daemon of its own and copies of the test task that report
    /// the file they run from: with neither `ep=` nor `PVM_PATH`,
    /// `$HOME/pvm3/bin/$PVM_ARCH` then `$PVM_ROOT/bin/$PVM_ARCH` (never the
    /// working directory); `PVM_PATH` replaces that default; the host's
    /// `ep=` (`pvmd --ep`, as the hostfile option gives it) replaces
    /// `PVM_PATH` too.
    func testSpawnFindsProgramsAlongPVMsSearchPath() throws {
        let base = NSTemporaryDirectory() + "pvm-search-\(getpid())"
        try? FileManager.default.removeItem(atPath: base)
        defer { try? FileManager.default.removeItem(atPath: base) }
        let home = base + "/home", root = base + "/root", path = base + "/path", ep = base + "/ep", cwd = base + "/cwd"
        let placed = [(home + "/pvm3/bin/LINUX64", ["in-home", "in-both"]), (root + "/bin/LINUX64", ["in-root", "in-both"]),
                      (path, ["in-path"]), (ep, ["in-ep"]), (cwd, ["in-cwd"])]
        for (dir, names) in placed {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            for name in names { try FileManager.default.copyItem(atPath: TestProducts.executable("pvm-test-task").path, toPath: dir + "/" + name) }
        }
        let saved = (home: getenv("HOME").map { String(cString: $0) }, root: getenv("PVM_ROOT").map { String(cString: $0) },
                     cwd: FileManager.default.currentDirectoryPath)
        defer {
            if let h = saved.home { setenv("HOME", h, 1) } else { unsetenv("HOME") }
            if let r = saved.root { setenv("PVM_ROOT", r, 1) } else { unsetenv("PVM_ROOT") }
            _ = FileManager.default.changeCurrentDirectoryPath(saved.cwd)
        }
        setenv("HOME", home, 1)
        setenv("PVM_ROOT", root, 1)
        XCTAssertTrue(FileManager.default.changeCurrentDirectoryPath(cwd))

        /// The file the task spawned as `name` runs from, or PVM's error code.
        func started(_ name: String) throws -> String {
            let results = try vm.spawnResults(name, arguments: ["exe"], count: 1)
            guard let tid = results.first, tid > 0 else { return "error \(results.first ?? 0)" }
            return try vm.receive(from: TaskID(tid), tag: 1).unpackString()
        }
        /// A new virtual machine whose daemon has `PVM_PATH` = `path` (none
        /// if nil) and, if given, is started by hand with `daemon`.
        func restart(path: String? = nil, daemon arguments: [String]? = nil) throws {
            if let vm { try vm.exit() }
            vm = nil
            XCTAssertTrue(fixture.halt())
            fixture = VirtualMachineFixture()
            if let path { setenv("PVM_PATH", path, 1) } else { unsetenv("PVM_PATH") }
            if let arguments {
                let r = try TestProducts.runToEnd("pvmd", ["--background"] + arguments)
                XCTAssertEqual(r.status, 0, "pvmd: \(r.output)")
            }
            vm = try VirtualMachine.shared()
        }

        // The default: $HOME/pvm3/bin/$PVM_ARCH, then $PVM_ROOT/bin/$PVM_ARCH.
        try restart()
        XCTAssertEqual(try started("in-home"), home + "/pvm3/bin/LINUX64/in-home")
        XCTAssertEqual(try started("in-root"), root + "/bin/LINUX64/in-root")
        XCTAssertEqual(try started("in-both"), home + "/pvm3/bin/LINUX64/in-both", "$HOME's comes first")
        XCTAssertEqual(try started("in-cwd"), "error \(PVMError.Code.noFile.rawValue)", "the working directory is not searched")
        XCTAssertEqual(try started("in-path"), "error \(PVMError.Code.noFile.rawValue)")

        // PVM_PATH replaces the default.
        try restart(path: path)
        XCTAssertEqual(try started("in-path"), path + "/in-path")
        XCTAssertEqual(try started("in-home"), "error \(PVMError.Code.noFile.rawValue)", "PVM_PATH replaces the default")

        // The host's ep= replaces PVM_PATH too.
        try restart(path: path, daemon: ["--ep", ep + ":" + root + "/bin/LINUX64"])
        XCTAssertEqual(try started("in-ep"), ep + "/in-ep")
        XCTAssertEqual(try started("in-both"), root + "/bin/LINUX64/in-both", "ep= is searched in its order")
        XCTAssertEqual(try started("in-path"), "error \(PVMError.Code.noFile.rawValue)", "ep= replaces PVM_PATH")
    }

    func testSpawnOfProgramTheKernelRefusesReportsNoFileAndTheDaemonGoesOn() throws {
        // Executable by its mode but not by its content: execve fails in the
        // child, after the daemon has gone on (the launch does not wait).
        let junk = NSTemporaryDirectory() + "pvm-junk-\(getpid())"
        XCTAssertTrue(FileManager.default.createFile(atPath: junk, contents: Data("not a program\n".utf8),
                                                     attributes: [.posixPermissions: 0o755]))
        defer { unlink(junk) }
        XCTAssertEqual(try vm.spawnResults(junk, count: 3), [-7, -7, -7])
        // A working directory that does not exist fails the same way.
        XCTAssertEqual(try vm.spawnResults("pvm-test-task", arguments: ["hello"], where: ":/nonexistent-pvm-dir", count: 2), [-7, -7])
        // None of them is left as a task, and spawning still works.
        XCTAssertEqual(try vm.tasks().filter { $0.tid != vm.myTid }.count, 0)
        let kids = try vm.spawn("pvm-test-task", arguments: ["hello"], count: 2)
        for k in kids { _ = try vm.receive(from: k, tag: 1) }
    }

    func testSpawnedProcessStartsWithSignalsAtDefaultsAndOnlyItsStandardDescriptors() throws {
        // The daemon blocks SIGTERM, SIGINT and SIGHUP and ignores SIGPIPE for
        // itself; none of that, and none of its descriptors, reaches a task.
        let kids = try vm.spawn("pvm-test-task", arguments: ["process"], count: 4)
        for _ in kids {
            let m = try vm.receive(from: .any, tag: 1)
            let blocked = try m.unpackString(), ignored = try m.unpackString(), input = try m.unpackString()
            let n: Int = try m.unpack()
            let fds = try m.unpack(Int32.self, count: n)
            XCTAssertEqual(UInt64(blocked, radix: 16), 0, "blocked signals: \(blocked)")
            let ignoredMask = try XCTUnwrap(UInt64(ignored, radix: 16))
            for sig in [SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD] {
                XCTAssertEqual(ignoredMask & (1 << UInt64(sig - 1)), 0, "signal \(sig) ignored: \(ignored)")
            }
            XCTAssertEqual(input, "/dev/null")
            XCTAssertEqual(fds, [0, 1, 2])
        }
    }

    func testSpawnPlacementFlags() throws {
        let host = try XCTUnwrap(vm.config().first?.name)
        XCTAssertEqual(try vm.spawnResults("pvm-test-task", arguments: ["hello"], flags: SpawnFlags.host.rawValue, where: "nosuchhost", count: 2), [-6, -6])
        XCTAssertEqual(try vm.spawnResults("pvm-test-task", arguments: ["hello"], flags: SpawnFlags.architecture.rawValue, where: "SUN4", count: 1), [-6])
        XCTAssertEqual(try vm.spawnResults("pvm-test-task", arguments: ["hello"], flags: SpawnFlags([.host, .hostComplement]).rawValue, where: host, count: 1), [-6])
        let a = try spawnOne(["hello"], flags: .host, where: host)
        let b = try spawnOne(["hello"], flags: .architecture, where: "LINUX64")
        for k in [a, b] { _ = try vm.receive(from: k, tag: 1) }
        // PvmNoSpawnParent: the child sees PvmParentNotSet; the console uses this.
        let orphan = try spawnOne(["hello"], flags: .noSpawnParent)
        let info = try vm.tasks(where: orphan.rawValue)
        XCTAssertEqual(info.first?.parent, PVMError.Code.parentNotSet.rawValue)
    }

    func testSpawnWorkingDirectoryAndExportedEnvironment() throws {
        setenv("PVMTEST_EXPORTED", "yes-exported", 1)
        setenv("PVM_EXPORT", "PVMTEST_EXPORTED", 1)
        defer { unsetenv("PVM_EXPORT"); unsetenv("PVMTEST_EXPORTED") }
        _ = try spawnOne(["cwd"], where: ":/tmp")
        let m = try vm.receive(from: .any, tag: 1)
        XCTAssertEqual(try m.unpackString(), "/tmp")
        XCTAssertEqual(try m.unpackString(), "yes-exported")
    }

    // MARK: Messages

    func testWildcardsAndPerSenderOrderThenTaskExitNotify() throws {
        let kid = try spawnOne(["sequence"])
        try vm.notifyOnExit(of: [kid], tag: 77)
        // Wait until the child has gone, so everything it sent has arrived.
        let note = try vm.receive(from: .notifySource, tag: 77)
        XCTAssertEqual(try note.unpack(Int32.self), kid.rawValue)
        XCTAssertEqual(try vm.receive(from: kid, tag: .any).tag, 101)
        XCTAssertEqual(try vm.receive(from: .any, tag: 103).tag, 103)
        XCTAssertEqual(try vm.receive(from: .any, tag: .any).tag, 102)
    }

    /// A stream of numbered messages of every size from several tasks at
    /// once: the first through the daemon, the rest over shared memory
    /// (inline, single copy, pipelined); per-sender order holds throughout.
    func testPerSenderOrderAcrossPathsAndSenders() throws {
        let kids = try vm.spawn("pvm-test-task", arguments: ["stream"], count: 3)
        var next: [TaskID: Int32] = [:]
        for _ in 0..<(400 * kids.count) {
            let m = try vm.receive(from: .any, tag: 8)
            let seq: Int32 = try m.unpack()
            XCTAssertEqual(seq, next[m.source, default: 0], "out of order from \(m.source)")
            next[m.source] = seq + 1
            let sizes = [8, 1000, 70_000, 300_000]
            XCTAssertEqual(m.byteCount, 4 + sizes[Int(seq) % 4])
        }
        XCTAssertEqual(Set(next.keys), Set(kids))
    }

    /// Both tasks switch from the daemon to shared memory at once: this
    /// task's first message goes through the daemon, and while the echo
    /// task holds its answer, this task connects and streams the rest over
    /// shared memory. The first echo then goes through the daemon, the next
    /// ones over the connection this task made; they must not overtake the
    /// first. (They did: the echo task used that connection at once, and
    /// this task read its ring before its daemon socket.)
    ///
    /// With 1 MiB messages, more than a socket holds: the echo task's
    /// lookup waits until its first echo is in this task's socket, while
    /// this task is blocked sending into the echo task's full ring; the
    /// echo task takes its ring in while it waits (a deadlock otherwise).
    func testEchoesKeepTheirOrderWhenBothTasksSwitchPathsAtOnce() throws {
        for (round, size) in [4, 4, 4, 1 << 20, 1 << 20].enumerated() {
            let echo = try spawnOne(["echo-first-late"])
            let padding = [UInt8](repeating: 0xA5, count: size - 4)
            for seq: Int32 in 0..<8 {
                let m = Message(encoding: .raw)
                try m.pack(seq)
                if !padding.isEmpty { try m.pack(padding) }
                try vm.send(m, to: echo, tag: 10)
                // The echo task has the first and holds its answer while the rest come directly.
                if seq == 0 { usleep(30_000) }
            }
            // Every echo is here (the first in the daemon's socket, the rest
            // in the ring) before this task looks.
            usleep(200_000)
            for seq: Int32 in 0..<8 {
                let back = try vm.receive(from: echo, tag: 11)
                XCTAssertEqual(try back.unpack(Int32.self), seq, "round \(round): echo \(seq) out of order")
                XCTAssertEqual(back.byteCount, size)
            }
            try vm.send(Message(), to: echo, tag: 999)
        }
    }

    /// Sends to a task that has not enrolled yet never wait for it: the
    /// daemon holds them, and they arrive in order once it enrolls.
    func testSendsToATaskNotYetEnrolledDoNotBlock() throws {
        let kid = try spawnOne(["late"])
        let start = Date()
        for tag: Int32 in [10, 12, 14, 999] {
            _ = try vm.initSend(encoding: 0)
            var v = tag
            try vm.pack(&v, count: 1)
            try vm.send(to: kid.rawValue, tag: tag)
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 0.5, "a send waited for the task to start")
        for tag: Int32 in [11, 13, 15] {
            XCTAssertEqual(try vm.bufferInfo(try vm.receive(from: kid.rawValue, tag: -1, timeoutNanoseconds: 10_000_000_000)).tag, tag)
        }
    }

    func testSelfSendProbeNonBlockingAndTimedReceive() throws {
        for tag: Int32 in [11, 12, 13] {
            _ = try vm.initSend(encoding: 0)
            var v = tag
            try vm.pack(&v, count: 1)
            try vm.send(to: vm.myTid.rawValue, tag: tag)
        }
        let probed = try vm.probe(from: -1, tag: -1)
        XCTAssertGreaterThan(probed, 0)
        XCTAssertEqual(try vm.bufferInfo(probed).tag, 11)
        XCTAssertEqual(try vm.bufferInfo(try vm.receive(from: -1, tag: 12, timeoutNanoseconds: nil)).tag, 12)
        XCTAssertEqual(try vm.bufferInfo(try vm.receive(from: -1, tag: -1, timeoutNanoseconds: nil)).tag, 11)
        XCTAssertEqual(try vm.bufferInfo(try vm.receive(from: -1, tag: -1, timeoutNanoseconds: 0)).tag, 13)
        XCTAssertEqual(try vm.receive(from: -1, tag: -1, timeoutNanoseconds: 0), 0)
        // Invalid match arguments are not errors: they simply match nothing.
        XCTAssertEqual(try vm.receive(from: -1, tag: -5, timeoutNanoseconds: 0), 0)
        let start = Date()
        XCTAssertEqual(try vm.receive(from: -1, tag: -2, timeoutNanoseconds: 300_000_000), 0)
        let elapsed = Date().timeIntervalSince(start)
        XCTAssertGreaterThanOrEqual(elapsed, 0.29)
        XCTAssertLessThan(elapsed, 2.0)
        XCTAssertNil(try vm.receive(from: .any, tag: 5, timeout: .milliseconds(50)))
    }

    /// The arrived queue keeps arrival order per tag through everything a
    /// program can do to it: hundreds queued at once (it grows), taken
    /// oldest first while more arrive (its start wraps round), taken from
    /// the middle by tag, and a queued message freed by pvm_freebuf.
    func testTheArrivedQueueKeepsOrderThroughGrowthWrapAndRemovalsFromTheMiddle() throws {
        var next: [Int32: Int32] = [1: 0, 2: 0, 3: 0]
        var expected: [Int32: Int32] = [1: 0, 2: 0, 3: 0]
        func send(_ tag: Int32) throws {
            _ = try vm.initSend(encoding: 0)
            var v = tag * 100_000 + next[tag]!
            next[tag]! += 1
            try vm.pack(&v, count: 1)
            try vm.send(to: vm.myTid.rawValue, tag: tag)
        }
        func take(_ tag: Int32) throws {
            let id = try vm.receive(from: -1, tag: tag, timeoutNanoseconds: 5_000_000_000)
            XCTAssertGreaterThan(id, 0, "tag \(tag): nothing arrived")
            let info = try vm.bufferInfo(id)
            var v: Int32 = -1
            try vm.unpack(into: &v, count: 1)
            let want = (tag == -1 ? info.tag : tag) * 100_000 + expected[info.tag]!
            XCTAssertEqual(v, want, "tag \(info.tag) out of order")
            expected[info.tag]! += 1
        }
        // 300 queued, tags interleaved: the queue grows well past its start.
        for i in 0..<300 { try send(Int32(i % 3 + 1)) }
        // Every tag 2 first: each taken from the middle of the queue.
        for _ in 0..<100 { try take(2) }
        // Oldest first while more arrive, so the start goes round the end.
        for round in 0..<400 {
            try send(Int32(round % 3 + 1))
            try take(-1)
        }
        // A queued message freed: it leaves the queue, the rest stay in order.
        let probed = try vm.probe(from: -1, tag: 3)
        XCTAssertGreaterThan(probed, 0)
        var v: Int32 = 0
        _ = try vm.setReceiveBuffer(probed)
        try vm.unpack(into: &v, count: 1)
        XCTAssertEqual(v, 3 * 100_000 + expected[3]!)
        expected[3]! += 1
        try vm.freeBuffer(probed)
        while let id = try Optional(vm.receive(from: -1, tag: -1, timeoutNanoseconds: 0)), id > 0 {
            let info = try vm.bufferInfo(id)
            try vm.unpack(into: &v, count: 1)
            XCTAssertEqual(v, info.tag * 100_000 + expected[info.tag]!, "tag \(info.tag) out of order")
            expected[info.tag]! += 1
        }
        XCTAssertEqual(expected, next, "messages were lost or repeated")
    }

    /// A queued message made the receive buffer (pvm_setrbuf of a probed
    /// id) is freed by the next receive, as PVM frees the receive buffer:
    /// the message that receive takes does not land in it (it is still in
    /// the queue), and nothing of it is left to receive afterwards.
    func testAProbedMessageMadeTheReceiveBufferIsFreedByTheNextReceive() throws {
        let kid = try spawnOne(["echo"])
        _ = try vm.initSend(encoding: 0)
        var mine: Int32 = 1111
        try vm.pack(&mine, count: 1)
        try vm.send(to: vm.myTid.rawValue, tag: 11)
        let probed = try vm.probe(from: -1, tag: 11)
        XCTAssertGreaterThan(probed, 0)
        _ = try vm.setReceiveBuffer(probed)
        _ = try vm.initSend(encoding: 0)
        var theirs: Int32 = 2222
        try vm.pack(&theirs, count: 1)
        try vm.send(to: kid.rawValue, tag: 20)
        let id = try vm.receive(from: kid.rawValue, tag: 21, timeoutNanoseconds: 10_000_000_000)
        XCTAssertGreaterThan(id, 0)
        XCTAssertNotEqual(id, probed, "the echo was put into the queued message's buffer")
        var back: Int32 = 0
        try vm.unpack(into: &back, count: 1)
        XCTAssertEqual(back, 2222)
        XCTAssertEqual(code { _ = try vm.bufferInfo(probed) }, PVMError.Code.noSuchBuf.rawValue)
        XCTAssertEqual(try vm.receive(from: -1, tag: -1, timeoutNanoseconds: 0), 0, "a freed message is still queued")
        _ = try vm.initSend(encoding: 0)
        try vm.send(to: kid.rawValue, tag: 999)
    }

    func testSendArgumentChecksAndMissingTasks() throws {
        _ = try vm.setSendBuffer(0)
        XCTAssertEqual(code { try vm.send(to: vm.myTid.rawValue, tag: 1) }, PVMError.Code.noBuf.rawValue)
        _ = try vm.initSend(encoding: 0)
        XCTAssertEqual(code { try vm.send(to: 0, tag: 1) }, PVMError.Code.badParam.rawValue)
        XCTAssertEqual(code { try vm.send(to: -1, tag: 1) }, PVMError.Code.badParam.rawValue)
        XCTAssertEqual(code { try vm.send(to: TaskID.daemon(host: 1).rawValue, tag: 1) }, PVMError.Code.badParam.rawValue)
        XCTAssertEqual(code { try vm.send(to: vm.myTid.rawValue, tag: -1) }, PVMError.Code.badParam.rawValue)
        // A task that does not exist, here or on a host that does not exist: dropped, not an error.
        XCTAssertNil(code { try vm.send(to: 0x40fff, tag: 1) })
        XCTAssertNil(code { try vm.send(to: 0x1c0001, tag: 1) })
        XCTAssertNil(code { try vm.send(to: vm.myTid.rawValue, tag: 0x7fffffff) })
        XCTAssertEqual(try vm.bufferInfo(try vm.receive(from: -1, tag: 0x7fffffff, timeoutNanoseconds: nil)).tag, 0x7fffffff)
    }

    /// Sends `size` pattern bytes (PvmDataRaw) to the echoing `kid` with
    /// `tag` and checks that its echo (`tag` + 1) brings them back intact.
    func echoBytes(_ size: Int, _ kid: TaskID, tag: Int32, file: StaticString = #filePath, line: UInt = #line) throws {
        let data = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ size) }
        _ = try vm.initSend(encoding: 1)
        try data.withUnsafeBufferPointer { try vm.pack($0.baseAddress!, count: size) }
        try vm.send(to: kid.rawValue, tag: tag)
        let id = try vm.receive(from: kid.rawValue, tag: tag + 1, timeoutNanoseconds: 20_000_000_000)
        XCTAssertEqual(try vm.bufferInfo(id).bytes, Int32(size), file: file, line: line)
        var back = [UInt8](repeating: 0, count: size)
        try back.withUnsafeMutableBufferPointer { try vm.unpack(into: $0.baseAddress!, count: size) }
        XCTAssertTrue(back == data, "the echo of \(size) B differs", file: file, line: line)
    }

    /// PvmDontRoute at both ends: every message goes through the daemons,
    /// large ones too (a first message of 64 KiB or more goes straight to
    /// its task otherwise), and no direct path is set up either way. Then
    /// the default route sets one up by the second message.
    func testDontRouteGoesThroughTheDaemonsAndSetsUpNoDirectPath() throws {
        let kid = try spawnOne(["echo-dontroute"])
        vm.route = .dontRoute
        for size in [8, 100_000, 4 << 20] {
            try echoBytes(size, kid, tag: 10)
            XCTAssertEqual(vm.path(to: kid), .daemons, "a direct path after \(size) B with PvmDontRoute")
        }
        // The kid's own path to this task: 2 (the daemons).
        try vm.send(Message(), to: kid, tag: 30)
        XCTAssertEqual(try vm.receive(from: kid, tag: 31).unpack(Int32.self), 2)
        vm.route = .allowDirect
        for _ in 0..<2 {
            try vm.send(Message(), to: kid, tag: 10)
            _ = try vm.receive(from: kid, tag: 11)
        }
        XCTAssertEqual(vm.path(to: kid), .sharedMemory, "the default route sets up a direct path")
        try vm.send(Message(), to: kid, tag: 999)
    }

    func testEchoOfEveryEncodingAndLargeMessagesDirectAndThroughTheDaemon() throws {
        let kid = try spawnOne(["echo"])
        for route in [RoutePolicy.allowDirect, .dontRoute] {
            vm.route = route
            for encoding: Int32 in [0, 1, 2] {
                _ = try vm.initSend(encoding: encoding)
                var values: [Int32] = [1, -2, 3]
                var d = 2.5
                try vm.pack(&values, count: 3)
                try vm.pack(&d, count: 1)
                try vm.send(to: kid.rawValue, tag: 10)
                let id = try vm.receive(from: kid.rawValue, tag: 11, timeoutNanoseconds: 10_000_000_000)
                XCTAssertGreaterThan(id, 0)
                var back = [Int32](repeating: 0, count: 3)
                var e = 0.0
                try vm.unpack(into: &back, count: 3)
                try vm.unpack(into: &e, count: 1)
                XCTAssertEqual(back, values)
                XCTAssertEqual(e, 2.5)
            }
            // 4 MiB and 300 KiB through every large-message path, in order.
            for size in [300 << 10, 4 << 20] { try echoBytes(size, kid, tag: 20) }
        }
        vm.route = .allowDirect
        _ = try vm.initSend(encoding: 0)
        try vm.send(to: kid.rawValue, tag: 999)
    }

    /// A large message that arrives over shared memory becomes the receive
    /// buffer's storage without a copy (the transport's assembly buffer is
    /// exchanged for the buffer's old storage). Buffers the program keeps
    /// must stay intact while more large messages arrive (single-copy and
    /// pipelined sizes, sent before any is received so some are queued),
    /// and a receive buffer reused round after round must hold each new one.
    func testLargeMessagesKeptInReceiveBuffersStayIntactWhileMoreArrive() throws {
        let kid = try spawnOne(["echo"])
        func pattern(_ size: Int, _ k: Int) -> [UInt8] { (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ k &* 101) } }
        let sizes = [100 << 10, 200 << 10, 1 << 20, 4 << 20, 3 << 20, 150 << 10, 2 << 20]
        for (k, size) in sizes.enumerated() {
            _ = try vm.initSend(encoding: 1)
            try pattern(size, k).withUnsafeBufferPointer { try vm.pack($0.baseAddress!, count: size) }
            try vm.send(to: kid.rawValue, tag: 20)
        }
        var held: [Int32] = []
        for _ in sizes {
            let id = try vm.receive(from: kid.rawValue, tag: 21, timeoutNanoseconds: 20_000_000_000)
            XCTAssertGreaterThan(id, 0)
            held.append(id)
            _ = try vm.setReceiveBuffer(0)  // keep it: the next receive takes another buffer
        }
        XCTAssertEqual(Set(held).count, sizes.count, "every kept message has a buffer of its own")
        for (k, id) in held.enumerated() {
            _ = try vm.setReceiveBuffer(id)
            XCTAssertEqual(try vm.bufferInfo(id).bytes, Int32(sizes[k]))
            var back = [UInt8](repeating: 0, count: sizes[k])
            try back.withUnsafeMutableBufferPointer { try vm.unpack(into: $0.baseAddress!, count: sizes[k]) }
            XCTAssertTrue(back == pattern(sizes[k], k), "message \(k) of \(sizes[k]) bytes changed while later ones arrived")
            _ = try vm.setReceiveBuffer(0)
            try vm.freeBuffer(id)
        }
        // One receive buffer, reused: each round's message replaces the last.
        for (round, size) in [4 << 20, 64 << 10, 1 << 20, 4 << 20, 120 << 10].enumerated() {
            _ = try vm.initSend(encoding: 1)
            try pattern(size, 50 + round).withUnsafeBufferPointer { try vm.pack($0.baseAddress!, count: size) }
            try vm.send(to: kid.rawValue, tag: 20)
            let id = try vm.receive(from: kid.rawValue, tag: 21, timeoutNanoseconds: 20_000_000_000)
            XCTAssertEqual(try vm.bufferInfo(id).bytes, Int32(size))
            var back = [UInt8](repeating: 0, count: size)
            try back.withUnsafeMutableBufferPointer { try vm.unpack(into: $0.baseAddress!, count: size) }
            XCTAssertTrue(back == pattern(size, 50 + round), "round \(round): \(size) bytes")
        }
        _ = try vm.initSend(encoding: 0)
        try vm.send(to: kid.rawValue, tag: 999)
    }

    /// InPlace messages made of several pieces of the program's memory go
    /// into the ring straight from those pieces: one record when small, pipelined chunks
    /// when large; what comes back is every piece, in order, intact.
    func testInPlaceMessagesOfManyPiecesGoStraightFromTheProgramsMemory() throws {
        let kid = try spawnOne(["echo"])
        try Self.checkInPlaceEchoes(vm, kid)
        _ = try vm.initSend(encoding: 0)
        try vm.send(to: kid.rawValue, tag: 999)
    }

    /// Sends InPlace messages of a few shapes, and pvm_psend messages, to an
    /// echoing task and checks the echoes (shared by the shared-memory and
    /// the TCP test).
    static func checkInPlaceEchoes(_ vm: VirtualMachine, _ kid: TaskID, file: StaticString = #filePath, line: UInt = #line) throws {
        func bytes(_ n: Int, _ k: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ k) } }
        for (round, shape) in [[5, 40, 3], [3 << 20, 7, (1 << 20) + 5], [70_000, 1, 200_000, 13], [0, 64 << 10, 0]].enumerated() {
            let parts = shape.enumerated().map { bytes($0.element, round * 10 + $0.offset) }
            var strided: [Int32] = [1, 2, 3, 4]
            _ = try vm.initSend(encoding: Encoding.inPlace.rawValue)
            for p in parts {
                try p.withUnsafeBufferPointer { b in
                    if let base = b.baseAddress { try vm.pack(base, count: b.count) } else { var none: UInt8 = 0; try vm.pack(&none, count: 0) }
                }
            }
            try strided.withUnsafeBufferPointer { try vm.pack($0.baseAddress!, count: 4) }
            try vm.send(to: kid.rawValue, tag: 60)
            strided[0] = 99  // read at send time (InPlace): the message has 1
            let id = try vm.receive(from: kid.rawValue, tag: 61, timeoutNanoseconds: 30_000_000_000)
            XCTAssertEqual(try vm.bufferInfo(id).bytes, Int32(shape.reduce(0, +) + 16), "round \(round)", file: file, line: line)
            for (k, p) in parts.enumerated() {
                var back = [UInt8](repeating: 0, count: p.count)
                if !p.isEmpty { try back.withUnsafeMutableBufferPointer { try vm.unpack(into: $0.baseAddress!, count: p.count) } }
                XCTAssertTrue(back == p, "round \(round), piece \(k) of \(p.count) bytes", file: file, line: line)
            }
            var ints = [Int32](repeating: 0, count: 4)
            try ints.withUnsafeMutableBufferPointer { try vm.unpack(into: $0.baseAddress!, count: 4) }
            XCTAssertEqual(ints, [1, 2, 3, 4], "round \(round)", file: file, line: line)
        }
        // pvm_psend from 4 KiB up goes the same way, from the program's memory.
        for n in [100, 512, 300_000, 1 << 19] {
            var data = (0..<n).map { Double($0) * 0.5 + Double(n) }
            try vm.psend(to: kid.rawValue, tag: 62, data: &data, count: n, type: 6)
            var back = [Double](repeating: 0, count: n)
            let r = try vm.precv(from: kid.rawValue, tag: 63, into: &back, count: n, type: 6)
            XCTAssertEqual(r.bytes, n * 8, file: file, line: line)
            XCTAssertTrue(back == data, "psend of \(n) doubles", file: file, line: line)
        }
    }

    func testMulticastExcludesTheSenderAndPsendPrecv() throws {
        let kid = try spawnOne(["echo"])
        _ = try vm.initSend(encoding: 0)
        var v: Int32 = 5
        try vm.pack(&v, count: 1)
        try vm.multicast(to: [vm.myTid.rawValue, kid.rawValue, 0x40fff], tag: 30)
        XCTAssertGreaterThan(try vm.receive(from: kid.rawValue, tag: 31, timeoutNanoseconds: 10_000_000_000), 0)
        XCTAssertEqual(try vm.receive(from: vm.myTid.rawValue, tag: 30, timeoutNanoseconds: 0), 0, "mcast never sends to the caller")
        XCTAssertEqual(code { try vm.multicast(to: [kid.rawValue], tag: -3) }, PVMError.Code.badParam.rawValue)

        let keep = vm.activeReceiveBuffer
        var doubles: [Double] = [1, 2, 3, 4]
        try vm.psend(to: kid.rawValue, tag: 40, data: &doubles, count: 4, type: 6)
        var into = [Double](repeating: 0, count: 2)
        let r = try vm.precv(from: kid.rawValue, tag: 41, into: &into, count: 2, type: 6)
        XCTAssertEqual(r.bytes, 32, "precv reports the full length in bytes")
        XCTAssertEqual(into, [1, 2])
        XCTAssertEqual(r.source, kid.rawValue)
        XCTAssertEqual(vm.activeReceiveBuffer, keep, "precv leaves the receive buffer alone")
        XCTAssertEqual(code { try vm.psend(to: kid.rawValue, tag: 40, data: &doubles, count: 1, type: 0) }, PVMError.Code.notImpl.rawValue)
        XCTAssertEqual(code { try vm.psend(to: kid.rawValue, tag: 40, data: &doubles, count: 1, type: 99) }, PVMError.Code.badParam.rawValue)
        _ = try vm.initSend(encoding: 0)
        try vm.send(to: kid.rawValue, tag: 999)
    }

    /// pvm_precv over TCP (forced between two tasks of this host, as
    /// pvmbench --transport tcp does): a large message that arrives while
    /// it waits goes from the socket straight into its memory; one that
    /// arrived before it (queued), one larger than its buffer (cut to the
    /// buffer, full length reported) and a wildcard receive with a small
    /// message behind the large one all come out right and in order.
    func testPrecvOverTCPTakesLargeMessagesStraightIntoItsMemory() throws {
        try overTCP {
            let kid = try spawnOne(["echo"])
            try checkPrecvStraightIntoMemory(kid, path: .tcp)
        }
    }

    /// A large message that has begun to arrive before pvm_precv asks for
    /// it (this task was in a timed receive for something else meanwhile,
    /// which takes the message in, into a buffer of its own: from the TCP
    /// link, or the pipelined pieces from the peer's ring): precv takes it
    /// over, what came so far copied and the rest straight into its memory.
    /// Content, source, tag and length are right, nothing of it is left
    /// queued, and the small message behind it comes next.
    func testPrecvOverTCPTakesOverALargeMessageAlreadyArriving() throws {
        try overTCP { try checkPrecvTakesOver(try spawnOne(["echo"]), path: .tcp) }
    }

    func testPrecvOverSharedMemoryTakesOverALargeMessageAlreadyArriving() throws {
        try checkPrecvTakesOver(try spawnOne(["echo"]), path: .sharedMemory)
    }

    func checkPrecvTakesOver(_ kid: TaskID, path: PeerPath) throws {
        func doubles(_ n: Int, _ k: Int) -> [Double] { (0..<n).map { Double($0 &* 5 &+ k) * 0.5 } }
        for round in 0..<3 {
            let n = 4 << 20  // 32 MiB: its echo takes milliseconds to come
            var big = doubles(n, round)
            var small: [Double] = [Double(round) + 0.25]
            try vm.psend(to: kid.rawValue, tag: 62, data: &big, count: n, type: 6)
            try vm.psend(to: kid.rawValue, tag: 66, data: &small, count: 1, type: 6)
            // Nothing has tag 99: this takes in the echo while it comes.
            XCTAssertEqual(try vm.receive(from: kid.rawValue, tag: 99, timeoutNanoseconds: UInt64(1 + round) * 2_000_000), 0)
            var back = [Double](repeating: -1, count: n)
            assertEcho(try vm.precv(from: kid.rawValue, tag: 63, into: &back, count: n, type: 6), of: n * 8, from: kid)
            XCTAssertTrue(back == big, "round \(round): the large echo")
            XCTAssertEqual(try vm.probe(from: -1, tag: 63), 0, "round \(round): the large echo is still queued too")
            var one: [Double] = [0]
            let s = try vm.precv(from: -1, tag: -1, into: &one, count: 1, type: 6)
            XCTAssertEqual(s.tag, 67, "round \(round): the message behind the large one")
            XCTAssertEqual(one[0], small[0])
        }
        XCTAssertEqual(vm.path(to: kid), path)
        _ = try vm.initSend(encoding: 0)
        try vm.send(to: kid.rawValue, tag: 999)
    }

    /// Over TCP a task answers on the connection its peer made (one
    /// connection per pair, frames both ways), its first answers having gone
    /// through the daemons: messages of every size, in order, and nobody
    /// connected to this task's listener.
    func testATCPPeerAnswersOnTheConnectionThisTaskMade() throws {
        try overTCP {
            let kid = try spawnOne(["echo"])
            let port = try XCTUnwrap(vm.tcpListeningPort)
            func pattern(_ size: Int, _ k: Int) -> [UInt8] { (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ k) } }
            for (k, size) in [8, 8, 100 << 10, 8, 4 << 20, 1, 70_000].enumerated() {
                _ = try vm.initSend(encoding: 1)
                try pattern(size, k).withUnsafeBufferPointer { try vm.pack($0.baseAddress!, count: size) }
                try vm.send(to: kid.rawValue, tag: 20)
                let id = try vm.receive(from: kid.rawValue, tag: 21, timeoutNanoseconds: 20_000_000_000)
                XCTAssertEqual(try vm.bufferInfo(id).bytes, Int32(size))
                var back = [UInt8](repeating: 0, count: size)
                try back.withUnsafeMutableBufferPointer { try vm.unpack(into: $0.baseAddress!, count: size) }
                XCTAssertTrue(back == pattern(size, k), "echo \(k) of \(size) bytes differs")
            }
            XCTAssertEqual(vm.path(to: kid), .tcp)
            _ = try vm.initSend(encoding: 0)
            try vm.send(to: kid.rawValue, tag: 30)
            var theirs: Int32 = -1
            _ = try vm.receive(from: kid.rawValue, tag: 31, timeoutNanoseconds: 10_000_000_000)
            try vm.unpack(into: &theirs, count: 1)
            XCTAssertEqual(theirs, 1, "the peer's answers do not go over TCP")
            XCTAssertEqual(try Self.establishedTCPConnections(localPort: port), 0, "the peer connected back instead of answering")
            _ = try vm.initSend(encoding: 0)
            try vm.send(to: kid.rawValue, tag: 999)
        }
    }

    /// A receive that spins on TCP reads the link frames last came on
    /// directly (ShmEndpoint.idleProbe). After this task leaves the virtual
    /// machine, that link's descriptor is closed and its number free:
    /// socket pairs made then take the freed numbers, each end with one
    /// byte to read. Enrolled again, an exchange over TCP must leave every
    /// byte where it is (a read through the closed link would take one, or
    /// block where nothing is to read).
    func testAReceiveOverTCPNeverReadsADescriptorOfAClosedLink() throws {
        try overTCP {
            let kid = try spawnOne(["echo"])
            try echoOverTCP(kid, rounds: 3)
            _ = try vm.initSend(encoding: 0)
            try vm.send(to: kid.rawValue, tag: 999)
            try vm.exit()
            var ends: [Int32] = []
            defer { for fd in ends { close(fd) } }
            for _ in 0..<64 {
                var fds: [Int32] = [0, 0]
                XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds), 0)
                var one: UInt8 = 0x5A
                XCTAssertEqual(write(fds[0], &one, 1), 1)
                XCTAssertEqual(write(fds[1], &one, 1), 1)
                // Non-blocking, so that a wrong read fails the test instead of hanging it.
                for fd in fds { _ = fcntl(fd, F_SETFL, O_NONBLOCK) }
                ends += fds
            }
            vm = try VirtualMachine.shared()
            let again = try spawnOne(["echo"])
            try echoOverTCP(again, rounds: 20)
            _ = try vm.initSend(encoding: 0)
            try vm.send(to: again.rawValue, tag: 999)
            for fd in ends {
                var byte: UInt8 = 0
                XCTAssertEqual(recv(fd, &byte, 1, Int32(MSG_DONTWAIT)), 1, "the byte to read on descriptor \(fd) was taken")
                XCTAssertEqual(byte, 0x5A)
            }
        }
    }

    /// `rounds` 8 B echoes with `kid` (echo mode: tag 20 back as tag 21), over TCP.
    func echoOverTCP(_ kid: TaskID, rounds: Int) throws {
        for k in 0..<rounds {
            var value = Int32(k)
            _ = try vm.initSend(encoding: 1)
            try vm.pack(&value, count: 1)
            try vm.send(to: kid.rawValue, tag: 20)
            _ = try vm.receive(from: kid.rawValue, tag: 21, timeoutNanoseconds: 20_000_000_000)
            var back: Int32 = -1
            try vm.unpack(into: &back, count: 1)
            XCTAssertEqual(back, value)
        }
        XCTAssertEqual(vm.path(to: kid), .tcp)
    }

    /// Established TCP connections (IPv4 and IPv6) whose local port is `port`.
    static func establishedTCPConnections(localPort port: Int) throws -> Int {
        var count = 0
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            guard let text = try? String(contentsOfFile: table, encoding: .utf8) else { continue }
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                guard fields.count > 3, let colon = fields[1].lastIndex(of: ":") else { continue }
                if Int(fields[1][fields[1].index(after: colon)...], radix: 16) == port && fields[3] == "01" { count += 1 }
            }
        }
        return count
    }

    /// Runs `body` enrolled again with TCP forced between tasks of this host
    /// (PVM_TRANSPORT=tcp, exported to the tasks it spawns).
    func overTCP(_ body: () throws -> Void) throws {
        try vm.exit()
        setenv("PVM_TRANSPORT", "tcp", 1)
        setenv("PVM_EXPORT", "PVM_TRANSPORT", 1)
        defer { unsetenv("PVM_TRANSPORT"); unsetenv("PVM_EXPORT") }
        vm = try VirtualMachine.shared()
        try body()
    }

    /// A first message of 64 KiB or more to a task goes directly (over
    /// shared memory, or TCP when forced), where a small first message goes
    /// through the daemon; what follows it keeps its order and comes back
    /// intact. (Each first message went through the daemon: a master
    /// handing new workers their data paid two more copies each.)
    func testALargeFirstMessageGoesDirectly() throws {
        func pattern(_ size: Int, _ k: Int) -> [UInt8] { (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ k) } }
        func send(_ kid: TaskID, _ size: Int, tag: Int32) throws {
            _ = try vm.initSend(encoding: 1)
            try pattern(size, Int(tag)).withUnsafeBufferPointer { try vm.pack($0.baseAddress!, count: size) }
            try vm.send(to: kid.rawValue, tag: tag)
        }
        func expectEcho(_ kid: TaskID, _ size: Int, tag: Int32) throws {
            let id = try vm.receive(from: kid.rawValue, tag: -1, timeoutNanoseconds: 20_000_000_000)
            let (bytes, t, _) = try vm.bufferInfo(id)
            XCTAssertEqual(t, tag + 1, "the echoes' order")
            XCTAssertEqual(bytes, Int32(size))
            var back = [UInt8](repeating: 0, count: Int(bytes))
            try back.withUnsafeMutableBufferPointer { try vm.unpack(into: $0.baseAddress!, count: Int(bytes)) }
            XCTAssertTrue(back == pattern(size, Int(tag)), "the echo of \(size) bytes with tag \(tag) differs")
        }
        /// Until the daemon has the task enrolled (before, it holds messages
        /// for it and every first message goes through it).
        func waitForEnrollment(_ kid: TaskID) throws {
            for _ in 0..<1000 {
                if try vm.tasks().contains(where: { $0.tid == kid && $0.flags & 0x4 != 0 }) { return }  // PVM's "c": connected
                usleep(10_000)
            }
            XCTFail("\(kid) did not enroll")
        }
        func check(_ direct: PeerPath) throws {
            let small = try spawnOne(["echo"])
            let large = try spawnOne(["echo"])
            try waitForEnrollment(small)
            try waitForEnrollment(large)
            try send(small, 8, tag: 20)
            XCTAssertEqual(vm.path(to: small), .daemons, "a small first message")
            try send(large, 1 << 20, tag: 20)
            XCTAssertEqual(vm.path(to: large), direct, "a large first message")
            try send(large, 8, tag: 22)
            try send(large, 300_000, tag: 24)
            try expectEcho(large, 1 << 20, tag: 20)
            try expectEcho(large, 8, tag: 22)
            try expectEcho(large, 300_000, tag: 24)
            try expectEcho(small, 8, tag: 20)
            for kid in [small, large] {
                _ = try vm.initSend(encoding: 0)
                try vm.send(to: kid.rawValue, tag: 999)
            }
        }
        try check(.sharedMemory)
        try overTCP { try check(.tcp) }
    }

    /// The same over shared memory, where a large message is pulled from
    /// the sender's memory straight into pvm_precv's (ShmEndpoint.placement).
    func testPrecvOverSharedMemoryTakesLargeMessagesStraightIntoItsMemory() throws {
        let kid = try spawnOne(["echo"])
        try checkPrecvStraightIntoMemory(kid, path: .sharedMemory)
    }

    /// A pvm_precv taking a large message straight into its memory whose
    /// sender is killed in the middle of it: no message (the receive goes on
    /// waiting, here until the sender's exit notify), nothing else harmed;
    /// over shared memory and over TCP.
    func testPrecvWhoseSenderDiesMidMessageGoesOnWaiting() throws {
        try checkPrecvSenderKilledMidMessage()
    }

    func testPrecvOverTCPWhoseSenderDiesMidMessageGoesOnWaiting() throws {
        try overTCP { try checkPrecvSenderKilledMidMessage() }
    }

    func checkPrecvSenderKilledMidMessage(file: StaticString = #filePath, line: UInt = #line) throws {
        let n = 256 << 20
        // The sender's path is set up by a first small message each way.
        let echo = try spawnOne(["echo"])
        var one: [Double] = [1]
        try vm.psend(to: echo.rawValue, tag: 62, data: &one, count: 1, type: 6)
        XCTAssertEqual(try vm.precv(from: echo.rawValue, tag: 63, into: &one, count: 1, type: 6).bytes, 8, file: file, line: line)
        let marker = fixture.base + "/sending-\(UInt64.random(in: 0...UInt64.max))"
        let sender = try spawnOne(["psend-huge", String(n), marker])
        try vm.notify(NotifyKind.taskExit.rawValue, tag: 81, count: 1, tids: [sender.rawValue])
        let pid = try XCTUnwrap(try vm.tasks(where: sender.rawValue).first?.pid, file: file, line: line)
        for _ in 1...3 {
            var ready: Int32 = 0
            XCTAssertEqual(try vm.precv(from: sender.rawValue, tag: 79, into: &ready, count: 1, type: 3).bytes, 4, file: file, line: line)
        }
        close(open(marker + ".go", O_CREAT | O_WRONLY, 0o600))
        // Killed 2 ms after it starts sending (256 MiB take far longer).
        let killer = Thread {
            let deadline = Date().addingTimeInterval(30)
            while access(marker, F_OK) != 0 && Date() < deadline { usleep(200) }
            usleep(2_000)
            kill(pid_t(pid), SIGKILL)
        }
        killer.start()
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: n, alignment: 4096)
        defer { buffer.deallocate() }
        let r = try vm.precv(from: -1, tag: -1, into: buffer, count: n, type: 1)
        if r.tag == 80 {
            // The whole message made it before the kill: then it is intact.
            XCTAssertEqual(r.bytes, n, file: file, line: line)
            XCTAssertEqual(buffer.load(fromByteOffset: n - 8, as: UInt64.self), UInt64(n), file: file, line: line)
        } else {
            XCTAssertEqual(r.tag, 81, "precv returned tag \(r.tag) from \(TaskID(r.source))", file: file, line: line)
            XCTAssertEqual(r.source, TaskID.notifySource.rawValue, file: file, line: line)
        }
        // The library goes on: a large message to and from the other task.
        var data = (0..<300_000).map { Double($0) }
        try vm.psend(to: echo.rawValue, tag: 62, data: &data, count: data.count, type: 6)
        var back = [Double](repeating: 0, count: data.count)
        XCTAssertEqual(try vm.precv(from: echo.rawValue, tag: 63, into: &back, count: back.count, type: 6).bytes, data.count * 8, file: file, line: line)
        XCTAssertTrue(back == data, file: file, line: line)
        _ = try vm.initSend(encoding: 0)
        try vm.send(to: echo.rawValue, tag: 999)
    }

    /// What pvm_precv reports for the echo (tag 63) of a message of `bytes`.
    func assertEcho(_ r: (source: Int32, tag: Int32, bytes: Int), of bytes: Int, from kid: TaskID,
                    file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.bytes, bytes, file: file, line: line)
        XCTAssertEqual(r.source, kid.rawValue, file: file, line: line)
        XCTAssertEqual(r.tag, 63, file: file, line: line)
    }

    func checkPrecvStraightIntoMemory(_ kid: TaskID, path: PeerPath) throws {
        func doubles(_ n: Int, _ k: Int) -> [Double] { (0..<n).map { Double($0 &* 7 &+ k) * 0.25 } }
        // Waiting first: 4 MiB, 300 KB and 100 KB (over shared memory: pulled
        // in one piece up to 256 KiB, pipelined above), each straight into the array.
        for (round, n) in [1 << 19, 37_500, 12_500, 1 << 19].enumerated() {
            var data = doubles(n, round)
            try vm.psend(to: kid.rawValue, tag: 62, data: &data, count: n, type: 6)
            var back = [Double](repeating: -1, count: n)
            assertEcho(try vm.precv(from: kid.rawValue, tag: 63, into: &back, count: n, type: 6), of: n * 8, from: kid)
            XCTAssertTrue(back == data, "round \(round): \(n) doubles")
        }
        XCTAssertEqual(vm.path(to: kid), path)
        // One queued before the receive (its echo, tag 63, arrives first and
        // waits), then the one the receive waits for (tag 65).
        var a = doubles(200_000, 10), b = doubles(150_000, 11)
        try vm.psend(to: kid.rawValue, tag: 62, data: &a, count: a.count, type: 6)
        try vm.psend(to: kid.rawValue, tag: 64, data: &b, count: b.count, type: 6)
        var backB = [Double](repeating: -1, count: b.count)
        XCTAssertEqual(try vm.precv(from: kid.rawValue, tag: 65, into: &backB, count: b.count, type: 6).bytes, b.count * 8)
        var backA = [Double](repeating: -1, count: a.count)
        XCTAssertEqual(try vm.precv(from: kid.rawValue, tag: 63, into: &backA, count: a.count, type: 6).bytes, a.count * 8)
        XCTAssertTrue(backA == a, "the queued message")
        XCTAssertTrue(backB == b, "the message the receive waited for")
        // Larger than the receive's buffer: the first part, the full length.
        var c = doubles(131_072, 12)
        try vm.psend(to: kid.rawValue, tag: 62, data: &c, count: c.count, type: 6)
        var part = [Double](repeating: -1, count: 10_000)
        let cut = try vm.precv(from: kid.rawValue, tag: 63, into: &part, count: part.count, type: 6)
        XCTAssertEqual(cut.bytes, c.count * 8, "precv reports the full length")
        XCTAssertTrue(part == Array(c[0..<10_000]))
        // Any source, any tag: the large one, then the small one behind it.
        var d = doubles(1 << 17, 13)
        var small: [Double] = [42]
        try vm.psend(to: kid.rawValue, tag: 70, data: &d, count: d.count, type: 6)
        try vm.psend(to: kid.rawValue, tag: 72, data: &small, count: 1, type: 6)
        var backD = [Double](repeating: -1, count: d.count)
        let first = try vm.precv(from: -1, tag: -1, into: &backD, count: backD.count, type: 6)
        XCTAssertEqual(first.tag, 71)
        XCTAssertTrue(backD == d)
        var one = [Double](repeating: 0, count: 1 << 17)
        let second = try vm.precv(from: -1, tag: -1, into: &one, count: one.count, type: 6)
        XCTAssertEqual(second.tag, 73)
        XCTAssertEqual(second.bytes, 8)
        XCTAssertEqual(one[0], 42)
        _ = try vm.initSend(encoding: 0)
        try vm.send(to: kid.rawValue, tag: 999)
    }

    func testMessageBuffersFollowPVMsRules() throws {
        let a = try vm.initSend(encoding: 0)
        XCTAssertGreaterThan(a, 0)
        XCTAssertEqual(vm.activeSendBuffer, a)
        XCTAssertEqual(code { _ = try vm.initSend(encoding: 3) }, PVMError.Code.badParam.rawValue)
        XCTAssertEqual(vm.activeSendBuffer, a, "a refused initsend keeps the old buffer")
        let b = try vm.makeBuffer(encoding: 1)
        XCTAssertNotEqual(a, b)
        XCTAssertEqual(try vm.setSendBuffer(b), a)
        XCTAssertEqual(try vm.setSendBuffer(0), b)
        XCTAssertEqual(code { _ = try vm.setSendBuffer(9999) }, PVMError.Code.noSuchBuf.rawValue)
        XCTAssertNil(code { try vm.freeBuffer(0) })
        XCTAssertEqual(code { try vm.freeBuffer(-1) }, PVMError.Code.badParam.rawValue)
        try vm.freeBuffer(b)
        XCTAssertEqual(code { try vm.freeBuffer(b) }, PVMError.Code.noSuchBuf.rawValue)
        XCTAssertEqual(code { _ = try vm.bufferInfo(0) }, PVMError.Code.badParam.rawValue)
        XCTAssertEqual(code { _ = try vm.bufferInfo(b) }, PVMError.Code.noSuchBuf.rawValue)
        XCTAssertEqual(try vm.makeBuffer(encoding: 0), b, "buffer ids are reused")
        var s: [Int16] = [1, 2]
        _ = try vm.setSendBuffer(a)
        try vm.pack(&s, count: 2)
        XCTAssertEqual(try vm.bufferInfo(a).bytes, 4)
        _ = try vm.setSendBuffer(0)
        XCTAssertEqual(code { try vm.pack(&s, count: 1) }, PVMError.Code.noBuf.rawValue)
        XCTAssertEqual(code { try vm.send(to: vm.myTid.rawValue, tag: 1) }, PVMError.Code.noBuf.rawValue)
        // Reading past the end of a received message.
        _ = try vm.initSend(encoding: 0)
        try vm.pack(&s, count: 1)
        try vm.send(to: vm.myTid.rawValue, tag: 2)
        _ = try vm.receive(from: -1, tag: 2, timeoutNanoseconds: nil)
        var out: [Int16] = [0, 0]
        XCTAssertEqual(code { try vm.unpack(into: &out, count: 2) }, PVMError.Code.noData.rawValue)
    }

    func testContextsSeparateMessages() throws {
        let c1 = try vm.newContext()
        XCTAssertEqual(c1 & TaskID.hostMask, 0x40000)
        let old = vm.setContext(c1)
        XCTAssertEqual(old, 0)
        _ = try vm.initSend(encoding: 0)
        try vm.send(to: vm.myTid.rawValue, tag: 5)
        _ = vm.setContext(0)
        XCTAssertEqual(try vm.receive(from: -1, tag: 5, timeoutNanoseconds: 0), 0, "a message of context c1 does not match in context 0")
        _ = vm.setContext(c1)
        XCTAssertGreaterThan(try vm.receive(from: -1, tag: 5, timeoutNanoseconds: 0), 0)
        _ = vm.setContext(0)
        try vm.freeContext(c1)
        XCTAssertEqual(code { try vm.freeContext(c1) }, PVMError.Code.notFound.rawValue)
    }

    func testOptions() throws {
        XCTAssertEqual(try vm.option(PVMOption.route.rawValue), 2)
        XCTAssertEqual(try vm.setOption(PVMOption.route.rawValue, 1), 2)
        XCTAssertEqual(try vm.setOption(PVMOption.route.rawValue, 2), 1)
        XCTAssertEqual(try vm.option(PVMOption.autoErr.rawValue), 1)
        XCTAssertEqual(try vm.option(PVMOption.fragSize.rawValue), 4080)
        XCTAssertEqual(try vm.option(PVMOption.showTids.rawValue), 1)
        XCTAssertEqual(code { _ = try vm.option(26) }, PVMError.Code.badParam.rawValue)
        XCTAssertEqual(code { _ = try vm.option(PVMOption.pollType.rawValue) }, PVMError.Code.badParam.rawValue)
        XCTAssertEqual(code { _ = try vm.setOption(PVMOption.pollTime.rawValue, 1) }, PVMError.Code.notImpl.rawValue)
        XCTAssertEqual(code { _ = try vm.setOption(99, 1) }, PVMError.Code.badParam.rawValue)
    }

    /// Zero copy: loans read in place by the receiver; loans sent to a
    /// normal receiver; receive in place of a message that was queued.
    func testLoansAndReceiveInPlace() throws {
        let kid = try spawnOne(["loan"])
        for n in [1, 4096, 1 << 20, 3 << 20] {
            let ask = Message()
            try ask.pack(n)
            try vm.send(ask, to: kid, tag: 5)
            let ok = try vm.receive(from: kid, tag: 6) { source, tag, bytes -> Bool in
                XCTAssertEqual(source, kid)
                XCTAssertEqual(tag, 6)
                guard bytes.count == n else { return false }
                for i in 0..<n where bytes[i] != UInt8(truncatingIfNeeded: i &* 13 &+ n) { return false }
                return true
            }
            XCTAssertTrue(ok, "loaned message of \(n) bytes read in place")
        }
        // A message already queued is lent from its buffer.
        let ask = Message()
        try ask.pack(100)
        try vm.send(ask, to: kid, tag: 5)
        XCTAssertNil(try vm.receive(from: kid, tag: 99, timeout: .milliseconds(300)))  // lets it arrive and queue
        let count = try vm.receive(from: kid, tag: 6) { _, _, bytes in bytes.count }
        XCTAssertEqual(count, 100)
        // An error thrown inside the body comes out of the receive.
        struct Stop: Error {}
        try vm.send(ask, to: kid, tag: 5)
        XCTAssertThrowsError(try vm.receive(from: kid, tag: 6) { _, _, _ in throw Stop() }) { XCTAssertTrue($0 is Stop) }
        let end = Message()
        try end.pack(0)
        try vm.send(end, to: kid, tag: 5)

        // A loan to a task that receives normally, and one to this task (copied).
        let big = try spawnOne(["big"])
        let n = 2 << 20
        let loan = try vm.loan(capacity: n)
        for i in 0..<n { loan.bytes[i] = UInt8(truncatingIfNeeded: i) }
        try vm.send(loan, count: n, to: big, tag: 5)
        let reply = try vm.receive(from: big, tag: 6)
        var sum: UInt64 = 0
        for i in 0..<n { sum = sum &* 31 &+ UInt64(UInt8(truncatingIfNeeded: i)) &+ UInt64(i & 7) }
        XCTAssertEqual(try reply.unpack(UInt.self), UInt(sum))
        XCTAssertEqual(try reply.unpack(Int.self), n)
        let own = try vm.loan(capacity: 16)
        own.bytes[0] = 42
        try vm.send(own, count: 1, to: vm.myTid, tag: 7)
        XCTAssertEqual(try vm.receive(from: vm.myTid, tag: 7) { _, _, b in b.first }, 42)
    }

    // MARK: Tasks, hosts, notify, kill

    func testTasksConfigStatusAndKill() throws {
        let kid = try spawnOne(["sleep", "60"])
        _ = try vm.receive(from: kid, tag: 1)
        let all = try vm.tasks()
        XCTAssertEqual(Set(all.map(\.tid)), [vm.myTid, kid])
        let child = try XCTUnwrap(all.first { $0.tid == kid })
        XCTAssertEqual(child.parent, vm.myTid.rawValue)
        XCTAssertEqual(child.flags & 0x6, 0x6, "spawned (f) and connected (c)")
        XCTAssertEqual(child.name, "pvm-test-task")
        XCTAssertTrue(VirtualMachineFixture.alive(child.pid))
        XCTAssertEqual(try vm.tasks(where: 0x40000).count, 2)
        XCTAssertEqual(try vm.tasks(where: kid.rawValue).map(\.tid), [kid])
        XCTAssertEqual(try vm.tasks(where: 0x40fff).count, 0)
        XCTAssertEqual(code { _ = try vm.tasks(where: -1) }, PVMError.Code.noHost.rawValue)
        XCTAssertEqual(code { _ = try vm.tasks(where: 0x80000) }, PVMError.Code.noHost.rawValue)

        let hosts = try vm.config()
        XCTAssertEqual(hosts.count, 1)
        XCTAssertEqual(hosts[0].tid, 0x40000)
        XCTAssertEqual(hosts[0].architecture, "LINUX64")
        XCTAssertEqual(hosts[0].signature.rawValue, 0x00408c41)
        XCTAssertEqual(try vm.hostStatus(hosts[0].name), 0)
        XCTAssertEqual(try vm.hostStatus("nosuchhost"), PVMError.Code.noHost.rawValue)

        XCTAssertEqual(try vm.taskStatus(kid.rawValue), 0)
        XCTAssertEqual(try vm.taskStatus(0x40fff), PVMError.Code.noTask.rawValue)
        XCTAssertEqual(code { _ = try vm.taskStatus(0) }, PVMError.Code.badParam.rawValue)
        XCTAssertEqual(code { _ = try vm.taskStatus(TaskID.daemon(host: 1).rawValue) }, PVMError.Code.badParam.rawValue)

        try vm.notifyOnExit(of: [kid], tag: 50)
        try vm.kill(kid.rawValue)
        let note = try vm.receive(from: .notifySource, tag: 50)
        XCTAssertEqual(try note.unpack(Int32.self), kid.rawValue)
        XCTAssertEqual(try vm.taskStatus(kid.rawValue), PVMError.Code.noTask.rawValue)
        XCTAssertTrue(VirtualMachineFixture.eventually { !VirtualMachineFixture.alive(child.pid) })
        XCTAssertNil(code { try vm.kill(0x40fff) }, "killing a task that is gone is not an error")
        XCTAssertEqual(code { try vm.kill(0) }, PVMError.Code.badParam.rawValue)
    }

    /// The Swift API's task control speaks `TaskID` and answers in Swift
    /// terms (a Bool for "is it there", thrown errors), over the same calls.
    func testSwiftTaskControlIsTyped() throws {
        let kid = try spawnOne(["sleep", "30"])
        _ = try vm.receive(from: kid, tag: 1)
        let host = try XCTUnwrap(try vm.config().first).id
        XCTAssertEqual(VirtualMachine.host(of: kid), host)
        XCTAssertEqual(try vm.tasks(of: kid).map(\.tid), [kid])
        XCTAssertEqual(Set(try vm.tasks(onHost: host).map(\.tid)), [vm.myTid, kid])
        XCTAssertTrue(try vm.isRunning(kid))
        try vm.notifyOnExit(of: [kid], tag: 70)
        try vm.signal(kid, SIGKILL)
        XCTAssertEqual(try vm.receive(from: .notifySource, tag: 70).unpack(Int32.self), kid.rawValue)
        XCTAssertFalse(try vm.isRunning(kid))
        XCTAssertNil(code { try vm.kill(kid) }, "killing a task that is gone is not an error")
        XCTAssertEqual(code { _ = try vm.isRunning(TaskID.daemon(host: 1)) }, PVMError.Code.badParam.rawValue)
        // Host notifications: a cancelled HostDelete is sent at once.
        try vm.notifyOnHostDelete(of: [host], tag: 71)
        XCTAssertNil(try vm.receive(from: .any, tag: 71, timeout: .milliseconds(100)))
        try vm.notifyOnHostDelete(of: [host], tag: 71, cancel: true)
        XCTAssertEqual(try vm.receive(from: .notifySource, tag: 71).unpack(Int32.self), host.rawValue)
        try vm.notifyOnHostAdd(tag: 72)
        XCTAssertNil(try vm.receive(from: .any, tag: 72, timeout: .milliseconds(50)))
    }

    func testNotifyKinds() throws {
        // A task that is already gone (or never was) triggers at once.
        try vm.notify(NotifyKind.taskExit.rawValue, tag: 60, count: 1, tids: [0x40fff])
        XCTAssertEqual(try vm.receive(from: .notifySource, tag: 60).unpack(Int32.self), 0x40fff)
        // HostDelete with cancel is delivered right away, as PVM does.
        try vm.notify(NotifyKind.hostDelete.rawValue, tag: 61, count: 1, tids: [0x40000])
        XCTAssertNil(try vm.receive(from: .any, tag: 61, timeout: .milliseconds(100)))
        try vm.notify(NotifyKind.hostDelete.rawValue | NotifyKind.cancel, tag: 61, count: 1, tids: [0x40000])
        XCTAssertEqual(try vm.receive(from: .notifySource, tag: 61).unpack(Int32.self), 0x40000)
        try vm.notify(NotifyKind.hostAdd.rawValue, tag: 62, count: -1, tids: [])
        XCTAssertEqual(code { try vm.notify(9, tag: 1, count: 0, tids: []) }, PVMError.Code.badParam.rawValue)
        // A cancelled TaskExit does not fire.
        let kid = try spawnOne(["sleep", "1"])
        _ = try vm.receive(from: kid, tag: 1)
        try vm.notify(NotifyKind.taskExit.rawValue, tag: 63, count: 1, tids: [kid.rawValue])
        try vm.notify(NotifyKind.taskExit.rawValue | NotifyKind.cancel, tag: 63, count: 1, tids: [kid.rawValue])
        try vm.notifyOnExit(of: [kid], tag: 64)
        _ = try vm.receive(from: .notifySource, tag: 64)
        XCTAssertNil(try vm.receive(from: .any, tag: 63, timeout: .zero))
    }

    // MARK: Output

    func testCatchoutFramesEachChildsOutput() throws {
        let path = fixture.base + "/caught.txt"
        let file = try XCTUnwrap(fopen(path, "w"))
        vm.catchOutput(to: file)
        let kid = try spawnOne(["print"])
        try vm.notifyOnExit(of: [kid], tag: 70)
        _ = try vm.receive(from: .notifySource, tag: 70)
        vm.catchOutput(to: nil)
        try vm.exit()  // waits for the children's output to end
        fclose(file)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertEqual(text, """
            [\(kid)] BEGIN
            [\(kid)] line one from \(kid)
            [\(kid)] line two
            [\(kid)] partial
            [\(kid)] EOF

            """)
    }

    func testOutputNobodyCatchesGoesToTheDaemonLog() throws {
        let kid = try spawnOne(["print"])
        try vm.notifyOnExit(of: [kid], tag: 71)
        _ = try vm.receive(from: .notifySource, tag: 71)
        XCTAssertTrue(VirtualMachineFixture.eventually { self.fixture.log.contains("[\(kid)] line one from \(kid)") }, fixture.log)
        XCTAssertTrue(VirtualMachineFixture.eventually { self.fixture.log.contains("[\(kid)] partial") }, fixture.log)
    }
}
