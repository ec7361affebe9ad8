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

    private var marker: Descriptor?
    private let cookiesPath: String
    private let volumesPath: String
    private var known = Set<UInt32>()
    /// Cookie lines written so far.
    public private(set) var written = 0

    /// nil when the marker file cannot be opened or the kernel has no fscache tables (no names
    /// then: the report says so).
    public init?(markerPath: String, cookiesPath: String = CookieKeyPoller.cookiesPath,
                 volumesPath: String = CookieKeyPoller.volumesPath) {
        guard FileSystem.allows(cookiesPath, .read), let marker = try? Descriptor.open(markerPath, .write) else { return nil }
        (self.marker, self.cookiesPath, self.volumesPath) = (marker, cookiesPath, volumesPath)
    }

    deinit { marker?.close() }

    /// The last poll; then the marker file is closed (an open file keeps the instance from
    /// being removed).
    public func finish() {
        poll()
        marker?.close()
        marker = nil
    }

    /// Reads the tables once and writes the new cookies' lines.
    public func poll() {
        guard let marker, let cookies = try? FileContents.readText(cookiesPath) else { return }
        let volumes = (try? FileContents.readText(volumesPath)) ?? ""
        for line in FscacheProcTables.newLines(cookies: cookies, volumes: volumes, known: &known) {
            try? marker.write(line.line + "\n")
            written += 1
        }
    }
}
