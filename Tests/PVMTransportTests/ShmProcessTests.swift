import Testing
import Foundation
@testable import PVMTransport
import PVMSystem
import PVMTestSupport

/// The shared-memory transport between real, separate processes.
@Suite(.serialized) struct ShmProcessTests {
    static let peer = TestProducts.executable("shm-test-peer")

    static func matches(_ bytes: UnsafeRawBufferPointer, seq: UInt64, seed: UInt64) -> Bool {
        ShmTestPattern.matches(bytes, seq: seq, seed: seed)
    }

    /// Messages sent to the echo process, and their echoes checked for
    /// order and content as they come back.
    struct EchoTally {
        let seed: UInt64
        var sent: UInt64 = 0
        var next: UInt64 = 0
        var bad: [String] = []
        var paths: Set<ShmPath> = []

        init(seed: UInt64) { self.seed = seed }

        /// Sends message `sent` (`count` bytes of its pattern).
        mutating func send(_ count: Int, through endpoint: ShmEndpoint, to peer: ShmPeerID, scratch: UnsafeMutableRawBufferPointer) throws {
            let b = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<count])
            ShmTestPattern.fill(b, seq: sent, seed: seed)
            try endpoint.send(UnsafeRawBufferPointer(b), to: peer)
            sent += 1
        }

        /// Sends message `sent` (`count` bytes of its pattern) as `k` pieces
        /// in memory of their own (not one after the other), cut at uneven points.
        mutating func send(_ count: Int, inPieces k: Int, through endpoint: ShmEndpoint, to peer: ShmPeerID,
                           scratch: UnsafeMutableRawBufferPointer) throws {
            let whole = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<count])
            ShmTestPattern.fill(whole, seq: sent, seed: seed)
            // Cuts: a 40-byte "header" first, the rest at k - 1 uneven points.
            var cuts = [0, min(40, count)]
            for i in 1..<max(k - 1, 1) { cuts.append(min(count, 40 + (count - 40) * i * i / ((k - 1) * (k - 1)))) }
            cuts.append(count)
            cuts = Array(cuts.prefix(k + 1))
            cuts[cuts.count - 1] = count
            var blocks: [UnsafeMutableRawBufferPointer] = []
            defer { blocks.forEach { $0.deallocate() } }
            for (a, b) in zip(cuts, cuts.dropFirst()) {
                let block = UnsafeMutableRawBufferPointer.allocate(byteCount: max(b - a, 1), alignment: 8)
                if b > a { block.copyMemory(from: UnsafeRawBufferPointer(rebasing: whole[a..<b])) }
                blocks.append(UnsafeMutableRawBufferPointer(rebasing: block[0..<(b - a)]))
            }
            let pieces = blocks.map { UnsafeRawBufferPointer($0) }
            try pieces.withUnsafeBufferPointer { try endpoint.send(pieces: $0, total: count, to: peer) }
            sent += 1
        }

        /// Takes echoes until every message sent is back or `deadline` passes.
        mutating func collect(from endpoint: ShmEndpoint, until deadline: Date) throws {
            while next < sent && Date() < deadline {
                try endpoint.receive(timeoutNanoseconds: 1_000_000_000) { event in
                    guard case .message(_, let m) = event else { return }
                    paths.insert(m.path)
                    if !ShmTestPattern.matches(m.bytes, seq: next, seed: seed), bad.count < 5 {
                        let got = m.bytes.count >= 8 ? m.bytes.loadUnaligned(as: UInt64.self) : 0
                        bad.append("echo \(next) (\(m.bytes.count) B, \(m.path)): carries message \(got)")
                    }
                    next += 1
                }
            }
        }
    }

    /// Per-sender bookkeeping of what the sink saw.
    struct Stream {
        var seed: UInt64
        var next: UInt64 = 0
        var ended = false
        var paths: Set<ShmPath> = []
        var bad: [String] = []
        var disconnected: String? = nil
    }

    /// Receives from `senders` until each has sent its end marker (or left),
    /// checking order and every byte.
    static func sink(_ endpoint: ShmEndpoint, seeds: [UInt64], children: [ChildProcess], timeout: Double = 240) throws -> [Stream] {
        var streams: [ShmPeerID: Stream] = [:]
        var order: [ShmPeerID] = []
        let deadline = Date().addingTimeInterval(timeout)
        func finished() -> Bool {
            order.count == seeds.count && streams.count == seeds.count && streams.values.allSatisfy { $0.ended || $0.disconnected != nil }
        }
        while !finished() && Date() < deadline {
            try endpoint.receive(timeoutNanoseconds: 1_000_000_000) { event in
                switch event {
                case .connected(let peer):
                    order.append(peer)
                case .message(let peer, let message):
                    var s = streams[peer] ?? Stream(seed: seeds.first { Self.matches(message.bytes, seq: 0, seed: $0) } ?? 0)
                    if message.bytes.count == 8 && message.bytes.load(as: UInt64.self) == 0xE4D {
                        s.ended = true
                        var ack: UInt64 = 1
                        try withUnsafeBytes(of: &ack) { try endpoint.send($0, to: peer) }
                    } else if s.seed != 0 && !Self.matches(message.bytes, seq: s.next, seed: s.seed) {
                        s.bad.append("expected seq \(s.next), got \(message.bytes.count) bytes")
                    } else {
                        s.paths.insert(message.path)
                        s.next += 1
                    }
                    streams[peer] = s
                case .disconnected(let peer, let reason):
                    streams[peer, default: Stream(seed: 0)].disconnected = reason
                case .readable: break
                }
            }
        }
        return order.map { streams[$0] ?? Stream(seed: 0) }
    }

    /// Millions of messages of every size class from two senders at once
    /// (one of them mixing in zero-copy loans), order and content checked.
    @Test func twoSendersMillionsOfMessagesOfRandomSizes() throws {
        let endpoint = try ShmEndpoint(name: "sink")
        let count: UInt64 = 500_000
        let a = try ChildProcess(Self.peer, ["send", endpoint.address, String(count), "11"])
        let b = try ChildProcess(Self.peer, ["send", endpoint.address, String(count), "22", "--loans"])
        var verified: UInt64 = 0
        var content: [String] = []
        var streams: [ShmPeerID: (seed: UInt64, next: UInt64, ended: Bool, paths: Set<ShmPath>)] = [:]
        var seedsByArrival: [UInt64] = []
        let deadline = Date().addingTimeInterval(300)
        while (streams.count < 2 || !streams.values.allSatisfy(\.ended)) && Date() < deadline {
            try endpoint.receive(timeoutNanoseconds: 1_000_000_000) { event in
                guard case .message(let peer, let m) = event else { return }
                if streams[peer] == nil {
                    // The first message tells the seed: message 0 of seed 11 or 22.
                    let seed: UInt64 = Self.matches(m.bytes, seq: 0, seed: 11) ? 11 : 22
                    streams[peer] = (seed, 0, false, [])
                    seedsByArrival.append(seed)
                }
                var s = streams[peer]!
                if m.bytes.count == 8 && m.bytes.load(as: UInt64.self) == 0xE4D {
                    s.ended = true
                    var ack: UInt64 = 1
                    try withUnsafeBytes(of: &ack) { try endpoint.send($0, to: peer) }
                } else {
                    if !Self.matches(m.bytes, seq: s.next, seed: s.seed) {
                        if content.count < 5 { content.append("seed \(s.seed) message \(s.next) (\(m.bytes.count) bytes, \(m.path)) differs") }
                    }
                    s.paths.insert(m.path)
                    s.next += 1
                    verified += 1
                }
                streams[peer] = s
            }
        }
        #expect(a.wait().status == 0)
        #expect(b.wait().status == 0)
        #expect(content.isEmpty, "\(content)")
        #expect(verified == 2 * count)
        #expect(Set(seedsByArrival) == [11, 22])
        let paths = streams.values.reduce(into: Set<ShmPath>()) { $0.formUnion($1.paths) }
        #expect(paths.contains(.inline))
        #expect(paths.contains(.loan))
        #expect(paths.contains(.singleCopy) || paths.contains(.pipelined))
    }

    /// The single-copy path switched off (as in a container that refuses
    /// process_vm_readv): large messages go through the ring in pieces.
    @Test func pipelinedFallbackWhenSingleCopyIsRefused() throws {
        var config = ShmConfiguration()
        config.largeMode = .pipelined
        let endpoint = try ShmEndpoint(name: "sink", configuration: config)
        let child = try ChildProcess(Self.peer, ["send", endpoint.address, "3000", "33"], environment: ["PVM_SHM_LARGE": "pipelined"])
        let streams = try Self.sink(endpoint, seeds: [33], children: [child])
        #expect(child.wait().status == 0)
        #expect(streams.count == 1)
        #expect(streams.first?.bad == [])
        #expect(streams.first?.next == 3000)
        #expect(streams.first?.paths.contains(.pipelined) == true)
        #expect(streams.first?.paths.contains(.singleCopy) == false)
    }

    /// A sender SIGKILLed in the middle of writing a record: the receiver
    /// keeps every message the other sender sends, gets the killed one's
    /// complete messages and a disconnect, and nothing is left behind.
    @Test func senderKilledMidRecordDoesNotBlockOthers() throws {
        let shmBefore = try FileManager.default.contentsOfDirectory(atPath: "/dev/shm").sorted()
        let endpoint = try ShmEndpoint(name: "sink")
        let victim = try ChildProcess(Self.peer, ["send", endpoint.address, "100000", "44", "--die-mid-record-at", "5000"])
        let survivor = try ChildProcess(Self.peer, ["send", endpoint.address, "100000", "55"])
        let streams = try Self.sink(endpoint, seeds: [44, 55], children: [victim, survivor])
        let v = victim.wait()
        #expect(survivor.wait().status == 0)
        #expect(v.status == -SIGKILL)
        #expect(streams.count == 2)
        let killed = streams.first { $0.disconnected != nil && !$0.ended }
        let alive = streams.first { $0.ended }
        #expect(killed?.next == 5000, "the killed sender's complete messages are all delivered")
        #expect(killed?.bad == [])
        #expect(alive?.next == 100000)
        #expect(alive?.bad == [])
        // No segment name anywhere, no socket file: the abstract socket of the dead process is gone.
        #expect(try FileManager.default.contentsOfDirectory(atPath: "/dev/shm").sorted() == shmBefore)
        let unixSockets = try String(contentsOfFile: "/proc/net/unix", encoding: .utf8)
        #expect(!unixSockets.contains("pvm-0-\(v.status == -SIGKILL ? victim.pid : 0)-"))
    }

    /// A sender killed after it claimed a share of the receiver's pull,
    /// before writing it: the receiver, waiting for that share, notices the
    /// death, closes that peer only (its complete messages before the large
    /// one all delivered), and keeps every message of another sender.
    @Test func senderKilledHoldingAShareDoesNotBlockOthers() throws {
        guard ShmConfiguration.fromEnvironment().largeMode == .automatic else { return }
        let endpoint = try ShmEndpoint(name: "sink")
        let victim = try ChildProcess(Self.peer, ["send", endpoint.address, "100000", "66", "--die-holding-share-after", "3000"])
        let survivor = try ChildProcess(Self.peer, ["send", endpoint.address, "30000", "77"])
        let streams = try Self.sink(endpoint, seeds: [66, 77], children: [victim, survivor], timeout: 120)
        let v = victim.wait()
        #expect(survivor.wait().status == 0)
        #expect(streams.count == 2)
        let alive = streams.first { $0.ended }
        #expect(alive?.next == 30000)
        #expect(alive?.bad == [])
        if endpoint.sharesOffered > 0 {
            // Single copy permitted here: the victim claimed a share and died.
            #expect(v.status == -SIGKILL)
            let killed = streams.first { $0.disconnected != nil && !$0.ended }
            #expect(killed != nil)
            #expect(killed?.next ?? 0 >= 3000, "the killed sender's messages before the large one are delivered")
            #expect(killed?.bad == [])
        }
    }

    /// A task blocked in receive sleeps: it uses (almost) no CPU while waiting.
    @Test func blockedReceiveUsesNoCPU() throws {
        let endpoint = try ShmEndpoint(name: "waker")
        let child = try ChildProcess(Self.peer, ["wait", endpoint.address])
        var peer: ShmPeerID? = nil
        while peer == nil {
            try endpoint.receive(timeoutNanoseconds: 10_000_000_000) { event in
                if case .message(let p, _) = event { peer = p }
            }
        }
        Thread.sleep(forTimeInterval: 1.0)
        var wake: UInt64 = 7
        try withUnsafeBytes(of: &wake) { try endpoint.send($0, to: peer!) }
        var used: UInt64? = nil
        while used == nil {
            try endpoint.receive(timeoutNanoseconds: 10_000_000_000) { event in
                if case .message(_, let m) = event, m.bytes.count == 8 { used = m.bytes.load(as: UInt64.self) }
            }
        }
        endpoint.disconnect(peer!)
        #expect(child.wait().status == 0)
        // One second blocked; the spin phase is 50 us, the rest is asleep.
        #expect(used! < 20_000_000, "blocked receive used \(used!) ns of CPU in one second")
    }

    /// Reserving shared memory past a limit is an error message, not a SIGBUS.
    @Test func exhaustedSharedMemoryIsAnError() throws {
        let child = try ChildProcess(Self.peer, ["reserve-under-limit"])
        let r = child.wait()
        #expect(r.status == 3, "stderr: \(r.stderr)")
        #expect(r.stdout.contains("cannot reserve") || r.stdout.contains("ftruncate"), "\(r.stdout)")
    }

    /// Garbage on the endpoint's socket is refused; the endpoint keeps serving.
    @Test func garbageHandshakeIsRefusedAndEndpointLives() throws {
        let endpoint = try ShmEndpoint(name: "target")
        let socket = try UnixSocket.connect(path: endpoint.address)
        let junk = [UInt8](repeating: 0x5A, count: 64)
        try junk.withUnsafeBytes { try UnixSocket.send(socket, $0) }
        _ = try endpoint.receive(timeoutNanoseconds: 200_000_000) { _ in }
        let echo = try ChildProcess(Self.peer, ["send", endpoint.address, "100", "66"])
        let streams = try Self.sink(endpoint, seeds: [66], children: [echo])
        #expect(echo.wait().status == 0)
        #expect(streams.first?.next == 100)
        #expect(streams.first?.bad == [])
    }

    /// A client that connects and then says nothing does not hold up anyone:
    /// a real sender that connects after it is served at once.
    @Test func silentClientDoesNotStallOthers() throws {
        let endpoint = try ShmEndpoint(name: "target")
        let silent = try UnixSocket.connect(path: endpoint.address)
        let start = Date()
        _ = try endpoint.receive(timeoutNanoseconds: 50_000_000) { _ in }  // accepts the silent client
        let child = try ChildProcess(Self.peer, ["send", endpoint.address, "1000", "77"])
        let streams = try Self.sink(endpoint, seeds: [77], children: [child])
        let elapsed = Date().timeIntervalSince(start)
        #expect(child.wait().status == 0)
        #expect(streams.first?.next == 1000)
        #expect(elapsed < 2.5, "served after \(elapsed) s; the handshake deadline is 5 s")
        _ = silent
    }

    /// Starts `shm-test-peer echo` and returns it with its address.
    /// An echo process, an endpoint connected to it, and one 8-byte message
    /// there and back (so both ends are past their first records).
    static func echoAfterOneMessage(name: String) throws -> (ChildProcess, ShmEndpoint, ShmPeerID) {
        let (echo, address) = try startEcho()
        let endpoint = try ShmEndpoint(name: name)
        let peer = try endpoint.connect(to: address)
        var hello: UInt64 = 5
        try withUnsafeBytes(of: &hello) { try endpoint.send($0, to: peer) }
        var echoed = false
        while !echoed { try endpoint.receive(timeoutNanoseconds: 2_000_000_000) { if case .message = $0 { echoed = true } } }
        return (echo, endpoint, peer)
    }

    static func startEcho(environment: [String: String] = [:]) throws -> (ChildProcess, String) {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("pvm-echo-\(getpid())").path
        try? FileManager.default.removeItem(atPath: file)
        let echo = try ChildProcess(Self.peer, ["echo", file], environment: environment)
        var address = ""
        for _ in 0..<500 where address.isEmpty {
            address = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
            usleep(10_000)
        }
        try? FileManager.default.removeItem(atPath: file)
        return (echo, address)
    }

    /// Two endpoints that connect to each other at the same moment (two
    /// tasks sending each other their first direct message at once): each
    /// answers the other's hello while it waits for its own welcome, so
    /// both connections open at once and carry messages. (Each once waited
    /// for its welcome without accepting: both stalled until the 5 s
    /// handshake deadline and failed.)
    @Test func endpointsConnectingToEachOtherAtOnceBothSucceed() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pvm-cross-\(getpid())").path
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let childFile = dir + "/child", ownFile = dir + "/own"
        let child = try ChildProcess(Self.peer, ["cross", childFile, ownFile])
        var address = ""
        for _ in 0..<500 where address.isEmpty {
            address = (try? String(contentsOfFile: childFile, encoding: .utf8)) ?? ""
            if address.isEmpty { usleep(10_000) }
        }
        #expect(!address.isEmpty, "the child wrote no address")
        let endpoint = try ShmEndpoint(name: "cross-parent")
        try endpoint.address.write(toFile: ownFile, atomically: true, encoding: .utf8)
        let start = Date()
        let peer = try endpoint.connect(to: address)
        let elapsed = Date().timeIntervalSince(start)
        #expect(elapsed < 2.5, "connected after \(elapsed) s; the handshake deadline is 5 s")
        var mine = UInt64(getpid())
        try withUnsafeBytes(of: &mine) { try endpoint.send($0, to: peer) }
        var heard: UInt64 = 0
        var connections = 0
        let deadline = Date().addingTimeInterval(20)
        while (heard == 0 || connections == 0) && Date() < deadline {
            try endpoint.receive(timeoutNanoseconds: 500_000_000) { event in
                switch event {
                case .message(_, let message) where message.bytes.count == 8: heard = message.bytes.load(as: UInt64.self)
                case .connected: connections += 1
                default: break
                }
            }
        }
        #expect(heard == UInt64(child.pid), "the child's message: \(heard)")
        #expect(connections == 1, "the child's own connection arrived \(connections) times")
        #expect(endpoint.peerCount == 2)
        for p in 0..<8 { endpoint.disconnect(ShmPeerID(p)) }
        #expect(child.wait().status == 0)
    }

    /// Both directions at once: windows of 64 messages streamed at a peer
    /// that sends each one back from inside its handler, so its sends block
    /// while more arrive (queued aside) on every large path. Every echo must
    /// come back in order and intact. (The ring's later records once
    /// overtook the queued ones when the handler returned: single-copy
    /// echoes came back out of order.)
    @Test func echoesOfAStreamKeepTheirOrderOnEveryPath() throws {
        let (echo, address) = try Self.startEcho()
        let endpoint = try ShmEndpoint(name: "streamer")
        let peer = try endpoint.connect(to: address)
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        defer { scratch.deallocate() }
        var tally = EchoTally(seed: 0xB1B)
        // Inline, single copy (64 and 200 KiB) and pipelined (1 MiB), mixed within windows too.
        let plans: [[Int]] = [[64], [64 << 10], [200 << 10], [1 << 20], [64, 64 << 10, 300, 1 << 20, 200 << 10]]
        for plan in plans {
            for _ in 0..<6 {
                for k in 0..<64 {
                    try tally.send(plan[k % plan.count], through: endpoint, to: peer, scratch: scratch)
                }
                try tally.collect(from: endpoint, until: Date().addingTimeInterval(60))
                #expect(tally.next == tally.sent, "\(tally.sent - tally.next) echoes missing")
            }
        }
        #expect(tally.bad.isEmpty, "\(tally.bad)")
        #expect(tally.paths.isSuperset(of: [.inline, .singleCopy, .pipelined]) || !tally.paths.contains(.singleCopy), "paths seen: \(tally.paths)")
        endpoint.disconnect(peer)
        #expect(echo.wait(seconds: 20).status == 0)
    }

    /// Large messages set aside while this end's sends were blocked leave
    /// their buffers as spares once delivered; a receive that sleeps a
    /// moment keeps them (the next window reuses them instead of faulting
    /// in and zeroing new pages), and one that stays idle for 250 ms trims
    /// them to 4. (They were trimmed on every sleep: a streaming peer that
    /// waits between windows lost them all each time.)
    @Test func spareBuffersOutliveAShortWaitAndGoWhenIdle() throws {
        let (echo, address) = try Self.startEcho()
        let endpoint = try ShmEndpoint(name: "spares")
        let peer = try endpoint.connect(to: address)
        let n = 1 << 20
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: n, alignment: 64)
        defer { scratch.deallocate() }
        scratch.initializeMemory(as: UInt8.self, repeating: 7)
        var spares = 0
        // Windows of 1 MiB messages until some echoes were set aside.
        for _ in 0..<20 where spares <= 4 {
            for _ in 0..<32 { try endpoint.send(UnsafeRawBufferPointer(scratch), to: peer) }
            var got = 0
            let deadline = Date().addingTimeInterval(30)
            while got < 32 && Date() < deadline {
                try endpoint.receive(timeoutNanoseconds: 1_000_000_000) { event in
                    if case .message(_, let m) = event, m.bytes.count == n { got += 1 }
                }
            }
            try #require(got == 32, "echoes missing")
            spares = endpoint.spareCountForTest
        }
        try #require(spares > 4, "no echo was set aside in 20 windows")
        #expect(try endpoint.receive(timeoutNanoseconds: 30_000_000) { _ in } == 0)
        #expect(endpoint.spareCountForTest == spares, "a 30 ms wait dropped the spares")
        #expect(try endpoint.receive(timeoutNanoseconds: 600_000_000) { _ in } == 0)
        #expect(endpoint.spareCountForTest == 4, "an idle receive kept \(endpoint.spareCountForTest) spares")
        endpoint.disconnect(peer)
        #expect(echo.wait(seconds: 20).status == 0)
    }

    /// A receiver that named memory for a pipelined message (`placement`)
    /// and then cannot wait for it (`withdrawPlacement`, what a pvm_precv
    /// that fails mid-message does): the part already assembled moves to a
    /// buffer of the transport's and the message arrives the usual way,
    /// whole and intact.
    @Test func withdrawnPlacementDeliversTheMessageTheUsualWay() throws {
        // The echo sends its 4 MiB pipelined (never single copy, which would
        // pull it whole in one poll).
        let (echo, address) = try Self.startEcho(environment: ["PVM_SHM_ADAPTIVE": "off"])
        let endpoint = try ShmEndpoint(name: "placement")
        let peer = try endpoint.connect(to: address)
        let n = 4 << 20
        let seed: UInt64 = 0x9A7
        let out = UnsafeMutableRawBufferPointer.allocate(byteCount: n, alignment: 64)
        defer { out.deallocate() }
        ShmTestPattern.fill(out, seq: 0, seed: seed)
        let target = UnsafeMutableRawPointer.allocate(byteCount: n, alignment: 64)
        defer { target.deallocate() }
        var asked = 0
        endpoint.placement = { _, _, total in
            asked += 1
            return total == n ? (target, 0) : nil
        }
        try endpoint.send(UnsafeRawBufferPointer(out), to: peer)
        var placed = 0
        var delivered: [(ShmPath, Bool)] = []
        let deadline = Date().addingTimeInterval(30)
        while asked == 0 && Date() < deadline {
            _ = try endpoint.poll { event in if case .message(_, let m) = event, m.path == .placed { placed += 1 } }
        }
        try #require(asked == 1, "placement was not asked")
        try #require(placed == 0, "the whole message came in one poll: nothing to withdraw")
        endpoint.withdrawPlacement()
        endpoint.placement = nil
        while delivered.isEmpty && Date() < deadline {
            try endpoint.receive(timeoutNanoseconds: 1_000_000_000) { event in
                if case .message(_, let m) = event {
                    delivered.append((m.path, m.bytes.count == n && Self.matches(m.bytes, seq: 0, seed: seed)))
                }
            }
        }
        #expect(delivered.count == 1)
        #expect(delivered.first?.0 == .pipelined)
        #expect(delivered.first?.1 == true, "the message is not the one sent")
        endpoint.disconnect(peer)
        #expect(echo.wait(seconds: 20).status == 0)
    }

    /// Receives posted before the sends (`placementWhileBlocked`, what
    /// bibw over the bare transport does): a peer echoes a stream of large
    /// messages from inside its handler while this end is still sending, so
    /// echoes arrive while this end's sends block. Each must go straight
    /// into the memory named for it, also then, and be delivered later on
    /// the `.placed` path, in order and intact, on both large paths (single
    /// copy and pipelined).
    @Test func receivesPostedBeforeBlockedSendsAreFilledInPlaceAndInOrder() throws {
        let (echo, address) = try Self.startEcho()
        let endpoint = try ShmEndpoint(name: "posted")
        let peer = try endpoint.connect(to: address)
        let seed: UInt64 = 0x905
        let largest = 1 << 20
        let window = 32
        let out = UnsafeMutableRawBufferPointer.allocate(byteCount: largest, alignment: 64)
        defer { out.deallocate() }
        let target = UnsafeMutableRawPointer.allocate(byteCount: window * largest, alignment: 4096)
        defer { target.deallocate() }
        // The k-th message of a window goes to its own slot of `target`.
        var named = 0
        var namedWhileSending = 0
        var sending = false
        endpoint.placementWhileBlocked = true
        endpoint.placement = { _, _, total in
            guard total <= largest, named < window else { return nil }
            if sending { namedWhileSending += 1 }
            named += 1
            return (target + (named - 1) * largest, 0)
        }
        var sent: UInt64 = 0
        var bad: [String] = []
        // 200 KiB goes by single copy, 1 MiB pipelined (the defaults).
        for n in [200 << 10, largest, 200 << 10, largest] {
            named = 0
            let first = sent
            sending = true
            for _ in 0..<window {
                let b = UnsafeMutableRawBufferPointer(rebasing: out[0..<n])
                ShmTestPattern.fill(b, seq: sent, seed: seed)
                try endpoint.send(UnsafeRawBufferPointer(b), to: peer)
                sent += 1
            }
            sending = false
            var got = 0
            let deadline = Date().addingTimeInterval(60)
            while got < window && Date() < deadline {
                try endpoint.receive(timeoutNanoseconds: 1_000_000_000) { event in
                    guard case .message(_, let m) = event else { return }
                    let slot = UnsafeRawBufferPointer(start: target + got * largest, count: n)
                    if m.path != .placed || m.total != n || m.bytes.count != 0 || !Self.matches(slot, seq: first + UInt64(got), seed: seed) {
                        if bad.count < 5 { bad.append("echo \(first + UInt64(got)) of \(n) B: \(m.path), total \(m.total), head \(m.bytes.count) B") }
                    }
                    got += 1
                }
            }
            #expect(got == window, "\(window - got) echoes of \(n) B missing")
            #expect(named == window, "placement named memory for \(named) of \(window) echoes of \(n) B")
        }
        #expect(bad.isEmpty, "\(bad)")
        #expect(namedWhileSending > 0, "no echo arrived while a send was blocked: the test did not test it")
        endpoint.disconnect(peer)
        #expect(echo.wait(seconds: 20).status == 0)
    }

    /// A send blocked on a peer's full ring sleeps, even while a descriptor
    /// this endpoint watches is readable and nobody reads it (the events it
    /// queues can only be delivered after the send): the sending thread uses
    /// almost no CPU. And when the peer dies the send fails promptly. (It
    /// spun: epoll returned at once for the readable descriptor.)
    @Test func blockedSendSleepsWhileAWatchedDescriptorIsReadable() throws {
        final class Sender: @unchecked Sendable {
            let endpoint: ShmEndpoint
            var peer: ShmPeerID = 0
            var thread = pthread_t()
            var failure: String? = nil
            let done = DispatchSemaphore(value: 0)
            init(_ endpoint: ShmEndpoint) { self.endpoint = endpoint }
        }
        let endpoint = try ShmEndpoint(name: "blocked")
        let stall = try ChildProcess(Self.peer, ["stall", endpoint.address])
        let sender = Sender(endpoint)
        var connected = false
        let deadline = Date().addingTimeInterval(20)
        while !connected && Date() < deadline {
            try endpoint.receive(timeoutNanoseconds: 1_000_000_000) { if case .connected(let p) = $0 { sender.peer = p; connected = true } }
        }
        try #require(connected, "the stalling peer did not connect")
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        #expect(write(fds[1], "x", 1) == 1)
        try endpoint.watch(fds[0])
        let started = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            sender.thread = pthread_self()
            started.signal()
            let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 64)
            defer { chunk.deallocate() }
            do {
                while true { try sender.endpoint.send(UnsafeRawBufferPointer(chunk), to: sender.peer) }
            } catch {
                sender.failure = "\(error)"
            }
            sender.done.signal()
        }
        started.wait()
        usleep(300_000)  // the ring is full by now, and the send blocked
        var clock = clockid_t()
        #expect(pthread_getcpuclockid(sender.thread, &clock) == 0)
        func cpu() -> UInt64 {
            var ts = timespec()
            clock_gettime(clock, &ts)
            return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
        }
        let before = cpu()
        usleep(1_000_000)
        let used = cpu() - before
        #expect(used < 150_000_000, "the blocked send used \(used / 1_000_000) ms of CPU in 1 s")
        kill(stall.pid, SIGKILL)
        _ = stall.wait(seconds: 10)
        #expect(sender.done.wait(timeout: .now() + 10) == .success, "the blocked send did not notice the peer's death")
        #expect(sender.failure != nil)
    }

    /// Small messages go through the pair's express line when the two ends
    /// take turns and through the ring when one streams; a mix of single
    /// messages and bursts (sizes on both sides of the line's 16 bytes,
    /// now and then a large one) must come back from the echo process
    /// intact and in order, having taken both paths both ways.
    @Test func expressLineAndRingKeepOneOrder() throws {
        let (echo, address) = try Self.startEcho()
        let endpoint = try ShmEndpoint(name: "turns")
        let peer = try endpoint.connect(to: address)
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 300 << 10, alignment: 64)
        defer { scratch.deallocate() }
        var tally = EchoTally(seed: 0xE4B)
        var x: UInt64 = 0x2545_F491_4F6C_DD1D
        func random(_ n: UInt64) -> Int {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17
            return Int(x % n)
        }
        let deadline = Date().addingTimeInterval(120)
        while tally.sent < 40_000 && Date() < deadline {
            // Mostly single messages (a ping-pong), some bursts of up to 24.
            let burst = random(4) == 0 ? 2 + random(23) : 1
            for _ in 0..<burst {
                let n = random(200) == 0 ? 64 << 10 + random(200 << 10) : 8 + random(33)
                try tally.send(n, through: endpoint, to: peer, scratch: scratch)
            }
            try tally.collect(from: endpoint, until: deadline)
        }
        #expect(tally.sent == 40_000 && tally.next == tally.sent, "\(tally.sent) sent, \(tally.next) echoed")
        #expect(tally.bad.isEmpty, "\(tally.bad)")
        #expect(tally.paths.isSuperset(of: [.express, .inline]), "paths seen: \(tally.paths)")
        endpoint.disconnect(peer)
        #expect(echo.wait(seconds: 20).status == 0)
    }

    /// Above the single-copy limit the sender times both copies and takes the
    /// cheaper, trying the other again now and then: a stream of 1 MiB
    /// messages to the echo process takes both paths (the first two are one
    /// of each) and every echo comes back intact and in order. (The echo
    /// does not share its pulls: a receiver that does gets single copy.)
    @Test func largeMessagesTakeTheCheaperCopyAndKeepTheirOrder() throws {
        var configuration = ShmConfiguration.fromEnvironment()
        guard configuration.largeMode == .automatic else { return }
        configuration.adaptiveLarge = true
        let (echo, address) = try Self.startEcho(environment: ["PVM_SHM_SPLIT": "off"])
        let endpoint = try ShmEndpoint(name: "adaptive", configuration: configuration)
        let peer = try endpoint.connect(to: address)
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 4096)
        defer { scratch.deallocate() }
        var tally = EchoTally(seed: 0xAD4)
        // One at a time: a send that takes in echoes while it waits is an
        // exchange (single copy, untimed), not what this test is about.
        for _ in 0..<160 {
            try tally.send(1 << 20, through: endpoint, to: peer, scratch: scratch)
            try tally.collect(from: endpoint, until: Date().addingTimeInterval(60))
        }
        #expect(tally.next == tally.sent && tally.sent == 160, "\(tally.sent) sent, \(tally.next) echoed")
        #expect(tally.bad.isEmpty, "\(tally.bad)")
        if endpoint.path(to: peer, size: 64 << 10) == .singleCopy {
            // Single copy permitted here: both copies were timed.
            #expect(endpoint.largePaths[bytes: 1 << 20].singleCopyCost > 0 && endpoint.largePaths[bytes: 1 << 20].pipelinedCost > 0)
        }
        endpoint.disconnect(peer)
        #expect(echo.wait(seconds: 20).status == 0)
    }

    /// Counts from the echo process's last line ("shares offered O written W refused R").
    static func echoShares(_ stdout: String) -> (offered: Int, written: Int, refused: Int)? {
        guard let line = stdout.split(separator: "\n").last(where: { $0.hasPrefix("shares offered") }) else { return nil }
        let n = line.split(separator: " ").compactMap { Int($0) }
        return n.count == 3 ? (n[0], n[1], n[2]) : nil
    }

    /// A receiver pulling a single-copy message offers its waiting sender
    /// half of the copy, which the sender writes into the receiver's memory
    /// (the split line): messages of 64 KiB to 4 MiB to the echo process
    /// and back come back intact and in order, both ends wrote shares for
    /// the other, and with PVM_SHM_SPLIT=off on the echo it offers none
    /// (while this end still offers, and the echo writes).
    @Test(arguments: [true, false])
    func singleCopyPullsAreSharedWithTheSender(echoSplits: Bool) throws {
        guard ShmConfiguration.fromEnvironment().largeMode == .automatic else { return }
        let (echo, address) = try Self.startEcho(environment: echoSplits ? [:] : ["PVM_SHM_SPLIT": "off"])
        let endpoint = try ShmEndpoint(name: "sharer")
        let peer = try endpoint.connect(to: address)
        guard endpoint.path(to: peer, size: 128 << 10) == .singleCopy else {
            endpoint.disconnect(peer)
            _ = echo.wait(seconds: 20)
            return  // single copy not permitted here: nothing to share
        }
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 4 << 20, alignment: 4096)
        defer { scratch.deallocate() }
        var tally = EchoTally(seed: 0x5B1)
        let sizes = [64 << 10, (64 << 10) + 1, 100_003, 256 << 10, 1 << 20, (4 << 20) - 5]
        // A share is taken only by a sender on a CPU while the receiver reads
        // its own half: with the machine busy (other suites), go on until
        // each end has written one, for up to 60 s.
        let deadline = Date().addingTimeInterval(60)
        var round = 0
        while round < 10 || ((endpoint.sharesReceived == 0 || (echoSplits && endpoint.sharesWritten == 0)) && Date() < deadline) {
            for (i, n) in sizes.enumerated() where (round + i) % 2 == 0 || n < (1 << 20) {
                try tally.send(n, through: endpoint, to: peer, scratch: scratch)
            }
            try tally.collect(from: endpoint, until: Date().addingTimeInterval(60))
            round += 1
        }
        #expect(tally.next == tally.sent && tally.sent > 40, "\(tally.sent) sent, \(tally.next) echoed")
        #expect(tally.bad.isEmpty, "\(tally.bad)")
        #expect(tally.paths.contains(.singleCopy), "paths seen: \(tally.paths)")
        endpoint.disconnect(peer)
        let r = echo.wait(seconds: 20)
        #expect(r.status == 0, "\(r.stderr)")
        let shares = Self.echoShares(r.stdout)
        #expect(shares != nil, "\(r.stdout)")
        #expect(endpoint.sharesReceived > 0 && shares?.written == endpoint.sharesReceived,
                "we offered \(endpoint.sharesOffered), got \(endpoint.sharesReceived) written; the echo wrote \(shares?.written ?? -1)")
        #expect(shares?.refused == 0 && endpoint.sharesRefused == 0)
        if echoSplits {
            #expect(shares?.offered ?? 0 > 0 && endpoint.sharesWritten > 0, "the echo offered \(shares?.offered ?? -1), we wrote \(endpoint.sharesWritten)")
            // A receiver that shares gets single copy above the limit too, untimed.
            #expect(endpoint.largePaths[bytes: 1 << 20].pipelinedCost == 0)
        } else {
            #expect(shares?.offered == 0 && endpoint.sharesWritten == 0)
        }
    }

    /// A message given as pieces (a frame header and the program's data, as
    /// psend sends) goes as it lies: single copy of up to 8 pieces (the
    /// receiver pulls them as one message, sharing the copy), the pipelined
    /// copy of more. Echoed back whole, every byte in place and in order.
    @Test func messagesInPiecesArriveWhole() throws {
        let (echo, address) = try Self.startEcho()
        let endpoint = try ShmEndpoint(name: "pieces")
        let peer = try endpoint.connect(to: address)
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 3 << 20, alignment: 4096)
        defer { scratch.deallocate() }
        var tally = EchoTally(seed: 0x9EC)
        for n in [1000, (64 << 10) + 3, 300_001, (2 << 20) + 7] {
            for k in [2, 3, 8, 9] {
                try tally.send(n, inPieces: k, through: endpoint, to: peer, scratch: scratch)
                try tally.send(n, inPieces: k, through: endpoint, to: peer, scratch: scratch)
            }
            try tally.collect(from: endpoint, until: Date().addingTimeInterval(60))
        }
        #expect(tally.next == tally.sent && tally.sent == 32, "\(tally.sent) sent, \(tally.next) echoed")
        #expect(tally.bad.isEmpty, "\(tally.bad)")
        endpoint.disconnect(peer)
        let r = echo.wait(seconds: 20)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("disconnected: peer closed"), "the echo saw nothing malformed: \(r.stdout)")
    }

    /// A sender that refuses its share (here a test hook; in life a kernel
    /// that lets the receiver read the sender but not the sender write the
    /// receiver) leaves the receiver to copy it: every echo is intact, and
    /// after the first refusal the echo offers this end nothing more.
    @Test func refusedSharesAreCopiedByTheReceiver() throws {
        guard ShmConfiguration.fromEnvironment().largeMode == .automatic else { return }
        let (echo, address) = try Self.startEcho()
        let endpoint = try ShmEndpoint(name: "refuser")
        endpoint._testRefuseShares = true
        let peer = try endpoint.connect(to: address)
        guard endpoint.path(to: peer, size: 128 << 10) == .singleCopy else {
            endpoint.disconnect(peer)
            _ = echo.wait(seconds: 20)
            return
        }
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 4096)
        defer { scratch.deallocate() }
        var tally = EchoTally(seed: 0x4EF)
        // Until this end has refused one (it must be on a CPU when the offer
        // comes: up to 60 s on a busy machine), then ten rounds more.
        let deadline = Date().addingTimeInterval(60)
        var after = 0
        while after < 10 && Date() < deadline {
            for n in [128 << 10, 1 << 20, 200_001] { try tally.send(n, through: endpoint, to: peer, scratch: scratch) }
            try tally.collect(from: endpoint, until: Date().addingTimeInterval(60))
            if endpoint.sharesRefused > 0 { after += 1 }
        }
        #expect(tally.next == tally.sent && tally.sent >= 30, "\(tally.sent) sent, \(tally.next) echoed")
        #expect(tally.bad.isEmpty, "\(tally.bad)")
        endpoint.disconnect(peer)
        let r = echo.wait(seconds: 20)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(endpoint.sharesWritten == 0)
        // The echo may have found this end asleep for its first offers (taken
        // back, not refused); it stops at the first refusal.
        #expect(endpoint.sharesRefused == 1, "refused \(endpoint.sharesRefused)")
        #expect(Self.echoShares(r.stdout)?.offered ?? 0 >= 1, "\(r.stdout)")
    }

    /// With the express line switched off (PVM_SHM_EXPRESS=off) on both
    /// ends, a ping-pong of small messages goes through the ring.
    @Test func expressLineCanBeSwitchedOff() throws {
        let (echo, address) = try Self.startEcho(environment: ["PVM_SHM_EXPRESS": "off"])
        var configuration = ShmConfiguration.fromEnvironment()
        configuration.express = false
        let endpoint = try ShmEndpoint(name: "ring-only", configuration: configuration)
        let peer = try endpoint.connect(to: address)
        var paths: Set<ShmPath> = []
        var value: UInt64 = 7
        for _ in 0..<20 {
            try withUnsafeBytes(of: &value) { try endpoint.send($0, to: peer) }
            var echoed = false
            while !echoed {
                try endpoint.receive(timeoutNanoseconds: 2_000_000_000) { event in
                    if case .message(_, let m) = event { paths.insert(m.path); echoed = true }
                }
            }
        }
        #expect(paths == [.inline])
        endpoint.disconnect(peer)
        #expect(echo.wait(seconds: 20).status == 0)
    }

    /// An express message longer than the line, or one that claims to
    /// follow ring records that are not there (or were passed long ago),
    /// closes that peer only, with a reason; the receiver keeps running.
    @Test(arguments: [(UInt16(17), Int64(0), "malformed express message"),
                      (UInt16(8), Int64(4096), "express message out of order"),
                      (UInt16(8), Int64(-64), "express message out of order")])
    func brokenExpressMessageClosesOnlyThatPeer(length: UInt16, offset: Int64, reason: String) throws {
        let (echo, address) = try Self.startEcho()
        let endpoint = try ShmEndpoint(name: "express-writer")
        let peer = try endpoint.connect(to: address)
        // A 32-byte message through the ring first, so the ring position is past 0.
        var hello = (UInt64(5), UInt64(6), UInt64(7), UInt64(8))
        try withUnsafeBytes(of: &hello) { try endpoint.send($0, to: peer) }
        var echoed = false
        while !echoed { try endpoint.receive(timeoutNanoseconds: 2_000_000_000) { if case .message = $0 { echoed = true } } }
        endpoint._testWriteExpress(to: peer, length: length, positionOffset: offset)
        let r = echo.wait(seconds: 20)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains(reason), "\(r.stdout)")
    }

    /// Bytes of a many-piece single-copy record: token, total, piece count,
    /// then (address, length) per piece.
    static func piecesRecord(total: UInt64, count: UInt32, pieces: [(UInt64, UInt64)]) -> [UInt8] {
        var words: [UInt64] = [1, total, UInt64(count)]
        for (a, n) in pieces { words += [a, n] }
        return words.withUnsafeBytes { Array($0) }
    }

    /// A many-piece single-copy record that is too short, claims more
    /// pieces than the kind allows, or whose pieces do not add up to its
    /// total closes that peer only, with a reason.
    @Test(arguments: [([UInt8](repeating: 0, count: 8), "single-copy record of 8 bytes"),
                      (piecesRecord(total: 9 * 100, count: 9, pieces: Array(repeating: (0x1000, 100), count: 9)), "with 9 pieces"),
                      (piecesRecord(total: 300, count: 2, pieces: [(0x1000, 100), (0x2000, 100)]), "do not add up"),
                      (piecesRecord(total: 0, count: 2, pieces: [(0x1000, UInt64.max), (0x2000, 1)]), "do not add up")])
    func malformedPiecesRecordClosesOnlyThatPeer(record: [UInt8], reason: String) throws {
        let (echo, endpoint, peer) = try Self.echoAfterOneMessage(name: "writer")
        endpoint._testWriteRecord(to: peer, kind: 6, length: record.count, payload: record)
        let r = echo.wait(seconds: 20)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains(reason), "\(r.stdout)")
    }

    /// A record of unknown kind closes that peer only, with a reason; the
    /// receiving process keeps running.
    @Test func malformedRecordClosesOnlyThatPeer() throws {
        let (echo, endpoint, peer) = try Self.echoAfterOneMessage(name: "writer")
        endpoint._testWriteRecord(to: peer, kind: 99, length: 8)
        let r = echo.wait(seconds: 20)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("malformed record"), "\(r.stdout)")
    }
}

