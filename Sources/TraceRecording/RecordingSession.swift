import OndemandTraceCore
import CTrace
import SystemCalls
import TraceDatFormat

/// Where a recording's pages go.
public enum RecordingOutput: Sendable {
    /// One trace.dat, written to a temporary file and renamed over this path on success.
    case file(String)
    /// A new trace.dat in a directory whenever the pages reach a size, and at the end (`monitor -o`).
    case rotating(TraceRotation)
    /// Nowhere: the pages are decoded for `onRecords` and dropped (`monitor` without -o).
    case discard
}

/// `RecordingOutput.rotating`: `monitor-<UTC time>.dat` files in `directory`, each holding about
/// `maxBytes` of pages, the oldest removed beyond `keep`.
public struct TraceRotation: Sendable {
    public var directory: String
    public var maxBytes: UInt64
    public var keep: Int
    /// Told each file written (on the reader thread, or in `stop()`).
    public var onFile: (@Sendable (String) -> Void)?

    public init(directory: String, maxBytes: UInt64, keep: Int, onFile: (@Sendable (String) -> Void)? = nil) {
        (self.directory, self.maxBytes, self.keep, self.onFile) = (directory, maxBytes, keep, onFile)
    }
}

public struct RecordingOptions: Sendable {
    public var output: RecordingOutput
    public var events: [EventSpec]
    /// Per-CPU ring-buffer size in KiB.
    public var bufferSizeKB: Int
    /// The trace clock; `mono` lines up with CLOCK_MONOTONIC (daemon markers, user timestamps).
    public var clock: String
    /// nil: `ondemand-trace-<pid>`, which a later start removes if this process dies without cleaning up.
    public var instanceName: String?
    /// How often the buffers are drained when poll() does not wake the reader first.
    public var pollIntervalMS: Int32
    /// How often the per-CPU pieces beside the output are synced to disk (`RecordingPieces`; they
    /// are written after every drain): a power loss takes at most the records drained since.
    public var syncIntervalMS = 1000
    /// false: the pages go to unlinked files instead of the pieces (nothing to recover after a kill).
    public var crashSafe = true
    /// Record the fanotify pre-content path too: this recorder's kprobe events (`FanotifyProbe.all`,
    /// group `ondemand_fan_<pid>`, removed at the end) and `fsnotify:fsnotify` for pre-access.
    public var fanotifyProbes = false
    /// Called once with the format files of what is recorded (`eventFormats`'s list, the fanotify
    /// path's probes included: they exist only from `start()` on), before any record is read.
    public var onFormats: (@Sendable ([(system: String, format: String)]) throws(RecordingError) -> Void)?
    /// Live mode: called on the reader thread after each drain with the records read, in time
    /// order. Decode them with `recordedFormats` (e.g. `LiveLatency`).
    public var onRecords: (@Sendable ([RawRecord]) -> Void)?

    public static let defaultBufferSizeKB = 4096
    public static let defaultClock = "mono"

    public init(outputPath: String = "ondemand.dat", events: [EventSpec] = EventSpec.defaults,
                bufferSizeKB: Int = defaultBufferSizeKB, clock: String = defaultClock,
                instanceName: String? = nil, pollIntervalMS: Int32 = 100,
                onRecords: (@Sendable ([RawRecord]) -> Void)? = nil) {
        self.init(output: .file(outputPath), events: events, bufferSizeKB: bufferSizeKB, clock: clock,
                  instanceName: instanceName, pollIntervalMS: pollIntervalMS, onRecords: onRecords)
    }

    public init(output: RecordingOutput, events: [EventSpec] = EventSpec.defaults,
                bufferSizeKB: Int = defaultBufferSizeKB, clock: String = defaultClock,
                instanceName: String? = nil, pollIntervalMS: Int32 = 100,
                onRecords: (@Sendable ([RawRecord]) -> Void)? = nil) {
        self.output = output
        self.events = events
        self.bufferSizeKB = bufferSizeKB
        self.clock = clock
        self.instanceName = instanceName
        self.pollIntervalMS = pollIntervalMS
        self.onRecords = onRecords
    }
}

