#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Foundation
import Histogram
import PVM
import PVMSystem

/// Measurements through the C library (`--api c`): both ends call
/// libpvm3.so.3's entry points, as a C PVM program does (this process
/// through function pointers from dlopen, the far end `pvmbench-ctask`, a C
/// program). Set beside `--api pvm` (the same task library called from
/// Swift), the difference is the cost of the C layer.
public enum CLibraryDriver {
    /// The entry points used, resolved in libpvm3.so.3.
    struct Library {
        typealias Int0 = @convention(c) () -> Int32
        typealias Int1 = @convention(c) (Int32) -> Int32
        typealias Int2 = @convention(c) (Int32, Int32) -> Int32
        typealias Bytes = @convention(c) (UnsafeMutablePointer<CChar>?, Int32, Int32) -> Int32
        typealias Spawn = @convention(c) (UnsafeMutablePointer<CChar>?, UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                                          Int32, UnsafeMutablePointer<CChar>?, Int32, UnsafeMutablePointer<Int32>?) -> Int32
        typealias Notify = @convention(c) (Int32, Int32, Int32, UnsafeMutablePointer<Int32>?) -> Int32
        typealias BufInfo = @convention(c) (Int32, UnsafeMutablePointer<Int32>?, UnsafeMutablePointer<Int32>?, UnsafeMutablePointer<Int32>?) -> Int32
        typealias TimedRecv = @convention(c) (Int32, Int32, UnsafeMutablePointer<timeval>?) -> Int32
        typealias Ints = @convention(c) (UnsafeMutablePointer<Int32>?, Int32, Int32) -> Int32
        typealias Longs = @convention(c) (UnsafeMutablePointer<Int>?, Int32, Int32) -> Int32
        typealias Group = @convention(c) (UnsafeMutablePointer<CChar>?) -> Int32
        typealias GroupInt = @convention(c) (UnsafeMutablePointer<CChar>?, Int32) -> Int32
        typealias ReduceOp = @convention(c) (UnsafeMutablePointer<Int32>?, UnsafeMutableRawPointer?, UnsafeMutableRawPointer?,
                                             UnsafeMutablePointer<Int32>?, UnsafeMutablePointer<Int32>?) -> Void
        typealias Reduce = @convention(c) (ReduceOp?, UnsafeMutableRawPointer?, Int32, Int32, Int32, UnsafeMutablePointer<CChar>?, Int32) -> Int32
        /// pvm_config's table is struct pvmhostinfo (pvm3.h): int hi_tid; char *hi_name;
        /// char *hi_arch; int hi_speed; int hi_dsig (32 bytes on LP64).
        typealias Config = @convention(c) (UnsafeMutablePointer<Int32>?, UnsafeMutablePointer<Int32>?,
                                           UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32
        typealias Mcast = @convention(c) (UnsafeMutablePointer<Int32>?, Int32, Int32) -> Int32

        let path: String
        let mytid: Int0, exit: Int0
        let initsend: Int1
        let pkbyte: Bytes, upkbyte: Bytes
        let send: Int2, recv: Int2, setopt: Int2
        let spawn: Spawn, notify: Notify, bufinfo: BufInfo, trecv: TimedRecv
        let getopt: Int1, kill: Int1
        let pkint: Ints, upkint: Ints
        let pklong: Longs, upklong: Longs
        let tidtohost: Int1, probe: Int2, config: Config, mcast: Mcast
        /// The group calls: libgpvm3's, which forwards them to libpvm3 (so resolved there).
        let joingroup: Group, lvgroup: Group, freezegroup: GroupInt, barrier: GroupInt, bcast: GroupInt, reduce: Reduce
        let sum: ReduceOp

        /// libpvm3.so.3 beside this program (a build folder) or in ../lib (an install prefix).
        static func load(besides executable: String) throws -> Library {
            let dir = executable.lastIndex(of: "/").map { String(executable[..<$0]) } ?? "."
            let candidates = ["\(dir)/libpvm3.so.3", "\(dir)/libpvm3.so", "\(dir)/../lib/libpvm3.so.3"]
            var handle: UnsafeMutableRawPointer? = nil
            var used = ""
            for c in candidates where FileManager.default.fileExists(atPath: c) {
                handle = dlopen(c, RTLD_NOW | RTLD_LOCAL)
                if handle != nil { used = c; break }
            }
            guard let handle else {
                let why = dlerror().map { String(cString: $0) } ?? "not found in \(candidates.joined(separator: ", "))"
                throw BenchError("--api c needs libpvm3.so.3: \(why) (build it: swift build -c release --product pvm3)")
            }
            func symbol<T>(_ name: String, _: T.Type) throws -> T {
                guard let p = dlsym(handle, name) else { throw BenchError("\(used) has no \(name)") }
                return unsafeBitCast(p, to: T.self)
            }
            return Library(path: used, mytid: try symbol("pvm_mytid", Int0.self), exit: try symbol("pvm_exit", Int0.self),
                           initsend: try symbol("pvm_initsend", Int1.self), pkbyte: try symbol("pvm_pkbyte", Bytes.self),
                           upkbyte: try symbol("pvm_upkbyte", Bytes.self), send: try symbol("pvm_send", Int2.self),
                           recv: try symbol("pvm_recv", Int2.self), setopt: try symbol("pvm_setopt", Int2.self),
                           spawn: try symbol("pvm_spawn", Spawn.self), notify: try symbol("pvm_notify", Notify.self),
                           bufinfo: try symbol("pvm_bufinfo", BufInfo.self), trecv: try symbol("pvm_trecv", TimedRecv.self),
                           getopt: try symbol("pvm_getopt", Int1.self), kill: try symbol("pvm_kill", Int1.self),
                           pkint: try symbol("pvm_pkint", Ints.self), upkint: try symbol("pvm_upkint", Ints.self),
                           pklong: try symbol("pvm_pklong", Longs.self), upklong: try symbol("pvm_upklong", Longs.self),
                           tidtohost: try symbol("pvm_tidtohost", Int1.self), probe: try symbol("pvm_probe", Int2.self),
                           config: try symbol("pvm_config", Config.self), mcast: try symbol("pvm_mcast", Mcast.self),
                           joingroup: try symbol("pvm_joingroup", Group.self), lvgroup: try symbol("pvm_lvgroup", Group.self),
                           freezegroup: try symbol("pvm_freezegroup", GroupInt.self), barrier: try symbol("pvm_barrier", GroupInt.self),
                           bcast: try symbol("pvm_bcast", GroupInt.self), reduce: try symbol("pvm_reduce", Reduce.self),
                           sum: try symbol("PvmSum", ReduceOp.self))
        }
    }

