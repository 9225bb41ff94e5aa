/// Why a connection setup step was refused.
public enum VerbsHandshakeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// An event that is valid only in other phases (named: the event, then the phase).
    case outOfOrder(event: String, phase: String)
    case duplicateLocalInfo
    case duplicateRemoteInfo
    case duplicatePeerReady
    /// The peer's info did not decode or validate.
    case badRemoteInfo(VerbsInfoError)
    /// One end is InfiniBand and the other Ethernet: no path between them.
    case linkLayerMismatch(local: VerbsLinkLayer, remote: VerbsLinkLayer)
    /// The peer sent our own QP back (a misrouted or reflected message).
    case reflectedInfo
    /// The local side gave up (a verbs call failed, a timeout, the TCP link closed).
    case aborted(String)
    /// An event arrived after the handshake had failed.
    case alreadyFailed

    public var description: String {
        switch self {
        case let .outOfOrder(event, phase): "verbs handshake: \(event) while \(phase)"
        case .duplicateLocalInfo: "verbs handshake: local info sent twice"
        case .duplicateRemoteInfo: "verbs handshake: the peer sent its info twice"
        case .duplicatePeerReady: "verbs handshake: the peer said ready twice"
        case let .badRemoteInfo(e): "verbs handshake: \(e)"
        case let .linkLayerMismatch(l, r): "verbs handshake: local port is \(l), the peer's is \(r)"
        case .reflectedInfo: "verbs handshake: the peer's info names our own queue pair"
        case let .aborted(why): "verbs handshake aborted: \(why)"
        case .alreadyFailed: "verbs handshake: event after failure"
        }
    }
}

/// The path parameters both ends agreed on, as the INIT -> RTR step needs them.
public struct VerbsPath: Equatable, Sendable {
    public var remote: VerbsConnectionInfo
    /// The smaller of the two ends' MTUs.
    public var mtu: VerbsMTU
    /// A global route header on every packet (RoCE).
    public var useGlobalRoute: Bool
}

/// The setup of one reliable-connected QP, as seen from one end.
///
/// ```
///            localSent ─────┐
///   idle ──┤                ├─→ exchanged ─→ readyToReceive ─→ readyToSend ─→ ready
///            remoteReceived ┘     (RTR)            (RTS)     (+ peer's "ready")
/// ```
///
/// Our info and the peer's may arrive in either order; the peer's "ready"
/// (it has reached RTS) may come before or after our own RTS. Nothing is
/// posted to the QP before `ready`, because a send to a peer that has not
/// reached RTR is dropped and retried into an error. A duplicate or
/// out-of-order event is a protocol error: it is thrown and the handshake
/// stays in `failed` from then on.
public struct VerbsHandshake: Sendable {
    public enum Phase: Equatable, Sendable, CustomStringConvertible {
        case idle
        case localSent
        case remoteReceived
        case exchanged
        case readyToReceive
        case readyToSend
        case ready
        case failed(VerbsHandshakeError)

        public var description: String {
            switch self {
            case .idle: "idle"
            case .localSent: "local info sent"
            case .remoteReceived: "remote info received"
            case .exchanged: "info exchanged"
            case .readyToReceive: "QP at RTR"
            case .readyToSend: "QP at RTS"
            case .ready: "ready"
            case .failed: "failed"
            }
        }
    }

    public private(set) var phase: Phase = .idle
    public private(set) var local: VerbsConnectionInfo?
    public private(set) var remote: VerbsConnectionInfo?
    public private(set) var peerIsReady = false

    public init() {}

    /// The agreed path, once both infos are known.
    public var path: VerbsPath? {
        guard let local, let remote else { return nil }
        return VerbsPath(remote: remote, mtu: min(local.mtu, remote.mtu),
                         useGlobalRoute: local.needsGlobalRoute || remote.needsGlobalRoute)
    }

    public var isReady: Bool { phase == .ready }

    /// Our info went out on the TCP link.
    public mutating func localInfoSent(_ info: VerbsConnectionInfo) throws(VerbsHandshakeError) {
        try checkNotFailed()
        switch phase {
        case .idle:
            local = info
            phase = .localSent
        case .remoteReceived:
            local = info
            try checkCompatible()
            phase = .exchanged
        case .localSent, .exchanged, .readyToReceive, .readyToSend, .ready:
            try fail(.duplicateLocalInfo)
        case .failed:
            break
        }
    }

    /// The peer's info arrived: decoded and validated here (untrusted bytes).
    public mutating func remoteInfoReceived(_ bytes: [UInt8]) throws(VerbsHandshakeError) {
        try checkNotFailed()
        let info: VerbsConnectionInfo
        do throws(VerbsInfoError) {
            info = try VerbsConnectionInfo(decoding: bytes)
        } catch {
            try fail(.badRemoteInfo(error))
        }
        try remoteInfoReceived(info)
    }

    public mutating func remoteInfoReceived(_ info: VerbsConnectionInfo) throws(VerbsHandshakeError) {
        try checkNotFailed()
        switch phase {
        case .idle:
            remote = info
            phase = .remoteReceived
        case .localSent:
            remote = info
            try checkCompatible()
            phase = .exchanged
        case .remoteReceived, .exchanged, .readyToReceive, .readyToSend, .ready:
            try fail(.duplicateRemoteInfo)
        case .failed:
            break
        }
    }

    /// The QP reached RTR (allowed only once both infos are known).
    public mutating func reachedReadyToReceive() throws(VerbsHandshakeError) {
        try checkNotFailed()
        guard phase == .exchanged else { try fail(.outOfOrder(event: "RTR", phase: phase.description)) }
        phase = .readyToReceive
    }

    /// The QP reached RTS. Ready at once if the peer already said so.
    public mutating func reachedReadyToSend() throws(VerbsHandshakeError) {
        try checkNotFailed()
        guard phase == .readyToReceive else { try fail(.outOfOrder(event: "RTS", phase: phase.description)) }
        phase = peerIsReady ? .ready : .readyToSend
    }

    /// The peer said its QP is at RTS. It can only say so after it has our
    /// info and we have its, so before the exchange this is out of order.
    public mutating func peerReady() throws(VerbsHandshakeError) {
        try checkNotFailed()
        if peerIsReady { try fail(.duplicatePeerReady) }
        switch phase {
        case .exchanged, .readyToReceive:
            peerIsReady = true
        case .readyToSend:
            peerIsReady = true
            phase = .ready
        case .idle, .localSent, .remoteReceived, .ready, .failed:
            try fail(.outOfOrder(event: "peer ready", phase: phase.description))
        }
    }

    /// Gives up (a local failure); later events throw `alreadyFailed`.
    public mutating func abort(_ reason: String) {
        if case .failed = phase { return }
        phase = .failed(.aborted(reason))
    }

    private func checkNotFailed() throws(VerbsHandshakeError) {
        if case .failed = phase { throw .alreadyFailed }
    }

    private mutating func fail(_ error: VerbsHandshakeError) throws(VerbsHandshakeError) -> Never {
        phase = .failed(error)
        throw error
    }

    private mutating func checkCompatible() throws(VerbsHandshakeError) {
        guard let local, let remote else { return }
        if local.linkLayer != remote.linkLayer {
            try fail(.linkLayerMismatch(local: local.linkLayer, remote: remote.linkLayer))
        }
        if local.qpn == remote.qpn && local.gid == remote.gid && local.lid == remote.lid
            && local.ringAddress == remote.ringAddress {
            try fail(.reflectedInfo)
        }
    }
}
