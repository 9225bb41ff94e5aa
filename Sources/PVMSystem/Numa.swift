#if canImport(Glibc)
import Glibc
#endif
import CSupport

/// NUMA for this process: which node and CPU the calling thread runs on,
/// the machine's nodes and their CPUs, memory policies, and where a page
/// lives.
///
/// libnuma (`libnuma.so.1`) is opened on first use and never linked, so
/// everything here also works without it: the system calls (getcpu,
/// sched_setaffinity, set_mempolicy, mbind, move_pages) need no library,
/// and what libnuma would tell (nodes, the CPUs of a node, the node of a
/// CPU) is then read from /sys/devices/system. A kernel built without NUMA
/// is one node, node 0, holding every CPU.
public enum Numa {
    /// The largest node number a placement or a mask can name (1024 nodes,
    /// a distribution kernel's largest MAX_NUMNODES).
    public static let maxNode = Int(PVM_NUMA_MASK_WORDS) * UInt.bitWidth - 1
    /// The largest CPU number a placement can name (NR_CPUS is at most 8192).
    public static let maxCPU = 8191

    // MARK: libnuma

    /// libnuma as opened by `pvm_numa_open`: an immutable table once made.
    final class Library: @unchecked Sendable {
        private let table: pvm_numa_lib
        /// The library's name when loaded, else why it did not load.
        let detail: String
        let isLoaded: Bool

        init(soname: String?) {
            var t = pvm_numa_lib()
            var error = [CChar](repeating: 0, count: 512)
            let rc = soname.withOptionalCString { pvm_numa_open(&t, $0, &error, error.count) }
            table = t
            isLoaded = rc == 0
            detail = String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }

        func call<R>(_ body: (UnsafePointer<pvm_numa_lib>) -> R) -> R {
            withUnsafePointer(to: table) { body($0) }
        }

        deinit {
            var t = table
            pvm_numa_close(&t)
        }
    }

    /// libnuma for this process, opened on first use.
    static let library = Library(soname: nil)

    /// Test hook (not API): opens a library by another name, to see how a
    /// missing or wrong libnuma is reported. Returns (loaded, detail).
    package static func _probeLibrary(_ soname: String) -> (loaded: Bool, detail: String) {
        let l = Library(soname: soname)
        return (l.isLoaded, l.detail)
    }

    // MARK: Availability

    /// What NUMA support this process has, and a one-line report of it.
    public struct Availability: Sendable, Equatable, CustomStringConvertible {
        /// libnuma.so.1 was found and has every entry point used here.
        public var libraryLoaded: Bool
        /// The library's name when loaded, else the loader's reason.
        public var libraryDetail: String
        /// The kernel answers the memory-policy calls (numa_available's test).
        public var kernelSupport: Bool
        /// The node numbers of this machine (online nodes).
        public var nodes: [Int]
        /// libnuma loaded and the kernel supports NUMA: what libnuma's own
        /// `numa_available() == 0` means.
        public var isAvailable: Bool { libraryLoaded && kernelSupport }

        /// For example `NUMA: 1 node (node 0: CPUs 0-1); libnuma: libnuma.so.1;
        /// kernel memory policy: yes`.
        public var description: String {
            let nodeText = nodes.map { "node \($0): CPUs \(CPUList.format((try? Numa.cpus(ofNode: $0)) ?? []))" }
            return "NUMA: \(nodes.count) node\(nodes.count == 1 ? "" : "s") (\(nodeText.joined(separator: "; "))); "
                + "libnuma: \(libraryLoaded ? libraryDetail : "not loaded (\(libraryDetail)); nodes read from /sys"); "
                + "kernel memory policy: \(kernelSupport ? "yes" : "no (a kernel without NUMA: one node)")"
        }
    }

