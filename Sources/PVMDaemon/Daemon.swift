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

/// The daemon of one host: a single-threaded epoll loop over its Unix
/// socket, its clients (tasks and consoles), the output pipes and pidfds of
/// the processes it spawned, and a signalfd for SIGTERM/SIGINT/SIGHUP.
///
/// It is the control plane only: task ids, spawn, exit and death
/// detection, notify, the name service (which endpoint reaches which task),
/// output capture and halt. Message data goes directly between tasks over
/// shared memory unless a task asks for daemon routing.
public final class Daemon {
    public struct Options: Sendable {
        public var directory: RuntimeDirectory
        public var hostName: String
        public var architecture = "LINUX64"
        public var speed: Int32 = 1000
        /// Also log to standard error.
        public var logToStandardError = false
        public var environment: [String: String]
        /// Set when this daemon joins another host's machine (`pvmd --slave`).
        public var slave: SlaveJoin? = nil
        /// A host whose link is silent this long is declared dead (3 s by
        /// default; heartbeats go every third of it).
        public var hostTimeoutMilliseconds = 3000
        /// How long pvm_addhosts waits for a daemon started through the remote shell.
        public var addTimeoutMilliseconds = 30_000
        /// How long a hand-started (so=ms) daemon may take to join.
        public var manualStartTimeoutMilliseconds = 300_000
        /// The master's TCP listening address (`PVM_LISTEN`; default every address).
        public var listenAddress: String? = nil
        /// Ports the master may listen on (`PVM_PORT_RANGE=lo-hi`; default any).
        public var portRange: ClosedRange<Int>? = nil
        /// Spawn search path of this host (hostfile `ep=`), replacing the default.
        public var executablePath: String? = nil
        /// Working directory of spawned tasks (hostfile `wd=`).
        public var workingDirectory: String? = nil
        /// Started with `--slurm`: hosts are started with srun.
        public var slurm = false
        /// Placement of spawned tasks (hostfile `bind=`, `--bind`); a spawn's
        /// exported `PVM_BIND` overrides it (Spawn.swift).
        public var bind: Placement? = nil

        public init(directory: RuntimeDirectory, hostName: String, environment: [String: String]) {
            self.directory = directory
            self.hostName = hostName
            self.environment = environment
        }
    }

    let options: Options
    var host: Int32 = 1
    var tid: TaskID
    var log: Logger
    let logFDs: [Int32]
    let epoll: Epoll
    let listener: Int32
    let lockFD: Int32
    var signalFD: Int32 = -1
    let logFD: Int32

    var clients: [UInt64: Client] = [:]
    var tasks: [Int32: TaskRecord] = [:]
    var processes: [UInt64: SpawnedProcess] = [:]
    var pipes: [UInt64: OutputPipe] = [:]
    /// Spawned copies whose exec is not known yet (`Daemon.settle`).
    var launches: [UInt64: PendingLaunch] = [:]
    var watches: [Watch] = []
    var lookupsAwaitingFlush: [(target: Int32, tcp: Bool, respond: (ControlWriter) -> Void)] = []
    var contexts: Set<Int32> = []
    var nextLocal: Int32 = 1
    var nextContext: Int32 = 1
    var nextID: UInt64 = 1
    var halting = false

    // The machine across hosts (Hosts.swift).
    var secret: MachineSecret?
    /// What this host offers for task data between hosts (TCP, or an
    /// active RDMA port): in its host-table entry, shown by `conf`.
    let fabric: HostFabric
    var hostTable: [Int32: HostEntryRecord] = [:]
    var peerDaemons: [UInt64: PeerDaemon] = [:]
    var linkOfHost: [Int32: UInt64] = [:]
    var tcpListener: Int32 = -1
    var tcpEndpoint: TCPEndpoint?
    var starters: [UInt64: HostStarter] = [:]
    var pendingAdds: [UInt64: PendingAdd] = [:]
    var pendingRequests: [UInt32: PendingRequest] = [:]
    var nextRequestID: UInt32 = 1
    /// TaskExit watches that tasks here placed on tasks of other hosts
    /// (fired here if that host fails first).
    var remoteWatches: [Watch] = []
    public var hostDefaults = HostOptions()
    /// The options of every host the hostfile names (`&` lines too: PVM
    /// records those without starting them), under `Hostfile.hostKey`, with
    /// the `*` defaults in effect at their line: what a later add of that
    /// host by name starts it with, under any options the add gives.
    public var recordedHosts: [String: HostOptions] = [:]
    var spawnCursor = 0
    /// The host number handed out last (Hosts.swift, allocateHostNumber).
    var lastHostNumber: Int32 = 1
    // Groups (Groups.swift): the server's records (master), this host's barrier segments.
    var groups: [String: GroupRecord] = [:]
    var localGroups: [String: LocalGroup] = [:]
    /// The message mailbox (Mailbox.swift; kept by the master only).
    var mailbox = MailboxStore()
    var nextTick: UInt64 = 0
    var lastHeartbeat: UInt64 = 0

    enum Kind: UInt64 { case signal = 0, listener, client, pipe, process, tcpListener, peer, starterProcess, starterOutput, launch }
    static func token(_ kind: Kind, _ id: UInt64) -> UInt64 { kind.rawValue << 56 | id }

