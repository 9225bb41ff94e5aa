#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import PVMTransport

/// Whether the kernel lists an RDMA device (the same source ibv_devices reads).
func kernelListsRDMADevice() -> Bool {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/class/infiniband")) ?? []
    return !names.isEmpty
}

/// The loading path for real: missing library, a library that is not
/// libibverbs, libibverbs without a device (this machine), and the device
/// path where a device is listed.
@Suite struct VerbsLoaderTests {
    @Test func missingLibraryIsReportedNotFatal() {
        let lib = VerbsLibrary(path: "/nonexistent/libibverbs.so.1")
        guard case let .absent(reason) = lib.availability else {
            Issue.record("expected absent, got \(lib.availability)")
            return
        }
        #expect(reason.contains("/nonexistent/libibverbs.so.1"))
        #expect(reason.contains("No such file"))
        #expect(lib.report.hasPrefix("libibverbs not loaded ("))
        #expect(lib.usablePort == nil)
        #expect(lib.forkInitError == nil)
        #expect(lib.path == "/nonexistent/libibverbs.so.1")
        #expect(lib.builtWithHeaders)
        #expect(throws: VerbsError.unavailable(lib.report)) { try VerbsEndpoint(library: lib) }
    }

    /// A library that loads but lacks the entry points (libm): absent, with
    /// the missing symbol named.
    @Test func libraryWithoutTheEntryPointsIsAbsent() {
        let lib = VerbsLibrary(path: "libm.so.6")
        guard case let .absent(reason) = lib.availability else {
            Issue.record("expected absent, got \(lib.availability)")
            return
        }
        #expect(reason.contains("ibv_fork_init"), "\(reason)")
        #expect(lib.usablePort == nil)
    }

    @Test func defaultPathFollowsTheEnvironment() {
        let fromEnvironment = ProcessInfo.processInfo.environment[VerbsLibrary.environmentVariable] ?? ""
        #expect(VerbsLibrary.defaultPath == (fromEnvironment.isEmpty ? "libibverbs.so.1" : fromEnvironment))
    }

    /// Each load is evaluated afresh from its own path (no process-wide
    /// state other than `shared`), so a test can load a missing path after
    /// the real library was loaded, and the reverse.
    @Test func loadingTwiceIsIndependent() {
        let a = VerbsLibrary(path: "/nonexistent/one.so")
        let b = VerbsLibrary(path: "/nonexistent/two.so")
        #expect(a.report != b.report)
        #expect(a.report.contains("one.so") && b.report.contains("two.so"))
    }

    @Test(.enabled(if: !kernelListsRDMADevice(), "a device is present: the no-device report is not expected"))
    func presentLibraryWithoutDeviceSaysSo() throws {
        let lib = VerbsLibrary(path: "libibverbs.so.1")
        switch lib.availability {
        case .absent(let reason):
            // libibverbs1 is not installed here: the absent path is what we test then.
            #expect(reason.contains("libibverbs.so.1"))
        case let .noDevice(library, reason):
            #expect(library == "libibverbs.so.1")
            #expect(!reason.isEmpty)
            #expect(lib.report.hasPrefix("no RDMA device ("), "\(lib.report)")
            #expect(lib.forkInitError == nil, "ibv_fork_init: \(String(describing: lib.forkInitError))")
            #expect(lib.rediscover() == lib.availability || lib.rediscover().usablePort == nil)
        case .devices(_, let devices):
            Issue.record("no device in /sys/class/infiniband, yet the library listed \(devices)")
        }
        #expect(lib.usablePort == nil)
        #expect(throws: VerbsError.unavailable(lib.report)) { try VerbsEndpoint(library: lib) }
    }

    @Test func reportsOfDiscoveredDevices() {
        let ib = VerbsPort(number: 1, state: .active, linkLayer: .infiniband, lid: 7, activeMTU: .mtu4096,
                           activeSpeed: 32, activeWidth: 2)
        let down = VerbsPort(number: 2, state: .down, linkLayer: .infiniband, lid: 0, activeMTU: nil)
        let roce = VerbsPort(number: 1, state: .active, linkLayer: .ethernet,
                             gid: VerbsGID(bytes: [0xfe, 0x80] + [UInt8](repeating: 0, count: 14)),
                             roceV2GIDIndex: 3, roceV2GID: VerbsConnectionInfoTests.roceGID,
                             activeMTU: .mtu1024, activeSpeed: 1, activeWidth: 1)
        #expect(ib.isUsable && !down.isUsable && roce.isUsable)
        #expect(ib.rateGbps == 4 * 25.78125)
        #expect(ib.summary == "port 1 InfiniBand ACTIVE lid 7 4x EDR mtu 4096")
        #expect(roce.sourceGID.index == 3)
        #expect(roce.summary.contains("RoCE v2 gid[3] 0000:0000:0000:0000:0000:ffff:c612:0001"))

        let onlyDown = VerbsAvailability.devices(library: "x", [VerbsDevice(name: "mlx5_0", ports: [down])])
        #expect(onlyDown.usablePort == nil)
        #expect(onlyDown.report == "no active RDMA port (mlx5_0 port 2 InfiniBand DOWN lid 0 width 0 speed 0)")

        let two = VerbsAvailability.devices(library: "x", [
            VerbsDevice(name: "mlx5_0", ports: [down, ib]), VerbsDevice(name: "rxe0", ports: [roce]),
        ])
        #expect(two.usablePort?.device.name == "mlx5_0" && two.usablePort?.port.number == 1)
        #expect(two.report.hasPrefix("mlx5_0 port 1 InfiniBand ACTIVE lid 7"))
        let failed = VerbsAvailability.devices(library: "x", [VerbsDevice(name: "bad0", ports: [], openError: 13)])
        #expect(failed.usablePort == nil && failed.report.contains("bad0: open failed"))
    }

    /// Two endpoints in one process connected over loopback QPs: a small
    /// message each way, then a large one by rendezvous. Only where a device
    /// with an active port is listed (Soft-RoCE counts).
    @Test(.enabled(if: kernelListsRDMADevice(), "no RDMA device in /sys/class/infiniband (no HCA and no Soft-RoCE): the device path is not exercised"))
    func endpointsTalkOverLoopback() throws {
        let lib = VerbsLibrary()
        guard lib.usablePort != nil else {
            print("verbs device path skipped: \(lib.report)")
            return
        }
        let a = try VerbsEndpoint(library: lib)
        let b = try VerbsEndpoint(library: lib)
        try a.connect(remote: try b.localInfo.encoded())
        try b.connect(remote: try a.localInfo.encoded())
        try a.peerReady()
        try b.peerReady()
        #expect(a.isReady && b.isReady)

        func exchange(_ from: VerbsEndpoint, _ to: VerbsEndpoint, _ message: [UInt8]) throws {
            var result = try message.withUnsafeBytes { try from.send($0) }
            var spins = 0
            while result == .wouldBlock && spins < 1_000_000 {
                try from.poll { _ in }
                result = try message.withUnsafeBytes { try from.send($0) }
                spins += 1
            }
            var received: [UInt8]? = nil
            var finished = false
            spins = 0
            while (received == nil || (!finished && message.count > from.configuration.eagerLimit)) && spins < 10_000_000 {
                try to.poll { if case let .message(bytes) = $0 { received = Array(bytes) } }
                try from.poll { if case .largeSendFinished = $0 { finished = true } }
                spins += 1
            }
            #expect(received == message)
        }
        try exchange(a, b, Array("hello from a".utf8))
        try exchange(b, a, Array("hello from b".utf8))
        try exchange(a, b, (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) })
    }
}
