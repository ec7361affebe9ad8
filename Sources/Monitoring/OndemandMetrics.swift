import OndemandTraceCore
import Prometheus
import Synchronization

/// `monitor`'s metrics in a swift-prometheus registry. The names are fixed (dashboards and the
/// rules in contrib/ rely on them); `blob` labels come from `BlobLabels` (bounded).
public final class OndemandMetrics: Sendable {
    /// Seconds. Fine enough for p50/p99 from 50 µs to 10 s (about ×1.5 per bucket), and holding
    /// nydusd's boundaries (200 µs, 1, 20, 50, 500 ms, 1, 2 s) so the two can be compared.
    public static let latencyBuckets: [Double] = [
        0.00005, 0.000075, 0.0001, 0.00015, 0.0002, 0.0003, 0.0005, 0.00075,
        0.001, 0.0015, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075,
        0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 7.5, 10,
    ]

    /// One blob's series.
    struct BlobSeries: Sendable {
        let reads: Counter
        let readBytes: Counter
        let readLatency: DurationHistogram
        let opens: Counter
        let openLatency: DurationHistogram
    }

    struct Labels: Sendable {
        var blobs: BlobLabels
        var series: [String: BlobSeries] = [:]
    }

    public let registry = PrometheusCollectorRegistry()
    private let labels: Mutex<Labels>
    private let buckets: [Duration]
    private let inFlight: [RequestRecord.Kind: Gauge]
    private let oldestInFlight: [RequestRecord.Kind: Gauge]
    private let anomalies: [Anomaly.Kind: Counter]
    private let lostEvents: Counter
    /// `backend="cachefiles"|"fanotify"`, last on every series: which on-demand path is watched.
    private let backend: (String, String)

    /// `kernel`: the running kernel's release, for `ondemand_monitor_info`; `backend`: the path
    /// the monitor records.
    public init(maxBlobs: Int, kernel: String, backend: Backend = .cachefiles) {
        labels = Mutex(Labels(blobs: BlobLabels(limit: maxBlobs)))
        let backend = ("backend", backend.rawValue)
        self.backend = backend
        buckets = Self.latencyBuckets.map { Duration.nanoseconds(Int64(($0 * 1e9).rounded())) }
        var inFlight: [RequestRecord.Kind: Gauge] = [:], oldest: [RequestRecord.Kind: Gauge] = [:]
        for kind in [RequestRecord.Kind.read, .open] {
            inFlight[kind] = registry.makeGauge(
                descriptor: .init(metricName: "ondemand_requests_in_flight", unitName: "",
                                  helpText: "Requests sent to the daemon and not answered yet, by op (read, open)."),
                labels: [("op", kind.rawValue), backend])
            oldest[kind] = registry.makeGauge(
                descriptor: .init(metricName: "ondemand_oldest_in_flight_seconds", unitName: "",
                                  helpText: "How long the oldest request in flight has waited, by op (0 when none)."),
                labels: [("op", kind.rawValue), backend])
        }
        (self.inFlight, oldestInFlight) = (inFlight, oldest)
        var anomalies: [Anomaly.Kind: Counter] = [:]
        for kind in Anomaly.Kind.allCases {
            anomalies[kind] = registry.makeCounter(
                descriptor: .init(metricName: "ondemand_anomalies_total", unitName: "",
                                  helpText: "Anomalies the correlation found (ondemand-trace report --anomalies explains each kind)."),
                labels: [("kind", kind.rawValue), backend])
        }
        self.anomalies = anomalies
        lostEvents = registry.makeCounter(descriptor: .init(
            metricName: "ondemand_lost_events_total", unitName: "",
            helpText: "Trace events the ring buffer dropped (raise --buffer-size); correlation around them may be wrong."),
            labels: [backend])
        registry.makeGauge(descriptor: .init(metricName: "ondemand_monitor_info", unitName: "",
                                             helpText: "Always 1: the monitor's version and the kernel it runs on."),
                           labels: [("kernel", kernel), ("version", ToolVersion.current), backend]).set(to: 1)
    }

    /// A READ or OPEN answered, or settled unanswered (counted, without a latency).
    public func record(_ request: RequestRecord) {
        let series = self.series(for: request.blob)
        let latency = request.completed.map { Duration.nanoseconds(Int64(clamping: $0 &- request.issued)) }
        switch request.kind {
        case .read:
            series.reads.increment()
            series.readBytes.increment(by: Int64(clamping: request.length ?? 0))
            if let latency { series.readLatency.record(latency) }
        case .open:
            series.opens.increment()
            if let latency { series.openLatency.record(latency) }
        }
    }

