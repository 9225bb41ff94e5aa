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
    /// tid -> code (0, `LookupResult.notEnrolled` or PvmNoTask), endpoint address, pid
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

/// Positive codes of a lookup reply (errors are PVM's negative codes).
public enum LookupResult {
    /// Spawned, not enrolled yet: route through the daemon for now.
    public static let notEnrolled: Int32 = 1
}
