#if canImport(Glibc)
import Glibc
#endif

/// A latency histogram as the report JSON carries it: bucket upper bounds (µs) and counts.
public struct LatencyBuckets: Sendable, Equatable {
    public struct Bucket: Sendable, Equatable {
        public var lower: Double
        public var upper: Double
        public var count: Int
        public init(lower: Double, upper: Double, count: Int) {
            self.lower = lower
            self.upper = upper
            self.count = count
        }
    }
    public var buckets: [Bucket]
    public init(_ buckets: [Bucket]) { self.buckets = buckets.filter { $0.count > 0 }.sorted { $0.lower < $1.lower } }
    public var total: Int { buckets.reduce(0) { $0 + $1.count } }
}

/// Mann-Whitney U test between two runs' per-request latencies, given as histograms. Values in
/// the same bucket count as ties (midrank), with the tie correction of the variance; two buckets
/// overlap only when they are the same bucket, so both runs must use one bucket layout.
public enum MannWhitney {
    public struct Result: Sendable, Equatable {
        /// U of the current run: how often a current sample exceeds a baseline one (ties half).
        public var u: Double
        public var z: Double
        /// One-sided p-value for "current is larger" (slower).
        public var pGreater: Double
        /// One-sided p-value for "current is smaller".
        public var pLess: Double
        /// The probability that a random current request is slower than a random baseline one.
        public var effect: Double
    }

    public static func test(baseline: LatencyBuckets, current: LatencyBuckets) -> Result? {
        let n1 = Double(current.total), n2 = Double(baseline.total)
        guard n1 > 0, n2 > 0 else { return nil }
        // Merge both bucket lists by position; identical (lower, upper) pairs are ties.
        struct Key: Hashable, Comparable {
            var lower: Double, upper: Double
            static func < (a: Key, b: Key) -> Bool { a.lower != b.lower ? a.lower < b.lower : a.upper < b.upper }
        }
        var counts: [Key: (current: Double, baseline: Double)] = [:]
        for b in current.buckets { counts[Key(lower: b.lower, upper: b.upper), default: (0, 0)].current += Double(b.count) }
        for b in baseline.buckets { counts[Key(lower: b.lower, upper: b.upper), default: (0, 0)].baseline += Double(b.count) }
        var rankSumCurrent = 0.0
        var seen = 0.0
        var tieTerm = 0.0
        for key in counts.keys.sorted() {
            let (c, b) = counts[key]!
            let t = c + b
            let midrank = seen + (t + 1) / 2
            rankSumCurrent += c * midrank
            tieTerm += t * t * t - t
            seen += t
        }
        let u = rankSumCurrent - n1 * (n1 + 1) / 2
        let mean = n1 * n2 / 2
        let n = n1 + n2
        let variance = n1 * n2 / 12 * ((n + 1) - tieTerm / (n * (n - 1)))
        guard variance > 0 else {
            return Result(u: u, z: 0, pGreater: 1, pLess: 1, effect: u / (n1 * n2))
        }
        // Continuity correction of 0.5 towards the mean.
        let zGreater = (u - mean - 0.5) / variance.squareRoot()
        let zLess = (u - mean + 0.5) / variance.squareRoot()
        return Result(u: u, z: (u - mean) / variance.squareRoot(),
                      pGreater: 1 - normalCDF(zGreater), pLess: normalCDF(zLess), effect: u / (n1 * n2))
    }

    /// Φ(x), via erfc for accuracy in the tails.
    public static func normalCDF(_ x: Double) -> Double {
        0.5 * erfc(-x / 2.0.squareRoot())
    }
}
