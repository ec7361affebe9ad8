/// The human-readable report: aligned columns, units in every header.
public enum ReportText {
    public struct Sections: OptionSet, Sendable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        /// The log2 histogram and the breakdowns by size and by reader.
        public static let latency = Sections(rawValue: 1)
        public static let objects = Sections(rawValue: 2)
        /// Every anomaly listed (their counts are always printed).
        public static let anomalies = Sections(rawValue: 4)
        /// Per file of the image(s) (`report --image`): which files the readers waited for.
        public static let files = Sections(rawValue: 8)
        /// Per blob (volume and cookie key) of the objects: which blob the readers waited for.
        public static let blobs = Sections(rawValue: 16)
    }

    public static func render(_ m: ReportModel, sections: Sections) -> String {
        var out = ""
        func line(_ s: String = "") { out += s + "\n" }
        let s = m.stats
        let fanotify = m.backend == .fanotify
        // The fanotify path's request is a pre-content event: the reader's hook to the listener's answer.
        let request = fanotify ? "hook -> answer" : "read -> cread"

        line("ondemand-trace report: \(m.metadata.path)")
        var input = "input:    \(m.metadata.formatDescription)"
        if let k = m.metadata.kernelRelease { input += ", kernel \(k)" }
        if let c = m.metadata.clock { input += ", clock \(c)" }
        if fanotify { input += ", fanotify pre-content events" }
        line(input)
        if let a = m.traceStart, let b = m.traceEnd {
            line("trace:    \(TimeText.seconds(a)) s .. \(TimeText.seconds(b)) s (\(fixed(Double(b - a) / 1e9, 3)) s), "
                 + "\(m.metadata.ondemandEvents) on-demand events in \(m.metadata.recordsSeen) records")
        }
        if !s.filter.isEmpty { line("filter:   \(filterText(s.filter))") }
        line()
        func requests(_ n: Int) -> String { n == 1 ? "1 request" : "\(n) requests" }
        line("\(fanotify ? "EVENT" : "READ ")     \(requests(s.reads.count)): \(s.reads.matched) answered, \(s.reads.unmatched) unanswered; "
             + "\(s.reads.bytes) bytes (\(bytesText(s.reads.bytes)))")
        if let span = m.requestSpanSeconds, let tput = m.throughputBytesPerSecond {
            line("          \(fixed(span, 6)) s from first request to last answer, \(bytesText(UInt64(tput)))/s answered")
        }
        if !fanotify {
            let failed = s.anomalyCounts[.openFailed] ?? 0
            line("OPEN      \(requests(s.opens.count)): \(s.opens.matched) answered" + (failed > 0 ? " (\(failed) with an error)" : "")
                 + ", \(s.opens.unmatched) unanswered")
        }
        if m.markersSeen > 0 {
            line("markers:  \(m.markersSeen) daemon markers (" + (fanotify ? "file names, faults" : "exact join, stage breakdown") + ")")
        }
        if !m.faults.isEmpty {
            line("faults:   " + m.faults.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ")
                 + " (injected, announced by the daemon)")
        }
        line()

        var table = Table(header: ["latency (µs)", "count", "min", "mean", "p50", "p90", "p99", "p99.9", "max"],
                          rightAligned: Set(1...8))
        func summaryRow(_ name: String, _ r: LatencyRecorder) {
            let sum = r.summary
            table.add([name, String(sum.count)] + sum.columns.map { $0.value.map { fixed($0, 1) } ?? "-" })
        }
        summaryRow(request, s.reads.latency)
        if !fanotify { summaryRow("open -> copen", s.opens.latency) }
        for stage in RequestRecord.Stage.allCases {
            if let r = s.stages[stage] { summaryRow("  \(stage.rawValue)", r) }
        }
        if s.stall.count > 0 { summaryRow(fanotify ? "hook -> return (stall)" : "read -> resumed (stall)", s.stall) }
        out += table.text
        let staged = RequestRecord.Stage.allCases.filter { s.stages[$0] != nil }
        if !staged.isEmpty {
            line("  stages: " + staged.map { "\($0.rawValue) = \($0.explanation(for: m.backend))" }.joined(separator: "; "))
        }
        line(s.reads.latency.errorBound == 0 && s.opens.latency.errorBound == 0
             ? "  all values exact"
             : "  percentiles from an HdrHistogram (over \(s.reads.latency.exactLimit) values): at most 0.1% above the exact value (stages: 1%); min, mean, max exact")

        if sections.contains(.latency) {
            line()
            line("\(request) latency histogram")
            out += histogram(s.reads.latency.log2Microseconds)
            line()
            var bySize = Table(header: ["request size", "count", "bytes", "p50 µs", "p99 µs", "max µs"],
                               rightAligned: Set(1...5))
            for (bucket, row) in s.bySize.sorted(by: { $0.key < $1.key }) {
                bySize.add([sizeBucketText(bucket), String(row.count), String(row.bytes)] + breakdownLatency(row))
            }
            out += bySize.text
            line()
            var byReader = Table(header: ["reader", "count", "bytes", "p50 µs", "p99 µs", "max µs"], rightAligned: Set(1...5))
            for (key, row) in s.byReader.sorted(by: { $0.key < $1.key }) {
                byReader.add(["\(key.comm)-\(key.pid)", String(row.count), String(row.bytes)] + breakdownLatency(row))
            }
            out += byReader.text
            if s.bySize.values.contains(where: { $0.latency.errorBound > 0 }) {
                line("  breakdown percentiles from an HdrHistogram: at most 1% above the exact value")
            }
        }

        if let threshold = s.slowThreshold {
            line()
            line("requests slower than \(fixed(Double(threshold) / 1000, 1)) µs: \(s.slowRequestCount)")
            var slow = Table(header: ["issued s", "kind", "obj", "msg_id", "reader", "offset", "length", "latency µs"],
                             rightAligned: [0, 2, 3, 5, 6, 7])
            for r in s.slowRequestsByIssue {
                slow.add([TimeText.seconds(r.issued), r.kind.rawValue, String(r.obj), r.msgID.map(String.init) ?? "-",
                          "\(r.comm ?? "?")-\(r.pid)", r.offset.map(String.init) ?? "-", r.length.map(String.init) ?? "-",
                          fixed(Double(r.latency ?? 0) / 1000, 1)])
            }
            if !s.slowRequests.isEmpty { out += slow.text }
            if s.slowRequestCount > s.slowRequests.count {
                line("  (\(s.slowRequestCount - s.slowRequests.count) more not listed)")
            }
        }

        if sections.contains(.blobs) {
            line()
            out += blobsTable(m.blobs)
        }

        if sections.contains(.objects) {
            line()
            // The blob column only when the trace names objects (older traces print as before).
            let named = m.objects.contains { $0.name != nil }
            var objects = Table(header: ["obj", "object_id", "opens", "size bytes", "reads", "answered", "requested bytes",
                                         "written bytes", "first open s", "close s", "fd_release s", "lifetime s"]
                                    + (named ? ["blob"] : []),
                                rightAligned: Set(0...11))
            for o in m.objects {
                var row: [String] = [String(o.obj), o.objectID.map(String.init) ?? "-", String(o.opens),
                                     o.size.map(String.init) ?? "-", String(o.reads), String(o.readsCompleted),
                                     String(o.bytesRequested), String(o.bytesWritten),
                                     o.firstOpen.map(TimeText.seconds) ?? "-", o.lastClose.map(TimeText.seconds) ?? "-",
                                     o.lastFdRelease.map(TimeText.seconds) ?? "-",
                                     o.lifetime.map { fixed(Double($0) / 1e9, 6) } ?? "-"]
                if named { row.append(o.name?.description ?? "-") }
                objects.add(row)
            }
            out += objects.text
            let reopened = m.objects.filter { $0.reopens > 0 }
            if !reopened.isEmpty {
                line("  reopened: " + reopened.map { "obj \($0.obj) ×\($0.reopens)" }.joined(separator: ", "))
            }
        }

        if sections.contains(.files), let blame = m.files {
            line()
            out += filesTable(blame)
        }

        line()
        if m.anomalyTotal == 0 {
            line("anomalies: none")
        } else {
            line("anomalies: \(m.anomalyTotal) — "
                 + s.anomalyCounts.sorted { $0.key < $1.key }.map { "\($0.key.rawValue) \($0.value)" }.joined(separator: ", ")
                 + (sections.contains(.anomalies) ? "" : " (--anomalies lists them)"))
            if sections.contains(.anomalies) {
                var list = Table(header: ["time s", "kind", "obj", "detail"], rightAligned: [0, 2])
                for a in m.anomaliesByTime {
                    list.add([TimeText.seconds(a.timestamp), a.kind.rawValue, a.obj.map(String.init) ?? "-", a.detail])
                }
                out += list.text
                if m.anomalyTotal > s.anomalies.count { line("  (\(m.anomalyTotal - s.anomalies.count) more not listed)") }
            }
        }
        if m.lost.any {
            line("lost events: \(m.lost.total) counted in the data"
                 + (m.lost.unknownCountRecords > 0 ? ", \(m.lost.unknownCountRecords) drop(s) of unknown size" : "")
                 + (m.lost.statsTotal > 0 ? ", \(m.lost.statsTotal) overrun/dropped in ring-buffer stats" : "")
                 + ": requests around them may be mis-joined")
        }
        return out
    }

    /// `--blobs`: per blob, ordered by blob.
    public static func blobsTable(_ rows: [BlobRow]) -> String {
        guard !rows.isEmpty else {
            return "blobs: the trace names no object (record names them; or --blob-names OBJ=NAME)\n"
        }
        var table = Table(header: ["blob", "volume", "objects", "reads", "answered", "bytes", "p50 µs", "p99 µs", "max µs"],
                          rightAligned: Set(2...8))
        for row in rows {
            let r = row.latency
            let latency = r.count > 0
                ? [fixed(Double(r.percentileNanoseconds(50)) / 1000, 1), fixed(Double(r.percentileNanoseconds(99)) / 1000, 1),
                   fixed(Double(r.maxNanoseconds) / 1000, 1)]
                : ["-", "-", "-"]
            table.add([row.name?.blob ?? "(unnamed)", row.name?.volume ?? "-", String(row.objects), String(row.reads),
                       String(row.readsAnswered), String(row.bytesRequested)] + latency)
        }
        return "blobs: \(rows.count) (read -> cread of their READs)\n" + table.text
    }

    /// `--files`: per file, most total wait first.
    public static func filesTable(_ blame: FileBlame) -> String {
        var files = Table(header: ["wait ms", "max ms", "reads", "unanswered", "bytes", "first miss s", "readers", "path"],
                          rightAligned: Set(0...6))
        for row in blame.byWait {
            files.add([fixed(Double(row.totalWait) / 1e6, 3), row.wait.count > 0 ? fixed(Double(row.wait.maxNanoseconds) / 1e6, 3) : "-",
                       String(row.reads), String(row.unanswered), String(row.bytesRequested),
                       TimeText.seconds(row.firstMissOfData), String(row.readers.count), row.owner.description])
        }
        let others = blame.rows.map(\.owner).filter { if case .file = $0 { return false } else { return true } }
        return "files: \(blame.rows.count - others.count)" + others.map { ", plus \($0)" }.joined()
            + "; by total wait, a READ over several files counting for each\n" + files.text
    }

    static func breakdownLatency(_ row: ReportAccumulator.BreakdownRow) -> [String] {
        let r = row.latency
        guard r.count > 0 else { return ["-", "-", "-"] }
        return [fixed(Double(r.percentileNanoseconds(50)) / 1000, 1), fixed(Double(r.percentileNanoseconds(99)) / 1000, 1),
                fixed(Double(r.maxNanoseconds) / 1000, 1)]
    }

    /// A bcc-style log2 histogram of microsecond buckets.
    public static func histogram(_ counts: [UInt64]) -> String {
        guard let last = counts.lastIndex(where: { $0 > 0 }) else { return "     (no answered requests)\n" }
        let first = counts.firstIndex { $0 > 0 }!
        let peak = counts.max()!
        let ranges = (first...last).map { i -> (String, String) in
            let (low, high) = log2BucketRange(i)
            return (String(low), i == counts.count - 1 ? "inf" : String(high))
        }
        let lowWidth = max(10, ranges.map(\.0.count).max()!), highWidth = max(10, ranges.map(\.1.count).max()!)
        let countWidth = max(8, String(peak).count)
        var out = "usecs".leftPadded(to: lowWidth) + " " + "".rightPadded(to: highWidth + 4) + ": "
            + "count".rightPadded(to: countWidth) + " distribution\n"
        for (offset, i) in (first...last).enumerated() {
            let bar = Int((Double(counts[i]) / Double(peak) * 40).rounded())
            out += ranges[offset].0.leftPadded(to: lowWidth) + " -> " + ranges[offset].1.rightPadded(to: highWidth)
                + " : " + String(counts[i]).rightPadded(to: countWidth)
                + " |" + String(repeating: "*", count: bar) + String(repeating: " ", count: 40 - bar) + "|\n"
        }
        return out
    }

    /// Bucket i of `LatencyRecorder.log2Microseconds`: 0 → 0...1 µs, i → 2^i ... 2^(i+1)-1 µs.
    public static func log2BucketRange(_ i: Int) -> (low: UInt64, high: UInt64) {
        i == 0 ? (0, 1) : (1 << UInt64(i), (1 << UInt64(i + 1)) - 1)
    }

    public static func sizeBucketText(_ bucket: Int) -> String {
        "\(bytesText(1 << UInt64(bucket), exact: true)) .. <\(bytesText(1 << UInt64(bucket + 1), exact: true))"
    }

    static func filterText(_ f: ReportFilter) -> String {
        var parts: [String] = []
        if let o = f.obj { parts.append("obj \(o)") }
        if let b = f.blob { parts.append("blob \(b)") }
        if let c = f.comm { parts.append("comm \(c)") }
        if let p = f.pid { parts.append("pid \(p)") }
        if let s = f.since { parts.append("since \(TimeText.seconds(s)) s") }
        if let u = f.until { parts.append("until \(TimeText.seconds(u)) s") }
        return parts.joined(separator: ", ")
    }

    /// `2117632` → `2.02 MiB`; `exact` prints powers of two without decimals (`4 KiB`).
    public static func bytesText(_ n: UInt64, exact: Bool = false) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(n)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
        if unit == 0 { return "\(n) B" }
        return (exact && value == value.rounded() ? String(Int(value)) : fixed(value, 2)) + " " + units[unit]
    }

    public static func fixed(_ d: Double, _ decimals: Int) -> String { JSONWriter.format(d, decimals: decimals) }
}

