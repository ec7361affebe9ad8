import Monitoring
import OndemandTraceCore
import Testing

@Suite struct OndemandMetricsTests {
    func request(_ kind: RequestRecord.Kind, blob: String?, latencyUs: UInt64?, length: UInt64 = 4096) -> RequestRecord {
        RequestRecord(kind: kind, obj: 1, msgID: nil, pid: 1, comm: nil, offset: kind == .read ? 0 : nil, length: length,
                      issued: 1_000_000, completed: latencyUs.map { 1_000_000 + $0 * 1000 }, join: .thread,
                      blob: blob.map { BlobName(volume: "erofs,x", blob: $0) })
    }

    func lines(_ metrics: OndemandMetrics) -> [String] {
        String(decoding: metrics.exposition(openMetrics: false), as: UTF8.self).split(separator: "\n").map(String.init)
    }

    @Test func countsHistogramsAndTheBoundedBlobLabel() {
        let metrics = OndemandMetrics(maxBlobs: 1, kernel: "6.12.117")
        metrics.record(request(.read, blob: "boot", latencyUs: 150))
        metrics.record(request(.read, blob: "boot", latencyUs: 3000, length: 8192))
        metrics.record(request(.read, blob: "data", latencyUs: 40))          // over --max-blobs: other
        metrics.record(request(.read, blob: nil, latencyUs: nil))            // settled unanswered, blob unknown
        metrics.record(request(.open, blob: "boot", latencyUs: 900, length: 1 << 20))
        metrics.record(.readNeverCompleted)
        metrics.lost(12)
        metrics.lost(nil)
        metrics.setInFlight(read: .init(count: 2, oldestIssued: 1_000_000_000), open: .init(), now: 3_500_000_000)
        let text = lines(metrics)
        for expected in [
            #"ondemand_read_requests_total{blob="boot",backend="cachefiles"} 2"#,
            #"ondemand_read_requests_total{blob="other",backend="cachefiles"} 1"#,
            #"ondemand_read_requests_total{blob="",backend="cachefiles"} 1"#,
            #"ondemand_read_bytes_total{blob="boot",backend="cachefiles"} 12288"#,
            #"ondemand_read_latency_seconds_count{blob="boot",backend="cachefiles"} 2"#,
            #"ondemand_read_latency_seconds_count{blob="",backend="cachefiles"} 0"#,
            #"ondemand_read_latency_seconds_bucket{blob="boot",backend="cachefiles",le="0.0002"} 1"#,
            #"ondemand_read_latency_seconds_bucket{blob="boot",backend="cachefiles",le="0.003"} 2"#,
            #"ondemand_read_latency_seconds_bucket{blob="boot",backend="cachefiles",le="0.002"} 1"#,
            #"ondemand_read_latency_seconds_bucket{blob="other",backend="cachefiles",le="0.00005"} 1"#,
            #"ondemand_open_requests_total{blob="boot",backend="cachefiles"} 1"#,
            #"ondemand_open_latency_seconds_bucket{blob="boot",backend="cachefiles",le="0.001"} 1"#,
            #"ondemand_anomalies_total{kind="read_never_completed",backend="cachefiles"} 1"#,
            #"ondemand_anomalies_total{kind="id_mismatch",backend="cachefiles"} 0"#,
            #"ondemand_lost_events_total{backend="cachefiles"} 13"#,
            #"ondemand_requests_in_flight{op="read",backend="cachefiles"} 2.0"#,
            #"ondemand_oldest_in_flight_seconds{op="read",backend="cachefiles"} 2.5"#,
            #"ondemand_oldest_in_flight_seconds{op="open",backend="cachefiles"} 0.0"#,
            #"ondemand_monitor_info{kernel="6.12.117",version="\#(ToolVersion.current)",backend="cachefiles"} 1.0"#,
        ] {
            #expect(text.contains(expected), "missing: \(expected)")
        }
        let sum = text.first { $0.hasPrefix(#"ondemand_read_latency_seconds_sum{blob="boot",backend="cachefiles"}"#) }
        #expect(sum == #"ondemand_read_latency_seconds_sum{blob="boot",backend="cachefiles"} 0.00315"#)
    }

    @Test func bucketsSpan50MicrosecondsTo10SecondsAndHoldNydusdsBoundaries() {
        let buckets = OndemandMetrics.latencyBuckets
        #expect(buckets.first == 0.00005 && buckets.last == 10)
        for nydusd in [0.0002, 0.001, 0.02, 0.05, 0.5, 1, 2] { #expect(buckets.contains(nydusd)) }
        for (a, b) in zip(buckets, buckets.dropFirst()) { #expect(b / a <= 1.7, "\(a) -> \(b) too coarse for p50/p99") }
    }

    @Test func openMetricsNamesCountersWithoutTotalAndEndsWithEOF() {
        let metrics = OndemandMetrics(maxBlobs: 4, kernel: "k")
        metrics.record(request(.read, blob: "boot", latencyUs: 150))
        let om = String(decoding: metrics.exposition(openMetrics: true), as: UTF8.self)
        let prom = String(decoding: metrics.exposition(openMetrics: false), as: UTF8.self)
        #expect(om.hasSuffix("\n# EOF\n"))
        #expect(om.contains("# TYPE ondemand_read_requests counter\n"))
        #expect(om.contains("# HELP ondemand_read_requests READ"))
        #expect(om.contains(#"ondemand_read_requests_total{blob="boot",backend="cachefiles"} 1"#))
        #expect(!om.contains("# TYPE ondemand_read_requests_total"))
        #expect(om.contains("# TYPE ondemand_read_latency_seconds histogram\n"))
        #expect(prom.contains("# TYPE ondemand_read_requests_total counter\n"))
        #expect(!prom.contains("# EOF"))
        // Everything else is the same text.
        let strip = { (s: String) in s.split(separator: "\n").filter { !$0.hasPrefix("#") } }
        #expect(strip(om) == strip(prom))
    }
}
