#if canImport(Glibc)
import Glibc
#endif
@_exported import PVMControl
@_exported import PVMEncoding
import PVMSystem
import PVMTransport

/// This process's membership in the virtual machine: the task library.
///
/// One instance per process (`VirtualMachine.shared()`), used from one
/// thread, as PVM is. It enrolls with the local daemon (starting one when
/// none runs), owns the task's shared-memory endpoint, and implements PVM
/// 3.4's semantics: task ids, spawn, message buffers with PVM's ids, send
/// and receive with wildcards and per-pair ordering, notify, options. The
/// C library (libpvm3.so.3) and the typed Swift API are both thin layers
/// over these methods.
///
/// ```swift
/// let vm = try VirtualMachine.shared()
/// let workers = try vm.spawn("worker", count: 4)
/// var message = Message()
/// try message.pack(Int32(42))
/// try vm.send(message, to: workers[0], tag: 1)
/// let reply = try vm.receive(from: workers[0], tag: 2)
/// let answer: Double = try reply.unpack()
/// ```
public final class VirtualMachine {
    // Used from one thread (as PVM is), so the state skips Swift's dynamic
    // exclusivity checks: they cost more than the rest of a small message.
    nonisolated(unsafe) static var instance: VirtualMachine?
    /// The receive in progress: what it matches, and the buffer id a
    /// matching message went to (0: none yet).
    @exclusivity(unchecked) var wantSource: Int32 = 0
    @exclusivity(unchecked) var wantTag: Int32 = 0
    @exclusivity(unchecked) var waiting = false
    @exclusivity(unchecked) var matched: Int32 = 0
    /// Set during a receive in place: consumes the matching message where it lies.
    @exclusivity(unchecked) var inPlace: ((FrameHeader, UnsafeRawBufferPointer) throws -> Void)? = nil
    @exclusivity(unchecked) var inPlaceError: (any Error)? = nil
    /// Set while a pvm_precv waits: where its data goes. A large message
    /// for it is read straight into this memory, with no receive buffer
    /// and no copy: from a TCP socket (TCPLinks.swift, `startLarge`;
    /// `matched` is `directPending` while it arrives) or from the sender's
    /// memory (`placement`); `matched` is then `directDone`, with
    /// `directResult` its source, tag and length.
    @exclusivity(unchecked) var precvTarget: UnsafeMutableRawBufferPointer? = nil
    @exclusivity(unchecked) var directResult: (source: Int32, tag: Int32, bytes: Int) = (0, 0, 0)
    /// The link whose large message is arriving into `precvTarget`, or the
    /// local peer whose pipelined one is.
    @exclusivity(unchecked) var directLink: TCPLink? = nil
    @exclusivity(unchecked) var directPeer: ShmPeerID? = nil
    static let directPending: Int32 = -2
    static let directDone: Int32 = -3

    /// The process's task library, enrolled on first use (starting the
    /// local daemon when none runs). After `exit()`, the next call enrolls
    /// again with a new task id, as PVM does.
    public static func shared() throws(PVMError) -> VirtualMachine {
        if let vm = instance {
            if vm.state == .enrolled || vm.state == .daemonLost { return vm }
            try vm.enroll()
            return vm
        }
        let vm = VirtualMachine()
        instance = vm
        unmanagedInstance = .passUnretained(vm)
        try vm.enroll()
        return vm
    }

    /// `instance`, which lives as long as the process, without reference counting.
    @usableFromInline @exclusivity(unchecked) nonisolated(unsafe) static var unmanagedInstance: Unmanaged<VirtualMachine>?

    /// Calls `body` with the process's task library (enrolling it as
    /// `shared()` does) without a retain and release per call: for the C
    /// library's entry points, where that pair would cost as much as
    /// packing a small message.
    @inlinable @inline(__always)
    public static func withShared<R>(_ body: (VirtualMachine) throws(PVMError) -> R) throws(PVMError) -> R {
        guard let u = unmanagedInstance else { return try body(shared()) }
        do {
            return try u._withUnsafeGuaranteedRef { vm in
                if _slowPath(vm.state == .idle) { try vm.enroll() }
                return try body(vm)
            }
        } catch let error as PVMError { throw error } catch { fatalError("unreachable: \(error)") }
    }

    /// Enrolls as a console: never killed by `reset`, listed as `(cons)`,
    /// messages routed through the daemon (as PVM's console does).
    public static func sharedConsole() throws(PVMError) -> VirtualMachine {
        let vm = instance ?? VirtualMachine()
        instance = vm
        unmanagedInstance = .passUnretained(vm)
        vm.enrollAsConsole = true
        if vm.state == .idle { try vm.enroll() }
        return vm
    }

