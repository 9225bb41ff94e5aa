#if canImport(Glibc)
import Glibc
#endif
import PVMControl
import PVMEncoding

// The message mailbox: whole messages stored under (name, index) in the
// master's daemon for every task of the machine to read (pvm_putinfo,
// pvm_recvinfo, pvm_delinfo, pvm_getmboxinfo), and PVM 3.3's integer
// database on top of it (pvm_insert, pvm_lookup, pvm_delete). A message is
// stored as it was packed (encoding, data signature and bytes), so reading
// it back gives the same buffer, converted while unpacking like any
// message from that task; an InPlace message is stored with its data
// copied at the time of the put.

/// One entry of a mailbox class, as `mailboxClasses(matching:)` lists it.
public struct MailboxEntry: Sendable, Equatable {
    public var index: Int32
    /// The task that put it; `TaskID(0)` for a persistent entry whose
    /// owner has exited (an orphan).
    public var owner: TaskID
    /// The flags it was put with (a direct index included).
    public var flags: MailboxFlags

    public init(index: Int32, owner: TaskID, flags: MailboxFlags) {
        self.index = index
        self.owner = owner
        self.flags = flags
    }

    /// Persistent, and its owner has exited.
    public var isOrphan: Bool { owner.rawValue == 0 }
}

/// One class (name) of the mailbox and its entries, by index (PVM's
/// struct pvmmboxinfo).
///
/// ```swift
/// for c in try vm.mailboxClasses(matching: "job.*") {
///     print(c.name, c.entries.map(\.index), c.entries.map(\.owner))
/// }
/// ```
public struct MailboxClass: Sendable, Equatable {
    public var name: String
    public var entries: [MailboxEntry]

    public init(name: String, entries: [MailboxEntry]) {
        self.name = name
        self.entries = entries
    }
}

/// An entry as the daemon handed it back.
struct FetchedInfo {
    var index: Int32
    /// The task that put it (still after it exited).
    var source: Int32
    var owner: Int32
    var flags: MailboxFlags
    var encoding: Encoding
    var signature: DataSignature
    var bytes: [UInt8]

    /// The message as a buffer of its own.
    func buffer() throws(PVMError) -> MessageBuffer {
        try bytes.withUnsafeBytes { raw in
            Result { () throws(PVMError) in try MessageBuffer(received: raw, encoding: encoding, signature: signature) }
        }.get()
    }
}

// MARK: The Swift API

extension VirtualMachine {
    /// Stores a copy of `message` in the mailbox under `name` and returns
    /// its index. Without flags the entry is index 0 of `name`, replaced by
    /// this task's next put there, and gone when this task exits. Another
    /// task's entry may not be replaced (PvmDenied) unless it was put
    /// `.overWritable`. `.directIndex(n)` puts at index n; with
    /// `.multiInstance` the entry takes the lowest free index (at or above
    /// a direct index) and never replaces one. `.persistent` keeps it after
    /// this task exits (its owner then reads 0).
    ///
    /// ```swift
    /// let m = Message()
    /// try m.pack(vm.myTid.rawValue)
    /// let slot = try vm.putInfo("servers", m, flags: [.multiInstance])
    /// ```
    public func putInfo(_ name: String, _ message: Message, flags: MailboxFlags = []) throws(PVMError) -> Int32 {
        try mailboxPut(name, message.buffer, flags: flags)
    }

    /// A copy of the message stored under (`name`, `index`); its source is
    /// the task that put it (also once that task has exited), its tag 0.
    /// `.firstAvailable`: the first entry at or above `index`;
    /// `.readAndDelete`: removes it too (PvmDenied without the right to);
    /// `.waitForInfo`: waits until such an entry exists (messages that
    /// arrive meanwhile are kept for later receives). Throws PvmNotFound
    /// when there is none.
    ///
    /// ```swift
    /// let m = try vm.info("servers", index: 0, flags: [.firstAvailable, .waitForInfo])
    /// let server = TaskID(try m.unpack(Int32.self))
    /// ```
    public func info(_ name: String, index: Int32 = 0, flags: MailboxFlags = []) throws(PVMError) -> ReceivedMessage {
        try indexedInfo(name, index: index, flags: flags).message
    }

