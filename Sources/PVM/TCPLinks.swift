#if canImport(Glibc)
import Glibc
#endif
import PVMControl
import PVMEncoding
import PVMSystem
import PVMTransport

// The TCP transport between tasks: a direct connection from a sender to a
// task of another host (or to any task when `PVM_TRANSPORT=tcp` forces it),
// set up on first use through the daemons' name service, as the shared
// memory path is. Each task listens (every address, or `PVM_TCP_ADDRESS`;
// any port, or within `PVM_PORT_RANGE`); a connection carries messages as
// frames (`FrameHeader` + body) written with one vectored write, both ways:
// the task it reached answers on it (its first frame names the sender), as
// a shared-memory connection is answered on, so one pair's traffic shares
// one connection and each message's TCP acknowledgement rides on the
// answer instead of being a packet of its own (a pair of one-way
// connections cost 2.5-4.5 us more per 8 B one-way on loopback here).
// Before anything else on it is read, both ends prove knowledge of the
// machine's secret (`AuthenticationHandshake`), their daemons computing the
// MACs: tasks never hold the secret. Order per pair holds as on shared
// memory: the first message goes through the daemons, the daemon answers
// the lookup only once what it routed is in the receiver's socket, and the
// receiver reads that socket before the first frame of a connection; a task
// that has routed messages to a peer answers on the peer's connection only
// after such a lookup.

/// One TCP connection of this task: made by it (to `peer`) or accepted
/// (authenticating while `handshake` is set; `peer` 0 until its first frame).
final class TCPLink {
    let connection: FrameConnection
    @exclusivity(unchecked) var peer: Int32
    @exclusivity(unchecked) var handshake: AuthenticationHandshake?
    @exclusivity(unchecked) var handshakeInput: [UInt8] = []
    /// A frame has been read from it (the daemon's socket is read before the first).
    @exclusivity(unchecked) var heard = false
    /// A large message whose body is still arriving, straight into the
    /// storage of buffer `id`, or (id -1) into a waiting pvm_precv's memory
    /// (see `VirtualMachine.startLarge`).
    @exclusivity(unchecked) var partial: (id: Int, header: FrameHeader, destination: UnsafeMutableRawPointer, got: Int)? = nil

    init(fd: Int32, peer: Int32, handshake: AuthenticationHandshake?) {
        connection = FrameConnection(fd: fd)
        self.peer = peer
        self.handshake = handshake
    }
}

/// The MACs of a link handshake, made by this task's daemon.
struct DaemonAuthenticator: LinkAuthenticator {
    unowned let vm: VirtualMachine

    func code(for data: [UInt8]) throws(PVMError) -> [UInt8] {
        var w = ControlWriter()
        w.int(1)
        w.raw(data)
        var r = try vm.request(.authenticate, w)
        let code = try r.int()
        guard code == 0 else { throw PVMError(code: code, detail: "the daemon made no authentication code") }
        return try r.raw()
    }

    func isValid(_ code: [UInt8], for data: [UInt8]) throws(PVMError) -> Bool {
        var w = ControlWriter()
        w.int(2)
        w.raw(data)
        w.raw(code)
        var r = try vm.request(.authenticate, w)
        return try r.int() == 0
    }
}

/// How this task's messages reach a peer.
public enum PeerPath: String, Sendable {
    /// Straight into the peer's shared-memory ring (a task of this host).
    case sharedMemory = "shm"
    /// Over a direct TCP connection (another host's task, or TCP forced).
    case tcp
    /// Through the daemons (the first message, daemon routing, or no direct path).
    case daemons = "daemon"
}

extension VirtualMachine {
    /// The path messages from this task to `task` take now (the first one
    /// goes through the daemons unless it is of 64 KiB or more; the second
    /// sets up a direct path).
    public func path(to task: TaskID) -> PeerPath {
        if peers[task.rawValue] != nil { return .sharedMemory }
        if tcpOutgoing[task.rawValue] != nil { return .tcp }
        return .daemons
    }

    /// The port this task listens on for TCP links from other tasks (nil:
    /// none; it is then reached through the daemons).
    public var tcpListeningPort: Int? { tcpPort > 0 ? Int(tcpPort) : nil }

