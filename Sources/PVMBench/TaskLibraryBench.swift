#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Histogram
import PVM
import PVMSystem

/// Measurements through the task library (`--api pvm`): the far end is a
/// task spawned through the daemon, and every message goes the way a PVM
/// program's does (initsend, pack, send; recv, unpack; or with InPlace
/// data, or pvm_psend and pvm_precv: `--send-mode`).
public enum TaskLibraryDriver {
    static let echoTag: Int32 = 1
    static let stopTag: Int32 = 2
    static let helloTag: Int32 = 3
    static let exitNotifyTag: Int32 = 0x7fff_0100

    /// Enrolls, starting a local daemon when none runs.
    static func enroll() throws -> VirtualMachine {
        do { return try VirtualMachine.shared() } catch {
            throw BenchError("cannot join a virtual machine: \(error)")
        }
    }

    /// Leaves the machine, and stops the daemon if this run started it.
    static func leave(_ vm: VirtualMachine) {
        let started = vm.startedDaemon
        try? vm.exit()
        if started { DaemonLauncher.stopDaemon() }
    }

    /// The spawned end of these measurements: `pvmbench-task`, beside this program.
    public static func peerExecutable(besides executable: String) -> String {
        guard let slash = executable.lastIndex(of: "/") else { return "pvmbench-task" }
        return String(executable[...slash]) + "pvmbench-task"
    }

    /// Spawns the echoing peer (`pvmbench-task`).
    static func spawnPeer(_ vm: VirtualMachine, _ executable: String, _ arguments: [String], on host: String? = nil) throws -> Int32 {
        try spawnTasks(vm, executable, arguments, count: 1, on: host)[0]
    }

    /// Receives the next message from `peer` with `tag`; a TaskExit notify
    /// for the peer (it died) is an error, not a hang.
    @inline(__always)
    static func receive(_ vm: VirtualMachine, from peer: Int32, tag: Int32) throws -> Int32 {
        while true {
            let id = try vm.receive(from: -1, tag: -1, timeoutNanoseconds: nil)
            let (_, t, src) = try vm.bufferInfo(id)
            if _fastPath(src == peer && t == tag) { return id }
            if src == TaskID.notifySource.rawValue && t == exitNotifyTag {
                throw BenchError("the peer task \(TaskID(peer)) exited in the middle of the measurement")
            }
        }
    }

    /// PVM_BYTE, the item type of the one-shot calls (pvm_psend, pvm_precv).
    static let byteType: Int32 = 1

    /// Sends `count` bytes at `bytes` to `peer` the way `mode` says.
    @inline(__always)
    static func send(_ vm: VirtualMachine, _ mode: SendMode, _ bytes: UnsafePointer<UInt8>, count: Int, to peer: Int32, tag: Int32) throws {
        switch mode {
        case .pack, .inplace:
            _ = try vm.initSend(encoding: mode == .pack ? Encoding.raw.rawValue : Encoding.inPlace.rawValue)
            try vm.pack(bytes, count: count)
            try vm.send(to: peer, tag: tag)
        case .psend:
            try vm.psend(to: peer, tag: tag, data: bytes, count: count, type: byteType)
        }
    }

    /// Receives the next message from `peer` with `tag` into `bytes` (room
    /// for `count`) the way `mode` says; a TaskExit notify for the peer is
    /// an error, not a hang.
    @inline(__always)
    static func receive(_ vm: VirtualMachine, _ mode: SendMode, into bytes: UnsafeMutablePointer<UInt8>, count: Int, from peer: Int32, tag: Int32) throws {
        guard mode == .psend else {
            _ = try receive(vm, from: peer, tag: tag)
            try vm.unpack(into: bytes, count: count)
            return
        }
        // Any source and tag, so that the peer's exit notify ends the wait.
        let (src, t, n) = try vm.precv(from: -1, tag: -1, into: bytes, count: count, type: byteType)
        if _fastPath(src == peer && t == tag && n == count) { return }
        if src == TaskID.notifySource.rawValue && t == exitNotifyTag {
            throw BenchError("the peer task \(TaskID(peer)) exited in the middle of the measurement")
        }
        throw BenchError("expected \(count) bytes with tag \(tag) from \(TaskID(peer)), received \(n) with tag \(t) from \(TaskID(src))")
    }

