// The spawned end of pvmbench's task-library measurements (`--api pvm`,
// `pvmbench spawn`, the members of `pvmbench collective`). A separate, small
// program on purpose: it links the task library and nothing else (no
// Foundation), with the Swift runtime linked statically, so a spawn
// measures the runtime's spawn and not the loading of a large program. Not
// meant to be run by hand: pvmbench spawns it.
#if canImport(Glibc)
import Glibc
#endif
import PVM

/// Test hook (not API): damage the last byte of every message this task
/// echoes or checks, so tests can prove that pvmbench's -c notices. Set by
/// `PVMBENCH_TEST_CORRUPT_ECHO=1` in the daemon's environment.
let corruptForTest = getenv("PVMBENCH_TEST_CORRUPT_ECHO").map { String(cString: $0) == "1" } ?? false

let echoTag: Int32 = 1
let stopTag: Int32 = 2
let helloTag: Int32 = 3
// pvmbench collective's tags (CollectiveDriver in Sources/PVMBench/CollectiveBench.swift).
let joinedTag: Int32 = 4
let bcastTag: Int32 = 5
let reduceTag: Int32 = 6
let resultTag: Int32 = 7
// pvmbench bw, bibw and msgrate's tags (StreamingDriver in Sources/PVMBench/Streaming.swift).
let dataTag: Int32 = 8
let markTag: Int32 = 9
let ackTag: Int32 = 10
let goTag: Int32 = 11
let reportTag: Int32 = 12

/// How messages are sent and received (pvmbench's `--send-mode`): pack
/// (initsend PvmDataRaw, pack, send; recv, unpack), inplace (initsend
/// PvmDataInPlace), psend (pvm_psend, pvm_precv into a buffer of
/// `--capacity` bytes, the largest message of the run).
enum SendMode: String { case pack, inplace, psend }

let byteType: Int32 = 1  // PVM_BYTE

/// Sends `n` bytes at `bytes` to `dst` the way `mode` says.
@inline(__always)
func send(_ vm: VirtualMachine, _ mode: SendMode, _ bytes: UnsafePointer<UInt8>, count n: Int, to dst: Int32, tag: Int32) throws(PVMError) {
    if mode == .psend {
        try vm.psend(to: dst, tag: tag, data: bytes, count: n, type: byteType)
        return
    }
    _ = try vm.initSend(encoding: mode == .pack ? Encoding.raw.rawValue : Encoding.inPlace.rawValue)
    try vm.pack(bytes, count: n)
    try vm.send(to: dst, tag: tag)
}

/// Echoes every message from the parent (unpacked and packed again, as a
/// PVM program would, or as `mode` says) until a message with another tag;
/// with `--hello`, sends its task id to its parent and leaves.
func serve(route: String?, hello: Bool, mode: SendMode, capacity psendCapacity: Int) throws(PVMError) {
    let vm = try VirtualMachine.shared()
    defer { try? vm.exit() }
    let parent = try vm.parent().rawValue
    if hello {
        _ = try vm.initSend(encoding: Encoding.raw.rawValue)
        var me = vm.myTid.rawValue
        try vm.pack(&me, count: 1)
        try vm.send(to: parent, tag: helloTag)
        return
    }
    if route == "daemon" { vm.route = .dontRoute }
    var capacity = max(1 << 16, psendCapacity)
    var scratch = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
    defer { scratch.deallocate() }
    while true {
        let n: Int
        if mode == .psend {
            let (_, tag, bytes) = try vm.precv(from: parent, tag: -1, into: scratch, count: capacity, type: byteType)
            if tag != echoTag { return }
            guard bytes <= capacity else { throw PVMError(.badParam, "a message of \(bytes) bytes is larger than --capacity \(capacity)") }
            n = bytes
        } else {
            let id = try vm.receive(from: parent, tag: -1, timeoutNanoseconds: nil)
            let (bytes, tag, _) = try vm.bufferInfo(id)
            if tag != echoTag { return }
            n = Int(bytes)
            if n > capacity {
                scratch.deallocate()
                capacity = n
                scratch = .allocate(capacity: n)
            }
            try vm.unpack(into: scratch, count: n)
        }
        if corruptForTest && n > 0 { scratch[n - 1] ^= 0xFF }
        try send(vm, mode, scratch, count: n, to: parent, tag: echoTag)
    }
}

// MARK: pvmbench bw and msgrate

