import ArgumentParser
import PVMTransport

/// The path to measure (BENCHMARKS.md).
public enum TransportChoice: String, CaseIterable, ExpressibleByArgument, Sendable, Codable {
    case auto, shm, tcp, verbs, daemon

    /// Whether this build can measure the path (`auto` resolves to shm today;
    /// `daemon` only through the task library; `verbs` is refused with the
    /// reason: no usable RDMA port, or no verbs data path yet).
    public var isAvailable: Bool { self != .verbs }
}

/// The layer to measure through.
public enum APIChoice: String, CaseIterable, ExpressibleByArgument, Sendable, Codable {
    case transport, pvm, c

    /// Whether this build can measure through the layer.
}

/// How `--api pvm` moves a message (`--send-mode`).
public enum SendMode: String, CaseIterable, ExpressibleByArgument, Sendable, Codable {
    /// initsend (PvmDataRaw), pack, send; recv, unpack: the usual PVM program.
    case pack
    /// initsend (PvmDataInPlace), pack, send: the message refers to the
    /// program's memory and is sent from there; recv, unpack.
    case inplace
    /// pvm_psend and pvm_precv: one call each way, straight from and into
    /// the program's memory (the calls MPI_Send and MPI_Recv correspond to).
    case psend

    /// The pvmbench-task arguments that make the peer move messages so;
    /// `capacity` is the run's largest message (pvm_precv's buffer).
    func peerArguments(capacity: Int) -> [String] {
        self == .pack ? [] : ["--send-mode", rawValue, "--capacity", String(capacity)]
    }
}

public enum OutputFormat: String, CaseIterable, ExpressibleByArgument, Sendable {
    case table, csv, json
}

/// The message sizes and repetition counts of a sweep (shared by the
/// measuring subcommands and the default suite).
public struct SweepOptions: ParsableArguments, Sendable {
    @Option(help: ArgumentHelp("Message sizes in bytes: a comma list (K/M/G suffixes allowed).", valueName: "list"))
    public var sizes: String?

    @Option(name: .customShort("m"),
            help: ArgumentHelp("Powers of two from MIN to MAX bytes (OSU syntax: MIN:MAX, MAX, or MIN:).", valueName: "min:max"))
    public var range: String?

    @Option(name: [.customShort("i"), .customLong("iterations")],
            help: ArgumentHelp("Measured iterations per size (default scales down with size).", valueName: "n"))
    public var iterations: Int?

    @Option(name: [.customShort("x"), .customLong("warmup")],
            help: ArgumentHelp("Warm-up iterations per size (default scales down with size).", valueName: "n"))
    public var warmup: Int?

    @Flag(name: [.customShort("c"), .customLong("validate")],
          help: "Fill each message with a pattern per iteration and check what comes back (Pass/Fail per size).")
    public var checkData = false

    public init() {}

    public func validate() throws {
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

    /// Iterations and warm-up for one size: OSU-like defaults that shrink for
    /// large messages (the default suite, 1 B to 4 MiB over both shm paths,
    /// takes a few seconds on a 2-core machine).
    /// `divisor` shrinks the defaults for a slow path (the default suite's
    /// daemon and TCP routes, tens of microseconds a message), never below
    /// 1,000 iterations and 100 warm-up rounds; -i and -x are taken as given.
    public func counts(for size: Int, divisor: Int = 1) -> (iterations: Int, warmup: Int) {
        var (i, x): (Int, Int)
        switch size {
        case ...8192: (i, x) = (100_000, 10_000)
        case ...65536: (i, x) = (20_000, 2_000)
        case ...(1 << 20): (i, x) = (2_000, 200)
        default: (i, x) = (300, 30)
        }
        if divisor > 1 {
            i = max(i / divisor, min(i, 1_000))
            x = max(x / divisor, min(x, 100))
        }
        return (iterations ?? i, warmup ?? x)
    }
}

/// Options every measuring subcommand shares.
public struct CommonOptions: ParsableArguments, Sendable {
    @Option(help: "Path to measure: \(TransportChoice.allCases.map(\.rawValue).joined(separator: "|")).")
    public var transport: TransportChoice = .auto

    @Option(help: "Layer to measure: \(APIChoice.allCases.map(\.rawValue).joined(separator: "|")).")
    public var api: APIChoice = .pvm

    @Flag(name: .customLong("zero-copy"), help: "Send buffers loaned from the shared heap (shared-memory path).")
    public var zeroCopy = false

    @Option(name: .customLong("send-mode"), help: "How --api pvm sends and receives: pack (initsend, pack, send; recv, unpack), inplace (PvmDataInPlace), psend (pvm_psend, pvm_precv).")
    public var sendMode: SendMode = .pack

    @OptionGroup public var sweep: SweepOptions

    @Option(help: "Output format: table|csv|json.")
    public var format: OutputFormat = .table

    @Option(name: .customShort("o"), help: ArgumentHelp("Write the output to FILE instead of standard output.", valueName: "file"))
    public var output: String?

    @Option(help: ArgumentHelp("Also draw the results as an SVG chart in FILE.", valueName: "file.svg"))
    public var plot: String?

    @Option(help: ArgumentHelp("Place the two ends on these hosts of the virtual machine: A is this host (where pvmbench runs), the peer task is spawned on B (--api pvm).", valueName: "A,B"))
    public var hosts: String?

    public init() {}

