#if canImport(Glibc)
import Glibc
#endif
import PVMControl
import PVMEncoding
import PVMSystem
import PVMTransport

/// This task's membership of one dynamic group.
final class GroupMembership {
    let name: String
    let instance: Int32
    /// The group's shared-memory barrier on this host (nil: none, every
    /// barrier goes to the group server).
    let segment: GroupBarrierSegment?
    let barrier: GroupBarrier?
    /// The group spans hosts: barriers go to the group server.
    var spansHosts: Bool
    init(name: String, instance: Int32, segment: GroupBarrierSegment?, spansHosts: Bool) {
        self.name = name
        self.instance = instance
        self.segment = segment
        self.barrier = segment?.barrier
        self.spansHosts = spansHosts
    }

    /// Is this the group named by the C string `other`?
    func isNamed(_ other: UnsafePointer<CChar>) -> Bool {
        var name = name
        return name.withUTF8 { bytes in bytes.count == strlen(other) && memcmp(bytes.baseAddress!, other, bytes.count) == 0 }
    }
}

/// A group's roster as the group server gave it: tids by instance (0: a
/// free instance).
struct GroupRoster {
    let tids: [Int32]
    let frozen: Bool
    /// The members present, in instance order (made once: a frozen
    /// roster serves every collective of the group).
    let members: [(instance: Int32, tid: Int32)]

    init(tids: [Int32], frozen: Bool) {
        self.tids = tids
        self.frozen = frozen
        members = tids.enumerated().compactMap { $0.element != 0 ? (Int32($0.offset), $0.element) : nil }
    }
}

/// What a reduce combines: `y` into `x`, `count` items.
public typealias ReduceCombine = (_ x: UnsafeMutableRawPointer, _ y: UnsafeRawPointer, _ count: Int) throws(PVMError) -> Void

/// A type the typed `reduce` takes: sums and products wrap for integers
/// (as PVM's C operators do), never trap.
public protocol PVMReducible: PVMScalar, Comparable {
    static func reduceSum(_ a: Self, _ b: Self) -> Self
    static func reduceProduct(_ a: Self, _ b: Self) -> Self
}
extension PVMReducible where Self: FixedWidthInteger {
    public static func reduceSum(_ a: Self, _ b: Self) -> Self { a &+ b }
    public static func reduceProduct(_ a: Self, _ b: Self) -> Self { a &* b }
}
extension PVMReducible where Self: BinaryFloatingPoint {
    public static func reduceSum(_ a: Self, _ b: Self) -> Self { a + b }
    public static func reduceProduct(_ a: Self, _ b: Self) -> Self { a * b }
}
extension Int8: PVMReducible {}
extension Int16: PVMReducible {}
extension Int32: PVMReducible {}
extension Int: PVMReducible {}
extension UInt16: PVMReducible {}
extension UInt32: PVMReducible {}
extension UInt: PVMReducible {}
extension Float: PVMReducible {}
extension Double: PVMReducible {}

/// PVM's predefined reduce operations, for the typed Swift API.
public enum ReduceOperation: Sendable {
    case max, min, sum, product
}

// MARK: Dynamic groups (PVM semantics, for the C library and the Swift API)

extension VirtualMachine {
    func groupRequest(_ request: GroupRequest, _ name: String, _ fill: (inout ControlWriter) -> Void = { _ in }) throws(PVMError) -> ControlReader {
        guard !name.isEmpty else { throw PVMError(.nullGroup, "no group name") }
        var w = ControlWriter()
        w.int(request.rawValue)
        w.string(name)
        fill(&w)
        return try self.request(.group, w)
    }

    /// A reply's leading code, thrown when negative.
    static func code(_ r: inout ControlReader, _ what: @autoclosure () -> String) throws(PVMError) -> Int32 {
        let c = try r.int()
        if c < 0 { throw PVMError(code: c, detail: what()) }
        return c
    }

