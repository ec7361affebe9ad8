/// The document `run` writes (schema 2, docs/report-schema.md): the pooled figures of the
/// measured runs at the top level, as `report --format json` has them, then `runs` (each run's
/// own figures, same keys) and `run` (what was measured).
public enum RunReport {
    public static let schema = "ondemand-trace/report/2"

    /// Keys of the `run` section that say how the runs were taken, not what was measured:
    /// `check` does not compare them.
    public static let notIdentity: Set<String> = ["slowdown", "runs", "warmup", "pinned"]

    public struct Entry {
        public var trace: String
        public var cacheDirectory: String
        public var model: ReportModel
        public init(trace: String, cacheDirectory: String, model: ReportModel) {
            self.trace = trace
            self.cacheDirectory = cacheDirectory
            self.model = model
        }
    }

    public static func render(pooled: ReportModel, runs: [Entry], run: [(String, String)]) -> String {
        ReportJSON.render(pooled, schema: schema) { w in
            w.key("runs"); w.arrayStart()
            for (i, entry) in runs.enumerated() { renderEntry(&w, index: i + 1, entry) }
            w.arrayEnd()
            w.key("run"); w.objectStart()
            for (key, value) in run { w.key(key); w.string(value) }
            w.objectEnd()
        }
    }

    static func renderEntry(_ w: inout JSONWriter, index: Int, _ entry: Entry) {
        let m = entry.model, s = m.stats
        w.objectStart()
        w.key("run"); w.number(index)
        w.key("trace"); w.string(entry.trace)
        w.key("cache_dir"); w.string(entry.cacheDirectory)
        w.key("reads"); w.objectStart()
        ReportJSON.requestCounts(&w, s.reads)
        w.key("bytes"); w.number(s.reads.bytes)
        w.key("bytes_answered"); w.number(m.answeredReadBytes)
        w.key("span_s"); if let span = m.requestSpanSeconds { w.number(span, decimals: 9) } else { w.null() }
        w.key("throughput_bytes_per_s"); if let t = m.throughputBytesPerSecond { w.number(t, decimals: 0) } else { w.null() }
        ReportJSON.latency(&w, s.reads.latency)
        w.objectEnd()
        w.key("opens"); w.objectStart()
        ReportJSON.requestCounts(&w, s.opens)
        w.key("latency_us"); ReportJSON.summary(&w, s.opens.latency.summary)
        w.objectEnd()
        w.key("anomalies"); w.objectStart()
        w.key("total"); w.number(m.anomalyTotal)
        w.objectEnd()
        w.key("lost_events"); w.objectStart()
        w.key("total"); w.number(m.lost.total + m.lost.statsTotal)
        w.objectEnd()
        w.objectEnd()
    }
}
