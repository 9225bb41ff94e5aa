#if canImport(Glibc)
import Glibc
#endif
import PVMControl
import PVMEncoding
import PVMSystem
import PVMTransport

// MARK: Message buffers (PVM's buffer ids)

extension VirtualMachine {
    static func encoding(_ raw: Int32) throws(PVMError) -> Encoding {
        guard let e = Encoding(rawValue: raw) else { throw PVMError(.badParam, "unknown encoding \(raw)") }
        return e
    }

    func allocate(_ buffer: MessageBuffer) -> Int32 {
        let id: Int32
        if let free = freeIDs.popLast() { id = free } else {
            id = Int32(buffers.count)
            buffers.append(BufferSlot())
        }
        buffers[Int(id)] = BufferSlot(buffer: buffer, tag: 0, source: tid.rawValue, destination: 0, context: context)
        return id
    }

    func slot(_ id: Int32) throws(PVMError) -> Int {
        guard id > 0 else { throw PVMError(.badParam, "buffer id \(id)") }
        guard Int(id) < buffers.count, buffers[Int(id)].buffer != nil else { throw PVMError(.noSuchBuf, "buffer \(id)") }
        return Int(id)
    }

    /// The buffer behind `id`.
    public func buffer(_ id: Int32) throws(PVMError) -> MessageBuffer {
        buffers[try slot(id)].buffer!
    }

    /// A new buffer, not made active (pvm_mkbuf).
    public func makeBuffer(encoding raw: Int32) throws(PVMError) -> Int32 {
        let e = try Self.encoding(raw)
        if let b = recycled {
            recycled = nil
            b.reset(encoding: e)
            return allocate(b)
        }
        return allocate(MessageBuffer(encoding: e))
    }

    /// Frees a buffer (pvm_freebuf). 0 is a no-op; freeing the active send
    /// or receive buffer leaves none active.
    public func freeBuffer(_ id: Int32) throws(PVMError) {
        if id == 0 { return }
        guard id > 0 else { throw PVMError(.badParam, "buffer id \(id)") }
        let i = try slot(id)
        release(i)
    }

    func release(_ i: Int) {
        if recycled == nil { recycled = buffers[i].buffer }
        buffers[i] = BufferSlot()
        freeIDs.append(Int32(i))
        if sendBuffer == Int32(i) { sendBuffer = 0 }
        if receiveBuffer == Int32(i) { receiveBuffer = 0 }
        if let a = arrived.firstIndex(of: Int32(i)) { arrived.remove(at: a) }
    }

    /// Frees the send buffer and makes a new one active (pvm_initsend).
    public func initSend(encoding raw: Int32) throws(PVMError) -> Int32 {
        let e = try Self.encoding(raw)
        if sendBuffer != 0, let b = buffers[Int(sendBuffer)].buffer {
            // Reuse the buffer in place: same id, no allocation.
            b.reset(encoding: e)
            buffers[Int(sendBuffer)].tag = 0
            buffers[Int(sendBuffer)].source = tid.rawValue
            buffers[Int(sendBuffer)].context = context
            return sendBuffer
        }
        sendBuffer = try makeBuffer(encoding: e.rawValue)
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
        if id != 0 {
            let i = try slot(id)
            buffers[i].buffer!.rewind()
        }
        defer { receiveBuffer = id }
        return receiveBuffer
    }

    /// Length in bytes, tag and source of a buffer (pvm_bufinfo).
    public func bufferInfo(_ id: Int32) throws(PVMError) -> (bytes: Int32, tag: Int32, source: Int32) {
        let i = try slot(id)
        let s = buffers[i]
        return (Int32(truncatingIfNeeded: s.buffer!.byteCount), s.tag, s.source)
    }

    /// The full header of a buffer (pvm_getminfo): len, ctx, tag, wid, enc, crc, src, dst.
    public func messageInfo(_ id: Int32) throws(PVMError) -> [Int32] {
        let i = try slot(id)
        let s = buffers[i]
        let b = s.buffer!
        let enc = Int32(bitPattern: b.signature.rawValue)
        return [Int32(truncatingIfNeeded: b.byteCount), s.context, s.tag, 0, enc, 0, s.source, s.destination]
    }

    /// Sets header fields of a buffer (pvm_setminfo): ctx, tag, src, dst.
    public func setMessageInfo(_ id: Int32, context: Int32, tag: Int32, source: Int32, destination: Int32) throws(PVMError) {
        let i = try slot(id)
        buffers[i].context = context
        buffers[i].tag = tag
        buffers[i].source = source
        buffers[i].destination = destination
    }

    /// The active send buffer, for packing.
    public func sendBufferForPacking() throws(PVMError) -> MessageBuffer {
        guard sendBuffer != 0, let b = buffers[Int(sendBuffer)].buffer else { throw PVMError(.noBuf, "no active send buffer") }
        return b
    }

    /// The active receive buffer, for unpacking.
    public func receiveBufferForUnpacking() throws(PVMError) -> MessageBuffer {
        guard receiveBuffer != 0, let b = buffers[Int(receiveBuffer)].buffer else { throw PVMError(.noBuf, "no active receive buffer") }
        return b
    }
}

