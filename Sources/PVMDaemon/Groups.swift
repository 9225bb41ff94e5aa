#if canImport(Glibc)
import Glibc
#endif
import Logging
import PVMControl
import PVMEncoding
import PVMSystem

// Dynamic groups. The master's daemon is the group server of the whole
// machine (PVM 3.4 ran a separate `pvmgs` task for this; here nothing has
// to be started, and programs that look for one find the calls working).
// Every daemon also keeps, for each group with members on its host, the
// group's shared-memory barrier (GroupBarrier): members on one host meet
// there without a message, and the server only arbitrates barriers of
// groups whose members span hosts.

/// One group as the group server knows it.
final class GroupRecord {
    let name: String
    /// Tids by instance; 0 marks a free instance (reused by the next join).
    var members: [Int32] = []
    var frozen = false
    /// Set once members were on more than one host: barriers go through
    /// the server from then on (for the life of the group).
    var spansHosts = false
    var freezeSize: Int32 = 0
    var freezeCallers: [(tid: Int32, respond: (ControlWriter) -> Void)] = []
    var barrier: PendingBarrier?

    init(name: String) { self.name = name }

    var size: Int32 { Int32(members.reduce(0) { $0 + ($1 != 0 ? 1 : 0) }) }
    var hosts: Set<Int32> { Set(members.filter { $0 != 0 }.map { TaskID($0).hostNumber }) }
    func instance(of tid: Int32) -> Int32? { members.firstIndex(of: tid).map { Int32($0) } }

    func writeRoster(_ w: inout ControlWriter) {
        w.ints(members)
    }
}

/// A barrier of a group that spans hosts, being arrived at.
struct PendingBarrier {
    var count: Int32
    var arrived: Int32 = 0
    /// Tasks waiting for the reply.
    var waiters: [(tid: Int32, respond: (ControlWriter) -> Void)] = []
    /// Hosts whose shared-memory waiters were handed over: (host, generation).
    var proxies: [(host: Int32, generation: Int32)] = []
}

/// A group's barrier segment on this host, with the members here.
final class LocalGroup {
    let segment: GroupBarrierSegment
    var barrier: GroupBarrier { segment.barrier }
    var members: Set<Int32> = []
    init(_ segment: GroupBarrierSegment) { self.segment = segment }
}

extension Daemon {
    // MARK: Requests from this host's tasks

    /// A group request from a task of this host: served by the master (here
    /// or through the master's link); a join's reply gains this host's
    /// barrier segment on the way back.
    func performGroup(_ client: Client, _ body: ControlReader) throws(PVMError) {
        var r = body
        let raw = try r.int()
        guard let request = GroupRequest(rawValue: raw), request != .proxyArrivals else {
            throw PVMError(.badMsg, "unknown group request \(raw)")
        }
        let name = request == .dump ? "" : try r.string()
        let id = client.id, requester = client.tid
        let code = DaemonOperation.group.rawValue
        try performForHost(.group, requester: requester, body, fromThisHost: true) { [weak self] reply in
            guard let self else { return }
            var out = reply
            switch request {
            case .join: out = self.joined(name, requester, reply)
            case .leave: self.left(name, requester, reply)
            default: break
            }
            guard let c = self.clients[id] else { return }
            self.reply(c, code, out)
        }
    }

    /// A join succeeded: the member gets this host's barrier segment.
    func joined(_ name: String, _ member: Int32, _ reply: ControlWriter) -> ControlWriter {
        var r = ControlReader(reply.bytes)
        guard let code = try? r.int(), code >= 0, let spans = try? r.int() else { return reply }
        let group: LocalGroup
        if let g = localGroups[name] {
            group = g
        } else {
            do { group = LocalGroup(try GroupBarrierSegment()) } catch {
                log.warning("group \(name): no barrier segment (\(error)); its barriers go through the group server")
                var w = ControlWriter(); w.int(code); w.int(1); w.int(Int32(getpid())); w.int(Int32(-1))
                return w
            }
            localGroups[name] = group
        }
        group.members.insert(member)
        group.barrier.localMembers = Int32(group.members.count)
        if spans != 0 { markSpanning(name) }
        var w = ControlWriter()
        w.int(code); w.int(spans); w.int(Int32(getpid())); w.int(group.segment.descriptor)
        return w
    }

    func left(_ name: String, _ member: Int32, _ reply: ControlWriter) {
        var r = ControlReader(reply.bytes)
        guard let code = try? r.int(), code >= 0 else { return }
        dropLocalMember(name, member)
    }

    func dropLocalMember(_ name: String, _ member: Int32) {
        guard let g = localGroups[name], g.members.remove(member) != nil else { return }
        g.barrier.localMembers = Int32(g.members.count)
        if g.members.isEmpty { localGroups.removeValue(forKey: name) }
    }