    /// Joins `group` (created on first join); returns this task's instance
    /// number, the lowest free one (pvm_joingroup).
    public func joinGroup(_ group: String) throws(PVMError) -> Int32 {
        var r = try groupRequest(.join, group)
        let instance = try Self.code(&r, "joining \(group)")
        let spans = try r.int() != 0
        let daemonPid = try r.int()
        let fd = try r.int()
        var segment: GroupBarrierSegment? = nil
        if fd >= 0 {
            // The daemon's segment, opened through /proc (same user: the
            // daemon's socket was checked with SO_PEERCRED both ways).
            let own = open("/proc/\(daemonPid)/fd/\(fd)", O_RDWR | O_CLOEXEC)
            if own >= 0 {
                do { segment = try GroupBarrierSegment(mapping: OwnedDescriptor(taking: own)) } catch {
                    warn("group \(group): cannot map its barrier segment (\(error)); barriers go through the group server")
                }
            }
        }
        groupMemberships[group] = GroupMembership(name: group, instance: instance, segment: segment, spansHosts: spans || segment == nil)
        lastGroup = nil
        return instance
    }

    /// Leaves `group` (pvm_lvgroup); its instance number is free again.
    public func leaveGroup(_ group: String) throws(PVMError) {
        var r = try groupRequest(.leave, group)
        _ = try Self.code(&r, "leaving \(group)")
        groupMemberships.removeValue(forKey: group)
        frozenRosters.removeValue(forKey: group)
        lastGroup = nil
    }

    /// The number of members of `group` (pvm_gsize).
    public func groupSize(_ group: String) throws(PVMError) -> Int32 {
        if let roster = frozenRosters[group] { return Int32(roster.members.count) }
        var r = try groupRequest(.size, group)
        return try Self.code(&r, "size of \(group)")
    }

    /// The task of instance `instance` of `group` (pvm_gettid).
    public func groupTid(_ group: String, instance: Int32) throws(PVMError) -> Int32 {
        if let roster = frozenRosters[group] {
            guard instance >= 0, Int(instance) < roster.tids.count, roster.tids[Int(instance)] != 0 else {
                throw PVMError(.noInst, "instance \(instance) of \(group)")
            }
            return roster.tids[Int(instance)]
        }
        var r = try groupRequest(.tid, group) { $0.int(instance) }
        return try Self.code(&r, "instance \(instance) of \(group)")
    }

    /// The instance number of `tid` in `group` (pvm_getinst).
    public func groupInstance(_ group: String, tid t: Int32) throws(PVMError) -> Int32 {
        if let roster = frozenRosters[group] {
            guard let i = roster.tids.firstIndex(of: t), t != 0 else { throw PVMError(.notInGroup, "\(TaskID(t)) in \(group)") }
            return Int32(i)
        }
        var r = try groupRequest(.instance, group) { $0.int(t) }
        return try Self.code(&r, "\(TaskID(t)) in \(group)")
    }

    /// Makes `group` static once `size` members (-1: as many as it has now)
    /// have called this; returns the size (pvm_freezegroup). The roster is
    /// then kept here, so gettid, getinst, gsize and the collectives need
    /// no request.
    public func freezeGroup(_ group: String, size: Int32 = -1) throws(PVMError) -> Int32 {
        guard size >= -1 else { throw PVMError(.badParam, "size \(size)") }
        var r = try groupRequest(.freeze, group) { $0.int(size) }
        let n = try Self.code(&r, "freezing \(group)")
        frozenRosters[group] = GroupRoster(tids: try r.ints(), frozen: true)
        return n
    }

    /// The roster of `group`: kept once frozen, else asked for.
    func roster(_ group: String) throws(PVMError) -> GroupRoster {
        if let roster = frozenRosters[group] { return roster }
        var r = try groupRequest(.roster, group)
        _ = try Self.code(&r, "roster of \(group)")
        let frozen = try r.int() != 0
        let roster = GroupRoster(tids: try r.ints(), frozen: frozen)
        if frozen { frozenRosters[group] = roster }
        return roster
    }

    // MARK: Barrier