// MARK: Sending

extension VirtualMachine {
    static func checkDestination(_ dst: Int32, tag: Int32) throws(PVMError) {
        guard dst > 0, TaskID(dst).localPart != 0 else { throw PVMError(.badParam, "destination \(TaskID(dst))") }
        guard tag >= 0 else { throw PVMError(.badParam, "message tag \(tag)") }
    }

    /// Sends the active send buffer to `dst` with `tag` (pvm_send). A task
    /// that does not exist is not an error: the message is dropped, as PVM does.
    public func send(to dst: Int32, tag: Int32) throws(PVMError) {
        try Self.checkDestination(dst, tag: tag)
        guard sendBuffer != 0, let b = buffers[Int(sendBuffer)].buffer else { throw PVMError(.noBuf, "no active send buffer") }
        try checkDaemon()
        try transmit(b, to: dst, tag: tag)
    }

    /// Sends the active send buffer to every task in `tids` except this one (pvm_mcast).
    public func multicast(to tids: [Int32], tag: Int32) throws(PVMError) {
        guard tag >= 0 else { throw PVMError(.badParam, "message tag \(tag)") }
        guard sendBuffer != 0, let b = buffers[Int(sendBuffer)].buffer else { throw PVMError(.noBuf, "no active send buffer") }
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
            try b.pack(data.assumingMemoryBound(to: UInt8.self), count: bytes)
        }
        try transmit(b, to: dst, tag: tag)
    }

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
        let header = FrameHeader(bodyLength: b.byteCount, tag: tag, context: context, source: tid.rawValue,
                                 destination: dst, encoding: b.encoding, signature: b.signature)
        if _slowPath(dst == tid.rawValue) {
            b.withFrame({ header.encode(into: $0) }) { frame in
                let body = UnsafeRawBufferPointer(rebasing: frame[FrameHeader.size...])
                try? enqueue(header, body)
            }
            return
        }
        if _slowPath(options[.route] == RoutePolicy.dontRoute.rawValue) {
            try sendThroughDaemon(b, header)
            return
        }
        guard let peer = try peer(for: dst) else {
            try sendThroughDaemon(b, header)
            return
        }
        let ep = endpoint!
        do {
            try b.withFrame({ header.encode(into: $0) }) { frame in try ep.send(frame, to: peer) }
        } catch let error as TransportError where error.kind == .peerGone || error.kind == .noPeer {
            forget(peer: peer)  // the receiver is gone: the message is dropped, as PVM does
        } catch {
            throw PVMError(.sysErr, "sending to \(TaskID(dst)): \(error)")
        }
    }

    func sendThroughDaemon(_ b: MessageBuffer, _ header: FrameHeader) throws(PVMError) {
        guard let d = daemon else { throw PVMError(.sysErr, "the local daemon is gone") }
        let ok = b.withFrame({ header.encode(into: $0) }) { frame in d.send(frame: frame) && d.flushBlocking() }
        if !ok { daemonLost(); throw PVMError(.sysErr, "lost the daemon while sending") }
    }

    /// The shared-memory peer for task `dst`: cached, else looked up in the
    /// daemon's name service and connected. nil: no direct path.
    @inline(__always)
    func peer(for dst: Int32) throws(PVMError) -> ShmPeerID? {
        if _fastPath(dst == lastPeerTid) { return lastPeer }
        if let p = peers[dst] {
            lastPeerTid = dst
            lastPeer = p
            return p
        }
        return try connectPeer(dst)
    }

    func connectPeer(_ dst: Int32) throws(PVMError) -> ShmPeerID? {
        var w = ControlWriter()
        w.int(dst)
        var r = try request(.lookup, w)
        let code = try r.int()
        let address = try r.string()
        _ = try r.int()
        guard code == 0, !address.isEmpty, let ep = endpoint else { return nil }
        // The lookup may have queued a message from dst over a connection it made.
        if let p = peers[dst] { return p }
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
        if lastPeer == peer { lastPeerTid = 0 }
    }
}

// MARK: Receiving

extension VirtualMachine {
    @inline(__always)
    static func matches(_ s: BufferSlot, _ src: Int32, _ tag: Int32, _ ctx: Int32) -> Bool {
        (src == -1 || s.source == src) && (tag == -1 || s.tag == tag) && s.context == ctx
    }

    /// Queues an arrived message that no receive is waiting for.
    func enqueue(_ h: FrameHeader, _ body: UnsafeRawBufferPointer) throws(PVMError) {
        let b: MessageBuffer
        if let r = recycled {
            recycled = nil
            try r.load(received: body, encoding: h.encoding, signature: h.signature)
            b = r
        } else {
            b = try MessageBuffer(received: body, encoding: h.encoding, signature: h.signature)
        }
        let id = allocate(b)
        buffers[Int(id)].tag = h.tag
        buffers[Int(id)].source = h.source
        buffers[Int(id)].destination = h.destination
        buffers[Int(id)].context = h.context
        arrived.append(id)
    }

