import Foundation
import PVMTestSupport
import XCTest

/// The console's mailbox commands against the built `pvm`: `names`, `put`,
/// `reset info` and what `reset` leaves (the output is the original
/// console's layout).
final class ConsoleGroupMailboxTests: XCTestCase {
    var fixture: VirtualMachineFixture!
    var session: ConsoleSession?

    override func setUp() {
        fixture = VirtualMachineFixture()
    }

    override func tearDown() {
        if let s = session, s.process.isRunning {
            s.closeInput()
            s.finish(timeout: 5)
        }
        XCTAssertTrue(fixture.halt(), "the daemon did not halt cleanly")
    }

    func startConsole() throws -> ConsoleSession {
        let environment = ["PVM_TMP": fixture.base, "PVM_PATH": TestProducts.directory.path,
                           "PVM_DPATH": TestProducts.executable("pvmd").path, "HOME": fixture.base]
        let s = try ConsoleSession(arguments: ["-n", "testhost"], environment: environment)
        session = s
        XCTAssertNotNil(s.wait(for: ConsoleSession.prompt), "no prompt; stderr: \(s.stderr)")
        return s
    }

    func testConsoleGroupMailboxNamesPutAndResetInfo() throws {
        let s = try startConsole()
        let prompt = ConsoleSession.prompt
        // The console itself is in the no-reset class.
        let me = "owner=0x40001/262145"
        XCTAssertEqual(s.command("names"), "<###_PVM_NO_RESET_###>:\n\tindex=0 \(me) flags=0x2\n\n" + prompt)
        XCTAssertEqual(s.command("names zzz"), prompt)
        XCTAssertEqual(s.command("put k 0x2 x"), prompt, "flags are read as atoi does: 0")
        XCTAssertEqual(s.command("put k 2 y"), prompt)
        XCTAssertEqual(s.command("put k 2"), "put: wrong #args\n" + prompt)
        XCTAssertEqual(s.command("names k"), "<k>:\n\tindex=0 \(me) flags=0x0\n\tindex=1 \(me) flags=0x2\n\n" + prompt)
        XCTAssertEqual(s.command("names a b"), "names: wrong #args\n" + prompt)

        // A task that leaves a persistent entry behind: an orphan, owner 0.
        XCTAssertNotNil(s.command("spawn pvm-test-task mbox-put"))
        XCTAssertTrue(VirtualMachineFixture.eventually {
            s.command("names mbox.") == "<mbox.persist>:\n\tindex=0 owner=0x0/0 flags=0x1\n\n" + prompt
        }, s.stdout)
        XCTAssertEqual(s.command("reset info other.class"), prompt)
        XCTAssertEqual(s.command("reset info mbox.persist 3"), prompt)
        XCTAssertEqual(s.command("names mbox."), "<mbox.persist>:\n\tindex=0 owner=0x0/0 flags=0x1\n\n" + prompt)
        XCTAssertEqual(s.command("reset info mbox.persist 0"), prompt)
        XCTAssertEqual(s.command("names mbox."), prompt)
        XCTAssertEqual(s.command("reset info x 1 2"), "reset: wrong #args\n" + prompt)

        // reset keeps what belongs to the tasks that survive it: the console's.
        XCTAssertEqual(s.command("reset"), prompt)
        XCTAssertEqual(s.command("names"), "<###_PVM_NO_RESET_###>:\n\tindex=0 \(me) flags=0x2\n\n"
                       + "<k>:\n\tindex=0 \(me) flags=0x0\n\tindex=1 \(me) flags=0x2\n\n" + prompt)
    }
}
