/// The report as one JSON document; its schema is docs/report-schema.md (keep them in step).
public enum ReportJSON {
    public static let schema = "ondemand-trace/report/1"

    /// `trailing` writes further keys (e.g. `run`'s `runs` and `run` sections) before the document closes.
    public static func render(_ m: ReportModel, schema: String = schema, trailing: ((inout JSONWriter) -> Void)? = nil) -> String {
        var w = JSONWriter()
        let s = m.stats
        func optional(_ v: String?) { if let v { w.string(v) } else { w.null() } }
        func optionalNumber<T: BinaryInteger>(_ v: T?) { if let v { w.number(Int64(v)) } else { w.null() } }
        func seconds(_ ns: UInt64?) { if let ns { w.raw(JSONWriter.format(Double(ns) / 1e9, decimals: 9)) } else { w.null() } }

        w.objectStart()
        w.key("schema"); w.string(schema)
        w.key("backend"); w.string(m.backend.rawValue)
        w.key("trace"); w.objectStart()
        w.key("path"); w.string(m.metadata.path)
        w.key("format"); w.string(m.metadata.format)
        w.key("format_description"); w.string(m.metadata.formatDescription)
        w.key("kernel_release"); optional(m.metadata.kernelRelease)
        w.key("clock"); optional(m.metadata.clock)
        w.key("records"); w.number(m.metadata.recordsSeen)
        w.key("ondemand_events"); w.number(m.metadata.ondemandEvents)
        w.key("markers"); w.number(m.markersSeen)
        w.key("start_s"); seconds(m.traceStart)
        w.key("end_s"); seconds(m.traceEnd)
        w.objectEnd()

        w.key("filter"); w.objectStart()
        w.key("obj"); optionalNumber(s.filter.obj)
        w.key("blob"); optional(s.filter.blob)
        w.key("comm"); optional(s.filter.comm)
        w.key("pid"); optionalNumber(s.filter.pid)
        w.key("since_s"); seconds(s.filter.since)
        w.key("until_s"); seconds(s.filter.until)
        w.key("min_latency_us"); if let t = s.slowThreshold { w.number(Double(t) / 1000) } else { w.null() }
        w.objectEnd()

        w.key("reads"); w.objectStart()
        requestCounts(&w, s.reads)
        w.key("bytes"); w.number(s.reads.bytes)
        w.key("bytes_answered"); w.number(m.answeredReadBytes)
        w.key("span_s"); if let span = m.requestSpanSeconds { w.number(span, decimals: 9) } else { w.null() }
        w.key("throughput_bytes_per_s"); if let t = m.throughputBytesPerSecond { w.number(t, decimals: 0) } else { w.null() }
        latency(&w, s.reads.latency)
        w.key("stages_us"); w.objectStart()
        for stage in RequestRecord.Stage.allCases {
            guard let r = s.stages[stage] else { continue }
            w.key(stage.rawValue); summary(&w, r.summary)
        }
        w.objectEnd()
        w.key("stall_us"); if s.stall.count > 0 { summary(&w, s.stall.summary) } else { w.null() }
        w.key("joins"); w.objectStart()
        let joins: [RequestRecord.Join] = m.backend == .fanotify ? [.event, .none] : [.marker, .thread, .arrival, .none]
        for join in joins {
            w.key(join.rawValue); w.number(s.joins[join] ?? 0)
        }
        w.objectEnd()
        w.key("by_size"); w.arrayStart()
        for (bucket, row) in s.bySize.sorted(by: { $0.key < $1.key }) {
            w.objectStart()
            w.key("min_bytes"); w.number(UInt64(1) << UInt64(bucket))
            w.key("max_bytes"); w.number((UInt64(1) << UInt64(bucket + 1)) - 1)
            breakdown(&w, row)
            w.objectEnd()
        }
        w.arrayEnd()
        w.key("by_reader"); w.arrayStart()
        for (key, row) in s.byReader.sorted(by: { $0.key < $1.key }) {
            w.objectStart()
            w.key("comm"); w.string(key.comm)
            w.key("pid"); w.number(Int64(key.pid))
            breakdown(&w, row)
            w.objectEnd()
        }
        w.arrayEnd()
        w.objectEnd()

        w.key("opens"); w.objectStart()
        requestCounts(&w, s.opens)
        latency(&w, s.opens.latency)
        w.objectEnd()

        w.key("objects"); w.arrayStart()
        for o in m.objects {
            w.objectStart()
            w.key("obj"); w.number(Int64(o.obj))
            w.key("object_id"); optionalNumber(o.objectID)
            w.key("fd"); optionalNumber(o.fd)
            w.key("opens"); w.number(o.opens)
            w.key("reopens"); w.number(o.reopens)
            w.key("copens"); w.number(o.copens)
            w.key("size"); optionalNumber(o.size)
            w.key("first_open_s"); seconds(o.firstOpen)
            w.key("close_s"); seconds(o.lastClose)
            w.key("fd_release_s"); seconds(o.lastFdRelease)
            w.key("lifetime_s"); seconds(o.lifetime)
            w.key("reads"); w.number(o.reads)
            w.key("reads_answered"); w.number(o.readsCompleted)
            w.key("bytes_requested"); w.number(o.bytesRequested)
            w.key("bytes_written"); w.number(o.bytesWritten)
            w.key("fd_writes"); w.number(o.fdWrites)
            w.key("volume"); optional(o.name?.volume)
            w.key("blob"); optional(o.name?.blob)
            w.objectEnd()
        }
        w.arrayEnd()

        w.key("blobs"); w.arrayStart()
        for row in m.blobs {
            w.objectStart()
            w.key("volume"); optional(row.name?.volume)
            w.key("blob"); optional(row.name?.blob)
            w.key("objects"); w.number(row.objects)
            w.key("reads"); w.number(row.reads)
            w.key("reads_answered"); w.number(row.readsAnswered)
            w.key("bytes_requested"); w.number(row.bytesRequested)
            w.key("latency_us"); summary(&w, row.latency.summary)
            w.objectEnd()
        }
        w.arrayEnd()

        w.key("anomalies"); w.objectStart()
        w.key("total"); w.number(m.anomalyTotal)
        w.key("by_kind"); w.objectStart()
        for kind in Anomaly.Kind.kinds(of: m.backend) { w.key(kind.rawValue); w.number(s.anomalyCounts[kind] ?? 0) }
        w.objectEnd()
        w.key("listed"); w.number(s.anomalies.count)
        w.key("list"); w.arrayStart()
        for a in m.anomaliesByTime {
            w.objectStart()
            w.key("kind"); w.string(a.kind.rawValue)
            w.key("obj"); optionalNumber(a.obj)
            w.key("time_s"); seconds(a.timestamp)
            w.key("detail"); w.string(a.detail)
            w.objectEnd()
        }
        w.arrayEnd()
        w.objectEnd()

        w.key("lost_events"); w.objectStart()
        w.key("total"); w.number(m.lost.total)
        w.key("by_cpu"); w.objectStart()
        for (cpu, n) in m.lost.byCPU.sorted(by: { $0.key < $1.key }) { w.key(String(cpu)); w.number(n) }
        w.objectEnd()
        w.key("unknown_count_drops"); w.number(m.lost.unknownCountRecords)
        w.key("ring_buffer_overruns"); w.arrayStart()
        for n in m.lost.statsOverruns { w.number(n) }
        w.arrayEnd()
        w.objectEnd()

        w.key("faults"); w.objectStart()
        for (name, n) in m.faults.sorted(by: { $0.key < $1.key }) { w.key(name); w.number(n) }
        w.objectEnd()

        w.key("slow_requests"); w.objectStart()
        w.key("count"); w.number(s.slowRequestCount)
        w.key("list"); w.arrayStart()
        for r in s.slowRequestsByIssue { request(&w, r) }
        w.arrayEnd()
        w.objectEnd()
        if let files = m.files { fileBlame(&w, files) }
        trailing?(&w)
        w.objectEnd()
        return w.output
    }

