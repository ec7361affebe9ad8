/// Reads back the report JSON documents that `ReportJSON` and `RunReport` write
/// (docs/report-schema.md) as the figures `check` compares: schema 1 (one run: `report --format
/// json`, older `run`) or 2 (`run`: each run's figures in `runs`, the pooled ones at the top level).
public enum RunFiguresJSON {
    public static let readableSchemas = [ReportJSON.schema, RunReport.schema]

    /// The runs of the document `bytes`, read from `path` (named in every error).
    public static func runSet(fromReportJSON bytes: [UInt8], path: String) throws(CheckInputError) -> RunSet {
        guard let root = (try? JSONValue(parsing: bytes))?.objectValue else {
            throw CheckInputError("\(path): not a report: not a JSON object (a report is what `report --format json` or `run --report` writes)")
        }
        guard let schema = root["schema"]?.stringValue, schema.hasPrefix("ondemand-trace/report/") else {
            throw CheckInputError("\(path): not an ondemand-trace report (no \"schema\": \"ondemand-trace/report/N\")")
        }
        guard readableSchemas.contains(schema) else {
            throw CheckInputError("\(path): report schema \"\(schema)\" is not one this version reads (\(readableSchemas.joined(separator: ", "))); use the ondemand-trace that wrote it, or make a new baseline")
        }
        let identity = identity(root)
        let pooled = try figures(root, identity: identity, path: path, what: "the report")
        guard schema == RunReport.schema else { return RunSet(single: pooled) }
        guard let list = root["runs"]?.arrayValue, case let entries = list.compactMap(\.objectValue),
              entries.count == list.count, !entries.isEmpty else {
            throw CheckInputError("\(path): schema \(schema) report without a \"runs\" list")
        }
        var runs: [RunFigures] = []
        for (i, entry) in entries.enumerated() {
            runs.append(try figures(entry, identity: identity, path: path, what: "run \(i + 1)"))
        }
        return RunSet(runs: runs, pooled: pooled)
    }

    /// The figures of a report document or of one entry of its `runs` (the same keys).
    static func figures(_ object: [String: JSONValue], identity: [String: String], path: String, what: String) throws(CheckInputError) -> RunFigures {
        guard let reads = object["reads"]?.objectValue, let latency = reads["latency_us"]?.objectValue else {
            throw CheckInputError("\(path): \(what) has no reads.latency_us")
        }
        func number(_ object: [String: JSONValue]?, _ key: String) -> Double? { object?[key]?.doubleValue }
        var values: [Metric: Double] = [:]
        for (metric, key) in [(Metric.p50, "p50"), (.p90, "p90"), (.p99, "p99"), (.p999, "p999"), (.mean, "mean"), (.max, "max")] {
            values[metric] = number(latency, key)
        }
        let opens = object["opens"]?.objectValue
        let openLatency = opens?["latency_us"]?.objectValue
        values[.openP50] = number(openLatency, "p50")
        values[.openP99] = number(openLatency, "p99")
        values[.unmatched] = (number(reads, "unmatched") ?? 0) + (number(opens, "unmatched") ?? 0)
        values[.anomalies] = number(object["anomalies"]?.objectValue, "total")
        if let t = number(reads, "throughput_bytes_per_s") { values[.throughput] = t / 1_048_576 }
        if let span = number(reads, "span_s"), span > 0, let count = number(reads, "count") {
            values[.requestsPerSecond] = count / span
        }
        guard (number(latency, "count") ?? 0) > 0 else {
            throw CheckInputError("\(path): \(what) has no answered READ (0 READ latencies): nothing to compare; was the run's mount or workload broken?")
        }
        return RunFigures(identity: identity, values: values, readLatency: histogram(reads["histogram_us"]), blobs: blobs(object))
    }

    /// `histogram_us`: [lower, upper, count] triples; nil when absent, or when any entry is not
    /// a list of numbers.
    static func histogram(_ value: JSONValue?) -> LatencyBuckets? {
        var buckets: [LatencyBuckets.Bucket] = []
        for item in value?.arrayValue ?? [] {
            guard let numbers = item.arrayValue?.map(\.doubleValue), numbers.allSatisfy({ $0 != nil }) else { return nil }
            guard numbers.count == 3, let count = item.arrayValue?[2].intValue else { continue }
            buckets.append(.init(lower: numbers[0]!, upper: numbers[1]!, count: count))
        }
        return buckets.isEmpty ? nil : LatencyBuckets(buckets)
    }

    /// `blobs` entries that name a blob (older reports have none).
    static func blobs(_ object: [String: JSONValue]) -> [String: BlobFigures] {
        var out: [String: BlobFigures] = [:]
        for entry in object["blobs"]?.arrayValue?.compactMap(\.objectValue) ?? [] {
            guard let name = entry["blob"]?.stringValue else { continue }
            let latency = entry["latency_us"]?.objectValue
            func us(_ key: String) -> Double? { latency?[key]?.doubleValue }
            out[name] = BlobFigures(reads: entry["reads"]?.intValue ?? 0, p50: us("p50"), p99: us("p99"), max: us("max"))
        }
        return out
    }

    /// What was measured: the kernel and the `run` section, less the keys that describe how
    /// many runs were taken or what was done on purpose (docs/report-schema.md).
    static func identity(_ root: [String: JSONValue]) -> [String: String] {
        var identity: [String: String] = [:]
        if let kernel = root["trace"]?["kernel_release"]?.stringValue { identity["kernel_release"] = kernel }
        for (key, value) in root["run"]?.objectValue ?? [:] where !RunReport.notIdentity.contains(key) {
            identity["run." + key] = value.text
        }
        return identity
    }
}
