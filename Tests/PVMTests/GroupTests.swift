import Foundation
import PVM
import PVMTestSupport
import XCTest

// Dynamic groups, collectives, message handlers and contexts, on real
// processes: the members are `pvm-test-task group-serve` tasks, each run by
// its parent (this test process, itself a PVM task) one command at a time.
// GroupTests runs on one host; MultiHostGroupTests on network-namespace hosts.

/// A failure of the harness below, with a message meant for people.
struct GroupTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// One answer of a `group-serve` task: its code (the call's result or its
/// negative PVM error), the Int32s the command adds, and the typed results
/// of the commands that pack some (gather-double, scatter-double, reduce-all).
struct GroupReply {
    let code: Int32
    let extra: [Int32]
    let typed: ReceivedMessage?
}

/// Spawns `group-serve` tasks and talks to them.
struct GroupMembers {
    let vm: VirtualMachine

    /// `count` new members-to-be on `host` (nil: wherever PVM puts them).
    func spawn(_ count: Int, on host: String? = nil) throws -> [TaskID] {
        let tids = try vm.spawn("pvm-test-task", arguments: ["group-serve"], flags: host == nil ? [] : .host,
                                where: host ?? "", count: count)
        guard tids.count == count else { throw GroupTestError("spawned \(tids.count) of \(count) group-serve tasks") }
        return tids
    }

    /// Sends `command` to `task` without waiting for its answer.
    func post(_ task: TaskID, _ command: String) throws {
        let m = Message()
        try m.pack(command)
        try vm.send(m, to: task, tag: 100)
    }

    /// The next answer of `task`; nil if none comes within `timeout` seconds.
    func reply(_ task: TaskID, timeout: Double = 10) throws -> GroupReply? {
        guard let r = try vm.receive(from: task, tag: 101, timeout: .milliseconds(Int(timeout * 1000))) else { return nil }
        let code: Int32 = try r.unpack()
        let n: Int = try r.unpack()
        let extra = try r.unpack(Int32.self, count: n)
        let typedBytes: Int = try r.unpack()
        var typed: ReceivedMessage? = nil
        if typedBytes > 0 {
            typed = try vm.receive(from: task, tag: 102, timeout: .seconds(10))
            guard typed != nil else { throw GroupTestError("\(task) announced typed results that never came") }
        }
        return GroupReply(code: code, extra: extra, typed: typed)
    }

    /// Runs `command` on `task` and waits for its answer (an error if none
    /// comes within `timeout` seconds: the task hangs or died).
    @discardableResult
    func call(_ task: TaskID, _ command: String, timeout: Double = 10) throws -> GroupReply {
        try post(task, command)
        guard let r = try reply(task, timeout: timeout) else {
            throw GroupTestError("\(task) did not answer `\(command)` within \(timeout) s")
        }
        return r
    }

    /// Posts `command(i, task)` to every task first, then collects every
    /// answer: the members run it at the same time.
    func callAll(_ tasks: [TaskID], timeout: Double = 30, _ command: (Int, TaskID) -> String) throws -> [GroupReply] {
        for (i, t) in tasks.enumerated() { try post(t, command(i, t)) }
        return try tasks.enumerated().map { (i, t) in
            guard let r = try reply(t, timeout: timeout) else {
                throw GroupTestError("\(t) did not answer `\(command(i, t))` within \(timeout) s")
            }
            return r
        }
    }

    /// Has each of `tasks` join `group`, one after another, so that their
    /// instances are 0, 1, 2 ... in that order (when the group is new).
    func join(_ tasks: [TaskID], _ group: String, first: Int32 = 0) throws {
        for (i, t) in tasks.enumerated() {
            let r = try call(t, "join \(group)")
            guard r.code == first + Int32(i) else { throw GroupTestError("\(t) joined \(group) as instance \(r.code), not \(first + Int32(i))") }
        }
    }

    /// `rounds` barriers of `count` in `group` by every one of `tasks` (all
    /// of its members) with the early-release check of the `rounds`
    /// command: a shared file where each member writes the round it
    /// arrives at (in the slot of its instance) and checks, once through,
    /// that every member has arrived at that round and none is beyond the
    /// next one.
    /// Returns the violations per task and the slowest time in ms.
    func rounds(_ tasks: [TaskID], _ group: String, rounds: Int, count: Int32 = -1, directory: String,
                timeout: Double = 60) throws -> (violations: [Int32], details: [String], milliseconds: Double) {
        let path = directory + "/rounds-\(group)-\(UInt32.random(in: 0...UInt32.max))"
        guard FileManager.default.createFile(atPath: path, contents: Data(count: 4096)) else {
            throw GroupTestError("cannot create \(path)")
        }
        defer { try? FileManager.default.removeItem(atPath: path) }
        let slots = try tasks.map { String(try vm.groupInstance(group, tid: $0.rawValue)) }.joined(separator: ",")
        let replies = try callAll(tasks, timeout: timeout) { _, _ in "rounds \(group) \(rounds) \(count) \(path) \(slots)" }
        var violations: [Int32] = [], details: [String] = [], slowest: Int32 = 0
        for (t, r) in zip(tasks, replies) {
            guard r.code == 0, r.extra.count == 5 else {
                throw GroupTestError("\(t): the barrier rounds in \(group) failed: \(PVMError.text(for: r.code)) (\(r.code))")
            }
            violations.append(r.extra[0])
            details.append(r.extra[0] == 0 ? "" : "\(t): \(r.extra[0]) early releases, the first after barrier \(r.extra[1]): slot \(r.extra[2]) held \(r.extra[3])")
            slowest = max(slowest, r.extra[4])
        }
        return (violations, details, Double(slowest) / 1000)
    }
}

/// Checks the arrays `reduce-all` packed for one type, four operations
/// (max, min, sum, product): the root's against the reduction computed
/// here with `sum` and `product`, every other member's against its own
/// input (pvm_reduce leaves it alone).
func checkReduceResults<T: PVMReducible>(_: T.Type, _ make: (Int, Int) -> T, sum: @escaping (T, T) -> T, product: @escaping (T, T) -> T,
                                         members n: Int, root: Int, count: Int, results: [ReceivedMessage],
                                         file: StaticString = #filePath, line: UInt = #line) throws {
    let inputs = (0..<n).map { inst in (0..<count).map { make(inst, $0) } }
    let operations: [(String, (T, T) -> T)] = [("max", { Swift.max($0, $1) }), ("min", { Swift.min($0, $1) }), ("sum", sum), ("product", product)]
    for (name, op) in operations {
        var expected = inputs[0]
        for inst in 1..<n { for i in 0..<count { expected[i] = op(expected[i], inputs[inst][i]) } }
        for m in 0..<n {
            let got = try results[m].unpack(T.self, count: count)
            if m == root {
                XCTAssertEqual(got, expected, "\(name) of \(T.self) over \(n) members at root instance \(root)", file: file, line: line)
            } else {
                XCTAssertEqual(got, inputs[m], "\(name) of \(T.self): instance \(m) (not the root) had its data changed", file: file, line: line)
            }
        }
    }
}

