#if canImport(Glibc)
import Glibc
#endif

/// One self-contained HTML page (no scripts, no network): summary, latency histogram, latency
/// over time, objects and anomalies, drawn as inline SVG. Every figure that the JSON report also
/// has carries `data-metric` / `data-value` attributes with the JSON's exact value, so a test
/// can check the page against the JSON.
public enum HTMLReport {
    public static func render(_ m: ReportModel, scatter: LatencyScatter) -> String {
        let s = m.stats
        var h = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <title>ondemand-trace report: \(escape(m.metadata.path))</title>
            <style>
            body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1d2330;background:#fff}
            h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:28px 0 8px;border-bottom:1px solid #dde;padding-bottom:4px}
            .meta{color:#5a6272} table{border-collapse:collapse;margin:6px 0}
            th,td{padding:3px 10px;text-align:right;border-bottom:1px solid #eef} th{background:#f4f6fa;font-weight:600}
            td.l,th.l{text-align:left} .cards{display:flex;gap:12px;flex-wrap:wrap}
            .card{border:1px solid #dde;border-radius:6px;padding:8px 14px;min-width:120px}
            .card .v{font-size:20px;font-weight:600} .card .k{color:#5a6272;font-size:12px}
            .bad{color:#b3261e} .ok{color:#1e7b34} svg text{font:11px system-ui,sans-serif;fill:#333}
            </style></head><body>
            <h1>ondemand-trace report</h1>
            <div class="meta">\(escape(m.metadata.path)) · \(escape(m.metadata.formatDescription))\(m.metadata.kernelRelease.map { " · kernel " + escape($0) } ?? "")\(m.metadata.clock.map { " · clock " + escape($0) } ?? "") · \(m.metadata.ondemandEvents) on-demand events in \(m.metadata.recordsSeen) records</div>

            """
        // Summary cards.
        h += "<h2>Summary</h2><div class=\"cards\">"
        h += card("READ requests", "reads.count", Double(s.reads.count), text: String(s.reads.count))
        h += card("answered", "reads.matched", Double(s.reads.matched), text: String(s.reads.matched))
        h += card("unanswered", "reads.unmatched", Double(s.reads.unmatched), text: String(s.reads.unmatched), bad: s.reads.unmatched > 0)
        h += card("bytes requested", "reads.bytes", Double(s.reads.bytes), text: ReportText.bytesText(s.reads.bytes))
        if let t = m.throughputBytesPerSecond {
            h += card("throughput", "reads.throughput_bytes_per_s", t.rounded(), text: fixed(t / 1_048_576, 2) + " MiB/s")
        }
        h += card("OPEN requests", "opens.count", Double(s.opens.count), text: String(s.opens.count))
        h += card("anomalies", "anomalies.total", Double(m.anomalyTotal), text: String(m.anomalyTotal), bad: m.anomalyTotal > 0)
        h += "</div>\n"

        // Latency table.
        h += "<h2>Latency (µs)</h2><table><tr><th class=\"l\">request</th><th>count</th>"
        for c in LatencySummary(count: 0).columns { h += "<th>\(c.name)</th>" }
        h += "</tr>"
        let fanotify = m.backend == .fanotify
        h += latencyRow(fanotify ? "hook → answer" : "read → cread", "reads.latency_us", s.reads.latency.summary)
        if !fanotify { h += latencyRow("open → copen", "opens.latency_us", s.opens.latency.summary) }
        for stage in RequestRecord.Stage.allCases {
            guard let r = s.stages[stage] else { continue }
            h += latencyRow("&nbsp;&nbsp;" + stage.rawValue + " <small>(" + escape(stage.explanation(for: m.backend)) + ")</small>", "reads.stages_us." + stage.rawValue, r.summary)
        }
        if s.stall.count > 0 {
            h += latencyRow("read → resumed <small>(stall: the wait the reader felt)</small>", "reads.stall_us", s.stall.summary)
        }
        h += "</table>\n"
        if s.reads.latency.errorBound > 0 {
            h += "<p class=\"meta\">Percentiles are at most \(fixed(s.reads.latency.errorBound * 100, 2))% above the exact value.</p>"
        }

        h += "<h2>read → cread latency histogram</h2>\n" + histogramSVG(s.reads.latency.log2Microseconds)
        // One time axis for the charts over time: the trace's span, at the same place on the page.
        let axis = TimeAxis(model: m, scatter: scatter)
        h += "<h2>Latency over time</h2>\n" + scatterSVG(scatter, axis: axis)
        if let files = m.files {
            h += "<h2>Files, in the order the readers first missed them</h2>\n" + waterfallSVG(files, axis: axis)
        }
        if !m.blobs.isEmpty { h += "<h2>Blobs</h2>\n" + blobsTable(m.blobs) }
        h += "<h2>Objects</h2>\n" + objectsTable(m)
        h += "<h2>Anomalies</h2>\n" + anomaliesList(m)
        if m.lost.any {
            h += "<p class=\"bad\" data-metric=\"lost_events.total\" data-value=\"\(m.lost.total)\">The ring buffer dropped \(m.lost.total) event(s)"
            h += m.lost.unknownCountRecords > 0 ? " (and an unknown number in \(m.lost.unknownCountRecords) place(s))" : ""
            h += m.lost.statsTotal > 0 ? "; ring-buffer stats count \(m.lost.statsTotal) overrun/dropped" : ""
            h += ": correlation around them may be wrong.</p>"
        }
        h += "\n<p class=\"meta\">Made by ondemand-trace. Times are seconds of the trace clock.</p></body></html>\n"
        return h
    }

    static func card(_ label: String, _ metric: String, _ value: Double, text: String, bad: Bool = false) -> String {
        "<div class=\"card\"><div class=\"v\(bad ? " bad" : "")\" data-metric=\"\(metric)\" data-value=\"\(JSONWriter.format(value, decimals: 0))\">\(escape(text))</div><div class=\"k\">\(escape(label))</div></div>"
    }

    static func latencyRow(_ label: String, _ prefix: String, _ s: LatencySummary) -> String {
        var row = "<tr><td class=\"l\">\(label)</td><td>\(s.count)</td>"
        for c in s.columns {
            if let v = c.value {
                row += "<td data-metric=\"\(prefix).\(c.name)\" data-value=\"\(JSONWriter.format(v, decimals: 3))\">\(fixed(v, 1))</td>"
            } else {
                row += "<td>-</td>"
            }
        }
        return row + "</tr>"
    }

    /// Bars of the log2 histogram: y in READs on integer ticks (the axis ends at the tick at or
    /// above the highest count), x each bucket's lower bound in µs (as the caption says).
    static func histogramSVG(_ counts: [UInt64]) -> String {
        guard let last = counts.lastIndex(where: { $0 > 0 }), let first = counts.firstIndex(where: { $0 > 0 }) else {
            return "<p class=\"meta\">No answered READ requests.</p>"
        }
        let buckets = Array(first...last)
        let ticks = countTicks(counts.max() ?? 1)
        let top = Double(ticks.last!)
        let barWidth = 56.0, height = 180.0, left = 64.0, margin = 10.0, bottom = 46.0
        let width = max(480, left + Double(buckets.count) * barWidth + 20)
        func y(_ count: Double) -> Double { margin + height - count / top * height }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height + margin + bottom))\" role=\"img\" aria-label=\"latency histogram\" data-chart=\"histogram\">"
        for tick in ticks {
            let yy = y(Double(tick))
            svg += "<line x1=\"\(Int(left))\" y1=\"\(fixed(yy, 1))\" x2=\"\(Int(width - 10))\" y2=\"\(fixed(yy, 1))\" stroke=\"#eef\"/>"
            svg += "<text class=\"ytick\" data-value=\"\(tick)\" x=\"\(Int(left - 6))\" y=\"\(fixed(yy + 4, 1))\" text-anchor=\"end\">\(tick)</text>"
        }
        svg += line(left, margin, left, margin + height) + line(left, margin + height, width - 10, margin + height)
        svg += "<text x=\"14\" y=\"\(Int(margin + height / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 14 \(Int(margin + height / 2)))\">READs</text>"
        for (i, b) in buckets.enumerated() {
            let h = Double(counts[b]) / top * height
            let x = left + Double(i) * barWidth + 4
            let range = ReportText.log2BucketRange(b)
            let upper = b == counts.count - 1 ? "" : "-\(range.high)"
            svg += "<rect x=\"\(fixed(x, 1))\" y=\"\(fixed(y(Double(counts[b])), 1))\" width=\"\(Int(barWidth - 8))\" height=\"\(fixed(h, 1))\" fill=\"#3b6fd8\" data-bucket-low-us=\"\(range.low)\" data-count=\"\(counts[b])\"><title>\(range.low)\(upper) µs: \(counts[b]) READ\(counts[b] == 1 ? "" : "s")</title></rect>"
            svg += "<text class=\"xtick\" data-value=\"\(range.low)\" x=\"\(fixed(x + (barWidth - 8) / 2, 1))\" y=\"\(Int(margin + height + 14))\" text-anchor=\"middle\">\(range.low)</text>"
        }
        svg += "<text x=\"\(Int(left + (width - left) / 2))\" y=\"\(Int(margin + height + 36))\" text-anchor=\"middle\">latency, µs (log2 buckets: lower bound)</text>"
        return svg + "</svg>\n"
    }

    /// Integer ticks from 0 for counts up to `maxCount`: a step of 1, 2 or 5 × 10^k giving at most
    /// 6 steps, and the last tick the first at or above `maxCount`.
    static func countTicks(_ maxCount: UInt64) -> [UInt64] {
        let target = max(1, maxCount)
        var step: UInt64 = 1
        outer: for scale in sequence(first: UInt64(1), next: { $0 < UInt64.max / 10 ? $0 * 10 : nil }) {
            for m: UInt64 in [1, 2, 5] where (target + m * scale - 1) / (m * scale) <= 6 {
                step = m * scale
                break outer
            }
        }
        let steps = (target + step - 1) / step
        return (0...steps).map { $0 * step }
    }

    /// The time axis of the charts over time: the trace's span (and any point outside it), drawn
    /// between the same x positions in each chart, with ticks at round seconds.
    struct TimeAxis {
        var t0: UInt64
        var t1: UInt64
        static let left = 220.0, right = 970.0, width = 980.0

        init(t0: UInt64, t1: UInt64) { (self.t0, self.t1) = (t0, max(t1, t0 + 1)) }

        init(model m: ReportModel, scatter: LatencyScatter) {
            let issued = scatter.points.map(\.issued)
            let spans = m.files?.byFirstMiss.prefix(HTMLReport.waterfallRows).flatMap { $0.spans.flatMap { [$0.issued, $0.completed ?? $0.issued] } } ?? []
            let all = issued + spans + [m.traceStart, m.traceEnd].compactMap { $0 }
            self.init(t0: all.min() ?? 0, t1: all.max() ?? 1)
        }

        func x(_ t: UInt64) -> Double { Self.left + Double(t &- t0) / Double(t1 - t0) * (Self.right - Self.left) }

        /// Ticks at the multiples of a 1, 2 or 5 × 10^k s step (at most 7 of them) in the span,
        /// labelled with as many decimals as the step needs.
        var ticks: [(t: UInt64, label: String)] {
            let raw = Double(t1 - t0) / 1e9 / 6
            let power = pow(10, (log10(raw)).rounded(.down))
            let step = [1.0, 2, 5, 10].map { $0 * power }.first { $0 >= raw * 0.999_999 } ?? 10 * power
            let decimals = max(0, Int(-(log10(step)).rounded(.down)))
            let stepNs = max(1, UInt64((step * 1e9).rounded()))
            var out: [(UInt64, String)] = []
            var t = (t0 + stepNs - 1) / stepNs * stepNs
            while t <= t1 {
                out.append((t, JSONWriter.format(Double(t) / 1e9, decimals: decimals)))
                t += stepNs
            }
            return out
        }

        /// The axis line, its ticks and labels at `y`, and its caption.
        func svg(at y: Double) -> String {
            var svg = HTMLReport.line(Self.left, y, Self.right, y)
            for (t, label) in ticks {
                let xx = x(t)
                svg += HTMLReport.line(xx, y, xx, y + 4)
                svg += "<text class=\"xtick\" data-value=\"\(JSONWriter.format(Double(t) / 1e9, decimals: 9))\" x=\"\(HTMLReport.fixed(xx, 1))\" y=\"\(Int(y + 16))\" text-anchor=\"middle\">\(label)</text>"
            }
            svg += "<text x=\"\(Int((Self.left + Self.right) / 2))\" y=\"\(Int(y + 32))\" text-anchor=\"middle\">trace time, s (\(TimeText.seconds(t0)) s to \(TimeText.seconds(t1)) s)</text>"
            return svg
        }
    }

    static func scatterSVG(_ scatter: LatencyScatter, axis: TimeAxis) -> String {
        let points = scatter.points
        guard !points.isEmpty else { return "<p class=\"meta\">No READ requests.</p>" }
        let answered = points.compactMap(\.latency)
        let maxLatency = max(Double(answered.max() ?? 1000), 1000)
        let minLatency = max(1.0, Double(answered.min() ?? 1))
        let lowExp = (log10(minLatency / 1000)).rounded(.down), highExp = (log10(maxLatency / 1000)).rounded(.up)
        let width = TimeAxis.width, height = 260.0, top = 16.0, bottom = 44.0, left = TimeAxis.left
        func y(_ ns: Double) -> Double {
            let e = log10(max(ns, 1) / 1000)
            return top + height - (e - lowExp) / max(1, highExp - lowExp) * height
        }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height + top + bottom))\" role=\"img\" aria-label=\"latency over time\" data-chart=\"scatter\">"
        svg += line(left, top, left, top + height)
        var e = lowExp
        while e <= highExp {
            let yy = top + height - (e - lowExp) / max(1, highExp - lowExp) * height
            svg += "<text class=\"ytick\" data-value-us=\"\(JSONWriter.format(pow(10, e), decimals: 3))\" x=\"\(Int(left - 6))\" y=\"\(Int(yy + 4))\" text-anchor=\"end\">\(tickLabel(exponent: e))</text>"
            svg += "<line x1=\"\(Int(left))\" y1=\"\(fixed(yy, 1))\" x2=\"\(Int(width - 10))\" y2=\"\(fixed(yy, 1))\" stroke=\"#eef\"/>"
            e += 1
        }
        svg += "<text x=\"\(Int(left - 60))\" y=\"\(Int(top + height / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 \(Int(left - 60)) \(Int(top + height / 2)))\">latency (log scale)</text>"
        for p in points {
            let t = JSONWriter.format(Double(p.issued) / 1e9, decimals: 9)
            if let l = p.latency {
                svg += "<circle cx=\"\(fixed(axis.x(p.issued), 1))\" cy=\"\(fixed(y(Double(l)), 1))\" r=\"2.5\" fill=\"#3b6fd8\" fill-opacity=\"0.7\" data-t=\"\(t)\"><title>\(TimeText.seconds(p.issued)) s: \(fixed(Double(l) / 1000, 1)) µs (obj \(p.obj))</title></circle>"
            } else {
                svg += "<path d=\"M\(fixed(axis.x(p.issued) - 3, 1)) \(Int(top + 2))l6 6m0 -6l-6 6\" stroke=\"#b3261e\" stroke-width=\"1.5\" data-t=\"\(t)\"><title>\(TimeText.seconds(p.issued)) s: never answered (obj \(p.obj))</title></path>"
            }
        }
        svg += axis.svg(at: top + height)
        svg += "<text x=\"\(Int(width - 10))\" y=\"\(Int(top - 4))\" text-anchor=\"end\">● a READ at its issue time; × never answered</text>"
        svg += "</svg>\n"
        if scatter.seen > points.count {
            svg += "<p class=\"meta\">\(points.count) of \(scatter.seen) requests shown (evenly spread).</p>"
        }
        return svg
    }

    static func objectsTable(_ m: ReportModel) -> String {
        guard !m.objects.isEmpty else { return "<p class=\"meta\">No objects.</p>" }
        var t = "<table><tr><th>obj</th><th>object_id</th><th>size</th><th>opens</th><th>reads</th><th>answered</th><th>bytes requested</th><th>bytes written</th><th>lifetime s</th><th class=\"l\">volume</th><th class=\"l\">blob</th></tr>"
        for o in m.objects.prefix(2000) {
            t += "<tr><td>\(o.obj)</td><td>\(o.objectID.map(String.init) ?? "-")</td><td>\(o.size.map(String.init) ?? "-")</td><td>\(o.opens)</td>"
            t += "<td data-metric=\"objects.\(o.obj).reads\" data-value=\"\(o.reads)\">\(o.reads)</td><td>\(o.readsCompleted)</td>"
            t += "<td>\(o.bytesRequested)</td><td>\(o.bytesWritten)</td><td>\(o.lifetime.map { TimeText.seconds($0) } ?? "-")</td>"
            t += "<td class=\"l\">\(escape(o.name?.volume ?? "-"))</td><td class=\"l\">\(escape(o.name?.blob ?? "-"))</td></tr>"
        }
        t += "</table>"
        if m.objects.count > 2000 { t += "<p class=\"meta\">First 2000 of \(m.objects.count) objects.</p>" }
        return t + "\n"
    }

    static func blobsTable(_ rows: [BlobRow]) -> String {
        var t = "<table><tr><th class=\"l\">blob</th><th class=\"l\">volume</th><th>objects</th><th>reads</th><th>answered</th><th>bytes requested</th><th>p50 µs</th><th>p99 µs</th><th>max µs</th></tr>"
        for (i, row) in rows.enumerated() {
            let sum = row.latency.summary
            func us(_ v: Double?) -> String { v.map { fixed($0, 1) } ?? "-" }
            t += "<tr><td class=\"l\">\(escape(row.name?.blob ?? "(unnamed)"))</td><td class=\"l\">\(escape(row.name?.volume ?? "-"))</td>"
            t += "<td>\(row.objects)</td><td>\(row.reads)</td><td>\(row.readsAnswered)</td>"
            t += "<td>\(row.bytesRequested)</td><td>\(us(sum.p50Microseconds))</td><td>\(us(sum.p99Microseconds))</td><td>\(us(sum.maxMicroseconds))</td></tr>"
        }
        return t + "</table>\n"
    }

    static func anomaliesList(_ m: ReportModel) -> String {
        let s = m.stats
        guard m.anomalyTotal > 0 else { return "<p class=\"ok\">None.</p>\n" }
        var t = "<table><tr><th class=\"l\">kind</th><th>count</th></tr>"
        for (kind, n) in s.anomalyCounts.sorted(by: { $0.key < $1.key }) {
            t += "<tr><td class=\"l\">\(kind.rawValue)</td><td data-metric=\"anomalies.by_kind.\(kind.rawValue)\" data-value=\"\(n)\">\(n)</td></tr>"
        }
        t += "</table><table><tr><th>time s</th><th class=\"l\">kind</th><th>obj</th><th class=\"l\">detail</th></tr>"
        for a in m.anomaliesByTime.prefix(500) {
            t += "<tr><td>\(TimeText.seconds(a.timestamp))</td><td class=\"l bad\">\(a.kind.rawValue)</td><td>\(a.obj.map(String.init) ?? "-")</td><td class=\"l\">\(escape(a.detail))</td></tr>"
        }
        t += "</table>"
        if s.anomalies.count > 500 { t += "<p class=\"meta\">First 500 of \(s.anomalies.count) listed anomalies.</p>" }
        return t + "\n"
    }

    static func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double) -> String {
        "<line x1=\"\(fixed(x1, 1))\" y1=\"\(fixed(y1, 1))\" x2=\"\(fixed(x2, 1))\" y2=\"\(fixed(y2, 1))\" stroke=\"#888\"/>"
    }

    static func shortMicros(_ us: UInt64) -> String {
        if us >= 1_000_000 { return "\(us / 1_000_000)s" }
        if us >= 1000 { return "\(us / 1000)ms" }
        return "\(us)µs"
    }

    static func fixed(_ d: Double, _ decimals: Int) -> String { JSONWriter.format(d, decimals: decimals) }

    /// One row per file (the first `waterfallRows` missed), a bar from each READ to its answer
    /// (red to the end of the trace when it never came): what a start-up waited for, and when. On
    /// the time axis of the latency chart.
    static func waterfallSVG(_ blame: FileBlame, axis: TimeAxis) -> String {
        let rows = Array(blame.byFirstMiss.prefix(waterfallRows))
        guard !rows.isEmpty else { return "<p class=\"meta\">No READ touched a file of the image.</p>" }
        let label = TimeAxis.left, width = TimeAxis.width, rowHeight = 14.0, top = 8.0
        let height = top + Double(rows.count) * rowHeight + 44
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" role=\"img\" aria-label=\"file waterfall\" data-chart=\"waterfall\">"
        for (i, row) in rows.enumerated() {
            let y = top + Double(i) * rowHeight
            let name = row.owner.description
            let shown = name.count > 34 ? "…" + String(name.suffix(33)) : name
            svg += "<text x=\"\(Int(label - 6))\" y=\"\(fixed(y + 10, 1))\" text-anchor=\"end\" data-file=\"\(escape(name))\"><title>\(escape(name)): \(row.reads) READ(s), \(fixed(Double(row.totalWait) / 1e6, 3)) ms waited</title>\(escape(shown))</text>"
            for span in row.spans {
                let a = axis.x(span.issued), b = axis.x(span.completed ?? axis.t1)
                let what = span.completed.map { "answered after \(fixed(Double($0 &- span.issued) / 1e6, 3)) ms" } ?? "never answered"
                svg += "<rect x=\"\(fixed(a, 1))\" y=\"\(fixed(y + 2, 1))\" width=\"\(fixed(max(1, b - a), 1))\" height=\"\(Int(rowHeight - 4))\" fill=\"\(span.completed == nil ? "#b3261e" : "#3b6fd8")\" fill-opacity=\"0.75\" data-t=\"\(JSONWriter.format(Double(span.issued) / 1e9, decimals: 9))\"><title>\(escape(name)): READ at \(TimeText.seconds(span.issued)) s, \(what)</title></rect>"
            }
        }
        svg += axis.svg(at: top + Double(rows.count) * rowHeight + 4)
        svg += "</svg>\n"
        if blame.rows.count > rows.count { svg += "<p class=\"meta\">The first \(rows.count) of \(blame.rows.count) files; all are in the JSON report (`files`).</p>" }
        return svg
    }

    /// The rows `FileBlame` keeps spans for.
    static let waterfallRows = FileBlame.spanRows

    /// The label of the axis tick at 10^`exponent` µs; exponents below 0 are sub-microsecond.
    static func tickLabel(exponent e: Double) -> String {
        let ns = (1000 * pow(10, e)).rounded()
        if ns < 1000 { return "\(Int(ns))ns" }
        return shortMicros(UInt64(ns / 1000))
    }

    public static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }
}
