import Foundation
import PVM
import PVMTestSupport
import XCTest

/// The message mailbox against a real daemon and real spawned tasks (the
/// `mbox-` modes of pvm-test-task): ownership and persistence across a
/// task's exit, index allocation, rights, read-and-delete, waiting for an
/// entry, reset, and requests the daemon must survive. (Named "Group…": the
/// mailbox came with the groups issue, whose tests run with `--filter Group`.)
final class GroupMailboxTests: XCTestCase {
    var fixture: VirtualMachineFixture!
    var vm: VirtualMachine!

    override func setUpWithError() throws {
        fixture = VirtualMachineFixture()
        vm = try VirtualMachine.shared()
    }

    override func tearDown() {
        if let vm {
            _ = try? vm.setOption(PVMOption.noReset.rawValue, 0)
            try? vm.exit()
        }
        XCTAssertTrue(fixture.halt(), "the daemon did not halt cleanly")
    }

    func code(_ body: () throws -> Void) -> Int32? {
        do { try body(); return nil } catch let e as PVMError { return e.code } catch { return -999 }
    }

    func message(_ value: Int32) throws -> Message {
        let m = Message()
        try m.pack(value)
        return m
    }

    func value(_ name: String, index: Int32 = 0, flags: MailboxFlags = []) throws -> Int32 {
        try vm.info(name, index: index, flags: flags).unpack(Int32.self)
    }

    func spawnOne(_ args: [String]) throws -> TaskID {
        try XCTUnwrap(vm.spawn("pvm-test-task", arguments: args).first)
    }

    /// Waits until `task` has exited (its TaskExit notify has come).
    func waitForExit(of task: TaskID, tag: MessageTag = 90) throws {
        try vm.notifyOnExit(of: [task], tag: tag)
        let note = try XCTUnwrap(try vm.receive(from: .notifySource, tag: tag, timeout: .seconds(20)), "\(task) did not exit")
        XCTAssertEqual(try note.unpack(Int32.self), task.rawValue)
    }

    func entries(_ name: String) throws -> [MailboxEntry] {
        try vm.mailboxClasses(matching: name).first { $0.name == name }?.entries ?? []
    }

    // MARK: Ownership and persistence

    /// A task puts a persistent and a plain entry and exits: the persistent
    /// one stays, with owner 0 (listed and read so), the plain one is gone.
    /// Nobody else may delete or replace the orphan; `reset info` removes it.
    func testGroupMailboxPersistentEntryOutlivesItsOwner() throws {
        let kid = try spawnOne(["mbox-put", "hold"])
        let reported = try XCTUnwrap(try vm.receive(from: kid, tag: 1, timeout: .seconds(20)))
        XCTAssertEqual(try reported.unpack(Int32.self, count: 2), [0, 0])
        // While the owner lives, both are there and owned by it.
        XCTAssertEqual(try entries("mbox.persist"), [MailboxEntry(index: 0, owner: kid, flags: .persistent)])
        XCTAssertEqual(try entries("mbox.plain").map(\.owner), [kid])
        try vm.send(try message(0), to: kid, tag: 2)
        try waitForExit(of: kid)

        XCTAssertEqual(try entries("mbox.persist"), [MailboxEntry(index: 0, owner: TaskID(0), flags: .persistent)])
        XCTAssertTrue(try entries("mbox.persist")[0].isOrphan)
        let orphan = try vm.info("mbox.persist")
        XCTAssertEqual(orphan.source, kid, "an orphan's message still comes from the task that put it")
        XCTAssertEqual(orphan.tag, 0)
        XCTAssertEqual(try orphan.unpack(Int32.self), kid.rawValue, "the message is the one the task put")
        XCTAssertEqual(code { _ = try vm.info("mbox.plain") }, PVMError.Code.notFound.rawValue, "a plain entry goes with its owner")
        XCTAssertTrue(try vm.mailboxClasses(matching: "mbox.plain").isEmpty, "an empty class is not listed")

        XCTAssertEqual(code { _ = try vm.deleteInfo("mbox.persist") }, PVMError.Code.denied.rawValue)
        XCTAssertEqual(code { _ = try vm.putInfo("mbox.persist", try self.message(1)) }, PVMError.Code.denied.rawValue)
        XCTAssertEqual(code { _ = try vm.info("mbox.persist", flags: .readAndDelete) }, PVMError.Code.denied.rawValue)
        XCTAssertEqual(try vm.removeOrphanedInfo("mbox.other"), 0)
        XCTAssertEqual(try vm.removeOrphanedInfo("mbox.persist", index: 3), 0)
        XCTAssertEqual(try vm.removeOrphanedInfo(), 1)
        XCTAssertEqual(code { _ = try vm.info("mbox.persist") }, PVMError.Code.notFound.rawValue)
    }

