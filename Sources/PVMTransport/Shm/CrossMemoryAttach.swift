#if canImport(Glibc)
import Glibc
#endif
import CSupport

/// Cross-memory attach (`process_vm_readv`): whether this process may read
/// another one's memory, which is what single copy needs. The kernel says
/// yes or no per pair of processes (ptrace access mode: same user, Yama's
/// `ptrace_scope`, `PR_SET_PTRACER`, user namespaces, seccomp), so the only
/// reliable probe is a read: the handshake of every endpoint pair reads a
/// word the peer published, and `pvmbench tune` asks the same question.
public enum CrossMemoryAttach {
    /// What one probe found.
    public enum Outcome: Equatable, Sendable {
        /// The word was read and holds the value promised.
        case readable
        /// The kernel refused the read: the errno of `process_vm_readv`
        /// (EPERM: not permitted; ENOSYS: not built or filtered by seccomp;
        /// ESRCH: no such process; EFAULT: no such address).
        case refused(Int32)
        /// The read worked but found another value: not the memory the peer
        /// described (treated as no single copy).
        case mismatch
    }

    /// Reads the 8-byte word at `address` in process `pid` and compares it
    /// with `value`. One `process_vm_readv` of 8 bytes.
    public static func probe(pid: Int32, address: UInt64, value: UInt64) -> Outcome {
        guard let remote = UnsafeRawPointer(bitPattern: UInt(address)) else { return .refused(EFAULT) }
        var got: UInt64 = 0
        let n = pvm_vm_read(pid, &got, remote, 8)
        if n < 0 { return .refused(errno) }
        return n == 8 && got == value ? .readable : .mismatch
    }

    /// The probe against this very process: tells whether the system call
    /// exists and gets past seccomp (reading oneself is always permitted
    /// otherwise), not whether peers are readable.
    public static func probeSelf() -> Outcome {
        let word = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
        defer { word.deallocate() }
        word.pointee = pvm_random_u64() | 1
        return probe(pid: getpid(), address: UInt64(UInt(bitPattern: word)), value: word.pointee)
    }
}
