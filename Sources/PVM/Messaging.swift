#if canImport(Glibc)
import Glibc
#endif
import PVMControl
import PVMEncoding
import PVMSystem
import PVMTransport

// MARK: Message buffers (PVM's buffer ids)

extension VirtualMachine {
    @inline(__always)
    static func encoding(_ raw: Int32) throws(PVMError) -> Encoding {
        guard let e = Encoding.of(raw) else { throw badEncoding(raw) }
        return e
    }

    @inline(never)
    static func badEncoding(_ raw: Int32) -> PVMError { PVMError(.badParam, "unknown encoding \(raw)") }

    /// A free buffer id. Its MessageBuffer object stays with the id while
    /// the id is free, so a recycled id brings warm storage back with it.
    @inline(__always)
    func takeID() -> Int {
        if let free = freeIDs.popLast() { return Int(free) }
        return newID()
    }

    @inline(never)
    func newID() -> Int {
        objects.append(.passRetained(MessageBuffer(encoding: .default)))
        meta.append(BufferMeta())
        return objects.count - 1
    }

    func allocate(encoding: Encoding) -> Int32 {
        let i = takeID()
        object(i) { $0.reset(encoding: encoding) }
        meta[i] = BufferMeta(inUse: true, tag: 0, source: tid.rawValue, destination: 0, context: context)
        return Int32(i)
    }

    /// Calls `body` with buffer object `i`, with no reference counting.
    @usableFromInline @inline(__always)
    func object<R>(_ i: Int, _ body: (MessageBuffer) -> R) -> R {
        objects[i]._withUnsafeGuaranteedRef(body)
    }

    @usableFromInline @inline(__always)
    func withObject<R>(_ i: Int, _ body: (MessageBuffer) throws(PVMError) -> R) throws(PVMError) -> R {
        do { return try objects[i]._withUnsafeGuaranteedRef { b throws(PVMError) in try body(b) } } catch let e as PVMError { throw e } catch {
            fatalError("unreachable: \(error)")
        }
    }

    @usableFromInline @inline(__always)
    func slot(_ id: Int32) throws(PVMError) -> Int {
        guard id > 0, Int(id) < meta.count, meta[Int(id)].inUse else { throw Self.noSuchBuffer(id) }
        return Int(id)
    }

    @usableFromInline @inline(never)
    static func noSuchBuffer(_ id: Int32) -> PVMError {
        id > 0 ? PVMError(.noSuchBuf, "buffer \(id)") : PVMError(.badParam, "buffer id \(id)")
    }

    /// The buffer behind `id`.
    public func buffer(_ id: Int32) throws(PVMError) -> MessageBuffer {
        objects[try slot(id)].takeUnretainedValue()
    }

    /// A new buffer, not made active (pvm_mkbuf).
    public func makeBuffer(encoding raw: Int32) throws(PVMError) -> Int32 {
        allocate(encoding: try Self.encoding(raw))
    }

    /// Frees a buffer (pvm_freebuf). 0 is a no-op; freeing the active send
    /// or receive buffer leaves none active.
    public func freeBuffer(_ id: Int32) throws(PVMError) {
        if id == 0 { return }
        guard id > 0 else { throw PVMError(.badParam, "buffer id \(id)") }
        release(try slot(id))
    }

    @inline(__always)
    func release(_ i: Int) {
        meta[i].inUse = false
        freeIDs.append(Int32(i))
        if sendBuffer == Int32(i) { sendBuffer = 0 }
        if receiveBuffer == Int32(i) { receiveBuffer = 0 }
        if meta[i].queued { unqueue(Int32(i)) }
    }

    /// Takes buffer `id` out of the arrived queue (it is there).
    func unqueue(_ id: Int32) {
        meta[Int(id)].queued = false
        if let a = arrived.firstIndex(of: id) { arrived.remove(at: a) }
    }

    /// The arrived message at `position` in the queue becomes the receive buffer.
    @inline(__always)
    func receiveQueued(at position: Int) -> Int32 {
        let id = arrived.remove(at: position)
        meta[Int(id)].queued = false
        return becomeReceiveBuffer(Int(id))
    }

    /// Takes the buffer object of `id` out of the table (its id is freed and
    /// gets a fresh object): for values that own their message.
    func detach(_ id: Int32) -> MessageBuffer {
        let i = Int(id)
        let b = objects[i].takeRetainedValue()
        objects[i] = .passRetained(MessageBuffer(encoding: .default, capacity: 16))
        release(i)
        return b
    }

    /// Frees the send buffer and makes a new one active (pvm_initsend).
    /// Inlined into the caller: with a send buffer active (the usual case)
    /// it is emptied in place, the same id and storage, no allocation.
    @inlinable @inline(__always)
    public func initSend(encoding raw: Int32) throws(PVMError) -> Int32 {
        let sb = Int(sendBuffer)
        if _fastPath(sb != 0), let e = Encoding.of(raw) {
            objects[sb]._withUnsafeGuaranteedRef { $0.reset(encoding: e) }
            meta[sb].tag = 0
            meta[sb].source = tid.rawValue
            meta[sb].destination = 0
            meta[sb].context = context
            meta[sb].wait = 0
            return sendBuffer
        }
        return try initSendSlowly(encoding: raw)
    }

    /// No send buffer active (a valid encoding with one active is the
    /// inlined path), or an encoding to refuse.
    @usableFromInline
    func initSendSlowly(encoding raw: Int32) throws(PVMError) -> Int32 {
        let e = try Self.encoding(raw)
        sendBuffer = allocate(encoding: e)
        return sendBuffer
    }

    public var activeSendBuffer: Int32 { sendBuffer }
    public var activeReceiveBuffer: Int32 { receiveBuffer }

