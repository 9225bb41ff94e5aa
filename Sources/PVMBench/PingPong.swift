#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Foundation
import Histogram
import PVMSystem
import PVMTransport

/// Why a benchmark could not run or went wrong (the message users see).
public struct BenchError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The measuring side's endpoint and the peer process joined to it (the far
/// end of every measurement: this same program's hidden `peer` subcommand).
/// The peer is killed if it is still running when the session ends.
final class PeerSession {
    /// How long the peer may take to start and connect.
    static let connectTimeoutNanoseconds: UInt64 = 20_000_000_000
    /// How often a waiting measurement checks that the peer process still runs
    /// (the transport reports a dead peer by itself; this is the backstop).
    static let watchdogNanoseconds: UInt64 = 1_000_000_000
    /// A reply that takes this long means the peer is stuck: fail, do not hang.
    static let stallNanoseconds: UInt64 = 60_000_000_000
    /// How long the peer may take to exit once told to.
    static let exitTimeoutNanoseconds: UInt64 = 10_000_000_000

    let endpoint: ShmEndpoint
    let child = Process()
    private(set) var peer: ShmPeerID = 0
    /// Where the peer process ran, seen by `finish()` (for the run's `numa`).
    private(set) var peerPlacement: NumaEnd? = nil

    init(_ options: CommonOptions, peerExecutable: String, arguments: [String]) throws {
        try options.checkedForRun()
        endpoint = try ShmEndpoint(name: "pvmbench")
        child.executableURL = URL(fileURLWithPath: peerExecutable)
        child.arguments = ["peer", "--address", endpoint.address] + arguments
        do {
            try child.run()
        } catch {
            throw BenchError("could not start the peer process \(peerExecutable): \(error)")
        }
        var connected: ShmPeerID? = nil
        let deadline = Clock.monotonicNanoseconds() + Self.connectTimeoutNanoseconds
        while connected == nil {
            guard child.isRunning else { throw BenchError("the peer process exited before it connected (status \(child.terminationStatus))") }
            guard Clock.monotonicNanoseconds() < deadline else { throw BenchError("the peer process did not connect within 20 s") }
            try endpoint.receive(timeoutNanoseconds: 100_000_000) { event in
                if case .connected(let p) = event { connected = p }
            }
        }
        peer = connected!
    }

    /// Called when a wait for the peer came back empty: throws if the peer
    /// process is gone or has not answered for `stallNanoseconds` since `since`.
    func checkAlive(waitingSince since: UInt64) throws {
        if !child.isRunning {
            let how = child.terminationReason == .uncaughtSignal ? "was killed by signal" : "exited with status"
            throw BenchError("the peer process \(how) \(child.terminationStatus) in the middle of the measurement")
        }
        if Clock.monotonicNanoseconds() &- since > Self.stallNanoseconds {
            throw BenchError("the peer process has not answered for \(Self.stallNanoseconds / 1_000_000_000) s")
        }
    }

    /// Runs the measurement of one size; an error on the way becomes what
    /// users need to read (see `explain`).
    func measuring<R>(_ size: Int, _ body: () throws -> R) throws -> R {
        do {
            return try body()
        } catch {
            throw explain(error, size: size)
        }
    }

    /// Turns an error met while measuring `size` into what users need to
    /// read: when the peer process has died, that (a transport error such as
    /// "peer 0 is not connected" is only the symptom).
    func explain(_ error: any Error, size: Int) -> any Error {
        if error is BenchError { return error }
        // The process monitor may learn of the exit a moment after the transport.
        let deadline = Clock.monotonicNanoseconds() + 200_000_000
        while child.isRunning && Clock.monotonicNanoseconds() < deadline { usleep(1000) }
        if !child.isRunning {
            let how = child.terminationReason == .uncaughtSignal ? "was killed by signal" : "exited with status"
            return BenchError("the peer process \(how) \(child.terminationStatus) in the middle of the measurement (\(size) B): \(error)")
        }
        return BenchError("transport error at \(size) B: \(error)")
    }

