#if canImport(Glibc)
import Glibc
#endif
import CSupport

/// Why a verbs endpoint operation failed.
public enum VerbsError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No library, no device or no active port: the loader's report says which.
    case unavailable(String)
    /// A verbs call failed: the C function and its errno.
    case call(function: String, errno: Int32)
    /// A work request completed in error (the peer is gone, or a protection fault).
    case completion(status: UInt32, text: String, vendorError: UInt32)
    case handshake(VerbsHandshakeError)
    case credits(CreditError)
    case ring(RingSlotsError)
    case rendezvous(RendezvousError)
    case registration(RegistrationError)
    /// The peer wrote something that does not follow the protocol.
    case malformed(String)
    /// The endpoint is not (or no longer) connected.
    case notConnected
    case invalidConfiguration(String)

    public var description: String {
        switch self {
        case let .unavailable(report): "verbs unavailable: \(report)"
        case let .call(function, errno): "\(function): \(verbsErrnoText(errno))"
        case let .completion(status, text, vendor): "verbs completion error \(status) (\(text)), vendor error \(vendor)"
        case let .handshake(e): e.description
        case let .credits(e): e.description
        case let .ring(e): e.description
        case let .rendezvous(e): e.description
        case let .registration(e): e.description
        case let .malformed(why): "verbs peer broke the protocol: \(why)"
        case .notConnected: "verbs endpoint not connected"
        case let .invalidConfiguration(why): "verbs configuration: \(why)"
        }
    }
}

/// Sizes and policy of one verbs connection. Every number is a choice made
/// here, in Swift; the C layer only passes them on.
public struct VerbsEndpointConfiguration: Sendable {
    /// The receive ring the peer writes into: slots × slotSize bytes.
    public var ringSlots: UInt32 = 256
    public var slotSize: UInt32 = 256
    /// Receive requests posted for the peer (its credits).
    public var receiveCredits: UInt32 = 128
    /// Repost receive requests in batches of this many.
    public var repostBatch: UInt32 = 16
    public var sendQueueDepth: UInt32 = 256
    /// One signalled completion per this many send requests.
    public var signalInterval: UInt32 = 64
    /// Inline data asked of the QP (the provider may grant more or fail).
    public var inlineRequest: UInt32 = 128
    /// Messages up to this size go through the ring; larger by rendezvous.
    public var eagerLimit: Int = 8192
    public var maxReadSize: Int = 1 << 20
    public var maxReadsInFlight: Int = 8
    public var maxRendezvousOutstanding: Int = 16
    public var registrationCacheBytes: Int = 256 << 20
    /// Completions taken per poll call (bounded work per call).
    public var pollBatch: Int = 16
    /// QP retry policy (ibv_modify_qp's timeout, retry_cnt, rnr_retry, min_rnr_timer).
    public var timeout: UInt8 = 14
    public var retryCount: UInt8 = 7
    public var rnrRetry: UInt8 = 7
    public var minRNRTimer: UInt8 = 12
    public var hopLimit: UInt8 = 64
    public var trafficClass: UInt8 = 0
    public var serviceLevel: UInt8 = 0
    /// Device and port to use (default: the first usable port).
    public var deviceName: String? = nil
    public var portNumber: UInt8? = nil

    public init() {}

    func validate() throws(VerbsError) {
        do {
            _ = try RingGeometry(slots: ringSlots, slotSize: slotSize)
        } catch {
            throw .invalidConfiguration(error.description)
        }
        guard receiveCredits > 0, receiveCredits <= VerbsConnectionInfo.maxCredits else {
            throw .invalidConfiguration("receiveCredits \(receiveCredits)")
        }
        guard repostBatch > 0, repostBatch <= UInt32(PVM_VERBS_MAX_CHAIN), repostBatch <= receiveCredits else {
            throw .invalidConfiguration("repostBatch \(repostBatch)")
        }
        guard signalInterval > 0, sendQueueDepth >= 2 * signalInterval else {
            throw .invalidConfiguration("sendQueueDepth \(sendQueueDepth) must be at least twice signalInterval \(signalInterval)")
        }
        guard eagerLimit >= RendezvousAnnouncement.encodedSize, maxReadSize > 0, maxReadsInFlight > 0,
              maxRendezvousOutstanding > 0, pollBatch > 0, pollBatch <= 32
        else { throw .invalidConfiguration("eager/rendezvous/poll limits") }
    }
}

/// What `poll` hands to its caller.
public enum VerbsEvent {
    /// A message; the bytes are valid only until the handler returns.
    case message(UnsafeRawBufferPointer)
    /// The peer has read a large message: its buffer may be reused.
    case largeSendFinished(id: UInt64)
}

/// What `send` did.
public enum VerbsSendResult: Equatable, Sendable {
    /// Posted; the caller's buffer may be reused.
    case sent
    /// No credit, ring space or send-queue entry now: poll, then retry.
    case wouldBlock
    /// A large message was announced; its buffer must stay untouched until
    /// `poll` reports `.largeSendFinished(id)`.
    case pending(id: UInt64)
}