    /// The arguments that make a spawned `pvmbench-task` use `transport`'s path.
    static func routeArguments(_ transport: TransportChoice) -> [String] {
        transport == .daemon ? ["--route", "daemon"] : transport == .tcp ? ["--route", "tcp"] : []
    }

    /// Runs `body` enrolled in the virtual machine (started here when none
    /// runs, and stopped again), with `transport`'s path chosen for this
    /// task: TCP even between two tasks of this host, or routing through
    /// the daemon.
    static func withMachine<R>(_ options: CommonOptions, _ body: (VirtualMachine) throws -> R) throws -> R {
        let vm = try enroll()
        defer { leave(vm) }
        // Not PVM_TRANSPORT in this process's environment: a daemon started
        // here would inherit it and give it to every task it spawns, after
        // this run too if it outlives it.
        if options.transport == .tcp { vm.tcpToEveryPeer = true }
        if options.transport == .daemon { vm.route = .dontRoute }
        return try body(vm)
    }

    /// Spawns `count` copies of `pvmbench-task` (on this host, or on `host`),
    /// each watched for its exit (see `receive`).
    static func spawnTasks(_ vm: VirtualMachine, _ executable: String, _ arguments: [String], count: Int, on host: String? = nil) throws -> [Int32] {
        let results: [Int32]
        do {
            results = try vm.spawnResults(executable, arguments: arguments, flags: host == nil ? 0 : SpawnFlags.host.rawValue,
                                          where: host ?? "", count: count)
        } catch {
            throw BenchError("cannot spawn \(executable): \(error)")
        }
        let started = results.filter { $0 > 0 }
        guard started.count == count else {
            throw BenchError("the daemon started \(started.count) of \(count) copies of \(executable): \(PVMError(code: results.first { $0 <= 0 } ?? -14).text)")
        }
        try vm.notify(NotifyKind.taskExit.rawValue, tag: exitNotifyTag, count: Int32(count), tids: started)
        return started
    }

    /// Receives the next message with `tag` from any of `tids`, failing (not
    /// hanging) when a watched task exits.
    static func receive(_ vm: VirtualMachine, fromAnyOf tids: [Int32], tag: Int32) throws -> Int32 {
        while true {
            let id = try vm.receive(from: -1, tag: -1, timeoutNanoseconds: nil)
            let (_, t, src) = try vm.bufferInfo(id)
            if t == tag && tids.contains(src) { return id }
            if src == TaskID.notifySource.rawValue && t == exitNotifyTag {
                throw BenchError("a pvmbench-task exited in the middle of the measurement")
            }
        }
    }

    /// Tells `tasks` to stop and waits for them to go (their exit notifies),
    /// so nothing is left behind.
    static func stop(_ vm: VirtualMachine, _ tasks: [Int32]) {
        guard !tasks.isEmpty else { return }
        for t in tasks {
            _ = try? vm.initSend(encoding: Encoding.raw.rawValue)
            try? vm.send(to: t, tag: stopTag)
        }
        let deadline = Clock.monotonicNanoseconds() + 10_000_000_000
        var gone = 0
        while gone < tasks.count, Clock.monotonicNanoseconds() < deadline {
            guard let id = try? vm.receive(from: TaskID.notifySource.rawValue, tag: exitNotifyTag, timeoutNanoseconds: deadline - Clock.monotonicNanoseconds()),
                  id > 0 else { break }
            gone += 1
        }
    }

    /// The path messages from this task to `peer` take, as the task library
    /// says after the run (with `--transport daemon` both ends route through
    /// the daemons and set up no direct path, so it says "daemon" then).
    static func pathBetween(_ vm: VirtualMachine, _ peer: Int32) -> String {
        vm.path(to: TaskID(peer)).rawValue
    }

