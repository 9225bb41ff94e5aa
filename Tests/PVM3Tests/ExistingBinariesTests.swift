import Foundation
import XCTest

/// Binary compatibility with real PVM 3.4 programs: Debian's `pvm-examples`
/// binaries (built against Debian's libpvm3.so.3, C and Fortran with
/// libfpvm3.a linked in), run unchanged with our library first on
/// LD_LIBRARY_PATH. The original library does not start a daemon on
/// demand, so a run that enrolls at all is running on ours.
final class CLibraryExistingBinariesTests: CLibraryTestCase {
    /// Where pvm-examples installs its programs.
    static let examples = "/usr/bin"

    func example(_ name: String) throws -> URL {
        guard library == .ours else { throw XCTSkip("these binaries are the original's own: the check is that they run on ours") }
        let path = "\(Self.examples)/\(name)"
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw XCTSkip("\(path) is missing (Debian package pvm-examples; Tests/install-deps.sh installs it)")
        }
        return URL(fileURLWithPath: path)
    }

    /// Runs an example with its workers found on PVM_PATH.
    func runExample(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> CLibraryHarness.Run {
        let run = try harness.run(try example(name), timeout: 30,
                                  environment: ["PVM_PATH": "\(Self.examples):\(harness.bin.path)"])
        XCTAssertFalse(run.timedOut, "\(name) timed out\n\(run)\n--- daemon log ---\n\(harness.daemonLog)", file: file, line: line)
        XCTAssertEqual(run.status, 0, "\(name): \(run)", file: file, line: line)
        return run
    }

    /// `hello` spawns `hello_other`, which sends back a greeting with its host name.
    func testCLibraryRunsDebiansHello() throws {
        let run = try runExample("hello.pvm")
        let lines = run.lines
        XCTAssertEqual(lines.count, 2, "\(run)")
        XCTAssertTrue(lines.first?.hasPrefix("i'm t4") == true, "\(run)")
        XCTAssertTrue(lines.last?.contains(": hello, world from ") == true, "\(run)")
    }

    /// `master1` spawns three `slave1` workers, scatters data, gathers their results.
    func testCLibraryRunsDebiansMasterAndSlaves() throws {
        let run = try runExample("master1")
        XCTAssertEqual(run.lines.first, "Spawning 3 worker tasks ... SUCCESSFUL", "\(run)")
        let results = run.lines.filter { $0.hasPrefix("I got ") }.sorted()
        XCTAssertEqual(results, [
            "I got 100.000000 from 1; (expecting 100.000000)",
            "I got 200.000000 from 0; (expecting 200.000000)",
            "I got 300.000000 from 2; (expecting 300.000000)",
        ], "\(run)")
    }

    /// The Fortran master and workers (Debian's libfpvm3.a inside the binaries).
    func testCLibraryRunsDebiansFortranMasterAndSlaves() throws {
        let run = try runExample("fmaster1")
        let text = run.lines.map { $0.trimmingCharacters(in: .whitespaces) }
        XCTAssertTrue(text.contains("SUCCESSFUL"), "\(run)")
        let results = text.filter { $0.hasPrefix("I got") }.map { $0.split(separator: " ").joined(separator: " ") }.sorted()
        XCTAssertEqual(results, [
            "I got 100.0000000 from 1 (expected 100.0000000 )",
            "I got 200.0000000 from 0 (expected 200.0000000 )",
            "I got 300.0000000 from 2 (expected 300.0000000 )",
        ], "\(run)")
    }
}