func checkIntegerReduce<T: PVMReducible & FixedWidthInteger>(_ type: T.Type, members n: Int, root: Int, count: Int, results: [ReceivedMessage],
                                                             file: StaticString = #filePath, line: UInt = #line) throws {
    try checkReduceResults(type, { groupInteger(T.self, $0, $1) }, sum: { $0 &+ $1 }, product: { $0 &* $1 },
                           members: n, root: root, count: count, results: results, file: file, line: line)
}

func checkRealReduce<T: PVMReducible & BinaryFloatingPoint>(_ type: T.Type, members n: Int, root: Int, count: Int, results: [ReceivedMessage],
                                                            file: StaticString = #filePath, line: UInt = #line) throws {
    try checkReduceResults(type, { groupReal(T.self, $0, $1) }, sum: { $0 + $1 }, product: { $0 * $1 },
                           members: n, root: root, count: count, results: results, file: file, line: line)
}

/// Runs `reduce-all` (every operation on every numeric type, then a
/// combine function of the task's own) over `tasks`, instances 0..<n of
/// `group`, and checks every result.
func checkReduceAll(_ members: GroupMembers, _ tasks: [TaskID], _ group: String, root: Int, count: Int = 5, tag: Int32 = 200,
                    file: StaticString = #filePath, line: UInt = #line) throws {
    let n = tasks.count
    let replies = try members.callAll(tasks) { _, _ in "reduce-all \(group) \(root) \(tag) \(count)" }
    for (t, r) in zip(tasks, replies) {
        guard r.code == 0, r.typed != nil else {
            throw GroupTestError("reduce-all over \(n) members of \(group), root \(root): \(t) failed with \(PVMError.text(for: r.code)) (\(r.code))")
        }
    }
    let results = replies.map { $0.typed! }
    try checkIntegerReduce(Int8.self, members: n, root: root, count: count, results: results, file: file, line: line)
    try checkIntegerReduce(Int16.self, members: n, root: root, count: count, results: results, file: file, line: line)
    try checkIntegerReduce(Int32.self, members: n, root: root, count: count, results: results, file: file, line: line)
    try checkIntegerReduce(Int.self, members: n, root: root, count: count, results: results, file: file, line: line)
    try checkIntegerReduce(UInt16.self, members: n, root: root, count: count, results: results, file: file, line: line)
    try checkIntegerReduce(UInt32.self, members: n, root: root, count: count, results: results, file: file, line: line)
    try checkIntegerReduce(UInt.self, members: n, root: root, count: count, results: results, file: file, line: line)
    try checkRealReduce(Float.self, members: n, root: root, count: count, results: results, file: file, line: line)
    try checkRealReduce(Double.self, members: n, root: root, count: count, results: results, file: file, line: line)
    // The combine function of the task's own: XOR, with the count it was given.
    var xor = (0..<count).map { groupInteger(UInt32.self, 0, $0) }
    for inst in 1..<n { for i in 0..<count { xor[i] ^= groupInteger(UInt32.self, inst, i) } }
    for m in 0..<n {
        let got = try results[m].unpack(UInt32.self, count: count)
        let seen: Int32 = try results[m].unpack()
        if m == root {
            XCTAssertEqual(got, xor, "a combine function of the program's own (XOR) over \(n) members", file: file, line: line)
            XCTAssertEqual(seen, Int32(count), "the combine function is called with the item count", file: file, line: line)
        } else {
            XCTAssertEqual(got, (0..<count).map { groupInteger(UInt32.self, m, $0) }, "XOR: instance \(m) had its data changed", file: file, line: line)
        }
    }
}

// MARK: - One host

/// Groups and collectives with 2 to 8 real tasks on one host, message
/// handlers and contexts. Each test has a private virtual machine (its own
/// runtime directory) that tearDown halts, killing what is left of its tasks.
final class GroupTests: XCTestCase {
    var fixture: VirtualMachineFixture!
    var vm: VirtualMachine!
    var members: GroupMembers { GroupMembers(vm: vm) }
    var handlerIDs: [Int32] = []

    override func setUpWithError() throws {
        fixture = VirtualMachineFixture()
        vm = try VirtualMachine.shared()
    }

    override func tearDown() {
        if let vm {
            for id in handlerIDs { try? vm.deleteMessageHandler(id) }
            _ = vm.setContext(0)
            try? vm.exit()
        }
        XCTAssertTrue(fixture.halt(), "the daemon did not halt cleanly")
    }

    func code(_ body: () throws -> Void) -> Int32? {
        do { try body(); return nil } catch let e as PVMError { return e.code } catch { return -999 }
    }

    typealias Code = PVMError.Code

    // MARK: Membership

    func testGroupJoinLeaveInstancesAndErrorCodes() throws {
        let g = "g.join"
        let t = try members.spawn(4)
        let (a, b, c, d) = (t[0], t[1], t[2], t[3])
        // Instances: lowest free, from 0.
        try members.join([a, b, c], g)
        XCTAssertEqual(try members.call(a, "join \(g)").code, Code.dupGroup.rawValue, "a second join")
        XCTAssertEqual(try vm.groupSize(g), 3)
        for (i, x) in [a, b, c].enumerated() {
            XCTAssertEqual(try vm.groupTid(g, instance: Int32(i)), x.rawValue)
            XCTAssertEqual(try vm.groupInstance(g, tid: x.rawValue), Int32(i))
        }
        // Members see the same.
        XCTAssertEqual(try members.call(c, "tid \(g) 0").code, a.rawValue)
        XCTAssertEqual(try members.call(c, "inst \(g) \(b.rawValue)").code, 1)
        XCTAssertEqual(try members.call(a, "size \(g)").code, 3)

        // A leave frees the instance; the next join takes the lowest free one.
        XCTAssertEqual(try members.call(b, "leave \(g)").code, 0)
        XCTAssertEqual(try vm.groupSize(g), 2)
        XCTAssertEqual(code { _ = try self.vm.groupTid(g, instance: 1) }, Code.noInst.rawValue, "the freed instance")
        XCTAssertEqual(code { _ = try self.vm.groupInstance(g, tid: b.rawValue) }, Code.notInGroup.rawValue, "the member that left")
        XCTAssertEqual(try members.call(b, "leave \(g)").code, Code.notInGroup.rawValue, "leaving a group one is not in")
        XCTAssertEqual(try members.call(d, "join \(g)").code, 1, "instance 1 is free again")
        XCTAssertEqual(try members.call(b, "join \(g)").code, 3)
        XCTAssertEqual(try members.call(a, "leave \(g)").code, 0)
        XCTAssertEqual(try vm.joinGroup(g), 0, "this task takes instance 0, left by the first member")
        XCTAssertEqual(try vm.groupTid(g, instance: 0), vm.myTid.rawValue)
        XCTAssertEqual(try vm.groupInstance(g, tid: vm.myTid.rawValue), 0)
        XCTAssertEqual(try vm.groupSize(g), 4)

        // Errors.
        XCTAssertEqual(code { _ = try self.vm.joinGroup("") }, Code.nullGroup.rawValue)
        XCTAssertEqual(code { try self.vm.leaveGroup("") }, Code.nullGroup.rawValue)
        XCTAssertEqual(code { _ = try self.vm.groupSize("") }, Code.nullGroup.rawValue)
        XCTAssertEqual(code { try self.vm.barrier("", count: -1) }, Code.nullGroup.rawValue)
        XCTAssertEqual(code { _ = try self.vm.groupSize("g.nosuch") }, Code.noGroup.rawValue)
        XCTAssertEqual(code { try self.vm.leaveGroup("g.nosuch") }, Code.noGroup.rawValue)
        XCTAssertEqual(code { _ = try self.vm.groupTid("g.nosuch", instance: 0) }, Code.noGroup.rawValue)
        XCTAssertEqual(code { _ = try self.vm.groupInstance("g.nosuch", tid: a.rawValue) }, Code.noGroup.rawValue)
        XCTAssertEqual(code { _ = try self.vm.groupTid(g, instance: 99) }, Code.noInst.rawValue)
        XCTAssertEqual(code { _ = try self.vm.groupTid(g, instance: -1) }, Code.noInst.rawValue)
        XCTAssertEqual(code { _ = try self.vm.groupInstance(g, tid: 0x40fff) }, Code.notInGroup.rawValue)
        XCTAssertEqual(code { _ = try self.vm.groupInstance(g, tid: a.rawValue) }, Code.notInGroup.rawValue)

        // The group is gone once its last member leaves; a new one starts at 0.
        try vm.leaveGroup(g)
        for x in [c, d, b] { XCTAssertEqual(try members.call(x, "leave \(g)").code, 0) }
        XCTAssertEqual(code { _ = try self.vm.groupSize(g) }, Code.noGroup.rawValue, "the group outlived its last member")
        XCTAssertEqual(try members.call(c, "size \(g)").code, Code.noGroup.rawValue)
        XCTAssertEqual(try members.call(d, "join \(g)").code, 0)
        XCTAssertEqual(try vm.groupSize(g), 1)
    }

