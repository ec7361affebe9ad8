import Glibc

/// Waiting on file descriptors.
public enum Polling {
    /// Waits up to `timeoutMilliseconds` (-1: no limit) until one of `fds` can be read (or hung
    /// up, or failed); for each, whether it can. Nil when poll(2) itself failed.
    public static func readable(_ fds: [Int32], timeoutMilliseconds: Int32) -> [Bool]? {
        var set = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        let count = nfds_t(set.count)
        guard retryingInterrupted({ poll(&set, count, timeoutMilliseconds) }) >= 0 else { return nil }
        return set.map { $0.revents != 0 }
    }
}

/// A pipe one thread writes a byte to so that another, waiting in `Polling.readable` on
/// `readEnd`, wakes up (to stop, usually).
public final class WakePipe: Sendable {
    public let readEnd: Int32
    private let writeEnd: Int32

    public init() throws(SystemError) {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { throw SystemError(path: "pipe", action: "cannot create", errno: errno) }
        for fd in ends { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
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