/// Record kinds in the ring.
enum VerbsRecordKind: UInt8 {
    case data = 1
    case rendezvousAnnounce = 2
    case rendezvousFin = 3
}

/// Memory we allocate, register, and free: page aligned, zeroed.
struct VerbsRegion {
    let base: UnsafeMutableRawPointer
    let count: Int
    let mr: OpaquePointer
    var address: UInt64 { UInt64(UInt(bitPattern: base)) }
    var buffer: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: base, count: count) }
}

/// One reliable-connected queue pair to one peer, with everything it needs:
/// device context, protection domain, completion queue and channel, shared
/// receive queue, the receive ring the peer writes into, and the release
/// word through which each side tells the other how far it has consumed.
///
/// Setup: `init` opens the port and brings the QP to INIT; send
/// `localInfo.encoded()` to the peer over the daemons' TCP link; pass the
/// peer's bytes to `connect(remote:)` (which brings the QP to RTR and RTS);
/// tell the peer "ready" over TCP and call `peerReady()` when its "ready"
/// arrives. Then `send` and `poll`.
///
/// Small messages: RDMA WRITE with immediate of one record into the peer's
/// ring (inline when small, a padding write chained in front at the wrap,
/// one doorbell), taking one receive credit and ring slots; the immediate
/// carries our own consumer position and returned credits (16 bits each).
/// Large messages: an announcement record; the peer RDMA READs straight
/// from our registered buffer and answers with a FIN record.
///
/// Not thread-safe: one thread drives an endpoint (the progress loop).
public final class VerbsEndpoint {
    public let configuration: VerbsEndpointConfiguration
    public let selection: VerbsPortSelection
    public private(set) var localInfo: VerbsConnectionInfo
    public private(set) var handshake = VerbsHandshake()
    /// Inline data the QP accepts (granted by the provider).
    public private(set) var maxInline = 0

    private let library: VerbsLibrary
    private let lib: OpaquePointer
    private var context: OpaquePointer?
    private var pd: OpaquePointer?
    private var channel: OpaquePointer?
    private var cq: OpaquePointer?
    private var srq: OpaquePointer?
    private var qp: OpaquePointer?
    private var ring: VerbsRegion?
    private var release: VerbsRegion?
    private var staging: VerbsRegion?
    private var releaseSources: VerbsRegion?
    private var largeReceive: UnsafeMutableRawPointer?
    private var largeReceiveCapacity = 0
    private var unackedEvents: UInt32 = 0

    private var localRing: LocalRingSlots
    private var returner: CreditReturner
    private var remoteRing: RemoteRingSlots?
    private var credits: CreditWindow?
    private var remote: VerbsConnectionInfo?
    private var sendCache: RegistrationCache<OpaquePointer>
    private var receiveCache: RegistrationCache<OpaquePointer>
    private var rendezvousSender: RendezvousSender<RegistrationLease<OpaquePointer>>
    private var transfer: RendezvousTransfer?
    private var transferLease: RegistrationLease<OpaquePointer>?
    private var pendingFins: [RendezvousFin] = []
    private var arrivalsToDeliver = 0
    private var repostPending: UInt32 = 0
    private var posted: UInt64 = 0
    private var completedThrough: UInt64 = 0
    private var unsignalled: UInt32 = 0
    private let completions: UnsafeMutablePointer<pvm_verbs_completion>
    private let work: UnsafeMutablePointer<pvm_verbs_send_work>
    private let receiveWork: UnsafeMutablePointer<pvm_verbs_recv_work>

    /// Opens the first usable port (or the configured one) and prepares a
    /// QP at INIT with its ring. Throws `.unavailable` with the loader's
    /// report where there is no library, device or active port.
    public init(library: VerbsLibrary = .shared, configuration: VerbsEndpointConfiguration = .init()) throws(VerbsError) {
        try configuration.validate()
        guard let lib = library.table else { throw .unavailable(library.report) }
        let availability = library.rediscover()
        guard let selection = Self.select(availability, configuration) else {
            throw .unavailable(availability.report)
        }
        self.library = library
        self.lib = lib
        self.configuration = configuration
        self.selection = selection
        let geometry = try! RingGeometry(slots: configuration.ringSlots, slotSize: configuration.slotSize)
        self.localRing = LocalRingSlots(geometry: geometry)
        self.returner = try! CreditReturner(window: configuration.receiveCredits)
        self.rendezvousSender = RendezvousSender(maxOutstanding: configuration.maxRendezvousOutstanding)
        self.completions = .allocate(capacity: 32)
        self.work = .allocate(capacity: 4)
        self.receiveWork = .allocate(capacity: Int(PVM_VERBS_MAX_CHAIN))
        // Placeholders until the protection domain exists (setUp replaces them).
        self.sendCache = Self.unregisteredCache()
        self.receiveCache = Self.unregisteredCache()
        // Placeholders until the device objects exist; replaced below.
        self.localInfo = try! VerbsConnectionInfo(
            linkLayer: .infiniband, mtu: .mtu256, lid: 1, qpn: 2, psn: 0, gid: .zero, ringAddress: 1,
            ringRKey: 0, ringSlots: 2, slotSize: 64, initialCredits: 1, releaseAddress: 1, releaseRKey: 0)
        do {
            maxInline = try setUp(geometry: geometry)
        } catch {
            tearDown()
            throw error
        }
    }