    /// The oldest arrived message matching (src, tag) in the current context.
    @inline(__always)
    func findArrived(_ src: Int32, _ tag: Int32) -> Int? {
        if arrived.isEmpty { return nil }
        let ctx = context
        return arrived.firstIndex { Self.matches(buffers[Int($0)], src, tag, ctx) }
    }

    /// Takes in everything that has arrived, waiting up to `timeoutNanoseconds`
    /// (nil: until something arrives) for at least one event.
    func pump(timeoutNanoseconds: UInt64?) throws(PVMError) {
        guard let ep = endpoint else { return }
        do {
            try ep.receive(timeoutNanoseconds: timeoutNanoseconds) { event in try self.handle(event) }
        } catch let error as PVMError {
            throw error
        } catch {
            throw PVMError(.sysErr, "receiving: \(error)")
        }
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
    }

    func handle(_ event: ShmEvent) throws {
        switch event {
        case .message(let peer, let message):
            let (h, body): (FrameHeader, UnsafeRawBufferPointer)
            do { (h, body) = try FrameHeader.decodeFrame(message.bytes) } catch {
                warn("dropped a malformed message from a local peer and closed its connection: \(error)")
                endpoint?.disconnect(peer)
                forget(peer: peer)
                return
            }
            if _slowPath(peers[h.source] == nil) && h.source > 0 { peers[h.source] = peer }
            try enqueue(h, body)
        case .disconnected(let peer, _):
            forget(peer: peer)
        case .readable:
            try readDaemon()
        case .connected:
            break
        }
    }

    func warn(_ text: String) {
        let line = "libpvm [\(tid)]: \(text)\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
    }

    /// Makes `id` the receive buffer, freeing the previous one (as pvm_recv does).
    func becomeReceiveBuffer(_ index: Int) -> Int32 {
        let id = Int32(index)
        if let a = arrived.firstIndex(of: id) { arrived.remove(at: a) }
        let old = receiveBuffer
        receiveBuffer = id
        if old != 0 && old != id && old != sendBuffer && Int(old) < buffers.count && buffers[Int(old)].buffer != nil {
            release(Int(old))
        }
        return id
    }

    /// Receives the oldest message from `src` with `tag` (-1: any) in the
    /// current context. nil timeout blocks; 0 polls. Returns the new
    /// receive buffer id, or 0 on timeout.
    public func receive(from src: Int32, tag: Int32, timeoutNanoseconds: UInt64?) throws(PVMError) -> Int32 {
        if let i = findArrived(src, tag) { return becomeReceiveBuffer(Int(arrived[i])) }
        try checkDaemon()
        if timeoutNanoseconds == 0 {
            try pollOnce()
            if let i = findArrived(src, tag) { return becomeReceiveBuffer(Int(arrived[i])) }
            if state != .enrolled { throw PVMError(.sysErr, "the local daemon is gone") }
            return 0
        }
        let deadline = timeoutNanoseconds.map { Clock.monotonicNanoseconds() &+ $0 }
        var seen = arrived.count
        while true {
            var remaining: UInt64? = nil
            if let deadline {
                let now = Clock.monotonicNanoseconds()
                if now >= deadline { return 0 }
                remaining = deadline - now
            }
            try pump(timeoutNanoseconds: remaining)
            // Only what arrived since the last look can match now.
            if arrived.count > seen {
                let ctx = context
                for k in seen..<arrived.count where Self.matches(buffers[Int(arrived[k])], src, tag, ctx) {
                    return becomeReceiveBuffer(Int(arrived[k]))
                }
            }
            seen = arrived.count
            if state != .enrolled { throw PVMError(.sysErr, "the local daemon is gone") }
        }
    }

    /// The id of an arrived message matching (src, tag), left in place (pvm_probe); 0 if none.
    public func probe(from src: Int32, tag: Int32) throws(PVMError) -> Int32 {
        if let i = findArrived(src, tag) { return arrived[i] }
        try checkDaemon()
        try pollOnce()
        if let i = findArrived(src, tag) { return arrived[i] }
        if state != .enrolled { throw PVMError(.sysErr, "the local daemon is gone") }
        return 0
    }

    /// Receives straight into `data` (pvm_precv): up to `count` items of
    /// `type`; returns source, tag and the message's full length in bytes.
    /// The active receive buffer is left as it was.
    public func precv(from src: Int32, tag: Int32, into data: UnsafeMutableRawPointer?, count: Int, type: Int32) throws(PVMError) -> (source: Int32, tag: Int32, bytes: Int) {
        let size = try Self.itemSize(type)
        guard count >= 0 else { throw PVMError(.badParam, "item count \(count)") }
        let keep = receiveBuffer
        receiveBuffer = 0
        let id: Int32
        do { id = try receive(from: src, tag: tag, timeoutNanoseconds: nil) } catch {
            receiveBuffer = keep
            throw error
        }
        let s = buffers[Int(id)]
        let b = s.buffer!
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
        receiveBuffer = keep
        release(Int(id))
        return (s.source, s.tag, total)
    }
}
