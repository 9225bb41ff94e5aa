/// How the console reads a command line and the numbers in it, the way PVM
/// 3.4's console does, so that scripts and `.pvmrc` files written for it
/// mean the same here.
public enum ConsoleWords {
    /// Why a line could not be split.
    public enum Failure: Error, Equatable {
        /// A quote (or a final backslash) was not closed: `unmatched '`.
        case unmatched(Character)
        /// More words than a command may have.
        case tooManyWords
    }

    /// Most words in one command (the original's argument vector holds 127).
    public static let maxWords = 127

    /// Splits `line` into words: blanks separate words; `'...'` and
    /// `"..."` quote (the quotes are removed); a backslash takes the next
    /// character literally; a word starting with `#` begins a comment that
    /// runs to the end of the line.
    public static func split(_ line: String) -> Result<[String], Failure> {
        var words: [String] = []
        let chars = Array(line.unicodeScalars)
        var i = 0
        while i < chars.count {
            while i < chars.count && isBlank(chars[i]) { i += 1 }
            guard i < chars.count else { break }
            if chars[i] == "#" { break }
            if words.count >= maxWords { return .failure(.tooManyWords) }
            var word = String.UnicodeScalarView()
            var mode: Unicode.Scalar? = nil
            while i < chars.count {
                let c = chars[i]
                if let m = mode {
                    if m == "\\" {
                        word.append(c)
                        mode = nil
                    } else if c == m {
                        mode = nil
                    } else {
                        word.append(c)
                    }
                } else {
                    if isBlank(c) { break }
                    switch c {
                    case "\"", "'", "\\": mode = c
                    default: word.append(c)
                    }
                }
                i += 1
            }
            if let m = mode { return .failure(.unmatched(Character(m))) }
            words.append(String(word))
        }
        return .success(words)
    }

    static func isBlank(_ c: Unicode.Scalar) -> Bool {
        c == " " || c == "\t" || c == "\n" || c == "\r" || c == "\u{0B}" || c == "\u{0C}"
    }

    /// A task id as the console reads it: an optional `t`, then hexadecimal
    /// digits up to the first other character (`t40002`, `40002`). Text
    /// without digits reads as 0, which the commands reject as PVM does.
    public static func taskID(_ text: String) -> Int32 {
        var s = Substring(text)
        if s.first == "t" { s = s.dropFirst() }
        return Int32(bitPattern: hexPrefix(s))
    }

    static func hexPrefix(_ s: Substring) -> UInt32 {
        var v: UInt32 = 0
        for c in s.unicodeScalars {
            guard let d = hexDigit(c) else { break }
            v = v &<< 4 | d
        }
        return v
    }

    private static func hexDigit(_ c: Unicode.Scalar) -> UInt32? {
        switch c.value {
        case 48...57: return c.value - 48    // 0-9
        case 97...102: return c.value - 87   // a-f
        case 65...70: return c.value - 55    // A-F
        default: return nil
        }
    }

    /// A decimal number as C's `atoi` reads it: leading blanks, an optional
    /// sign, then digits up to the first other character; 0 when there are none.
    public static func integer(_ text: String) -> Int32 {
        var chars = Substring(text).unicodeScalars.drop { isBlank($0) }
        var negative = false
        if let f = chars.first, f == "-" || f == "+" {
            negative = f == "-"
            chars = chars.dropFirst()
        }
        var v: Int64 = 0
        for c in chars {
            guard c.value >= 48 && c.value <= 57 else { break }
            v = min(v * 10 + Int64(c.value - 48), Int64(Int32.max) + 1)
        }
        v = negative ? -v : v
        return Int32(clamping: v)
    }

    /// A number in C's conventions for debug masks: `0x` hexadecimal, a
    /// leading `0` octal, else decimal.
    public static func cInteger(_ text: String) -> Int32 {
        if text.hasPrefix("0x") || text.hasPrefix("0X") {
            return Int32(bitPattern: hexPrefix(Substring(text).dropFirst(2)))
        }
        if text.hasPrefix("0"), text.count > 1 {
            var v: UInt32 = 0
            for c in text.unicodeScalars.dropFirst() {
                guard c.value >= 48 && c.value <= 55 else { break }
                v = v &<< 3 | (c.value - 48)
            }
            return Int32(bitPattern: v)
        }
        return integer(text)
    }
}

/// Fixed-width columns as the original console's printf formats lay them out.
enum Columns {
    /// `%Ns`: right-aligned in `width` (never cut).
    static func right(_ s: String, _ width: Int) -> String {
        let n = s.count
        return n >= width ? s : String(repeating: " ", count: width - n) + s
    }

    /// `%-Ns`: left-aligned in `width` (never cut).
    static func left(_ s: String, _ width: Int) -> String {
        let n = s.count
        return n >= width ? s : s + String(repeating: " ", count: width - n)
    }

    /// `%x`: lower-case hexadecimal of the 32-bit pattern.
    static func hex(_ v: Int32) -> String { String(UInt32(bitPattern: v), radix: 16) }

    /// `%08x`.
    static func hex8(_ v: UInt32) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: max(0, 8 - s.count)) + s
    }

    /// A task's flags as `ps` shows them: the value in hexadecimal, a
    /// slash, then the letters of the set bits from the highest down
    /// (`6/c,f` for a connected task the daemon spawned). No letters: the
    /// value alone (`40`).
    static func taskFlags(_ flags: Int32) -> String {
        let letters: [(Int32, String)] = [
            (0x400, "T"), (0x200, "H"), (0x100, "R"), (0x20, "s"), (0x10, "o"), (0x8, "a"), (0x4, "c"), (0x2, "f"),
        ]
        let set = letters.filter { flags & $0.0 != 0 }.map(\.1)
        return set.isEmpty ? hex(flags) : hex(flags) + "/" + set.joined(separator: ",")
    }
}
