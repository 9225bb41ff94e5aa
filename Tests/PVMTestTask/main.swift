// A PVM task for the integration tests: real processes spawned through the
// daemon. The first argument chooses the behaviour.
#if canImport(Glibc)
import Glibc
#endif
import PVM
import PVMTestSupport

func fail(_ text: String) -> Never {
    let line = "pvm-test-task: \(text)\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
    exit(2)
}

let args = Array(CommandLine.arguments.dropFirst())
let mode = args.first ?? "hello"
// "late": enroll only after a while (a slow start), then echo.
if mode == "late" { usleep(800_000) }
// "process": the state the daemon started this process in, read before the
// task library opens anything: blocked and ignored signals, standard input,
// and every open descriptor.
let started: (blocked: String, ignored: String, input: String, fds: [Int32])? = mode == "process" ? startState() : nil

func startState() -> (blocked: String, ignored: String, input: String, fds: [Int32]) {
    var blocked = "", ignored = ""
    if let f = fopen("/proc/self/status", "r") {
        var line = [CChar](repeating: 0, count: 512)
        while fgets(&line, Int32(line.count), f) != nil {
            let text = line.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            let value = String(text.drop { $0 != ":" }.dropFirst().filter { !$0.isWhitespace })
            if text.hasPrefix("SigBlk:") { blocked = value }
            if text.hasPrefix("SigIgn:") { ignored = value }
        }
        fclose(f)
    }
    var target = [CChar](repeating: 0, count: 256)
    let n = readlink("/proc/self/fd/0", &target, target.count - 1)
    let input = n > 0 ? String(decoding: target[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
    var fds: [Int32] = []
    if let dir = opendir("/proc/self/fd") {
        let own = dirfd(dir)
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if let fd = Int32(name), fd != own { fds.append(fd) }
        }
        closedir(dir)
    }
    return (blocked, ignored, input, fds.sorted())
}
do {
    let vm = try VirtualMachine.shared()
    switch mode {
    case "hello":
        // Tell the parent who we are, our parent, and our siblings.
        let m = Message()
        try m.pack(vm.myTid.rawValue)
        let parent = (try? vm.parent().rawValue) ?? -1
        try m.pack(parent)
        try m.pack(vm.siblings.map(\.rawValue).count)
        try m.pack(vm.siblings.map(\.rawValue))
        try m.pack(args.dropFirst().joined(separator: " "))
        if parent > 0 { try vm.send(m, to: TaskID(parent), tag: 1) }
    case "echo", "late", "echo-first-late", "echo-dontroute":
        // Echo every message back to its sender with tag+1, until tag 999
        // (echo-dontroute: with PvmDontRoute, all through the daemons).
        // (PVM style: the received buffer is made the send buffer.)
        // echo-first-late: hold the first echo for 100 ms, untouched by
        // what arrives meanwhile (the order test of path switches).
        // Tag 30 asks for the path this task's messages to the sender take
        // (answered with tag 31: 0 shared memory, 1 TCP, 2 the daemons).
        var first = mode == "echo-first-late"
        if mode == "echo-dontroute" { vm.route = .dontRoute }
        while true {
            let id = try vm.receive(from: -1, tag: -1, timeoutNanoseconds: nil)
            let (_, tag, source) = try vm.bufferInfo(id)
            if tag == 999 { break }
            if tag == 30 {
                let m = Message()
                try m.pack(Int32(vm.path(to: TaskID(source)) == .sharedMemory ? 0 : vm.path(to: TaskID(source)) == .tcp ? 1 : 2))
                try vm.send(m, to: TaskID(source), tag: 31)
                continue
            }
            if first { usleep(100_000); first = false }
            _ = try vm.setSendBuffer(id)
            try vm.send(to: source, tag: tag + 1)
            _ = try vm.setSendBuffer(0)
        }
    case "sequence":
        // Send tags 101, 102, 103 to the parent and leave.
        let parent = try vm.parent()
        for tag: Int32 in [101, 102, 103] {
            let m = Message()
            try m.pack(tag)
            try vm.send(m, to: parent, tag: MessageTag(tag))
        }
    case "print":
        // Output for the daemon to capture.
        print("line one from \(vm.myTid)")
        print("line two")
        fflush(nil)
        _ = "partial".withCString { write(1, $0, strlen($0)) }
    case "sleep":
        let parent = try? vm.parent()
        if let parent {
            let m = Message()
            try m.pack(Int32(1))
            try vm.send(m, to: parent, tag: 1)
        }
        sleep(UInt32(args.count > 1 ? Int(args[1]) ?? 60 : 60))
    case "crash":
        let parent = try vm.parent()
        let m = Message()
        try m.pack(Int32(1))
        try vm.send(m, to: parent, tag: 1)
        abort()
    case "psend-huge":
        // pvm_psend BYTES bytes (0x5A, the last 8 the count) to the parent
        // (tag 80) once MARKER.go exists, creating MARKER just before; then
        // wait to be killed.
        guard args.count >= 3, let n = Int(args[1]), n > 0 else { fail("psend-huge BYTES MARKER") }
        let data = UnsafeMutableRawPointer.allocate(byteCount: n, alignment: 4096)
        data.initializeMemory(as: UInt8.self, repeating: 0x5A, count: n)
        data.storeBytes(of: UInt64(n), toByteOffset: n - 8, as: UInt64.self)
        // Small messages first (tag 79): the path to the parent is then
        // direct and in use, as it is for a task that has talked to it before.
        for k: Int32 in 1...3 {
            var ready = k
            try vm.psend(to: try vm.parent().rawValue, tag: 79, data: &ready, count: 1, type: 3)
        }
        while access(args[2] + ".go", F_OK) != 0 { usleep(1_000) }
        close(open(args[2], O_CREAT | O_WRONLY, 0o600))
        try vm.psend(to: try vm.parent().rawValue, tag: 80, data: data, count: n, type: 1)
        sleep(60)
    case "big":
        // Receive one message and return its checksum and length.
        let r = try vm.receive(from: .any, tag: 5)
        let n = r.byteCount
        let bytes = try r.unpack(UInt8.self, count: n)
        var sum: UInt64 = 0
        for (i, b) in bytes.enumerated() { sum = sum &* 31 &+ UInt64(b) &+ UInt64(i & 7) }
        let m = Message()
        try m.pack(UInt(sum))
        try m.pack(n)
        try vm.send(m, to: r.source, tag: 6)
    case "process":
        let m = Message()
        try m.pack(started!.blocked)
        try m.pack(started!.ignored)
        try m.pack(started!.input)
        try m.pack(started!.fds.count)
        try m.pack(started!.fds)
        try vm.send(m, to: try vm.parent(), tag: 1)
    case "exe":
        // Which file the daemon started: this process's executable.
        let m = Message()
        var exe = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &exe, exe.count - 1)
        try m.pack(n > 0 ? String(decoding: exe.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self) : "?")
        try vm.send(m, to: try vm.parent(), tag: 1)
    case "cwd":
        var buf = [CChar](repeating: 0, count: 4096)
        _ = getcwd(&buf, buf.count)
        let m = Message()
        try m.pack(String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        try m.pack(getenv("PVMTEST_EXPORTED").map { String(cString: $0) } ?? "")
        try vm.send(m, to: try vm.parent(), tag: 1)
    case "loan":
        // Answer each size asked for (tag 5) with a loaned message of that
        // many pattern bytes (tag 6); size 0 ends.
        while true {
            let r = try vm.receive(from: .any, tag: 5)
            let n: Int = try r.unpack()
            if n == 0 { break }
            let loan = try vm.loan(capacity: n)
            for i in 0..<n { loan.bytes[i] = UInt8(truncatingIfNeeded: i &* 13 &+ n) }
            try vm.send(loan, count: n, to: r.source, tag: 6)
        }
    case "stream":
        // Numbered messages of every size class to the parent, back to back:
        // the first goes through the daemon, the rest directly; order must hold.
        let parent = try vm.parent()
        let sizes = [8, 1000, 70_000, 300_000]
        for seq in 0..<400 {
            let m = Message(encoding: .raw)
            try m.pack(Int32(seq))
            try m.pack([UInt8](repeating: UInt8(truncatingIfNeeded: seq), count: sizes[seq % sizes.count]))
            try vm.send(m, to: parent, tag: 8)
        }
    case "exchange":
        // Both ways at once: 200 numbered messages of every size class to the
        // parent (tag 8) while it sends 200 to us (tag 9); then check those,
        // in order and byte for byte, and report the number of bad ones (tag 10).
        let parent = try vm.parent()
        let sizes = [8, 1000, 70_000, 300_000]
        for seq in 0..<200 {
            let m = Message(encoding: .raw)
            try m.pack(Int32(seq))
            try m.pack([UInt8](repeating: UInt8(truncatingIfNeeded: seq), count: sizes[seq % sizes.count]))
            try vm.send(m, to: parent, tag: 8)
        }
        var bad: Int32 = 0
        for seq in 0..<200 {
            let r = try vm.receive(from: parent, tag: 9)
            let got: Int32 = try r.unpack()
            let bytes = try r.unpack(UInt8.self, count: r.byteCount - 4)
            if got != Int32(seq) || bytes.count != sizes[seq % sizes.count] || bytes.contains(where: { $0 != UInt8(truncatingIfNeeded: seq) }) { bad += 1 }
        }
        let m = Message()
        try m.pack(bad)
        try vm.send(m, to: parent, tag: 10)
    case "halt":
        try vm.halt()
        fail("pvm_halt returned")

    // MARK: Group modes (GroupTests)

    case "group-serve":
        // A group member driven by its parent, one command at a time: each
        // command (tag 100, a string "word arg ...") runs and is answered
        // (tag 101) with an Int32 code (the call's result, or its negative
        // PVM error) followed by what the command adds. Commands and replies
        // always travel in context 0; the commands run in the context set
        // by "context".
        let parent = try vm.parent()
        var work: Int32 = 0
        serving: while true {
            _ = vm.setContext(0)
            let command = try vm.receive(from: parent, tag: 100)
            _ = vm.setContext(work)
            let words = try command.unpackString().split(separator: " ").map(String.init)
            let a = Array(words.dropFirst())
            func int(_ k: Int) -> Int32 { Int32(a[k]) ?? -9999 }
            func ints(from k: Int) -> [Int32] { a.dropFirst(k).map { Int32($0) ?? -9999 } }
            let out = Message(encoding: .raw)
            var code: Int32 = 0
            var extra: [Int32] = []
            var finish: Int32? = nil  // exit the process after replying: 0 with pvm_exit, 1 without
            do {
                switch words.first ?? "" {
                case "join": code = try vm.joinGroup(a[0])
                case "leave": try vm.leaveGroup(a[0])
                case "size": code = try vm.groupSize(a[0])
                case "tid": code = try vm.groupTid(a[0], instance: int(1))
                case "inst": code = try vm.groupInstance(a[0], tid: int(1))
                case "freeze": code = try vm.freezeGroup(a[0], size: int(1))
                case "barrier": try vm.barrier(a[0], count: int(1))
                case "bcast":
                    // bcast G TAG VALUE: pvm_bcast of the active send buffer.
                    _ = try vm.initSend(encoding: 0)
                    var v = int(2)
                    try vm.pack(&v, count: 1)
                    try vm.broadcast(group: a[0], tag: int(1))
                case "bcast-message":
                    // bcast-message G TAG VALUE: the Swift API's broadcast.
                    let m = Message()
                    try m.pack(int(2))
                    try vm.broadcast(m, group: a[0], tag: MessageTag(int(1)))
                case "send":
                    // send TAG VALUE COUNT: COUNT messages VALUE, VALUE+1, ... to the parent.
                    for i in 0..<int(2) {
                        let m = Message()
                        try m.pack(int(1) + i)
                        try vm.send(m, to: parent, tag: MessageTag(int(0)))
                    }
                case "sendto":
                    // sendto TID TAG V...: one message of the Int32s V... to TID.
                    let m = Message()
                    for v in ints(from: 2) { try m.pack(v) }
                    try vm.send(m, to: TaskID(int(0)), tag: MessageTag(int(1)))
                case "recv":
                    // recv TAG MS: the first Int32 of a message with TAG from
                    // anyone, and its source; -1000 if none came within MS.
                    if let r = try vm.receive(from: .any, tag: MessageTag(int(0)), timeout: .milliseconds(Int(int(1)))) {
                        code = 0
                        if r.byteCount >= 4 { code = try r.unpack(Int32.self) }
                        extra = [r.source.rawValue]
                    } else {
                        code = -1000
                    }
                case "context":
                    // context C: the commands that follow run in context C; the old one back.
                    code = work
                    work = int(0)
                case "reduce-sum":
                    // reduce-sum G ROOT TAG V...: typed Int32 sum; the array after.
                    var v = ints(from: 3)
                    try vm.reduce(.sum, &v, group: a[0], root: int(1), tag: MessageTag(int(2)))
                    extra = v
                case "gather":
                    // gather G ROOT TAG V...: what the root collected (nothing elsewhere).
                    extra = try vm.gather(ints(from: 3), group: a[0], root: int(1), tag: MessageTag(int(2))) ?? []
                case "gather-double":
                    // gather-double G ROOT TAG V...: as gather, in Doubles (+0.25 each).
                    let v = ints(from: 3).map { Double($0) + 0.25 }
                    let got = try vm.gather(v, group: a[0], root: int(1), tag: MessageTag(int(2))) ?? []
                    try out.pack(got.count)
                    try out.pack(got)
                case "scatter":
                    // scatter G ROOT TAG COUNT V...: this member's part.
                    extra = try vm.scatter(ints(from: 4), count: Int(int(3)), group: a[0], root: int(1), tag: MessageTag(int(2)))
                case "scatter-double":
                    let part = try vm.scatter(ints(from: 4).map { Double($0) + 0.5 }, count: Int(int(3)), group: a[0], root: int(1),
                                              tag: MessageTag(int(2)))
                    try out.pack(part.count)
                    try out.pack(part)
                case "rounds":
                    // rounds G ROUNDS COUNT FILE SLOTS: ROUNDS barriers of COUNT
                    // in G. Before barrier k this member writes k into its
                    // slot (its instance) of the shared FILE; after it, each
                    // of the SLOTS (the members' instances, comma-separated)
                    // must hold k (arrived) or k + 1 (arrived at the next
                    // one), else the barrier let this member through early.
                    // Extra: violations, the first one's round, slot and
                    // value, and the time taken in µs.
                    let g = a[0], rounds = Int(int(1)), count = int(2)
                    let checked = a[4].split(separator: ",").compactMap { Int($0) }.filter { (0..<512).contains($0) }
                    let slot = Int(try vm.groupInstance(g, tid: vm.myTid.rawValue))
                    let fd = open(a[3], O_RDWR)
                    let mapped = fd < 0 ? nil : mmap(nil, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
                    if fd >= 0 { close(fd) }
                    guard let map = mapped, Int(bitPattern: map) != -1 else { throw PVMError(.sysErr, "cannot map \(a[3])") }
                    defer { munmap(map, 4096) }
                    let slots = map.bindMemory(to: Int64.self, capacity: 512)
                    var bad: [Int32] = [0, 0, 0, 0]
                    var start = timespec(), end = timespec()
                    clock_gettime(CLOCK_MONOTONIC, &start)
                    for k in 1...max(rounds, 1) {
                        // Now and then one member comes late.
                        if (k &* 31 &+ slot &* 17) % 97 == 0 { usleep(500) }
                        slots[slot] = Int64(k)
                        try vm.barrier(g, count: count)
                        for j in checked {
                            let s = slots[j]
                            if s < Int64(k) || s > Int64(k + 1) {
                                if bad[0] == 0 { bad[1] = Int32(k); bad[2] = Int32(j); bad[3] = Int32(truncatingIfNeeded: s) }
                                bad[0] += 1
                            }
                        }
                    }
                    clock_gettime(CLOCK_MONOTONIC, &end)
                    extra = bad + [Int32((end.tv_sec - start.tv_sec) * 1_000_000 + (end.tv_nsec - start.tv_nsec) / 1000)]
                case "reduce-all":
                    // reduce-all G ROOT TAG COUNT: every operation on every
                    // numeric type (typed API), COUNT items each, then an
                    // XOR of UInt32s through a combine function of our own
                    // (C-style API). Packs each array as it is after its
                    // reduce, and the item count the combine function saw
                    // (-1: never called).
                    let g = a[0], root = int(1), count = Int(int(3))
                    var tag = int(2)
                    let inst = Int(try vm.groupInstance(g, tid: vm.myTid.rawValue))
                    func each<T: PVMReducible>(_ make: (Int) -> T) throws {
                        for op in [ReduceOperation.max, .min, .sum, .product] {
                            var v = (0..<count).map(make)
                            try vm.reduce(op, &v, group: g, root: root, tag: MessageTag(tag))
                            tag += 1
                            try out.pack(v)
                        }
                    }
                    try each { groupInteger(Int8.self, inst, $0) }
                    try each { groupInteger(Int16.self, inst, $0) }
                    try each { groupInteger(Int32.self, inst, $0) }
                    try each { groupInteger(Int.self, inst, $0) }
                    try each { groupInteger(UInt16.self, inst, $0) }
                    try each { groupInteger(UInt32.self, inst, $0) }
                    try each { groupInteger(UInt.self, inst, $0) }
                    try each { groupReal(Float.self, inst, $0) }
                    try each { groupReal(Double.self, inst, $0) }
                    var x = (0..<count).map { groupInteger(UInt32.self, inst, $0) }
                    var seen = -1
                    try x.withUnsafeMutableBytes { raw in
                        try vm.reduce({ (p, q, n) throws(PVMError) in
                            seen = n
                            let l = p.assumingMemoryBound(to: UInt32.self), r = q.assumingMemoryBound(to: UInt32.self)
                            for i in 0..<n { l[i] ^= r[i] }
                        }, data: raw.baseAddress!, count: count, type: 10, tag: tag, group: g, root: root)
                    }
                    try out.pack(x)
                    try out.pack(Int32(seen))
                case "pid": code = getpid()
                case "exit": finish = 0  // pvm_exit (without leaving its groups), then end
                case "quit": finish = 1  // end the process with no pvm_exit at all
                case "end": break serving
                default: code = -9999
                }
            } catch let e as PVMError {
                code = e.code
            } catch {
                code = -9998
            }
            let reply = Message(encoding: .raw)
            try reply.pack(code)
            try reply.pack(extra.count)
            try reply.pack(extra)
            try reply.pack(out.byteCount)
            _ = vm.setContext(0)
            try vm.send(reply, to: parent, tag: 101)
            if out.byteCount > 0 {
                // Typed results: a second message, packed as they came.
                try vm.send(out, to: parent, tag: 102)
            }
            _ = vm.setContext(work)
            if let finish {
                // (A moment for the answer to be read before the link closes.)
                if finish == 0 { try vm.exit() } else { usleep(50_000) }
                exit(0)
            }
        }

    // MARK: Mailbox modes (GroupMailboxTests)

    case "mbox-put":
        // A persistent and a plain entry, each holding our tid; then report
        // their indices to the parent if there is one (tag 1) and exit
        // ("hold": once the parent says, tag 2).
        let m = Message()
        try m.pack(vm.myTid.rawValue)
        let persistent = try vm.putInfo("mbox.persist", m, flags: .persistent)
        let plain = try vm.putInfo("mbox.plain", m)
        if let parent = try? vm.parent() {
            let r = Message()
            try r.pack([persistent, plain])
            try vm.send(r, to: parent, tag: 1)
            if args.dropFirst().first == "hold" { _ = try vm.receive(from: parent, tag: 2) }
        }
    case "mbox-rights":
        // Try the parent's entries "mbox.mine" (plain) and "mbox.open"
        // (overwritable); report the codes (tag 1), then wait for tag 2.
        func code(_ body: () throws(PVMError) -> Int32) -> Int32 {
            do throws(PVMError) { return try body() } catch { return error.code }
        }
        let m = Message()
        try m.pack(vm.myTid.rawValue)
        let codes: [Int32] = [
            code { () throws(PVMError) in try vm.putInfo("mbox.mine", m) },
            code { () throws(PVMError) in try vm.deleteInfo("mbox.mine") },
            code { () throws(PVMError) in _ = try vm.info("mbox.mine", flags: .readAndDelete); return 0 },
            code { () throws(PVMError) in try vm.putInfo("mbox.open", m) },
            code { () throws(PVMError) in try vm.info("mbox.mine").unpack(Int32.self) },
        ]
        let parent = try vm.parent()
        let r = Message()
        try r.pack(codes)
        try vm.send(r, to: parent, tag: 1)
        _ = try vm.receive(from: parent, tag: 2)
    case "mbox-later":
        // A message first (tag 5), then after a while the entry the parent
        // waits for; exit once the parent says (tag 2).
        let parent = try vm.parent()
        let first = Message()
        try first.pack(Int32(5))
        try vm.send(first, to: parent, tag: 5)
        usleep(300_000)
        let m = Message()
        try m.pack(Int32(77))
        _ = try vm.putInfo("mbox.later", m)
        _ = try vm.receive(from: parent, tag: 2)
    case "mbox-wait":
        // Say so (tag 1), then wait for an entry nobody puts: killed there.
        let r = Message()
        try r.pack(Int32(1))
        try vm.send(r, to: try vm.parent(), tag: 1)
        _ = try vm.info("mbox.never", flags: [.waitForInfo, .readAndDelete])
        fail("mbox-wait: the entry came")
    case "mbox-take":
        // Wait for the entry args[1] and take it (read and delete); send its
        // value and owner back (tag 1).
        let got = try vm.info(args.count > 1 ? args[1] : "mbox.job", flags: [.waitForInfo, .readAndDelete])
        let r = Message()
        try r.pack([try got.unpack(Int32.self), got.source.rawValue])
        try vm.send(r, to: try vm.parent(), tag: 1)
    case "mbox-big":
        // Across hosts: put 2 MiB, read "mbox.big" (2 MiB) and "mbox.mid"
        // (512 KiB); report the index put and the sizes read (tag 1).
        func code(_ body: () throws(PVMError) -> Int32) -> Int32 {
            do throws(PVMError) { return try body() } catch { return error.code }
        }
        let big = Message(encoding: .raw)
        try big.pack([UInt8](repeating: 7, count: 2 << 20))
        let r = Message()
        try r.pack([
            code { () throws(PVMError) in try vm.putInfo("mbox.remote.big", big) },
            code { () throws(PVMError) in Int32(try vm.info("mbox.big").byteCount) },
            code { () throws(PVMError) in Int32(try vm.info("mbox.mid").byteCount) },
        ])
        try vm.send(r, to: try vm.parent(), tag: 1)
    case "mbox-sleep":
        // A persistent and a plain entry, then sleep (until reset kills us).
        let m = Message()
        try m.pack(vm.myTid.rawValue)
        _ = try vm.putInfo("mbox.victim", m, flags: .persistent)
        _ = try vm.putInfo("mbox.victim.plain", m)
        let r = Message()
        try r.pack(Int32(1))
        try vm.send(r, to: try vm.parent(), tag: 1)
        sleep(60)
    case "placement":
        // NUMA placement as the kernel sees it: our allowed CPUs
        // (Cpus_allowed_list) and the memory policy of our first mapping
        // (numa_maps: "default", "bind:0", ...), to the parent (tag 1).
        func firstLine(_ path: String, _ keep: (String) -> Bool) -> String {
            guard let f = fopen(path, "r") else { return "unreadable \(path)" }
            defer { fclose(f) }
            var line: UnsafeMutablePointer<CChar>? = nil
            var capacity = 0
            defer { free(line) }
            while getline(&line, &capacity, f) > 0 {
                let text = String(cString: line!).split(separator: "\n").first.map(String.init) ?? ""
                if keep(text) { return text }
            }
            return "nothing in \(path)"
        }
        let allowed = firstLine("/proc/self/status") { $0.hasPrefix("Cpus_allowed_list:") }
        let policy = firstLine("/proc/self/numa_maps") { _ in true }
        let m = Message()
        try m.pack(String(allowed.split(separator: "\t").last ?? ""))
        try m.pack(String(policy.split(separator: " ").dropFirst().first ?? ""))
        try vm.send(m, to: try vm.parent(), tag: 1)
    default:
        fail("unknown mode \(mode)")
    }
    try vm.exit()
} catch {
    fail("\(mode): \(error)")
}
