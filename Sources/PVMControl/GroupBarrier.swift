#if canImport(Glibc)
import Glibc
#endif
import CSupport
import PVMEncoding
import PVMSystem

/// The shared-memory barrier of one group on one host.
///
/// The host's daemon makes one small sealed memfd per group with members
/// here and hands it to each member when it joins; members map it. While
/// every member of the group is on this host, `pvm_barrier` is a
/// sense-counting barrier on one cache line: an arrival is one
/// compare-and-swap, the last of `count` arrivals opens the next
/// generation, and the others spin on that word (bounded; when the group's
/// tasks outnumber the CPUs they yield the CPU instead) and then sleep on
/// it in a futex.
/// No daemon, no message, no system call while nobody sleeps.
///
/// When the group comes to span hosts the daemon sets the `remote` bit
/// (atomically with taking the arrivals already made, which it hands to
/// the master), and from then on arrivals go to the master's group server.
/// A member that dies with a barrier partly arrived breaks that episode:
/// the waiters wake with an error instead of hanging.
///
/// Line 0 (every field a waiter or arriver touches, so a two-task barrier
/// moves one cache line back and forth):
///
/// | offset | field | |
/// |---|---|---|
/// | 0 | state (u64) | generation << 33, remote << 32, the episode's count << 16 (bit 31: it was -1), arrivals |
/// | 8 | released (u32) | the current generation (the futex word) |
/// | 12 | sleepers (u32) | waiters in `futex_wait` |
/// | 16 | broken (u32) | generation + 1 of the last broken episode (0: none) |
/// | 20 | size (u32) | members on this host |
/// | 24 | magic (u32) | `GroupBarrier.magic` |
public struct GroupBarrier {
    public static let segmentSize = 4096
    public static let magic: UInt32 = 0x5056_4742  // "PVGB"
    static let remoteBit: UInt64 = 1 << 32
    /// How long a waiter that may not spin yields its CPU before it sleeps.
    static let yieldNanoseconds: UInt64 = 100_000
    static let generationShift: UInt64 = 33
    static let generationMask: UInt64 = (1 << 31) - 1

    /// Start of the mapped segment (kept mapped by a `GroupBarrierSegment`).
    public let base: UnsafeMutableRawPointer

    public init(base: UnsafeMutableRawPointer) { self.base = base }

    var state: UnsafeMutableRawPointer { base }
    var released: UnsafeMutableRawPointer { base + 8 }
    var sleepers: UnsafeMutableRawPointer { base + 12 }
    var broken: UnsafeMutableRawPointer { base + 16 }

    /// Members of the group on this host (the daemon keeps it current).
    public var localMembers: Int32 {
        get { Int32(bitPattern: pvm_load_acquire_u32(base + 20)) }
        nonmutating set { pvm_store_release_u32(base + 20, UInt32(bitPattern: newValue)) }
    }

    /// Has the group come to span hosts (arrivals go to the master)?
    public var isRemote: Bool { pvm_load_acquire_u64(state) & Self.remoteBit != 0 }

    public enum Arrival: Equatable {
        /// The barrier is complete (this task was the last, or it waited).
        case done
        /// The episode was broken: a member died.
        case broken
        /// The group spans hosts: arrive at the master instead.
        case remote
        /// The episode under way was asked for another count (PvmMismatch);
        /// this task did not arrive.
        case mismatch
    }

    /// Arrives at the barrier of `count` tasks and waits for the others.
    /// `spinNanoseconds` bounds the spin before sleeping (0: sleep at
    /// once); `idle` runs every millisecond while asleep (the caller
    /// drains its messages there, so a sender blocked on this task's ring
    /// can reach the barrier) and may throw to give up.
    @inline(__always)
    public func arrive<E: Error>(count: Int32, allMembers: Bool = false, spinNanoseconds: UInt64,
                                 idle: () throws(E) -> Void) throws(E) -> Arrival {
        // The first arrival of an episode records its count in the state
        // word, in the same compare-and-swap: a later one asking another
        // count is told so, as the group server would. `allMembers` (the
        // program's -1) is kept beside it, so arrivals handed to the server
        // when the group comes to span hosts ask for the whole group there.
        let want = UInt64(min(max(count, 1), 0x7fff))
        let field = want | (allMembers ? 0x8000 : 0)
        var old = pvm_load_acquire_u64(state)
        while true {
            if old & Self.remoteBit != 0 { return .remote }
            let arrivals = old & 0xffff
            if arrivals > 0 && (old >> 16) & 0x7fff != want { return .mismatch }
            let generation = old >> Self.generationShift
            let last = arrivals + 1 >= want
            let new = last ? ((generation + 1) & Self.generationMask) << Self.generationShift
                           : generation << Self.generationShift | (arrivals > 0 ? old & 0xffff_0000 : field << 16) | (arrivals + 1)
            if pvm_cas_acq_rel_u64(state, &old, new) {
                if last {
                    open(generation: UInt32(truncatingIfNeeded: (generation + 1) & Self.generationMask))
                    return .done
                }
                return try wait(generation: UInt32(truncatingIfNeeded: generation), spinNanoseconds: spinNanoseconds, idle: idle)
            }
        }
    }

    /// Publishes the next generation and wakes the sleepers.
    @inline(__always)
    func open(generation: UInt32) {
        pvm_store_release_u32(released, generation)
        pvm_fence_seq_cst()
        if _slowPath(pvm_load_relaxed_u32(sleepers) != 0) {
            _ = pvm_futex_wake(released.assumingMemoryBound(to: UInt32.self), Int32.max)
        }
    }

