#if canImport(Glibc)
import Glibc
#endif
import PVMControl
import PVMEncoding
import PVMTransport

/// A message tag. `MessageTag.any` (-1) matches every tag in a receive.
public struct MessageTag: RawRepresentable, Hashable, Sendable, ExpressibleByIntegerLiteral, CustomStringConvertible {
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    public init(_ rawValue: Int32) { self.rawValue = rawValue }
    public init(integerLiteral value: Int32) { rawValue = value }
    public static let any = MessageTag(-1)
    public var description: String { String(rawValue) }
}

/// A message being built: typed packing into a PVM buffer of this task.
///
/// ```swift
/// var m = Message()                 // PvmDataDefault
/// try m.pack(Int32(7))
/// try m.pack([1.5, 2.5, 3.5])
/// try m.pack("hello")
/// try vm.send(m, to: peer, tag: 1)
/// ```
public struct Message {
    public let buffer: MessageBuffer

    public init(encoding: Encoding = .default, capacity: Int = 256) {
        buffer = MessageBuffer(encoding: encoding, capacity: capacity)
    }

    public func pack<T: PVMScalar>(_ value: T) throws(PVMError) { try buffer.pack(value) }
    public func pack<T: PVMScalar>(_ values: [T]) throws(PVMError) { try buffer.pack(values) }
    public func pack(_ string: String) throws(PVMError) { try buffer.pack(string: string) }
    /// Packs `count` items from memory, every `stride`-th (InPlace buffers
    /// record the address; the memory must stay valid until sent).
    public func pack<T: PVMScalar>(_ items: UnsafePointer<T>, count: Int, stride: Int = 1) throws(PVMError) {
        try buffer.pack(items, count: count, stride: stride)
    }
    /// Empties the message for reuse (keeps its storage).
    public func reset() { buffer.reset() }
    public var byteCount: Int { buffer.byteCount }
}

/// A received message: its source, tag and typed unpacking.
///
/// ```swift
/// let m = try vm.receive(from: .any, tag: 1)
/// let n: Int32 = try m.unpack()
/// let xs = try m.unpack(Double.self, count: 3)
/// let s = try m.unpackString()
/// ```
public struct ReceivedMessage {
    public let source: TaskID
    public let tag: MessageTag
    /// The message's bytes (owned by this value; no later receive touches them).
    public let buffer: MessageBuffer

    public func unpack<T: PVMScalar>() throws(PVMError) -> T { try buffer.unpack(T.self) }
    public func unpack<T: PVMScalar>(_ type: T.Type) throws(PVMError) -> T { try buffer.unpack(type) }
    public func unpack<T: PVMScalar>(_ type: T.Type, count: Int) throws(PVMError) -> [T] { try buffer.unpack(type, count: count) }
    public func unpack<T: PVMScalar>(into items: UnsafeMutablePointer<T>, count: Int, stride: Int = 1) throws(PVMError) {
        try buffer.unpack(into: items, count: count, stride: stride)
    }
    public func unpackString() throws(PVMError) -> String { try buffer.unpackString() }
    public var byteCount: Int { buffer.byteCount }
}

extension VirtualMachine {
    /// Spawns `count` copies of `program` and returns the ids of those that
    /// started. Throws the first copy's error when none did.
    public func spawn(_ program: String, arguments: [String] = [], flags: SpawnFlags = [], where location: String = "", count: Int = 1) throws(PVMError) -> [TaskID] {
        let results = try spawnResults(program, arguments: arguments, flags: flags.rawValue, where: location, count: count)
        let started = results.filter { $0 > 0 }.map { TaskID($0) }
        if started.isEmpty, let first = results.first { throw PVMError(code: first, detail: "spawning \(program)") }
        return started
    }

    /// Sends `message` to `destination` with `tag`. Ordered per pair; a task
    /// that no longer exists drops it silently, as PVM does.
    public func send(_ message: Message, to destination: TaskID, tag: MessageTag) throws(PVMError) {
        try Self.checkDestination(destination.rawValue, tag: tag.rawValue)
        try checkDaemon()
        try transmit(message.buffer, to: destination.rawValue, tag: tag.rawValue)
    }

    /// Sends `message` to each of `destinations` except this task.
    public func multicast(_ message: Message, to destinations: [TaskID], tag: MessageTag) throws(PVMError) {
        guard tag.rawValue >= 0 else { throw PVMError(.badParam, "message tag \(tag)") }
        try checkDaemon()
        for d in destinations where d != tid && d.isTask { try transmit(message.buffer, to: d.rawValue, tag: tag.rawValue) }
    }