    func testGroupMemberThatExitsIsRemoved() throws {
        let g = "g.exit"
        let t = try members.spawn(4)
        let (a, b, c, d) = (t[0], t[1], t[2], t[3])
        try members.join([a, b, c], g)
        // B ends its process without pvm_lvgroup or pvm_exit.
        try members.call(b, "quit")
        XCTAssertTrue(VirtualMachineFixture.eventually(timeout: 5) { (try? self.vm.groupSize(g)) == 2 }, "the dead member stays in the group")
        XCTAssertEqual(code { _ = try self.vm.groupInstance(g, tid: b.rawValue) }, Code.notInGroup.rawValue)
        XCTAssertEqual(code { _ = try self.vm.groupTid(g, instance: 1) }, Code.noInst.rawValue)
        // C calls pvm_exit (without leaving), then ends.
        try members.call(c, "exit")
        XCTAssertTrue(VirtualMachineFixture.eventually(timeout: 5) { (try? self.vm.groupSize(g)) == 1 }, "a member that called pvm_exit stays in the group")
        XCTAssertEqual(code { _ = try self.vm.groupInstance(g, tid: c.rawValue) }, Code.notInGroup.rawValue)
        XCTAssertEqual(try members.call(d, "join \(g)").code, 1, "the dead member's instance is free again")
        XCTAssertEqual(try vm.groupTid(g, instance: 0), a.rawValue)
        // When the last members die, the group is gone.
        try members.call(a, "quit")
        try members.call(d, "quit")
        XCTAssertTrue(VirtualMachineFixture.eventually(timeout: 5) { self.code { _ = try self.vm.groupSize(g) } == Code.noGroup.rawValue },
                      "a group whose members all died is still there")
    }

    /// pvm_exit ends this task's memberships (the daemon drops it from its
    /// groups): nothing of them may linger in the library for the task that
    /// enrolls next in this process.
    func testGroupMembershipIsForgottenAfterPvmExit() throws {
        let g = "g.forgotten"
        XCTAssertEqual(try vm.joinGroup(g), 0)
        XCTAssertEqual(try vm.freezeGroup(g, size: -1), 1)
        try vm.barrier(g, count: -1)
        try vm.exit()
        vm = try VirtualMachine.shared()  // a new task of this process
        XCTAssertEqual(code { _ = try self.vm.groupSize(g) }, Code.noGroup.rawValue,
                       "the group's only member exited, yet gsize answers from the old task's frozen roster")
        XCTAssertEqual(code { _ = try self.vm.groupTid(g, instance: 0) }, Code.noGroup.rawValue, "gettid from the old task's roster")
        XCTAssertNotNil(code { try self.vm.barrier(g, count: -1) }, "a barrier of a group this task is not in passed (the old task's shared-memory barrier)")
        XCTAssertEqual(try vm.joinGroup(g), 0, "joining again")
        XCTAssertEqual(try vm.groupSize(g), 1)
        try vm.leaveGroup(g)
    }

    // MARK: Barrier

    func testGroupBarrierTwoTasksThousandRounds() throws {
        let t = try members.spawn(2)
        try members.join(t, "g.b2")
        let r = try members.rounds(t, "g.b2", rounds: 1000, directory: fixture.base)
        XCTAssertEqual(r.violations, [0, 0], r.details.joined(separator: "; "))
        print("Group: 1000 barriers of 2 tasks in \(r.milliseconds) ms")
    }

    func testGroupBarrierFourTasksFiveHundredRounds() throws {
        let t = try members.spawn(4)
        try members.join(t, "g.b4")
        let r = try members.rounds(t, "g.b4", rounds: 500, directory: fixture.base)
        XCTAssertEqual(r.violations, [0, 0, 0, 0], r.details.joined(separator: "; "))
        // An explicit count equal to the size is the same barrier.
        let e = try members.rounds(t, "g.b4", rounds: 100, count: 4, directory: fixture.base)
        XCTAssertEqual(e.violations, [0, 0, 0, 0], e.details.joined(separator: "; "))
        print("Group: 500 barriers of 4 tasks in \(r.milliseconds) ms")
    }

    func testGroupBarrierEightTasks() throws {
        let t = try members.spawn(8)
        try members.join(t, "g.b8")
        let r = try members.rounds(t, "g.b8", rounds: 200, directory: fixture.base)
        XCTAssertEqual(r.violations, [Int32](repeating: 0, count: 8), r.details.joined(separator: "; "))
        print("Group: 200 barriers of 8 tasks in \(r.milliseconds) ms")
    }

    /// The early-release check itself: a "barrier" of count 1 releases each
    /// member at once, and the check must say so.
    func testGroupBarrierCheckDetectsAnEarlyRelease() throws {
        let t = try members.spawn(4)
        try members.join(t, "g.early")
        let r = try members.rounds(t, "g.early", rounds: 200, count: 1, directory: fixture.base)
        XCTAssertGreaterThan(r.violations.reduce(0, +), 0, "the check saw nothing wrong with barriers that wait for nobody")
    }

