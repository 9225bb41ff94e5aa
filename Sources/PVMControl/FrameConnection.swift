#if canImport(Glibc)
import Glibc
#endif
import CSupport
import PVMEncoding
import PVMSystem

/// A stream socket that carries frames (`FrameHeader` + body) both ways:
/// the daemon's connection to each task, and the task's to its daemon.
///
/// Reading is incremental: `fill` takes what the kernel has (non-blocking
/// socket), `nextFrame` hands out each complete frame, validated. Writing
/// queues what the kernel does not take at once; `flush` continues it. The
/// input buffer grows as bytes arrive, never ahead of them, so a peer that
/// announces a huge frame costs nothing until it sends it.
///
/// One thread owns a connection (the daemon's loop, or the task's), so its
/// stored properties skip Swift's dynamic exclusivity checks, which are a
/// runtime call (swift_beginAccess) on every access of every frame.
public final class FrameConnection {
    public let fd: Int32
    @exclusivity(unchecked) private var input: UnsafeMutableRawPointer
    @exclusivity(unchecked) private var inputCapacity: Int
    @exclusivity(unchecked) private var inputStart = 0
    @exclusivity(unchecked) private var inputEnd = 0
    @exclusivity(unchecked) private var output: [UInt8] = []
    @exclusivity(unchecked) private var outputOffset = 0
    @exclusivity(unchecked) private var isClosed = false
    /// Whether `close` has run (this side's or a failed read's or write's).
    /// Computed: a stored property read from another module pays a dynamic
    /// exclusivity check there, whatever its attribute here.
    public var closed: Bool { isClosed }

    /// Takes ownership of `fd` and makes it non-blocking.
    public init(fd: Int32) {
        self.fd = fd
        _ = pvm_set_nonblocking(fd, 1)
        inputCapacity = 64 * 1024
        input = .allocate(byteCount: inputCapacity, alignment: 16)
    }

    deinit {
        input.deallocate()
        if !isClosed { _ = Glibc.close(fd) }
    }

    public func close() {
        guard !isClosed else { return }
        isClosed = true
        _ = Glibc.close(fd)
    }

    // MARK: Reading