    /// Waits until `count` members of `group` (-1: all it has) have called
    /// it (pvm_barrier). Members on one host meet in shared memory, with no
    /// daemon and no message; a group that spans hosts meets at the group
    /// server. A member that exits during the barrier fails it (PvmNoTask)
    /// for the others instead of leaving them waiting.
    public func barrier(_ group: String, count: Int32 = -1) throws(PVMError) {
        guard count == -1 || count >= 1 else { throw PVMError(.badParam, "count \(count)") }
        // The group of the latest barrier: no dictionary lookup in a loop of barriers.
        if let g = lastGroup, g.name == group { return try barrier(in: g, count: count) }
        guard !group.isEmpty else { throw PVMError(.nullGroup, "no group name") }
        guard let g = groupMemberships[group] else { return try serverBarrier(group, count) }
        lastGroup = g
        try barrier(in: g, count: count)
    }

    /// `barrier` for the C library when `name` is the group of the latest
    /// barrier (compared as a C string, so a loop of barriers makes no
    /// String); false, having done nothing, for any other group.
    public func barrierOfLatestGroup(_ name: UnsafePointer<CChar>, count: Int32) throws(PVMError) -> Bool {
        guard let g = lastGroup, g.isNamed(name) else { return false }
        guard count == -1 || count >= 1 else { throw PVMError(.badParam, "count \(count)") }
        try barrier(in: g, count: count)
        return true
    }

    func barrier(in g: GroupMembership, count: Int32) throws(PVMError) {
        try checkDaemon()
        if _fastPath(!g.spansHosts), let b = g.barrier {
            let members = b.localMembers
            let n = count == -1 ? members : count
            let spin = Int(members) <= hostCPUs ? barrierSpinNanoseconds : 0
            let outcome = try b.arrive(count: n, allMembers: count == -1, spinNanoseconds: spin) { () throws(PVMError) in
                try pollOnce()
                try checkDaemon()
            }
            switch outcome {
            case .done: return
            case .broken: throw PVMError(.noTask, "a member of \(g.name) exited during the barrier")
            case .mismatch: throw PVMError(.mismatch, "the barrier of \(g.name) under way was called with another count")
            case .remote: g.spansHosts = true
            }
        }
        try serverBarrier(g.name, count)
    }

    func serverBarrier(_ group: String, _ count: Int32) throws(PVMError) {
        var r = try groupRequest(.barrier, group) { $0.int(count) }
        _ = try Self.code(&r, "barrier of \(group)")
    }

    // MARK: Broadcast, reduce, gather, scatter

    /// Sends the active send buffer to every member of `group` but this
    /// task (pvm_bcast). The receivers take it with an ordinary receive.
    public func broadcast(group: String, tag: Int32) throws(PVMError) {
        guard tag >= 0 else { throw PVMError(.badParam, "message tag \(tag)") }
        guard sendBuffer != 0 else { throw PVMError(.noBuf, "no active send buffer") }
        let others = try roster(group).tids.filter { $0 != 0 && $0 != tid.rawValue }
        guard !others.isEmpty else { throw PVMError(.noInst, "\(group) has no member but this task") }
        try multicast(to: others, tag: tag)
    }

    /// The members in instance order, this task's place and the root's.
    func collectivePlaces(_ group: String, root: Int32) throws(PVMError) -> (members: [(instance: Int32, tid: Int32)], me: Int, root: Int) {
        let members = try roster(group).members
        guard let me = members.firstIndex(where: { $0.tid == tid.rawValue }) else {
            throw PVMError(.notInGroup, "\(tid) is not in \(group)")
        }
        guard let r = members.firstIndex(where: { $0.instance == root }) else { throw PVMError(.noInst, "root instance \(root) of \(group)") }
        return (members, me, r)
    }

