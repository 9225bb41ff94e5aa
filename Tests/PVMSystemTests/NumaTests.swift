import Testing
import PVMSystem
import PVMTestSupport
import CSupport
#if canImport(Glibc)
import Glibc
#endif

/// NUMA: the report, placements (text, errors, their effect on real threads
/// and on a real child process), memory policy, and where pages live. This
/// machine may have one node; what needs two is skipped with that reason.
@Suite struct NumaTests {
    static let multiNode = Numa.onlineNodes().count > 1
    static let oneNodeReason: Comment = "needs a machine with two or more NUMA nodes; this one has \(Numa.onlineNodes().count)"

    // MARK: Report

    @Test func numaReportNamesTheNodesAndTheLibrary() throws {
        let a = Numa.availability
        let sysNodes = Numa.onlineNodes()
        #expect(a.nodes == sysNodes)
        #expect(Numa.nodeCount() >= 1)
        #expect(Numa.nodeCount() <= sysNodes.count)
        let report = Numa.report
        #expect(report.hasPrefix("NUMA: \(sysNodes.count) node"))
        #expect(report.contains("node \(sysNodes[0]): CPUs "))
        if a.libraryLoaded {
            #expect(report.contains("libnuma: libnuma.so.1;"))
            #expect(a.isAvailable == a.kernelSupport)
        } else {
            #expect(report.contains("not loaded ("))
            #expect(!a.isAvailable)
        }
        // numactl, where installed, is libnuma's own view of the machine.
        if let out = run("/usr/bin/numactl", ["--hardware"]) {
            #expect(out.contains("available: \(Numa.nodeCount()) nodes"), "numactl says: \(out)")
            for node in sysNodes {
                let cpus = try Numa.cpus(ofNode: node).map(String.init).joined(separator: " ")
                #expect(out.contains("node \(node) cpus: \(cpus)\n"), "numactl says: \(out)")
            }
        }
    }

    @Test func numaLibraryMissingOrWrongIsReportedNotFatal() {
        let missing = Numa._probeLibrary("libnuma-not-installed.so.1")
        #expect(!missing.loaded)
        #expect(missing.detail.contains("libnuma-not-installed.so.1"))
        // A library that loads but is not libnuma: the missing entry point is named.
        let wrong = Numa._probeLibrary("libc.so.6")
        #expect(!wrong.loaded)
        #expect(wrong.detail.contains("numa_available"), "\(wrong.detail)")
    }

    /// Without libnuma the topology comes from /sys: it must say what libnuma says.
    @Test func numaSysfsTopologyAgreesWithLibnuma() throws {
        try #require(Numa.availability.libraryLoaded, "libnuma.so.1 is not installed here: nothing to compare with")
        for node in Numa.onlineNodes() {
            #expect(try Numa.sysfsCPUs(ofNode: node) == Numa.cpus(ofNode: node))
        }
        for cpu in Numa.onlineCPUs() ?? [] {
            #expect(Numa.sysfsNode(ofCPU: cpu) == Numa.node(ofCPU: cpu))
        }
        let absent = (Numa.onlineCPUs()?.max() ?? 0) + 1
        #expect(Numa.sysfsNode(ofCPU: absent) == nil)
        #expect(Numa.node(ofCPU: absent) == nil)
    }

    // MARK: Placement text

    @Test(arguments: [
        ("none", "none"), ("  node:0 ", "node:0"), ("node:0,1", "node:0,1"), ("node:1,0,1", "node:0,1"),
        ("cpus:0-3,8", "cpus:0-3,8"), ("cpus:3,2,1,0,8", "cpus:0-3,8"), ("cpus:5", "cpus:5"), ("cpus:0-1", "cpus:0,1"),
        ("cpus:8191", "cpus:8191"), ("node:1023", "node:1023"),
    ])
    func numaPlacementParsesAndRoundTrips(text: String, normal: String) throws {
        let p = try Placement(parsing: text)
        #expect(p.description == normal)
        #expect(try Placement(parsing: p.description) == p)
    }