    /// This process's NUMA support (cheap after the first call loads libnuma).
    public static var availability: Availability {
        let lib = library
        var kernel: Bool
        if lib.isLoaded {
            kernel = lib.call { pvm_numa_available($0) } == 0
        } else {
            // numa_available's own test: get_mempolicy answers on a NUMA kernel.
            var mode: Int32 = 0
            kernel = pvm_get_mempolicy(&mode, nil, 0, nil, 0) == 0
        }
        return Availability(libraryLoaded: lib.isLoaded, libraryDetail: lib.detail, kernelSupport: kernel, nodes: onlineNodes())
    }

    /// The availability report, one line (`availability.description`).
    public static var report: String { availability.description }

    /// Nodes with memory: numa_num_configured_nodes() with libnuma, else
    /// the online nodes in /sys; at least 1.
    public static func nodeCount() -> Int {
        let lib = library
        if lib.isLoaded {
            let n = lib.call { pvm_numa_configured_nodes($0) }
            if n > 0 { return Int(n) }
        }
        return max(1, onlineNodes().count)
    }

    /// Numbers as a list ("0-3,8"): the text of placements and of /sys.
    public static func listText(_ numbers: [Int]) -> String { CPUList.format(numbers) }

    /// The node numbers that are online (/sys/devices/system/node/online;
    /// `[0]` on a kernel without NUMA).
    public static func onlineNodes() -> [Int] {
        guard let text = SysFile.read("/sys/devices/system/node/online"),
              let list = try? CPUList.parse(text, limit: maxNode, noun: "node"), !list.isEmpty
        else { return [0] }
        return list
    }

    /// The CPUs that are online (/sys/devices/system/cpu/online), or nil
    /// when that cannot be read.
    public static func onlineCPUs() -> [Int]? {
        guard let text = SysFile.read("/sys/devices/system/cpu/online") else { return nil }
        return try? CPUList.parse(text, limit: Int.max >> 1, noun: "CPU")
    }

    // MARK: Where the calling thread runs

    /// The CPU the calling thread runs on now (getcpu). It may move at any
    /// time unless its affinity holds it to one CPU.
    public static func currentCPU() -> Int {
        var cpu: UInt32 = 0, node: UInt32 = 0
        if pvm_getcpu(&cpu, &node) != 0 { return 0 }  // getcpu exists since Linux 2.6.19
        return Int(cpu)
    }

    /// The node the calling thread runs on now (getcpu; works without libnuma).
    public static func currentNode() -> Int {
        var cpu: UInt32 = 0, node: UInt32 = 0
        if pvm_getcpu(&cpu, &node) != 0 { return 0 }
        return Int(node)
    }

    /// The CPUs the calling thread may run on (sched_getaffinity).
    public static func affinity() throws(SystemError) -> [Int] {
        try affinity(ofThread: 0)
    }

    /// The CPUs thread (or process) `tid` may run on; 0 is the calling thread.
    public static func affinity(ofThread tid: Int32) throws(SystemError) -> [Int] {
        var capacity = 256
        while true {
            var cpus = [Int32](repeating: 0, count: capacity)
            let n = Int(pvm_get_affinity(tid, &cpus, Int32(capacity)))
            if n < 0 { throw SystemError.current("sched_getaffinity(\(tid))") }
            if n <= capacity { return cpus.prefix(n).map(Int.init) }
            capacity = n
        }
    }

    /// The CPU thread (or process) `tid` of this host last ran on
    /// (/proc/TID/stat, field 39); nil if it is gone.
    public static func lastCPU(ofThread tid: Int32) -> Int? {
        guard let stat = SysFile.read("/proc/\(tid)/stat"), let close = stat.lastIndex(of: ")") else { return nil }
        // After the name (which may hold spaces and parentheses): field 3 onwards.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 36 ? Int(fields[36]) : nil
    }

    // MARK: Nodes and CPUs

