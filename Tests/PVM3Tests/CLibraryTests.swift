import Foundation
import XCTest

/// The C library driven from C: programs in Tests/PVM3Tests/C compiled
/// against our pvm3.h and libpvm3.so.3, run on a private virtual machine.
/// Expected outputs were confirmed against the original PVM 3.4.6 (Debian's
/// libpvm3 and pvmd) by running this suite with PVM_TEST_ORIGINAL=1.
final class CLibraryTests: CLibraryTestCase {
    /// A program links, enrolls (starting the daemon) and leaves.
    /// Confirmed against the original.
    func testCLibraryEnroll() throws {
        let run = try buildAndRun("enroll")
        assertOutput(run, ["pvm_mytid() > 0: yes", "pvm_exit() = 0"])
    }
}

/// The driver itself: a compiler error fails the test with the compiler's
/// own message.
final class CLibraryHarnessTests: CLibraryTestCase {
    func testCLibraryBuildErrorCarriesCompilerMessage() throws {
        let source = harness.root.appendingPathComponent("broken.c")
        try "int main(void) { return missing_symbol_xyz; }\n".write(to: source, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try harness.compile(tool: "cc", flags: [], sources: [source.path], output: "broken")) { error in
            let text = String(describing: error)
            XCTAssertTrue(text.contains("missing_symbol_xyz"), text)
            XCTAssertTrue(text.contains("build failed"), text)
        }
    }
}
