import Foundation
import OndemandTraceCore

/// Turns a report JSON document (docs/report-schema.md) into the figures `check` compares.
enum RunFiguresJSON {
    static func figures(fromReportJSON data: Data, path: String) throws -> RunFigures {
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw InputFailure(description: "\(path): not a JSON object")
        }
        guard let schema = root["schema"] as? String, schema.hasPrefix("ondemand-trace/report/") else {
            throw InputFailure(description: "\(path): not an ondemand-trace report (no \"schema\": \"ondemand-trace/report/N\")")
        }
        guard let reads = root["reads"] as? [String: Any], let latency = reads["latency_us"] as? [String: Any] else {
            throw InputFailure(description: "\(path): the report has no reads.latency_us")
        }
        func number(_ object: [String: Any]?, _ key: String) -> Double? { (object?[key] as? NSNumber)?.doubleValue }
        var values: [Metric: Double] = [:]
        for (metric, key) in [(Metric.p50, "p50"), (.p90, "p90"), (.p99, "p99"), (.p999, "p999"), (.mean, "mean"), (.max, "max")] {
            values[metric] = number(latency, key)
        }
        let opens = root["opens"] as? [String: Any]
        let openLatency = opens?["latency_us"] as? [String: Any]
        values[.openP50] = number(openLatency, "p50")
        values[.openP99] = number(openLatency, "p99")
        values[.unmatched] = (number(reads, "unmatched") ?? 0) + (number(opens, "unmatched") ?? 0)
        values[.anomalies] = number(root["anomalies"] as? [String: Any], "total")
        if let t = number(reads, "throughput_bytes_per_s") { values[.throughput] = t / 1_048_576 }
        if let span = number(reads, "span_s"), span > 0, let count = number(reads, "count") {
            values[.requestsPerSecond] = count / span
        }
        var buckets: [LatencyBuckets.Bucket] = []
        for item in reads["histogram_us"] as? [[NSNumber]] ?? [] where item.count == 3 {
            buckets.append(.init(lower: item[0].doubleValue, upper: item[1].doubleValue, count: item[2].intValue))
        }
        var identity: [String: String] = [:]
        if let kernel = (root["trace"] as? [String: Any])?["kernel_release"] as? String { identity["kernel_release"] = kernel }
        // `slowdown` is an injected delay meant to be compared against a run without it.
        for (key, value) in root["run"] as? [String: Any] ?? [:] where key != "slowdown" {
            identity["run." + key] = "\(value)"
        }
        return RunFigures(identity: identity, values: values, readLatency: buckets.isEmpty ? nil : LatencyBuckets(buckets))
    }
}