    /// `files`: per file (and `(metadata)`, `(unattributed)`), most total wait first.
    static func fileBlame(_ w: inout JSONWriter, _ blame: FileBlame) {
        w.key("files"); w.arrayStart()
        for row in blame.byWait {
            w.objectStart()
            w.key("path"); w.string(row.owner.description)
            w.key("first_miss_s"); w.raw(JSONWriter.format(Double(row.firstMissOfData) / 1e9, decimals: 9))
            w.key("reads"); w.number(row.reads)
            w.key("unanswered"); w.number(row.unanswered)
            w.key("bytes_requested"); w.number(Int64(row.bytesRequested))
            w.key("wait_total_us"); w.number(Double(row.totalWait) / 1000, decimals: 3)
            w.key("wait_us"); summary(&w, row.wait.summary)
            w.key("readers"); w.arrayStart()
            for reader in row.readers.sorted() { w.string("\(reader.comm)-\(reader.pid)") }
            w.arrayEnd()
            w.objectEnd()
        }
        w.arrayEnd()
    }

    static func requestCounts(_ w: inout JSONWriter, _ r: ReportAccumulator.RequestStats) {
        w.key("count"); w.number(r.count)
        w.key("matched"); w.number(r.matched)
        w.key("unmatched"); w.number(r.unmatched)
    }

