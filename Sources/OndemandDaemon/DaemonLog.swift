import SystemCalls
import OndemandTraceCore

/// The daemon's log: one line per event, prefixed with CLOCK_MONOTONIC seconds (the clock the
/// recording uses with `trace_clock mono`), each line one `write()` so threads do not interleave.
public struct DaemonLog: Sendable {
    public let fd: Int32

    public init(fd: Int32 = 2) { self.fd = fd }

    /// Appends to `path` (created if needed).
    public init(path: String) throws(DaemonError) {
        do { fd = try Descriptor.open(path, .write, [.create, .append]).fd } catch {
            throw DaemonError("\(path): cannot open the log: \(describeErrno(error.errno))")
        }
    }

    /// A failed write is dropped: the log has nowhere to report it.
    public func callAsFunction(_ message: String) {
        var line = Self.timestamp() + " " + message + "\n"
        line.withUTF8 { _ = FileContents.writeAll(fd, UnsafeRawBufferPointer($0)) }
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
        do { fd = try Descriptor.open(path, .write).fd } catch {
            throw DaemonError("\(path): cannot open trace_marker: \(describeErrno(error.errno))")
        }
        self.path = path
    }

    deinit { Descriptor(fd: fd, path: path).close() }

    public func write(_ marker: DaemonMarker) { write(line: marker.line) }

    /// The fanotify daemon's markers.
    public func write(_ marker: FanotifyMarker) { write(line: marker.line) }

    private func write(line text: String) {
        var line = text + "\n"
        line.withUTF8 { _ = FileContents.writeAll(fd, UnsafeRawBufferPointer($0)) }
    }
}
