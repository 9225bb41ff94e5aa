#if canImport(Glibc)
import Glibc
#endif
import CPVM3
import PVM

// Message buffers and messaging: PVM 3.4's C entry points over the task
// library.

@_cdecl("pvm_initsend")
public func c_initsend(_ encoding: Int32) -> Int32 {
    // An unknown encoding fails in pvm_mkbuf inside pvm_initsend: the
    // original reports both.
    if Encoding(rawValue: encoding) == nil {
        return report("pvm_initsend", code: report("pvm_mkbuf", code: PVMError.Code.badParam.rawValue))
    }
    return call("pvm_initsend") { vm throws(PVMError) in try vm.initSend(encoding: encoding) }
}

@_cdecl("pvm_mkbuf")
public func c_mkbuf(_ encoding: Int32) -> Int32 {
    call("pvm_mkbuf") { vm throws(PVMError) in try vm.makeBuffer(encoding: encoding) }
}

@_cdecl("pvm_freebuf")
public func c_freebuf(_ id: Int32) -> Int32 {
    call("pvm_freebuf") { vm throws(PVMError) in try vm.freeBuffer(id); return 0 }
}

@_cdecl("pvm_getsbuf")
public func c_getsbuf() -> Int32 {
    call("pvm_getsbuf") { vm in vm.activeSendBuffer }
}

@_cdecl("pvm_getrbuf")
public func c_getrbuf() -> Int32 {
    call("pvm_getrbuf") { vm in vm.activeReceiveBuffer }
}

@_cdecl("pvm_setsbuf")
public func c_setsbuf(_ id: Int32) -> Int32 {
    call("pvm_setsbuf") { vm throws(PVMError) in try vm.setSendBuffer(id) }
}

@_cdecl("pvm_setrbuf")
public func c_setrbuf(_ id: Int32) -> Int32 {
    call("pvm_setrbuf") { vm throws(PVMError) in try vm.setReceiveBuffer(id) }
}

@_cdecl("pvm_bufinfo")
public func c_bufinfo(_ id: Int32, _ bytes: UnsafeMutablePointer<Int32>?, _ tag: UnsafeMutablePointer<Int32>?,
                      _ source: UnsafeMutablePointer<Int32>?) -> Int32 {
    call("pvm_bufinfo") { vm throws(PVMError) in
        let info = try vm.bufferInfo(id)
        bytes?.pointee = info.bytes
        tag?.pointee = info.tag
        source?.pointee = info.source
        return 0
    }
}

@_cdecl("pvm_getminfo")
public func c_getminfo(_ id: Int32, _ info: UnsafeMutablePointer<pvmminfo>?) -> Int32 {
    call("pvm_getminfo") { vm throws(PVMError) in
        let m = try vm.messageInfo(id)
        guard let info else { throw PVMError(.badParam, "null pointer") }
        info.pointee = pvmminfo(len: m[0], ctx: m[1], tag: m[2], wid: m[3], enc: m[4], crc: m[5], src: m[6], dst: m[7])
        return 0
    }
}

@_cdecl("pvm_setminfo")
public func c_setminfo(_ id: Int32, _ info: UnsafeMutablePointer<pvmminfo>?) -> Int32 {
    call("pvm_setminfo") { vm throws(PVMError) in
        guard let info else { throw PVMError(.badParam, "null pointer") }
        let m = info.pointee
        try vm.setMessageInfo(id, context: m.ctx, tag: m.tag, source: m.src, destination: m.dst, wait: m.wid)
        return 0
    }
}

@_cdecl("pvm_pkstr")
public func c_pkstr(_ text: UnsafeMutablePointer<CChar>?) -> Int32 {
    call("pvm_pkstr") { vm throws(PVMError) in
        guard let text else { throw PVMError(.badParam, "null string") }
        let b = try vm.sendBufferForPacking()
        // As the original: strings are not packed in place.
        guard b.encoding != .inPlace else { throw PVMError(.notImpl, "InPlace packing of a string") }
        try b.pack(cString: text)
        return 0
    }
}

@_cdecl("pvm_upkstr")
public func c_upkstr(_ text: UnsafeMutablePointer<CChar>?) -> Int32 {
    call("pvm_upkstr") { vm throws(PVMError) in
        guard let text else { throw PVMError(.badParam, "null string") }
        try vm.receiveBufferForUnpacking().unpackString(into: text)
        return 0
    }
}

