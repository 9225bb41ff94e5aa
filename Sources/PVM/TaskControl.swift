#if canImport(Glibc)
import Glibc
#endif
import PVMControl
import PVMEncoding

/// What `tasks` reports of one task (PVM's struct pvmtaskinfo).
public struct TaskInfo: Sendable, Equatable {
    public var tid: TaskID
    public var parent: Int32
    public var host: Int32
    public var flags: Int32
    public var name: String
    public var pid: Int32
}

/// What `config` reports of one host (PVM's struct pvmhostinfo).
/// The outcome of adding one host (pvm_addhosts).
public struct HostChange: Sendable, Equatable {
    public var name: String
    /// The host's id (`0x80000` for host 2), or a negative PVM error code.
    public var status: Int32
    /// Why it failed, as the remote side or the master said it.
    public var message: String
}

public struct HostInfo: Sendable, Equatable {
    public var tid: Int32
    public var name: String
    public var architecture: String
    public var speed: Int32
    public var signature: DataSignature
    /// What the host offers for task data between hosts: `tcp`, or its RDMA
    /// port as `verbs DEVICE PORT ib|roce RATE` (`HostFabric`'s wire text).
    public var fabric: String = "tcp"
    /// The host's id (`tid`) as a value: what `tasks(onHost:)`,
    /// `notifyOnHostDelete` and `VirtualMachine.host(of:)` speak.
    public var id: TaskID { TaskID(tid) }
}

/// PVM 3.4's spawn flags.
public struct SpawnFlags: OptionSet, Sendable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    public static let host = SpawnFlags(rawValue: 1)          // PvmTaskHost: `where` names a host
    public static let architecture = SpawnFlags(rawValue: 2)  // PvmTaskArch: `where` names an architecture
    public static let debug = SpawnFlags(rawValue: 4)
    public static let trace = SpawnFlags(rawValue: 8)
    public static let mppFront = SpawnFlags(rawValue: 16)
    public static let hostComplement = SpawnFlags(rawValue: 32)
    public static let noSpawnParent = SpawnFlags(rawValue: 64)
}

/// What `notify` watches for (PVM's PvmTaskExit, PvmHostDelete, PvmHostAdd).
public enum NotifyKind: Int32, Sendable {
    case taskExit = 1, hostDelete, hostAdd, routeAdd, routeDelete
    /// OR-ed into a kind to cancel an earlier request.
    public static let cancel: Int32 = 256
}

extension VirtualMachine {
    /// This task's id (pvm_mytid).
    public var myTid: TaskID { tid }

    /// The task that spawned this one (pvm_parent). Throws PvmNoParent for
    /// a task started from a shell, PvmParentNotSet when the spawner asked
    /// for no parent (the console does).
    public func parent() throws(PVMError) -> TaskID {
        if parentTid == 0 { throw PVMError(.noParent) }
        if parentTid < 0 { throw PVMError(code: parentTid) }
        return TaskID(parentTid)
    }

    /// Starts `count` copies of `file` (pvm_spawn). The result has one entry
    /// per copy: a task id, or a negative PVM error code (PvmNoFile for a
    /// program not found, PvmNoHost for a host or architecture not in the
    /// machine), successes first.
    public func spawnResults(_ file: String, arguments: [String] = [], flags: Int32 = 0, where location: String = "", count: Int) throws(PVMError) -> [Int32] {
        guard count > 0 else { throw PVMError(.badParam, "spawn count \(count)") }
        var exported: [String] = []
        let env = Environment.current
        if let list = env["PVM_EXPORT"] {
            exported.append("PVM_EXPORT=\(list)")
            for name in list.split(separator: ":") where !name.isEmpty {
                if let v = env[String(name)] { exported.append("\(name)=\(v)") }
            }
        }
        var extra = flags
        if let t = env["PVMTASK"], let bits = Int32(t) { extra |= bits }
        var w = ControlWriter()
        w.string(file)
        w.strings(arguments)
        w.int(extra)
        w.string(location)
        w.int(Int32(count))
        w.strings(exported)
        w.int(options[.outputTid])
        w.int(options[.outputCode])
        w.int(options[.outputContext])
        w.int(context)
        var r = try request(.spawn, w)
        let results = try r.ints()
        let ok = results.filter { $0 > 0 }
        return ok + results.filter { $0 <= 0 }
    }

    /// Sends SIGTERM to a task (pvm_kill). Not an error for a task that is gone.
    public func kill(_ target: Int32) throws(PVMError) { try signal(target, SIGTERM) }

