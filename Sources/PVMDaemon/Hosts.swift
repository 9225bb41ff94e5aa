#if canImport(Glibc)
import Glibc
#endif
import CSupport
import Logging
import PVMAuthentication
import PVMControl
import PVMEncoding
import PVMSystem
import PVMTransport

// The virtual machine across hosts.
//
// The machine is a star: the master (host 1, the daemon that started the
// machine) listens on TCP once the first host is added; every other daemon
// keeps one authenticated link to it. A frame for another host goes to the
// master, which forwards it; so what one task sends another through the
// daemons stays in order (one FIFO path per pair of hosts). Each link
// carries heartbeats; a link silent for `hostTimeout` is dead: the master
// drops that host and tells the others, a slave that loses the master
// stops (it does not go on as a machine of its own).

/// An authenticated TCP link to another host's daemon (or one being
/// authenticated: `handshake` is set until the peer has proved the secret).
final class PeerDaemon {
    let id: UInt64
    let connection: FrameConnection
    let address: TCPEndpoint
    var host: Int32 = 0
    var handshake: AuthenticationHandshake?
    var handshakeInput: [UInt8] = []
    var lastHeard: UInt64
    let deadline: UInt64

    init(id: UInt64, fd: Int32, address: TCPEndpoint, handshake: AuthenticationHandshake?, now: UInt64) {
        self.id = id
        self.connection = FrameConnection(fd: fd)
        self.address = address
        self.handshake = handshake
        self.lastHeard = now
        self.deadline = now &+ 10_000_000_000
    }
}

/// A daemon being started on another host through the remote shell.
final class HostStarter {
    let id: UInt64
    let hostNumber: Int32
    let name: String
    let addID: UInt64
    let index: Int
    let pid: pid_t
    let pidfd: Int32
    let outputFD: Int32
    let deadline: UInt64
    /// The address the host's daemon is expected to connect from.
    let address: String
    var output: [UInt8] = []
    var joined = false
    var finished = false

    init(id: UInt64, hostNumber: Int32, name: String, address: String, addID: UInt64, index: Int, pid: pid_t, pidfd: Int32, outputFD: Int32, deadline: UInt64) {
        self.id = id
        self.hostNumber = hostNumber
        self.name = name
        self.address = address
        self.addID = addID
        self.index = index
        self.pid = pid
        self.pidfd = pidfd
        self.outputFD = outputFD
        self.deadline = deadline
    }
}

/// A pvm_addhosts in progress: one result per host, answered when all are in.
final class PendingAdd {
    let names: [String]
    var results: [Int32]
    var texts: [String]
    var remaining: Int
    let respond: (ControlWriter) -> Void

    init(names: [String], respond: @escaping (ControlWriter) -> Void) {
        self.names = names
        self.results = Array(repeating: PVMError.Code.cantStart.rawValue, count: names.count)
        self.texts = Array(repeating: "", count: names.count)
        self.remaining = names.count
        self.respond = respond
    }
}

/// A request sent to another host's daemon, waiting for its response
/// (nil: the host failed or left first).
final class PendingRequest {
    let host: Int32
    let completion: ([UInt8]?) -> Void
    init(host: Int32, completion: @escaping ([UInt8]?) -> Void) {
        self.host = host
        self.completion = completion
    }
}

/// How this daemon joins a machine as a slave.
public struct SlaveJoin: Sendable {
    public var master: TCPEndpoint
    public var hostNumber: Int32
    public var secret: MachineSecret
    public init(master: TCPEndpoint, hostNumber: Int32, secret: MachineSecret) {
        self.master = master
        self.hostNumber = hostNumber
        self.secret = secret
    }
}

extension Daemon {
    var isMaster: Bool { options.slave == nil }
    var otherHosts: [Int32] { hostTable.keys.filter { $0 != host }.sorted() }
    /// Heartbeats go every third of the timeout; links are checked every
    /// twentieth, and one silent for the timeout less one check is dead, so a
    /// host is declared dead within the timeout of its last word.
    var heartbeatNanoseconds: UInt64 { UInt64(max(options.hostTimeoutMilliseconds / 3, 10)) * 1_000_000 }
    var checkNanoseconds: UInt64 { UInt64(max(options.hostTimeoutMilliseconds / 20, 1)) * 1_000_000 }

    /// This host's entry in the host table.
    var ownHostRecord: HostEntryRecord {
        HostEntryRecord(number: host, name: options.hostName, architecture: options.architecture,
                        speed: options.speed, signature: DataSignature.native.rawValue, fabric: fabric.text)
    }

    // MARK: Joining (slave side)

