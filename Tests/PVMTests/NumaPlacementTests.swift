import CSupport
import Foundation
import PVM
import PVMControl
import PVMSystem
import PVMTestSupport
import XCTest

/// NUMA placement of spawned tasks, end to end: a real pvmd started with a
/// hostfile whose `bind=` places this host's tasks, spawns of the test task
/// (mode "placement": it reports its allowed CPUs and memory policy as the
/// kernel shows them in /proc/self), `PVM_BIND` exported by the spawner,
/// and the clear refusals of bad placement text. What a one-node machine
/// cannot show (a task on a second node) is skipped with that reason.
final class NumaPlacementTests: XCTestCase {
    var fixture: VirtualMachineFixture!
    var vm: VirtualMachine?
    let hostName = "numahost"

    override func setUp() {
        fixture = VirtualMachineFixture()
        unsetenv("PVM_BIND")
        unsetenv("PVM_EXPORT")
    }

    override func tearDown() {
        unsetenv("PVM_BIND")
        unsetenv("PVM_EXPORT")
        try? vm?.exit()
        XCTAssertTrue(fixture.halt(), "the daemon did not halt cleanly")
    }

    /// Writes `text` as a hostfile in the fixture's folder.
    func hostfile(_ text: String) throws -> String {
        let path = fixture.base + "/hostfile"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Runs pvmd named `hostName` with these arguments (`--background`: it
    /// returns once listening) and returns its exit status and output.
    func startDaemon(_ arguments: [String]) throws -> (status: Int32, stderr: String) {
        try runProduct("pvmd", ["--background", "-n", hostName] + arguments)
    }

    /// Runs a built product to its end (`TestProducts.runToEnd`); a product
    /// that cannot start skips the test.
    func runProduct(_ name: String, _ arguments: [String]) throws -> (status: Int32, stderr: String) {
        do {
            let r = try TestProducts.runToEnd(name, arguments)
            return (r.status, r.output)
        } catch let failure as TestProducts.StartFailure {
            throw XCTSkip(failure.description)
        }
    }

    /// Spawns one test task in mode "placement" and returns what it reports:
    /// its Cpus_allowed_list and its memory policy ("default", "bind:0"...).
    func spawnPlaced(_ vm: VirtualMachine) throws -> (cpus: String, policy: String) {
        let kids = try vm.spawn("pvm-test-task", arguments: ["placement"], count: 1)
        XCTAssertEqual(kids.count, 1)
        let m = try XCTUnwrap(try vm.receive(from: .any, tag: 1, timeout: .seconds(30)), "the task did not report")
        return (try m.unpackString(), try m.unpackString())
    }

    /// The spawn results (task ids or negative error codes) of one copy.
    func spawnCode(_ vm: VirtualMachine) throws -> Int32 {
        try vm.spawnResults("pvm-test-task", arguments: ["placement"], count: 1)[0]
    }

    /// The kernel's list text ("0-1", "3") as a set of numbers.
    func cpuSet(_ kernelList: String) throws -> Set<Int> {
        guard case .cpus(let list) = try Placement(parsing: "cpus:" + kernelList).kind else { return [] }
        return Set(list)
    }

    // MARK: hostfile bind=

    func testNumaHostfileBindPlacesSpawnedTasksAndPVMBindOverridesIt() throws {
        let mine = try Numa.affinity()
        let cpu = try XCTUnwrap(mine.last)
        let file = try hostfile("# the master's own line places its tasks\n\(hostName) bind=cpus:\(cpu)\n")
        let started = try startDaemon([file])
        XCTAssertEqual(started.status, 0, "pvmd: \(started.stderr)")
        let vm = try VirtualMachine.shared()
        self.vm = vm
        XCTAssertFalse(vm.startedDaemon)

        // bind=cpus:N from the hostfile: the task runs on that CPU only.
        let hosted = try spawnPlaced(vm)
        XCTAssertEqual(try cpuSet(hosted.cpus), [cpu], "task said \(hosted)")
        XCTAssertEqual(hosted.policy, "default")

        // The spawner's PVM_BIND, passed by PVM_EXPORT, wins over the host's.
        let node = Numa.onlineNodes()[0]
        let nodeCPUs = Set(try Numa.cpus(ofNode: node)).intersection(mine)
        setenv("PVM_EXPORT", "PVM_BIND", 1)
        setenv("PVM_BIND", "node:\(node)", 1)
        let byNode = try spawnPlaced(vm)
        XCTAssertEqual(try cpuSet(byNode.cpus), nodeCPUs, "task said \(byNode)")
        XCTAssertEqual(byNode.policy, "bind:\(node)", "node placement binds memory too")

        // PVM_BIND=none: no placement at all, whatever the host says.
        setenv("PVM_BIND", "none", 1)
        let free = try spawnPlaced(vm)
        XCTAssertEqual(try cpuSet(free.cpus), Set(mine), "task said \(free)")
        XCTAssertEqual(free.policy, "default")

        // The daemon itself is back where it was after each placed spawn.
        let daemon = try XCTUnwrap(fixture.daemonPID)
        XCTAssertEqual(Set(try Numa.affinity(ofThread: daemon)), Set(mine))
    }

    func testNumaBadPVMBindFailsThatSpawnWithBadParamAndALogLine() throws {
        let vm = try VirtualMachine.shared()
        self.vm = vm
        setenv("PVM_EXPORT", "PVM_BIND", 1)
        setenv("PVM_BIND", "cpus:3-1", 1)
        XCTAssertEqual(try spawnCode(vm), PVMError.Code.badParam.rawValue)
        XCTAssertTrue(VirtualMachineFixture.eventually { self.fixture.log.contains("PVM_BIND: placement \"cpus:3-1\" has the range 3-1, which runs backwards") },
                      "log: \(fixture.log)")

        // Good text, but a CPU this host does not have: refused at spawn.
        let absent = (Numa.onlineCPUs()?.max() ?? 0) + 1
        setenv("PVM_BIND", "cpus:\(absent)", 1)
        XCTAssertEqual(try spawnCode(vm), PVMError.Code.badParam.rawValue)
        XCTAssertTrue(VirtualMachineFixture.eventually { self.fixture.log.contains("CPU \(absent) is not online on this host") },
                      "log: \(fixture.log)")

        // The machine still spawns: good placement, then none.
        setenv("PVM_BIND", "cpus:\(try Numa.affinity()[0])", 1)
        let placed = try spawnPlaced(vm)
        XCTAssertEqual(try cpuSet(placed.cpus), [try Numa.affinity()[0]])
        unsetenv("PVM_BIND")
        XCTAssertEqual(try cpuSet(try spawnPlaced(vm).cpus), Set(try Numa.affinity()))
    }

    func testNumaBadHostfileBindIsRefusedWithItsLineNumber() throws {
        let file = try hostfile("# comment\n* wd=/tmp\n\(hostName) bind=cpus:x\n")
        let r = try startDaemon([file])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("hostfile line 3: \"bind=cpus:x\": placement \"cpus:x\" has \"x\", which is not a CPU number or range"),
                      "stderr: \(r.stderr)")
        XCTAssertNil(fixture.daemonPID, "no daemon may start on a bad hostfile")

        let bad = try startDaemon(["--bind", "core:1"])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("--bind: placement \"core:1\" unknown kind \"core\""), "stderr: \(bad.stderr)")
    }