    /// `info`, with the index the entry was found at (with
    /// `.firstAvailable`, the first one at or above `index`).
    ///
    /// ```swift
    /// let (slot, m) = try vm.indexedInfo("jobs", index: 0, flags: [.firstAvailable, .readAndDelete])
    /// ```
    public func indexedInfo(_ name: String, index: Int32 = 0, flags: MailboxFlags = []) throws(PVMError) -> (index: Int32, message: ReceivedMessage) {
        let f = try fetchInfo(name, index: index, flags: flags)
        return (f.index, ReceivedMessage(source: TaskID(f.source), tag: MessageTag(0), buffer: try f.buffer()))
    }

    /// Removes the entry (`name`, `index`) and returns its index. Throws
    /// PvmNotFound when there is none, PvmDenied for another task's entry
    /// (an orphan included) that was not put `.overWritable`
    /// (pvm_delinfo). No flag changes what a delete does (PVM's takes
    /// them, and ignores them: `.firstAvailable` does not apply here).
    ///
    /// ```swift
    /// _ = try vm.deleteInfo("servers", index: slot)
    /// ```
    public func deleteInfo(_ name: String, index: Int32 = 0, flags: MailboxFlags = []) throws(PVMError) -> Int32 {
        guard !name.isEmpty else { throw PVMError(.badParam, "no mailbox name") }
        guard index >= 0 else { throw PVMError(.badParam, "mailbox index \(index)") }
        var w = ControlWriter()
        w.int(MailboxRequest.delete.rawValue)
        w.string(name)
        w.int(index)
        w.int(flags.rawValue)
        var r = try mailboxRequest(w)
        let code = try r.int()
        if code < 0 { throw PVMError(code: code, detail: "mailbox entry \(name)[\(index)]") }
        return code
    }

    /// The mailbox classes whose names match `pattern`, in the order they
    /// were made, each with its entries by index (pvm_getmboxinfo). As in
    /// PVM 3.4, `*` stands for any run of characters and the pattern may
    /// match anywhere in a name: "clib.*" finds every name with "clib." in
    /// it, "box" finds "clib.box"; "" and "*" find every class.
    ///
    /// ```swift
    /// let orphans = try vm.mailboxClasses().flatMap(\.entries).filter(\.isOrphan)
    /// ```
    public func mailboxClasses(matching pattern: String = "*") throws(PVMError) -> [MailboxClass] {
        var w = ControlWriter()
        w.int(MailboxRequest.list.rawValue)
        w.string(pattern)
        var r = try mailboxRequest(w)
        let code = try r.int()
        if code < 0 { throw PVMError(code: code, detail: "mailbox pattern \(pattern)") }
        let n = try r.int()
        var out: [MailboxClass] = []
        for _ in 0..<max(0, n) {
            let name = try r.string()
            let indices = try r.ints(), owners = try r.ints(), flags = try r.ints()
            guard owners.count == indices.count, flags.count == indices.count else {
                throw PVMError(.badMsg, "the daemon's list of mailbox class \(name) does not add up")
            }
            out.append(MailboxClass(name: name, entries: indices.indices.map {
                MailboxEntry(index: indices[$0], owner: TaskID(owners[$0]), flags: MailboxFlags(rawValue: flags[$0]))
            }))
        }
        return out
    }

    /// The tasks that set PvmNoReset (and so survive a `reset`), the
    /// console among them (pvm_getnoresets). Each keeps an entry in the
    /// mailbox class `MailboxClassName.noReset` while the option is on.
    ///
    /// ```swift
    /// let survivors = try vm.noResetTasks()
    /// ```
    public func noResetTasks() throws(PVMError) -> [TaskID] {
        let entries = try mailboxClasses(matching: MailboxClassName.noReset).first { $0.name == MailboxClassName.noReset }?.entries ?? []
        return entries.filter { !$0.isOrphan }.map(\.owner)
    }

    /// Removes orphaned persistent entries (their owners have exited) of
    /// class `name` ("" every class) at `index` (-1 every index); returns
    /// how many went (the console's `reset info [class [index]]`).
    ///
    /// ```swift
    /// let removed = try vm.removeOrphanedInfo()
    /// ```
    public func removeOrphanedInfo(_ name: String = "", index: Int32 = -1) throws(PVMError) -> Int32 {
        var w = ControlWriter()
        w.int(MailboxRequest.removeOrphans.rawValue)
        w.string(name)
        w.int(index)
        var r = try mailboxRequest(w)
        let code = try r.int()
        if code < 0 { throw PVMError(code: code, detail: "orphaned mailbox entries") }
        return code
    }
}