    /// Opens this task's TCP listener (at enrollment). A task without one is
    /// reached through the daemons.
    func openTCPListener(_ ep: ShmEndpoint) {
        forceTCP = Environment.value("PVM_TRANSPORT") == "tcp"
        var ports: ClosedRange<Int>? = nil
        if let p = Environment.value("PVM_PORT_RANGE") {
            let parts = p.split(separator: "-").compactMap { Int($0) }
            if parts.count == 2, parts[0] >= 1, parts[0] <= parts[1], parts[1] <= 65535 { ports = parts[0]...parts[1] }
        }
        let address = Environment.value("PVM_TCP_ADDRESS").flatMap { $0.isEmpty ? nil : $0 } ?? "0.0.0.0"
        guard let (fd, endpoint) = try? TCPSocket.listen(address: address, ports: ports) else { return }
        do { try ep.watch(fd) } catch { _ = Glibc.close(fd); return }
        tcpListener = fd
        tcpPort = Int32(endpoint.port)
        // A listener on one address (PVM_TCP_ADDRESS): peers are told that
        // address, not the host's address in the host table (nothing would
        // answer there). On every address: "" (the host's address is used).
        tcpAddress = address == "0.0.0.0" ? "" : endpoint.address
    }

    func closeTCP() {
        if tcpListener >= 0 { endpoint?.unwatch(tcpListener); _ = Glibc.close(tcpListener) }
        tcpListener = -1
        tcpPort = 0
        tcpAddress = ""
        // Every link is in tcpLinks (tcpOutgoing and learnedTCP name some of them again).
        for link in tcpLinks.values { endpoint?.unwatch(link.connection.fd); link.connection.close() }
        tcpLinks.removeAll()
        tcpOutgoing.removeAll()
        learnedTCP.removeAll()
        noTCPPath.removeAll()
        // Its descriptor is closed and its number free for reuse: never probe it.
        hotTCP = nil
        tcpLinksChanged()
    }

    // MARK: Sending

    /// The TCP link to `dst`: open (made by this task or by `dst`), or set
    /// up now (second message on; the first goes through the daemons).
    /// nil: send through the daemons.
    func tcpLink(for dst: Int32, bytes: Int = 0) throws(PVMError) -> TCPLink? {
        if let l = tcpOutgoing[dst] { return l }
        guard forceTCP || TaskID(dst).hostNumber != hostNumber, !noTCPPath.contains(dst) else { return nil }
        // The first message through the daemons unless it is large (connectPeer).
        if routedOnce.insert(dst), bytes < Self.directFirstMessage { return nil }
        var w = ControlWriter()
        w.int(dst)
        w.int(1)
        var r = try request(.lookup, w)
        let code = try r.int()
        let address = try r.string()
        _ = try r.int()
        if code == LookupResult.notEnrolled { routedOnce.remove(dst); return nil }
        // dst may have connected to this task meanwhile: answer on that
        // connection. The lookup's answer came once what this task routed
        // to dst is in dst's socket, which dst reads before this link's frames.
        if code == 0, let l = learnedTCP.removeValue(forKey: dst), !l.connection.closed {
            tcpOutgoing[dst] = l
            return l
        }
        guard code == 0, address.hasPrefix("tcp:"), let target = TCPEndpoint(parsing: String(address.dropFirst(4))) else {
            noTCPPath.insert(dst)
            return nil
        }
        let fd: Int32
        do { fd = try TCPSocket.connect(to: target, timeoutMilliseconds: 5000) } catch {
            warn("no direct TCP link to \(TaskID(dst)) at \(target) (\(error)); through the daemons")
            noTCPPath.insert(dst)
            return nil
        }
        do {
            try authenticateOutgoing(fd)
        } catch {
            _ = Glibc.close(fd)
            warn("the TCP link to \(TaskID(dst)) at \(target) failed to authenticate (\(error.detail)); through the daemons")
            noTCPPath.insert(dst)
            return nil
        }
        let link = TCPLink(fd: fd, peer: dst, handshake: nil)
        // Read too: dst answers on it.
        do { try endpoint?.watch(fd) } catch {
            link.connection.close()
            noTCPPath.insert(dst)
            return nil
        }
        tcpOutgoing[dst] = link
        tcpLinks[fd] = link
        tcpLinksChanged()
        return link
    }

