#if canImport(Glibc)
import Glibc
#endif
import PVMSystem
import Synchronization

/// How a large message (above `eagerLimit`) crosses shared memory.
public enum ShmLargeMode: String, Sendable, CaseIterable {
    /// Single copy with process_vm_readv when the start-up probe shows the
    /// kernel allows it for this peer, else the pipelined copy.
    case automatic
    /// Always the pipelined copy through the ring (what containers without
    /// ptrace permission get; also forced for testing that path).
    case pipelined
}

/// Tunables of the shared-memory transport. Defaults come from measurements
/// on the project's machine kind (2 vCPU); `pvmbench tune` measures this
/// machine and writes its own values to the tune file, and every value can
/// be overridden from the environment (`fromEnvironment`).
public struct ShmConfiguration: Sendable, Equatable {
    /// Data bytes of each ring (power of two). One ring per sender per receiver.
    public var ringCapacity: Int = 256 << 10
    /// Largest message copied inline through the ring; larger ones use the
    /// large-message path. At most a quarter ring minus the record header,
    /// which is the default: measured on the project's machine kind, inline
    /// beats single copy at 32 KiB (2.8 us against 4.8 us one way).
    public var eagerLimit: Int = (256 << 10) / 4 - 16
    public var largeMode: ShmLargeMode = .automatic
    /// Largest message always sent by single copy when it is permitted;
    /// larger ones take whichever of single copy and the pipelined copy
    /// measures cheaper (`adaptiveLarge`), or the pipelined copy. Measured on the project's machine kind (2 vCPU VM):
    /// single copy is 2x faster at 32 KiB, even at 128 KiB, and the pipelined
    /// copy 1.6x faster at 1 MiB (it keeps both CPUs copying cache-sized
    /// pieces, where process_vm_readv copies on one).
    public var singleCopyLimit: Int = 256 << 10
    /// Above `singleCopyLimit`, when single copy is permitted, time both
    /// paths and take the cheaper (`LargePathChooser`); off, the pipelined
    /// copy always (PVM_SHM_ADAPTIVE=off, environment only).
    public var adaptiveLarge = true
    /// Bytes of message per record of a pipelined copy (at most a quarter ring).
    public var pipelinePiece: Int = 64 << 10
    /// How long a blocked call polls before it sleeps. Forced to 0 when the
    /// endpoint sees more local tasks than CPUs (spinning would steal the
    /// CPU from the very task it waits for).
    public var spinNanoseconds: UInt64 = 50_000
    /// Bytes of the shared heap that zero-copy loans come from (created on
    /// the first loan).
    public var heapSize: Int = 64 << 20
    /// Largest message accepted from a peer.
    public var maxMessageSize: Int = 1 << 30
    /// Peers one endpoint can hold.
    public var maxPeers: Int = 256
    /// Records consumed from one ring per poll before moving on (fairness).
    public var batch: Int = 32
    /// Longest a handshake step may take.
    public var handshakeTimeoutMilliseconds: Int32 = 5_000
    /// Send messages of up to 16 bytes through the pair's express line when
    /// it is this task's turn (see `ExpressLine`); off, every message goes
    /// through the ring (PVM_SHM_EXPRESS=off, for comparing the two). An
    /// endpoint always reads the line, whatever its own setting.
    public var express = true
    /// A receiver pulling a single-copy message of at least
    /// `ShmEndpoint.splitMinimum` bytes offers its waiting sender a share
    /// of the copy (pvm_shm.h, the split line), so that both CPUs copy;
    /// off, the receiver copies alone (PVM_SHM_SPLIT=off, environment only).
    /// Decided by the receiver; a sender always answers an offer.
    public var splitCopy = true

    public init() {}

