#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import PVMTransport

/// The tune file: its parser (pure), where it is looked for, how it is
/// read, and how its values meet the environment and the defaults.
@Suite struct TuneFileTests {
    static let path = "/etc/example/tune.conf"

    static func parse(_ text: String) -> TuneFile { TuneFile(parsing: text, path: path) }

    /// An environment made of a dictionary.
    static func env(_ values: [String: String]) -> (String) -> String? { { values[$0] } }

    @Test func aGoodFileGivesEveryKey() {
        let file = Self.parse("""
            # written by pvmbench tune
            PVM_SHM_RING = 512K
            PVM_SHM_EAGER = 32000   # a trailing comment
            \tPVM_SHM_LARGE\t=\tpipelined\t
            PVM_SHM_SINGLE_COPY_MAX=1M
            PVM_SHM_PIECE = 32K\r
            PVM_SHM_SPIN_NS = 12000

              # an indented comment, and blank lines

            PVM_SHM_HEAP = 16M
            PVM_SHM_MAX_PEERS = 64
            """)
        #expect(file.warnings == [])
        var expected = ShmSettings()
        expected.ringCapacity = 512 << 10
        expected.eagerLimit = 32000
        expected.largeMode = .pipelined
        expected.singleCopyLimit = 1 << 20
        expected.pipelinePiece = 32 << 10
        expected.spinNanoseconds = 12000
        expected.heapSize = 16 << 20
        expected.maxPeers = 64
        #expect(file.settings == expected)
        #expect(file.lines[.ring] == 2 && file.lines[.eager] == 3 && file.lines[.maxPeers] == 12)
        // Every key of the vocabulary has a line here.
        #expect(ShmSettingKey.allCases.allSatisfy { file.settings.has($0) })
    }

    @Test func emptyAndCommentOnlyFilesAreQuiet() {
        for text in ["", "\n\n", "# nothing\n   # at all\n", "\r\n"] {
            let file = Self.parse(text)
            #expect(file.warnings == [] && file.settings == ShmSettings(), "\(text.debugDescription)")
        }
    }

    /// Every kind of bad line: one warning each, naming the file and the
    /// line, and the good lines around them still apply.
    @Test func malformedLinesWarnAndTheRestApplies() {
        let lines = [
            "PVM_SHM_EAGER = 4096",             // 1 good
            "just some words",                  // 2 no '='
            "= 5",                              // 3 no key
            "PVM_SHM_EAGR = 4096",              // 4 unknown key
            "PVM_SHM_PIECE =",                  // 5 no value
            "PVM_SHM_SINGLE_COPY_MAX = 64Q",    // 6 not a size
            "PVM_SHM_SPIN_NS = 5us",            // 7 not a number
            "PVM_SHM_RING = 3000",              // 8 not a power of two
            "PVM_SHM_RING = 2G",                // 9 out of range
            "PVM_SHM_LARGE = sometimes",        // 10 not a mode
            "PVM_SHM_SPIN_NS = 5000000000",     // 11 out of range
            "PVM_SHM_HEAP = 4K",                // 12 out of range
            "PVM_SHM_MAX_PEERS = 0",            // 13 out of range
            "PVM_SHM_PIECE = 512",              // 14 out of range
            "PVM_SHM_EAGER = -1",               // 15 not a size
            "PVM_SHM_SINGLE_COPY_MAX = 99999999999999999999", // 16 overflows
            "PVM_SHM_EAGER = 2048",             // 17 good, repeated: wins with a warning
            "PVM_SHM_SPIN_NS = 7000",           // 18 good
            "pvm_shm_eager = 1",                // 19 keys are case-sensitive
        ]
        let file = Self.parse(lines.joined(separator: "\n"))
        #expect(file.warnings.map(\.line) == Array(2...17) + [19])
        #expect(file.warnings.allSatisfy { $0.path == Self.path && !$0.description.contains("\n") })
        #expect(file.warnings.allSatisfy { $0.description.hasPrefix("\(Self.path):\($0.line): ") })
        #expect(file.settings.eagerLimit == 2048)
        #expect(file.settings.spinNanoseconds == 7000)
        #expect(file.settings.ringCapacity == nil && file.settings.largeMode == nil && file.settings.pipelinePiece == nil)
        #expect(file.settings.singleCopyLimit == nil && file.settings.heapSize == nil && file.settings.maxPeers == nil)
        let text = file.warnings.map(\.message)
        #expect(text[0].contains("expected KEY = value"))
        #expect(text[2].contains("unknown key 'PVM_SHM_EAGR'"))
        #expect(text[3].contains("PVM_SHM_PIECE has no value"))
        #expect(text[4].contains("not a size"))
        #expect(text[5].contains("not a whole number"))
        #expect(text[6].contains("out of range (a power of two from 4K to 1G)"))
        #expect(text[8].contains("automatic or pipelined"))
        #expect(text[15].contains("given again (also on line 1); this line wins"))
    }

