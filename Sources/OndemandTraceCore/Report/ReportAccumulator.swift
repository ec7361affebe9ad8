/// Which requests a report counts. Every part is optional; all given parts must hold.
public struct ReportFilter: Sendable, Equatable {
    public var obj: UInt32?
    /// The reader (READ requests only: OPEN records are taken in the daemon's context).
    public var comm: String?
    public var pid: Int32?
    /// Trace time window, nanoseconds, on the request's issue time: since ≤ t < until.
    public var since: UInt64?
    public var until: UInt64?

    public init(obj: UInt32? = nil, comm: String? = nil, pid: Int32? = nil, since: UInt64? = nil, until: UInt64? = nil) {
        (self.obj, self.comm, self.pid, self.since, self.until) = (obj, comm, pid, since, until)
    }

    public var isEmpty: Bool { self == ReportFilter() }

    func admitsTime(_ t: UInt64) -> Bool {
        if let since, t < since { return false }
        if let until, t >= until { return false }
        return true
    }

    public func admits(_ r: RequestRecord) -> Bool {
        if let obj, r.obj != obj { return false }
        if r.kind == .read {
            if let comm, r.comm != comm { return false }
            if let pid, r.pid != pid { return false }
        } else if comm != nil || pid != nil {
            return false
        }
        return admitsTime(r.issued)
    }

    public func admits(_ a: Anomaly) -> Bool {
        if let obj, let o = a.obj, o != obj { return false }
        return admitsTime(a.timestamp)
    }
}

/// Folds requests and anomalies into the report's statistics, in memory independent of their number
/// (anomaly and slow-request lists keep their first `listLimit` entries and count the rest).
public struct ReportAccumulator {
    public let filter: ReportFilter
    /// Requests at least this slow (ns) are listed; nil: none.
    public let slowThreshold: UInt64?
    public let listLimit: Int

    public private(set) var reads = RequestStats()
    public private(set) var opens = RequestStats()
    public private(set) var stages: [RequestRecord.Stage: LatencyRecorder] = [:]
    public private(set) var bySize: [Int: BreakdownRow] = [:]
    public private(set) var byReader: [ReaderKey: BreakdownRow] = [:]
    public private(set) var joins: [RequestRecord.Join: Int] = [:]
    public private(set) var anomalies: [Anomaly] = []
    public private(set) var anomalyCounts: [Anomaly.Kind: Int] = [:]
    public private(set) var slowRequests: [RequestRecord] = []
    public private(set) var slowRequestCount = 0
    public private(set) var firstIssued: UInt64?
    public private(set) var lastCompleted: UInt64?

    public init(filter: ReportFilter = ReportFilter(), slowThreshold: UInt64? = nil, listLimit: Int = 10_000) {
        self.filter = filter
        self.slowThreshold = slowThreshold
        self.listLimit = listLimit
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
        public var latency = LatencyRecorder(significantDigits: 2, exactLimit: 4096)
    }

    /// The power-of-two size bucket of a request: bucket k holds lengths 2^k ... 2^(k+1)-1.
    public static func sizeBucket(_ length: UInt64) -> Int { length == 0 ? 0 : 63 - length.leadingZeroBitCount }

    /// Returns whether the request passed the filter.
    @discardableResult
    public mutating func add(_ r: RequestRecord) -> Bool {
        guard filter.admits(r) else { return false }
        if firstIssued == nil || r.issued < firstIssued! { firstIssued = r.issued }
        if let c = r.completed, lastCompleted == nil || c > lastCompleted! { lastCompleted = c }
        joins[r.join, default: 0] += 1
        let latency = r.latency
        switch r.kind {
        case .open:
            opens.count += 1
            if let latency { opens.matched += 1; opens.latency.record(nanoseconds: latency) }
        case .read:
            let length = r.length ?? 0
            reads.count += 1
            reads.bytes += length
            let bucket = Self.sizeBucket(length)
            let key = ReaderKey(pid: r.pid, comm: r.comm ?? "?")
            bySize[bucket, default: BreakdownRow()].count += 1
            bySize[bucket]!.bytes += length
            byReader[key, default: BreakdownRow()].count += 1
            byReader[key]!.bytes += length
            if let latency {
                reads.matched += 1
                reads.latency.record(nanoseconds: latency)
                bySize[bucket]!.latency.record(nanoseconds: latency)
                byReader[key]!.latency.record(nanoseconds: latency)
                for (stage, ns) in r.stages { stages[stage, default: LatencyRecorder()].record(nanoseconds: ns) }
            }
        }
        if let slowThreshold, let latency, latency >= slowThreshold {
            slowRequestCount += 1
            if slowRequests.count < listLimit { slowRequests.append(r) }
        }
        return true
    }

    public mutating func add(_ a: Anomaly) {
        guard filter.admits(a) else { return }
        anomalyCounts[a.kind, default: 0] += 1
        if anomalies.count < listLimit { anomalies.append(a) }
    }
}
