#if canImport(Glibc)
import Glibc
#endif

/// What one run measured, as `check` needs it: the figures, the per-request latency histogram,
/// and what was measured (so unlike runs are not compared).
public struct RunFigures: Sendable, Equatable {
    /// Workload preset, image, kernel release, daemon settings...: compared key by key.
    public var identity: [String: String]
    public var values: [Metric: Double]
    public var readLatency: LatencyBuckets?
    /// The READs of each named blob (`check`'s per-blob lines), by blob name.
    public var blobs: [String: BlobFigures]

    public init(identity: [String: String], values: [Metric: Double], readLatency: LatencyBuckets?,
                blobs: [String: BlobFigures] = [:]) {
        self.identity = identity
        self.values = values
        self.readLatency = readLatency
        self.blobs = blobs
    }

    /// The figures of a report model (what `report --format json` would print), without JSON.
    public init(report m: ReportModel, identity: [String: String] = [:]) {
        let reads = m.stats.reads.latency.summary, opens = m.stats.opens.latency.summary
        var values: [Metric: Double] = [:]
        values[.p50] = reads.p50Microseconds
        values[.p90] = reads.p90Microseconds
        values[.p99] = reads.p99Microseconds
        values[.p999] = reads.p999Microseconds
        values[.mean] = reads.meanMicroseconds
        values[.max] = reads.maxMicroseconds
        values[.openP50] = opens.p50Microseconds
        values[.openP99] = opens.p99Microseconds
        values[.unmatched] = Double(m.stats.reads.unmatched + m.stats.opens.unmatched)
        values[.anomalies] = Double(m.anomalyTotal)
        if let t = m.throughputBytesPerSecond { values[.throughput] = t.rounded() / 1_048_576 }
        if let span = m.requestSpanSeconds, span > 0 { values[.requestsPerSecond] = Double(m.stats.reads.count) / span }
        var buckets: [LatencyBuckets.Bucket] = []
        for (index, count) in m.stats.reads.latency.fineMicroseconds.enumerated() where count > 0 {
            let range = LatencyRecorder.fineBucketRange(index)
            buckets.append(.init(lower: range.lower, upper: range.upper, count: Int(count)))
        }
        var id = identity
        if let kernel = m.metadata.kernelRelease, id["kernel_release"] == nil { id["kernel_release"] = kernel }
        // Runs of two on-demand paths are not one thing measured twice (cachefiles, the first,
        // is named by no key, so older reports stay comparable).
        if m.backend != .cachefiles, id["backend"] == nil, id["run.backend"] == nil { id["backend"] = m.backend.rawValue }
        self.init(identity: id, values: values, readLatency: buckets.isEmpty ? nil : LatencyBuckets(buckets),
                  blobs: BlobFigures.of(m))
    }

    /// READs answered in this run (the latency population).
    public var readsMeasured: Int { readLatency?.total ?? 0 }
}

/// One side of a comparison: the runs of one or more report documents. `pooled` is the
/// document's own top-level figures when there is one document, else the runs merged.
public struct RunSet: Sendable, Equatable {
    public var runs: [RunFigures]
    public var pooled: RunFigures

    public init(runs: [RunFigures], pooled: RunFigures) {
        self.runs = runs
        self.pooled = pooled
    }

    /// A single run (an old single-run report, or a trace).
    public init(single: RunFigures) { self.init(runs: [single], pooled: single) }

    /// Several documents' runs as one side.
    public init(merging sets: [RunSet]) {
        precondition(!sets.isEmpty)
        if sets.count == 1 { self = sets[0]; return }
        let runs = sets.flatMap(\.runs)
        var merged: [Metric: Double] = [:]
        for metric in Metric.allCases {
            let values = runs.compactMap { $0.values[metric] }
            guard !values.isEmpty else { continue }
            merged[metric] = metric.isCount ? values.max()! : median(values)
        }
        var counts: [LatencyBuckets.Bucket] = []
        for run in runs { counts += run.readLatency?.buckets ?? [] }
        var byRange: [Double: LatencyBuckets.Bucket] = [:]
        for b in counts { byRange[b.lower, default: .init(lower: b.lower, upper: b.upper, count: 0)].count += b.count }
        self.init(runs: runs, pooled: RunFigures(identity: sets[0].pooled.identity, values: merged,
                                                 readLatency: byRange.isEmpty ? nil : LatencyBuckets(Array(byRange.values))))
    }
}

