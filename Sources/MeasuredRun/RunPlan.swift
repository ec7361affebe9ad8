import OndemandDaemon
import OndemandTraceCore

/// Everything `run` was asked to do, validated: what to serve, how to read it, how often, and
/// where the results go. The command fills it from its options; `RunSeries` carries it out.
public struct RunPlan: Sendable {
    public var image: String
    public var fsid: String
    /// The on-demand path: cachefiles (mount -t erofs none -o fsid=) or fanotify (a sparse copy
    /// of the image in the cache directory, marked by the daemon, mounted file-backed).
    public var backend = Backend.cachefiles
    /// Data blobs beside the image (bootstrap + blobs), mounted with `device=TAG` each.
    public var blobs: [RunBlob] = []
    /// `domain_id=`: images of one domain share their blobs (each blob opened once).
    public var domain: String?
    /// Who serves the requests.
    public var daemonSource = DaemonSource.embedded
    /// The cachefiles cache directory of the embedded daemon; with several runs each gets a
    /// subdirectory `run-N`.
    public var cacheDirectory: String
    /// Where to mount; nil: a fresh directory under /tmp, removed afterwards.
    public var mountpoint: String?
    /// The daemon's settings (threads, faults, diagnostics); cache directory, blobs and markers
    /// are filled in per run.
    public var daemon: OndemandServer.Configuration
    public var daemonLog: String?
    /// The built-in workload (used when `command` is empty).
    public var workload = ImageWorkload.Options()
    /// A command to run in the mount point instead of the built-in workload.
    public var command: [String] = []
    public var measuredRuns = 1
    public var warmupRuns = 0
    public var passes = 1
    public var pin = false
    public var traceOutput = "run.dat"
    public var reportOutput = "run.json"
    public var bufferSizeKB: Int
    /// Keep the first measured run's requests and map them to the image's files (`--files`).
    public var blameFiles = false
    /// What shapes the requests, named as the report's `run` section names it.
    public var preset: String?
    public var faultSpecs: [String] = []
    /// Kept out of the identity: a slower system made on purpose.
    public var slowdown: String?
    /// The fanotify path: a pass's workload still running after this many nanoseconds (a reader
    /// blocked on an event nobody answers) ends the recording, then the daemon (which releases
    /// the reader); the run fails. nil: no limit.
    public var workloadTimeout: UInt64?

    public init(image: String, fsid: String, cacheDirectory: String, daemon: OndemandServer.Configuration, bufferSizeKB: Int) {
        self.image = image
        self.fsid = fsid
        self.cacheDirectory = cacheDirectory
        self.daemon = daemon
        self.bufferSizeKB = bufferSizeKB
    }

    public enum DaemonSource: Sendable, Equatable {
        /// Ours, in this process, writing markers into the recording.
        case embedded
        /// The user's: `sh -c COMMAND`, started per run; the run waits until it binds a cache
        /// (at most `bindTimeout` ns) and stops it with SIGTERM at the end.
        case command(String, bindTimeout: UInt64)
        /// One already serving: nothing started, a bound cache required.
        case alreadyServing
    }

    /// The `-o` of pass `fsid`'s mount.
    public func mountOptions(fsid: String) -> String {
        (["fsid=\(fsid)"] + (domain.map { ["domain_id=\($0)"] } ?? []) + blobs.map { "device=\($0.tag)" })
            .joined(separator: ",")
    }

    /// A run per cache subdirectory and trace file (`traceOutput` and `cacheDirectory` used as
    /// given otherwise).
    public var multiRun: Bool { measuredRuns > 1 || warmupRuns > 0 }

    /// The fsid of each pass: a fresh one per pass, so the daemon serves every pass again.
    public var passFsids: [String] { passes == 1 ? [fsid] : (1...passes).map { "\(fsid)-pass\($0)" } }

    /// The workload as the identity names it.
    public var workloadDescription: String {
        guard command.isEmpty else { return command.joined(separator: " ") }
        return "built-in \(workload.order.rawValue) readers=\(workload.readers) block=\(workload.blockSize)"
            + (workload.order == .random ? " seed=\(workload.seed)" : "")
    }

    /// `run.dat` -> `run-3.dat`.
    public static func numbered(_ path: String, _ suffix: String) -> String {
        let slash = path.lastIndex(of: "/").map { path.index(after: $0) } ?? path.startIndex
        if let dot = path[slash...].lastIndex(of: "."), dot != slash {
            return String(path[..<dot]) + "-" + suffix + String(path[dot...])
        }
        return path + "-" + suffix
    }
}
