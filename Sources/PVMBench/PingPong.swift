#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Histogram
import PVMSystem
import PVMTransport

/// Why a benchmark could not run or went wrong.
public struct BenchError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The measuring side's endpoint and the peer process joined to it (the far
/// end of every measurement: this same program's hidden `peer` subcommand).
/// The peer is killed if it is still running when the session ends.
final class PeerSession {
    let endpoint: ShmEndpoint
    let child = Process()
    private(set) var peer: ShmPeerID = 0

    init(_ options: CommonOptions, peerExecutable: String, arguments: [String]) throws {
        guard options.api == .transport else {
            throw BenchError("--api \(options.api.rawValue) is not available yet: this build measures the bare transport (--api transport)")
        }
        guard options.transport == .shm || options.transport == .auto else {
            throw BenchError("--transport \(options.transport.rawValue) is not available yet: this build has the shared-memory transport (--transport shm)")
        }
        endpoint = try ShmEndpoint(name: "pvmbench")
        child.executableURL = URL(fileURLWithPath: peerExecutable)
        child.arguments = ["peer", "--address", endpoint.address] + arguments
        try child.run()
        var connected: ShmPeerID? = nil
        let deadline = Clock.monotonicNanoseconds() + 20_000_000_000
        while connected == nil {
            guard child.isRunning else { throw BenchError("the peer process exited before it connected (status \(child.terminationStatus))") }
            guard Clock.monotonicNanoseconds() < deadline else { throw BenchError("the peer process did not connect within 20 s") }
            try endpoint.receive(timeoutNanoseconds: 100_000_000) { event in
                if case .connected(let p) = event { connected = p }
            }
        }
        peer = connected!
    }

    /// Lets the peer go (it exits when it sees the disconnect) and waits for it.
    func finish() {
        endpoint.disconnect(peer)
        let deadline = Clock.monotonicNanoseconds() + 10_000_000_000
        while child.isRunning && Clock.monotonicNanoseconds() < deadline { usleep(1000) }
    }

    deinit {
        if child.isRunning { kill(child.processIdentifier, SIGKILL) }
        child.waitUntilExit()
    }
}

/// Ping-pong between this process and a peer process joined directly by the
/// shared-memory transport (no daemon): the peer echoes every message back
/// with the same size, this side times each round trip and records half of
/// it.
public enum PingPongDriver {
    /// The byte at `index` of the message sent in round `round`.
    @inline(__always)
    static func pattern(_ index: Int, _ round: Int) -> UInt8 {
        UInt8(truncatingIfNeeded: index &* 31 &+ round &* 7 &+ 1)
    }

    static func fill(_ buffer: UnsafeMutableRawBufferPointer, round: Int) {
        for i in 0..<buffer.count { buffer[i] = pattern(i, round) }
    }

    static func check(_ bytes: UnsafeRawBufferPointer, size: Int, round: Int) -> Bool {
        guard bytes.count == size else { return false }
        for i in 0..<size where bytes[i] != pattern(i, round) { return false }
        return true
    }

    /// Runs the measurement described by `options` with `peerExecutable`
    /// (normally this very program) as the far end.
    public static func run(_ options: CommonOptions, peerExecutable: String, progress: Bool) throws -> RunResult {
        let sizes = try options.messageSizes()
        var arguments: [String] = []
        if options.zeroCopy { arguments.append("--zero-copy") }
        if options.checkData { arguments.append("--validate") }
        let session = try PeerSession(options, peerExecutable: peerExecutable, arguments: arguments)
        let endpoint = session.endpoint
        let to = session.peer

        var results: [SizeResult] = []
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: sizes.max()!, alignment: 4096)
        defer { scratch.deallocate() }
        scratch.initializeMemory(as: UInt8.self, repeating: 0x5A)