    /// The configuration of this process: the built-in defaults, overridden
    /// by the tune file (see `TuneFile`: `$PVM_TUNE_FILE`, else
    /// `$XDG_CONFIG_HOME/pvm/tune.conf`, else `$HOME/.config/pvm/tune.conf`,
    /// as written by `pvmbench tune`), overridden by the environment:
    /// PVM_SHM_RING, PVM_SHM_EAGER, PVM_SHM_LARGE (automatic|pipelined),
    /// PVM_SHM_SINGLE_COPY_MAX, PVM_SHM_PIECE, PVM_SHM_SPIN_NS, PVM_SHM_HEAP
    /// and PVM_SHM_MAX_PEERS. Sizes take K/M/G suffixes. PVM_SHM_EXPRESS
    /// and PVM_SHM_ADAPTIVE (on|off) are read from the environment only.
    ///
    /// The file is read and checked once per process, on the first call;
    /// its warnings go to standard error once. The environment is read on
    /// every call (a handful of getenv, made when an endpoint is created,
    /// never per message).
    public static func fromEnvironment() -> ShmConfiguration {
        // No (configuration, warnings) tuple here: its type would be made
        // at run time, in every task's start-up.
        var warnings: [TuneFileWarning] = []
        let configuration = resolve(environment: environmentValue, file: processTuneFile, warnings: &warnings)
        reportOnce(warnings)
        return configuration
    }

    /// The configuration from `environment` over `file` over the defaults,
    /// and what was wrong with the file's values in that light (a file's
    /// value that would make the configuration invalid is dropped, with a
    /// warning). Pure: the whole of `fromEnvironment` but the reading.
    ///
    /// The default eager limit follows the ring (a quarter ring less the
    /// record header, at most the default); an explicit one is taken as
    /// given from the environment and checked against the ring from the file.
    public static func resolved(environment: (String) -> String?, file: TuneFile?) -> (configuration: ShmConfiguration, warnings: [TuneFileWarning]) {
        var warnings: [TuneFileWarning] = []
        let configuration = resolve(environment: environment, file: file, warnings: &warnings)
        return (configuration, warnings)
    }

    static func resolve(environment: (String) -> String?, file: TuneFile?, warnings: inout [TuneFileWarning]) -> ShmConfiguration {
        let env = ShmSettings(environment: environment)
        var fromFile = file?.settings ?? ShmSettings()
        func fileWarning(_ key: ShmSettingKey, _ message: String) {
            if let file { warnings.append(TuneFileWarning(path: file.path, line: file.lines[key] ?? 0, message: message)) }
        }
        let defaults = ShmConfiguration()
        let maxInline = largestInline(ringCapacity:)

        // The environment's eager limit wins; a ring from the file too small
        // for it would only make every endpoint fail, so that ring goes.
        if let eager = env.eagerLimit, env.ringCapacity == nil, let ring = fromFile.ringCapacity,
           eager > maxInline(ring), eager <= maxInline(defaults.ringCapacity) {
            fileWarning(.ring, "PVM_SHM_RING = \(ring) ignored: PVM_SHM_EAGER=\(eager) from the environment needs a larger ring")
            fromFile.ringCapacity = nil
        }
        var c = defaults
        c.ringCapacity = env.ringCapacity ?? fromFile.ringCapacity ?? defaults.ringCapacity
        if let eager = env.eagerLimit {
            c.eagerLimit = eager
        } else if let eager = fromFile.eagerLimit, eager <= maxInline(c.ringCapacity) {
            c.eagerLimit = eager
        } else {
            if let eager = fromFile.eagerLimit {
                fileWarning(.eager, "PVM_SHM_EAGER = \(eager) ignored: above a quarter of the \(c.ringCapacity)-byte ring less the record header (\(maxInline(c.ringCapacity)))")
            }
            c.eagerLimit = max(0, min(defaults.eagerLimit, maxInline(c.ringCapacity)))
        }
        c.largeMode = env.largeMode ?? fromFile.largeMode ?? defaults.largeMode
        c.singleCopyLimit = env.singleCopyLimit ?? fromFile.singleCopyLimit ?? defaults.singleCopyLimit
        c.pipelinePiece = env.pipelinePiece ?? fromFile.pipelinePiece ?? defaults.pipelinePiece
        c.spinNanoseconds = env.spinNanoseconds ?? fromFile.spinNanoseconds ?? defaults.spinNanoseconds
        c.heapSize = env.heapSize ?? fromFile.heapSize ?? defaults.heapSize
        c.maxPeers = env.maxPeers ?? fromFile.maxPeers ?? defaults.maxPeers
        if let v = environment("PVM_SHM_EXPRESS") { c.express = !Self.isOff(v) }
        if let v = environment("PVM_SHM_ADAPTIVE") { c.adaptiveLarge = !Self.isOff(v) }
        if let v = environment("PVM_SHM_SPLIT") { c.splitCopy = !Self.isOff(v) }
        return c
    }

