import Glibc
import OndemandTraceCore
import SystemCalls

/// Learns the keys of fscache cookies while `record` runs, for daemons that write no markers:
/// polls `/proc/fs/fscache/cookies` and `/proc/fs/fscache/volumes` and writes one
/// `odt1 cookie id=... volume=... blob=...` line per new cookie into the recording's
/// `trace_marker` (docs/markers.md). The report ties cookies to objects through `cachefiles_ref`
/// (`obj` and `cookie` debug ids), so the trace.dat alone names its objects. A cookie that comes
/// and goes between two polls is missed; cookies live from mount to umount.
public final class CookieKeyPoller {
    public static let cookiesPath = "/proc/fs/fscache/cookies"
    public static let volumesPath = "/proc/fs/fscache/volumes"

    private var fd: Int32
    private let cookiesPath: String
    private let volumesPath: String
    private var known = Set<UInt32>()
    /// Cookie lines written so far.
    public private(set) var written = 0

    /// nil when the marker file cannot be opened or the kernel has no fscache tables (no names
    /// then: the report says so).
    public init?(markerPath: String, cookiesPath: String = CookieKeyPoller.cookiesPath,
                 volumesPath: String = CookieKeyPoller.volumesPath) {
        guard access(cookiesPath, R_OK) == 0 else { return nil }
        let fd = open(markerPath, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        (self.fd, self.cookiesPath, self.volumesPath) = (fd, cookiesPath, volumesPath)
    }

    deinit { if fd >= 0 { close(fd) } }

    /// The last poll; then the marker file is closed (an open file keeps the instance from
    /// being removed).
    public func finish() {
        poll()
        if fd >= 0 { close(fd) }
        fd = -1
    }

    /// Reads the tables once and writes the new cookies' lines.
    public func poll() {
        guard fd >= 0, let cookies = try? FileContents.readText(cookiesPath) else { return }
        let volumes = (try? FileContents.readText(volumesPath)) ?? ""
        for line in FscacheProcTables.newLines(cookies: cookies, volumes: volumes, known: &known) {
            var text = line.line + "\n"
            text.withUTF8 { _ = FileContents.writeAll(fd, UnsafeRawBufferPointer($0)) }
            written += 1
        }
    }
}