    /// Sends a Unix signal to a task (pvm_sendsig).
    public func signal(_ target: Int32, _ sig: Int32) throws(PVMError) {
        guard target > 0 else { throw PVMError(.badParam, "task \(target)") }
        var w = ControlWriter()
        w.int(target)
        w.int(sig)
        _ = try request(.signal, w)
    }

    /// Tasks in the machine (pvm_tasks): `where` 0 for all, a host id for
    /// that host's, a task id for that task.
    public func tasks(where location: Int32 = 0) throws(PVMError) -> [TaskInfo] {
        var w = ControlWriter()
        w.int(location)
        var r = try request(.tasks, w)
        let code = try r.int()
        guard code >= 0 else { throw PVMError(code: code) }
        let n = try r.int()
        var out: [TaskInfo] = []
        for _ in 0..<max(0, n) {
            out.append(TaskInfo(tid: TaskID(try r.int()), parent: try r.int(), host: try r.int(),
                                flags: try r.int(), name: try r.string(), pid: try r.int()))
        }
        return out
    }

    /// The hosts of the machine (pvm_config).
    public func config() throws(PVMError) -> [HostInfo] {
        var r = try request(.config, ControlWriter())
        let n = try r.int()
        var out: [HostInfo] = []
        for _ in 0..<max(0, n) {
            out.append(HostInfo(tid: try r.int(), name: try r.string(), architecture: try r.string(),
                                speed: try r.int(), signature: DataSignature(rawValue: UInt32(bitPattern: try r.int())),
                                fabric: try r.string()))
        }
        return out
    }

    /// PvmOk if the task exists, else PvmNoTask (pvm_pstat).
    public func taskStatus(_ target: Int32) throws(PVMError) -> Int32 {
        guard target > 0, TaskID(target).localPart != 0 else { throw PVMError(.badParam, "task \(TaskID(target))") }
        var w = ControlWriter()
        w.int(target)
        var r = try request(.pstat, w)
        return try r.int()
    }

    /// PvmOk if the host is in the machine, else PvmNoHost (pvm_mstat).
    public func hostStatus(_ name: String) throws(PVMError) -> Int32 {
        var w = ControlWriter()
        w.string(name)
        var r = try request(.mstat, w)
        return try r.int()
    }

    /// Adds hosts to the machine (pvm_addhosts). Each spec is a host name
    /// with hostfile options ("node2 ep=/opt/bin wd=/tmp so=ms"). The master
    /// starts a daemon there through the remote shell (`PVM_RSH`, default
    /// ssh) and waits until it joins or fails. One result per spec, in order:
    /// the host's id (`0x80000` for host 2) or a negative PVM error code,
    /// with the reason in `message`.
    public func addHosts(_ specs: [String]) throws(PVMError) -> [HostChange] {
        var w = ControlWriter()
        w.strings(specs)
        var r = try request(.addHosts, w)
        let code = try r.int()
        guard code >= 0 else { throw PVMError(code: code) }
        let n = try r.int()
        var out: [HostChange] = []
        for i in 0..<Int(max(0, n)) {
            let status = try r.int()
            let message = try r.string()
            out.append(HostChange(name: i < specs.count ? (specs[i].split(separator: " ").first.map(String.init) ?? specs[i]) : "",
                                  status: status, message: message))
        }
        return out
    }

    /// Removes hosts from the machine (pvm_delhosts): their daemons stop
    /// with every task they hold. One status per name: 0, or PvmNoHost.
    public func deleteHosts(_ names: [String]) throws(PVMError) -> [Int32] {
        var w = ControlWriter()
        w.strings(names)
        var r = try request(.deleteHosts, w)
        let code = try r.int()
        guard code >= 0 else { throw PVMError(code: code) }
        let n = try r.int()
        var out: [Int32] = []
        for _ in 0..<Int(max(0, n)) { out.append(try r.int()) }
        return out
    }

    /// The clock of host `host` (its id) and its difference from this
    /// host's (pvm_hostsync): the remote time is taken as at the middle of
    /// the round trip.
    public func hostClock(_ host: Int32) throws(PVMError) -> (clock: timeval, delta: timeval) {
        var before = timeval(), after = timeval()
        gettimeofday(&before, nil)
        var w = ControlWriter()
        w.int(host)
        var r = try request(.clock, w)
        gettimeofday(&after, nil)
        let code = try r.int()
        guard code == 0 else { throw PVMError(code: code, detail: "host \(TaskID(host))") }
        let seconds = Int64(try r.int()), micros = Int64(try r.int())
        let remote = seconds * 1_000_000 + micros
        let t0 = Int64(before.tv_sec) * 1_000_000 + Int64(before.tv_usec)
        let t1 = Int64(after.tv_sec) * 1_000_000 + Int64(after.tv_usec)
        let local = (t0 + t1) / 2
        var delta = remote - local
        var ds = delta / 1_000_000
        delta -= ds * 1_000_000
        if delta < 0 { delta += 1_000_000; ds -= 1 }  // usec in 0...999999, as PVM normalizes
        return (timeval(tv_sec: Int(seconds), tv_usec: Int(micros)), timeval(tv_sec: Int(ds), tv_usec: Int(delta)))
    }