    /// Makes `id` the send buffer; returns the previous one (pvm_setsbuf).
    public func setSendBuffer(_ id: Int32) throws(PVMError) -> Int32 {
        if id != 0 { _ = try slot(id) }
        defer { sendBuffer = id }
        return sendBuffer
    }

    /// Makes `id` the receive buffer; returns the previous one (pvm_setrbuf).
    public func setReceiveBuffer(_ id: Int32) throws(PVMError) -> Int32 {
        if id != 0 { object(try slot(id)) { $0.rewind() } }
        defer { receiveBuffer = id }
        return receiveBuffer
    }

    /// Length in bytes, tag and source of a buffer (pvm_bufinfo).
    /// Inlined into the caller (a program asks it of every message it receives).
    @inlinable @inline(__always)
    public func bufferInfo(_ id: Int32) throws(PVMError) -> (bytes: Int32, tag: Int32, source: Int32) {
        let i = try slot(id)
        let bytes = objects[i]._withUnsafeGuaranteedRef { $0.reportedLength }
        return (Int32(truncatingIfNeeded: bytes), meta[i].tag, meta[i].source)
    }

    /// The full header of a buffer (pvm_getminfo): len, ctx, tag, wid, enc,
    /// crc, src, dst. `enc` is PVM's encoding word: 0x10000000 for
    /// PvmDataDefault, 0x20000000 for PvmDataInPlace, the data signature of
    /// the bytes for PvmDataRaw.
    public func messageInfo(_ id: Int32) throws(PVMError) -> [Int32] {
        let i = try slot(id)
        let m = meta[i]
        let enc: Int32 = object(i) { b in
            switch b.encoding {
            case .default: return 0x1000_0000
            case .inPlace: return 0x2000_0000
            default: return Int32(bitPattern: b.signature.rawValue)
            }
        }
        return [Int32(truncatingIfNeeded: object(i) { $0.byteCount }), m.context, m.tag, m.wait,
                enc, 0, m.source, m.destination]
    }

    /// Sets header fields of a buffer (pvm_setminfo): ctx, tag, wid, src, dst.
    public func setMessageInfo(_ id: Int32, context: Int32, tag: Int32, source: Int32, destination: Int32,
                               wait: Int32 = 0) throws(PVMError) {
        let i = try slot(id)
        meta[i].context = context
        meta[i].tag = tag
        meta[i].source = source
        meta[i].destination = destination
        meta[i].wait = wait
    }

    /// The active send buffer, for packing.
    public func sendBufferForPacking() throws(PVMError) -> MessageBuffer {
        guard sendBuffer != 0 else { throw PVMError(.noBuf, "no active send buffer") }
        return objects[Int(sendBuffer)].takeUnretainedValue()
    }

    /// The active receive buffer, for unpacking.
    public func receiveBufferForUnpacking() throws(PVMError) -> MessageBuffer {
        guard receiveBuffer != 0 else { throw PVMError(.noBuf, "no active receive buffer") }
        return objects[Int(receiveBuffer)].takeUnretainedValue()
    }

    /// Packs `count` items into the active send buffer (pvm_pk*).
    /// Inlined into the caller: a run of items that fits is copied with
    /// no call; the rest (and every error) goes through `packSlowly`.
    @inlinable @inline(__always)
    public func pack<T: PVMScalar>(_ items: UnsafePointer<T>, count: Int, stride: Int = 1) throws(PVMError) {
        let sb = Int(sendBuffer)
        if _fastPath(sb != 0), objects[sb]._withUnsafeGuaranteedRef({ $0.packIfSimple(items, count: count, stride: stride) }) { return }
        try packSlowly(items, count: count, stride: stride)
    }

    @usableFromInline
    func packSlowly<T: PVMScalar>(_ items: UnsafePointer<T>, count: Int, stride: Int) throws(PVMError) {
        guard sendBuffer != 0 else { throw PVMError(.noBuf, "no active send buffer") }
        try withObject(Int(sendBuffer)) { b throws(PVMError) in try b.pack(items, count: count, stride: stride) }
    }

    /// Unpacks `count` items from the active receive buffer (pvm_upk*).
    /// Inlined as `pack` is.
    @inlinable @inline(__always)
    public func unpack<T: PVMScalar>(into items: UnsafeMutablePointer<T>, count: Int, stride: Int = 1) throws(PVMError) {
        let rb = Int(receiveBuffer)
        if _fastPath(rb != 0), objects[rb]._withUnsafeGuaranteedRef({ $0.unpackIfSimple(into: items, count: count, stride: stride) }) { return }
        try unpackSlowly(into: items, count: count, stride: stride)
    }

    @usableFromInline
    func unpackSlowly<T: PVMScalar>(into items: UnsafeMutablePointer<T>, count: Int, stride: Int) throws(PVMError) {
        guard receiveBuffer != 0 else { throw PVMError(.noBuf, "no active receive buffer") }
        try withObject(Int(receiveBuffer)) { b throws(PVMError) in try b.unpack(into: items, count: count, stride: stride) }
    }
}

/// What PVM's header says of one buffer (kept beside the buffer objects).
@usableFromInline
struct BufferMeta {
    @usableFromInline var inUse = false
    @usableFromInline var tag: Int32 = 0
    @usableFromInline var source: Int32 = 0
    @usableFromInline var destination: Int32 = 0
    @usableFromInline var context: Int32 = 0
    /// In the arrived queue (`arrived`), not received yet.
    @usableFromInline var queued = false
    /// The wait id a program may set (pvm_setminfo); kept, not used.
    @usableFromInline var wait: Int32 = 0

    @usableFromInline
    init(inUse: Bool = false, tag: Int32 = 0, source: Int32 = 0, destination: Int32 = 0, context: Int32 = 0,
         queued: Bool = false, wait: Int32 = 0) {
        self.inUse = inUse
        self.tag = tag
        self.source = source
        self.destination = destination
        self.context = context
        self.queued = queued
        self.wait = wait
    }
}

