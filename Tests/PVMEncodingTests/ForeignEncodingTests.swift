import Testing
import Foundation
import PVMEncoding

/// The known values of Tests/Foreign/foreign.c, as a host with `longBytes`
/// sized longs holds them.
struct KnownValues {
    let longBytes: Int
    let shorts: [Int16] = [0, 1, -1, .min, .max, 12345, -12345]
    let ushorts: [UInt16] = [0, 1, .max, 40000]
    let ints: [Int32] = [0, 1, -1, .min, .max, 0x0102_0304, -123_456_789]
    let uints: [UInt32] = [0, .max, 0x8000_0000, 3_000_000_000]
    var longs: [Int] {
        longBytes == 8 ? [0, 1, -1, .min, .max, 0x0102_0304, -123_456_789]
                       : [0, 1, -1, Int(Int32.min), Int(Int32.max), 0x0102_0304, -123_456_789]
    }
    var ulongs: [UInt] { [0, longBytes == 8 ? .max : UInt(UInt32.max), 1] }
    let floatBits: [UInt32] = [0, 0x8000_0000, 0x3F80_0000, 0xBFC0_0000, 0x7F7F_FFFF, 0x0080_0000, 1, 0x7F80_0000, 0xFF80_0000, 0x7FC1_2345]
    let doubleBits: [UInt64] = [0, 0x8000_0000_0000_0000, 0x3FF0_0000_0000_0000, 0x7FEF_FFFF_FFFF_FFFF, 0x0010_0000_0000_0000, 1,
                                0x7FF0_0000_0000_0000, 0xFFF0_0000_0000_0000, 0x7FF8_0000_1234_5678, 0xC009_21FB_5444_2D18]
}

/// A foreign CPU: Debian cross compiler, qemu-user emulator, PVM architecture.
struct ForeignCPU: CustomStringConvertible, Sendable {
    let compiler: String
    let emulator: String
    let arch: String
    var description: String { arch }

    static let all = [
        ForeignCPU(compiler: "i686-linux-gnu-gcc", emulator: "qemu-i386", arch: "LINUX"),
        ForeignCPU(compiler: "sparc64-linux-gnu-gcc", emulator: "qemu-sparc64", arch: "LINUXSPARC64"),
        ForeignCPU(compiler: "powerpc-linux-gnu-gcc", emulator: "qemu-ppc", arch: "LINUXPPC"),
        ForeignCPU(compiler: "alpha-linux-gnu-gcc", emulator: "qemu-alpha", arch: "LINUXALPHA"),
    ]

    /// The cross C library the emulator loads the program's libraries from
    /// (dynamic linking: qemu-alpha crashes on static glibc binaries).
    var sysroot: String { "/usr/" + compiler.replacingOccurrences(of: "-gcc", with: "") }

    /// Arguments that run `binary` under the emulator.
    func command(_ binary: String, _ args: [String]) -> [String] { ["-L", sysroot, binary] + args }



    static func which(_ tool: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let p = "\(dir)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    var available: Bool { Self.which(compiler) != nil && (Self.which(emulator) != nil || Self.which(emulator + "-static") != nil) }
    var emulatorPath: String? { Self.which(emulator) ?? Self.which(emulator + "-static") }
}

/// Runs a program; returns (status, stdout+stderr).
@discardableResult
func run(_ path: String, _ args: [String]) throws -> (Int32, String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    try p.run()
    let out = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: out, as: UTF8.self))
}

/// Compiles foreign.c once per CPU per test run.
actor ForeignBuilds {
    static let shared = ForeignBuilds()
    private var built: [String: String] = [:]
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pvm-foreign-\(getpid())").path

    init() {
        // The compiled programs go when this test process ends (and any
        // left by a test process that was killed go now).
        let tmp = FileManager.default.temporaryDirectory.path
        for name in (try? FileManager.default.contentsOfDirectory(atPath: tmp)) ?? [] where name.hasPrefix("pvm-foreign-") {
            if let pid = Int32(name.dropFirst("pvm-foreign-".count)), pid != getpid(), kill(pid, 0) != 0 {
                try? FileManager.default.removeItem(atPath: tmp + "/" + name)
            }
        }
        atexit {
            try? FileManager.default.removeItem(atPath: FileManager.default.temporaryDirectory.appendingPathComponent("pvm-foreign-\(getpid())").path)
        }
    }

    func binary(for cpu: ForeignCPU) throws -> String {
        if let b = built[cpu.arch] { return b }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Foreign/foreign.c").path
        let out = "\(dir)/foreign-\(cpu.arch)"
        let (status, log) = try run(ForeignCPU.which(cpu.compiler)!, ["-O2", "-o", out, source])
        guard status == 0 else { throw PVMError(.sysErr, "\(cpu.compiler) failed: \(log)") }
        built[cpu.arch] = out
        return out
    }
}

