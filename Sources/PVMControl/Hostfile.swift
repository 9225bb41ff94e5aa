// PVM 3.4 hostfiles and `pvm_addhosts` host specs (PVM-REFERENCE 4.3,
// CONVENTIONS A14). Pure: no files, no environment, no Foundation; `$VAR`
// expansion goes through the caller's `expand` closure.
//
// The format, as PVM's pvmd reads it (host.c: readhostfile, parsehost,
// applydefaults):
//
//     # comment
//     * lo=pvm ep=$HOME/bin:/opt/bin     defaults for the lines after it
//     node1                               started at startup
//     node2 wd=/scratch sp=2000 so=ms     options after the name
//     &node3 dx=/opt/pvm/pvmd             recorded, started only by pvm_addhosts
//
// Where PVM silently accepted nonsense (atoi speeds, unknown `so=` values,
// repeated options), this parser refuses it with the line number and the
// exact problem: a hostfile mistake found at startup is cheaper than a host
// that is started wrongly.

import PVMEncoding
import PVMSystem

/// Per-host options of a hostfile line or `pvm_addhosts` spec. `nil` means
/// "not given": PVM's default applies (see each field).
public struct HostOptions: Sendable, Equatable {
    /// How the pvmd on the host is started (`so=`).
    public enum StartMode: Sendable, Equatable {
        /// No `so=`: started over the remote shell without asking.
        case automatic
        /// `so=pw`: ask for a password (PVM's rexec path).
        case password
        /// `so=ms`: manual start; the pvmd prints the command to type on the host.
        case manual
    }

    /// `lo=`: login name on the host (default: the same user).
    public var login: String?
    /// `so=`; `.automatic` when not given.
    public var startMode: StartMode
    /// `dx=`: pvmd path on the host (default `$PVM_ROOT/lib/pvmd` or `$PVM_DPATH`).
    public var daemonPath: String?
    /// `ep=`: colon list of directories searched for executables, kept as
    /// written; it **replaces** the default path.
    public var executablePath: String?
    /// `wd=`: working directory of spawned tasks (default `$HOME`).
    public var workingDirectory: String?
    /// `sp=`: relative speed, in `speedRange` (default `defaultSpeed`).
    public var speed: Int32?
    /// `bx=`: debugger path (default `$PVM_ROOT/lib/debugger`).
    public var debugger: String?
    /// `ip=`: alternate address or name to reach the host by.
    public var alternateAddress: String?
    /// `id=`: virtual machine id.
    public var vmid: String?
    /// `bind=` (this implementation's, not PVM's): where tasks spawned on the
    /// host run and allocate, as `Placement` text (`node:0`, `cpus:0-3,8`, `none`).
    public var bind: Placement?

    /// The speeds `sp=` accepts.
    public static let speedRange: ClosedRange<Int32> = 1...1_000_000
    /// PVM's speed when `sp=` is not given.
    public static let defaultSpeed: Int32 = 1000

    public init(
        login: String? = nil, startMode: StartMode = .automatic, daemonPath: String? = nil,
        executablePath: String? = nil, workingDirectory: String? = nil, speed: Int32? = nil,
        debugger: String? = nil, alternateAddress: String? = nil, vmid: String? = nil, bind: Placement? = nil
    ) {
        self.login = login
        self.startMode = startMode
        self.daemonPath = daemonPath
        self.executablePath = executablePath
        self.workingDirectory = workingDirectory
        self.speed = speed
        self.debugger = debugger
        self.alternateAddress = alternateAddress
        self.vmid = vmid
        self.bind = bind
    }

    /// These options with every unset field taken from `defaults` (own
    /// values win). A start mode counts as unset when it is `.automatic`,
    /// since PVM's syntax has no way to ask for that explicitly. This is
    /// PVM's `applydefaults()`.
    public func merged(over defaults: HostOptions) -> HostOptions {
        HostOptions(
            login: login ?? defaults.login,
            startMode: startMode == .automatic ? defaults.startMode : startMode,
            daemonPath: daemonPath ?? defaults.daemonPath,
            executablePath: executablePath ?? defaults.executablePath,
            workingDirectory: workingDirectory ?? defaults.workingDirectory,
            speed: speed ?? defaults.speed,
            debugger: debugger ?? defaults.debugger,
            alternateAddress: alternateAddress ?? defaults.alternateAddress,
            vmid: vmid ?? defaults.vmid,
            bind: bind ?? defaults.bind
        )
    }
}

