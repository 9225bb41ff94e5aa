import Testing
import PVMEncoding

@Suite struct SignatureTests {
    @Test func nativeSignatureMatchesTheOriginalOnX86_64() {
        #if arch(x86_64)
        #expect(DataSignature.native.rawValue == 0x0040_8C41)
        #expect(Architecture.host.name == "LINUX64")
        #endif
        #expect(Architecture.named(Architecture.host.name)?.signature == .native)
    }

    @Test func theConstantSignatureIsTheOneTheByteImagesGive() {
        #expect(DataSignature.native == DataSignature.byteImageSignature)
    }

    @Test func fieldsDecodeAsPVMDefinesThem() throws {
        let sun4 = try #require(Architecture.named("SUN4")).signature
        #expect(sun4.rawValue == 0x0658_EB59)
        #expect(sun4.short == .init(sizeOrFormat: 2, order: .big))
        #expect(sun4.int == .init(sizeOrFormat: 4, order: .big))
        #expect(sun4.long == .init(sizeOrFormat: 4, order: .big))
        #expect(sun4.float == .init(sizeOrFormat: 1, order: .big))
        #expect(sun4.double == .init(sizeOrFormat: 2, order: .big))
        #expect(Architecture.named("LINUX")?.signature.rawValue == 0x0040_8841)
        #expect(Architecture.named("SGI64")?.signature.rawValue == 0x0658_EF59)
        for arch in Architecture.known { #expect(throws: Never.self) { try arch.signature.validated() } }
    }

    @Test func unsupportedSignaturesAreRefused() {
        let cray = DataSignature(short: (8, .big), int: (8, .big), long: (8, .big), float: (4, .big), double: (4, .big))
        #expect(throws: PVMError(.badMsg)) { try cray.validated() }
        #expect(throws: PVMError(.badMsg)) { try DataSignature(rawValue: 0xFFFF_FFFF).validated() }
        #expect(throws: PVMError(.badMsg)) { try DataSignature(rawValue: 0x0040_8C40).validated() }  // short of 1 byte
    }

    @Test func errorTextsAreTheOriginals() {
        #expect(PVMError(.noData).text == "End of buffer")
        #expect(PVMError(.badParam).text == "Bad parameter")
        #expect(PVMError(.badMsg).text == "Can't decode message")
        #expect(PVMError(.ipLoopback).code == -36)
        #expect(PVMError.texts.count == 37)
        #expect(PVMError.text(for: -37) == "Unknown Error")
        #expect(PVMError.text(for: 0) == "Error 0")
    }
}

@Suite struct MessageBufferTests {
    /// Every length the inlined small copy handles (and either side of its
    /// cases), through pack, a received buffer's load and unpack: each byte
    /// arrives, in place, and nothing past the end is written.
    @Test func packLoadAndUnpackKeepEveryByteOfSmallRuns() throws {
        for n in 0...40 {
            let source = (0..<n).map { UInt8(truncatingIfNeeded: 0x31 &+ $0 &* 7) }
            let sent = MessageBuffer(encoding: .raw)
            try source.withUnsafeBufferPointer { if n > 0 { try sent.pack($0.baseAddress!, count: n) } }
            try sent.pack([UInt8(0xEE)])  // a byte after the run: the run must not overwrite it
            let received = MessageBuffer(encoding: .raw)
            try sent.withContiguousBytes { try received.load(received: $0, encoding: .raw, signature: .native) }
            var out = [UInt8](repeating: 0xAA, count: n + 8)
            try out.withUnsafeMutableBufferPointer { if n > 0 { try received.unpack(into: $0.baseAddress!, count: n) } }
            #expect(Array(out[0..<n]) == source, "run of \(n) bytes")
            #expect(out[n...].allSatisfy { $0 == 0xAA }, "bytes written past a run of \(n)")
            #expect(try received.unpack(UInt8.self) == 0xEE)
        }
    }