    /// The group spans hosts now: its shared-memory barrier stops
    /// completing here; arrivals already made are handed to the server.
    func markSpanning(_ name: String) {
        guard let g = localGroups[name], let (generation, arrivals, count) = g.barrier.switchToRemote(), arrivals > 0 else { return }
        var w = ControlWriter()
        w.int(GroupRequest.proxyArrivals.rawValue); w.string(name)
        w.int(Int32(bitPattern: generation)); w.int(Int32(arrivals)); w.int(count)
        let done: (ControlWriter) -> Void = { [weak self] reply in
            var r = ControlReader(reply.bytes)
            let code = (try? r.int()) ?? PVMError.Code.sysErr.rawValue
            if code < 0 { self?.localGroups[name]?.barrier.release(generation: generation, broken: true) }
        }
        if isMaster {
            do { try serveGroup(ControlReader(w.bytes), requester: tid.rawValue, done) } catch { done(Self.failure(.sysErr)) }
        } else {
            forwardPassingReply(.group, w, toHost: 1, requester: tid.rawValue, failure: .sysErr, done)
        }
    }

    /// A task of this host is gone: out of its groups here (an episode of
    /// a barrier it can no longer reach is broken), and out of the server's.
    func groupTaskGone(_ t: Int32) {
        for (name, g) in localGroups where g.members.contains(t) {
            if !g.barrier.isRemote && g.barrier.breakEpisode() {
                log.info("\(TaskID(t)) left group \(name) in the middle of a barrier; its other members were released with an error")
            }
            dropLocalMember(name, t)
        }
        if isMaster {
            serverTaskGone(t)
        } else {
            var w = ControlWriter(); w.int(t)
            sendHostFrame(.taskExited, toHost: 1, w)
        }
    }

    /// From the master: release (or fail) waiters handed over.
    func releaseLocalBarrier(_ name: String, generation: Int32, code: Int32) {
        localGroups[name]?.barrier.release(generation: UInt32(bitPattern: generation), broken: code < 0)
    }

    // MARK: The group server (master)

    /// Serves one group request (the master only; `requester` is the task,
    /// or a daemon handing over arrivals). `respond` may run later.
    func serveGroup(_ body: ControlReader, requester: Int32, _ respond: @escaping (ControlWriter) -> Void) throws(PVMError) {
        var r = body
        let raw = try r.int()
        guard let request = GroupRequest(rawValue: raw) else { throw PVMError(.badMsg, "unknown group request \(raw)") }
        if request == .dump { respond(groupDump()); return }
        let name = try r.string()
        func code(_ c: Int32) { var w = ControlWriter(); w.int(c); respond(w) }
        func fail(_ c: PVMError.Code) { code(c.rawValue) }
        guard !name.isEmpty else { fail(.nullGroup); return }
        if request == .join {
            let g = groups[name] ?? GroupRecord(name: name)
            if g.frozen { fail(.notInGroup); return }
            if g.instance(of: requester) != nil { fail(.dupGroup); return }
            groups[name] = g
            let instance: Int
            if let hole = g.members.firstIndex(of: 0) { instance = hole; g.members[hole] = requester } else {
                instance = g.members.count; g.members.append(requester)
            }
            if !g.spansHosts && g.hosts.count > 1 {
                g.spansHosts = true
                log.info("group \(name) spans hosts now; its barriers go through the group server")
                for h in g.hosts where h != TaskID(requester).hostNumber {
                    if h == host { markSpanning(name); continue }
                    var w = ControlWriter(); w.string(name)
                    sendHostFrame(.groupSpans, toHost: h, w)
                }
            }
            var w = ControlWriter(); w.int(Int32(instance)); w.int(g.spansHosts ? 1 : 0)
            respond(w)
            return
        }
        guard let g = groups[name] else { fail(.noGroup); return }
        switch request {
        case .leave:
            guard let i = g.instance(of: requester) else { fail(.notInGroup); return }
            g.members[Int(i)] = 0
            trimGroup(g)
            code(0)
        case .size:
            code(g.size)
        case .tid:
            let instance = try r.int()
            guard instance >= 0, Int(instance) < g.members.count, g.members[Int(instance)] != 0 else { fail(.noInst); return }
            code(g.members[Int(instance)])
        case .instance:
            let t = try r.int()
            guard let i = g.instance(of: t) else { fail(.notInGroup); return }
            code(i)
        case .roster:
            var w = ControlWriter(); w.int(g.size); w.int(g.frozen ? 1 : 0); g.writeRoster(&w)
            respond(w)
        case .freeze:
            let size = try r.int()
            guard g.instance(of: requester) != nil else { fail(.notInGroup); return }
            if g.frozen { var w = ControlWriter(); w.int(g.size); g.writeRoster(&w); respond(w); return }
            let want = size < 0 ? g.size : size
            if !g.freezeCallers.isEmpty && want != g.freezeSize { fail(.mismatch); return }
            g.freezeSize = want
            g.freezeCallers.append((requester, respond))
            completeFreeze(g)
        case .barrier:
            let count = try r.int()
            guard g.instance(of: requester) != nil else { fail(.notInGroup); return }
            let want = count < 0 ? g.size : count
            guard want >= 1 else { fail(.badParam); return }
            if var b = g.barrier {
                guard b.count == want else { fail(.mismatch); return }
                b.arrived += 1
                b.waiters.append((requester, respond))
                g.barrier = b
            } else {
                g.barrier = PendingBarrier(count: want, arrived: 1, waiters: [(requester, respond)])
            }
            completeBarrier(g)
        case .proxyArrivals:
            guard TaskID(requester).isDaemon else { throw PVMError(.badMsg, "arrivals handed over by a task") }
            let generation = try r.int(), arrivals = try r.int(), count = try r.int()
            let want = count < 0 ? g.size : count
            var b = g.barrier ?? PendingBarrier(count: want)
            b.arrived += arrivals
            b.proxies.append((TaskID(requester).hostNumber, generation))
            g.barrier = b
            code(0)
            completeBarrier(g)
        case .hostInfo:
            let hostTid = try r.int()
            let h = TaskID(hostTid).hostNumber
            let here = g.members.enumerated().filter { $0.element != 0 && TaskID($0.element).hostNumber == h }
            var w = ControlWriter()
            w.int(0); w.int(here.first?.element ?? 0); w.int(Int32(here.count)); w.int(Int32(g.hosts.count))
            respond(w)
        case .join, .dump:
            break
        }
    }