    /// Receives the oldest matching message; blocks until one arrives.
    public func receive(from source: TaskID = .any, tag: MessageTag = .any) throws(PVMError) -> ReceivedMessage {
        let id = try receive(from: source.rawValue, tag: tag.rawValue, timeoutNanoseconds: nil)
        return received(id)
    }

    /// Receives the oldest matching message, waiting at most `timeout`
    /// (zero: do not wait). nil when nothing arrived in time.
    public func receive(from source: TaskID = .any, tag: MessageTag = .any, timeout: Duration) throws(PVMError) -> ReceivedMessage? {
        let (s, a) = timeout.components
        let ns = s <= 0 && a <= 0 ? 0 : UInt64(max(0, s)) * 1_000_000_000 + UInt64(max(0, a) / 1_000_000_000)
        let id = try receive(from: source.rawValue, tag: tag.rawValue, timeoutNanoseconds: ns)
        return id == 0 ? nil : received(id)
    }

    /// Hands the received buffer over to a `ReceivedMessage`: it leaves the
    /// buffer table (no later receive reuses it), so the value stays as
    /// received for as long as the caller keeps it.
    func received(_ id: Int32) -> ReceivedMessage {
        let m = meta[Int(id)]
        return ReceivedMessage(source: TaskID(m.source), tag: MessageTag(m.tag), buffer: detach(id))
    }

    /// Asks for a message with `tag` when any of `tasks` exits (its body is
    /// the task id, one Int32; its source is `TaskID.notifySource`).
    public func notifyOnExit(of tasks: [TaskID], tag: MessageTag) throws(PVMError) {
        try notify(NotifyKind.taskExit.rawValue, tag: tag.rawValue, count: Int32(tasks.count), tids: tasks.map(\.rawValue))
    }

    /// Asks for a message with `tag` when any of `hosts` (their ids:
    /// `HostInfo.id`) leaves the machine (its body is the host id, one
    /// Int32). With `cancel`, withdraws an earlier request instead (PVM
    /// then sends the message at once).
    public func notifyOnHostDelete(of hosts: [TaskID], tag: MessageTag, cancel: Bool = false) throws(PVMError) {
        try notify(NotifyKind.hostDelete.rawValue | (cancel ? NotifyKind.cancel : 0), tag: tag.rawValue,
                   count: Int32(hosts.count), tids: hosts.map(\.rawValue))
    }

    /// Asks for a message with `tag` each time hosts join the machine, for
    /// the next `count` times (-1: until cancelled); its body is the number
    /// of new hosts and their ids.
    public func notifyOnHostAdd(count: Int32 = -1, tag: MessageTag) throws(PVMError) {
        try notify(NotifyKind.hostAdd.rawValue, tag: tag.rawValue, count: count, tids: [])
    }

    /// Sends SIGTERM to `task` (pvm_kill). Not an error for a task that has
    /// gone.
    public func kill(_ task: TaskID) throws(PVMError) { try kill(task.rawValue) }

    /// Sends the Unix signal `signal` to `task` (pvm_sendsig).
    public func signal(_ task: TaskID, _ signal: Int32) throws(PVMError) { try self.signal(task.rawValue, signal) }

    /// Whether `task` is in the machine now (pvm_pstat: PvmOk is true,
    /// PvmNoTask false; anything else throws).
    public func isRunning(_ task: TaskID) throws(PVMError) -> Bool {
        let code = try taskStatus(task.rawValue)
        if code >= 0 { return true }
        if code == PVMError.Code.noTask.rawValue { return false }
        throw PVMError(code: code)
    }

    /// The tasks of the machine (pvm_tasks): all of them, those of the host
    /// `host` (`HostInfo.id`), or the one `task`.
    public func tasks(onHost host: TaskID) throws(PVMError) -> [TaskInfo] { try tasks(where: host.rawValue) }
    public func tasks(of task: TaskID) throws(PVMError) -> [TaskInfo] { try tasks(where: task.rawValue) }

    /// The id of the host `task` runs on (pvm_tidtohost; no check that the
    /// task exists, as in PVM).
    public static func host(of task: TaskID) -> TaskID { TaskID(host(of: task.rawValue)) }

    /// The routing policy for messages this task sends.
    public var route: RoutePolicy {
        get { RoutePolicy(rawValue: options[.route]) ?? .allowDirect }
        set { options[.route] = newValue.rawValue }
    }

    /// TCP even to tasks of this host, as `PVM_TRANSPORT=tcp` in the
    /// environment at enrollment asks: for measuring the TCP path on one
    /// machine. It applies to the tasks this one has no connection to yet,
    /// so set it before the first message. Unlike the variable, it does not
    /// reach a daemon that this task starts, nor the tasks that daemon spawns.
    public var tcpToEveryPeer: Bool {
        get { forceTCP }
        set { forceTCP = newValue }
    }
}