/// The arrived messages' buffer ids, oldest first: a circular buffer, so
/// that taking the oldest (the usual receive) and adding the newest each
/// move one index, with no Array uniqueness check, no shifting and no
/// reference counting on the receive path. Owned by the process's one
/// VirtualMachine, which is never freed.
struct ArrivalQueue: Sequence {
    private var slots = UnsafeMutablePointer<Int32>.allocate(capacity: 64)
    /// A power of two.
    private var capacity = 64
    /// Position of the oldest id; ids run from here, wrapping, for `count`.
    private var head = 0
    private(set) var count = 0

    var isEmpty: Bool { @inline(__always) get { count == 0 } }

    @inline(__always)
    private func position(_ i: Int) -> Int { (head &+ i) & (capacity &- 1) }

    subscript(_ i: Int) -> Int32 {
        @inline(__always) get {
            precondition(UInt(bitPattern: i) < UInt(bitPattern: count), "arrival index out of range")
            return slots[position(i)]
        }
    }

    @inline(__always)
    mutating func append(_ id: Int32) {
        if _slowPath(count == capacity) { grow() }
        slots[position(count)] = id
        count &+= 1
    }

    @inline(never)
    private mutating func grow() {
        let bigger = UnsafeMutablePointer<Int32>.allocate(capacity: 2 * capacity)
        for i in 0..<count { bigger[i] = slots[position(i)] }
        slots.deallocate()
        slots = bigger
        capacity *= 2
        head = 0
    }

    /// Takes out the id at `i` (0: the oldest); later ones move up.
    @discardableResult @inline(__always)
    mutating func remove(at i: Int) -> Int32 {
        precondition(UInt(bitPattern: i) < UInt(bitPattern: count), "arrival index out of range")
        if _slowPath(i != 0) { return removeInside(i) }
        let id = slots[head]
        head = (head &+ 1) & (capacity &- 1)
        count &-= 1
        return id
    }

    @inline(never)
    private mutating func removeInside(_ i: Int) -> Int32 {
        let id = slots[position(i)]
        var j = i
        while j + 1 < count {
            slots[position(j)] = slots[position(j + 1)]
            j += 1
        }
        count -= 1
        return id
    }

    mutating func removeLast() -> Int32 {
        precondition(count > 0, "removeLast of an empty arrival queue")
        count -= 1
        return slots[position(count)]
    }

    mutating func removeAll() {
        head = 0
        count = 0
    }

    @inline(__always)
    func firstIndex(where match: (Int32) -> Bool) -> Int? {
        var i = 0
        while i < count {
            if match(slots[position(i)]) { return i }
            i += 1
        }
        return nil
    }

    func firstIndex(of id: Int32) -> Int? { firstIndex { $0 == id } }

    struct Iterator: IteratorProtocol {
        let queue: ArrivalQueue
        var i = 0
        mutating func next() -> Int32? {
            guard i < queue.count else { return nil }
            i += 1
            return queue[i - 1]
        }
    }

    func makeIterator() -> Iterator { Iterator(queue: self) }
}

/// A set of task ids, kept sorted in one flat table: membership by binary
/// search, insertion by moving the larger ids up. Hand-made rather than a
/// Set<Int32> because a new task's first send puts a task id in one: a
/// Set's storage type is made at run time on first use, with a scan of the
/// program's protocol conformances (for Int32's Hashable), which cost a
/// spawned task about 140,000 of the 520,000 instructions it runs from its
/// start to its first message. Owned by the process's one VirtualMachine,
/// which is never freed.
struct TaskIDSet {
    private var ids = FlatArray<Int32>()

    /// Where `id` is, or where it would go.
    private func position(of id: Int32) -> (index: Int, found: Bool) {
        var low = 0, high = ids.count
        while low < high {
            let mid = (low + high) / 2
            if ids[mid] < id { low = mid + 1 } else { high = mid }
        }
        return (low, low < ids.count && ids[low] == id)
    }

    func contains(_ id: Int32) -> Bool { position(of: id).found }

    /// Adds `id`; false when it was there already.
    @discardableResult
    mutating func insert(_ id: Int32) -> Bool {
        let (i, found) = position(of: id)
        if !found { ids.insert(id, at: i) }
        return !found
    }

    mutating func remove(_ id: Int32) {
        let (i, found) = position(of: id)
        if found { ids.remove(at: i) }
    }

    mutating func removeAll() { ids.removeAll() }
}

/// A growable array for the per-message tables (buffer headers by id,
/// free ids). Hand-made rather than an Array: every message writes these,
/// and an Array write checks that its storage is uniquely referenced
/// first. Owned by the one VirtualMachine of the process, which lives as
/// long as the process (never freed).
@usableFromInline
struct FlatArray<Element> {
    @usableFromInline private(set) var count = 0
    private var capacity = 16
    @usableFromInline private(set) var base = UnsafeMutablePointer<Element>.allocate(capacity: 16)

    init() {}

    @inlinable
    subscript(_ i: Int) -> Element {
        @inline(__always) get {
            precondition(UInt(bitPattern: i) < UInt(bitPattern: count), "index out of range")
            return base[i]
        }
        @inline(__always) nonmutating _modify {
            precondition(UInt(bitPattern: i) < UInt(bitPattern: count), "index out of range")
            yield &base[i]
        }
    }

    @inline(__always)
    mutating func append(_ e: Element) {
        if _slowPath(count == capacity) { grow() }
        (base + count).initialize(to: e)
        count += 1
    }

    @inline(never)
    mutating func grow() {
        let bigger = UnsafeMutablePointer<Element>.allocate(capacity: 2 * capacity)
        bigger.moveInitialize(from: base, count: count)
        base.deallocate()
        base = bigger
        capacity *= 2
    }