    /// Joins the master as host `join.hostNumber`: connects, proves the
    /// machine's secret, sends this host's description and waits for the
    /// host table. Runs before the epoll loop starts; throws with the reason.
    public func joinMaster() throws(PVMError) {
        guard let join = options.slave else { return }
        let fd: Int32
        do {
            fd = try TCPSocket.connect(to: join.master, timeoutMilliseconds: 10_000)
        } catch {
            throw PVMError(.cantStart, "cannot reach the master at \(join.master): \(error)")
        }
        var ok = false
        defer { if !ok { _ = Glibc.close(fd) } }
        do {
            _ = try AuthenticationHandshake.run(.connector, role: .daemon, secret: join.secret, fd: fd, timeoutMilliseconds: 10_000)
        } catch {
            throw PVMError(.cantStart, "the master at \(join.master) refused this daemon: \(error.detail)")
        }
        let peer = PeerDaemon(id: newID(), fd: fd, address: join.master, handshake: nil, now: Clock.monotonicNanoseconds())
        peer.host = 1
        host = join.hostNumber
        tid = TaskID.daemon(host: host)
        log = Self.makeLogger(tid: tid, fds: logFDs)
        var w = ControlWriter()
        ownHostRecord.write(&w)
        sendHostFrame(.join, to: peer, w)
        guard peer.connection.flushBlocking(timeoutMilliseconds: 10_000) else { throw PVMError(.cantStart, "lost the master while joining") }
        // The welcome.
        let deadline = Clock.monotonicNanoseconds() + 10_000_000_000
        while true {
            let open = peer.connection.fill()
            if let (h, frame) = try peer.connection.nextFrame() {
                guard h.context == SystemContext.hosts, h.tag == HostOperation.welcome.rawValue else {
                    throw PVMError(.cantStart, "the master answered the join with something else (tag \(h.tag))")
                }
                var r = ControlReader(UnsafeRawBufferPointer(rebasing: frame[FrameHeader.size...]))
                let code = try r.int()
                guard code == 0 else {
                    throw PVMError(.cantStart, "the master refused the join: \(try r.string())")
                }
                let n = try r.int()
                guard n == host else { throw PVMError(.cantStart, "the master assigned host \(n), expected \(host)") }
                try applyHostTable(&r, initial: true)
                break
            }
            guard open else { throw PVMError(.cantStart, "the master closed the connection during the join") }
            let now = Clock.monotonicNanoseconds()
            guard now < deadline, peer.connection.wait(timeoutMilliseconds: Int32((deadline - now) / 1_000_000) + 1) else {
                throw PVMError(.cantStart, "no answer from the master to the join")
            }
        }
        do { try epoll.add(fd, events: [.readable, .readHangup], token: Self.token(.peer, peer.id)) } catch {
            throw PVMError(.cantStart, "epoll: \(error)")
        }
        ok = true
        peerDaemons[peer.id] = peer
        linkOfHost[1] = peer.id
        log.info("joined the virtual machine as host \(host) (\(options.hostName)) through the master at \(join.master)")
    }

    // MARK: Listening (master side)

    /// Starts the master's TCP listener (on the first pvm_addhosts): on
    /// `PVM_LISTEN` (default every address) within `PVM_PORT_RANGE`.
    func ensureTCPListener() throws(PVMError) {
        guard tcpListener < 0 else { return }
        do {
            let (fd, endpoint) = try TCPSocket.listen(address: options.listenAddress ?? "0.0.0.0", ports: options.portRange)
            tcpListener = fd
            tcpEndpoint = endpoint
            try epoll.add(fd, events: .readable, token: Self.token(.tcpListener, 0))
            log.info("listening for daemons of other hosts at \(endpoint)")
        } catch {
            throw PVMError(.sysErr, "cannot listen on TCP: \(error)")
        }
    }

    func acceptPeers() {
        guard let secret else { return }
        while let (fd, address) = TCPSocket.accept(tcpListener) {
            let peer = PeerDaemon(id: newID(), fd: fd, address: address,
                                  handshake: AuthenticationHandshake(side: .acceptor, role: .daemon, secret: secret),
                                  now: Clock.monotonicNanoseconds())
            do { try epoll.add(fd, events: [.readable, .readHangup], token: Self.token(.peer, peer.id)) } catch {
                peer.connection.close()
                continue
            }
            peerDaemons[peer.id] = peer
        }
    }

    /// Continues an accepted link's authentication: reads no more than
    /// the handshake's next message, so nothing after it is consumed here.
    /// Returns false when the link was dropped.
    private func continueHandshake(_ peer: PeerDaemon) -> Bool {
        guard var hs = peer.handshake else { return true }
        do {
            let done = try hs.advance(fd: peer.connection.fd, input: &peer.handshakeInput)
            peer.handshake = done ? nil : hs
            return true
        } catch {
            refusePeer(peer, error.detail.isEmpty ? error.text : error.detail)
            return false
        }
    }

    /// A daemon connection that failed authentication: logged and closed.
    /// When it comes from the address of a host being added, that add fails
    /// at once with the reason (for the console or the pvm_addhosts caller),
    /// instead of waiting out its timeout for a join that cannot come.
    private func refusePeer(_ peer: PeerDaemon, _ reason: String) {
        log.warning("refused a daemon connection from \(peer.address): \(reason)")
        dropPeer(peer)
        if let s = starters.values.first(where: { !$0.finished && !$0.joined && $0.address == peer.address.address }) {
            starterFailed(s, "its daemon connected from \(peer.address) but was refused: \(reason) (was it given this machine's secret?)")
        }
    }

    // MARK: Links