    /// The connecting side of a link's handshake. While it waits for the
    /// peer's answer it serves its own listener and links: the peer may be
    /// connecting to this task at the same moment, and waits for us in turn.
    func authenticateOutgoing(_ fd: Int32) throws(PVMError) {
        var hs = AuthenticationHandshake(side: .connector, role: .task, authenticator: DaemonAuthenticator(vm: self))
        let deadline = Clock.monotonicNanoseconds() &+ 5_000_000_000
        try SocketIO.writeAll(fd, hs.start(), deadline: deadline)
        var input: [UInt8] = []
        while try !hs.advance(fd: fd, input: &input) {
            guard Clock.monotonicNanoseconds() < deadline else { throw PVMError(.sysErr, "no answer from the peer") }
            try serviceLinksWhileSending()
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            _ = poll(&p, 1, 1)
        }
    }

    /// Writes one message frame to a TCP link. A peer that is gone drops the
    /// message, as PVM does.
    func sendTCP(_ b: MessageBuffer, _ header: FrameHeader, _ link: TCPLink) throws(PVMError) {
        let ok: Bool
        if !b.isContiguous {
            // InPlace with references: written with writev straight from the
            // program's memory, never gathered into a copy.
            do {
                ok = try b.withFramePieces(headerSize: FrameHeader.size, { header.encode(into: $0) }) { pieces, _ throws(PVMError) in
                    try link.connection.writeAll(pieces: pieces) { () throws(PVMError) in try self.serviceLinksWhileSending() }
                }
            } catch let e as PVMError { throw e } catch { fatalError("unreachable: \(error)") }
        } else if b.byteCount >= Self.largeTCPFrame {
            // Large: written straight from the message, never queued (a copy).
            do {
                ok = try b.withFrame({ header.encode(into: $0) }) { frame throws(PVMError) in
                    try link.connection.writeAll(frame: frame) { () throws(PVMError) in try self.serviceLinksWhileSending() }
                }
            } catch let e as PVMError { throw e } catch { fatalError("unreachable: \(error)") }
        } else {
            ok = b.withFrame({ header.encode(into: $0) }) { frame in link.connection.send(frame: frame) }
        }
        guard ok else { closeLink(link, nil); return }
        if link.connection.pendingOutput > 0, try !link.connection.flush(waiting: serviceLinksWhileSending) { closeLink(link, nil) }
    }

    /// Frames from this size on go straight between the message and the
    /// socket in both directions (no copy through a link buffer).
    static let largeTCPFrame = 1 << 16

    /// While a send waits for its socket: take in what the other links and
    /// the daemon bring (two tasks sending large messages to each other must
    /// not both wait for the other to read).
    func serviceLinksWhileSending() throws(PVMError) {
        // A peer may be connecting to us right now (to answer): it waits for
        // our side of the handshake before it reads what we write.
        if tcpListener >= 0 { acceptTCP() }
        for link in Array(tcpLinks.values) where !link.connection.closed { try serviceTCP(link) }
        try readDaemon()
        try checkDaemon()
    }

    // MARK: Receiving

    /// A watched descriptor is readable: the daemon, the listener or a link.
    func serviceReadable(_ fd: Int32) throws(PVMError) {
        if fd == tcpListener { acceptTCP(); return }
        if let link = tcpLinks[fd] { try serviceTCP(link); return }
        try readDaemon()
    }

    func acceptTCP() {
        while let (fd, _) = TCPSocket.accept(tcpListener) {
            let link = TCPLink(fd: fd, peer: 0, handshake: AuthenticationHandshake(side: .acceptor, role: .task, authenticator: DaemonAuthenticator(vm: self)))
            do { try endpoint?.watch(fd) } catch { link.connection.close(); continue }
            tcpLinks[fd] = link
            tcpLinksChanged()
        }
    }