    /// Reads what the kernel has. Returns false at end of stream (or on a
    /// connection error: the peer is gone either way).
    public func fill() -> Bool {
        while true {
            if inputEnd == inputCapacity { makeRoom() }
            let n = Glibc.read(fd, input + inputEnd, inputCapacity - inputEnd)
            if n > 0 {
                inputEnd += n
                if inputEnd < inputCapacity { return true }
                continue
            }
            if n == 0 { return false }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return true
            default: return false
            }
        }
    }

    /// One read of what the kernel has into the free space (making room
    /// only when there is none). Returns false at end of stream or on an
    /// error. Unlike `fill`, it never grows the buffer to take a large frame
    /// whole, so that frame's body can go straight to its destination
    /// (`pendingLargeFrame`).
    public func fillOnce() -> Bool {
        while true {
            if inputEnd == inputCapacity { makeRoom() }
            let n = Glibc.read(fd, input + inputEnd, inputCapacity - inputEnd)
            if n > 0 { inputEnd += n; return true }
            if n == 0 { return false }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return true
            default: return false
            }
        }
    }

    private func makeRoom() {
        let used = inputEnd - inputStart
        if inputStart > 0 && used < inputCapacity / 2 {
            input.copyMemory(from: input + inputStart, byteCount: used)
        } else {
            let bigger = UnsafeMutableRawPointer.allocate(byteCount: inputCapacity * 2, alignment: 16)
            bigger.copyMemory(from: input + inputStart, byteCount: used)
            input.deallocate()
            input = bigger
            inputCapacity *= 2
        }
        inputStart = 0
        inputEnd = used
    }

    /// The next complete frame, or nil when more bytes are needed. The
    /// whole frame (header included) is valid until the next call. Throws
    /// `PvmBadMsg` for a malformed header: the caller closes the connection.
    public func nextFrame() throws(PVMError) -> (FrameHeader, UnsafeRawBufferPointer)? {
        let available = inputEnd - inputStart
        guard available >= FrameHeader.size else {
            if available == 0 { inputStart = 0; inputEnd = 0 }
            return nil
        }
        let header = try FrameHeader.decode(UnsafeRawBufferPointer(start: input + inputStart, count: FrameHeader.size))
        guard UInt64(available) >= header.length else { return nil }
        let frame = UnsafeRawBufferPointer(start: input + inputStart, count: Int(header.length))
        inputStart += Int(header.length)
        return (header, frame)
    }

    /// The header of the next frame when only part of it has arrived and
    /// its body is at least `threshold` bytes: the caller may read the body
    /// straight into its destination with `startBody` and `continueBody` (no copy through this
    /// buffer). nil otherwise.
    public func pendingLargeFrame(threshold: Int) throws(PVMError) -> FrameHeader? {
        let available = inputEnd - inputStart
        guard available >= FrameHeader.size else { return nil }
        let header = try FrameHeader.decode(UnsafeRawBufferPointer(start: input + inputStart, count: FrameHeader.size))
        guard Int(header.length) - FrameHeader.size >= threshold, UInt64(available) < header.length else { return nil }
        return header
    }

    /// Starts taking the body of the frame `pendingLargeFrame` announced
    /// straight into `destination` (room for its whole body): consumes the
    /// header and copies what is buffered. Returns the body bytes taken so
    /// far; `continueBody` takes the rest as it arrives.
    public func startBody(of header: FrameHeader, into destination: UnsafeMutableRawPointer) -> Int {
        let body = Int(header.length) - FrameHeader.size
        inputStart += FrameHeader.size
        let buffered = min(inputEnd - inputStart, body)
        if buffered > 0 { destination.copyMemory(from: input + inputStart, byteCount: buffered) }
        inputStart += buffered
        if inputStart == inputEnd { inputStart = 0; inputEnd = 0 }
        return buffered
    }

    /// Reads more of a body begun by `startBody`, without waiting: `got` of
    /// `total` bytes are in `destination`. Returns the new count (equal to
    /// `total` when the body is complete), or nil when the peer closed or
    /// the connection failed. Never blocks: a peer that is itself waiting
    /// for this task to read stays served (two tasks streaming large
    /// messages at each other).
    public func continueBody(into destination: UnsafeMutableRawPointer, got: Int, of total: Int) -> Int? {
        var got = got
        while got < total {
            let n = Glibc.read(fd, destination + got, total - got)
            if n > 0 { got += n; continue }
            if n == 0 { return nil }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return got
            default: return nil
            }
        }
        return got
    }

    // MARK: Writing

    /// Writes a whole frame straight from `frame`, never queueing a copy:
    /// while the kernel takes no more, calls `waiting` (which may take in
    /// what arrives elsewhere) and waits for the socket. False when the peer
    /// is gone. For large messages on links where nothing else is queued.
    public func writeAll(frame: UnsafeRawBufferPointer, waiting: () throws(PVMError) -> Void) throws(PVMError) -> Bool {
        var whole = frame
        return try withUnsafePointer(to: &whole) { (one: UnsafePointer<UnsafeRawBufferPointer>) throws(PVMError) -> Bool in
            try writeAll(pieces: UnsafeBufferPointer(start: one, count: 1), waiting: waiting)
        }
    }

    /// `writeAll(frame:)` for a frame given as pieces (its header, then the
    /// body's pieces in order: an InPlace message's references into the
    /// program's memory), written with writev straight from them: no
    /// gathering copy. Same waiting and result as `writeAll(frame:)`.
    public func writeAll(pieces: UnsafeBufferPointer<UnsafeRawBufferPointer>, waiting: () throws(PVMError) -> Void) throws(PVMError) -> Bool {
        guard !closed, try flush(waiting: waiting) else { return false }
        var index = 0, offset = 0
        let maxVectors = 64
        return try withUnsafeTemporaryAllocation(of: iovec.self, capacity: maxVectors) { iov throws(PVMError) -> Bool in
            while true {
                while index < pieces.count && offset == pieces[index].count { index += 1; offset = 0 }
                if index == pieces.count { return true }
                var n = 0, i = index, o = offset
                while n < maxVectors && i < pieces.count {
                    let p = pieces[i]
                    if p.count > o {
                        iov[n] = iovec(iov_base: UnsafeMutableRawPointer(mutating: p.baseAddress! + o), iov_len: p.count - o)
                        n += 1
                    }
                    i += 1; o = 0
                }
                var written = Self.sendVector(fd, iov.baseAddress!, Int32(n))
                if written < 0 {
                    switch errno {
                    case EINTR: continue
                    case EAGAIN, EWOULDBLOCK:
                        try waiting()
                        // `waiting` may have closed this connection (its
                        // reading side found the peer gone): the descriptor
                        // may be another's by now.
                        if closed { return false }
                        _ = wait(events: Int16(POLLOUT), timeoutMilliseconds: 1)
                        continue
                    default: return false
                    }
                }
                while written > 0 {
                    let left = pieces[index].count - offset
                    if written < left { offset += written; written = 0 } else { written -= left; index += 1; offset = 0 }
                }
            }
        }
    }

    // MARK: Writing (queued)

    /// Sends a frame whose header is `header` (its length is set here) and
    /// whose body is `body`. What the kernel does not take now is queued.
    /// Returns false when the peer is gone.
    @discardableResult
    public func send(_ header: FrameHeader, body: UnsafeRawBufferPointer) -> Bool {
        var h = header
        h.length = UInt64(FrameHeader.size + body.count)
        var head = [UInt8](repeating: 0, count: FrameHeader.size)
        head.withUnsafeMutableBytes { h.encode(into: $0.baseAddress!) }
        return head.withUnsafeBytes { headBytes in sendPieces(headBytes, body) }
    }

    @discardableResult
    public func send(_ header: FrameHeader, body: [UInt8]) -> Bool {
        body.withUnsafeBytes { send(header, body: $0) }
    }

    /// Sends a complete frame (header already encoded in `frame`).
    @discardableResult
    public func send(frame: UnsafeRawBufferPointer) -> Bool {
        sendPieces(frame, UnsafeRawBufferPointer(start: nil, count: 0))
    }

    private func sendPieces(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard !closed else { return false }
        if !output.isEmpty {
            output.append(contentsOf: a)
            output.append(contentsOf: b)
            return flush()
        }
        var written = 0
        let total = a.count + b.count
        while written < total {
            let n: Int
            if written < a.count {
                // Two iovecs on the stack (an array's storage type would be
                // made at run time, in every task's first send).
                var iov = (iovec(iov_base: UnsafeMutableRawPointer(mutating: a.baseAddress! + written), iov_len: a.count - written),
                           iovec(iov_base: b.count > 0 ? UnsafeMutableRawPointer(mutating: b.baseAddress!) : nil, iov_len: b.count))
                let pieces: Int32 = b.count > 0 ? 2 : 1
                n = withUnsafeMutableBytes(of: &iov) { Self.sendVector(fd, $0.baseAddress!.assumingMemoryBound(to: iovec.self), pieces) }
            } else {
                n = Self.send(fd, b.baseAddress! + (written - a.count), total - written)
            }
            if n >= 0 { written += n; continue }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK:
                if written < a.count { output.append(contentsOf: a[(written)...]); output.append(contentsOf: b) }
                else { output.append(contentsOf: b[(written - a.count)...]) }
                outputOffset = 0
                return true
            default:
                return false
            }
        }
        return true
    }

    /// write(2) for a socket whose peer may be gone: EPIPE comes back as an
    /// error instead of a SIGPIPE that would end a program that did not ask
    /// for it (a PVM program sending to a task that just exited).
    @inline(__always)
    public static func send(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
        Glibc.send(fd, bytes, count, Int32(MSG_NOSIGNAL))
    }

    /// writev(2) the same way (sendmsg with MSG_NOSIGNAL).
    @inline(__always)
    static func sendVector(_ fd: Int32, _ iov: UnsafeMutablePointer<iovec>, _ count: Int32) -> Int {
        var message = msghdr()
        message.msg_iov = iov
        message.msg_iovlen = Int(count)
        return Glibc.sendmsg(fd, &message, Int32(MSG_NOSIGNAL))
    }

    /// Bytes queued and not yet taken by the kernel.
    public var pendingOutput: Int { output.count - outputOffset }

    /// Continues queued output. Returns false when the peer is gone.
    @discardableResult
    public func flush() -> Bool {
        guard !closed else { return false }
        while outputOffset < output.count {
            let n = output.withUnsafeBytes { Self.send(fd, $0.baseAddress! + outputOffset, output.count - outputOffset) }
            if n >= 0 { outputOffset += n; continue }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return true
            default: return false
            }
        }
        output.removeAll(keepingCapacity: output.capacity <= 1 << 20)
        outputOffset = 0
        return true
    }

    /// Writes the queued output, calling `waiting` (which may take in what
    /// arrives elsewhere) while the kernel takes no more. False when the
    /// peer is gone.
    public func flush(waiting: () throws(PVMError) -> Void) throws(PVMError) -> Bool {
        guard flush() else { return false }
        while pendingOutput > 0 {
            try waiting()
            if closed { return false }  // as in writeAll
            _ = wait(events: Int16(POLLOUT), timeoutMilliseconds: 1)
            guard flush() else { return false }
        }
        return true
    }

    /// Blocks until queued output is written or `timeoutMilliseconds` pass.
    public func flushBlocking(timeoutMilliseconds: Int32 = -1) -> Bool {
        while pendingOutput > 0 {
            guard flush() else { return false }
            if pendingOutput == 0 { break }
            guard wait(events: Int16(POLLOUT), timeoutMilliseconds: timeoutMilliseconds) else { return false }
        }
        return true
    }

    /// Waits until the socket is readable (or writable). False on timeout.
    public func wait(events: Int16 = Int16(POLLIN), timeoutMilliseconds: Int32) -> Bool {
        var p = pollfd(fd: fd, events: events, revents: 0)
        while true {
            let r = Glibc.poll(&p, 1, timeoutMilliseconds)
            if r < 0 && errno == EINTR { continue }
            return r > 0
        }
    }
}