    func servicePeer(_ peer: PeerDaemon, _ events: Epoll.Events) {
        if events.contains(.writable) {
            if !peer.connection.flush() { peerLost(peer, "write failed"); return }
            if peer.connection.pendingOutput == 0 {
                try? epoll.modify(peer.connection.fd, events: [.readable, .readHangup], token: Self.token(.peer, peer.id))
            }
        }
        if peer.handshake != nil {
            guard continueHandshake(peer) else { return }
            if peer.handshake != nil { return }
        }
        let open = peer.connection.fill()
        do {
            while let (header, frame) = try peer.connection.nextFrame() {
                peer.lastHeard = Clock.monotonicNanoseconds()
                handlePeerFrame(peer, header, frame)
                if peerDaemons[peer.id] == nil { return }
            }
        } catch {
            log.warning("malformed frame from the daemon at \(peer.address): \(error); closing the link")
            peerLost(peer, "malformed frame")
            return
        }
        if !open { peerLost(peer, "connection closed") }
    }

    private func handlePeerFrame(_ peer: PeerDaemon, _ header: FrameHeader, _ frame: UnsafeRawBufferPointer) {
        let body = UnsafeRawBufferPointer(rebasing: frame[FrameHeader.size...])
        if peer.host == 0 {
            // Authenticated, not joined: the only thing it may say is join.
            guard header.context == SystemContext.hosts, header.tag == HostOperation.join.rawValue else {
                refusePeer(peer, "it spoke before joining")
                return
            }
            var r = ControlReader(body)
            do {
                let record = try HostEntryRecord(&r)
                _ = try HostFabric(parsing: record.fabric)
                acceptJoin(peer, record)
            } catch { refusePeer(peer, "malformed join: \(error)") }
            return
        }
        let destinationHost = TaskID(header.destination).hostNumber
        if destinationHost != host && destinationHost != 0 {
            // Not for this host: the master forwards it on.
            _ = sendFrame(header, body, toHost: destinationHost)
            return
        }
        if header.context == SystemContext.hosts {
            guard let op = HostOperation(rawValue: header.tag) else {
                log.warning("unknown host operation 0x\(String(header.tag, radix: 16)) from host \(peer.host); ignored")
                return
            }
            do { try performHostOperation(op, from: peer, header, body) } catch {
                log.warning("bad \(op) from host \(peer.host): \(error); closing the link")
                peerLost(peer, "malformed \(op)")
            }
            return
        }
        if header.context == SystemContext.daemon && header.tag != DaemonNotice.tag {
            log.warning("a task request arrived from host \(peer.host) outside a forwarded request; ignored")
            return
        }
        // A message, notify or output for a task of this host.
        if header.source == TaskID.notifySource.rawValue && body.count == 4 {
            // A TaskExit notify from the watched task's host: its watch there is spent.
            let target = body.load(as: Int32.self)
            remoteWatches.removeAll { $0.watcher == header.destination && $0.tag == header.tag && $0.target == target }
        }
        deliver(to: header.destination, header: header, body: Array(body))
    }

    private func acceptJoin(_ peer: PeerDaemon, _ record: HostEntryRecord) {
        guard isMaster else { refusePeer(peer, "this daemon is not the master"); return }
        guard let starter = starters.values.first(where: { $0.hostNumber == record.number && !$0.joined }) else {
            var w = ControlWriter()
            w.int(PVMError.Code.denied.rawValue)
            w.string("no host \(record.number) is being added")
            sendHostFrame(.welcome, to: peer, w)
            _ = peer.connection.flushBlocking(timeoutMilliseconds: 500)
            refusePeer(peer, "it asked to join as host \(record.number) (\(record.name)), which is not being added")
            return
        }
        var entry = record
        entry.name = starter.name
        entry.address = peer.address.address
        starter.joined = true
        if starter.pid <= 0 { starters.removeValue(forKey: starter.id) }  // started by hand: nothing to reap
        peer.host = entry.number
        linkOfHost[entry.number] = peer.id
        let before = hostTable
        hostTable[entry.number] = entry
        var w = ControlWriter()
        w.int(0)
        w.int(entry.number)
        writeHostTable(&w)
        sendHostFrame(.welcome, to: peer, w)
        log.info("host \(entry.number) (\(entry.name), \(entry.architecture)) joined from \(peer.address)")
        broadcastHostTable(except: entry.number)
        hostsChanged(from: before)
        if let add = pendingAdds[starter.addID] {
            add.results[starter.index] = TaskID(host: entry.number, local: 0).rawValue
            finishAddEntry(add, addID: starter.addID)
        }
    }

    /// Sends a host-protocol frame over `peer`'s link.
    @discardableResult
    func sendHostFrame(_ op: HostOperation, to peer: PeerDaemon, _ body: ControlWriter) -> Bool {
        let h = FrameHeader(bodyLength: 0, tag: op.rawValue, context: SystemContext.hosts, source: tid.rawValue,
                            destination: TaskID.daemon(host: peer.host).rawValue, encoding: .raw)
        return sendOnLink(peer, h, body.bytes.withUnsafeBytes { $0 })
    }

