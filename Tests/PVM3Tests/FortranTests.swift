import Foundation
import XCTest

/// The Fortran interface: programs in Tests/PVM3Tests/Fortran compiled with
/// gfortran and run on a private virtual machine through the C library
/// driver (CLibrary.swift).
///
/// Whose pieces a program is built with:
///   - header: our Sources/CPVM3/fortran/fpvm3.h, or Debian's
///     /usr/include/fpvm3.h (fixed form only);
///   - pvmf* routines: ours (inside libpvm3.so.3), or Debian's static
///     libfpvm3.a linked into the program, which then calls our C entry
///     points (the binary compatibility of Fortran programs built for
///     PVM 3.4).
/// With PVM_TEST_ORIGINAL=1 every program is linked with Debian's libfpvm3.a
/// and libpvm3 and runs on the original pvmd; the expected outputs below
/// were confirmed that way.
final class FortranTests: CLibraryTestCase {
    enum Routines {
        /// Our pvmf* routines, exported by our libpvm3.so.3.
        case ours
        /// Debian's libfpvm3.a, linked statically into the program.
        case debian
    }

    static var sources: URL { CLibraryHarness.packageRoot.appendingPathComponent("Tests/PVM3Tests/Fortran") }
    static var ourInclude: URL { CLibraryHarness.packageRoot.appendingPathComponent("Sources/CPVM3/fortran") }
    static let debianHeader = "/usr/include/fpvm3.h"
    static let debianRoutines = "/usr/lib/x86_64-linux-gnu/libfpvm3.a"

    override func setUpWithError() throws {
        guard Self.which("gfortran") != nil else {
            throw XCTSkip("gfortran is not installed (Tests/install-deps.sh installs it)")
        }
        try super.setUpWithError()
    }

    // MARK: The programs' expected output (confirmed against the original)

    /// fhello.f: a spawned copy of the program sends INTEGER4, REAL8 and
    /// STRING data to its parent.
    static let roundTrip = [
        "enrolled T",
        "parent -23",
        "spawned 1",
        "notify 0",
        "message tag 1 from child T info 0",
        "message bytes 48",
        "INTEGER4 42 -7 2147483647 info 0",
        "REAL8  3.250000000000000E+000 -1.500000000000000E-300 info 0",
        "STRING [hello from fortran] info 0",
        "past the end -5",
        "all values equal T",
        "child exited T",
        "exit 0",
    ]

    /// fmore.f90: the rest of the interface on one task.
    static let oneTask = [
        "enrolled T",
        "pack info 0",
        "pack bad type -2",
        "send to self 0",
        "probe finds it T",
        "nrecv tag 5 from self T",
        "nrecv bytes 56",
        "INTEGER2 -3 0 32767",
        "REAL4   1.50  -0.25",
        "COMPLEX8   2.00  -3.00",
        "COMPLEX16  5.00E-001  1.00E+100",
        "INTEGER8 5 123456789",
        "BYTE1 [PVM!] info 0",
        "unpack bad type -2",
        "INTEGER8 -5 unpacked as 4294967291",
        "psend 0",
        "precv  1.0  2.0  4.0 tag 6 from self T info 0",
        "precv alen 24",
        "trecv timeout 0",
        "setsbuf/getsbuf T",
        "freebuf 0 send buffer now 0",
        "freebuf unknown -16",
        "config nhost 1 narch 1 dtid 262144 speed 1000 info 1 named T",
        "config nhost 1 narch 1 dtid 262144 speed 1000 info 1 named T",
        "mstat own host 0",
        "mstat unknown host -6",
        "hostsync 0 clock set T",
        "tasks ntask 1 self T parent 0 info 1 aout []",
        "tasks ntask 1 self T parent 0 info 1 aout []",
        "tasks of self 1 self T info 1",
        "siblings 1 first is self T",
        "sibling -1 -31",
        "sibling 1 -31",
        "getopt PVMROUTE 2",
        "setopt PVMAUTOERR, old 1",
        "getopt PVMAUTOERR 0",
        "pstat self 0",
        "tidtohost 262144",
        "kill 0 -2",
        "sendsig self 0 0",
        "context 0 new differs T old 0",
        "context restored T",
        "freecontext 0",
        "perror 0",
        "exit 0",
    ]

    /// fgroup.f90: the group routines in a group of one.
    static let groups = [
        "join 0",
        "gsize 1",
        "gettid 0 is self T",
        "getinst self 0",
        "gettid 5 -21",
        "reduce PvmSum 1 5 3 info 0",
        "reduce PvmMax 1 5 3 info 0",
        "reduce PvmMin 1 5 3 info 0",
        "reduce PvmProduct  1.50 -2.00 info 0",
        "reduce user routine 1 5 3 info 0",
        "gather 1 5 3 info 0",
        "scatter 1 5 3 info 0",
        "barrier 0",
        "leave 0",
        "gsize of unknown group -19",
        "exit 0",
    ]