/// One host of a hostfile, or one `pvm_addhosts` spec.
public struct HostEntry: Sendable, Equatable {
    /// The host name: a DNS name, an IPv4 address, or an IPv6 address
    /// (stored without the brackets it may have been written with).
    public var name: String
    /// The line's options with the defaults in effect at that line merged in.
    public var options: HostOptions
    /// `false` for a line starting with `&`: recorded (its options are used
    /// when the host is added later), but not started with the machine.
    public var startNow: Bool

    public init(name: String, options: HostOptions = HostOptions(), startNow: Bool = true) {
        self.name = name
        self.options = options
        self.startNow = startNow
    }
}

/// A parse error in a hostfile, a host spec or a Slurm host list. The
/// description names where (line number, or the spec) and what exactly is wrong.
public struct HostfileError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// `key=value` with a key PVM does not know.
        case unknownOption
        /// A word without `=` where an option was expected.
        case missingEquals
        /// `key=` with nothing after it (or nothing left after expanding variables).
        case emptyValue
        /// The same option twice on one line.
        case duplicateOption
        /// A known option with a value it cannot take (`sp=0`, `so=xx`, `lo=-x`, `ip=a;b`).
        case badValue
        /// A line of options without a host name in front.
        case missingHostName
        /// A host name that is not a DNS name, IPv4 or IPv6 address, or that
        /// contains characters a remote shell would interpret.
        case badHostName
        /// A `*` defaults line with a word that is not an option.
        case hostInDefaultsLine
        /// The same host on two lines.
        case duplicateHost
        /// PVM syntax this implementation does not support (`$host` overloading,
        /// `&*`, `*` or `&` in a `pvm_addhosts` spec).
        case unsupported
        /// A malformed `${VAR}`.
        case badVariable
        /// A malformed Slurm host list.
        case badHostList
    }

    /// Where the error is.
    public enum Origin: Sendable, Equatable {
        /// A hostfile, at this 1-based line.
        case hostfile(line: Int)
        /// One `pvm_addhosts` spec (the text as given).
        case hostSpec(String)
        /// A Slurm host list (the text as given).
        case slurmHostList(String)
    }

    public let kind: Kind
    public let origin: Origin
    /// What is wrong, without the location.
    public let message: String

    public init(_ kind: Kind, _ message: String, at origin: Origin) {
        self.kind = kind
        self.origin = origin
        self.message = message
    }

    /// The hostfile line, for errors in a hostfile.
    public var line: Int? {
        if case .hostfile(let line) = origin { return line }
        return nil
    }

    public var description: String {
        switch origin {
        case .hostfile(let line): "hostfile line \(line): \(message)"
        case .hostSpec(let text): "host spec \(HostfileText.quoted(HostfileText.abbreviated(text))): \(message)"
        case .slurmHostList(let text): "Slurm host list \(HostfileText.quoted(HostfileText.abbreviated(text))): \(message)"
        }
    }

    /// The PVM error a library call reports for this (`PvmDupHost` for a
    /// duplicate host, `PvmBadParam` otherwise).
    public var pvmError: PVMError {
        PVMError(kind == .duplicateHost ? .dupHost : .badParam, description)
    }
}

/// A parsed hostfile.
public struct Hostfile: Sendable, Equatable {
    /// The hosts, in file order, each with the defaults in effect at its line merged in.
    public var entries: [HostEntry]
    /// The options of the last `*` line (empty without one). As in PVM, a
    /// `*` line replaces the previous defaults; they are kept for later
    /// `pvm_addhosts` calls (`parseHostSpec(_:defaults:)`).
    public var defaults: HostOptions

    public init(entries: [HostEntry] = [], defaults: HostOptions = HostOptions()) {
        self.entries = entries
        self.defaults = defaults
    }

    /// The option keys, in PVM's documentation order.
    public static let optionKeys = ["lo", "so", "dx", "ep", "wd", "sp", "bx", "ip", "id", "bind"]

