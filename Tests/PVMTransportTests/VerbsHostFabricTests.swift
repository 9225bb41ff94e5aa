import Testing
@testable import PVMTransport

/// The host fabric that daemons put in the host table, and the choice
/// between verbs and TCP for a pair of hosts.
@Suite struct VerbsHostFabricTests {
    @Test func wireTextRoundTrips() throws {
        for f in [HostFabric.tcp,
                  HostFabric(device: "mlx5_0", port: 1, linkLayer: .infiniband, rateGbps: 100),
                  HostFabric(device: "rxe0", port: 1, linkLayer: .roce, rateGbps: nil)] {
            #expect(try HostFabric(parsing: f.text) == f)
        }
        #expect(HostFabric.tcp.text == "tcp")
        #expect(HostFabric(device: "mlx5_0", port: 1, linkLayer: .infiniband, rateGbps: 100).text == "verbs mlx5_0 1 ib 100")
        #expect(HostFabric(device: "mlx5_0", port: 2, linkLayer: .roce, rateGbps: 25).description == "verbs:mlx5_0/2 RoCE 25Gb/s")
    }

    @Test func badTextFromAPeerIsRefusedWithItsReason() {
        let cases: [(String, String)] = [
            ("", "not 'tcp'"), ("TCP", "not 'tcp'"), ("tcp ", "not 'tcp'"), ("verbs mlx5_0 1 ib", "not 'tcp'"),
            ("verbs  1 ib 100", "bad device name"), ("verbs mlx\u{7f} 1 ib 100", "bad device name"),
            ("verbs \(String(repeating: "d", count: 65)) 1 ib 100", "bad device name"),
            ("verbs mlx5_0 0 ib 100", "bad port number"), ("verbs mlx5_0 256 ib 100", "bad port number"),
            ("verbs mlx5_0 x ib 100", "bad port number"), ("verbs mlx5_0 1 iwarp 100", "link layer"),
            ("verbs mlx5_0 1 ib -5", "bad rate"), ("verbs mlx5_0 1 ib 0", "bad rate"), ("verbs mlx5_0 1 ib fast", "bad rate"),
        ]
        for (text, reason) in cases {
            do {
                _ = try HostFabric(parsing: text)
                Issue.record("\"\(text)\" was accepted")
            } catch {
                #expect(error.description.contains(reason), "\"\(text)\": \(error)")
            }
        }
    }

    @Test func verbsOnlyWhereBothHostsHaveAPortOfOneLinkLayer() {
        let ib = HostFabric(device: "mlx5_0", port: 1, linkLayer: .infiniband, rateGbps: 100)
        let ib2 = HostFabric(device: "mlx4_0", port: 2, linkLayer: .infiniband, rateGbps: 40)
        let roce = HostFabric(device: "rxe0", port: 1, linkLayer: .roce, rateGbps: nil)
        #expect(HostFabric.choose(local: .tcp, remote: ib) == (false, "this host has no usable RDMA port"))
        #expect(HostFabric.choose(local: ib, remote: .tcp) == (false, "the other host has no usable RDMA port"))
        #expect(HostFabric.choose(local: .tcp, remote: .tcp).verbs == false)
        let mixed = HostFabric.choose(local: ib, remote: roce)
        #expect(!mixed.verbs && mixed.reason == "the link layers differ (InfiniBand here, RoCE there)")
        let both = HostFabric.choose(local: ib, remote: ib2)
        #expect(both.verbs && both.reason.contains("both have an active InfiniBand port"), "\(both.reason)")
        #expect(HostFabric.choose(local: roce, remote: roce).verbs)
    }

    /// This machine's own fabric, from the real loader: TCP where discovery
    /// finds no usable port (here: no device), the port where it does.
    @Test func thisHostsFabricFollowsDiscovery() {
        let library = VerbsLibrary.shared
        let fabric = HostFabric(library.availability)
        if let port = library.usablePort {
            #expect(fabric.device == port.device.name && fabric.port == port.port.number)
        } else {
            #expect(fabric == .tcp)
        }
    }
}