/// Columns padded to their widest cell.
struct Table {
    var header: [String]
    var rightAligned: Set<Int>
    var rows: [[String]] = []

    init(header: [String], rightAligned: Set<Int>) {
        self.header = header
        self.rightAligned = rightAligned
    }

    mutating func add(_ row: [String]) { rows.append(row) }

    var text: String {
        let all = [header] + rows
        let cellWidths = all.map { $0.map(Self.width) }  // once per cell: counting Characters is not free
        let widths = header.indices.map { c in cellWidths.map { $0.indices.contains(c) ? $0[c] : 0 }.max() ?? 0 }
        let space = UInt8(ascii: " ")
        var out: [UInt8] = []  // bytes, made a String once: appending to a String costs more
        out.reserveCapacity(all.count * (widths.reduce(0, +) + 2 * widths.count + 1))
        for (row, cells) in zip(cellWidths, all) {
            for (c, cell) in cells.enumerated() {
                if c > 0 { out.append(space); out.append(space) }
                let pad = max(0, widths[c] - row[c])
                if rightAligned.contains(c) {
                    out.append(contentsOf: repeatElement(space, count: pad))
                    out.append(contentsOf: cell.utf8)
                } else {
                    out.append(contentsOf: cell.utf8)
                    if c < cells.count - 1 { out.append(contentsOf: repeatElement(space, count: pad)) }
                }
            }
            out.append(UInt8(ascii: "\n"))
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `cell.count`: its UTF-8 count when it is ASCII without a CR (a CR LF is one Character).
    static func width(_ cell: String) -> Int {
        cell.utf8.allSatisfy { $0 < 0x80 && $0 != 13 } ? cell.utf8.count : cell.count
    }
}