    /// The node of `cpu`: numa_node_of_cpu with libnuma, else the
    /// `nodeN` entry of /sys/devices/system/cpu/cpuN; nil for a CPU that
    /// does not exist.
    public static func node(ofCPU cpu: Int) -> Int? {
        guard cpu >= 0, cpu <= maxCPU else { return nil }
        let lib = library
        if lib.isLoaded {
            let n = lib.call { pvm_numa_node_of_cpu($0, Int32(cpu)) }
            return n >= 0 ? Int(n) : nil
        }
        return sysfsNode(ofCPU: cpu)
    }

    /// `node(ofCPU:)` without libnuma (package: tests compare the two).
    package static func sysfsNode(ofCPU cpu: Int) -> Int? {
        guard cpu >= 0, cpu <= maxCPU else { return nil }
        let dir = "/sys/devices/system/cpu/cpu\(cpu)"
        guard let d = opendir(dir) else { return nil }
        defer { closedir(d) }
        var sawNodeDirectory = false
        while let entry = readdir(d) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name.hasPrefix("node"), let n = Int(name.dropFirst(4)) { return n }
            if name == "topology" { sawNodeDirectory = true }
        }
        // A CPU with no node link: a kernel without NUMA, one node.
        return sawNodeDirectory ? 0 : nil
    }

    /// The CPUs of `node`, ascending: numa_node_to_cpus with libnuma, else
    /// /sys/devices/system/node/nodeN/cpulist; on a kernel without NUMA,
    /// node 0 has every online CPU.
    public static func cpus(ofNode node: Int) throws(SystemError) -> [Int] {
        guard node >= 0, node <= maxNode, onlineNodes().contains(node) else {
            throw SystemError(code: EINVAL, operation: "node \(node) does not exist on this host (nodes: \(CPUList.format(onlineNodes())))")
        }
        let lib = library
        if lib.isLoaded {
            var capacity = 256
            while true {
                var cpus = [Int32](repeating: 0, count: capacity)
                let n = Int(lib.call { pvm_numa_node_cpus($0, Int32(node), &cpus, Int32(capacity)) })
                if n < 0 { throw SystemError.current("numa_node_to_cpus(\(node))") }
                if n <= capacity { return cpus.prefix(n).map(Int.init) }
                capacity = n
            }
        }
        return try sysfsCPUs(ofNode: node)
    }

    /// `cpus(ofNode:)` without libnuma (package: tests compare the two).
    package static func sysfsCPUs(ofNode node: Int) throws(SystemError) -> [Int] {
        if let text = SysFile.read("/sys/devices/system/node/node\(node)/cpulist") {
            do { return try CPUList.parse(text, limit: Int.max >> 1, noun: "CPU") } catch {
                throw SystemError(code: EIO, operation: "/sys/devices/system/node/node\(node)/cpulist: \(error.reason)")
            }
        }
        if let all = onlineCPUs() { return all }
        return try affinity()
    }

    // MARK: Memory

    /// A memory policy (set_mempolicy(2), mbind(2)).
    public enum MemoryPolicy: Sendable, Hashable {
        /// The process's policy (for a thread), or the thread's (for a range): first touch.
        case `default`
        /// On the node of the CPU that touches the page first (MPOL_LOCAL).
        case local
        /// On this node while it has memory, else anywhere (MPOL_PREFERRED).
        case preferred(Int)
        /// Only on these nodes (MPOL_BIND).
        case bind([Int])
        /// Spread page by page over these nodes (MPOL_INTERLEAVE).
        case interleave([Int])

        var mode: Int32 {
            switch self {
            case .default: Int32(PVM_MPOL_DEFAULT)
            case .local: Int32(PVM_MPOL_LOCAL)
            case .preferred: Int32(PVM_MPOL_PREFERRED)
            case .bind: Int32(PVM_MPOL_BIND)
            case .interleave: Int32(PVM_MPOL_INTERLEAVE)
            }
        }

        var nodes: [Int] {
            switch self {
            case .default, .local: []
            case .preferred(let n): [n]
            case .bind(let list), .interleave(let list): list
            }
        }
    }

    /// A node mask for the kernel: `PVM_NUMA_MASK_WORDS` words.
    static func mask(_ nodes: [Int], for operation: String) throws(SystemError) -> [UInt] {
        var words = [UInt](repeating: 0, count: Int(PVM_NUMA_MASK_WORDS))
        for n in nodes {
            guard n >= 0, n <= maxNode else { throw SystemError(code: EINVAL, operation: "\(operation): node \(n) is outside 0...\(maxNode)") }
            words[n / UInt.bitWidth] |= 1 << UInt(n % UInt.bitWidth)
        }
        return words
    }

    static func nodes(in mask: [UInt]) -> [Int] {
        var out: [Int] = []
        for (w, word) in mask.enumerated() where word != 0 {
            for b in 0..<UInt.bitWidth where word & (1 << UInt(b)) != 0 { out.append(w * UInt.bitWidth + b) }
        }
        return out
    }

    /// Sets the calling thread's memory policy (set_mempolicy); threads and
    /// children it starts afterwards inherit it, and it survives exec.
    public static func setMemoryPolicy(_ policy: MemoryPolicy) throws(SystemError) {
        let op = "set_mempolicy(\(policy))"
        let words = try mask(policy.nodes, for: op)
        let rc = policy.nodes.isEmpty ? pvm_set_mempolicy(policy.mode, nil, 0)
                                      : pvm_set_mempolicy(policy.mode, words, words.count)
        if rc != 0 { throw SystemError.current(op) }
    }

    /// The calling thread's memory policy (get_mempolicy). Mode flags
    /// (static or relative nodes) are not reported.
    public static func memoryPolicy() throws(SystemError) -> MemoryPolicy {
        let (mode, mask) = try rawPolicy()
        let nodes = Self.nodes(in: mask)
        switch mode & 0xff {
        case Int32(PVM_MPOL_PREFERRED): return nodes.first.map { .preferred($0) } ?? .local
        case Int32(PVM_MPOL_BIND): return .bind(nodes)
        case Int32(PVM_MPOL_INTERLEAVE): return .interleave(nodes)
        case Int32(PVM_MPOL_LOCAL): return .local
        default: return .default
        }
    }

    /// The thread's policy exactly as the kernel gives it (mode with its
    /// flags, and mask), to be put back with `restorePolicy`.
    static func rawPolicy() throws(SystemError) -> (mode: Int32, mask: [UInt]) {
        var mode: Int32 = 0
        var words = [UInt](repeating: 0, count: Int(PVM_NUMA_MASK_WORDS))
        if pvm_get_mempolicy(&mode, &words, words.count, nil, 0) != 0 { throw SystemError.current("get_mempolicy") }
        return (mode, words)
    }

    static func restorePolicy(_ saved: (mode: Int32, mask: [UInt])) throws(SystemError) {
        let empty = saved.mask.allSatisfy { $0 == 0 }
        let rc = empty ? pvm_set_mempolicy(saved.mode, nil, 0) : pvm_set_mempolicy(saved.mode, saved.mask, saved.mask.count)
        if rc != 0 { throw SystemError.current("set_mempolicy (restoring mode \(saved.mode))") }
    }

    /// Sets the policy of the pages of `range` (mbind; `range.baseAddress`
    /// page-aligned). With `move`, pages already there move to conform.
    public static func setMemoryPolicy(_ policy: MemoryPolicy, for range: UnsafeMutableRawBufferPointer, move: Bool = false) throws(SystemError) {
        guard let base = range.baseAddress, !range.isEmpty else { return }
        let op = "mbind(\(range.count) bytes, \(policy))"
        let words = try mask(policy.nodes, for: op)
        let flags = move ? UInt32(PVM_MPOL_MF_MOVE) : 0
        let rc = policy.nodes.isEmpty ? pvm_mbind(base, UInt(range.count), policy.mode, nil, 0, flags)
                                      : pvm_mbind(base, UInt(range.count), policy.mode, words, words.count, flags)
        if rc != 0 { throw SystemError.current(op) }
    }

    /// The node that holds the page containing `address` now, or nil when
    /// no page is there yet (never touched). Asks move_pages with no
    /// target, which moves and allocates nothing; where that call is
    /// refused, get_mempolicy(MPOL_F_NODE | MPOL_F_ADDR), which allocates
    /// the page if it is missing (a read fault) and so never returns nil.
    /// On a kernel without NUMA every page is on node 0.
    public static func nodeOfPage(_ address: UnsafeRawPointer) throws(SystemError) -> Int? {
        let pageSize = UInt(sysconf(Int32(_SC_PAGESIZE)))
        let page = UnsafeMutableRawPointer(bitPattern: UInt(bitPattern: address) & ~(pageSize - 1))
        var pages: [UnsafeMutableRawPointer?] = [page]
        var status: [Int32] = [0]
        if pvm_pages_node(&pages, 1, &status) == 0 {
            if status[0] >= 0 { return Int(status[0]) }
            if status[0] == -ENOENT { return nil }
            throw SystemError(code: -status[0], operation: "move_pages(\(address)) (where is this page)")
        }
        let code = errno
        guard code == ENOSYS || code == EPERM else { throw SystemError(code: code, operation: "move_pages(\(address))") }
        var node: Int32 = 0
        if pvm_get_mempolicy(&node, nil, 0, page, UInt(PVM_MPOL_F_NODE | PVM_MPOL_F_ADDR)) == 0 { return Int(node) }
        if errno == ENOSYS { return 0 }
        throw SystemError.current("get_mempolicy(MPOL_F_NODE|MPOL_F_ADDR, \(address))")
    }
}