    /// The task library if it exists (enrolled or not), without enrolling.
    public static var existing: VirtualMachine? { instance }

    @usableFromInline enum State { case idle, enrolled, daemonLost }
    @usableFromInline @exclusivity(unchecked) var state = State.idle

    /// This task's id (cached: it stays valid after the daemon dies, as in PVM).
    @exclusivity(unchecked) public private(set) var tid = TaskID(0)
    var parentTid: Int32 = 0
    public private(set) var siblings: [TaskID] = []
    var hostNumber: Int32 = 1
    public private(set) var hostName = ""
    @exclusivity(unchecked) var daemon: FrameConnection?
    @exclusivity(unchecked) var endpoint: ShmEndpoint? {
        didSet { fastEndpoint = endpoint.map { Unmanaged.passUnretained($0) } }
    }
    /// `endpoint` without reference counting on use (`endpoint` owns it).
    @exclusivity(unchecked) var fastEndpoint: Unmanaged<ShmEndpoint>?
    /// This enrollment found no daemon and started one.
    public private(set) var startedDaemon = false
    /// Is this task enrolled and its daemon there?
    public var isEnrolled: Bool { state == .enrolled }
    /// Console tasks: never killed by `reset`, shown as (cons).
    public var enrollAsConsole = false

    // Peers reached directly: task id -> shared-memory peer.
    @exclusivity(unchecked) var peers: [Int32: ShmPeerID] = [:]
    @exclusivity(unchecked) var lastPeerTid: Int32 = 0
    @exclusivity(unchecked) var lastPeer: ShmPeerID = 0
    /// Tasks this one has sent a first message to (through the daemon).
    @exclusivity(unchecked) var routedOnce = TaskIDSet()
    /// Connections other tasks made to this one, not used for sending to
    /// them yet because this task has sent them messages through the
    /// daemon: the next send looks them up first (see `connectPeer`).
    @exclusivity(unchecked) var learnedPeers: [Int32: ShmPeerID] = [:]
    /// By endpoint slot: the source of the last message this peer's ring
    /// delivered, as `heardKey` makes it (0: none since it connected).
    /// Before a peer's first message this task reads the daemon's socket,
    /// and a source is checked against the name service only when it
    /// changes (see `handle`), not per message.
    @exclusivity(unchecked) var heard: [UInt64] = []
    // The TCP transport (TCPLinks.swift).
    @exclusivity(unchecked) var tcpListener: Int32 = -1
    @exclusivity(unchecked) var tcpPort: Int32 = 0
    /// The address the TCP listener is bound to, if one (else "").
    @exclusivity(unchecked) var tcpAddress = ""
    /// The link messages to a task go on, by its task id (made by this
    /// task, or by the peer and answered on).
    @exclusivity(unchecked) var tcpOutgoing: [Int32: TCPLink] = [:]
    /// Every link, by descriptor: all are read (frames come both ways).
    @exclusivity(unchecked) var tcpLinks: [Int32: TCPLink] = [:]
    /// Links from peers this task has routed messages to: used once a
    /// lookup has flushed those (`tcpLink(for:)`).
    @exclusivity(unchecked) var learnedTCP: [Int32: TCPLink] = [:]
    /// Tasks with no TCP path (no listener, refused, unreachable): through the daemons.
    @exclusivity(unchecked) var noTCPPath: Set<Int32> = []
    /// The link the latest frame came on: read directly while a receive
    /// spins (`probeHotLink`), and how many frames have come on any link.
    @exclusivity(unchecked) var hotTCP: TCPLink?
    @exclusivity(unchecked) var tcpFramesIn = 0
    /// `PVM_TRANSPORT=tcp`: TCP even to tasks of this host.
    @exclusivity(unchecked) var forceTCP = false

