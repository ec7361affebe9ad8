import OndemandTraceCore
import Synchronization

/// `record --live`: the records read so far go through the report's correlator; every interval the
/// requests answered in it are summed up in one line (like bcc tools' `interval count`).
public final class LiveLatency: Sendable {
    /// One interval's figures.
    public struct Window: Sendable, Equatable {
        public var reads = 0
        public var readsAnswered = 0
        public var readBytes: UInt64 = 0
        public var readLatency = LatencySummary(count: 0)
        public var opens = 0
        public var opensAnswered = 0
        public var anomalies = 0
        public var records = 0
        public var markers = 0
        public var lost: Int64 = 0

        /// e.g. `reads 120 (118 answered, 480 KiB) p50 85us p99 1.2ms max 3.4ms | opens 3 | anomalies 0 | records 500`
        public var text: String {
            var line = "reads \(reads) (\(readsAnswered) answered, \(readBytes / 1024) KiB)"
            if readLatency.count > 0 {
                line += " p50 \(Self.duration(readLatency.p50Microseconds)) p99 \(Self.duration(readLatency.p99Microseconds)) max \(Self.duration(readLatency.maxMicroseconds))"
            }
            line += " | opens \(opens) (\(opensAnswered) answered) | anomalies \(anomalies) | records \(records), markers \(markers)"
            if lost > 0 { line += " | LOST \(lost)" }
            return line
        }

        static func duration(_ microseconds: Double?) -> String {
            guard let us = microseconds else { return "-" }
            if us < 1000 { return String(Int(us.rounded())) + "us" }
            if us < 1_000_000 { return String(Double(Int(us / 100)) / 10) + "ms" }
            return String(Double(Int(us / 100_000)) / 10) + "s"
        }
    }

    final class State {
        var decoder: LiveRecordDecoder?
        var correlator: Correlator!
        /// The fanotify path's requests (they close when the reader leaves the hook).
        var fanotify: FanotifyCorrelator!
        var accumulator = ReportAccumulator()
        var window = Window()

        init(decoder: LiveRecordDecoder?) {
            self.decoder = decoder
            // Each answer counts in the window of its cread, not of the reader's resumption.
            correlator = Correlator(
                awaitResume: false,
                onRequest: { [unowned self] request in
                    self.accumulator.add(request)
                },
                onAnomaly: { [unowned self] anomaly in
                    self.accumulator.add(anomaly)
                })
            fanotify = FanotifyCorrelator(names: correlator,
                                          onRequest: { [unowned self] request in self.accumulator.add(request) },
                                          onAnomaly: { [unowned self] anomaly in self.accumulator.add(anomaly) })
        }

        func consume(_ event: TraceEvent) {
            if !fanotify.consume(event) { correlator.consume(event) }
        }

        func take() -> Window {
            var window = self.window
            let stats = accumulator
            window.reads = stats.reads.count
            window.readsAnswered = stats.reads.matched
            window.readBytes = stats.reads.bytes
            window.readLatency = stats.reads.latency.summary
            window.opens = stats.opens.count
            window.opensAnswered = stats.opens.matched
            window.anomalies = stats.anomalyCounts.values.reduce(0, +)
            accumulator = ReportAccumulator()
            self.window = Window()
            return window
        }
    }

    private let state: Mutex<State>

    /// `formats`: the recorded events' format files (`RecordingSession.eventFormats`).
    public convenience init(formats: [(system: String, format: String)]) throws(RecordingError) {
        self.init(decoder: try LiveRecordDecoder(formats: formats))
    }

    public convenience init(layouts: [EventLayout]) {
        self.init(decoder: LiveRecordDecoder(layouts: layouts))
    }

    init(decoder: LiveRecordDecoder?) {
        state = Mutex(State(decoder: decoder))
    }

    /// Formats given later, by `use(formats:)` (`RecordingOptions.onFormats`): the fanotify
    /// path's probes exist only once the recording starts.
    public convenience init() { self.init(decoder: nil) }

    public func use(formats: [(system: String, format: String)]) throws(RecordingError) {
        let decoder = try LiveRecordDecoder(formats: formats)
        state.withLock { $0.decoder = decoder }
    }

    /// Decodes and correlates records, which must come in `TimeOrder` across CPUs (as the
    /// recorder's `LiveMerge` releases them): a cread seen before its READ would count as an
    /// anomaly and its READ as unanswered. Called on the recorder's reader thread.
    public func consume(_ records: [RawRecord]) {
        state.withLock { state in
            for record in records {
                if record.missedEvents != 0 {
                    // As the report does for a file: the loss is an anomaly at this point in time.
                    state.window.lost += max(0, record.missedEvents)
                    state.correlator.noteLost(cpu: record.cpu, count: record.missedEvents > 0 ? record.missedEvents : nil,
                                              timestamp: record.timestamp)
                }
                state.window.records += 1
                guard let event = state.decoder?.event(record) else { continue }
                if case .marker = event.body { state.window.markers += 1 }
                state.consume(event)
            }
        }
    }

    /// The interval since the last call, and starts a new one.
    public func takeWindow() -> Window {
        state.withLock { $0.take() }
    }

    /// The last interval, after the last records: requests still open are counted as the report
    /// counts them at the end of a file (unanswered), so the windows add up to the file's report.
    public func finish() -> Window {
        state.withLock { state in
            _ = state.correlator.finish()
            _ = state.fanotify.finish()
            return state.take()
        }
    }
}