public struct RecordingResult: Sendable {
    /// The trace.dat written (rotating: the last one); nil when the pages were discarded.
    public var path: String?
    public var instanceName: String
    /// `per_cpu/cpuN/stats` at the end, by CPU (also stored in the file as CPUSTAT options).
    public var cpuStats: [CPUBufferStats]
    /// Records read per CPU (events and markers).
    public var eventsPerCPU: [UInt64]
    public var pagesPerCPU: [UInt64]
    /// Events the ring buffer reported lost between pages, per CPU (count known).
    public var missedPerCPU: [UInt64]
    public var fileSize: UInt64
    /// Instances of dead recorders removed at start.
    public var staleInstancesRemoved: [String]

    public var events: UInt64 { eventsPerCPU.reduce(0, +) }
    /// Lost by the kernel's count (overrun, commit overrun, dropped) or the pages' missed-events count.
    public var lostEvents: UInt64 { max(cpuStats.reduce(0) { $0 + $1.lost }, missedPerCPU.reduce(0, +)) }
}

/// One recording: a private tracefs instance with the chosen events, read on a background thread
/// into a trace.dat (version 6) written by `stop()`.
///
///     let session = RecordingSession(options: RecordingOptions(outputPath: "run.dat"))
///     try session.start()
///     // write daemon markers to session.markerPath ...
///     let result = try session.stop()
///
/// Signals are the caller's: block SIGINT/SIGTERM before `start()` (the reader thread inherits the
/// mask) and call `stop()` when one arrives, so the instance is always removed. If the process
/// dies anyway, the next start removes the stale instance. Not thread-safe: one owner.
public final class RecordingSession {
    public let options: RecordingOptions
    public private(set) var instanceName: String
    public private(set) var staleInstancesRemoved: [String] = []
    private var instance: TracefsInstance?
    /// The fanotify path's probes (`options.fanotifyProbes`): removed after the instance.
    private var probes: KprobeEvents?
    public private(set) var staleProbeGroupsRemoved: [String] = []
    /// The optional probes this kernel refused (their stages are absent from the report).
    public var probesRefused: [(definition: String, reason: String)] {
        guard let probes else { return [] }
        return probes.refused.map { ($0.probe.definition(group: probes.group), $0.reason) }
    }
    private var reader: CPUBufferDrain?
    private var cpuFiles: [CPUDataFile] = []
    private var pieces: RecordingPieces?
    private var rotated: RotatedTraceFiles?
    private var metadata: Metadata?
    /// What is enabled: the options' events and, for the fanotify path, the probes' group.
    public private(set) var events: [EventSpec] = []
    private var started = false

    public init(options: RecordingOptions) {
        self.options = options
        instanceName = options.instanceName ?? InstanceName.forProcess(ThisProcess.id)
    }

    deinit { abandon() }

    /// The instance's `trace_marker`: a line written there becomes an `ftrace:print` record in the
    /// same buffer and clock as the recorded events. nil before start().
    public var markerPath: String? { instance.map { $0.directory + "/trace_marker" } }

    /// A write failure (e.g. disk full) that stopped the reader; `stop()` will throw it.
    public var failure: RecordingError? { reader?.failure }

    /// The format files (system, text) this kernel has for `events` and the markers: what a
    /// recording of them stores, and what `LiveLatency` decodes with.
    public static func eventFormats(_ events: [EventSpec]) throws(RecordingError) -> [(system: String, format: String)] {
        _ = try Tracefs.directory()
        return try Metadata.collect(events: events).formats
    }

    public func start() throws(RecordingError) {
        precondition(!started, "RecordingSession.start() called twice")
        started = true
        do {
            try prepare()
        } catch {
            abandon()
            throw error
        }
    }