    func testGroupBarrierCountBelowTheSizeAndMinusOne() throws {
        let g = "g.count"
        let t = try members.spawn(3)
        let (a, b, c) = (t[0], t[1], t[2])
        try members.join(t, g)
        // count 2 in a group of 3: two arrivals complete it, one does not.
        for round in 0..<5 {
            try members.post(a, "barrier \(g) 2")
            if round == 0 { XCTAssertNil(try members.reply(a, timeout: 0.3), "a barrier of 2 let its first arrival through") }
            try members.post(b, "barrier \(g) 2")
            XCTAssertEqual(try members.reply(a)?.code, 0)
            XCTAssertEqual(try members.reply(b)?.code, 0)
        }
        // Any two: C and A.
        try members.post(c, "barrier \(g) 2")
        XCTAssertNil(try members.reply(c, timeout: 0.3), "a barrier of 2 let its first arrival through")
        try members.post(a, "barrier \(g) 2")
        XCTAssertEqual(try members.reply(c)?.code, 0)
        XCTAssertEqual(try members.reply(a)?.code, 0)

        // count -1: every member of the group.
        try members.post(a, "barrier \(g) -1")
        try members.post(b, "barrier \(g) -1")
        XCTAssertNil(try members.reply(a, timeout: 0.3), "barrier -1 completed with 2 of 3 members")
        XCTAssertNil(try members.reply(b, timeout: 0.05), "barrier -1 completed with 2 of 3 members")
        try members.post(c, "barrier \(g) -1")
        for x in t { XCTAssertEqual(try members.reply(x)?.code, 0, "\(x) at the barrier of all") }
        // -1 follows the group: after a leave, two make it.
        XCTAssertEqual(try members.call(c, "leave \(g)").code, 0)
        let r = try members.callAll([a, b]) { _, _ in "barrier \(g) -1" }
        XCTAssertEqual(r.map(\.code), [0, 0])
        // Another count than the episode under way's: PvmMismatch, and the
        // one waiting still completes with its own count.
        try members.post(a, "barrier \(g) 2")
        XCTAssertNil(try members.reply(a, timeout: 0.3), "a barrier of 2 let its first arrival through")
        XCTAssertEqual(try members.call(b, "barrier \(g) 3").code, Code.mismatch.rawValue)
        XCTAssertEqual(try members.call(b, "barrier \(g) 2").code, 0)
        XCTAssertEqual(try members.reply(a)?.code, 0)
        // Not a member: refused.
        XCTAssertEqual(code { try self.vm.barrier(g, count: -1) }, Code.notInGroup.rawValue)
        XCTAssertEqual(try members.call(c, "barrier \(g) -1").code, Code.notInGroup.rawValue)
    }

    func testGroupBarrierMemberKilledDuringTheBarrierFailsTheOthers() throws {
        let g = "g.kill"
        let t = try members.spawn(6)
        let (a, b, c, d, e, f) = (t[0], t[1], t[2], t[3], t[4], t[5])
        try members.join([a, b, c, d], g)
        let pids = try [c, d].map { try members.call($0, "pid").code }

        // C arrives with A and B, and is killed there: D never came.
        for x in [a, b, c] { try members.post(x, "barrier \(g) -1") }
        XCTAssertNil(try members.reply(a, timeout: 0.3), "the barrier completed without D")
        kill(pids[0], SIGKILL)
        for x in [a, b] {
            XCTAssertEqual(try members.reply(x, timeout: 10)?.code, Code.noTask.rawValue, "\(x): a member was killed in the barrier")
        }
        XCTAssertTrue(VirtualMachineFixture.eventually(timeout: 5) { (try? self.vm.groupSize(g)) == 3 })

        // A and B wait for D, which is killed before it arrives.
        for x in [a, b] { try members.post(x, "barrier \(g) -1") }
        XCTAssertNil(try members.reply(a, timeout: 0.3), "the barrier completed without D")
        kill(pids[1], SIGKILL)
        for x in [a, b] {
            XCTAssertEqual(try members.reply(x, timeout: 10)?.code, Code.noTask.rawValue, "\(x): a member was killed before it arrived")
        }
        XCTAssertTrue(VirtualMachineFixture.eventually(timeout: 5) { (try? self.vm.groupSize(g)) == 2 })

        // The machine works on: the same group, and a fresh one.
        let same = try members.rounds([a, b], g, rounds: 100, directory: fixture.base)
        XCTAssertEqual(same.violations, [0, 0], same.details.joined(separator: "; "))
        try members.join([a, b, e], "g.kill.after")
        let fresh = try members.rounds([a, b, e], "g.kill.after", rounds: 100, directory: fixture.base)
        XCTAssertEqual(fresh.violations, [0, 0, 0], fresh.details.joined(separator: "; "))

        // Two members (no more than the CPUs: the waiter spins first): the
        // other is killed while one waits.
        try members.join([a, f], "g.kill.pair")
        let fPID = try members.call(f, "pid").code
        try members.post(a, "barrier g.kill.pair -1")
        XCTAssertNil(try members.reply(a, timeout: 0.3), "a barrier of two completed with one")
        kill(fPID, SIGKILL)
        XCTAssertEqual(try members.reply(a, timeout: 10)?.code, Code.noTask.rawValue, "the other of two was killed")
    }

    // MARK: Freeze

    func testGroupFreezeGroup() throws {
        // One member: the size.
        XCTAssertEqual(try vm.joinGroup("g.frozen1"), 0)
        XCTAssertEqual(try vm.freezeGroup("g.frozen1", size: -1), 1)
        XCTAssertEqual(code { _ = try self.vm.joinGroup("g.frozen1") }, Code.notInGroup.rawValue, "joining a frozen group, as the original answers")
        try vm.leaveGroup("g.frozen1")

        let g = "g.frozen"
        let t = try members.spawn(3)
        let (a, b, c) = (t[0], t[1], t[2])
        try members.join([a, b], g)
        XCTAssertEqual(code { _ = try self.vm.freezeGroup(g, size: -1) }, Code.notInGroup.rawValue, "a freeze by a task not in the group")
        let frozen = try members.callAll([a, b]) { _, _ in "freeze \(g) -1" }
        XCTAssertEqual(frozen.map(\.code), [2, 2], "pvm_freezegroup returns the size")
        XCTAssertEqual(try members.call(c, "join \(g)").code, Code.notInGroup.rawValue, "a new member joined a frozen group")
        XCTAssertEqual(try members.call(a, "join \(g)").code, Code.notInGroup.rawValue, "a member joining its frozen group again")
        // The roster works on, for members and others.
        XCTAssertEqual(try members.call(a, "size \(g)").code, 2)
        XCTAssertEqual(try members.call(a, "tid \(g) 1").code, b.rawValue)
        XCTAssertEqual(try members.call(b, "inst \(g) \(a.rawValue)").code, 0)
        XCTAssertEqual(try members.call(b, "tid \(g) 2").code, Code.noInst.rawValue)
        XCTAssertEqual(try members.call(b, "inst \(g) \(c.rawValue)").code, Code.notInGroup.rawValue)
        XCTAssertEqual(try vm.groupSize(g), 2)
        XCTAssertEqual(try vm.groupTid(g, instance: 0), a.rawValue)
        XCTAssertEqual(try vm.groupInstance(g, tid: b.rawValue), 1)
        let r = try members.rounds([a, b], g, rounds: 50, directory: fixture.base)
        XCTAssertEqual(r.violations, [0, 0], r.details.joined(separator: "; "))
    }