public struct CheckResult: Sendable, Equatable {
    public enum Verdict: String, Sendable {
        case ok
        case notSignificant = "~"
        case regression = "REGRESSION"
        case improved
        case cannotJudge = "cannot judge"
        case missing = "not measured"

        /// The name in `check --format json`.
        public var jsonName: String {
            switch self {
            case .ok: return "ok"
            case .notSignificant: return "not_significant"
            case .regression: return "regression"
            case .improved: return "improved"
            case .cannotJudge: return "cannot_judge"
            case .missing: return "missing"
            }
        }
    }

    /// How the latency metrics were tested.
    public enum Mode: String, Sendable {
        /// The run is the unit: each run's value on both sides, Mann-Whitney across runs.
        case acrossRuns = "across_runs"
        /// One run on a side: the old per-request test (run-to-run noise unknown).
        case perRequest = "per_request"
    }

    public struct Row: Sendable, Equatable {
        public var metric: Metric
        public var limit: Limit
        /// Median of the runs' values (the value itself for one run).
        public var baseline: Double?
        public var current: Double?
        /// Run-to-run spread: standard deviation of the runs' log values (≈ coefficient of variation).
        public var baselineSpread: Double?
        public var currentSpread: Double?
        public var baselineRuns = 0
        public var currentRuns = 0
        /// Relative change: Hodges-Lehmann across runs, else current/baseline - 1.
        public var change: Double?
        /// Interval of the change (relative) and its confidence.
        public var changeLower: Double?
        public var changeUpper: Double?
        public var confidence: Double?
        /// Two-sided across runs; one-sided "current slower" per request.
        public var pValue: Double?
        /// The limit as a relative change from the baseline median.
        public var limitChange: Double?
        /// Smallest change detectable with this noise and these run counts (signed: the bad direction).
        public var minDetectable: Double?
        /// The limit is closer to zero than the smallest detectable change (or the noise is unknown).
        public var belowNoiseFloor = false
        /// The estimated change (or the value, for counts and per-request) is past the limit.
        public var exceeded = false
        public var verdict: Verdict = .missing
    }

    public var rows: [Row]
    public var alpha: Double
    public var mode: Mode
    public var testName: String
    public var warnings: [String]
    /// Blobs both sides name, with their figures (informative; not judged).
    public var blobs: [BlobComparison] = []
    public var regressed: Bool { rows.contains { $0.verdict == .regression } }
}

public enum RegressionCheck {
    public static let perRequestTestName = "Mann-Whitney U (one-sided, tie-corrected, on per-request READ latencies)"
    public static let acrossRunsTestName = "Mann-Whitney U (two-sided, across runs: one value per run) with a Hodges-Lehmann interval"

    /// Keys of `identity` whose values differ between the runs (a key missing on one side differs).
    public static func differences(_ baseline: RunFigures, _ current: RunFigures) -> [(key: String, baseline: String, current: String)] {
        Set(baseline.identity.keys).union(current.identity.keys).sorted().compactMap { key in
            let b = baseline.identity[key] ?? "(none)", c = current.identity[key] ?? "(none)"
            return b == c ? nil : (key, b, c)
        }
    }

    /// One run against one run: the per-request test.
    public static func run(baseline: RunFigures, current: RunFigures, limits: [Limit], alpha: Double = 0.01) -> CheckResult {
        run(baseline: RunSet(single: baseline), current: RunSet(single: current), limits: limits, alpha: alpha)
    }

    /// Compares `current` with `baseline` under `limits`.
    ///
    /// With at least two runs on each side the run is the unit: for each metric the runs' values,
    /// a two-sided Mann-Whitney U test across runs and the Hodges-Lehmann interval of the change.
    /// A metric regresses only when the whole interval lies past its limit; a limit closer to zero
    /// than the noise floor cannot be judged (unless the interval clears it anyway). Counts
    /// (unmatched, anomalies) take the worst run and regress on the limit alone.
    /// With one run on a side: the per-request test of earlier versions, with a warning.
    public static func run(baseline: RunSet, current: RunSet, limits: [Limit], alpha: Double = 0.01) -> CheckResult {
        var result = metrics(baseline: baseline, current: current, limits: limits, alpha: alpha)
        result.blobs = BlobComparison.of(baseline: baseline, current: current)
        return result
    }