    /// Element-wise reduction of `count` items of PVM type `type` at `data`
    /// over every member of `group`, into the root's `data` (pvm_reduce).
    /// A binomial tree: each task combines what its children send and
    /// sends one message to its parent, so the root receives log2(n)
    /// messages, not n - 1. Other members' `data` is left as it was.
    public func reduce(_ combine: ReduceCombine, data: UnsafeMutableRawPointer, count: Int, type: Int32,
                       tag: Int32, group: String, root: Int32) throws(PVMError) {
        guard count >= 0, tag >= 0, type != 0 else { throw PVMError(.badParam, "count \(count), tag \(tag), type \(type)") }
        let size = try Self.itemSize(type)
        let (members, me, rootPlace) = try collectivePlaces(group, root: root)
        let n = members.count
        let rank = (me - rootPlace + n) % n
        let bytes = count * size
        // A leaf (odd rank) sends its own data as it is; an inner node
        // combines into scratch kept across calls (the root into `data`
        // itself), so a reduce in a loop allocates nothing and touches no
        // fresh pages.
        if rank & 1 == 1 {
            try collectiveSend(data, count: count, type: type, to: members[(rank - 1 + rootPlace) % n].tid, tag: tag)
            return
        }
        let accumulator: UnsafeMutableRawPointer
        if rank == 0 { accumulator = data } else {
            accumulator = reduceScratch(0, bytes)
            if bytes > 0 { accumulator.copyMemory(from: data, byteCount: bytes) }
        }
        let incoming = reduceScratch(1, bytes)
        // A failure below (a member with another count, a refused type)
        // travels up the tree with the partial result, so every task
        // returns, the root with the error.
        var failure: PVMError? = nil
        var mask = 1
        while mask < n {
            if rank & mask != 0 {
                let parent = members[(rank - mask + rootPlace) % n].tid
                try collectiveSend(accumulator, count: count, type: type, to: parent, tag: tag, status: failure?.code ?? 0)
                if let failure { throw failure }
                return
            }
            if rank + mask < n {
                let child = members[(rank + mask + rootPlace) % n].tid
                do {
                    try collectiveReceive(into: incoming, count: count, type: type, from: child, tag: tag)
                    if failure == nil { try combine(accumulator, incoming, count) }
                } catch {
                    if failure == nil { failure = error }
                }
            }
            mask <<= 1
        }
        if let failure { throw failure }
    }

    /// Scratch buffer `which` (0: the accumulator, 1: what a child sent) of
    /// at least `bytes`, kept for the next collective.
    func reduceScratch(_ which: Int, _ bytes: Int) -> UnsafeMutableRawPointer {
        let need = max(bytes, 16)
        if collectiveScratch[which].capacity < need {
            collectiveScratch[which].base?.deallocate()
            collectiveScratch[which] = (UnsafeMutableRawPointer.allocate(byteCount: need, alignment: 64), need)
        }
        return collectiveScratch[which].base!
    }

    /// The root collects `count` items of `type` from every member, each
    /// at offset instance * count in `result` (pvm_gather).
    public func gather(into result: UnsafeMutableRawPointer?, data: UnsafeRawPointer?, count: Int, type: Int32,
                       tag: Int32, group: String, root: Int32) throws(PVMError) {
        guard count >= 0, tag >= 0 else { throw PVMError(.badParam, "count \(count), tag \(tag)") }
        let size = try Self.itemSize(type)
        let (members, me, rootPlace) = try collectivePlaces(group, root: root)
        guard let data = data ?? (count == 0 ? UnsafeRawPointer(bitPattern: 8) : nil) else { throw PVMError(.badParam, "no data") }
        if me != rootPlace {
            try collectiveSend(data, count: count, type: type, to: members[rootPlace].tid, tag: tag)
            return
        }
        guard let result else { throw PVMError(.badParam, "no result array at the root") }
        var failure: PVMError? = nil
        for m in members {
            let slot = result + Int(m.instance) * count * size
            if m.tid == tid.rawValue { slot.copyMemory(from: data, byteCount: count * size); continue }
            // Every member's message is taken, even after one failed.
            do { try collectiveReceive(into: slot, count: count, type: type, from: m.tid, tag: tag) } catch {
                if failure == nil { failure = error }
            }
        }
        if let failure { throw failure }
    }