    /// The spawned end: `pvmbench-ctask`, beside this program.
    public static func peerExecutable(besides executable: String) -> String {
        guard let slash = executable.lastIndex(of: "/") else { return "pvmbench-ctask" }
        return String(executable[...slash]) + "pvmbench-ctask"
    }

    static func check(_ rc: Int32, _ what: String) throws {
        if rc < 0 { throw BenchError("\(what) failed: \(PVMError(code: rc).text)") }
    }

    /// Runs `body` enrolled through libpvm3 (`c`) over the path
    /// `options.transport` names (`body` gets the path's name and the
    /// arguments that tell a spawned `pvmbench-ctask` to take it); then
    /// leaves, and stops a daemon that this run started.
    static func withLibrary<R>(_ options: CommonOptions, ownExecutable: String,
                               _ body: (Library, _ path: String, _ route: [String]) throws -> R) throws -> R {
        let c = try Library.load(besides: ownExecutable)
        let viaDaemon = options.transport == .daemon
        let viaTCP = options.transport == .tcp
        let path = viaDaemon ? "daemon" : viaTCP ? "tcp" : "shm"
        // A daemon that this run starts (libpvm3 starts it on pvm_mytid) is stopped at the end.
        let env = Environment.current
        let running = (try? DaemonLauncher.connect(socketPath: DaemonLauncher.socketPath(environment: env))) ?? nil
        running?.close()
        // TCP even to a task of this host: libpvm3 reads PVM_TRANSPORT when it
        // enrolls (a daemon it starts then inherits it, and is stopped at the
        // end); the far end is told with --route tcp.
        let previous = Environment.value("PVM_TRANSPORT")
        if viaTCP { setenv("PVM_TRANSPORT", "tcp", 1) }
        let me = c.mytid()
        if viaTCP { if let previous { setenv("PVM_TRANSPORT", previous, 1) } else { unsetenv("PVM_TRANSPORT") } }
        try check(me, "pvm_mytid")
        // Quiet: errors are reported here, not printed by the library.
        _ = c.setopt(3, 0)
        defer {
            _ = c.exit()
            if running == nil { DaemonLauncher.stopDaemon() }
        }
        if viaDaemon { _ = c.setopt(1, 1) }
        return try body(c, path, viaDaemon ? ["--route", "daemon"] : viaTCP ? ["--route", "tcp"] : [])
    }

