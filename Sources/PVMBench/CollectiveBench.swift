#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Foundation
import Histogram
import PVM
import PVMSystem

/// `pvmbench collective`: barrier, broadcast and reduce among the members
/// of one group, all tasks of this host. This process is the root
/// (instance 0); the other members are `pvmbench-task --collective`, which
/// run the same plan (the sizes and counts go on their command line) and
/// send their own timings to the root after each size. The method is in
/// `Collective`'s help text.
public enum CollectiveDriver {
    // Tags shared with pvmbench-task's collective mode (Sources/pvmbench-task/main.swift).
    static let joinedTag: Int32 = 4
    static let bcastTag: Int32 = 5
    static let reduceTag: Int32 = 6
    static let resultTag: Int32 = 7

    /// PVM_DOUBLE.
    static let doubleType: Int32 = 6

    /// The default sizes of bcast and reduce.
    public static let defaultSizes = [8, 1 << 10, 16 << 10, 128 << 10, 1 << 20]

    /// How long the members may take to start and join the group.
    static let joinTimeoutNanoseconds: UInt64 = 60_000_000_000
    /// How long the members may take to send their timings once the root is
    /// done with a size (they are one operation behind at most), and to exit.
    static let resultTimeoutNanoseconds: UInt64 = 60_000_000_000

    /// Measured and warm-up iterations per size when -i and -x are not given
    /// (about OSU's counts, times ten for small messages, where noise is
    /// larger than the operation; a barrier of 2 tasks takes well under a
    /// second, one of 8 oversubscribed tasks a few seconds).
    public static func defaultCounts(bytes: Int) -> (iterations: Int, warmup: Int) {
        switch bytes {
        case 0: return (20_000, 2_000)
        case ...8192: return (10_000, 1_000)
        case ...65536: return (2_000, 200)
        case ...(1 << 20): return (500, 50)
        default: return (100, 10)
        }
    }

    /// The byte at `index` of the broadcast of round `round` (as pingpong's -c pattern).
    @inline(__always)
    static func pattern(_ index: Int, _ round: Int) -> UInt8 { PingPongDriver.pattern(index, round) }

    /// Item `index` of the reduce input of `instance` in round `round`: small
    /// integers, so the sum over any group is exact in a double.
    @inline(__always)
    static func reduceInput(_ index: Int, round: Int, instance: Int) -> Double {
        Double((instance + 1) * ((index &+ round) % 1000 + 1))
    }

    /// PvmSum on doubles: `y` into `x` (a ReduceCombine).
    static func sumDoubles(_ x: UnsafeMutableRawPointer, _ y: UnsafeRawPointer, _ n: Int) throws(PVMError) {
        let a = x.assumingMemoryBound(to: Double.self), b = y.assumingMemoryBound(to: Double.self)
        for i in 0..<n { a[i] += b[i] }
    }

    /// The plan as the members read it: `bytes:iterations:warmup,...`.
    static func planArgument(_ plan: [CollectiveStep]) -> String {
        plan.map { "\($0.bytes):\($0.iterations):\($0.warmup)" }.joined(separator: ",")
    }