    /// The root sends `count` items of `type` to every member (itself
    /// included) from offset instance * count of `data` (pvm_scatter).
    public func scatter(into result: UnsafeMutableRawPointer?, data: UnsafeRawPointer?, count: Int, type: Int32,
                        tag: Int32, group: String, root: Int32) throws(PVMError) {
        guard count >= 0, tag >= 0 else { throw PVMError(.badParam, "count \(count), tag \(tag)") }
        let size = try Self.itemSize(type)
        let (members, me, rootPlace) = try collectivePlaces(group, root: root)
        guard let result = result ?? (count == 0 ? UnsafeMutableRawPointer(bitPattern: 8) : nil) else { throw PVMError(.badParam, "no result array") }
        if me != rootPlace {
            try collectiveReceive(into: result, count: count, type: type, from: members[rootPlace].tid, tag: tag)
            return
        }
        guard let data else { throw PVMError(.badParam, "no data at the root") }
        for m in members {
            let slot = data + Int(m.instance) * count * size
            if m.tid == tid.rawValue { result.copyMemory(from: slot, byteCount: count * size); continue }
            try collectiveSend(slot, count: count, type: type, to: m.tid, tag: tag)
        }
    }

    /// Sends typed items in the current context without touching the
    /// active send buffer: raw to a task of this host, PvmDataDefault
    /// (converted) to another host's. The items follow a status (a
    /// failure further down a tree) and their count and type, so a member
    /// that disagrees is told apart from a short message.
    func collectiveSend(_ data: UnsafeRawPointer, count: Int, type: Int32, to dst: Int32, tag: Int32, status: Int32 = 0) throws(PVMError) {
        let b = collectiveBuffer
        b.reset(encoding: TaskID(dst).hostNumber == hostNumber ? .raw : .default)
        try b.pack(status)
        try b.pack(Int32(truncatingIfNeeded: count))
        try b.pack(type)
        try Self.pack(b, data, count: count, type: type)
        try checkDaemon()
        try transmit(b, to: dst, tag: tag)
    }

    /// Receives typed items from `src` with `tag` in the current context,
    /// leaving the active receive buffer as it was. A message of another
    /// count or type is `PvmMismatch`; a failure reported from below is thrown.
    func collectiveReceive(into data: UnsafeMutableRawPointer, count: Int, type: Int32, from src: Int32, tag: Int32) throws(PVMError) {
        let keep = receiveBuffer
        receiveBuffer = 0
        defer { receiveBuffer = keep }
        let id = try awaitMember(src, tag: tag)
        defer { release(Int(id)) }
        try withObject(Int(id)) { b throws(PVMError) in
            let header: (status: Int32, count: Int32, type: Int32)
            do { header = (try b.unpack(Int32.self), try b.unpack(Int32.self), try b.unpack(Int32.self)) } catch {
                throw PVMError(.mismatch, "the message from \(TaskID(src)) with tag \(tag) is not a collective's")
            }
            guard header.count == Int32(truncatingIfNeeded: count), header.type == type else {
                throw PVMError(.mismatch, "\(TaskID(src)) has \(header.count) items of type \(header.type), this task \(count) of type \(type)")
            }
            try Self.unpack(b, data, count: count, type: type)
            if header.status < 0 { throw PVMError(code: header.status, detail: "from below \(TaskID(src)) in the reduce tree") }
        }
    }

    /// Receives from member `src`; if nothing has come for a while, asks
    /// whether it still exists, so a member that died in a collective
    /// fails it (PvmNoTask) instead of leaving the others waiting.
    func awaitMember(_ src: Int32, tag: Int32) throws(PVMError) -> Int32 {
        while true {
            let id = try receive(from: src, tag: tag, timeoutNanoseconds: Self.memberCheckNanoseconds)
            if id != 0 { return id }
            if try taskStatus(src) < 0 {
                // What it sent before it went may have come meanwhile.
                let last = try receive(from: src, tag: tag, timeoutNanoseconds: 0)
                if last != 0 { return last }
                throw PVMError(.noTask, "\(TaskID(src)) exited during the collective")
            }
        }
    }

    /// How long a collective waits for a member before checking it exists.
    static let memberCheckNanoseconds: UInt64 = 200_000_000

