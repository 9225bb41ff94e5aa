import PVMSystem

/// A ring segment with both its ends in this process: what the micro-
/// benchmarks and the clear-box tests drive. Same code as the cross-process
/// path (`RingProducer`/`RingConsumer`), minus the sockets.
public struct ShmInProcessRing: ~Copyable {
    @usableFromInline let segment: SharedSegment
    @usableFromInline var producer: RingProducer
    @usableFromInline var consumer: RingConsumer

    /// A ring of `capacity` data bytes (power of two, >= 4096); `startingAt`
    /// places both ends at that absolute position, so tests and benchmarks
    /// can start next to the wrap point.
    public init(capacity: Int, startingAt position: UInt64 = 0) throws(TransportError) {
        do {
            segment = try SharedSegment(name: "pvm-ring-test", size: RingLayout.segmentSize(capacity: capacity))
        } catch {
            throw TransportError(error, "creating an in-process ring")
        }
        let layout = RingLayout(initializing: segment.base, capacity: capacity, creatorPID: 0)
        producer = RingProducer(layout)
        consumer = RingConsumer(layout)
        producer.tail = position
        producer.cachedHead = position
        consumer.head = position
        consumer.published = position
        layout.head.storeBytes(of: position, as: UInt64.self)
    }

    /// Largest message one record carries.
    public var maxMessage: Int { producer.maxPayload }

    /// Copies `bytes` in as one record; false when the ring is full.
    @inlinable
    public mutating func tryPush(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count <= producer.maxPayload, let payload = producer.reserve(bytes.count) else { return false }
        if bytes.count > 0 { payload.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
        _ = producer.commit(.inline, length: bytes.count)
        return true
    }

    /// Hands the next message to `body`; false when the ring is empty.
    @inlinable
    public mutating func tryPop(_ body: (UnsafeRawBufferPointer) throws -> Void) rethrows -> Bool {
        while let record = consumer.ready() {
            guard let (kind, length) = consumer.decode(record) else { return false }
            if kind == .pad {
                _ = consumer.advance(kind, length: length)
                continue
            }
            defer { _ = consumer.advance(kind, length: length) }
            try body(UnsafeRawBufferPointer(start: record + recordHeaderSize, count: length))
            return true
        }
        _ = consumer.idle()
        return false
    }

    /// Absolute producer and consumer positions (for tests).
    public var positions: (tail: UInt64, head: UInt64) { (producer.tail, consumer.head) }
}

/// A pair's express line with both its halves in this process: what the
/// micro-benchmarks drive. Same code as the cross-process path
/// (`ExpressLine`), minus the rings around it.
public struct ShmInProcessExpressLine: ~Copyable {
    @usableFromInline let line: UnsafeMutableRawPointer
    @usableFromInline var connecting: ExpressLine
    @usableFromInline var accepting: ExpressLine
    @usableFromInline let scratch: UnsafeMutableRawPointer

    public init() {
        line = .allocate(byteCount: 64, alignment: 64)
        line.initializeMemory(as: UInt8.self, repeating: 0, count: 64)
        connecting = ExpressLine(line: line, connector: true)
        accepting = ExpressLine(line: line, connector: false)
        scratch = .allocate(byteCount: ExpressLine.capacity, alignment: 16)
    }

    deinit {
        line.deallocate()
        scratch.deallocate()
    }

    /// Largest message.
    public static var capacity: Int { ExpressLine.capacity }

    /// Writes `bytes` from one side (the connecting one if `fromConnector`);
    /// false when the other side has not taken the last message yet.
    @inlinable
    public mutating func tryWrite(_ bytes: UnsafeRawBufferPointer, fromConnector: Bool) -> Bool {
        fromConnector ? Self.tryWrite(bytes, &connecting) : Self.tryWrite(bytes, &accepting)
    }

    @inlinable
    static func tryWrite(_ bytes: UnsafeRawBufferPointer, _ side: inout ExpressLine) -> Bool {
        guard bytes.count <= ExpressLine.capacity, side.acknowledged() else { return false }
        side.write(bytes, flags: 0, position: 0)
        return true
    }

    /// Takes the other side's message on one side and hands it to `body`;
    /// false when there is none.
    @inlinable
    public mutating func tryTake(atConnector: Bool, _ body: (UnsafeRawBufferPointer) throws -> Void) rethrows -> Bool {
        let taken = atConnector ? Self.take(&connecting, into: scratch) : Self.take(&accepting, into: scratch)
        guard let taken else { return false }
        try body(UnsafeRawBufferPointer(start: scratch, count: taken.length))
        return true
    }

    @inlinable
    static func take(_ side: inout ExpressLine, into scratch: UnsafeMutableRawPointer) -> (length: Int, flags: UInt16)? {
        side.incoming() ? side.take(into: scratch) : nil
    }
}
