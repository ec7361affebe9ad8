import Glibc

/// What poll(2) reported of one descriptor.
public struct Readiness: OptionSet, Sendable {
    public let rawValue: Int16
    public init(rawValue: Int16) { self.rawValue = rawValue }
    public static let readable = Readiness(rawValue: Int16(POLLIN))
    public static let error = Readiness(rawValue: Int16(POLLERR))
    public static let hungUp = Readiness(rawValue: Int16(POLLHUP))
    /// The descriptor is not open.
    public static let invalid = Readiness(rawValue: Int16(POLLNVAL))
    /// Any of the three above: reading it will not bring what was waited for.
    public static let failed: Readiness = [.error, .hungUp, .invalid]
}

/// Descriptors a thread waits on together, again and again, each to be read (the set kept
/// between waits: nothing is allocated per wait); after a wait, what each reported.
public struct PollSet {
    private var entries: [pollfd]

    public init(readable fds: [Int32]) {
        entries = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
    }

    /// Waits up to `timeoutMilliseconds` (-1: no limit, 0: none) until one of them can be read
    /// (or hung up, or failed); how many did (0: the time passed). A signal's handler does not
    /// end the wait early (EINTR retried).
    @discardableResult
    public mutating func wait(timeoutMilliseconds: Int32) throws(SystemError) -> Int {
        let count = nfds_t(entries.count)
        let ready = retryingInterrupted { poll(&entries, count, timeoutMilliseconds) }
        guard ready >= 0 else { throw SystemError(path: "poll", action: "failed", errno: errno) }
        return Int(ready)
    }

    /// What the last wait reported of the `index`th descriptor (empty: nothing).
    public subscript(index: Int) -> Readiness { Readiness(rawValue: entries[index].revents) }
}

/// Waiting on file descriptors.
public enum Polling {
    /// Waits up to `timeoutMilliseconds` (-1: no limit) until one of `fds` can be read (or hung
    /// up, or failed); for each, whether it can. Nil when poll(2) itself failed.
    public static func readable(_ fds: [Int32], timeoutMilliseconds: Int32) -> [Bool]? {
        var set = PollSet(readable: fds)
        guard (try? set.wait(timeoutMilliseconds: timeoutMilliseconds)) != nil else { return nil }
        return fds.indices.map { !set[$0].isEmpty }
    }
}

/// A pipe one thread writes a byte to so that another, waiting on `readEnd` (in a `PollSet` or
/// `Polling.readable`), wakes up (to stop, usually). Nothing reads it: once woken, `readEnd`
/// stays readable, so every waiter (and every later wait) sees it.
public final class WakePipe: Sendable {
    public let readEnd: Int32
    private let writeEnd: Int32

    public init() throws(SystemError) {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { throw SystemError(path: "pipe", action: "cannot create", errno: errno) }
        for fd in ends { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        // A full pipe (64 KiB of wakes) is readable already: a further wake must not block.
        _ = fcntl(ends[1], F_SETFL, O_NONBLOCK)
        (readEnd, writeEnd) = (ends[0], ends[1])
    }

    deinit {
        close(readEnd)
        close(writeEnd)
    }

    public func wake() {
        var byte: UInt8 = 1
        _ = retryingInterrupted { write(writeEnd, &byte, 1) }
    }
}
