import Logging
import PVMControl
import PVMEncoding

// The message mailbox (pvm_putinfo and friends), served by the master's
// daemon for the whole machine: other hosts' daemons forward their tasks'
// requests here (Daemon.performForHost), and learn nothing of the entries.
//
// An entry is a whole message under (class name, index), owned by the task
// that put it. Only the owner may replace or delete it, unless it was put
// overwritable; it goes when its owner exits, unless persistent (then it
// stays with owner 0, and only an overwrite, `reset` or `reset info`
// removes it). Every operation here is a few dictionary and array steps
// on the daemon's one thread; nothing blocks, and a get that waits for an
// entry (PvmMboxWaitForInfo) is a stored reply closure.

/// One mailbox entry: a message as it was packed, and who may change it.
struct MailboxEntry {
    var index: Int32
    /// The task that put it (a get's message comes from it, also after it exited).
    var source: Int32
    /// The task that owns it; 0 once a persistent entry's owner has exited.
    var owner: Int32
    /// The flags it was put with, as given (direct index included).
    var flags: MailboxFlags
    var encoding: Int32
    var signature: Int32
    var message: [UInt8]

    /// May task `t` replace or delete this entry?
    func mayChange(_ t: Int32) -> Bool { (owner != 0 && owner == t) || flags.contains(.overWritable) }
}

/// A get waiting for its entry to appear (PvmMboxWaitForInfo).
struct MailboxWaiter {
    let name: String
    let index: Int32
    let flags: MailboxFlags
    let requester: Int32
    let respond: (ControlWriter) -> Void
}

/// The machine's mailbox, as the master's daemon holds it.
struct MailboxStore {
    /// Entries by class name; each list is sorted by index and never empty.
    private(set) var classes: [String: [MailboxEntry]] = [:]
    /// The class names in the order the classes were made (PVM lists them so).
    private(set) var names: [String] = []
    /// Gets waiting for an entry, oldest first.
    var waiters: [MailboxWaiter] = []

    subscript(_ name: String) -> [MailboxEntry]? {
        classes[name]
    }

    /// Replaces the entries of class `name`; an empty list removes the class.
    mutating func set(_ name: String, _ entries: [MailboxEntry]) {
        if entries.isEmpty {
            if classes.removeValue(forKey: name) != nil { names.removeAll { $0 == name } }
        } else {
            if classes.updateValue(entries, forKey: name) == nil { names.append(name) }
        }
    }

    /// The position of the entry a get of (index, flags) means: exactly
    /// `index`, or with firstAvailable the first at or above it.
    static func position(in entries: [MailboxEntry], index: Int32, flags: MailboxFlags) -> Int? {
        if flags.contains(.firstAvailable) { return entries.firstIndex { $0.index >= index } }
        return entries.firstIndex { $0.index == index }
    }

    /// The lowest index at or above `start` that no entry holds.
    static func lowestFree(in entries: [MailboxEntry], from start: Int32) -> Int32 {
        var i = start
        for e in entries where e.index >= start {
            if e.index != i { break }
            i += 1
        }
        return i
    }

    /// Does class `name` match `pattern`? As PVM 3.4's daemon matches: `*`
    /// stands for any run of characters, everything else for itself, and
    /// the pattern may match anywhere in the name ("box" finds "clib.box",
    /// "clib.*" every name with "clib." in it); "" matches every name.
    static func matches(_ pattern: String, _ name: String) -> Bool {
        var rest = Substring(name)
        for piece in pattern.split(separator: "*", omittingEmptySubsequences: true) {
            guard let found = rest.firstRange(of: piece) else { return false }
            rest = rest[found.upperBound...]
        }
        return true
    }
}