    @Test func warningsStayOnOneShortLine() throws {
        let file = Self.parse("PVM_SHM_EAGER = \u{1B}[2J" + String(repeating: "x", count: 500))
        let warning = try #require(file.warnings.first)
        #expect(!warning.description.contains("\u{1B}"))
        #expect(warning.description.count < 200)
    }

    @Test func precedenceIsEnvironmentThenFileThenDefault() {
        let defaults = ShmConfiguration()
        let file = Self.parse("PVM_SHM_EAGER = 1000\nPVM_SHM_SPIN_NS = 7000\nPVM_SHM_PIECE = 16K\n")
        // Default only.
        #expect(ShmConfiguration.resolved(environment: Self.env([:]), file: nil).configuration == defaults)
        // The file over the default.
        let (fromFile, quiet) = ShmConfiguration.resolved(environment: Self.env([:]), file: file)
        #expect(quiet == [])
        #expect(fromFile.eagerLimit == 1000 && fromFile.spinNanoseconds == 7000 && fromFile.pipelinePiece == 16 << 10)
        #expect(fromFile.singleCopyLimit == defaults.singleCopyLimit && fromFile.ringCapacity == defaults.ringCapacity)
        // The environment over the file.
        let (both, _) = ShmConfiguration.resolved(environment: Self.env(["PVM_SHM_EAGER": "2K", "PVM_SHM_SINGLE_COPY_MAX": "1M"]), file: file)
        #expect(both.eagerLimit == 2048)
        #expect(both.spinNanoseconds == 7000)
        #expect(both.singleCopyLimit == 1 << 20)
        // A value the environment cannot parse is ignored, as it always was: the file's stands.
        let (garbled, _) = ShmConfiguration.resolved(environment: Self.env(["PVM_SHM_SPIN_NS": "lots"]), file: file)
        #expect(garbled.spinNanoseconds == 7000)
        #expect((try? both.validated()) != nil && (try? fromFile.validated()) != nil)
    }

    @Test func theEagerLimitMeetsTheRing() {
        // The default eager limit follows a smaller ring, from either source.
        let small = Self.parse("PVM_SHM_RING = 64K")
        #expect(ShmConfiguration.resolved(environment: Self.env([:]), file: small).configuration.eagerLimit == (64 << 10) / 4 - 16)
        #expect(ShmConfiguration.resolved(environment: Self.env(["PVM_SHM_RING": "64K"]), file: nil).configuration.eagerLimit == (64 << 10) / 4 - 16)
        // The file's eager limit, too large for the environment's ring: dropped, with a warning on its line.
        let eager = Self.parse("# tuned\nPVM_SHM_EAGER = 65520\n")
        let (c1, w1) = ShmConfiguration.resolved(environment: Self.env(["PVM_SHM_RING": "64K"]), file: eager)
        #expect(c1.eagerLimit == (64 << 10) / 4 - 16)
        #expect(w1.map(\.line) == [2] && w1.first?.message.contains("PVM_SHM_EAGER = 65520 ignored") == true)
        #expect((try? c1.validated()) != nil)
        // The file's ring, too small for the environment's eager limit: the ring goes.
        let (c2, w2) = ShmConfiguration.resolved(environment: Self.env(["PVM_SHM_EAGER": "60000"]), file: small)
        #expect(c2.ringCapacity == ShmConfiguration().ringCapacity && c2.eagerLimit == 60000)
        #expect(w2.map(\.line) == [1])
        #expect((try? c2.validated()) != nil)
        // Both from the file and consistent: taken.
        let (c3, w3) = ShmConfiguration.resolved(environment: Self.env([:]), file: Self.parse("PVM_SHM_RING = 1M\nPVM_SHM_EAGER = 200000"))
        #expect(c3.ringCapacity == 1 << 20 && c3.eagerLimit == 200000 && w3 == [])
        // An explicit environment value is still taken as given, and validated() refuses it loudly.
        let (c4, _) = ShmConfiguration.resolved(environment: Self.env(["PVM_SHM_RING": "64K", "PVM_SHM_EAGER": "65520"]), file: nil)
        #expect((try? c4.validated()) == nil)
    }

    /// Whatever a file says (every key at its extremes), the configuration validates.
    @Test func noFileMakesTheConfigurationInvalid() {
        let extremes: [ShmSettingKey: [String]] = [
            .ring: ["4K", "1G"], .eager: ["0", "268435440"], .large: ["automatic", "pipelined"],
            .singleCopyMax: ["0", "1G"], .piece: ["1K", "1G"], .spin: ["0", "1000000000"],
            .heap: ["64K", "1024G"], .maxPeers: ["1", "65536"],
        ]
        for ring in extremes[.ring]! {
            for eager in extremes[.eager]! {
                for index in 0..<2 {
                    var text = "PVM_SHM_RING = \(ring)\nPVM_SHM_EAGER = \(eager)\n"
                    for key in ShmSettingKey.allCases where key != .ring && key != .eager { text += "\(key.rawValue) = \(extremes[key]![index])\n" }
                    let file = Self.parse(text)
                    #expect(file.warnings == [], "\(text)")
                    let (c, _) = ShmConfiguration.resolved(environment: Self.env([:]), file: file)
                    #expect((try? c.validated()) != nil, "\(text)")
                }
            }
        }
    }