    /// Another task may read an entry but not replace, delete or take it
    /// (PvmDenied, not PvmExists), unless it was put overwritable; the
    /// replacement is then the other task's, and goes when it exits.
    func testGroupMailboxOverWritableAndDeniedForOthers() throws {
        XCTAssertEqual(try vm.putInfo("mbox.mine", try message(10)), 0)
        XCTAssertEqual(try vm.putInfo("mbox.mine", try message(11)), 0, "the owner replaces its entry")
        XCTAssertEqual(try vm.putInfo("mbox.open", try message(20), flags: .overWritable), 0)
        let kid = try spawnOne(["mbox-rights"])
        let reported = try XCTUnwrap(try vm.receive(from: kid, tag: 1, timeout: .seconds(20)))
        let denied = PVMError.Code.denied.rawValue
        XCTAssertEqual(try reported.unpack(Int32.self, count: 5), [denied, denied, denied, 0, 11],
                       "put over mine, delete mine, take mine, put over an overwritable one, read mine")
        XCTAssertEqual(try value("mbox.mine"), 11)
        let open = try vm.info("mbox.open")
        XCTAssertEqual(open.source, kid, "the overwritten entry is the other task's now")
        XCTAssertEqual(try open.unpack(Int32.self), kid.rawValue)
        XCTAssertEqual(try entries("mbox.open").map(\.flags), [[]], "with the flags it was put with")
        try vm.send(try message(0), to: kid, tag: 2)
        try waitForExit(of: kid)
        XCTAssertEqual(code { _ = try vm.info("mbox.open") }, PVMError.Code.notFound.rawValue)
        XCTAssertEqual(try vm.deleteInfo("mbox.mine"), 0)
        XCTAssertEqual(code { _ = try vm.deleteInfo("mbox.mine") }, PVMError.Code.notFound.rawValue)
    }

    // MARK: Indices