    @Test(arguments: [Encoding.default, .raw, .inPlace])
    func roundTripOfEveryTypeWithStride(encoding: Encoding) throws {
        let b = MessageBuffer(encoding: encoding)
        let shorts: [Int16] = [1, -2, 3, -4, 5, -6]
        let ints: [Int32] = [.min, -1, 0, 1, .max, 7]
        let longs: [Int] = [.min, -1, 0, 1, .max, 9]
        let floats: [Float] = [-0.0, .infinity, .nan, .leastNonzeroMagnitude, 1.5, -3]
        let doubles: [Double] = [-0.0, -.infinity, .nan, .leastNonzeroMagnitude, .pi, 2]
        let bytes: [Int8] = [1, 2, 3, 4, 5, 6]
        let ushorts: [UInt16] = [.max, 0, 1, 2, 3, 4]
        let uints: [UInt32] = [.max, 0, 1, 2, 3, 4]
        let ulongs: [UInt] = [.max, 0, 1, 2, 3, 4]
        let stride = encoding == .inPlace ? 1 : 2
        let n = encoding == .inPlace ? 6 : 3
        try shorts.withUnsafeBufferPointer { try b.pack($0.baseAddress!, count: n, stride: stride) }
        try ints.withUnsafeBufferPointer { try b.pack($0.baseAddress!, count: n, stride: stride) }
        try longs.withUnsafeBufferPointer { try b.pack($0.baseAddress!, count: n, stride: stride) }
        try floats.withUnsafeBufferPointer { try b.pack($0.baseAddress!, count: n, stride: stride) }
        try doubles.withUnsafeBufferPointer { try b.pack($0.baseAddress!, count: n, stride: stride) }
        try bytes.withUnsafeBufferPointer { try b.pack($0.baseAddress!, count: n, stride: stride) }
        try b.pack(ushorts)
        try b.pack(uints)
        try b.pack(ulongs)
        if encoding != .inPlace { try b.pack(string: "héllo") }
        // What a transport carries: the gathered pieces, with the sender's signature.
        let wire = b.contiguousBytes()
        let r = try wire.withUnsafeBytes { try MessageBuffer(received: $0, encoding: encoding, signature: b.signature) }
        func picked<T>(_ a: [T]) -> [T] { Swift.stride(from: 0, to: n * stride, by: stride).map { a[$0] } }
        #expect(try r.unpack(Int16.self, count: n) == picked(shorts))
        #expect(try r.unpack(Int32.self, count: n) == picked(ints))
        #expect(try r.unpack(Int.self, count: n) == picked(longs))
        #expect(try r.unpack(Float.self, count: n).map(\.bitPattern) == picked(floats).map(\.bitPattern))
        #expect(try r.unpack(Double.self, count: n).map(\.bitPattern) == picked(doubles).map(\.bitPattern))
        #expect(try r.unpack(Int8.self, count: n) == picked(bytes))
        #expect(try r.unpack(UInt16.self, count: 6) == ushorts)
        #expect(try r.unpack(UInt32.self, count: 6) == uints)
        #expect(try r.unpack(UInt.self, count: 6) == ulongs)
        if encoding != .inPlace { #expect(try r.unpackString() == "héllo") }
        #expect(r.remaining == 0)
        #expect(throws: PVMError(.noData)) { try r.unpack(Int32.self) }
    }

    @Test func unpackWithStrideScattersIntoSlots() throws {
        let b = MessageBuffer(encoding: .default)
        try b.pack([Int32(1), 3, 5])
        let r = try b.contiguousBytes().withUnsafeBytes { try MessageBuffer(received: $0, encoding: .default, signature: .native) }
        var slots = [Int32](repeating: 0, count: 6)
        try slots.withUnsafeMutableBufferPointer { try r.unpack(into: $0.baseAddress!, count: 3, stride: 2) }
        #expect(slots == [1, 0, 3, 0, 5, 0])
    }

    @Test func inPlaceReadsTheCallersMemoryAtSendTime() throws {
        let b = MessageBuffer(encoding: .inPlace)
        var data: [Int32] = [1, 2, 3]
        try data.withUnsafeBufferPointer { try b.pack($0.baseAddress!, count: 3) }
        data[1] = 42  // changed after packing, before "sending"
        let wire = b.contiguousBytes()
        #expect(wire.withUnsafeBytes { Array($0.bindMemory(to: Int32.self)) } == [1, 42, 3])
        #expect(throws: PVMError(.notImpl)) { try b.pack(string: "x") }
        #expect(throws: PVMError(.notImpl)) { try data.withUnsafeBufferPointer { try b.pack($0.baseAddress!, count: 1, stride: 2) } }
    }

    @Test func likeMachineDefaultIsRawBytes() throws {
        let d = MessageBuffer(encoding: .default), r = MessageBuffer(encoding: .raw)
        let values = (0..<100).map { Double($0) * 1.25 }
        try d.pack(values)
        try r.pack(values)
        #expect(d.contiguousBytes() == r.contiguousBytes())
    }

    @Test func badCountsAndStridesAndEndOfBuffer() throws {
        let b = MessageBuffer(encoding: .default)
        var x: Int32 = 1
        #expect(throws: PVMError(.badParam)) { try b.pack(&x, count: -1) }
        #expect(throws: PVMError(.badParam)) { try b.pack(&x, count: 1, stride: -1) }
        #expect(throws: PVMError(.badParam)) { try b.pack(&x, count: Int.max / 2) }
        try b.pack(&x, count: 0)
        try b.pack(x)
        let r = try b.contiguousBytes().withUnsafeBytes { try MessageBuffer(received: $0, encoding: .default, signature: .native) }
        #expect(throws: PVMError(.noData)) { try r.unpack(Int.self) }  // 8 bytes wanted, 4 left
        #expect(throws: PVMError(.badParam)) { try r.unpack(Int32.self, count: -5) }
        // A length word that lies: "string" of 1000 bytes with 0 following.
        #expect(throws: PVMError(.noData)) { try r.unpackString() }
        #expect(try r.unpack(Int32.self) == 1)  // the failed string read left the cursor alone
        #expect(throws: PVMError(.badMsg)) {
            try [UInt8](repeating: 0, count: 4).withUnsafeBytes { try MessageBuffer(received: $0, encoding: .default, signature: DataSignature(rawValue: 0xFFFF_FFFF)) }
        }
    }
}

@Suite struct ConversionTests {
    /// Builds the bytes of `values` as a big-endian host with `longBytes`
    /// longs would hold them, independently of the kernels under test.
    static func bigEndian<T: FixedWidthInteger>(_ values: [T], width: Int) -> [UInt8] {
        values.flatMap { v -> [UInt8] in
            let wide = Int64(truncatingIfNeeded: v)
            return (0..<width).reversed().map { UInt8(truncatingIfNeeded: wide >> (8 * $0)) }
        }
    }