    public static func run(_ options: CollectiveOptions, peerExecutable: String, progress: Bool) throws -> RunResult {
        let plan = try options.checkedPlan()
        let common = options.common
        let operation = options.operation
        let tasks = options.tasks
        let viaDaemon = common.transport == .daemon
        let viaTCP = common.transport == .tcp
        let vm = try TaskLibraryDriver.enroll()
        defer { TaskLibraryDriver.leave(vm) }
        if viaTCP { vm.tcpToEveryPeer = true }  // not the environment (withMachine says why)
        if viaDaemon { vm.route = .dontRoute }

        let group = "pvmbench-\(operation.rawValue)-\(getpid())"
        let instance: Int32
        do { instance = try vm.joinGroup(group) } catch { throw BenchError("cannot join the group \(group): \(error)") }
        defer { try? vm.leaveGroup(group) }
        guard instance == 0 else { throw BenchError("the group \(group) already had members (this task joined as instance \(instance))") }

        // --hosts A,B: this task (the root) on A, every other member on B.
        let memberHost = try TaskLibraryDriver.hosts(common, vm)?.there ?? vm.hostName
        let spansHosts = memberHost != vm.hostName
        var arguments = ["--collective", operation.rawValue, "--group", group, "--tasks", "\(tasks)", "--plan", planArgument(plan)]
        // A member of this host leaves if this process dies whatever it is
        // blocked in; one of another host cannot see this pid (it is
        // stopped by pvm_kill when the run fails, and by a halt).
        if !spansHosts { arguments += ["--root-pid", "\(getpid())"] }
        if viaDaemon { arguments += ["--route", "daemon"] }
        if viaTCP { arguments += ["--route", "tcp"] }
        if common.checkData { arguments.append("--validate") }
        let members = try spawnMembers(vm, peerExecutable, arguments, count: tasks - 1, on: memberHost)
        // Stop whatever is still running if the measurement fails.
        var finished = false
        defer { if !finished { for t in members { try? vm.kill(t) } } }
        let root = TaskLibraryGroupRoot(vm: vm, group: group)
        try awaitJoins(root, members, group: group)
        do { _ = try vm.freezeGroup(group, size: Int32(tasks)) } catch { throw BenchError("cannot freeze the group \(group): \(error)") }

        let validating = common.checkData
        let results = try Session.measure(root: root, group: group, members: members, tasks: tasks,
                                          validating: validating, operation: operation, plan: plan, label: "collective", progress: progress)
        // The members wait for this before they leave, so that an exit
        // notice during the measurement is always a failure.
        _ = try vm.initSend(encoding: Encoding.raw.rawValue)
        try vm.multicast(to: members, tag: TaskLibraryDriver.stopTag)
        // The path actually used: the members' messages', and the barrier's
        // (a group of one host's tasks meets in its shared segment, one
        // across hosts at the group server, through the daemons).
        let used = operation == .barrier ? (spansHosts ? "daemon" : "shm") : viaDaemon ? "daemon" : vm.path(to: TaskID(members[0])).rawValue
        try awaitExits(vm, members)
        finished = true
        var run = RunResult(benchmark: "collective", transport: used, api: "pvm", zeroCopy: false, machine: .current(),
                            results: results.map { var r = $0; r.path = used; return r })
        run.operation = operation.rawValue
        return run
    }

    /// Spawns the other members on `host` and asks for their exit notices.
    static func spawnMembers(_ vm: VirtualMachine, _ executable: String, _ arguments: [String], count: Int, on host: String) throws -> [Int32] {
        let results: [Int32]
        do {
            results = try vm.spawnResults(executable, arguments: arguments, flags: SpawnFlags.host.rawValue, where: host, count: count)
        } catch {
            throw BenchError("cannot spawn the member tasks: \(error)")
        }
        let started = results.filter { $0 > 0 }
        if !started.isEmpty {
            try vm.notify(NotifyKind.taskExit.rawValue, tag: TaskLibraryDriver.exitNotifyTag, count: Int32(started.count), tids: started)
        }
        guard started.count == count else {
            for t in started { try? vm.kill(t) }
            throw BenchError("only \(started.count) of \(count) member tasks (\(executable)) started: \(PVMError(code: results.last ?? -14).text)")
        }
        return started
    }

    /// Waits until every member has joined (each says so), so that a member
    /// that failed to start is an error here rather than a freeze that
    /// never completes.
    static func awaitJoins<Root: GroupRoot>(_ root: Root, _ members: [Int32], group: String) throws {
        var waiting = Set(members)
        let deadline = Clock.monotonicNanoseconds() + joinTimeoutNanoseconds
        while !waiting.isEmpty {
            let (src, _) = try root.receive(tag: joinedTag, from: waiting, until: deadline, what: "join the group \(group)")
            waiting.remove(src)
        }
    }

    /// Waits for every member's exit notice (they exit when told to stop).
    static func awaitExits(_ vm: VirtualMachine, _ members: [Int32]) throws {
        let deadline = Clock.monotonicNanoseconds() + resultTimeoutNanoseconds
        var left = members.count
        while left > 0 {
            let now = Clock.monotonicNanoseconds()
            guard now < deadline else { throw BenchError("\(left) member tasks did not exit after the measurement") }
            let id = try vm.receive(from: TaskID.notifySource.rawValue, tag: TaskLibraryDriver.exitNotifyTag, timeoutNanoseconds: deadline - now)
            if id != 0 { left -= 1 }
        }
    }