extension Daemon {
    /// Serves one mailbox request (on the master). `respond` runs at once,
    /// except for a get that waits for its entry. A malformed body is
    /// answered with PvmBadMsg (it may come from a task on another host,
    /// through that host's link: the link stays up).
    func serveMailbox(_ body: ControlReader, requester: Int32, _ respond: @escaping (ControlWriter) -> Void) throws(PVMError) {
        var r = body
        // A reply that must cross to another host has to fit in one forwarded body.
        let remote = TaskID(requester).hostNumber != host
        let answer = { (w: ControlWriter) in
            if remote && w.bytes.count > MailboxRequest.largestForwardedBody {
                respond(Self.failure(.outOfRes))
            } else {
                respond(w)
            }
        }
        do {
            let raw = try r.int()
            guard let request = MailboxRequest(rawValue: raw) else { throw PVMError(.badMsg, "unknown mailbox request \(raw)") }
            switch request {
            case .put, .insert:
                let name = try r.string()
                let index = request == .insert ? try r.int() : 0
                let flags = MailboxFlags(rawValue: try r.int())
                let encoding = try r.int(), signature = try r.int()
                var entry = MailboxEntry(index: index, source: requester, owner: requester, flags: flags,
                                         encoding: encoding, signature: signature, message: r.rest())
                answer(Self.code(request == .put ? mailboxPut(name, &entry) : mailboxInsert(name, &entry)))
            case .get:
                let name = try r.string()
                let index = try r.int()
                let flags = MailboxFlags(rawValue: try r.int())
                guard !name.isEmpty, index >= 0 else { answer(Self.failure(.badParam)); return }
                if let reply = mailboxGet(name, index: index, flags: flags, by: requester, remote: remote) {
                    answer(reply)
                } else if flags.contains(.waitForInfo) {
                    mailbox.waiters.append(MailboxWaiter(name: name, index: index, flags: flags, requester: requester, respond: answer))
                } else {
                    answer(Self.failure(.notFound))
                }
            case .delete:
                let name = try r.string()
                let index = try r.int()
                _ = try r.int()  // flags: a delete names one exact index
                answer(Self.code(mailboxDelete(name, index: index, by: requester)))
            case .list:
                answer(mailboxList(matching: try r.string()))
            case .removeOrphans:
                let name = try r.string()
                let index = try r.int()
                answer(Self.code(mailboxRemoveOrphans(name, index: index)))
            }
        } catch {
            log.warning("malformed mailbox request from \(TaskID(requester)): \(error)")
            respond(Self.failure(.badMsg))
        }
    }

    static func code(_ c: Int32) -> ControlWriter {
        var w = ControlWriter()
        w.int(c)
        return w
    }

    /// Stores `entry` (its index is set here); returns the index or a
    /// negative PVM error code.
    func mailboxPut(_ name: String, _ entry: inout MailboxEntry) -> Int32 {
        guard !name.isEmpty else { return PVMError.Code.badParam.rawValue }
        var entries = mailbox[name] ?? []
        let direct = entry.flags.directIndex
        // MultiInstance adds an entry (never replaces one); else the put is
        // of exactly the direct index (0 by default).
        entry.index = entry.flags.contains(.multiInstance) ? MailboxStore.lowestFree(in: entries, from: direct) : direct
        if let k = entries.firstIndex(where: { $0.index == entry.index }) {
            // As in PVM: another task's entry is PvmDenied, not PvmExists.
            guard entries[k].mayChange(entry.owner) else { return PVMError.Code.denied.rawValue }
            entries[k] = entry
        } else {
            entries.insert(entry, at: entries.firstIndex { $0.index > entry.index } ?? entries.endIndex)
        }
        mailbox.set(name, entries)
        answerMailboxWaiters(name)
        return entry.index
    }

    /// PVM 3.3's insert: `entry` at exactly its index (-1: the lowest free),
    /// never over another entry.
    func mailboxInsert(_ name: String, _ entry: inout MailboxEntry) -> Int32 {
        guard !name.isEmpty, entry.index >= -1 else { return PVMError.Code.badParam.rawValue }
        var entries = mailbox[name] ?? []
        if entry.index == -1 { entry.index = MailboxStore.lowestFree(in: entries, from: 0) }
        guard !entries.contains(where: { $0.index == entry.index }) else { return PVMError.Code.denied.rawValue }
        entries.insert(entry, at: entries.firstIndex { $0.index > entry.index } ?? entries.endIndex)
        mailbox.set(name, entries)
        answerMailboxWaiters(name)
        return entry.index
    }

    /// The reply to a get, or nil when no entry matches (yet). A
    /// readAndDelete get removes the entry it answers with.
    func mailboxGet(_ name: String, index: Int32, flags: MailboxFlags, by requester: Int32, remote: Bool) -> ControlWriter? {
        guard var entries = mailbox[name], let k = MailboxStore.position(in: entries, index: index, flags: flags) else { return nil }
        let e = entries[k]
        var w = ControlWriter()
        w.int(e.index); w.int(e.source); w.int(e.owner); w.int(e.flags.rawValue); w.int(e.encoding); w.int(e.signature)
        if remote && w.bytes.count + e.message.count > MailboxRequest.largestForwardedBody {
            return Self.failure(.outOfRes)  // checked before a readAndDelete removes it
        }
        if flags.contains(.readAndDelete) {
            guard e.mayChange(requester) else { return Self.failure(.denied) }
            entries.remove(at: k)
            mailbox.set(name, entries)
        }
        w.append(ControlWriter(raw: e.message))
        return w
    }