    /// Spawns `count` copies of `pvmbench-ctask` with `arguments` (on
    /// `host` with PvmTaskHost, else where pvm_spawn places them), each
    /// watched for its exit.
    static func spawnTasks(_ c: Library, ownExecutable: String, _ arguments: [String], count: Int, on host: String? = nil) throws -> [Int32] {
        let peerPath = peerExecutable(besides: ownExecutable)
        var tids = [Int32](repeating: 0, count: count)
        let started = withCStrings(arguments) { argv in
            peerPath.withCString { file in
                (host ?? "").withCString { place in
                    c.spawn(UnsafeMutablePointer(mutating: file), UnsafeMutablePointer(mutating: argv), host == nil ? 0 : 1,
                            host == nil ? nil : UnsafeMutablePointer(mutating: place), Int32(count), &tids)
                }
            }
        }
        guard started == Int32(count), tids.allSatisfy({ $0 > 0 }) else {
            throw BenchError("cannot spawn \(peerPath): the daemon started \(max(started, 0)) of \(count): \(PVMError(code: started < 0 ? started : tids.first { $0 <= 0 } ?? -14).text)")
        }
        try check(c.notify(1, TaskLibraryDriver.exitNotifyTag, Int32(count), &tids), "pvm_notify")
        return tids
    }

    /// Tells `tasks` to stop and waits (10 s at most) for their exit notifies.
    static func stop(_ c: Library, _ tasks: [Int32]) {
        for t in tasks {
            _ = c.initsend(1)
            _ = c.send(t, TaskLibraryDriver.stopTag)
        }
        for _ in tasks {
            var wait = timeval(tv_sec: 10, tv_usec: 0)
            if c.trecv(TaskID.notifySource.rawValue, TaskLibraryDriver.exitNotifyTag, &wait) <= 0 { break }
        }
    }

    /// Runs `body` enrolled through libpvm3 (`c`), with the far end
    /// `pvmbench-ctask` spawned with `arguments` and watched for its exit,
    /// over the path `options.transport` names (its name is `body`'s third
    /// argument); then stops the far end, leaves, and stops a daemon that
    /// this run started.
    static func withPeer(_ options: CommonOptions, ownExecutable: String, arguments: [String] = [],
                         _ body: (Library, Int32, String) throws -> RunResult) throws -> RunResult {
        try withLibrary(options, ownExecutable: ownExecutable) { c, path, route in
            let peer = try spawnTasks(c, ownExecutable: ownExecutable, route + arguments, count: 1)[0]
            let run = try body(c, peer, path)
            stop(c, [peer])
            return run
        }
    }

    /// Receives the next message from `peer` with `tag` (any other from it
    /// first is an error: the protocol has none), or fails when the peer
    /// exits; returns its length.
    static func receive(_ c: Library, from peer: Int32, tag: Int32) throws -> Int32 {
        let id = c.recv(-1, -1)
        var bytes: Int32 = 0, t: Int32 = 0, src: Int32 = 0
        _ = c.bufinfo(id, &bytes, &t, &src)
        if _slowPath(src != peer || t != tag) {
            throw BenchError("the peer task \(TaskID(peer)) exited or answered out of turn (pvm_recv \(id))")
        }
        return bytes
    }

    public static func pingpong(_ options: CommonOptions, ownExecutable: String, progress: Bool) throws -> RunResult {
        try withPeer(options, ownExecutable: ownExecutable) { c, peer, path in
            let results = try TaskLibraryDriver.echoRounds(options, label: "--api c", path: path, progress: progress) { base, size in
                let bytes = UnsafeMutableRawPointer(base).assumingMemoryBound(to: CChar.self)
                _ = c.initsend(1)
                _ = c.pkbyte(bytes, Int32(size), 1)
                _ = c.send(peer, TaskLibraryDriver.echoTag)
                // Any message: the echo, or the peer's exit notify (an error, not a hang).
                _ = try receive(c, from: peer, tag: TaskLibraryDriver.echoTag)
                _ = c.upkbyte(bytes, Int32(size), 1)
            }
            return RunResult(benchmark: "pingpong", transport: path, api: "c", zeroCopy: false, machine: .current(), results: results)
        }
    }