    /// Sends a host-protocol frame to host `h`'s daemon (through the master).
    @discardableResult
    func sendHostFrame(_ op: HostOperation, toHost h: Int32, _ body: ControlWriter) -> Bool {
        let header = FrameHeader(bodyLength: 0, tag: op.rawValue, context: SystemContext.hosts, source: tid.rawValue,
                                 destination: TaskID.daemon(host: h).rawValue, encoding: .raw)
        return body.bytes.withUnsafeBytes { sendFrame(header, $0, toHost: h) }
    }

    /// Sends a frame toward host `h`: over its own link from the master,
    /// over the master's link from a slave. False if there is no way.
    @discardableResult
    func sendFrame(_ header: FrameHeader, _ body: UnsafeRawBufferPointer, toHost h: Int32) -> Bool {
        let link = isMaster ? linkOfHost[h] : linkOfHost[1]
        guard let id = link, let peer = peerDaemons[id] else { return false }
        return sendOnLink(peer, header, body)
    }

    private func sendOnLink(_ peer: PeerDaemon, _ header: FrameHeader, _ body: UnsafeRawBufferPointer) -> Bool {
        if !peer.connection.send(header, body: body) { peerLost(peer, "write failed"); return false }
        if peer.connection.pendingOutput > 0 {
            try? epoll.modify(peer.connection.fd, events: [.readable, .readHangup, .writable], token: Self.token(.peer, peer.id))
        }
        return true
    }

    func dropPeer(_ peer: PeerDaemon) {
        guard peerDaemons.removeValue(forKey: peer.id) != nil else { return }
        epoll.remove(peer.connection.fd)
        peer.connection.close()
        if peer.host != 0, linkOfHost[peer.host] == peer.id { linkOfHost.removeValue(forKey: peer.host) }
    }

    /// A link is gone (closed, broken, silent past the timeout).
    func peerLost(_ peer: PeerDaemon, _ reason: String) {
        guard peerDaemons[peer.id] != nil else { return }
        dropPeer(peer)
        guard peer.host != 0 else { return }
        if !isMaster {
            if !halting { log.warning("lost the master (\(reason)); stopping this host's daemon") }
            halting = true
            return
        }
        guard let entry = hostTable[peer.host] else { return }
        log.warning("host \(peer.host) (\(entry.name)) is gone: \(reason)")
        let before = hostTable
        hostTable.removeValue(forKey: peer.host)
        broadcastHostTable(except: nil)
        hostsChanged(from: before)
    }

    // MARK: The host table

    func writeHostTable(_ w: inout ControlWriter) {
        let entries = hostTable.values.sorted { $0.number < $1.number }
        w.int(Int32(entries.count))
        for e in entries { e.write(&w) }
    }

    func broadcastHostTable(except skip: Int32?) {
        for h in otherHosts where h != skip {
            var w = ControlWriter()
            writeHostTable(&w)
            sendHostFrame(.hostTable, toHost: h, w)
        }
    }

    func applyHostTable(_ r: inout ControlReader, initial: Bool) throws(PVMError) {
        let n = try r.int()
        guard n >= 1, n <= TaskID.maxHost else { throw PVMError(.badMsg, "host table of \(n) hosts") }
        var table: [Int32: HostEntryRecord] = [:]
        for _ in 0..<n {
            var e = try HostEntryRecord(&r)
            do { _ = try HostFabric(parsing: e.fabric) } catch { throw PVMError(.badMsg, "host \(e.number): \(error)") }
            // The master is where this daemon reached it.
            if e.number == 1, e.address.isEmpty, let join = options.slave { e.address = join.master.address }
            table[e.number] = e
        }
        guard table[host] != nil else {
            if !initial { log.warning("the master dropped this host from the machine; stopping") }
            halting = true
            return
        }
        let before = hostTable
        hostTable = table
        if !initial { hostsChanged(from: before) }
    }

    /// One line per host that joins: which transport task data between this
    /// host and it takes, and why.
    func logFabric(toward h: Int32) {
        guard let e = hostTable[h] else { return }
        let remote = (try? HostFabric(parsing: e.fabric)) ?? .tcp
        let (verbs, reason) = HostFabric.choose(local: fabric, remote: remote)
        if verbs {
            log.info("host \(h) (\(e.name)): verbs could carry task data (\(reason)), but this build's task library sends it over TCP: the verbs data path is not wired in yet")
        } else {
            log.info("host \(h) (\(e.name)): task data over TCP: \(reason)")
        }
    }

