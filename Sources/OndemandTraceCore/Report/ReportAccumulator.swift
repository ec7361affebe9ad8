/// Which requests a report counts. Every part is optional; all given parts must hold.
public struct ReportFilter: Sendable, Equatable {
    public var obj: UInt32?
    /// The reader (READ requests only: OPEN records are taken in the daemon's context).
    public var comm: String?
    public var pid: Int32?
    /// Trace time window, nanoseconds, on the request's issue time: since ≤ t < until.
    public var since: UInt64?
    public var until: UInt64?
    /// Only objects of this blob (cookie key, escaped); `blobObjects` are they, once the trace's
    /// names are known (`TraceReport` reads them first).
    public var blob: String?
    public var blobObjects: Set<UInt32>?

    public init(obj: UInt32? = nil, comm: String? = nil, pid: Int32? = nil, since: UInt64? = nil, until: UInt64? = nil,
                blob: String? = nil) {
        (self.obj, self.comm, self.pid, self.since, self.until, self.blob) = (obj, comm, pid, since, until, blob)
    }

    /// Whether objects of this obj pass (`--object`, `--blob`).
    public func admits(obj o: UInt32) -> Bool {
        if let obj, o != obj { return false }
        if blob != nil { return blobObjects?.contains(o) ?? false }
        return true
    }

    public var isEmpty: Bool { self == ReportFilter() }

    /// Whether a record goes to an event observer (the Chrome trace's opens, closes, markers):
    /// all of them, or with `--object`/`--blob` the on-demand records of the objects admitted.
    public func admitsEvent(_ event: TraceEvent) -> Bool {
        guard obj != nil || blob != nil else { return true }
        if case .ondemand(let e) = event.body, let o = e.obj { return admits(obj: o) }
        return false
    }

    func admitsTime(_ t: UInt64) -> Bool {
        if let since, t < since { return false }
        if let until, t >= until { return false }
        return true
    }

    public func admits(_ r: RequestRecord) -> Bool { admits(ClosedRequest(r), comm: r.comm) }

    /// `admits` for a request in plain values, `comm` its task's name.
    @inline(__always)
    func admits(_ r: ClosedRequest, comm rComm: @autoclosure () -> String?) -> Bool {
        if obj != nil || blob != nil, !admits(obj: r.obj) { return false }
        if r.kind == .read {
            if let comm, rComm() != comm { return false }
            if let pid, r.pid != pid { return false }
        } else if comm != nil || pid != nil {
            return false
        }
        return admitsTime(r.issued)
    }

    public func admits(_ a: Anomaly) -> Bool {
        if let o = a.obj, obj != nil || blob != nil, !admits(obj: o) { return false }
        return admitsTime(a.timestamp)
    }
}

/// Folds requests and anomalies into the report's statistics, in memory independent of their number
/// (anomaly and slow-request lists keep their first `listLimit` entries and count the rest).
public struct ReportAccumulator {
    public let filter: ReportFilter
    /// `filter.isEmpty`, read per request: asking the filter copied it (retaining its strings).
    private let filtersNothing: Bool
    /// Requests at least this slow (ns) are listed; nil: none.
    public let slowThreshold: UInt64?
    public let listLimit: Int