    @Test(arguments: [
        ("", "is empty"),
        ("   ", "is empty"),
        ("node0", "is not a placement"),
        ("cpu:1", "unknown kind \"cpu\""),
        ("nodes:1", "unknown kind \"nodes\""),
        ("node:", "node: needs a list of node numbers"),
        ("cpus:", "cpus: needs a list of CPU numbers"),
        ("cpus:1,,2", "empty item"),
        ("cpus:1,", "empty item"),
        ("cpus:3-1", "the range 3-1, which runs backwards"),
        ("cpus:a", "\"a\", which is not a CPU number"),
        ("cpus:-1", "\"-1\", which is not a CPU number"),
        ("cpus:1-2-3", "not a CPU number or range"),
        ("cpus:+1", "not a CPU number"),
        ("node:1024", "node 1024, beyond the largest node number, 1023"),
        ("cpus:0-4294967295", "beyond the largest CPU number, 8191"),
        ("cpus:99999999999999999999", "beyond the largest CPU number"),
        ("node:٣", "not a node number"),
    ])
    func numaPlacementRefusesBadText(text: String, expected: String) {
        do {
            let p = try Placement(parsing: text)
            Issue.record("\"\(text)\" parsed as \(p)")
        } catch {
            #expect(error.description.hasPrefix("placement \"\(text)\" "))
            #expect(error.description.contains(expected), "\(error.description)")
        }
    }

    // MARK: Where the calling thread runs

    @Test func numaCurrentCPUAndNodeFollowABinding() throws {
        let allowed = try Numa.affinity()
        #expect(!allowed.isEmpty)
        for cpu in allowed {
            let (seen, node) = try Placement(kind: .cpus([cpu])).withApplied { () -> (Int, Int) in
                sched_yield()
                return (Numa.currentCPU(), Numa.currentNode())
            }
            #expect(seen == cpu)
            #expect(node == Numa.node(ofCPU: cpu))
        }
        // Put back as it was.
        #expect(try Numa.affinity() == allowed)
        #expect(Numa.node(ofCPU: -1) == nil)
        #expect(Numa.node(ofCPU: 8000) == nil)
    }

    @Test func numaApplyBindsARealThread() throws {
        let allowed = try Numa.affinity()
        let target = allowed.last!
        // A new thread, so that this test's own thread stays as it is.
        let report = try onNewThread { () -> String in
            do { try Placement(parsing: "cpus:\(target)").apply() } catch { return "error: \(error)" }
            return statusField("Cpus_allowed_list", path: "/proc/thread-self/status") ?? "no status"
        }
        #expect(report == "\(target)")
        #expect(try Numa.affinity() == allowed)
    }

    @Test func numaNodePlacementBindsCPUsAndMemory() throws {
        let node = Numa.onlineNodes()[0]
        let cpus = try Numa.cpus(ofNode: node)
        let usable = Set(try Numa.affinity()).intersection(cpus)
        try #require(!usable.isEmpty, "this process may not run on node \(node)'s CPUs")
        let before = try Numa.memoryPolicy()
        let inside = try Placement(parsing: "node:\(node)").withApplied { () -> ([Int], Numa.MemoryPolicy)? in
            guard let a = try? Numa.affinity(), let m = try? Numa.memoryPolicy() else { return nil }
            return (a, m)
        }
        #expect(inside?.0 == usable.sorted())
        #expect(inside?.1 == .bind([node]))
        #expect(try Numa.memoryPolicy() == before)
    }

    @Test func numaPlacementOfAnAbsentCPUOrNodeIsAClearError() throws {
        let online = Numa.onlineCPUs() ?? []
        let absentCPU = (online.max() ?? 0) + 1
        #expect(throws: SystemError.self) { try Placement(parsing: "cpus:\(absentCPU)").apply() }
        do { try Placement(parsing: "cpus:\(absentCPU)").apply() } catch let error as SystemError {
            #expect(error.operation.contains("CPU \(absentCPU) is not online on this host"), "\(error)")
        }
        let absentNode = Numa.onlineNodes().max()! + 1
        do {
            _ = try Placement(parsing: "node:\(absentNode)").withApplied { 0 }
            Issue.record("node \(absentNode) was accepted")
        } catch let error as SystemError {
            #expect(error.operation.contains("node \(absentNode) does not exist on this host"), "\(error)")
        }
        try Placement.none.apply()  // nothing to do, nothing fails
    }

