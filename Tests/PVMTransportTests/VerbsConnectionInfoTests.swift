import Testing
import PVMTransport

/// The connection info two ends exchange before a QP is usable: its wire
/// encoding and every validation rule.
@Suite struct VerbsConnectionInfoTests {
    static let roceGID = VerbsGID(bytes: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 0, 1])

    static func infiniband() throws -> VerbsConnectionInfo {
        try VerbsConnectionInfo(
            linkLayer: .infiniband, mtu: .mtu4096, lid: 0x1234, qpn: 0xABCDEF, psn: 0x123456,
            gid: VerbsGID(bytes: [0xfe, 0x80] + [UInt8](repeating: 0, count: 6) + [1, 2, 3, 4, 5, 6, 7, 8]),
            ringAddress: 0x7f00_1234_5000, ringRKey: 0xDEAD_BEEF, ringSlots: 256, slotSize: 256,
            initialCredits: 128, releaseAddress: 0x7f00_0000_1000, releaseRKey: 0x0BAD_F00D)
    }

    static func roce() throws -> VerbsConnectionInfo {
        try VerbsConnectionInfo(
            linkLayer: .ethernet, mtu: .mtu1024, lid: 0, qpn: 17, psn: 0, gid: roceGID,
            ringAddress: 0x1000, ringRKey: 1, ringSlots: 2, slotSize: 64, initialCredits: 1,
            releaseAddress: 0x2000, releaseRKey: 2)
    }

    @Test func roundTripsInfiniBandAndRoCE() throws {
        for info in [try Self.infiniband(), try Self.roce()] {
            let bytes = try info.encoded()
            #expect(bytes.count == VerbsConnectionInfo.encodedSize)
            #expect(try VerbsConnectionInfo(decoding: bytes) == info)
        }
    }

    @Test func encodingIsLittleEndianAtFixedOffsets() throws {
        let b = try Self.infiniband().encoded()
        #expect(b[0] == 1 && b[1] == 0)               // version 1
        #expect(b[2] == 72 && b[3] == 0)              // size
        #expect(b[4] == 1 && b[5] == 5)               // InfiniBand, MTU 4096
        #expect(b[6] == 0x34 && b[7] == 0x12)         // LID
        #expect(Array(b[8..<12]) == [0xEF, 0xCD, 0xAB, 0])
        #expect(Array(b[12..<16]) == [0x56, 0x34, 0x12, 0])
        #expect(b[16] == 0xfe && b[17] == 0x80 && b[31] == 8) // GID in network order
        #expect(Array(b[40..<44]) == [0xEF, 0xBE, 0xAD, 0xDE])
        #expect(Array(b[44..<48]) == [0, 1, 0, 0])    // 256 slots
        #expect(Array(b[68..<72]) == [0, 0, 0, 0])
    }

    @Test func gidTextAndBytes() {
        let g = Self.roceGID
        #expect(g.isIPv4Mapped)
        #expect(g.bytes.count == 16 && g.bytes[12] == 198)
        #expect(g.description == "0000:0000:0000:0000:0000:ffff:c612:0001")
        #expect(VerbsGID(bytes: g.bytes) == g)
        #expect(VerbsGID.zero.isZero)
    }

    /// Every truncation of a valid encoding is refused, none crashes.
    @Test func everyTruncationIsRefused() throws {
        let bytes = try Self.infiniband().encoded()
        for n in 0..<bytes.count {
            #expect(throws: VerbsInfoError.shortBuffer(needed: 72, got: n)) {
                try VerbsConnectionInfo(decoding: Array(bytes.prefix(n)))
            }
        }
        #expect(throws: VerbsInfoError.trailingBytes(expected: 72, got: 73)) {
            try VerbsConnectionInfo(decoding: bytes + [0])
        }
    }

    /// One corrupted field at a time, each with its own error.
    @Test(arguments: [
        (0, UInt32(2), 2, VerbsInfoError.unsupportedVersion(2)),
        (2, 80, 2, .sizeMismatch(declared: 80)),
        (4, 3, 1, .unknownLinkLayer(3)),
        (4, 0, 1, .unknownLinkLayer(0)),
        (5, 0, 1, .mtuOutOfRange(0)),
        (5, 6, 1, .mtuOutOfRange(6)),
        (8, 0x0100_0000, 4, .qpnOutOfRange(0x0100_0000)),
        (8, 1, 4, .reservedQPN(1)),
        (12, 0x0100_0000, 4, .psnOutOfRange(0x0100_0000)),
        (6, 0, 2, .missingLID),
        (6, 0xC001, 2, .multicastLID(0xC001)),
        (32, 0, 8, .nullRingAddress),
        (44, 0, 4, .emptyRing),
        (44, 96, 4, .ringSlotsNotPowerOfTwo(96)),
        (44, 1 << 16, 4, .ringTooLarge(slots: 1 << 16)),
        (48, 32, 4, .invalidSlotSize(32)),
        (48, 100, 4, .invalidSlotSize(100)),
        (48, 1 << 17, 4, .invalidSlotSize(1 << 17)),
        (52, 0, 4, .invalidCredits(0)),
        (52, (1 << 15) + 1, 4, .invalidCredits((1 << 15) + 1)),
        (56, 0, 8, .nullReleaseAddress),
        (68, 1, 4, .nonzeroFlags(1)),
    ] as [(Int, UInt32, Int, VerbsInfoError)])
    func corruptFieldIsNamed(offset: Int, value: UInt32, width: Int, expected: VerbsInfoError) throws {
        var bytes = try Self.infiniband().encoded()
        for i in 0..<width { bytes[offset + i] = i < 4 ? UInt8(truncatingIfNeeded: value >> (8 * UInt32(i))) : 0 }
        #expect(throws: expected) { try VerbsConnectionInfo(decoding: bytes) }
    }

    @Test func roceWithoutGIDIsRefused() throws {
        var bytes = try Self.roce().encoded()
        for i in 16..<32 { bytes[i] = 0 }
        #expect(throws: VerbsInfoError.missingGID) { try VerbsConnectionInfo(decoding: bytes) }
    }

    @Test func invalidInfoIsNeverEncoded() throws {
        var info = try Self.infiniband()
        info.qpn = 1 << 24
        #expect(throws: VerbsInfoError.qpnOutOfRange(1 << 24)) { try info.encoded() }
        info.qpn = 5
        info.lid = 0
        #expect(throws: VerbsInfoError.missingLID) { try info.encoded() }
    }

    @Test func mtuAndLinkLayerNames() {
        #expect(VerbsMTU.allCases.map(\.bytes) == [256, 512, 1024, 2048, 4096])
        #expect(VerbsMTU.mtu1024 < .mtu2048)
        #expect(VerbsLinkLayer.ethernet.description == "Ethernet")
    }
}
