import PVMControl
import PVMEncoding

/// A message handler (pvm_addmhf): messages matching (source, tag,
/// context), each -1 for any, go to `function` instead of a receive.
struct MessageHandler {
    let source: Int32
    let tag: Int32
    let context: Int32
    let function: (Int32) -> Int32

    func matches(_ h: FrameHeader) -> Bool {
        (source == -1 || source == h.source) && (tag == -1 || tag == h.tag) && (context == -1 || context == h.context)
    }
}

extension VirtualMachine {
    /// PVM's first handler id for programs (0 to 8 were its own).
    static let firstHandlerID: Int32 = 9

    /// Registers `function` for every message matching (source, tag,
    /// context) that arrives from now on (-1: any); returns the handler's
    /// id (pvm_addmhf). The function gets the message's buffer id and runs
    /// inside whichever PVM call takes the message in (a receive, a probe,
    /// a send that drains its rings); the buffer is freed when it returns.
    /// The same triple twice is `PvmExists`.
    ///
    /// ```swift
    /// let id = try vm.addMessageHandler(source: -1, tag: 99, context: -1) { bufid in
    ///     let progress: Int32 = (try? vm.buffer(bufid).unpack(Int32.self)) ?? 0
    ///     print("progress", progress)
    ///     return 0
    /// }
    /// ```
    public func addMessageHandler(source: Int32, tag: Int32, context ctx: Int32,
                                  _ function: @escaping (Int32) -> Int32) throws(PVMError) -> Int32 {
        if handlers.contains(where: { $0.map { $0.source == source && $0.tag == tag && $0.context == ctx } ?? false }) {
            throw PVMError(.exists, "a handler for source \(source), tag \(tag), context \(ctx)")
        }
        let handler = MessageHandler(source: source, tag: tag, context: ctx, function: function)
        if let free = handlers.firstIndex(where: { $0 == nil }) {
            handlers[free] = handler
            return Self.firstHandlerID + Int32(free)
        }
        handlers.append(handler)
        return Self.firstHandlerID + Int32(handlers.count - 1)
    }

    /// One past the highest handler id in use (or the first id when none is).
    public var messageHandlerIDLimit: Int32 { Self.firstHandlerID + Int32(handlers.count) }

    /// Removes handler `id` (pvm_delmhf); an unknown id is `PvmNotFound`.
    public func deleteMessageHandler(_ id: Int32) throws(PVMError) {
        let i = Int(id - Self.firstHandlerID)
        guard id >= Self.firstHandlerID, i < handlers.count, handlers[i] != nil else {
            throw PVMError(.notFound, "handler \(id) (mhid >= ndhandles or deleted)")
        }
        handlers[i] = nil
        while handlers.last.map({ $0 == nil }) == true { handlers.removeLast() }
    }

    /// Takes `h` for the first handler that matches, if one does (called
    /// as a message arrives); the handler runs once the reading is over.
    @inline(never)
    func takeForHandler(_ h: FrameHeader, _ body: UnsafeRawBufferPointer) throws(PVMError) -> Bool {
        guard let handler = handlers.first(where: { $0?.matches(h) ?? false }) ?? nil else { return false }
        let i = takeID()
        do { try withObject(i) { b throws(PVMError) in try b.load(received: body, encoding: h.encoding, signature: h.signature) } } catch {
            freeIDs.append(Int32(i))
            throw error
        }
        meta[i] = BufferMeta(inUse: true, tag: h.tag, source: h.source, destination: h.destination, context: h.context)
        handled.append((Int32(i), handler.function))
        return true
    }

    /// Runs the handlers of the messages they took, once the reading that
    /// took them is over (a handler may send, and receive, itself).
    func runHandlers() {
        guard !runningHandlers else { return }
        runningHandlers = true
        defer { runningHandlers = false }
        let saved = (wantSource, wantTag, waiting, matched)
        waiting = false
        while !handled.isEmpty {
            let (id, function) = handled.removeFirst()
            let i = Int(id)
            guard i < meta.count, meta[i].inUse else { continue }
            _ = function(id)
            if i < meta.count, meta[i].inUse, !meta[i].queued { release(i) }
        }
        (wantSource, wantTag, waiting, matched) = saved
    }
}