    // MARK: Broadcast

    func testGroupBroadcastReachesEveryOtherMember() throws {
        let g = "g.bcast"
        XCTAssertEqual(try vm.joinGroup(g), 0)
        let t = try members.spawn(3)
        try members.join(t, g, first: 1)
        // From this task: pvm_bcast of the active send buffer.
        _ = try vm.initSend(encoding: 0)
        var v: Int32 = 4711
        try vm.pack(&v, count: 1)
        try vm.broadcast(group: g, tag: 30)
        for x in t {
            let r = try members.call(x, "recv 30 5000")
            XCTAssertEqual(r.code, 4711, "\(x) did not get the broadcast")
            XCTAssertEqual(r.extra, [vm.myTid.rawValue])
        }
        XCTAssertNil(try vm.receive(from: .any, tag: 30, timeout: .milliseconds(200)), "the caller got its own broadcast")
        // From a member, both APIs.
        for (sender, command, tag) in [(t[0], "bcast", Int32(31)), (t[2], "bcast-message", Int32(32))] {
            XCTAssertEqual(try members.call(sender, "\(command) \(g) \(tag) \(tag + 100)").code, 0)
            let m = try XCTUnwrap(try vm.receive(from: sender, tag: MessageTag(tag), timeout: .seconds(5)), "\(command) did not reach this task")
            XCTAssertEqual(try m.unpack(Int32.self), tag + 100)
            for x in t where x != sender {
                let r = try members.call(x, "recv \(tag) 5000")
                XCTAssertEqual(r.code, tag + 100, "\(x) did not get \(sender)'s \(command)")
                XCTAssertEqual(r.extra, [sender.rawValue])
            }
            XCTAssertEqual(try members.call(sender, "recv \(tag) 200").code, -1000, "\(command) reached its sender")
        }
        // The only member: PvmNoInst, as the original answers.
        XCTAssertEqual(try vm.joinGroup("g.bcast.solo"), 0)
        _ = try vm.initSend(encoding: 0)
        XCTAssertEqual(code { try self.vm.broadcast(group: "g.bcast.solo", tag: 33) }, Code.noInst.rawValue)
        XCTAssertEqual(code { try self.vm.broadcast(Message(), group: "g.bcast.solo", tag: 33) }, Code.noInst.rawValue)
        try vm.leaveGroup("g.bcast.solo")
    }

    // MARK: Reduce, gather, scatter

    func testGroupReduceEveryOperationAndTypeTwoToEightTasks() throws {
        let t = try members.spawn(8)
        for (n, root) in [(2, 1), (3, 2), (5, 3), (8, 5)] {
            let g = "g.reduce\(n)"
            let group = Array(t.prefix(n))
            try members.join(group, g)
            try checkReduceAll(members, group, g, root: root)
        }
    }

    /// Members that disagree on the count get an error (the root
    /// PvmMismatch) and every one of them returns: no hang, no crash.
    /// The value form of a membership (join(group:) -> ProcessGroup) and
    /// withContext, on this task alone.
    func testGroupProcessGroupValueAndWithContext() throws {
        let g = try vm.join(group: "g.value")
        XCTAssertEqual(g.instance, 0)
        XCTAssertEqual(try g.size, 1)
        XCTAssertEqual(try g.task(0), vm.myTid)
        XCTAssertEqual(try g.instance(of: vm.myTid), 0)
        XCTAssertEqual(try g.freeze(), 1)
        try g.barrier()
        var x: [Int32] = [3, -4]
        try g.reduce(.product, &x, root: 0, tag: 60)
        XCTAssertEqual(x, [3, -4])
        XCTAssertEqual(try g.gather([Int16(5)], root: 0, tag: 61), [5])
        XCTAssertEqual(try g.scatter([1.5, 2.5], count: 2, root: 0, tag: 62), [1.5, 2.5])
        try g.leave()
        XCTAssertEqual(code { _ = try self.vm.groupSize("g.value") }, Code.noGroup.rawValue)

        let ctx = try vm.newContext()
        let m = Message()
        try m.pack(Int32(77))
        try vm.withContext(ctx) { try vm.send(m, to: vm.myTid, tag: 63) }
        XCTAssertEqual(vm.context, 0, "withContext came back to context 0")
        XCTAssertNil(try vm.receive(from: .any, tag: 63, timeout: .milliseconds(50)), "a message of another context was received")
        let got = try vm.withContext(ctx) { try vm.receive(from: .any, tag: 63, timeout: .seconds(5)) }
        XCTAssertEqual(try XCTUnwrap(got).unpack(Int32.self), 77)
        try vm.freeContext(ctx)
    }

    func testGroupReduceMismatchedCountsFail() throws {
        let t = try members.spawn(8)
        // The root (instance 1) has 4 items, the other member 3.
        try members.join([t[0], t[1]], "g.mis1")
        var r = try members.callAll([t[0], t[1]], timeout: 10) { i, _ in i == 0 ? "reduce-sum g.mis1 1 40 1 2 3" : "reduce-sum g.mis1 1 40 10 20 30 40" }
        XCTAssertEqual(r[1].code, Code.mismatch.rawValue, "the root reduced 4 items with a member's 3: \(r[1].extra)")
        // The root has 3, the other member 4 (a message with more items than asked for).
        try members.join([t[2], t[3]], "g.mis2")
        r = try members.callAll([t[2], t[3]], timeout: 10) { i, _ in i == 0 ? "reduce-sum g.mis2 1 41 1 2 3 4" : "reduce-sum g.mis2 1 41 10 20 30" }
        XCTAssertEqual(r[1].code, Code.mismatch.rawValue, "the root reduced 3 items with a member's 4: \(r[1].extra)")
        // Four members, root 0: instance 3 (a leaf under instance 2) has 3
        // items, the others 4: the failure travels up to the root.
        let four = Array(t[4..<8])
        try members.join(four, "g.mis4")
        for (i, x) in four.enumerated() { try members.post(x, i == 3 ? "reduce-sum g.mis4 0 42 1 2 3" : "reduce-sum g.mis4 0 42 1 2 3 4") }
        var codes: [Int32?] = []
        for x in four { codes.append(try members.reply(x, timeout: 10)?.code) }
        XCTAssertFalse(codes.contains(nil), "a member hung in a reduce with mismatched counts (answers by instance, nil: none in 10 s): \(codes)")
        XCTAssertEqual(codes.first, Code.mismatch.rawValue, "the root of a reduce tree with a mismatch below: \(codes)")
        // The members are fine afterwards: a reduce that agrees works.
        let ok = try members.callAll(four) { i, _ in "reduce-sum g.mis4 0 43 \(i) 1" }
        XCTAssertEqual(ok.map(\.code), [0, 0, 0, 0])
        XCTAssertEqual(ok[0].extra, [6, 4])
    }

