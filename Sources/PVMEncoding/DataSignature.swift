/// A host's data format with PVM 3.4's meaning: for short, int and long the
/// size and byte order, for float and double the format and byte order.
///
/// Bit layout of the 32-bit value (the `hi_dsig` of `pvm_config`):
///
///     bits  0- 2 short log2(size)   3- 4 short order
///     bits  5- 7 int   log2(size)   8- 9 int   order
///     bits 10-12 long  log2(size)  13-14 long  order
///     bits 15-18 float format      19-20 float order
///     bits 21-24 double format     25-26 double order      27-31 zero
///
/// Orders: 0 little-endian, 1 little-endian with 4-byte halves swapped,
/// 2 big-endian with halves swapped, 3 big-endian. Formats: 1 IEEE single,
/// 2 IEEE double (4 Cray, 5 and 6 Convex exist in PVM; this runtime converts
/// IEEE only and refuses the others with a clear error).
public struct DataSignature: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public enum ByteOrder: UInt32, Sendable {
        case little = 0, littleHalvesSwapped = 1, bigHalvesSwapped = 2, big = 3
    }

    /// One integer or floating-point field of a signature.
    public struct Field: Equatable, Sendable {
        /// Bytes per item (short/int/long), or the format index (float/double).
        public var sizeOrFormat: Int
        public var order: ByteOrder

        public init(sizeOrFormat: Int, order: ByteOrder) {
            self.sizeOrFormat = sizeOrFormat
            self.order = order
        }
    }

    public var short: Field { integer(at: 0) }
    public var int: Field { integer(at: 5) }
    public var long: Field { integer(at: 10) }
    public var float: Field { Field(sizeOrFormat: Int((rawValue >> 15) & 0xF), order: ByteOrder(rawValue: (rawValue >> 19) & 3)!) }
    public var double: Field { Field(sizeOrFormat: Int((rawValue >> 21) & 0xF), order: ByteOrder(rawValue: (rawValue >> 25) & 3)!) }

    private func integer(at shift: UInt32) -> Field {
        Field(sizeOrFormat: 1 << Int((rawValue >> shift) & 7), order: ByteOrder(rawValue: (rawValue >> (shift + 3)) & 3)!)
    }

    /// Builds a signature from its fields.
    public init(short: (Int, ByteOrder), int: (Int, ByteOrder), long: (Int, ByteOrder),
                float: (format: Int, ByteOrder), double: (format: Int, ByteOrder)) {
        func log2(_ n: Int) -> UInt32 { UInt32(n.trailingZeroBitCount) }
        var v: UInt32 = 0
        v |= log2(short.0) | short.1.rawValue << 3
        v |= log2(int.0) << 5 | int.1.rawValue << 8
        v |= log2(long.0) << 10 | long.1.rawValue << 13
        v |= UInt32(float.format) << 15 | float.1.rawValue << 19
        v |= UInt32(double.format) << 21 | double.1.rawValue << 25
        rawValue = v
    }

    /// Checks that this runtime can convert data of this signature: integer
    /// sizes of 2, 4 or 8 bytes, IEEE floats, nothing in the unused bits.
    public func validated() throws(PVMError) -> DataSignature {
        guard rawValue >> 27 == 0 else {
            throw PVMError(.badMsg, "data signature 0x\(hex) has bits set above bit 26")
        }
        for (name, f) in [("short", short), ("int", int), ("long", long)] where ![2, 4, 8].contains(f.sizeOrFormat) {
            throw PVMError(.badMsg, "data signature 0x\(hex): \(name) of \(f.sizeOrFormat) bytes is not supported")
        }
        guard float.sizeOrFormat == 1, double.sizeOrFormat == 2 else {
            throw PVMError(.badMsg, "data signature 0x\(hex): float format \(float.sizeOrFormat), double format \(double.sizeOrFormat); only IEEE 754 (1, 2) is converted")
        }
        return self
    }

    var hex: String {
        let s = String(rawValue, radix: 16)
        return String(repeating: "0", count: max(0, 8 - s.count)) + s
    }

    public var description: String { "0x\(hex)" }

    /// This host's signature. Every message reads it (the short frame, the
    /// unpack's conversion test), so it is a constant: a lazily computed
    /// global costs a `swift_once` call per read. The constant is the one
    /// `byteImageSignature` computes on every little-endian 64-bit Linux
    /// target (a test checks that they agree); other targets take the
    /// computed value.
    @inlinable public static var native: DataSignature { DataSignature(rawValue: nativeRawValue) }

    #if _endian(little) && _pointerBitWidth(_64)
    @usableFromInline static let nativeRawValue: UInt32 = 0x0040_8C41
    #else
    @usableFromInline static let nativeRawValue: UInt32 = byteImageSignature.rawValue
    #endif

    /// This host's signature computed from byte images of values, as PVM
    /// does (not assumed from the compile target).
    public static let byteImageSignature: DataSignature = {
        func order<T: FixedWidthInteger>(_ type: T.Type) -> ByteOrder {
            // Counting pattern: byte k of significance holds k + 1.
            var value: T = 0
            for k in 0..<MemoryLayout<T>.size { value |= T(truncatingIfNeeded: k + 1) << (8 * k) }
            let bytes = withUnsafeBytes(of: value) { Array($0) }
            let n = bytes.count
            if bytes == (0..<n).map({ UInt8($0 + 1) }) { return .little }
            if bytes == (0..<n).map({ UInt8(n - $0) }) { return .big }
            if n == 8 && bytes == [5, 6, 7, 8, 1, 2, 3, 4] { return .littleHalvesSwapped }
            return .bigHalvesSwapped
        }
        func floatOrder(_ bytes: [UInt8], ieeeLittle: [UInt8]) -> ByteOrder {
            if bytes == ieeeLittle { return .little }
            if bytes == ieeeLittle.reversed() { return .big }
            return bytes.count == 8 && Array(bytes[4...] + bytes[..<4]) == ieeeLittle ? .littleHalvesSwapped : .bigHalvesSwapped
        }
        let f = withUnsafeBytes(of: Float(1.0)) { Array($0) }
        let d = withUnsafeBytes(of: Double(1.0)) { Array($0) }
        return DataSignature(
            short: (MemoryLayout<Int16>.size, order(Int16.self)),
            int: (MemoryLayout<Int32>.size, order(Int32.self)),
            long: (MemoryLayout<Int>.size, order(Int.self)),
            float: (1, floatOrder(f, ieeeLittle: [0, 0, 0x80, 0x3f])),
            double: (2, floatOrder(d, ieeeLittle: [0, 0, 0, 0, 0, 0, 0xf0, 0x3f])))
    }()

    /// True when data in this signature needs no conversion on this host.
    public var isNative: Bool { self == .native }
}

