import ArgumentParser
import PVMTransport

/// The path to measure (BENCHMARKS.md).
public enum TransportChoice: String, CaseIterable, ExpressibleByArgument, Sendable, Codable {
    case auto, shm, tcp, verbs, daemon
}

/// The layer to measure through.
public enum APIChoice: String, CaseIterable, ExpressibleByArgument, Sendable, Codable {
    case transport, pvm, c
}

public enum OutputFormat: String, CaseIterable, ExpressibleByArgument, Sendable {
    case table, csv, json
}

/// Options every measuring subcommand shares.
public struct CommonOptions: ParsableArguments, Sendable {
    @Option(help: "Path to measure: \(TransportChoice.allCases.map(\.rawValue).joined(separator: "|")).")
    public var transport: TransportChoice = .auto

    @Option(help: "Layer to measure: \(APIChoice.allCases.map(\.rawValue).joined(separator: "|")).")
    public var api: APIChoice = .transport

    @Flag(name: .customLong("zero-copy"), help: "Send buffers loaned from the shared heap.")
    public var zeroCopy = false

    @Option(help: "Message sizes in bytes: a comma list (K/M suffixes allowed).")
    public var sizes: String?

    @Option(name: .customShort("m"), help: "Powers of two from MIN to MAX bytes (OSU syntax: MIN:MAX, MAX, or MIN:).")
    public var range: String?

    @Option(name: [.customShort("i"), .customLong("iterations")], help: "Measured iterations per size (default scales with size).")
    public var iterations: Int?

    @Option(name: [.customShort("x"), .customLong("warmup")], help: "Warm-up iterations per size (default scales with size).")
    public var warmup: Int?

    @Flag(name: [.customShort("c"), .customLong("validate")], help: "Fill each message with a pattern and check what comes back.")
    public var checkData = false

    @Option(help: "Output format: table|csv|json.")
    public var format: OutputFormat = .table

    @Option(name: .customShort("o"), help: "Write the output to FILE instead of standard output.")
    public var output: String?

    @Option(help: "Also draw the results as an SVG chart in FILE.")
    public var plot: String?

    public init() {}

    public mutating func validate() throws {
        if sizes != nil && range != nil { throw ValidationError("give --sizes or -m, not both") }
        if let i = iterations, i < 1 { throw ValidationError("-i must be at least 1") }
        if let x = warmup, x < 0 { throw ValidationError("-x must not be negative") }
        _ = try messageSizes()
    }

    /// The sizes to measure, in order.
    public func messageSizes(default fallback: [Int] = defaultSizes) throws -> [Int] {
        if let sizes { return try parseSizeList(sizes) }
        if let range { return try parsePowerRange(range) }
        return fallback
    }

    /// Iterations and warm-up for one size: OSU-like defaults that shrink for large messages.
    public func counts(for size: Int) -> (iterations: Int, warmup: Int) {
        let (i, x): (Int, Int)
        switch size {
        case ...8192: (i, x) = (100_000, 10_000)
        case ...65536: (i, x) = (20_000, 2_000)
        case ...(1 << 20): (i, x) = (2_000, 200)
        default: (i, x) = (300, 30)
        }
        return (iterations ?? i, warmup ?? x)
    }
}

/// 1 B to 4 MiB in powers of two.
public let defaultSizes: [Int] = (0...22).map { 1 << $0 }

/// Parses "8,64,1K,4M".
public func parseSizeList(_ text: String) throws -> [Int] {
    let parts = text.split(separator: ",", omittingEmptySubsequences: false)
    guard !parts.isEmpty else { throw ValidationError("empty size list") }
    return try parts.map { part in
        guard let n = parseSize(String(part)), n >= 1 else {
            throw ValidationError("'\(part)' is not a message size (bytes, K, M or G; at least 1)")
        }
        return n
    }
}

/// Parses OSU's -m forms: "MIN:MAX", "MAX", "MIN:" (up to 4 MiB), into powers of two.
public func parsePowerRange(_ text: String) throws -> [Int] {
    let pieces = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
    guard pieces.count <= 2 else { throw ValidationError("-m takes MIN:MAX, MAX or MIN:") }
    let low: Int
    let high: Int
    if pieces.count == 1 {
        low = 1
        guard let h = parseSize(pieces[0]) else { throw ValidationError("'\(text)' is not a size") }
        high = h
    } else {
        guard let l = parseSize(pieces[0].isEmpty ? "1" : pieces[0]) else { throw ValidationError("'\(pieces[0])' is not a size") }
        low = l
        if pieces[1].isEmpty { high = 4 << 20 } else {
            guard let h = parseSize(pieces[1]) else { throw ValidationError("'\(pieces[1])' is not a size") }
            high = h
        }
    }
    guard low >= 1, high >= low else { throw ValidationError("-m \(text): need 1 <= MIN <= MAX") }
    var sizes: [Int] = []
    var s = 1
    while s < low { s <<= 1 }
    if s != low { sizes.append(low) }
    while s <= high { sizes.append(s); s <<= 1 }
    if sizes.last != high { sizes.append(high) }
    return sizes
}