    /// A member killed before it sends its part: the others' reduce and
    /// gather fail with PvmNoTask within a second (they check a member
    /// that stays silent), rather than wait for ever.
    func testGroupReduceAndGatherFailWhenAMemberDies() throws {
        let t = try members.spawn(4)
        let (a, b, c, d) = (t[0], t[1], t[2], t[3])
        try members.join([a, b, c, d], "g.die")
        let pids = try [b, d].map { try members.call($0, "pid").code }
        // Root 0 (a); b is its child in the tree and never reduces.
        for x in [a, c, d] { try members.post(x, "reduce-sum g.die 0 50 1 2") }
        XCTAssertNil(try members.reply(a, timeout: 0.3), "the reduce completed without b")
        kill(pids[0], SIGKILL)
        XCTAssertEqual(try members.reply(a, timeout: 10)?.code, Code.noTask.rawValue, "the root of a reduce whose member was killed")
        for x in [c, d] { XCTAssertNotNil(try members.reply(x, timeout: 10), "\(x) hung in the reduce") }
        // Gather at c: d is killed before it sends.
        for x in [a, c] { try members.post(x, "gather g.die 2 51 1") }
        XCTAssertNil(try members.reply(c, timeout: 0.3), "the gather completed without d")
        kill(pids[1], SIGKILL)
        XCTAssertEqual(try members.reply(c, timeout: 10)?.code, Code.noTask.rawValue, "the root of a gather whose member was killed")
        XCTAssertNotNil(try members.reply(a, timeout: 10))
    }

    func testGroupGatherAndScatterFourTasks() throws {
        let g = "g.gather"
        let t = try members.spawn(4)
        try members.join(t, g)
        let root = 2
        func items(_ inst: Int) -> [Int32] { (0..<3).map { Int32(inst * 100 + $0) * (inst % 2 == 0 ? 1 : -1) } }
        // Gather: the root gets instance i's items at offset 3 i.
        let gathered = try members.callAll(t) { i, _ in "gather \(g) \(root) 50 " + items(i).map(String.init).joined(separator: " ") }
        let expected = (0..<4).flatMap(items)
        XCTAssertEqual(gathered[root].code, 0)
        XCTAssertEqual(gathered[root].extra.count, 12)
        for (k, v) in gathered[root].extra.enumerated() where k < expected.count {
            XCTAssertEqual(v, expected[k], "gathered item \(k) (instance \(k / 3), item \(k % 3))")
        }
        for i in 0..<4 where i != root { XCTAssertEqual(gathered[i].code, 0); XCTAssertEqual(gathered[i].extra, []) }
        let doubles = try members.callAll(t) { i, _ in "gather-double \(g) \(root) 51 " + items(i).map(String.init).joined(separator: " ") }
        let rootDoubles = try XCTUnwrap(doubles[root].typed)
        let n: Int = try rootDoubles.unpack()
        XCTAssertEqual(n, 12)
        let got = try rootDoubles.unpack(Double.self, count: n)
        for k in 0..<12 { XCTAssertEqual(got[k], Double(expected[k]) + 0.25, "gathered Double \(k)") }

        // Scatter: instance i gets items 3 i ..< 3 i + 3 of the root's.
        let data = (0..<12).map { Int32($0 * 7 - 20) }
        let scattered = try members.callAll(t) { i, _ in
            "scatter \(g) \(root) 52 3" + (i == root ? " " + data.map(String.init).joined(separator: " ") : "")
        }
        for i in 0..<4 {
            XCTAssertEqual(scattered[i].code, 0)
            XCTAssertEqual(scattered[i].extra, Array(data[3 * i ..< 3 * i + 3]), "instance \(i)'s part")
        }
        let parts = try members.callAll(t) { i, _ in
            "scatter-double \(g) \(root) 53 3" + (i == root ? " " + data.map(String.init).joined(separator: " ") : "")
        }
        for i in 0..<4 {
            let m = try XCTUnwrap(parts[i].typed, "instance \(i): \(PVMError.text(for: parts[i].code))")
            XCTAssertEqual(try m.unpack(Int.self), 3)
            XCTAssertEqual(try m.unpack(Double.self, count: 3), data[3 * i ..< 3 * i + 3].map { Double($0) + 0.5 }, "instance \(i)'s Doubles")
        }
    }

    // MARK: Message handlers

    func testGroupMessageHandlersTakeMatchingMessagesUntilDeleted() throws {
        let a = try members.spawn(1)[0]
        var taken: [Int32] = [], sources: [Int32] = [], ids: [Int32] = []
        let vm = self.vm!
        let any = try vm.addMessageHandler(source: -1, tag: 60, context: -1) { id in
            taken.append((try? vm.buffer(id).unpack(Int32.self)) ?? -1)
            sources.append((try? vm.bufferInfo(id).source) ?? 0)
            ids.append(id)
            return 0
        }
        handlerIDs.append(any)
        XCTAssertEqual(any, 9, "the first handler id")
        let fromA = try vm.addMessageHandler(source: a.rawValue, tag: 61, context: 0) { id in
            taken.append(-((try? vm.buffer(id).unpack(Int32.self)) ?? 1))
            return 0
        }
        handlerIDs.append(fromA)
        XCTAssertEqual(fromA, 10)
        XCTAssertEqual(code { _ = try vm.addMessageHandler(source: -1, tag: 60, context: -1) { _ in 0 } }, Code.exists.rawValue)

        // A sends 60s, 62s and 61s; this task only ever receives the 62s
        // (and A's answers): the handlers take the others, during those receives.
        try members.post(a, "send 60 1000 5")
        try members.post(a, "send 62 2000 3")
        try members.post(a, "send 61 3000 2")
        var received: [(tag: Int32, value: Int32)] = []
        var answers = 0
        while answers < 3 {
            guard let m = try vm.receive(from: a, tag: .any, timeout: .seconds(10)) else { return XCTFail("A's messages did not come") }
            if m.tag.rawValue == 101 { answers += 1; continue }
            if m.tag.rawValue == 102 { continue }
            received.append((m.tag.rawValue, try m.unpack(Int32.self)))
        }
        XCTAssertEqual(received.map(\.tag), [62, 62, 62], "messages the handlers take reached a receive")
        XCTAssertEqual(received.map(\.value), [2000, 2001, 2002])
        XCTAssertEqual(taken, [1000, 1001, 1002, 1003, 1004, -3000, -3001])
        XCTAssertEqual(sources, [Int32](repeating: a.rawValue, count: 5))
        XCTAssertTrue(ids.allSatisfy { $0 > 0 })
        XCTAssertNil(try vm.receive(from: .any, tag: 60, timeout: .zero))
        XCTAssertNil(try vm.receive(from: .any, tag: 61, timeout: .zero))
        // A handler's source is checked: this task's own 61 is not A's.
        let mine = Message()
        try mine.pack(Int32(7))
        try vm.send(mine, to: vm.myTid, tag: 61)
        XCTAssertEqual(try vm.receive(from: .any, tag: 61, timeout: .seconds(2))?.unpack(Int32.self), 7)

        // Deleted, the handler takes nothing more.
        try vm.deleteMessageHandler(any)
        handlerIDs.removeAll { $0 == any }
        try members.call(a, "send 60 5000 2")
        for value: Int32 in [5000, 5001] {
            XCTAssertEqual(try vm.receive(from: a, tag: 60, timeout: .seconds(5))?.unpack(Int32.self), value, "after pvm_delmhf")
        }
        XCTAssertEqual(taken.count, 7, "a deleted handler ran")
        XCTAssertEqual(code { try vm.deleteMessageHandler(any) }, Code.notFound.rawValue, "deleting twice")
        XCTAssertEqual(code { try vm.deleteMessageHandler(99) }, Code.notFound.rawValue)
        XCTAssertEqual(code { try vm.deleteMessageHandler(3) }, Code.notFound.rawValue, "ids below 9 are not the program's")
        let again = try vm.addMessageHandler(source: -1, tag: 63, context: -1) { _ in 0 }
        handlerIDs.append(again)
        XCTAssertGreaterThanOrEqual(again, 9)
        XCTAssertNotEqual(again, fromA)
    }