    /// Lines that report how the C library encodes a message (sizes in the
    /// default XDR encoding, pvm_precv's length in bytes, a C long travelling
    /// as 4 bytes) rather than anything the Fortran routines do. They are
    /// checked on their own, by testFortranMessageSizesAsOriginal.
    static let encodingLines: Set<String> = ["message bytes", "nrecv bytes", "precv alen", "INTEGER8 -5 unpacked as"]

    static func isEncodingLine(_ line: String) -> Bool {
        encodingLines.contains { line.hasPrefix($0) }
    }

    // MARK: Tests

    /// (a) A fixed-form program built against our fpvm3.h and linked with
    /// our libpvm3.so.3 only: it spawns a copy of itself, which packs
    /// INTEGER4, REAL8 and STRING data and sends it back.
    func testFortranRoundTripOurHeaderAndRoutines() throws {
        let program = try buildFortran("fhello.f", output: "fhello", header: .ours, routines: .ours)
        let run = try runProgram(program)
        assertOutput(run, expected: Self.roundTrip, skipping: Self.isEncodingLine)
    }

    /// (b) The same program built against Debian's fpvm3.h with Debian's own
    /// pvmf* routines (libfpvm3.a) linked in, running on our libpvm3.so.3:
    /// Fortran programs built for PVM 3.4 work unchanged.
    func testFortranDebianHeaderAndRoutinesOnOurLibrary() throws {
        try requireDebianFortran()
        let program = try buildFortran("fhello.f", output: "fhello-debian", header: .debian, routines: .debian)
        let run = try runProgram(program)
        assertOutput(run, expected: Self.roundTrip, skipping: Self.isEncodingLine)
    }

    /// Free-form source with our fpvm3.h, our routines: every pack type,
    /// psend/precv, the cycling pvmfconfig/pvmftasks, siblings, options,
    /// buffers, contexts, timeouts, error codes.
    func testFortranFreeFormInterface() throws {
        let program = try buildFortran("fmore.f90", output: "fmore", header: .ours, routines: .ours)
        let run = try runProgram(program)
        assertOutput(run, expected: Self.oneTask, skipping: Self.isEncodingLine)
    }

    /// The same free-form program with Debian's routines on our library.
    func testFortranFreeFormDebianRoutinesOnOurLibrary() throws {
        try requireDebianFortran()
        let program = try buildFortran("fmore.f90", output: "fmore-debian", header: .ours, routines: .debian)
        let run = try runProgram(program)
        assertOutput(run, expected: Self.oneTask, skipping: Self.isEncodingLine)
    }

    /// The group routines, with the reduction operators passed by their
    /// Fortran names (EXTERNAL PvmSum ..., which must link) and a reduction
    /// routine written in Fortran. The original's group server is found
    /// through the bin folder (its pvmd searches PVM_PATH for "pvmgs").
    func testFortranGroups() throws {
        guard harness.hasGroupLibrary else { throw XCTSkip("no libgpvm3 to link against") }
        if library == .original {
            let server = "/usr/lib/pvm3/lib/pvmgs"
            guard FileManager.default.isExecutableFile(atPath: server) else {
                throw XCTSkip("the original group server \(server) is not installed")
            }
            try FileManager.default.createSymbolicLink(atPath: harness.bin.appendingPathComponent("pvmgs").path,
                                                       withDestinationPath: server)
        }
        let program = try buildFortran("fgroup.f90", output: "fgroup", header: .ours, routines: .ours, groups: true)
        let run = try runProgram(program)
        assertOutput(run, expected: Self.groups, skipping: { _ in false })
    }

    /// What the Fortran programs observe of the C library's message
    /// encoding. PVM 3.4 (checked with PVM_TEST_ORIGINAL=1) reports XDR
    /// sizes for a default message (shorts and bytes padded to 4, a long as
    /// 4 bytes) and turns a negative C long into its low 32 bits. This
    /// runtime's PvmDataDefault packs the sender's native layout with its
    /// data signature and the receiver converts (see docs/message-frame.md):
    /// lengths are native sizes and a long keeps its 64 bits. Both report
    /// pvm_precv's length in bytes.
    func testFortranMessageSizesAsOriginal() throws {
        let hello = try runProgram(try buildFortran("fhello.f", output: "fhello", header: .ours, routines: .ours))
        let more = try runProgram(try buildFortran("fmore.f90", output: "fmore", header: .ours, routines: .ours))
        let original = (Self.roundTrip + Self.oneTask).filter(Self.isEncodingLine)
        let expected = library == .original ? original
            : ["message bytes 46", "nrecv bytes 58", "INTEGER8 -5 unpacked as -5", "precv alen 24"]
        let got = (hello.lines + more.lines).filter(Self.isEncodingLine)
        XCTAssertEqual(got, expected, "\(hello)\n\(more)")
    }