    public private(set) var reads = RequestStats()
    public private(set) var opens = RequestStats()
    // Arrays, not dictionaries: updated in place once per request. Rows and recorders without a
    // value count as absent (an optional element was copied just to be compared with nil).
    // Those of a fixed size are inline arrays: a `[T]` checked its buffer's uniqueness per update.
    // Their sizes are the number of stages and joins (`init` checks) and of size buckets.
    private var stageRecorders = InlineArray<7, LatencyRecorder>(repeating: Self.stageRecorder)
    private static var stageRecorder: LatencyRecorder { LatencyRecorder(significantDigits: 2, log2: false) }
    private var sizeRows = InlineArray<64, BreakdownRow>(repeating: BreakdownRow())
    private var readerRows: [BreakdownRow] = []
    private var readerKeys: [ReaderKey] = []
    private var readerIndex: [ReaderKey: Int] = [:]
    /// The reader row last used by each pid below `pidCacheLimit` and the task-name index it was
    /// used for: (row + 1) << 32 | index; 0: none. Readers take turns, so hashing (pid, comm) per
    /// request showed in profiles, and so did comparing the names.
    private var readerByPid: [UInt64] = []
    private static let pidCacheLimit: Int32 = 1 << 16
    private var joinCounts = InlineArray<6, Int>(repeating: 0)
    /// By obj: debug ids are small and dense (see `Correlator`), so an array, updated in place.
    private var objectRows: [BreakdownRow] = []
    private var sparseObjectRows: [UInt32: BreakdownRow] = [:]
    /// Latencies of answered READs not yet in their object's row (by row index): recorded a batch
    /// at a time, grouped by object (`recordObjectLatencies`). One at a time, the histograms of a
    /// thousand object rows missed the cache at nearly every READ — `report`'s largest cost at
    /// 10^7 requests. The rows' counts and bytes are kept at once; only the latencies wait.
    /// One array, not one of rows and one of latencies: an append is a uniqueness check.
    private var pendingLatencies: [(row: Int32, nanoseconds: UInt64)] = []
    private static let pendingLimit = 1 << 16
    /// Up to this many rows are worth grouping (a count per row, per batch).
    private static let groupedRowsLimit = 1 << 16
    /// READ → the reader resumed, of the READs whose reader the trace shows resuming.
    public private(set) var stall = LatencyRecorder(significantDigits: 2, log2: false)

    /// Stage latencies of the answered READs, for the stages seen.
    public var stages: [RequestRecord.Stage: LatencyRecorder] {
        var out: [RequestRecord.Stage: LatencyRecorder] = [:]
        for stage in RequestRecord.Stage.allCases where stageRecorders[stage.index].count > 0 {
            out[stage] = stageRecorders[stage.index]
        }
        return out
    }
    /// READs by power-of-two size bucket (`sizeBucket`).
    public var bySize: [Int: BreakdownRow] {
        var out: [Int: BreakdownRow] = [:]
        for bucket in sizeRows.indices where sizeRows[bucket].count > 0 { out[bucket] = sizeRows[bucket] }
        return out
    }
    /// READs by reader task.
    public var byReader: [ReaderKey: BreakdownRow] {
        Dictionary(uniqueKeysWithValues: zip(readerKeys, readerRows))
    }
    /// READs by object (count, bytes, latency of the answered ones): the per-blob table.
    public var byObject: [UInt32: BreakdownRow] {
        guard pendingLatencies.isEmpty else {
            var recorded = self
            recorded.recordObjectLatencies()
            return recorded.byObject
        }
        var out = sparseObjectRows
        for (obj, row) in objectRows.enumerated() where row.count > 0 { out[UInt32(obj)] = row }
        return out
    }
    /// How the READs were tied to their answers.
    public var joins: [RequestRecord.Join: Int] {
        var out: [RequestRecord.Join: Int] = [:]
        for (i, join) in RequestRecord.Join.allCases.enumerated() where joinCounts[i] > 0 { out[join] = joinCounts[i] }
        return out
    }
    public private(set) var anomalies: [Anomaly] = []
    public private(set) var anomalyCounts: [Anomaly.Kind: Int] = [:]
    /// The `--min-latency` list, in the order requests closed (`slowRequestsByIssue`: as listed).
    public private(set) var slowRequests: [RequestRecord] = []
    public private(set) var slowRequestCount = 0
    /// The `--min-latency` list by issue time (its first column), then close order.
    public var slowRequestsByIssue: [RequestRecord] {
        slowRequests.enumerated().sorted { ($0.element.issued, $0.offset) < ($1.element.issued, $1.offset) }.map(\.element)
    }
    public private(set) var firstIssued: UInt64?
    public private(set) var lastCompleted: UInt64?

    public init(filter: ReportFilter = ReportFilter(), slowThreshold: UInt64? = nil, listLimit: Int = 10_000) {
        self.filter = filter
        filtersNothing = filter.isEmpty
        self.slowThreshold = slowThreshold
        self.listLimit = listLimit
        assert(stageRecorders.count == RequestRecord.Stage.allCases.count && joinCounts.count == RequestRecord.Join.allCases.count)
    }