    func testNumaHostfileBindOptionParsesMergesAndRoundTrips() throws {
        let file = try Hostfile.parse("""
            * bind=node:0
            a
            b bind=cpus:0-3,8
            c bind=none
            """)
        XCTAssertEqual(file.entries.map { $0.options.bind?.description }, ["node:0", "cpus:0-3,8", "none"])
        let spec = file.entries[1].spec
        XCTAssertEqual(spec, "b bind=cpus:0-3,8")
        XCTAssertEqual(try Hostfile.parseHostSpec(spec, defaults: HostOptions()).options.bind, try Placement(parsing: "cpus:0-3,8"))
        XCTAssertThrowsError(try Hostfile.parse("a bind=node:0 bind=node:1")) { error in
            XCTAssertEqual((error as? HostfileError)?.kind, .duplicateOption)
        }
        XCTAssertThrowsError(try Hostfile.parseHostSpec("a bind=", defaults: HostOptions())) { error in
            XCTAssertEqual((error as? HostfileError)?.kind, .emptyValue)
        }
        XCTAssertThrowsError(try Hostfile.parseHostSpec("a bind=node:2000", defaults: HostOptions())) { error in
            XCTAssertEqual((error as? HostfileError)?.pvmError.code, PVMError.Code.badParam.rawValue)
            XCTAssertTrue("\(error)".contains("beyond the largest node number, 1023"), "\(error)")
        }
    }