// MARK: PVM's C semantics (libpvm3 calls these)

extension VirtualMachine {
    /// pvm_putinfo: stores a copy of buffer `id`. Unlike PVM 3.4, whose
    /// daemon never answers a put of an unknown buffer (the caller hangs),
    /// an unknown id is PvmNoSuchBuf.
    public func putInfo(_ name: String, bufferID id: Int32, flags: Int32) throws(PVMError) -> Int32 {
        guard !name.isEmpty else { throw PVMError(.badParam, "no mailbox name") }
        guard id > 0, Int(id) < meta.count, meta[Int(id)].inUse else { throw PVMError(.noSuchBuf, "buffer \(id)") }
        // A reference of our own: messages taken in during the request may grow the buffer table.
        let b = try buffer(id)
        return try mailboxPut(name, b, flags: MailboxFlags(rawValue: flags))
    }

    /// pvm_recvinfo: a new buffer holding the stored message (source the
    /// task that put it, tag 0, context 0), made the active receive buffer
    /// as a receive does (the previous one is freed). Returns its id.
    public func receiveInfo(_ name: String, index: Int32, flags: Int32) throws(PVMError) -> Int32 {
        let f = try fetchInfo(name, index: index, flags: MailboxFlags(rawValue: flags))
        let i = takeID()
        do {
            try withObject(i) { b throws(PVMError) in
                try f.bytes.withUnsafeBytes { raw in
                    Result { () throws(PVMError) in try b.load(received: raw, encoding: f.encoding, signature: f.signature) }
                }.get()
            }
        } catch {
            freeIDs.append(Int32(i))
            throw error
        }
        meta[i] = BufferMeta(inUse: true, tag: 0, source: f.source, destination: 0, context: 0)
        return becomeReceiveBuffer(i)
    }

    /// pvm_insert (PVM 3.3): stores the integer `value` at `index` of
    /// `name` (-1: the lowest free index) as a one-int message, persistent
    /// (flags persistent and multiInstance, as PVM 3.4 puts it); returns
    /// the index. PvmDenied (PVM 3.3's PvmDupEntry) when the index is
    /// taken, by this task too.
    public func databaseInsert(_ name: String, index: Int32, value: Int32) throws(PVMError) -> Int32 {
        guard !name.isEmpty else { throw PVMError(.badParam, "no database name") }
        guard index >= -1 else { throw PVMError(.badParam, "database index \(index)") }
        let m = MessageBuffer(encoding: .default, capacity: 16)
        try m.pack(value)
        var w = ControlWriter()
        w.int(MailboxRequest.insert.rawValue)
        w.string(name)
        w.int(index)
        return try send(w, flags: [.persistent, .multiInstance], m, "database entry \(name)[\(index)]")
    }

    /// pvm_lookup (PVM 3.3): the integer stored at `index` of `name` (-1:
    /// the first entry) and the index it was found at. The active receive
    /// buffer is left as it was.
    public func databaseLookup(_ name: String, index: Int32) throws(PVMError) -> (index: Int32, value: Int32) {
        guard index >= -1 else { throw PVMError(.badParam, "database index \(index)") }
        let f = try fetchInfo(name, index: max(index, 0), flags: index == -1 ? .firstAvailable : [])
        return (f.index, try f.buffer().unpack(Int32.self))
    }

    /// pvm_delete (PVM 3.3): removes the entry at `index` of `name`;
    /// returns its index. (-1 is PvmBadParam here, as in PVM 3.4.)
    public func databaseDelete(_ name: String, index: Int32) throws(PVMError) -> Int32 {
        guard index >= 0 else { throw PVMError(.badParam, "database index \(index)") }
        return try deleteInfo(name, index: index)
    }
}

// MARK: Requests

extension VirtualMachine {
    func mailboxPut(_ name: String, _ b: MessageBuffer, flags: MailboxFlags) throws(PVMError) -> Int32 {
        guard !name.isEmpty else { throw PVMError(.badParam, "no mailbox name") }
        var w = ControlWriter()
        w.int(MailboxRequest.put.rawValue)
        w.string(name)
        return try send(w, flags: flags, b, "mailbox entry \(name)")
    }

