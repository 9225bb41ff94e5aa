// The task library's message path inside one process: a task sends 8 B and
// 1 KiB messages to itself and receives them, the way a PVM program does
// (pvm_initsend, pvm_pkbyte, pvm_send; pvm_recv, pvm_upkbyte). That runs the
// library's own work on every message: buffer ids, packing into a warm
// buffer, the frame header, queueing, matching by source and tag, the
// receive buffer's reuse, unpacking. (The shared-memory leg between two
// processes is the Ring target's.) The daemon it needs runs on a thread of
// this process, in a private runtime directory.
//
// Each sample runs 1000 messages; the gate is on allocations and
// retain/release counts per sample, which must be zero (Thresholds/).
import Benchmark
import Foundation
import PVM
import PVMDaemon

/// The private runtime directory, removed when the process exits.
nonisolated(unsafe) var runtimeBase = ""

/// A daemon on a thread of this process, in a fresh private directory; the
/// task library of this process enrolls with it.
func startPrivateDaemon() -> VirtualMachine {
    let tmp = NSTemporaryDirectory()
    // Directories of earlier runs whose process is gone (the benchmark
    // runner may end this process without running exit handlers).
    for name in (try? FileManager.default.contentsOfDirectory(atPath: tmp)) ?? [] where name.hasPrefix("pvm-bench-") {
        if let pid = Int32(name.dropFirst("pvm-bench-".count)), kill(pid, 0) != 0 {
            try? FileManager.default.removeItem(atPath: tmp + "/" + name)
        }
    }
    let base = tmp + "pvm-bench-\(getpid())"
    runtimeBase = base
    atexit { try? FileManager.default.removeItem(atPath: runtimeBase) }
    try? FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
    setenv("PVM_TMP", base, 1)
    let env = ProcessInfo.processInfo.environment
    let dir = RuntimeDirectory.forCurrentUser(environment: env)
    let options = Daemon.Options(directory: dir, hostName: "bench", environment: env)
    let listening = DispatchSemaphore(value: 0)
    let thread = Thread {
        let daemon = try! Daemon(options: options)  // listens once made
        listening.signal()
        _ = daemon.run()
    }
    thread.start()
    listening.wait()
    setenv("PVMSOCK", dir.socketPath, 1)
    return try! VirtualMachine.shared()
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal, .retainCount, .releaseCount],
        scalingFactor: .kilo, maxDuration: .seconds(2), maxIterations: 100_000)

    let vm = startPrivateDaemon()
    let me = vm.myTid.rawValue
    let payload = UnsafeMutablePointer<UInt8>.allocate(capacity: 1024)
    payload.initialize(repeating: 7, count: 1024)

    for size in [8, 1024] {
        Benchmark("self_send_receive_\(size)B") { benchmark in
            for _ in benchmark.scaledIterations {
                _ = try vm.initSend(encoding: 1)
                try vm.pack(UnsafePointer(payload), count: size)
                try vm.send(to: me, tag: 1)
                _ = try vm.receive(from: me, tag: 1, timeoutNanoseconds: nil)
                try vm.unpack(into: payload, count: size)
            }
        }
    }
}
