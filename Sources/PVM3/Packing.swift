#if canImport(Glibc)
import Glibc
#endif
import CPVM3
import PVM

// Message buffers, packing and unpacking: PVM 3.4's C entry points over
// the task library's buffers. pvm_pk* and pvm_upk* are on the hot path:
// each is one call into the task library's specialized pack, with no
// allocation and no reference counting (VirtualMachine.withShared).

@_cdecl("pvm_pkbyte")
public func c_pkbyte(_ items: UnsafeMutablePointer<CChar>?, _ count: Int32, _ stride: Int32) -> Int32 {
    call("pvm_pkbyte") { vm throws(PVMError) in
        guard count >= 0, stride >= 0 else { throw PVMError(.badParam, "count \(count), stride \(stride)") }
        guard let items else { throw PVMError(.badParam, "null pointer") }
        try vm.pack(items, count: Int(count), stride: Int(stride))
        return 0
    }
}

@_cdecl("pvm_upkbyte")
public func c_upkbyte(_ items: UnsafeMutablePointer<CChar>?, _ count: Int32, _ stride: Int32) -> Int32 {
    call("pvm_upkbyte") { vm throws(PVMError) in
        guard count >= 0, stride >= 0 else { throw PVMError(.badParam, "count \(count), stride \(stride)") }
        guard let items else { throw PVMError(.badParam, "null pointer") }
        try vm.unpack(into: items, count: Int(count), stride: Int(stride))
        return 0
    }
}

@_cdecl("pvm_pkshort")
public func c_pkshort(_ items: UnsafeMutablePointer<Int16>?, _ count: Int32, _ stride: Int32) -> Int32 {
    call("pvm_pkshort") { vm throws(PVMError) in
        guard count >= 0, stride >= 0 else { throw PVMError(.badParam, "count \(count), stride \(stride)") }
        guard let items else { throw PVMError(.badParam, "null pointer") }
        try vm.pack(items, count: Int(count), stride: Int(stride))
        return 0
    }
}

@_cdecl("pvm_upkshort")
public func c_upkshort(_ items: UnsafeMutablePointer<Int16>?, _ count: Int32, _ stride: Int32) -> Int32 {
    call("pvm_upkshort") { vm throws(PVMError) in
        guard count >= 0, stride >= 0 else { throw PVMError(.badParam, "count \(count), stride \(stride)") }
        guard let items else { throw PVMError(.badParam, "null pointer") }
        try vm.unpack(into: items, count: Int(count), stride: Int(stride))
        return 0
    }
}

@_cdecl("pvm_pkushort")
public func c_pkushort(_ items: UnsafeMutablePointer<UInt16>?, _ count: Int32, _ stride: Int32) -> Int32 {
    call("pvm_pkushort") { vm throws(PVMError) in
        guard count >= 0, stride >= 0 else { throw PVMError(.badParam, "count \(count), stride \(stride)") }
        guard let items else { throw PVMError(.badParam, "null pointer") }
        try vm.pack(items, count: Int(count), stride: Int(stride))
        return 0
    }
}

@_cdecl("pvm_upkushort")
public func c_upkushort(_ items: UnsafeMutablePointer<UInt16>?, _ count: Int32, _ stride: Int32) -> Int32 {
    call("pvm_upkushort") { vm throws(PVMError) in
        guard count >= 0, stride >= 0 else { throw PVMError(.badParam, "count \(count), stride \(stride)") }
        guard let items else { throw PVMError(.badParam, "null pointer") }
        try vm.unpack(into: items, count: Int(count), stride: Int(stride))
        return 0
    }
}

@_cdecl("pvm_pkint")
public func c_pkint(_ items: UnsafeMutablePointer<Int32>?, _ count: Int32, _ stride: Int32) -> Int32 {
    call("pvm_pkint") { vm throws(PVMError) in
        guard count >= 0, stride >= 0 else { throw PVMError(.badParam, "count \(count), stride \(stride)") }
        guard let items else { throw PVMError(.badParam, "null pointer") }
        try vm.pack(items, count: Int(count), stride: Int(stride))
        return 0
    }
}