    /// Fires what a change of the host table means here: PvmHostAdd and
    /// PvmHostDelete notifies, TaskExit notifies for watched tasks of hosts
    /// that left, and failure of requests that waited for them.
    func hostsChanged(from before: [Int32: HostEntryRecord]) {
        let removed = before.keys.filter { hostTable[$0] == nil }.sorted()
        let added = hostTable.keys.filter { before[$0] == nil }.sorted()
        for h in added where h != host { logFabric(toward: h) }
        for h in removed {
            let hostTid = TaskID(host: h, local: 0).rawValue
            var fired: [Watch] = []
            watches.removeAll { w in
                if w.kind == 2 && w.target == hostTid { fired.append(w); return true }
                return false
            }
            for w in fired { sendNotify(w.watcher, tag: w.tag, body: [hostTid]) }
            var exits: [Watch] = []
            remoteWatches.removeAll { w in
                if TaskID(w.target).hostNumber == h { exits.append(w); return true }
                return false
            }
            for w in exits { sendNotify(w.watcher, tag: w.tag, body: [w.target]) }
            let failed = pendingRequests.filter { $0.value.host == h }
            for (id, p) in failed {
                pendingRequests.removeValue(forKey: id)
                p.completion(nil)
            }
            // Watches that tasks of the lost host placed here are void.
            watches.removeAll { TaskID($0.watcher).hostNumber == h }
            // Its tasks leave their groups and lose their mailbox entries.
            if isMaster {
                let gone = Set(groups.values.flatMap { $0.members }.filter { $0 != 0 && TaskID($0).hostNumber == h })
                for t in gone.sorted() { serverTaskGone(t) }
                mailboxHostGone(h)
            }
        }
        guard !added.isEmpty else { return }
        let addedTids = added.map { TaskID(host: $0, local: 0).rawValue }
        var remaining: [Watch] = []
        var fire: [(Watch, [Int32])] = []
        for var w in watches {
            guard w.kind == 3 else { remaining.append(w); continue }
            var list: [Int32] = []
            for t in addedTids where w.remaining != 0 {
                list.append(t)
                if w.remaining > 0 { w.remaining -= 1 }
            }
            if !list.isEmpty { fire.append((w, list)) }
            if w.remaining != 0 { remaining.append(w) }
        }
        watches = remaining
        for (w, list) in fire {
            // PVM's HostAdd notify: the count of new hosts, then their ids.
            sendNotify(w.watcher, tag: w.tag, body: [Int32(list.count)] + list)
        }
    }

    func host(named name: String) -> HostEntryRecord? {
        hostTable.values.first { $0.name == name }
    }

    // MARK: Heartbeats

    /// Runs after every wake-up of the loop: heartbeats, dead links,
    /// starters and handshakes past their deadline.
    func tick() {
        let now = Clock.monotonicNanoseconds()
        guard now >= nextTick else { return }
        nextTick = now &+ checkNanoseconds
        let beat = now &- lastHeartbeat >= heartbeatNanoseconds
        if beat { lastHeartbeat = now }
        let dead = UInt64(options.hostTimeoutMilliseconds) * 1_000_000 &- checkNanoseconds
        for peer in Array(peerDaemons.values) {
            if peer.host == 0 {
                if now > peer.deadline { refusePeer(peer, "it did not finish joining in time") }
                continue
            }
            if now &- peer.lastHeard >= dead {
                peerLost(peer, "no heartbeat for \((now &- peer.lastHeard) / 1_000_000) ms")
                continue
            }
            if beat { sendHostFrame(.heartbeat, to: peer, ControlWriter()) }
        }
        releaseStaleEnrollments(now: now)
        for s in Array(starters.values) where !s.joined && !s.finished && now > s.deadline {
            if s.pid > 0 { _ = kill(s.pid, SIGKILL) }
            starterFailed(s, "no answer from \(s.name) within \(options.addTimeoutMilliseconds / 1000) s")
        }
    }

    /// How long the loop may sleep before `tick` must run (-1: no limit).
    var tickTimeoutMilliseconds: Int32 {
        guard !peerDaemons.isEmpty || !starters.isEmpty else { return -1 }
        let now = Clock.monotonicNanoseconds()
        return nextTick > now ? Int32((nextTick - now) / 1_000_000) + 1 : 0
    }

    // MARK: Host operations

    private func performHostOperation(_ op: HostOperation, from peer: PeerDaemon, _ header: FrameHeader, _ body: UnsafeRawBufferPointer) throws(PVMError) {
        var r = ControlReader(body)
        switch op {
        case .heartbeat:
            break
        case .hostTable:
            guard !isMaster else { return }
            try applyHostTable(&r, initial: false)
        case .request:
            let id = try r.int()
            let requester = try r.int()
            let rawOp = try r.int()
            // The request's body is the rest of the frame (no length of its
            // own, so no limit but the frame's).
            let payload = r.rest()
            let sourceHost = TaskID(header.source).hostNumber
            let respond: (ControlWriter) -> Void = { [weak self] reply in
                guard let self else { return }
                var w = ControlWriter()
                w.int(id)
                w.append(reply)
                self.sendHostFrame(.response, toHost: sourceHost, w)
            }
            guard let dop = DaemonOperation(rawValue: rawOp) else {
                log.warning("host \(sourceHost) forwarded an unknown request \(rawOp); refused")
                respond(Self.failure(.badMsg))
                return
            }
            // A malformed forwarded request (a task's bad input, passed on)
            // fails that request, not the link between the daemons.
            do {
                try performForHost(dop, requester: requester, ControlReader(payload), fromThisHost: false, respond)
            } catch {
                log.warning("bad \(dop) request forwarded by host \(sourceHost) for \(TaskID(requester)): \(error)")
                respond(Self.failure(.badMsg))
            }
        case .response:
            let id = UInt32(bitPattern: try r.int())
            let payload = r.rest()
            pendingRequests.removeValue(forKey: id)?.completion(payload)
        case .halt:
            log.info("halt from host \(TaskID(header.source).hostNumber)")
            if isMaster { haltMachine() } else { halting = true }
        case .leave:
            log.info("this host was deleted from the virtual machine; stopping")
            halting = true
        case .taskExited:
            guard isMaster else { return }
            let t = try r.int()
            guard TaskID(t).hostNumber == TaskID(header.source).hostNumber else { throw PVMError(.badMsg, "host reported another host's task") }
            serverTaskGone(t)
            mailboxTaskGone(t)
        case .groupSpans:
            guard !isMaster else { return }
            markSpanning(try r.string())
        case .groupRelease:
            guard !isMaster else { return }
            let name = try r.string(), generation = try r.int(), code = try r.int()
            releaseLocalBarrier(name, generation: generation, code: code)
        case .join, .welcome:
            throw PVMError(.badMsg, "\(op) on an established link")
        }
    }

