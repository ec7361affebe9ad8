import Foundation
import OndemandTraceCore

/// Turns a report JSON document (docs/report-schema.md) into the figures `check` compares:
/// schema 1 (one run: `report --format json`, older `run`) or 2 (`run`: each run's figures in
/// `runs`, the pooled ones at the top level).
enum RunFiguresJSON {
    static let readableSchemas = [ReportJSON.schema, RunReport.schema]

    static func runSet(fromReportJSON data: Data, path: String) throws -> RunSet {
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw InputFailure(description: "\(path): not a report: not a JSON object (a report is what `report --format json` or `run --report` writes)")
        }
        guard let schema = root["schema"] as? String, schema.hasPrefix("ondemand-trace/report/") else {
            throw InputFailure(description: "\(path): not an ondemand-trace report (no \"schema\": \"ondemand-trace/report/N\")")
        }
        guard readableSchemas.contains(schema) else {
            throw InputFailure(description: "\(path): report schema \"\(schema)\" is not one this version reads (\(readableSchemas.joined(separator: ", "))); use the ondemand-trace that wrote it, or make a new baseline")
        }
        let identity = identity(root)
        let pooled = try figures(root, identity: identity, path: path, what: "the report")
        guard schema == RunReport.schema else { return RunSet(single: pooled) }
        guard let entries = root["runs"] as? [[String: Any]], !entries.isEmpty else {
            throw InputFailure(description: "\(path): schema \(schema) report without a \"runs\" list")
        }
        let runs = try entries.enumerated().map { i, entry in
            try figures(entry, identity: identity, path: path, what: "run \(i + 1)")
        }
        return RunSet(runs: runs, pooled: pooled)
    }

    /// The figures of a report document or of one entry of its `runs` (the same keys).
    static func figures(_ object: [String: Any], identity: [String: String], path: String, what: String) throws -> RunFigures {
        guard let reads = object["reads"] as? [String: Any], let latency = reads["latency_us"] as? [String: Any] else {
            throw InputFailure(description: "\(path): \(what) has no reads.latency_us")
        }
        func number(_ object: [String: Any]?, _ key: String) -> Double? { (object?[key] as? NSNumber)?.doubleValue }
        var values: [Metric: Double] = [:]
        for (metric, key) in [(Metric.p50, "p50"), (.p90, "p90"), (.p99, "p99"), (.p999, "p999"), (.mean, "mean"), (.max, "max")] {
            values[metric] = number(latency, key)
        }
        let opens = object["opens"] as? [String: Any]
        let openLatency = opens?["latency_us"] as? [String: Any]
        values[.openP50] = number(openLatency, "p50")
        values[.openP99] = number(openLatency, "p99")
        values[.unmatched] = (number(reads, "unmatched") ?? 0) + (number(opens, "unmatched") ?? 0)
        values[.anomalies] = number(object["anomalies"] as? [String: Any], "total")
        if let t = number(reads, "throughput_bytes_per_s") { values[.throughput] = t / 1_048_576 }
        if let span = number(reads, "span_s"), span > 0, let count = number(reads, "count") {
            values[.requestsPerSecond] = count / span
        }
        var buckets: [LatencyBuckets.Bucket] = []
        for item in reads["histogram_us"] as? [[NSNumber]] ?? [] where item.count == 3 {
            buckets.append(.init(lower: item[0].doubleValue, upper: item[1].doubleValue, count: item[2].intValue))
        }
        let figures = RunFigures(identity: identity, values: values, readLatency: buckets.isEmpty ? nil : LatencyBuckets(buckets),
                                 blobs: blobs(object))
        guard (number(latency, "count") ?? 0) > 0 else {
            throw InputFailure(description: "\(path): \(what) has no answered READ (0 READ latencies): nothing to compare; was the run's mount or workload broken?")
        }
        return figures
    }

    /// `blobs` entries that name a blob (older reports have none).
    static func blobs(_ object: [String: Any]) -> [String: BlobFigures] {
        var out: [String: BlobFigures] = [:]
        for entry in object["blobs"] as? [[String: Any]] ?? [] {
            guard let name = entry["blob"] as? String else { continue }
            let latency = entry["latency_us"] as? [String: Any]
            func us(_ key: String) -> Double? { (latency?[key] as? NSNumber)?.doubleValue }
            out[name] = BlobFigures(reads: (entry["reads"] as? NSNumber)?.intValue ?? 0, p50: us("p50"), p99: us("p99"), max: us("max"))
        }
        return out
    }

    /// What was measured: the kernel and the `run` section, less the keys that describe how
    /// many runs were taken or what was done on purpose (docs/report-schema.md).
    static func identity(_ root: [String: Any]) -> [String: String] {
        var identity: [String: String] = [:]
        if let kernel = (root["trace"] as? [String: Any])?["kernel_release"] as? String { identity["kernel_release"] = kernel }
        for (key, value) in root["run"] as? [String: Any] ?? [:] where !RunReport.notIdentity.contains(key) {
            identity["run." + key] = "\(value)"
        }
        return identity
    }
}
