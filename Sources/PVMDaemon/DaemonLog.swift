#if canImport(Glibc)
import Glibc
#endif
import Logging

/// swift-log handler for the daemon: one line per event in PVM's log
/// layout, `[t80040000] MM/DD HH:MM:SS text`, to the log file (and to
/// standard error when the daemon runs in the foreground).
public struct DaemonLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    let prefix: String
    let fds: [Int32]

    public init(prefix: String, fds: [Int32]) {
        self.prefix = prefix
        self.fds = fds
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let level = event.level, message = event.message
        var t = time(nil)
        var tmv = tm()
        localtime_r(&t, &tmv)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let stamp = "\(two(tmv.tm_mon + 1))/\(two(tmv.tm_mday)) \(two(tmv.tm_hour)):\(two(tmv.tm_min)):\(two(tmv.tm_sec))"
        let levelText = level >= .warning ? "\(level): " : ""
        let text = "[\(prefix)] \(stamp) \(levelText)\(message)\n"
        for fd in fds {
            text.utf8CString.withUnsafeBufferPointer { b in
                var off = 0
                let n = b.count - 1
                while off < n {
                    let w = write(fd, b.baseAddress! + off, n - off)
                    if w <= 0 { if w < 0 && errno == EINTR { continue }; break }
                    off += w
                }
            }
        }
    }
}