    func completeFreeze(_ g: GroupRecord) {
        guard Int32(g.freezeCallers.count) >= g.freezeSize, g.size >= g.freezeSize else { return }
        g.frozen = true
        let callers = g.freezeCallers
        g.freezeCallers = []
        for c in callers {
            var w = ControlWriter(); w.int(g.size); g.writeRoster(&w)
            c.respond(w)
        }
    }

    func completeBarrier(_ g: GroupRecord) {
        guard let b = g.barrier, b.arrived >= b.count else { return }
        g.barrier = nil
        finishBarrier(g.name, b, code: 0)
    }

    func finishBarrier(_ name: String, _ b: PendingBarrier, code: Int32) {
        for waiter in b.waiters { var w = ControlWriter(); w.int(code); waiter.respond(w) }
        for p in b.proxies {
            if p.host == host { releaseLocalBarrier(name, generation: p.generation, code: code); continue }
            var w = ControlWriter(); w.string(name); w.int(p.generation); w.int(code)
            sendHostFrame(.groupRelease, toHost: p.host, w)
        }
    }

    /// Frees trailing instances; a group with no member left is gone.
    func trimGroup(_ g: GroupRecord) {
        while g.members.last == 0 { g.members.removeLast() }
        guard g.members.isEmpty else { return }
        groups.removeValue(forKey: g.name)
        for c in g.freezeCallers { var w = ControlWriter(); w.int(PVMError.Code.noGroup.rawValue); c.respond(w) }
        if let b = g.barrier { finishBarrier(g.name, b, code: PVMError.Code.noGroup.rawValue) }
    }

    /// A task of the machine is gone: it leaves every group; a barrier or
    /// freeze of those groups under way fails (it could never complete)
    /// rather than hang its other members.
    func serverTaskGone(_ t: Int32) {
        for g in Array(groups.values) {
            guard let i = g.instance(of: t) else { continue }
            g.members[Int(i)] = 0
            if let b = g.barrier {
                g.barrier = nil
                log.info("\(TaskID(t)) exited during a barrier of group \(g.name); the barrier fails")
                finishBarrier(g.name, b, code: PVMError.Code.noTask.rawValue)
            }
            let callers = g.freezeCallers
            g.freezeCallers = []
            for c in callers where c.tid != t { var w = ControlWriter(); w.int(PVMError.Code.noTask.rawValue); c.respond(w) }
            trimGroup(g)
        }
    }

    /// Every group's members (pvm_gsdump).
    func groupDump() -> ControlWriter {
        var text = ""
        for g in groups.values.sorted(by: { $0.name < $1.name }) {
            text += "group \"\(g.name)\": \(g.size) member\(g.size == 1 ? "" : "s")\(g.frozen ? ", frozen" : "")\(g.spansHosts ? ", spans hosts" : "")\n"
            for (i, t) in g.members.enumerated() where t != 0 { text += "  \(i)\t\(TaskID(t))\n" }
        }
        if text.isEmpty { text = "no groups\n" }
        var w = ControlWriter(); w.int(0); w.string(text)
        return w
    }
}

