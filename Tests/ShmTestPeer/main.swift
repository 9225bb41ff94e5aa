// A peer process for the transport tests. Not a product: the tests start it
// to get real, separate processes on the other end of the rings.
//
//   send ADDRESS COUNT SEED [--loans] [--die-mid-record-at K] [--die-holding-share-after K]
//       connect, send COUNT messages of random sizes (every size class), an
//       end marker, then wait for the sink's acknowledgement. The last
//       option: from message K on, SIGKILL this process as soon as it has
//       claimed a share of a single-copy pull, before writing it.
//   echo ADDRESSFILE
//       listen, write the address to ADDRESSFILE, echo every message back,
//       exit when the peer leaves, printing the reason and its share counts
//       ("shares offered O written W refused R").
//   wait ADDRESS
//       connect, send "ready", block in receive; reply with the CPU time the
//       blocked receive used (8 bytes, nanoseconds).
//   stall ADDRESS
//       connect, then never read (until killed, or 60 s).
//   cross ADDRESSFILE PEERFILE
//       listen, write the address to ADDRESSFILE, wait for PEERFILE to hold
//       the other end's address and connect to it at once (the other end
//       connects to this one at the same moment), send this process's pid,
//       wait for one message, then for the peer to leave.
//   reserve-under-limit
//       try to create an endpoint and a ring under RLIMIT_FSIZE = 64 KiB;
//       print the error and exit 3 (or exit 0 if it unexpectedly worked).
#if canImport(Glibc)
import Glibc
#endif
import PVMSystem
import PVMTransport
import PVMTestSupport
import Foundation

/// Size of message `seq`: mostly small, some at the eager limit's edges,
/// some large (single copy or pipelined), now and then very large.
func size(seq: UInt64, seed: UInt64) -> Int {
    var x = (seq ^ seed) &* 0xD6E8_FEB8_6659_FD93
    x ^= x >> 32
    switch x % 1000 {
    case 0: return 16 + Int(x % (4 << 20))             // up to 4 MiB
    case 1..<20: return 16 + Int(x % (256 << 10))      // up to 256 KiB
    case 20..<60: return 65520 - 8 + Int(x % 16)       // around the default eager limit
    default: return 16 + Int(x % 200)                  // small
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("shm-test-peer: \(message)\n".utf8))
    exit(2)
}

let args = CommandLine.arguments
guard args.count >= 2 else { fail("usage: send|echo|wait|reserve-under-limit ...") }

do {
    switch args[1] {
    case "send":
        guard args.count >= 5, let count = UInt64(args[3]), let seed = UInt64(args[4]) else { fail("send ADDRESS COUNT SEED") }
        let loans = args.contains("--loans")
        let dieAt = args.firstIndex(of: "--die-mid-record-at").flatMap { UInt64(args[$0 + 1]) }
        let dieHoldingShareAfter = args.firstIndex(of: "--die-holding-share-after").flatMap { UInt64(args[$0 + 1]) }
        let endpoint = try ShmEndpoint(name: "sender")
        let peer = try endpoint.connect(to: args[2])
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 5 << 20, alignment: 64)
        for seq in 0..<count {
            if seq == dieAt {
                endpoint._testAbandonPartialRecord(to: peer, length: 100)
                kill(getpid(), SIGKILL)
            }
            if seq == dieHoldingShareAfter { endpoint._testOnShareClaim = { kill(getpid(), SIGKILL) } }
            let n = size(seq: seq, seed: seed)
            if loans && seq % 3 == 0 {
                let loan = try endpoint.loan(capacity: n)
                ShmTestPattern.fill(UnsafeMutableRawBufferPointer(rebasing: loan.buffer[0..<n]), seq: seq, seed: seed)
                try endpoint.send(loan, length: n, to: peer)
            } else {
                let b = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<n])
                ShmTestPattern.fill(b, seq: seq, seed: seed)
                try endpoint.send(UnsafeRawBufferPointer(b), to: peer)
            }
        }
        var end: UInt64 = 0xE4D
        try withUnsafeBytes(of: &end) { try endpoint.send($0, to: peer) }
        var acked = false
        while !acked {
            try endpoint.receive { event in
                if case .message = event { acked = true }
                if case .disconnected = event { acked = true }
            }
        }
    case "echo":
        guard args.count >= 3 else { fail("echo ADDRESSFILE") }
        let endpoint = try ShmEndpoint(name: "echo")
        try endpoint.address.write(toFile: args[2], atomically: true, encoding: .utf8)
        var done = false
        while !done {
            try endpoint.receive { event in
                switch event {
                case .message(let peer, let message): try endpoint.send(message.bytes, to: peer)
                case .disconnected(_, let reason):
                    print("disconnected: \(reason)")
                    print("shares offered \(endpoint.sharesOffered) written \(endpoint.sharesWritten) refused \(endpoint.sharesRefused)")
                    done = true
                case .connected, .readable: break
                }
            }
        }
    case "wait":
        guard args.count >= 3 else { fail("wait ADDRESS") }
        let endpoint = try ShmEndpoint(name: "waiter")
        let peer = try endpoint.connect(to: args[2])
        var ready: UInt64 = 1
        try withUnsafeBytes(of: &ready) { try endpoint.send($0, to: peer) }
        let before = Clock.threadCPUNanoseconds()
        var got = false
        while !got {
            try endpoint.receive { event in if case .message = event { got = true } }
        }
        var used = Clock.threadCPUNanoseconds() - before
        try withUnsafeBytes(of: &used) { try endpoint.send($0, to: peer) }
        while endpoint.peerCount > 0 { try endpoint.receive(timeoutNanoseconds: 2_000_000_000) { _ in } }
    case "cross":
        guard args.count >= 4 else { fail("cross ADDRESSFILE PEERFILE") }
        let endpoint = try ShmEndpoint(name: "cross")
        try endpoint.address.write(toFile: args[2], atomically: true, encoding: .utf8)
        var address = ""
        for _ in 0..<100_000 where address.isEmpty {
            address = (try? String(contentsOfFile: args[3], encoding: .utf8)) ?? ""
            if address.isEmpty { usleep(100) }
        }
        let peer = try endpoint.connect(to: address)
        var pid = UInt64(getpid())
        try withUnsafeBytes(of: &pid) { try endpoint.send($0, to: peer) }
        var got = false
        var gone = false
        while !gone {
            try endpoint.receive(timeoutNanoseconds: 10_000_000_000) { event in
                switch event {
                case .message: got = true
                case .disconnected: gone = true
                case .connected, .readable: break
                }
            }
        }
        guard got else { fail("no message from the other end") }
    case "stall":
        guard args.count >= 3 else { fail("stall ADDRESS") }
        let endpoint = try ShmEndpoint(name: "stall")
        _ = try endpoint.connect(to: args[2])
        sleep(60)
        _ = endpoint
    case "reserve-under-limit":
        signal(SIGXFSZ, SIG_IGN)
        var limit = rlimit(rlim_cur: 64 << 10, rlim_max: 64 << 10)
        setrlimit(Int32(RLIMIT_FSIZE.rawValue), &limit)
        do {
            var c = ShmConfiguration()
            c.ringCapacity = 1 << 20
            let a = try ShmEndpoint(name: "limited-a", configuration: c)
            let b = try ShmEndpoint(name: "limited-b", configuration: c)
            _ = try b.connect(to: a.address)
            exit(0)
        } catch {
            print("error: \(error)")
            exit(3)
        }
    default:
        fail("unknown mode \(args[1])")
    }
} catch {
    fail("\(error)")
}
