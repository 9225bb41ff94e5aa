#if canImport(Glibc)
import Glibc
#endif
import Histogram
import PVMEncoding
import PVMSystem

/// One row of `pvmbench convert`.
public struct ConvertMeasurement: Codable, Sendable {
    public var type: String
    public var from: String
    public var bytes: Int
    public var iterations: Int
    public var gbytesPerS: Double
    public var nsPerIteration: Double
    /// The time of one iteration (one conversion of `bytes`), as every run
    /// file's `one_way_ns` (its mean is `nsPerIteration`).
    public var oneWayNs: OneWay
    /// Iterations per second.
    public var messagesPerS: Double

    enum CodingKeys: String, CodingKey {
        case type, from, bytes, iterations
        case gbytesPerS = "gbytes_per_s"
        case nsPerIteration = "ns_per_iteration"
        case oneWayNs = "one_way_ns"
        case messagesPerS = "messages_per_s"
    }
}

/// Throughput of unpacking with conversion: `bytes` of each type, packed by
/// a host of each foreign signature, unpacked here (receiver makes right).
/// A memcpy row of the same size is measured in the same run, and rows for
/// this host's own signature (no conversion) and Raw show what like machines
/// pay.
/// A source format of `pvmbench convert`: a PVM architecture by name, or a
/// data signature given as hex (`0x0658eb59`, as `conf` shows them).
public struct ConvertSource: Sendable, Equatable {
    /// How it is named in the results: the architecture's name, or the signature.
    public let name: String
    public let signature: DataSignature

    public init(_ text: String) throws(PVMError) {
        if let arch = Architecture.named(text) {
            self.init(arch)
            return
        }
        let digits = text.dropFirst(2)
        guard text.lowercased().hasPrefix("0x"), !digits.isEmpty, digits.count <= 8, let raw = UInt32(digits, radix: 16) else {
            throw PVMError(.badParam, "unknown source \(text): neither an architecture (\(Architecture.known.map(\.name).joined(separator: ","))) nor a data signature in hex (0x0658eb59)")
        }
        let signature = try DataSignature(rawValue: raw).validated()
        self.init(name: signature.description, signature: signature)
    }

    init(_ arch: Architecture) { self.init(name: arch.name, signature: arch.signature) }

    private init(name: String, signature: DataSignature) {
        self.name = name
        self.signature = signature
    }
}

public func measureConversions(bytes: Int, iterations: Int, types: [String]? = nil, from: [ConvertSource]? = nil) throws -> [ConvertMeasurement] {
    let kinds: [(String, ScalarKind, Int)] = [
        ("short", .short, 1), ("int", .int, 1), ("long", .long, 1), ("float", .float, 1),
        ("double", .double, 1), ("cplx", .float, 2), ("dcplx", .double, 2),
    ].filter { types == nil || types!.contains($0.0) }
    let sources = from ?? ["LINUX64", "LINUX", "SUN4", "LINUXSPARC64"].compactMap(Architecture.named).map(ConvertSource.init)
    let source = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
    let destination = UnsafeMutableRawPointer.allocate(byteCount: 2 * bytes, alignment: 64)
    defer { source.deallocate(); destination.deallocate() }
    for i in 0..<bytes { source.storeBytes(of: UInt8(truncatingIfNeeded: i &* 7), toByteOffset: i, as: UInt8.self) }
    memset(destination, 1, 2 * bytes)

    /// Each iteration timed (a histogram of them) after one untimed.
    func time(_ body: () throws -> Void) rethrows -> OneWay {
        try body()  // warm-up: pages touched, caches in their steady state
        var histogram = timeHistogram()
        let start = Clock.monotonicNanoseconds()
        var t0 = start
        for _ in 0..<iterations {
            try body()
            let t1 = Clock.monotonicNanoseconds()
            _ = histogram.record(max(1, t1 &- t0))
            t0 = t1
        }
        var oneWay = OneWay(histogram)
        oneWay.mean = Double(t0 &- start) / Double(iterations)
        return oneWay
    }
    func row(_ type: String, _ from: String, _ oneWay: OneWay) -> ConvertMeasurement {
        ConvertMeasurement(type: type, from: from, bytes: bytes, iterations: iterations, gbytesPerS: Double(bytes) / oneWay.mean,
                           nsPerIteration: oneWay.mean, oneWayNs: oneWay, messagesPerS: 1e9 / oneWay.mean)
    }

    var rows = [row("memcpy", "native", time { memcpy(destination, source, bytes) })]
    for (name, kind, perItem) in kinds {
        for arch in sources {
            let itemSize = kind.size(in: arch.signature)
            let count = bytes / itemSize
            // Integers wider than our 64-bit host's values do not occur; values of
            // foreign 4-byte longs widen. Source bytes are arbitrary: overflow
            // cannot happen when widening or at equal width.
            let ns = try time {
                try Conversion.convert(kind, count: count, from: arch.signature, source: source, to: .native, destination: destination)
            }
            rows.append(row(name, arch.name + (perItem == 2 ? " (pairs)" : ""), ns))
        }
    }
    // Like machines through a whole message buffer: Default and Raw, unpack of doubles.
    for encoding in [Encoding.default, .raw] {
        let buffer = try MessageBuffer(received: UnsafeRawBufferPointer(start: source, count: bytes), encoding: encoding, signature: .native)
        let count = bytes / 8
        let ns = try time {
            try buffer.unpack(into: destination.assumingMemoryBound(to: Double.self), count: count)
            buffer.rewind()
        }
        rows.append(row("double unpack \(encoding == .raw ? "Raw" : "Default")", Architecture.host.name, ns))
    }
    return rows
}
