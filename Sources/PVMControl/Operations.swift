import PVMEncoding

/// Requests a task makes of its daemon. A request is a frame in context
/// `SystemContext.daemon` whose tag is the operation; the reply comes back
/// in the same context with the same tag. Bodies are `ControlWriter` fields
/// in the order each case documents.
public enum DaemonOperation: Int32, Sendable, CaseIterable {
    /// pid, endpoint address, flags (1 = console) -> tid, parent, host
    /// number, output tid, output code, output context, context, siblings[]
    case connect = 0x1001
    /// (none) -> code. The task leaves; the daemon closes the connection.
    case exit
    /// file, argv[], flags, where, count, env[], output tid, output code,
    /// output context, context, trace tid -> tids[] (errors as negative codes)
    case spawn
    /// tid, signal -> code
    case signal
    /// where -> code, then per task: tid, parent, host, flags, name, pid
    case tasks
    /// (none) -> per host: host tid, name, arch, speed, signature
    case config
    /// tid -> code
    case pstat
    /// host name -> code
    case mstat
    /// kind, tag, count, tids[] -> code
    case notify
    /// tid[, tcp] -> code (0, `LookupResult.notEnrolled`, `.throughDaemons`
    /// or PvmNoTask), endpoint address ("tcp:IP:PORT" for a TCP listener), pid
    case lookup
    /// (none) -> (no reply: every task, the caller included, is terminated)
    case halt
    /// (none) -> new context id
    case newContext
    /// context -> code
    case freeContext
    /// (none) -> code. Kill every task that did not ask to survive a reset.
    case reset
    /// flag (1 = survive console reset) -> code
    case setNoReset
    /// host specs[] (hostfile syntax: "name opt=value ...") -> code, then per
    /// host: status (host tid, or a negative PVM error code), message text
    case addHosts
    /// host names[] -> code, then per host: status (0 or an error code)
    case deleteHosts
    /// mode (1: make a code, 2: check one), data, [code] -> code, MAC. The
    /// HMAC of a task's TCP link handshake, made with the secret only
    /// daemons hold.
    case authenticate
    /// host (its id, `0x80000` for host 2) -> code, seconds, microseconds:
    /// that host's clock (pvm_hostsync)
    case clock
    /// tids[] -> (empty): the whole sibling list of a spawn spread over
    /// hosts, for the daemons of the hosts its copies run on
    case setSiblings
    /// `GroupRequest` raw value, then its fields -> as that case documents.
    /// Dynamic groups live in the master's daemon (the group server);
    /// other hosts' daemons forward these there.
    case group
    /// `MailboxRequest` raw value, then its fields -> as that case
    /// documents. The mailbox lives in the master's daemon.
    case mailbox
}

/// The group server's requests (inside `DaemonOperation.group`). Every
/// reply starts with a code: >= 0 is the answer, < 0 a PVM error.
public enum GroupRequest: Int32, Sendable, CaseIterable {
    /// name -> instance, then (added by the task's own daemon) spans-hosts
    /// flag, daemon pid, descriptor of the host's barrier segment (-1: none)
    case join = 1
    /// name -> code
    case leave
    /// name -> size
    case size
    /// name, instance -> tid
    case tid
    /// name, tid -> instance
    case instance
    /// name, size (-1: current) -> size, then the roster (tids by instance,
    /// 0 for a free instance). Answered once `size` members have called it.
    case freeze
    /// name -> size, frozen flag, roster
    case roster
    /// name, count (-1: current size) -> code, once `count` members arrived.
    /// The path for groups whose members span hosts.
    case barrier
    /// name, host tid -> code, coordinator tid (lowest instance on that
    /// host), members on that host, hosts with members
    case hostInfo
    /// (none) -> code, text (every group, for pvm_gsdump)
    case dump
    /// name, generation, arrivals: a host daemon hands over the arrivals
    /// of its shared-memory barrier when the group comes to span hosts
    /// (daemon to master only) -> code
    case proxyArrivals
}

