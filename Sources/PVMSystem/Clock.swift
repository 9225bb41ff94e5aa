import CSupport

/// Monotonic clock and CPU-time readings in nanoseconds.
public enum Clock {
    @inlinable public static func monotonicNanoseconds() -> UInt64 { pvm_monotonic_ns() }
    @inlinable public static func threadCPUNanoseconds() -> UInt64 { pvm_thread_cpu_ns() }
}

/// What this machine offers that the transports depend on, probed at run time.
public enum SystemProbe {
    /// CPUs the tasks of this host can run on together: the online CPUs,
    /// capped by a cgroup v2 CPU quota (`cpu.max`) when one is set. Not this
    /// process's affinity mask: a benchmark pins each task to its own core,
    /// and one core per task is not oversubscription. Probed once per
    /// process (two files read; a task's start asked twice).
    public static func availableCPUs() -> Int { probedCPUs }

    private static let probedCPUs: Int = {
        var n = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        if let quota = cgroupCPUQuota() { n = min(n, max(1, Int(quota.rounded(.up)))) }
        return n
    }()

    /// Threads runnable on this machine right now, the caller included: the
    /// running count of `/proc/loadavg` ("0.10 0.05 0.01 3/412 9876": 3).
    /// nil when it cannot be read. A few system calls and no allocation:
    /// for a waiter deciding, now and then, whether it may spin.
    public static func runnableThreads() -> Int? {
        let fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var text = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        return withUnsafeMutableBytes(of: &text) { buffer -> Int? in
            let n = read(fd, buffer.baseAddress, buffer.count)
            guard n > 0 else { return nil }
            return parseRunnable(UnsafeRawBufferPointer(rebasing: buffer[..<n]))
        }
    }

    /// The running count in the text of `/proc/loadavg`: the digits before
    /// the "/" of the fourth field; nil when the text is not of that form.
    public static func parseRunnable(_ text: UnsafeRawBufferPointer) -> Int? {
        var field = 0, i = 0
        while i < text.count && field < 3 {
            if text[i] == UInt8(ascii: " ") { field += 1 }
            i += 1
        }
        var value = 0, digits = 0
        while i < text.count, text[i] >= UInt8(ascii: "0"), text[i] <= UInt8(ascii: "9"), digits < 9 {
            value = value * 10 + Int(text[i] - UInt8(ascii: "0"))
            digits += 1
            i += 1
        }
        guard field == 3, digits > 0, i < text.count, text[i] == UInt8(ascii: "/") else { return nil }
        return value
    }

    /// CPUs' worth of time per period granted by cgroup v2 `cpu.max`, if limited.
    static func cgroupCPUQuota() -> Double? {
        guard let f = fopen("/sys/fs/cgroup/cpu.max", "r") else { return nil }
        defer { fclose(f) }
        var line = [CChar](repeating: 0, count: 128)
        guard fgets(&line, 128, f) != nil else { return nil }
        let text = String(decoding: line.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let parts = text.split(separator: " ")
        guard parts.count >= 2, let quota = Double(parts[0]), let period = Double(parts[1].filter { !$0.isWhitespace }), period > 0 else { return nil }
        return quota / period
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
