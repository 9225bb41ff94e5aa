#if canImport(Glibc)
import Glibc
#endif
import CSupport

/// A port's logical state (enum ibv_port_state).
public enum VerbsPortState: UInt8, Sendable, CustomStringConvertible {
    case nop = 0, down = 1, initializing = 2, armed = 3, active = 4, activeDefer = 5

    public var description: String {
        switch self {
        case .nop: "NOP"
        case .down: "DOWN"
        case .initializing: "INIT"
        case .armed: "ARMED"
        case .active: "ACTIVE"
        case .activeDefer: "ACTIVE_DEFER"
        }
    }
}

/// One port of an RDMA device, as discovery found it.
public struct VerbsPort: Sendable, Equatable {
    public var number: UInt8
    public var state: VerbsPortState
    public var linkLayer: VerbsLinkLayer
    public var lid: UInt16
    /// The GID at index 0 (the link-local GID).
    public var gid: VerbsGID
    /// The first RoCE v2 GID (an IPv4-mapped one preferred), on Ethernet ports.
    public var roceV2GIDIndex: Int?
    public var roceV2GID: VerbsGID?
    public var activeMTU: VerbsMTU?
    public var maxMTU: VerbsMTU?
    /// InfiniBand encodings (ibv_port_attr's active_speed and active_width).
    public var activeSpeed: UInt8
    public var activeWidth: UInt8
    /// errno of the port query (0: the fields are valid).
    public var queryError: Int32

    public init(number: UInt8, state: VerbsPortState, linkLayer: VerbsLinkLayer, lid: UInt16 = 0,
                gid: VerbsGID = .zero, roceV2GIDIndex: Int? = nil, roceV2GID: VerbsGID? = nil,
                activeMTU: VerbsMTU? = nil, maxMTU: VerbsMTU? = nil, activeSpeed: UInt8 = 0,
                activeWidth: UInt8 = 0, queryError: Int32 = 0) {
        self.number = number
        self.state = state
        self.linkLayer = linkLayer
        self.lid = lid
        self.gid = gid
        self.roceV2GIDIndex = roceV2GIDIndex
        self.roceV2GID = roceV2GID
        self.activeMTU = activeMTU
        self.maxMTU = maxMTU
        self.activeSpeed = activeSpeed
        self.activeWidth = activeWidth
        self.queryError = queryError
    }

    init(_ p: pvm_verbs_port_info) {
        var info = p
        let gid0 = withUnsafeBytes(of: &info.gid0) { VerbsGID(bytes: $0) }
        let v2 = withUnsafeBytes(of: &info.roce_v2_gid) { VerbsGID(bytes: $0) }
        self.init(
            number: p.port_num, state: VerbsPortState(rawValue: p.state) ?? .nop,
            linkLayer: VerbsLinkLayer(rawValue: p.link_layer) ?? .unspecified, lid: p.lid, gid: gid0,
            roceV2GIDIndex: p.roce_v2_gid_index >= 0 ? Int(p.roce_v2_gid_index) : nil,
            roceV2GID: p.roce_v2_gid_index >= 0 ? v2 : nil,
            activeMTU: VerbsMTU(rawValue: p.active_mtu), maxMTU: VerbsMTU(rawValue: p.max_mtu),
            activeSpeed: p.active_speed, activeWidth: p.active_width, queryError: p.query_error)
    }

    /// Active, queried, and addressable: a LID on InfiniBand, a GID on Ethernet.
    public var isUsable: Bool {
        guard queryError == 0, state == .active || state == .activeDefer, activeMTU != nil else { return false }
        switch linkLayer {
        case .infiniband, .unspecified: return lid != 0 && lid < 0xC000
        case .ethernet: return !sourceGID.gid.isZero
        }
    }

    /// The GID (and its table index) that packets from this port carry:
    /// RoCE v2 where the port has one (routable over IP), else index 0.
    public var sourceGID: (index: Int, gid: VerbsGID) {
        if let i = roceV2GIDIndex, let g = roceV2GID { return (i, g) }
        return (0, gid)
    }

    public var widthDescription: String {
        switch activeWidth {
        case 1: "1x"
        case 2: "4x"
        case 4: "8x"
        case 8: "12x"
        case 16: "2x"
        default: "width \(activeWidth)"
        }
    }

    public var speedDescription: String {
        switch activeSpeed {
        case 1: "SDR"
        case 2: "DDR"
        case 4: "QDR"
        case 8: "FDR10"
        case 16: "FDR"
        case 32: "EDR"
        case 64: "HDR"
        case 128: "NDR"
        default: "speed \(activeSpeed)"
        }
    }