    /// Receives the next message with `tag` from one of `sources`; a member's
    /// exit notice first is an error, and so is the deadline.
    static func receive(_ vm: VirtualMachine, tag: Int32, from sources: Set<Int32>, until deadline: UInt64, what: String) throws -> (source: Int32, id: Int32) {
        while true {
            let now = Clock.monotonicNanoseconds()
            guard now < deadline else { throw BenchError("the member tasks did not \(what) in time") }
            let id = try vm.receive(from: -1, tag: -1, timeoutNanoseconds: deadline - now)
            if id == 0 { continue }
            let (_, t, src) = try vm.bufferInfo(id)
            if t == tag && sources.contains(src) { return (src, id) }
            if src == TaskID.notifySource.rawValue && t == TaskLibraryDriver.exitNotifyTag {
                var gone: Int32 = 0
                try? vm.unpack(into: &gone, count: 1)
                throw BenchError("member task \(TaskID(gone)) exited before it could \(what)")
            }
        }
    }

    /// The root's side of one run: the group, its members, and the buffers;
    /// the root's calls go through `root` (the task library's Swift API, or
    /// libpvm3's C entry points for --api c).
    struct Session<Root: GroupRoot> {
        let root: Root
        let group: String
        let members: [Int32]
        let tasks: Int
        let scratch: UnsafeMutableRawBufferPointer
        let validating: Bool

        /// Runs every step of `plan` with the root's calls `root` (a
        /// progress line on a terminal names `label`), with a buffer for the
        /// largest message.
        static func measure(root: Root, group: String, members: [Int32], tasks: Int, validating: Bool,
                            operation: CollectiveOperation, plan: [CollectiveStep], label: String, progress: Bool) throws -> [SizeResult] {
            let largest = max(8, plan.map(\.bytes).max() ?? 8)
            let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: largest, alignment: 4096)
            defer { scratch.deallocate() }
            scratch.initializeMemory(as: UInt8.self, repeating: 0x5A)
            let session = Session(root: root, group: group, members: members, tasks: tasks, scratch: scratch, validating: validating)
            var results: [SizeResult] = []
            for step in plan {
                if progress {
                    let what = operation == .barrier ? "" : " \(step.bytes) B"
                    FileHandle.standardError.write(Data("\r\(label) \(operation.rawValue)\(what), \(tasks) tasks: \(step.iterations) iterations...        ".utf8))
                }
                var result: SizeResult
                switch operation {
                case .barrier: result = try session.barrier(step)
                case .bcast: result = try session.broadcast(step)
                case .reduce: result = try session.reduce(step)
                }
                result.tasks = tasks
                results.append(result)
            }
            if progress { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            return results
        }

        func result(_ step: CollectiveStep, _ histogram: Histogram<UInt64>, cpu: Double, validated: Bool?) -> SizeResult {
            let oneWay = OneWay(histogram)
            return SizeResult(bytes: step.bytes, iterations: step.iterations, oneWayNs: oneWay,
                              gbytesPerS: Double(step.bytes) / oneWay.mean, messagesPerS: 1e9 / oneWay.mean,
                              cpuNsPerMsg: cpu, path: "", validated: validated)
        }

        /// A group error met in the middle of the measurement, in words.
        func explain(_ error: PVMError, _ step: CollectiveStep, _ what: String) -> BenchError {
            let size = step.bytes == 0 ? "" : " at \(step.bytes) B"
            if error.code == PVMError.Code.noTask.rawValue {
                return BenchError("a member task exited during the \(what)\(size): \(error)")
            }
            return BenchError("the \(what) failed\(size): \(error)")
        }