    public struct RequestStats: Sendable {
        public var count = 0
        public var matched = 0
        public var bytes: UInt64 = 0
        public var latency = LatencyRecorder()
        public var unmatched: Int { count - matched }
    }

    public struct ReaderKey: Hashable, Sendable, Comparable {
        public var pid: Int32
        public var comm: String
        public static func < (a: ReaderKey, b: ReaderKey) -> Bool { (a.comm, a.pid) < (b.comm, b.pid) }
    }

    public struct BreakdownRow: Sendable {
        public var count = 0
        public var bytes: UInt64 = 0
        public var latency = LatencyRecorder.breakdown()

        /// One call per request, so the row is modified in place once; inlined, as `record` is.
        @inline(__always)
        mutating func add(length: UInt64, latency ns: UInt64?) {
            count += 1
            bytes += length
            if let ns { latency.record(nanoseconds: ns) }
        }
    }

    /// The power-of-two size bucket of a request: bucket k holds lengths 2^k ... 2^(k+1)-1.
    public static func sizeBucket(_ length: UInt64) -> Int { length == 0 ? 0 : 63 - length.leadingZeroBitCount }

    /// Returns whether the request passed the filter.
    @discardableResult
    public mutating func add(_ r: RequestRecord) -> Bool { add(ClosedRequest(r), comm: { r.comm }, record: { r }) }

    /// `add` for a request in plain values (the report's path from the correlator): `comm` gives
    /// its task's name (asked for only when its task-name index is not enough, see `readerRow`),
    /// `record` the request as the slow-request list keeps it.
    @inline(__always)
    mutating func add(_ r: ClosedRequest, comm: () -> String?, record: () -> RequestRecord) -> Bool {
        guard filtersNothing || filter.admits(r, comm: comm()) else { return false }
        if firstIssued == nil || r.issued < firstIssued! { firstIssued = r.issued }
        if let c = r.completed, lastCompleted == nil || c > lastCompleted! { lastCompleted = c }
        let latency = r.latency
        switch r.kind {
        case .open:
            opens.count += 1
            if let latency { opens.matched += 1; opens.latency.record(nanoseconds: latency) }
        case .read:
            joinCounts[r.join.index] += 1
            let length = r.length ?? 0
            reads.count += 1
            reads.bytes += length
            let bucket = Self.sizeBucket(length)
            sizeRows[bucket].add(length: length, latency: latency)
            let reader = readerRow(pid: r.pid, taskName: r.taskName, comm: comm)
            readerRows[reader].add(length: length, latency: latency)
            addToObject(r.obj, length: length, latency: latency)
            if let stall = r.stall { self.stall.record(nanoseconds: stall) }
            if let latency {
                reads.matched += 1
                reads.latency.record(nanoseconds: latency)
                r.forEachStage { stage, ns in stageRecorders[stage.index].record(nanoseconds: ns) }
            }
        }
        if let slowThreshold, let latency, latency >= slowThreshold {
            slowRequestCount += 1
            if slowRequests.count < listLimit { slowRequests.append(record()) }
        }
        return true
    }

    /// Inlined for the common case, a row that exists among few enough to be grouped (rows exist
    /// for dense objs only); `addToNewObject` does the rest.
    @inline(__always)
    private mutating func addToObject(_ obj: UInt32, length: UInt64, latency: UInt64?) {
        let i = Int(obj)
        guard i < objectRows.count, objectRows.count <= Self.groupedRowsLimit else {
            return addToNewObject(obj, length: length, latency: latency)
        }
        objectRows[i].count += 1
        objectRows[i].bytes += length
        guard let latency else { return }
        pendingLatencies.append((Int32(i), latency))
        if pendingLatencies.count == Self.pendingLimit { recordObjectLatencies() }
    }