    /// MultiInstance takes the lowest free index (refilling holes), at or
    /// above a direct index, and never replaces; without it a direct index
    /// puts exactly there; FirstAvail gets the first at or above; a delete
    /// is of one exact index.
    func testGroupMailboxMultiInstanceReusesTheLowestFreeIndex() throws {
        for (i, v) in [100, 101, 102].enumerated() {
            XCTAssertEqual(try vm.putInfo("mbox.multi", try message(Int32(v)), flags: .multiInstance), Int32(i))
        }
        XCTAssertEqual(try vm.deleteInfo("mbox.multi", index: 1), 1)
        XCTAssertEqual(try vm.putInfo("mbox.multi", try message(103), flags: .multiInstance), 1, "the hole is refilled")
        XCTAssertEqual(try vm.putInfo("mbox.multi", try message(104), flags: .multiInstance), 3)
        XCTAssertEqual(try vm.putInfo("mbox.multi", try message(107), flags: [.multiInstance, .directIndex(7)]), 7)
        XCTAssertEqual(try vm.putInfo("mbox.multi", try message(105), flags: [.multiInstance, .firstAvailable, .directIndex(2)]), 4,
                       "the first free index at or above 2")
        XCTAssertEqual(try vm.putInfo("mbox.multi", try message(108), flags: [.multiInstance, .directIndex(7)]), 8, "MultiInstance never replaces")
        XCTAssertEqual(try entries("mbox.multi").map(\.index), [0, 1, 2, 3, 4, 7, 8])
        XCTAssertEqual(try entries("mbox.multi")[5].flags, [.multiInstance, .directIndex(7)])
        XCTAssertEqual(MailboxFlags([.multiInstance, .directIndex(7)]).rawValue, 0x1c02)
        XCTAssertEqual(MailboxFlags([.multiInstance, .directIndex(7)]).directIndex, 7)
        XCTAssertEqual(try value("mbox.multi", index: 1), 103)
        XCTAssertEqual(try value("mbox.multi", index: 7), 107)
        XCTAssertEqual(try value("mbox.multi", index: 5, flags: .firstAvailable), 107)
        let (found, m) = try vm.indexedInfo("mbox.multi", index: 5, flags: .firstAvailable)
        XCTAssertEqual(found, 7)
        XCTAssertEqual(try m.unpack(Int32.self), 107)
        XCTAssertEqual(code { _ = try vm.info("mbox.multi", index: 9, flags: .firstAvailable) }, PVMError.Code.notFound.rawValue)
        XCTAssertEqual(code { _ = try vm.info("mbox.multi", index: 5) }, PVMError.Code.notFound.rawValue)
        XCTAssertEqual(code { _ = try vm.deleteInfo("mbox.multi", index: 5, flags: .firstAvailable) }, PVMError.Code.notFound.rawValue,
                       "a delete is of one exact index")
        XCTAssertEqual(try vm.deleteInfo("mbox.multi", index: 7), 7)
        // Without MultiInstance a put is index 0 (or its direct index).
        XCTAssertEqual(try vm.putInfo("mbox.single", try message(1)), 0)
        XCTAssertEqual(try vm.putInfo("mbox.single", try message(2)), 0)
        XCTAssertEqual(try vm.putInfo("mbox.single", try message(3), flags: .directIndex(5)), 5)
        XCTAssertEqual(try vm.putInfo("mbox.single", try message(4), flags: .directIndex(5)), 5, "the owner replaces index 5")
        XCTAssertEqual(try entries("mbox.single").map(\.index), [0, 5])
        XCTAssertEqual(try value("mbox.single", index: 5), 4)
        // Bad arguments.
        XCTAssertEqual(code { _ = try vm.putInfo("", try self.message(1)) }, PVMError.Code.badParam.rawValue)
        XCTAssertEqual(code { _ = try vm.info("mbox.multi", index: -1) }, PVMError.Code.badParam.rawValue)
        XCTAssertEqual(code { _ = try vm.deleteInfo("mbox.multi", index: -1) }, PVMError.Code.badParam.rawValue)
    }

    /// ReadAndDelete fetches and removes in one step; the next such get
    /// finds the next entry.
    func testGroupMailboxReadAndDelete() throws {
        for v in [1, 2, 3] { _ = try vm.putInfo("mbox.queue", try message(Int32(v)), flags: .multiInstance) }
        var taken: [Int32] = []
        while true {
            guard let v = try? value("mbox.queue", flags: [.firstAvailable, .readAndDelete]) else { break }
            taken.append(v)
        }
        XCTAssertEqual(taken, [1, 2, 3])
        XCTAssertTrue(try vm.mailboxClasses(matching: "mbox.queue").isEmpty)
        XCTAssertEqual(code { _ = try vm.info("mbox.queue", flags: .readAndDelete) }, PVMError.Code.notFound.rawValue)
    }

    // MARK: Waiting for an entry