    /// Sends `op` to host `h`'s daemon on behalf of task `requester`; the
    /// completion gets the reply body (nil if the host fails first).
    func forward(_ op: DaemonOperation, _ body: ControlWriter, toHost h: Int32, requester: Int32,
                 completion: @escaping ([UInt8]?) -> Void) {
        guard hostTable[h] != nil, h != host else { completion(nil); return }
        let id = nextRequestID
        nextRequestID = nextRequestID == .max ? 1 : nextRequestID + 1
        pendingRequests[id] = PendingRequest(host: h, completion: completion)
        var w = ControlWriter()
        w.int(Int32(bitPattern: id))
        w.int(requester)
        w.int(op.rawValue)
        w.append(body)
        if !sendHostFrame(.request, toHost: h, w) {
            pendingRequests.removeValue(forKey: id)?.completion(nil)
        }
    }

    /// `forward` whose answer is the other host's reply as it came, or
    /// `failure` (then `zeros` zero integers) if that host fails first.
    func forwardPassingReply(_ op: DaemonOperation, _ body: ControlWriter, toHost h: Int32, requester: Int32,
                             failure: PVMError.Code, zeros: Int = 0, _ respond: @escaping (ControlWriter) -> Void) {
        forward(op, body, toHost: h, requester: requester) { reply in
            respond(reply.map { ControlWriter(raw: $0) } ?? Self.failure(failure, zeros: zeros))
        }
    }

    /// A reply of one error code followed by `zeros` zero integers.
    static func failure(_ code: PVMError.Code, zeros: Int = 0) -> ControlWriter {
        var w = ControlWriter()
        w.int(code.rawValue)
        for _ in 0..<zeros { w.int(Int32(0)) }
        return w
    }

    /// Stops the whole machine: every other host first, then this one.
    func haltMachine() {
        for h in otherHosts { sendHostFrame(.halt, toHost: h, ControlWriter()) }
        for peer in peerDaemons.values { _ = peer.connection.flushBlocking(timeoutMilliseconds: 1000) }
        halting = true
    }

    // MARK: Adding and deleting hosts (master)

    /// pvm_addhosts: starts a daemon on each host through the remote shell
    /// (`PVM_RSH`, default ssh), its secret on the shell's standard input.
    func addHosts(_ specs: [String], requester: Int32 = 0, respond: @escaping (ControlWriter) -> Void) {
        let entries: [Result<HostEntry, PVMError>] = specs.map { spec in
            // A host the hostfile recorded: its options there, under the add's own.
            let name = spec.split(whereSeparator: { $0 == " " || $0 == "\t" }).first.map(String.init) ?? spec
            let recorded = recordedHosts[Hostfile.hostKey(name)]
            do { return .success(try Hostfile.parseHostSpec(spec, defaults: recorded ?? hostDefaults)) } catch {
                return .failure(PVMError(.badParam, "\(error)"))
            }
        }
        addHosts(entries, names: specs.map { $0.split(separator: " ").first.map(String.init) ?? $0 }, requester: requester, respond: respond)
    }