@_cdecl("pvm_upkint")
public func c_upkint(_ items: UnsafeMutablePointer<Int32>?, _ count: Int32, _ stride: Int32) -> Int32 {
    call("pvm_upkint") { vm throws(PVMError) in
        guard count >= 0, stride >= 0 else { throw PVMError(.badParam, "count \(count), stride \(stride)") }
        guard let items else { throw PVMError(.badParam, "null pointer") }
        try vm.unpack(into: items, count: Int(count), stride: Int(stride))
        return 0
    }
}

@_cdecl("pvm_pkuint")
public func c_pkuint(_ items: UnsafeMutablePointer<UInt32>?, _ count: Int32, _ stride: Int32) -> Int32 {
    call("pvm_pkuint") { vm throws(PVMError) in
        guard count >= 0, stride >= 0 else { throw PVMError(.badParam, "count \(count), stride \(stride)") }
        guard let items else { throw PVMError(.badParam, "null pointer") }
        try vm.pack(items, count: Int(count), stride: Int(stride))
        return 0
    }
}

@_cdecl("pvm_upkuint")
public func c_upkuint(_ items: UnsafeMutablePointer<UInt32>?, _ count: Int32, _ stride: Int32) -> Int32 {
    call("pvm_upkuint") { vm throws(PVMError) in
        guard count >= 0, stride >= 0 else { throw PVMError(.badParam, "count \(count), stride \(stride)") }
        guard let items else { throw PVMError(.badParam, "null pointer") }
        try vm.unpack(into: items, count: Int(count), stride: Int(stride))
        return 0
    }
}

@_cdecl("pvm_pklong")
public func c_pklong(_ items: UnsafeMutablePointer<Int>?, _ count: Int32, _ stride: Int32) -> Int32 {
    call("pvm_pklong") { vm throws(PVMError) in
        guard count >= 0, stride >= 0 else { throw PVMError(.badParam, "count \(count), stride \(stride)") }
        guard let items else { throw PVMError(.badParam, "null pointer") }
        try vm.pack(items, count: Int(count), stride: Int(stride))
        return 0
    }
}

@_cdecl("pvm_upklong")
public func c_upklong(_ items: UnsafeMutablePointer<Int>?, _ count: Int32, _ stride: Int32) -> Int32 {
    call("pvm_upklong") { vm throws(PVMError) in
        guard count >= 0, stride >= 0 else { throw PVMError(.badParam, "count \(count), stride \(stride)") }
        guard let items else { throw PVMError(.badParam, "null pointer") }
        try vm.unpack(into: items, count: Int(count), stride: Int(stride))
        return 0
    }
}

@_cdecl("pvm_pkulong")
public func c_pkulong(_ items: UnsafeMutablePointer<UInt>?, _ count: Int32, _ stride: Int32) -> Int32 {
    call("pvm_pkulong") { vm throws(PVMError) in
        guard count >= 0, stride >= 0 else { throw PVMError(.badParam, "count \(count), stride \(stride)") }
        guard let items else { throw PVMError(.badParam, "null pointer") }
        try vm.pack(items, count: Int(count), stride: Int(stride))
        return 0
    }
}

@_cdecl("pvm_upkulong")
public func c_upkulong(_ items: UnsafeMutablePointer<UInt>?, _ count: Int32, _ stride: Int32) -> Int32 {
    call("pvm_upkulong") { vm throws(PVMError) in
        guard count >= 0, stride >= 0 else { throw PVMError(.badParam, "count \(count), stride \(stride)") }
        guard let items else { throw PVMError(.badParam, "null pointer") }
        try vm.unpack(into: items, count: Int(count), stride: Int(stride))
        return 0
    }
}

@_cdecl("pvm_pkfloat")
public func c_pkfloat(_ items: UnsafeMutablePointer<Float>?, _ count: Int32, _ stride: Int32) -> Int32 {
    call("pvm_pkfloat") { vm throws(PVMError) in
        guard count >= 0, stride >= 0 else { throw PVMError(.badParam, "count \(count), stride \(stride)") }
        guard let items else { throw PVMError(.badParam, "null pointer") }
        try vm.pack(items, count: Int(count), stride: Int(stride))
        return 0
    }
}