    /// WaitForInfo waits until the entry is put; a message that arrives
    /// meanwhile is kept for a later receive. Tasks waiting with
    /// ReadAndDelete are served in turn, one entry each.
    func testGroupMailboxWaitForInfo() throws {
        let kid = try spawnOne(["mbox-later"])
        let start = Date()
        let m = try vm.info("mbox.later", flags: .waitForInfo)
        XCTAssertGreaterThan(Date().timeIntervalSince(start), 0.2, "the get waited for the put")
        XCTAssertEqual(try m.unpack(Int32.self), 77)
        XCTAssertEqual(m.source, kid)
        let early = try XCTUnwrap(try vm.receive(from: kid, tag: 5, timeout: .seconds(5)), "the message sent during the wait was lost")
        XCTAssertEqual(try early.unpack(Int32.self), 5)
        try vm.send(try message(0), to: kid, tag: 2)
        try waitForExit(of: kid)

        // Two takers wait; two puts serve one each, and nothing is left.
        let a = try spawnOne(["mbox-take", "mbox.job"])
        let b = try spawnOne(["mbox-take", "mbox.job"])
        XCTAssertTrue(VirtualMachineFixture.eventually { ((try? self.vm.tasks()) ?? []).filter { [a, b].contains($0.tid) }.count == 2 })
        usleep(200_000)
        // Overwritable: the takers may delete what they read.
        _ = try vm.putInfo("mbox.job", try message(1), flags: [.multiInstance, .overWritable])
        _ = try vm.putInfo("mbox.job", try message(2), flags: [.multiInstance, .overWritable])
        var got: [Int32] = []
        for k in [a, b] {
            let r = try XCTUnwrap(try vm.receive(from: k, tag: 1, timeout: .seconds(20)), "\(k) did not get an entry")
            let pair = try r.unpack(Int32.self, count: 2)
            XCTAssertEqual(pair[1], vm.myTid.rawValue, "the source of an entry is its owner")
            got.append(pair[0])
        }
        XCTAssertEqual(got.sorted(), [1, 2])
        XCTAssertTrue(try vm.mailboxClasses(matching: "mbox.job").isEmpty)
    }

    /// A task that exits while it waits for an entry is forgotten: the
    /// entry put later is not taken by it, and the daemon goes on.
    func testGroupMailboxWaiterThatExitsIsDropped() throws {
        let kid = try spawnOne(["mbox-wait"])
        _ = try XCTUnwrap(try vm.receive(from: kid, tag: 1, timeout: .seconds(20)))
        usleep(200_000)  // it is waiting now
        try vm.kill(kid.rawValue)
        try waitForExit(of: kid)
        // Overwritable: a waiter left behind would take (read and delete) it.
        XCTAssertEqual(try vm.putInfo("mbox.never", try message(9), flags: .overWritable), 0)
        XCTAssertEqual(try value("mbox.never"), 9, "a waiter that is gone took the entry")
        XCTAssertEqual(try vm.taskStatus(vm.myTid.rawValue), 0)
    }

    // MARK: Messages