    func addHosts(_ entries: [Result<HostEntry, PVMError>], names: [String], requester: Int32 = 0,
                  respond: @escaping (ControlWriter) -> Void) {
        let add = PendingAdd(names: names, respond: respond)
        let addID = newID()
        pendingAdds[addID] = add
        do { try ensureTCPListener() } catch {
            for i in names.indices { add.texts[i] = error.detail }
            add.remaining = 0
            finishAddEntry(add, addID: addID)
            return
        }
        for (i, parsed) in entries.enumerated() {
            let entry: HostEntry
            switch parsed {
            case .success(let e): entry = e
            case .failure(let error):
                fail(i, .badParam, error.detail)
                continue
            }
            add.texts[i] = ""
            if entry.name == options.hostName || host(named: entry.name) != nil || starters.values.contains(where: { $0.name == entry.name && !$0.finished }) {
                fail(i, .dupHost, "\(entry.name) is already in the virtual machine")
                continue
            }
            guard let address = TCPSocket.resolve(entry.options.alternateAddress ?? entry.name) else {
                fail(i, .noHost, "cannot resolve \(entry.name)")
                continue
            }
            guard let number = allocateHostNumber() else { fail(i, .outOfRes, "no host numbers left"); continue }
            guard let local = TCPSocket.localAddress(toward: address) else {
                fail(i, .cantStart, "no route from this host to \(entry.name) (\(address))")
                continue
            }
            let masterAt = TCPEndpoint(address: local, port: tcpEndpoint!.port)
            if hostTable[host]?.address.isEmpty == true { hostTable[host]?.address = local }
            if local.hasPrefix("127.") && !address.hasPrefix("127.") {
                fail(i, .ipLoopback, "this host reaches \(entry.name) only through a loopback address")
                continue
            }
            var command = [options.daemonPathForHosts(entry)]
            command += ["--slave", "--master", masterAt.description, "--host-number", String(number), "-n", entry.name,
                        "--host-timeout", String(options.hostTimeoutMilliseconds)]
            if let sp = entry.options.speed { command += ["--speed", String(sp)] }
            if let ep = entry.options.executablePath { command += ["--ep", ep] }
            if let wd = entry.options.workingDirectory { command += ["--wd", wd] }
            if let b = entry.options.bind { command += ["--bind", b.description] }
            if entry.options.startMode == .password {
                fail(i, .cantStart, "so=pw (a password login through rexec) is not supported: use a key with ssh, or so=ms to start the daemon by hand")
                continue
            }
            if entry.options.startMode == .manual {
                // so=ms: the user starts it by hand; the join is accepted when it comes.
                let text = "start the daemon of \(entry.name) by hand: run `\(command.joined(separator: " "))` there, with the first line of \(options.directory.secretPath) (this machine's secret) on its standard input"
                log.notice("\(text)")
                notice(text, to: requester)
                add.texts[i] = text
                let s = HostStarter(id: newID(), hostNumber: number, name: entry.name, address: address, addID: addID, index: i, pid: 0, pidfd: -1, outputFD: -1,
                                    deadline: Clock.monotonicNanoseconds() + UInt64(options.manualStartTimeoutMilliseconds) * 1_000_000)
                starters[s.id] = s
                continue
            }
            var rsh = options.remoteShell
            if let login = entry.options.login { rsh += ["-l", login] }
            let argv = rsh + [entry.options.alternateAddress ?? entry.name] + command
            switch startRemoteShell(argv) {
            case .failure(let error):
                fail(i, .cantStart, error.detail)
            case .success(let (pid, pidfd, outFD)):
                let s = HostStarter(id: newID(), hostNumber: number, name: entry.name, address: address, addID: addID, index: i, pid: pid, pidfd: pidfd, outputFD: outFD,
                                    deadline: Clock.monotonicNanoseconds() + UInt64(options.addTimeoutMilliseconds) * 1_000_000)
                starters[s.id] = s
                try? epoll.add(pidfd, events: .readable, token: Self.token(.starterProcess, s.id))
                try? epoll.add(outFD, events: .readable, token: Self.token(.starterOutput, s.id))
                log.info("starting host \(number) (\(entry.name)): \(argv.joined(separator: " "))")
            }
        }
        if add.remaining == 0 { finishAddEntry(add, addID: addID) }

        func fail(_ i: Int, _ code: PVMError.Code, _ text: String) {
            add.results[i] = code.rawValue
            add.texts[i] = text
            add.remaining -= 1
            log.warning("adding \(add.names[i]) failed: \(text)")
        }
    }

    /// Text for the person behind task `t` (0: the log only), shown while
    /// its request is under way.
    func notice(_ text: String, to t: Int32) {
        guard t != 0 else { return }
        let h = FrameHeader(bodyLength: 0, tag: DaemonNotice.tag, context: SystemContext.daemon, source: tid.rawValue,
                            destination: t, encoding: .raw)
        deliver(to: t, header: h, body: Array(text.utf8))
    }

    /// The next free host number after the last one handed out (wrapping):
    /// a host that left does not lend its number, and so its task ids, to
    /// the next host at once, so a task still holding a link or a cached
    /// route to one of the old host's tasks cannot reach a new task by it.
    func allocateHostNumber() -> Int32? {
        let span = Int(TaskID.maxHost) - 1
        for step in 1...span {
            let n = Int32((Int(lastHostNumber) - 2 + step) % span + 2)
            if hostTable[n] == nil && !starters.values.contains(where: { $0.hostNumber == n && !$0.finished }) {
                lastHostNumber = n
                return n
            }
        }
        return nil
    }