// MARK: Zero copy

/// A buffer loaned from this task's shared heap. Fill `bytes` and send it:
/// on the shared-memory path only its offset crosses the ring, and the
/// receiver reads it where it is (`receive(from:tag:inPlace:)`), so the
/// cost does not grow with its size. The space goes back to the heap when
/// the receiver is done with it, or when the loan is dropped unsent.
public struct MessageLoan: ~Copyable {
    var loan: ShmLoan
    /// Where the message goes (after room for its header).
    public var bytes: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(rebasing: loan.buffer[CompactFrame.size...])
    }
}

extension VirtualMachine {
    /// A loan of at least `capacity` bytes from the shared heap. Blocks
    /// while the heap is exhausted by loans receivers still hold.
    public func loan(capacity: Int) throws(PVMError) -> MessageLoan {
        guard capacity >= 0 else { throw PVMError(.badParam, "loan of \(capacity) bytes") }
        try checkDaemon()
        guard let ep = endpoint else { throw PVMError(.sysErr, "not enrolled") }
        do { return MessageLoan(loan: try ep.loan(capacity: capacity + CompactFrame.size)) } catch {
            throw PVMError(.outOfRes, "\(error)")
        }
    }

    /// Sends the first `count` bytes of a loan to `destination` (raw data:
    /// the receiver sees a PvmDataRaw message). Where no shared-memory path
    /// leads (this task itself, daemon routing) the bytes are copied.
    public func send(_ loan: consuming MessageLoan, count: Int, to destination: TaskID, tag: MessageTag) throws(PVMError) {
        try Self.checkDestination(destination.rawValue, tag: tag.rawValue)
        guard count >= 0, count <= loan.bytes.count else { throw PVMError(.badParam, "\(count) bytes from a loan of \(loan.bytes.count)") }
        try checkDaemon()
        let dst = destination.rawValue
        if dst != tid.rawValue && route != .dontRoute, let peer = try peer(for: dst, bytes: count), let ep = endpoint {
            CompactFrame.encode(source: tid.rawValue, tag: tag.rawValue, context: context, encoding: .raw,
                                signature: .native, into: loan.loan.buffer.baseAddress!)
            do { try ep.send(loan.loan, length: CompactFrame.size + count, to: peer) } catch where error.kind == .peerGone || error.kind == .noPeer {
                forget(peer: peer)
            } catch {
                throw PVMError(.sysErr, "sending to \(destination): \(error)")
            }
            return
        }
        let copy = MessageBuffer(encoding: .raw, capacity: max(count, 16))
        if count > 0 { try copy.pack(loan.bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), count: count) }
        try transmit(copy, to: dst, tag: tag.rawValue)
    }

    /// Receives the oldest matching message and lends its bytes to `body`
    /// where they are: a loaned message that arrives over shared memory is
    /// read in the sender's heap, with no copy. The bytes are valid only
    /// inside `body`; the message is consumed (it does not become a receive
    /// buffer).
    public func receive<R>(from source: TaskID = .any, tag: MessageTag = .any,
                           inPlace body: (TaskID, MessageTag, UnsafeRawBufferPointer) throws -> R) throws -> R {
        if let i = findArrived(source.rawValue, tag.rawValue) {
            let id = Int(arrived[i])
            let m = meta[id]
            defer { release(id) }
            return try objects[id].takeUnretainedValue().withContiguousBytes { try body(TaskID(m.source), MessageTag(m.tag), $0) }
        }
        try checkDaemon()
        var result: R? = nil
        try withoutActuallyEscaping(body) { escapable in
            inPlace = { h, bytes in result = try escapable(TaskID(h.source), MessageTag(h.tag), bytes) }
            defer { inPlace = nil }
            wantSource = source.rawValue
            wantTag = tag.rawValue
            matched = 0
            waiting = true
            defer { waiting = false }
            inPlaceError = nil
            while result == nil {
                try pump(timeoutNanoseconds: nil)
                if let e = inPlaceError { inPlaceError = nil; throw e }
                if matched > 0 {
                    // Arrived through the daemon (or queued): lend it from its buffer.
                    let id = Int(matched)
                    let m = meta[id]
                    defer { release(id) }
                    result = try objects[id].takeUnretainedValue().withContiguousBytes { try escapable(TaskID(m.source), MessageTag(m.tag), $0) }
                }
                if result == nil && state != .enrolled { throw PVMError(.sysErr, "the local daemon is gone") }
            }
        }
        return result!
    }
}