    // MARK: Contexts

    func testGroupContextsSeparateMessagesAndCollectives() throws {
        let t = try members.spawn(2)
        let (a, b) = (t[0], t[1])
        let c1 = try vm.newContext()
        XCTAssertNotEqual(c1, 0)
        // A message sent in c1 is not received in context 0, and is after switching.
        XCTAssertEqual(try members.call(a, "context \(c1)").code, 0, "the old context")
        try members.call(a, "send 70 111 1")
        XCTAssertNil(try vm.receive(from: a, tag: 70, timeout: .milliseconds(300)), "a message of context c1 matched in context 0")
        XCTAssertEqual(vm.setContext(c1), 0)
        XCTAssertEqual(try vm.receive(from: a, tag: 70, timeout: .seconds(5))?.unpack(Int32.self), 111)
        _ = vm.setContext(0)
        // The other way: sent in context 0, A in c1 does not see it until it switches.
        let m = Message()
        try m.pack(Int32(5))
        try vm.send(m, to: a, tag: 71)
        XCTAssertEqual(try members.call(a, "recv 71 300").code, -1000, "a message of context 0 matched in context c1")
        XCTAssertEqual(try members.call(a, "context 0").code, c1)
        XCTAssertEqual(try members.call(a, "recv 71 5000").code, 5)

        // Collectives in c1 leave a same-tag message of context 0 alone.
        let g = "g.context"
        try members.join([a, b], g)
        // A sends B decoys in context 0 with the tags the collectives use.
        _ = try members.call(a, "context 0")
        try members.call(a, "sendto \(b.rawValue) 80 999 999")
        try members.call(a, "sendto \(b.rawValue) 81 888 888")
        for x in [a, b] { XCTAssertEqual(try members.call(x, "context \(c1)").code, 0) }
        let sums = try members.callAll([a, b]) { i, _ in i == 0 ? "reduce-sum \(g) 1 80 1 2" : "reduce-sum \(g) 1 80 10 20" }
        XCTAssertEqual(sums[1].code, 0)
        XCTAssertEqual(sums[1].extra, [11, 22], "the reduce in c1 took the decoy of context 0")
        let gathered = try members.callAll([a, b]) { i, _ in i == 0 ? "gather \(g) 1 81 3 4" : "gather \(g) 1 81 30 40" }
        XCTAssertEqual(gathered[1].code, 0)
        XCTAssertEqual(gathered[1].extra, [3, 4, 30, 40], "the gather in c1 took the decoy of context 0")
        // The decoys are still there, in context 0.
        XCTAssertEqual(try members.call(b, "context 0").code, c1)
        let decoy = try members.call(b, "recv 80 2000")
        XCTAssertEqual(decoy.code, 999)
        XCTAssertEqual(decoy.extra, [a.rawValue])
        XCTAssertEqual(try members.call(b, "recv 81 2000").code, 888)
        try vm.freeContext(c1)
    }
}

// MARK: - Across hosts

/// Groups with members on network-namespace hosts (see MultiHostTests):
/// barriers go through the group server, and a group that comes to span
/// hosts switches to it. Needs root and `ip netns`; skipped otherwise.
final class MultiHostGroupTests: MultiHostTestCase {
    override class var hostCount: Int { 2 }
    var members: GroupMembers { GroupMembers(vm: vm) }
    typealias Code = PVMError.Code

    // MARK: Tests

    func testMultiHostGroupBarrierReduceAndBroadcastOverTwoHosts() throws {
        try addHosts([1])
        let here = try members.spawn(2, on: vm.hostName)
        let there = try members.spawn(2, on: network.address(1))
        XCTAssertTrue(there.allSatisfy { $0.hostPart == hostID(2) }, "spawned on the wrong host: \(there)")
        XCTAssertTrue(here.allSatisfy { $0.hostPart == hostID(1) }, "spawned on the wrong host: \(here)")
        let g = "g.hosts"
        let t = [here[0], there[0], here[1], there[1]]  // instances 0...3, alternating hosts
        try members.join(t, g)
        let hosts = try vm.groupHosts(g)
        XCTAssertEqual(hosts.map(\.host), [1, 2])
        XCTAssertEqual(hosts.map(\.coordinator), [here[0].rawValue, there[0].rawValue])
        XCTAssertEqual(hosts.map(\.members), [2, 2])
        let info = try vm.groupHostInfo(g, host: hostID(2))
        XCTAssertEqual(info.coordinator, there[0].rawValue)
        XCTAssertEqual(info.members, 2)
        XCTAssertEqual(info.hosts, 2)

        let r = try members.rounds(t, g, rounds: 300, directory: directory)
        XCTAssertEqual(r.violations, [0, 0, 0, 0], r.details.joined(separator: "; "))
        print("MultiHostGroup: 300 barriers of 4 tasks on 2 hosts in \(r.milliseconds) ms")

        // Reduce, the root on the other host, then on this one.
        try checkReduceAll(members, t, g, root: 3)
        try checkReduceAll(members, t, g, root: 2, tag: 300)

        // Broadcast from each host reaches the members of both.
        for (sender, command, tag) in [(here[0], "bcast", Int32(90)), (there[1], "bcast-message", Int32(91))] {
            XCTAssertEqual(try members.call(sender, "\(command) \(g) \(tag) \(tag * 2)").code, 0)
            for x in t where x != sender {
                let got = try members.call(x, "recv \(tag) 5000")
                XCTAssertEqual(got.code, tag * 2, "\(x) did not get \(sender)'s \(command)")
                XCTAssertEqual(got.extra, [sender.rawValue])
            }
            XCTAssertEqual(try members.call(sender, "recv \(tag) 200").code, -1000, "\(command) reached its sender")
        }
    }