    /// bw or bibw through the C library, both ends C calls (initsend
    /// PvmDataRaw, pkbyte, send; recv, upkbyte), in the protocol of the
    /// task library's (`StreamingDriver.streamWindows`; the far end is
    /// `pvmbench-ctask --sink` or `--bibw`).
    public static func streaming(_ options: StreamOptions, bidirectional: Bool, ownExecutable: String, progress: Bool) throws -> RunResult {
        let common = options.common
        try common.checkedForRun()
        let arguments = [bidirectional ? "--bibw" : "--sink"] + (common.checkData ? ["--validate"] : [])
        return try withPeer(common, ownExecutable: ownExecutable, arguments: arguments) { c, peer, path in
            let results = try StreamingDriver.streamWindows(options, bidirectional: bidirectional, label: "--api c", path: path,
                                                            calls: WindowEnd(c: c, peer: peer), progress: progress)
            var run = RunResult(benchmark: bidirectional ? "bibw" : "bw", transport: path, api: "c", zeroCopy: false, machine: .current(), results: results)
            run.window = options.window
            return run
        }
    }

    /// msgrate through the C library: `pairs` receiving tasks
    /// (`pvmbench-ctask --sink`) and as many sending ones (`--stream-to
    /// TID`), all C programs on libpvm3 (initsend PvmDataRaw, pkbyte, send;
    /// recv, upkbyte), driven from here through libpvm3 as
    /// `StreamingDriver.taskLibraryPairs` drives its Swift tasks.
    public static func messageRate(_ options: MessageRateOptions, ownExecutable: String, progress: Bool) throws -> RunResult {
        let common = options.common
        try common.checkedForRun()
        let sizes = try common.messageSizes(default: [8])
        let validate = common.checkData ? ["--validate"] : []
        return try withLibrary(common, ownExecutable: ownExecutable) { c, path, route in
            var tasks: [Int32] = []
            var finished = false
            defer {
                if finished { stop(c, tasks) } else { for t in tasks { _ = c.kill(t) } }
            }
            let sinks = try spawnTasks(c, ownExecutable: ownExecutable, ["--sink"] + route + validate, count: options.pairs)
            tasks += sinks
            var senders: [Int32] = []
            for sink in sinks {
                senders += try spawnTasks(c, ownExecutable: ownExecutable, ["--stream-to", "\(sink)"] + route + validate, count: 1)
                tasks.append(senders.last!)
            }
            var results: [SizeResult] = []
            for size in sizes {
                let (messages, warmup) = StreamingDriver.messages(size: size, sweep: common.sweep, divisor: common.iterationDivisor)
                StreamingDriver.progressLine("msgrate --api c \(size) B: \(options.pairs) pairs x \(messages) messages...", progress)
                var valid = true
                var reports: [(messages: Int, elapsed: UInt64, cpu: UInt64)] = []
                for (count, counted) in [(warmup, false), (messages, true)] {
                    for s in senders {
                        var plan = [size, count]
                        _ = c.initsend(1)
                        _ = c.pklong(&plan, 2, 1)
                        try check(c.send(s, StreamingDriver.goTag), "pvm_send")
                    }
                    for _ in senders {
                        let id = c.recv(-1, -1)
                        var bytes: Int32 = 0, tag: Int32 = 0, source: Int32 = 0
                        _ = c.bufinfo(id, &bytes, &tag, &source)
                        guard tag == StreamingDriver.reportTag, senders.contains(source) else {
                            throw BenchError("a pvmbench-ctask exited or answered out of turn in the middle of the measurement (pvm_recv \(id))")
                        }
                        var report = [0, 0, 0, 0]
                        _ = c.upklong(&report, 4, 1)
                        if report[2] != 1 { valid = false }
                        if counted { reports.append((count, UInt64(max(report[0], 1)), UInt64(max(report[1], 0)))) }
                    }
                }
                results.append(StreamingDriver.aggregate(size: size, reports: reports, path: path, validated: common.checkData ? valid : nil))
            }
            StreamingDriver.clearProgress(progress)
            finished = true
            return RunResult(benchmark: "msgrate", transport: path, api: "c", zeroCopy: false, machine: .current(), results: results)
        }
    }