        /// Per-barrier intervals at the root (see `Collective`'s help).
        func barrier(_ step: CollectiveStep) throws -> SizeResult {
            var histogram = timeHistogram()
            var account = CPUAccount()
            var previous = Clock.monotonicNanoseconds()
            do throws(PVMError) {
                for r in 0..<(step.warmup + step.iterations) {
                    if r == step.warmup { account.start() }
                    // A member that dies between two barriers leaves the
                    // group, and the next barrier of the whole group is one
                    // member short but completes: look for its exit notify
                    // now and then (a probe, not timed into many barriers).
                    if r & 4095 == 4095 {
                        let notified = account.excluding { Result { () throws(PVMError) in try root.exitNoticed() } }
                        if try notified.get() { throw PVMError(.noTask, "a member of \(group) exited between two barriers") }
                    }
                    try root.barrier()
                    let now = Clock.monotonicNanoseconds()
                    if r >= step.warmup { _ = histogram.record(now &- previous) }
                    previous = now
                }
            } catch { throw explain(error, step, "barrier") }
            let cpu = account.perOperation(step.iterations)
            return result(step, histogram, cpu: cpu, validated: nil)
        }

        func broadcast(_ step: CollectiveStep) throws -> SizeResult {
            let size = step.bytes
            let base = scratch.baseAddress!.assumingMemoryBound(to: UInt8.self)
            var times = [UInt64](repeating: 0, count: step.iterations)
            var account = CPUAccount()
            do {
                for r in 0..<(step.warmup + step.iterations) {
                    if r == step.warmup {
                        account.start()
                    }
                    if validating {
                        account.excluding {
                            PingPongDriver.fill(UnsafeMutableRawBufferPointer(rebasing: scratch[0..<size]), round: r)
                        }
                    }
                    try root.barrier()
                    let t0 = Clock.monotonicNanoseconds()
                    try root.broadcast(base, count: size)
                    let t1 = Clock.monotonicNanoseconds()
                    if r >= step.warmup { times[r - step.warmup] = t1 &- t0 }
                }
            } catch { throw explain(error, step, "broadcast") }
            let cpu = account.perOperation(step.iterations)
            let (histogram, valid) = try combine(rootTimes: times, step)
            return result(step, histogram, cpu: cpu, validated: validating ? valid : nil)
        }

        func reduce(_ step: CollectiveStep) throws -> SizeResult {
            let count = step.bytes / 8
            let data = UnsafeMutableRawPointer(scratch.baseAddress!)
            let values = scratch.baseAddress!.assumingMemoryBound(to: Double.self)
            for i in 0..<count { values[i] = CollectiveDriver.reduceInput(i, round: 0, instance: 0) }
            let n = tasks
            var times = [UInt64](repeating: 0, count: step.iterations)
            var account = CPUAccount()
            var allValid = true
            do {
                for r in 0..<(step.warmup + step.iterations) {
                    if r == step.warmup {
                        account.start()
                    }
                    // The root's values become the sum: refill them only when
                    // the sum is checked (else they grow, which costs the same).
                    if validating {
                        account.excluding {
                            for i in 0..<count { values[i] = CollectiveDriver.reduceInput(i, round: r, instance: 0) }
                        }
                    }
                    try root.barrier()
                    let t0 = Clock.monotonicNanoseconds()
                    try root.reduce(data, count: count)
                    let t1 = Clock.monotonicNanoseconds()
                    if r >= step.warmup { times[r - step.warmup] = t1 &- t0 }
                    if validating {
                        account.excluding {
                            let weight = Double(n * (n + 1) / 2)
                            for i in 0..<count where values[i] != weight * CollectiveDriver.reduceInput(i, round: r, instance: 0) {
                                allValid = false
                                break
                            }
                        }
                    }
                }
            } catch { throw explain(error, step, "reduce") }
            let cpu = account.perOperation(step.iterations)
            let (histogram, membersValid) = try combine(rootTimes: times, step)
            return result(step, histogram, cpu: cpu, validated: validating ? allValid && membersValid : nil)
        }

