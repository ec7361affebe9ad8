import DequeModule

/// `monitor`'s correlation of a trace that never ends: the report's `Correlator`, with each
/// answer handed on at its cread/copen, the requests of a released fd settled at the release
/// (a dead daemon's requests are not in flight forever), and released objects forgotten now and
/// then — so memory follows the requests in flight and the live objects, not the time running.
/// No I/O and not thread-safe: the monitor holds it under a lock.
public final class MonitorState {
    /// The requests of one kind waiting for their answer.
    public struct InFlight: Sendable, Equatable {
        public var count = 0
        /// Trace time of the oldest one.
        public var oldestIssued: UInt64?

        public init(count: Int = 0, oldestIssued: UInt64? = nil) { (self.count, self.oldestIssued) = (count, oldestIssued) }

        /// Seconds the oldest has waited at `now` (0 when none).
        public func oldestAge(now: UInt64) -> Double {
            guard let issued = oldestIssued, now > issued else { return 0 }
            return Double(now - issued) / 1e9
        }
    }

    private var correlator: Correlator!
    /// The fanotify path's requests (their image files are named from the start).
    private var fanotify: FanotifyCorrelator!
    private let handOn: (RequestRecord) -> Void
    /// Requests answered before their object had a name: held for up to `namingGrace` (trace
    /// time) for the name to come. A daemon's objects are named by the cookie lines the monitor
    /// polls every 20 ms, which often come just after an OPEN's copen.
    private var unnamed = Deque<RequestRecord>()
    public static let namingGrace: UInt64 = 250_000_000
    /// The grace when the clock ends the wait (`releaseUnnamed(now:)`: no record came). The
    /// records behind the clock may still be on their way out of the ring buffer, the poller's
    /// cookie line among them (drained every 20 ms, much later on a loaded host: 250 ms of clock
    /// overtook a name already polled in a test VM), so the clock waits longer than the records.
    public static let idleNamingGrace: UInt64 = 2_000_000_000
    /// `Correlator.namesLearned` when the held requests were last matched with names.
    private var namesSeen = 0
    /// Requests already logged as hung (pruned to those still outstanding).
    private var reportedHung = Set<UInt64>()
    private var eventsSinceCompaction = 0
    /// Events between two `Correlator.forgetReleased` passes.
    static let compactionInterval = 1 << 16

    /// `onRequest`: each READ/OPEN when answered, or settled unanswered (its fd was released);
    /// `onAnomaly`: each anomaly when found.
    /// A request whose blob is still unknown is handed on once it is known, or after
    /// `namingGrace` without it.
    public init(onRequest: @escaping (RequestRecord) -> Void, onAnomaly: @escaping (Anomaly) -> Void) {
        handOn = onRequest
        correlator = Correlator(awaitResume: false, settleAtRelease: true, onRequest: { [unowned self] request in
            if request.blob == nil { unnamed.append(request) } else { handOn(request) }
        }, onAnomaly: onAnomaly)
        fanotify = FanotifyCorrelator(names: correlator, onRequest: onRequest, onAnomaly: onAnomaly)
    }

    /// Events in time order (as the recorder's live merge releases them).
    public func consume(_ event: TraceEvent) {
        if fanotify.consume(event) { return }
        correlator.consume(event)
        if !unnamed.isEmpty {
            let learned = correlator.namesLearned
            releaseUnnamed(now: event.timestamp, namesMayHaveChanged: learned != namesSeen)
            namesSeen = learned
        }
        eventsSinceCompaction += 1
        if eventsSinceCompaction >= Self.compactionInterval {
            eventsSinceCompaction = 0
            correlator.forgetReleased()
        }
    }

    /// Hands on the held requests whose object has a name now, or that waited `idleNamingGrace`
    /// by the clock at `now` (trace time).
    public func releaseUnnamed(now: UInt64) {
        releaseUnnamed(now: now, namesMayHaveChanged: true, grace: Self.idleNamingGrace)
    }

