#if canImport(Glibc)
import Glibc
#endif
import CSupport
import PVMSystem

/// Index of a connected peer in an endpoint. Reused after the peer's
/// `.disconnected` event has been delivered.
public typealias ShmPeerID = UInt32

/// Which mechanism carried a message.
public enum ShmPath: String, Sendable, Codable {
    /// Copied through the ring.
    case inline
    /// Copied through the pair's express line (16 bytes at most, when the
    /// two tasks take turns: a ping-pong; see `ExpressLine`).
    case express
    /// Pulled by the receiver straight from the sender's memory (process_vm_readv).
    case singleCopy = "single-copy"
    /// Copied through the ring in pieces (where single copy is not permitted).
    case pipelined
    /// Pulled straight from the sender's memory into memory the receiver
    /// named for it (`ShmEndpoint.placement`): the message's first bytes
    /// only are delivered, and `ShmMessage.total` says how long it is.
    case placed
    /// Read in place from the sender's shared heap.
    case loan
}

/// A received message. `bytes` is valid only until the handler returns.
public struct ShmMessage {
    public let bytes: UnsafeRawBufferPointer
    public let path: ShmPath
    /// The word the sender passed with an inline message (0 on every other
    /// path): opaque to the transport, a place for a tiny header.
    public let flags: UInt16
    /// The message's length: `bytes.count`, except on the `.placed` path,
    /// where `bytes` holds only its first bytes (those before the offset
    /// that `placement` returned) and the rest lies where it said.
    public let total: Int

    public init(bytes: UnsafeRawBufferPointer, path: ShmPath, flags: UInt16 = 0, total: Int? = nil) {
        self.bytes = bytes
        self.path = path
        self.flags = flags
        self.total = total ?? bytes.count
    }
}

/// What `poll` and `receive` report.
public enum ShmEvent {
    case message(ShmPeerID, ShmMessage)
    /// A peer connected to this endpoint.
    case connected(ShmPeerID)
    /// A peer left (exited, was killed, closed, or broke the protocol). Every
    /// message it completed before that has been delivered.
    case disconnected(ShmPeerID, String)
    /// A descriptor registered with `watch(_:)` is readable (or hung up).
    /// Reported while it stays so: the caller reads it.
    case readable(Int32)
}

@usableFromInline
enum PeerState: UInt8 { case free = 0, open, draining }

/// Hot per-peer state, kept in one flat table (no reference counting on the
/// message path). Descriptors and mappings that own resources live in
/// `PeerResources`.
@usableFromInline
struct PeerSlot {
    @usableFromInline var state: PeerState
    @usableFromInline var producer: RingProducer
    @usableFromInline var consumer: RingConsumer
    @usableFromInline var peerDoorbell: Int32
    @usableFromInline var socket: Int32
    @usableFromInline var pid: Int32
    /// The peer may pull our large messages with process_vm_readv.
    @usableFromInline var sendSingleCopy: Bool
    @usableFromInline var singleCopyIssued: UInt64 = 0
    @usableFromInline var loansOut: Int = 0
    @usableFromInline var releaseHead: UInt64 = 0
    @usableFromInline var peerHeap: UnsafeMutableRawPointer? = nil
    @usableFromInline var peerHeapCapacity: Int = 0
    @usableFromInline var heapSent: Bool = false
    @usableFromInline var assembly: UnsafeMutableRawPointer? = nil
    @usableFromInline var assemblyCapacity: Int = 0
    @usableFromInline var assemblyTotal: Int = 0
    @usableFromInline var assemblyReceived: Int = 0
    @usableFromInline var assemblyBusy: Bool = false
    /// The pair's express line (small messages both ways, see pvm_shm.h).
    @usableFromInline var express: ExpressLine
    /// The peer refused a share of a single-copy pull: no more offers.
    @usableFromInline var splitRefused: Bool = false
    /// The peer shared the copy of our last large single-copy message.
    @usableFromInline var peerSharesCopies: Bool = false
}

/// A connection accepted by this endpoint whose handshake is under way.
final class Handshake {
    enum Stage { case hello, confirm }
    private var ownedSocket: OwnedDescriptor?
    let credentials: UnixSocket.Credentials
    let deadline: UInt64
    var stage = Stage.hello
    var buffer = [UInt8](repeating: 0, count: ControlMessage.size)
    var received = 0
    var descriptors: [Int32] = []
    var inbox: SharedSegment? = nil
    var outbox: SharedSegment? = nil
    var peerDoorbell: OwnedDescriptor? = nil

    init(socket: consuming OwnedDescriptor, credentials: UnixSocket.Credentials, deadline: UInt64) {
        self.ownedSocket = .some(socket)
        self.credentials = credentials
        self.deadline = deadline
    }

    var socket: OwnedDescriptor {
        _read { yield ownedSocket! }
    }

    func takeSocket() -> OwnedDescriptor { ownedSocket.take()! }

    deinit {
        for fd in descriptors { _ = Glibc.close(fd) }
    }
}

/// Owners of a peer's descriptors and mappings.
final class PeerResources {
    let inbox: SharedSegment       // ring the peer writes into (ours)
    let outbox: SharedSegment      // ring we write into (the peer's)
    let socket: OwnedDescriptor
    let doorbell: OwnedDescriptor  // the peer's eventfd
    var heap: SharedSegment? = nil // the peer's shared heap, once sent

    init(inbox: consuming SharedSegment, outbox: consuming SharedSegment, socket: consuming OwnedDescriptor, doorbell: consuming OwnedDescriptor) {
        self.inbox = inbox
        self.outbox = outbox
        self.socket = socket
        self.doorbell = doorbell
    }
}

/// A task's endpoint of the shared-memory transport.
///
/// Each ordered pair of endpoints shares one single-producer ring, created
/// and first-touched by the receiver and handed to the sender as a sealed
/// memfd over a Unix socket (abstract namespace: no file on disk). The
/// socket stays open: its hang-up is how a dead peer is noticed, and it
/// carries the shared heap's descriptor for zero copy.
///
/// Messages up to `eagerLimit` are copied through the ring, and up to 16
/// bytes through the pair's express line when the two take turns. Larger
/// ones are pulled by the receiver with one `process_vm_readv` when the
/// handshake's probe showed that the kernel permits it (above
/// `singleCopyLimit`, when that measures cheaper than the pipelined copy),
/// and otherwise copied through the ring in pipelined pieces. Loaned buffers cross as an offset into the
/// sender's shared heap. Whatever the path, messages from one peer arrive in
/// the order they were sent.
///
/// Threading: an endpoint belongs to one thread. Handlers must not call
/// `poll` or `receive` (they may `send`). Because of that contract the
/// stored properties touched per message are `@exclusivity(unchecked)`:
/// the dynamic exclusivity check (a runtime call per access) cost a fifth of
/// the small-message round trip when measured with perf.
public final class ShmEndpoint {
    /// The address peers pass to `connect(to:)`.
    public let address: String
    public let configuration: ShmConfiguration
    /// An idle poll also asks epoll about the watched descriptors once in
    /// `eventPollMask + 1` polls (a power of two less one). The default keeps
    /// the rings' polling cheap when sockets carry only control traffic; a
    /// caller with data on a watched socket (TCP links) lowers it. (At 63, a
    /// spinning receive spent a good part of its wait in epoll_wait, and a
    /// message that arrived meanwhile waited for the system call to return:
    /// 1023 took the bare transport's 8 B p50 from 0.08-0.10 us, mean
    /// 0.096-0.12, to 0.080, mean 0.083-0.086, on this machine kind. A
    /// spin still asks epoll every 10-20 us, and sleeps in epoll after it.)
    @exclusivity(unchecked) public var eventPollMask: UInt32 = 1023

    private let listener: OwnedDescriptor
    private let epoll: Epoll
    /// A descriptor that polls readable when this endpoint has something to
    /// handle (its epoll set): for programs that wait in their own select().
    public var pollDescriptor: Int32 { epoll.descriptor.rawValue }
    private let doorbell: Doorbell
    @usableFromInline let slots: UnsafeMutablePointer<PeerSlot>
    @exclusivity(unchecked) @usableFromInline var peerLimit = 0
    /// Largest message sent through an express line (-1: none, as
    /// configured; never above the eager limit, so a forced large-message
    /// path stays forced).
    @usableFromInline let expressLimit: Int
    /// By slot. A flat table rather than an array: an array of these
    /// would have its storage type made at run time, in every task's start-up.
    private let resources: UnsafeMutablePointer<PeerResources?>
    @exclusivity(unchecked) private var connectionEvents: [(ShmPeerID, String?)] = []
    /// Messages taken in while a send was blocked, in order: the bytes, and
    /// the allocation holding them (a large one is the buffer it was
    /// assembled or read into, handed over whole; `large` says it has the
    /// front margin of `allocateLarge`).
    private struct Pending {
        var peer: ShmPeerID; var path: ShmPath; var flags: UInt16
        var bytes: UnsafeRawBufferPointer; var block: UnsafeMutableRawPointer; var blockSize: Int; var large: Bool
        /// The message's length (more than `bytes.count` on the `.placed` path).
        var total: Int
    }
    @exclusivity(unchecked) private var pending: [Pending] = []
    /// Large buffers given back while pending messages were delivered, for
    /// the next assembly (a few at most: the rest are freed).
    @exclusivity(unchecked) private var spares: [(data: UnsafeMutableRawPointer, capacity: Int)] = []
    @exclusivity(unchecked) private var spareBytes = 0
    /// While traffic flows the spares may hold up to this much (a window of
    /// large messages set aside comes back as spares, and the next window
    /// reuses them instead of faulting in new pages); once no spare has been
    /// taken or given back for `spareKeepNanoseconds` and a receive sleeps,
    /// they are trimmed to `idleSpares`. (Trimmed at once on every sleep,
    /// the spares of a window were gone by the next: a streaming peer
    /// sleeps between windows while the other side turns round, and each
    /// window then faulted in, and zeroed, a new buffer per message.)
    private static let spareBytesLimit = 512 << 20
    private static let idleSpares = 4
    private static let spareKeepNanoseconds: UInt64 = 250_000_000
    @exclusivity(unchecked) private var lastSpareUse: UInt64 = 0
    @exclusivity(unchecked) private var pendingHead = 0
    @exclusivity(unchecked) private var largeBuffer: UnsafeMutableRawPointer? = nil
    @exclusivity(unchecked) private var largeCapacity = 0
    @exclusivity(unchecked) private var heap: LoanHeap? = nil
    @exclusivity(unchecked) private var loansSinceReap = 0
    private static let reapInterval = 32
    private let probeWord: UnsafeMutablePointer<UInt64>
    private let cpus: Int
    /// How long a wait polls before it sleeps, as far as the peer count
    /// says (see `updateSpinBudget`); a wait asks `spinBudgetNow`.
    @exclusivity(unchecked) @usableFromInline var spinBudget: UInt64
    /// More peers than CPUs less one: whether a wait may spin depends on
    /// how many threads are runnable (`spinBudgetNow`).
    @exclusivity(unchecked) private var crowded = false
    @exclusivity(unchecked) private var runnableCheckedAt: UInt64 = 0
    @exclusivity(unchecked) private var runnableFit = false
    /// How long a runnable count is trusted.
    static let runnableCheckInterval: UInt64 = 10_000_000
    @exclusivity(unchecked) private var idlePolls: UInt32 = 0
    @exclusivity(unchecked) private var openPeers = 0
    @exclusivity(unchecked) private var queueing = false
    /// A pipelined message being assembled in memory `placement` named: its
    /// peer's slot (-1: none), where the bytes from `placedOffset` on go,
    /// and its first `placedOffset` bytes.
    @exclusivity(unchecked) private var placedSlot = -1
    @exclusivity(unchecked) private var placedDestination: UnsafeMutableRawPointer? = nil
    @exclusivity(unchecked) private var placedOffset = 0
    private let placedHead = UnsafeMutableRawPointer.allocate(byteCount: ShmEndpoint.placementHeadSize, alignment: 8)
    /// Doorbell-only waits of blocked sends (see `sleep`).
    @exclusivity(unchecked) private var quietWaits: UInt32 = 0
    @exclusivity(unchecked) private var deliveringLarge = false
    /// Large messages (single-copy pulls, pipelined chunks) taken in inside
    /// blocked sends, and whether the last adaptive large send saw any.
    @exclusivity(unchecked) private var nestedLargeReceives: UInt64 = 0
    @exclusivity(unchecked) private var largeStreamsBothWays = false
    /// The buffer of the large message a handler is being given, which it
    /// may take (`exchangeLargeBuffer`); `slot` -1 is `largeBuffer`, -2 a
    /// message that was set aside (`pending`).
    private struct Delivering { var data: UnsafeMutableRawPointer; var capacity: Int; var slot: Int }
    @exclusivity(unchecked) private var delivering: Delivering? = nil
    @exclusivity(unchecked) private var handedOver = false

