/// The numeric item kinds that conversion knows. Complex numbers are pairs
/// of float or double and convert as such.
public enum ScalarKind: Sendable, CaseIterable {
    case short, ushort, int, uint, long, ulong, float, double

    var isSigned: Bool {
        switch self {
        case .short, .int, .long: return true
        default: return false
        }
    }

    /// The signature field that describes this kind.
    func field(of s: DataSignature) -> DataSignature.Field {
        switch self {
        case .short, .ushort: return s.short
        case .int, .uint: return s.int
        case .long, .ulong: return s.long
        case .float: return DataSignature.Field(sizeOrFormat: 4, order: s.float.order)
        case .double: return DataSignature.Field(sizeOrFormat: 8, order: s.double.order)
        }
    }

    /// Bytes per item in a host of signature `s`.
    public func size(in s: DataSignature) -> Int { field(of: s).sizeOrFormat }
}

/// Conversion kernels between data signatures ("receiver makes right": the
/// receiver calls these while unpacking when the sender's signature differs
/// from its own; and the other way when data is written for a foreign host).
///
/// Same size and order: a copy. Opposite byte order: a byte-swap loop the
/// compiler vectorizes. Halves-swapped orders: a byte permutation. Different
/// integer widths: sign or zero extension, and narrowing with an overflow
/// check (PvmOverflow names the first item that does not fit). Floats are
/// only ever reordered, never computed on, so NaN payloads, infinities,
/// subnormals and negative zero survive bit for bit.
public enum Conversion {
    public static func convert(_ kind: ScalarKind, count: Int,
                               from: DataSignature, source: UnsafeRawPointer,
                               to: DataSignature, destination: UnsafeMutableRawPointer) throws(PVMError) {
        guard count > 0 else { return }
        let a = kind.field(of: from), b = kind.field(of: to)
        if a.sizeOrFormat == b.sizeOrFormat {
            let size = a.sizeOrFormat
            if a.order == b.order {
                destination.copyMemory(from: source, byteCount: count * size)
            } else if (a.order == .little && b.order == .big) || (a.order == .big && b.order == .little) {
                swapBytes(size: size, count: count, source: source, destination: destination)
            } else {
                permute(size: size, count: count, from: a.order, source: source, to: b.order, destination: destination)
            }
            return
        }
        try resize(kind, count: count, from: a, source: source, to: b, destination: destination)
    }

    /// Opposite byte order, same size: the hot kernel.
    @inline(__always)
    static func swapBytes(size: Int, count: Int, source: UnsafeRawPointer, destination: UnsafeMutableRawPointer) {
        switch size {
        case 2:
            for i in 0..<count {
                destination.storeBytes(of: source.loadUnaligned(fromByteOffset: 2 &* i, as: UInt16.self).byteSwapped, toByteOffset: 2 &* i, as: UInt16.self)
            }
        case 4:
            for i in 0..<count {
                destination.storeBytes(of: source.loadUnaligned(fromByteOffset: 4 &* i, as: UInt32.self).byteSwapped, toByteOffset: 4 &* i, as: UInt32.self)
            }
        default:
            for i in 0..<count {
                destination.storeBytes(of: source.loadUnaligned(fromByteOffset: 8 &* i, as: UInt64.self).byteSwapped, toByteOffset: 8 &* i, as: UInt64.self)
            }
        }
    }

    /// Memory position of the byte of significance `k` (0 = least) in an
    /// item of `size` bytes stored in `order`.
    static func position(_ k: Int, size: Int, order: DataSignature.ByteOrder) -> Int {
        switch order {
        case .little: return k
        case .big: return size - 1 - k
        case .littleHalvesSwapped: return size == 8 ? (k < 4 ? k + 4 : k - 4) : k
        case .bigHalvesSwapped: return size == 8 ? (k < 4 ? 3 - k : 11 - k) : size - 1 - k
        }
    }