    /// The name of this task's host in the virtual machine (pvm_tidtohost, pvm_config).
    static func hostName(_ c: Library) throws -> String {
        let me = c.mytid()
        let host = c.tidtohost(me)
        var hosts: Int32 = 0, archs: Int32 = 0
        var table: UnsafeMutableRawPointer? = nil
        try check(c.config(&hosts, &archs, &table), "pvm_config")
        if let table {
            for i in 0..<Int(hosts) where table.load(fromByteOffset: 32 * i, as: Int32.self) == host {
                if let name = table.load(fromByteOffset: 32 * i + 8, as: UnsafePointer<CChar>?.self) { return String(cString: name) }
            }
        }
        throw BenchError("pvm_config does not list this task's host (\(TaskID(host)))")
    }

    /// `pvmbench collective --api c`: this process is the root (instance 0)
    /// through libpvm3's group calls, the other members are C programs
    /// (`pvmbench-ctask --collective`) on this host; the same method and
    /// protocol as the task library's run (`CollectiveDriver`).
    public static func collective(_ options: CollectiveOptions, ownExecutable: String, progress: Bool) throws -> RunResult {
        let plan = try options.checkedPlan()
        let common = options.common
        let operation = options.operation
        let tasks = options.tasks
        return try withLibrary(common, ownExecutable: ownExecutable) { c, path, route in
            let name = "pvmbench-c\(operation.rawValue)-\(getpid())"
            let group = strdup(name)!
            defer { free(group) }
            let instance = c.joingroup(group)
            guard instance == 0 else {
                throw BenchError(instance < 0 ? "cannot join the group \(name): \(PVMError(code: instance).text)"
                                              : "the group \(name) already had members (this task joined as instance \(instance))")
            }
            defer { _ = c.lvgroup(group) }
            var arguments = ["--collective", operation.rawValue, "--group", name, "--tasks", "\(tasks)",
                             "--plan", CollectiveDriver.planArgument(plan)] + route
            if common.checkData { arguments.append("--validate") }
            var members = try spawnTasks(c, ownExecutable: ownExecutable, arguments, count: tasks - 1, on: try hostName(c))
            var finished = false
            defer { if !finished { for t in members { _ = c.kill(t) } } }
            let root = CLibraryGroupRoot(c: c, group: group)
            try CollectiveDriver.awaitJoins(root, members, group: name)
            try check(c.freezegroup(group, Int32(tasks)), "pvm_freezegroup")
            let results = try CollectiveDriver.Session.measure(root: root, group: name, members: members, tasks: tasks, validating: common.checkData,
                                                               operation: operation, plan: plan, label: "collective --api c", progress: progress)
            _ = c.initsend(1)
            try check(c.mcast(&members, Int32(members.count), TaskLibraryDriver.stopTag), "pvm_mcast")
            var left = members.count
            let exitDeadline = Clock.monotonicNanoseconds() + CollectiveDriver.resultTimeoutNanoseconds
            while left > 0 && Clock.monotonicNanoseconds() < exitDeadline {
                var wait = timeval(tv_sec: 1, tv_usec: 0)
                if c.trecv(TaskID.notifySource.rawValue, TaskLibraryDriver.exitNotifyTag, &wait) > 0 { left -= 1 }
            }
            guard left == 0 else { throw BenchError("\(left) member tasks did not exit after the measurement") }
            finished = true
            // A group of one host's tasks meets in its shared segment.
            let used = operation == .barrier ? "shm" : path
            var run = RunResult(benchmark: "collective", transport: used, api: "c", zeroCopy: false, machine: .current(),
                                results: results.map { var r = $0; r.path = used; return r })
            run.operation = operation.rawValue
            return run
        }
    }

    /// The root's calls through libpvm3's C entry points.
    struct CLibraryGroupRoot: GroupRoot {
        let c: Library
        let group: UnsafeMutablePointer<CChar>

        static func code(_ rc: Int32) throws(PVMError) { if rc < 0 { throw PVMError(code: rc) } }