    deinit {
        tearDown()
        completions.deallocate()
        work.deallocate()
        receiveWork.deallocate()
    }

    /// A cache whose misses register with `access` in `pd`.
    private static func registrationCache(_ lib: OpaquePointer, _ pd: OpaquePointer, _ access: Int32,
                                          _ capacity: Int) -> RegistrationCache<OpaquePointer> {
        RegistrationCache(
            capacityBytes: capacity,
            register: { address, length in
                var e: Int32 = 0
                guard let mr = pvm_verbs_reg_mr(lib, pd, UnsafeMutableRawPointer(bitPattern: address), length, access, &e)
                else { throw VerbsError.call(function: "ibv_reg_mr", errno: e) }
                return mr
            },
            deregister: { mr in _ = pvm_verbs_dereg_mr(lib, mr) })
    }

    private static func unregisteredCache() -> RegistrationCache<OpaquePointer> {
        RegistrationCache(capacityBytes: 0, register: { _, _ in throw VerbsError.notConnected }, deregister: { _ in })
    }

    private static func select(_ availability: VerbsAvailability, _ c: VerbsEndpointConfiguration) -> VerbsPortSelection? {
        guard c.deviceName != nil || c.portNumber != nil else { return availability.usablePort }
        guard case let .devices(_, devices) = availability else { return nil }
        for d in devices where c.deviceName == nil || d.name == c.deviceName {
            if let p = d.ports.first(where: { $0.isUsable && (c.portNumber == nil || $0.number == c.portNumber) }) {
                return VerbsPortSelection(device: d, port: p)
            }
        }
        return nil
    }

    // MARK: Setup and teardown

    private func check(_ rc: Int32, _ function: String) throws(VerbsError) {
        if rc != 0 { throw .call(function: function, errno: rc) }
    }

    private func allocateRegion(_ count: Int, access: Int32, _ what: String) throws(VerbsError) -> VerbsRegion {
        var raw: UnsafeMutableRawPointer? = nil
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let rounded = (count + page - 1) / page * page
        let rc = posix_memalign(&raw, page, rounded)
        guard rc == 0, let base = raw else { throw .call(function: "posix_memalign(\(what))", errno: rc) }
        memset(base, 0, rounded)
        var err: Int32 = 0
        guard let mr = pvm_verbs_reg_mr(lib, pd, base, rounded, access, &err) else {
            free(base)
            throw .call(function: "ibv_reg_mr(\(what))", errno: err)
        }
        return VerbsRegion(base: base, count: rounded, mr: mr)
    }

    private func freeRegion(_ region: VerbsRegion?) {
        guard let region else { return }
        _ = pvm_verbs_dereg_mr(lib, region.mr)
        free(region.base)
    }