    /// The two hosts of `--hosts`, validated.
    public var hostPair: (String, String)? {
        guard let hosts else { return nil }
        let names = hosts.split(separator: ",").map(String.init)
        return names.count == 2 ? (names[0], names[1]) : nil
    }

    public func validate() throws {
        try checkAvailable()
        if let output { try checkWritable(output, option: "-o") }
        if let plot { try checkWritable(plot, option: "--plot") }
    }

    /// Cross-field checks on the path: what this build can measure, and what
    /// combinations make sense. Also called by the drivers, for library
    /// callers that build options without parsing.
    public func checkAvailable() throws(ValidationError) {
        if zeroCopy && !(transport == .shm || transport == .auto) {
            throw ValidationError("--zero-copy needs the shared-memory transport (--transport shm or auto), not \(transport.rawValue)")
        }
        if transport == .verbs {
            // Loading libibverbs here is cheap and says what a user needs to know.
            let verbs = VerbsLibrary.shared
            guard let port = verbs.usablePort else {
                throw ValidationError("--transport verbs: no usable RDMA port on this host: \(verbs.report); measure TCP with --transport tcp (docs/rdma-runbook.md)")
            }
            throw ValidationError("--transport verbs: this host has \(port.device.name) \(port.port.summary), but this build's task library and pvmbench do not carry messages over verbs yet; measure TCP with --transport tcp (docs/rdma-runbook.md)")
        }
        if hosts != nil {
            guard hostPair != nil else { throw ValidationError("--hosts takes two host names, A,B (this host, the peer's host)") }
            guard api == .pvm else { throw ValidationError("--hosts places tasks of the virtual machine: use it with --api pvm") }
            guard transport == .auto || transport == .tcp || transport == .daemon else {
                throw ValidationError("--hosts with --transport \(transport.rawValue): between two hosts the paths are tcp and daemon")
            }
        }
        if transport == .tcp && api == .transport {
            throw ValidationError("--transport tcp is measured through the task library: use it with --api pvm or --api c")
        }
        if transport == .daemon && api == .transport {
            throw ValidationError("--transport daemon routes through the daemon: it needs --api pvm or --api c")
        }
        if sendMode != .pack && api != .pvm {
            throw ValidationError("--send-mode \(sendMode.rawValue) chooses the task library's calls: use it with --api pvm")
        }
        if zeroCopy && api != .transport {
            throw ValidationError("--zero-copy measures the bare transport's loans: it is for pingpong with --api transport")
        }
    }

    /// `checkAvailable`, its refusal in the words a run reports (the
    /// drivers' check, for callers that build options without parsing).
    func checkedForRun() throws(BenchError) {
        do { try checkAvailable() } catch { throw BenchError(error.message) }
    }

    // The sweep, forwarded (the drivers read these).
    public var checkData: Bool {
        get { sweep.checkData }
        set { sweep.checkData = newValue }
    }

    public func messageSizes(default fallback: [Int] = defaultSizes) throws -> [Int] {
        try sweep.messageSizes(default: fallback)
    }

    public func counts(for size: Int) -> (iterations: Int, warmup: Int) { sweep.counts(for: size, divisor: iterationDivisor) }

    /// Set by the default suite for its slow paths (see `SweepOptions.counts`).
    @Option(name: .customLong("iteration-divisor"), help: .hidden)
    public var iterationDivisor = 1
}

/// 1 B to 4 MiB in powers of two.
public let defaultSizes: [Int] = (0...22).map { 1 << $0 }

/// The largest message the sweep accepts (the transport's own limit is higher;
/// this keeps a typo from allocating gigabytes).
public let maximumSweepSize = 1 << 30

/// Parses "8,64,1K,4M".
public func parseSizeList(_ text: String) throws(ValidationError) -> [Int] {
    let parts = text.split(separator: ",", omittingEmptySubsequences: false)
    var sizes: [Int] = []
    for part in parts {
        guard let n = parseSize(String(part)), n >= 1, n <= maximumSweepSize else {
            throw ValidationError("'\(part)' is not a message size (bytes with an optional K, M or G; 1 B to 1 GiB)")
        }
        sizes.append(n)
    }
    return sizes
}

/// Parses OSU's -m forms: "MIN:MAX", "MAX", "MIN:" (up to 4 MiB), into powers
/// of two; a MIN or MAX that is not a power of two is kept as the first or
/// last size.
public func parsePowerRange(_ text: String) throws(ValidationError) -> [Int] {
    let pieces = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
    guard !text.isEmpty, pieces.count <= 2 else { throw ValidationError("-m takes MIN:MAX, MAX or MIN:, not '\(text)'") }
    func size(_ piece: String, _ fallback: Int) throws(ValidationError) -> Int {
        if piece.isEmpty { return fallback }
        guard let n = parseSize(piece) else { throw ValidationError("-m \(text): '\(piece)' is not a size") }
        return n
    }
    let low = pieces.count == 1 ? 1 : try size(pieces[0], 1)
    let high = try size(pieces.count == 1 ? pieces[0] : pieces[1], defaultSizes.last!)
    guard low >= 1, high >= low, high <= maximumSweepSize else {
        throw ValidationError("-m \(text): need 1 <= MIN <= MAX <= 1G")
    }
    var sizes: [Int] = []
    var s = 1
    while s < low { s <<= 1 }
    if s != low { sizes.append(low) }
    while s <= high { sizes.append(s); s <<= 1 }
    if sizes.last != high { sizes.append(high) }
    return sizes
}