// A whole message inside another: its encoding, tag, context and source,
// then its body as bytes (pvm_pkmesg); pvm_upkmesg makes it a buffer again.

@_cdecl("pvm_pkmesg")
public func c_pkmesg(_ id: Int32) -> Int32 {
    call("pvm_pkmesg") { vm throws(PVMError) in
        let inner = try vm.buffer(id)
        let info = try vm.messageInfo(id)
        let outer = try vm.sendBufferForPacking()
        guard outer !== inner else { throw PVMError(.badParam, "a message packed into itself") }
        try outer.pack([inner.encoding.rawValue, Int32(bitPattern: inner.signature.rawValue), info[2], info[1], info[6]])
        try packBody(of: inner, into: outer)
        return 0
    }
}

@_cdecl("pvm_pkmesgbody")
public func c_pkmesgbody(_ id: Int32) -> Int32 {
    call("pvm_pkmesgbody") { vm throws(PVMError) in
        let inner = try vm.buffer(id)
        let outer = try vm.sendBufferForPacking()
        guard outer !== inner else { throw PVMError(.badParam, "a message packed into itself") }
        // The body's bytes only, as the original: no header, no length.
        do {
            try inner.withContiguousBytes { (b: UnsafeRawBufferPointer) throws in
                if let base = b.baseAddress { try outer.pack(base.assumingMemoryBound(to: UInt8.self), count: b.count) }
            }
        } catch let e as PVMError { throw e } catch { throw PVMError(.sysErr, "\(error)") }
        return 0
    }
}

func packBody(of inner: MessageBuffer, into outer: MessageBuffer) throws(PVMError) {
    try outer.pack(Int32(inner.byteCount))
    do {
        try inner.withContiguousBytes { (b: UnsafeRawBufferPointer) throws in
            if let base = b.baseAddress { try outer.pack(base.assumingMemoryBound(to: UInt8.self), count: b.count) }
        }
    } catch let e as PVMError { throw e } catch { throw PVMError(.sysErr, "\(error)") }
}

@_cdecl("pvm_upkmesg")
public func c_upkmesg() -> Int32 {
    call("pvm_upkmesg") { vm throws(PVMError) in
        let from = try vm.receiveBufferForUnpacking()
        let head = try from.unpack(Int32.self, count: 5)
        guard let encoding = Encoding(rawValue: head[0]) else { throw PVMError(.badMsg, "encoding \(head[0])") }
        let length = Int(try from.unpack(Int32.self))
        guard length >= 0, length <= from.remaining else { throw PVMError(.noData, "message of \(length) bytes") }
        let body = try from.unpack(UInt8.self, count: length)
        let id = try vm.makeBuffer(encoding: encoding.rawValue)
        let target = try vm.buffer(id)
        var failure: PVMError? = nil
        body.withUnsafeBytes { b in
            do throws(PVMError) {
                try target.load(received: b, encoding: encoding, signature: DataSignature(rawValue: UInt32(bitPattern: head[1])))
            } catch { failure = error }
        }
        if let failure {
            try? vm.freeBuffer(id)
            throw failure
        }
        try vm.setMessageInfo(id, context: head[3], tag: head[2], source: head[4], destination: vm.myTid.rawValue)
        return id
    }
}

// MARK: Sending and receiving

@_cdecl("pvm_send")
public func c_send(_ tid: Int32, _ tag: Int32) -> Int32 {
    call("pvm_send") { vm throws(PVMError) in try vm.send(to: tid, tag: tag); return 0 }
}

@_cdecl("pvm_psend")
public func c_psend(_ tid: Int32, _ tag: Int32, _ data: UnsafeMutableRawPointer?, _ count: Int32, _ type: Int32) -> Int32 {
    call("pvm_psend") { vm throws(PVMError) in
        try vm.psend(to: tid, tag: tag, data: data.map { UnsafeRawPointer($0) }, count: Int(count), type: type)
        return 0
    }
}