    static func metrics(baseline: RunSet, current: RunSet, limits: [Limit], alpha: Double) -> CheckResult {
        if baseline.runs.count < 2 || current.runs.count < 2 {
            var result = perRequest(baseline: baseline.pooled, current: current.pooled, limits: limits, alpha: alpha)
            for i in result.rows.indices {
                result.rows[i].baselineRuns = baseline.runs.count
                result.rows[i].currentRuns = current.runs.count
            }
            result.warnings.append("\(baseline.runs.count) baseline run(s), \(current.runs.count) current run(s): the run-to-run noise is unknown, so latency is judged on the per-request test, which calls every difference between two runs real; take at least 5 runs on each side (run --repeat 5)")
            return result
        }
        var quantiles: [Int: Double?] = [:]
        func q(_ m: Int, _ n: Int) -> Double? {
            if let cached = quantiles[m * 10_000 + n] { return cached }
            let value = NoiseFloor.quantile(m: m, n: n, alpha: alpha)
            quantiles[m * 10_000 + n] = value
            return value
        }
        var warnings: [String] = []
        let rows = limits.map { limit -> CheckResult.Row in
            let metric = limit.metric
            let x = baseline.runs.compactMap { $0.values[metric] }
            let y = current.runs.compactMap { $0.values[metric] }
            var row = CheckResult.Row(metric: metric, limit: limit)
            row.baselineRuns = x.count
            row.currentRuns = y.count
            guard !y.isEmpty, !x.isEmpty || isAbsolute(limit) else { return row }
            if metric.isCount {
                let b = x.max() ?? 0, c = y.max()!
                row.baseline = x.max()
                row.current = c
                row.exceeded = limit.isExceeded(baseline: b, current: c)
                row.verdict = row.exceeded ? .regression : .ok
                if b != 0 { row.change = (c - b) / b }
                return row
            }
            guard !x.isEmpty else { return row }
            let bx = median(x), cy = median(y)
            row.baseline = bx
            row.current = cy
            row.baselineSpread = NoiseFloor.logSpread(x)
            row.currentSpread = NoiseFloor.logSpread(y)
            row.pValue = MannWhitneyExact.test(baseline: x, current: y)?.p
            let worse = metric.higherIsWorse
            let threshold = limit.threshold(baseline: bx)
            guard bx > 0, let shift = ShiftInterval.compute(baseline: x, current: y, alpha: alpha) else {
                // Zero or negative values: no ratio; judge the medians on the limit alone.
                row.exceeded = limit.isExceeded(baseline: bx, current: cy)
                row.verdict = row.exceeded ? .regression : .ok
                return row
            }
            let limitRatio = threshold / bx
            row.limitChange = limitRatio - 1
            row.change = shift.ratio - 1
            row.changeLower = shift.lower.map { $0 - 1 }
            row.changeUpper = shift.upper.map { $0 - 1 }
            row.confidence = shift.confidence
            row.exceeded = worse ? shift.ratio > limitRatio + 1e-12 : shift.ratio < limitRatio - 1e-12
            var floorRatio: Double?
            if let sigma = row.baselineSpread, let quantile = q(x.count, y.count) {
                floorRatio = worse ? exp(sigma * quantile) : exp(-sigma * quantile)
                row.minDetectable = floorRatio! - 1
            }
            row.belowNoiseFloor = floorRatio.map { worse ? limitRatio < $0 : limitRatio > $0 } ?? true
            if let lower = shift.lower, let upper = shift.upper {
                if worse ? lower > limitRatio + 1e-12 : upper < limitRatio - 1e-12 {
                    row.verdict = .regression
                } else if worse ? upper < 1 : lower > 1 {
                    row.verdict = .improved
                } else if row.belowNoiseFloor {
                    row.verdict = .cannotJudge
                } else if let p = row.pValue, p >= alpha {
                    row.verdict = .notSignificant
                } else {
                    row.verdict = .ok
                }
            } else {
                row.verdict = .cannotJudge
            }
            return row
        }
        if rows.contains(where: { $0.confidence == nil && !$0.metric.isCount && $0.verdict == .cannotJudge }) {
            warnings.append("\(baseline.runs.count)+\(current.runs.count) runs cannot reach \(percent((1 - alpha) * 100))% confidence across runs (at alpha \(JSONWriter.format(alpha, decimals: 3)) take at least 5 runs on each side)")
        }
        for row in rows where row.verdict == .cannotJudge && row.confidence != nil {
            let floor = row.minDetectable.map { signedPercent($0) } ?? "unknown"
            warnings.append("\(row.metric.name): limit \(row.limit.text) is below the min. detectable change (\(floor)) with this noise and \(row.baselineRuns)+\(row.currentRuns) runs: cannot be judged with this noise; take more runs or a looser limit")
        }
        return CheckResult(rows: rows, alpha: alpha, mode: .acrossRuns, testName: acrossRunsTestName, warnings: warnings)
    }

