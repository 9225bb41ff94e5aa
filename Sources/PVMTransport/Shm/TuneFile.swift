#if canImport(Glibc)
import Glibc
#endif

// The tune file: the shared-memory transport's tunables written down for
// this machine (by `pvmbench tune`, or by hand), read once per process.
//
//     # pvm tune file: KEY = value, '#' starts a comment
//     PVM_SHM_EAGER = 65520
//     PVM_SHM_SINGLE_COPY_MAX = 256K   # sizes take K, M, G (powers of 1024)
//     PVM_SHM_SPIN_NS = 40000
//
// Where: `$PVM_TUNE_FILE` if it is set (set and empty: no file at all), else
// `$XDG_CONFIG_HOME/pvm/tune.conf` (when that is an absolute path), else
// `$HOME/.config/pvm/tune.conf`. Keys are the names of the environment
// variables, so one vocabulary serves both; an environment variable wins
// over the file, the file over the built-in default.
//
// The file is untrusted input. A line that does not parse, an unknown key
// or a value out of range is reported on standard error (one line naming
// the file and the line, once per process) and ignored; the rest of the
// file still applies. A missing file is silent. Nothing the file says can
// make the configuration invalid: a value that contradicts the final ring
// size is dropped with a warning, never handed to `validated()`.

/// A name shared by an environment variable and a key of the tune file.
public enum ShmSettingKey: String, CaseIterable, Sendable {
    case ring = "PVM_SHM_RING"
    case eager = "PVM_SHM_EAGER"
    case large = "PVM_SHM_LARGE"
    case singleCopyMax = "PVM_SHM_SINGLE_COPY_MAX"
    case piece = "PVM_SHM_PIECE"
    case spin = "PVM_SHM_SPIN_NS"
    case heap = "PVM_SHM_HEAP"
    case maxPeers = "PVM_SHM_MAX_PEERS"

    /// What a tune file may give for this key (said in the warning).
    public var accepted: String {
        switch self {
        case .ring: "a power of two from 4K to 1G"
        case .eager: "a size of at most a quarter ring less 16 bytes (65520 for the default ring)"
        case .large: "automatic or pipelined"
        case .singleCopyMax: "a size from 0 to 1G"
        case .piece: "a size from 1K to 1G"
        case .spin: "nanoseconds from 0 to 1000000000"
        case .heap: "a size from 64K to 1024G"
        case .maxPeers: "a number from 1 to 65536"
        }
    }
}

/// Values given for some of the tunables; the others keep theirs. What one
/// source (the environment, or the tune file) says.
public struct ShmSettings: Sendable, Equatable {
    public var ringCapacity: Int?
    public var eagerLimit: Int?
    public var largeMode: ShmLargeMode?
    public var singleCopyLimit: Int?
    public var pipelinePiece: Int?
    public var spinNanoseconds: UInt64?
    public var heapSize: Int?
    public var maxPeers: Int?

    public init() {}

    /// The environment, read as `fromEnvironment` always has: a value that
    /// does not parse is ignored, any other is taken as given (an explicit
    /// setting that is out of range is `validated()`'s to refuse, loudly).
    public init(environment: (String) -> String?) {
        ringCapacity = environment(ShmSettingKey.ring.rawValue).flatMap(parseSize)
        eagerLimit = environment(ShmSettingKey.eager.rawValue).flatMap(parseSize)
        largeMode = environment(ShmSettingKey.large.rawValue).flatMap(ShmLargeMode.init(rawValue:))
        singleCopyLimit = environment(ShmSettingKey.singleCopyMax.rawValue).flatMap(parseSize)
        pipelinePiece = environment(ShmSettingKey.piece.rawValue).flatMap(parseSize)
        spinNanoseconds = environment(ShmSettingKey.spin.rawValue).flatMap { UInt64($0) }
        heapSize = environment(ShmSettingKey.heap.rawValue).flatMap(parseSize)
        maxPeers = environment(ShmSettingKey.maxPeers.rawValue).flatMap { Int($0) }
    }

    /// Whether `key` has a value here.
    public func has(_ key: ShmSettingKey) -> Bool { text(for: key) != nil }

    /// The value of `key` as the file writes it (sizes with a K, M or G
    /// suffix when exact), or nil when not set.
    public func text(for key: ShmSettingKey) -> String? {
        switch key {
        case .ring: ringCapacity.map(formatSize)
        case .eager: eagerLimit.map(formatSize)
        case .large: largeMode?.rawValue
        case .singleCopyMax: singleCopyLimit.map(formatSize)
        case .piece: pipelinePiece.map(formatSize)
        case .spin: spinNanoseconds.map { String($0) }
        case .heap: heapSize.map(formatSize)
        case .maxPeers: maxPeers.map { String($0) }
        }
    }