    static func latency(_ w: inout JSONWriter, _ r: LatencyRecorder) {
        w.key("latency_us"); summary(&w, r.summary)
        w.key("percentile_error_bound"); w.number(r.errorBound, decimals: 6)
        w.key("histogram_log2_us"); w.arrayStart()
        let last = r.log2Microseconds.lastIndex { $0 > 0 } ?? -1
        if last >= 0 { for c in r.log2Microseconds[0...last] { w.number(c) } }
        w.arrayEnd()
        // [lower_us, upper_us, count] of each non-empty log-linear bucket: what `check` tests.
        w.key("histogram_us"); w.arrayStart()
        for (index, count) in r.fineMicroseconds.enumerated() where count > 0 {
            let range = LatencyRecorder.fineBucketRange(index)
            w.arrayStart(); w.number(range.lower, decimals: 4); w.number(range.upper, decimals: 4); w.number(count); w.arrayEnd()
        }
        w.arrayEnd()
    }

    static func summary(_ w: inout JSONWriter, _ s: LatencySummary) {
        w.objectStart()
        w.key("count"); w.number(s.count)
        for (name, value) in s.columns {
            w.key(name)
            if let value { w.number(value, decimals: 3) } else { w.null() }
        }
        w.objectEnd()
    }

    static func breakdown(_ w: inout JSONWriter, _ row: ReportAccumulator.BreakdownRow) {
        w.key("count"); w.number(row.count)
        w.key("bytes"); w.number(row.bytes)
        w.key("latency_us"); summary(&w, row.latency.summary)
    }

    static func request(_ w: inout JSONWriter, _ r: RequestRecord) {
        w.objectStart()
        w.key("kind"); w.string(r.kind.rawValue)
        w.key("obj"); w.number(Int64(r.obj))
        w.key("msg_id"); if let m = r.msgID { w.number(Int64(m)) } else { w.null() }
        w.key("pid"); w.number(Int64(r.pid))
        w.key("comm"); if let c = r.comm { w.string(c) } else { w.null() }
        w.key("offset"); if let o = r.offset { w.number(o) } else { w.null() }
        w.key("length"); if let l = r.length { w.number(l) } else { w.null() }
        w.key("issued_s"); w.raw(JSONWriter.format(Double(r.issued) / 1e9, decimals: 9))
        w.key("latency_us"); if let l = r.latency { w.number(Double(l) / 1000, decimals: 3) } else { w.null() }
        w.key("stall_us"); if let l = r.stall { w.number(Double(l) / 1000, decimals: 3) } else { w.null() }
        w.key("blob"); if let b = r.blob?.blob { w.string(b) } else { w.null() }
        w.objectEnd()
    }
}