    /// A put or insert request (`head`: its kind and fields before the
    /// flags) with message `b`; returns the index stored at.
    private func send(_ head: ControlWriter, flags: MailboxFlags, _ b: MessageBuffer, _ what: String) throws(PVMError) -> Int32 {
        var w = head
        w.int(flags.rawValue)
        w.int(b.encoding.rawValue)
        w.int(Int32(bitPattern: b.signature.rawValue))
        // The message follows as the rest of the body (InPlace data is read now).
        var body = w.bytes
        body.reserveCapacity(body.count + b.byteCount)
        b.withPieces { body.append(contentsOf: $0) }
        var r = try mailboxRequest(ControlWriter(raw: body))
        let code = try r.int()
        if code < 0 { throw PVMError(code: code, detail: what) }
        return code
    }

    func fetchInfo(_ name: String, index: Int32, flags: MailboxFlags) throws(PVMError) -> FetchedInfo {
        guard !name.isEmpty else { throw PVMError(.badParam, "no mailbox name") }
        guard index >= 0 else { throw PVMError(.badParam, "mailbox index \(index)") }
        var w = ControlWriter()
        w.int(MailboxRequest.get.rawValue)
        w.string(name)
        w.int(index)
        w.int(flags.rawValue)
        var r = try mailboxRequest(w, waiting: flags.contains(.waitForInfo))
        let code = try r.int()
        if code < 0 { throw PVMError(code: code, detail: "mailbox entry \(name)[\(index)]") }
        let source = try r.int()
        let owner = try r.int()
        let stored = MailboxFlags(rawValue: try r.int())
        let rawEncoding = try r.int()
        let signature = DataSignature(rawValue: UInt32(bitPattern: try r.int()))
        guard let encoding = Encoding(rawValue: rawEncoding) else { throw PVMError(.badMsg, "mailbox entry of encoding \(rawEncoding)") }
        return FetchedInfo(index: code, source: source, owner: owner, flags: stored, encoding: encoding, signature: signature, bytes: r.rest())
    }

    /// A mailbox request to the daemon (which passes it on to the master's).
    /// `waiting`: the reply may take long (a get that waits for its entry),
    /// so messages keep being taken in meanwhile, from every source: a
    /// sender blocked on this task's full ring is never left waiting.
    func mailboxRequest(_ body: ControlWriter, waiting: Bool = false) throws(PVMError) -> ControlReader {
        if hostNumber != 1 && body.bytes.count > MailboxRequest.largestForwardedBody {
            throw PVMError(.outOfRes, "a mailbox message from another host than the master's is limited to \(MailboxRequest.largestForwardedBody) bytes with its name")
        }
        guard waiting else { return try request(.mailbox, body) }
        try checkDaemon()
        guard let d = daemon else { throw PVMError(.sysErr, "not connected to the daemon") }
        let op = DaemonOperation.mailbox.rawValue
        let h = FrameHeader(bodyLength: 0, tag: op, context: SystemContext.daemon, source: tid.rawValue,
                            destination: TaskID.daemon(host: hostNumber).rawValue, encoding: .raw)
        guard d.send(h, body: body.bytes), d.flushBlocking() else { daemonLost(); throw PVMError(.sysErr, "lost the daemon while sending a request") }
        while true {
            try readDaemon()
            if let (rop, bytes) = reply {
                reply = nil
                if rop == op { return ControlReader(bytes) }
                continue
            }
            if state != .enrolled { throw PVMError(.sysErr, "the daemon went away while waiting for a mailbox entry") }
            try pump(timeoutNanoseconds: nil)
        }
    }

    /// PvmNoReset turned on or off (setOption): this task's entry in the
    /// no-reset class, which pvm_getnoresets lists, is put or removed.
    func noResetChanged(to on: Bool, from was: Bool) throws(PVMError) {
        guard on != was else { return }
        if on {
            let m = MessageBuffer(encoding: .default, capacity: 16)
            try m.pack(tid.rawValue)
            _ = try mailboxPut(MailboxClassName.noReset, m, flags: .multiInstance)
            return
        }
        let mine = try mailboxClasses(matching: MailboxClassName.noReset).first { $0.name == MailboxClassName.noReset }?
            .entries.filter { $0.owner == tid } ?? []
        for e in mine { _ = try? deleteInfo(MailboxClassName.noReset, index: e.index) }
    }
}