@Suite(.serialized) struct ForeignEncodingTests {
    static let missing = ForeignCPU.all.filter { !$0.available }.map(\.arch)

    /// The foreign CPU writes its native values; our decoder, told only that
    /// architecture's signature, must read exactly those values.
    @Test(.enabled(if: missing.isEmpty, "cross compilers or qemu-user missing (run Tests/install-deps.sh)"), arguments: ForeignCPU.all)
    func foreignWritesWeDecode(cpu: ForeignCPU) async throws {
        let arch = try #require(Architecture.named(cpu.arch))
        let binary = try await ForeignBuilds.shared.binary(for: cpu)
        let file = "\(ForeignBuilds.shared.dir)/from-\(cpu.arch).bin"
        let (status, log) = try run(cpu.emulatorPath!, cpu.command(binary, ["write", file]))
        #expect(status == 0, "\(log)")
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
        let values = KnownValues(longBytes: ScalarKind.long.size(in: arch.signature))
        let buffer = try bytes.withUnsafeBytes { try MessageBuffer(received: $0, encoding: .default, signature: arch.signature) }
        #expect(try buffer.unpack(Int16.self, count: values.shorts.count) == values.shorts)
        #expect(try buffer.unpack(UInt16.self, count: values.ushorts.count) == values.ushorts)
        #expect(try buffer.unpack(Int32.self, count: values.ints.count) == values.ints)
        #expect(try buffer.unpack(UInt32.self, count: values.uints.count) == values.uints)
        #expect(try buffer.unpack(Int.self, count: values.longs.count) == values.longs)
        #expect(try buffer.unpack(UInt.self, count: values.ulongs.count) == values.ulongs)
        #expect(try buffer.unpack(Float.self, count: values.floatBits.count).map(\.bitPattern) == values.floatBits)
        #expect(try buffer.unpack(Double.self, count: values.doubleBits.count).map(\.bitPattern) == values.doubleBits)
        #expect(buffer.remaining == 0)
    }

    /// Our encoder writes the values for that architecture; the foreign CPU
    /// checks them bit for bit.
    @Test(.enabled(if: missing.isEmpty, "cross compilers or qemu-user missing (run Tests/install-deps.sh)"), arguments: ForeignCPU.all)
    func weEncodeForeignChecks(cpu: ForeignCPU) async throws {
        let arch = try #require(Architecture.named(cpu.arch))
        let binary = try await ForeignBuilds.shared.binary(for: cpu)
        let values = KnownValues(longBytes: ScalarKind.long.size(in: arch.signature))
        var out: [UInt8] = []
        func put<T>(_ items: [T], _ kind: ScalarKind) throws {
            let size = kind.size(in: arch.signature)
            var converted = [UInt8](repeating: 0, count: size * items.count)
            try items.withUnsafeBytes { src in
                try converted.withUnsafeMutableBytes { dst in
                    try Conversion.convert(kind, count: items.count, from: .native, source: src.baseAddress!, to: arch.signature, destination: dst.baseAddress!)
                }
            }
            out += converted
        }
        try put(values.shorts, .short)
        try put(values.ushorts, .ushort)
        try put(values.ints, .int)
        try put(values.uints, .uint)
        try put(values.longs, .long)
        try put(values.ulongs, .ulong)
        try put(values.floatBits.map { Float(bitPattern: $0) }, .float)
        try put(values.doubleBits.map { Double(bitPattern: $0) }, .double)
        let file = "\(ForeignBuilds.shared.dir)/to-\(cpu.arch).bin"
        try Data(out).write(to: URL(fileURLWithPath: file))
        let (status, log) = try run(cpu.emulatorPath!, cpu.command(binary, ["check", file]))
        #expect(status == 0, "\(cpu.arch): \(log)")
        #expect(log.contains("all values match"))
    }
}
