// Slurm's compressed host lists, as in SLURM_JOB_NODELIST (CONVENTIONS A13):
//
//     node[01-03,7],login1,rack[1-2]-gpu[1-2]
//
// Items are separated by commas (and, as Slurm also allows, whitespace)
// outside brackets. A bracket holds comma-separated numbers and ranges
// `lo-hi`; every number is printed zero-padded to the width of the range's
// own first number (`n[08-10]` -> n08 n09 n10; `n[8-10]` -> n8 n9 n10).
// Several bracket groups in one item give the cartesian product, the first
// group varying slowest, as Slurm orders it. Pure: no environment access
// except through `fromEnvironment(_:)`'s argument.

public enum SlurmHostList {
    /// The most hosts one list may expand to (Slurm's own range limit is 64 Ki).
    public static let maxHosts = 65536

    /// Expands a compressed host list into host names, in Slurm's order
    /// (duplicates are kept, as `hostlist_create` keeps them).
    public static func expand(_ list: String) throws(HostfileError) -> [String] {
        let origin = HostfileError.Origin.slurmHostList(list)
        func fail(_ message: String) -> HostfileError { HostfileError(.badHostList, message, at: origin) }

        let items = try splitItems(list, fail: fail)
        var hosts: [String] = []
        for item in items {
            let segments = try parseItem(item, fail: fail)
            var count = 1
            for case .numbers(let ranges) in segments {
                let n = ranges.reduce(0) { $0 + $1.count }
                let (product, overflow) = count.multipliedReportingOverflow(by: n)
                guard !overflow, product <= maxHosts else {
                    throw fail("\(HostfileText.quoted(item)) expands to more than \(maxHosts) hosts")
                }
                count = product
            }
            guard hosts.count + count <= maxHosts else {
                throw fail("the list expands to more than \(maxHosts) hosts")
            }
            hosts.reserveCapacity(hosts.count + count)
            generate(segments[...], prefix: "", into: &hosts)
        }
        return hosts
    }

    /// The node list Slurm gives a job: `SLURM_JOB_NODELIST`, else the older
    /// `SLURM_NODELIST`; `nil` outside Slurm. An empty value counts as unset.
    public static func fromEnvironment(_ env: [String: String]) -> String? {
        for key in ["SLURM_JOB_NODELIST", "SLURM_NODELIST"] {
            if let value = env[key], !value.allSatisfy(\.isWhitespace) { return value }
        }
        return nil
    }

    // MARK: - Parsing

    /// A range `lo...hi` printed at least `width` digits wide.
    struct NumberRange: Equatable {
        var lo: Int
        var hi: Int
        var width: Int
        var count: Int { hi - lo + 1 }
    }

    enum Segment: Equatable {
        case text(Substring)
        case numbers([NumberRange])
    }

    static func isSeparatorSpace(_ c: Character) -> Bool {
        c == " " || c == "\t" || c.isNewline  // isNewline covers "\r\n", one Character
    }

    /// Splits at commas and whitespace outside brackets, checking that
    /// brackets balance and do not nest.
    static func splitItems(
        _ list: String, fail: (String) -> HostfileError
    ) throws(HostfileError) -> [Substring] {
        guard !list.allSatisfy(isSeparatorSpace) else { throw fail("the list is empty") }
        var items: [Substring] = []
        var open: String.Index? = nil  // the "[" we are inside, if any
        var start = list.startIndex
        var i = list.startIndex

        // The list is not blank, so an empty piece is always next to a comma.
        func finish(_ end: String.Index) throws(HostfileError) {
            let words = list[start..<end].split(whereSeparator: isSeparatorSpace)
            if words.isEmpty { throw fail("empty item (a comma at the start or end, or two commas in a row)") }
            items += words
        }

        while i < list.endIndex {
            let c = list[i]
            if c == "[" {
                if open != nil { throw fail("nested \"[\" inside a bracket (brackets cannot nest)") }
                open = i
            } else if c == "]" {
                if open == nil { throw fail("\"]\" without a matching \"[\"") }
                open = nil
            } else if c == ",", open == nil {
                try finish(i)
                start = list.index(after: i)
            } else if isSeparatorSpace(c), open != nil {
                throw fail("whitespace inside a bracket")
            }
            i = list.index(after: i)
        }
        if open != nil { throw fail("\"[\" without a matching \"]\"") }
        try finish(list.endIndex)
        return items
    }

    /// Parses one item (brackets already known to balance) into text and number segments.
    static func parseItem(
        _ item: Substring, fail: (String) -> HostfileError
    ) throws(HostfileError) -> [Segment] {
        var segments: [Segment] = []
        var rest = item
        while let open = rest.firstIndex(of: "[") {
            if open > rest.startIndex { segments.append(.text(rest[..<open])) }
            let close = rest[open...].firstIndex(of: "]")!  // balanced: checked by splitItems
            let inside = rest[rest.index(after: open)..<close]
            segments.append(.numbers(try parseRanges(inside, item: item, fail: fail)))
            rest = rest[rest.index(after: close)...]
        }
        if !rest.isEmpty { segments.append(.text(rest)) }
        return segments
    }

    /// Parses `01-03,7` (the inside of a bracket).
    static func parseRanges(
        _ inside: Substring, item: Substring, fail: (String) -> HostfileError
    ) throws(HostfileError) -> [NumberRange] {
        let context = "in \(HostfileText.quoted(item))"
        guard !inside.isEmpty else { throw fail("empty brackets \"[]\" \(context)") }
        var ranges: [NumberRange] = []
        var total = 0
        for part in inside.split(separator: ",", omittingEmptySubsequences: false) {
            guard !part.isEmpty else {
                throw fail("empty range (a comma at the start or end of the bracket, or two in a row) \(context)")
            }
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
            guard bounds.count <= 2, bounds.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } })
            else {
                throw fail("\(HostfileText.quoted(part)) \(context) is not a number or a range of numbers like 1-4")
            }
            // 18 digits always fit an Int; more cannot be a sensible node number.
            guard bounds.allSatisfy({ $0.count <= 18 }), let lo = Int(bounds[0]), let hi = Int(bounds.last!) else {
                throw fail("number too large in \(HostfileText.quoted(part)) \(context)")
            }
            guard lo <= hi else {
                throw fail("reversed range \(HostfileText.quoted(part)) \(context) (the first number must not be larger than the second)")
            }
            let range = NumberRange(lo: lo, hi: hi, width: bounds[0].count)
            total += range.count
            guard range.count <= maxHosts, total <= maxHosts else {
                throw fail("\(HostfileText.quoted("[" + inside + "]")) \(context) expands to more than \(maxHosts) hosts")
            }
            ranges.append(range)
        }
        return ranges
    }

    /// Appends every name of `segments` (first number group varying slowest).
    static func generate(_ segments: ArraySlice<Segment>, prefix: String, into hosts: inout [String]) {
        guard let first = segments.first else {
            hosts.append(prefix)
            return
        }
        let rest = segments.dropFirst()
        switch first {
        case .text(let text):
            generate(rest, prefix: prefix + text, into: &hosts)
        case .numbers(let ranges):
            for range in ranges {
                for n in range.lo...range.hi {
                    generate(rest, prefix: prefix + padded(n, width: range.width), into: &hosts)
                }
            }
        }
    }

    static func padded(_ n: Int, width: Int) -> String {
        let digits = String(n)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}