    /// Reads what a link has: the handshake's next message while it
    /// authenticates (never more, so no frame is consumed early), then frames.
    func serviceTCP(_ link: TCPLink) throws(PVMError) {
        if var hs = link.handshake {
            do {
                guard try hs.advance(fd: link.connection.fd, input: &link.handshakeInput) else { link.handshake = hs; return }
            } catch {
                closeLink(link, "refused a TCP connection: \(error.detail.isEmpty ? error.text : error.detail)")
                return
            }
            link.handshake = nil
        }
        // The rest of a large message first: its bytes come before any others.
        if link.partial != nil {
            guard try continueLarge(link) else { return }
        }
        let open = link.connection.fillOnce()
        if _slowPath(!link.heard) {
            // What the peer sent through the daemons before its first frame
            // here is in the daemon's socket by now: take it first (order).
            link.heard = true
            try readDaemon()
        }
        do {
            while true {
                if let h = try link.connection.pendingLargeFrame(threshold: Self.largeTCPFrame) {
                    guard checkFrame(h, link) else { return }
                    try startLarge(h, link)
                    // Not all there yet: the socket's next readiness brings the rest.
                    guard try continueLarge(link) else { return }
                    continue
                }
                guard let (h, frame) = try link.connection.nextFrame() else { break }
                guard checkFrame(h, link) else { return }
                if _slowPath(link.peer != h.source) { learned(h.source, link) }
                tcpFramesIn &+= 1
                if _slowPath(hotTCP !== link) { hotTCP = link }
                try arrive(h, UnsafeRawBufferPointer(rebasing: frame[FrameHeader.size...]))
            }
        } catch where error.code != PVMError.Code.badMsg.rawValue {
            throw error
        } catch {
            closeLink(link, "malformed frame on a TCP link: \(error); closed it")
            return
        }
        if !open { closeLink(link, nil) }
    }

    /// The first frame on a link this task accepted names the peer: send
    /// back on it from now on; but when this task has sent the peer
    /// messages through the daemons, only after a lookup (`tcpLink`), or
    /// the link would overtake them. A link keeps its first peer.
    @inline(never)
    func learned(_ source: Int32, _ link: TCPLink) {
        guard link.peer == 0, source > 0 else { return }
        link.peer = source
        guard tcpOutgoing[source] == nil else { return }
        if routedOnce.contains(source) { learnedTCP[source] = link } else { tcpOutgoing[source] = link }
    }

    /// Frames on a link are messages for this task, never requests.
    func checkFrame(_ h: FrameHeader, _ link: TCPLink) -> Bool {
        guard h.destination == tid.rawValue, h.context != SystemContext.daemon, h.context != SystemContext.hosts else {
            closeLink(link, "a TCP peer sent a frame for \(TaskID(h.destination)) in context 0x\(String(h.context, radix: 16)); closed it")
            return false
        }
        return true
    }

    /// A large message: its body goes from the link straight into the
    /// storage of a buffer of its own, over as many reads as it takes (a
    /// read never waits: the peer may itself be waiting for this task to
    /// read what it sends).
    func startLarge(_ h: FrameHeader, _ link: TCPLink) throws(PVMError) {
        let count = Int(h.length) - FrameHeader.size
        if let target = precvTarget, count <= target.count, handlers.isEmpty, waitingReceiveWants(h) {
            // The message a waiting pvm_precv takes (it came first): from the
            // socket straight into the program's memory. Later arrivals queue.
            _ = try MessageBuffer.receivedSignature(h.signature, encoding: h.encoding)
            matched = Self.directPending
            directLink = link
            link.partial = (-1, h, target.baseAddress!, link.connection.startBody(of: h, into: target.baseAddress!))
            return
        }
        let (i, destination) = try bufferForBody(of: h)
        link.partial = (i, h, destination, link.connection.startBody(of: h, into: destination))
    }

    /// A buffer id whose storage is ready for the body of the frame `h`
    /// heads, and where that body goes; on failure the id is free again.
    func bufferForBody(of h: FrameHeader) throws(PVMError) -> (id: Int, body: UnsafeMutableRawPointer) {
        let i = takeID()
        do {
            return (i, try withObject(i) { b throws(PVMError) in
                try b.prepareReceived(count: Int(h.length) - FrameHeader.size, encoding: h.encoding, signature: h.signature)
            })
        } catch {
            freeIDs.append(Int32(i))
            throw error
        }
    }

    /// Takes in more of the link's large message; once it is whole, hands it
    /// to the receive that waits for it or queues it. False while it is not
    /// whole yet, or when the peer went away in the middle of it (the link
    /// is then closed).
    func continueLarge(_ link: TCPLink) throws(PVMError) -> Bool {
        guard let p = link.partial else { return true }
        let total = Int(p.header.length) - FrameHeader.size
        guard let got = link.connection.continueBody(into: p.destination, got: p.got, of: total) else {
            closeLink(link, "a TCP peer stopped in the middle of a message; closed it")
            return false
        }
        guard got == total else {
            link.partial!.got = got
            return false
        }
        link.partial = nil
        if p.id < 0 {
            directResult = (p.header.source, p.header.tag, total)
            directLink = nil
            matched = Self.directDone
            return true
        }
        queue(p.id, p.header)
        if waitingReceiveWants(p.header) { matched = takeLastQueued() }
        return true
    }