/// The mailbox's requests (inside `DaemonOperation.mailbox`). Every reply
/// starts with a code: >= 0 is the answer, < 0 a PVM error. A message
/// travels as the rest of the body (no length in front), as it was packed:
/// encoding and data signature beside it, so that a get gives back the
/// buffer that was put. Flags are `MailboxFlags` (an index may ride above
/// the flag bits, PvmMboxDirectIndex).
public enum MailboxRequest: Int32, Sendable, CaseIterable {
    /// name, flags, encoding, data signature, then the message bytes ->
    /// index stored at. With multiInstance the lowest free index at or above
    /// the direct index; else exactly the direct index, replacing an entry
    /// there if the caller may (PvmDenied: another task's, not overwritable).
    case put = 1
    /// name, index, flags -> index found, then the tid that put it, owner
    /// tid (0: a persistent entry whose owner exited), flags, encoding, data
    /// signature, then the message bytes. firstAvailable: the first entry at
    /// or above the index; readAndDelete: removed too; waitForInfo:
    /// answered once such an entry exists (PvmNoTask to a waiter that exits
    /// first).
    case get
    /// name, index, flags -> index deleted (exactly that index)
    case delete
    /// pattern (`*` any run of characters; it may match anywhere in a name,
    /// as PVM 3.4's does; "" all) -> code, count, then per class (in the
    /// order the classes were made): name, indices[], owners[], flags[]
    case list
    /// name ("" every class), index (-1 every index) -> how many orphaned
    /// persistent entries were removed (console `reset info`)
    case removeOrphans
    /// name, index (-1: the lowest free), flags, encoding, data signature,
    /// then the message bytes -> index; PvmDenied when the index is taken,
    /// whoever holds it (PVM 3.3's pvm_insert and its PvmDupEntry)
    case insert
}

/// Daemon-to-daemon operations (context `SystemContext.hosts`). The
/// machine is a star: every daemon keeps one authenticated TCP link to the
/// master (host 1), which forwards what one host sends another.
public enum HostOperation: Int32, Sendable, CaseIterable {
    /// slave -> master: host number, name, arch, speed, signature
    case join = 0x2001
    /// master -> slave: code, host number, host table
    case welcome
    /// master -> slaves: the host table (after every change)
    case hostTable
    /// both ways, every heartbeat interval: (empty)
    case heartbeat
    /// any -> a host's daemon: request id, requester tid, daemon operation, body
    case request
    /// the answer: request id, body
    case response
    /// -> every daemon: stop every task and leave
    case halt
    /// master -> slave: you were deleted (or the master is leaving): stop
    case leave
    /// slave -> master: a task of this host is gone (groups, mailbox)
    case taskExited
    /// master -> host: group `name` now spans hosts: its barrier goes
    /// through the master from now on
    case groupSpans
    /// master -> host: name, generation, code: release the shared-memory
    /// barrier waiters whose arrivals the host handed over
    case groupRelease
}

/// One host of the virtual machine as every daemon knows it.
public struct HostEntryRecord: Sendable, Equatable {
    public var number: Int32
    public var name: String
    public var architecture: String
    public var speed: Int32
    public var signature: UInt32
    /// The host's IPv4 address as the machine reaches it (for tasks' direct
    /// TCP links); empty where not known yet.
    public var address: String
    /// What the host offers for task data between hosts, as `HostFabric`'s
    /// wire text (`tcp`, or `verbs DEVICE PORT ib|roce RATE`).
    public var fabric: String

    public init(number: Int32, name: String, architecture: String, speed: Int32, signature: UInt32, address: String = "",
                fabric: String = "tcp") {
        self.number = number
        self.name = name
        self.architecture = architecture
        self.speed = speed
        self.signature = signature
        self.address = address
        self.fabric = fabric
    }

    public func write(_ w: inout ControlWriter) {
        w.int(number); w.string(name); w.string(architecture); w.int(speed); w.int(Int32(bitPattern: signature)); w.string(address)
        w.string(fabric)
    }

    public init(_ r: inout ControlReader) throws(PVMError) {
        number = try r.int()
        name = try r.string()
        architecture = try r.string()
        speed = try r.int()
        signature = UInt32(bitPattern: try r.int())
        address = try r.string()
        fabric = try r.string()
        guard number >= 1, number <= TaskID.maxHost else { throw PVMError(.badMsg, "host number \(number)") }
        guard fabric.utf8.count <= 128 else { throw PVMError(.badMsg, "host fabric of \(fabric.utf8.count) bytes") }
    }
}

/// Flags of a task as `pvm_tasks` and the console's `ps` report them (PVM 3.4 values).
public enum TaskFlags {
    public static let spawned: Int32 = 0x2      // f: child of the daemon
    public static let connected: Int32 = 0x4    // c
    public static let closing: Int32 = 0x10     // o
    public static let shmConnected: Int32 = 0x40
}

/// The `len` field of output messages (PVM 3.4's TO_* values); a positive
/// value is the number of bytes of output that follow.
public enum OutputEvent {
    public static let eof: Int32 = 0
    public static let spawn: Int32 = -1
    public static let new: Int32 = -2
}

/// A frame from the daemon (context `SystemContext.daemon`, this tag)
/// carrying text for the person behind the task that made a request still
/// under way, such as the command to start a host by hand (so=ms). The task
/// library writes it to standard error.
public enum DaemonNotice {
    public static let tag: Int32 = 0x1fff
}

/// Positive codes of a lookup reply (errors are PVM's negative codes).
public enum LookupResult {
    /// Spawned, not enrolled yet: route through the daemon for now.
    public static let notEnrolled: Int32 = 1
    /// On another host, with no direct path: route through the daemons.
    public static let throughDaemons: Int32 = 2
}
