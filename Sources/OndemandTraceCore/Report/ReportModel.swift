/// What the report knows about the input, independent of how it was read.
public struct TraceMetadata: Sendable, Equatable {
    public var path: String
    /// `trace.dat` or `text`.
    public var format: String
    /// e.g. `trace.dat v7, zstd`.
    public var formatDescription: String
    public var kernelRelease: String?
    public var clock: String?
    public var recordsSeen: Int
    public var eventsDelivered: Int
    public var ondemandEvents: Int

    public init(path: String, format: String, formatDescription: String, kernelRelease: String?, clock: String?,
                recordsSeen: Int, eventsDelivered: Int, ondemandEvents: Int) {
        (self.path, self.format, self.formatDescription) = (path, format, formatDescription)
        (self.kernelRelease, self.clock, self.recordsSeen) = (kernelRelease, clock, recordsSeen)
        (self.eventsDelivered, self.ondemandEvents) = (eventsDelivered, ondemandEvents)
    }
}

/// Events the ring buffer dropped: from lost-event markers in the data and from the per-CPU
/// `stats` files a trace.dat may store.
public struct LostEventCounts: Sendable, Equatable {
    /// Counted drops in the data, by CPU.
    public var byCPU: [Int32: Int64] = [:]
    /// Places where the data says events were dropped without saying how many.
    public var unknownCountRecords = 0
    /// `overrun` + `dropped events` of each CPU's ring-buffer stats (index: CPU), when stored.
    public var statsOverruns: [Int64] = []

    public init(byCPU: [Int32: Int64] = [:], unknownCountRecords: Int = 0, statsOverruns: [Int64] = []) {
        (self.byCPU, self.unknownCountRecords, self.statsOverruns) = (byCPU, unknownCountRecords, statsOverruns)
    }

    public var total: Int64 { byCPU.values.reduce(0, +) }
    public var statsTotal: Int64 { statsOverruns.reduce(0, +) }
    public var any: Bool { total > 0 || unknownCountRecords > 0 || statsTotal > 0 }

    /// `overrun` plus `dropped events` from one CPU's `per_cpu/cpuN/stats` text; nil if neither is there.
    public static func overruns(inStats text: String) -> Int64? {
        var found: Int64?
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let key = parts[0].trimmingSpaces
            guard key == "overrun" || key == "dropped events",
                  let value = Int64(parts[1].trimmingSpaces) else { continue }
            found = (found ?? 0) + value
        }
        return found
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while s.first == " " || s.first == "\t" { s.removeFirst() }
        while s.last == " " || s.last == "\t" || s.last == "\r" { s.removeLast() }
        return s
    }
}

/// Everything `report` prints, in any format.
public struct ReportModel {
    public var metadata: TraceMetadata
    public var stats: ReportAccumulator
    /// Object lifetimes, already filtered by `--object`.
    public var objects: [Correlator.ObjectLifetime]
    public var lost: LostEventCounts
    public var markersSeen: Int
    public var faults: [String: Int]
    /// Which on-demand mechanism the trace shows.
    public var backend: Backend = .cachefiles
    /// First and last record of the trace (ns), whatever the filter.
    public var traceStart: UInt64?
    public var traceEnd: UInt64?

    public init(metadata: TraceMetadata, stats: ReportAccumulator, objects: [Correlator.ObjectLifetime],
                lost: LostEventCounts, markersSeen: Int, faults: [String: Int], traceStart: UInt64?, traceEnd: UInt64?) {
        self.metadata = metadata
        self.stats = stats
        let filter = stats.filter
        self.objects = filter.obj == nil && filter.blob == nil ? objects : objects.filter { filter.admits(obj: $0.obj) }
        self.lost = lost
        self.markersSeen = markersSeen
        self.faults = faults
        self.traceStart = traceStart
        self.traceEnd = traceEnd
    }

    /// Seconds from the first request to the last answer among the counted requests.
    public var requestSpanSeconds: Double? {
        guard let a = stats.firstIssued, let b = stats.lastCompleted, b > a else { return nil }
        return Double(b - a) / 1e9
    }

    /// Bytes of answered READs per second of `requestSpanSeconds`.
    public var throughputBytesPerSecond: Double? {
        guard let span = requestSpanSeconds, span > 0 else { return nil }
        return Double(answeredReadBytes) / span
    }

    public var answeredReadBytes: UInt64 { stats.bySize.values.reduce(0) { $0 + $1.bytes } - unansweredReadBytes }
    public var unansweredReadBytes: UInt64 = 0
    /// Which files the READs were for (`report --image`); nil without images.
    public var files: FileBlame?
    /// The READs that passed the filter, in the order they closed, when the builder was asked to
    /// keep them (`keepReads`, for `files`); nil otherwise.
    public var keptReads: FileBlame.Reads?

