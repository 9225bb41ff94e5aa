import PVMSystem

/// Why a transport operation failed. Every failure that a peer can cause
/// (a malformed record, a bad handshake, a dead process) is one of these;
/// none of them takes the endpoint down.
public struct TransportError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        /// A system call failed (the underlying error says which).
        case system
        /// The peer sent something that does not follow the protocol.
        case malformed
        /// The peer is gone (exited, killed, or closed the connection).
        case peerGone
        /// The message or request is larger than the configuration allows.
        case tooLarge
        /// No such peer, or the peer is not connected.
        case noPeer
        /// Resources ran out (peer table full, heap exhausted for good).
        case exhausted
        /// The operation did not complete in time.
        case timedOut
    }

    public var kind: Kind
    public var message: String
    public var underlying: SystemError?

    public init(_ kind: Kind, _ message: String, underlying: SystemError? = nil) {
        self.kind = kind
        self.message = message
        self.underlying = underlying
    }

    init(_ error: SystemError, _ context: String) {
        self.init(.system, "\(context): \(error)", underlying: error)
    }

    public var description: String { message }
}