    func testMultiHostGroupSwitchesFromSharedMemoryToTheServer() throws {
        try addHosts([1])
        let here = try members.spawn(2, on: vm.hostName)
        let remote = try members.spawn(1, on: network.address(1))[0]
        let (a, b) = (here[0], here[1])
        let g = "g.switch"
        try members.join([a, b], g)
        let before = try vm.groupDump()
        XCTAssertFalse(before.contains("spans hosts"), before)
        let local = try members.rounds([a, b], g, rounds: 300, directory: directory)
        XCTAssertEqual(local.violations, [0, 0], local.details.joined(separator: "; "))

        // A and B wait at a barrier of 3 in shared memory when the third
        // member joins from the other host: their arrivals are handed to
        // the group server, and the remote member's arrival completes it.
        try members.post(a, "barrier \(g) 3")
        try members.post(b, "barrier \(g) 3")
        XCTAssertNil(try members.reply(a, timeout: 0.3), "a barrier of 3 completed with 2")
        XCTAssertEqual(try members.call(remote, "join \(g)").code, 2)
        let spanning = try vm.groupDump()
        XCTAssertTrue(spanning.contains("spans hosts"), spanning)
        XCTAssertNil(try members.reply(a, timeout: 0.3), "a join released the barrier")
        XCTAssertNil(try members.reply(b, timeout: 0.05), "a join released the barrier")
        try members.post(remote, "barrier \(g) 3")
        for x in [a, b, remote] { XCTAssertEqual(try members.reply(x, timeout: 10)?.code, 0, "\(x) at the barrier that switched hosts") }

        // Barriers of the three go on working, through the server.
        let all = try members.rounds([a, b, remote], g, rounds: 200, directory: directory)
        XCTAssertEqual(all.violations, [0, 0, 0], all.details.joined(separator: "; "))
        // And of two again, once the remote member has left.
        XCTAssertEqual(try members.call(remote, "leave \(g)").code, 0)
        let pair = try members.rounds([a, b], g, rounds: 100, directory: directory)
        XCTAssertEqual(pair.violations, [0, 0], pair.details.joined(separator: "; "))
        print("MultiHostGroup: 300 shared-memory barriers in \(local.milliseconds) ms; 200 of 3 tasks on 2 hosts in \(all.milliseconds) ms")
    }

    /// Count -1 across the switch: two of three local members wait at a
    /// barrier of the whole group when a member joins from the other host;
    /// the server then waits for all four (not for the three the group had
    /// when they arrived), and -1 arrivals agree with it (no PvmMismatch).
    func testMultiHostGroupBarrierOfTheWholeGroupAcrossTheSwitch() throws {
        try addHosts([1])
        let here = try members.spawn(3, on: vm.hostName)
        let remote = try members.spawn(1, on: network.address(1))[0]
        let (a, b, c) = (here[0], here[1], here[2])
        let g = "g.switch.all"
        try members.join([a, b, c], g)
        try members.post(a, "barrier \(g) -1")
        try members.post(b, "barrier \(g) -1")
        XCTAssertNil(try members.reply(a, timeout: 0.3), "a barrier of the whole group completed with 2 of 3")
        XCTAssertEqual(try members.call(remote, "join \(g)").code, 3)
        try members.post(c, "barrier \(g) -1")
        XCTAssertNil(try members.reply(c, timeout: 0.3), "the barrier completed with 3 of the 4 members")
        try members.post(remote, "barrier \(g) -1")
        for x in [a, b, c, remote] { XCTAssertEqual(try members.reply(x, timeout: 10)?.code, 0, "\(x) at the barrier of the whole group") }
    }

    func testMultiHostGroupBarrierFailsWhenAMembersHostDies() throws {
        try addHosts([1, 2])
        let here = try members.spawn(2, on: vm.hostName)
        let (a, c) = (here[0], here[1])
        let b = try members.spawn(1, on: network.address(1))[0]
        let d = try members.spawn(1, on: network.address(2))[0]

        // Host 1's daemon is killed while its member B and A wait at the barrier.
        let g = "g.killed"
        try members.join([a, b, c], g)
        let bPID = try members.call(b, "pid").code
        try members.post(a, "barrier \(g) -1")
        try members.post(b, "barrier \(g) -1")
        XCTAssertNil(try members.reply(a, timeout: 0.3), "the barrier completed without C")
        let daemon = try XCTUnwrap(daemonPID(1), "test host 1 has no daemon")
        let start = Date()
        kill(daemon, SIGKILL)
        XCTAssertEqual(try members.reply(a, timeout: 10)?.code, Code.noTask.rawValue, "the barrier of a member whose host died")
        print("MultiHostGroup: a barrier failed \(Int(Date().timeIntervalSince(start) * 1000)) ms after a member's host was killed")
        // B lost its daemon; end it if it has not ended by itself.
        if VirtualMachineFixture.alive(bPID) { kill(bPID, SIGKILL) }
        XCTAssertTrue(VirtualMachineFixture.eventually(timeout: 5) { (try? self.vm.groupSize(g)) == 2 })
        let after = try members.rounds([a, c], g, rounds: 50, directory: directory)
        XCTAssertEqual(after.violations, [0, 0], after.details.joined(separator: "; "))

        // Host 2 is deleted while A and C wait for its member D.
        let h = "g.deleted"
        try members.join([a, d, c], h)
        try members.post(a, "barrier \(h) -1")
        try members.post(c, "barrier \(h) -1")
        XCTAssertNil(try members.reply(a, timeout: 0.3), "the barrier completed without D")
        XCTAssertEqual(try vm.deleteHosts([network.address(2)]), [0])
        for x in [a, c] { XCTAssertEqual(try members.reply(x, timeout: 10)?.code, Code.noTask.rawValue, "\(x): the barrier of a member whose host was deleted") }

        // The machine works on, across hosts too.
        try addHosts([2])
        let f = try members.spawn(1, on: network.address(2))[0]
        // The re-added host may take the number the killed one had, and its
        // first task the tid of the task that died with it (B: this task
        // had a direct TCP link to it). Messages to the new task must reach
        // it, whatever this task knew of the old one.
        try members.post(f, "pid")
        var answered = try members.reply(f, timeout: 5) != nil
        XCTAssertTrue(answered, "the first message to \(f) on the re-added host was lost" + (f == b ? " (B, dead with host 1, had this tid)" : ""))
        for _ in 0..<3 where !answered {
            try members.post(f, "pid")
            answered = try members.reply(f, timeout: 2) != nil
        }
        while try members.reply(f, timeout: 0.2) != nil {}  // late answers
        try members.join([a, c, f], "g.after")
        let r = try members.rounds([a, c, f], "g.after", rounds: 100, directory: directory)
        XCTAssertEqual(r.violations, [0, 0, 0], r.details.joined(separator: "; "))
    }
}