    /// Our fpvm3.h defines every constant of Debian's, with the same value,
    /// and nothing else; and it compiles as free-form source, which Debian's
    /// does not.
    func testFortranHeaderConstantsAsOriginal() throws {
        guard FileManager.default.fileExists(atPath: Self.debianHeader) else {
            throw XCTSkip("\(Self.debianHeader) is missing (Debian package pvm-dev)")
        }
        let ours = try Self.parameterNames(in: Self.ourInclude.appendingPathComponent("fpvm3.h").path)
        let theirs = try Self.parameterNames(in: Self.debianHeader)
        XCTAssertEqual(Set(ours.map { $0.uppercased() }), Set(theirs.map { $0.uppercased() }))
        XCTAssertEqual(ours.count, Set(ours.map { $0.uppercased() }).count, "a constant is defined twice")

        // A program printing every constant's value, one a line (in the
        // order of Debian's header), compiled against each header.
        var text = "      program consts\n      implicit none\n      include 'fpvm3.h'\n"
        for name in theirs { text += "      print *, \(name)\n" }
        text += "      end\n"
        let source = harness.root.appendingPathComponent("consts.f")
        try text.write(to: source, atomically: true, encoding: .utf8)
        let withOurs = try harness.compile(tool: "gfortran", flags: ["-I", Self.ourInclude.path],
                                           sources: [source.path], output: "consts-ours")
        let withTheirs = try harness.compile(tool: "gfortran", flags: ["-I", "/usr/include"],
                                             sources: [source.path], output: "consts-debian")
        let a = try harness.run(withOurs)
        let b = try harness.run(withTheirs)
        XCTAssertEqual(a.lines.count, theirs.count, a.report)
        XCTAssertEqual(a.lines, b.lines)

        // Free form: statements from column 7 and '!' comments are valid there.
        let free = harness.root.appendingPathComponent("consts.f90")
        try text.replacingOccurrences(of: "      ", with: "").write(to: free, atomically: true, encoding: .utf8)
        let freeProgram = try harness.compile(tool: "gfortran", flags: ["-I", Self.ourInclude.path],
                                              sources: [free.path], output: "consts-free")
        XCTAssertEqual(try harness.run(freeProgram).lines, b.lines)
    }

    // MARK: Building and running

    /// Compiles Tests/PVM3Tests/Fortran/<file> with gfortran. Modern
    /// gfortran rejects PVM's one-routine-for-all-types calls (pvmfpack with
    /// INTEGER, REAL, CHARACTER...) unless argument mismatches are allowed.
    /// With the original library the routines are always Debian's (its
    /// libpvm3 has none).
    func buildFortran(_ file: String, output: String, header: CLibraryHarness.Header,
                      routines: Routines, groups: Bool = false) throws -> URL {
        var flags = ["-g", "-fallow-argument-mismatch"]
        switch header {
        case .ours: flags += ["-I", Self.ourInclude.path]
        case .debian: flags += ["-I", "/usr/include"]
        }
        if routines == .debian || library == .original {
            try requireDebianFortran()
            flags.append(Self.debianRoutines)
        }
        flags += harness.linkFlags(groups: groups)
        return try harness.compile(tool: "gfortran", flags: flags,
                                   sources: [Self.sources.appendingPathComponent(file).path], output: output)
    }

    func runProgram(_ program: URL, file: StaticString = #filePath, line: UInt = #line) throws -> CLibraryHarness.Run {
        let run = try harness.run(program, timeout: 30)
        XCTAssertFalse(run.timedOut, "\(program.lastPathComponent) timed out\n\(run)\n--- daemon log ---\n\(harness.daemonLog)",
                       file: file, line: line)
        return run
    }

    /// Compares the output line by line with `expected`, leaving out the
    /// lines `skipping` selects (from both), and expects exit status 0.
    func assertOutput(_ run: CLibraryHarness.Run, expected: [String], skipping: (String) -> Bool,
                      file: StaticString = #filePath, line: UInt = #line) {
        let got = run.lines.filter { !skipping($0) }
        let want = expected.filter { !skipping($0) }
        if got != want {
            var first = ""
            for i in 0..<max(got.count, want.count) {
                let g = i < got.count ? got[i] : "<none>"
                let x = i < want.count ? want[i] : "<none>"
                if g != x { first = "first difference:\n  expected: \(x)\n  got:      \(g)"; break }
            }
            XCTFail("output differs from the original's (\(library.rawValue) library); \(first)\n\(run)", file: file, line: line)
        }
        XCTAssertEqual(run.status, 0, "exit status\n\(run)", file: file, line: line)
    }

    func requireDebianFortran() throws {
        for path in [Self.debianHeader, Self.debianRoutines] where !FileManager.default.fileExists(atPath: path) {
            throw XCTSkip("\(path) is missing (Debian package pvm-dev): cannot check Fortran binary compatibility")
        }
    }

    /// The names given a value by PARAMETER statements in a Fortran include file.
    static func parameterNames(in path: String) throws -> [String] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var names: [String] = []
        for raw in text.components(separatedBy: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            guard let first = line.first, first != "!", !(raw.first.map { "cC*".contains($0) } ?? false) else { continue }
            guard line.lowercased().hasPrefix("parameter"),
                  let open = line.firstIndex(of: "("), let close = line.lastIndex(of: ")") else { continue }
            for item in line[line.index(after: open)..<close].split(separator: ",") {
                if let name = item.split(separator: "=").first {
                    names.append(name.trimmingCharacters(in: .whitespaces))
                }
            }
        }
        return names
    }

    static func which(_ tool: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}
