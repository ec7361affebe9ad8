/// One blob's READs in a run, as `check` compares them (docs/report-schema.md `blobs`).
public struct BlobFigures: Sendable, Equatable {
    public var reads: Int
    public var p50: Double?
    public var p99: Double?
    public var max: Double?

    public init(reads: Int, p50: Double?, p99: Double?, max: Double?) {
        (self.reads, self.p50, self.p99, self.max) = (reads, p50, p99, max)
    }

    /// The named blobs of a report model, by blob name.
    public static func of(_ m: ReportModel) -> [String: BlobFigures] {
        var out: [String: BlobFigures] = [:]
        for row in m.blobs {
            guard let name = row.name else { continue }
            let s = row.latency.summary
            out[name.blob] = BlobFigures(reads: row.reads, p50: s.p50Microseconds, p99: s.p99Microseconds, max: s.maxMicroseconds)
        }
        return out
    }

    /// Several runs' figures of one blob: the median of each.
    static func medianOf(_ runs: [BlobFigures]) -> BlobFigures {
        func med(_ values: [Double]) -> Double? { values.isEmpty ? nil : OndemandTraceCore.median(values) }
        return BlobFigures(reads: Int(med(runs.map { Double($0.reads) }) ?? 0), p50: med(runs.compactMap(\.p50)),
                           p99: med(runs.compactMap(\.p99)), max: med(runs.compactMap(\.max)))
    }
}

/// A blob both sides name: its figures on each (informative lines of `check`; the verdict stays
/// the whole run's).
public struct BlobComparison: Sendable, Equatable {
    public var blob: String
    public var baseline: BlobFigures
    public var current: BlobFigures

    /// The blobs named on both sides, ordered by name.
    public static func of(baseline: RunSet, current: RunSet) -> [BlobComparison] {
        let b = pooled(baseline), c = pooled(current)
        return b.keys.filter { c[$0] != nil }.sorted().map { BlobComparison(blob: $0, baseline: b[$0]!, current: c[$0]!) }
    }

    static func pooled(_ set: RunSet) -> [String: BlobFigures] {
        guard set.runs.count > 1 else { return set.pooled.blobs }
        var byBlob: [String: [BlobFigures]] = [:]
        for run in set.runs { for (name, figures) in run.blobs { byBlob[name, default: []].append(figures) } }
        return byBlob.isEmpty ? set.pooled.blobs : byBlob.mapValues(BlobFigures.medianOf)
    }

    /// `check`'s text lines for them (empty when there is none).
    public static func table(_ rows: [BlobComparison]) -> String {
        guard !rows.isEmpty else { return "" }
        func us(_ v: Double?) -> String { v.map { JSONWriter.format($0, decimals: 1) } ?? "-" }
        func change(_ b: Double?, _ c: Double?) -> String {
            guard let b, let c, b != 0 else { return "" }
            return " (" + signedPercent((c - b) / b) + ")"
        }
        var cells = [["blob", "reads", "p50 µs", "p99 µs", "max µs"]]
        for r in rows {
            cells.append([r.blob, "\(r.baseline.reads) -> \(r.current.reads)",
                          "\(us(r.baseline.p50)) -> \(us(r.current.p50))" + change(r.baseline.p50, r.current.p50),
                          "\(us(r.baseline.p99)) -> \(us(r.current.p99))" + change(r.baseline.p99, r.current.p99),
                          "\(us(r.baseline.max)) -> \(us(r.current.max))" + change(r.baseline.max, r.current.max)])
        }
        let widths = (0..<5).map { c in cells.map { $0[c].count }.max() ?? 0 }
        return "\nper blob (both sides name their objects; baseline -> current, not judged):\n"
            + cells.map { row in row.enumerated().map { $0.element.rightPadded(to: widths[$0.offset]) }.joined(separator: "  ").trimmedRight() }
                .joined(separator: "\n") + "\n"
    }

    static func json(_ w: inout JSONWriter, _ rows: [BlobComparison]) {
        func side(_ f: BlobFigures) {
            w.objectStart()
            w.key("reads"); w.number(f.reads)
            for (key, v) in [("p50_us", f.p50), ("p99_us", f.p99), ("max_us", f.max)] {
                w.key(key); if let v { w.number(v, decimals: 3) } else { w.null() }
            }
            w.objectEnd()
        }
        w.key("blobs"); w.arrayStart()
        for r in rows {
            w.objectStart()
            w.key("blob"); w.string(r.blob)
            w.key("baseline"); side(r.baseline)
            w.key("current"); side(r.current)
            w.objectEnd()
        }
        w.arrayEnd()
    }
}
