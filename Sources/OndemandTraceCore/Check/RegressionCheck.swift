/// What one run measured, as `check` needs it: the figures, the per-request latency histogram,
/// and what was measured (so unlike runs are not compared).
public struct RunFigures: Sendable, Equatable {
    /// Workload preset, image, kernel release, daemon settings...: compared key by key.
    public var identity: [String: String]
    public var values: [Metric: Double]
    public var readLatency: LatencyBuckets?

    public init(identity: [String: String], values: [Metric: Double], readLatency: LatencyBuckets?) {
        self.identity = identity
        self.values = values
        self.readLatency = readLatency
    }
}

public struct CheckResult: Sendable, Equatable {
    public enum Verdict: String, Sendable { case ok, regression, noise = "within noise", missing = "not measured" }

    public struct Row: Sendable, Equatable {
        public var metric: Metric
        public var baseline: Double?
        public var current: Double?
        public var limit: Limit
        public var exceeded: Bool
        /// One-sided p-value that the current run is slower, for READ latency metrics.
        public var pValue: Double?
        public var verdict: Verdict

        /// Relative change, when the baseline is not zero.
        public var change: Double? {
            guard let baseline, let current, baseline != 0 else { return nil }
            return (current - baseline) / baseline
        }
    }

    public var rows: [Row]
    public var alpha: Double
    public var testName: String
    public var regressed: Bool { rows.contains { $0.verdict == .regression } }
}

public enum RegressionCheck {
    public static let testName = "Mann-Whitney U (one-sided, tie-corrected, on per-request READ latencies)"

    /// Keys of `identity` whose values differ between the runs (a key missing on one side differs).
    public static func differences(_ baseline: RunFigures, _ current: RunFigures) -> [(key: String, baseline: String, current: String)] {
        Set(baseline.identity.keys).union(current.identity.keys).sorted().compactMap { key in
            let b = baseline.identity[key] ?? "(none)", c = current.identity[key] ?? "(none)"
            return b == c ? nil : (key, b, c)
        }
    }

    /// Compares `current` with `baseline` under `limits`. A READ latency metric regresses only when
    /// its limit is exceeded and the Mann-Whitney test says the current run is slower with
    /// p < `alpha`; counts and throughput regress on the limit alone (one value per run).
    public static func run(baseline: RunFigures, current: RunFigures, limits: [Limit], alpha: Double = 0.01) -> CheckResult {
        var test: MannWhitney.Result?
        if let b = baseline.readLatency, let c = current.readLatency {
            test = MannWhitney.test(baseline: b, current: c)
        }
        let rows = limits.map { limit -> CheckResult.Row in
            let b = baseline.values[limit.metric], c = current.values[limit.metric]
            guard let c, let b = b ?? (isAbsolute(limit) ? 0 : nil) else {
                return .init(metric: limit.metric, baseline: baseline.values[limit.metric], current: c, limit: limit,
                             exceeded: false, pValue: nil, verdict: .missing)
            }
            let exceeded = limit.isExceeded(baseline: b, current: c)
            var verdict: CheckResult.Verdict = exceeded ? .regression : .ok
            var p: Double?
            if limit.metric.isReadLatency {
                p = test?.pGreater
                if exceeded, let p, p >= alpha { verdict = .noise }
            }
            return .init(metric: limit.metric, baseline: baseline.values[limit.metric], current: c, limit: limit,
                         exceeded: exceeded, pValue: p, verdict: verdict)
        }
        return CheckResult(rows: rows, alpha: alpha, testName: testName)
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

public enum CheckFormatting {
    public static func table(_ result: CheckResult) -> String {
        var rows: [[String]] = [["metric", "baseline", "current", "change", "limit", "p", "verdict"]]
        for r in result.rows {
            let unit = r.metric.unitLabel
            rows.append([
                r.metric.name,
                r.baseline.map { number($0) + (unit.isEmpty ? "" : " " + unit) } ?? "-",
                r.current.map { number($0) + (unit.isEmpty ? "" : " " + unit) } ?? "-",
                r.change.map { ($0 >= 0 ? "+" : "") + JSONWriter.format($0 * 100, decimals: 1) + "%" } ?? "-",
                r.limit.text,
                r.pValue.map { $0 < 0.0001 ? "<0.0001" : JSONWriter.format($0, decimals: 4) } ?? "",
                r.verdict == .regression ? "REGRESSION" : r.verdict.rawValue,
            ])
        }
        let widths = (0..<rows[0].count).map { c in rows.map { $0[c].count }.max() ?? 0 }
        var out = rows.map { row in
            row.enumerated().map { c, cell in c == 0 || c >= 4 ? cell.rightPadded(to: widths[c]) : cell.leftPadded(to: widths[c]) }
                .joined(separator: "  ").trimmedRight()
        }.joined(separator: "\n")
        out += "\n\ntest: \(result.testName), alpha \(JSONWriter.format(result.alpha, decimals: 3)) (confidence \(JSONWriter.format((1 - result.alpha) * 100, decimals: 1))%)"
        out += "\nresult: " + (result.regressed ? "REGRESSION (\(result.rows.filter { $0.verdict == .regression }.map(\.metric.name).joined(separator: ", ")))" : "ok")
        return out
    }

    public static func json(_ result: CheckResult) -> String {
        var w = JSONWriter()
        w.objectStart()
        w.key("result"); w.string(result.regressed ? "regression" : "ok")
        w.key("test"); w.string(result.testName)
        w.key("alpha"); w.number(result.alpha, decimals: 4)
        w.key("metrics"); w.arrayStart()
        for r in result.rows {
            w.objectStart()
            w.key("metric"); w.string(r.metric.name)
            w.key("unit"); w.string(r.metric.unitLabel)
            w.key("baseline"); if let b = r.baseline { w.number(b, decimals: 3) } else { w.null() }
            w.key("current"); if let c = r.current { w.number(c, decimals: 3) } else { w.null() }
            w.key("change"); if let ch = r.change { w.number(ch, decimals: 4) } else { w.null() }
            w.key("limit"); w.string(r.limit.text)
            w.key("exceeded"); w.bool(r.exceeded)
            w.key("p_value"); if let p = r.pValue { w.number(p, decimals: 6) } else { w.null() }
            w.key("verdict"); w.string(r.verdict == .ok ? "ok" : r.verdict == .regression ? "regression" : r.verdict == .noise ? "noise" : "missing")
            w.objectEnd()
        }
        w.arrayEnd()
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