    /// Lets the peer go (it exits when it sees the disconnect) and waits for it.
    func finish() {
        peerPlacement = NumaEnd.process(child.processIdentifier)
        endpoint.disconnect(peer)
        let deadline = Clock.monotonicNanoseconds() + Self.exitTimeoutNanoseconds
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
///
/// What is timed: from just before the send to the moment the reply's
/// handler starts, so the `-c` check of the reply is not timed (the pattern
/// fill before the send is not timed either; neither is counted in the CPU
/// time per message, though the thread-CPU clock reads around them add about
/// 250 ns per small message under `-c`). With `--zero-copy` neither side
/// reads or writes the payload while timed (unless `-c`): the figures are the
/// cost of handing a loaned buffer over, which does not grow with its size.
public enum PingPongDriver {
    /// The byte at `index` of the message sent in round `round`.
    @inline(__always)
    static func pattern(_ index: Int, _ round: Int) -> UInt8 {
        UInt8(truncatingIfNeeded: index &* 31 &+ round &* 7 &+ 1)
    }

    static func fill(_ buffer: UnsafeMutableRawBufferPointer, round: Int) {
        for i in 0..<buffer.count { buffer[i] = pattern(i, round) }
    }

    /// Sends the first `size` bytes of `message` to `peer` in a streaming
    /// loop (bw, msgrate): copied, or (`zeroCopy`) in a buffer loaned from
    /// the shared heap; under -c filled with round `round`'s pattern first.
    @inline(__always)
    static func stream(_ endpoint: ShmEndpoint, _ message: UnsafeMutableRawBufferPointer, size: Int, to peer: ShmPeerID,
                       round: Int, zeroCopy: Bool, validating: Bool) throws {
        if zeroCopy {
            let loan = try endpoint.loan(capacity: max(size, 1))
            if validating { fill(UnsafeMutableRawBufferPointer(rebasing: loan.buffer[0..<size]), round: round) }
            try endpoint.send(loan, length: size, to: peer)
        } else {
            if validating { fill(message, round: round) }
            try endpoint.send(UnsafeRawBufferPointer(message), to: peer)
        }
    }

    static func check(_ bytes: UnsafeRawBufferPointer, size: Int, round: Int) -> Bool {
        guard bytes.count == size else { return false }
        for i in 0..<size where bytes[i] != pattern(i, round) { return false }
        return true
    }

    /// Runs the measurement described by `options` with `peerExecutable`
    /// (normally this very program) as the far end. `peerArguments` are
    /// extra arguments for the peer (tests use its hidden `--corrupt`).
    public static func run(_ options: CommonOptions, peerExecutable: String, progress: Bool,
                           peerArguments: [String] = []) throws -> RunResult {
        let sizes = try options.messageSizes()
        var arguments = peerArguments
        if options.zeroCopy { arguments.append("--zero-copy") }
        if options.checkData { arguments.append("--validate") }
        let session = try PeerSession(options, peerExecutable: peerExecutable, arguments: arguments)
        let endpoint = session.endpoint
        let to = session.peer
        let validating = options.checkData
        // Read once: an option's getter (ArgumentParser's property wrapper)
        // instantiates generic metadata on every call.
        let zeroCopy = options.zeroCopy

        var results: [SizeResult] = []
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: sizes.max()!, alignment: 4096)
        defer { scratch.deallocate() }
        scratch.initializeMemory(as: UInt8.self, repeating: 0x5A)

        for size in sizes {
            results.append(try session.measuring(size) { () throws -> SizeResult in
                let (iterations, warmup) = options.counts(for: size)
                if progress { FileHandle.standardError.write(Data("\rpingpong\(options.zeroCopy ? " zero-copy" : "") \(size) B: \(iterations) iterations...            ".utf8)) }
                var histogram = timeHistogram()
                var replyAt: UInt64 = 0
                var allValid = true
                var path = ShmPath.inline
                var gone: String? = nil
                var round = 0
                // CPU spent filling and checking patterns (-c): not part of a message's cost.
                var account = CPUAccount()
                let handler: (ShmEvent) throws -> Void = { event in
                    switch event {
                    case .message(_, let message):
                        replyAt = Clock.monotonicNanoseconds()
                        path = message.path
                        if validating {
                            account.excluding {
                                if !check(message.bytes, size: size, round: round) { allValid = false }
                            }
                        }
                    case .disconnected(_, let reason): gone = reason
                    case .connected, .readable: break
                    }
                }
                let message = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<size])
                for r in 0..<(warmup + iterations) {
                    round = r
                    if r == warmup {
                        account.start()
                    }
                    let t0: UInt64
                    if zeroCopy {
                        let loan = try endpoint.loan(capacity: size)
                        if validating {
                            account.excluding {
                                fill(UnsafeMutableRawBufferPointer(rebasing: loan.buffer[0..<size]), round: r)
                            }
                        }
                        t0 = Clock.monotonicNanoseconds()
                        try endpoint.send(loan, length: size, to: to)
                    } else {
                        if validating {
                            account.excluding {
                                fill(message, round: r)
                            }
                        }
                        t0 = Clock.monotonicNanoseconds()
                        try endpoint.send(UnsafeRawBufferPointer(message), to: to)
                    }
                    replyAt = 0
                    while replyAt == 0 {
                        if try endpoint.receive(timeoutNanoseconds: PeerSession.watchdogNanoseconds, handler) == 0 {
                            try session.checkAlive(waitingSince: t0)
                        }
                        if let gone { throw BenchError("the peer process went away in the middle of the measurement (\(size) B): \(gone)") }
                    }
                    if r >= warmup { _ = histogram.record((replyAt &- t0) / 2) }
                }
                let cpu = account.perOperation(2 * iterations)
                let oneWay = OneWay(histogram)
                return SizeResult(
                    bytes: size, iterations: iterations, oneWayNs: oneWay,
                    gbytesPerS: Double(size) / oneWay.mean, messagesPerS: 1e9 / oneWay.mean,
                    cpuNsPerMsg: cpu, path: path.rawValue, validated: validating ? allValid : nil)
            })
        }
        if progress { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        session.finish()
        var run = RunResult(benchmark: "pingpong", transport: "shm", api: "transport", zeroCopy: options.zeroCopy,
                            machine: .current(), results: results)
        run.numa?.peer = session.peerPlacement
        run.numa?.peerNote = session.peerPlacement == nil ? "the peer process had gone" : nil
        return run
    }