@_cdecl("pvm_mcast")
public func c_mcast(_ tids: UnsafeMutablePointer<Int32>?, _ count: Int32, _ tag: Int32) -> Int32 {
    call("pvm_mcast") { vm throws(PVMError) in
        guard vm.activeSendBuffer != 0 else { throw PVMError(.noBuf, "no active send buffer") }
        guard count >= 0 else { throw PVMError(.badParam, "count \(count)") }
        if count > 0, tids == nil { throw PVMError(.badParam, "null task ids") }
        let list = count == 0 ? [] : Array(UnsafeBufferPointer(start: tids, count: Int(count)))
        try vm.multicast(to: list, tag: tag)
        return 0
    }
}

@_cdecl("pvm_recv")
public func c_recv(_ tid: Int32, _ tag: Int32) -> Int32 {
    call("pvm_recv") { vm throws(PVMError) in try vm.receive(from: tid, tag: tag, timeoutNanoseconds: nil) }
}

@_cdecl("pvm_nrecv")
public func c_nrecv(_ tid: Int32, _ tag: Int32) -> Int32 {
    call("pvm_nrecv") { vm throws(PVMError) in try vm.receive(from: tid, tag: tag, timeoutNanoseconds: 0) }
}

@_cdecl("pvm_trecv")
public func c_trecv(_ tid: Int32, _ tag: Int32, _ timeout: UnsafeMutablePointer<timeval>?) -> Int32 {
    call("pvm_trecv") { vm throws(PVMError) in
        var limit: UInt64? = nil
        if let t = timeout?.pointee {
            guard t.tv_sec >= 0, t.tv_usec >= 0 else { throw PVMError(.badParam, "negative timeout") }
            limit = UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_usec) * 1_000
        }
        return try vm.receive(from: tid, tag: tag, timeoutNanoseconds: limit)
    }
}

@_cdecl("pvm_probe")
public func c_probe(_ tid: Int32, _ tag: Int32) -> Int32 {
    call("pvm_probe") { vm throws(PVMError) in try vm.probe(from: tid, tag: tag) }
}

@_cdecl("pvm_precv")
public func c_precv(_ tid: Int32, _ tag: Int32, _ data: UnsafeMutableRawPointer?, _ count: Int32, _ type: Int32,
                    _ rtid: UnsafeMutablePointer<Int32>?, _ rtag: UnsafeMutablePointer<Int32>?,
                    _ rcount: UnsafeMutablePointer<Int32>?) -> Int32 {
    call("pvm_precv") { vm throws(PVMError) in
        let got = try vm.precv(from: tid, tag: tag, into: data, count: Int(count), type: type)
        rtid?.pointee = got.source
        rtag?.pointee = got.tag
        // The message's length in bytes, as the original reports it.
        rcount?.pointee = Int32(truncatingIfNeeded: got.bytes)
        return 0
    }
}

/// The program's own matching function for receives (pvm_recvf). Not
/// supported yet: installing one is reported as PvmNotImpl and receives
/// keep PVM's own matching; resetting to the default (NULL) works.
public typealias MatchFunction = @convention(c) (Int32, Int32, Int32) -> Int32

/// PVM's own matching, as a function a program may call or install again:
/// 1 if buffer `id` is from `tid` with `tag` (-1 matching any), else 0.
let builtInMatch: MatchFunction = { id, tid, tag in
    guard let vm = VirtualMachine.existing, let info = try? vm.bufferInfo(id) else { return 0 }
    return (tid == -1 || tid == info.source) && (tag == -1 || tag == info.tag) ? 1 : 0
}

/// The function pvm_recvf installed last (the built-in one at first).
nonisolated(unsafe) var currentMatch: MatchFunction = builtInMatch

func same(_ a: MatchFunction, _ b: MatchFunction) -> Bool {
    unsafeBitCast(a, to: UnsafeRawPointer.self) == unsafeBitCast(b, to: UnsafeRawPointer.self)
}

@_cdecl("pvm_recvf")
public func c_recvf(_ function: MatchFunction?) -> MatchFunction? {
    let old = currentMatch
    let new = function ?? builtInMatch
    currentMatch = new
    // The task library matches by source, tag and context itself; a
    // program's own function is called for each arrived message instead.
    let matcher: ((Int32, Int32, Int32) -> Int32)? = same(new, builtInMatch) ? nil : { id, tid, tag in new(id, tid, tag) }
    _ = call("pvm_recvf") { vm in vm.matcher = matcher; return 0 }
    return old
}