/// A receive buffer that grows to the largest message seen.
struct Scratch {
    var capacity = 1 << 16
    var bytes = UnsafeMutablePointer<UInt8>.allocate(capacity: 1 << 16)

    mutating func reserve(_ n: Int) {
        guard n > capacity else { return }
        bytes.deallocate()
        capacity = n
        bytes = .allocate(capacity: n)
    }
}

/// The receiving end of a stream: takes in and unpacks every data message
/// (checking its pattern with `--validate`; the sender's messages are
/// numbered from 0), answers each marker to its sender with 1 when every
/// message since the last marker checked out (0 otherwise), and leaves on
/// a stop from its parent.
func sink(route: String?, validate: Bool, mode: SendMode, capacity: Int) throws(PVMError) {
    let vm = try VirtualMachine.shared()
    defer { try? vm.exit() }
    if route == "daemon" { vm.route = .dontRoute }
    var scratch = Scratch()
    defer { scratch.bytes.deallocate() }
    scratch.reserve(capacity)
    var counter = 0
    var valid: Int32 = 1
    while true {
        let bytes: Int, tag: Int32, source: Int32
        if mode == .psend {
            (source, tag, bytes) = try vm.precv(from: -1, tag: -1, into: scratch.bytes, count: scratch.capacity, type: byteType)
            guard bytes <= scratch.capacity else { throw PVMError(.badParam, "a message of \(bytes) bytes is larger than --capacity \(scratch.capacity)") }
        } else {
            let id = try vm.receive(from: -1, tag: -1, timeoutNanoseconds: nil)
            let info = try vm.bufferInfo(id)
            (bytes, tag, source) = (Int(info.bytes), info.tag, info.source)
        }
        switch tag {
        case dataTag:
            let n = bytes
            if mode != .psend {
                scratch.reserve(n)
                try vm.unpack(into: scratch.bytes, count: n)
            }
            if corruptForTest && n > 0 { scratch.bytes[n - 1] ^= 0xFF }
            if validate && !holdsPattern(scratch.bytes, count: n, round: counter) { valid = 0 }
            counter += 1
        case markTag:
            _ = try vm.initSend(encoding: Encoding.raw.rawValue)
            try vm.pack(&valid, count: 1)
            try vm.send(to: source, tag: ackTag)  // unpacked by pvmbench in every mode
            valid = 1
        default:
            return
        }
    }
}

/// The far end of `pvmbench bibw`: for each go from its parent (size,
/// window, windows), sends a window of messages and then receives one,
/// window after window, while the parent does the same at the same time
/// (OSU's osu_bibw: both ends stream at once, neither answers the other),
/// then reports to its parent whether every message received checked out
/// (`--validate`; the parent's messages are numbered from 0, and so are
/// this task's). Leaves on any other message from the parent.
func mirror(route: String?, validate: Bool, mode: SendMode) throws(PVMError) {
    let vm = try VirtualMachine.shared()
    defer { try? vm.exit() }
    if route == "daemon" { vm.route = .dontRoute }
    let parent = try vm.parent().rawValue
    var outgoing = Scratch()
    var incoming = Scratch()
    defer {
        outgoing.bytes.deallocate()
        incoming.bytes.deallocate()
    }
    var sent = 0
    var received = 0
    while true {
        let id = try vm.receive(from: parent, tag: -1, timeoutNanoseconds: nil)
        let (_, tag, _) = try vm.bufferInfo(id)
        guard tag == goTag else { return }
        var plan: [Int] = [0, 0, 0]
        try vm.unpack(into: &plan, count: 3)
        let (size, window, windows) = (plan[0], plan[1], plan[2])
        guard size >= 0, window >= 1, windows >= 0 else { throw PVMError(.badParam, "bibw plan \(plan)") }
        if size > outgoing.capacity {
            outgoing.reserve(size)
            incoming.reserve(size)
        }
        outgoing.bytes.initialize(repeating: 0x5A, count: max(size, 1))
        incoming.bytes.initialize(repeating: 0, count: max(size, 1))
        var valid: Int32 = 1
        for _ in 0..<windows {
            for _ in 0..<window {
                if validate { fillPattern(outgoing.bytes, count: size, round: sent) }
                if corruptForTest && size > 0 { outgoing.bytes[size - 1] ^= 0xFF }
                try send(vm, mode, outgoing.bytes, count: size, to: parent, tag: dataTag)
                sent += 1
            }
            for _ in 0..<window {
                let n: Int
                if mode == .psend {
                    (_, _, n) = try vm.precv(from: parent, tag: dataTag, into: incoming.bytes, count: incoming.capacity, type: byteType)
                } else {
                    let id = try vm.receive(from: parent, tag: dataTag, timeoutNanoseconds: nil)
                    n = Int(try vm.bufferInfo(id).bytes)
                    if n <= incoming.capacity { try vm.unpack(into: incoming.bytes, count: n) }
                }
                if n != size || (validate && !holdsPattern(incoming.bytes, count: n, round: received)) { valid = 0 }
                received += 1
            }
        }
        _ = try vm.initSend(encoding: Encoding.raw.rawValue)
        try vm.pack(&valid, count: 1)
        try vm.send(to: parent, tag: reportTag)  // unpacked by pvmbench in every mode
    }
}

