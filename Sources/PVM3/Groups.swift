#if canImport(Glibc)
import Glibc
#endif
import CPVM3
import PVM

// Dynamic groups and collectives (the task library's Groups.swift does the
// work). libpvm3 defines them, and libgpvm3.so.3 defines forwarders to the same
// code (pvm3_group_*), so a program gets this code whichever library the
// loader searches first.

public typealias ReduceFunction = @convention(c) (UnsafeMutablePointer<Int32>?, UnsafeMutableRawPointer?,
                                           UnsafeMutableRawPointer?, UnsafeMutablePointer<Int32>?,
                                           UnsafeMutablePointer<Int32>?) -> Void

/// The group name of a call, or PvmNullGroup.
@inline(__always)
func groupName(_ group: UnsafeMutablePointer<CChar>?) throws(PVMError) -> String {
    guard let group, group.pointee != 0 else { throw PVMError(.nullGroup, "no group name") }
    return String(cString: group)
}

@_cdecl("pvm_joingroup")
public func c_joingroup(_ group: UnsafeMutablePointer<CChar>?) -> Int32 {
    call("pvm_joingroup", quiet: .all) { vm throws(PVMError) in try vm.joinGroup(groupName(group)) }
}

@_cdecl("pvm_lvgroup")
public func c_lvgroup(_ group: UnsafeMutablePointer<CChar>?) -> Int32 {
    call("pvm_lvgroup", quiet: .all) { vm throws(PVMError) in try vm.leaveGroup(groupName(group)); return 0 }
}

@_cdecl("pvm_gsize")
public func c_gsize(_ group: UnsafeMutablePointer<CChar>?) -> Int32 {
    call("pvm_gsize", quiet: .all) { vm throws(PVMError) in try vm.groupSize(groupName(group)) }
}

@_cdecl("pvm_getinst")
public func c_getinst(_ group: UnsafeMutablePointer<CChar>?, _ tid: Int32) -> Int32 {
    call("pvm_getinst", quiet: .all) { vm throws(PVMError) in try vm.groupInstance(groupName(group), tid: tid) }
}

@_cdecl("pvm_gettid")
public func c_gettid(_ group: UnsafeMutablePointer<CChar>?, _ instance: Int32) -> Int32 {
    call("pvm_gettid", quiet: .all) { vm throws(PVMError) in try vm.groupTid(groupName(group), instance: instance) }
}

@_cdecl("pvm_barrier")
public func c_barrier(_ group: UnsafeMutablePointer<CChar>?, _ count: Int32) -> Int32 {
    call("pvm_barrier", quiet: .all) { vm throws(PVMError) in
        // The latest group again: no String made (a barrier loop stays at shared-memory speed).
        if let g = group, try vm.barrierOfLatestGroup(g, count: count) { return 0 }
        try vm.barrier(groupName(group), count: count)
        return 0
    }
}

@_cdecl("pvm_bcast")
public func c_bcast(_ group: UnsafeMutablePointer<CChar>?, _ tag: Int32) -> Int32 {
    call("pvm_bcast", quiet: .all) { vm throws(PVMError) in try vm.broadcast(group: groupName(group), tag: tag); return 0 }
}

@_cdecl("pvm_freezegroup")
public func c_freezegroup(_ group: UnsafeMutablePointer<CChar>?, _ size: Int32) -> Int32 {
    call("pvm_freezegroup", quiet: .all) { vm throws(PVMError) in try vm.freezeGroup(groupName(group), size: size) }
}

@_cdecl("pvm_reduce")
public func c_reduce(_ function: ReduceFunction?, _ data: UnsafeMutableRawPointer?, _ count: Int32, _ type: Int32,
                     _ tag: Int32, _ group: UnsafeMutablePointer<CChar>?, _ root: Int32) -> Int32 {
    call("pvm_reduce", quiet: .all) { vm throws(PVMError) in
        guard let function, count >= 0, tag >= 0 else { throw PVMError(.badParam, "arguments") }
        guard let data = data ?? (count == 0 ? UnsafeMutableRawPointer(bitPattern: 16) : nil) else { throw PVMError(.badParam, "no data") }
        let name = try groupName(group)
        // PVM's calling convention: every argument by address; info says
        // whether the operator took the type.
        var pvmType = type
        try vm.reduce({ x, y, n throws(PVMError) in
            var num = Int32(n), info: Int32 = 0
            function(&pvmType, x, UnsafeMutableRawPointer(mutating: y), &num, &info)
            if info < 0 { throw PVMError(code: info, detail: "the reduce function refused type \(type)") }
        }, data: data, count: Int(count), type: type, tag: tag, group: name, root: root)
        return 0
    }
}