    /// Unless a name was learnt, only the grace can end, and the held requests are in the order
    /// they were answered: the oldest ends first.
    private func releaseUnnamed(now: UInt64, namesMayHaveChanged: Bool, grace: UInt64 = namingGrace) {
        if namesMayHaveChanged {
            unnamed.removeAll { request in
                guard let name = correlator.name(of: request.obj) else { return false }
                var named = request
                named.blob = name
                handOn(named)
                return true
            }
        }
        let due = unnamed.prefix { now >= ($0.completed ?? $0.issued) &+ grace }.count
        guard due > 0 else { return }
        unnamed[..<due].forEach(handOn)
        unnamed.removeFirst(due)
    }

    /// The ring buffer lost events on `cpu` (count nil: unknown).
    public func noteLost(cpu: Int32, count: Int64?, timestamp: UInt64) {
        correlator.noteLost(cpu: cpu, count: count, timestamp: timestamp)
    }

    /// Objects held now (live ones, and released ones not yet forgotten).
    public var objectCount: Int { correlator.objectCount }

    /// READs and OPENs waiting for their answer.
    public func inFlight() -> (read: InFlight, open: InFlight) {
        var read = InFlight(), open = InFlight()
        correlator.forEachOutstanding { request in
            func add(_ f: inout InFlight) {
                f.count += 1
                f.oldestIssued = min(f.oldestIssued ?? .max, request.issued)
            }
            if request.kind == .read { add(&read) } else { add(&open) }
        }
        fanotify.forEachOutstanding { request in
            read.count += 1
            read.oldestIssued = min(read.oldestIssued ?? .max, request.issued)
        }
        return (read, open)
    }

    /// The requests in flight for longer than `after` ns at `now` that were not returned before:
    /// each hung request is returned once, oldest first.
    public func newlyHung(now: UInt64, after: UInt64) -> [OutstandingRequest] {
        var hung: [OutstandingRequest] = []
        var outstanding = Set<UInt64>()
        func consider(_ request: OutstandingRequest) {
            outstanding.insert(request.id)
            if now > request.issued, now - request.issued >= after, !reportedHung.contains(request.id) { hung.append(request) }
        }
        correlator.forEachOutstanding(consider)
        fanotify.forEachOutstanding(consider)
        reportedHung.formIntersection(outstanding)
        for request in hung { reportedHung.insert(request.id) }
        return hung.sorted { ($0.issued, $0.id) < ($1.issued, $1.id) }
    }
}

/// The `blob` label of `monitor`'s metrics, bounded: the first `limit` blobs seen keep their
/// name (the cookie key), later ones share `other`; a request whose blob is unknown gets the
/// empty value, which Prometheus treats as no label.
public struct BlobLabels: Sendable {
    public static let other = "other"
    public let limit: Int
    private var named = Set<String>()

    public init(limit: Int) { self.limit = limit }

    public mutating func label(for name: BlobName?) -> String {
        guard let blob = name?.blob else { return "" }
        if named.contains(blob) { return blob }
        guard named.count < limit else { return Self.other }
        named.insert(blob)
        return blob
    }
}

/// One line for a request in flight too long, e.g.
/// `hung read: obj 7 blob duo-blob 1048576+131072 in flight 5.2 s, reader cat (pid 312)`.
public enum HungRequestText {
    public static func line(_ request: OutstandingRequest, now: UInt64, comm: String?) -> String {
        let age = now > request.issued ? Double(now - request.issued) / 1e9 : 0
        var text = "hung \(request.kind.rawValue): obj \(request.obj) blob \(request.blob?.blob ?? "(unknown)")"
        if let offset = request.offset, let length = request.length { text += " \(offset)+\(length)" }
        text += " in flight \(Double(Int(age * 10)) / 10) s, "
        text += request.kind == .read ? "reader " : "by "
        return text + "\(comm ?? "?") (pid \(request.pid))"
    }
}