/// The sending end of a msgrate pair: for each go from its parent (size
/// and count), streams that many messages to `receiver` (initsend, pack,
/// send), then a marker, waits for the acknowledgement, and reports the
/// elapsed and CPU nanoseconds, the verdict and the path taken to the
/// parent. Leaves on
/// any other message from the parent.
func stream(to receiver: Int32, route: String?, validate: Bool) throws(PVMError) {
    let vm = try VirtualMachine.shared()
    defer { try? vm.exit() }
    if route == "daemon" { vm.route = .dontRoute }
    let parent = try vm.parent().rawValue
    var scratch = Scratch()
    defer { scratch.bytes.deallocate() }
    scratch.bytes.initialize(repeating: 0x5A, count: scratch.capacity)
    var counter = 0
    while true {
        let id = try vm.receive(from: parent, tag: -1, timeoutNanoseconds: nil)
        let (_, tag, _) = try vm.bufferInfo(id)
        guard tag == goTag else { return }
        var plan: [Int] = [0, 0]
        try vm.unpack(into: &plan, count: 2)
        let size = Int(plan[0]), count = Int(plan[1])
        if size > scratch.capacity {
            scratch.reserve(size)
            scratch.bytes.initialize(repeating: 0x5A, count: size)
        }
        let c0 = threadCPUNanoseconds()
        let t0 = monotonicNanoseconds()
        for _ in 0..<count {
            if validate { fillPattern(scratch.bytes, count: size, round: counter) }
            _ = try vm.initSend(encoding: Encoding.raw.rawValue)
            try vm.pack(UnsafePointer(scratch.bytes), count: size)
            try vm.send(to: receiver, tag: dataTag)
            counter += 1
        }
        _ = try vm.initSend(encoding: Encoding.raw.rawValue)
        try vm.send(to: receiver, tag: markTag)
        _ = try vm.receive(from: receiver, tag: ackTag, timeoutNanoseconds: nil)
        var valid: Int32 = 0
        try vm.unpack(into: &valid, count: 1)
        // The path the stream took: 0 shared memory, 1 TCP, 2 the daemons.
        let path: Int = switch vm.path(to: TaskID(receiver)) {
        case .sharedMemory: 0
        case .tcp: 1
        case .daemons: 2
        }
        var report: [Int] = [Int(monotonicNanoseconds() &- t0), Int(threadCPUNanoseconds() &- c0), Int(valid), path]
        _ = try vm.initSend(encoding: Encoding.raw.rawValue)
        try vm.pack(&report, count: 4)
        try vm.send(to: parent, tag: reportTag)
    }
}

// MARK: pvmbench collective

/// One size of the plan pvmbench gives on the command line
/// (`bytes:iterations:warmup,...`; bytes 0 for the barrier).
struct Step {
    var bytes: Int
    var iterations: Int
    var warmup: Int
}

func parsePlan(_ text: String) -> [Step]? {
    var steps: [Step] = []
    for part in text.split(separator: ",") {
        let f = part.split(separator: ":", omittingEmptySubsequences: false)
        guard f.count == 3, let b = Int(f[0]), let i = Int(f[1]), let w = Int(f[2]), b >= 0, i >= 1, w >= 0 else { return nil }
        steps.append(Step(bytes: b, iterations: i, warmup: w))
    }
    return steps.isEmpty ? nil : steps
}

@inline(__always)
func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

func threadCPUNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

/// pvmbench's -c pattern (PingPongDriver.pattern).
@inline(__always)
func pattern(_ index: Int, _ round: Int) -> UInt8 {
    UInt8(truncatingIfNeeded: index &* 31 &+ round &* 7 &+ 1)
}