    /// Answers the waiting gets that an entry of class `name` now satisfies,
    /// oldest first (a readAndDelete one takes the entry from later ones).
    func answerMailboxWaiters(_ name: String) {
        guard mailbox.waiters.contains(where: { $0.name == name }) else { return }
        var i = 0
        while i < mailbox.waiters.count && mailbox[name] != nil {
            let w = mailbox.waiters[i]
            guard w.name == name,
                  let reply = mailboxGet(name, index: w.index, flags: w.flags, by: w.requester, remote: TaskID(w.requester).hostNumber != host)
            else { i += 1; continue }
            mailbox.waiters.remove(at: i)
            w.respond(reply)
        }
    }

    /// Removes the entry at `index`; returns the index or a negative PVM error code.
    func mailboxDelete(_ name: String, index: Int32, by requester: Int32) -> Int32 {
        guard !name.isEmpty, index >= 0 else { return PVMError.Code.badParam.rawValue }
        guard var entries = mailbox[name], let k = entries.firstIndex(where: { $0.index == index }) else {
            return PVMError.Code.notFound.rawValue
        }
        guard entries[k].mayChange(requester) else { return PVMError.Code.denied.rawValue }
        entries.remove(at: k)
        mailbox.set(name, entries)
        return index
    }

    /// The classes whose names match `pattern`, in the order they were
    /// made: name, indices, owners, flags.
    func mailboxList(matching pattern: String) -> ControlWriter {
        let names = mailbox.names.filter { MailboxStore.matches(pattern, $0) }
        var w = ControlWriter()
        w.int(0)
        w.int(Int32(names.count))
        for name in names {
            let entries = mailbox[name] ?? []
            w.string(name)
            w.ints(entries.map(\.index))
            w.ints(entries.map(\.owner))
            w.ints(entries.map(\.flags.rawValue))
        }
        return w
    }

    /// Removes orphaned persistent entries (owner 0) of class `name` (""
    /// every class) at `index` (-1 every index); returns how many.
    func mailboxRemoveOrphans(_ name: String, index: Int32) -> Int32 {
        var removed: Int32 = 0
        for n in mailbox.names where name.isEmpty || n == name {
            let entries = mailbox[n] ?? []
            let kept = entries.filter { !($0.owner == 0 && (index < 0 || $0.index == index)) }
            removed += Int32(entries.count - kept.count)
            mailbox.set(n, kept)
        }
        return removed
    }

    /// Drops the entries owned by tasks `gone` selects (persistent ones stay,
    /// with owner 0) and fails the gets those tasks were waiting in.
    func mailboxOwnersGone(_ gone: (Int32) -> Bool) {
        for name in mailbox.names {
            let entries = mailbox[name] ?? []
            guard entries.contains(where: { $0.owner != 0 && gone($0.owner) }) else { continue }
            mailbox.set(name, entries.compactMap { e in
                guard e.owner != 0 && gone(e.owner) else { return e }
                guard e.flags.contains(.persistent) else { return nil }
                var orphan = e
                orphan.owner = 0
                return orphan
            })
        }
        guard mailbox.waiters.contains(where: { gone($0.requester) }) else { return }
        let failed = mailbox.waiters.filter { gone($0.requester) }
        mailbox.waiters.removeAll { gone($0.requester) }
        // Nobody is there to read these; they close the forwarded requests.
        for w in failed { w.respond(Self.failure(.noTask)) }
    }

    /// A task of the machine is gone: its entries go, unless persistent.
    func mailboxTaskGone(_ t: Int32) {
        mailboxOwnersGone { $0 == t }
    }

    /// A host is gone: its tasks' entries go, unless persistent.
    func mailboxHostGone(_ h: Int32) {
        mailboxOwnersGone { TaskID($0).hostNumber == h }
    }

    /// `reset`: every entry goes but those of the tasks that survive it
    /// (the requester, and the tasks listed in the no-reset class, the
    /// console among them), orphaned persistent entries included.
    func mailboxReset(requester: Int32) {
        var survivors: Set<Int32> = [requester]
        for e in mailbox[MailboxClassName.noReset] ?? [] where e.owner != 0 { survivors.insert(e.owner) }
        for name in mailbox.names {
            mailbox.set(name, (mailbox[name] ?? []).filter { survivors.contains($0.owner) })
        }
    }
}