    @inline(__always)
    mutating func popLast() -> Element? {
        guard count > 0 else { return nil }
        count -= 1
        return (base + count).move()
    }

    /// Puts `e` at `i` (0...count), moving the later elements up.
    mutating func insert(_ e: Element, at i: Int) {
        precondition(i >= 0 && i <= count, "index out of range")
        if count == capacity { grow() }
        (base + i + 1).moveInitialize(from: base + i, count: count - i)
        (base + i).initialize(to: e)
        count += 1
    }

    /// Takes out the element at `i`, moving the later elements down.
    mutating func remove(at i: Int) {
        precondition(UInt(bitPattern: i) < UInt(bitPattern: count), "index out of range")
        (base + i).deinitialize(count: 1)
        (base + i).moveInitialize(from: base + i + 1, count: count - i - 1)
        count -= 1
    }

    mutating func removeAll() {
        base.deinitialize(count: count)
        count = 0
    }
}

// MARK: Sending

extension VirtualMachine {
    @inline(__always)
    static func checkDestination(_ dst: Int32, tag: Int32) throws(PVMError) {
        guard dst > 0, TaskID(dst).localPart != 0, tag >= 0 else { throw badDestination(dst, tag: tag) }
    }

    @inline(never)
    static func badDestination(_ dst: Int32, tag: Int32) -> PVMError {
        tag < 0 && dst > 0 && TaskID(dst).localPart != 0 ? PVMError(.badParam, "message tag \(tag)") : PVMError(.badParam, "destination \(TaskID(dst))")
    }

    /// Sends the active send buffer to `dst` with `tag` (pvm_send). A task
    /// that does not exist is not an error: the message is dropped, as PVM does.
    public func send(to dst: Int32, tag: Int32) throws(PVMError) {
        try Self.checkDestination(dst, tag: tag)
        guard sendBuffer != 0 else { throw PVMError(.noBuf, "no active send buffer") }
        try checkDaemon()
        try withObject(Int(sendBuffer)) { b throws(PVMError) in try transmit(b, to: dst, tag: tag) }
    }

    /// Sends the active send buffer to every task in `tids` except this one (pvm_mcast).
    public func multicast(to tids: [Int32], tag: Int32) throws(PVMError) {
        guard tag >= 0 else { throw PVMError(.badParam, "message tag \(tag)") }
        guard sendBuffer != 0 else { throw PVMError(.noBuf, "no active send buffer") }
        let b = objects[Int(sendBuffer)].takeUnretainedValue()
        try checkDaemon()
        for t in tids where t != tid.rawValue && t > 0 && TaskID(t).localPart != 0 {
            try transmit(b, to: t, tag: tag)
        }
    }

    /// Sends `count` items of `type` at `data` to `dst`, without touching
    /// the active send buffer (pvm_psend).
    public func psend(to dst: Int32, tag: Int32, data: UnsafeRawPointer?, count: Int, type: Int32) throws(PVMError) {
        try Self.checkDestination(dst, tag: tag)
        let size = try Self.itemSize(type)
        guard count >= 0 else { throw PVMError(.badParam, "item count \(count)") }
        try checkDaemon()
        let b = scratch
        b.reset(encoding: .raw)
        let bytes = count * size
        if bytes > 0 {
            guard let data else { throw PVMError(.badParam, "null data pointer") }
            if bytes >= Self.psendByReference {
                // Sent from where it is: into the ring or onto the socket
                // straight from the program's memory, no copy into a buffer.
                b.reset(encoding: .raw, referencing: UnsafeRawBufferPointer(start: data, count: bytes))
                defer { b.reset() }
                try transmit(b, to: dst, tag: tag)
                return
            }
            try b.pack(data.assumingMemoryBound(to: UInt8.self), count: bytes)
        }
        try transmit(b, to: dst, tag: tag)
    }

    /// From this size a pvm_psend is sent from the program's memory (below
    /// it the copy is cheaper than the frame's second piece).
    static let psendByReference = 4096

    static func itemSize(_ type: Int32) throws(PVMError) -> Int {
        switch type {
        case 0: throw PVMError(.notImpl, "PVM_STR in a one-shot send")
        case 1: return 1
        case 2, 9: return 2
        case 3, 4, 10: return 4
        case 5, 6, 8, 11: return 8
        case 7: return 16
        default: throw PVMError(.badParam, "data type \(type)")
        }
    }

    /// Moves one message: to this task's own queue, through the daemon
    /// (PvmDontRoute, or no direct path), or straight into the peer's ring.
    @inline(__always)
    func transmit(_ b: MessageBuffer, to dst: Int32, tag: Int32) throws(PVMError) {
        if _slowPath(dst == tid.rawValue || options[.route] == RoutePolicy.dontRoute.rawValue) {
            try transmitSlowly(b, to: dst, tag: tag)
            return
        }
        guard let peer = try peer(for: dst, sending: b) else {
            try transmitSlowly(b, to: dst, tag: tag)
            return
        }
        let ep = fastEndpoint!
        let me = tid.rawValue, ctx = context
        do {
            // The short frame where the ring carries its flags (inline), else the compact one.
            if _fastPath(ctx == 0), let flags = b.shortFrameFlags,
               _fastPath(ShortFrame.size + b.byteCount <= ep._withUnsafeGuaranteedRef({ $0.configuration.eagerLimit })) {
                try b.withFrame(headerSize: ShortFrame.size, { ShortFrame.encode(source: me, tag: tag, into: $0) }) { frame in
                    try ep._withUnsafeGuaranteedRef { try $0.send(frame, to: peer, flags: flags) }
                }
                return
            }
            if _slowPath(!b.isContiguous) {
                // InPlace with references into the program's memory: the
                // pieces go straight into the ring, never gathered first.
                try b.withFramePieces(headerSize: CompactFrame.size, {
                    CompactFrame.encode(source: me, tag: tag, context: ctx, encoding: b.encoding, signature: b.signature, into: $0)
                }) { pieces, total in try ep._withUnsafeGuaranteedRef { try $0.send(pieces: pieces, total: total, to: peer) } }
                return
            }
            try b.withFrame(headerSize: CompactFrame.size, {
                CompactFrame.encode(source: me, tag: tag, context: ctx, encoding: b.encoding, signature: b.signature, into: $0)
            }) { frame in try ep._withUnsafeGuaranteedRef { try $0.send(frame, to: peer) } }
        } catch let error as TransportError where error.kind == .peerGone || error.kind == .noPeer {
            forget(peer: peer)  // the receiver is gone: the message is dropped, as PVM does
        } catch {
            throw PVMError(.sysErr, "sending to \(TaskID(dst)): \(error)")
        }
    }