    /// Parses a hostfile.
    ///
    /// - Parameter expand: resolves a variable name (from `$NAME` or
    ///   `${NAME}` in an option value) to its value. `nil` keeps the
    ///   reference as written, to be expanded on the host (PVM's pvmd does
    ///   this there); the default keeps every reference.
    public static func parse(
        _ text: String, expand: (String) -> String? = { _ in nil }
    ) throws(HostfileError) -> Hostfile {
        var result = Hostfile()
        var firstLine: [String: Int] = [:]  // host key -> line it was first seen on
        var number = 0
        // "\r\n" is one Character in Swift, so it must be named as a separator.
        for lineText in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            number += 1
            let origin = HostfileError.Origin.hostfile(line: number)
            guard let line = try HostLine.parse(lineText, expand: expand, at: origin) else { continue }
            switch line {
            case .defaults(let options):
                result.defaults = options
            case .host(let name, let options, let startNow):
                let key = hostKey(name)
                if let first = firstLine[key] {
                    throw HostfileError(
                        .duplicateHost,
                        "host \(HostfileText.quoted(name)) is listed twice (first on line \(first))", at: origin)
                }
                firstLine[key] = number
                result.entries.append(
                    HostEntry(name: name, options: options.merged(over: result.defaults), startNow: startNow))
            }
        }
        return result
    }

    /// Parses one `pvm_addhosts` string, such as `"node2 ep=/x:/y wd=/tmp so=ms"`,
    /// and merges `defaults` (a hostfile's `*` options) under its own.
    /// `*` and `&` lines belong in a hostfile and are refused here.
    /// `expand` works as for `parse(_:expand:)`.
    public static func parseHostSpec(
        _ line: String, defaults: HostOptions, expand: (String) -> String? = { _ in nil }
    ) throws(HostfileError) -> HostEntry {
        let origin = HostfileError.Origin.hostSpec(line)
        // A trailing line break (a line read from a file) is whitespace; one inside is two lines.
        var text = line[...]
        while let last = text.last, last.isNewline || HostLine.isBlank(last) { text = text.dropLast() }
        if text.contains(where: \.isNewline) {
            throw HostfileError(.badHostName, "a host spec is one line, but this one contains a line break", at: origin)
        }
        guard let parsed = try HostLine.parse(text, expand: expand, at: origin) else {
            throw HostfileError(.missingHostName, "the spec is empty (expected a host name and options)", at: origin)
        }
        switch parsed {
        case .defaults:
            throw HostfileError(
                .unsupported, "\"*\" defaults can only be set in a hostfile, not by pvm_addhosts", at: origin)
        case .host(_, _, startNow: false):
            throw HostfileError(
                .unsupported, "\"&\" (record without starting) only means something in a hostfile", at: origin)
        case .host(let name, let options, startNow: true):
            return HostEntry(name: name, options: options.merged(over: defaults), startNow: true)
        }
    }

    /// The name under which duplicates are detected: DNS names are
    /// case-insensitive and a trailing root dot changes nothing.
    public static func hostKey(_ name: String) -> String {
        var key = String(name.lazy.map { $0.isASCII ? Character($0.lowercased()) : $0 })
        if key.count > 1, key.hasSuffix(".") { key.removeLast() }
        return key
    }
}

// MARK: - One line

/// A hostfile line or host spec, parsed but before defaults are applied.
enum HostLine {
    case defaults(HostOptions)
    case host(name: String, options: HostOptions, startNow: Bool)