// MARK: - Placement

/// Where a process runs and allocates: the text of a hostfile's `bind=`
/// option and of `PVM_BIND`.
///
/// | text | meaning |
/// |---|---|
/// | `none` | no placement: the scheduler and first touch decide |
/// | `node:0`, `node:0,1` | run on the CPUs of these nodes and allocate only from their memory (`numactl --cpunodebind=N --membind=N`) |
/// | `cpus:0-3,8` | run on these CPUs; memory follows first touch (`numactl --physcpubind`, `taskset -c`) |
///
/// Lists are numbers and `N-M` ranges separated by commas.
public struct Placement: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        case none
        /// Node numbers, ascending, without repeats.
        case nodes([Int])
        /// CPU numbers, ascending, without repeats.
        case cpus([Int])
    }

    public var kind: Kind

    public static let none = Placement(kind: .none)

    public init(kind: Kind) {
        switch kind {
        case .none: self.kind = .none
        case .nodes(let list): self.kind = .nodes(Array(Set(list)).sorted())
        case .cpus(let list): self.kind = .cpus(Array(Set(list)).sorted())
        }
    }

    /// Parses `none`, `node:LIST` or `cpus:LIST` (blanks around it ignored).
    public init(parsing text: String) throws(PlacementError) {
        let trimmed = text.trimmingBlanks
        func fail(_ reason: String) -> PlacementError { PlacementError(text: text, reason: reason) }
        guard !trimmed.isEmpty else { throw fail("is empty (write node:LIST, cpus:LIST or none)") }
        if trimmed == "none" { self = .none; return }
        guard let colon = trimmed.firstIndex(of: ":") else {
            throw fail("is not a placement (write node:0, node:0,1, cpus:0-3,8 or none)")
        }
        let word = String(trimmed[..<colon])
        let list = String(trimmed[trimmed.index(after: colon)...])
        let noun: String, limit: Int
        switch word {
        case "node": noun = "node"; limit = Numa.maxNode
        case "cpus": noun = "CPU"; limit = Numa.maxCPU
        default:
            throw fail("unknown kind \"\(word)\" (write node:LIST or cpus:LIST, for example node:0 or cpus:0-3,8, or none)")
        }
        guard !list.trimmingBlanks.isEmpty else {
            throw fail("\(word): needs a list of \(noun) numbers, for example \(word):0 or \(word):0,1")
        }
        let numbers: [Int]
        do { numbers = try CPUList.parse(list, limit: limit, noun: noun) } catch { throw fail(error.reason) }
        self.init(kind: word == "node" ? .nodes(numbers) : .cpus(numbers))
    }

    /// The text form; `Placement(parsing: p.description) == p`.
    public var description: String {
        switch kind {
        case .none: "none"
        case .nodes(let list): "node:" + CPUList.format(list)
        case .cpus(let list): "cpus:" + CPUList.format(list)
        }
    }

    /// What this placement does to a thread: the CPUs it may run on (nil:
    /// unchanged) and its memory policy (nil: unchanged). Checks the CPUs
    /// and nodes against this host.
    func resolved() throws(SystemError) -> (cpus: [Int]?, memory: Numa.MemoryPolicy?) {
        switch kind {
        case .none:
            return (nil, nil)
        case .cpus(let list):
            if let online = Numa.onlineCPUs() {
                let online = Set(online)
                if let missing = list.first(where: { !online.contains($0) }) {
                    throw SystemError(code: EINVAL, operation: "placement \(self): CPU \(missing) is not online on this host (online CPUs: \(CPUList.format(online.sorted())))")
                }
            }
            return (list, nil)
        case .nodes(let list):
            var cpus: Set<Int> = []
            for node in list {
                do { cpus.formUnion(try Numa.cpus(ofNode: node)) } catch {
                    throw SystemError(code: error.code, operation: "placement \(self): \(error.operation)")
                }
            }
            guard !cpus.isEmpty else {
                throw SystemError(code: EINVAL, operation: "placement \(self): these nodes have no CPUs (memory-only nodes); use cpus: for where to run")
            }
            return (cpus.sorted(), .bind(list))
        }
    }

    /// Applies the placement to the calling thread; threads and processes
    /// it starts afterwards inherit it (and keep it across exec). Call it
    /// before starting threads to place a whole process.
    ///
    /// - Throws: `SystemError` naming the placement: a CPU or node this
    ///   host does not have, or the kernel's refusal (a cgroup cpuset that
    ///   excludes every CPU asked for, say).
    public func apply() throws(SystemError) {
        let (cpus, memory) = try resolved()
        if let cpus { try Self.setAffinity(cpus, for: self) }
        if let memory { try Self.setMemory(memory, for: self) }
    }

    /// Runs `body` with the calling thread placed, then puts the thread's
    /// CPU affinity and memory policy back as they were. For starting a
    /// placed child: a child made by clone or posix_spawn inherits both
    /// from the calling thread, so the child itself has nothing to set
    /// before its exec.
    public func withApplied<R>(_ body: () -> R) throws(SystemError) -> R {
        let (cpus, memory) = try resolved()
        if cpus == nil && memory == nil { return body() }
        var savedCPUs: [Int]? = nil
        if cpus != nil { savedCPUs = try Numa.affinity() }
        var savedPolicy: (mode: Int32, mask: [UInt])? = nil
        if memory != nil { savedPolicy = try? Numa.rawPolicy() }
        if let cpus { try Self.setAffinity(cpus, for: self) }
        defer {
            if let savedCPUs { try? Self.setAffinity(savedCPUs, for: self) }
        }
        if let memory {
            try Self.setMemory(memory, for: self)
        }
        defer {
            if let savedPolicy { try? Numa.restorePolicy(savedPolicy) } else if memory != nil { try? Numa.setMemoryPolicy(.default) }
        }
        return body()
    }

    static func setAffinity(_ cpus: [Int], for placement: Placement) throws(SystemError) {
        let list = cpus.map { Int32($0) }
        if pvm_set_affinity(0, list, Int32(list.count)) != 0 {
            let code = errno
            let why = code == EINVAL ? ": none of these CPUs is allowed to this process (a cgroup cpuset?)" : ""
            throw SystemError(code: code, operation: "sched_setaffinity(\(placement))\(why)")
        }
    }

    static func setMemory(_ policy: Numa.MemoryPolicy, for placement: Placement) throws(SystemError) {
        do { try Numa.setMemoryPolicy(policy) } catch {
            // A kernel without NUMA has one node: binding to node 0 changes nothing.
            if error.code == ENOSYS, policy.nodes == [0] { return }
            throw SystemError(code: error.code, operation: "placement \(placement): \(error.operation)")
        }
    }
}

