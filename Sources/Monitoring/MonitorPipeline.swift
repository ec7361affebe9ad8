import OndemandTraceCore
import Synchronization
import TraceRecording

/// Records in, metrics out: decodes the recorder's records, correlates them (`MonitorState`) and
/// counts what comes out (`OndemandMetrics`). The recorder's thread feeds it, the HTTP thread
/// renders from it, the main loop asks it for hung requests; one lock orders them.
public final class MonitorPipeline: Sendable {
    final class Locked {
        let state: MonitorState
        var records = 0
        /// Made from what is recorded; on the fanotify path only once its probes exist.
        var decoder: LiveRecordDecoder?
        init(state: MonitorState, decoder: LiveRecordDecoder?) { (self.state, self.decoder) = (state, decoder) }
    }

    public let metrics: OndemandMetrics
    private let locked: Mutex<Locked>
    /// The trace clock's "now" (CLOCK_MONOTONIC for the `mono` clock the monitor records with).
    private let now: @Sendable () -> UInt64

    /// `decoder` nil: set by `use(formats:)` before any record comes (`RecordingOptions.onFormats`).
    public init(decoder: LiveRecordDecoder?, metrics: OndemandMetrics, now: @escaping @Sendable () -> UInt64) {
        (self.metrics, self.now) = (metrics, now)
        locked = Mutex(Locked(state: MonitorState(onRequest: { metrics.record($0) }, onAnomaly: { metrics.record($0.kind) }),
                              decoder: decoder))
    }

    public func use(formats: [(system: String, format: String)]) throws(RecordingError) {
        let decoder = try LiveRecordDecoder(formats: formats)
        locked.withLock { $0.decoder = decoder }
    }

    /// On the recorder's thread, records in time order.
    public func consume(_ records: [RawRecord]) {
        locked.withLock { locked in
            locked.records += records.count
            for record in records {
                if record.missedEvents != 0 {
                    let count = record.missedEvents > 0 ? record.missedEvents : nil
                    metrics.lost(count)
                    locked.state.noteLost(cpu: record.cpu, count: count, timestamp: record.timestamp)
                }
                if let event = locked.decoder?.event(record) { locked.state.consume(event) }
            }
        }
    }

    /// The exposition, with the in-flight gauges as of now.
    public func render(openMetrics: Bool) -> [UInt8] {
        let at = now()
        let (read, open) = locked.withLock { $0.state.inFlight() }
        metrics.setInFlight(read: read, open: open, now: at)
        return metrics.exposition(openMetrics: openMetrics)
    }

    /// The requests in flight longer than `after` ns not returned before, with the time used.
    public func newlyHung(after: UInt64) -> (requests: [OutstandingRequest], now: UInt64) {
        let at = now()
        return (locked.withLock { locked in
            locked.state.releaseUnnamed(now: at)  // no record may come for a while: time passes anyway
            return locked.state.newlyHung(now: at, after: after)
        }, at)
    }

    /// Records consumed so far: the monitor looks for new cookies only when something happened.
    public var recordsConsumed: Int { locked.withLock { $0.records } }

    /// Objects the correlation holds (for the memory figures).
    public var objectCount: Int { locked.withLock { $0.state.objectCount } }
}