    /// What the daemon does to start a placed task: place its own thread
    /// around posix_spawn. The child (a real process) reads its affinity and
    /// memory policy from the kernel.
    @Test func numaSpawnedChildInheritsThePlacement() throws {
        let node = Numa.onlineNodes()[0]
        let cpu = try Numa.affinity().last!
        for (text, wantCPUs, wantPolicy) in [("cpus:\(cpu)", "\(cpu)", "default"), ("node:\(node)", nil, "bind:\(node)")] {
            let placement = try Placement(parsing: text)
            let out = try placement.withApplied { () -> String? in
                run("/bin/sh", ["-c", "grep Cpus_allowed_list /proc/self/status; head -n 1 /proc/self/numa_maps"])
            }
            let lines = (out ?? "").split(separator: "\n").map(String.init)
            try #require(lines.count == 2, "child said: \(out ?? "nothing")")
            let allowed = lines[0].split(separator: "\t").last.map(String.init)
            if let wantCPUs { #expect(allowed == wantCPUs, "\(text): \(lines[0])") }
            let policy = lines[1].split(separator: " ").dropFirst().first.map(String.init)
            #expect(policy == wantPolicy, "\(text): \(lines[1])")
        }
    }

    // MARK: Pages

    @Test func numaNodeOfPageSeesFirstTouch() throws {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard let p = mmap(nil, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), p != MAP_FAILED else {
            Issue.record("mmap failed")
            return
        }
        defer { munmap(p, 2 * page) }
        #expect(try Numa.nodeOfPage(p) == nil, "an untouched page has no node yet")
        let node = try Placement(kind: .cpus([try Numa.affinity()[0]])).withApplied { () -> Int in
            p.storeBytes(of: 1 as UInt8, as: UInt8.self)
            return Numa.currentNode()
        }
        #expect(try Numa.nodeOfPage(p + 100) == node)
        // mbind the second page to this node, then touch it.
        try Numa.setMemoryPolicy(.preferred(node), for: UnsafeMutableRawBufferPointer(start: p + page, count: page))
        (p + page).storeBytes(of: 2 as UInt8, as: UInt8.self)
        #expect(try Numa.nodeOfPage(p + page) == node)
        #expect(throws: SystemError.self) {
            try Numa.setMemoryPolicy(.bind([Numa.maxNode + 1]), for: UnsafeMutableRawBufferPointer(start: p, count: page))
        }
    }

    /// A task's inbox: the creator reserves (fallocate) and maps it, so its
    /// pages exist before any peer writes and sit on the creator's node.
    @Test func numaSharedSegmentPagesLiveOnTheCreatorsNode() throws {
        for node in Numa.onlineNodes() {
            let cpus = Set(try Numa.cpus(ofNode: node)).intersection(try Numa.affinity())
            guard let cpu = cpus.min() else { continue }
            let size = 1 << 20
            let found = try Placement(kind: .cpus([cpu])).withApplied { () -> [Int?] in
                guard let segment = try? SharedSegment(name: "numa-test", size: size) else { return [] }
                return [0, size / 2, size - 1].map { try? Numa.nodeOfPage(segment.base + $0) }
            }
            #expect(found == [node, node, node], "pages of a segment made on CPU \(cpu) (node \(node))")
        }
    }

    @Test(.enabled(if: NumaTests.multiNode, NumaTests.oneNodeReason))
    func numaEachNodeGetsItsOwnPagesAndCPUs() throws {
        for node in Numa.onlineNodes() {
            guard let cpus = try? Numa.cpus(ofNode: node), !cpus.isEmpty else { continue }
            let result = try Placement(parsing: "node:\(node)").withApplied { () -> (Int, Int?) in
                let page = Int(sysconf(Int32(_SC_PAGESIZE)))
                guard let p = mmap(nil, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), p != MAP_FAILED else { return (-1, nil) }
                defer { munmap(p, page) }
                p.storeBytes(of: 1 as UInt8, as: UInt8.self)
                return (Numa.currentNode(), try? Numa.nodeOfPage(p))
            }
            #expect(result.0 == node)
            #expect(result.1 == node)
        }
    }

    // MARK: Helpers

    /// Runs `path` (with only PATH in its environment) and returns its
    /// output, or nil if it cannot run.
    func run(_ path: String, _ arguments: [String]) -> String? {
        guard access(path, X_OK) == 0 else { return nil }
        return try? TestProducts.run(path: path, arguments, environment: ["PATH": "/usr/bin:/bin"]).output
    }

    func statusField(_ name: String, path: String) -> String? {
        guard let f = fopen(path, "r") else { return nil }
        defer { fclose(f) }
        var line: UnsafeMutablePointer<CChar>? = nil
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, f) > 0 {
            let text = String(cString: line!)
            if text.hasPrefix(name + ":") {
                return text.dropFirst(name.count + 1).trimmingCharacters(in: " \t\n")
            }
        }
        return nil
    }

    /// Runs `body` on a new thread and returns its result.
    func onNewThread<R>(_ body: @escaping () -> R) throws -> R {
        var result: R? = nil
        let box = ThreadBox { result = body() }
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            Unmanaged<ThreadBox>.fromOpaque(raw!).takeUnretainedValue().run()
            return nil
        }, Unmanaged.passUnretained(box).toOpaque())
        try #require(rc == 0)
        pthread_join(thread, nil)
        return result!
    }
}

final class ThreadBox: @unchecked Sendable {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}

private extension Substring {
    func trimmingCharacters(in set: String) -> String {
        var s = self
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