    /// Parses one line; `nil` for a blank or comment-only line.
    static func parse(
        _ line: Substring, expand: (String) -> String?, at origin: HostfileError.Origin
    ) throws(HostfileError) -> HostLine? {
        var words = HostLine.words(line)
        guard !words.isEmpty else { return nil }

        // Leading markers, as PVM reads them: any run of `&` and `$`.
        var startNow = true
        while let first = words.first, let marker = first.first, marker == "&" || marker == "$" {
            if marker == "$" {
                throw HostfileError(
                    .unsupported,
                    "\(HostfileText.quoted(first)): overloading a host (\"$\" prefix, PVM's OVERLOADHOST build option) is not supported",
                    at: origin)
            }
            startNow = false
            let rest = first.dropFirst()
            if rest.isEmpty {
                words.removeFirst()
                guard !words.isEmpty else {
                    throw HostfileError(.missingHostName, "\"&\" must be followed by a host name", at: origin)
                }
            } else {
                words[0] = rest
            }
        }

        let first = words[0]
        if first.first == "*" {
            guard startNow else {
                throw HostfileError(
                    .unsupported,
                    "\"&\" cannot mark a \"*\" defaults line (put \"&\" in front of each host instead)",
                    at: origin)
            }
            var optionWords = Array(words.dropFirst())
            if first.count > 1 { optionWords.insert(first.dropFirst(), at: 0) }
            let options = try parseOptions(optionWords, expand: expand, at: origin) { word throws(HostfileError) in
                throw HostfileError(
                    .hostInDefaultsLine,
                    "a \"*\" line sets defaults and takes only key=value options, but \(HostfileText.quoted(word)) looks like a host name (put each host on its own line)",
                    at: origin)
            }
            return .defaults(options)
        }

        if let eq = first.firstIndex(of: "="), HostOptionKey(rawValue: String(first[..<eq])) != nil {
            throw HostfileError(
                .missingHostName,
                "\(HostfileText.quoted(first)) is an option, but a line must start with a host name (use \"* \(first)\" to set defaults for the lines after it)",
                at: origin)
        }
        let name: String
        switch HostNameCheck.check(first) {
        case .valid(let normalized): name = normalized
        case .invalid(let reason):
            throw HostfileError(.badHostName, "host name \(HostfileText.quoted(first)) \(reason)", at: origin)
        }
        let options = try parseOptions(Array(words.dropFirst()), expand: expand, at: origin) { word throws(HostfileError) in
            throw HostfileError(
                .missingEquals,
                "unexpected word \(HostfileText.quoted(word)) after host \(HostfileText.quoted(name)) (options are key=value; one host per line)",
                at: origin)
        }
        return .host(name: name, options: options, startNow: startNow)
    }

    /// The line's whitespace-separated words, up to a `#` that starts a word
    /// (at the start of the line or after whitespace): the rest is a comment.
    static func words(_ line: Substring) -> [Substring] {
        var out: [Substring] = []
        for word in line.split(whereSeparator: isBlank) {
            if word.first == "#" { break }
            out.append(word)
        }
        return out
    }

    static func isBlank(_ c: Character) -> Bool {
        c == " " || c == "\t" || c == "\r" || c == "\u{0B}" || c == "\u{0C}"
    }

    /// Parses `key=value` words. `stray` is called (and must throw) for a word
    /// without `=` that is not an option key either.
    static func parseOptions(
        _ words: [Substring], expand: (String) -> String?, at origin: HostfileError.Origin,
        stray: (Substring) throws(HostfileError) -> Never
    ) throws(HostfileError) -> HostOptions {
        var options = HostOptions()
        var seen: [HostOptionKey: Substring] = [:]
        for word in words {
            guard let eq = word.firstIndex(of: "=") else {
                if let key = HostOptionKey(rawValue: String(word)) {
                    throw HostfileError(
                        .missingEquals, "option \(HostfileText.quoted(word)) has no value (write \(key.rawValue)=VALUE)", at: origin)
                }
                try stray(word)
            }
            guard let key = HostOptionKey(rawValue: String(word[..<eq])) else {
                throw HostfileError(
                    .unknownOption,
                    "unknown option \(HostfileText.quoted(word)) (known: \(Hostfile.optionKeys.joined(separator: " ")))",
                    at: origin)
            }
            if let previous = seen[key] {
                throw HostfileError(
                    .duplicateOption,
                    "option \(key.rawValue)= is given twice (\(HostfileText.quoted(previous)) and \(HostfileText.quoted(word)))", at: origin)
            }
            seen[key] = word
            let written = word[word.index(after: eq)...]
            guard !written.isEmpty else {
                throw HostfileError(.emptyValue, "option \(HostfileText.quoted(word)) has an empty value", at: origin)
            }
            let value = try expandVariables(written, in: word, expand: expand, at: origin)
            guard !value.isEmpty else {
                throw HostfileError(
                    .emptyValue, "option \(HostfileText.quoted(word)) is empty after expanding variables", at: origin)
            }
            try key.apply(value, written: word, to: &options, at: origin)
        }
        return options
    }

