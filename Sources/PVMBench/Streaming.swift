#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Foundation
import Histogram
import PVM
import PVMSystem
import PVMTransport

/// The command line of `pvmbench bw` and `pvmbench bibw`.
public struct StreamOptions: ParsableArguments, Sendable {
    @OptionGroup public var common: CommonOptions

    @Option(name: [.customShort("W"), .customLong("window")],
            help: ArgumentHelp("Messages in flight before an acknowledgement (OSU's window size).", valueName: "n"))
    public var window = StreamingDriver.defaultWindow

    public init() {}

    public func validate() throws {
        guard (1...4096).contains(window) else { throw ValidationError("--window must be 1...4096, not \(window)") }
        try common.checkAvailable()
    }
}

/// The command line of `pvmbench msgrate`.
public struct MessageRateOptions: ParsableArguments, Sendable {
    @OptionGroup public var common: CommonOptions

    @Option(help: ArgumentHelp("Sender/receiver pairs streaming at once (OSU's osu_mbw_mr pairs).", valueName: "n"))
    public var pairs = 1

    public init() {}

    public static let pairRange = 1...64

    public func validate() throws {
        guard Self.pairRange.contains(pairs) else { throw ValidationError("--pairs must be \(Self.pairRange.lowerBound)...\(Self.pairRange.upperBound), not \(pairs)") }
        if common.sendMode != .pack { throw ValidationError("msgrate streams packed messages: drop --send-mode (pingpong, bw and bibw take it)") }
        try common.checkAvailable()
    }
}

/// Streaming measurements: `bw` (a window of messages in flight, then one
/// acknowledgement: OSU's osu_bw), `bibw` (both ends send a window at once:
/// osu_bibw) and `msgrate` (N pairs each streaming back to back: osu_mbw_mr),
/// over the bare transport and through the task library.
///
/// `one_way_ns` is the time per message (its percentiles are over windows
/// for bw and bibw, over pairs for msgrate); `gbytes_per_s` is the size over
/// that time, so bibw's counts both directions. With `-c` every message is
/// filled with a pattern of its own that the receiving end checks; the fill
/// is part of the timed stream (unlike pingpong, where it is left out), so
/// `-c` figures are for correctness, not speed.
public enum StreamingDriver {
    public static let defaultWindow = 64

    // Tags between pvmbench and pvmbench-task (see Sources/pvmbench-task).
    static let dataTag: Int32 = 8
    static let markTag: Int32 = 9
    static let ackTag: Int32 = 10
    static let goTag: Int32 = 11
    static let reportTag: Int32 = 12

    /// Measured and warm-up windows for one size: about 256 MiB a size
    /// (fewer for slow paths through `divisor`), at least 20 windows and at
    /// most 2,000, with a fifth as many (at least 2) first as warm-up; -i
    /// and -x count windows, as in OSU. (With 10 and one warm-up window, a
    /// 4 MiB bibw measured the runtime taking its set-aside buffers from
    /// the kernel, 256 MiB a window: 2.1 GB/s where it streams at 7.)
    public static func windows(size: Int, window: Int, sweep: SweepOptions, divisor: Int = 1) -> (windows: Int, warmup: Int) {
        let target = (256 << 20) / max(1, size * window)
        var n = min(2_000, max(20, target))
        if divisor > 1 { n = max(20, n / divisor) }
        let windows = sweep.iterations ?? n
        return (windows, sweep.warmup ?? max(2, windows / 5))
    }

    /// Messages per pair for one msgrate size: about 2 GiB of data, at most
    /// a million messages and at least 200; -i gives the count, -x the
    /// warm-up messages sent first (a tenth by default).
    public static func messages(size: Int, sweep: SweepOptions, divisor: Int = 1) -> (messages: Int, warmup: Int) {
        var n = min(1_000_000, max(200, (2 << 30) / max(size, 1)))
        if divisor > 1 { n = max(200, n / divisor) }
        let messages = sweep.iterations ?? n
        return (messages, sweep.warmup ?? max(1, messages / 10))
    }