    /// Sets `key` from a tune file's `text`, checked against the key's
    /// range; returns what is wrong (and leaves the value alone) if it is
    /// not acceptable.
    public mutating func set(_ key: ShmSettingKey, checking text: String) -> String? {
        let outOfRange = "\(key.rawValue) = \(quoted(text)): out of range (\(key.accepted)); ignored"
        let notASize = "\(key.rawValue) = \(quoted(text)): not a size (bytes, with an optional K, M or G); ignored"
        let notANumber = "\(key.rawValue) = \(quoted(text)): not a whole number; ignored"
        switch key {
        case .ring:
            guard let v = parseSize(text) else { return notASize }
            guard (4096...(1 << 30)).contains(v), v & (v - 1) == 0 else { return outOfRange }
            ringCapacity = v
        case .eager:
            guard let v = parseSize(text) else { return notASize }
            guard v <= (1 << 30) / 4 - recordHeaderSize else { return outOfRange }
            eagerLimit = v
        case .large:
            guard let mode = ShmLargeMode(rawValue: text) else { return outOfRange }
            largeMode = mode
        case .singleCopyMax:
            guard let v = parseSize(text) else { return notASize }
            guard v <= 1 << 30 else { return outOfRange }
            singleCopyLimit = v
        case .piece:
            guard let v = parseSize(text) else { return notASize }
            guard (1024...(1 << 30)).contains(v) else { return outOfRange }
            pipelinePiece = v
        case .spin:
            guard let v = UInt64(text) else { return notANumber }
            guard v <= 1_000_000_000 else { return outOfRange }
            spinNanoseconds = v
        case .heap:
            guard let v = parseSize(text) else { return notASize }
            guard ((1 << 16)...(1 << 40)).contains(v) else { return outOfRange }
            heapSize = v
        case .maxPeers:
            guard let v = Int(text) else { return notANumber }
            guard (1...65536).contains(v) else { return outOfRange }
            maxPeers = v
        }
        return nil
    }
}

/// A problem found in a tune file: `path:line: message` (line 0: the file
/// as a whole).
public struct TuneFileWarning: Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var line: Int
    public var message: String

    public init(path: String, line: Int, message: String) {
        self.path = path
        self.line = line
        self.message = message
    }

    public var description: String { line > 0 ? "\(path):\(line): \(message)" : "\(path): \(message)" }
}

/// A parsed tune file: the settings it gives, the line each came from, and
/// what was wrong with the rest.
public struct TuneFile: Sendable, Equatable {
    /// Larger files are not read (a tune file has a dozen lines; this keeps
    /// a path pointed at something huge from costing memory at start-up).
    public static let maximumSize = 64 << 10
    /// The file's name in its folder.
    public static let fileName = "tune.conf"
    /// The variable naming the file (empty: no file).
    public static let environmentVariable = "PVM_TUNE_FILE"

    public var path: String
    public var settings = ShmSettings()
    /// The line each key was (last) set on.
    public var lines: [ShmSettingKey: Int] = [:]
    public var warnings: [TuneFileWarning] = []

