/// The content of the transport tests' messages: message `seq` of sender
/// `seed` carries a 16-byte header (seq, length) and then a pattern the
/// receiver recomputes. Shared by `shm-test-peer` and the tests.
public enum ShmTestPattern {
    public static func fill(_ buffer: UnsafeMutableRawBufferPointer, seq: UInt64, seed: UInt64) {
        let n = buffer.count
        if n >= 8 { buffer.storeBytes(of: seq, toByteOffset: 0, as: UInt64.self) }
        if n >= 16 { buffer.storeBytes(of: UInt64(n), toByteOffset: 8, as: UInt64.self) }
        var x = seq &* 0x9E37_79B9_7F4A_7C15 ^ seed
        var i = min(n, 16)
        while i + 8 <= n {
            x = x &* 6364136223846793005 &+ 1442695040888963407
            buffer.storeBytes(of: x, toByteOffset: i, as: UInt64.self)
            i += 8
        }
        while i < n { buffer[i] = UInt8(truncatingIfNeeded: seq &+ UInt64(i)); i += 1 }
    }

    /// Checks, without allocating, that `bytes` is what `fill` puts in
    /// message `seq` of sender `seed`.
    public static func matches(_ bytes: UnsafeRawBufferPointer, seq: UInt64, seed: UInt64) -> Bool {
        let n = bytes.count
        if n >= 8 && bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self) != seq { return false }
        if n >= 16 && bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self) != UInt64(n) { return false }
        var x = seq &* 0x9E37_79B9_7F4A_7C15 ^ seed
        var i = min(n, 16)
        while i + 8 <= n {
            x = x &* 6364136223846793005 &+ 1442695040888963407
            if bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self) != x { return false }
            i += 8
        }
        while i < n {
            if bytes[i] != UInt8(truncatingIfNeeded: seq &+ UInt64(i)) { return false }
            i += 1
        }
        return true
    }
}