    /// One row per blob (volume and cookie key) of the objects, ordered by blob; objects the
    /// trace does not name form one last row of their own, listed only beside named ones.
    public var blobs: [BlobRow] {
        var rows: [BlobName?: BlobRow] = [:]
        let byObject = stats.byObject
        for o in objects {
            var row = rows[o.name] ?? BlobRow(name: o.name)
            row.objects += 1
            if let reads = byObject[o.obj] {
                row.reads += reads.count
                row.readsAnswered += Int(reads.latency.count)
                row.bytesRequested += reads.bytes
                row.latency.merge(reads.latency)
            }
            rows[o.name] = row
        }
        guard rows.keys.contains(where: { $0 != nil }) else { return [] }
        return rows.values.sorted { a, b in
            switch (a.name, b.name) {
            case let (x?, y?): return x < y
            case (_?, nil): return true
            default: return false
            }
        }
    }

    public var anomalyTotal: Int { stats.anomalyCounts.values.reduce(0, +) }

    /// The listed anomalies by time (found-at-the-end ones, like reads never answered, carry the
    /// time of their request), ties in the order found.
    public var anomaliesByTime: [Anomaly] {
        stats.anomalies.enumerated().sorted { ($0.element.timestamp, $0.offset) < ($1.element.timestamp, $1.offset) }.map(\.element)
    }
}

/// The READs of one blob's objects (`ReportModel.blobs`).
public struct BlobRow: Sendable {
    /// nil: the objects the trace does not name.
    public var name: BlobName?
    public var objects = 0
    public var reads = 0
    public var readsAnswered = 0
    public var bytesRequested: UInt64 = 0
    /// read -> cread of the answered READs (a breakdown recorder).
    public var latency = LatencyRecorder.breakdown()

    public init(name: BlobName?) { self.name = name }
}

/// Builds a report from events: the correlator, the statistics and the report's bookkeeping.
public final class ReportBuilder {
    // Touched once per request from the correlator's callbacks: no run-time exclusivity check.
    @exclusivity(unchecked) public private(set) var accumulator: ReportAccumulator
    // Set once in `init` (after the closures that capture the builder); read per record
    // (markers, events): no run-time exclusivity check.
    @exclusivity(unchecked) private var correlator: Correlator!
    /// The fanotify pre-content path's requests (kprobe events), into the same accumulator.
    @exclusivity(unchecked) private var fanotify: FanotifyCorrelator!
    /// `correlator` without a retain and release per record (it lives as long as this builder),
    /// and a plain value for closures to capture: the name lookups `add` passes on captured the
    /// builder, which retained and released it twice per request.
    @exclusivity(unchecked) private var unretainedCorrelator: Unmanaged<Correlator>!
    @exclusivity(unchecked) private var unansweredReadBytes: UInt64 = 0
    private var lost = LostEventCounts()

    /// The READs kept for the file blame (`keepReads`): no `RequestRecord` made for them.
    @exclusivity(unchecked) private var reads = FileBlame.Reads()
    private let keepReads: Bool

    /// `names`: objects named before the trace is read (`--blob-names`, or a first pass).
    /// `requestObserver`: called with every request that passes the filter (CSV rows), in the
    /// order they close. `keepReads`: keep the READs that pass it for `FileBlame`
    /// (`ReportModel.keptReads`).
    public init(filter: ReportFilter = ReportFilter(), slowThreshold: UInt64? = nil, names: [UInt32: BlobName] = [:],
                requestObserver: ((RequestRecord) -> Void)? = nil, keepReads: Bool = false) {
        accumulator = ReportAccumulator(filter: filter, slowThreshold: slowThreshold)
        self.keepReads = keepReads
        // The builder is reached as a guaranteed reference: through `unowned(unsafe)`, each use
        // retained it (six retains and releases a request). The observer is captured as it is:
        // not loaded (and retained) from the builder per request.
        let builder = Unmanaged.passUnretained(self)
        let onClosed: (ClosedRequest) -> Void
        if let requestObserver {
            onClosed = { r in
                builder._withUnsafeGuaranteedRef { b in
                    guard b.add(r) else { return }
                    if keepReads { b.keep(r) }
                    requestObserver(b.withCorrelator { $0.record(r) })
                }
            }
        } else if keepReads {
            onClosed = { r in builder._withUnsafeGuaranteedRef { b in if b.add(r) { b.keep(r) } } }
        } else {
            onClosed = { r in builder._withUnsafeGuaranteedRef { _ = $0.add(r) } }
        }
        correlator = Correlator(
            names: names,
            onClosed: onClosed,
            onAnomaly: { [unowned(unsafe) self] a in self.accumulator.add(a) })
        unretainedCorrelator = Unmanaged.passUnretained(correlator)
        fanotify = FanotifyCorrelator(names: correlator, onClosed: onClosed,
                                      onAnomaly: { [unowned(unsafe) self] a in self.accumulator.add(a) })
    }