@_cdecl("pvm_gather")
public func c_gather(_ result: UnsafeMutableRawPointer?, _ data: UnsafeMutableRawPointer?, _ count: Int32, _ type: Int32,
                     _ tag: Int32, _ group: UnsafeMutablePointer<CChar>?, _ root: Int32) -> Int32 {
    call("pvm_gather", quiet: .all) { vm throws(PVMError) in
        guard count >= 0, tag >= 0 else { throw PVMError(.badParam, "arguments") }
        try vm.gather(into: result, data: data, count: Int(count), type: type, tag: tag, group: groupName(group), root: root)
        return 0
    }
}

@_cdecl("pvm_scatter")
public func c_scatter(_ result: UnsafeMutableRawPointer?, _ data: UnsafeMutableRawPointer?, _ count: Int32, _ type: Int32,
                      _ tag: Int32, _ group: UnsafeMutablePointer<CChar>?, _ root: Int32) -> Int32 {
    call("pvm_scatter", quiet: .all) { vm throws(PVMError) in
        guard count >= 0, tag >= 0 else { throw PVMError(.badParam, "arguments") }
        try vm.scatter(into: result, data: data, count: Int(count), type: type, tag: tag, group: groupName(group), root: root)
        return 0
    }
}

@_cdecl("pvm_grphostinfo")
public func c_grphostinfo(_ group: UnsafeMutablePointer<CChar>?, _ host: Int32, _ coordinator: UnsafeMutablePointer<Int32>?,
                          _ members: UnsafeMutablePointer<Int32>?, _ hosts: UnsafeMutablePointer<Int32>?) -> Int32 {
    call("pvm_grphostinfo", quiet: .all) { vm throws(PVMError) in
        let info = try vm.groupHostInfo(groupName(group), host: host)
        coordinator?.pointee = info.coordinator
        members?.pointee = info.members
        hosts?.pointee = info.hosts
        return 0
    }
}

/// The arrays pvm_grpvhostinfo hands out (libpvm's, valid until the next call).
nonisolated(unsafe) var hostInfoArrays: (UnsafeMutablePointer<Int32>, UnsafeMutablePointer<Int32>)?

@_cdecl("pvm_grpvhostinfo")
public func c_grpvhostinfo(_ group: UnsafeMutablePointer<CChar>?, _ coordinators: UnsafeMutablePointer<UnsafeMutablePointer<Int32>?>?,
                           _ members: UnsafeMutablePointer<UnsafeMutablePointer<Int32>?>?, _ hosts: UnsafeMutablePointer<Int32>?) -> Int32 {
    call("pvm_grpvhostinfo", quiet: .all) { vm throws(PVMError) in
        let rows = try vm.groupHosts(groupName(group))
        if let (a, b) = hostInfoArrays { a.deallocate(); b.deallocate() }
        let a = UnsafeMutablePointer<Int32>.allocate(capacity: max(rows.count, 1))
        let b = UnsafeMutablePointer<Int32>.allocate(capacity: max(rows.count, 1))
        for (i, row) in rows.enumerated() { a[i] = row.coordinator; b[i] = row.members }
        hostInfoArrays = (a, b)
        coordinators?.pointee = a
        members?.pointee = b
        hosts?.pointee = Int32(rows.count)
        return 0
    }
}

@_cdecl("pvm_gsdump")
public func c_gsdump() -> Int32 {
    call("pvm_gsdump", quiet: .all) { vm throws(PVMError) in
        let text = try vm.groupDump()
        fflush(nil)
        _ = text.withCString { write(1, $0, strlen($0)) }
        return 0
    }
}

// MARK: The reduce operators (PvmMax, PvmMin, PvmSum, PvmProduct)

// PVM's calling convention: every argument by address (so Fortran can call
// them too): y[i] is combined into x[i] for num items of datatype; info
// gets PvmOk or PvmBadParam for a type the operator does not take.

func combine<T>(_ x: UnsafeMutableRawPointer, _ y: UnsafeMutableRawPointer, _ n: Int, _ as: T.Type, _ op: (T, T) -> T) {
    let a = x.assumingMemoryBound(to: T.self)
    let b = y.assumingMemoryBound(to: T.self)
    for i in 0..<n { a[i] = op(a[i], b[i]) }
}

