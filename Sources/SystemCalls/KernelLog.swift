import Glibc

/// The kernel's log (`/dev/kmsg`) from the moment it is opened: what the kernel said about an
/// operation that just failed (a refused mount's reason is only there).
public final class KernelLog {
    private let fd: Int32

    /// Positioned at the end: only what comes after is read. Nil when /dev/kmsg cannot be read.
    public init?() {
        fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        lseek(fd, 0, SEEK_END)
    }

    deinit { close(fd) }

    /// The messages logged since the last call (or since opening), without their prefix
    /// (`priority,sequence,time,flags;`).
    public func newMessages() -> [String] {
        var messages: [String] = []
        var record = [UInt8](repeating: 0, count: 8192)
        while true {
            let n = retryingInterrupted { read(fd, &record, record.count) }
            if n < 0 { if errno == EPIPE { continue }; break }  // EPIPE: overwritten records, go on
            if n == 0 { break }
            let text = String(decoding: record[0..<n], as: UTF8.self)
            let body = text.split(separator: "\n", maxSplits: 1).first.map(String.init) ?? text
            messages.append(body.firstIndex(of: ";").map { String(body[body.index(after: $0)...]) } ?? body)
        }
        return messages
    }
}

/// The running kernel and the machine it runs on.
public enum RunningKernel {
    /// What `uname` says: the kernel's name, the host's name, the release, the machine.
    public struct Names: Sendable {
        public var system: String
        public var node: String
        public var release: String
        public var machine: String
    }

    public static var names: Names {
        var names = utsname()
        uname(&names)
        func text<T>(_ field: T) -> String {
            withUnsafeBytes(of: field) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        return Names(system: text(names.sysname), node: text(names.nodename), release: text(names.release), machine: text(names.machine))
    }

    /// Its release, as `uname -r` prints it.
    public static var release: String { names.release }

    /// The CPUs the kernel was configured for, online or not (each has a ring buffer).
    public static var configuredCPUs: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_CONF)))) }

    /// The memory page size.
    public static var pageSize: Int { Int(sysconf(Int32(_SC_PAGESIZE))) }
}
