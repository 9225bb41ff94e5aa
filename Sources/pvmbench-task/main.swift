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

let echoTag: Int32 = 1
let stopTag: Int32 = 2
let helloTag: Int32 = 3
// pvmbench collective's tags (CollectiveDriver in Sources/PVMBench/CollectiveBench.swift).
let joinedTag: Int32 = 4
let bcastTag: Int32 = 5
let reduceTag: Int32 = 6
let resultTag: Int32 = 7

/// Echoes every message from the parent (unpacked and packed again, as a
/// PVM program would) until a message with another tag; with `--hello`,
/// sends its task id to its parent and leaves.
func serve(route: String?, hello: Bool) throws(PVMError) {
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
    var capacity = 1 << 16
    var scratch = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
    defer { scratch.deallocate() }
    while true {
        let id = try vm.receive(from: parent, tag: -1, timeoutNanoseconds: nil)
        let (bytes, tag, _) = try vm.bufferInfo(id)
        if tag != echoTag { return }
        let n = Int(bytes)
        if n > capacity {
            scratch.deallocate()
            capacity = n
            scratch = .allocate(capacity: n)
        }
        try vm.unpack(into: scratch, count: n)
        _ = try vm.initSend(encoding: Encoding.raw.rawValue)
        try vm.pack(UnsafePointer(scratch), count: n)
        try vm.send(to: parent, tag: echoTag)
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

/// pvmbench's -c pattern (PingPongDriver.pattern).
@inline(__always)
func pattern(_ index: Int, _ round: Int) -> UInt8 {
    UInt8(truncatingIfNeeded: index &* 31 &+ round &* 7 &+ 1)
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
                    if Int(n) != size { valid = 0 }
                    for i in 0..<size where bytes[i] != pattern(i, r) {
                        valid = 0
                        break
                    }
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
    } else {
        try serve(route: route, hello: hello)
    }
} catch {
    fail("\(error)", status: 1)
}