    /// Lanes times per-lane data rate in Gb/s, where the encodings are known.
    public var rateGbps: Double? {
        let lanes: Double? = switch activeWidth {
        case 1: 1
        case 2: 4
        case 4: 8
        case 8: 12
        case 16: 2
        default: nil
        }
        let lane: Double? = switch activeSpeed {
        case 1: 2.5
        case 2: 5
        case 4: 10
        case 8: 10.3125
        case 16: 14.0625
        case 32: 25.78125
        case 64: 50
        case 128: 100
        default: nil
        }
        guard let lanes, let lane else { return nil }
        return lanes * lane
    }

    /// "port 1 InfiniBand ACTIVE lid 7 4x EDR mtu 4096" (or the query's error).
    public var summary: String {
        if queryError != 0 { return "port \(number) query failed: \(verbsErrnoText(queryError))" }
        var s = "port \(number) \(linkLayer) \(state)"
        switch linkLayer {
        case .ethernet:
            let (i, g) = sourceGID
            s += roceV2GIDIndex != nil ? " RoCE v2 gid[\(i)] \(g)" : " RoCE gid[0] \(g)"
        case .infiniband, .unspecified:
            s += " lid \(lid)"
        }
        s += " \(widthDescription) \(speedDescription)"
        if let activeMTU { s += " mtu \(activeMTU)" }
        return s
    }
}

/// One RDMA device and its ports.
public struct VerbsDevice: Sendable, Equatable {
    public var name: String
    public var nodeGUID: UInt64
    public var ports: [VerbsPort]
    /// errno of opening or querying the device (0: the fields are valid).
    public var openError: Int32
    public var maxQueuePairWorkRequests: UInt32
    public var maxSharedReceiveWorkRequests: UInt32
    public var maxCompletionEntries: UInt32
    /// RDMA reads a QP may have in flight (max_qp_rd_atom).
    public var maxReadsInFlight: UInt32
    public var maxRegionSize: UInt64

    public init(name: String, nodeGUID: UInt64 = 0, ports: [VerbsPort], openError: Int32 = 0,
                maxQueuePairWorkRequests: UInt32 = 0, maxSharedReceiveWorkRequests: UInt32 = 0,
                maxCompletionEntries: UInt32 = 0, maxReadsInFlight: UInt32 = 0, maxRegionSize: UInt64 = 0) {
        self.name = name
        self.nodeGUID = nodeGUID
        self.ports = ports
        self.openError = openError
        self.maxQueuePairWorkRequests = maxQueuePairWorkRequests
        self.maxSharedReceiveWorkRequests = maxSharedReceiveWorkRequests
        self.maxCompletionEntries = maxCompletionEntries
        self.maxReadsInFlight = maxReadsInFlight
        self.maxRegionSize = maxRegionSize
    }

    init(_ d: pvm_verbs_device_info) {
        var info = d
        let name = withUnsafeBytes(of: &info.name) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        let listed = Int(min(d.ports_listed, UInt32(PVM_VERBS_MAX_PORTS)))
        let ports = withUnsafeBytes(of: &info.ports) { raw in
            (0..<listed).map { i in
                VerbsPort(raw.load(fromByteOffset: i * MemoryLayout<pvm_verbs_port_info>.stride,
                                   as: pvm_verbs_port_info.self))
            }
        }
        self.init(name: name, nodeGUID: d.node_guid, ports: ports, openError: d.open_error,
                  maxQueuePairWorkRequests: d.max_qp_wr, maxSharedReceiveWorkRequests: d.max_srq_wr,
                  maxCompletionEntries: d.max_cqe, maxReadsInFlight: d.max_qp_rd_atom,
                  maxRegionSize: d.max_mr_size)
    }

    /// The node GUID as ibv_devices prints it (16 hex digits).
    public var guidText: String {
        let s = String(nodeGUID, radix: 16)
        return String(repeating: "0", count: max(0, 16 - s.count)) + s
    }

    public var summary: String {
        if openError != 0 { return "\(name): open failed: \(verbsErrnoText(openError))" }
        if ports.isEmpty { return "\(name): no port" }
        return ports.map { "\(name) \($0.summary)" }.joined(separator: "; ")
    }
}

/// A device and one of its usable ports: where the verbs transport would run.
public struct VerbsPortSelection: Sendable, Equatable {
    public var device: VerbsDevice
    public var port: VerbsPort
}

/// What the loader and discovery found on this machine.
public enum VerbsAvailability: Sendable, Equatable {
    /// libibverbs could not be loaded (or this build has no verbs support).
    case absent(reason: String)
    /// libibverbs loaded but lists no device.
    case noDevice(library: String, reason: String)
    /// Devices, with their ports (usable or not).
    case devices(library: String, [VerbsDevice])