/// A placement text that does not parse; the description quotes the text
/// and says what is wrong.
public struct PlacementError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The text as given.
    public var text: String
    /// What is wrong with it.
    public var reason: String

    public init(text: String, reason: String) {
        self.text = text
        self.reason = reason
    }

    public var description: String { "placement \"\(text)\" \(reason)" }
}

// MARK: - Lists ("0-3,8")

/// The list syntax of placements, which is also the kernel's in /sys
/// (`cpulist`, `online`): numbers and `N-M` ranges separated by commas.
enum CPUList {
    struct ParseError: Error { var reason: String }

    /// Parses a list into ascending numbers without repeats, each at most `limit`.
    static func parse(_ text: String, limit: Int, noun: String) throws(ParseError) -> [Int] {
        var out: Set<Int> = []
        let body = text.trimmingBlanks
        if body.isEmpty { return [] }
        for item in body.split(separator: ",", omittingEmptySubsequences: false) {
            let item = String(item).trimmingBlanks
            guard !item.isEmpty else { throw ParseError(reason: "has an empty item in its list (two commas, or one at an end)") }
            let parts = item.split(separator: "-", omittingEmptySubsequences: false)
            guard parts.count <= 2 else { throw ParseError(reason: "has \"\(item)\", which is not a \(noun) number or range (N or N-M)") }
            var bounds: [Int] = []
            for part in parts {
                guard !part.isEmpty, part.allSatisfy({ $0.isASCII && $0.isNumber }) else {
                    throw ParseError(reason: "has \"\(item)\", which is not a \(noun) number or range (N or N-M)")
                }
                guard part.count <= 9, let n = Int(part), n <= limit else {
                    throw ParseError(reason: "names \(noun) \(part), beyond the largest \(noun) number, \(limit)")
                }
                bounds.append(n)
            }
            let low = bounds[0], high = bounds.last!
            guard low <= high else { throw ParseError(reason: "has the range \(item), which runs backwards (write \(high)-\(low))") }
            out.formUnion(low...high)
        }
        return out.sorted()
    }