    private func prepare() throws(RecordingError) {
        _ = try Tracefs.directory()
        guard ThisProcess.isRoot || FileSystem.allows(TracefsInstance.tracingDirectory + "/instances", .write) else {
            throw RecordingError("\(TracefsInstance.tracingDirectory)/instances: permission denied: recording needs root (or CAP_SYS_ADMIN)")
        }
        staleInstancesRemoved = Tracefs.removeStaleInstances()
        staleProbeGroupsRemoved = KprobeEvents.removeStale()
        let near = try checkOutput()
        var events = options.events
        if options.fanotifyProbes {
            guard KprobeEvents.available else {
                throw RecordingError("\(TracefsInstance.tracingDirectory)/kprobe_events: not found: this kernel has no kprobe events (CONFIG_KPROBE_EVENTS), which the fanotify path is recorded with")
            }
            let probes = try KprobeEvents(group: FanotifyProbe.group(pid: ThisProcess.id))
            self.probes = probes
            events.append(probes.spec)
            let file = EventSpec(system: FanotifyProbe.fileTracepoint.system, event: FanotifyProbe.fileTracepoint.event)
            if Tracefs.events(ofSystem: file.system).contains(FanotifyProbe.fileTracepoint.event) { events.append(file) }
        }
        self.events = events
        let metadata = try Metadata.collect(events: events)
        try options.onFormats?(metadata.formats)
        self.metadata = metadata

        let cpus = RunningKernel.configuredCPUs

        let instance = try TracefsInstance(name: instanceName)
        self.instance = instance
        instance.traceOff()
        try instance.setBufferSize(kilobytes: options.bufferSizeKB)
        try instance.setClock(options.clock)
        // Wake the reader when a buffer is a quarter full instead of half (the default).
        try? instance.write("buffer_percent", "25")
        for spec in events { try instance.enable(spec) }
        if options.fanotifyProbes {
            // Only pre-access events of fsnotify: the others (every open, modify ...) are not ours.
            try? instance.setFilter(system: FanotifyProbe.fileTracepoint.system, event: FanotifyProbe.fileTracepoint.event,
                                    "mask & \(FanotifyProbe.preAccessMask)")
        }

        let pageSize = RunningKernel.pageSize
        if let subbuf = instance.read("buffer_subbuf_size_kb").flatMap({ Int($0.filter(\.isNumber)) }), subbuf * 1024 != pageSize {
            throw RecordingError("\(instance.directory): sub-buffer size is \(subbuf) KiB, not the page size; this recorder writes page-sized sub-buffers")
        }
        if let near, !options.crashSafe {
            for cpu in 0..<cpus { cpuFiles.append(try CPUDataFile(cpu: cpu, output: near.base)) }
        } else if let near {
            let pieces = try Self.pieces(base: near.base, output: near.output, metadata: metadata, instance: instance,
                                         pageSize: pageSize, options: options, cpus: cpus)
            self.pieces = pieces
            cpuFiles = pieces.files
        }
        var streams: [CPUBufferDrain.Stream] = []
        for cpu in 0..<cpus {
            let fd = instance.open("per_cpu/cpu\(cpu)/trace_pipe_raw", mode: Descriptor.flags(.read, [.nonBlocking]))
            if fd < 0 {
                if currentErrno == ErrnoCode.ENOENT { continue }  // a possible but absent CPU: no data
                let cause = TracefsInstance.describe(currentErrno)
                Self.close(streams)
                throw RecordingError("cannot open \(instance.directory)/per_cpu/cpu\(cpu)/trace_pipe_raw: \(cause)")
            }
            guard let tcpu = tracefs_cpu_alloc_fd(fd, Int32(pageSize), true) else {
                Descriptor(fd: fd, path: "trace_pipe_raw").close()
                Self.close(streams)
                throw RecordingError("libtracefs cannot read CPU \(cpu) of \(instance.directory)")
            }
            streams.append(.init(cpu: cpu, fd: fd, tcpu: tcpu, file: cpuFiles.isEmpty ? nil : cpuFiles[cpu]))
        }
        var afterRound: (() throws(RecordingError) -> Void)?
        if case .rotating(let rotation) = options.output {
            let files = RotatedTraceFiles(rotation: rotation)
            rotated = files
            let (cpuFiles, clock) = (cpuFiles, options.clock)
            afterRound = { () throws(RecordingError) in
                guard cpuFiles.reduce(0, { $0 + $1.size }) >= rotation.maxBytes else { return }
                let (header, _) = Self.header(metadata: metadata, instance: instance, pageSize: pageSize, clock: clock, cpus: cpus, cpuFiles: cpuFiles)
                try files.write(header: header, cpuFiles: cpuFiles)
            }
        }
        if let pieces {
            let rotate = afterRound
            afterRound = { () throws(RecordingError) in
                try rotate?()
                try pieces.afterRound()
            }
        }
        let reader = try CPUBufferDrain(streams: streams, cpuCount: cpus, pageSize: pageSize, pollIntervalMS: options.pollIntervalMS,
                                          traceClock: options.clock,
                                          onRecords: options.onRecords, afterRound: afterRound)
        self.reader = reader
        try reader.start()
        try instance.traceOn()
    }