    /// Streaming message rate over the bare transport, one pair: for each
    /// size, `-x` warm-up messages and then `-i` timed ones sent back to
    /// back, timed from the first send until the peer acknowledges the
    /// marker after the last (OSU's osu_mbw_mr with one pair and no window
    /// limit other than the ring).
    public static func messageRate(_ options: CommonOptions, peerExecutable: String, progress: Bool) throws -> RunResult {
        let sizes = try options.messageSizes(default: [8])
        var stream = try RateStream(options, peerExecutable: peerExecutable, largest: sizes.max()!)
        var results: [SizeResult] = []
        for size in sizes {
            let (n, warmup) = StreamingDriver.messages(size: size, sweep: options.sweep, divisor: options.iterationDivisor)
            if progress { FileHandle.standardError.write(Data("\rmsgrate \(size) B: \(n) messages...        ".utf8)) }
            let m = try stream.measure(size: size, messages: n, warmup: warmup)
            results.append(StreamingDriver.aggregate(size: size, reports: [(n, m.elapsed, m.cpu)], path: m.path,
                                                     validated: options.checkData ? m.valid : nil))
        }
        if progress { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        stream.finish()
        return RunResult(benchmark: "msgrate", transport: "shm", api: "transport", zeroCopy: options.zeroCopy, machine: .current(), results: results)
    }

    /// `flags` of bibw's control messages over the bare transport (data
    /// messages carry 0): a go (size, window, windows: three UInt64) and the
    /// far end's report after the last window (one byte, 1: all it
    /// received checked out).
    static let goFlag: UInt16 = 1
    static let reportFlag: UInt16 = 2

    /// bibw over the bare transport receives as osu_bibw and NetPIPE -2 -a
    /// do: every large message goes straight into one buffer named before
    /// it comes (`ShmEndpoint.placement`, also while this end's own sends
    /// block), the equivalent of MPI receives posted before the sends.
    /// Not under -c, where each message is checked whole on delivery.
    static func postReceives(on endpoint: ShmEndpoint, into buffer: UnsafeMutableRawBufferPointer) {
        let base = buffer.baseAddress!, capacity = buffer.count
        endpoint.placementWhileBlocked = true
        endpoint.placement = { _, _, total in total <= capacity ? (base, 0) : nil }
    }

    /// The far end of bibw over the bare transport: for each go, sends a
    /// window of messages and then receives one, window after window, while
    /// the measuring side does the same at the same time (osu_bibw: both
    /// ends stream at once, neither answers the other), then reports.
    /// Messages of each direction are numbered from 0 (the pattern's round
    /// under -c). `corrupt` is a test hook: flip the last byte of every
    /// message sent. Leaves when the measuring side disconnects.
    public static func mirror(address: String, zeroCopy: Bool, validate: Bool, corrupt: Bool = false) throws {
        let endpoint = try ShmEndpoint(name: "pvmbench-peer")
        _ = try endpoint.connect(to: address)
        var done = false
        var go: (peer: ShmPeerID, size: Int, window: Int, windows: Int)? = nil
        var got = 0
        var received = 0
        var sent = 0
        var valid: UInt8 = 1
        let handler: (ShmEvent) throws -> Void = { event in
            switch event {
            case .message(let from, let message) where message.flags == goFlag:
                guard message.bytes.count == 24 else { throw BenchError("a bibw go of \(message.bytes.count) bytes") }
                let size = Int(message.bytes.load(as: UInt64.self))
                let window = Int(message.bytes.load(fromByteOffset: 8, as: UInt64.self))
                let windows = Int(message.bytes.load(fromByteOffset: 16, as: UInt64.self))
                guard size >= 0, window >= 1, windows >= 0 else { throw BenchError("a bibw go of \(size) B, \(window) x \(windows)") }
                go = (from, size, window, windows)
            case .message(_, let message):
                if validate && !check(message.bytes, size: message.bytes.count, round: received) { valid = 0 }
                received += 1
                got += 1
            case .disconnected: done = true
            case .connected, .readable: break
            }
        }
        var outgoing = UnsafeMutableRawBufferPointer.allocate(byteCount: 1, alignment: 4096)
        defer { outgoing.deallocate() }
        var incoming = UnsafeMutableRawBufferPointer.allocate(byteCount: 1, alignment: 4096)
        defer { incoming.deallocate() }
        while !done {
            guard let (peer, size, window, windows) = go else {
                try endpoint.receive(handler)
                continue
            }
            go = nil
            if outgoing.count < size {
                outgoing.deallocate()
                outgoing = .allocate(byteCount: size, alignment: 4096)
                incoming.deallocate()
                incoming = .allocate(byteCount: size, alignment: 4096)
                incoming.initializeMemory(as: UInt8.self, repeating: 0)
            }
            if !validate { postReceives(on: endpoint, into: incoming) }
            let message = UnsafeMutableRawBufferPointer(rebasing: outgoing[0..<size])
            message.initializeMemory(as: UInt8.self, repeating: 0x5A)
            for _ in 0..<windows {
                for _ in 0..<window {
                    if zeroCopy {
                        let loan = try endpoint.loan(capacity: max(size, 1))
                        // A real zero-copy producer writes its data in place: only -c fills.
                        if validate { fill(UnsafeMutableRawBufferPointer(rebasing: loan.buffer[0..<size]), round: sent) }
                        if corrupt, size > 0 { loan.buffer[size - 1] ^= 0xFF }
                        try endpoint.send(loan, length: size, to: peer)
                    } else {
                        if validate { fill(message, round: sent) }
                        if corrupt, size > 0 { message[size - 1] ^= 0xFF }
                        try endpoint.send(UnsafeRawBufferPointer(message), to: peer)
                    }
                    sent += 1
                }
                while got < window && !done { try endpoint.receive(handler) }
                got -= window
                if done { return }
            }
            try withUnsafeBytes(of: &valid) { try endpoint.send($0, to: peer, flags: reportFlag) }
            valid = 1
        }
    }

    /// The far end: echo every message back with the same size until the
    /// measuring side disconnects (or, with `sink`, swallow them and
    /// acknowledge each 0-byte end marker). `corrupt` is a test hook: flip
    /// the last byte of every echo (a sink checks each message as if its
    /// last byte were flipped).
    public static func serve(address: String, zeroCopy: Bool, validate: Bool, sink: Bool = false, corrupt: Bool = false) throws {
        let endpoint = try ShmEndpoint(name: "pvmbench-peer")
        _ = try endpoint.connect(to: address)
        var done = false
        // Streaming: data messages seen (the pattern's round under -c), and
        // whether all since the last acknowledgement checked out.
        var counter = 0
        var valid: UInt8 = 1
        while !done {
            try endpoint.receive { event in
                switch event {
                case .message(let from, let message) where sink:
                    // A 0-byte message ends a window or a size and is acknowledged (1: all valid).
                    if message.bytes.count == 0 {
                        try withUnsafeBytes(of: &valid) { try endpoint.send($0, to: from) }
                        valid = 1
                    } else {
                        if validate {
                            if corrupt {
                                // Test hook: check a damaged copy, as if the last byte had changed on the way.
                                let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: message.bytes.count, alignment: 16)
                                defer { copy.deallocate() }
                                copy.copyMemory(from: message.bytes)
                                copy[copy.count - 1] ^= 0xFF
                                if !check(UnsafeRawBufferPointer(copy), size: copy.count, round: counter) { valid = 0 }
                            } else if !check(message.bytes, size: message.bytes.count, round: counter) {
                                valid = 0
                            }
                        }
                        counter += 1
                    }
                case .message(let from, let message):
                    let n = message.bytes.count
                    if zeroCopy {
                        let loan = try endpoint.loan(capacity: max(n, 1))
                        // A real zero-copy producer writes its data in place;
                        // the echo copies only when the content is checked.
                        if validate || corrupt, n > 0 {
                            loan.buffer.baseAddress!.copyMemory(from: message.bytes.baseAddress!, byteCount: n)
                        }
                        if corrupt, n > 0 { loan.buffer[n - 1] ^= 0xFF }
                        try endpoint.send(loan, length: n, to: from)
                    } else if corrupt, n > 0 {
                        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: n, alignment: 16)
                        defer { copy.deallocate() }
                        copy.copyMemory(from: message.bytes)
                        copy[n - 1] ^= 0xFF
                        try endpoint.send(UnsafeRawBufferPointer(copy), to: from)
                    } else {
                        try endpoint.send(message.bytes, to: from)
                    }
                case .disconnected: done = true
                case .connected, .readable: break
                }
            }
        }
    }
}