    /// `[0, 1, 2, 3, 8]` as `0-3,8` (runs of three or more as ranges).
    static func format(_ numbers: [Int]) -> String {
        let sorted = Array(Set(numbers)).sorted()
        var parts: [String] = []
        var i = 0
        while i < sorted.count {
            var j = i
            while j + 1 < sorted.count, sorted[j + 1] == sorted[j] + 1 { j += 1 }
            if j - i >= 2 { parts.append("\(sorted[i])-\(sorted[j])") } else { for k in i...j { parts.append("\(sorted[k])") } }
            i = j + 1
        }
        return parts.joined(separator: ",")
    }
}

/// Small text files of /sys and /proc, read whole.
enum SysFile {
    static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { _ = close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bytes.count < 1 << 20 {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            bytes += chunk.prefix(n)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension String {
    /// Without leading and trailing spaces, tabs and line breaks.
    var trimmingBlanks: String {
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0.isNewline }
        guard let first = firstIndex(where: { !isBlank($0) }), let last = lastIndex(where: { !isBlank($0) }) else { return "" }
        return String(self[first...last])
    }
}

extension Optional where Wrapped == String {
    func withOptionalCString<R>(_ body: (UnsafePointer<CChar>?) -> R) -> R {
        switch self {
        case .some(let s): s.withCString { body($0) }
        case .none: body(nil)
        }
    }
}
