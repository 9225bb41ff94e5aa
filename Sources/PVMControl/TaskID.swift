/// A task identifier in PVM 3.4's layout: bit 31 marks a daemon (server),
/// bit 30 a multicast address, bits 29...18 the host number and bits 17...0
/// the task's number on its host. The first host is 1, so its tasks are
/// t40001, t40002, ... Negative values are PVM error codes, never ids.
public struct TaskID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    public init(_ rawValue: Int32) { self.rawValue = rawValue }

    public static let serverBit: Int32 = Int32(bitPattern: 0x8000_0000)
    public static let multicastBit: Int32 = 0x4000_0000
    public static let hostMask: Int32 = 0x3ffc_0000
    public static let localMask: Int32 = 0x0003_ffff
    public static let hostShift: Int32 = 18
    /// Largest task number on one host.
    public static let maxLocal: Int32 = localMask
    /// Largest host number (12 bits).
    public static let maxHost: Int32 = hostMask >> hostShift

    /// -1: matches any task in a receive.
    public static let any = TaskID(-1)
    /// The source of notify messages (the S bit alone).
    public static let notifySource = TaskID(serverBit)

    /// The task `local` on host number `host`.
    public init(host: Int32, local: Int32) { rawValue = (host << Self.hostShift) | local }
    /// The daemon of host number `host` (t80040000 for host 1).
    public static func daemon(host: Int32) -> TaskID { TaskID(serverBit | (host << hostShift)) }

    /// The host part (what pvm_tidtohost returns: no validation).
    public var hostPart: Int32 { rawValue & Self.hostMask }
    public var hostNumber: Int32 { (rawValue & Self.hostMask) >> Self.hostShift }
    public var localPart: Int32 { rawValue & Self.localMask }
    /// A task (not a daemon, not a multicast address, not an error).
    public var isTask: Bool { rawValue > 0 && rawValue & Self.multicastBit == 0 && localPart != 0 }
    public var isDaemon: Bool { rawValue & Self.serverBit != 0 && rawValue & Self.multicastBit == 0 && localPart == 0 }

    /// `t40001`, as PVM prints ids.
    public var description: String { "t" + String(UInt32(bitPattern: rawValue), radix: 16) }

    /// Parses `t40001`, `40001` or `0x40001` (hexadecimal, as PVM prints them).
    public init?(parsing text: String) {
        var s = Substring(text)
        if s.hasPrefix("t") { s = s.dropFirst() } else if s.hasPrefix("0x") { s = s.dropFirst(2) }
        guard !s.isEmpty, let v = UInt32(s, radix: 16) else { return nil }
        rawValue = Int32(bitPattern: v)
    }

    public static func < (a: TaskID, b: TaskID) -> Bool { a.rawValue < b.rawValue }
}
