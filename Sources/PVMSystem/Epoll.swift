#if canImport(Glibc)
import Glibc
#endif
import CSupport

/// One epoll set. A task waits on exactly one: its doorbell and every socket
/// it uses are in it, so a blocked task sleeps in a single `epoll_wait`.
public struct Epoll: ~Copyable {
    public let descriptor: OwnedDescriptor

    /// Readiness events (`EPOLLIN`, `EPOLLHUP`, …) as returned by the kernel.
    public struct Events: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let readable = Events(rawValue: PVM_EPOLLIN)
        public static let writable = Events(rawValue: PVM_EPOLLOUT)
        public static let error = Events(rawValue: PVM_EPOLLERR)
        public static let hangup = Events(rawValue: PVM_EPOLLHUP)
        public static let readHangup = Events(rawValue: PVM_EPOLLRDHUP)
    }

    public init() throws(SystemError) {
        let fd = pvm_epoll_create()
        if fd < 0 { throw SystemError.current("epoll_create1") }
        descriptor = OwnedDescriptor(taking: fd)
    }

    /// Watches `fd`; `token` comes back with its events.
    public func add(_ fd: Int32, events: Events, token: UInt64) throws(SystemError) {
        if pvm_epoll_add(descriptor.rawValue, fd, events.rawValue, token) != 0 {
            throw SystemError.current("epoll_ctl(ADD, \(fd))")
        }
    }

    public func modify(_ fd: Int32, events: Events, token: UInt64) throws(SystemError) {
        if pvm_epoll_mod(descriptor.rawValue, fd, events.rawValue, token) != 0 {
            throw SystemError.current("epoll_ctl(MOD, \(fd))")
        }
    }

    /// Stops watching `fd`. Closing a descriptor also removes it; a descriptor
    /// that is already gone is not an error here.
    public func remove(_ fd: Int32) {
        _ = pvm_epoll_del(descriptor.rawValue, fd)
    }

    /// Waits up to `timeoutMilliseconds` (-1: forever) and calls `body` for
    /// each ready descriptor. Returns the number of events; 0 on timeout or
    /// when a signal interrupted the wait.
    @discardableResult
    public func wait(timeoutMilliseconds: Int32, _ body: (UInt64, Events) throws -> Void) rethrows -> Int {
        var events = (pvm_epoll_event(), pvm_epoll_event(), pvm_epoll_event(), pvm_epoll_event(),
                      pvm_epoll_event(), pvm_epoll_event(), pvm_epoll_event(), pvm_epoll_event(),
                      pvm_epoll_event(), pvm_epoll_event(), pvm_epoll_event(), pvm_epoll_event(),
                      pvm_epoll_event(), pvm_epoll_event(), pvm_epoll_event(), pvm_epoll_event())
        let capacity = 16
        let n = withUnsafeMutableBytes(of: &events) { raw -> Int32 in
            pvm_epoll_wait(descriptor.rawValue, raw.baseAddress!.assumingMemoryBound(to: pvm_epoll_event.self), Int32(capacity), timeoutMilliseconds)
        }
        if n < 0 {
            let code = errno
            if code == EINTR { return 0 }
            checkProgrammerError(code, "epoll_wait")
            fatalError("epoll_wait: \(String(cString: strerror(code)))")
        }
        try withUnsafeBytes(of: &events) { raw in
            let list = raw.bindMemory(to: pvm_epoll_event.self)
            for i in 0..<Int(n) {
                try body(list[i].data, Events(rawValue: list[i].events))
            }
        }
        return Int(n)
    }
}

/// An eventfd used as a doorbell: peers ring it, the owner sleeps on it in
/// its epoll set. Non-blocking and close-on-exec.
public struct Doorbell: ~Copyable {
    public let descriptor: OwnedDescriptor

    public init() throws(SystemError) {
        let fd = pvm_eventfd_create()
        if fd < 0 { throw SystemError.current("eventfd") }
        descriptor = OwnedDescriptor(taking: fd)
    }

    public init(adopting fd: consuming OwnedDescriptor) {
        descriptor = fd
    }

    /// Rings the bell (one `write`).
    public func ring() {
        _ = pvm_eventfd_signal(descriptor.rawValue)
    }

    /// Clears the bell; true if it had been rung.
    @discardableResult
    public func drain() -> Bool {
        pvm_eventfd_drain(descriptor.rawValue) == 1
    }

    /// Waits until the bell is rung or `timeoutMilliseconds` pass, without
    /// clearing it (one `poll`, retried on EINTR). True if it was rung.
    public func wait(timeoutMilliseconds: Int32) -> Bool {
        var p = pollfd(fd: descriptor.rawValue, events: Int16(POLLIN), revents: 0)
        while true {
            let r = poll(&p, 1, timeoutMilliseconds)
            if r < 0 && errno == EINTR { continue }
            return r > 0
        }
    }
}
