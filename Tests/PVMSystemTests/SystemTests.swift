import Testing
import PVMSystem
import CSupport
#if canImport(Glibc)
import Glibc
#endif

@Suite struct SystemTests {
    @Test func segmentIsSealedAndNamelessAndMapsInAPeer() throws {
        let before = try dirEntries("/dev/shm")
        let segment = try SharedSegment(name: "pvm-test", size: 1 << 16)
        #expect(pvm_memfd_is_size_sealed(segment.descriptor.rawValue) == 1)
        // A peer cannot shrink it under someone's mapping.
        #expect(ftruncate(segment.descriptor.rawValue, 4096) != 0)
        segment.base.storeBytes(of: 0x1234_5678 as UInt64, as: UInt64.self)
        let copy = try segment.descriptor.duplicate()
        let peer = try SharedSegment(mapping: copy, minimumSize: 4096, maximumSize: 1 << 20)
        #expect(peer.base.load(as: UInt64.self) == 0x1234_5678)
        #expect(try dirEntries("/dev/shm") == before)
    }

    @Test func unsealedOrWrongSizedSegmentsAreRefused() throws {
        let fd = pvm_memfd_create("unsealed")
        #expect(fd >= 0)
        #expect(ftruncate(fd, 8192) == 0)
        #expect(throws: SystemError.self) {
            try SharedSegment(mapping: OwnedDescriptor(taking: fd), minimumSize: 4096, maximumSize: 1 << 20)
        }
        let small = try SharedSegment(name: "small", size: 4096)
        #expect(throws: SystemError.self) {
            try SharedSegment(mapping: small.descriptor.duplicate(), minimumSize: 8192, maximumSize: 1 << 20)
        }
    }

    @Test func descriptorsCrossAUnixSocket() throws {
        let pair = try SocketPair()
        let segment = try SharedSegment(name: "passed", size: 4096)
        segment.base.storeBytes(of: 42 as UInt32, as: UInt32.self)
        let message: [UInt8] = [1, 2, 3]
        try message.withUnsafeBytes { try UnixSocket.send(pair.first, $0, descriptors: [segment.descriptor.rawValue]) }
        var buffer = [UInt8](repeating: 0, count: 3)
        var fds: [Int32] = []
        try buffer.withUnsafeMutableBytes { try UnixSocket.receiveExactly(pair.second, into: $0, descriptors: &fds) }
        #expect(buffer == message)
        #expect(fds.count == 1)
        let mapped = try SharedSegment(mapping: OwnedDescriptor(taking: fds[0]), minimumSize: 4096, maximumSize: 4096)
        #expect(mapped.base.load(as: UInt32.self) == 42)
        let me = try UnixSocket.credentials(of: pair.second)
        #expect(me.pid == getpid())
        #expect(me.uid == getuid())
    }

    @Test func doorbellWakesEpoll() throws {
        let epoll = try Epoll()
        let bell = try Doorbell()
        try epoll.add(bell.descriptor.rawValue, events: .readable, token: 7)
        #expect(epoll.wait(timeoutMilliseconds: 0) { _, _ in } == 0)
        bell.ring()
        var token: UInt64 = 0
        #expect(epoll.wait(timeoutMilliseconds: 1000) { t, _ in token = t } == 1)
        #expect(token == 7)
        let first = bell.drain()
        let second = bell.drain()
        #expect(first)
        #expect(!second)
    }

    @Test func probesReportWithoutCrashing() {
        let verbs = SystemProbe.ibverbs()
        let numa = SystemProbe.numa()
        #expect(!verbs.detail.isEmpty)
        #expect(!numa.detail.isEmpty)
        #expect(SystemProbe.availableCPUs() >= 1)
    }

    @Test func runnableCountParsesLoadavgAndRefusesOtherText() {
        func parse(_ text: String) -> Int? {
            Array(text.utf8).withUnsafeBytes { SystemProbe.parseRunnable($0) }
        }
        #expect(parse("0.10 0.05 0.01 3/412 9876\n") == 3)
        #expect(parse("12.00 8.50 4.25 17/1024 1") == 17)
        #expect(parse("0.10 0.05 0.01 /412 9876") == nil)
        #expect(parse("0.10 0.05 3/412 9876") == nil)
        #expect(parse("0.10 0.05 0.01 3") == nil)
        #expect(parse("") == nil)
        #expect(parse("0.10 0.05 0.01 99999999999/4 1") == nil)
    }

    /// The runnable count counts the caller, and threads that spin raise it
    /// (what lets a crowded waiter decide whether it may spin).
    @Test func runnableCountSeesSpinningThreads() throws {
        let idle = try #require(SystemProbe.runnableThreads())
        #expect(idle >= 1)
        let stop = UnsafeMutablePointer<UInt32>.allocate(capacity: 1)
        stop.initialize(to: 0)
        defer { stop.deallocate() }
        let spinners = 3 * SystemProbe.availableCPUs()
        var threads: [pthread_t] = []
        for _ in 0..<spinners {
            var t = pthread_t()
            #expect(pthread_create(&t, nil, { arg in
                while pvm_load_relaxed_u32(arg!) == 0 {}
                return nil
            }, stop) == 0)
            threads.append(t)
        }
        var busiest = 0
        for _ in 0..<50 {
            busiest = max(busiest, SystemProbe.runnableThreads() ?? 0)
            usleep(2000)
        }
        pvm_store_relaxed_u32(stop, 1)
        for t in threads { pthread_join(t, nil) }
        #expect(busiest > SystemProbe.availableCPUs(), "\(spinners) spinning threads, at most \(busiest) runnable")
    }

    private func dirEntries(_ path: String) throws -> [String] {
        guard let d = opendir(path) else { return [] }
        defer { closedir(d) }
        var names: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }
}
