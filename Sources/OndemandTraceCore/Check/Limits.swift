/// A limit on how much one metric may change between a baseline and a current run.
///
/// Written `METRIC=VALUE`, as on the command line (`--max p99=+20%`):
/// - `+10%` / `-10%`: relative to the baseline (`-` for metrics where lower is worse, throughput);
/// - `+2ms`, `+500us`: absolute change allowed over the baseline (a time takes the one duration
///   grammar, `DurationText`; a bare number other than 0 is refused for a time);
/// - `5ms`, `0`: an absolute ceiling (or floor, for throughput) on the current value.
public struct Limit: Sendable, Equatable, CustomStringConvertible {
    public enum Bound: Sendable, Equatable {
        case relative(Double)   // fraction: +0.10, -0.10
        case delta(Double)      // in the metric's unit: +2000 (µs)
        case absolute(Double)   // in the metric's unit
    }

    public var metric: Metric
    public var bound: Bound
    public var text: String

    public var description: String { "\(metric.name)=\(text)" }

    public init(metric: Metric, bound: Bound, text: String) {
        self.metric = metric
        self.bound = bound
        self.text = text
    }

    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public var description: String
    }

    public init(parsing spec: String) throws(ParseError) {
        guard let eq = spec.firstIndex(of: "=") else {
            throw ParseError(description: "limit '\(spec)' is not METRIC=VALUE (e.g. p99=+20%)")
        }
        let name = String(spec[..<eq])
        guard let metric = Metric(name: name) else {
            throw ParseError(description: "unknown metric '\(name)' in '\(spec)'; known: \(Metric.allCases.map(\.name).joined(separator: ", "))")
        }
        var value = Substring(spec[spec.index(after: eq)...])
        let text = String(value)
        var sign: Double? = nil
        if value.hasPrefix("+") { sign = 1; value.removeFirst() } else if value.hasPrefix("-") { sign = -1; value.removeFirst() }
        var scale = 1.0
        var relative = false
        if value.hasSuffix("%") { relative = true; value.removeLast() }
        else if value.last?.isLetter == true {
            // A time: the one duration grammar, in the metric's unit (µs).
            guard metric.unit == .microseconds else {
                throw ParseError(description: "limit '\(spec)': \(metric.name) is not a time; give a plain number or a percentage")
            }
            do {
                let ns = try DurationText.parse(String(value), option: "limit '\(spec)':", bare: .refused(suggesting: "us"))
                (value, scale) = (Substring(String(Double(ns) / 1000)), 1)
            } catch { throw ParseError(description: error.description) }
        } else if metric.unit == .microseconds, let number = Double(value), number != 0 {
            throw ParseError(description: "limit '\(spec)': add the unit, e.g. \(text)us or \(text)ms (a bare number is refused for a time)")
        }
        guard let number = Double(value), number >= 0, number.isFinite else {
            throw ParseError(description: "limit '\(spec)': '\(text)' is not a number with an optional sign and unit (%, or a duration: ns, us, ms, s, m, h)")
        }
        if relative {
            guard let sign else { throw ParseError(description: "limit '\(spec)': a percentage needs a sign (+10% or -10%)") }
            self.init(metric: metric, bound: .relative(sign * number / 100), text: text)
        } else if let sign {
            self.init(metric: metric, bound: .delta(sign * number * scale), text: text)
        } else {
            self.init(metric: metric, bound: .absolute(number * scale), text: text)
        }
    }

    /// The worst current value this limit allows, given the baseline value.
    public func threshold(baseline: Double) -> Double {
        switch bound {
        case .relative(let f): return baseline * (1 + f)
        case .delta(let d): return baseline + d
        case .absolute(let a): return a
        }
    }

    /// Whether `current` is past the limit, in the metric's bad direction.
    public func isExceeded(baseline: Double, current: Double) -> Bool {
        let t = threshold(baseline: baseline)
        return metric.higherIsWorse ? current > t + 1e-9 : current < t - 1e-9
    }

    /// The defaults: documented in `check --help` and the README.
    public static let defaults: [Limit] = [
        "p50=+10%", "p90=+15%", "p99=+20%", "mean=+10%", "unmatched=0", "anomalies=0", "throughput=-10%",
    ].map { try! Limit(parsing: $0) }
}

/// The figures `check` compares.
public enum Metric: String, Sendable, CaseIterable, Equatable {
    case p50, p90, p99, p999, mean, max
    case openP50 = "open_p50", openP99 = "open_p99"
    case unmatched, anomalies
    case throughput
    case requestsPerSecond = "requests_per_s"

    public enum Unit: Sendable { case microseconds, count, mebibytesPerSecond, perSecond }

    public var name: String { rawValue }
    public init?(name: String) { self.init(rawValue: name) }

    public var unit: Unit {
        switch self {
        case .unmatched, .anomalies: return .count
        case .throughput: return .mebibytesPerSecond
        case .requestsPerSecond: return .perSecond
        default: return .microseconds
        }
    }

    public var higherIsWorse: Bool { !(self == .throughput || self == .requestsPerSecond) }

    /// Latency metrics of READ requests are tested on the per-request samples.
    public var isReadLatency: Bool { [.p50, .p90, .p99, .p999, .mean, .max].contains(self) }

    /// Counts of things that should not happen: judged on the worst run, without a test.
    public var isCount: Bool { self == .unmatched || self == .anomalies }

    public var unitLabel: String {
        switch unit {
        case .microseconds: return "µs"
        case .count: return ""
        case .mebibytesPerSecond: return "MiB/s"
        case .perSecond: return "/s"
        }
    }
}