    // MARK: pvmbench reports where each end ran

    /// The numa object of a pvmbench JSON result file.
    func benchNuma(_ path: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        return try XCTUnwrap(object["numa"] as? [String: Any], "no numa in \(String(decoding: data, as: UTF8.self))")
    }

    func testNumaPvmbenchReportsBothEndsOfAPlacedRun() throws {
        let cpu = try XCTUnwrap(try Numa.affinity().last)
        let out = fixture.base + "/bench.json"

        // --api pvm: the peer task is spawned by the daemon, placed by PVM_BIND.
        setenv("PVM_EXPORT", "PVM_BIND", 1)
        setenv("PVM_BIND", "cpus:\(cpu)", 1)
        let pvm = try runProduct("pvmbench", ["pingpong", "--api", "pvm", "--sizes", "8", "-i", "200", "--format", "json", "-o", out])
        XCTAssertEqual(pvm.status, 0, pvm.stderr)
        let numa = try benchNuma(out)
        XCTAssertEqual(numa["nodes"] as? Int, Numa.nodeCount())
        let peer = try XCTUnwrap(numa["peer"] as? [String: Any], "\(numa)")
        XCTAssertEqual(peer["cpus_allowed"] as? String, "\(cpu)")
        XCTAssertEqual(peer["cpu"] as? Int, cpu)
        XCTAssertEqual(peer["node"] as? Int, Numa.node(ofCPU: cpu))
        XCTAssertEqual(peer["nodes_allowed"] as? [Int], [Numa.node(ofCPU: cpu)!])
        let local = try XCTUnwrap(numa["local"] as? [String: Any])
        XCTAssertEqual(local["cpus_allowed"] as? String, Numa.listText(try Numa.affinity()), "pvmbench itself was not placed")

        // --api transport: pvmbench and its peer process, both started here on one CPU.
        unsetenv("PVM_BIND")
        let transport = try Placement(kind: .cpus([cpu])).withApplied {
            try? runProduct("pvmbench", ["pingpong", "--sizes", "8", "-i", "200", "--format", "json", "-o", out])
        }
        XCTAssertEqual(transport?.status, 0, transport?.stderr ?? "")
        let both = try benchNuma(out)
        for end in ["local", "peer"] {
            let e = try XCTUnwrap(both[end] as? [String: Any], "\(end): \(both)")
            XCTAssertEqual(e["cpu"] as? Int, cpu, end)
            XCTAssertEqual(e["cpus_allowed"] as? String, "\(cpu)", end)
        }
    }

    func testNumaTaskOnASecondNode() throws {
        let nodes = Numa.onlineNodes()
        try XCTSkipIf(nodes.count < 2, "needs a machine with two or more NUMA nodes; this one has \(nodes.count)")
        let vm = try VirtualMachine.shared()
        self.vm = vm
        setenv("PVM_EXPORT", "PVM_BIND", 1)
        for node in nodes {
            let cpus = Set(try Numa.cpus(ofNode: node)).intersection(try Numa.affinity())
            if cpus.isEmpty { continue }
            setenv("PVM_BIND", "node:\(node)", 1)
            let placed = try spawnPlaced(vm)
            XCTAssertEqual(try cpuSet(placed.cpus), cpus)
            XCTAssertEqual(placed.policy, "bind:\(node)")
        }
    }
}