    /// The two hosts of `--hosts`, checked against the virtual machine: the
    /// first must be this host, the second one of the machine's.
    static func hosts(_ options: CommonOptions, _ vm: VirtualMachine) throws -> (here: String, there: String)? {
        guard let (here, there) = options.hostPair else { return nil }
        let names = (try? vm.config().map(\.name)) ?? []
        guard here == vm.hostName else { throw BenchError("--hosts \(here),\(there): the measuring end runs on this host, \(vm.hostName)") }
        guard names.contains(there) else { throw BenchError("--hosts: \(there) is not a host of the virtual machine (hosts: \(names.joined(separator: ", ")))") }
        return (here, there)
    }

    /// Runs `body` with one echoing peer task (`pvmbench-task`, with
    /// `arguments`) spawned on this host or on `--hosts`' second host; then
    /// stops the peer and records the path actually used in the run.
    static func withPeer(_ options: CommonOptions, peerExecutable: String, arguments: [String],
                         _ body: (VirtualMachine, Int32) throws -> RunResult) throws -> RunResult {
        try withMachine(options) { vm in
            let peerHost = try hosts(options, vm)?.there
            let peer = try spawnPeer(vm, peerExecutable, routeArguments(options.transport) + arguments, on: peerHost)
            var run: RunResult
            do { run = try body(vm, peer) } catch {
                // The peer may be gone already (that is often the error) or stuck: no goodbye.
                try? vm.kill(peer)
                throw error
            }
            // Where the peer task ran: seen from here when it runs on this host.
            if TaskID(peer).hostNumber == vm.myTid.hostNumber, let pid = (try? vm.tasks(where: peer))?.first?.pid {
                run.numa?.observePeer(pid: pid)
            } else {
                run.numa?.peerNote = "the peer task runs on another host: not observed from here"
            }
            // The path actually used (another host's peer: TCP, unless none could be made).
            let used = pathBetween(vm, peer)
            stop(vm, [peer])
            run.transport = used
            for i in run.results.indices { run.results[i].path = used }
            return run
        }
    }