    /// The per-request comparison of two single runs (the test of earlier versions).
    static func perRequest(baseline: RunFigures, current: RunFigures, limits: [Limit], alpha: Double) -> CheckResult {
        var test: MannWhitney.Result?
        if let b = baseline.readLatency, let c = current.readLatency {
            test = MannWhitney.test(baseline: b, current: c)
        }
        let rows = limits.map { limit -> CheckResult.Row in
            var row = CheckResult.Row(metric: limit.metric, limit: limit)
            let b = baseline.values[limit.metric], c = current.values[limit.metric]
            row.baseline = b
            row.current = c
            guard let c, let b = b ?? (isAbsolute(limit) ? 0 : nil) else { return row }
            if b != 0 { row.change = (c - b) / b; row.limitChange = limit.threshold(baseline: b) / b - 1 }
            row.exceeded = limit.isExceeded(baseline: b, current: c)
            row.verdict = row.exceeded ? .regression : .ok
            if limit.metric.isReadLatency {
                row.pValue = test?.pGreater
                if row.exceeded, let p = row.pValue, p >= alpha { row.verdict = .notSignificant }
            }
            return row
        }
        return CheckResult(rows: rows, alpha: alpha, mode: .perRequest, testName: perRequestTestName, warnings: [])
    }

    static func isAbsolute(_ limit: Limit) -> Bool {
        if case .absolute = limit.bound { return true }
        return false
    }

    /// Merges user limits over the defaults: a metric given by the user replaces its default.
    public static func limits(overriding user: [Limit]) -> [Limit] {
        let named = Set(user.map(\.metric))
        let order = Metric.allCases
        return (Limit.defaults.filter { !named.contains($0.metric) } + user)
            .sorted { order.firstIndex(of: $0.metric)! < order.firstIndex(of: $1.metric)! }
    }
}

func percent(_ value: Double) -> String {
    let rounded = (value * 10).rounded() / 10
    return rounded == rounded.rounded() ? JSONWriter.format(rounded, decimals: 0) : JSONWriter.format(rounded, decimals: 1)
}

/// +12%, -3.5%: a relative change as people read it.
func signedPercent(_ fraction: Double) -> String {
    let p = fraction * 100
    let text = abs(p) >= 10 ? JSONWriter.format(p, decimals: 0) : JSONWriter.format(p, decimals: 1)
    return (p >= 0 && !text.hasPrefix("-") ? "+" : "") + text + "%"
}