@_cdecl("pvm_upkfloat")
public func c_upkfloat(_ items: UnsafeMutablePointer<Float>?, _ count: Int32, _ stride: Int32) -> Int32 {
    call("pvm_upkfloat") { vm throws(PVMError) in
        guard count >= 0, stride >= 0 else { throw PVMError(.badParam, "count \(count), stride \(stride)") }
        guard let items else { throw PVMError(.badParam, "null pointer") }
        try vm.unpack(into: items, count: Int(count), stride: Int(stride))
        return 0
    }
}

@_cdecl("pvm_pkdouble")
public func c_pkdouble(_ items: UnsafeMutablePointer<Double>?, _ count: Int32, _ stride: Int32) -> Int32 {
    call("pvm_pkdouble") { vm throws(PVMError) in
        guard count >= 0, stride >= 0 else { throw PVMError(.badParam, "count \(count), stride \(stride)") }
        guard let items else { throw PVMError(.badParam, "null pointer") }
        try vm.pack(items, count: Int(count), stride: Int(stride))
        return 0
    }
}

@_cdecl("pvm_upkdouble")
public func c_upkdouble(_ items: UnsafeMutablePointer<Double>?, _ count: Int32, _ stride: Int32) -> Int32 {
    call("pvm_upkdouble") { vm throws(PVMError) in
        guard count >= 0, stride >= 0 else { throw PVMError(.badParam, "count \(count), stride \(stride)") }
        guard let items else { throw PVMError(.badParam, "null pointer") }
        try vm.unpack(into: items, count: Int(count), stride: Int(stride))
        return 0
    }
}

@_cdecl("pvm_pkcplx")
public func c_pkcplx(_ items: UnsafeMutablePointer<Float>?, _ count: Int32, _ stride: Int32) -> Int32 {
    call("pvm_pkcplx") { vm throws(PVMError) in
        guard count >= 0, stride >= 0 else { throw PVMError(.badParam, "count \(count), stride \(stride)") }
        guard let items else { throw PVMError(.badParam, "null pointer") }
        try vm.sendBufferForPacking().packComplex(items, count: Int(count), stride: Int(stride))
        return 0
    }
}

@_cdecl("pvm_upkcplx")
public func c_upkcplx(_ items: UnsafeMutablePointer<Float>?, _ count: Int32, _ stride: Int32) -> Int32 {
    call("pvm_upkcplx") { vm throws(PVMError) in
        guard count >= 0, stride >= 0 else { throw PVMError(.badParam, "count \(count), stride \(stride)") }
        guard let items else { throw PVMError(.badParam, "null pointer") }
        try vm.receiveBufferForUnpacking().unpackComplex(into: items, count: Int(count), stride: Int(stride))
        return 0
    }
}

@_cdecl("pvm_pkdcplx")
public func c_pkdcplx(_ items: UnsafeMutablePointer<Double>?, _ count: Int32, _ stride: Int32) -> Int32 {
    call("pvm_pkdcplx") { vm throws(PVMError) in
        guard count >= 0, stride >= 0 else { throw PVMError(.badParam, "count \(count), stride \(stride)") }
        guard let items else { throw PVMError(.badParam, "null pointer") }
        try vm.sendBufferForPacking().packComplex(items, count: Int(count), stride: Int(stride))
        return 0
    }
}

@_cdecl("pvm_upkdcplx")
public func c_upkdcplx(_ items: UnsafeMutablePointer<Double>?, _ count: Int32, _ stride: Int32) -> Int32 {
    call("pvm_upkdcplx") { vm throws(PVMError) in
        guard count >= 0, stride >= 0 else { throw PVMError(.badParam, "count \(count), stride \(stride)") }
        guard let items else { throw PVMError(.badParam, "null pointer") }
        try vm.receiveBufferForUnpacking().unpackComplex(into: items, count: Int(count), stride: Int(stride))
        return 0
    }
}