    /// The first usable (ACTIVE, addressable) port, if any.
    public var usablePort: VerbsPortSelection? {
        guard case let .devices(_, devices) = self else { return nil }
        for device in devices where device.openError == 0 {
            if let port = device.ports.first(where: \.isUsable) {
                return VerbsPortSelection(device: device, port: port)
            }
        }
        return nil
    }

    public var hasUsablePort: Bool { usablePort != nil }

    /// One line for logs ("verbs: not used: <report>") and the console's conf.
    public var report: String {
        switch self {
        case let .absent(reason):
            return "libibverbs not loaded (\(reason))"
        case let .noDevice(library, reason):
            return "no RDMA device (\(library): \(reason))"
        case let .devices(_, devices):
            let all = devices.map(\.summary).joined(separator: "; ")
            if let selection = usablePort {
                return "\(selection.device.name) \(selection.port.summary)"
                    + (devices.count > 1 || selection.device.ports.count > 1 ? " (of: \(all))" : "")
            }
            return "no active RDMA port (\(all))"
        }
    }
}

/// libibverbs, loaded at run time, and what it found.
///
/// Loading never fails: a machine without the library, without a device or
/// without an active port gets an `availability` that says so, and the
/// verbs transport is simply not used there. Loading also calls
/// `ibv_fork_init`, before any other verbs call, because pvmd forks tasks;
/// so a daemon loads (through `shared`) before it spawns anything.
///
/// Thread safety: immutable after `init`; the C table is read-only.
public final class VerbsLibrary: @unchecked Sendable {
    /// The environment variable that names another library file (tests
    /// point it at a missing file to exercise the absent path).
    public static let environmentVariable = "PVM_IBVERBS_LIBRARY"
    public static let defaultLibrary = "libibverbs.so.1"

    /// `$PVM_IBVERBS_LIBRARY` when set and not empty, else libibverbs.so.1.
    public static var defaultPath: String { String(cString: pvm_verbs_default_library_path()) }

    /// The process's library, loaded on first use from `defaultPath`.
    public static let shared = VerbsLibrary()

    /// The file that was opened (or tried).
    public let path: String
    public let availability: VerbsAvailability
    /// ibv_fork_init's result: nil on success or when not loaded, else its errno.
    public let forkInitError: Int32?
    /// Whether this build was compiled against <infiniband/verbs.h>.
    public let builtWithHeaders: Bool
    let table: OpaquePointer?

    /// Loads `path` (default: `defaultPath`) and discovers devices and ports.
    public init(path: String? = nil) {
        var report = pvm_verbs_load_report()
        let table: OpaquePointer? =
            if let path { path.withCString { pvm_verbs_load($0, &report) } } else { pvm_verbs_load(nil, &report) }
        let library = withUnsafeBytes(of: &report.library) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let detail = withUnsafeBytes(of: &report.detail) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        self.path = library
        self.table = table
        self.builtWithHeaders = report.built_with_headers != 0
        self.forkInitError = table != nil && report.fork_init_error != 0 ? report.fork_init_error : nil
        guard let table else {
            availability = .absent(reason: detail)
            return
        }
        if report.status == Int32(PVM_VERBS_DEVICES.rawValue) {
            availability = Self.discover(table, library: library, expected: Int(report.device_count))
        } else {
            availability = .noDevice(library: library, reason: detail)
        }
    }

    deinit { if let table { pvm_verbs_unload(table) } }

    public var report: String { availability.report }
    public var usablePort: VerbsPortSelection? { availability.usablePort }

    /// Discovers again (ports come up and go down while pvmd runs).
    public func rediscover() -> VerbsAvailability {
        guard let table else { return availability }
        return Self.discover(table, library: path, expected: 16)
    }

    private static func discover(_ table: OpaquePointer, library: String, expected: Int) -> VerbsAvailability {
        let capacity = max(1, min(expected, 64))
        var infos = [pvm_verbs_device_info](repeating: pvm_verbs_device_info(), count: capacity)
        let n = infos.withUnsafeMutableBufferPointer { pvm_verbs_query_devices(table, $0.baseAddress, Int32(capacity)) }
        // The same words as the loader's report, so that the two compare equal.
        if n < 0 { return .noDevice(library: library, reason: "ibv_get_device_list: \(String(cString: strerror(-n)))") }
        if n == 0 { return .noDevice(library: library, reason: "ibv_get_device_list listed no device") }
        return .devices(library: library, infos.prefix(Int(n)).map(VerbsDevice.init))
    }
}

/// "No such device (ENODEV 19)"-style text of an errno value.
func verbsErrnoText(_ code: Int32) -> String {
    String(cString: strerror(code)) + " (errno \(code))"
}
