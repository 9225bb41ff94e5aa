/// What a host offers for task data between hosts: TCP only, or an active
/// RDMA port (which device, port, link layer and rate). Every daemon puts
/// its own in its host-table entry, so each knows every other's; the console's
/// `conf` shows it, and `choose` says which transport two hosts would use.
///
/// On the wire (host table, `pvm_config`) it is one short text:
/// `tcp`, or `verbs DEVICE PORT ib|roce RATE` (RATE in Gb/s, `?` unknown).
public struct HostFabric: Sendable, Equatable, CustomStringConvertible {
    public enum LinkLayer: String, Sendable { case infiniband = "ib", roce }

    /// The RDMA port, or nil: TCP only.
    public var device: String?
    public var port: UInt8
    public var linkLayer: LinkLayer
    public var rateGbps: Int?

    public static let tcp = HostFabric(device: nil, port: 0, linkLayer: .infiniband, rateGbps: nil)

    public init(device: String?, port: UInt8, linkLayer: LinkLayer, rateGbps: Int?) {
        self.device = device
        self.port = port
        self.linkLayer = linkLayer
        self.rateGbps = rateGbps
    }

    /// This host's: its first usable port, if any.
    public init(_ availability: VerbsAvailability) {
        guard let s = availability.usablePort else { self = .tcp; return }
        self.init(device: s.device.name, port: s.port.number,
                  linkLayer: s.port.linkLayer == .ethernet ? .roce : .infiniband,
                  rateGbps: s.port.rateGbps.map { Int($0.rounded()) })
    }

    public var hasVerbs: Bool { device != nil }

    /// The wire form.
    public var text: String {
        guard let device else { return "tcp" }
        return "verbs \(device) \(port) \(linkLayer.rawValue) \(rateGbps.map(String.init) ?? "?")"
    }

    /// For `conf`: `tcp`, or `verbs:mlx5_0/1 IB 100Gb/s`.
    public var description: String {
        guard let device else { return "tcp" }
        let link = linkLayer == .roce ? "RoCE" : "IB"
        return "verbs:\(device)/\(port) \(link)" + (rateGbps.map { " \($0)Gb/s" } ?? "")
    }

    /// Reads the wire form; anything else is an error naming it (a daemon
    /// that sends one is refused, never trusted).
    public init(parsing text: String) throws(HostFabricError) {
        let words = text.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        if words == ["tcp"] { self = .tcp; return }
        guard words.count == 5, words[0] == "verbs" else { throw HostFabricError(text, "not 'tcp' or 'verbs DEVICE PORT ib|roce RATE'") }
        let device = words[1]
        guard !device.isEmpty, device.count <= 64,
              device.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else { throw HostFabricError(text, "bad device name") }
        guard let port = UInt8(words[2]), port >= 1 else { throw HostFabricError(text, "bad port number") }
        guard let link = LinkLayer(rawValue: words[3]) else { throw HostFabricError(text, "link layer is not ib or roce") }
        var rate: Int? = nil
        if words[4] != "?" {
            guard let r = Int(words[4]), r > 0, r <= 100_000 else { throw HostFabricError(text, "bad rate") }
            rate = r
        }
        self.init(device: device, port: port, linkLayer: link, rateGbps: rate)
    }

    /// Which transport task data between a host with `local` and one with
    /// `remote` takes, and why: verbs where both have an active port of the
    /// same link layer (InfiniBand does not reach RoCE), else TCP.
    public static func choose(local: HostFabric, remote: HostFabric) -> (verbs: Bool, reason: String) {
        guard local.hasVerbs else { return (false, "this host has no usable RDMA port") }
        guard remote.hasVerbs else { return (false, "the other host has no usable RDMA port") }
        guard local.linkLayer == remote.linkLayer else {
            return (false, "the link layers differ (\(local.linkLayer == .roce ? "RoCE" : "InfiniBand") here, \(remote.linkLayer == .roce ? "RoCE" : "InfiniBand") there)")
        }
        return (true, "both have an active \(local.linkLayer == .roce ? "RoCE" : "InfiniBand") port (\(local) here, \(remote) there)")
    }
}

public struct HostFabricError: Error, Sendable, CustomStringConvertible {
    public let text: String
    public let reason: String
    init(_ text: String, _ reason: String) {
        self.text = String(text.prefix(80))
        self.reason = reason
    }
    public var description: String { "host fabric \"\(text)\": \(reason)" }
}
