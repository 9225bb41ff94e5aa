#if canImport(Glibc)
import Glibc
#endif
import CSupport

/// A shared-memory segment: a sealed memfd mapped into this process.
///
/// Segments have no name in any filesystem, so a process killed at any moment
/// leaves nothing in /dev/shm or on disk; the memory goes when the last
/// descriptor and mapping go. The creator reserves every page up front
/// (`fallocate`) so a full memory limit is a thrown error here instead of a
/// SIGBUS on first touch, and seals the size so that a peer cannot shrink the
/// segment under someone else's mapping.
///
/// NUMA: the pages are allocated by that `fallocate`, in the creating thread,
/// so they sit on its node (or where its memory policy says). A task creates
/// its own inbox rings, so they are local to the receiver before any peer
/// writes (NumaTests.numaSharedSegmentPagesLiveOnTheCreatorsNode).
public struct SharedSegment: ~Copyable {
    /// Start of the mapping.
    public let base: UnsafeMutableRawPointer
    /// Bytes mapped.
    public let size: Int
    /// The memfd, kept to hand the segment to peers.
    public let descriptor: OwnedDescriptor

    /// Creates, reserves, seals and maps a segment of `size` bytes.
    ///
    /// - Throws: `SystemError` naming the size when the memory cannot be
    ///   reserved (`ENOSPC`, `ENOMEM`, `EFBIG` under a file-size limit).
    public init(name: String, size: Int, populate: Bool = true) throws(SystemError) {
        precondition(size > 0, "segment size must be positive")
        let raw = pvm_memfd_create(name)
        if raw < 0 { throw SystemError.current("memfd_create(\(name))") }
        let fd = OwnedDescriptor(taking: raw)
        _ = try retryingEINTR("ftruncate(\(name), \(size) bytes)") { ftruncate(fd.rawValue, off_t(size)) }
        _ = try retryingEINTR("fallocate(\(name), \(size) bytes): cannot reserve shared memory") {
            pvm_fallocate(fd.rawValue, off_t(size))
        }
        if pvm_memfd_seal_size(fd.rawValue) != 0 { throw SystemError.current("fcntl(F_ADD_SEALS)") }
        self.base = try Self.mapShared(fd.rawValue, size: size, populate: populate, name: name)
        self.size = size
        self.descriptor = fd
    }

    /// Maps a segment received from a peer, after checking that its size is
    /// sealed and within `minimumSize...maximumSize`.
    public init(mapping fd: consuming OwnedDescriptor, minimumSize: Int, maximumSize: Int, populate: Bool = true) throws(SystemError) {
        let sealed = pvm_memfd_is_size_sealed(fd.rawValue)
        if sealed < 0 { throw SystemError.current("fcntl(F_GET_SEALS): peer segment is not a memfd") }
        if sealed == 0 { throw SystemError(code: EPERM, operation: "peer segment is not size-sealed") }
        var st = stat()
        _ = try retryingEINTR("fstat(peer segment)") { fstat(fd.rawValue, &st) }
        let size = Int(st.st_size)
        guard size >= minimumSize, size <= maximumSize else {
            throw SystemError(code: EINVAL, operation: "peer segment of \(size) bytes outside \(minimumSize)...\(maximumSize)")
        }
        self.base = try Self.mapShared(fd.rawValue, size: size, populate: populate, name: "peer segment")
        self.size = size
        self.descriptor = fd
    }

    private static func mapShared(_ fd: Int32, size: Int, populate: Bool, name: String) throws(SystemError) -> UnsafeMutableRawPointer {
        var flags = MAP_SHARED
        if populate { flags |= MAP_POPULATE }
        guard let p = mmap(nil, size, PROT_READ | PROT_WRITE, flags, fd, 0), p != MAP_FAILED else {
            throw SystemError.current("mmap(\(name), \(size) bytes)")
        }
        return p
    }

    deinit {
        munmap(base, size)
    }
}