    // Message buffers, by PVM buffer id.
    /// The buffer objects, by id. Held unmanaged (each element owns one
    /// retain, taken in `takeID` and `detach`) and used through
    /// `withObject`: reading a class reference out of an array would cost
    /// a retain and a release per use, more than packing a small message.
    /// (A flat table, as `meta`: an array's storage type would be made at
    /// run time when the task starts.)
    @usableFromInline @exclusivity(unchecked) var objects: FlatArray<Unmanaged<MessageBuffer>> = {
        var o = FlatArray<Unmanaged<MessageBuffer>>()
        o.append(.passRetained(MessageBuffer(encoding: .default, capacity: 16)))
        return o
    }()
    /// Buffer headers by id; id 0 means no buffer and is never handed out.
    @usableFromInline @exclusivity(unchecked) var meta: FlatArray<BufferMeta> = {
        var m = FlatArray<BufferMeta>()
        m.append(BufferMeta())
        return m
    }()
    @exclusivity(unchecked) var freeIDs = FlatArray<Int32>()
    @usableFromInline @exclusivity(unchecked) var sendBuffer: Int32 = 0
    @usableFromInline @exclusivity(unchecked) var receiveBuffer: Int32 = 0
    /// Arrived messages not yet received, oldest first (buffer ids).
    @exclusivity(unchecked) var arrived = ArrivalQueue()
    /// Staging for one-shot sends (psend).
    let scratch = MessageBuffer(encoding: .raw)

    /// The current message context (matching respects it).
    @exclusivity(unchecked) public internal(set) var context: Int32 = 0
    @exclusivity(unchecked) var options = Options()
    var reply: (op: Int32, body: [UInt8])?
    // catchout
    var catchFile: UnsafeMutablePointer<FILE>?
    var catchPartial: [Int32: [UInt8]] = [:]
    /// pvm_recvf's matching function, if the program set one.
    @exclusivity(unchecked) var customMatcher: ((Int32, Int32, Int32) -> Int32)? = nil
    /// Children whose bare output (PvmShowTids 0) stopped in a line.
    var catchEndsMidLine: Set<Int32> = []
    /// Children whose output is being collected, and where it goes (fixed
    /// when the child starts: a later catchout change does not move it).
    var catchTargets: [Int32: UnsafeMutablePointer<FILE>] = [:]
    static let catchoutTag: Int32 = 0x7fff_0001

    // Groups (Groups.swift).
    var groupMemberships: [String: GroupMembership] = [:]
    var frozenRosters: [String: GroupRoster] = [:]
    /// The group of the latest barrier (no dictionary lookup in a loop of barriers).
    @exclusivity(unchecked) var lastGroup: GroupMembership?
    let hostCPUs = SystemProbe.availableCPUs()
    /// (Lazy, as `collectiveScratch`: what a task uses only in groups is
    /// not made when it starts.)
    lazy var barrierSpinNanoseconds = ShmConfiguration.fromEnvironment().spinNanoseconds
    /// Staging for the collectives' messages.
    let collectiveBuffer = MessageBuffer(encoding: .raw)
    /// The reduce's scratch (Groups.swift, reduceScratch): kept across calls.
    lazy var collectiveScratch: [(base: UnsafeMutableRawPointer?, capacity: Int)] = [(nil, 0), (nil, 0)]
    // Message handlers (Handlers.swift).
    @exclusivity(unchecked) var handlers: [MessageHandler?] = []
    /// Messages taken by handlers (buffer id, the handler's function), to
    /// run once the reading is done.
    @exclusivity(unchecked) var handled: [(Int32, (Int32) -> Int32)] = []
    var runningHandlers = false

    // Buffer id 0 means "no buffer": slot 0 is never handed out.
    init() {}

    // MARK: Enrollment

    /// Enrolls with the local daemon. A daemon that hangs up during the
    /// handshake (one that was just killed, or halting) is retried with a
    /// fresh start, a few times, before giving up with PvmSysErr.
    @usableFromInline func enroll() throws(PVMError) {
        var attempt = 0
        while true {
            do {
                try enrollOnce()
                return
            } catch where error.code == PVMError.Code.sysErr.rawValue && attempt < 3 && hungUpDuringConnect {
                attempt += 1
                usleep(UInt32(20_000 * attempt))
            }
        }
    }

    var hungUpDuringConnect = false

    func enrollOnce() throws(PVMError) {
        hungUpDuringConnect = false
        let (connection, started) = try DaemonLauncher.connectOrStart()
        startedDaemon = started
        let ep: ShmEndpoint
        do { ep = try ShmEndpoint(name: "task") } catch {
            connection.close()
            throw PVMError(.sysErr, "shared-memory endpoint: \(error)")
        }
        do { try ep.watch(connection.fd) } catch {
            connection.close()
            throw PVMError(.sysErr, "\(error)")
        }
        daemon = connection
        endpoint = ep
        // Large messages a waiting pvm_precv takes: straight into its memory.
        ep.placement = { [unowned self] peer, head, total in self.placement(peer, head, total) }
        state = .enrolled
        openTCPListener(ep)
        var w = ControlWriter()
        w.int(Int32(getpid()))
        w.string(ep.address)
        w.int(enrollAsConsole ? 1 : 0)
        w.int(tcpPort)
        w.string(tcpAddress)
        var r: ControlReader
        do { r = try request(.connect, w) } catch {
            hungUpDuringConnect = state == .daemonLost
            teardown()
            state = .idle
            throw error
        }
        let code = try r.int()
        guard code >= 0 else { teardown(); state = .idle; throw PVMError(code: code, detail: "the daemon refused to enroll this task") }
        tid = TaskID(try r.int())
        parentTid = try r.int()
        hostNumber = try r.int()
        options[.outputTid] = try r.int()
        options[.outputCode] = try r.int()
        options[.outputContext] = try r.int()
        context = try r.int()
        siblings = try r.ints().map { TaskID($0) }
        hostName = try r.string()
        if enrollAsConsole { options[.route] = 1; options[.resvTids] = 1 }
    }

