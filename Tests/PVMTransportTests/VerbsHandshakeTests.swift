import Testing
import PVMTransport

/// The connection setup state machine on one side.
@Suite struct VerbsHandshakeTests {
    let local: VerbsConnectionInfo
    let remote: VerbsConnectionInfo

    init() throws {
        local = try VerbsConnectionInfoTests.infiniband()
        var r = local
        r.qpn = 0x42
        r.lid = 7
        r.mtu = .mtu2048
        r.psn = 99
        remote = r
    }

    @Test func localFirstThenRemote() throws {
        var h = VerbsHandshake()
        try h.localInfoSent(local)
        #expect(h.phase == .localSent && h.path == nil)
        try h.remoteInfoReceived(try remote.encoded())
        #expect(h.phase == .exchanged)
        let path = try #require(h.path)
        #expect(path.remote == remote)
        #expect(path.mtu == .mtu2048)            // the smaller of 4096 and 2048
        #expect(!path.useGlobalRoute)            // InfiniBand, same subnet
        try h.reachedReadyToReceive()
        try h.reachedReadyToSend()
        #expect(h.phase == .readyToSend && !h.isReady)
        try h.peerReady()
        #expect(h.isReady)
    }

    @Test func remoteFirstAndPeerReadyBeforeOurRTS() throws {
        var h = VerbsHandshake()
        try h.remoteInfoReceived(remote)
        #expect(h.phase == .remoteReceived)
        try h.localInfoSent(local)
        #expect(h.phase == .exchanged)
        try h.peerReady()
        #expect(h.phase == .exchanged && h.peerIsReady)
        try h.reachedReadyToReceive()
        try h.reachedReadyToSend()
        #expect(h.isReady)                       // ready at once: the peer already was
    }

    @Test func roceUsesGlobalRoute() throws {
        var h = VerbsHandshake()
        let a = try VerbsConnectionInfoTests.roce()
        var b = a
        b.qpn = 99
        try h.localInfoSent(a)
        try h.remoteInfoReceived(b)
        #expect(h.path?.useGlobalRoute == true)
    }

    /// Each step out of order: thrown, and the handshake stays failed.
    @Test func outOfOrderEventsFail() throws {
        var h = VerbsHandshake()
        #expect(throws: VerbsHandshakeError.outOfOrder(event: "RTR", phase: "idle")) { try h.reachedReadyToReceive() }
        #expect(h.phase == .failed(.outOfOrder(event: "RTR", phase: "idle")))
        #expect(throws: VerbsHandshakeError.alreadyFailed) { try h.localInfoSent(local) }

        var h2 = VerbsHandshake()
        try h2.localInfoSent(local)
        #expect(throws: VerbsHandshakeError.outOfOrder(event: "peer ready", phase: "local info sent")) { try h2.peerReady() }

        var h3 = VerbsHandshake()
        try h3.localInfoSent(local)
        try h3.remoteInfoReceived(remote)
        #expect(throws: VerbsHandshakeError.outOfOrder(event: "RTS", phase: "info exchanged")) { try h3.reachedReadyToSend() }

        var h4 = VerbsHandshake()
        try h4.localInfoSent(local)
        try h4.remoteInfoReceived(remote)
        try h4.reachedReadyToReceive()
        #expect(throws: VerbsHandshakeError.outOfOrder(event: "RTR", phase: "QP at RTR")) { try h4.reachedReadyToReceive() }
    }

    @Test func duplicatesFail() throws {
        var h = VerbsHandshake()
        try h.localInfoSent(local)
        #expect(throws: VerbsHandshakeError.duplicateLocalInfo) { try h.localInfoSent(local) }

        var h2 = VerbsHandshake()
        try h2.remoteInfoReceived(remote)
        #expect(throws: VerbsHandshakeError.duplicateRemoteInfo) { try h2.remoteInfoReceived(remote) }

        var h3 = VerbsHandshake()
        try h3.localInfoSent(local)
        try h3.remoteInfoReceived(remote)
        try h3.peerReady()
        #expect(throws: VerbsHandshakeError.duplicatePeerReady) { try h3.peerReady() }

        var h4 = VerbsHandshake()
        try h4.localInfoSent(local)
        try h4.remoteInfoReceived(remote)
        try h4.reachedReadyToReceive()
        try h4.reachedReadyToSend()
        try h4.peerReady()
        #expect(h4.isReady)
        #expect(throws: VerbsHandshakeError.duplicateRemoteInfo) { try h4.remoteInfoReceived(remote) }
        #expect(!h4.isReady)
    }

    @Test func badRemoteBytesFail() throws {
        var h = VerbsHandshake()
        try h.localInfoSent(local)
        #expect(throws: VerbsHandshakeError.badRemoteInfo(.shortBuffer(needed: 72, got: 3))) {
            try h.remoteInfoReceived([1, 0, 72])
        }
        if case .failed = h.phase {} else { Issue.record("not failed: \(h.phase)") }
    }

    @Test func linkLayerMismatchAndReflectionFail() throws {
        var h = VerbsHandshake()
        try h.localInfoSent(local)
        #expect(throws: VerbsHandshakeError.linkLayerMismatch(local: .infiniband, remote: .ethernet)) {
            try h.remoteInfoReceived(try VerbsConnectionInfoTests.roce())
        }
        var h2 = VerbsHandshake()
        try h2.remoteInfoReceived(local)
        #expect(throws: VerbsHandshakeError.reflectedInfo) { try h2.localInfoSent(local) }
    }

    @Test func abortIsFinal() throws {
        var h = VerbsHandshake()
        try h.localInfoSent(local)
        h.abort("TCP link closed")
        #expect(h.phase == .failed(.aborted("TCP link closed")))
        h.abort("again")
        #expect(h.phase == .failed(.aborted("TCP link closed")))
        #expect(throws: VerbsHandshakeError.alreadyFailed) { try h.remoteInfoReceived(remote) }
    }
}