    /// The host part of a task id (pvm_tidtohost: no validation, as in PVM).
    public static func host(of t: Int32) -> Int32 { t & TaskID.hostMask }

    /// Asks the daemon for a message with `tag` when an event happens
    /// (pvm_notify): `kind` is PvmTaskExit, PvmHostDelete or PvmHostAdd,
    /// optionally with PvmNotifyCancel.
    public func notify(_ kind: Int32, tag: Int32, count: Int32, tids: [Int32]) throws(PVMError) {
        let base = kind & ~NotifyKind.cancel
        guard (1...5).contains(base) else { throw PVMError(.badParam, "notify kind \(kind)") }
        if base != NotifyKind.hostAdd.rawValue { guard count >= 0 else { throw PVMError(.badParam, "count \(count)") } }
        var w = ControlWriter()
        w.int(kind)
        w.int(tag)
        w.int(count)
        w.ints(base == NotifyKind.hostAdd.rawValue ? [] : Array(tids.prefix(Int(max(0, count)))))
        var r = try request(.notify, w)
        let code = try r.int()
        if code < 0 { throw PVMError(code: code) }
    }

    /// Halts the whole machine (pvm_halt): every task, this one included, is
    /// terminated, so in practice this does not return.
    public func halt() throws(PVMError) {
        _ = try request(.halt, ControlWriter())
        // The daemon terminates this task too; wait for it.
        while state == .enrolled { try? pump(timeoutNanoseconds: 1_000_000_000) }
    }

    /// Kills every task that did not ask to survive (the console's reset).
    public func reset() throws(PVMError) { _ = try request(.reset, ControlWriter()) }

    // MARK: Contexts

    public func newContext() throws(PVMError) -> Int32 {
        var r = try request(.newContext, ControlWriter())
        return try r.int()
    }

    public func freeContext(_ ctx: Int32) throws(PVMError) {
        var w = ControlWriter()
        w.int(ctx)
        var r = try request(.freeContext, w)
        let code = try r.int()
        if code < 0 { throw PVMError(code: code) }
    }

    /// Sets the current context; returns the previous one (no validation, as in PVM).
    public func setContext(_ ctx: Int32) -> Int32 {
        defer { context = ctx }
        return context
    }

    /// Runs `body` in context `ctx` (its sends, receives, collectives and
    /// handlers' matching), then returns to the context it was in.
    ///
    /// ```swift
    /// let solver = try vm.newContext()
    /// let reply = try vm.withContext(solver) { try vm.receive(from: .any, tag: 1) }
    /// ```
    public func withContext<R, E: Error>(_ ctx: Int32, _ body: () throws(E) -> R) throws(E) -> R {
        let previous = setContext(ctx)
        defer { _ = setContext(previous) }
        return try body()
    }

    // MARK: Options

    /// Sets an option; returns its previous value (pvm_setopt).
    public func setOption(_ what: Int32, _ value: Int32) throws(PVMError) -> Int32 {
        guard let o = PVMOption(rawValue: what) else { throw PVMError(.badParam, "option \(what)") }
        switch o {
        case .pollType, .pollTime: throw PVMError(.notImpl, "option \(what)")
        case .route:
            guard (1...3).contains(value) else { throw PVMError(.badParam, "route \(value)") }
        case .noReset:
            if state == .enrolled {
                var w = ControlWriter()
                w.int(value)
                _ = try request(.setNoReset, w)
                try noResetChanged(to: value != 0, from: options[.noReset] != 0)  // pvm_getnoresets lists it (Mailbox.swift)
            }
        default: break
        }
        let old = options[o]
        options[o] = value
        if o == .outputTid && value != tid.rawValue { catchFile = nil }
        return old
    }

    /// An option's value (pvm_getopt).
    public func option(_ what: Int32) throws(PVMError) -> Int32 {
        guard let o = PVMOption(rawValue: what), o != .pollType, o != .pollTime else { throw PVMError(.badParam, "option \(what)") }
        return options[o]
    }
}