    /// Device objects, memory and the QP at INIT; returns the granted inline size.
    private func setUp(geometry: RingGeometry) throws(VerbsError) -> Int {
        let c = configuration
        var err: Int32 = 0
        context = selection.device.name.withCString { pvm_verbs_open_device(lib, $0, &err) }
        guard context != nil else { throw .call(function: "ibv_open_device(\(selection.device.name))", errno: err) }
        pd = pvm_verbs_alloc_pd(lib, context, &err)
        guard pd != nil else { throw .call(function: "ibv_alloc_pd", errno: err) }
        channel = pvm_verbs_create_comp_channel(lib, context, &err)
        guard let channel else { throw .call(function: "ibv_create_comp_channel", errno: err) }
        // The progress loop polls the fd through epoll: never block on it.
        let fd = pvm_verbs_comp_channel_fd(channel)
        let flags = fcntl(fd, F_GETFL)
        if flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 { throw .call(function: "fcntl(O_NONBLOCK)", errno: errno) }
        let cqEntries = Int32(c.sendQueueDepth + c.receiveCredits + 16)
        cq = pvm_verbs_create_cq(lib, context, cqEntries, channel, &err)
        guard cq != nil else { throw .call(function: "ibv_create_cq", errno: err) }
        srq = pvm_verbs_create_srq(lib, pd, c.receiveCredits + c.repostBatch, 1, &err)
        guard srq != nil else { throw .call(function: "ibv_create_srq", errno: err) }
        var caps = pvm_verbs_qp_caps(max_send_wr: c.sendQueueDepth, max_recv_wr: 0, max_send_sge: 1,
                                     max_recv_sge: 0, max_inline_data: c.inlineRequest)
        qp = pvm_verbs_create_rc_qp(lib, pd, cq, cq, srq, &caps, &err)
        guard let qp else { throw .call(function: "ibv_create_qp", errno: err) }
        let remoteAccess = Int32(PVM_VERBS_ACCESS_LOCAL_WRITE | PVM_VERBS_ACCESS_REMOTE_WRITE)
        ring = try allocateRegion(geometry.byteCount, access: remoteAccess, "receive ring")
        release = try allocateRegion(16, access: remoteAccess, "release word")
        staging = try allocateRegion(geometry.byteCount, access: Int32(PVM_VERBS_ACCESS_LOCAL_WRITE), "send staging")
        releaseSources = try allocateRegion(16 * Int(c.sendQueueDepth), access: Int32(PVM_VERBS_ACCESS_LOCAL_WRITE), "release sources")
        try check(pvm_verbs_qp_to_init(lib, qp, selection.port.number,
                                       Int32(PVM_VERBS_ACCESS_LOCAL_WRITE | PVM_VERBS_ACCESS_REMOTE_WRITE | PVM_VERBS_ACCESS_REMOTE_READ)),
                  "ibv_modify_qp(INIT)")
        // Receive requests without buffers: RDMA write with immediate needs none.
        try postReceives(c.receiveCredits)

        sendCache = Self.registrationCache(lib, pd!, Int32(PVM_VERBS_ACCESS_REMOTE_READ), c.registrationCacheBytes)
        receiveCache = Self.registrationCache(lib, pd!, Int32(PVM_VERBS_ACCESS_LOCAL_WRITE), c.registrationCacheBytes)

        let port = selection.port
        let (_, gid) = port.sourceGID
        do {
            localInfo = try VerbsConnectionInfo(
                linkLayer: port.linkLayer == .ethernet ? .ethernet : .infiniband,
                mtu: port.activeMTU ?? .mtu1024, lid: port.lid, qpn: pvm_verbs_qp_num(qp),
                psn: UInt32(truncatingIfNeeded: pvm_random_u64()) & 0xFF_FFFF, gid: gid,
                ringAddress: ring!.address, ringRKey: pvm_verbs_mr_rkey(ring!.mr),
                ringSlots: geometry.slots, slotSize: geometry.slotSize, initialCredits: c.receiveCredits,
                releaseAddress: release!.address, releaseRKey: pvm_verbs_mr_rkey(release!.mr))
        } catch {
            throw .malformed("local info: \(error)")
        }
        return Int(caps.max_inline_data)
    }

    private func tearDown() {
        if let qp { _ = pvm_verbs_qp_to_error(lib, qp) }
        transferLease.map { try? receiveCache.release($0) }
        transferLease = nil
        for lease in rendezvousSender.cancelAll() { try? sendCache.release(lease) }
        sendCache.removeAll()
        receiveCache.removeAll()
        if let qp { _ = pvm_verbs_destroy_qp(lib, qp); self.qp = nil }
        if let srq { _ = pvm_verbs_destroy_srq(lib, srq); self.srq = nil }
        if let cq {
            if unackedEvents > 0 { pvm_verbs_ack_cq_events(lib, cq, unackedEvents); unackedEvents = 0 }
            _ = pvm_verbs_destroy_cq(lib, cq)
            self.cq = nil
        }
        if let channel { _ = pvm_verbs_destroy_comp_channel(lib, channel); self.channel = nil }
        freeRegion(ring); ring = nil
        freeRegion(release); release = nil
        freeRegion(staging); staging = nil
        freeRegion(releaseSources); releaseSources = nil
        if let largeReceive { free(largeReceive); self.largeReceive = nil }
        if let pd { _ = pvm_verbs_dealloc_pd(lib, pd); self.pd = nil }
        if let context { _ = pvm_verbs_close_device(lib, context); self.context = nil }
    }

    // MARK: Connection

    /// The peer's info (untrusted bytes from the TCP link): validates it,
    /// brings the QP to RTR and RTS. Marks our own info as sent: call it
    /// after our `localInfo` went out.
    public func connect(remote bytes: [UInt8]) throws(VerbsError) {
        do {
            if handshake.phase == .idle { try handshake.localInfoSent(localInfo) }
            try handshake.remoteInfoReceived(bytes)
        } catch { throw .handshake(error) }
        try finishConnect()
    }

    public func connect(remote info: VerbsConnectionInfo) throws(VerbsError) {
        do {
            if handshake.phase == .idle { try handshake.localInfoSent(localInfo) }
            try handshake.remoteInfoReceived(info)
        } catch { throw .handshake(error) }
        try finishConnect()
    }