    /// `addToObject` for a sparse obj, an obj past the rows (they grow to hold it; then its
    /// common case holds), or more rows than are worth grouping.
    @inline(never)
    private mutating func addToNewObject(_ obj: UInt32, length: UInt64, latency: UInt64?) {
        guard obj < 1 << 22 else { sparseObjectRows[obj, default: BreakdownRow()].add(length: length, latency: latency); return }
        let i = Int(obj)
        if i >= objectRows.count {
            recordObjectLatencies()
            objectRows += repeatElement(BreakdownRow(), count: max(i + 1, objectRows.count * 2) - objectRows.count)
        }
        guard objectRows.count <= Self.groupedRowsLimit else { return objectRows[i].add(length: length, latency: latency) }
        addToObject(obj, length: length, latency: latency)
    }

    /// Records the waiting latencies in their object rows, object by object (a counting sort by
    /// row). The rows end as if each had been recorded at once: a recorder's state does not
    /// depend on the order of its values.
    public mutating func recordObjectLatencies() {
        guard !pendingLatencies.isEmpty else { return }
        var next = [Int](repeating: 0, count: objectRows.count + 1)
        for (row, _) in pendingLatencies { next[Int(row) + 1] += 1 }
        for i in 1..<next.count { next[i] += next[i - 1] }
        var grouped = [UInt64](repeating: 0, count: pendingLatencies.count)
        for (row, ns) in pendingLatencies {
            grouped[next[Int(row)]] = ns
            next[Int(row)] += 1
        }
        // `next[row]` is now where the row's group ends; it starts where the previous one ends.
        objectRows.withUnsafeMutableBufferPointer { rows in grouped.withUnsafeBufferPointer { grouped in
            var start = 0
            for row in rows.indices where next[row] > start {
                rows[row].latency.record(contentsOf: UnsafeBufferPointer(rebasing: grouped[start..<next[row]]))
                start = next[row]
            }
        } }
        pendingLatencies.removeAll(keepingCapacity: true)
    }

    /// `taskName`: the correlator's index of the task's name (0: none, the name is compared):
    /// one index stands for one name, so an equal index is the same reader without `comm`.
    /// Inlined for the common case, the pid's row of last time for the same name; the rest is
    /// `findReaderRow`.
    @inline(__always)
    private mutating func readerRow(pid: Int32, taskName: Int32, comm: () -> String?) -> Int {
        // `readerByPid` has places for cached pids only (0 ..< pidCacheLimit).
        if taskName != 0, pid >= 0, Int(pid) < readerByPid.count {
            let entry = readerByPid[Int(pid)]
            if entry != 0, UInt32(truncatingIfNeeded: entry) == UInt32(bitPattern: taskName) { return Int(entry >> 32) - 1 }
        }
        return findReaderRow(pid: pid, taskName: taskName, comm: comm)
    }

    @inline(never)
    private mutating func findReaderRow(pid: Int32, taskName: Int32, comm: () -> String?) -> Int {
        let cached = pid >= 0 && pid < Self.pidCacheLimit
        if cached, Int(pid) < readerByPid.count, readerByPid[Int(pid)] != 0 {
            let entry = readerByPid[Int(pid)]
            let index = Int(entry >> 32) - 1
            if taskName != 0, UInt32(truncatingIfNeeded: entry) == UInt32(bitPattern: taskName) { return index }
            if readerKeys[index].comm == (comm() ?? "?") {
                readerByPid[Int(pid)] = UInt64(index + 1) << 32 | UInt64(UInt32(bitPattern: taskName))
                return index
            }
        }
        let key = ReaderKey(pid: pid, comm: comm() ?? "?")
        let index: Int
        if let known = readerIndex[key] {
            index = known
        } else {
            index = readerRows.count
            readerIndex[key] = index
            readerKeys.append(key)
            readerRows.append(BreakdownRow())
        }
        if cached {
            if Int(pid) >= readerByPid.count { readerByPid += repeatElement(0, count: Int(pid) + 1 - readerByPid.count) }
            readerByPid[Int(pid)] = UInt64(index + 1) << 32 | UInt64(UInt32(bitPattern: taskName))
        }
        return index
    }

    public mutating func add(_ a: Anomaly) {
        guard filter.admits(a) else { return }
        anomalyCounts[a.kind, default: 0] += 1
        if anomalies.count < listLimit { anomalies.append(a) }
    }
}