    func teardown() {
        closeTCP()
        if let d = daemon {
            endpoint?.unwatch(d.fd)
            d.close()
        }
        daemon = nil
        endpoint = nil
        peers.removeAll()
        routedOnce.removeAll()
        learnedPeers.removeAll()
        heard.removeAll()
        lastPeerTid = 0
    }

    /// Leaves the virtual machine (pvm_exit): the daemon forgets this task
    /// and fires its TaskExit notifies. The process goes on; buffers stay
    /// usable; the next call enrolls again with a new id. With catchout on,
    /// waits first until every child's output has ended.
    public func exit() throws(PVMError) {
        guard state == .enrolled else {
            if state == .daemonLost { state = .idle; teardown(); throw PVMError(.sysErr, "the daemon is gone") }
            return
        }
        // With catchout, wait until every child's output has ended (as PVM does).
        while !catchTargets.isEmpty && state == .enrolled { try pump(timeoutNanoseconds: nil) }
        _ = try? request(.exit, ControlWriter())
        teardown()
        state = .idle
        // Messages to the old task id are not this task's any more.
        for id in arrived { meta[Int(id)].inUse = false; meta[Int(id)].queued = false; freeIDs.append(id) }
        arrived.removeAll()
        // Nor its groups (the daemon took the old id out of them).
        groupMemberships.removeAll()
        frozenRosters.removeAll()
        lastGroup = nil
    }

    /// Is the daemon still there?
    @inline(__always)
    func checkDaemon() throws(PVMError) {
        if _slowPath(state != .enrolled) { throw Self.daemonGone() }
    }

    @inline(never)
    static func daemonGone() -> PVMError { PVMError(.sysErr, "the local daemon is gone") }

    // MARK: Daemon requests

    /// Sends a request to the daemon and waits for its reply. Messages that
    /// arrive on the daemon connection meanwhile are queued for receives,
    /// and those in this task's rings are taken in aside.
    @discardableResult
    func request(_ op: DaemonOperation, _ body: ControlWriter) throws(PVMError) -> ControlReader {
        try checkDaemon()
        guard let d = daemon else { throw PVMError(.sysErr, "not connected to the daemon") }
        let h = FrameHeader(bodyLength: 0, tag: op.rawValue, context: SystemContext.daemon, source: tid.rawValue,
                            destination: TaskID.daemon(host: hostNumber).rawValue, encoding: .raw)
        guard d.send(h, body: body.bytes), d.flushBlocking() else { daemonLost(); throw PVMError(.sysErr, "lost the daemon while sending a request") }
        if op == .halt { return ControlReader([]) }
        while true {
            try readDaemon()
            if let (rop, bytes) = reply {
                reply = nil
                if rop == op.rawValue { return ControlReader(bytes) }
                continue
            }
            if state != .enrolled { throw PVMError(.sysErr, "the daemon went away during \(op)") }
            // Keep the inbox moving meanwhile: the answer may wait on a peer
            // blocked on this task's full ring (a lookup is answered once
            // what this task routed is in the peer's socket, and that peer
            // reads its socket only when its send to this task completes).
            endpoint?.takeInAside()
            _ = d.wait(timeoutMilliseconds: 1)
        }
    }

    /// Takes every complete frame the daemon has sent: replies are kept for
    /// `request`, output for catchout is printed, messages are queued.
    func readDaemon() throws(PVMError) {
        guard let d = daemon else { return }
        let open = d.fill()
        do {
            while let (header, frame) = try d.nextFrame() {
                let body = UnsafeRawBufferPointer(rebasing: frame[FrameHeader.size...])
                if header.context == SystemContext.daemon && TaskID(header.source).isDaemon && header.tag == DaemonNotice.tag {
                    let text = "libpvm [\(tid)]: " + String(decoding: body, as: UTF8.self) + "\n"
                    _ = text.withCString { write(2, $0, strlen($0)) }
                } else if header.context == SystemContext.daemon && TaskID(header.source).isDaemon {
                    reply = (header.tag, Array(body))
                } else if header.context == SystemContext.taskControl && header.tag == Self.catchoutTag {
                    catchOutput(body)
                } else {
                    try arrive(header, body)
                }
            }
        } catch {
            daemonLost()
            throw PVMError(.sysErr, "malformed frame from the daemon: \(error)")
        }
        if !open { daemonLost() }
    }