/// The transport does not depend on /dev/shm: with it full (a 4 KiB tmpfs)
/// or missing (unmounted), inside a private mount namespace, two processes
/// still exchange messages of every size class.
@Suite(.serialized) struct ShmWithoutDevShmTests {
    static let canUnshare: Bool = {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        p.arguments = ["--mount", "--propagation", "private", "true"]
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }()

    @Test(.enabled(if: canUnshare, "needs unshare(1) and permission to make a mount namespace"),
          arguments: ["mount -t tmpfs -o size=4k,mode=1777 tmpfs /dev/shm && dd if=/dev/zero of=/dev/shm/fill bs=4k count=1 2>/dev/null; true",
                      "umount -l /dev/shm && test ! -e /dev/shm/. || test -z \"$(ls -A /dev/shm)\""])
    func messagesFlowWithDevShmFullOrMissing(setup: String) throws {
        let peer = TestProducts.executable("shm-test-peer").path
        let file = "/tmp/pvm-devshm-\(getpid())"
        let script = """
        set -e
        \(setup)
        rm -f \(file)
        "\(peer)" echo \(file) & echo_pid=$!
        for i in $(seq 200); do [ -s \(file) ] && break; sleep 0.05; done
        "\(peer)" send "$(cat \(file))" 3000 9 --loans
        wait $echo_pid || true
        rm -f \(file)
        """
        let child = try ChildProcess(URL(fileURLWithPath: "/usr/bin/unshare"), ["--mount", "--propagation", "private", "sh", "-c", script])
        let r = child.wait(seconds: 120)
        #expect(r.status == 0, "stdout: \(r.stdout) stderr: \(r.stderr)")
    }
}