    /// A pvm_precv whose message has begun to arrive on a TCP link into a
    /// buffer of its own (it came while no receive waited for it: behind
    /// the previous message, say): what has come so far is copied into the
    /// program's memory and the rest is read straight there, as if the
    /// receive had been waiting when it began (the reverse of
    /// `abandonDirect`). Only with nothing queued that the receive takes
    /// first; a link's partial message is the next from its sender, so
    /// the order per sender holds. True when one was taken over.
    func adoptPartialTCP(into target: UnsafeMutableRawBufferPointer) -> Bool {
        guard handlers.isEmpty else { return false }
        for link in tcpLinks.values {
            guard let p = link.partial, p.id >= 0 else { continue }
            let h = p.header
            guard Int(h.length) - FrameHeader.size <= target.count, waitingReceiveWants(h),
                  (try? MessageBuffer.receivedSignature(h.signature, encoding: h.encoding)) != nil else { continue }
            if p.got > 0 { target.baseAddress!.copyMemory(from: p.destination, byteCount: p.got) }
            dropPartialBuffer(p.id)
            link.partial = (-1, h, target.baseAddress!, p.got)
            directLink = link
            matched = Self.directPending
            return true
        }
        return false
    }

    /// The buffer a link's partial message was arriving into, emptied and
    /// its id free again (the message went elsewhere or is no message).
    func dropPartialBuffer(_ id: Int) {
        try? withObject(id) { b in b.reset() }
        freeIDs.append(Int32(id))
    }

    /// A pvm_precv that leaves (an error) while its message is still
    /// arriving straight into its memory: the rest goes into a buffer of its
    /// own, with what has come so far, and the message is queued when whole.
    func abandonDirect() {
        guard let link = directLink, let p = link.partial, p.id < 0 else { directLink = nil; return }
        directLink = nil
        matched = 0
        guard let (i, destination) = try? bufferForBody(of: p.header) else {
            closeLink(link, "lost a message from \(TaskID(p.header.source)) while its receive failed; closed the link")
            return
        }
        if p.got > 0 { destination.copyMemory(from: p.destination, byteCount: p.got) }
        link.partial = (i, p.header, destination, p.got)
    }

    /// Closes a link, whichever side made it (a peer that is gone drops
    /// what was sent to it, as PVM does; a message cut short is no message).
    func closeLink(_ link: TCPLink, _ reason: String?) {
        if let reason { warn(reason) }
        if let p = link.partial {
            // A message cut short is no message: its buffer goes back (or
            // the pvm_precv it was arriving for waits on).
            if p.id < 0 {
                if matched == Self.directPending { matched = 0 }
                directLink = nil
            } else {
                dropPartialBuffer(p.id)
            }
            link.partial = nil
        }
        if tcpLinks[link.connection.fd] === link {
            endpoint?.unwatch(link.connection.fd)
            tcpLinks.removeValue(forKey: link.connection.fd)
        }
        if tcpOutgoing[link.peer] === link { tcpOutgoing.removeValue(forKey: link.peer) }
        if learnedTCP[link.peer] === link { learnedTCP.removeValue(forKey: link.peer) }
        if hotTCP === link { hotTCP = nil }
        link.connection.close()
        tcpLinksChanged()
    }

    /// The endpoint's spinning follows the links: epoll more often while
    /// there are any, and the link frames last came on read directly
    /// between (`ShmEndpoint.idleProbe`).
    func tcpLinksChanged() {
        guard let ep = endpoint else { return }
        ep.externalDataSources = tcpLinks.count
        if tcpLinks.isEmpty {
            ep.idleProbe = nil
        } else if ep.idleProbe == nil {
            ep.idleProbe = { [unowned self] in try self.probeHotLink() }
        }
    }

    /// Reads the link frames last came on, as if epoll had reported it
    /// readable; true when that changed anything a receive waits on: a
    /// frame came in, a large message completed (or its link went), or the
    /// link closed.
    func probeHotLink() throws(PVMError) -> Bool {
        guard let link = hotTCP, !link.connection.closed else { return false }
        let frames = tcpFramesIn, wasMatched = matched
        try serviceTCP(link)
        return tcpFramesIn != frames || matched != wasMatched || hotTCP !== link
    }
}