    /// Bytes in front of the data of every buffer that large messages are
    /// assembled or read into, so that a buffer handed over (see
    /// `exchangeLargeBuffer`) has room for a frame header before the body.
    public static let largeBufferFront = 64
    private static func allocateLarge(_ capacity: Int) -> UnsafeMutableRawPointer {
        let size = capacity + largeBufferFront
        guard size >= hugePage else { return UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64) + largeBufferFront }
        // On transparent huge pages where the kernel offers them on request
        // (THP "madvise" mode): a new 4 MiB buffer then costs 2 page faults
        // on its first write instead of 1024 (a fresh buffer per message is
        // what a blocked send's setting aside costs). A hint: no error.
        let block = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: hugePage)
        _ = madvise(block, size, MADV_HUGEPAGE)
        return block + largeBufferFront
    }
    private static let hugePage = 2 << 20
    private static func freeLarge(_ data: UnsafeMutableRawPointer?) {
        if let data { (data - largeBufferFront).deallocate() }
    }

    private static let doorbellToken: UInt64 = 0
    private static let listenerToken: UInt64 = 1
    private static let peerTokenBase: UInt64 = 2
    private static let handshakeTokenBase: UInt64 = 1 << 32
    private static let externalTokenBase: UInt64 = 1 << 62
    @exclusivity(unchecked) private var externalEvents: [Int32] = []
    private var handshakes: [UInt64: Handshake] = [:]
    private var handshakeCounter: UInt64 = 0

    /// Creates an endpoint listening at an abstract-namespace address made
    /// from `name`, this process and a random suffix.
    public init(name: String, configuration: ShmConfiguration = .fromEnvironment()) throws(TransportError) {
        self.configuration = try configuration.validated()
        expressLimit = configuration.express ? min(ExpressLine.capacity, configuration.eagerLimit) : -1
        let random = pvm_random_u64()
        // ASCII letters, digits and '-' kept, anything else '_' (bytes, not
        // Unicode properties: this runs in every task's start-up).
        let safe = String(decoding: name.utf8.prefix(40).map { b -> UInt8 in
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"): return b
            default: return UInt8(ascii: "_")
            }
        }, as: UTF8.self)
        address = "@pvm-\(getuid())-\(getpid())-\(String(random & 0xffff_ffff, radix: 16))-\(safe)"
        do {
            listener = try UnixSocket.listen(path: address)
            epoll = try Epoll()
            doorbell = try Doorbell()
            try epoll.add(doorbell.descriptor.rawValue, events: .readable, token: Self.doorbellToken)
            try epoll.add(listener.rawValue, events: .readable, token: Self.listenerToken)
        } catch {
            throw TransportError(error, "creating shared-memory endpoint \(name)")
        }
        slots = .allocate(capacity: configuration.maxPeers)
        resources = .allocate(capacity: configuration.maxPeers)
        resources.initialize(repeating: nil, count: configuration.maxPeers)
        probeWord = .allocate(capacity: 1)
        probeWord.pointee = pvm_random_u64() | 1
        cpus = SystemProbe.availableCPUs()
        spinBudget = 0  // until a peer connects (updateSpinBudget)
        if configuration.largeMode == .automatic {
            // Let peers of this user read our memory even under Yama ptrace_scope 1.
            _ = pvm_allow_ptrace_any()
        }
    }

    deinit {
        for i in 0..<peerLimit where slots[i].state != .free {
            Self.freeLarge(slots[i].assembly)
        }
        slots.deallocate()
        // One by one: deinitialize(count:) would make the element type's
        // metadata at run time.
        for i in 0..<configuration.maxPeers { _ = (resources + i).move() }
        resources.deallocate()
        probeWord.deallocate()
        placedHead.deallocate()
        Self.freeLarge(largeBuffer)
        for i in pendingHead..<pending.count { pending[i].block.deallocate() }
        for s in spares { Self.freeLarge(s.data) }
    }

    // MARK: Connecting

    /// Connects to the endpoint at `address` (same host, same user).
    public func connect(to address: String) throws(TransportError) -> ShmPeerID {
        let socket: OwnedDescriptor
        do { socket = try UnixSocket.connect(path: address) } catch {
            throw TransportError(error, "connecting to \(address)")
        }
        let credentials = try checkCredentials(socket)
        let inbox = try makeRing()
        let hello = greeting(.hello)
        try sendControl(hello, on: socket, descriptors: [inbox.descriptor.rawValue, doorbell.descriptor.rawValue])
        // Two tasks may connect to each other at the same moment: each
        // answers the other's hello while it waits for its welcome.
        let (welcome, fds) = try receiveControl(on: socket, expecting: .welcome, accepting: true)
        let peerDoorbell = OwnedDescriptor(taking: fds[1])
        let outbox = try mapPeerRing(OwnedDescriptor(taking: fds[0]))
        var confirm = ControlMessage(kind: .confirm)
        confirm.canReadPeer = canRead(pid: credentials.pid, address: welcome.probeAddress, value: welcome.probeValue)
        try sendControl(confirm, on: socket, descriptors: [])
        return try register(inbox: inbox, outbox: outbox, socket: socket, doorbell: peerDoorbell,
                            pid: credentials.pid, peerReadsUs: welcome.canReadPeer, connector: true)
    }

    /// Accepts pending connections. The handshake then advances as its
    /// messages arrive (epoll), so a client that connects and goes quiet
    /// costs one descriptor until its deadline, never a stalled `poll`.
    private func accept() {
        while true {
            let socket: OwnedDescriptor
            do {
                guard let s = try UnixSocket.accept(listener) else { return }
                socket = s
            } catch {
                return
            }
            do {
                let credentials = try checkCredentials(socket)
                try UnixSocket.setNonBlocking(socket, true)
                handshakeCounter &+= 1
                let token = Self.handshakeTokenBase + handshakeCounter
                try epoll.add(socket.rawValue, events: [.readable, .readHangup], token: token)
                handshakes[token] = Handshake(socket: socket, credentials: credentials,
                                              deadline: Clock.monotonicNanoseconds() + UInt64(configuration.handshakeTimeoutMilliseconds) * 1_000_000)
            } catch {
                continue  // refused (another user) or out of resources: only this connection goes
            }
        }
    }

    /// Reads what has arrived of the next handshake message and acts on it
    /// once complete; any error drops that connection only.
    private func advanceHandshake(_ token: UInt64) {
        guard let h = handshakes[token] else { return }
        do throws(TransportError) {
            while h.received < ControlMessage.size {
                var got: UnixSocket.Received? = nil
                var failure: SystemError? = nil
                let offset = h.received
                h.buffer.withUnsafeMutableBytes { raw in
                    do throws(SystemError) {
                        got = try UnixSocket.receive(h.socket, into: UnsafeMutableRawBufferPointer(rebasing: raw[offset...]))
                    } catch {
                        failure = error
                    }
                }
                if let failure { throw TransportError(failure, "handshake") }
                guard let got else { return }  // the rest has not arrived yet
                h.descriptors += got.descriptors
                if got.truncated { throw TransportError(.malformed, "handshake message with too many descriptors") }
                if got.count == 0 { throw TransportError(.peerGone, "peer closed during the handshake") }
                h.received += got.count
            }
            var decoded: Result<ControlMessage, TransportError> = .failure(TransportError(.malformed, "empty"))
            h.buffer.withUnsafeBytes { raw in
                do throws(TransportError) { decoded = .success(try ControlMessage(decoding: raw)) } catch { decoded = .failure(error) }
            }
            let message = try decoded.get()
            let fds = h.descriptors
            h.descriptors = []
            h.received = 0
            switch (h.stage, message.kind) {
            case (.hello, .hello) where fds.count == 2:
                let peerDoorbell = OwnedDescriptor(taking: fds[1])
                let outbox = try mapPeerRing(OwnedDescriptor(taking: fds[0]))
                let inbox = try makeRing()
                var welcome = greeting(.welcome)
                welcome.canReadPeer = canRead(pid: h.credentials.pid, address: message.probeAddress, value: message.probeValue)
                try sendControl(welcome, on: h.socket, descriptors: [inbox.descriptor.rawValue, doorbell.descriptor.rawValue])
                h.inbox = consume inbox
                h.outbox = consume outbox
                h.peerDoorbell = consume peerDoorbell
                h.stage = .confirm
            case (.confirm, .confirm) where fds.isEmpty:
                handshakes[token] = nil
                epoll.remove(h.socket.rawValue)
                guard let inbox = h.inbox.take(), let outbox = h.outbox.take(), let peerDoorbell = h.peerDoorbell.take() else { return }
                let peer = try register(inbox: inbox, outbox: outbox, socket: h.takeSocket(), doorbell: peerDoorbell,
                                        pid: h.credentials.pid, peerReadsUs: message.canReadPeer, connector: false)
                connectionEvents.append((peer, nil))
            default:
                for fd in fds { _ = Glibc.close(fd) }
                throw TransportError(.malformed, "handshake: unexpected \(message.kind) with \(fds.count) descriptors")
            }
        } catch {
            dropHandshake(token)
        }
    }

    private func dropHandshake(_ token: UInt64) {
        guard let h = handshakes.removeValue(forKey: token) else { return }
        epoll.remove(h.socket.rawValue)
        for fd in h.descriptors { _ = Glibc.close(fd) }
        h.descriptors = []
    }

    /// Drops handshakes that have not completed in time.
    private func expireHandshakes() {
        guard !handshakes.isEmpty else { return }
        let now = Clock.monotonicNanoseconds()
        for (token, h) in handshakes where h.deadline < now { dropHandshake(token) }
    }

    /// The hello or welcome this endpoint sends: its ring size, and the
    /// address and value of its probe word (the peer tries to read it with
    /// process_vm_readv to learn whether single copy is permitted).
    private func greeting(_ kind: ControlMessage.Kind) -> ControlMessage {
        var m = ControlMessage(kind: kind)
        m.ringBytes = UInt64(configuration.ringCapacity)
        m.probeAddress = UInt64(UInt(bitPattern: probeWord))
        m.probeValue = probeWord.pointee
        m.pid = getpid()
        return m
    }

    private func checkCredentials(_ socket: borrowing OwnedDescriptor) throws(TransportError) -> UnixSocket.Credentials {
        let c: UnixSocket.Credentials
        do { c = try UnixSocket.credentials(of: socket) } catch { throw TransportError(error, "peer credentials") }
        guard c.uid == getuid() else {
            throw TransportError(.malformed, "refused a connection from uid \(c.uid) (pid \(c.pid)): not this user")
        }
        return c
    }

    private func makeRing() throws(TransportError) -> SharedSegment {
        let size = RingLayout.segmentSize(capacity: configuration.ringCapacity)
        do {
            let segment = try SharedSegment(name: "pvm-ring", size: size)
            _ = RingLayout(initializing: segment.base, capacity: configuration.ringCapacity, creatorPID: getpid())
            return segment
        } catch {
            throw TransportError(error, "creating a \(size)-byte ring segment")
        }
    }

    private func mapPeerRing(_ fd: consuming OwnedDescriptor) throws(TransportError) -> SharedSegment {
        let segment: SharedSegment
        do {
            segment = try SharedSegment(mapping: fd, minimumSize: ringHeaderSize + 4096, maximumSize: ringHeaderSize + (1 << 30))
        } catch {
            throw TransportError(.malformed, "peer ring segment refused: \(error)", underlying: error)
        }
        _ = try RingLayout(validating: segment.base, segmentSize: segment.size)
        return segment
    }

    private func canRead(pid: Int32, address: UInt64, value: UInt64) -> Bool {
        guard configuration.largeMode == .automatic, address != 0 else { return false }
        return CrossMemoryAttach.probe(pid: pid, address: address, value: value) == .readable
    }

    private func register(inbox: consuming SharedSegment, outbox: consuming SharedSegment, socket: consuming OwnedDescriptor,
                          doorbell peerDoorbell: consuming OwnedDescriptor, pid: Int32, peerReadsUs: Bool,
                          connector: Bool) throws(TransportError) -> ShmPeerID {
        guard let index = (0..<configuration.maxPeers).first(where: { $0 >= peerLimit || slots[$0].state == .free }) else {
            throw TransportError(.exhausted, "peer table full (\(configuration.maxPeers) peers); raise PVM_SHM_MAX_PEERS")
        }
        let consumer = RingConsumer(RingLayout(header: inbox.base, capacity: configuration.ringCapacity))
        let producer = RingProducer(try RingLayout(validating: outbox.base, segmentSize: outbox.size))
        do {
            try epoll.add(socket.rawValue, events: [.readable, .readHangup], token: Self.peerTokenBase + UInt64(index))
        } catch {
            throw TransportError(error, "watching peer socket")
        }
        // The pair uses the express line of the ring the connecting task made
        // (its inbox): both map it, and each writes its own half.
        let express = ExpressLine(line: ExpressLine.line(in: connector ? inbox.base : outbox.base), connector: connector)
        (slots + index).initialize(to: PeerSlot(
            state: .open, producer: producer, consumer: consumer,
            peerDoorbell: peerDoorbell.rawValue, socket: socket.rawValue, pid: pid,
            sendSingleCopy: peerReadsUs && configuration.largeMode == .automatic,
            express: express))
        resources[index] = PeerResources(inbox: inbox, outbox: outbox, socket: socket, doorbell: peerDoorbell)
        peerLimit = max(peerLimit, index + 1)
        openPeers += 1
        updateSpinBudget()
        return ShmPeerID(index)
    }

    /// Never spin when there are more local tasks (this one and its peers)
    /// than CPUs, unless most of them sleep (`spinBudgetNow`): the spinner
    /// would take the CPU its peer needs.
    private func updateSpinBudget() {
        // No peer: nothing to spin for (the watched sockets wake the sleep).
        let peers = openPeers + externalDataSources
        crowded = peers > 0 && openPeers + 1 > cpus
        spinBudget = peers == 0 || crowded ? 0 : configuration.spinNanoseconds
    }

    /// How long the wait that begins at `now` may poll before it sleeps.
    /// With more peers than CPUs it may still spin while the machine's
    /// runnable threads fit its CPUs: peers that sleep (a parent waiting
    /// for its workers' results, say) take no CPU from the spinner's peer,
    /// and ones that run make the count too high. The count (a read of
    /// /proc/loadavg) is taken at most once in `runnableCheckInterval`;
    /// spinners that crowd the CPUs stop spinning at their next check.
    @inline(__always)
    func spinBudgetNow(_ now: UInt64) -> UInt64 {
        _fastPath(!crowded) ? spinBudget : crowdedSpinBudget(now)
    }

    @inline(never)
    private func crowdedSpinBudget(_ now: UInt64) -> UInt64 {
        if now &- runnableCheckedAt >= Self.runnableCheckInterval {
            runnableCheckedAt = now
            runnableFit = (SystemProbe.runnableThreads() ?? Int.max) <= cpus
        }
        return runnableFit ? configuration.spinNanoseconds : 0
    }

    /// Watched descriptors that carry message data (a caller's TCP links):
    /// a blocked receive then polls for a while before it sleeps, asking
    /// epoll every fourth poll, as it polls the rings of its peers.
    @exclusivity(unchecked) public var externalDataSources: Int = 0 {
        didSet {
            updateEventPollMask()
            updateSpinBudget()
        }
    }

    /// When set, idle polls between the epoll checks call it: the caller
    /// reads the socket its traffic comes on directly, where a read that
    /// finds a frame is one system call and epoll's report and then the
    /// read are two (about 0.5 us of a 5.7 us one-way TCP trip on this
    /// machine kind, measured with a C ping-pong spinning either way).
    /// Returns whether it took anything in (the poll then counts an event).
    /// While set, epoll is asked every eighth idle poll and the probe runs
    /// on every other one.
    @exclusivity(unchecked) public var idleProbe: (() throws -> Bool)? {
        didSet { updateEventPollMask() }
    }

    private func updateEventPollMask() {
        eventPollMask = externalDataSources == 0 ? 1023 : idleProbe == nil ? 3 : 7
    }

    /// The path a message of `size` bytes to `peer` takes (without loans).
    public func path(to peer: ShmPeerID, size: Int) -> ShmPath {
        if size <= configuration.eagerLimit { return .inline }
        guard Int(peer) < peerLimit, slots[Int(peer)].state != .free else { return .pipelined }
        guard slots[Int(peer)].sendSingleCopy else { return .pipelined }
        if size <= configuration.singleCopyLimit { return .singleCopy }
        return configuration.adaptiveLarge && largePaths[bytes: size].prefersSingleCopy ? .singleCopy : .pipelined
    }

    /// Number of connected peers.
    public var peerCount: Int { openPeers }

    /// Adds `fd` (a socket of the caller's) to the set this endpoint sleeps
    /// on, so one blocking receive waits for both: `.readable(fd)` is
    /// reported when it has input or hangs up.
    public func watch(_ fd: Int32) throws(TransportError) {
        do { try epoll.add(fd, events: [.readable, .readHangup], token: Self.externalTokenBase + UInt64(UInt32(bitPattern: fd))) } catch {
            throw TransportError(error, "watching descriptor \(fd)")
        }
    }

    /// Stops watching `fd`.
    public func unwatch(_ fd: Int32) { epoll.remove(fd) }

    /// Closes the connection to `peer` (its `.disconnected` event follows).
    public func disconnect(_ peer: ShmPeerID) {
        guard Int(peer) < peerLimit, slots[Int(peer)].state != .free else { return }
        close(Int(peer), reason: "closed by this endpoint")
    }

    // MARK: Control messages

    private func sendControl(_ message: ControlMessage, on socket: borrowing OwnedDescriptor, descriptors: [Int32]) throws(TransportError) {
        var raw = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        do {
            try withUnsafeMutableBytes(of: &raw) { buffer throws(SystemError) in
                message.encode(into: buffer)
                try UnixSocket.send(socket, UnsafeRawBufferPointer(buffer), descriptors: descriptors)
            }
        } catch {
            throw TransportError(.peerGone, "sending \(message.kind) to peer: \(error)", underlying: error)
        }
    }

    /// Reads one control message (with a deadline). The descriptors that came
    /// with it are returned raw: the caller owns them from here on; on any
    /// error they are closed here. `accepting`: meanwhile take in new
    /// connections and advance their handshakes (a `connect` waiting for its
    /// welcome, while its peer may be waiting for this endpoint's).
    private func receiveControl(on socket: borrowing OwnedDescriptor, expecting kind: ControlMessage.Kind,
                                accepting: Bool = false) throws(TransportError) -> (ControlMessage, [Int32]) {
        var raw = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        var fds: [Int32] = []
        let deadline = Clock.monotonicNanoseconds() + UInt64(configuration.handshakeTimeoutMilliseconds) * 1_000_000
        var failure: TransportError? = nil
        withUnsafeMutableBytes(of: &raw) { buffer in
            var got = 0
            while got < ControlMessage.size {
                let now = Clock.monotonicNanoseconds()
                if now >= deadline { failure = TransportError(.timedOut, "peer sent no \(kind) within \(configuration.handshakeTimeoutMilliseconds) ms"); return }
                let wait = Int32(min((deadline - now) / 1_000_000 + 1, 60_000))
                if accepting {
                    if !pollAccepting(socket.rawValue, wait) { continue }
                } else {
                    var p = pollfd(fd: socket.rawValue, events: Int16(POLLIN), revents: 0)
                    if Glibc.poll(&p, 1, wait) <= 0 { continue }
                }
                do throws(SystemError) {
                    guard let r = try UnixSocket.receive(socket, into: UnsafeMutableRawBufferPointer(rebasing: buffer[got..<ControlMessage.size])) else { continue }
                    fds += r.descriptors
                    if r.truncated { failure = TransportError(.malformed, "control message with too many descriptors"); return }
                    if r.count == 0 { failure = TransportError(.peerGone, "peer closed during the handshake (waiting for \(kind))"); return }
                    got += r.count
                } catch {
                    failure = TransportError(error, "receiving \(kind)")
                    return
                }
            }
        }
        do throws(TransportError) {
            if let failure { throw failure }
            let message = try withUnsafeBytes(of: &raw) { buffer throws(TransportError) in try ControlMessage(decoding: buffer) }
            guard message.kind == kind else {
                throw TransportError(.malformed, "expected \(kind), peer sent \(message.kind)")
            }
            guard fds.count == message.expectedDescriptors else {
                throw TransportError(.malformed, "\(kind) came with \(fds.count) descriptors, expected \(message.expectedDescriptors)")
            }
            return (message, fds)
        } catch {
            for fd in fds { _ = Glibc.close(fd) }
            throw error
        }
    }

    /// Waits up to `wait` ms for `fd` to be readable while accepting
    /// connections and advancing the handshakes under way; true when `fd`
    /// is readable.
    private func pollAccepting(_ fd: Int32, _ wait: Int32) -> Bool {
        var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: listener.rawValue, events: Int16(POLLIN), revents: 0)]
        var tokens: [UInt64] = []
        for (token, h) in handshakes {
            tokens.append(token)
            fds.append(pollfd(fd: h.socket.rawValue, events: Int16(POLLIN), revents: 0))
        }
        guard Glibc.poll(&fds, nfds_t(fds.count), wait) > 0 else { return false }
        for (i, token) in tokens.enumerated() where fds[i + 2].revents != 0 { advanceHandshake(token) }
        if fds[1].revents != 0 { accept() }
        expireHandshakes()
        return fds[0].revents != 0
    }

    /// Reads the control messages waiting on a peer's socket (after the
    /// handshake only `heap` may come). False when the peer is gone or broke
    /// the protocol (the slot is then draining).
    private func serviceSocket(_ index: Int, wait: Bool) -> Bool {
        guard let res = resources[index] else { return false }
        while true {
            var p = pollfd(fd: res.socket.rawValue, events: Int16(POLLIN), revents: 0)
            let ready = Glibc.poll(&p, 1, wait ? configuration.handshakeTimeoutMilliseconds : 0)
            if ready <= 0 {
                if wait { beginClose(index, reason: "peer sent a loan without its heap") ; return false }
                return true
            }
            do throws(TransportError) {
                let (message, fds) = try receiveControl(on: res.socket, expecting: .heap)
                let heap: SharedSegment
                do {
                    heap = try SharedSegment(mapping: OwnedDescriptor(taking: fds[0]), minimumSize: Int(PVM_CONTROL_SLOT) + 4096, maximumSize: 1 << 40)
                } catch {
                    throw TransportError(.malformed, "peer heap refused: \(error)")
                }
                let magic = heap.base.load(as: UInt64.self)
                let capacity = Int(heap.base.load(fromByteOffset: 16, as: UInt64.self))
                guard magic == PVM_HEAP_MAGIC, capacity == heap.size - Int(PVM_CONTROL_SLOT), UInt64(capacity) + UInt64(PVM_CONTROL_SLOT) == message.heapBytes else {
                    beginClose(index, reason: "peer heap segment is malformed")
                    return false
                }
                slots[index].peerHeap = heap.base + Int(PVM_CONTROL_SLOT)
                slots[index].peerHeapCapacity = capacity
                res.heap = consume heap
                if wait { return true }
            } catch {
                beginClose(index, reason: error.kind == .peerGone ? "peer closed the connection" : "\(error)")
                return false
            }
        }
    }

    // MARK: Receiving

    /// Delivers what has arrived, without blocking. Returns the number of
    /// events delivered.
    @discardableResult
    public func poll(_ handler: (ShmEvent) throws -> Void) throws -> Int {
        var delivered = 0
        if _slowPath(pendingHead < pending.count || !connectionEvents.isEmpty || !externalEvents.isEmpty) {
            delivered += try deliverQueued(handler)
        }
        var i = 0
        let limit = peerLimit
        while i < limit {
            if slots[i].state != .free {
                delivered += try drain(i, handler)
            }
            i += 1
        }
        if delivered == 0 {
            idlePolls &+= 1
            if idlePolls & eventPollMask == 0 {
                pumpEvents(timeoutMilliseconds: 0)
                if !connectionEvents.isEmpty || !externalEvents.isEmpty { delivered += try deliverQueued(handler) }
            } else if idlePolls & 1 == 1, let probe = idleProbe, try probe() {
                delivered += 1
            }
        }
        return delivered
    }

    /// Blocks until at least one event is delivered or the timeout passes
    /// (nil: no timeout). Polls for up to `spinNanoseconds` (0 when
    /// oversubscribed), then sleeps in epoll at no CPU cost until a peer
    /// rings the doorbell or a socket has news.
    @discardableResult
    public func receive(timeoutNanoseconds: UInt64? = nil, _ handler: (ShmEvent) throws -> Void) throws -> Int {
        // The clock is read only once polling has come up empty a few times:
        // a message that is already there costs no clock read.
        var start: UInt64 = 0
        var budget: UInt64 = 0
        var spins: UInt32 = 0
        while true {
            let n = try poll(handler)
            if n > 0 { return n }
            spins &+= 1
            if spins & 15 != 0 { pvm_cpu_relax(); continue }
            if start == 0 {
                start = Clock.monotonicNanoseconds()
                budget = spinBudgetNow(start)
            }
            let elapsed = Clock.monotonicNanoseconds() &- start
            if let t = timeoutNanoseconds, elapsed >= t { return 0 }
            if elapsed < budget { pvm_cpu_relax(); continue }
            var waitMs: Int32 = -1
            if let t = timeoutNanoseconds { waitMs = Int32(min((t - elapsed + 999_999) / 1_000_000, 3_600_000)) }
            if _slowPath(spares.count > Self.idleSpares) {
                // Kept through a short wait; trimmed once idle (waking for it).
                let idle = Clock.monotonicNanoseconds() &- lastSpareUse
                if idle >= Self.spareKeepNanoseconds {
                    trimSpares()
                } else {
                    let left = Int32((Self.spareKeepNanoseconds - idle) / 1_000_000) + 1
                    waitMs = waitMs < 0 ? left : min(waitMs, left)
                }
            }
            sleep(timeoutMilliseconds: waitMs, waitingSlot: nil) { false }
        }
    }

    /// Drains one peer's ring (up to `batch` records). The record is stepped
    /// over before its handler runs but stays pinned (unpublished) until the
    /// handler returns: a handler may send, a blocked send drains this ring
    /// further, and the next records then go, in order, to the pending queue.
    /// Once anything waits there, the ring's later records wait too (they
    /// would overtake it): the next poll delivers the queue first.
    @inline(__always)
    private func drain(_ index: Int, _ handler: (ShmEvent) throws -> Void) throws -> Int {
        let slot = slots + index
        var count = 0
        while count < configuration.batch {
            if _slowPath(!queueing && pendingHead != pending.count) { return count }
            // The ring first, then the express line: a record written after
            // an express message is then never seen without that message.
            let ready = slot.pointee.consumer.ready()
            if slot.pointee.express.incoming() {
                let position = slot.pointee.express.position()
                let head = UInt32(truncatingIfNeeded: slot.pointee.consumer.head)
                if position == head {
                    guard try deliverExpress(index, handler) else { return count }
                    count += 1
                    continue
                }
                // It comes after records not yet seen: they are there now
                // (written before it), unless the peer broke the protocol.
                if _slowPath(Int32(bitPattern: position &- head) < 0 || (ready == nil && slot.pointee.consumer.ready() == nil)) {
                    failPeer(index, "express message out of order from peer (pid \(slot.pointee.pid)): ring position \(position), expected \(head) or later with records before it")
                    return count
                }
                if ready == nil { continue }
            }
            guard let record = ready else {
                if slot.pointee.consumer.idle() { wakeProducerOf(slot) }
                if _slowPath(slot.pointee.state == .draining) { finishClose(index) }
                return count
            }
            guard let (kind, length) = slot.pointee.consumer.decode(record) else {
                beginClose(index, reason: "malformed record from peer (pid \(slot.pointee.pid))")
                finishClose(index)
                return count
            }
            let payload = UnsafeRawPointer(record + recordHeaderSize)
            slot.pointee.express.turn = true
            let outerPin = slot.pointee.consumer.pinned
            slot.pointee.consumer.pinned = min(outerPin, slot.pointee.consumer.head)
            if slot.pointee.consumer.advance(kind, length: length) { wakeProducerOf(slot) }
            defer {
                if slots[index].state != .free {
                    slots[index].consumer.pinned = outerPin
                    if outerPin == .max, _slowPath(pvm_load_relaxed_u32(slots[index].consumer.ring.waiting) != 0),
                       slots[index].consumer.publish() {
                        wakeProducerOf(slot)
                    }
                }
            }
            var keepGoing = true
            switch kind {
            case .inline:
                try handler(.message(ShmPeerID(index), ShmMessage(bytes: UnsafeRawBufferPointer(start: payload, count: length), path: .inline,
                                                                  flags: slot.pointee.consumer.flags(record))))
                count += 1
            case .pad:
                break
            case .cma, .cmaPieces:
                keepGoing = try receiveSingleCopy(index, payload, length, pieces: kind == .cmaPieces, handler)
                count += 1
                // Inside a blocked send: back to it after one pull, so that
                // a send the peer completed meanwhile posts its next message
                // before we pull the peer's next one. Two ends streaming at
                // each other then pull at the same time; pulling on, one
                // end took two of the peer's messages per one of its own
                // and the two ends came to copy in turn (bibw, 4 MiB,
                // traced: one end copying 81% of the time, both 16%).
                if queueing {
                    nestedLargeReceives &+= 1
                    return count
                }
            case .chunk:
                keepGoing = try receiveChunk(index, payload, length, handler)
                count += 1
                if queueing { nestedLargeReceives &+= 1 }
            case .loan:
                keepGoing = try receiveLoan(index, payload, length, handler)
                count += 1
            }
            if !keepGoing || slots[index].state == .free { return count }
        }
        return count
    }

    /// Takes the message waiting in the express line: copied out (16 bytes,
    /// onto the stack) before the handler runs, because a handler that
    /// sends acknowledges it, after which the peer may overwrite the line
    /// (and a blocked send may drain this peer again). False if the peer
    /// is gone.
    @inline(__always)
    private func deliverExpress(_ index: Int, _ handler: (ShmEvent) throws -> Void) throws -> Bool {
        var buffer: (UInt64, UInt64) = (0, 0)
        return try withUnsafeMutableBytes(of: &buffer) { raw in
            guard let (length, flags) = slots[index].express.take(into: raw.baseAddress!) else {
                failPeer(index, "malformed express message from peer (pid \(slots[index].pid)): length above \(ExpressLine.capacity)")
                return false
            }
            try handler(.message(ShmPeerID(index), ShmMessage(bytes: UnsafeRawBufferPointer(start: raw.baseAddress, count: length),
                                                              path: .express, flags: flags)))
            return slots[index].state != .free
        }
    }

    /// A single-copy message in the sender's memory: its pieces (one, or
    /// a frame header and the program's data), copied out of the record.
    struct RemoteMessage {
        let pieces: UnsafePointer<pvm_remote_piece>
        let count: UInt32
        let total: Int
        let token: UInt64
    }

    /// A single-copy record (`pieces`: the many-piece kind), checked and
    /// pulled: into the memory `placement` names, else a large buffer.
    private func receiveSingleCopy(_ index: Int, _ payload: UnsafeRawPointer, _ length: Int, pieces: Bool,
                                   _ handler: (ShmEvent) throws -> Void) throws -> Bool {
        try withUnsafeTemporaryAllocation(of: pvm_remote_piece.self, capacity: Int(PVM_REMOTE_PIECES_MAX)) { list throws -> Bool in
            guard let remote = parseRemote(index, payload, length, pieces: pieces, into: list.baseAddress!) else { return false }
            return try receiveSingleCopy(index, remote, handler)
        }
    }

    /// The message a single-copy record describes, its pieces copied into
    /// `list` (the record is shared memory: checked once, read once). Nil,
    /// with the peer failed, when the record is malformed.
    private func parseRemote(_ index: Int, _ payload: UnsafeRawPointer, _ length: Int, pieces: Bool,
                             into list: UnsafeMutablePointer<pvm_remote_piece>) -> RemoteMessage? {
        let header = MemoryLayout<pvm_rec_remote_pieces>.size
        let pieceSize = MemoryLayout<pvm_remote_piece>.size
        let count: UInt32
        let token: UInt64
        let total: UInt64
        if pieces {
            guard length >= header else {
                failPeer(index, "single-copy record of \(length) bytes")
                return nil
            }
            token = payload.load(as: UInt64.self)
            total = payload.load(fromByteOffset: 8, as: UInt64.self)
            count = payload.load(fromByteOffset: 16, as: UInt32.self)
            guard count >= 1, count <= PVM_REMOTE_PIECES_MAX, length == header + Int(count) * pieceSize else {
                failPeer(index, "single-copy record of \(length) bytes with \(count) pieces")
                return nil
            }
            var sum: UInt64 = 0
            var overflow = false
            for k in 0..<Int(count) {
                list[k] = pvm_remote_piece(address: payload.load(fromByteOffset: header + k * pieceSize, as: UInt64.self),
                                           length: payload.load(fromByteOffset: header + k * pieceSize + 8, as: UInt64.self))
                (sum, overflow) = sum.addingReportingOverflow(list[k].length)
                if overflow { break }
            }
            guard !overflow, sum == total else {
                failPeer(index, "single-copy record whose pieces do not add up to its \(total) bytes")
                return nil
            }
        } else {
            guard length == MemoryLayout<pvm_rec_remote>.size else {
                failPeer(index, "single-copy record of \(length) bytes")
                return nil
            }
            list[0] = pvm_remote_piece(address: payload.load(as: UInt64.self), length: payload.load(fromByteOffset: 8, as: UInt64.self))
            count = 1
            total = list[0].length
            token = payload.load(fromByteOffset: 16, as: UInt64.self)
        }
        guard total > 0, total <= UInt64(configuration.maxMessageSize) else {
            failPeer(index, "single-copy message of \(total) bytes exceeds the \(configuration.maxMessageSize)-byte limit")
            return nil
        }
        return RemoteMessage(pieces: list, count: count, total: Int(total), token: token)
    }

    private func receiveSingleCopy(_ index: Int, _ remote: RemoteMessage, _ handler: (ShmEvent) throws -> Void) throws -> Bool {
        let slot = slots + index
        let count = remote.total
        // A handler may still be reading the shared large buffer (this pull
        // is then nested inside its blocked send): use a buffer of our own.
        let nested = deliveringLarge
        if _slowPath(placement != nil), placementWhileBlocked || (!nested && !queueing),
           let placed = try pullPlaced(index, remote, handler) {
            return placed
        }
        let destination = nested ? UnsafeMutableRawPointer.allocate(byteCount: count, alignment: 64) : largeDestination(count)
        defer { if nested { destination.deallocate() } }
        guard pullShared(index, remote, from: 0, count, into: destination) else { return false }
        if slot.pointee.consumer.complete(token: remote.token) { wakeProducerOf(slot) }
        deliveringLarge = true
        defer { deliveringLarge = nested }
        try offer(nested ? nil : Delivering(data: destination, capacity: largeCapacity, slot: -1),
                  .message(ShmPeerID(index), ShmMessage(bytes: UnsafeRawBufferPointer(start: destination, count: count), path: .singleCopy)),
                  to: handler)
        return true
    }

    /// The first bytes of a single-copy message read to ask `placement`.
    public static let placementHeadSize = 64

    /// A receiver that waits for a large message with memory of its own to
    /// put it in (pvm_precv): called with a single-copy message's first
    /// bytes (up to `placementHeadSize`) and its length, before the rest is
    /// read, it returns where the bytes from `offset` on go (room for
    /// length - offset bytes; `offset` within the first bytes), or nil for
    /// the usual delivery. The message is then pulled from the sender's
    /// memory straight there (no copy after) and delivered on the `.placed`
    /// path with its first `offset` bytes. Not asked while a handler's
    /// blocked send sets messages aside.
    @exclusivity(unchecked) public var placement: ((ShmPeerID, UnsafeRawBufferPointer, Int) -> (destination: UnsafeMutableRawPointer, offset: Int)?)? = nil

    /// `placement` is asked also while a blocked send sets messages aside:
    /// a receive posted before the send, as MPI's MPI_Irecv before
    /// MPI_Isend (osu_bibw, NetPIPE -2 -a), so that two ends streaming
    /// large messages at each other pull each one straight into the memory
    /// named for it instead of into a set-aside buffer. The memory must then
    /// stay valid until the `.placed` message is delivered, and later
    /// messages may be placed before an earlier one is delivered (all into
    /// one buffer, as those benchmarks do, or into memory of their own).
    /// Off by default: the task library's pvm_precv names memory only for
    /// the message it waits for now.
    @exclusivity(unchecked) public var placementWhileBlocked = false

    /// Reads bytes offset..<offset+n of `remote` (in peer `index`'s
    /// memory) into `to` (process_vm_readv, as many calls as it takes).
    /// False, with the peer failed, when the kernel refuses or makes no progress.
    private func pull(_ index: Int, _ remote: RemoteMessage, from offset: Int, _ n: Int, into to: UnsafeMutableRawPointer) -> Bool {
        let pid = slots[index].pid
        var done = 0
        while done < n {
            let r = pvm_vm_read_pieces(pid, to + done, remote.pieces, remote.count, UInt64(offset + done), n - done)
            if r <= 0 {
                if r < 0 && errno == EINTR { continue }
                failPeer(index, "single-copy read of \(remote.total) bytes from pid \(pid) failed: \(r < 0 ? String(cString: strerror(errno)) : "no progress")")
                return false
            }
            done += r
        }
        return true
    }

    /// Single-copy messages of at least this many bytes are pulled with
    /// the sender's help (`pullShared`): every single-copy message under
    /// the default eager limit. Measured on this machine kind (pingpong
    /// --api transport, one-way mean, shared against PVM_SHM_SPLIT=off, three
    /// runs back to back): 64 KiB 5.7-7.3 against 10.1-11.1 us, 128 KiB
    /// 9.8-12.3 against 17.4-20.7, 4 MiB 134-145 against 357-396.
    static let splitMinimum = 64 << 10

    /// `pull`, but for a large share: the sender, which waits for this pull
    /// with a CPU of its own, is offered the first half (it writes it
    /// straight here with process_vm_writev, see the split line in
    /// pvm_shm.h) while this end reads the second; an offer the sender has
    /// not claimed by then (it sleeps, or is busy) is taken back and that
    /// half read here too. A sender that refuses gets no more offers. A
    /// sender that dies holding its share closes that peer (its socket
    /// hangs up). False, with the peer failed, as `pull`.
    private func pullShared(_ index: Int, _ remote: RemoteMessage, from offset: Int, _ n: Int, into to: UnsafeMutableRawPointer) -> Bool {
        let slot = slots + index
        guard n >= Self.splitMinimum, configuration.splitCopy, !slot.pointee.splitRefused else {
            return pull(index, remote, from: offset, n, into: to)
        }
        let share = (n / 2) & ~4095
        slot.pointee.consumer.offerSplit(token: remote.token, address: to, offset: offset, count: share)
        sharesOffered &+= 1
        // A failed pull closed the peer (its ring is gone): nothing more to do.
        guard pull(index, remote, from: offset + share, n - share, into: to + share) else { return false }
        if slot.pointee.consumer.withdrawSplit() {
            return pull(index, remote, from: offset, share, into: to)
        }
        // Claimed: the sender writes its share into `to`; wait for its answer.
        var spins: UInt32 = 0
        while true {
            let state = slot.pointee.consumer.splitState()
            if state == UInt32(PVM_SPLIT_WRITTEN) {
                slot.pointee.consumer.resetSplit()
                sharesReceived &+= 1
                return true
            }
            if state == UInt32(PVM_SPLIT_REFUSED) {
                slot.pointee.splitRefused = true
                slot.pointee.consumer.resetSplit()
                return pull(index, remote, from: offset, share, into: to)
            }
            guard state == UInt32(PVM_SPLIT_CLAIMED) else {
                failPeer(index, "split line of peer (pid \(slot.pointee.pid)) in state \(state) while its share was claimed")
                return false
            }
            spins &+= 1
            if spins & 0xFFFF == 0, peerHungUp(index) {
                failPeer(index, "peer (pid \(slot.pointee.pid)) went away while writing its share of a \(remote.total)-byte message")
                return false
            }
            pvm_cpu_relax()
        }
    }

    /// The peer's end of our socket is closed (it exited or was killed).
    private func peerHungUp(_ index: Int) -> Bool {
        // A Unix stream socket whose peer closed reports POLLHUP (always polled for).
        var p = pollfd(fd: slots[index].socket, events: 0, revents: 0)
        return Glibc.poll(&p, 1, 0) == 1 && p.revents & Int16(POLLHUP | POLLERR) != 0
    }

    /// `receiveSingleCopy` into the memory `placement` names: true or false
    /// as `receiveSingleCopy` returns, nil when placement declined (nothing
    /// delivered, nothing completed: the usual path follows).
    private func pullPlaced(_ index: Int, _ remote: RemoteMessage, _ handler: (ShmEvent) throws -> Void) throws -> Bool? {
        let slot = slots + index
        let count = remote.total
        return try withUnsafeTemporaryAllocation(byteCount: Self.placementHeadSize, alignment: 8) { head throws -> Bool? in
            let headCount = min(count, Self.placementHeadSize)
            guard pull(index, remote, from: 0, headCount, into: head.baseAddress!) else { return false }
            let first = UnsafeRawBufferPointer(start: head.baseAddress!, count: headCount)
            guard let (destination, offset) = placement!(ShmPeerID(index), first, count), offset >= 0, offset <= headCount else { return nil }
            destination.copyMemory(from: head.baseAddress! + offset, byteCount: headCount - offset)
            guard pullShared(index, remote, from: headCount, count - headCount, into: destination + (headCount - offset)) else { return false }
            if slot.pointee.consumer.complete(token: remote.token) { wakeProducerOf(slot) }
            try handler(.message(ShmPeerID(index), ShmMessage(bytes: UnsafeRawBufferPointer(start: head.baseAddress!, count: offset),
                                                              path: .placed, total: count)))
            return true
        }
    }

    /// Gives `handler` the event, with `buffer` as the large buffer it may
    /// take (`exchangeLargeBuffer`); `finish` learns whether it did, also
    /// when the handler throws. Nests: a handler's blocked send delivers
    /// more inside it.
    private func offer(_ buffer: Delivering?, _ event: ShmEvent, to handler: (ShmEvent) throws -> Void,
                       then finish: (_ taken: Bool) -> Void = { _ in }) throws {
        let outer = delivering, outerHandedOver = handedOver
        delivering = buffer
        handedOver = false
        defer {
            let taken = handedOver
            delivering = outer
            handedOver = outerHandedOver
            finish(taken)
        }
        try handler(event)
    }

    private func receiveChunk(_ index: Int, _ payload: UnsafeRawPointer, _ length: Int, _ handler: (ShmEvent) throws -> Void) throws -> Bool {
        let slot = slots + index
        let header = MemoryLayout<pvm_rec_chunk>.size
        guard length > header else { failPeer(index, "empty pipelined chunk"); return false }
        let total = payload.load(as: UInt64.self)
        let offset = payload.load(fromByteOffset: 8, as: UInt64.self)
        let bytes = length - header
        guard total > 0, total <= UInt64(configuration.maxMessageSize) else {
            failPeer(index, "pipelined message of \(total) bytes exceeds the \(configuration.maxMessageSize)-byte limit")
            return false
        }
        if offset == 0, _slowPath(placement != nil), placementWhileBlocked || !queueing, placedSlot < 0 {
            // The first chunk holds the message's first bytes: ask where it goes.
            if place(index, head: payload + header, available: bytes, total: Int(total)) != nil {
                slot.pointee.assemblyTotal = Int(total)
                slot.pointee.assemblyReceived = 0
            }
        }
        if _slowPath(placedSlot == index) { return try receivePlacedChunk(index, payload + header, offset: Int(offset), bytes, total: Int(total), handler) }
        if offset == 0 {
            if slot.pointee.assemblyBusy || slot.pointee.assemblyCapacity < Int(total) {
                // (Busy: a handler still reads the previous message in it;
                // its return frees it. Else it is too small.)
                if !slot.pointee.assemblyBusy, let old = slot.pointee.assembly {
                    keepSpare((old, slot.pointee.assemblyCapacity))
                }
                let b = largeBuffer(atLeast: Int(total))
                slot.pointee.assembly = b.data
                slot.pointee.assemblyCapacity = b.capacity
            }
            slot.pointee.assemblyTotal = Int(total)
            slot.pointee.assemblyReceived = 0
        }
        guard Int(total) == slot.pointee.assemblyTotal, Int(offset) == slot.pointee.assemblyReceived,
              Int(offset) + bytes <= Int(total), let assembly = slot.pointee.assembly else {
            failPeer(index, "pipelined chunk out of order (offset \(offset) of \(total))")
            return false
        }
        (assembly + Int(offset)).copyMemory(from: payload + header, byteCount: bytes)
        slot.pointee.assemblyReceived += bytes
        if slot.pointee.assemblyReceived == Int(total) {
            slot.pointee.assemblyTotal = 0
            let wasBusy = slot.pointee.assemblyBusy
            slot.pointee.assemblyBusy = true
            try offer(Delivering(data: assembly, capacity: slot.pointee.assemblyCapacity, slot: index),
                      .message(ShmPeerID(index), ShmMessage(bytes: UnsafeRawBufferPointer(start: assembly, count: Int(total)), path: .pipelined)),
                      to: handler) { taken in
                if slots[index].state != .free {
                    slots[index].assemblyBusy = wasBusy
                    if !taken && slots[index].assembly != assembly { Self.freeLarge(assembly) }
                }
            }
        }
        return true
    }

    /// A chunk of the pipelined message being assembled where `placement`
    /// said; once whole, delivered on the `.placed` path.
    private func receivePlacedChunk(_ index: Int, _ data: UnsafeRawPointer, offset: Int, _ bytes: Int, total: Int,
                                    _ handler: (ShmEvent) throws -> Void) throws -> Bool {
        let slot = slots + index
        guard total == slot.pointee.assemblyTotal, offset == slot.pointee.assemblyReceived, offset + bytes <= total,
              let destination = placedDestination else {
            placedSlot = -1
            placedDestination = nil
            failPeer(index, "pipelined chunk out of order (offset \(offset) of \(total))")
            return false
        }
        // Bytes before `placedOffset` (only in the first chunk) are the head.
        let skip = max(0, placedOffset - offset)
        if bytes > skip { (destination + (offset + skip - placedOffset)).copyMemory(from: data + skip, byteCount: bytes - skip) }
        slot.pointee.assemblyReceived += bytes
        guard slot.pointee.assemblyReceived == total else { return true }
        slot.pointee.assemblyTotal = 0
        placedSlot = -1
        placedDestination = nil
        try handler(.message(ShmPeerID(index), ShmMessage(bytes: UnsafeRawBufferPointer(start: placedHead, count: placedOffset),
                                                          path: .placed, total: total)))
        return true
    }

    /// The reverse of `withdrawPlacement`: a pipelined message that is
    /// being assembled in a buffer of the transport's (it began while no
    /// receive waited for it, behind another, say) moves to the memory
    /// `placement` names for it, what has come so far copied, and its
    /// remaining pieces go straight there. Only while nothing taken in
    /// earlier waits for delivery (`pending`: it would come first). True
    /// when a message was placed; it is then delivered on the `.placed`
    /// path when whole.
    public func placeAssemblyInProgress() -> Bool {
        guard placement != nil, placedSlot < 0, !queueing, pendingHead == pending.count else { return false }
        for index in 0..<peerLimit {
            let slot = slots + index
            guard slot.pointee.state == .open, slot.pointee.assemblyTotal > 0, !slot.pointee.assemblyBusy,
                  let assembly = slot.pointee.assembly else { continue }
            let received = slot.pointee.assemblyReceived
            guard let (destination, at) = place(index, head: assembly, available: received, total: slot.pointee.assemblyTotal) else { continue }
            if received > at { destination.copyMemory(from: assembly + at, byteCount: received - at) }
            return true
        }
        return false
    }

    /// Asks `placement` where the pipelined message from slot `index`
    /// whose first `available` bytes are at `head` goes; when it names
    /// memory, the message's later bytes go there from now on
    /// (`receivePlacedChunk`), the first `offset` (its header) kept aside.
    private func place(_ index: Int, head: UnsafeRawPointer, available: Int, total: Int) -> (destination: UnsafeMutableRawPointer, offset: Int)? {
        let headCount = min(available, Self.placementHeadSize)
        guard let placement, let (destination, at) = placement(ShmPeerID(index), UnsafeRawBufferPointer(start: head, count: headCount), total),
              at >= 0, at <= headCount else { return nil }
        placedSlot = index
        placedDestination = destination
        placedOffset = at
        placedHead.copyMemory(from: head, byteCount: at)
        return (destination, at)
    }

    /// The receiver that named memory for a message (`placement`) can no
    /// longer wait for it: the part that has come moves to a buffer of the
    /// transport's, and the message is delivered the usual way when whole.
    /// (A single-copy message is pulled and delivered in one go: only a
    /// pipelined one can be in progress.)
    public func withdrawPlacement() {
        guard placedSlot >= 0, let destination = placedDestination else { return }
        let index = placedSlot
        placedSlot = -1
        placedDestination = nil
        let slot = slots + index
        guard slot.pointee.state != .free else { return }
        let total = slot.pointee.assemblyTotal
        if slot.pointee.assemblyBusy || slot.pointee.assemblyCapacity < total {
            if !slot.pointee.assemblyBusy, let old = slot.pointee.assembly { keepSpare((old, slot.pointee.assemblyCapacity)) }
            let b = largeBuffer(atLeast: total)
            slot.pointee.assembly = b.data
            slot.pointee.assemblyCapacity = b.capacity
        }
        let assembly = slot.pointee.assembly!
        let received = slot.pointee.assemblyReceived
        assembly.copyMemory(from: placedHead, byteCount: min(placedOffset, received))
        if received > placedOffset { (assembly + placedOffset).copyMemory(from: destination, byteCount: received - placedOffset) }
    }

    private func receiveLoan(_ index: Int, _ payload: UnsafeRawPointer, _ length: Int, _ handler: (ShmEvent) throws -> Void) throws -> Bool {
        let slot = slots + index
        guard length == MemoryLayout<pvm_rec_loan>.size else { failPeer(index, "loan record of \(length) bytes"); return false }
        if slot.pointee.peerHeap == nil {
            // The heap's descriptor was sent before the first loan record, so it is already queued.
            guard serviceSocket(index, wait: true), slot.pointee.peerHeap != nil else { finishClose(index); return false }
        }
        let offset = payload.load(as: UInt64.self)
        let count = payload.load(fromByteOffset: 8, as: UInt64.self)
        let capacity = UInt64(slot.pointee.peerHeapCapacity)
        guard offset <= capacity, count <= capacity - offset, let base = slot.pointee.peerHeap else {
            failPeer(index, "loan at offset \(offset) of \(count) bytes is outside the peer's \(capacity)-byte heap")
            return false
        }
        defer {
            if slots[index].state != .free, slots[index].consumer.release(offset: offset) { wakeProducerOf(slot) }
        }
        try handler(.message(ShmPeerID(index), ShmMessage(bytes: UnsafeRawBufferPointer(start: base + Int(offset), count: Int(count)), path: .loan)))
        return true
    }

    /// Called by a handler given a large message (single-copy, pipelined,
    /// or set aside while a send was blocked): takes the buffer that
    /// holds it, if `bytes` lie in it, and gives the endpoint `replacement`
    /// to read later messages into. Both are allocations of
    /// `UnsafeMutableRawPointer.allocate` (start and size); the returned
    /// block holds `bytes` at least `largeBufferFront` bytes from its start
    /// and is the caller's to free. nil: the buffer cannot be taken (copy
    /// the bytes instead); `replacement` then stays the caller's. So a
    /// receiver that keeps a buffer of its own swaps it with the transport's
    /// each message: no copy and, once both are large, no allocation.
    public func exchangeLargeBuffer(holding bytes: UnsafeRawBufferPointer,
                                    for replacement: (base: UnsafeMutableRawPointer, size: Int)) -> (base: UnsafeMutableRawPointer, size: Int)? {
        let usable = replacement.size - Self.largeBufferFront
        let taken: (data: UnsafeMutableRawPointer, capacity: Int)? = usable >= 4096 ? (replacement.base + Self.largeBufferFront, usable) : nil
        guard let block = handOver(bytes, replacing: taken) else { return nil }
        if taken == nil { replacement.base.deallocate() }
        return block
    }

    /// `exchangeLargeBuffer`'s work, with the replacement (if any) in the
    /// form of `allocateLarge`. The replacement is consumed when a block is
    /// returned.
    private func handOver(_ bytes: UnsafeRawBufferPointer,
                          replacing taken: (data: UnsafeMutableRawPointer, capacity: Int)?) -> (base: UnsafeMutableRawPointer, size: Int)? {
        guard !handedOver, let d = delivering, let start = bytes.baseAddress,
              start >= UnsafeRawPointer(d.data), start + bytes.count <= UnsafeRawPointer(d.data + d.capacity) else { return nil }
        switch d.slot {
        case 0...:
            guard slots[d.slot].state != .free else { return nil }
            if slots[d.slot].assembly == d.data {
                slots[d.slot].assembly = taken?.data
                slots[d.slot].assemblyCapacity = taken?.capacity ?? 0
            } else if let taken {
                keepSpare(taken)  // a newer message has its own buffer already
            }
        case -1:
            largeBuffer = taken?.data
            largeCapacity = taken?.capacity ?? 0
        default:
            if let taken { keepSpare(taken) }
        }
        handedOver = true
        return (d.data - Self.largeBufferFront, d.capacity + Self.largeBufferFront)
    }

    private func keepSpare(_ b: (data: UnsafeMutableRawPointer, capacity: Int)) {
        lastSpareUse = Clock.monotonicNanoseconds()
        if spareBytes + b.capacity <= Self.spareBytesLimit {
            spares.append(b)
            spareBytes += b.capacity
        } else {
            Self.freeLarge(b.data)
        }
    }

    private func takeSpare(at i: Int) -> (data: UnsafeMutableRawPointer, capacity: Int) {
        let b = spares.remove(at: i)
        spareBytes -= b.capacity
        lastSpareUse = Clock.monotonicNanoseconds()
        return b
    }

    /// Spare large buffers held now (tests).
    var spareCountForTest: Int { spares.count }

    /// Idle: keep a few spares, free the rest.
    private func trimSpares() {
        while spares.count > Self.idleSpares { Self.freeLarge(takeSpare(at: 0).data) }
    }

    /// A buffer of at least `capacity` bytes for a large message: a spare if
    /// one is large enough, else a new one.
    private func largeBuffer(atLeast capacity: Int) -> (data: UnsafeMutableRawPointer, capacity: Int) {
        if let i = spares.lastIndex(where: { $0.capacity >= capacity }) { return takeSpare(at: i) }
        return (Self.allocateLarge(capacity), capacity)
    }

    private func largeDestination(_ count: Int) -> UnsafeMutableRawPointer {
        if largeCapacity < count {
            Self.freeLarge(largeBuffer)
            let b = largeBuffer(atLeast: count)
            largeBuffer = b.data
            largeCapacity = b.capacity
        }
        return largeBuffer!
    }

    private func deliverQueued(_ handler: (ShmEvent) throws -> Void) throws -> Int {
        var n = 0
        while !externalEvents.isEmpty {
            let fd = externalEvents.removeFirst()
            if externalEvents.contains(fd) { continue }
            n += 1
            try handler(.readable(fd))
        }
        while !connectionEvents.isEmpty {
            let (peer, reason) = connectionEvents.removeFirst()
            n += 1
            if let reason { try handler(.disconnected(peer, reason)) } else { try handler(.connected(peer)) }
        }
        while pendingHead < pending.count {
            let p = pending[pendingHead]
            pendingHead += 1
            n += 1
            // A large one's buffer may be taken by the handler (exchangeLargeBuffer).
            let large = p.large ? Delivering(data: p.block + Self.largeBufferFront, capacity: p.blockSize - Self.largeBufferFront, slot: -2) : nil
            try offer(large, .message(p.peer, ShmMessage(bytes: p.bytes, path: p.path, flags: p.flags, total: p.total)), to: handler) { taken in
                if taken { return }
                if let large { keepSpare((large.data, large.capacity)) } else { p.block.deallocate() }
            }
        }
        if pendingHead == pending.count { pending.removeAll(keepingCapacity: true); pendingHead = 0 }
        return n
    }

    /// Takes in what has arrived without delivering it: copied aside and
    /// delivered, in order, by the next poll, as a blocked send does. For a
    /// caller that waits for something else (its daemon's answer, say) while
    /// a peer may be blocked on this task's full ring. Safe anywhere, inside
    /// a handler too. Slow path: it copies what it takes.
    public func takeInAside() {
        drainIntoPending()
    }

    /// While this task is blocked in a send, what arrives is copied aside and
    /// delivered, in order, by the next poll. Draining keeps both directions
    /// moving when two tasks send large messages to each other at once.
    /// From this size a message set aside keeps the buffer it was assembled in.
    private static let setAsideWhole = 32 << 10

    private func drainIntoPending() {
        guard !queueing else { return }
        queueing = true
        defer { queueing = false }
        var i = 0
        while i < peerLimit {
            if slots[i].state != .free {
                _ = try? drain(i) { event in
                    switch event {
                    case .message(let peer, let message):
                        // A large message's buffer is set aside whole (the slot
                        // takes a spare for the next one when it needs it);
                        // anything else is copied.
                        let count = message.bytes.count
                        if count >= Self.setAsideWhole, let block = handOver(message.bytes, replacing: nil) {
                            pending.append(Pending(peer: peer, path: message.path, flags: message.flags, bytes: message.bytes,
                                                   block: block.base, blockSize: block.size, large: true, total: message.total))
                        } else {
                            let copy = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 16)
                            if count > 0 { copy.copyMemory(from: message.bytes.baseAddress!, byteCount: count) }
                            pending.append(Pending(peer: peer, path: message.path, flags: message.flags,
                                                   bytes: UnsafeRawBufferPointer(start: copy, count: count),
                                                   block: copy, blockSize: count, large: false, total: message.total))
                        }
                    case .connected(let peer): connectionEvents.append((peer, nil))
                    case .disconnected(let peer, let reason): connectionEvents.append((peer, reason))
                    case .readable(let fd): externalEvents.append(fd)
                    }
                }
            }
            i += 1
        }
    }

    // MARK: Sleeping and waking

    @inline(__always)
    private func wakeProducerOf(_ slot: UnsafeMutablePointer<PeerSlot>) {
        if slot.pointee.consumer.claimProducerWakeUp() { _ = pvm_eventfd_signal(slot.pointee.peerDoorbell) }
    }

    func ringPeerForTest(_ peer: ShmPeerID) { _ = pvm_eventfd_signal(slots[Int(peer)].peerDoorbell) }

    @inline(__always)
    private func ringPeer(_ slot: UnsafeMutablePointer<PeerSlot>) {
        if slot.pointee.producer.claimWakeUp() { _ = pvm_eventfd_signal(slot.pointee.peerDoorbell) }
    }

    /// Sleeps in epoll until a doorbell, a socket event or the timeout. Before
    /// sleeping it arms every inbound ring (and, when `waitingOn` is given,
    /// marks that producer ring as waiting), fences, and checks once more, so
    /// a message or wake-up published in between is never missed.
    private func sleep(timeoutMilliseconds: Int32, waitingSlot: Int?, _ condition: () -> Bool) {
        for i in 0..<peerLimit where slots[i].state != .free {
            slots[i].consumer.setArmed(true)
            // Dekker pair with a producer that waits for space: (publish head;
            // fence; read waiting) here against (set waiting; fence; read head) there.
            if slots[i].consumer.publish() { wakeProducerOf(slots + i) }
        }
        if let w = waitingSlot { slots[w].producer.setWaiting(true) }
        // StoreLoad: `armed`/`waiting` must be visible before we look at the rings again.
        pvm_fence_seq_cst()
        var ready = condition()
        if !ready {
            for i in 0..<peerLimit where slots[i].state != .free {
                if slots[i].consumer.ready() != nil || slots[i].express.incoming() || slots[i].state == .draining { ready = true; break }
            }
        }
        if !ready {
            if connectionEvents.isEmpty && externalEvents.isEmpty {
                pumpEvents(timeoutMilliseconds: timeoutMilliseconds)
            } else if waitingSlot != nil {
                // A blocked send with events queued for the next poll, which
                // it cannot reach: their descriptors stay readable, so epoll
                // would return at once and the send would spin. Wait on the
                // doorbell alone (the peer rings it when it frees space, as
                // `waiting` is set), and look at the sockets now and then (a
                // peer that dies is noticed there).
                if doorbell.wait(timeoutMilliseconds: 1) { doorbell.drain() }
                quietWaits &+= 1
                if quietWaits & 63 == 0 { pumpEvents(timeoutMilliseconds: 0) }
            }
        }
        for i in 0..<peerLimit where slots[i].state != .free { slots[i].consumer.setArmed(false) }
        if let w = waitingSlot, slots[w].state != .free { slots[w].producer.setWaiting(false) }
    }

    /// One epoll_wait: doorbell, new connections, peer sockets.
    private func pumpEvents(timeoutMilliseconds: Int32) {
        var accepting = false
        var sockets: [Int] = []
        var handshakeTokens: [UInt64] = []
        epoll.wait(timeoutMilliseconds: timeoutMilliseconds) { token, events in
            switch token {
            case Self.doorbellToken: doorbell.drain()
            case Self.listenerToken: accepting = true
            case Self.externalTokenBase...:
                let fd = Int32(bitPattern: UInt32(truncatingIfNeeded: token - Self.externalTokenBase))
                if !externalEvents.contains(fd) { externalEvents.append(fd) }
            case Self.handshakeTokenBase...: handshakeTokens.append(token)
            default: sockets.append(Int(token - Self.peerTokenBase))
            }
        }
        for token in handshakeTokens { advanceHandshake(token) }
        expireHandshakes()
        for index in sockets where index < peerLimit && slots[index].state == .open {
            _ = serviceSocket(index, wait: false)
        }
        if accepting { accept() }
    }

    // MARK: Closing

    private func failPeer(_ index: Int, _ reason: String) {
        beginClose(index, reason: reason)
        finishClose(index)
    }

    /// The peer is gone: complete records still in its ring are delivered
    /// first, then `finishClose` runs.
    private func beginClose(_ index: Int, reason: String) {
        guard slots[index].state == .open else { return }
        slots[index].state = .draining
        closeReasons[index] = reason
    }
    @exclusivity(unchecked) private var closeReasons: [Int: String] = [:]

    private func finishClose(_ index: Int) {
        guard slots[index].state != .free else { return }
        let reason = closeReasons.removeValue(forKey: index) ?? "peer closed the connection"
        close(index, reason: reason)
    }

    private func close(_ index: Int, reason: String) {
        if let res = resources[index] { epoll.remove(res.socket.rawValue) }
        if let heap { _ = heap.reclaimAll(from: UInt32(index)) }
        Self.freeLarge(slots[index].assembly)
        if placedSlot == index { placedSlot = -1; placedDestination = nil }
        slots[index].state = .free
        (slots + index).deinitialize(count: 1)
        slots[index].state = .free
        resources[index] = nil
        openPeers -= 1
        updateSpinBudget()
        connectionEvents.append((ShmPeerID(index), reason))
    }

    // MARK: Sending

    @inline(__always)
    private func openSlot(_ peer: ShmPeerID) throws(TransportError) -> UnsafeMutablePointer<PeerSlot> {
        guard Int(peer) < peerLimit, slots[Int(peer)].state == .open else {
            throw TransportError(.noPeer, "peer \(peer) is not connected")
        }
        return slots + Int(peer)
    }

    /// Sends `bytes` to `peer`. Returns once `bytes` may be reused: at once
    /// for messages up to the eager limit (copied into the ring), after the
    /// receiver has pulled them for single-copy messages, after the last piece
    /// is in the ring for pipelined ones. Blocks while the ring is full.
    ///
    /// `flags` travels with messages up to the eager limit (inline and
    /// express) and reaches the receiver as `ShmMessage.flags`; larger
    /// messages arrive with flags 0, so a receiver must not need them for
    /// those.
    ///
    /// Up to 16 bytes go through the pair's express line when this side has
    /// heard from the peer since it last wrote there and the peer has taken
    /// that message (a ping-pong); otherwise through the ring.
    public func send(_ bytes: UnsafeRawBufferPointer, to peer: ShmPeerID, flags: UInt16 = 0) throws(TransportError) {
        let slot = try openSlot(peer)
        let count = bytes.count
        if count <= expressLimit, slot.pointee.express.turn, slot.pointee.express.acknowledged() {
            slot.pointee.express.write(bytes, flags: flags, position: slot.pointee.producer.tail)
            // StoreLoad, as after a ring record: the message before `armed`.
            pvm_fence_seq_cst()
            if slot.pointee.producer.consumerArmed() { ringPeer(slot) }
            return
        }
        if _fastPath(count <= configuration.eagerLimit) {
            if let payload = slot.pointee.producer.reserve(count) {
                if count > 0 { payload.copyMemory(from: bytes.baseAddress!, byteCount: count) }
                if slot.pointee.producer.commit(.inline, length: count, flags: flags) { ringPeer(slot) }
                return
            }
            let payload = try reserveBlocking(Int(peer), count)
            if count > 0 { payload.copyMemory(from: bytes.baseAddress!, byteCount: count) }
            if slot.pointee.producer.commit(.inline, length: count, flags: flags) { ringPeer(slot) }
            return
        }
        guard count <= configuration.maxMessageSize else {
            throw TransportError(.tooLarge, "message of \(count) bytes exceeds the \(configuration.maxMessageSize)-byte limit")
        }
        var piece = pvm_remote_piece(address: UInt64(UInt(bitPattern: bytes.baseAddress)), length: UInt64(count))
        try sendLarge(count, Int(peer), single: { () throws(TransportError) in try sendSingleCopy(&piece, 1, total: count, Int(peer)) },
                      pipelined: { () throws(TransportError) in try sendPipelined(bytes, Int(peer)) })
    }

    /// A message above the eager limit: single copy up to the single-copy
    /// limit when permitted; above it, single copy when the receiver shares
    /// the copy or sends large messages back at the same time, else the
    /// copy measured cheaper lately (LargePathChooser); else pipelined.
    @inline(__always)
    private func sendLarge(_ count: Int, _ index: Int, single sendSingle: () throws(TransportError) -> Void,
                           pipelined sendPipelined: () throws(TransportError) -> Void) throws(TransportError) {
        let slot = slots + index
        if slot.pointee.sendSingleCopy && count <= configuration.singleCopyLimit {
            try sendSingle()
        } else if slot.pointee.sendSingleCopy && configuration.adaptiveLarge {
            // Single copy, untimed, for a receiver that shares the copy (it
            // offered us part of the last single-copy pull: one copy on two
            // CPUs against the pipelined copy's two), and while the peer
            // streams large messages at us too (bibw, an exchange: both CPUs
            // are busy either way and the pipelined copy does twice the
            // work; such a send's duration holds the peer's messages too, so
            // it is not a sample of either path). Otherwise the path measured
            // cheaper lately (LargePathChooser).
            let start = Clock.monotonicNanoseconds()
            let nestedBefore = nestedLargeReceives
            let single = largeStreamsBothWays || slot.pointee.peerSharesCopies || largePaths[bytes: count].chooseSingleCopy(now: start)
            if single { try sendSingle() } else { try sendPipelined() }
            largeStreamsBothWays = nestedLargeReceives != nestedBefore
            if !largeStreamsBothWays {
                largePaths[bytes: count].record(singleCopy: single, bytes: count, nanoseconds: Clock.monotonicNanoseconds() &- start)
            }
        } else {
            try sendPipelined()
        }
    }

    /// How large messages above the single-copy limit go (when permitted),
    /// by size class.
    @exclusivity(unchecked) public private(set) var largePaths = LargePathChoosers()

    /// Sends one message given as pieces, in order (a frame header, then an
    /// InPlace message's pieces, some of them in the program's own memory),
    /// copying each straight into the ring: one record up to the eager
    /// limit, pipelined chunks above it. No gathering copy and no
    /// allocation. `total` is the pieces' sum.
    public func send(pieces: UnsafeBufferPointer<UnsafeRawBufferPointer>, total: Int, to peer: ShmPeerID) throws(TransportError) {
        let slot = try openSlot(peer)
        guard total <= configuration.maxMessageSize else {
            throw TransportError(.tooLarge, "message of \(total) bytes exceeds the \(configuration.maxMessageSize)-byte limit")
        }
        var cursor = PieceCursor(pieces)
        if total <= configuration.eagerLimit {
            let payload = try reserveBlocking(Int(peer), total)
            cursor.copy(total, to: payload)
            if slot.pointee.producer.commit(.inline, length: total, flags: 0) { ringPeer(slot) }
            return
        }
        guard pieces.count <= Int(PVM_REMOTE_PIECES_MAX) else {
            try sendChunks(&cursor, total: total, Int(peer))
            return
        }
        // Single copy of the pieces as they lie (the receiver pulls them as
        // one message), as a contiguous message would go.
        try withUnsafeTemporaryAllocation(of: pvm_remote_piece.self, capacity: pieces.count) { list throws(TransportError) in
            var n = 0
            for p in pieces where p.count > 0 {
                list[n] = pvm_remote_piece(address: UInt64(UInt(bitPattern: p.baseAddress)), length: UInt64(p.count))
                n += 1
            }
            try sendLarge(total, Int(peer), single: { () throws(TransportError) in try sendSingleCopy(list.baseAddress!, n, total: total, Int(peer)) },
                          pipelined: { () throws(TransportError) in try sendChunks(&cursor, total: total, Int(peer)) })
        }
    }

    /// The pipelined copy: `total` bytes from `cursor` through the ring in
    /// pieces of at most `pipelinePiece`, each a chunk record saying where
    /// it goes in the message.
    private func sendChunks(_ cursor: inout PieceCursor, total: Int, _ index: Int) throws(TransportError) {
        let slot = slots + index
        let header = MemoryLayout<pvm_rec_chunk>.size
        let piece = min(slot.pointee.producer.maxPayload - header, configuration.pipelinePiece)
        var offset = 0
        while offset < total {
            let n = min(piece, total - offset)
            let payload = try reserveBlocking(index, header + n)
            payload.storeBytes(of: UInt64(total), as: UInt64.self)
            payload.storeBytes(of: UInt64(offset), toByteOffset: 8, as: UInt64.self)
            cursor.copy(n, to: payload + header)
            if slot.pointee.producer.commit(.chunk, length: header + n) { ringPeer(slot) }
            offset += n
        }
    }

    /// Sends the message made of `n` pieces (`total` bytes) for the receiver
    /// to pull from our memory, and waits until it has.
    private func sendSingleCopy(_ pieces: UnsafePointer<pvm_remote_piece>, _ n: Int, total: Int, _ index: Int) throws(TransportError) {
        let slot = slots + index
        slot.pointee.singleCopyIssued &+= 1
        let token = slot.pointee.singleCopyIssued
        if n == 1 {
            let size = MemoryLayout<pvm_rec_remote>.size
            let payload = try reserveBlocking(index, size)
            payload.storeBytes(of: pieces[0].address, as: UInt64.self)
            payload.storeBytes(of: pieces[0].length, toByteOffset: 8, as: UInt64.self)
            payload.storeBytes(of: token, toByteOffset: 16, as: UInt64.self)
            if slot.pointee.producer.commit(.cma, length: size) { ringPeer(slot) }
        } else {
            let header = MemoryLayout<pvm_rec_remote_pieces>.size
            let size = header + n * MemoryLayout<pvm_remote_piece>.size
            let payload = try reserveBlocking(index, size)
            payload.storeBytes(of: token, as: UInt64.self)
            payload.storeBytes(of: UInt64(total), toByteOffset: 8, as: UInt64.self)
            payload.storeBytes(of: UInt32(n), toByteOffset: 16, as: UInt32.self)
            payload.storeBytes(of: UInt32(0), toByteOffset: 20, as: UInt32.self)
            (payload + header).copyMemory(from: pieces, byteCount: n * MemoryLayout<pvm_remote_piece>.size)
            if slot.pointee.producer.commit(.cmaPieces, length: size) { ringPeer(slot) }
        }
        // The receiver reads our memory: the pieces must stay untouched until
        // it says so. It may offer us a share of the copy meanwhile.
        var shared = false
        try block(on: index, "single-copy completion", spinAtLeast: copySpin(total)) {
            if self.slots[index].producer.completedToken() >= token { return true }
            if let share = self.slots[index].producer.claimSplit(token: token) {
                shared = self.writeShare(share, of: pieces, n, total: total, index)
            }
            return self.slots[index].producer.completedToken() >= token
        }
        if total >= Self.splitMinimum { slot.pointee.peerSharesCopies = shared }
    }

    /// Writes a claimed share of `bytes` into the receiver's memory where
    /// its offer says, and answers it: written, or refused when the offer
    /// lies outside the message or the kernel refuses the write (the
    /// receiver then copies that share itself).
    @discardableResult
    private func writeShare(_ share: SplitShare, of pieces: UnsafePointer<pvm_remote_piece>, _ count: Int, total: Int, _ index: Int) -> Bool {
        if let hook = _testOnShareClaim { hook() }
        let pid = slots[index].pid
        var written = share.count > 0 && share.offset <= UInt64(total) && share.count <= UInt64(total) - share.offset
            && !_testRefuseShares
        var done = 0
        let n = Int(truncatingIfNeeded: share.count)
        while written && done < n {
            let r = pvm_vm_write_pieces(pid, UnsafeMutableRawPointer(bitPattern: UInt(share.address) &+ UInt(done)),
                                        pieces, UInt32(count), share.offset &+ UInt64(done), n - done)
            if r < 0 && errno == EINTR { continue }
            if r <= 0 { written = false } else { done += r }
        }
        slots[index].producer.finishSplit(written: written)
        if written { sharesWritten &+= 1 } else { sharesRefused &+= 1 }
        return written
    }

    /// Shares of single-copy pulls: offered to our senders and written by
    /// them, and written or refused for our receivers.
    @exclusivity(unchecked) package private(set) var sharesOffered = 0
    @exclusivity(unchecked) package private(set) var sharesReceived = 0
    @exclusivity(unchecked) package private(set) var sharesWritten = 0
    @exclusivity(unchecked) package private(set) var sharesRefused = 0
    /// Test hooks: refuse every share offered; run when a share is claimed,
    /// before it is written.
    @exclusivity(unchecked) package var _testRefuseShares = false
    @exclusivity(unchecked) package var _testOnShareClaim: (() -> Void)? = nil

    /// How long a sender waiting for the receiver's pull of `count` bytes
    /// spins before it sleeps: about twice the copy's expected time (the
    /// cost per byte measured for its size class, else 8 GB/s), at most
    /// `maxCopySpin`. A wait for a pull is one whose end is near and known,
    /// unlike a wait for a message: measured at 4 MiB (bw, one pair), a
    /// sender that slept after the usual 50 us spin and was woken by the
    /// receiver's doorbell sent at 10.4-10.6 GB/s, about 400 us a message
    /// where the pull itself takes 315-330 us. Nothing when this endpoint
    /// may not spin (more runnable threads than CPUs).
    private func copySpin(_ count: Int) -> UInt64 {
        let measured = largePaths[bytes: count].singleCopyCost
        let expected = Double(count) * (measured > 0 ? measured : 0.125)
        return UInt64(min(2 * expected, Double(Self.maxCopySpin)))
    }
    static let maxCopySpin: UInt64 = 4_000_000

    private func sendPipelined(_ bytes: UnsafeRawBufferPointer, _ index: Int) throws(TransportError) {
        var whole = bytes
        try withUnsafePointer(to: &whole) { (one: UnsafePointer<UnsafeRawBufferPointer>) throws(TransportError) in
            var cursor = PieceCursor(UnsafeBufferPointer(start: one, count: 1))
            try sendChunks(&cursor, total: bytes.count, index)
        }
    }

    private func reserveBlocking(_ index: Int, _ length: Int) throws(TransportError) -> UnsafeMutableRawPointer {
        var payload: UnsafeMutableRawPointer? = slots[index].producer.reserve(length)
        if let payload { return payload }
        try block(on: index, "ring space") {
            payload = self.slots[index].producer.reserve(length)
            return payload != nil
        }
        return payload!
    }

    /// Waits until `ready` holds, while keeping this task's own inbox moving
    /// (so two tasks blocked on each other both progress). Fails when the
    /// peer goes away.
    /// `spinAtLeast` lengthens the spin (never where the spin budget is 0).
    private func block(on index: Int, _ what: String, spinAtLeast: UInt64 = 0, _ ready: () -> Bool) throws(TransportError) {
        let start = Clock.monotonicNanoseconds()
        var budget = spinBudgetNow(start)
        if budget > 0 { budget = max(budget, spinAtLeast) }
        var spins: UInt32 = 0
        while !ready() {
            guard slots[index].state == .open else {
                throw TransportError(.peerGone, "peer \(index) went away while this task waited for \(what)")
            }
            drainIntoPending()
            spins &+= 1
            if spins & 15 != 0 { pvm_cpu_relax(); continue }
            if Clock.monotonicNanoseconds() &- start < budget { continue }
            // Bounded sleep: a peer that dies is noticed through its socket too.
            sleep(timeoutMilliseconds: 1000, waitingSlot: index, ready)
            if ready() { return }
        }
    }

    // MARK: Zero copy

    /// A buffer of at least `capacity` bytes from this endpoint's shared
    /// heap. Blocks (keeping the inbox moving) while the heap is exhausted by
    /// loans that receivers have not released yet.
    public func loan(capacity: Int) throws(TransportError) -> ShmLoan {
        let heap = try sharedHeap()
        guard capacity > 0, capacity <= heap.capacity else {
            throw TransportError(.tooLarge, "loan of \(capacity) bytes; the shared heap holds \(heap.capacity) (PVM_SHM_HEAP)")
        }
        // Reuse a free block; otherwise carve a fresh one while fewer than
        // `reapInterval` loans went out since the last reap (reaping reads
        // the release queues, lines the receivers just wrote: a cache miss
        // each, so it is batched); otherwise take back what receivers released.
        if let block = heap.reuse(capacity) {
            loansSinceReap &+= 1
            return ShmLoan(buffer: UnsafeMutableRawBufferPointer(start: heap.base + block.offset, count: block.capacity), offset: block.offset, heap: heap)
        }
        if loansSinceReap < Self.reapInterval, let block = heap.carve(capacity) {
            loansSinceReap &+= 1
            return ShmLoan(buffer: UnsafeMutableRawBufferPointer(start: heap.base + block.offset, count: block.capacity), offset: block.offset, heap: heap)
        }
        reapReleases()
        loansSinceReap = 0
        if let block = heap.allocate(capacity) {
            return ShmLoan(buffer: UnsafeMutableRawBufferPointer(start: heap.base + block.offset, count: block.capacity), offset: block.offset, heap: heap)
        }
        var block: (offset: Int, capacity: Int)? = nil
        let start = Clock.monotonicNanoseconds()
        let budget = spinBudgetNow(start)
        while true {
            reapReleases()
            block = heap.allocate(capacity)
            if let block { return ShmLoan(buffer: UnsafeMutableRawBufferPointer(start: heap.base + block.offset, count: block.capacity), offset: block.offset, heap: heap) }
            guard (0..<peerLimit).contains(where: { slots[$0].state == .open && slots[$0].loansOut > 0 }) else {
                throw TransportError(.exhausted, "the \(heap.capacity)-byte shared heap has no free block of \(capacity) bytes")
            }
            drainIntoPending()
            if Clock.monotonicNanoseconds() - start > budget {
                var p = pollfd(fd: -1, events: 0, revents: 0)
                _ = Glibc.poll(&p, 0, 1)
            }
        }
    }

    /// Sends the first `length` bytes of a loaned buffer to `peer`: only its
    /// offset crosses the ring. The loan is consumed; the block returns to the
    /// heap when the receiver has read it.
    public func send(_ loan: consuming ShmLoan, length: Int, to peer: ShmPeerID) throws(TransportError) {
        let slot = try openSlot(peer)
        guard length >= 0, length <= loan.buffer.count else {
            throw TransportError(.tooLarge, "loan send of \(length) bytes from a \(loan.buffer.count)-byte loan")
        }
        if _slowPath(!slot.pointee.heapSent) { try sendHeap(Int(peer)) }
        if _slowPath(slot.pointee.loansOut >= Int(PVM_RELEASE_QUEUE)) {
            try block(on: Int(peer), "loan releases") {
                self.reapReleases()
                return self.slots[Int(peer)].loansOut < Int(PVM_RELEASE_QUEUE)
            }
        }
        let capacity = loan.buffer.count
        let payload = try reserveBlocking(Int(peer), MemoryLayout<pvm_rec_loan>.size)
        let offset = loan.handOver()
        heap!.lend(offset, to: peer)
        slot.pointee.loansOut += 1
        payload.storeBytes(of: UInt64(offset), as: UInt64.self)
        payload.storeBytes(of: UInt64(length), toByteOffset: 8, as: UInt64.self)
        payload.storeBytes(of: UInt64(capacity), toByteOffset: 16, as: UInt64.self)
        if slot.pointee.producer.commit(.loan, length: MemoryLayout<pvm_rec_loan>.size) { ringPeer(slot) }
    }

    private func sharedHeap() throws(TransportError) -> LoanHeap {
        if let heap { return heap }
        do {
            let h = try LoanHeap(size: configuration.heapSize, name: "pvm-heap")
            heap = h
            return h
        } catch {
            throw TransportError(error, "creating the \(configuration.heapSize)-byte shared heap")
        }
    }

    private func sendHeap(_ index: Int) throws(TransportError) {
        guard let heap, let res = resources[index] else { return }
        var message = ControlMessage(kind: .heap)
        message.heapBytes = UInt64(heap.segment.size)
        try sendControl(message, on: res.socket, descriptors: [heap.segment.descriptor.rawValue])
        slots[index].heapSent = true
    }

    /// Takes back the loans that receivers have released.
    private func reapReleases() {
        guard let heap else { return }
        for i in 0..<peerLimit where slots[i].state != .free && slots[i].loansOut > 0 {
            let ring = slots[i].producer.ring
            // Acquire: the entries before `release_tail` are written.
            let tail = pvm_load_acquire_u64(ring.releaseTail)
            var head = slots[i].releaseHead
            guard tail &- head <= UInt64(PVM_RELEASE_QUEUE) else {
                failPeer(i, "peer released more loans than it holds")
                continue
            }
            while head != tail {
                let offset = ring.releaseQueue.load(fromByteOffset: Int(head % UInt64(PVM_RELEASE_QUEUE)) * 8, as: UInt64.self)
                if heap.giveBack(offset, from: UInt32(i)) { slots[i].loansOut -= 1 }
                head &+= 1
            }
            slots[i].releaseHead = head
        }
    }
}

