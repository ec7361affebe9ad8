#if canImport(Glibc)
import Glibc
#endif
import SystemCalls
import OndemandTraceCore

/// The daemon's log: one line per event, prefixed with CLOCK_MONOTONIC seconds (the clock the
/// recording uses with `trace_clock mono`), each line one `write()` so threads do not interleave.
public struct DaemonLog: Sendable {
    public let fd: Int32

    public init(fd: Int32 = 2) { self.fd = fd }

    /// Appends to `path` (created if needed).
    public init(path: String) throws(DaemonError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw DaemonError("\(path): cannot open the log: \(describeErrno(errno))") }
        self.fd = fd
    }

    public func callAsFunction(_ message: String) {
        var line = Self.timestamp() + " " + message + "\n"
        line.withUTF8 { _ = write(fd, $0.baseAddress, $0.count) }
    }

    public static func timestamp() -> String {
        let ns = monotonicNanoseconds()
        return "\(ns / 1_000_000_000)." + String(ns % 1_000_000_000 / 1000).leftPadded(to: 6, with: "0")
    }
}

/// The recording instance's `trace_marker`: each daemon marker becomes an `ftrace:print` record in
/// the same ring buffer as the kernel's events. Absent when nothing records: no cost then.
public final class TraceMarkerWriter: Sendable {
    public let fd: Int32
    public let path: String

    public init(path: String) throws(DaemonError) {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw DaemonError("\(path): cannot open trace_marker: \(describeErrno(errno))") }
        self.fd = fd
        self.path = path
    }

    deinit { close(fd) }

    public func write(_ marker: DaemonMarker) { write(line: marker.line) }

    /// The fanotify daemon's markers.
    public func write(_ marker: FanotifyMarker) { write(line: marker.line) }

    private func write(line text: String) {
        var line = text + "\n"
        line.withUTF8 { _ = Glibc.write(fd, $0.baseAddress, $0.count) }
    }
}