/// Fills `count` bytes with round `round`'s pattern (PingPongDriver.fill).
func fillPattern(_ bytes: UnsafeMutablePointer<UInt8>, count: Int, round: Int) {
    for i in 0..<count { bytes[i] = pattern(i, round) }
}

/// Whether `count` bytes hold round `round`'s pattern (PingPongDriver.check).
func holdsPattern(_ bytes: UnsafePointer<UInt8>, count: Int, round: Int) -> Bool {
    for i in 0..<count where bytes[i] != pattern(i, round) { return false }
    return true
}

/// Item `index` of this member's reduce input in round `round`
/// (CollectiveDriver.reduceInput).
@inline(__always)
func reduceInput(_ index: Int, round: Int, instance: Int) -> Double {
    Double((instance + 1) * ((index &+ round) % 1000 + 1))
}

/// Is `pid` running (neither gone nor a zombie)?
func isRunning(_ pid: pid_t) -> Bool {
    let fd = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
    if fd < 0 { return kill(pid, 0) == 0 || errno == EPERM }
    defer { close(fd) }
    var stat = [UInt8](repeating: 0, count: 512)
    let n = read(fd, &stat, stat.count)
    // "pid (comm) S ...": the state follows the last parenthesis.
    guard n > 0, let end = stat[0..<n].lastIndex(of: UInt8(ascii: ")")), end + 2 < n else { return true }
    return stat[end + 2] != UInt8(ascii: "Z")
}

/// Exits this task when the measuring pvmbench (`pid`) is gone, whatever
/// the task is blocked in: a receive or a reduce from a member that has
/// exited would otherwise wait forever.
func watch(rootPid pid: pid_t) {
    var thread = pthread_t()
    let started = pthread_create(&thread, nil, { argument in
        let pid = pid_t(truncatingIfNeeded: Int(bitPattern: argument))
        while isRunning(pid) { usleep(100_000) }
        _ = "pvmbench-task: pvmbench (pid \(pid)) is gone; leaving\n".withCString { write(2, $0, strlen($0)) }
        _exit(1)
    }, UnsafeMutableRawPointer(bitPattern: Int(pid)))
    if started == 0 { pthread_detach(thread) }
}

/// A member of pvmbench collective's group: joins, says so to the root,
/// freezes the group, runs the plan (sending its own times of each size to
/// the root), and leaves when the root says stop. Times are taken as the
/// root takes its own (CollectiveDriver.Session).
func collective(_ operation: String, group: String, tasks: Int, plan: [Step], route: String?, validate: Bool) throws(PVMError) {
    let vm = try VirtualMachine.shared()
    defer { try? vm.exit() }
    if route == "daemon" { vm.route = .dontRoute }
    let parent = try vm.parent().rawValue
    var instance = try vm.joinGroup(group)
    _ = try vm.initSend(encoding: Encoding.raw.rawValue)
    try vm.pack(&instance, count: 1)
    try vm.send(to: parent, tag: joinedTag)
    _ = try vm.freezeGroup(group, size: Int32(tasks))
    let root = try vm.groupTid(group, instance: 0)
    let me = Int(instance)
    let sum: ReduceCombine = { x, y, n in
        let a = x.assumingMemoryBound(to: Double.self), b = y.assumingMemoryBound(to: Double.self)
        for i in 0..<n { a[i] += b[i] }
    }

    let largest = max(8, plan.map(\.bytes).max() ?? 8)
    let scratch = UnsafeMutableRawPointer.allocate(byteCount: largest, alignment: 4096)
    defer { scratch.deallocate() }
    scratch.initializeMemory(as: UInt8.self, repeating: 0, count: largest)
    let bytes = scratch.assumingMemoryBound(to: UInt8.self)
    let values = scratch.assumingMemoryBound(to: Double.self)
    let most = plan.map(\.iterations).max() ?? 1
    let times = UnsafeMutablePointer<UInt64>.allocate(capacity: most)
    defer { times.deallocate() }

    for step in plan {
        var valid: Int32 = 1
        let size = step.bytes
        switch operation {
        case "barrier":
            for _ in 0..<(step.warmup + step.iterations) { try vm.barrier(group) }
            for i in 0..<step.iterations { times[i] = 0 }
        case "bcast":
            for r in 0..<(step.warmup + step.iterations) {
                try vm.barrier(group)
                let t0 = monotonicNanoseconds()
                let id = try vm.receive(from: root, tag: bcastTag, timeoutNanoseconds: nil)
                try vm.unpack(into: bytes, count: size)
                let t1 = monotonicNanoseconds()
                if r >= step.warmup { times[r - step.warmup] = t1 &- t0 }
                if validate {
                    let (n, _, _) = try vm.bufferInfo(id)
                    if Int(n) != size || !holdsPattern(bytes, count: size, round: r) { valid = 0 }
                }
            }
        case "reduce":
            let count = size / 8
            for i in 0..<count { values[i] = reduceInput(i, round: 0, instance: me) }
            for r in 0..<(step.warmup + step.iterations) {
                if validate { for i in 0..<count { values[i] = reduceInput(i, round: r, instance: me) } }
                try vm.barrier(group)
                let t0 = monotonicNanoseconds()
                try vm.reduce(sum, data: scratch, count: count, type: 6, tag: reduceTag, group: group, root: 0)
                let t1 = monotonicNanoseconds()
                if r >= step.warmup { times[r - step.warmup] = t1 &- t0 }
            }
        default:
            throw PVMError(.badParam, "collective operation \(operation)")
        }
        // This size's times (and the -c verdict) to the root.
        _ = try vm.initSend(encoding: Encoding.raw.rawValue)
        try vm.pack(&valid, count: 1)
        try vm.pack(UnsafeRawPointer(times).assumingMemoryBound(to: UInt8.self), count: 8 * step.iterations)
        try vm.send(to: parent, tag: resultTag)
    }
    _ = try vm.receive(from: parent, tag: stopTag, timeoutNanoseconds: nil)
    try? vm.leaveGroup(group)
}

