import PVMEncoding

/// Writes the body of a daemon-protocol frame: little-endian 32-bit
/// integers and length-prefixed UTF-8 strings. Control traffic only (it
/// allocates); message data never goes through it.
public struct ControlWriter {
    public private(set) var bytes: [UInt8] = []
    public init() {}
    /// A body already encoded (passed on as it came).
    public init(raw: [UInt8]) { bytes = raw }

    public mutating func append(_ other: ControlWriter) { bytes.append(contentsOf: other.bytes) }

    public mutating func int(_ v: Int32) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }
    public mutating func int(_ v: Int) { int(Int32(truncatingIfNeeded: v)) }
    public mutating func string(_ s: String) {
        let utf8 = Array(s.utf8)
        int(Int32(utf8.count))
        bytes.append(contentsOf: utf8)
    }
    public mutating func strings(_ list: [String]) {
        int(Int32(list.count))
        for s in list { string(s) }
    }
    public mutating func ints(_ list: [Int32]) {
        int(Int32(list.count))
        for v in list { int(v) }
    }
    public mutating func raw(_ data: [UInt8]) {
        int(Int32(data.count))
        bytes.append(contentsOf: data)
    }
}

/// Reads a control body from untrusted bytes: every length is checked
/// against what is left, so a malformed body is a `PvmBadMsg`, never a crash.
public struct ControlReader {
    private let bytes: [UInt8]
    private var offset = 0
    /// Longest string or list accepted (a guard against absurd lengths).
    public static let maxItems = 1 << 20

    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public init(_ raw: UnsafeRawBufferPointer) { self.bytes = Array(raw) }

    public var remaining: Int { bytes.count - offset }

    public mutating func int() throws(PVMError) -> Int32 {
        guard remaining >= 4 else { throw PVMError(.badMsg, "control body ends inside an integer") }
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(bytes[offset + i]) << (8 * UInt32(i)) }
        offset += 4
        return Int32(bitPattern: v)
    }

    private mutating func count() throws(PVMError) -> Int {
        let n = Int(try int())
        guard n >= 0, n <= Self.maxItems else { throw PVMError(.badMsg, "control body has a length of \(n)") }
        return n
    }

    public mutating func string() throws(PVMError) -> String {
        let n = try count()
        guard remaining >= n else { throw PVMError(.badMsg, "control body ends inside a string") }
        defer { offset += n }
        return String(decoding: bytes[offset..<offset + n], as: UTF8.self)
    }

    public mutating func strings() throws(PVMError) -> [String] {
        let n = try count()
        guard n <= remaining / 4 else { throw PVMError(.badMsg, "control body lists \(n) strings in \(remaining) bytes") }
        var out: [String] = []
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(try string()) }
        return out
    }

    public mutating func ints() throws(PVMError) -> [Int32] {
        let n = try count()
        guard n <= remaining / 4 else { throw PVMError(.badMsg, "control body lists \(n) integers in \(remaining) bytes") }
        var out: [Int32] = []
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(try int()) }
        return out
    }

    /// The bytes not read yet (the reader is left as it was).
    public func rest() -> [UInt8] { Array(bytes[offset...]) }

    public mutating func raw() throws(PVMError) -> [UInt8] {
        let n = try count()
        guard remaining >= n else { throw PVMError(.badMsg, "control body ends inside a byte string") }
        defer { offset += n }
        return Array(bytes[offset..<offset + n])
    }
}