        /// Collects every member's times of `step` (and its -c verdict) and
        /// records, per iteration, the mean over all members' times.
        func combine(rootTimes: [UInt64], _ step: CollectiveStep) throws -> (Histogram<UInt64>, Bool) {
            var sums = rootTimes
            var valid = true
            var waiting = Set(members)
            let incoming = UnsafeMutablePointer<UInt64>.allocate(capacity: max(step.iterations, 1))
            defer { incoming.deallocate() }
            let deadline = Clock.monotonicNanoseconds() + resultTimeoutNanoseconds
            while !waiting.isEmpty {
                let (src, ok) = try root.receiveTimes(from: waiting, until: deadline, what: "send their timings of \(step.bytes) B",
                                                      iterations: step.iterations, into: incoming)
                waiting.remove(src)
                if !ok { valid = false }
                for i in 0..<step.iterations { sums[i] &+= incoming[i] }
            }
            var histogram = timeHistogram()
            let n = UInt64(tasks)
            for s in sums { _ = histogram.record((s + n / 2) / n) }
            return (histogram, valid)
        }
    }
}

/// The root's calls in a collective run (`CollectiveDriver.Session`).
protocol GroupRoot {
    /// A barrier of the whole (frozen) group.
    func barrier() throws(PVMError)
    /// Whether a member's exit notice has come.
    func exitNoticed() throws(PVMError) -> Bool
    /// Sends `count` bytes to every other member (initsend PvmDataRaw, pack, pvm_bcast).
    func broadcast(_ bytes: UnsafeMutablePointer<UInt8>, count: Int) throws(PVMError)
    /// pvm_reduce with PvmSum of `count` doubles to instance 0 (this task).
    func reduce(_ values: UnsafeMutableRawPointer, count: Int) throws(PVMError)
    /// The next message with `tag` from one of `sources` (its source and
    /// buffer id); a member's exit notice first is an error, and so is the deadline.
    func receive(tag: Int32, from sources: Set<Int32>, until deadline: UInt64, what: String) throws -> (source: Int32, id: Int32)
    /// The next member's timings of a size (`iterations` of them, into
    /// `into`) from one of `waiting`, with its -c verdict.
    func receiveTimes(from waiting: Set<Int32>, until deadline: UInt64, what: String, iterations: Int,
                      into: UnsafeMutablePointer<UInt64>) throws -> (source: Int32, valid: Bool)
}

/// The root's calls through the task library's Swift API.
struct TaskLibraryGroupRoot: GroupRoot {
    let vm: VirtualMachine
    let group: String

    func barrier() throws(PVMError) { try vm.barrier(group) }
    func exitNoticed() throws(PVMError) -> Bool {
        try vm.probe(from: TaskID.notifySource.rawValue, tag: TaskLibraryDriver.exitNotifyTag) > 0
    }
    func broadcast(_ bytes: UnsafeMutablePointer<UInt8>, count: Int) throws(PVMError) {
        _ = try vm.initSend(encoding: Encoding.raw.rawValue)
        try vm.pack(bytes, count: count)
        try vm.broadcast(group: group, tag: CollectiveDriver.bcastTag)
    }
    func reduce(_ values: UnsafeMutableRawPointer, count: Int) throws(PVMError) {
        try vm.reduce(CollectiveDriver.sumDoubles, data: values, count: count, type: CollectiveDriver.doubleType,
                      tag: CollectiveDriver.reduceTag, group: group, root: 0)
    }
    func receive(tag: Int32, from sources: Set<Int32>, until deadline: UInt64, what: String) throws -> (source: Int32, id: Int32) {
        try CollectiveDriver.receive(vm, tag: tag, from: sources, until: deadline, what: what)
    }
    func receiveTimes(from waiting: Set<Int32>, until deadline: UInt64, what: String, iterations: Int,
                      into: UnsafeMutablePointer<UInt64>) throws -> (source: Int32, valid: Bool) {
        let (src, id) = try receive(tag: CollectiveDriver.resultTag, from: waiting, until: deadline, what: what)
        let (bytes, _, _) = try vm.bufferInfo(id)
        guard Int(bytes) == 4 + 8 * iterations else {
            throw BenchError("member task \(TaskID(src)) sent \(bytes) bytes of timings for \(iterations) iterations")
        }
        var ok: Int32 = 0
        try vm.unpack(into: &ok, count: 1)
        try vm.unpack(into: UnsafeMutableRawPointer(into).assumingMemoryBound(to: UInt8.self), count: 8 * iterations)
        return (src, ok != 0)
    }
}