    /// What comes back is the message as it was put: every encoding (an
    /// InPlace one copied at the put), large ones, and pvm_recvinfo's
    /// buffer is the active receive buffer, from the owner with tag 0.
    func testGroupMailboxMessageComesBackAsPut() throws {
        for encoding in [Encoding.default, .raw] {
            let m = Message(encoding: encoding)
            try m.pack(Int32(-7))
            try m.pack([1.5, 2.5])
            try m.pack("hello mailbox")
            _ = try vm.putInfo("mbox.kinds", m)
            let r = try vm.info("mbox.kinds")
            XCTAssertEqual(r.buffer.encoding, encoding)
            XCTAssertEqual(try r.unpack(Int32.self), -7)
            XCTAssertEqual(try r.unpack(Double.self, count: 2), [1.5, 2.5])
            XCTAssertEqual(try r.unpackString(), "hello mailbox")
            XCTAssertEqual(r.byteCount, m.byteCount)
        }
        // InPlace through buffer ids (the C library's path): the data is taken at the put.
        let data = UnsafeMutablePointer<Int32>.allocate(capacity: 4)
        defer { data.deallocate() }
        for i in 0..<4 { data[i] = Int32(i + 1) }
        let id = try vm.makeBuffer(encoding: Encoding.inPlace.rawValue)
        _ = try vm.setSendBuffer(id)
        try vm.pack(UnsafePointer(data), count: 4)
        XCTAssertEqual(try vm.putInfo("mbox.inplace", bufferID: id, flags: 0), 0)
        for i in 0..<4 { data[i] = 0 }
        try vm.freeBuffer(id)
        let rb = try vm.receiveInfo("mbox.inplace", index: 0, flags: 0)
        XCTAssertEqual(vm.activeReceiveBuffer, rb)
        let info = try vm.bufferInfo(rb)
        XCTAssertEqual(info.bytes, 16)
        XCTAssertEqual(info.tag, 0)
        XCTAssertEqual(info.source, vm.myTid.rawValue)
        XCTAssertEqual(try vm.messageInfo(rb)[4], 0x2000_0000, "still an InPlace message")
        var back = [Int32](repeating: -1, count: 4)
        try back.withUnsafeMutableBufferPointer { try vm.unpack(into: $0.baseAddress!, count: 4) }
        XCTAssertEqual(back, [1, 2, 3, 4])
        // A second recvinfo frees the first buffer, as a receive does.
        let rb2 = try vm.receiveInfo("mbox.inplace", index: 0, flags: 0)
        XCTAssertEqual(vm.activeReceiveBuffer, rb2)
        XCTAssertEqual(code { _ = try vm.putInfo("mbox.bad", bufferID: 12345, flags: 0) }, PVMError.Code.noSuchBuf.rawValue,
                       "an unknown buffer is PvmNoSuchBuf (PVM 3.4 hangs)")
        // Larger than a control string may be (1 MiB): tasks of the master's host have no limit.
        let big = Message(encoding: .raw)
        let bytes = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try big.pack(bytes)
        _ = try vm.putInfo("mbox.big", big)
        let r = try vm.info("mbox.big")
        XCTAssertEqual(r.byteCount, bytes.count)
        XCTAssertEqual(try r.unpack(UInt8.self, count: bytes.count) == bytes, true)
    }

    // MARK: Listing, no-reset tasks and reset