/// PVM architecture names and their data signatures.
public struct Architecture: Hashable, Sendable {
    public let name: String
    public let signature: DataSignature
    public let platform: String

    static let le44 = DataSignature(rawValue: 0x0040_8841)
    static let le48 = DataSignature(rawValue: 0x0040_8C41)
    static let be44 = DataSignature(rawValue: 0x0658_EB59)
    static let be48 = DataSignature(rawValue: 0x0658_EF59)

    /// Architectures under PVM's names (PVM_ARCH). The 64-bit big-endian
    /// Linux names and LINUXAARCH64 are this runtime's own: PVM 3.4.6 has no
    /// name for those platforms.
    public static let known: [Architecture] = [
        Architecture(name: "LINUX", signature: le44, platform: "x86 (32-bit) Linux"),
        Architecture(name: "LINUX64", signature: le48, platform: "x86-64 / IA-64 Linux"),
        Architecture(name: "LINUXAARCH64", signature: le48, platform: "ARM 64-bit (aarch64) Linux"),
        Architecture(name: "ALPHA", signature: le48, platform: "DEC Alpha OSF/1"),
        Architecture(name: "LINUXALPHA", signature: le48, platform: "DEC Alpha Linux"),
        Architecture(name: "X86SOL2", signature: le44, platform: "x86 Solaris"),
        Architecture(name: "SUN4", signature: be44, platform: "SPARC SunOS 4"),
        Architecture(name: "SUN4SOL2", signature: be44, platform: "SPARC Solaris 2 (32-bit)"),
        Architecture(name: "LINUXSPARC", signature: be44, platform: "SPARC Linux (32-bit)"),
        Architecture(name: "LINUXSPARC64", signature: be48, platform: "SPARC64 Linux"),
        Architecture(name: "SUNSOL2SPARC64", signature: be48, platform: "SPARC64 Solaris (64-bit)"),
        Architecture(name: "RS6K", signature: be44, platform: "IBM POWER AIX 3.x"),
        Architecture(name: "AIX46K", signature: be44, platform: "IBM POWER AIX 4.x"),
        Architecture(name: "AIX4MP", signature: be44, platform: "IBM POWER AIX 4.x SMP"),
        Architecture(name: "AIX5PPC64", signature: be48, platform: "IBM POWER AIX 5 (64-bit)"),
        Architecture(name: "LINUXPPC", signature: be44, platform: "PowerPC Linux (32-bit)"),
        Architecture(name: "LINUXPPC64", signature: be48, platform: "PowerPC 64 Linux (big-endian)"),
        Architecture(name: "HPPA", signature: be44, platform: "PA-RISC HP-UX"),
        Architecture(name: "SGI5", signature: be44, platform: "SGI IRIX 5"),
        Architecture(name: "SGI64", signature: be48, platform: "SGI IRIX 64-bit"),
    ]

    public static func named(_ name: String) -> Architecture? { known.first { $0.name == name } }

    /// This host's PVM_ARCH name.
    public static var host: Architecture {
        #if arch(x86_64)
        return named("LINUX64")!
        #elseif arch(arm64)
        return named("LINUXAARCH64")!
        #elseif arch(i386)
        return named("LINUX")!
        #else
        return Architecture(name: "LINUXUNKNOWN", signature: .native, platform: "unknown")
        #endif
    }
}