public enum CheckFormatting {
    public static func table(_ result: CheckResult) -> String {
        let acrossRuns = result.mode == .acrossRuns
        let confidence = result.rows.compactMap(\.confidence).first
        let intervalHeader = confidence.map { "change [\(percent($0 * 100))% interval]" } ?? "change"
        var rows: [[String]] = [["metric", "baseline", "current", intervalHeader, "p", "runs", "min. detectable", "limit", "verdict"]]
        for r in result.rows {
            let unit = r.metric.unitLabel
            func value(_ v: Double?, _ spread: Double?) -> String {
                guard let v else { return "-" }
                var text = number(v) + (unit.isEmpty ? "" : " " + unit)
                if let spread, acrossRuns { text += " ±" + percent(spread * 100) + "%" }
                return text
            }
            var change = r.change.map(signedPercent) ?? "-"
            if let lo = r.changeLower, let hi = r.changeUpper { change += " [" + signedPercent(lo) + ", " + signedPercent(hi) + "]" }
            rows.append([
                r.metric.name,
                value(r.baseline, r.baselineSpread),
                value(r.current, r.currentSpread),
                change,
                r.pValue.map { $0 < 0.0001 ? "<0.0001" : JSONWriter.format($0, decimals: 4) } ?? "",
                "n=\(r.baselineRuns)/\(r.currentRuns)",
                r.minDetectable.map(signedPercent) ?? (acrossRuns && !r.metric.isCount ? "unknown" : ""),
                r.limit.text,
                r.verdict.rawValue,
            ])
        }
        let widths = (0..<rows[0].count).map { c in rows.map { $0[c].count }.max() ?? 0 }
        var out = rows.map { row in
            row.enumerated().map { c, cell in c == 0 || c >= 5 ? cell.rightPadded(to: widths[c]) : cell.leftPadded(to: widths[c]) }
                .joined(separator: "  ").trimmedRight()
        }.joined(separator: "\n")
        out += "\n"
        out += BlobComparison.table(result.blobs)
        for warning in result.warnings { out += "\nwarning: " + warning }
        out += "\ntest: \(result.testName), alpha \(JSONWriter.format(result.alpha, decimals: 3)) (confidence \(JSONWriter.format((1 - result.alpha) * 100, decimals: 1))%)"
        if acrossRuns {
            out += "\nregression: the whole interval past the limit; ~: no significant change; min. detectable: the change caught 95% of the time with this baseline's run-to-run spread (docs/regression-method.md)"
        }
        out += "\nresult: " + (result.regressed ? "REGRESSION (\(result.rows.filter { $0.verdict == .regression }.map(\.metric.name).joined(separator: ", ")))" : "ok")
        return out
    }

    public static func json(_ result: CheckResult) -> String {
        var w = JSONWriter()
        func optional(_ v: Double?, _ decimals: Int) { if let v { w.number(v, decimals: decimals) } else { w.null() } }
        w.objectStart()
        w.key("result"); w.string(result.regressed ? "regression" : "ok")
        w.key("test"); w.string(result.testName)
        w.key("mode"); w.string(result.mode.rawValue)
        w.key("alpha"); w.number(result.alpha, decimals: 4)
        w.key("warnings"); w.arrayStart(); for warning in result.warnings { w.string(warning) }; w.arrayEnd()
        w.key("metrics"); w.arrayStart()
        for r in result.rows {
            w.objectStart()
            w.key("metric"); w.string(r.metric.name)
            w.key("unit"); w.string(r.metric.unitLabel)
            w.key("baseline"); optional(r.baseline, 3)
            w.key("baseline_spread"); optional(r.baselineSpread, 4)
            w.key("baseline_runs"); w.number(r.baselineRuns)
            w.key("current"); optional(r.current, 3)
            w.key("current_spread"); optional(r.currentSpread, 4)
            w.key("current_runs"); w.number(r.currentRuns)
            w.key("change"); optional(r.change, 4)
            w.key("change_lower"); optional(r.changeLower, 4)
            w.key("change_upper"); optional(r.changeUpper, 4)
            w.key("confidence"); optional(r.confidence, 4)
            w.key("p_value"); optional(r.pValue, 6)
            w.key("limit"); w.string(r.limit.text)
            w.key("limit_change"); optional(r.limitChange, 4)
            w.key("min_detectable"); optional(r.minDetectable, 4)
            w.key("below_noise_floor"); w.bool(r.belowNoiseFloor && r.verdict == .cannotJudge)
            w.key("exceeded"); w.bool(r.exceeded)
            w.key("verdict"); w.string(r.verdict.jsonName)
            w.objectEnd()
        }
        w.arrayEnd()
        BlobComparison.json(&w, result.blobs)
        w.objectEnd()
        return w.output
    }

    static func number(_ d: Double) -> String {
        abs(d) >= 100 || d == d.rounded() ? JSONWriter.format(d, decimals: 0) : JSONWriter.format(d, decimals: 1)
    }
}

extension String {
    func trimmedRight() -> String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}