    @Test(arguments: Architecture.known.filter { $0.signature != .native })
    func decodesEveryForeignArchitecture(arch: Architecture) throws {
        let s = arch.signature
        let little = s.int.order == .little
        func encode<T: FixedWidthInteger>(_ v: [T], _ width: Int) -> [UInt8] {
            let be = Self.bigEndian(v, width: width)
            return little ? stride(from: 0, to: be.count, by: width).flatMap { be[$0..<$0 + width].reversed() } : be
        }
        let ints: [Int32] = [.min, -7, 0, 0x0102_0304, .max]
        let longs: [Int] = s.long.sizeOrFormat == 8 ? [.min, -7, 0, .max] : [Int(Int32.min), -7, 0, Int(Int32.max)]
        let doubles: [Double] = [-0.0, .infinity, .leastNonzeroMagnitude, Double(bitPattern: 0x7FF8_0000_1234_5678)]
        var wire = encode(ints, 4) + encode(longs, s.long.sizeOrFormat)
        wire += encode(doubles.map { Int64(bitPattern: $0.bitPattern) }, 8)
        let r = try wire.withUnsafeBytes { try MessageBuffer(received: $0, encoding: .default, signature: s) }
        #expect(try r.unpack(Int32.self, count: ints.count) == ints)
        #expect(try r.unpack(Int.self, count: longs.count) == longs)
        #expect(try r.unpack(Double.self, count: doubles.count).map(\.bitPattern) == doubles.map(\.bitPattern))
        // Raw never converts: the same bytes come back as they are.
        let raw = try wire.withUnsafeBytes { try MessageBuffer(received: $0, encoding: .raw, signature: s) }
        let first = try raw.unpack(Int32.self)
        #expect(withUnsafeBytes(of: first) { Array($0) } == Array(wire[0..<4]))
    }

    @Test func longThatDoesNotFitIsAnOverflowError() throws {
        let sun4 = try #require(Architecture.named("SUN4")).signature
        var out = [UInt8](repeating: 0, count: 8)
        let fits: [Int] = [Int(Int32.max)]
        try fits.withUnsafeBytes { s in try out.withUnsafeMutableBytes { d in
            try Conversion.convert(.long, count: 1, from: .native, source: s.baseAddress!, to: sun4, destination: d.baseAddress!) } }
        #expect(Array(out[0..<4]) == [0x7F, 0xFF, 0xFF, 0xFF])
        let big: [Int] = [Int(Int32.max) + 1]
        #expect(throws: PVMError(.overflow)) {
            try big.withUnsafeBytes { s in try out.withUnsafeMutableBytes { d in
                try Conversion.convert(.long, count: 1, from: .native, source: s.baseAddress!, to: sun4, destination: d.baseAddress!) } }
        }
        let unsignedBig: [UInt] = [UInt(UInt32.max) + 1]
        #expect(throws: PVMError(.overflow)) {
            try unsignedBig.withUnsafeBytes { s in try out.withUnsafeMutableBytes { d in
                try Conversion.convert(.ulong, count: 1, from: .native, source: s.baseAddress!, to: sun4, destination: d.baseAddress!) } }
        }
    }

    @Test func halvesSwappedOrdersRoundTrip() throws {
        let odd = DataSignature(short: (2, .little), int: (4, .little), long: (8, .littleHalvesSwapped),
                                float: (1, .little), double: (2, .bigHalvesSwapped))
        let values: [Double] = [.pi, -0.0, .nan, 1e-310]
        var foreign = [UInt8](repeating: 0, count: 32)
        var back = [Double](repeating: 0, count: 4)
        try values.withUnsafeBytes { s in try foreign.withUnsafeMutableBytes { d in
            try Conversion.convert(.double, count: 4, from: .native, source: s.baseAddress!, to: odd, destination: d.baseAddress!) } }
        // Big-endian halves, low half first: pi = 0x400921FB54442D18 -> 54 44 2D 18 40 09 21 FB
        #expect(Array(foreign[0..<8]) == [0x54, 0x44, 0x2D, 0x18, 0x40, 0x09, 0x21, 0xFB])
        try foreign.withUnsafeBytes { s in try back.withUnsafeMutableBytes { d in
            try Conversion.convert(.double, count: 4, from: odd, source: s.baseAddress!, to: .native, destination: d.baseAddress!) } }
        #expect(back.map(\.bitPattern) == values.map(\.bitPattern))
    }
}

