import Synchronization
import OndemandTraceCore
import SystemCalls
import TraceRecording

/// `ondemand-trace monitor`: records the on-demand events continuously in a private tracefs
/// instance, correlates them as `report` does, serves the figures on `/metrics`, and logs each
/// request in flight longer than `hungAfter` once — until SIGINT or SIGTERM, which remove the
/// instance. A daemon restart or a cache rebound is nothing special: the requests of a released
/// fd are settled, new objects are new.
public struct Monitor {
    public struct Options: Sendable {
        public var listen: ListenAddress
        /// Nanoseconds a request may stay in flight before it is logged as hung.
        public var hungAfter: UInt64
        public var maxBlobs: Int
        /// Keep the recording as rotated trace.dat files; nil: pages are dropped once decoded.
        public var rotation: TraceRotation?
        public var bufferSizeKB: Int
        public var instanceName: String?
        /// Poll the fscache cookie tables (every `cookiePollInterval`) so a foreign daemon's
        /// objects get blob names.
        public var cookieKeys: Bool

        public init(listen: ListenAddress, hungAfter: UInt64 = 5_000_000_000, maxBlobs: Int = 32,
                    rotation: TraceRotation? = nil, bufferSizeKB: Int = RecordingOptions.defaultBufferSizeKB,
                    instanceName: String? = nil, cookieKeys: Bool = true) {
            (self.listen, self.hungAfter, self.maxBlobs, self.rotation) = (listen, hungAfter, maxBlobs, rotation)
            (self.bufferSizeKB, self.instanceName, self.cookieKeys) = (bufferSizeKB, instanceName, cookieKeys)
        }
    }

    /// What is recorded: the on-demand round trips, the records that name objects, the kernel's
    /// error reports, and daemon markers (always). Not `cachefiles_read`/`prep_read`: the
    /// monitor does not wait for readers' resumption, and they are the most frequent records.
    public static let events: [EventSpec] =
        ["open", "copen", "close", "read", "cread", "fd_write", "fd_release"].map { EventSpec(system: "cachefiles", event: "cachefiles_ondemand_" + $0) }
        + ["ref", "io_error", "vfs_error"].map { EventSpec(system: "cachefiles", event: "cachefiles_" + $0) }
        + [.marker]

    /// `events` less those this kernel lacks (an older one may have no `cachefiles_vfs_error`).
    static func events(available: Set<String>) -> [EventSpec] {
        events.filter { $0.event.map { $0 == "print" || available.contains($0) } ?? true }
    }

    /// Less often than `record` (20 ms), and only after new records: a request waits up to
    /// `MonitorState.namingGrace` for its name, and an idle monitor should cost next to nothing.
    static let cookiePollInterval: UInt64 = 100_000_000

    let options: Options
    /// One line for the operator's log (stderr): start, hung requests, rotated files, the end.
    let log: @Sendable (String) -> Void

    public init(options: Options, log: @escaping @Sendable (String) -> Void) {
        (self.options, self.log) = (options, log)
    }

    /// Runs until SIGINT/SIGTERM. Throws the first failure as one line; nothing is left behind.
    public func run() throws(MonitorError) {
        RecordLoop.blockSignals()  // before any thread starts: they inherit the mask
        OutputDescriptor.reportBrokenPipes()   // a scraper that hangs up mid-answer is the HTTP server's error, not our end
        // Listen first: a port in use is the cheapest failure, and found on any machine.
        let slot = PipelineSlot()
        let server = try MetricsHTTPServer.start(host: options.listen.host, port: options.listen.port) { slot.render(openMetrics: $0) }
        defer { server.stop() }
        if let rotation = options.rotation { try Self.checkDirectory(rotation.directory) }
        let backend = try Self.checkKernel()
        let pipeline = MonitorPipeline(decoder: nil, metrics: OndemandMetrics(maxBlobs: options.maxBlobs, kernel: KernelRelease.runningText,
                                                                             backend: backend),
                                       now: { monotonicNanoseconds() })
        slot.set(pipeline)
        let session = try start(pipeline, backend: backend)
        log("monitor: serving http://\(server.boundAddress)/metrics; "
            + "recording in tracefs instance \(session.instanceName)"
            + (options.rotation.map { ", trace files in \($0.directory)" } ?? "") + "; hung after \(Double(options.hungAfter) / 1e9) s")
        let cookies = options.cookieKeys && backend == .cachefiles ? session.markerPath.flatMap { CookieKeyPoller(markerPath: $0) } : nil
        wait(session: session, pipeline: pipeline, cookies: cookies)
        cookies?.finish()
        do {
            let result = try session.stop()
            log("monitor: stopped; \(result.events) records" + (result.path.map { ", last trace file \($0)" } ?? "")
                + (result.lostEvents > 0 ? ", \(result.lostEvents) lost" : ""))
        } catch {
            throw MonitorError(error.message)
        }
    }