    /// Checks the output; returns where the per-CPU pieces go (nil: no files) and the path errors name.
    private func checkOutput() throws(RecordingError) -> (base: String, output: String)? {
        switch options.output {
        case .file(let path):
            if FileSystem.kind(of: path) == .directory {
                throw RecordingError("\(path): is a directory; give a file name with -o")
            }
            try RecordingPieces.checkNoneLeft(base: path, output: path)
            return (path, path)
        case .rotating(let rotation):
            guard FileSystem.kind(of: rotation.directory) == .directory else {
                throw RecordingError("\(rotation.directory): not a directory (-o takes an existing directory for the rotated trace files)")
            }
            return try RotatedTraceFiles.piecesBase(rotation)
        case .discard:
            return nil
        }
    }

    /// Stops tracing, reads what is left, writes the trace.dat (rotating: the last one) and
    /// removes the instance.
    public func stop() throws(RecordingError) -> RecordingResult {
        guard let instance, let reader, let metadata else {
            throw RecordingError("the recording was not started")
        }
        defer { abandon() }
        instance.traceOff()
        reader.stopAndJoin()
        if let failure = reader.failure { throw failure }
        let progress = reader.progress.withLock { $0 }
        reader.closeStreams()
        let (header, stats) = Self.header(metadata: metadata, instance: instance, pageSize: reader.pageSize,
                                          clock: options.clock, cpus: reader.cpuCount, cpuFiles: cpuFiles)
        var path: String?
        var size: UInt64 = 0
        switch options.output {
        case .file(let output):
            size = try TraceDatOutputFile.write(header: header, cpuFiles: cpuFiles, to: output)
            path = output
        case .rotating:
            if let rotated {
                try rotated.write(header: header, cpuFiles: cpuFiles)
                if let last = rotated.lastWritten { (path, size) = last }
            }
        case .discard:
            break
        }
        return RecordingResult(path: path, instanceName: instanceName, cpuStats: stats,
                               eventsPerCPU: progress.events, pagesPerCPU: progress.pages, missedPerCPU: progress.missed,
                               fileSize: size, staleInstancesRemoved: staleInstancesRemoved)
    }

    /// The trace.dat header for the pages in `cpuFiles`, and the instance's CPU statistics now.
    static func header(metadata: Metadata, instance: TracefsInstance, pageSize: Int, clock: String,
                       cpus: Int, cpuFiles: [CPUDataFile]) -> (TraceDatV6Header, [CPUBufferStats]) {
        let stats = (0..<cpus).map { cpu in
            CPUBufferStats.parse(cpu: cpu, text: instance.read("per_cpu/cpu\(cpu)/stats") ?? "")
        }
        let traceClock = (instance.read("trace_clock") ?? "[\(clock)]").trimmingCharacters(in: "\n")
        let header = TraceDatV6Header(
            pageSize: pageSize, headerPage: metadata.headerPage, headerEvent: metadata.headerEvent,
            ftraceFormats: metadata.ftraceFormats, systems: metadata.systems,
            savedCmdlines: Tracefs.readTopLevel("saved_cmdlines") ?? [],
            options: [.text(.traceClock, traceClock + "\n"), .text(.uname, uname())]
                + stats.map { .cpuStat(cpu: $0.cpu, stats: $0.text) },
            traceClock: traceClock, cpuDataSizes: cpuFiles.map(\.size))
        return (header, stats)
    }