    static func pack(_ b: MessageBuffer, _ data: UnsafeRawPointer, count: Int, type: Int32) throws(PVMError) {
        switch type {
        case 1: try b.pack(data.assumingMemoryBound(to: Int8.self), count: count)
        case 2: try b.pack(data.assumingMemoryBound(to: Int16.self), count: count)
        case 3: try b.pack(data.assumingMemoryBound(to: Int32.self), count: count)
        case 4: try b.pack(data.assumingMemoryBound(to: Float.self), count: count)
        case 5: try b.packComplex(data.assumingMemoryBound(to: Float.self), count: count)
        case 6: try b.pack(data.assumingMemoryBound(to: Double.self), count: count)
        case 7: try b.packComplex(data.assumingMemoryBound(to: Double.self), count: count)
        case 8: try b.pack(data.assumingMemoryBound(to: Int.self), count: count)
        case 9: try b.pack(data.assumingMemoryBound(to: UInt16.self), count: count)
        case 10: try b.pack(data.assumingMemoryBound(to: UInt32.self), count: count)
        case 11: try b.pack(data.assumingMemoryBound(to: UInt.self), count: count)
        default: throw PVMError(.badParam, "data type \(type)")
        }
    }

    static func unpack(_ b: MessageBuffer, _ data: UnsafeMutableRawPointer, count: Int, type: Int32) throws(PVMError) {
        switch type {
        case 1: try b.unpack(into: data.assumingMemoryBound(to: Int8.self), count: count)
        case 2: try b.unpack(into: data.assumingMemoryBound(to: Int16.self), count: count)
        case 3: try b.unpack(into: data.assumingMemoryBound(to: Int32.self), count: count)
        case 4: try b.unpack(into: data.assumingMemoryBound(to: Float.self), count: count)
        case 5: try b.unpackComplex(into: data.assumingMemoryBound(to: Float.self), count: count)
        case 6: try b.unpack(into: data.assumingMemoryBound(to: Double.self), count: count)
        case 7: try b.unpackComplex(into: data.assumingMemoryBound(to: Double.self), count: count)
        case 8: try b.unpack(into: data.assumingMemoryBound(to: Int.self), count: count)
        case 9: try b.unpack(into: data.assumingMemoryBound(to: UInt16.self), count: count)
        case 10: try b.unpack(into: data.assumingMemoryBound(to: UInt32.self), count: count)
        case 11: try b.unpack(into: data.assumingMemoryBound(to: UInt.self), count: count)
        default: throw PVMError(.badParam, "data type \(type)")
        }
    }

    // MARK: Where the members are

    /// For host `hostTid`: the coordinator (its member of lowest instance,
    /// 0 if none), its number of members, and how many hosts have members
    /// (pvm_grphostinfo).
    public func groupHostInfo(_ group: String, host hostTid: Int32) throws(PVMError) -> (coordinator: Int32, members: Int32, hosts: Int32) {
        var r = try groupRequest(.hostInfo, group) { $0.int(hostTid) }
        _ = try Self.code(&r, "hosts of \(group)")
        return (try r.int(), try r.int(), try r.int())
    }

    /// Per host with members, in host order: its coordinator and its
    /// number of members (pvm_grpvhostinfo).
    public func groupHosts(_ group: String) throws(PVMError) -> [(host: Int32, coordinator: Int32, members: Int32)] {
        var byHost: [Int32: (coordinator: Int32, members: Int32)] = [:]
        for m in try roster(group).members {
            let h = TaskID(m.tid).hostNumber
            let e = byHost[h]
            byHost[h] = (e?.coordinator ?? m.tid, (e?.members ?? 0) + 1)
        }
        return byHost.keys.sorted().map { ($0, byHost[$0]!.coordinator, byHost[$0]!.members) }
    }

    /// Every group and its members, as the group server tells it (pvm_gsdump).
    public func groupDump() throws(PVMError) -> String {
        var w = ControlWriter()
        w.int(GroupRequest.dump.rawValue)
        var r = try request(.group, w)
        _ = try Self.code(&r, "group dump")
        return try r.string()
    }
}