    /// To this task's own queue, or through the daemon.
    @inline(never)
    func transmitSlowly(_ b: MessageBuffer, to dst: Int32, tag: Int32) throws(PVMError) {
        let header = FrameHeader(bodyLength: b.byteCount, tag: tag, context: context, source: tid.rawValue,
                                 destination: dst, encoding: b.encoding, signature: b.signature)
        if dst == tid.rawValue {
            b.withFrame({ header.encode(into: $0) }) { frame in
                let body = UnsafeRawBufferPointer(rebasing: frame[FrameHeader.size...])
                if !handlers.isEmpty, (try? takeForHandler(header, body)) == true { return }
                try? enqueue(header, body)
            }
            return
        }
        if options[.route] != RoutePolicy.dontRoute.rawValue, let link = try tcpLink(for: dst, bytes: b.byteCount) {
            try sendTCP(b, header, link)
            return
        }
        try sendThroughDaemon(b, header)
    }

    func sendThroughDaemon(_ b: MessageBuffer, _ header: FrameHeader) throws(PVMError) {
        guard let d = daemon else { throw PVMError(.sysErr, "the local daemon is gone") }
        let ok = b.withFrame({ header.encode(into: $0) }) { frame in d.send(frame: frame) && d.flushBlocking() }
        if !ok { daemonLost(); throw PVMError(.sysErr, "lost the daemon while sending") }
    }

    /// The shared-memory peer for task `dst`, for the message `b` (or of
    /// `bytes` bytes): cached, else looked up in the daemon's name service
    /// and connected. nil: no direct path. (The message, not its size: the
    /// size is needed only on the way to `connectPeer`, and computing it
    /// first cost every send 8 instructions.)
    @inline(__always)
    func peer(for dst: Int32, sending b: MessageBuffer? = nil, bytes: Int = 0) throws(PVMError) -> ShmPeerID? {
        if _fastPath(dst == lastPeerTid) { return lastPeer }
        if let p = peers[dst] {
            lastPeerTid = dst
            lastPeer = p
            return p
        }
        return try connectPeer(dst, bytes: b?.byteCount ?? bytes)
    }

    /// From this size on even the first message to a task goes directly:
    /// through the daemon it would be copied twice more and hold up the
    /// daemon's socket to the receiver (a master handing each new worker
    /// its data, say).
    static let directFirstMessage = 1 << 16

    /// The first message to a task goes through the daemon, which already
    /// reaches both: a task that sends once (a worker reporting back) costs
    /// no shared-memory connection; a first message of `directFirstMessage`
    /// bytes or more connects at once. After the first, messages go
    /// directly; the daemon answers the lookup only once what this task
    /// routed is in the receiver's socket, and the receiver reads that
    /// socket when the connection arrives, so the order holds.
    func connectPeer(_ dst: Int32, bytes: Int = 0) throws(PVMError) -> ShmPeerID? {
        // Another host's task, or TCP forced: the TCP links (transmitSlowly).
        if TaskID(dst).hostNumber != hostNumber || forceTCP { return nil }
        // (Marked routed either way: a lookup that finds no way routes it.)
        if routedOnce.insert(dst), bytes < Self.directFirstMessage { return nil }
        var w = ControlWriter()
        w.int(dst)
        var r = try request(.lookup, w)
        let code = try r.int()
        let address = try r.string()
        _ = try r.int()
        if code == LookupResult.notEnrolled { routedOnce.remove(dst) }  // through the daemon until it enrolls; ask again next time
        guard code == 0, !address.isEmpty, let ep = endpoint else { return nil }
        // dst may have connected to this task already (the lookup may even
        // have queued a message from it): use that connection. The answer
        // came once what this task routed to dst is in dst's socket.
        if let p = peers[dst] ?? learnedPeers.removeValue(forKey: dst) {
            peers[dst] = p
            return p
        }
        do {
            let p = try ep.connect(to: address)
            peers[dst] = p
            lastPeerTid = dst
            lastPeer = p
            return p
        } catch {
            return nil
        }
    }

    func forget(peer: ShmPeerID) {
        for (t, p) in peers where p == peer { peers.removeValue(forKey: t) }
        for (t, p) in learnedPeers where p == peer { learnedPeers.removeValue(forKey: t) }
        if Int(peer) < heard.count { heard[Int(peer)] = 0 }
        if lastPeer == peer { lastPeerTid = 0 }
        if directPeer == peer {
            // It left in the middle of the message a pvm_precv waits for: no message.
            directPeer = nil
            if matched == Self.directPending { matched = 0 }
        }
    }
}

// MARK: Receiving

extension VirtualMachine {
    @inline(__always)
    static func matches(_ s: BufferMeta, _ src: Int32, _ tag: Int32, _ ctx: Int32) -> Bool {
        (src == -1 || s.source == src) && (tag == -1 || s.tag == tag) && s.context == ctx
    }