    /// The measuring end's rounds of a ping-pong through a PVM library,
    /// size after size: `roundTrip` sends the `size` bytes at its pointer
    /// and takes the echo back into them. Under -c each round's pattern is
    /// written before and checked after, outside the timed part. Inlined
    /// into each caller, so `roundTrip` costs no call.
    @inline(__always)
    static func echoRounds(_ options: CommonOptions, label: String, path: String, progress: Bool,
                           roundTrip: (UnsafeMutablePointer<UInt8>, Int) throws -> Void) throws -> [SizeResult] {
        let sizes = try options.messageSizes()
        let validating = options.checkData
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, sizes.max()!), alignment: 4096)
        defer { scratch.deallocate() }
        scratch.initializeMemory(as: UInt8.self, repeating: 0x5A)
        let base = scratch.baseAddress!.assumingMemoryBound(to: UInt8.self)
        var results: [SizeResult] = []
        for size in sizes {
            let (iterations, warmup) = options.counts(for: size)
            if progress { FileHandle.standardError.write(Data("\rpingpong \(label) \(size) B: \(iterations) iterations...            ".utf8)) }
            var histogram = timeHistogram()
            var allValid = true
            var account = CPUAccount()
            for r in 0..<(warmup + iterations) {
                if r == warmup {
                    account.start()
                }
                if validating {
                    account.excluding {
                        PingPongDriver.fill(UnsafeMutableRawBufferPointer(rebasing: scratch[0..<size]), round: r)
                    }
                }
                let t0 = Clock.monotonicNanoseconds()
                try roundTrip(base, size)
                let t1 = Clock.monotonicNanoseconds()
                if validating {
                    account.excluding {
                        if !PingPongDriver.check(UnsafeRawBufferPointer(rebasing: scratch[0..<size]), size: size, round: r) { allValid = false }
                    }
                }
                if r >= warmup { _ = histogram.record((t1 &- t0) / 2) }
            }
            let cpu = account.perOperation(2 * iterations)
            let oneWay = OneWay(histogram)
            results.append(SizeResult(bytes: size, iterations: iterations, oneWayNs: oneWay,
                                      gbytesPerS: Double(size) / oneWay.mean, messagesPerS: 1e9 / oneWay.mean,
                                      cpuNsPerMsg: cpu, path: path, validated: validating ? allValid : nil))
        }
        if progress { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        return results
    }

    public static func pingpong(_ options: CommonOptions, peerExecutable: String, progress: Bool) throws -> RunResult {
        let sizes = try options.messageSizes()
        let mode = options.sendMode
        return try withPeer(options, peerExecutable: peerExecutable, arguments: mode.peerArguments(capacity: max(1, sizes.max()!))) { vm, peer in
            let results = try echoRounds(options, label: "--api pvm", path: "", progress: progress) { base, size in
                try send(vm, mode, base, count: size, to: peer, tag: echoTag)
                try receive(vm, mode, into: base, count: size, from: peer, tag: echoTag)
            }
            var run = RunResult(benchmark: "pingpong", transport: "", api: "pvm", zeroCopy: false, machine: .current(), results: results)
            run.sendMode = mode.rawValue
            return run
        }
    }

    /// Time to spawn `tasks` tasks and hear from each (one message each),
    /// repeated `repetitions` times; `one_way_ns` is the time per task.
    public static func spawn(tasks: Int, repetitions: Int, peerExecutable: String, progress: Bool) throws -> RunResult {
        let vm = try enroll()
        defer { leave(vm) }
        var histogram = timeHistogram()
        var cpuTotal: UInt64 = 0
        for rep in 0..<(repetitions + 1) {
            if progress { FileHandle.standardError.write(Data("\rspawn \(tasks) tasks: repetition \(rep + 1) of \(repetitions + 1)...    ".utf8)) }
            let c0 = Clock.threadCPUNanoseconds()
            let t0 = Clock.monotonicNanoseconds()
            let results: [Int32]
            do { results = try vm.spawnResults(peerExecutable, arguments: ["--hello"], count: tasks) } catch {
                throw BenchError("spawn failed: \(error)")
            }
            let started = results.filter { $0 > 0 }
            guard started.count == tasks else {
                throw BenchError("only \(started.count) of \(tasks) tasks started: \(PVMError(code: results.last ?? -14).text)")
            }
            for _ in 0..<tasks { _ = try vm.receive(from: -1, tag: helloTag, timeoutNanoseconds: nil) }
            let elapsed = Clock.monotonicNanoseconds() &- t0
            // The first round warms the page cache and the daemon; it is not counted.
            if rep > 0 {
                _ = histogram.record(elapsed / UInt64(tasks))
                cpuTotal &+= Clock.threadCPUNanoseconds() &- c0
            }
            // Untimed: wait until every task of this round has gone.
            try vm.notify(NotifyKind.taskExit.rawValue, tag: exitNotifyTag, count: Int32(started.count), tids: started)
            for _ in 0..<tasks { _ = try vm.receive(from: TaskID.notifySource.rawValue, tag: exitNotifyTag, timeoutNanoseconds: 30_000_000_000) }
        }
        if progress { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        let oneWay = OneWay(histogram)
        // bytes: the message each task sends back (its task id).
        var result = SizeResult(bytes: 4, iterations: repetitions, oneWayNs: oneWay, gbytesPerS: 0,
                                messagesPerS: 1e9 / oneWay.mean, cpuNsPerMsg: Double(cpuTotal) / Double(repetitions * tasks),
                                path: "spawn", validated: nil)
        result.tasks = tasks
        return RunResult(benchmark: "spawn", transport: "shm", api: "pvm", zeroCopy: false, machine: .current(), results: [result])
    }
}