// MARK: The typed Swift API

/// This task's place in a dynamic group, from `VirtualMachine.join(group:)`:
/// the group's calls without repeating its name.
///
/// ```swift
/// let workers = try vm.join(group: "workers")
/// try workers.freeze(size: 4)
/// try workers.barrier()
/// var x = [Double(workers.instance)]
/// try workers.reduce(.sum, &x, root: 0, tag: 7)
/// try workers.leave()
/// ```
public struct ProcessGroup: Sendable, Hashable, CustomStringConvertible {
    public let name: String
    /// This task's instance number in it.
    public let instance: Int32

    public var description: String { "\(name)[\(instance)]" }

    var vm: VirtualMachine { get throws(PVMError) { try VirtualMachine.shared() } }

    /// Members now (the roster is kept here once frozen).
    public var size: Int32 { get throws(PVMError) { try vm.groupSize(name) } }
    /// The task of instance `instance`.
    public func task(_ instance: Int32) throws(PVMError) -> TaskID { TaskID(try vm.groupTid(name, instance: instance)) }
    /// The instance number of `task`.
    public func instance(of task: TaskID) throws(PVMError) -> Int32 { try vm.groupInstance(name, tid: task.rawValue) }
    /// Makes the group static once `size` members (nil: as many as now) have called it.
    @discardableResult
    public func freeze(size: Int32? = nil) throws(PVMError) -> Int32 { try vm.freezeGroup(name, size: size ?? -1) }
    /// Waits for `count` members (nil: all of them).
    public func barrier(count: Int32? = nil) throws(PVMError) { try vm.barrier(name, count: count ?? -1) }
    /// Sends `message` to every other member.
    public func broadcast(_ message: Message, tag: MessageTag) throws(PVMError) { try vm.broadcast(message, group: name, tag: tag) }
    /// Reduces `values` over the group into the root's `values`.
    public func reduce<T: PVMReducible>(_ operation: ReduceOperation, _ values: inout [T], root: Int32, tag: MessageTag) throws(PVMError) {
        try vm.reduce(operation, &values, group: name, root: root, tag: tag)
    }
    /// The root gets every member's `values` in instance order; nil elsewhere.
    public func gather<T: PVMScalar>(_ values: [T], root: Int32, tag: MessageTag) throws(PVMError) -> [T]? {
        try vm.gather(values, group: name, root: root, tag: tag)
    }
    /// Every member gets its `count` items of the root's `values`.
    public func scatter<T: PVMScalar>(_ values: [T], count: Int, root: Int32, tag: MessageTag) throws(PVMError) -> [T] {
        try vm.scatter(values, count: count, group: name, root: root, tag: tag)
    }
    /// Leaves the group (its instance number is free again).
    public func leave() throws(PVMError) { try vm.leaveGroup(name) }
}

extension VirtualMachine {
    /// Joins `group` (pvm_joingroup) and returns this task's place in it.
    public func join(group: String) throws(PVMError) -> ProcessGroup {
        ProcessGroup(name: group, instance: try joinGroup(group))
    }

    /// Reduces `values` over every member of `group` with `operation`; on
    /// the root (`root` is an instance number) `values` holds the result.
    ///
    /// ```swift
    /// var partial = [localSum]
    /// try vm.reduce(.sum, &partial, group: "workers", root: 0, tag: 7)
    /// if try vm.groupInstance("workers", tid: vm.myTid.rawValue) == 0 { print(partial[0]) }
    /// ```
    public func reduce<T: PVMReducible>(_ operation: ReduceOperation, _ values: inout [T],
                                                            group: String, root: Int32, tag: MessageTag) throws(PVMError) {
        let type = try Self.pvmType(T.self)
        let count = values.count
        let combine: ReduceCombine = { x, y, n in
            let a = x.assumingMemoryBound(to: T.self), b = y.assumingMemoryBound(to: T.self)
            switch operation {
            case .max: for i in 0..<n where b[i] > a[i] { a[i] = b[i] }
            case .min: for i in 0..<n where b[i] < a[i] { a[i] = b[i] }
            case .sum: for i in 0..<n { a[i] = T.reduceSum(a[i], b[i]) }
            case .product: for i in 0..<n { a[i] = T.reduceProduct(a[i], b[i]) }
            }
        }
        let work = UnsafeMutableBufferPointer<T>.allocate(capacity: max(count, 1))
        defer { work.deallocate() }
        _ = work.initialize(from: values)
        try reduce(combine, data: UnsafeMutableRawPointer(work.baseAddress!), count: count, type: type,
                   tag: tag.rawValue, group: group, root: root)
        values = Array(work.prefix(count))
    }

