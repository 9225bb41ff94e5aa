/// Why a credit report was refused. Every case is the peer breaking the
/// protocol (or memory corruption), so the connection is closed.
public enum CreditError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The receiver claims to have returned credits for messages never sent.
    case returnedBeyondSent(returned: UInt64, sent: UInt64)
    /// A message arrived with no credit left for it: the sender overran.
    case overrun(outstanding: UInt64, window: UInt32)
    /// More receive requests freed than messages arrived.
    case freedBeyondArrived(freed: UInt64, arrived: UInt64)
    case invalidWindow(UInt32)

    public var description: String {
        switch self {
        case let .returnedBeyondSent(r, s): "credits: peer returned \(r), only \(s) sent"
        case let .overrun(o, w): "credits: \(o) messages outstanding in a window of \(w)"
        case let .freedBeyondArrived(f, a): "credits: \(f) freed of \(a) arrived"
        case let .invalidWindow(w): "credits: window of \(w), want 1...\(VerbsConnectionInfo.maxCredits)"
        }
    }
}

/// Sender-side credits for the receiver's posted receive requests (each
/// RDMA write with immediate and each send consumes one there).
///
/// The receiver reports a running total of credits returned, never an
/// increment: in full (the release word it writes into our memory) or as
/// its low 16 bits (piggybacked in the immediate of its own messages).
/// Reports may arrive in any order and be repeated; the newest wins, so no
/// report can make the sender believe in a credit it does not have.
public struct CreditWindow: Sendable {
    public let window: UInt32
    /// Messages sent since the start (each took one credit).
    public private(set) var sent: UInt64 = 0
    /// The receiver's total of credits returned, as last heard.
    public private(set) var returned: UInt64 = 0

    public init(window: UInt32) throws(CreditError) {
        guard window > 0, window <= VerbsConnectionInfo.maxCredits else { throw .invalidWindow(window) }
        self.window = window
    }

    public var available: UInt32 { window - UInt32(sent - returned) }
    public var outstanding: UInt64 { sent - returned }

    /// Takes one credit; false when none is left (wait for a report).
    public mutating func tryConsume() -> Bool {
        guard _fastPath(sent &- returned < UInt64(window)) else { return false }
        sent &+= 1
        return true
    }

    /// A full report (the release word). Older than what we know: ignored.
    public mutating func acknowledge(returnedTotal total: UInt64) throws(CreditError) {
        guard total > returned else { return }
        guard total <= sent else { throw .returnedBeyondSent(returned: total, sent: sent) }
        returned = total
    }

    /// A piggybacked report: the low 16 bits of the receiver's total. It is
    /// newer than what we know when it lies less than half the 16-bit range
    /// ahead (the window is at most 2^15, so a real report always does).
    public mutating func acknowledge(returnedLow16 low: UInt16) throws(CreditError) {
        guard let total = widenedTotal(low16: low, known: returned) else { return }
        try acknowledge(returnedTotal: total)
    }
}

/// Receiver-side credit accounting: counts arrivals, frees (receive
/// requests reposted) and returns, and says when an explicit return is due.
public struct CreditReturner: Sendable {
    public let window: UInt32
    /// Return explicitly once this many freed credits are unreported (half
    /// the window unless chosen otherwise): the sender is then still able to
    /// send while the report travels.
    public let explicitThreshold: UInt32
    public private(set) var arrived: UInt64 = 0
    public private(set) var freed: UInt64 = 0
    public private(set) var returned: UInt64 = 0

    public init(window: UInt32, explicitThreshold: UInt32? = nil) throws(CreditError) {
        guard window > 0, window <= VerbsConnectionInfo.maxCredits else { throw .invalidWindow(window) }
        self.window = window
        self.explicitThreshold = max(1, min(window, explicitThreshold ?? (window + 1) / 2))
    }

    /// One message arrived (it consumed a receive request). The sender may
    /// have at most `window` messages not yet returned: one more is an overrun.
    public mutating func arrived(count: UInt64 = 1) throws(CreditError) {
        let outstanding = arrived + count - returned
        guard outstanding <= UInt64(window) else { throw .overrun(outstanding: outstanding, window: window) }
        arrived += count
    }

    /// Receive requests reposted (credits that may go back to the sender).
    public mutating func freed(count: UInt64 = 1) throws(CreditError) {
        guard freed + count <= arrived else { throw .freedBeyondArrived(freed: freed + count, arrived: arrived) }
        freed += count
    }

    /// Freed credits not yet reported.
    public var unreported: UInt64 { freed - returned }

    public var explicitReturnDue: Bool { unreported >= UInt64(explicitThreshold) }

    /// The total to piggyback on an outgoing message (all freed credits).
    public mutating func takePiggyback() -> UInt16 {
        returned = freed
        return UInt16(truncatingIfNeeded: freed)
    }

    /// The total to write explicitly, when one is due.
    public mutating func takeExplicit() -> UInt64? {
        guard explicitReturnDue else { return nil }
        returned = freed
        return freed
    }

    /// The total to write explicitly now (when the link goes idle), if any is unreported.
    public mutating func takeAll() -> UInt64? {
        guard unreported > 0 else { return nil }
        returned = freed
        return freed
    }
}
