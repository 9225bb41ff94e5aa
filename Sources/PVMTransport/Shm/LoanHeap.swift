import CSupport
import PVMSystem

/// The shared heap that zero-copy loans come from: a sealed memfd this task
/// owns and its peers map. Only offsets cross a ring. The allocator's
/// bookkeeping is private to the owner (peers can only hand offsets back,
/// and every offset they hand back is checked against what was lent to them).
///
/// Blocks come in power-of-two size classes from 256 B up to the heap size;
/// freed blocks go to their class's free list and are reused as they are.
/// Owned by one endpoint, on its thread: the bookkeeping skips Swift's
/// dynamic exclusivity checks (a runtime call per access, per loan).
final class LoanHeap {
    static let minimumShift = 8
    let segment: SharedSegment
    let dataOffset = Int(PVM_CONTROL_SLOT)
    let capacity: Int
    @exclusivity(unchecked) private var bump = 0
    @exclusivity(unchecked) private var freeLists: [[Int]]
    /// Per 256-byte unit of the data area: the class of the block starting
    /// there + 1 (0 = no block starts here).
    @exclusivity(unchecked) private var blockClass: [UInt8]
    /// Per 256-byte unit: 1 + the peer the block is lent to (0 = not lent).
    @exclusivity(unchecked) private var lentTo: [UInt32]

    init(size: Int, name: String) throws(SystemError) {
        let segment = try SharedSegment(name: name, size: size, populate: false)
        let header = segment.base
        header.storeBytes(of: PVM_HEAP_MAGIC, toByteOffset: 0, as: UInt64.self)
        header.storeBytes(of: 1 as UInt32, toByteOffset: 8, as: UInt32.self)
        header.storeBytes(of: UInt32(PVM_CONTROL_SLOT), toByteOffset: 12, as: UInt32.self)
        let capacity = size - Int(PVM_CONTROL_SLOT)
        header.storeBytes(of: UInt64(capacity), toByteOffset: 16, as: UInt64.self)
        self.capacity = capacity
        self.segment = segment
        let units = capacity >> Self.minimumShift
        freeLists = Array(repeating: [], count: 40)
        blockClass = Array(repeating: 0, count: units)
        lentTo = Array(repeating: 0, count: units)
    }

    var base: UnsafeMutableRawPointer { segment.base + dataOffset }

    static func sizeClass(_ bytes: Int) -> Int {
        let needed = max(bytes, 1 << minimumShift)
        return Int.bitWidth - (needed - 1).leadingZeroBitCount
    }

    /// Blocks currently lent out or held by unsent loans.
    private(set) var inUse = 0

    /// A block of the right class from its free list, or nil.
    func reuse(_ bytes: Int) -> (offset: Int, capacity: Int)? {
        let cls = Self.sizeClass(bytes)
        guard let offset = freeLists[cls].popLast() else { return nil }
        inUse += 1
        return (offset, 1 << cls)
    }

    /// A block carved from the untouched end of the heap, or nil.
    func carve(_ bytes: Int) -> (offset: Int, capacity: Int)? {
        let cls = Self.sizeClass(bytes)
        let blockSize = 1 << cls
        guard bump + blockSize <= capacity else { return nil }
        inUse += 1
        let offset = bump
        bump += blockSize
        blockClass[offset >> Self.minimumShift] = UInt8(cls + 1)
        return (offset, blockSize)
    }

    /// A block of at least `bytes`: reused, else carved from the untouched
    /// end; when every block is back but none fits, the heap starts afresh
    /// (blocks do not coalesce, so this is how a heap carved into small
    /// blocks serves a large one). nil when the heap has no room now.
    func allocate(_ bytes: Int) -> (offset: Int, capacity: Int)? {
        if let block = reuse(bytes) { return block }
        let cls = Self.sizeClass(bytes)
        let blockSize = 1 << cls
        if bump + blockSize > capacity && inUse == 0 {
            bump = 0
            for i in freeLists.indices { freeLists[i].removeAll(keepingCapacity: true) }
            for i in blockClass.indices where blockClass[i] != 0 { blockClass[i] = 0 }
        }
        return carve(bytes)
    }

    func free(_ offset: Int) {
        let unit = offset >> Self.minimumShift
        let cls = Int(blockClass[unit]) - 1
        lentTo[unit] = 0
        freeLists[cls].append(offset)
        inUse -= 1
    }

    func lend(_ offset: Int, to peer: UInt32) {
        lentTo[offset >> Self.minimumShift] = peer &+ 1
    }

    /// Takes back a block that `peer` returned. False if the offset is not a
    /// block lent to that peer (a confused or hostile peer): nothing changes.
    func giveBack(_ offset: UInt64, from peer: UInt32) -> Bool {
        guard offset < UInt64(capacity), offset & UInt64((1 << Self.minimumShift) - 1) == 0 else { return false }
        let unit = Int(offset) >> Self.minimumShift
        guard blockClass[unit] != 0, lentTo[unit] == peer &+ 1 else { return false }
        free(Int(offset))
        return true
    }

    /// Takes back every block lent to `peer` (it is gone).
    func reclaimAll(from peer: UInt32) -> Int {
        var count = 0
        for unit in 0..<lentTo.count where lentTo[unit] == peer &+ 1 {
            free(unit << Self.minimumShift)
            count += 1
        }
        return count
    }

    func isLent(_ offset: Int) -> Bool { lentTo[offset >> Self.minimumShift] != 0 }
}

/// A buffer lent from this endpoint's shared heap. Write the message into
/// `buffer`, then pass the loan to `ShmEndpoint.send(_:length:to:)`, which
/// consumes it; the block returns to the heap when the receiver releases it.
/// A loan that is dropped unsent goes straight back. A loan must not outlive
/// the endpoint it came from.
public struct ShmLoan: ~Copyable {
    public let buffer: UnsafeMutableRawBufferPointer
    let offset: Int
    unowned(unsafe) let heap: LoanHeap

    init(buffer: UnsafeMutableRawBufferPointer, offset: Int, heap: LoanHeap) {
        self.buffer = buffer
        self.offset = offset
        self.heap = heap
    }

    consuming func handOver() -> Int {
        let o = offset
        discard self
        return o
    }

    deinit {
        heap.free(offset)
    }
}