    private func finishConnect() throws(VerbsError) {
        guard let path = handshake.path, let qp else { throw .notConnected }
        let peer = path.remote
        let c = configuration
        var r = pvm_verbs_remote()
        r.dest_qpn = peer.qpn
        r.rq_psn = peer.psn
        r.dlid = peer.lid
        r.path_mtu = path.mtu.rawValue
        r.use_grh = path.useGlobalRoute ? 1 : 0
        withUnsafeMutableBytes(of: &r.dgid) { dst in
            for (i, b) in peer.gid.bytes.enumerated() { dst[i] = b }
        }
        r.sgid_index = UInt8(truncatingIfNeeded: selection.port.sourceGID.index)
        r.hop_limit = c.hopLimit
        r.traffic_class = c.trafficClass
        r.service_level = c.serviceLevel
        r.port = selection.port.number
        let reads = UInt8(min(max(1, Int(selection.device.maxReadsInFlight)), c.maxReadsInFlight, 16))
        r.max_dest_rd_atomic = reads
        r.min_rnr_timer = c.minRNRTimer
        do {
            try check(pvm_verbs_qp_to_rtr(lib, qp, &r), "ibv_modify_qp(RTR)")
            try advance { (h: inout VerbsHandshake) throws(VerbsHandshakeError) in try h.reachedReadyToReceive() }
            try check(pvm_verbs_qp_to_rts(lib, qp, localInfo.psn, c.timeout, c.retryCount, c.rnrRetry, reads),
                      "ibv_modify_qp(RTS)")
            try advance { (h: inout VerbsHandshake) throws(VerbsHandshakeError) in try h.reachedReadyToSend() }
            remoteRing = RemoteRingSlots(geometry: try RingGeometry(slots: peer.ringSlots, slotSize: peer.slotSize))
            credits = try CreditWindow(window: peer.initialCredits)
            remote = peer
        } catch let error as VerbsError {
            handshake.abort(error.description)
            throw error
        } catch {
            handshake.abort("\(error)")
            throw .malformed("\(error)")
        }
    }

    private func advance(_ step: (inout VerbsHandshake) throws(VerbsHandshakeError) -> Void) throws(VerbsError) {
        do { try step(&handshake) } catch { throw .handshake(error) }
    }

    /// The peer said (over TCP) that its QP is at RTS.
    public func peerReady() throws(VerbsError) {
        try advance { (h: inout VerbsHandshake) throws(VerbsHandshakeError) in try h.peerReady() }
    }

    public var isReady: Bool { handshake.isReady }

    /// The completion channel's descriptor, for the progress loop's epoll
    /// set: readable after `arm()` once a completion arrives.
    public var completionFileDescriptor: Int32 { channel.map { pvm_verbs_comp_channel_fd($0) } ?? -1 }

    /// Requests an event for the next completion (before sleeping). Poll
    /// once more after arming: a completion that raced the arming posts no event.
    public func arm() throws(VerbsError) {
        guard let cq else { throw .notConnected }
        try check(pvm_verbs_req_notify_cq(cq, 0), "ibv_req_notify_cq")
    }

    /// Reads the channel's pending events (after epoll said readable) and
    /// acknowledges them in batches. Returns how many were read.
    @discardableResult
    public func consumeEvents() throws(VerbsError) -> Int {
        guard let channel, let cq else { throw .notConnected }
        var n = 0
        while true {
            var eventCQ: OpaquePointer? = nil
            let rc = pvm_verbs_get_cq_event(lib, channel, &eventCQ)
            if rc == EAGAIN || rc == EWOULDBLOCK { break }
            try check(rc, "ibv_get_cq_event")
            n += 1
            unackedEvents += 1
        }
        // Acknowledging takes a lock in the library: do it in batches.
        if unackedEvents >= 64 {
            pvm_verbs_ack_cq_events(lib, cq, unackedEvents)
            unackedEvents = 0
        }
        return n
    }

    // MARK: Sending

    private var sendQueueFree: UInt64 { UInt64(configuration.sendQueueDepth) - (posted - completedThrough) }

    /// Whether the next send request should ask for a completion: one in
    /// `signalInterval`, so the send queue's entries are known to be free.
    private func nextSignalled() -> Bool {
        unsignalled += 1
        if unsignalled >= configuration.signalInterval {
            unsignalled = 0
            return true
        }
        return false
    }

    private func post(_ count: Int) throws(VerbsError) {
        guard let qp else { throw .notConnected }
        var bad: Int32 = 0
        try check(pvm_verbs_post_send(qp, work, Int32(count), &bad), "ibv_post_send")
        posted += UInt64(count)
    }

    private func readReleaseWord() throws(VerbsError) {
        guard let release else { return }
        // The peer's NIC writes these; each is monotonic, read on its own.
        let ringReleased = pvm_load_acquire_u64(release.base)
        let creditsReturned = pvm_load_acquire_u64(release.base + 8)
        do {
            try remoteRing?.acknowledge(releasedTotal: ringReleased)
        } catch { throw .ring(error) }
        do {
            try credits?.acknowledge(returnedTotal: creditsReturned)
        } catch { throw .credits(error) }
    }

    /// The immediate of every record we write: our ring's consumer position
    /// and our returned credits, 16 bits each.
    private func piggyback() -> UInt32 {
        let ring = localRing.takePiggyback()
        let freed = returner.takePiggyback()
        return UInt32(ring) << 16 | UInt32(freed)
    }