    /// Classes in the order they were made, matched as PVM does (`*`, and
    /// anywhere in the name); the no-reset class lists the tasks that set
    /// PvmNoReset; reset removes every entry but those of the tasks that
    /// survive it (orphans included).
    func testGroupMailboxClassesNoResetsAndReset() throws {
        _ = try vm.putInfo("mbox.b", try message(1))
        _ = try vm.putInfo("mbox.a", try message(1), flags: .multiInstance)
        _ = try vm.putInfo("mbox.a", try message(2), flags: [.multiInstance, .persistent])
        _ = try vm.putInfo("other", try message(1))
        XCTAssertEqual(try vm.mailboxClasses(matching: "mbox.*").map(\.name), ["mbox.b", "mbox.a"])
        XCTAssertEqual(try vm.mailboxClasses(matching: "box").map(\.name), ["mbox.b", "mbox.a"])
        XCTAssertEqual(try vm.mailboxClasses(matching: "o*r").map(\.name), ["other"])
        XCTAssertEqual(try vm.mailboxClasses(matching: "mbox.?"), [], "only * is special")
        XCTAssertEqual(try vm.mailboxClasses(matching: "*").map(\.name), ["mbox.b", "mbox.a", "other"])
        XCTAssertEqual(try vm.mailboxClasses(matching: "").map(\.name), ["mbox.b", "mbox.a", "other"])
        XCTAssertEqual(try vm.mailboxClasses(matching: "nothing*"), [])
        XCTAssertEqual(try entries("mbox.a"), [MailboxEntry(index: 0, owner: vm.myTid, flags: .multiInstance),
                                             MailboxEntry(index: 1, owner: vm.myTid, flags: [.multiInstance, .persistent])])

        XCTAssertEqual(try vm.noResetTasks(), [])
        XCTAssertEqual(try vm.setOption(PVMOption.noReset.rawValue, 1), 0)
        XCTAssertEqual(try vm.noResetTasks(), [vm.myTid])
        XCTAssertEqual(try entries(MailboxClassName.noReset).map(\.flags), [.multiInstance])
        XCTAssertEqual(try vm.setOption(PVMOption.noReset.rawValue, 1), 1)
        XCTAssertEqual(try entries(MailboxClassName.noReset).count, 1, "set twice, listed once")

        // An orphan, and a task that reset kills, with entries of both kinds.
        let putter = try spawnOne(["mbox-put"])
        _ = try XCTUnwrap(try vm.receive(from: putter, tag: 1, timeout: .seconds(20)))
        try waitForExit(of: putter)
        let victim = try spawnOne(["mbox-sleep"])
        _ = try XCTUnwrap(try vm.receive(from: victim, tag: 1, timeout: .seconds(20)))
        XCTAssertEqual(Set(try vm.mailboxClasses().map(\.name)),
                       ["mbox.a", "mbox.b", "other", "mbox.persist", "mbox.victim", "mbox.victim.plain", MailboxClassName.noReset])
        try vm.notifyOnExit(of: [victim], tag: 91)
        try vm.reset()
        XCTAssertEqual(Set(try vm.mailboxClasses().map(\.name)), ["mbox.a", "mbox.b", "other", MailboxClassName.noReset],
                       "reset keeps the entries of the tasks that survive it, and only those")
        _ = try XCTUnwrap(try vm.receive(from: .notifySource, tag: 91, timeout: .seconds(20)), "reset did not kill \(victim)")
        XCTAssertEqual(try vm.noResetTasks(), [vm.myTid])

        XCTAssertEqual(try vm.setOption(PVMOption.noReset.rawValue, 0), 1)
        XCTAssertEqual(try vm.noResetTasks(), [])
        try vm.reset()
        XCTAssertEqual(try vm.mailboxClasses().map(\.name), ["mbox.b", "mbox.a", "other"], "the caller of reset survives it")
    }

    // MARK: The PVM 3.3 database

    /// pvm_insert/lookup/delete: persistent one-int entries, an index taken
    /// is PvmDupEntry (PvmDenied) even for their owner.
    func testGroupMailboxDatabaseCalls() throws {
        XCTAssertEqual(try vm.databaseInsert("mbox.db", index: -1, value: 42), 0)
        XCTAssertEqual(try vm.databaseInsert("mbox.db", index: -1, value: 43), 1)
        XCTAssertEqual(try vm.databaseInsert("mbox.db", index: 5, value: 45), 5)
        XCTAssertEqual(code { _ = try vm.databaseInsert("mbox.db", index: 5, value: 46) }, PVMError.Code.denied.rawValue)
        XCTAssertEqual(try entries("mbox.db").map(\.flags), Array(repeating: [.persistent, .multiInstance], count: 3))
        XCTAssertEqual(try vm.databaseLookup("mbox.db", index: -1).value, 42)
        XCTAssertEqual(try vm.databaseLookup("mbox.db", index: 5).value, 45)
        XCTAssertEqual(try vm.databaseDelete("mbox.db", index: 0), 0)
        XCTAssertEqual(try vm.databaseLookup("mbox.db", index: -1).index, 1)
        XCTAssertEqual(code { _ = try vm.databaseLookup("mbox.db", index: 0) }, PVMError.Code.notFound.rawValue)
        XCTAssertEqual(code { _ = try vm.databaseInsert("mbox.db", index: -2, value: 0) }, PVMError.Code.badParam.rawValue)
        XCTAssertEqual(code { _ = try vm.databaseDelete("mbox.db", index: -1) }, PVMError.Code.badParam.rawValue)
    }

    // MARK: Malformed requests