    /// Makes `b` the received message `h`, `body`: a large message that the
    /// shared-memory transport assembled becomes `b`'s storage, `b`'s
    /// previous storage going to the transport for the next one (no copy),
    /// anything else is copied.
    @inline(__always)
    func take(_ h: FrameHeader, _ body: UnsafeRawBufferPointer, into b: MessageBuffer) throws(PVMError) {
        if _slowPath(body.count > Self.exchangeMinimum), try takeLarge(h, body, into: b) { return }
        try b.load(received: body, encoding: h.encoding, signature: h.signature)
    }

    /// Below this a message is copied: it is small enough that the copy is cheap.
    static let exchangeMinimum = 32 << 10

    @inline(never)
    func takeLarge(_ h: FrameHeader, _ body: UnsafeRawBufferPointer, into b: MessageBuffer) throws(PVMError) -> Bool {
        guard let ep = endpoint else { return false }
        let signature = try MessageBuffer.receivedSignature(h.signature, encoding: h.encoding)
        guard let block = ep.exchangeLargeBuffer(holding: body, for: b.storageBlock) else { return false }
        b.adopt(block: block.base, size: block.size, body: body, encoding: h.encoding, signature: signature)
        return true
    }

    /// Queues an arrived message that no receive is waiting for.
    func enqueue(_ h: FrameHeader, _ body: UnsafeRawBufferPointer) throws(PVMError) {
        let i = takeID()
        do { try withObject(i) { b throws(PVMError) in try take(h, body, into: b) } } catch {
            freeIDs.append(Int32(i))
            throw error
        }
        queue(i, h)
    }

    /// Buffer `i`, loaded with the message `h` heads, joins the arrived queue.
    @inline(__always)
    func queue(_ i: Int, _ h: FrameHeader) {
        meta[i] = BufferMeta(inUse: true, tag: h.tag, source: h.source, destination: h.destination, context: h.context, queued: true)
        arrived.append(Int32(i))
    }

    /// Is a blocked receive waiting for a message like `h` (and none matched yet)?
    @inline(__always)
    func waitingReceiveWants(_ h: FrameHeader) -> Bool {
        _fastPath(waiting && matched == 0) && h.context == context
            && (wantSource == -1 || wantSource == h.source) && (wantTag == -1 || wantTag == h.tag)
    }

    /// The oldest arrived message matching (src, tag) in the current context.
    @inline(__always)
    /// The program's matching function (pvm_recvf): called with each
    /// arrived message's buffer id and the receive's source and tag. < 0:
    /// fail with that code; 0: not this one; 1: this one; > 1: the highest
    /// ranked after scanning all. nil: PVM's own matching (source, tag, context).
    public var matcher: ((Int32, Int32, Int32) -> Int32)? {
        get { customMatcher }
        set { customMatcher = newValue }
    }

    /// The arrived message the matcher picks, in arrival order.
    func findMatching(_ src: Int32, _ tag: Int32) throws(PVMError) -> Int? {
        guard let m = customMatcher else { return findArrived(src, tag) }
        var best: (index: Int, rank: Int32)? = nil
        for (i, id) in arrived.enumerated() {
            let r = m(id, src, tag)
            if r < 0 { throw PVMError(code: r, detail: "the matching function refused") }
            if r == 1 { return i }
            if r > 1, r > (best?.rank ?? 1) { best = (i, r) }
        }
        return best?.index
    }

    /// `receive` with the program's matcher: every arrival is queued, then
    /// the queue scanned (the direct delivery knows only source and tag).
    func receiveMatching(_ src: Int32, _ tag: Int32, timeoutNanoseconds: UInt64?) throws(PVMError) -> Int32 {
        let deadline = timeoutNanoseconds.map { Clock.monotonicNanoseconds() &+ $0 }
        while true {
            if let i = try findMatching(src, tag) { return receiveQueued(at: i) }
            try checkDaemon()
            var remaining: UInt64? = nil
            if let deadline {
                let now = Clock.monotonicNanoseconds()
                if now >= deadline { return 0 }
                remaining = deadline - now
            }
            if timeoutNanoseconds == 0 {
                try pollOnce()
                return try findMatching(src, tag).map { receiveQueued(at: $0) } ?? 0
            }
            try pump(timeoutNanoseconds: remaining)
        }
    }

    @inline(__always)
    func findArrived(_ src: Int32, _ tag: Int32) -> Int? {
        if arrived.isEmpty { return nil }
        let ctx = context
        return arrived.firstIndex { Self.matches(meta[Int($0)], src, tag, ctx) }
    }

    /// Takes in everything that has arrived, waiting up to `timeoutNanoseconds`
    /// (nil: until something arrives) for at least one event.
    func pump(timeoutNanoseconds: UInt64?) throws(PVMError) {
        guard let ep = fastEndpoint else { return }
        do {
            _ = try ep._withUnsafeGuaranteedRef { try $0.receive(timeoutNanoseconds: timeoutNanoseconds) { event in try self.handle(event) } }
        } catch let error as PVMError {
            throw error
        } catch {
            throw PVMError(.sysErr, "receiving: \(error)")
        }
        if _slowPath(!handled.isEmpty) { runHandlers() }
    }

    func pollOnce() throws(PVMError) {
        guard let ep = endpoint else { return }
        do {
            try ep.poll { event in try self.handle(event) }
        } catch let error as PVMError {
            throw error
        } catch {
            throw PVMError(.sysErr, "receiving: \(error)")
        }
        try readDaemon()
        if _slowPath(!handled.isEmpty) { runHandlers() }
    }

