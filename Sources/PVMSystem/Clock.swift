import CSupport

/// Monotonic clock and CPU-time readings in nanoseconds.
public enum Clock {
    @inlinable public static func monotonicNanoseconds() -> UInt64 { pvm_monotonic_ns() }
    @inlinable public static func threadCPUNanoseconds() -> UInt64 { pvm_thread_cpu_ns() }
}

/// What this machine offers that the transports depend on, probed at run time.
public enum SystemProbe {
    /// Online CPUs available to this process (sched_getaffinity).
    public static func availableCPUs() -> Int {
        let n = pvm_affinity_cpu_count()
        if n > 0 { return Int(n) }
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    /// Whether libibverbs can be loaded, with the path or the loader's error.
    public static func ibverbs() -> (present: Bool, detail: String) {
        var probe = pvm_dl_probe()
        pvm_probe_ibverbs(&probe)
        return (probe.present != 0, detailString(&probe))
    }

    /// Whether libnuma can be loaded, with the path or the loader's error.
    public static func numa() -> (present: Bool, detail: String) {
        var probe = pvm_dl_probe()
        pvm_probe_numa(&probe)
        return (probe.present != 0, detailString(&probe))
    }

    private static func detailString(_ probe: inout pvm_dl_probe) -> String {
        withUnsafeBytes(of: &probe.detail) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