    /// Writes one record into the peer's ring (and the padding before it).
    private func sendRecord(kind: VerbsRecordKind, _ payload: UnsafeRawBufferPointer) throws(VerbsError) -> Bool {
        guard handshake.isReady, let remote, let staging else { throw .notConnected }
        guard var ringSlots = remoteRing, var window = credits else { throw .notConnected }
        if !ringSlots.fits(payloadLength: payload.count) || window.available == 0 {
            try readReleaseWord()
            ringSlots = remoteRing!
            window = credits!
        }
        guard sendQueueFree >= 2, ringSlots.fits(payloadLength: payload.count), window.tryConsume() else { return false }
        let reservation: RingReservation
        do {
            guard let r = try ringSlots.reserve(payloadLength: payload.count) else { return false }
            reservation = r
        } catch { throw .ring(error) }
        remoteRing = ringSlots
        credits = window
        let lkey = pvm_verbs_mr_lkey(staging.mr)
        var n = 0
        if let pad = reservation.padding {
            let header = UnsafeMutableRawBufferPointer(rebasing: staging.buffer[pad.byteOffset..<(pad.byteOffset + RingGeometry.headerSize)])
            do { try RemoteRingSlots.writePadding(into: header, seal: pad.seal) } catch { throw .ring(error) }
            work[n] = pvm_verbs_send_work(
                wr_id: posted + UInt64(n) + 1, local_addr: staging.address + UInt64(pad.byteOffset),
                remote_addr: remote.ringAddress + UInt64(pad.byteOffset), length: UInt32(RingGeometry.headerSize),
                lkey: lkey, rkey: remote.ringRKey, imm: 0, opcode: UInt8(PVM_VERBS_OP_RDMA_WRITE),
                flags: UInt8(maxInline >= RingGeometry.headerSize ? PVM_VERBS_SEND_INLINE : 0)
                    | (nextSignalled() ? UInt8(PVM_VERBS_SEND_SIGNALED) : 0),
                reserved: (0, 0, 0, 0, 0, 0))
            n += 1
        }
        let record = UnsafeMutableRawBufferPointer(
            rebasing: staging.buffer[reservation.byteOffset..<(reservation.byteOffset + reservation.byteCount)])
        do {
            try RemoteRingSlots.writeRecord(into: record, payload: payload, kind: kind.rawValue, seal: reservation.seal)
        } catch { throw .ring(error) }
        var flags: UInt8 = nextSignalled() ? UInt8(PVM_VERBS_SEND_SIGNALED) : 0
        if reservation.byteCount <= maxInline { flags |= UInt8(PVM_VERBS_SEND_INLINE) }
        work[n] = pvm_verbs_send_work(
            wr_id: posted + UInt64(n) + 1, local_addr: staging.address + UInt64(reservation.byteOffset),
            remote_addr: remote.ringAddress + UInt64(reservation.byteOffset), length: UInt32(reservation.byteCount),
            lkey: lkey, rkey: remote.ringRKey, imm: piggyback(), opcode: UInt8(PVM_VERBS_OP_RDMA_WRITE_IMM),
            flags: flags, reserved: (0, 0, 0, 0, 0, 0))
        n += 1
        try post(n)
        return true
    }

    /// Sends one message. Up to `eagerLimit` bytes it is copied and may be
    /// reused on return (`.sent`); larger ones are announced (`.pending`)
    /// and must stay untouched until `.largeSendFinished`. `.wouldBlock`:
    /// no credit, ring space or queue entry; `poll` and retry.
    public func send(_ bytes: UnsafeRawBufferPointer) throws(VerbsError) -> VerbsSendResult {
        if bytes.count <= min(configuration.eagerLimit, remoteRing?.geometry.maxPayload ?? 0) {
            return try sendRecord(kind: .data, bytes) ? .sent : .wouldBlock
        }
        guard handshake.isReady else { throw .notConnected }
        guard let base = bytes.baseAddress else { return try sendRecord(kind: .data, bytes) ? .sent : .wouldBlock }
        let lease: RegistrationLease<OpaquePointer>
        do {
            lease = try sendCache.acquire(address: UInt(bitPattern: base), length: bytes.count)
        } catch { throw .registration(error) }
        let announcement: RendezvousAnnouncement
        do {
            announcement = try rendezvousSender.announce(
                address: UInt64(UInt(bitPattern: base)), length: UInt64(bytes.count),
                rkey: pvm_verbs_mr_rkey(lease.handle), token: lease)
        } catch {
            try? sendCache.release(lease)
            if case .tooManyOutstanding = error { return .wouldBlock }
            throw .rendezvous(error)
        }
        var encoded = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        let ok = try withUnsafeMutableBytes(of: &encoded) { (raw) throws(VerbsError) -> Bool in
            do throws(RendezvousError) { try announcement.encode(into: raw) } catch { throw .rendezvous(error) }
            return try sendRecord(kind: .rendezvousAnnounce, UnsafeRawBufferPointer(raw))
        }
        if !ok {
            // Not sent: forget the announcement (the peer never heard of it).
            if let token = try? rendezvousSender.finished(RendezvousFin(id: announcement.id, length: announcement.length)) {
                try? sendCache.release(token)
            }
            return .wouldBlock
        }
        return .pending(id: announcement.id)
    }