    /// An environment switch's "off" (off, 0, no, false; any case).
    static func isOff(_ value: String) -> Bool { ["off", "0", "no", "false"].contains(value.lowercased()) }

    /// The largest message a ring of `ringCapacity` bytes carries inline:
    /// a quarter ring less the record header (the highest eager limit).
    public static func largestInline(ringCapacity: Int) -> Int { ringCapacity / 4 - recordHeaderSize }

    /// This process's tune file, read and checked on first use (nil: none).
    /// Its own warnings are reported then, once.
    public static let processTuneFile: TuneFile? = {
        guard let path = TuneFile.defaultPath(environment: environmentValue), let file = TuneFile.load(path: path) else { return nil }
        reportOnce(file.warnings)
        return file
    }()

    /// Warnings already written by this process.
    private static let reported = Mutex<Set<String>>([])

    /// Writes each warning to standard error as one line, the first time it
    /// comes up in this process.
    static func reportOnce(_ warnings: [TuneFileWarning]) {
        for warning in warnings {
            let line = "pvm: \(warning)\n"
            guard reported.withLock({ $0.insert(line).inserted }) else { continue }
            // One write(2) of the whole line, so lines of several processes sharing the terminal do not interleave.
            let bytes = Array(line.utf8)
            var done = 0
            while done < bytes.count {
                let n = bytes.withUnsafeBytes { write(2, $0.baseAddress! + done, $0.count - done) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                done += n
            }
        }
    }

    private static func environmentValue(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    /// Checks the values and says what is wrong.
    public func validated() throws(TransportError) -> ShmConfiguration {
        guard ringCapacity >= 4096, ringCapacity <= 1 << 30, ringCapacity & (ringCapacity - 1) == 0 else {
            throw TransportError(.tooLarge, "ring capacity \(ringCapacity) must be a power of two between 4 KiB and 1 GiB")
        }
        let maxInline = ringCapacity / 4 - recordHeaderSize
        guard eagerLimit >= 0, eagerLimit <= maxInline else {
            throw TransportError(.tooLarge, "eager limit \(eagerLimit) must be at most a quarter ring minus the record header (\(maxInline) for a \(ringCapacity)-byte ring)")
        }
        guard heapSize >= 1 << 16 else { throw TransportError(.tooLarge, "heap size \(heapSize) is below 64 KiB") }
        guard maxPeers >= 1, maxPeers <= 1 << 16 else { throw TransportError(.tooLarge, "max peers \(maxPeers) must be 1...65536") }
        guard batch >= 1 else { throw TransportError(.tooLarge, "batch must be at least 1") }
        guard pipelinePiece >= 1024 else { throw TransportError(.tooLarge, "pipeline piece \(pipelinePiece) is below 1 KiB") }
        return self
    }

}

/// Parses "4096", "64K", "4M", "1G" (powers of 1024).
public func parseSize(_ text: String) -> Int? {
    var digits = Substring(text.trimmingCharactersInSet())
    var scale = 1
    switch digits.last {
    case "k", "K": scale = 1 << 10
    case "m", "M": scale = 1 << 20
    case "g", "G": scale = 1 << 30
    default: break
    }
    if scale != 1 { digits = digits.dropLast() }
    guard let n = Int(digits), n >= 0 else { return nil }
    let (v, overflow) = n.multipliedReportingOverflow(by: scale)
    return overflow ? nil : v
}

extension String {
    fileprivate func trimmingCharactersInSet() -> String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