    /// Ends the recording without writing a file: the reader stops, the instance is removed.
    public func abandon() {
        instance?.traceOff()
        reader?.stopAndJoin()
        reader?.closeStreams()
        reader = nil
        instance?.destroy()
        instance = nil
        probes?.destroy()
        probes = nil
        cpuFiles.removeAll()
        pieces?.remove()
        pieces = nil
    }

    static func uname() -> String {
        let names = RunningKernel.names
        return [names.system, names.node, names.release, names.machine].joined(separator: " ")
    }

    /// Releases the libtracefs readers made so far and closes their files.
    static func close(_ streams: [CPUBufferDrain.Stream]) {
        for stream in streams {
            tracefs_cpu_free_fd(stream.tcpu)
            Descriptor(fd: stream.fd, path: "trace_pipe_raw").close()
        }
    }
}

/// The kernel's descriptions the trace.dat carries: ring-buffer headers and event formats.
struct Metadata {
    /// The event formats as (system, text).
    var formats: [(system: String, format: String)] {
        ftraceFormats.map { ("ftrace", String(decoding: $0, as: UTF8.self)) }
            + systems.flatMap { system in system.formats.map { (system.name, String(decoding: $0, as: UTF8.self)) } }
    }

    var headerPage: [UInt8]
    var headerEvent: [UInt8]
    var ftraceFormats: [[UInt8]]
    var systems: [TraceDatV6Header.EventSystem]

    static func collect(events: [EventSpec]) throws(RecordingError) -> Metadata {
        guard let headerPage = Tracefs.readTopLevel("events/header_page"),
              let headerEvent = Tracefs.readTopLevel("events/header_event") else {
            throw RecordingError("\(TracefsInstance.tracingDirectory)/events/header_page: cannot read: \(TracefsInstance.describe(currentErrno))")
        }
        var ftrace: [[UInt8]] = []
        var systems: [TraceDatV6Header.EventSystem] = []
        let specs = events.contains(.marker) ? events : events + [.marker]
        for spec in specs {
            let names = spec.event.map { [$0] } ?? Tracefs.events(ofSystem: spec.system)
            if names.isEmpty {
                throw RecordingError(spec.system == "cachefiles"
                    ? "no cachefiles events in this kernel (it lacks CONFIG_CACHEFILES, or tracefs is not mounted); see `ondemand-trace doctor` (`record --events` records other events)"
                    : "no such event system '\(spec.system)' in this kernel (see \(TracefsInstance.tracingDirectory)/available_events)")
            }
            var formats: [[UInt8]] = []
            for name in names {
                guard let format = Tracefs.format(system: spec.system, event: name) else {
                    throw RecordingError("no such event '\(spec.system):\(name)' in this kernel (see \(TracefsInstance.tracingDirectory)/available_events)")
                }
                formats.append(format)
            }
            if spec.system == "ftrace" {
                ftrace.append(contentsOf: formats.filter { !ftrace.contains($0) })
            } else if let index = systems.firstIndex(where: { $0.name == spec.system }) {
                systems[index].formats.append(contentsOf: formats.filter { !systems[index].formats.contains($0) })
            } else {
                systems.append(.init(name: spec.system, formats: formats))
            }
        }
        return Metadata(headerPage: headerPage, headerEvent: headerEvent, ftraceFormats: ftrace, systems: systems)
    }
}