    @inline(__always)
    func wait<E: Error>(generation: UInt32, spinNanoseconds: UInt64, idle: () throws(E) -> Void) throws(E) -> Arrival {
        let start = Clock.monotonicNanoseconds()
        if spinNanoseconds > 0 {
            var polls = 0
            while pvm_load_acquire_u32(released) == generation {
                pvm_cpu_relax()
                polls &+= 1
                if polls & 255 == 0 && Clock.monotonicNanoseconds() &- start > spinNanoseconds { break }
            }
        } else {
            // More tasks than CPUs: no spinning, but hand the CPU to the
            // tasks still to arrive (sched_yield) for a while before the
            // futex, whose wake-up costs a trip through the scheduler each.
            while pvm_load_acquire_u32(released) == generation && Clock.monotonicNanoseconds() &- start < Self.yieldNanoseconds {
                sched_yield()
            }
        }
        if _slowPath(pvm_load_acquire_u32(released) == generation) {
            _ = pvm_fetch_add_acq_rel_u32(sleepers, 1)
            defer { _ = pvm_fetch_add_acq_rel_u32(sleepers, UInt32.max) }
            pvm_fence_seq_cst()
            var timeout = timespec(tv_sec: 0, tv_nsec: 1_000_000)
            while pvm_load_acquire_u32(released) == generation {
                _ = pvm_futex_wait(released.assumingMemoryBound(to: UInt32.self), generation, &timeout)
                if pvm_load_acquire_u32(released) != generation { break }
                try idle()
            }
        }
        let next = UInt32(truncatingIfNeeded: (UInt64(generation) + 1) & Self.generationMask)
        return pvm_load_acquire_u32(broken) == next ? .broken : .done
    }

    // MARK: The daemon's side

    /// Sets the remote bit, taking the arrivals made so far and their count
    /// (-1: the whole group) (their tasks wait for `release(generation:)`).
    /// nil if it was set already.
    public func switchToRemote() -> (generation: UInt32, arrivals: UInt32, count: Int32)? {
        var old = pvm_load_acquire_u64(state)
        while true {
            if old & Self.remoteBit != 0 { return nil }
            let generation = old >> Self.generationShift
            let new = generation << Self.generationShift | Self.remoteBit
            if pvm_cas_acq_rel_u64(state, &old, new) {
                let field = (old >> 16) & 0xffff
                return (UInt32(truncatingIfNeeded: generation), UInt32(truncatingIfNeeded: old & 0xffff),
                        field & 0x8000 != 0 ? -1 : Int32(truncatingIfNeeded: field & 0x7fff))
            }
        }
    }

    /// Releases the waiters of `generation` (handed over when the group
    /// came to span hosts), as done or, with `broken`, as failed.
    public func release(generation: UInt32, broken isBroken: Bool) {
        var old = pvm_load_acquire_u64(state)
        while true {
            guard UInt32(truncatingIfNeeded: old >> Self.generationShift) == generation else { return }
            let next = (UInt64(generation) + 1) & Self.generationMask
            let new = next << Self.generationShift | (old & Self.remoteBit)
            if pvm_cas_acq_rel_u64(state, &old, new) {
                if isBroken { pvm_store_release_u32(broken, UInt32(truncatingIfNeeded: next)) }
                open(generation: UInt32(truncatingIfNeeded: next))
                return
            }
        }
    }

    /// A member is gone: an episode partly arrived can never complete, so
    /// its waiters wake with an error. True if there was one.
    @discardableResult
    public func breakEpisode() -> Bool {
        var old = pvm_load_acquire_u64(state)
        while true {
            guard old & Self.remoteBit == 0, old & 0xffff > 0 else { return false }
            let generation = old >> Self.generationShift
            let next = (generation + 1) & Self.generationMask
            if pvm_cas_acq_rel_u64(state, &old, next << Self.generationShift) {
                pvm_store_release_u32(broken, UInt32(truncatingIfNeeded: next))
                open(generation: UInt32(truncatingIfNeeded: next))
                return true
            }
        }
    }
}

/// Owns the memfd and mapping behind a `GroupBarrier`.
public final class GroupBarrierSegment {
    let segment: SharedSegment
    public let barrier: GroupBarrier
    public var descriptor: Int32 { segment.descriptor.rawValue }

    /// Makes a new barrier segment (the daemon's side).
    public init() throws(SystemError) {
        let s = try SharedSegment(name: "pvm-group", size: GroupBarrier.segmentSize)
        pvm_store_relaxed_u32(s.base + 24, GroupBarrier.magic)
        barrier = GroupBarrier(base: s.base)
        segment = s
    }

    /// Maps the barrier segment a daemon made (the member's side), after
    /// checking it: sealed, of the right size, with the magic word.
    public init(mapping fd: consuming OwnedDescriptor) throws(SystemError) {
        let mapped = try SharedSegment(mapping: fd, minimumSize: GroupBarrier.segmentSize, maximumSize: GroupBarrier.segmentSize)
        guard pvm_load_relaxed_u32(mapped.base + 24) == GroupBarrier.magic else {
            throw SystemError(code: EINVAL, operation: "group barrier segment has no magic word")
        }
        barrier = GroupBarrier(base: mapped.base)
        segment = mapped
    }
}
