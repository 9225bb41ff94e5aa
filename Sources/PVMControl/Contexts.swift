/// Message contexts reserved for the runtime (PVM 3.4 keeps 0x7fff6...0x7ffff).
public enum SystemContext {
    /// Task-to-task control (output collection, catchout).
    public static let taskControl: Int32 = 0x7ffff
    /// Task-to-daemon requests and their replies.
    public static let daemon: Int32 = 0x7fffe
    /// Daemon-to-daemon traffic (joins, the host table, heartbeats,
    /// requests forwarded to another host). Never accepted from a task.
    public static let hosts: Int32 = 0x7fffd
    /// The lowest reserved context.
    public static let reservedLow: Int32 = 0x7fff6
}
