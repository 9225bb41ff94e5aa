#if canImport(Glibc)
import Glibc
#endif

/// Buffered output to a file descriptor (standard output, or the file a
/// `spawn ->file` job writes to). Text is collected and written with
/// `write(2)` at `flush`, so the console's output and the diagnostics it
/// sends to standard error come out in the order they were made.
final class OutputChannel {
    let fd: Int32
    private let owned: Bool
    private var buffer: [UInt8] = []

    init(fd: Int32, owned: Bool = false) {
        self.fd = fd
        self.owned = owned
    }

    func write(_ s: String) { buffer.append(contentsOf: s.utf8) }
    func write<C: Collection>(bytes: C) where C.Element == UInt8 { buffer.append(contentsOf: bytes) }

    /// `s` and a newline.
    func line(_ s: String) {
        buffer.append(contentsOf: s.utf8)
        buffer.append(10)
    }

    /// Writes what is buffered. A reader that went away (EPIPE) or a full
    /// disk loses the text; the console carries on, as the original does.
    func flush() {
        var offset = 0
        while offset < buffer.count {
            let n = buffer.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n > 0 { offset += n; continue }
            if n < 0 && errno == EINTR { continue }
            break
        }
        buffer.removeAll(keepingCapacity: true)
    }

    func close() {
        flush()
        if owned { _ = Glibc.close(fd) }
    }
}

/// Lines from standard input, read with `read(2)` (no stdio buffering, so
/// waiting for input and reading it agree on what is there).
struct InputLines {
    let fd: Int32
    private var pending: [UInt8] = []
    private(set) var atEnd = false

    init(fd: Int32) { self.fd = fd }

    /// The next complete line (without its newline). At end of input, a
    /// last line without a newline is returned too.
    mutating func next() -> String? {
        if let nl = pending.firstIndex(of: 10) {
            let line = String(decoding: pending[..<nl], as: UTF8.self)
            pending.removeSubrange(...nl)
            return line
        }
        if atEnd && !pending.isEmpty {
            let line = String(decoding: pending, as: UTF8.self)
            pending.removeAll()
            return line
        }
        return nil
    }

    /// True when nothing is left to read: input ended and every line was taken.
    var exhausted: Bool { atEnd && pending.isEmpty }

    /// Reads once (blocking if nothing is there).
    mutating func fill() {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if n > 0 { pending.append(contentsOf: chunk[0..<n]); return }
            if n < 0 && errno == EINTR { continue }
            atEnd = true  // end of input, or an error reading it: either way there is no more
            return
        }
    }

    /// Is there input (or end of input) to read without blocking?
    func readable() -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while true {
            let r = poll(&p, 1, 0)
            if r < 0 && errno == EINTR { continue }
            return r > 0
        }
    }
}
