#if canImport(Glibc)
import Glibc
#endif
import PVMSystem

/// How a large message (above `eagerLimit`) crosses shared memory.
public enum ShmLargeMode: String, Sendable, CaseIterable {
    /// Single copy with process_vm_readv when the start-up probe shows the
    /// kernel allows it for this peer, else the pipelined copy.
    case automatic
    /// Always the pipelined copy through the ring (what containers without
    /// ptrace permission get; also forced for testing that path).
    case pipelined
}

/// Tunables of the shared-memory transport. Defaults come from measurements
/// on the project's machine kind (2 vCPU); every value can be overridden from
/// the environment (`fromEnvironment`), and later from `pvmbench tune`.
public struct ShmConfiguration: Sendable, Equatable {
    /// Data bytes of each ring (power of two). One ring per sender per receiver.
    public var ringCapacity: Int = 256 << 10
    /// Largest message copied inline through the ring; larger ones use the
    /// large-message path. At most a quarter ring minus the record header,
    /// which is the default: measured on the project's machine kind, inline
    /// beats single copy at 32 KiB (2.8 us against 4.8 us one way).
    public var eagerLimit: Int = (256 << 10) / 4 - 16
    public var largeMode: ShmLargeMode = .automatic
    /// Largest message sent by single copy when it is permitted; larger ones
    /// are pipelined. Measured on the project's machine kind (2 vCPU VM):
    /// single copy is 2x faster at 32 KiB, even at 128 KiB, and the pipelined
    /// copy 1.6x faster at 1 MiB (it keeps both CPUs copying cache-sized
    /// pieces, where process_vm_readv copies on one).
    public var singleCopyLimit: Int = 256 << 10
    /// Bytes of message per record of a pipelined copy (at most a quarter ring).
    public var pipelinePiece: Int = 64 << 10
    /// How long a blocked call polls before it sleeps. Forced to 0 when the
    /// endpoint sees more local tasks than CPUs (spinning would steal the
    /// CPU from the very task it waits for).
    public var spinNanoseconds: UInt64 = 50_000
    /// Bytes of the shared heap that zero-copy loans come from (created on
    /// the first loan).
    public var heapSize: Int = 64 << 20
    /// Largest message accepted from a peer.
    public var maxMessageSize: Int = 1 << 30
    /// Peers one endpoint can hold.
    public var maxPeers: Int = 256
    /// Records consumed from one ring per poll before moving on (fairness).
    public var batch: Int = 32
    /// Longest a handshake step may take.
    public var handshakeTimeoutMilliseconds: Int32 = 5_000

    public init() {}

    /// Defaults, overridden by PVM_SHM_RING, PVM_SHM_EAGER, PVM_SHM_LARGE
    /// (automatic|pipelined), PVM_SHM_SINGLE_COPY_MAX, PVM_SHM_SPIN_NS, PVM_SHM_HEAP and
    /// PVM_SHM_MAX_PEERS. Sizes take K/M/G suffixes.
    public static func fromEnvironment() -> ShmConfiguration {
        var c = ShmConfiguration()
        if let v = env("PVM_SHM_RING").flatMap(parseSize) {
            c.ringCapacity = v
            // The default eager limit follows the ring (an explicit one is checked as given).
            c.eagerLimit = max(0, min(c.eagerLimit, v / 4 - recordHeaderSize))
        }
        if let v = env("PVM_SHM_EAGER").flatMap(parseSize) { c.eagerLimit = v }
        if let v = env("PVM_SHM_LARGE").flatMap(ShmLargeMode.init(rawValue:)) { c.largeMode = v }
        if let v = env("PVM_SHM_SINGLE_COPY_MAX").flatMap(parseSize) { c.singleCopyLimit = v }
        if let v = env("PVM_SHM_PIECE").flatMap(parseSize) { c.pipelinePiece = v }
        if let v = env("PVM_SHM_SPIN_NS").flatMap({ UInt64($0) }) { c.spinNanoseconds = v }
        if let v = env("PVM_SHM_HEAP").flatMap(parseSize) { c.heapSize = v }
        if let v = env("PVM_SHM_MAX_PEERS").flatMap({ Int($0) }) { c.maxPeers = v }
        return c
    }

    /// Checks the values and says what is wrong.
    public func validated() throws(TransportError) -> ShmConfiguration {
        guard ringCapacity >= 4096, ringCapacity <= 1 << 30, ringCapacity & (ringCapacity - 1) == 0 else {
            throw TransportError(.tooLarge, "ring capacity \(ringCapacity) must be a power of two between 4 KiB and 1 GiB")
        }
        let maxInline = ringCapacity / 4 - recordHeaderSize
        guard eagerLimit >= 0, eagerLimit <= maxInline else {
            throw TransportError(.tooLarge, "eager limit \(eagerLimit) must be at most a quarter ring minus the record header (\(maxInline) for a \(ringCapacity)-byte ring)")
        }
        guard heapSize >= 1 << 16 else { throw TransportError(.tooLarge, "heap size \(heapSize) is below 64 KiB") }
        guard maxPeers >= 1, maxPeers <= 1 << 16 else { throw TransportError(.tooLarge, "max peers \(maxPeers) must be 1...65536") }
        guard batch >= 1 else { throw TransportError(.tooLarge, "batch must be at least 1") }
        guard pipelinePiece >= 1024 else { throw TransportError(.tooLarge, "pipeline piece \(pipelinePiece) is below 1 KiB") }
        return self
    }

    private static func env(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}

/// Parses "4096", "64K", "4M", "1G" (powers of 1024).
public func parseSize(_ text: String) -> Int? {
    var digits = Substring(text.trimmingCharactersInSet())
    var scale = 1
    switch digits.last {
    case "k", "K": scale = 1 << 10
    case "m", "M": scale = 1 << 20
    case "g", "G": scale = 1 << 30
    default: break
    }
    if scale != 1 { digits = digits.dropLast() }
    guard let n = Int(digits), n >= 0 else { return nil }
    let (v, overflow) = n.multipliedReportingOverflow(by: scale)
    return overflow ? nil : v
}

extension String {
    fileprivate func trimmingCharactersInSet() -> String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