    /// Mailbox requests with bodies that end early or name no request are
    /// answered with PvmBadMsg; the daemon and this task go on.
    func testGroupMailboxMalformedRequestsAreAnswered() throws {
        let fd = try DaemonFaultTests.connect(fixture.runtimeDirectory + "/pvmd.sock")
        let connection = FrameConnection(fd: fd)
        defer { connection.close() }
        func ask(_ op: DaemonOperation, _ body: [UInt8]) throws -> [UInt8] {
            let h = FrameHeader(bodyLength: 0, tag: op.rawValue, context: SystemContext.daemon, source: 0,
                                destination: TaskID.daemon(host: 1).rawValue, encoding: .raw)
            XCTAssertTrue(connection.send(h, body: body) && connection.flushBlocking(timeoutMilliseconds: 5000))
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline {
                if let (header, frame) = try connection.nextFrame(), header.tag == op.rawValue {
                    return Array(UnsafeRawBufferPointer(rebasing: frame[FrameHeader.size...]))
                }
                _ = connection.wait(timeoutMilliseconds: 100)
                guard connection.fill() else { throw PVMError(.sysErr, "the daemon closed the connection") }
            }
            throw PVMError(.sysErr, "no reply to \(op)")
        }
        var hello = ControlWriter()
        hello.int(Int32(getpid())); hello.string(""); hello.int(0)
        var r = ControlReader(try ask(.connect, hello.bytes))
        XCTAssertEqual(try r.int(), 0)
        func answer(to body: ControlWriter) throws -> Int32 {
            var r = ControlReader(try ask(.mailbox, body.bytes))
            return try r.int()
        }
        var w = ControlWriter()
        XCTAssertEqual(try answer(to: w), PVMError.Code.badMsg.rawValue, "an empty body")
        w.int(99)
        XCTAssertEqual(try answer(to: w), PVMError.Code.badMsg.rawValue, "an unknown request")
        w = ControlWriter(); w.int(MailboxRequest.put.rawValue); w.int(1 << 30)
        XCTAssertEqual(try answer(to: w), PVMError.Code.badMsg.rawValue, "a name longer than the body")
        w = ControlWriter(); w.int(MailboxRequest.get.rawValue); w.string("x")
        XCTAssertEqual(try answer(to: w), PVMError.Code.badMsg.rawValue, "a get without index")
        w = ControlWriter(); w.int(MailboxRequest.put.rawValue); w.string("x"); w.int(0); w.int(0); w.int(0x0bad_0bad)
        let bogus = try answer(to: w)
        XCTAssertEqual(bogus, 0, "a bad data signature is the reader's problem: stored")
        XCTAssertEqual(code { _ = try self.vm.info("x") }, PVMError.Code.badMsg.rawValue, "and refused when read")
        XCTAssertEqual(try vm.putInfo("mbox.after", try message(3)), 0)
        XCTAssertEqual(try value("mbox.after"), 3)
    }
}

/// The mailbox from tasks of another host (a network-namespace host, as in
/// MultiHostTests): their requests go through their daemon to the
/// master's, waits included; their entries go with them, also when their
/// host is deleted; a message too large for the link between daemons is
/// refused (PvmOutOfRes) instead of breaking it.
final class GroupMailboxAcrossHostsTests: MultiHostTestCase {
    override class var hostCount: Int { 1 }

    /// Test host 1 in the machine.
    func addHost() throws { try addHosts([1]) }

    func spawnRemote(_ args: [String]) throws -> TaskID {
        let t = try XCTUnwrap(try vm.spawn("pvm-test-task", arguments: args, flags: .host, where: network.address(1)).first)
        XCTAssertEqual(t.hostNumber, 2)
        return t
    }

    func message(_ value: Int32) throws -> Message {
        let m = Message()
        try m.pack(value)
        return m
    }

    func entries(_ name: String) throws -> [MailboxEntry] {
        try vm.mailboxClasses(matching: name).first { $0.name == name }?.entries ?? []
    }