    /// Replaces `$NAME` and `${NAME}` (NAME: letters, digits, `_`, not
    /// starting with a digit) by `expand(NAME)`, keeping the reference as
    /// written when that is `nil`. A `$` not followed by a name stays.
    static func expandVariables(
        _ value: Substring, in word: Substring, expand: (String) -> String?, at origin: HostfileError.Origin
    ) throws(HostfileError) -> String {
        guard value.contains("$") else { return String(value) }
        var out = ""
        var i = value.startIndex
        while i < value.endIndex {
            let c = value[i]
            let next = value.index(after: i)
            guard c == "$", next < value.endIndex else {
                out.append(c)
                i = next
                continue
            }
            if value[next] == "{" {
                let nameStart = value.index(after: next)
                guard let close = value[nameStart...].firstIndex(of: "}") else {
                    throw HostfileError(
                        .badVariable, "\(HostfileText.quoted(word)) has \"${\" without a closing \"}\"", at: origin)
                }
                let name = value[nameStart..<close]
                guard isVariableName(name) else {
                    throw HostfileError(
                        .badVariable,
                        "\(HostfileText.quoted(word)) has \"${\(name)}\", which is not a variable name (letters, digits and \"_\", not starting with a digit)",
                        at: origin)
                }
                out += expand(String(name)) ?? "${\(name)}"
                i = value.index(after: close)
            } else {
                var end = next
                while end < value.endIndex, isVariableCharacter(value[end], first: end == next) {
                    end = value.index(after: end)
                }
                if end == next {
                    out.append("$")
                    i = next
                    continue
                }
                let name = value[next..<end]
                out += expand(String(name)) ?? "$\(name)"
                i = end
            }
        }
        return out
    }

    static func isVariableName(_ s: Substring) -> Bool {
        guard !s.isEmpty else { return false }
        var first = true
        for c in s {
            guard isVariableCharacter(c, first: first) else { return false }
            first = false
        }
        return true
    }

    static func isVariableCharacter(_ c: Character, first: Bool) -> Bool {
        guard c.isASCII else { return false }
        if c == "_" || c.isLetter { return true }
        return !first && c.isNumber
    }
}

// MARK: - Options

/// The option keys PVM knows.
enum HostOptionKey: String, Hashable {
    case lo, so, dx, ep, wd, sp, bx, ip, id
    /// Not PVM's: NUMA placement of the host's spawned tasks.
    case bind

    /// Checks `value` (already expanded) and stores it.
    func apply(
        _ value: String, written word: Substring, to options: inout HostOptions, at origin: HostfileError.Origin
    ) throws(HostfileError) {
        switch self {
        case .lo:
            if let reason = Self.loginProblem(value) {
                throw HostfileError(.badValue, "login name \(HostfileText.quoted(word)) \(reason)", at: origin)
            }
            options.login = value
        case .so:
            switch value {
            case "pw": options.startMode = .password
            case "ms": options.startMode = .manual
            default:
                throw HostfileError(
                    .badValue,
                    "unknown start mode \(HostfileText.quoted(word)) (known: so=pw to ask for a password, so=ms for a manual start)",
                    at: origin)
            }
        case .dx: options.daemonPath = value
        case .ep: options.executablePath = value
        case .wd: options.workingDirectory = value
        case .sp:
            let range = HostOptions.speedRange
            guard value.count <= 9, value.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let n = Int32(value), range.contains(n)
            else {
                throw HostfileError(
                    .badValue,
                    "speed \(HostfileText.quoted(word)) must be a whole number from \(range.lowerBound) to \(range.upperBound)",
                    at: origin)
            }
            options.speed = n
        case .bx: options.debugger = value
        case .ip:
            switch HostNameCheck.check(value[...]) {
            case .valid(let normalized): options.alternateAddress = normalized
            case .invalid(let reason):
                throw HostfileError(.badValue, "alternate address \(HostfileText.quoted(word)) \(reason)", at: origin)
            }
        case .id: options.vmid = value
        case .bind:
            do { options.bind = try Placement(parsing: value) } catch {
                throw HostfileError(.badValue, "\(HostfileText.quoted(word)): \(error)", at: origin)
            }
        }
    }

