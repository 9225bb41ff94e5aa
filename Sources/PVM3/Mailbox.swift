#if canImport(Glibc)
import Glibc
#endif
import CPVM3
import PVM

// The message mailbox and PVM 3.3's database on top of it: PVM 3.4's C
// entry points over the task library's Mailbox.swift.
//
// Which failures print with PvmAutoErr follows the original, which is
// uneven here: PvmNotFound from recvinfo/delinfo/lookup/delete and
// PvmDenied from putinfo/delinfo/insert are only returned (a program
// probes with them), while PvmBadParam, and PvmDenied from a
// read-and-delete recvinfo and from pvm_delete, are reported.
//
// One deviation: the original never answers a pvm_putinfo of an unknown
// buffer id (its daemon logs a bad message and the caller hangs); here it
// is PvmNoSuchBuf, reported.

/// A mailbox name argument: nil for a null pointer or "".
func mailboxName(_ p: UnsafeMutablePointer<CChar>?) -> String? {
    guard let p, p.pointee != 0 else { return nil }
    return String(cString: p)
}

@_cdecl("pvm_putinfo")
public func c_putinfo(_ name: UnsafeMutablePointer<CChar>?, _ id: Int32, _ flags: Int32) -> Int32 {
    call("pvm_putinfo", quiet: .codes([.denied])) { vm throws(PVMError) in
        guard let key = mailboxName(name) else { throw PVMError(.badParam, "no mailbox name") }
        return try vm.putInfo(key, bufferID: id, flags: flags)
    }
}

@_cdecl("pvm_recvinfo")
public func c_recvinfo(_ name: UnsafeMutablePointer<CChar>?, _ index: Int32, _ flags: Int32) -> Int32 {
    call("pvm_recvinfo", quiet: .codes([.notFound])) { vm throws(PVMError) in
        guard let key = mailboxName(name) else { throw PVMError(.badParam, "no mailbox name") }
        return try vm.receiveInfo(key, index: index, flags: flags)
    }
}

@_cdecl("pvm_delinfo")
public func c_delinfo(_ name: UnsafeMutablePointer<CChar>?, _ index: Int32, _ flags: Int32) -> Int32 {
    call("pvm_delinfo", quiet: .codes([.notFound, .denied])) { vm throws(PVMError) in
        guard let key = mailboxName(name) else { throw PVMError(.badParam, "no mailbox name") }
        return try vm.deleteInfo(key, index: index, flags: MailboxFlags(rawValue: flags))
    }
}

@_cdecl("pvm_getmboxinfo")
public func c_getmboxinfo(_ pattern: UnsafeMutablePointer<CChar>?, _ count: UnsafeMutablePointer<Int32>?,
                          _ classes: UnsafeMutablePointer<UnsafeMutablePointer<pvmmboxinfo>?>?) -> Int32 {
    call("pvm_getmboxinfo") { vm throws(PVMError) in
        // A null pattern lists every class, as "" and "*" do.
        let list = try vm.mailboxClasses(matching: string(pattern) ?? "")
        let table = MailboxTable(list)
        mailboxTables.previous = mailboxTables.current
        mailboxTables.current = table
        count?.pointee = Int32(list.count)
        classes?.pointee = table.base
        return 0
    }
}

@_cdecl("pvm_insert")
public func c_insert(_ name: UnsafeMutablePointer<CChar>?, _ request: Int32, _ data: Int32) -> Int32 {
    call("pvm_insert", quiet: .codes([.denied])) { vm throws(PVMError) in
        guard let key = mailboxName(name) else { throw PVMError(.badParam, "no database name") }
        return try vm.databaseInsert(key, index: request, value: data)
    }
}

@_cdecl("pvm_lookup")
public func c_lookup(_ name: UnsafeMutablePointer<CChar>?, _ request: Int32, _ data: UnsafeMutablePointer<Int32>?) -> Int32 {
    call("pvm_lookup", quiet: .codes([.notFound])) { vm throws(PVMError) in
        guard let key = mailboxName(name) else { throw PVMError(.badParam, "no database name") }
        let (index, value) = try vm.databaseLookup(key, index: request)
        data?.pointee = value
        return index
    }
}

@_cdecl("pvm_delete")
public func c_delete(_ name: UnsafeMutablePointer<CChar>?, _ request: Int32) -> Int32 {
    // Unlike pvm_delinfo's, pvm_delete's PvmDenied is reported (as the original does).
    call("pvm_delete", quiet: .codes([.notFound])) { vm throws(PVMError) in
        guard let key = mailboxName(name) else { throw PVMError(.badParam, "no database name") }
        return try vm.databaseDelete(key, index: request)
    }
}

@_cdecl("pvm_getnoresets")
public func c_getnoresets(_ tids: UnsafeMutablePointer<UnsafeMutablePointer<Int32>?>?, _ count: UnsafeMutablePointer<Int32>?) -> Int32 {
    call("pvm_getnoresets") { vm throws(PVMError) in
        let list = try vm.noResetTasks()
        tids?.pointee = noResetTable.replace(count: list.count) { i, _ in list[i].rawValue }
        count?.pointee = Int32(list.count)
        return 0
    }
}

// MARK: Library-owned tables

/// One answer of pvm_getmboxinfo as C reads it: the array of struct
/// pvmmboxinfo, each with its name and its three entry arrays, all owned
/// here. Freed two calls later, as the other tables (`LibraryOwned`): a
/// program may still read the previous answer after asking again.
final class MailboxTable {
    let base: UnsafeMutablePointer<pvmmboxinfo>
    let count: Int

    init(_ classes: [MailboxClass]) {
        count = classes.count
        base = .allocate(capacity: max(count, 1))
        for (i, c) in classes.enumerated() {
            func array(_ values: [Int32]) -> UnsafeMutablePointer<Int32> {
                let p = UnsafeMutablePointer<Int32>.allocate(capacity: max(values.count, 1))
                p.initialize(from: values, count: values.count)
                return p
            }
            (base + i).initialize(to: pvmmboxinfo(
                mi_name: strdup(c.name),
                mi_nentries: Int32(c.entries.count),
                mi_indices: array(c.entries.map(\.index)),
                mi_owners: array(c.entries.map(\.owner.rawValue)),
                mi_flags: array(c.entries.map(\.flags.rawValue))))
        }
    }

    deinit {
        for i in 0..<count {
            let c = base[i]
            free(c.mi_name)
            c.mi_indices?.deallocate()
            c.mi_owners?.deallocate()
            c.mi_flags?.deallocate()
        }
        base.deallocate()
    }
}

nonisolated(unsafe) var mailboxTables: (current: MailboxTable?, previous: MailboxTable?) = (nil, nil)
nonisolated(unsafe) var noResetTable = LibraryOwned<Int32>()