/// The sending end of a msgrate pair over the bare transport, joined to a
/// sink peer process (`pvmbench peer --sink`); used by `msgrate` itself and
/// by each `msgrate-pair` process of a several-pair run.
struct RateStream {
    let session: PeerSession
    let scratch: UnsafeMutableRawBufferPointer
    let validating: Bool
    /// Each message in a buffer loaned from the shared heap (--zero-copy):
    /// only its offset crosses the ring; the sink's release returns it.
    let zeroCopy: Bool
    /// Data messages sent so far (the peer counts the same).
    var sent = 0

    init(_ options: CommonOptions, peerExecutable: String, largest: Int) throws {
        session = try PeerSession(options, peerExecutable: peerExecutable, arguments: ["--sink"] + (options.checkData ? ["--validate"] : []))
        validating = options.checkData
        zeroCopy = options.zeroCopy
        scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: max(largest, 1), alignment: 64)
        scratch.initializeMemory(as: UInt8.self, repeating: 0x5A)
    }

    /// Sends `warmup` messages and waits for their acknowledgement, then
    /// times `messages` more until theirs.
    mutating func measure(size: Int, messages: Int, warmup: Int) throws -> (elapsed: UInt64, cpu: UInt64, valid: Bool, path: String) {
        let endpoint = session.endpoint
        return try session.measuring(size) { () throws -> (elapsed: UInt64, cpu: UInt64, valid: Bool, path: String) in
            var valid = true
            var elapsed: UInt64 = 0, cpu: UInt64 = 0
            let message = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<size])
            for (count, timed) in [(warmup, false), (messages, true)] {
                let cpu0 = Clock.threadCPUNanoseconds()
                let t0 = Clock.monotonicNanoseconds()
                for _ in 0..<count {
                    try PingPongDriver.stream(endpoint, message, size: size, to: session.peer, round: sent, zeroCopy: zeroCopy, validating: validating)
                    sent += 1
                }
                if try !acknowledged(size) { valid = false }
                if timed {
                    elapsed = Clock.monotonicNanoseconds() &- t0
                    cpu = Clock.threadCPUNanoseconds() &- cpu0
                }
            }
            return (elapsed, cpu, valid, zeroCopy ? ShmPath.loan.rawValue : endpoint.path(to: session.peer, size: size).rawValue)
        }
    }

    /// Sends the 0-byte marker and waits for the peer's answer: whether
    /// every message since the last one checked out.
    private func acknowledged(_ size: Int) throws -> Bool {
        let endpoint = session.endpoint
        try endpoint.send(UnsafeRawBufferPointer(start: nil, count: 0), to: session.peer)
        let sent = Clock.monotonicNanoseconds()
        var answer: Bool? = nil
        var gone: String? = nil
        while answer == nil {
            let events = try endpoint.receive(timeoutNanoseconds: PeerSession.watchdogNanoseconds) { event in
                if case .message(_, let m) = event { answer = m.bytes.count == 1 && m.bytes[0] == 1 }
                if case .disconnected(_, let r) = event { gone = r }
            }
            if let gone { throw BenchError("the peer process went away in the middle of the measurement (\(size) B): \(gone)") }
            if events == 0 { try session.checkAlive(waitingSince: sent) }
        }
        return answer!
    }

    func finish() {
        session.finish()
        scratch.deallocate()
    }
}