    /// The root gathers `values` (the same count from every member) into
    /// one array in instance order; nil on the other members.
    ///
    /// ```swift
    /// let all = try vm.gather([Double(rank)], group: "workers", root: 0, tag: 8)
    /// ```
    public func gather<T: PVMScalar>(_ values: [T], group: String, root: Int32, tag: MessageTag) throws(PVMError) -> [T]? {
        let type = try Self.pvmType(T.self)
        let roster = try roster(group)
        let isRoot = roster.tids.indices.contains(Int(root)) && roster.tids[Int(root)] == tid.rawValue
        let total = isRoot ? roster.tids.count * values.count : 0
        let result = UnsafeMutableRawPointer.allocate(byteCount: max(total, 1) * MemoryLayout<T>.stride, alignment: 16)
        defer { result.deallocate() }
        result.initializeMemory(as: UInt8.self, repeating: 0, count: max(total, 1) * MemoryLayout<T>.stride)
        let data = UnsafeMutableBufferPointer<T>.allocate(capacity: max(values.count, 1))
        defer { data.deallocate() }
        _ = data.initialize(from: values)
        try gather(into: result, data: UnsafeRawPointer(data.baseAddress!), count: values.count, type: type,
                   tag: tag.rawValue, group: group, root: root)
        return isRoot ? Array(UnsafeBufferPointer(start: result.assumingMemoryBound(to: T.self), count: total)) : nil
    }

    /// The root hands `count` items to each member from `values` (in
    /// instance order; ignored elsewhere); every member gets its part.
    public func scatter<T: PVMScalar>(_ values: [T], count: Int, group: String, root: Int32, tag: MessageTag) throws(PVMError) -> [T] {
        let type = try Self.pvmType(T.self)
        let part = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * MemoryLayout<T>.stride, alignment: 16)
        defer { part.deallocate() }
        part.initializeMemory(as: UInt8.self, repeating: 0, count: max(count, 1) * MemoryLayout<T>.stride)
        let data = UnsafeMutableBufferPointer<T>.allocate(capacity: max(values.count, 1))
        defer { data.deallocate() }
        _ = data.initialize(from: values)
        try scatter(into: part, data: UnsafeRawPointer(data.baseAddress!), count: count, type: type,
                    tag: tag.rawValue, group: group, root: root)
        return Array(UnsafeBufferPointer(start: part.assumingMemoryBound(to: T.self), count: count))
    }

    /// Sends `message` to every other member of `group`.
    public func broadcast(_ message: Message, group: String, tag: MessageTag) throws(PVMError) {
        let others = try roster(group).tids.filter { $0 != 0 && $0 != tid.rawValue }
        guard !others.isEmpty else { throw PVMError(.noInst, "\(group) has no member but this task") }
        try checkDaemon()
        for t in others { try transmit(message.buffer, to: t, tag: tag.rawValue) }
    }

    static func pvmType<T: PVMScalar>(_ t: T.Type) throws(PVMError) -> Int32 {
        switch t {
        case is Int8.Type, is UInt8.Type: return 1
        case is Int16.Type: return 2
        case is Int32.Type: return 3
        case is Float.Type: return 4
        case is Double.Type: return 6
        case is Int.Type: return 8
        case is UInt16.Type: return 9
        case is UInt32.Type: return 10
        case is UInt.Type: return 11
        default: throw PVMError(.badParam, "no PVM type for \(T.self)")
        }
    }
}