        func barrier() throws(PVMError) { try Self.code(c.barrier(group, -1)) }
        func exitNoticed() throws(PVMError) -> Bool {
            let id = c.probe(TaskID.notifySource.rawValue, TaskLibraryDriver.exitNotifyTag)
            try Self.code(id)
            return id > 0
        }
        func broadcast(_ bytes: UnsafeMutablePointer<UInt8>, count: Int) throws(PVMError) {
            _ = c.initsend(1)
            try Self.code(c.pkbyte(UnsafeMutableRawPointer(bytes).assumingMemoryBound(to: CChar.self), Int32(count), 1))
            try Self.code(c.bcast(group, CollectiveDriver.bcastTag))
        }
        func reduce(_ values: UnsafeMutableRawPointer, count: Int) throws(PVMError) {
            try Self.code(c.reduce(c.sum, values, Int32(count), Int32(CollectiveDriver.doubleType), CollectiveDriver.reduceTag, group, 0))
        }
        func receive(tag: Int32, from sources: Set<Int32>, until deadline: UInt64, what: String) throws -> (source: Int32, id: Int32) {
            while true {
                let now = Clock.monotonicNanoseconds()
                guard now < deadline else { throw BenchError("the member tasks did not \(what) in time") }
                let left = deadline - now
                var wait = timeval(tv_sec: Int(left / 1_000_000_000), tv_usec: Int(left % 1_000_000_000 / 1000))
                let id = c.trecv(-1, -1, &wait)
                if id == 0 { continue }
                try check(id, "pvm_trecv")
                var bytes: Int32 = 0, t: Int32 = 0, src: Int32 = 0
                _ = c.bufinfo(id, &bytes, &t, &src)
                if t == tag && sources.contains(src) { return (src, id) }
                if src == TaskID.notifySource.rawValue && t == TaskLibraryDriver.exitNotifyTag {
                    var gone: Int32 = 0
                    _ = c.upkint(&gone, 1, 1)
                    throw BenchError("member task \(TaskID(gone)) exited before it could \(what)")
                }
            }
        }
        func receiveTimes(from waiting: Set<Int32>, until deadline: UInt64, what: String, iterations: Int,
                          into: UnsafeMutablePointer<UInt64>) throws -> (source: Int32, valid: Bool) {
            let (src, id) = try receive(tag: CollectiveDriver.resultTag, from: waiting, until: deadline, what: what)
            var bytes: Int32 = 0, t: Int32 = 0, s: Int32 = 0
            _ = c.bufinfo(id, &bytes, &t, &s)
            guard Int(bytes) == 4 + 8 * iterations else {
                throw BenchError("member task \(TaskID(src)) sent \(bytes) bytes of timings for \(iterations) iterations")
            }
            var ok: Int32 = 0
            _ = c.upkint(&ok, 1, 1)
            _ = c.upkbyte(UnsafeMutableRawPointer(into).assumingMemoryBound(to: CChar.self), Int32(8 * iterations), 1)
            return (src, ok != 0)
        }
    }

    /// The C library's end of bw and bibw: initsend PvmDataRaw, pkbyte,
    /// send; recv, upkbyte (pkint for the go and the verdicts).
    struct WindowEnd: StreamingDriver.WindowEnd {
        let c: Library
        let peer: Int32

        func sendData(_ bytes: UnsafePointer<UInt8>, _ size: Int) throws {
            _ = c.initsend(1)
            _ = c.pkbyte(UnsafeMutablePointer(mutating: UnsafeRawPointer(bytes).assumingMemoryBound(to: CChar.self)), Int32(size), 1)
            try check(c.send(peer, StreamingDriver.dataTag), "pvm_send")
        }
        func receiveData(_ bytes: UnsafeMutablePointer<UInt8>, _ size: Int) throws {
            let n = try receive(c, from: peer, tag: StreamingDriver.dataTag)
            guard n == Int32(size) else { throw BenchError("a message of \(n) bytes where \(size) were sent") }
            _ = c.upkbyte(UnsafeMutableRawPointer(bytes).assumingMemoryBound(to: CChar.self), n, 1)
        }
        func sendGo(_ plan: [Int]) throws {
            var values = plan.map { Int32(truncatingIfNeeded: $0) }
            _ = c.initsend(1)
            _ = c.pkint(&values, 3, 1)
            try check(c.send(peer, StreamingDriver.goTag), "pvm_send")
        }
        func sendMark() throws {
            _ = c.initsend(1)
            try check(c.send(peer, StreamingDriver.markTag), "pvm_send")
        }
        func receiveVerdict(_ tag: Int32) throws -> Int32 {
            _ = try receive(c, from: peer, tag: tag)
            var valid: Int32 = 0
            _ = c.upkint(&valid, 1, 1)
            return valid
        }
    }
}