func fail(_ text: String, status: Int32) -> Never {
    _ = "pvmbench-task: \(text)\n".withCString { write(2, $0, strlen($0)) }
    exit(status)
}

var route: String? = nil
var hello = false
var operation: String? = nil
var group = ""
var tasks = 0
var plan: [Step] = []
var rootPid: pid_t = 0
var validate = false
var sinking = false
var mirroring = false
var streamTo: Int32? = nil
var mode = SendMode.pack
var capacity = 0
var args = CommandLine.arguments.dropFirst()
while let a = args.popFirst() {
    switch a {
    case "--hello": hello = true
    case "--route": route = args.popFirst()
    case "--collective": operation = args.popFirst()
    case "--group": group = args.popFirst() ?? ""
    case "--tasks": tasks = args.popFirst().flatMap { Int($0) } ?? 0
    case "--plan":
        guard let p = args.popFirst().flatMap(parsePlan) else { fail("--plan takes bytes:iterations:warmup,...", status: 64) }
        plan = p
    case "--root-pid": rootPid = args.popFirst().flatMap { pid_t($0) } ?? 0
    case "--validate": validate = true
    case "--sink": sinking = true
    case "--bibw": mirroring = true
    case "--send-mode":
        guard let m = args.popFirst().flatMap(SendMode.init(rawValue:)) else { fail("--send-mode takes pack, inplace or psend", status: 64) }
        mode = m
    case "--capacity":
        guard let c = args.popFirst().flatMap({ Int($0) }), c >= 1 else { fail("--capacity takes a byte count", status: 64) }
        capacity = c
    case "--stream-to":
        guard let t = args.popFirst().flatMap({ Int32($0) }), t > 0 else { fail("--stream-to takes a task id", status: 64) }
        streamTo = t
    default: fail("unknown argument \(a) (this program is started by pvmbench)", status: 64)
    }
}
// --route tcp: TCP even to the parent on this host (read at enrollment).
if route == "tcp" { setenv("PVM_TRANSPORT", "tcp", 1) }
do {
    if let operation {
        guard !group.isEmpty, tasks >= 2, !plan.isEmpty else { fail("--collective needs --group, --tasks (2 or more) and --plan", status: 64) }
        if rootPid > 0 { watch(rootPid: rootPid) }
        try collective(operation, group: group, tasks: tasks, plan: plan, route: route, validate: validate)
    } else if mirroring {
        try mirror(route: route, validate: validate, mode: mode)
    } else if sinking {
        try sink(route: route, validate: validate, mode: mode, capacity: capacity)
    } else if let streamTo {
        try stream(to: streamTo, route: route, validate: validate)
    } else {
        try serve(route: route, hello: hello, mode: mode, capacity: capacity)
    }
} catch {
    fail("\(error)", status: 1)
}