    @inline(__always)
    func handle(_ event: ShmEvent) throws {
        switch event {
        case .message(let peer, let message):
            if _slowPath(message.path == .placed) { try arrivePlaced(peer, message); return }
            let (h, body): (FrameHeader, UnsafeRawBufferPointer)
            do { (h, body) = try ShortFrame.decode(message.bytes, flags: message.flags, destination: tid.rawValue) } catch {
                warn("dropped a malformed message from a local peer and closed its connection: \(error)")
                endpoint?.disconnect(peer)
                forget(peer: peer)
                return
            }
            if _slowPath(Int(peer) >= heard.count || heard[Int(peer)] != Self.heardKey(h.source)) { try heardNew(h.source, from: peer) }
            try arrive(h, body, lend: true)
        case .disconnected(let peer, _):
            forget(peer: peer)
        case .readable(let fd):
            try serviceReadable(fd)
        case .connected:
            // What the new peer sent through the daemon before it connected
            // is in the daemon's socket by now: take it first (order).
            try readDaemon()
        }
    }

    /// What `heard` keeps for a message from `source` (never 0).
    @inline(__always)
    static func heardKey(_ source: Int32) -> UInt64 { 1 << 32 | UInt64(UInt32(bitPattern: source)) }

    /// A message from `source` on `peer`'s ring, the first from it since
    /// the ring connected or since the last from another source.
    ///
    /// The first message may be on a connection this task made (no
    /// `.connected` then): what the peer sent through the daemon before it
    /// is in the daemon's socket (it looked this task up first, see
    /// `learned`), so take that first (order). A new source is recorded as
    /// reachable over this ring (`learned`) once, not per message.
    @inline(never)
    func heardNew(_ source: Int32, from peer: ShmPeerID) throws(PVMError) {
        let p = Int(peer)
        if p >= heard.count { heard += [UInt64](repeating: 0, count: p + 1 - heard.count) }
        let first = heard[p] == 0
        heard[p] = Self.heardKey(source)
        if first { try readDaemon() }
        if source > 0 && peers[source] == nil { learned(source, peer) }
    }

    /// `source` sent over a connection without this task having one to it:
    /// send back over the same connection; but when this task has sent
    /// `source` messages through the daemon, only after a lookup (its
    /// answer waits until they are in `source`'s socket), or the ring would
    /// overtake them.
    @inline(never)
    func learned(_ source: Int32, _ peer: ShmPeerID) {
        if routedOnce.contains(source) { learnedPeers[source] = peer } else { peers[source] = peer }
    }

    /// A message has arrived (from a peer's ring, the daemon, or this task
    /// itself): to the receive that waits for it, or to the queue.
    /// `lend`: the bytes stay valid for the whole call (they are in a ring),
    /// so a receive in place may read them there.
    @inline(__always)
    func arrive(_ h: FrameHeader, _ body: UnsafeRawBufferPointer, lend: Bool = false) throws(PVMError) {
        if _slowPath(!handlers.isEmpty), try takeForHandler(h, body) { return }
        if waitingReceiveWants(h) {
            if _slowPath(inPlace != nil) {
                if lend {
                    matched = -1
                    do { try inPlace!(h, body) } catch { inPlaceError = error }
                } else {
                    try enqueue(h, body)
                    matched = takeLastQueued()
                }
                return
            }
            try deliverDirect(h, body)
        } else {
            try enqueue(h, body)
        }
    }

    /// The message a blocked receive waits for, straight into a receive
    /// buffer: the current one is reused in place (PVM frees it on receive,
    /// and its id would come back first anyway), so no allocation and no
    /// queueing on the fast path.
    @inline(__always)
    func deliverDirect(_ h: FrameHeader, _ body: UnsafeRawBufferPointer) throws(PVMError) {
        let rb = Int(receiveBuffer)
        if rb != 0 && receiveBuffer != sendBuffer && !meta[rb].queued {
            try withObject(rb) { b throws(PVMError) in try take(h, body, into: b) }
            meta[rb] = BufferMeta(inUse: true, tag: h.tag, source: h.source, destination: h.destination, context: h.context)
            matched = receiveBuffer
            return
        }
        try enqueue(h, body)
        matched = takeLastQueued()
    }

    /// The message just queued, taken out again (a waiting receive takes it).
    func takeLastQueued() -> Int32 {
        let id = arrived.removeLast()
        meta[Int(id)].queued = false
        return id
    }

    func warn(_ text: String) {
        let line = "libpvm [\(tid)]: \(text)\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
    }

    /// Makes `id` the receive buffer, freeing the previous one (as pvm_recv does).
    @inline(__always)
    func becomeReceiveBuffer(_ index: Int) -> Int32 {
        let id = Int32(index)
        if meta[index].queued { unqueue(id) }
        let old = receiveBuffer
        receiveBuffer = id
        if old != 0 && old != id && old != sendBuffer && Int(old) < meta.count && meta[Int(old)].inUse {
            release(Int(old))
        }
        return id
    }

    /// Receives the oldest message from `src` with `tag` (-1: any) in the
    /// current context. nil timeout blocks; 0 polls. Returns the new
    /// receive buffer id, or 0 on timeout.
    public func receive(from src: Int32, tag: Int32, timeoutNanoseconds: UInt64?) throws(PVMError) -> Int32 {
        if _slowPath(!handled.isEmpty) { runHandlers() }
        if _slowPath(matcher != nil) { return try receiveMatching(src, tag, timeoutNanoseconds: timeoutNanoseconds) }
        if let i = findArrived(src, tag) { return receiveQueued(at: i) }
        try checkDaemon()
        if timeoutNanoseconds == 0 {
            try pollOnce()
            if let i = findArrived(src, tag) { return receiveQueued(at: i) }
            if state != .enrolled { throw PVMError(.sysErr, "the local daemon is gone") }
            return 0
        }
        let deadline = timeoutNanoseconds.map { Clock.monotonicNanoseconds() &+ $0 }
        wantSource = src
        wantTag = tag
        matched = 0
        waiting = true
        defer { waiting = false }
        if _slowPath(precvTarget != nil) { adoptMessageInProgress() }
        while true {
            var remaining: UInt64? = nil
            if let deadline {
                let now = Clock.monotonicNanoseconds()
                if now >= deadline { return 0 }
                remaining = deadline - now
            }
            try pump(timeoutNanoseconds: remaining)
            if matched != 0 {
                if _fastPath(matched > 0) { return becomeReceiveBuffer(Int(matched)) }
                // A pvm_precv's message arriving straight into its memory:
                // wait for all of it, whatever the timeout (it has begun).
                if matched == Self.directDone { return Self.directDone }
                continue  // directPending (pvm_precv waits without a timeout)
            }
            if state != .enrolled { throw PVMError(.sysErr, "the local daemon is gone") }
        }
    }