    static func result(size: Int, messages: Int, perMessage: Double, histogram: Histogram<UInt64>, cpu: Double,
                       path: String, validated: Bool?) -> SizeResult {
        var oneWay = OneWay(histogram)
        oneWay.mean = perMessage
        return SizeResult(bytes: size, iterations: messages, oneWayNs: oneWay, gbytesPerS: Double(size) / perMessage,
                          messagesPerS: 1e9 / perMessage, cpuNsPerMsg: cpu, path: path, validated: validated)
    }

    static func progressLine(_ text: String, _ progress: Bool) {
        if progress { FileHandle.standardError.write(Data("\r\(text)            ".utf8)) }
    }

    static func clearProgress(_ progress: Bool) {
        if progress { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }

    // MARK: bw and bibw over the bare transport

    /// bw (`bidirectional` false) or bibw over the shared-memory transport
    /// between this process and a peer process (`pvmbench peer`): the peer
    /// swallows a window and acknowledges the 0-byte marker after it (bw),
    /// or sends a window of its own while this end sends one, window after
    /// window, and reports at the end (bibw, as osu_bibw: both directions
    /// carry a window at once).
    public static func transport(_ options: StreamOptions, bidirectional: Bool, peerExecutable: String, progress: Bool,
                                 peerArguments: [String] = []) throws -> RunResult {
        let common = options.common
        let sizes = try common.messageSizes()
        let window = options.window
        var arguments = peerArguments + [bidirectional ? "--bibw" : "--sink"]
        if common.zeroCopy { arguments.append("--zero-copy") }
        if common.checkData { arguments.append("--validate") }
        let session = try PeerSession(common, peerExecutable: peerExecutable, arguments: arguments)
        let endpoint = session.endpoint
        let peer = session.peer
        let validating = common.checkData
        // Read once: an option's getter (ArgumentParser's property wrapper)
        // instantiates generic metadata on every call.
        let zeroCopy = common.zeroCopy
        let name = bidirectional ? "bibw" : "bw"
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: sizes.max()!, alignment: 4096)
        defer { scratch.deallocate() }
        scratch.initializeMemory(as: UInt8.self, repeating: 0x5A)
        // bibw (not under -c): the one buffer its receives are posted into.
        let posting = bidirectional && !validating
        let incoming = UnsafeMutableRawBufferPointer.allocate(byteCount: posting ? max(1, sizes.max()!) : 1, alignment: 4096)
        defer { incoming.deallocate() }
        if posting { PingPongDriver.postReceives(on: endpoint, into: incoming) }
        // Data messages sent so far (the peer counts the same: the pattern's round).
        var sent = 0
        var received = 0
        var results: [SizeResult] = []
        for size in sizes {
            results.append(try session.measuring(size) { () throws -> SizeResult in
                let (windows, warmup) = windows(size: size, window: window, sweep: common.sweep, divisor: common.iterationDivisor)
                progressLine("\(name) \(size) B: \(windows) windows of \(window)...", progress)
                var histogram = timeHistogram()
                var allValid = true
                // The far end's verdicts (1 byte, 1: all it received checked
                // out): bw's acknowledgements, bibw's report after a size.
                var acks = 0
                // bibw: the far end's data messages in this window.
                var arrived = 0
                var path = ShmPath.inline
                var gone: String? = nil
                let handler: (ShmEvent) throws -> Void = { event in
                    switch event {
                    case .message(_, let message) where bidirectional && message.flags != PingPongDriver.reportFlag:
                        path = message.path
                        if validating && !PingPongDriver.check(message.bytes, size: size, round: received) { allValid = false }
                        received += 1
                        arrived += 1
                    case .message(_, let message):
                        if message.bytes.count != 1 || message.bytes[0] != 1 { allValid = false }
                        acks += 1
                    case .disconnected(_, let reason): gone = reason
                    case .connected, .readable: break
                    }
                }
                /// Takes in what comes until `done`, failing when the peer goes
                /// or has not answered for too long since `since`.
                func wait(since: UInt64, until done: () -> Bool) throws {
                    while !done() {
                        if try endpoint.receive(timeoutNanoseconds: PeerSession.watchdogNanoseconds, handler) == 0 {
                            try session.checkAlive(waitingSince: since)
                        }
                        if let gone { throw BenchError("the peer process went away in the middle of the measurement (\(size) B): \(gone)") }
                    }
                }
                let message = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<size])
                var account = CPUAccount()
                var start: UInt64 = 0
                if bidirectional {
                    // The peer streams its own windows at the same time (--bibw).
                    var plan = (UInt64(size), UInt64(window), UInt64(warmup + windows))
                    try withUnsafeBytes(of: &plan) { try endpoint.send($0, to: peer, flags: PingPongDriver.goFlag) }
                }
                for w in 0..<(warmup + windows) {
                    if w == warmup {
                        account.start()
                        start = Clock.monotonicNanoseconds()
                    }
                    let t0 = Clock.monotonicNanoseconds()
                    for _ in 0..<window {
                        try PingPongDriver.stream(endpoint, message, size: size, to: peer, round: sent, zeroCopy: zeroCopy, validating: validating)
                        sent += 1
                    }
                    if bidirectional {
                        try wait(since: t0) { arrived >= window }
                        arrived -= window
                    } else {
                        try endpoint.send(UnsafeRawBufferPointer(start: nil, count: 0), to: peer)
                        try wait(since: t0) { acks > 0 }
                        acks = 0
                    }
                    let t1 = Clock.monotonicNanoseconds()
                    let perWindow = bidirectional ? 2 * window : window
                    if w >= warmup { _ = histogram.record((t1 &- t0) / UInt64(perWindow)) }
                }
                let messages = windows * window * (bidirectional ? 2 : 1)
                let perMessage = Double(Clock.monotonicNanoseconds() &- start) / Double(messages)
                // bibw: the peer's verdict on what it received.
                if bidirectional { try wait(since: Clock.monotonicNanoseconds()) { acks > 0 } }
                let used = common.zeroCopy ? ShmPath.loan.rawValue : bidirectional ? path.rawValue : endpoint.path(to: peer, size: size).rawValue
                return result(size: size, messages: messages, perMessage: perMessage, histogram: histogram,
                              cpu: account.perOperation(messages), path: used, validated: validating ? allValid : nil)
            })
        }
        clearProgress(progress)
        session.finish()
        var run = RunResult(benchmark: name, transport: "shm", api: "transport", zeroCopy: common.zeroCopy, machine: .current(), results: results)
        run.window = window
        run.numa?.peer = session.peerPlacement
        run.numa?.peerNote = session.peerPlacement == nil ? "the peer process had gone" : nil
        return run
    }

    // MARK: bw and bibw through the task library

    /// bw or bibw through the task library: initsend, pack and send for
    /// every message, as a PVM program streams (or as `--send-mode` says);
    /// the peer task
    /// (`pvmbench-task --sink`) receives and unpacks each and answers the
    /// marker after a window, or (bibw) streams its own windows at the same
    /// time (`streamWindows`).
    public static func taskLibrary(_ options: StreamOptions, bidirectional: Bool, peerExecutable: String, progress: Bool) throws -> RunResult {
        let common = options.common
        try common.checkedForRun()
        let sizes = try common.messageSizes()
        let name = bidirectional ? "bibw" : "bw"
        let mode = common.sendMode
        return try TaskLibraryDriver.withPeer(common, peerExecutable: peerExecutable,
                                              arguments: [bidirectional ? "--bibw" : "--sink"] + (common.checkData ? ["--validate"] : []) + mode.peerArguments(capacity: max(1, sizes.max()!))) { vm, peer in
            let calls = TaskLibraryWindowEnd(vm: vm, mode: mode, peer: peer)
            let results = try streamWindows(options, bidirectional: bidirectional, label: "--api pvm", path: "", calls: calls, progress: progress)
            var run = RunResult(benchmark: name, transport: "", api: "pvm", zeroCopy: false, machine: .current(), results: results)
            run.window = options.window
            run.sendMode = mode.rawValue
            return run
        }
    }

    /// How the measuring end of bw or bibw moves its messages (through the
    /// task library's Swift calls, or libpvm3's C calls): a data message of
    /// `size` bytes from or into the memory given; the go that starts the
    /// far end's windows (size, window, windows); bw's marker after a window;
    /// and the far end's verdict (1: all it received checked out), bw's
    /// acknowledgement (`ackTag`) or bibw's report (`reportTag`). A protocol,
    /// not closures, so that `streamWindows` is specialized for each and its
    /// timed loop makes no indirect call per message.
    protocol WindowEnd {
        func sendData(_ bytes: UnsafePointer<UInt8>, _ size: Int) throws
        func receiveData(_ bytes: UnsafeMutablePointer<UInt8>, _ size: Int) throws
        func sendGo(_ plan: [Int]) throws
        func sendMark() throws
        func receiveVerdict(_ tag: Int32) throws -> Int32
    }

    /// The task library's end (`--api pvm`), in the calls `--send-mode` says.
    struct TaskLibraryWindowEnd: WindowEnd {
        let vm: VirtualMachine
        let mode: SendMode
        let peer: Int32

        func sendData(_ bytes: UnsafePointer<UInt8>, _ size: Int) throws {
            try TaskLibraryDriver.send(vm, mode, bytes, count: size, to: peer, tag: dataTag)
        }
        func receiveData(_ bytes: UnsafeMutablePointer<UInt8>, _ size: Int) throws {
            try TaskLibraryDriver.receive(vm, mode, into: bytes, count: size, from: peer, tag: dataTag)
        }
        func sendGo(_ plan: [Int]) throws {
            _ = try vm.initSend(encoding: Encoding.raw.rawValue)
            var values = plan
            try vm.pack(&values, count: 3)
            try vm.send(to: peer, tag: goTag)
        }
        func sendMark() throws {
            _ = try vm.initSend(encoding: Encoding.raw.rawValue)
            try vm.send(to: peer, tag: markTag)
        }
        func receiveVerdict(_ tag: Int32) throws -> Int32 {
            _ = try TaskLibraryDriver.receive(vm, from: peer, tag: tag)
            var valid: Int32 = 0
            try vm.unpack(into: &valid, count: 1)
            return valid
        }
    }

    /// The measuring end of bw or bibw through `calls`, size after size: a
    /// window of messages, then (bw) the marker and the far end's
    /// acknowledgement, or (bibw) the far end's window, window after window;
    /// under -c every message carries its own pattern, checked on arrival
    /// (here for bibw, by the far end for bw).
    static func streamWindows<End: WindowEnd>(_ options: StreamOptions, bidirectional: Bool, label: String, path: String,
                                              calls: End, progress: Bool) throws -> [SizeResult] {
        let common = options.common
        let sizes = try common.messageSizes()
        let window = options.window
        let name = bidirectional ? "bibw" : "bw"
        let validating = common.checkData
        let largest = max(1, sizes.max()!)
        let outgoing = UnsafeMutableRawBufferPointer.allocate(byteCount: largest, alignment: 4096)
        defer { outgoing.deallocate() }
        outgoing.initializeMemory(as: UInt8.self, repeating: 0x5A)
        let incoming = UnsafeMutableRawBufferPointer.allocate(byteCount: largest, alignment: 4096)
        defer { incoming.deallocate() }
        incoming.initializeMemory(as: UInt8.self, repeating: 0)
        let out = outgoing.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let into = incoming.baseAddress!.assumingMemoryBound(to: UInt8.self)
        var sent = 0
        var received = 0
        var results: [SizeResult] = []
        for size in sizes {
            let (windows, warmup) = windows(size: size, window: window, sweep: common.sweep, divisor: common.iterationDivisor)
            progressLine("\(name) \(label) \(size) B: \(windows) windows of \(window)...", progress)
            var histogram = timeHistogram()
            var allValid = true
            var account = CPUAccount()
            var start: UInt64 = 0
            // bibw: the far end streams its own windows at the same time.
            if bidirectional { try calls.sendGo([size, window, warmup + windows]) }
            for w in 0..<(warmup + windows) {
                if w == warmup {
                    account.start()
                    start = Clock.monotonicNanoseconds()
                }
                let t0 = Clock.monotonicNanoseconds()
                for _ in 0..<window {
                    if validating { PingPongDriver.fill(UnsafeMutableRawBufferPointer(rebasing: outgoing[0..<size]), round: sent) }
                    try calls.sendData(out, size)
                    sent += 1
                }
                if bidirectional {
                    for _ in 0..<window {
                        try calls.receiveData(into, size)
                        if validating && !PingPongDriver.check(UnsafeRawBufferPointer(rebasing: incoming[0..<size]), size: size, round: received) {
                            allValid = false
                        }
                        received += 1
                    }
                } else {
                    try calls.sendMark()
                    if try calls.receiveVerdict(ackTag) != 1 { allValid = false }
                }
                let t1 = Clock.monotonicNanoseconds()
                if w >= warmup { _ = histogram.record((t1 &- t0) / UInt64(bidirectional ? 2 * window : window)) }
            }
            let messages = windows * window * (bidirectional ? 2 : 1)
            let perMessage = Double(Clock.monotonicNanoseconds() &- start) / Double(messages)
            // bibw: the far end's verdict on what it received.
            if bidirectional, try calls.receiveVerdict(reportTag) != 1 { allValid = false }
            results.append(result(size: size, messages: messages, perMessage: perMessage, histogram: histogram,
                                  cpu: account.perOperation(messages), path: path, validated: validating ? allValid : nil))
        }
        clearProgress(progress)
        return results
    }

    // MARK: msgrate

    /// `msgrate` through the layer `options.common.api` names.
    public static func messageRate(_ options: MessageRateOptions, ownExecutable: String, progress: Bool) throws -> RunResult {
        var run: RunResult
        switch options.common.api {
        case .transport:
            run = options.pairs == 1
                ? try PingPongDriver.messageRate(options.common, peerExecutable: ownExecutable, progress: progress)
                : try transportPairs(options, ownExecutable: ownExecutable, progress: progress)
        case .pvm:
            run = try taskLibraryPairs(options, peerExecutable: TaskLibraryDriver.peerExecutable(besides: ownExecutable), progress: progress)
        case .c:
            run = try CLibraryDriver.messageRate(options, ownExecutable: ownExecutable, progress: progress)
        }
        run.pairs = options.pairs
        return run
    }

    /// Combines the pairs' figures of one size: the rate is every pair's
    /// messages over the longest pair's time (all start together), the
    /// percentiles are over pairs' times per message.
    static func aggregate(size: Int, reports: [(messages: Int, elapsed: UInt64, cpu: UInt64)], path: String, validated: Bool?) -> SizeResult {
        let total = reports.reduce(0) { $0 + $1.messages }
        let longest = reports.map(\.elapsed).max() ?? 1
        var histogram = timeHistogram()
        for r in reports { _ = histogram.record(max(1, r.elapsed / UInt64(max(r.messages, 1)))) }
        let cpu = Double(reports.reduce(0) { $0 + $1.cpu }) / Double(max(total, 1))
        return result(size: size, messages: total, perMessage: Double(longest) / Double(max(total, 1)),
                      histogram: histogram, cpu: cpu, path: path, validated: validated)
    }

    /// msgrate over the bare transport with several pairs: one process per
    /// pair (`pvmbench msgrate-pair`), each the sending end of a pair with
    /// its own receiving peer process, started together for every size by a
    /// line on their standard input.
    static func transportPairs(_ options: MessageRateOptions, ownExecutable: String, progress: Bool) throws -> RunResult {
        let common = options.common
        try common.checkedForRun()
        let sizes = try common.messageSizes(default: [8])
        var arguments = ["msgrate-pair", "--sizes", sizes.map(String.init).joined(separator: ",")]
        if let i = common.sweep.iterations { arguments += ["-i", "\(i)"] }
        if let x = common.sweep.warmup { arguments += ["-x", "\(x)"] }
        if common.checkData { arguments.append("-c") }
        if common.zeroCopy { arguments.append("--zero-copy") }
        var pairs: [PairProcess] = []
        defer { for p in pairs { p.stop() } }
        for _ in 0..<options.pairs { pairs.append(try PairProcess(ownExecutable, arguments)) }
        var results: [SizeResult] = []
        for size in sizes {
            progressLine("msgrate \(size) B: \(options.pairs) pairs...", progress)
            for p in pairs { try p.expect("ready \(size)") }
            for p in pairs { try p.say("go") }
            var reports: [(messages: Int, elapsed: UInt64, cpu: UInt64)] = []
            var valid = true
            var path = ""
            for p in pairs {
                let words = try p.line().split(separator: " ").map(String.init)
                guard words.count == 7, words[0] == "result", Int(words[1]) == size, let n = Int(words[2]),
                      let elapsed = UInt64(words[3]), let cpu = UInt64(words[4]) else {
                    throw BenchError("a msgrate pair process answered '\(words.joined(separator: " "))'")
                }
                reports.append((n, elapsed, cpu))
                path = words[5]
                if words[6] == "fail" { valid = false }
            }
            results.append(aggregate(size: size, reports: reports, path: path, validated: common.checkData ? valid : nil))
        }
        clearProgress(progress)
        return RunResult(benchmark: "msgrate", transport: "shm", api: "transport", zeroCopy: common.zeroCopy, machine: .current(), results: results)
    }

    /// msgrate through the task library: `pairs` receiving tasks
    /// (`pvmbench-task --sink`) and as many sending tasks
    /// (`pvmbench-task --stream-to TID`) spawned on this host; for each size
    /// this task tells every sender to go, each streams its messages
    /// (initsend, pack, send) and a marker, waits for its receiver's
    /// acknowledgement, and reports its time here.
    static func taskLibraryPairs(_ options: MessageRateOptions, peerExecutable: String, progress: Bool) throws -> RunResult {
        let common = options.common
        try common.checkedForRun()
        let sizes = try common.messageSizes(default: [8])
        let route = TaskLibraryDriver.routeArguments(common.transport)
        let validate = common.checkData ? ["--validate"] : []
        return try TaskLibraryDriver.withMachine(common) { vm in
            var tasks: [Int32] = []
            var finished = false
            defer {
                if finished { TaskLibraryDriver.stop(vm, tasks) } else { for t in tasks { try? vm.kill(t) } }
            }
            // --hosts A,B: the senders on A (this host), their receivers on B.
            let placed = try TaskLibraryDriver.hosts(common, vm)
            let sinks = try TaskLibraryDriver.spawnTasks(vm, peerExecutable, ["--sink"] + route + validate, count: options.pairs, on: placed?.there)
            tasks += sinks
            var senders: [Int32] = []
            for sink in sinks {
                let s = try TaskLibraryDriver.spawnTasks(vm, peerExecutable, ["--stream-to", "\(sink)"] + route + validate, count: 1,
                                                         on: placed?.here)
                senders += s
                tasks += s
            }
            var results: [SizeResult] = []
            for size in sizes {
                let (messages, warmup) = messages(size: size, sweep: common.sweep, divisor: common.iterationDivisor)
                progressLine("msgrate --api pvm \(size) B: \(options.pairs) pairs x \(messages) messages...", progress)
                var valid = true
                var reports: [(messages: Int, elapsed: UInt64, cpu: UInt64)] = []
                var path = ""
                for (count, counted) in [(warmup, false), (messages, true)] {
                    for s in senders {
                        _ = try vm.initSend(encoding: Encoding.raw.rawValue)
                        var plan: [Int] = [size, count]
                        try vm.pack(&plan, count: 2)
                        try vm.send(to: s, tag: goTag)
                    }
                    for _ in senders {
                        _ = try TaskLibraryDriver.receive(vm, fromAnyOf: senders, tag: reportTag)
                        var report: [Int] = [0, 0, 0, 0]
                        try vm.unpack(into: &report, count: 4)
                        path = [PeerPath.sharedMemory, .tcp, .daemons][min(max(report[3], 0), 2)].rawValue
                        if report[2] != 1 { valid = false }
                        if counted { reports.append((count, UInt64(report[0]), UInt64(report[1]))) }
                    }
                }
                results.append(aggregate(size: size, reports: reports, path: path, validated: common.checkData ? valid : nil))
            }
            clearProgress(progress)
            finished = true
            return RunResult(benchmark: "msgrate", transport: results.last?.path ?? "", api: "pvm", zeroCopy: false, machine: .current(),
                             results: results)
        }
    }
}

