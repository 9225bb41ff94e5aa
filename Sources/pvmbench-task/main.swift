// The spawned end of pvmbench's task-library measurements (`--api pvm`,
// `pvmbench spawn`). A separate, small program on purpose: it links the task
// library and nothing else (no Foundation), with the Swift runtime linked
// statically, so a spawn measures the runtime's spawn and not the loading
// of a large program. Not meant to be run by hand: pvmbench spawns it.
#if canImport(Glibc)
import Glibc
#endif
import PVM

let echoTag: Int32 = 1
let helloTag: Int32 = 3

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

var route: String? = nil
var hello = false
var args = CommandLine.arguments.dropFirst()
while let a = args.popFirst() {
    switch a {
    case "--hello": hello = true
    case "--route": route = args.popFirst()
    default:
        _ = "pvmbench-task: unknown argument \(a) (this program is started by pvmbench)\n".withCString { write(2, $0, strlen($0)) }
        exit(64)
    }
}
// --route tcp: TCP even to the parent on this host (read at enrollment).
if route == "tcp" { setenv("PVM_TRANSPORT", "tcp", 1) }
do {
    try serve(route: route, hello: hello)
} catch {
    _ = "pvmbench-task: \(error)\n".withCString { write(2, $0, strlen($0)) }
    exit(1)
}