    /// Prepares the runtime directory, takes the one-daemon-per-user lock
    /// and listens. Throws `PvmDupHost` when a daemon already runs.
    public init(options: Options) throws(PVMError) {
        self.options = options
        tid = TaskID.daemon(host: 1)
        let dir = options.directory
        try dir.prepare()
        let lock = pvm_lock_file(dir.lockPath)
        if lock == -1 { throw PVMError(.dupHost, "a pvmd already runs for \(dir.path)") }
        if lock < 0 { throw PVMError(.sysErr, "cannot lock \(dir.lockPath): \(String(cString: strerror(errno)))") }
        lockFD = lock
        // The lock is ours: a socket file left here is a dead daemon's.
        unlink(dir.socketPath)
        let lfd = open(dir.logPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        logFD = lfd
        var fds: [Int32] = []
        if lfd >= 0 { fds.append(lfd) }
        if options.logToStandardError { fds.append(2) }
        logFDs = fds
        log = Self.makeLogger(tid: tid, fds: fds)
        do {
            listener = try UnixSocket.listen(path: dir.socketPath).release()
            chmod(dir.socketPath, 0o600)
            epoll = try Epoll()
            try epoll.add(listener, events: .readable, token: Self.token(.listener, 0))
        } catch {
            _ = Glibc.close(lock)
            throw PVMError(.sysErr, "pvmd cannot listen at \(dir.socketPath): \(error)")
        }
        log.info("vm (\(options.hostName)) \(options.architecture) pvm 3.4.6-compatible, socket \(dir.socketPath)")
        // libibverbs (where present) is loaded here, before this daemon forks
        // anything: loading calls ibv_fork_init.
        let verbs = VerbsLibrary.shared
        fabric = HostFabric(verbs.availability)
        log.info("verbs: \(verbs.report)\(verbs.forkInitError.map { "; ibv_fork_init failed: errno \($0)" } ?? "")")
        hostTable[1] = ownHostRecord
        // The master makes the machine's secret; a slave was given it. Kept
        // in the private runtime directory for this host's tasks.
        let s = options.slave?.secret ?? MachineSecret.generate()
        secret = s
        do { try s.save(to: dir.secretPath) } catch { log.warning("\(error)") }
    }

    static func makeLogger(tid: TaskID, fds: [Int32]) -> Logger {
        let handler = DaemonLogHandler(prefix: tid.description, fds: fds)
        return Logger(label: "pvmd", factory: { _ in handler })
    }

    /// Serves until halted. Returns the exit status. `addingHosts` (hostfile
    /// lines) are added as soon as the loop runs.
    public func run(addingHosts initialHosts: [HostEntry] = []) -> Int32 {
        // The signalfd is made here, in the process that serves: one made
        // before a fork would wake epoll only for the parent's signals.
        signalFD = pvm_termination_signalfd()
        if signalFD < 0 {
            log.error("signalfd: \(String(cString: strerror(errno)))")
            return 1
        }
        do { try epoll.add(signalFD, events: .readable, token: Self.token(.signal, 0)) } catch {
            log.error("epoll: \(error)")
            return 1
        }
        // Written here, after any fork into the background: the pid that serves.
        let pidText = "\(getpid())\n"
        let pfd = open(options.directory.pidPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        if pfd >= 0 { _ = pidText.withCString { write(pfd, $0, strlen($0)) }; _ = Glibc.close(pfd) }
        log.info("ready, pid \(getpid())")
        if !initialHosts.isEmpty {
            addHosts(initialHosts.map { .success($0) }, names: initialHosts.map(\.name)) { [weak self] w in
                var r = ControlReader(w.bytes)
                _ = try? r.int()
                let n = (try? r.int()) ?? 0
                var added = 0
                for _ in 0..<max(0, n) { if let c = try? r.int(), c > 0 { added += 1 }; _ = try? r.string() }
                self?.log.info("hostfile: \(added) of \(initialHosts.count) host(s) added")
            }
        }
        while !halting {
            _ = epoll.wait(timeoutMilliseconds: tickTimeoutMilliseconds) { token, events in
                dispatch(token, events)
            }
            flushClients()
            tick()
        }
        shutdown()
        return 0
    }

    private func dispatch(_ token: UInt64, _ events: Epoll.Events) {
        let id = token & ((1 << 56) - 1)
        switch Kind(rawValue: token >> 56) {
        case .signal:
            while true {
                let sig = pvm_signalfd_read(signalFD)
                if sig <= 0 { break }
                log.info("caught signal \(sig), halting")
                halting = true
            }
        case .listener: acceptClients()
        case .client: if let c = clients[id] { serviceClient(c, events) }
        case .pipe: if let p = pipes[id] { servicePipe(p) }
        case .process: if let p = processes[id] { processExited(p) }
        case .tcpListener: acceptPeers()
        case .peer: if let p = peerDaemons[id] { servicePeer(p, events) }
        case .starterProcess: if let s = starters[id] { starterExited(s) }
        case .starterOutput: if let s = starters[id] { serviceStarterOutput(s) }
        case .launch: if let l = launches[id] { settle(l) }
        case nil: break
        }
    }

    func newID() -> UInt64 { defer { nextID += 1 }; return nextID }

    // MARK: Clients

    private func acceptClients() {
        while true {
            let fd = pvm_accept(listener)
            if fd < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return
            }
            var pid: pid_t = 0, uid: uid_t = 0, gid: gid_t = 0
            guard pvm_peer_credentials(fd, &pid, &uid, &gid) == 0 else {
                log.warning("refused a client: SO_PEERCRED failed: \(String(cString: strerror(errno)))")
                _ = Glibc.close(fd)
                continue
            }
            guard uid == getuid() else {
                log.warning("refused a client of uid \(uid) (pid \(pid)): this daemon serves uid \(getuid()) only")
                _ = Glibc.close(fd)
                continue
            }
            let client = Client(id: newID(), connection: FrameConnection(fd: fd), pid: pid)
            do {
                try epoll.add(fd, events: [.readable, .readHangup], token: Self.token(.client, client.id))
            } catch {
                log.warning("refused a client: \(error)")
                client.connection.close()
                continue
            }
            clients[client.id] = client
        }
    }

    private func serviceClient(_ client: Client, _ events: Epoll.Events) {
        if events.contains(.writable) {
            if !client.connection.flush() { dropClient(client, reason: "write failed"); return }
            if client.connection.pendingOutput == 0 {
                try? epoll.modify(client.connection.fd, events: [.readable, .readHangup], token: Self.token(.client, client.id))
            }
        }
        guard events.contains(.readable) || events.contains(.hangup) || events.contains(.readHangup) || events.contains(.error) else { return }
        let open = client.connection.fill()
        do {
            while let (header, frame) = try client.connection.nextFrame() {
                handle(client, header, frame)
                if clients[client.id] == nil { return }
            }
        } catch {
            log.warning("malformed frame from pid \(client.pid)\(client.tid != 0 ? " (\(TaskID(client.tid)))" : ""): \(error); closing its connection")
            dropClient(client, reason: "malformed frame")
            return
        }
        if !open { dropClient(client, reason: "connection closed") }
    }

    /// A client that leaves without saying exit: the task died.
    func dropClient(_ client: Client, reason: String) {
        guard clients.removeValue(forKey: client.id) != nil else { return }
        epoll.remove(client.connection.fd)
        client.connection.close()
        if client.tid != 0, tasks[client.tid] != nil {
            log.info("\(TaskID(client.tid)) \(reason); marking it dead")
            endTask(client.tid)
        }
    }

    private func flushClients() {
        defer { answerFlushedLookups() }
        for c in clients.values where c.connection.pendingOutput > 0 {
            if !c.connection.flush() { dropClient(c, reason: "write failed"); continue }
            if c.connection.pendingOutput > 0 {
                try? epoll.modify(c.connection.fd, events: [.readable, .readHangup, .writable], token: Self.token(.client, c.id))
            }
        }
    }

    func reply(_ client: Client, _ op: Int32, _ body: ControlWriter) {
        let h = FrameHeader(bodyLength: 0, tag: op, context: SystemContext.daemon, source: tid.rawValue,
                            destination: client.tid, encoding: .raw)
        if !client.connection.send(h, body: body.bytes) { dropClient(client, reason: "write failed") }
    }

    func reply(_ client: Client, _ op: Int32, code: Int32) {
        var w = ControlWriter()
        w.int(code)
        reply(client, op, w)
    }

    /// Sends a message frame (notify, output, relayed data) to a connected task.
    @discardableResult
    func deliver(to taskTid: Int32, header: FrameHeader, body: [UInt8]) -> Bool {
        let destinationHost = TaskID(taskTid).hostNumber
        if destinationHost != host {
            // A task of another host: through the daemons.
            guard hostTable[destinationHost] != nil else { return false }
            return body.withUnsafeBytes { sendFrame(header, $0, toHost: destinationHost) }
        }
        guard let t = tasks[taskTid] else { return false }
        if t.awaitingEnrollment {
            // Spawned and not enrolled yet: held until it connects, as PVM does.
            t.heldFrames.append((header, body))
            return true
        }
        guard let cid = t.clientID, let c = clients[cid] else { return false }
        if !c.connection.send(header, body: body) { dropClient(c, reason: "write failed"); return false }
        return true
    }

    // MARK: Requests

    private func handle(_ client: Client, _ header: FrameHeader, _ frame: UnsafeRawBufferPointer) {
        if header.context != SystemContext.daemon {
            relay(client, header, frame)
            return
        }
        let body = ControlReader(UnsafeRawBufferPointer(rebasing: frame[FrameHeader.size...]))
        guard let op = DaemonOperation(rawValue: header.tag) else {
            log.warning("unknown request 0x\(String(header.tag, radix: 16)) from pid \(client.pid); closing its connection")
            dropClient(client, reason: "unknown request")
            return
        }
        if op != .connect && client.tid == 0 {
            log.warning("request \(op) before connect from pid \(client.pid); closing its connection")
            dropClient(client, reason: "protocol violation")
            return
        }
        do {
            try perform(op, client, body)
        } catch {
            log.warning("bad \(op) request from \(TaskID(client.tid)): \(error); closing its connection")
            dropClient(client, reason: "malformed request")
        }
    }

    /// Daemon routing of a data message: forwarded as it came, with the
    /// source set to the sender (a task cannot speak for another).
    private func relay(_ client: Client, _ header: FrameHeader, _ frame: UnsafeRawBufferPointer) {
        guard client.tid != 0 else { dropClient(client, reason: "message before connect"); return }
        // Only messages between tasks: nothing a task sends may pass for
        // daemon-to-daemon traffic on another host.
        guard header.context != SystemContext.hosts, TaskID(header.destination).isTask else {
            log.warning("\(TaskID(client.tid)) sent a frame for \(TaskID(header.destination)) in context 0x\(String(header.context, radix: 16)); dropped")
            return
        }
        var h = header
        h.source = client.tid
        let body = Array(UnsafeRawBufferPointer(rebasing: frame[FrameHeader.size...]))
        deliver(to: h.destination, header: h, body: body)  // a missing task drops it, as PVM does
    }

    private func perform(_ op: DaemonOperation, _ client: Client, _ body: ControlReader) throws(PVMError) {
        var r = body
        let code = op.rawValue
        switch op {
        case .connect:
            _ = try r.int()
            let address = try r.string()
            let flags = try r.int()
            let tcpPort = r.remaining >= 4 ? try r.int() : 0
            let tcpAddress = r.remaining > 0 ? try r.string() : ""
            guard tcpAddress.isEmpty || TCPSocket.isIPv4(tcpAddress) else {
                throw PVMError(.badParam, "a task's TCP listening address \(tcpAddress.debugDescription) is not an IP address")
            }
            connect(client, address: address, flags: flags)
            if let rec = tasks[client.tid] { rec.tcpPort = tcpPort; rec.tcpAddress = tcpAddress }
        case .exit:
            reply(client, code, code: 0)
            _ = client.connection.flushBlocking(timeoutMilliseconds: 1000)
            let t = client.tid
            dropClient(client, reason: "exited")
            if tasks[t] != nil { endTask(t) }
        case .config:
            var w = ControlWriter()
            let entries = hostTable.values.sorted { $0.number < $1.number }
            w.int(Int32(entries.count))
            for e in entries {
                w.int(TaskID(host: e.number, local: 0).rawValue)
                w.string(e.name)
                w.string(e.architecture)
                w.int(e.speed)
                w.int(Int32(bitPattern: e.signature))
                w.string(e.fabric)
            }
            reply(client, code, w)
        case .mstat:
            let name = try r.string()
            reply(client, code, code: host(named: name) != nil ? 0 : PVMError.Code.noHost.rawValue)
        case .lookup:
            let t = try r.int()
            let tcp = r.remaining >= 4 ? try r.int() != 0 : false
            let id = client.id
            lookup(t, tcp: tcp, requester: client.tid) { [weak self] w in
                guard let self, let c = self.clients[id] else { return }
                self.reply(c, code, w)
            }
        case .authenticate:
            // MACs with the machine's secret for a task's TCP link: tasks
            // never hold the secret; they ask their daemon (same user: the
            // socket is checked with SO_PEERCRED).
            let mode = try r.int()
            let data = try r.raw()
            guard let secret else { reply(client, code, code: PVMError.Code.sysErr.rawValue); return }
            let auth = SecretAuthenticator(secret)
            var w = ControlWriter()
            if mode == 1 {
                w.int(0); w.raw(auth.code(for: data))
            } else {
                let mac = try r.raw()
                w.int(auth.isValid(mac, for: data) ? 0 : PVMError.Code.denied.rawValue); w.raw([])
            }
            reply(client, code, w)
        case .halt:
            log.info("halt requested by \(TaskID(client.tid))")
            if isMaster { haltMachine() } else { sendHostFrame(.halt, toHost: 1, ControlWriter()) }
        case .newContext:
            let ctx = TaskID(host: host, local: nextContext).rawValue
            nextContext = nextContext == TaskID.maxLocal ? 1 : nextContext + 1
            contexts.insert(ctx)
            reply(client, code, code: ctx)
        case .freeContext:
            let ctx = try r.int()
            reply(client, code, code: contexts.remove(ctx) != nil ? 0 : PVMError.Code.notFound.rawValue)
        case .setNoReset:
            tasks[client.tid]?.noReset = try r.int() != 0
            reply(client, code, code: 0)
        case .group:
            try performGroup(client, r)
        case .spawn, .signal, .tasks, .pstat, .notify, .reset, .addHosts, .deleteHosts, .clock, .setSiblings, .mailbox:
            let id = client.id
            try performForHost(op, requester: client.tid, r, fromThisHost: true) { [weak self] w in
                guard let self, let c = self.clients[id] else { return }
                self.reply(c, code, w)
            }
        }
    }

    /// The requests that may concern other hosts. From a task of this host
    /// (`fromThisHost`) they reach as far as they must (spawn placed across
    /// hosts, tasks of every host, a signal to another host's task); forwarded
    /// from another host, they are done here only. `respond` may run later.
    func performForHost(_ op: DaemonOperation, requester: Int32, _ body: ControlReader, fromThisHost: Bool,
                        _ respond: @escaping (ControlWriter) -> Void) throws(PVMError) {
        var r = body
        let spread = fromThisHost && hostTable.count > 1
        switch op {
        case .spawn:
            let request = try SpawnRequest(&r)
            guard spread else {
                spawn(request, parent: requester) { tids in
                    var w = ControlWriter()
                    w.ints(tids)
                    respond(w)
                }
                return
            }
            spawnAcrossHosts(request, parent: requester, respond)
        case .signal:
            let target = try r.int(), sig = try r.int()
            if spread && TaskID(target).hostNumber != host {
                var w = ControlWriter()
                w.int(target); w.int(sig)
                forward(.signal, w, toHost: TaskID(target).hostNumber, requester: requester) { _ in
                    var ok = ControlWriter(); ok.int(0); respond(ok)
                }
                return
            }
            if let t = tasks[target], t.pid > 0 { _ = kill(t.pid, sig) }
            var w = ControlWriter(); w.int(0); respond(w)
        case .tasks:
            let location = try r.int()
            let targetHost = TaskID(location).hostNumber
            if spread && location == 0 {
                let gather = Gather<[UInt8]>(count: hostTable.count)
                let mine = taskList(where: 0).bytes
                for (i, h) in hostTable.keys.sorted().enumerated() {
                    if h == host { gather.put(i, mine); continue }
                    var w = ControlWriter(); w.int(0)
                    forward(.tasks, w, toHost: h, requester: requester) { reply in gather.put(i, reply ?? []) }
                }
                gather.whenDone { lists in respond(Self.mergeTaskLists(lists)) }
            } else if spread && location != 0 && targetHost != host {
                var w = ControlWriter(); w.int(location)
                forwardPassingReply(.tasks, w, toHost: targetHost, requester: requester, failure: .noHost, respond)
            } else {
                respond(taskList(where: location))
            }
        case .pstat:
            let t = try r.int()
            if spread && TaskID(t).hostNumber != host {
                var w = ControlWriter(); w.int(t)
                forwardPassingReply(.pstat, w, toHost: TaskID(t).hostNumber, requester: requester, failure: .noTask, respond)
                return
            }
            var w = ControlWriter(); w.int(tasks[t] != nil ? 0 : PVMError.Code.noTask.rawValue); respond(w)
        case .notify:
            let kind = try r.int(), tag = try r.int(), count = try r.int(), targets = try r.ints()
            var local = targets
            if fromThisHost && kind & ~256 == 1 {
                // TaskExit of another host's tasks: registered there, and
                // remembered here in case that host fails first.
                local = targets.filter { TaskID($0).hostNumber == host }
                let remote = Dictionary(grouping: targets.filter { TaskID($0).hostNumber != host }) { TaskID($0).hostNumber }
                for (h, list) in remote {
                    for t in list {
                        if kind & 256 != 0 {
                            remoteWatches.removeAll { $0.watcher == requester && $0.target == t && $0.tag == tag }
                        } else if hostTable[h] == nil {
                            sendNotify(requester, tag: tag, body: [t])
                        } else {
                            remoteWatches.append(Watch(watcher: requester, kind: 1, tag: tag, target: t, remaining: 1))
                        }
                    }
                    guard hostTable[h] != nil else { continue }
                    var w = ControlWriter()
                    w.int(kind); w.int(tag); w.int(Int32(list.count)); w.ints(list)
                    forward(.notify, w, toHost: h, requester: requester) { _ in }
                }
            }
            var w = ControlWriter()
            w.int(notify(requester, kind: kind, tag: tag, count: count, targets: local))
            respond(w)
        case .reset:
            for t in tasks.values where !t.noReset && t.tid != requester && t.pid > 0 { _ = kill(t.pid, SIGTERM) }
            if spread { for h in otherHosts { forward(.reset, ControlWriter(), toHost: h, requester: requester) { _ in } } }
            if isMaster { mailboxReset(requester: requester) }
            var w = ControlWriter(); w.int(0); respond(w)
        case .addHosts:
            let specs = try r.strings()
            if isMaster {
                addHosts(specs, requester: requester, respond: respond)
            } else {
                var w = ControlWriter(); w.strings(specs)
                forwardPassingReply(.addHosts, w, toHost: 1, requester: requester, failure: .hostFail, respond)
            }
        case .deleteHosts:
            let names = try r.strings()
            if isMaster {
                respond(deleteHosts(names))
            } else {
                var w = ControlWriter(); w.strings(names)
                forwardPassingReply(.deleteHosts, w, toHost: 1, requester: requester, failure: .hostFail, respond)
            }
        case .clock:
            let target = try r.int()
            let h = TaskID(target).hostNumber
            guard target == TaskID(host: h, local: 0).rawValue, hostTable[h] != nil else {
                respond(Self.failure(.noHost, zeros: 2)); return
            }
            if h != host && fromThisHost {
                var w = ControlWriter(); w.int(target)
                forwardPassingReply(.clock, w, toHost: h, requester: requester, failure: .hostFail, zeros: 2, respond)
                return
            }
            var now = timeval()
            gettimeofday(&now, nil)
            var w = ControlWriter()
            w.int(0); w.int(Int32(truncatingIfNeeded: now.tv_sec)); w.int(Int32(now.tv_usec))
            respond(w)
        case .setSiblings:
            releaseSiblings(try r.ints())
            respond(ControlWriter())
        case .group:
            if isMaster {
                try serveGroup(r, requester: requester, respond)
            } else {
                forwardPassingReply(.group, ControlWriter(raw: r.rest()), toHost: 1, requester: requester, failure: .sysErr, respond)
            }
        case .mailbox:
            if isMaster {
                try serveMailbox(r, requester: requester, respond)
            } else {
                forwardPassingReply(.mailbox, ControlWriter(raw: r.rest()), toHost: 1, requester: requester, failure: .sysErr, respond)
            }
        case .lookup:
            // From another host's daemon: this host's task's TCP listener.
            let t = try r.int()
            answerLookup(t, tcp: true, respond: respond)
        default:
            throw PVMError(.badMsg, "\(op) cannot be forwarded to another host")
        }
    }

    /// Merges `tasks` replies of several hosts into one.
    static func mergeTaskLists(_ lists: [[UInt8]]) -> ControlWriter {
        var rows = ControlWriter()
        var count: Int32 = 0
        for bytes in lists {
            var r = ControlReader(bytes)
            guard let code = try? r.int(), code == 0, let n = try? r.int() else { continue }
            for _ in 0..<max(0, n) {
                guard let t = try? r.int(), let p = try? r.int(), let h = try? r.int(), let f = try? r.int(),
                      let name = try? r.string(), let pid = try? r.int() else { break }
                rows.int(t); rows.int(p); rows.int(h); rows.int(f); rows.string(name); rows.int(pid)
                count += 1
            }
        }
        var w = ControlWriter()
        w.int(0)
        w.int(count)
        w.append(rows)
        return w
    }

    /// Code 0 with the endpoint; `LookupResult.notEnrolled` for a task
    /// spawned here that has not enrolled yet (send through the daemon,
    /// which holds its messages: a send never waits for a task to start);
    /// PvmNoTask otherwise.
    func lookupReply(_ t: Int32, tcp: Bool) -> ControlWriter {
        var w = ControlWriter()
        if let rec = tasks[t], rec.awaitingEnrollment {
            w.int(LookupResult.notEnrolled); w.string(""); w.int(rec.pid)
        } else if let rec = tasks[t], rec.clientID != nil, tcp {
            // The task's TCP listener; the asking daemon puts in this host's
            // address as its host table has it ("tcp::port").
            // (A task listening on one address names it: "tcp:ADDRESS:port".)
            if rec.tcpPort > 0 { w.int(0); w.string("tcp:\(rec.tcpAddress):\(rec.tcpPort)"); w.int(rec.pid) } else { w.int(LookupResult.throughDaemons); w.string(""); w.int(rec.pid) }
        } else if let rec = tasks[t], rec.clientID != nil, !rec.endpoint.isEmpty {
            w.int(0); w.string(rec.endpoint); w.int(rec.pid)
        } else {
            w.int(PVMError.Code.noTask.rawValue); w.string(""); w.int(0)
        }
        return w
    }

    /// Answers a lookup of task `t` once everything this daemon routed to
    /// `t` is in its socket: a sender goes direct only after asking, so what
    /// it sent through the daemon is always ahead of its first direct
    /// message (the task library reads its daemon socket when a new peer
    /// connects, before that peer's ring or socket).
    func answerLookup(_ t: Int32, tcp: Bool, respond: @escaping (ControlWriter) -> Void) {
        if let rec = tasks[t], let cid = rec.clientID, let target = clients[cid], target.connection.pendingOutput > 0 {
            lookupsAwaitingFlush.append((t, tcp, respond))
            return
        }
        respond(lookupReply(t, tcp: tcp))
    }

    /// Lookups whose answer waits for the target's queued output to drain.
    func answerFlushedLookups() {
        guard !lookupsAwaitingFlush.isEmpty else { return }
        let waiting = lookupsAwaitingFlush
        lookupsAwaitingFlush.removeAll()
        for l in waiting { answerLookup(l.target, tcp: l.tcp, respond: l.respond) }
    }

    /// A lookup from a task of this host: of one of its tasks, answered
    /// here; of another host's task, asked of that host's daemon (its TCP
    /// listener, with that host's address from the host table).
    func lookup(_ t: Int32, tcp: Bool, requester: Int32, respond: @escaping (ControlWriter) -> Void) {
        let h = TaskID(t).hostNumber
        if h == host {
            // A task of this host over TCP (forced): through loopback.
            answerLookup(t, tcp: tcp) { w in respond(Self.fillingTCPAddress(w, "127.0.0.1")) }
            return
        }
        var w = ControlWriter()
        w.int(t); w.int(1)
        forward(.lookup, w, toHost: h, requester: requester) { [weak self] reply in
            guard let self, let reply else {
                var e = ControlWriter(); e.int(PVMError.Code.noTask.rawValue); e.string(""); e.int(0); respond(e); return
            }
            respond(Self.fillingTCPAddress(ControlWriter(raw: reply), self.hostTable[h]?.address ?? ""))
        }
    }

    /// A lookup reply with "tcp::port" completed with `address` (the
    /// target's host as this daemon reaches it); with no address known, the
    /// answer is to go through the daemons.
    /// A task that listens on one address names it ("tcp:ADDRESS:port"),
    /// kept as it is, unless it is a loopback address and the asker is on
    /// another host (where it would mean that host's own loopback): then
    /// through the daemons.
    static func fillingTCPAddress(_ w: ControlWriter, _ address: String) -> ControlWriter {
        var r = ControlReader(w.bytes)
        guard let code = try? r.int(), let text = try? r.string(), let pid = try? r.int(), code == 0, text.hasPrefix("tcp:") else { return w }
        let named = !text.hasPrefix("tcp::")
        if named && !(text.dropFirst(4).hasPrefix("127.") && !address.hasPrefix("127.")) { return w }
        var out = ControlWriter()
        if address.isEmpty || named {
            out.int(LookupResult.throughDaemons); out.string("")
        } else {
            out.int(0); out.string("tcp:\(address):\(text.dropFirst(5))")
        }
        out.int(pid)
        return out
    }

    private func connect(_ client: Client, address: String, flags: Int32) {
        guard client.tid == 0 else {
            reply(client, DaemonOperation.connect.rawValue, code: PVMError.Code.badParam.rawValue)
            return
        }
        // A process this daemon spawned claims the id reserved for it.
        var record = tasks.values.first { $0.pid == client.pid && $0.clientID == nil && $0.spawned && !$0.claimed }
        if record == nil {
            guard let local = allocateLocal() else {
                reply(client, DaemonOperation.connect.rawValue, code: PVMError.Code.outOfRes.rawValue)
                return
            }
            let rec = TaskRecord(tid: TaskID(host: host, local: local).rawValue, pid: client.pid)
            rec.name = ""
            tasks[rec.tid] = rec
            record = rec
        }
        let rec = record!
        rec.endpoint = address
        if flags & 1 != 0 { rec.noReset = true; rec.isConsole = true }
        client.tid = rec.tid
        if rec.siblingsPendingSince != 0 {
            // A spawned copy: it is let in (and its messages held until
            // then) once the whole sibling list is known.
            rec.deferredClient = client.id
            return
        }
        welcome(client, rec)
    }

    /// Completes a task's enrollment: its id and its place in the machine.
    func welcome(_ client: Client, _ rec: TaskRecord) {
        rec.claimed = true
        rec.clientID = client.id
        rec.flags |= TaskFlags.connected
        var w = ControlWriter()
        w.int(0)
        w.int(rec.tid)
        w.int(rec.parent)
        w.int(host)
        w.int(rec.outputTid)
        w.int(rec.outputCode)
        w.int(rec.outputContext)
        w.int(rec.context)
        w.ints(rec.siblings.isEmpty ? [rec.tid] : rec.siblings)
        w.string(options.hostName)
        reply(client, DaemonOperation.connect.rawValue, w)
        log.info("\(TaskID(rec.tid)) connected (pid \(client.pid)\(rec.spawned ? ", spawned" : ""))")
        let held = rec.heldFrames
        rec.heldFrames.removeAll()
        for (h, body) in held { deliver(to: rec.tid, header: h, body: body) }
    }

    func allocateLocal() -> Int32? {
        // Ids increase and are not reused until the space wraps around, as in PVM.
        for _ in 0..<Int(TaskID.maxLocal) {
            let local = nextLocal
            nextLocal = nextLocal == TaskID.maxLocal ? 1 : nextLocal + 1
            if tasks[TaskID(host: host, local: local).rawValue] == nil { return local }
        }
        return nil
    }

    private func taskList(where w: Int32) -> ControlWriter {
        var out = ControlWriter()
        let selected: [TaskRecord]
        if w == 0 {
            selected = Array(tasks.values)
        } else if TaskID(w).isDaemon || (w > 0 && TaskID(w).localPart == 0) {
            guard TaskID(w).hostNumber == host else { out.int(PVMError.Code.noHost.rawValue); return out }
            selected = Array(tasks.values)
        } else if w > 0 {
            selected = tasks[w].map { [$0] } ?? []
        } else {
            out.int(PVMError.Code.noHost.rawValue)
            return out
        }
        out.int(0)
        out.int(Int32(selected.count))
        for t in selected.sorted(by: { $0.tid < $1.tid }) {
            out.int(t.tid); out.int(t.parent); out.int(TaskID(host: host, local: 0).rawValue)
            out.int(t.flags); out.string(t.isConsole ? "(cons)" : t.name); out.int(t.pid)
        }
        return out
    }

    // MARK: Task exit and notify

    /// The task `t` is gone (exit, death, or a spawned process that ended
    /// without enrolling): fire its TaskExit notifies, drop what it asked for.
    func endTask(_ t: Int32) {
        guard let rec = tasks.removeValue(forKey: t) else { return }
        rec.clientID = nil
        rec.heldFrames.removeAll()
        var fired: [Watch] = []
        watches.removeAll { w in
            if w.watcher == t { return true }
            if w.kind == 1 && w.target == t { fired.append(w); return true }
            return false
        }
        for w in fired { sendNotify(w.watcher, tag: w.tag, body: [t]) }
        groupTaskGone(t)
        if isMaster { mailboxTaskGone(t) }
    }

    func sendNotify(_ watcher: Int32, tag: Int32, body: [Int32]) {
        let h = FrameHeader(bodyLength: 0, tag: tag, context: 0, source: TaskID.notifySource.rawValue,
                            destination: watcher, encoding: .raw)
        var bytes: [UInt8] = []
        for v in body { withUnsafeBytes(of: v) { bytes.append(contentsOf: $0) } }
        deliver(to: watcher, header: h, body: bytes)
    }

    private func notify(_ watcher: Int32, kind rawKind: Int32, tag: Int32, count: Int32, targets: [Int32]) -> Int32 {
        let cancel = rawKind & 256 != 0
        let kind = rawKind & ~256
        guard (1...5).contains(kind) else { return PVMError.Code.badParam.rawValue }
        switch kind {
        case 1:  // PvmTaskExit
            for t in targets {
                if cancel {
                    watches.removeAll { $0.watcher == watcher && $0.kind == 1 && $0.target == t && $0.tag == tag }
                } else if tasks[t] == nil {
                    sendNotify(watcher, tag: tag, body: [t])  // already gone: at once
                } else {
                    watches.append(Watch(watcher: watcher, kind: 1, tag: tag, target: t, remaining: 1))
                }
            }
        case 2:  // PvmHostDelete
            for h in targets {
                if cancel {
                    watches.removeAll { $0.watcher == watcher && $0.kind == 2 && $0.target == h && $0.tag == tag }
                    sendNotify(watcher, tag: tag, body: [h])  // PVM delivers it right away on cancel
                } else if hostTable[TaskID(h).hostNumber] == nil {
                    sendNotify(watcher, tag: tag, body: [h])  // not in the machine: at once
                } else {
                    watches.append(Watch(watcher: watcher, kind: 2, tag: tag, target: h, remaining: 1))
                }
            }
        case 3:  // PvmHostAdd: fired as hosts join (hostsChanged)
            watches.removeAll { $0.watcher == watcher && $0.kind == 3 }
            if !cancel && count != 0 {
                watches.append(Watch(watcher: watcher, kind: 3, tag: tag, target: 0, remaining: count))
            }
        default:  // route notifies: accepted, nothing to report on one host
            break
        }
        return 0
    }

    // MARK: Processes and output

    func servicePipe(_ p: OutputPipe) {
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { Glibc.read(p.fd, $0.baseAddress!, $0.count) }
            if n > 0 {
                forwardOutput(p, Array(buf[0..<n]))
                continue
            }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return }
            closePipe(p)
            return
        }
    }

    func forwardOutput(_ p: OutputPipe, _ data: [UInt8]) {
        if p.destination != 0 && sendOutput(p, length: Int32(data.count), data) { return }
        p.partial.append(contentsOf: data)
        while let nl = p.partial.firstIndex(of: 10) {
            let line = String(decoding: p.partial[..<nl], as: UTF8.self)
            log.info("[\(TaskID(p.tid))] \(line)")
            p.partial.removeSubrange(...nl)
        }
    }

    @discardableResult
    func sendOutput(_ p: OutputPipe, length: Int32, _ data: [UInt8]) -> Bool {
        var body = ControlWriter()
        body.int(p.tid)
        body.int(length)
        var bytes = body.bytes
        bytes.append(contentsOf: data)
        let h = FrameHeader(bodyLength: 0, tag: p.code, context: p.context, source: tid.rawValue,
                            destination: p.destination, encoding: .raw)
        return deliver(to: p.destination, header: h, body: bytes)
    }

    func closePipe(_ p: OutputPipe) {
        epoll.remove(p.fd)
        _ = Glibc.close(p.fd)
        pipes.removeValue(forKey: p.id)
        if p.destination != 0 {
            if !p.partial.isEmpty { forwardOutput(p, []) }
            sendOutput(p, length: OutputEvent.eof, [])
        } else if !p.partial.isEmpty {
            log.info("[\(TaskID(p.tid))] \(String(decoding: p.partial, as: UTF8.self))")
        }
    }

    func processExited(_ p: SpawnedProcess) {
        // A child gone before its exec was seen: its status pipe is at end
        // of file now, and says whether it ran.
        if let rec = tasks[p.tid], rec.pid == p.pid, let launch = rec.launch { settle(launch) }
        epoll.remove(p.pidfd)
        _ = Glibc.close(p.pidfd)
        processes.removeValue(forKey: p.id)
        let status = pvm_reap(p.pid)
        // Output written just before exit is still in the pipe: take it now.
        if let pipe = pipes.values.first(where: { $0.tid == p.tid }) { servicePipe(pipe) }
        if let rec = tasks[p.tid], rec.pid == p.pid {
            log.info("\(TaskID(p.tid)) (pid \(p.pid)) exited with status \(status)")
            if let cid = rec.clientID, let c = clients[cid] {
                dropClient(c, reason: "process exited")
            } else {
                endTask(p.tid)
            }
        }
    }

    // MARK: Halt

    /// Stops every task and removes the runtime files (the end of `run`, and
    /// what a slave that could not join does before it exits).
    public func shutdown() {
        log.info("halting: stopping \(tasks.count) task(s)")
        var pids = Set(processes.values.map(\.pid))
        for t in tasks.values where t.pid > 0 { pids.insert(t.pid) }
        for pid in pids { _ = kill(pid, SIGTERM) }
        for c in clients.values { epoll.remove(c.connection.fd); c.connection.close() }
        clients.removeAll()
        for peer in Array(peerDaemons.values) { _ = peer.connection.flushBlocking(timeoutMilliseconds: 500); dropPeer(peer) }
        for s in starters.values where s.pid > 0 {
            _ = kill(s.pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(s.pid, &status, 0) < 0 && errno == EINTR {}
            if s.pidfd >= 0 { _ = Glibc.close(s.pidfd) }
            if s.outputFD >= 0 { _ = Glibc.close(s.outputFD) }
        }
        starters.removeAll()
        if tcpListener >= 0 { epoll.remove(tcpListener); _ = Glibc.close(tcpListener); tcpListener = -1 }
        let deadline = Clock.monotonicNanoseconds() + 2_000_000_000
        while !processes.isEmpty && Clock.monotonicNanoseconds() < deadline {
            _ = epoll.wait(timeoutMilliseconds: 50) { token, _ in
                let id = token & ((1 << 56) - 1)
                switch Kind(rawValue: token >> 56) {
                case .pipe: if let p = pipes[id] { servicePipe(p) }
                case .process: if let p = processes[id] { processExited(p) }
                default: break
                }
            }
        }
        for p in processes.values {
            _ = kill(p.pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(p.pid, &status, 0) < 0 && errno == EINTR {}
            _ = Glibc.close(p.pidfd)
        }
        for p in pipes.values { _ = Glibc.close(p.fd) }
        let dir = options.directory
        unlink(dir.socketPath)
        unlink(dir.pidPath)
        unlink(dir.secretPath)
        log.info("halted")
        unlink(dir.logPath)
        unlink(dir.lockPath)
        rmdir(dir.path)
        _ = Glibc.close(listener)
        _ = Glibc.close(lockFD)
        if logFD >= 0 { _ = Glibc.close(logFD) }
    }
}

// MARK: Records

final class Client {
    let id: UInt64
    let connection: FrameConnection
    let pid: pid_t
    var tid: Int32 = 0
    init(id: UInt64, connection: FrameConnection, pid: pid_t) {
        self.id = id
        self.connection = connection
        self.pid = pid
    }
}

final class TaskRecord {
    let tid: Int32
    var pid: pid_t
    var parent: Int32 = 0
    var flags: Int32 = 0
    var name = ""
    var spawned = false
    var claimed = false
    var clientID: UInt64? = nil
    var endpoint = ""
    /// Port of the task's TCP listener (0: none).
    var tcpPort: Int32 = 0
    /// The address its TCP listener is bound to ("": every address).
    var tcpAddress = ""
    var outputTid: Int32 = 0
    var outputCode: Int32 = 0
    var outputContext: Int32 = 0
    var context: Int32 = 0
    var siblings: [Int32] = []
    /// Set while a spawned copy waits for its sibling list: until every exec
    /// of its spawn is known, and for a spawn spread over hosts until the
    /// other hosts' lists are here.
    var siblingsPendingSince: UInt64 = 0
    /// Its connection, when it asked to enroll before the list came.
    var deferredClient: UInt64? = nil
    var noReset = false
    var isConsole = false
    /// Its exec, while it is not known (a spawned copy just started).
    var launch: PendingLaunch? = nil
    /// Messages routed to it before it enrolled.
    var heldFrames: [(FrameHeader, [UInt8])] = []
    /// Spawned by this daemon and not enrolled yet.
    var awaitingEnrollment: Bool { spawned && !claimed }
    init(tid: Int32, pid: pid_t) {
        self.tid = tid
        self.pid = pid
    }
}

final class SpawnedProcess {
    let id: UInt64
    let pid: pid_t
    let pidfd: Int32
    let tid: Int32
    init(id: UInt64, pid: pid_t, pidfd: Int32, tid: Int32) {
        self.id = id
        self.pid = pid
        self.pidfd = pidfd
        self.tid = tid
    }
}

final class OutputPipe {
    let id: UInt64
    let fd: Int32
    let tid: Int32
    let destination: Int32
    let code: Int32
    let context: Int32
    var partial: [UInt8] = []
    init(id: UInt64, fd: Int32, tid: Int32, destination: Int32, code: Int32, context: Int32) {
        self.id = id
        self.fd = fd
        self.tid = tid
        self.destination = destination
        self.code = code
        self.context = context
    }
}

struct Watch {
    var watcher: Int32
    var kind: Int32
    var tag: Int32
    var target: Int32
    var remaining: Int32
}