        for size in sizes {
            let (iterations, warmup) = options.counts(for: size)
            if progress { FileHandle.standardError.write(Data("\rpingpong \(size) B: \(iterations) iterations...            ".utf8)) }
            var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
            var gotReply = false
            var allValid = true
            var path = ShmPath.inline
            var gone: String? = nil
            var round = 0
            let handler: (ShmEvent) throws -> Void = { event in
                switch event {
                case .message(_, let message):
                    gotReply = true
                    path = message.path
                    if options.checkData && !check(message.bytes, size: size, round: round) { allValid = false }
                case .disconnected(_, let reason): gone = reason
                case .connected: break
                }
            }
            let message = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<size])
            var cpuStart: UInt64 = 0
            for r in 0..<(warmup + iterations) {
                round = r
                if r == warmup { cpuStart = Clock.threadCPUNanoseconds() }
                if options.zeroCopy {
                    let loan = try endpoint.loan(capacity: size)
                    if options.checkData { fill(UnsafeMutableRawBufferPointer(rebasing: loan.buffer[0..<size]), round: r) }
                    let t0 = Clock.monotonicNanoseconds()
                    try endpoint.send(loan, length: size, to: to)
                    gotReply = false
                    while !gotReply && gone == nil { try endpoint.receive(handler) }
                    let t1 = Clock.monotonicNanoseconds()
                    if r >= warmup { _ = histogram.record((t1 &- t0) / 2) }
                } else {
                    if options.checkData { fill(message, round: r) }
                    let t0 = Clock.monotonicNanoseconds()
                    try endpoint.send(UnsafeRawBufferPointer(message), to: to)
                    gotReply = false
                    while !gotReply && gone == nil { try endpoint.receive(handler) }
                    let t1 = Clock.monotonicNanoseconds()
                    if r >= warmup { _ = histogram.record((t1 &- t0) / 2) }
                }
                if let gone { throw BenchError("the peer process went away: \(gone)") }
            }
            let cpu = Double(Clock.threadCPUNanoseconds() - cpuStart) / Double(2 * iterations)
            let oneWay = OneWay(histogram)
            results.append(SizeResult(
                bytes: size, iterations: iterations, oneWayNs: oneWay,
                gbytesPerS: Double(size) / oneWay.mean, messagesPerS: 1e9 / oneWay.mean,
                cpuNsPerMsg: cpu, path: path.rawValue, validated: options.checkData ? allValid : nil))
        }
        if progress { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        session.finish()
        return RunResult(benchmark: "pingpong", transport: "shm", api: "transport", zeroCopy: options.zeroCopy,
                         machine: .current(), results: results)
    }

    /// Streaming message rate: `iterations` messages of each size sent back
    /// to back, timed from the first send until the peer acknowledges the
    /// last (OSU's osu_mbw_mr with one pair and no window limit other than
    /// the ring).
    public static func messageRate(_ options: CommonOptions, peerExecutable: String, progress: Bool) throws -> RunResult {
        let sizes = try options.messageSizes(default: [8])
        let session = try PeerSession(options, peerExecutable: peerExecutable, arguments: ["--sink"])
        let endpoint = session.endpoint
        let peer: ShmPeerID? = session.peer  // the one peer of this session
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: max(sizes.max()!, 1), alignment: 64)
        defer { scratch.deallocate() }
        scratch.initializeMemory(as: UInt8.self, repeating: 0x5A)
        var results: [SizeResult] = []
        for size in sizes {
            let n = options.iterations ?? (size <= 8192 ? 10_000_000 : 100_000)
            if progress { FileHandle.standardError.write(Data("\rmsgrate \(size) B: \(n) messages...        ".utf8)) }
            let message = UnsafeRawBufferPointer(UnsafeMutableRawBufferPointer(rebasing: scratch[0..<size]))
            var acked = false
            var gone: String? = nil
            let cpu0 = Clock.threadCPUNanoseconds()
            let t0 = Clock.monotonicNanoseconds()
            for _ in 0..<n { try endpoint.send(message, to: peer!) }
            try endpoint.send(UnsafeRawBufferPointer(start: nil, count: 0), to: peer!)
            while !acked && gone == nil {
                try endpoint.receive { event in
                    if case .message = event { acked = true }
                    if case .disconnected(_, let r) = event { gone = r }
                }
            }
            if let gone { throw BenchError("the peer process went away: \(gone)") }
            let perMessage = Double(Clock.monotonicNanoseconds() - t0) / Double(n)
            let cpu = Double(Clock.threadCPUNanoseconds() - cpu0) / Double(n)
            var h = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
            _ = h.record(UInt64(perMessage.rounded()))
            var oneWay = OneWay(h)
            oneWay.mean = perMessage
            results.append(SizeResult(bytes: size, iterations: n, oneWayNs: oneWay, gbytesPerS: Double(size) / perMessage,
                                      messagesPerS: 1e9 / perMessage, cpuNsPerMsg: cpu, path: endpoint.path(to: peer!, size: size).rawValue, validated: nil))
        }
        if progress { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        session.finish()
        return RunResult(benchmark: "msgrate", transport: "shm", api: "transport", zeroCopy: false, machine: .current(), results: results)
    }

    /// The far end: echo every message back with the same size until the
    /// measuring side disconnects.
    public static func serve(address: String, zeroCopy: Bool, validate: Bool, sink: Bool = false) throws {
        let endpoint = try ShmEndpoint(name: "pvmbench-peer")
        _ = try endpoint.connect(to: address)
        var done = false
        var one: UInt8 = 1
        while !done {
            try endpoint.receive { event in
                switch event {
                case .message(let from, let message) where sink:
                    // Streaming: count silently; a 0-byte message ends a size and is acknowledged.
                    if message.bytes.count == 0 { try withUnsafeBytes(of: &one) { try endpoint.send($0, to: from) } }
                case .message(let from, let message):
                    if zeroCopy {
                        let loan = try endpoint.loan(capacity: max(message.bytes.count, 1))
                        // A real zero-copy producer writes its data in place;
                        // the echo copies only when the content is checked.
                        if validate, message.bytes.count > 0 {
                            loan.buffer.baseAddress!.copyMemory(from: message.bytes.baseAddress!, byteCount: message.bytes.count)
                        }
                        try endpoint.send(loan, length: message.bytes.count, to: from)
                    } else {
                        try endpoint.send(message.bytes, to: from)
                    }
                case .disconnected: done = true
                case .connected: break
                }
            }
        }
    }
}