extension RingLayout {
    /// Layout of a ring this endpoint created itself (already initialised).
    init(header: UnsafeMutableRawPointer, capacity: Int) {
        self.header = header
        self.data = header + ringHeaderSize
        self.capacity = UInt64(capacity)
    }
}

extension ShmEndpoint {
    /// Test hook: reserves a record to `peer` and writes half of it without
    /// publishing it, as a producer killed mid-write leaves a ring. Test-only.
    package func _testAbandonPartialRecord(to peer: ShmPeerID, length: Int) {
        guard Int(peer) < peerLimit, slots[Int(peer)].state == .open,
              let payload = slots[Int(peer)].producer.reserve(length) else { return }
        payload.initializeMemory(as: UInt8.self, repeating: 0xAB, count: length / 2)
        let record = payload - recordHeaderSize
        record.storeBytes(of: UInt32(length), toByteOffset: 8, as: UInt32.self)
        record.storeBytes(of: RecordKind.inline.rawValue, toByteOffset: 12, as: UInt16.self)
    }
}

extension ShmEndpoint {
    /// Test hook: publishes a record with an arbitrary kind. Test-only.
    package func _testWriteRecord(to peer: ShmPeerID, kind: UInt16, length: Int, payload bytes: [UInt8] = []) {
        guard Int(peer) < peerLimit, slots[Int(peer)].state == .open,
              let payload = slots[Int(peer)].producer.reserve(length) else { return }
        bytes.prefix(length).withUnsafeBytes { payload.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        let record = payload - recordHeaderSize
        let position = slots[Int(peer)].producer.tail
        record.storeBytes(of: UInt32(length), toByteOffset: 8, as: UInt32.self)
        record.storeBytes(of: kind, toByteOffset: 12, as: UInt16.self)
        record.storeBytes(of: position &+ 1, as: UInt64.self)
        slots[Int(peer)].producer.tail &+= recordSize(length)
        if slots[Int(peer)].producer.claimWakeUp() { ringPeerForTest(peer) }
    }

    /// Writes an express message as a broken peer might: `length` as given
    /// (the line holds 16 bytes) and `positionOffset` added to the ring
    /// position it claims to follow.
    package func _testWriteExpress(to peer: ShmPeerID, length: UInt16, positionOffset: Int64) {
        guard Int(peer) < peerLimit, slots[Int(peer)].state == .open else { return }
        let position = slots[Int(peer)].producer.tail &+ UInt64(bitPattern: positionOffset)
        let mine = slots[Int(peer)].express.mine
        mine.storeBytes(of: UInt32(truncatingIfNeeded: position), toByteOffset: 4, as: UInt32.self)
        mine.storeBytes(of: length, toByteOffset: 8, as: UInt16.self)
        slots[Int(peer)].express.sent &+= 1
        let e = slots[Int(peer)].express
        pvm_store_release_u32(mine, UInt32(e.taken) << 16 | UInt32(e.sent))
        pvm_fence_seq_cst()
        if slots[Int(peer)].producer.claimWakeUp() { ringPeerForTest(peer) }
    }
}

/// A position in a sequence of byte pieces, copied out in order.
struct PieceCursor {
    let pieces: UnsafeBufferPointer<UnsafeRawBufferPointer>
    var index = 0
    var offset = 0

    init(_ pieces: UnsafeBufferPointer<UnsafeRawBufferPointer>) { self.pieces = pieces }

    /// Copies the next `count` bytes to `destination` (the pieces hold them).
    mutating func copy(_ count: Int, to destination: UnsafeMutableRawPointer) {
        var done = 0
        while done < count {
            let p = pieces[index]
            let n = min(p.count - offset, count - done)
            if n > 0 { (destination + done).copyMemory(from: p.baseAddress! + offset, byteCount: n) }
            done += n
            offset += n
            if offset == p.count { index += 1; offset = 0 }
        }
    }
}