/// Applies `real` to every numeric PVM type; complex types take `complex`
/// (pairs), or are refused when it is nil (max and min have no order on them).
func reduce(_ type: UnsafeMutablePointer<Int32>?, _ x: UnsafeMutableRawPointer?, _ y: UnsafeMutableRawPointer?,
            _ num: UnsafeMutablePointer<Int32>?, _ info: UnsafeMutablePointer<Int32>?,
            integer: (Int64, Int64) -> Int64, unsigned: (UInt64, UInt64) -> UInt64, real: (Double, Double) -> Double,
            complex: ((Double, Double), (Double, Double)) -> (Double, Double)?) {
    guard let type, let x, let y, let num, num.pointee >= 0 else { info?.pointee = PVMError.Code.badParam.rawValue; return }
    let n = Int(num.pointee)
    var ok = true
    switch type.pointee {
    case 1: combine(x, y, n, Int8.self) { Int8(truncatingIfNeeded: integer(Int64($0), Int64($1))) }
    case 2: combine(x, y, n, Int16.self) { Int16(truncatingIfNeeded: integer(Int64($0), Int64($1))) }
    case 3: combine(x, y, n, Int32.self) { Int32(truncatingIfNeeded: integer(Int64($0), Int64($1))) }
    case 8: combine(x, y, n, Int.self) { Int(truncatingIfNeeded: integer(Int64($0), Int64($1))) }
    case 9: combine(x, y, n, UInt16.self) { UInt16(truncatingIfNeeded: unsigned(UInt64($0), UInt64($1))) }
    case 10: combine(x, y, n, UInt32.self) { UInt32(truncatingIfNeeded: unsigned(UInt64($0), UInt64($1))) }
    case 11: combine(x, y, n, UInt.self) { UInt(truncatingIfNeeded: unsigned(UInt64($0), UInt64($1))) }
    case 4: combine(x, y, n, Float.self) { Float(real(Double($0), Double($1))) }
    case 6: combine(x, y, n, Double.self) { real($0, $1) }
    case 5, 7:
        guard complex((0, 0), (0, 0)) != nil else { ok = false; break }
        let a = x.assumingMemoryBound(to: UInt8.self), b = y.assumingMemoryBound(to: UInt8.self)
        for i in 0..<n {
            if type.pointee == 5 {
                let p = UnsafeMutableRawPointer(a + 8 * i).assumingMemoryBound(to: Float.self)
                let q = UnsafeMutableRawPointer(b + 8 * i).assumingMemoryBound(to: Float.self)
                let r = complex((Double(p[0]), Double(p[1])), (Double(q[0]), Double(q[1])))!
                p[0] = Float(r.0); p[1] = Float(r.1)
            } else {
                let p = UnsafeMutableRawPointer(a + 16 * i).assumingMemoryBound(to: Double.self)
                let q = UnsafeMutableRawPointer(b + 16 * i).assumingMemoryBound(to: Double.self)
                let r = complex((p[0], p[1]), (q[0], q[1]))!
                p[0] = r.0; p[1] = r.1
            }
        }
    default: ok = false
    }
    info?.pointee = ok ? 0 : PVMError.Code.badParam.rawValue
}

@_cdecl("PvmMax")
public func c_PvmMax(_ type: UnsafeMutablePointer<Int32>?, _ x: UnsafeMutableRawPointer?, _ y: UnsafeMutableRawPointer?,
                     _ num: UnsafeMutablePointer<Int32>?, _ info: UnsafeMutablePointer<Int32>?) {
    reduce(type, x, y, num, info, integer: max, unsigned: max, real: max, complex: { _, _ in nil })
}

@_cdecl("PvmMin")
public func c_PvmMin(_ type: UnsafeMutablePointer<Int32>?, _ x: UnsafeMutableRawPointer?, _ y: UnsafeMutableRawPointer?,
                     _ num: UnsafeMutablePointer<Int32>?, _ info: UnsafeMutablePointer<Int32>?) {
    reduce(type, x, y, num, info, integer: min, unsigned: min, real: min, complex: { _, _ in nil })
}

@_cdecl("PvmSum")
public func c_PvmSum(_ type: UnsafeMutablePointer<Int32>?, _ x: UnsafeMutableRawPointer?, _ y: UnsafeMutableRawPointer?,
                     _ num: UnsafeMutablePointer<Int32>?, _ info: UnsafeMutablePointer<Int32>?) {
    reduce(type, x, y, num, info, integer: { $0 &+ $1 }, unsigned: { $0 &+ $1 }, real: { $0 + $1 },
           complex: { a, b in (a.0 + b.0, a.1 + b.1) })
}

@_cdecl("PvmProduct")
public func c_PvmProduct(_ type: UnsafeMutablePointer<Int32>?, _ x: UnsafeMutableRawPointer?, _ y: UnsafeMutableRawPointer?,
                         _ num: UnsafeMutablePointer<Int32>?, _ info: UnsafeMutablePointer<Int32>?) {
    reduce(type, x, y, num, info, integer: { $0 &* $1 }, unsigned: { $0 &* $1 }, real: { $0 * $1 },
           complex: { a, b in (a.0 * b.0 - a.1 * b.1, a.0 * b.1 + a.1 * b.0) })
}