    public func record(_ anomaly: Anomaly.Kind) { anomalies[anomaly]?.increment() }

    /// Events lost (a page's missed-events count; unknown counts as 1).
    public func lost(_ count: Int64?) { lostEvents.increment(by: max(1, count ?? 1)) }

    /// The in-flight gauges, from `MonitorState.inFlight()` at `now` (trace clock).
    public func setInFlight(read: MonitorState.InFlight, open: MonitorState.InFlight, now: UInt64) {
        inFlight[.read]?.set(Double(read.count))
        inFlight[.open]?.set(Double(open.count))
        oldestInFlight[.read]?.set(read.oldestAge(now: now))
        oldestInFlight[.open]?.set(open.oldestAge(now: now))
    }

    /// The exposition: Prometheus text format 0.0.4, or OpenMetrics 1.0.
    public func exposition(openMetrics: Bool) -> [UInt8] {
        let text = registry.emitToBuffer()
        return openMetrics ? OpenMetricsText.convert(text) : text
    }

    private func series(for blob: BlobName?) -> BlobSeries {
        labels.withLock { labels in
            let label = labels.blobs.label(for: blob)
            if let known = labels.series[label] { return known }
            let made = makeSeries(label)
            labels.series[label] = made
            return made
        }
    }

    private func makeSeries(_ blob: String) -> BlobSeries {
        let label = [("blob", blob), backend]
        return BlobSeries(
            reads: registry.makeCounter(
                descriptor: .init(metricName: "ondemand_read_requests_total", unitName: "",
                                  helpText: "READ requests handled (answered, or settled unanswered when the daemon released the object), by blob."),
                labels: label),
            readBytes: registry.makeCounter(
                descriptor: .init(metricName: "ondemand_read_bytes_total", unitName: "", helpText: "Bytes the READ requests asked for, by blob."),
                labels: label),
            readLatency: registry.makeDurationHistogram(
                descriptor: .init(metricName: "ondemand_read_latency_seconds", unitName: "",
                                  helpText: "READ request to its answer (cachefiles_ondemand_read to cread; fanotify: the reader's pre-content hook to the listener's answer), by blob."),
                labels: label, buckets: buckets),
            opens: registry.makeCounter(
                descriptor: .init(metricName: "ondemand_open_requests_total", unitName: "",
                                  helpText: "OPEN requests handled (answered, or settled unanswered), by blob."),
                labels: label),
            openLatency: registry.makeDurationHistogram(
                descriptor: .init(metricName: "ondemand_open_latency_seconds", unitName: "",
                                  helpText: "OPEN request to its copen, by blob."),
                labels: label, buckets: buckets))
    }
}

/// The Prometheus text format turned into OpenMetrics 1.0 text: a counter family is named
/// without its `_total` suffix in `# HELP`/`# TYPE` (the samples keep it), and `# EOF` ends it.
public enum OpenMetricsText {
    public static let contentType = "application/openmetrics-text; version=1.0.0; charset=utf-8"
    public static let prometheusContentType = "text/plain; version=0.0.4; charset=utf-8"

    public static func convert(_ text: [UInt8]) -> [UInt8] {
        var counters = Set<Substring>()
        let lines = String(decoding: text, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        for line in lines where line.hasPrefix("# TYPE ") && line.hasSuffix(" counter") {
            let name = line.dropFirst(7).prefix { $0 != " " }
            if name.hasSuffix("_total") { counters.insert(name) }
        }
        var out = ""
        out.reserveCapacity(text.count + 16)
        for line in lines where !line.isEmpty {
            var line = line
            for prefix in ["# HELP ", "# TYPE "] where line.hasPrefix(prefix) {
                let name = line.dropFirst(prefix.count).prefix { $0 != " " }
                if counters.contains(name) {
                    line = Substring(prefix + name.dropLast(6) + line.dropFirst(prefix.count + name.count))
                }
            }
            out += line
            out += "\n"
        }
        out += "# EOF\n"
        return Array(out.utf8)
    }

    /// Whether a request's Accept header asks for OpenMetrics (as Prometheus's scraper does).
    public static func wanted(accept: String?) -> Bool {
        accept?.lowercased().contains("application/openmetrics-text") ?? false
    }
}
