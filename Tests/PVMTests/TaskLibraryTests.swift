import Foundation
import PVM
import PVMTestSupport
import XCTest

/// The task library against a real daemon and real spawned processes.
final class TaskLibraryTests: XCTestCase {
    var fixture: VirtualMachineFixture!
    var vm: VirtualMachine!

    override func setUpWithError() throws {
        fixture = VirtualMachineFixture()
        vm = try VirtualMachine.shared()
    }

    override func tearDown() {
        try? vm?.exit()
        XCTAssertTrue(fixture.halt(), "the daemon did not halt cleanly")
    }

    func testEnrollStartsDaemonOnDemandWithPVMTaskIDs() throws {
        XCTAssertTrue(vm.myTid.isTask)
        XCTAssertEqual(vm.myTid.hostPart, 0x40000)
        XCTAssertEqual(vm.myTid.description.prefix(2), "t4")
        XCTAssertThrowsError(try vm.parent()) { XCTAssertEqual(($0 as? PVMError)?.code, PVMError.Code.noParent.rawValue) }
        XCTAssertEqual(vm.siblings, [vm.myTid])
        let mode = try FileManager.default.attributesOfItem(atPath: fixture.runtimeDirectory)[.posixPermissions] as? Int
        XCTAssertEqual(mode, 0o700)
    }

    func testSpawnHelloReportsParentAndSiblings() throws {
        let kids = try vm.spawn("pvm-test-task", arguments: ["hello", "a", "b"], count: 3)
        XCTAssertEqual(kids.count, 3)
        var heard: Set<TaskID> = []
        for _ in 0..<3 {
            let m = try vm.receive(from: .any, tag: 1)
            let tid: Int32 = try m.unpack()
            let parent: Int32 = try m.unpack()
            let n: Int = try m.unpack()
            let sibs = try m.unpack(Int32.self, count: n)
            let text = try m.unpackString()
            XCTAssertEqual(TaskID(tid), m.source)
            XCTAssertEqual(parent, vm.myTid.rawValue)
            XCTAssertEqual(sibs.map { TaskID($0) }, kids)
            XCTAssertEqual(text, "a b")
            heard.insert(m.source)
        }
        XCTAssertEqual(heard, Set(kids))
    }
}