    /// Writes our consumer position and returned-credit total into the
    /// peer's release word (plain RDMA write: consumes nothing there).
    private func writeRelease() throws(VerbsError) {
        guard let remote, let releaseSources, sendQueueFree >= 1 else { return }
        let ringPosition = localRing.takeAll() ?? localRing.consumed
        let freed = returner.takeAll() ?? returner.freed
        // The source slot is reused only after the send queue has gone round
        // once, by when the NIC has read it (see sendQueueFree).
        let slot = Int(posted % UInt64(configuration.sendQueueDepth)) * 16
        pvm_store_relaxed_u64(releaseSources.base + slot, ringPosition)
        pvm_store_relaxed_u64(releaseSources.base + slot + 8, freed)
        var flags: UInt8 = nextSignalled() ? UInt8(PVM_VERBS_SEND_SIGNALED) : 0
        if maxInline >= 16 { flags |= UInt8(PVM_VERBS_SEND_INLINE) }
        work[0] = pvm_verbs_send_work(
            wr_id: posted + 1, local_addr: releaseSources.address + UInt64(slot), remote_addr: remote.releaseAddress,
            length: 16, lkey: pvm_verbs_mr_lkey(releaseSources.mr), rkey: remote.releaseRKey, imm: 0,
            opcode: UInt8(PVM_VERBS_OP_RDMA_WRITE), flags: flags, reserved: (0, 0, 0, 0, 0, 0))
        try post(1)
    }

    // MARK: Receiving

    private func postReceives(_ count: UInt32) throws(VerbsError) {
        guard let srq else { throw .notConnected }
        var left = count
        while left > 0 {
            let n = min(left, UInt32(PVM_VERBS_MAX_CHAIN))
            for i in 0..<Int(n) { receiveWork[i] = pvm_verbs_recv_work(wr_id: 0, addr: 0, length: 0, lkey: 0) }
            var bad: Int32 = 0
            try check(pvm_verbs_post_srq_recv(srq, receiveWork, Int32(n), &bad), "ibv_post_srq_recv")
            left -= n
        }
    }

    /// Takes up to `pollBatch` completions, delivers complete messages in
    /// order, advances rendezvous transfers, reposts receives and returns
    /// credits in batches. Returns the number of completions handled.
    @discardableResult
    public func poll(_ handler: (VerbsEvent) -> Void) throws(VerbsError) -> Int {
        guard let cq else { throw .notConnected }
        let n = Int(pvm_verbs_poll_cq(cq, completions, Int32(configuration.pollBatch)))
        if n < 0 { throw .call(function: "ibv_poll_cq", errno: Int32(-n)) }
        for i in 0..<n {
            let c = completions[i]
            guard c.status == 0 else {
                handshake.abort("completion error \(c.status)")
                throw .completion(status: c.status, text: String(cString: pvm_verbs_wc_status_str(lib, c.status)),
                                  vendorError: c.vendor_err)
            }
            switch c.opcode {
            case UInt32(PVM_VERBS_WC_RECV_RDMA_WITH_IMM):
                do { try returner.arrived() } catch { throw .credits(error) }
                repostPending += 1
                arrivalsToDeliver += 1
                do { try remoteRing?.acknowledge(releasedLow16: UInt16(c.imm >> 16)) } catch { throw .ring(error) }
                do { try credits?.acknowledge(returnedLow16: UInt16(truncatingIfNeeded: c.imm)) } catch { throw .credits(error) }
            case UInt32(PVM_VERBS_WC_RDMA_READ):
                try readCompleted(c.wr_id, handler)
            case UInt32(PVM_VERBS_WC_RDMA_WRITE), UInt32(PVM_VERBS_WC_SEND):
                if c.wr_id > completedThrough && c.wr_id <= posted { completedThrough = c.wr_id }
            default:
                throw .malformed("unexpected completion opcode \(c.opcode)")
            }
        }
        try deliver(handler)
        if repostPending >= configuration.repostBatch {
            try postReceives(repostPending)
            do { try returner.freed(count: UInt64(repostPending)) } catch { throw .credits(error) }
            repostPending = 0
        }
        while let fin = pendingFins.first, try sendFin(fin) { pendingFins.removeFirst() }
        if localRing.releaseDue || returner.explicitReturnDue { try writeRelease() }
        return n
    }

    /// The link is idle: report every consumed slot and freed credit now.
    public func flushReleases() throws(VerbsError) {
        if repostPending > 0 {
            try postReceives(repostPending)
            do { try returner.freed(count: UInt64(repostPending)) } catch { throw .credits(error) }
            repostPending = 0
        }
        if localRing.unpublished > 0 || returner.unreported > 0 { try writeRelease() }
    }

