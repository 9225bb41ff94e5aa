#if canImport(Glibc)
import Glibc
#endif
import CPVM3
import PVM

// Entry points whose semantics come with later work (the message mailbox,
// message handlers and groups: the groups and collectives issue). Until
// then each returns PvmNotImpl, with PVM's error report, rather than
// pretend; bad arguments are still told apart as PvmBadParam.

func notYet(_ function: StaticString, _ what: String) -> Int32 {
    fail(function, PVMError(.notImpl, what))
}

@_cdecl("pvm_putinfo")
public func c_putinfo(_ name: UnsafeMutablePointer<CChar>?, _ id: Int32, _ flags: Int32) -> Int32 {
    guard let name, name.pointee != 0 else { return fail("pvm_putinfo", PVMError(.badParam, "no name")) }
    return notYet("pvm_putinfo", "the message mailbox")
}

@_cdecl("pvm_recvinfo")
public func c_recvinfo(_ name: UnsafeMutablePointer<CChar>?, _ index: Int32, _ flags: Int32) -> Int32 {
    guard let name, name.pointee != 0 else { return fail("pvm_recvinfo", PVMError(.badParam, "no name")) }
    return notYet("pvm_recvinfo", "the message mailbox")
}

@_cdecl("pvm_delinfo")
public func c_delinfo(_ name: UnsafeMutablePointer<CChar>?, _ index: Int32, _ flags: Int32) -> Int32 {
    guard let name, name.pointee != 0 else { return fail("pvm_delinfo", PVMError(.badParam, "no name")) }
    return notYet("pvm_delinfo", "the message mailbox")
}

@_cdecl("pvm_getmboxinfo")
public func c_getmboxinfo(_ pattern: UnsafeMutablePointer<CChar>?, _ count: UnsafeMutablePointer<Int32>?,
                          _ classes: UnsafeMutablePointer<UnsafeMutablePointer<pvmmboxinfo>?>?) -> Int32 {
    notYet("pvm_getmboxinfo", "the message mailbox")
}

@_cdecl("pvm_insert")
public func c_insert(_ name: UnsafeMutablePointer<CChar>?, _ request: Int32, _ data: Int32) -> Int32 {
    notYet("pvm_insert", "the message mailbox")
}

@_cdecl("pvm_lookup")
public func c_lookup(_ name: UnsafeMutablePointer<CChar>?, _ request: Int32, _ data: UnsafeMutablePointer<Int32>?) -> Int32 {
    notYet("pvm_lookup", "the message mailbox")
}

@_cdecl("pvm_delete")
public func c_delete(_ name: UnsafeMutablePointer<CChar>?, _ request: Int32) -> Int32 {
    notYet("pvm_delete", "the message mailbox")
}