@Suite struct FrameTests {
    static let sample = FrameHeader(bodyLength: 12, tag: 7, context: 3, source: 0x40001, destination: 0x40002, sequence: 99)

    @Test func roundTrip() throws {
        var bytes = Self.sample.encoded() + [UInt8](repeating: 1, count: 12)
        let (h, body) = try bytes.withUnsafeBytes { try FrameHeader.decodeFrame($0) }
        #expect(h == Self.sample)
        #expect(body.count == 12)
        bytes.removeLast()
        #expect(throws: PVMError(.badMsg)) { try bytes.withUnsafeBytes { try FrameHeader.decodeFrame($0) } }
    }

    /// Every prefix and every single-byte corruption of a valid frame header
    /// either decodes or throws a PVM error: never a crash.
    @Test func truncatedAndCorruptedHeadersNeverCrash() throws {
        let good = Self.sample.encoded() + [UInt8](repeating: 0, count: 12)
        for n in 0..<FrameHeader.size {
            #expect(throws: PVMError.self) { try Array(good[0..<n]).withUnsafeBytes { try FrameHeader.decode($0) } }
        }
        var rejected = 0
        for i in 0..<FrameHeader.size {
            for bit in 0..<8 {
                var bad = good
                bad[i] ^= 1 << bit
                do {
                    _ = try bad.withUnsafeBytes { try FrameHeader.decodeFrame($0) }
                } catch {
                    rejected += 1
                }
            }
        }
        // Magic, version, size, length, encoding, signature and flags bytes are all checked.
        #expect(rejected >= 8 * (4 + 2 + 2 + 8 + 4 + 4))
    }
}

@Suite struct ComplexTests {
    /// pvm_pkcplx semantics: the stride counts complex numbers.
    @Test func complexPairsWithStrideAndConversion() throws {
        let pairs: [Double] = [1, -1, 2, -2, 3, -3, 4, -4]  // four complex numbers
        let b = MessageBuffer(encoding: .default)
        try pairs.withUnsafeBufferPointer { try b.packComplex($0.baseAddress!, count: 2, stride: 2) }
        #expect(b.byteCount == 32)
        // As a big-endian host would send the same two numbers.
        let sun4 = try #require(Architecture.named("SUN4")).signature
        let picked: [Double] = [1, -1, 3, -3]
        let wire = picked.flatMap { withUnsafeBytes(of: $0.bitPattern.bigEndian) { Array($0) } }
        for (bytes, signature) in [(b.contiguousBytes(), DataSignature.native), (wire, sun4)] {
            let r = try bytes.withUnsafeBytes { try MessageBuffer(received: $0, encoding: .default, signature: signature) }
            var out = [Double](repeating: 0, count: 8)
            try out.withUnsafeMutableBufferPointer { try r.unpackComplex(into: $0.baseAddress!, count: 2, stride: 2) }
            #expect(out == [1, -1, 0, 0, 3, -3, 0, 0])
            #expect(throws: PVMError(.noData)) {
                try out.withUnsafeMutableBufferPointer { try r.unpackComplex(into: $0.baseAddress!, count: 1, stride: 2) }
            }
        }
        let floats: [Float] = [0.5, -0.5]
        let f = MessageBuffer(encoding: .raw)
        try floats.withUnsafeBufferPointer { try f.packComplex($0.baseAddress!, count: 1) }
        #expect(f.byteCount == 8)
    }
}