    static func permute(size: Int, count: Int, from: DataSignature.ByteOrder, source: UnsafeRawPointer,
                        to: DataSignature.ByteOrder, destination: UnsafeMutableRawPointer) {
        var map = (0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &map) { raw in
            let m = raw.bindMemory(to: Int.self)
            for k in 0..<size { m[position(k, size: size, order: to)] = position(k, size: size, order: from) }
        }
        withUnsafeBytes(of: map) { raw in
            let m = raw.bindMemory(to: Int.self)
            for i in 0..<count {
                let s = source + i * size, d = destination + i * size
                for j in 0..<size { d.storeBytes(of: s.load(fromByteOffset: m[j], as: UInt8.self), toByteOffset: j, as: UInt8.self) }
            }
        }
    }

    /// Reads one integer of any supported size and order as its 64-bit value
    /// (sign- or zero-extended).
    @inline(__always)
    static func readInteger(_ p: UnsafeRawPointer, size: Int, order: DataSignature.ByteOrder, signed: Bool) -> UInt64 {
        var v: UInt64 = 0
        for k in 0..<size { v |= UInt64(p.load(fromByteOffset: position(k, size: size, order: order), as: UInt8.self)) << (8 * k) }
        if signed && size < 8 && v & (1 << (8 * size - 1)) != 0 { v |= ~0 << (8 * size) }
        return v
    }

    @inline(__always)
    static func writeInteger(_ v: UInt64, _ p: UnsafeMutableRawPointer, size: Int, order: DataSignature.ByteOrder) {
        for k in 0..<size { p.storeBytes(of: UInt8(truncatingIfNeeded: v >> (8 * k)), toByteOffset: position(k, size: size, order: order), as: UInt8.self) }
    }

    static func resize(_ kind: ScalarKind, count: Int, from a: DataSignature.Field, source: UnsafeRawPointer,
                       to b: DataSignature.Field, destination: UnsafeMutableRawPointer) throws(PVMError) {
        let signed = kind.isSigned
        let plain: (DataSignature.ByteOrder) -> Bool = { $0 == .little || $0 == .big }
        // Fast paths: 4 <-> 8 bytes between plain byte orders (32- and 64-bit longs).
        if a.sizeOrFormat == 4, b.sizeOrFormat == 8, plain(a.order), plain(b.order) {
            let swapIn = a.order == .big, swapOut = b.order == .big
            for i in 0..<count {
                var v = source.loadUnaligned(fromByteOffset: 4 &* i, as: UInt32.self)
                if swapIn { v = v.byteSwapped }
                var w = signed ? UInt64(bitPattern: Int64(Int32(bitPattern: v))) : UInt64(v)
                if swapOut { w = w.byteSwapped }
                destination.storeBytes(of: w, toByteOffset: 8 &* i, as: UInt64.self)
            }
            return
        }
        if a.sizeOrFormat == 8, b.sizeOrFormat == 4, plain(a.order), plain(b.order) {
            let swapIn = a.order == .big, swapOut = b.order == .big
            for i in 0..<count {
                var v = source.loadUnaligned(fromByteOffset: 8 &* i, as: UInt64.self)
                if swapIn { v = v.byteSwapped }
                let fits = signed ? Int64(bitPattern: v) == Int64(Int32(truncatingIfNeeded: v)) : v <= UInt64(UInt32.max)
                guard fits else {
                    throw PVMError(.overflow, "item \(i): \(signed ? String(Int64(bitPattern: v)) : String(v)) does not fit in 4 bytes")
                }
                var w = UInt32(truncatingIfNeeded: v)
                if swapOut { w = w.byteSwapped }
                destination.storeBytes(of: w, toByteOffset: 4 &* i, as: UInt32.self)
            }
            return
        }
        let bits = 8 * b.sizeOrFormat
        for i in 0..<count {
            let v = readInteger(source + i * a.sizeOrFormat, size: a.sizeOrFormat, order: a.order, signed: signed)
            if bits < 64 {
                let fits: Bool
                if signed {
                    let s = Int64(bitPattern: v)
                    fits = s >= -(Int64(1) << (bits - 1)) && s < (Int64(1) << (bits - 1))
                } else {
                    fits = v < (UInt64(1) << bits)
                }
                guard fits else {
                    throw PVMError(.overflow, "item \(i): \(signed ? String(Int64(bitPattern: v)) : String(v)) does not fit in \(b.sizeOrFormat) bytes")
                }
            }
            writeInteger(v, destination + i * b.sizeOrFormat, size: b.sizeOrFormat, order: b.order)
        }
    }
}