/// One `pvmbench msgrate-pair` process, spoken to line by line.
final class PairProcess {
    let child = Process()
    let input = Pipe()
    let output = Pipe()
    private var buffered: [UInt8] = []

    init(_ executable: String, _ arguments: [String]) throws {
        child.executableURL = URL(fileURLWithPath: executable)
        child.arguments = arguments
        child.standardInput = input
        child.standardOutput = output
        do { try child.run() } catch {
            throw BenchError("could not start a msgrate pair process (\(executable)): \(error)")
        }
    }

    /// The next line the process writes (without its newline).
    func line() throws -> String {
        let fd = output.fileHandleForReading.fileDescriptor
        while true {
            if let nl = buffered.firstIndex(of: 10) {
                let text = String(decoding: buffered[..<nl], as: UTF8.self)
                buffered.removeSubrange(...nl)
                return text
            }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, Int32(PeerSession.stallNanoseconds / 1_000_000))
            if ready == 0 { throw BenchError("a msgrate pair process has not answered for \(PeerSession.stallNanoseconds / 1_000_000_000) s") }
            if ready < 0 { if errno == EINTR { continue }; throw BenchError("poll on a msgrate pair process: \(String(cString: strerror(errno)))") }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = read(fd, &chunk, chunk.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                child.waitUntilExit()
                throw BenchError("a msgrate pair process ended (status \(child.terminationStatus)) in the middle of the measurement")
            }
            buffered += chunk[0..<n]
        }
    }

    func expect(_ text: String) throws {
        let got = try line()
        guard got == text else { throw BenchError("a msgrate pair process said '\(got)' where '\(text)' was expected") }
    }

    func say(_ text: String) throws {
        do { try input.fileHandleForWriting.write(contentsOf: Data((text + "\n").utf8)) } catch {
            throw BenchError("a msgrate pair process stopped listening: \(error)")
        }
    }

    /// Closes its input (it leaves when it reads the end) and waits a while.
    func stop() {
        try? input.fileHandleForWriting.close()
        let deadline = Clock.monotonicNanoseconds() + PeerSession.exitTimeoutNanoseconds
        while child.isRunning && Clock.monotonicNanoseconds() < deadline { usleep(1000) }
        if child.isRunning { kill(child.processIdentifier, SIGKILL) }
        child.waitUntilExit()
    }
}