    func testGroupMailboxAcrossHosts() throws {
        try addHost()
        // A remote task takes an entry that is there, then one put while it waits.
        _ = try vm.putInfo("mbox.shared", try message(42), flags: .overWritable)
        let taker = try spawnRemote(["mbox-take", "mbox.shared"])
        let took = try XCTUnwrap(try vm.receive(from: taker, tag: 1, timeout: .seconds(20)), "the remote task got no entry")
        XCTAssertEqual(try took.unpack(Int32.self, count: 2), [42, vm.myTid.rawValue])
        XCTAssertTrue(try entries("mbox.shared").isEmpty, "read and delete from another host")
        let waiter = try spawnRemote(["mbox-take", "mbox.later"])
        usleep(300_000)
        _ = try vm.putInfo("mbox.later", try message(7), flags: .overWritable)
        let waited = try XCTUnwrap(try vm.receive(from: waiter, tag: 1, timeout: .seconds(20)), "the remote waiter was not answered")
        XCTAssertEqual(try waited.unpack(Int32.self, count: 2), [7, vm.myTid.rawValue])

        // A remote task's entries: owned by it; when it exits the persistent one stays.
        var putter = try spawnRemote(["mbox-put", "hold"])
        _ = try XCTUnwrap(try vm.receive(from: putter, tag: 1, timeout: .seconds(20)))
        XCTAssertEqual(try entries("mbox.persist").map(\.owner), [putter])
        XCTAssertEqual(try vm.info("mbox.plain").source, putter)
        do { _ = try vm.deleteInfo("mbox.plain"); XCTFail("deleted another host's task's entry") } catch {
            XCTAssertEqual(error.code, PVMError.Code.denied.rawValue)
        }
        try vm.notifyOnExit(of: [putter], tag: 90)
        try vm.send(try message(0), to: putter, tag: 2)
        _ = try XCTUnwrap(try vm.receive(from: .notifySource, tag: 90, timeout: .seconds(20)))
        XCTAssertTrue(VirtualMachineFixture.eventually { ((try? self.entries("mbox.persist")) ?? []).map(\.owner) == [TaskID(0)] })
        XCTAssertTrue(try entries("mbox.plain").isEmpty)

        // Size: a forwarded body is the rest of one frame on the daemons'
        // link, so messages larger than a control string (1 MiB) cross too.
        _ = try vm.putInfo("mbox.big", { let m = Message(encoding: .raw); try m.pack([UInt8](repeating: 1, count: 2 << 20)); return m }())
        _ = try vm.putInfo("mbox.mid", { let m = Message(encoding: .raw); try m.pack([UInt8](repeating: 2, count: 512 << 10)); return m }())
        let sizer = try spawnRemote(["mbox-big"])
        let sizes = try XCTUnwrap(try vm.receive(from: sizer, tag: 1, timeout: .seconds(20)))
        // (The 2 MiB entry it put is gone with it as it exits: not persistent.)
        XCTAssertEqual(try sizes.unpack(Int32.self, count: 3), [0, 2 << 20, 512 << 10])

        // The host deleted with a task on it: its entries go as if it exited.
        XCTAssertEqual(try vm.removeOrphanedInfo(), 1)
        putter = try spawnRemote(["mbox-put", "hold"])
        _ = try XCTUnwrap(try vm.receive(from: putter, tag: 1, timeout: .seconds(20)))
        XCTAssertEqual(try vm.deleteHosts([network.address(1)]), [0])
        XCTAssertTrue(VirtualMachineFixture.eventually { ((try? self.entries("mbox.persist")) ?? []).map(\.owner) == [TaskID(0)] },
                      "\(String(describing: try? vm.mailboxClasses()))")
        XCTAssertTrue(try entries("mbox.plain").isEmpty)
        XCTAssertEqual(try vm.putInfo("mbox.after", try message(1)), 0, "the master serves on")
    }
}