    /// Runs the remote shell with a pipe on its standard input (the secret
    /// is written there and the pipe closed) and one on its output.
    private func startRemoteShell(_ argv: [String]) -> Result<(pid_t, Int32, Int32), PVMError> {
        guard let secret else { return .failure(PVMError(.sysErr, "this daemon has no machine secret")) }
        var input: [Int32] = [-1, -1], output: [Int32] = [-1, -1]
        guard pvm_pipe(&input) == 0 else { return .failure(PVMError(.outOfRes, "pipe: \(String(cString: strerror(errno)))")) }
        guard pvm_pipe(&output) == 0 else {
            _ = Glibc.close(input[0]); _ = Glibc.close(input[1])
            return .failure(PVMError(.outOfRes, "pipe: \(String(cString: strerror(errno)))"))
        }
        let env = options.environment.map { "\($0.key)=\($0.value)" }
        let pid = withCStrings(argv) { a in withCStrings(env) { e in pvm_spawn_process_io(argv[0], a, e, nil, input[0], output[1], 1, 1) } }
        _ = Glibc.close(input[0])
        _ = Glibc.close(output[1])
        guard pid > 0 else {
            _ = Glibc.close(input[1]); _ = Glibc.close(output[0])
            return .failure(PVMError(.cantStart, "cannot run the remote shell \(argv[0]): \(String(cString: strerror(-pid)))"))
        }
        // 65 bytes fit any pipe buffer: this write never blocks.
        let line = secret.hex + "\n"
        _ = line.withCString { Glibc.write(input[1], $0, strlen($0)) }
        _ = Glibc.close(input[1])
        _ = pvm_set_nonblocking(output[0], 1)
        let pidfd = pvm_pidfd_open(pid)
        return .success((pid, pidfd, output[0]))
    }

    func serviceStarterOutput(_ s: HostStarter) {
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buf.withUnsafeMutableBytes { Glibc.read(s.outputFD, $0.baseAddress!, $0.count) }
            if n > 0 { if s.output.count < 16384 { s.output += buf[0..<n] }; continue }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return }
            epoll.remove(s.outputFD)
            return
        }
    }

    func starterExited(_ s: HostStarter) {
        serviceStarterOutput(s)
        let status = pvm_reap(s.pid)
        epoll.remove(s.pidfd)
        _ = Glibc.close(s.pidfd)
        epoll.remove(s.outputFD)
        _ = Glibc.close(s.outputFD)
        starters.removeValue(forKey: s.id)
        if s.joined { return }
        let text = String(decoding: s.output, as: UTF8.self).trimmingTrailingNewlines()
        starterFailed(s, text.isEmpty ? "the remote shell exited with status \(status) before the daemon joined" : text)
    }

    func starterFailed(_ s: HostStarter, _ text: String) {
        guard !s.finished else { return }
        s.finished = true
        if s.pid <= 0 { starters.removeValue(forKey: s.id) }
        log.warning("starting \(s.name) failed: \(text)")
        if let add = pendingAdds[s.addID] {
            add.results[s.index] = PVMError.Code.cantStart.rawValue
            add.texts[s.index] = text
            finishAddEntry(add, addID: s.addID)
        }
    }

    /// One host's outcome is in; answers the request when all are.
    func finishAddEntry(_ add: PendingAdd, addID: UInt64) {
        if add.remaining > 0 { add.remaining -= 1 }
        guard add.remaining == 0 else { return }
        pendingAdds.removeValue(forKey: addID)
        var w = ControlWriter()
        w.int(0)
        w.int(Int32(add.names.count))
        for i in add.names.indices { w.int(add.results[i]); w.string(add.texts[i]) }
        add.respond(w)
    }

    /// pvm_delhosts: each named host's daemon is told to leave; it is out
    /// of the table at once.
    func deleteHosts(_ names: [String]) -> ControlWriter {
        var w = ControlWriter()
        w.int(0)
        w.int(Int32(names.count))
        let before = hostTable
        for name in names {
            guard let e = host(named: name) else { w.int(PVMError.Code.noHost.rawValue); continue }
            guard e.number != host else { w.int(PVMError.Code.badParam.rawValue); continue }
            sendHostFrame(.leave, toHost: e.number, ControlWriter())
            if let id = linkOfHost[e.number], let peer = peerDaemons[id] {
                _ = peer.connection.flushBlocking(timeoutMilliseconds: 1000)
                dropPeer(peer)
            }
            hostTable.removeValue(forKey: e.number)
            log.info("host \(e.number) (\(name)) deleted")
            w.int(0)
        }
        if hostTable != before {
            broadcastHostTable(except: nil)
            hostsChanged(from: before)
        }
        return w
    }
}

extension Daemon.Options {
    /// How a daemon is started on a node of a Slurm allocation: as one task
    /// of a step on that node (standard input reaches it, as ssh's does).
    static let slurmShell = ["srun", "--nodes=1", "--ntasks=1", "--overlap", "--quiet", "-w"]

    /// The pvmd a remote host runs: the host's `dx=`, else `PVM_DPATH`,
    /// else this daemon's own path (hosts alike), else `pvmd` on its PATH.
    func daemonPathForHosts(_ entry: HostEntry) -> String {
        if let dx = entry.options.daemonPath { return dx }
        if let d = environment["PVM_DPATH"], !d.isEmpty { return d }
        return DaemonLauncher.executablePath() ?? "pvmd"
    }

    /// `PVM_RSH` split into words (default: ssh in batch mode); the host
    /// name follows them, then the command. Under Slurm (`pvmd --slurm`)
    /// the default is srun, one task on the named node.
    var remoteShell: [String] {
        if slurm && (environment["PVM_RSH"] ?? "").isEmpty { return Self.slurmShell }
        if let r = environment["PVM_RSH"], !r.isEmpty {
            let words = r.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            if !words.isEmpty { return words }
        }
        return ["ssh", "-o", "BatchMode=yes"]
    }
}