    private func start(_ pipeline: MonitorPipeline, backend: Backend) throws(MonitorError) -> RecordingSession {
        let output: RecordingOutput = options.rotation.map { .rotating($0) } ?? .discard
        var recording = RecordingOptions(
            output: output, events: backend == .fanotify ? [.marker] : Self.events(available: Set(Tracefs.events(ofSystem: "cachefiles"))),
            bufferSizeKB: options.bufferSizeKB, clock: "mono",
            instanceName: options.instanceName, onRecords: { pipeline.consume($0) })
        recording.fanotifyProbes = backend == .fanotify
        recording.onFormats = { @Sendable formats throws(RecordingError) in try pipeline.use(formats: formats) }
        let session = RecordingSession(options: recording)
        do { try session.start() } catch { throw MonitorError(error.message) }
        for stale in session.staleInstancesRemoved { log("monitor: removed stale tracefs instance \(stale) (its recorder is gone)") }
        for stale in session.staleProbeGroupsRemoved { log("monitor: removed stale kprobe events \(stale)/* (their recorder is gone)") }
        return session
    }

    /// Polls the cookie tables, logs hung requests once a second, until a signal ends it or the
    /// recorder fails.
    private func wait(session: RecordingSession, pipeline: MonitorPipeline, cookies: CookieKeyPoller?) {
        var nextCheck = monotonicNanoseconds()
        var recordsSeen = -1
        while session.failure == nil {
            // New objects come with records: an idle monitor reads no tables.
            let records = pipeline.recordsConsumed
            if let cookies, records != recordsSeen {
                recordsSeen = records
                cookies.poll()
            }
            let now = monotonicNanoseconds()
            if now >= nextCheck {
                logHung(pipeline)
                nextCheck = now + 1_000_000_000
            }
            let wait = min(cookies == nil ? 1_000_000_000 : Self.cookiePollInterval, nextCheck - min(nextCheck, now))
            if let signal = RecordLoop.signals.wait(timeoutNanoseconds: wait), signal == Signal.interrupt || signal == Signal.terminate {
                log("monitor: \(Signal.name(signal)): stopping")
                return
            }
        }
    }

    private func logHung(_ pipeline: MonitorPipeline) {
        let (hung, now) = pipeline.newlyHung(after: options.hungAfter)
        for request in hung {
            log("monitor: " + HungRequestText.line(request, now: now, comm: Self.comm(of: request.pid)))
        }
    }

    /// The task's name while it lives (a hung reader does): the ring buffer does not carry it.
    static func comm(of pid: Int32) -> String? {
        guard pid > 0, let text = try? FileContents.readText("/proc/\(pid)/comm") else { return nil }
        let name = text.split(separator: "\n").first.map(String.init) ?? ""
        return name.isEmpty ? nil : name
    }

    /// `-o DIR` must be a directory we can write in.
    static func checkDirectory(_ path: String) throws(MonitorError) {
        guard FileSystem.kind(of: path) == .directory else {
            throw MonitorError("-o \(path): not a directory (give an existing directory for the rotated trace files)")
        }
        guard FileSystem.allows(path, [.write, .execute]) else { throw MonitorError("-o \(path): permission denied") }
    }

    /// The on-demand path this kernel offers (cachefiles where it has it, else fanotify); a
    /// kernel with neither is an error.
    static func checkKernel() throws(MonitorError) -> Backend {
        do throws(RecordingError) {
            let tracing = try Tracefs.directory()
            guard ThisProcess.isRoot || FileSystem.allows(tracing + "/instances", .write) else {
                throw RecordingError("\(tracing)/instances: permission denied: monitor needs root (or CAP_SYS_ADMIN) to make its tracefs instance")
            }
            if let backend = OndemandPaths.detect() { return backend }
            if Tracefs.events(ofSystem: "cachefiles").isEmpty {
                throw RecordingError("no cachefiles events in this kernel (it lacks CONFIG_CACHEFILES, or tracefs is not mounted), and no fanotify pre-content hook with kprobe events; see `ondemand-trace doctor`")
            }
            throw RecordingError("this kernel's cachefiles has no on-demand events (it lacks CONFIG_CACHEFILES_ONDEMAND, Linux 5.19+), and no fanotify pre-content hook with kprobe events; see `ondemand-trace doctor`")
        } catch {
            throw MonitorError(error.message)
        }
    }
}

/// The pipeline the HTTP server renders from, set once the recording can start (until then a
/// scrape gets an empty exposition).
final class PipelineSlot: Sendable {
    private let pipeline = Mutex<MonitorPipeline?>(nil)

    func set(_ value: MonitorPipeline) { pipeline.withLock { $0 = value } }

    func render(openMetrics: Bool) -> [UInt8] {
        guard let current = pipeline.withLock({ $0 }) else { return openMetrics ? Array("# EOF\n".utf8) : [] }
        return current.render(openMetrics: openMetrics)
    }
}