    func daemonLost() {
        guard state == .enrolled else { return }
        state = .daemonLost
        if let d = daemon { endpoint?.unwatch(d.fd); d.close() }
        daemon = nil
    }

    // MARK: Output collection (catchout)

    /// Children spawned from now on send their standard output and error to
    /// this task, which writes it to `file` with `[tid]` prefixes (BEGIN and
    /// EOF lines framing each child); nil stops collecting for later spawns.
    public func catchOutput(to file: UnsafeMutablePointer<FILE>?) {
        catchFile = file
        if file != nil {
            options[.outputTid] = tid.rawValue
            options[.outputCode] = Self.catchoutTag
            options[.outputContext] = SystemContext.taskControl
        } else {
            options[.outputTid] = 0
            options[.outputCode] = 0
            options[.outputContext] = 0
        }
    }

    func catchOutput(_ body: UnsafeRawBufferPointer) {
        var r = ControlReader(body)
        guard let child = try? r.int(), let length = try? r.int() else { return }
        let data = Array(body.dropFirst(8))
        if length == OutputEvent.spawn || length == OutputEvent.new, let f = catchFile { catchTargets[child] = f }
        guard let f = catchTargets[child] else { return }
        let show = options[.showTids] != 0
        let prefix = show ? "[\(TaskID(child))] " : ""
        func put(_ s: String) { fputs(s, f) }
        switch length {
        case OutputEvent.spawn, OutputEvent.new:
            if show { put("\(prefix)BEGIN\n") }
        case OutputEvent.eof:
            if let rest = catchPartial.removeValue(forKey: child), !rest.isEmpty {
                put(prefix + String(decoding: rest, as: UTF8.self) + "\n")
            }
            // Output passed through bare ends its last line, as PVM does.
            if catchEndsMidLine.remove(child) != nil { put("\n") }
            catchTargets.removeValue(forKey: child)
            if show { put("\(prefix)EOF\n") }
        default:
            if !show {
                data.withUnsafeBytes { _ = fwrite($0.baseAddress, 1, $0.count, f) }
                if let last = data.last {
                    if last == 10 { catchEndsMidLine.remove(child) } else { catchEndsMidLine.insert(child) }
                }
                break
            }
            var pending = catchPartial[child] ?? []
            pending.append(contentsOf: data)
            while let nl = pending.firstIndex(of: 10) {
                put(prefix + String(decoding: pending[..<nl], as: UTF8.self) + "\n")
                pending.removeSubrange(...nl)
            }
            catchPartial[child] = pending
        }
        fflush(f)
    }
}

/// PVM 3.4's options (pvm_setopt/pvm_getopt), by their numbers.
public enum PVMOption: Int32, CaseIterable, Sendable {
    case route = 1, debugMask, autoErr, outputTid, outputCode, traceTid, traceCode, traceBuffer,
         traceOptions, fragSize, resvTids, selfOutputTid, selfOutputCode, selfTraceTid, selfTraceCode,
         selfTraceBuffer, selfTraceOptions, showTids, pollType, pollTime, outputContext, traceContext,
         selfOutputContext, selfTraceContext, noReset
}

/// Routing policies for `PVMOption.route`.
public enum RoutePolicy: Int32, Sendable {
    /// Every message through the daemons.
    case dontRoute = 1
    /// Directly between tasks where possible (the default).
    case allowDirect = 2
    /// Directly between tasks.
    case routeDirect = 3
}

struct Options {
    var values: [Int32] = Array(repeating: 0, count: 26)
    init() {
        values[Int(PVMOption.route.rawValue)] = RoutePolicy.allowDirect.rawValue
        values[Int(PVMOption.autoErr.rawValue)] = 1
        values[Int(PVMOption.fragSize.rawValue)] = 4080
        values[Int(PVMOption.showTids.rawValue)] = 1
    }
    subscript(_ o: PVMOption) -> Int32 {
        get { values[Int(o.rawValue)] }
        set { values[Int(o.rawValue)] = newValue }
    }
}
