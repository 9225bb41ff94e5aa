// A PVM task for the integration tests: real processes spawned through the
// daemon. The first argument chooses the behaviour.
#if canImport(Glibc)
import Glibc
#endif
import PVM

func fail(_ text: String) -> Never {
    let line = "pvm-test-task: \(text)\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
    exit(2)
}

let args = Array(CommandLine.arguments.dropFirst())
let mode = args.first ?? "hello"
// "late": enroll only after a while (a slow start), then echo.
if mode == "late" { usleep(800_000) }
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
    case "echo", "late":
        // Echo every message back to its sender with tag+1, until tag 999.
        // (PVM style: the received buffer is made the send buffer.)
        while true {
            let id = try vm.receive(from: -1, tag: -1, timeoutNanoseconds: nil)
            let (_, tag, source) = try vm.bufferInfo(id)
            if tag == 999 { break }
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
    default:
        fail("unknown mode \(mode)")
    }
    try vm.exit()
} catch {
    fail("\(mode): \(error)")
}