    /// Why `name` cannot be a login name passed to a remote shell, if it cannot.
    static func loginProblem(_ name: String) -> String? {
        if name.first == "-" { return "starts with \"-\", which ssh would read as an option" }
        for c in name where !(c.isASCII && (c.isLetter || c.isNumber || c == "." || c == "_" || c == "-" || c == "@")) {
            return "contains \(HostfileText.describe(c)), which is not allowed in a login name (allowed: letters, digits, \".\", \"_\", \"-\", \"@\")"
        }
        return nil
    }
}

// MARK: - Host names

/// Validation of host names that will be handed to a remote shell.
enum HostNameCheck: Equatable {
    case valid(String)
    case invalid(String)

    /// Characters a POSIX shell treats specially.
    static let shellMetacharacters: Set<Character> = [
        ";", "&", "|", "<", ">", "(", ")", "$", "`", "\\", "\"", "'", "*", "?", "[", "]",
        "{", "}", "!", "~", "#", "=", "%", "^", ",",
    ]

    static let allowed = "(allowed: letters, digits, \"-\", \"_\", \".\"; IPv6 addresses plain or in [brackets])"

    /// Checks a DNS name, IPv4 address, or plain or bracketed IPv6 address;
    /// `.valid` carries the name to use (IPv6 without brackets).
    static func check(_ name: Substring) -> HostNameCheck {
        guard !name.isEmpty else { return .invalid("is empty") }
        if name.first == "[" {
            guard name.last == "]", name.count > 2 else {
                return .invalid("opens \"[\" but does not end with \"]\" (write an IPv6 address as [addr])")
            }
            let inner = name.dropFirst().dropLast()
            return isIPv6(inner)
                ? .valid(String(inner)) : .invalid("is bracketed, but \(HostfileText.quoted(inner)) is not a valid IPv6 address")
        }
        if name.contains(":") {
            if isIPv6(name) { return .valid(String(name)) }
            if let colon = name.lastIndex(of: ":"), !name[..<colon].contains(":"),
               !name[name.index(after: colon)...].isEmpty,
               name[name.index(after: colon)...].allSatisfy({ $0.isASCII && $0.isNumber })
            {
                return .invalid("is neither a host name nor an IPv6 address (\":N\" slot counts are not PVM hostfile syntax)")
            }
            return .invalid("contains \":\" but is not a valid IPv6 address")
        }
        if name.first == "-" { return .invalid("starts with \"-\", which ssh would read as an option") }
        for c in name where !(c.isASCII && (c.isLetter || c.isNumber || c == "-" || c == "_" || c == ".")) {
            if shellMetacharacters.contains(c) || isBlankOrControl(c) {
                return .invalid("contains \(HostfileText.describe(c)), which a remote shell would interpret \(allowed)")
            }
            if !c.isASCII {
                return .invalid("contains \(HostfileText.describe(c)); write internationalized names in their ASCII form (\"xn--...\") \(allowed)")
            }
            return .invalid("contains \(HostfileText.describe(c)), which is not allowed in a host name \(allowed)")
        }
        if name.allSatisfy({ $0.isNumber || $0 == "." }) {
            return isIPv4(name)
                ? .valid(String(name)) : .invalid("looks like an IPv4 address but is not one (four numbers 0-255, like 10.0.0.1)")
        }
        if name.utf8.count > 253 { return .invalid("is longer than 253 characters") }
        let labels = name.hasSuffix(".") ? name.dropLast().split(separator: ".", omittingEmptySubsequences: false)
                                         : name.split(separator: ".", omittingEmptySubsequences: false)
        for label in labels {
            if label.isEmpty { return .invalid("has an empty label (\"..\", or a \".\" at the start)") }
            if label.count > 63 { return .invalid("has a label longer than 63 characters (\(HostfileText.quoted(label.prefix(20)))...)") }
            if label.first == "-" || label.last == "-" {
                return .invalid("has a label that starts or ends with \"-\" (\(HostfileText.quoted(label)))")
            }
        }
        return .valid(String(name))
    }