    @Test func renderReadsBack() {
        var settings = ShmSettings()
        settings.eagerLimit = 65520
        settings.singleCopyLimit = 256 << 10
        settings.pipelinePiece = 1 << 30
        settings.spinNanoseconds = 41000
        settings.largeMode = .automatic
        let text = TuneFile.render(settings, header: ["pvmbench tune, 2 CPUs", ""], comments: [.eager: "inline wins\nat every size"])
        #expect(text.contains("PVM_SHM_SINGLE_COPY_MAX = 256K\n") && text.contains("PVM_SHM_PIECE = 1G\n") && text.contains("PVM_SHM_EAGER = 65520\n"))
        #expect(text.hasPrefix("# pvmbench tune, 2 CPUs\n#\n"))
        let back = Self.parse(text)
        #expect(back.warnings == [] && back.settings == settings)
        #expect([0, 1, 1023, 1024, 65520, 1 << 20, 3 << 30, (1 << 20) + 1].allSatisfy { parseSize(formatSize($0)) == $0 })
    }

    @Test func whereTheFileIs() {
        #expect(TuneFile.defaultPath(environment: Self.env(["PVM_TUNE_FILE": "/x/t.conf", "HOME": "/home/u"])) == "/x/t.conf")
        #expect(TuneFile.defaultPath(environment: Self.env(["PVM_TUNE_FILE": "", "HOME": "/home/u"])) == nil)
        #expect(TuneFile.defaultPath(environment: Self.env(["XDG_CONFIG_HOME": "/cfg", "HOME": "/home/u"])) == "/cfg/pvm/tune.conf")
        #expect(TuneFile.defaultPath(environment: Self.env(["XDG_CONFIG_HOME": "relative", "HOME": "/home/u/"])) == "/home/u/.config/pvm/tune.conf")
        #expect(TuneFile.defaultPath(environment: Self.env(["HOME": "/home/u"])) == "/home/u/.config/pvm/tune.conf")
        #expect(TuneFile.defaultPath(environment: Self.env([:])) == nil)
    }

    @Test func loadingReadsRealFilesAndRefusesOddOnes() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tune-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Missing: silent.
        #expect(TuneFile.load(path: dir + "/missing.conf") == nil)
        #expect(TuneFile.load(path: dir + "/missing/below.conf") == nil)
        // A real file.
        try "PVM_SHM_EAGER = 1K\nnonsense\n".write(toFile: dir + "/t.conf", atomically: true, encoding: .utf8)
        let file = try #require(TuneFile.load(path: dir + "/t.conf"))
        #expect(file.settings.eagerLimit == 1024 && file.warnings.map(\.line) == [2] && file.path == dir + "/t.conf")
        // A folder, a FIFO (must not block), a huge file, an unreadable one: one warning, no settings.
        mkfifo(dir + "/fifo", 0o600)
        let huge = String(repeating: "# padding\n", count: TuneFile.maximumSize / 10 + 1) + "PVM_SHM_EAGER = 1K\n"
        try huge.write(toFile: dir + "/huge.conf", atomically: true, encoding: .utf8)
        for odd in [dir, dir + "/fifo", dir + "/huge.conf"] {
            let f = try #require(TuneFile.load(path: odd))
            #expect(f.settings == ShmSettings() && f.warnings.count == 1 && f.warnings[0].line == 0, "\(odd): \(f.warnings)")
        }
        // Binary garbage is just lines that do not parse.
        try Data([0xFF, 0xFE, 0x00, 0x3D, 0x0A, 0x50]).write(to: URL(fileURLWithPath: dir + "/bin.conf"))
        let garbage = try #require(TuneFile.load(path: dir + "/bin.conf"))
        #expect(garbage.settings == ShmSettings() && garbage.warnings.count == 2)
    }

    @Test func crossMemoryAttachProbe() {
        // Reading oneself works wherever the system call does; a bad address is refused.
        let me = CrossMemoryAttach.probeSelf()
        #expect(me == .readable || me == .refused(ENOSYS) || me == .refused(EPERM))
        #expect(CrossMemoryAttach.probe(pid: getpid(), address: 8, value: 1) != .readable)
        #expect(CrossMemoryAttach.probe(pid: getpid(), address: 0, value: 1) == .refused(EFAULT))
    }
}