    private func deliver(_ handler: (VerbsEvent) -> Void) throws(VerbsError) {
        guard let ring else { return }
        // A rendezvous in progress holds back later records: order is kept.
        while arrivalsToDeliver > 0 && transfer == nil {
            let record: RingRecord
            do {
                guard let r = try localRing.poll(ring.buffer) else {
                    throw VerbsError.malformed("a write-with-immediate completed without a sealed record")
                }
                record = r
            } catch let e as VerbsError { throw e } catch let e as RingSlotsError { throw .ring(e) } catch {
                throw .malformed("\(error)")
            }
            let payload = UnsafeRawBufferPointer(rebasing: ring.buffer[record.payloadOffset..<(record.payloadOffset + record.length)])
            switch VerbsRecordKind(rawValue: record.kind) {
            case .data:
                handler(.message(payload))
            case .rendezvousAnnounce:
                let announcement: RendezvousAnnouncement
                do { announcement = try RendezvousAnnouncement(decoding: payload) } catch { throw .rendezvous(error) }
                try startTransfer(announcement)
            case .rendezvousFin:
                let fin: RendezvousFin
                do {
                    fin = try RendezvousFin(decoding: payload)
                    let lease = try rendezvousSender.finished(fin)
                    try? sendCache.release(lease)
                } catch { throw .rendezvous(error) }
                handler(.largeSendFinished(id: fin.id))
            case nil:
                throw .malformed("record of unknown kind \(record.kind)")
            }
            do { try localRing.release(record, in: ring.buffer) } catch { throw .ring(error) }
            arrivalsToDeliver -= 1
        }
    }

    private func startTransfer(_ announcement: RendezvousAnnouncement) throws(VerbsError) {
        guard announcement.length <= UInt64(Int.max / 2) else {
            throw .rendezvous(.destinationTooSmall(needed: announcement.length, capacity: UInt64(Int.max / 2)))
        }
        let length = Int(announcement.length)
        if largeReceiveCapacity < length {
            if let old = largeReceive {
                receiveCache.invalidate(address: UInt(bitPattern: old), length: largeReceiveCapacity)
                free(old)
                largeReceive = nil
                largeReceiveCapacity = 0
            }
            var raw: UnsafeMutableRawPointer? = nil
            let rc = posix_memalign(&raw, 4096, length)
            guard rc == 0, let raw else { throw .call(function: "posix_memalign(rendezvous)", errno: rc) }
            largeReceive = raw
            largeReceiveCapacity = length
        }
        let lease: RegistrationLease<OpaquePointer>
        do {
            lease = try receiveCache.acquire(address: UInt(bitPattern: largeReceive!), length: length)
        } catch { throw .registration(error) }
        do {
            transfer = try RendezvousTransfer(
                announcement: announcement, destination: UInt64(UInt(bitPattern: largeReceive!)),
                capacity: UInt64(largeReceiveCapacity), lkey: pvm_verbs_mr_lkey(lease.handle),
                maxReadSize: configuration.maxReadSize, maxOutstandingReads: configuration.maxReadsInFlight)
        } catch {
            try? receiveCache.release(lease)
            throw .rendezvous(error)
        }
        transferLease = lease
        try postReads()
    }

    /// Reads are always signalled: each completion advances the transfer
    /// (and, like any signalled completion, retires the send-queue entries
    /// before it). Their wr_id is their post index, as for writes.
    private func postReads() throws(VerbsError) {
        guard var t = transfer else { return }
        while sendQueueFree >= 1, let read = t.nextRead() {
            work[0] = pvm_verbs_send_work(
                wr_id: posted + 1, local_addr: read.localAddress, remote_addr: read.remoteAddress,
                length: UInt32(read.length), lkey: read.lkey, rkey: read.rkey, imm: 0,
                opcode: UInt8(PVM_VERBS_OP_RDMA_READ), flags: UInt8(PVM_VERBS_SEND_SIGNALED),
                reserved: (0, 0, 0, 0, 0, 0))
            transfer = t
            try post(1)
            readsInFlight.append((read, posted))
        }
        transfer = t
    }

    private var readsInFlight: [(read: RendezvousRead, postIndex: UInt64)] = []

    private func readCompleted(_ wrID: UInt64, _ handler: (VerbsEvent) -> Void) throws(VerbsError) {
        guard var t = transfer, let first = readsInFlight.first, first.postIndex == wrID
        else { throw .malformed("RDMA read completion \(wrID) matches no read in flight") }
        readsInFlight.removeFirst()
        do throws(RendezvousError) { try t.readCompleted(first.read) } catch { throw .rendezvous(error) }
        transfer = t
        if wrID > completedThrough { completedThrough = wrID }
        if t.isComplete {
            let fin: RendezvousFin
            do { fin = try t.fin() } catch { throw .rendezvous(error) }
            handler(.message(UnsafeRawBufferPointer(start: largeReceive, count: Int(t.announcement.length))))
            if let lease = transferLease { try? receiveCache.release(lease) }
            transferLease = nil
            transfer = nil
            if !(try sendFin(fin)) { pendingFins.append(fin) }
            try deliver(handler)
        } else {
            try postReads()
        }
    }

    private func sendFin(_ fin: RendezvousFin) throws(VerbsError) -> Bool {
        var encoded = (UInt64(0), UInt64(0), UInt64(0))
        return try withUnsafeMutableBytes(of: &encoded) { (raw) throws(VerbsError) -> Bool in
            do throws(RendezvousError) { try fin.encode(into: raw) } catch { throw .rendezvous(error) }
            return try sendRecord(kind: .rendezvousFin, UnsafeRawBufferPointer(raw))
        }
    }
}