    /// Dotted-quad IPv4: four decimal numbers 0...255 of 1-3 digits.
    static func isIPv4(_ s: Substring) -> Bool {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return false }
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let n = Int(part), n <= 255
            else { return false }
        }
        return true
    }

    /// RFC 4291 text form: hex groups, at most one `::`, an optional dotted
    /// IPv4 tail, and an optional `%zone` (letters, digits, `.`, `_`, `-`).
    static func isIPv6(_ s: Substring) -> Bool {
        var address = s
        if let percent = s.firstIndex(of: "%") {
            let zone = s[s.index(after: percent)...]
            guard !zone.isEmpty,
                  zone.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "_" || $0 == "-") })
            else { return false }
            address = s[..<percent]
        }
        guard address.contains(":") else { return false }

        func groups(_ part: Substring, allowIPv4Tail: Bool) -> Int? {
            if part.isEmpty { return 0 }
            let fields = part.split(separator: ":", omittingEmptySubsequences: false)
            var count = 0
            for (i, field) in fields.enumerated() {
                if allowIPv4Tail, i == fields.count - 1, field.contains(".") {
                    guard isIPv4(field) else { return nil }
                    count += 2
                } else {
                    guard (1...4).contains(field.count), field.allSatisfy({ $0.isHexDigit && $0.isASCII }) else { return nil }
                    count += 1
                }
            }
            return count
        }

        // At most one `::`; the groups on both sides then total at most 7.
        if let range = address.firstRange(of: "::") {
            let head = address[..<range.lowerBound]
            let tail = address[range.upperBound...]
            guard !tail.contains("::"), !head.hasSuffix(":"), !tail.hasPrefix(":") else { return false }
            guard let h = groups(head, allowIPv4Tail: false), let t = groups(tail, allowIPv4Tail: true) else { return false }
            return h + t <= 7
        }
        return groups(address, allowIPv4Tail: true) == 8
    }

    static func isBlankOrControl(_ c: Character) -> Bool {
        c.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F || $0 == " " }
    }
}

// MARK: - Message helpers

/// Text helpers for the messages of `HostfileError` (shared with `SlurmHostList`).
enum HostfileText {
    /// `"text"` for a message.
    static func quoted<S: StringProtocol>(_ s: S) -> String { "\"\(s)\"" }

    /// A long input cut to fit an error message.
    static func abbreviated(_ s: String, limit: Int = 60) -> String {
        s.count <= limit ? s : String(s.prefix(limit)) + "..."
    }

    /// A character for a message: quoted when printable, as U+XXXX otherwise.
    static func describe(_ c: Character) -> String {
        if c == " " { return "a space" }
        if c.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            let codes = c.unicodeScalars.map { "U+" + hex4($0.value) }.joined(separator: " ")
            return "a control character (\(codes))"
        }
        return quoted(String(c))
    }

    private static func hex4(_ v: UInt32) -> String {
        let s = String(v, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - s.count)) + s
    }
}

extension HostEntry {
    /// The entry as one `pvm_addhosts` spec ("name key=value ..."), the
    /// options it carries written out (defaults already merged in).
    public var spec: String {
        var words = [name]
        let o = options
        if let v = o.login { words.append("lo=\(v)") }
        switch o.startMode {
        case .automatic: break
        case .password: words.append("so=pw")
        case .manual: words.append("so=ms")
        }
        if let v = o.daemonPath { words.append("dx=\(v)") }
        if let v = o.executablePath { words.append("ep=\(v)") }
        if let v = o.workingDirectory { words.append("wd=\(v)") }
        if let v = o.speed { words.append("sp=\(v)") }
        if let v = o.debugger { words.append("bx=\(v)") }
        if let v = o.alternateAddress { words.append("ip=\(v)") }
        if let v = o.vmid { words.append("id=\(v)") }
        if let v = o.bind { words.append("bind=\(v)") }
        return words.joined(separator: " ")
    }
}