    /// Parses `text` (the contents of the file at `path`, which only names
    /// it in warnings). Never fails: what does not parse becomes a warning.
    public init(parsing text: String, path: String) {
        self.path = path
        var number = 0
        // "\r\n" is one Character in Swift: a line ends at either.
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            number += 1
            var line = Substring(rawLine)
            if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
            line = trimmed(line)
            if line.isEmpty { continue }
            guard let equals = line.firstIndex(of: "=") else {
                warn(number, "expected KEY = value, found \(quoted(String(line))); ignored")
                continue
            }
            let name = String(trimmed(line[..<equals]))
            let value = String(trimmed(line[line.index(after: equals)...]))
            guard !name.isEmpty else {
                warn(number, "no key before '='; ignored")
                continue
            }
            guard let key = ShmSettingKey(rawValue: name) else {
                warn(number, "unknown key \(quoted(name)) (known: \(ShmSettingKey.allCases.map(\.rawValue).joined(separator: ", "))); ignored")
                continue
            }
            guard !value.isEmpty else {
                warn(number, "\(name) has no value; ignored")
                continue
            }
            if let problem = settings.set(key, checking: value) {
                warn(number, problem)
                continue
            }
            if let first = lines[key] { warn(number, "\(name) given again (also on line \(first)); this line wins") }
            lines[key] = number
        }
    }

    private mutating func warn(_ line: Int, _ message: String) {
        warnings.append(TuneFileWarning(path: path, line: line, message: message))
    }

    /// Reads and parses the file at `path`: nil if there is no such file; a
    /// file that cannot be read, is not a regular file or is too large
    /// gives no settings and one warning.
    public static func load(path: String) -> TuneFile? {
        func unreadable(_ why: String) -> TuneFile {
            var file = TuneFile(parsing: "", path: path)
            file.warnings = [TuneFileWarning(path: path, line: 0, message: "\(why); the tune file is ignored")]
            return file
        }
        // Non-blocking: a FIFO named by mistake must not stall start-up.
        let fd = path.withCString { open($0, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY) }
        if fd < 0 {
            let code = errno
            if code == ENOENT || code == ENOTDIR { return nil }
            return unreadable("cannot be opened (\(String(cString: strerror(code))))")
        }
        defer { _ = close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { return unreadable("cannot be examined (\(String(cString: strerror(errno))))") }
        guard status.st_mode & mode_t(S_IFMT) == mode_t(S_IFREG) else { return unreadable("is not a regular file") }
        guard status.st_size <= maximumSize else { return unreadable("is larger than \(maximumSize / 1024) KiB") }
        var bytes = [UInt8](repeating: 0, count: maximumSize + 1)
        var count = 0
        while count < bytes.count {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + count, $0.count - count) }
            if n == 0 { break }
            if n < 0 {
                if errno == EINTR { continue }
                return unreadable("cannot be read (\(String(cString: strerror(errno))))")
            }
            count += n
        }
        // The file grew after fstat: still too large.
        guard count <= maximumSize else { return unreadable("is larger than \(maximumSize / 1024) KiB") }
        return TuneFile(parsing: String(decoding: bytes[0..<count], as: UTF8.self), path: path)
    }

    /// Where the tune file is, given the environment: `$PVM_TUNE_FILE`,
    /// else `$XDG_CONFIG_HOME/pvm/tune.conf`, else `$HOME/.config/pvm/tune.conf`.
    /// nil when PVM_TUNE_FILE is set and empty (no file), or when neither
    /// XDG_CONFIG_HOME nor HOME gives a place. The password database is not
    /// consulted: static task executables link no NSS.
    public static func defaultPath(environment: (String) -> String?) -> String? {
        if let explicit = environment(environmentVariable) { return explicit.isEmpty ? nil : explicit }
        // The XDG specification: a relative XDG_CONFIG_HOME is invalid and ignored.
        if let config = environment("XDG_CONFIG_HOME"), config.hasPrefix("/") {
            return config + "/pvm/" + fileName
        }
        if let home = environment("HOME"), !home.isEmpty {
            return (home.hasSuffix("/") ? String(home.dropLast()) : home) + "/.config/pvm/" + fileName
        }
        return nil
    }

    /// The text of a tune file giving `settings`: `header` as comment
    /// lines, then each set key (in the vocabulary's order) on its own
    /// line, preceded by its comment from `comments` if there is one.
    /// `TuneFile(parsing:)` reads back exactly `settings`.
    public static func render(_ settings: ShmSettings, header: [String] = [], comments: [ShmSettingKey: String] = [:]) -> String {
        var out = ""
        for line in header { out += line.isEmpty ? "#\n" : "# \(line)\n" }
        if !header.isEmpty { out += "\n" }
        for key in ShmSettingKey.allCases {
            guard let value = settings.text(for: key) else { continue }
            if let comment = comments[key] {
                for line in comment.split(separator: "\n", omittingEmptySubsequences: false) { out += "# \(line)\n" }
            }
            out += "\(key.rawValue) = \(value)\n"
        }
        return out
    }
}

/// A size as the tune file writes it: with a K, M or G suffix when exact
/// (so that `parseSize` reads back the same number).
public func formatSize(_ n: Int) -> String {
    guard n > 0 else { return String(n) }
    for (shift, suffix) in [(30, "G"), (20, "M"), (10, "K")] where n & ((1 << shift) - 1) == 0 {
        return "\(n >> shift)\(suffix)"
    }
    return String(n)
}

private func trimmed(_ s: Substring) -> Substring {
    var s = s
    while let c = s.first, c == " " || c == "\t" || c == "\r" { s = s.dropFirst() }
    while let c = s.last, c == " " || c == "\t" || c == "\r" { s = s.dropLast() }
    return s
}

/// `text` in quotes for a warning, cut short if long (the warning is one line).
private func quoted(_ text: String) -> String {
    var shown = ""
    for scalar in text.unicodeScalars.prefix(40) {
        // Control characters would break the one-line warning.
        shown.unicodeScalars.append(scalar.value < 0x20 || scalar.value == 0x7F ? "?" : scalar)
    }
    return "'" + shown + (text.unicodeScalars.count > 40 ? "…'" : "'")
}