    @inline(__always)
    private func withCorrelator<R>(_ body: (Correlator) -> R) -> R { unretainedCorrelator._withUnsafeGuaranteedRef(body) }

    public func consume(_ event: TraceEvent) {
        switch event.body {
        case .generic(let g) where FanotifyEvent.isFanotify(system: g.system, name: g.name):
            fanotify.consume(event)
        case .marker(let m) where FanotifyMarker.isOurs(m.text):
            fanotify.consume(event)
        default:
            withCorrelator { $0.consume(event) }
        }
    }

    /// Counts a request; false when the filter leaves it out.
    @inline(__always)
    private func add(_ r: ClosedRequest) -> Bool {
        // Names looked up only when the accumulator needs them.
        let c: Unmanaged<Correlator> = unretainedCorrelator
        guard accumulator.add(r, comm: { c._withUnsafeGuaranteedRef { $0.comm(r) } },
                              record: { c._withUnsafeGuaranteedRef { $0.record(r) } }) else {
            return false
        }
        if r.kind == .read, r.completed == nil { unansweredReadBytes += r.length ?? 0 }
        return true
    }

    /// Keeps a READ for the blame, its reader told by its task-name index (the name looked up
    /// only for a reader not seen just before).
    @inline(__always)
    private func keep(_ r: ClosedRequest) {
        let c: Unmanaged<Correlator> = unretainedCorrelator
        reads.add(r, name: r.taskName, comm: { c._withUnsafeGuaranteedRef { $0.comm(r) } })
    }

    /// An on-demand record, its task named by `nameTask` (see `Correlator.consume(_: OndemandRecord)`).
    public func consume(_ record: OndemandRecord) { withCorrelator { $0.consume(record) } }

    /// Records in trace order, one call for many (see `Correlator.consume(_: ArraySlice<OndemandRecord>)`).
    public func consume(_ records: ArraySlice<OndemandRecord>) { withCorrelator { $0.consume(records) } }

    /// Tie records in trace order (see `Correlator.consume(_: ArraySlice<TieRecord>)`).
    public func consume(_ ties: ArraySlice<TieRecord>) { withCorrelator { $0.consume(ties) } }

    /// Marker records in trace order, their texts in `text` (their batch's buffer): each that
    /// `DaemonMarker` parses is consumed as parsed, any other as the `.marker` event it stands for.
    public func consume(_ markers: ArraySlice<MarkerRecord>, text: [UInt8]) {
        text.withUnsafeBytes { buffer in
            for i in markers.indices {
                let record = markers[i]
                if let marker = DaemonMarker(bytes: record.text(in: buffer)) {
                    withCorrelator { $0.consume(marker, timestamp: record.timestamp, cpu: record.cpu) }
                } else {
                    consume(record.traceEvent(text: buffer, comm: nil))
                }
            }
        }
    }

    public func nameTask(_ pid: Int32, _ comm: String?) { withCorrelator { $0.nameTask(pid, comm) } }

    public func taskName(_ pid: Int32) -> String? { withCorrelator { $0.taskName(pid) } }

    public func noteLost(cpu: Int32, count: Int64?, timestamp: UInt64) {
        if let count { lost.byCPU[cpu, default: 0] += count } else { lost.unknownCountRecords += 1 }
        correlator.noteLost(cpu: cpu, count: count, timestamp: timestamp)
    }

    /// Ends the input. `cpuStats`: the per-CPU ring-buffer stats a trace.dat stored, if any.
    public func finish(metadata: TraceMetadata, cpuStats: [String] = []) -> ReportModel {
        var objects = correlator.finish()
        let backend: Backend = objects.isEmpty && fanotify.probeRecords > 0 ? .fanotify : .cachefiles
        if backend == .fanotify { objects = fanotify.finish() }
        accumulator.recordObjectLatencies()
        lost.statsOverruns = cpuStats.map { LostEventCounts.overruns(inStats: $0) ?? 0 }
        for (cpu, n) in lost.statsOverruns.enumerated() where n > 0 {
            accumulator.add(Anomaly(kind: .lostEvents, obj: nil, timestamp: correlator.lastTimestamp ?? 0,
                                    detail: "CPU \(cpu): ring-buffer stats count \(n) overrun/dropped event(s)"))
        }
        let starts = [correlator.firstTimestamp, fanotify.firstTimestamp].compactMap { $0 }
        let ends = [correlator.lastTimestamp, fanotify.lastTimestamp].compactMap { $0 }
        var model = ReportModel(metadata: metadata, stats: accumulator, objects: objects, lost: lost,
                                markersSeen: correlator.markersSeen + fanotify.markersSeen,
                                faults: correlator.faults.merging(fanotify.faults, uniquingKeysWith: +),
                                traceStart: starts.min(), traceEnd: ends.max())
        model.backend = backend
        model.unansweredReadBytes = unansweredReadBytes
        if keepReads { model.keptReads = reads }
        return model
    }
}