    /// A waiting pvm_precv takes over a large message that has begun to
    /// arrive into a buffer of its own (over TCP, or pipelined over shared
    /// memory): the rest goes straight into the program's memory.
    @inline(never)
    func adoptMessageInProgress() {
        if !tcpLinks.isEmpty, adoptPartialTCP(into: precvTarget!) { return }
        _ = endpoint?.placeAssemblyInProgress()
    }

    /// The id of an arrived message matching (src, tag), left in place (pvm_probe); 0 if none.
    public func probe(from src: Int32, tag: Int32) throws(PVMError) -> Int32 {
        if _slowPath(!handled.isEmpty) { runHandlers() }
        if _slowPath(matcher != nil) {
            if let i = try findMatching(src, tag) { return arrived[i] }
            try checkDaemon()
            try pollOnce()
            return try findMatching(src, tag).map { arrived[$0] } ?? 0
        }
        if let i = findArrived(src, tag) { return arrived[i] }
        try checkDaemon()
        try pollOnce()
        if let i = findArrived(src, tag) { return arrived[i] }
        if state != .enrolled { throw PVMError(.sysErr, "the local daemon is gone") }
        return 0
    }

    /// Where the shared-memory transport should pull a large message
    /// (`ShmEndpoint.placement`, asked with its first bytes before the rest
    /// is read): into a waiting pvm_precv's memory when it is the message
    /// that precv takes and fits there; nil (the usual way: a buffer of the
    /// transport's, then a copy) otherwise, and for a peer's first message
    /// (what it sent through the daemon comes first, see `heardNew`).
    func placement(_ peer: ShmPeerID, _ head: UnsafeRawBufferPointer, _ total: Int) -> (destination: UnsafeMutableRawPointer, offset: Int)? {
        guard let target = precvTarget, handlers.isEmpty, inPlace == nil, Int(peer) < heard.count, heard[Int(peer)] != 0,
              head.count >= CompactFrame.size, total - CompactFrame.size <= target.count,
              let (h, _) = try? CompactFrame.decode(UnsafeRawBufferPointer(rebasing: head[..<CompactFrame.size]), destination: tid.rawValue),
              waitingReceiveWants(h), (try? MessageBuffer.receivedSignature(h.signature, encoding: h.encoding)) != nil else { return nil }
        // Taken: later arrivals queue while it comes (pipelined, over many polls).
        matched = Self.directPending
        directPeer = peer
        return (target.baseAddress!, CompactFrame.size)
    }

    /// A message `placement` put into the waiting pvm_precv's memory: the
    /// receive is done.
    @inline(never)
    func arrivePlaced(_ peer: ShmPeerID, _ message: ShmMessage) throws(PVMError) {
        let (h, _) = try CompactFrame.decode(message.bytes, destination: tid.rawValue)
        if heard[Int(peer)] != Self.heardKey(h.source) { try heardNew(h.source, from: peer) }
        directResult = (h.source, h.tag, message.total - message.bytes.count)
        directPeer = nil
        matched = Self.directDone
    }

    /// Receives straight into `data` (pvm_precv): up to `count` items of
    /// `type`; returns source, tag and the message's full length in bytes.
    /// The active receive buffer is left as it was. A large message that
    /// arrives while this waits goes into `data` with no copy in between:
    /// from the TCP socket, or pulled from a sender of this host's memory.
    public func precv(from src: Int32, tag: Int32, into data: UnsafeMutableRawPointer?, count: Int, type: Int32) throws(PVMError) -> (source: Int32, tag: Int32, bytes: Int) {
        let size = try Self.itemSize(type)
        guard count >= 0 else { throw PVMError(.badParam, "item count \(count)") }
        let keep = receiveBuffer
        receiveBuffer = 0
        let capacity = count * size
        if let data, capacity >= Self.largeTCPFrame { precvTarget = UnsafeMutableRawBufferPointer(start: data, count: capacity) }
        let id: Int32
        do { id = try receive(from: src, tag: tag, timeoutNanoseconds: nil) } catch {
            precvTarget = nil
            if directLink != nil { abandonDirect() }
            if directPeer != nil {
                directPeer = nil
                matched = 0
                endpoint?.withdrawPlacement()
            }
            receiveBuffer = keep
            throw error
        }
        precvTarget = nil
        receiveBuffer = keep
        if id == Self.directDone {
            // Arrived straight into `data` (TCPLinks.swift startLarge, `placement`).
            matched = 0
            return directResult
        }
        let i = Int(id)
        let b = objects[i].takeUnretainedValue()
        let s = meta[i]
        let total = b.byteCount
        let n = min(total, count * size)
        if n > 0, let data {
            var copied = 0
            b.withPieces { piece in
                let k = min(piece.count, n - copied)
                if k > 0 { (data + copied).copyMemory(from: piece.baseAddress!, byteCount: k) }
                copied += k
            }
        }
        release(Int(id))
        return (s.source, s.tag, total)
    }
}
