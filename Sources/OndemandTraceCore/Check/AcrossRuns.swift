#if canImport(Glibc)
import Glibc
#endif

/// Statistics with the run as the unit: one value per run (e.g. each run's p50) on each side.
///
/// - `MannWhitneyExact`: the two-sided Mann-Whitney U test (Mann & Whitney 1947) with the exact
///   null distribution for small samples without ties, as benchstat does; the normal
///   approximation with tie correction otherwise.
/// - `ShiftInterval`: the Hodges-Lehmann estimate of the change (median of all current/baseline
///   ratios) and its distribution-free confidence interval (order statistics of the same ratios,
///   cut where the exact U distribution puts alpha/2 in each tail) — the interval that inverts the
///   test above, so "interval excludes 1" and "p < alpha" agree.
/// - `NoiseFloor`: the smallest change whose interval clears "no change" in 95% of repeated
///   comparisons, given the baseline's run-to-run spread and these run counts.
public enum MannWhitneyExact {
    /// Number of arrangements giving each U = 0...m·n for samples of sizes m and n without ties:
    /// the coefficients of the Gaussian binomial [m+n choose m] (Mann & Whitney 1947).
    public static func counts(_ m: Int, _ n: Int) -> [Double] {
        let size = m * n + 1
        var poly = [Double](repeating: 0, count: size)
        poly[0] = 1
        // [n+i choose i] = [n+i-1 choose i-1] · (1 - q^(n+i)) / (1 - q^i)
        guard m > 0, n > 0 else { return poly }
        for i in 1...m {
            let up = n + i
            if up < size { for k in stride(from: size - 1, through: up, by: -1) { poly[k] -= poly[k - up] } }
            for k in i..<size { poly[k] += poly[k - i] }
        }
        return poly
    }

    /// P(U <= u) under the null, exact, for U counted over m×n pairs without ties.
    public static func cdf(_ u: Int, _ m: Int, _ n: Int) -> Double {
        let c = counts(m, n)
        let total = c.reduce(0, +)
        guard u >= 0 else { return 0 }
        return c[0...min(u, c.count - 1)].reduce(0, +) / total
    }

    public struct Result: Sendable, Equatable {
        /// U of the current side: pairs where the current value is larger (ties count half).
        public var u: Double
        /// Two-sided p-value.
        public var p: Double
        public var exact: Bool
    }

    public static let exactLimit = 50

    public static func test(baseline x: [Double], current y: [Double]) -> Result? {
        let m = x.count, n = y.count
        guard m > 0, n > 0 else { return nil }
        var u = 0.0
        for a in y { for b in x { u += a > b ? 1 : (a == b ? 0.5 : 0) } }
        let all = (x + y).sorted()
        var tieTerm = 0.0
        var i = 0
        while i < all.count {
            var j = i
            while j + 1 < all.count && all[j + 1] == all[i] { j += 1 }
            let t = Double(j - i + 1)
            tieTerm += t * t * t - t
            i = j + 1
        }
        let mn = Double(m * n)
        if tieTerm == 0, m <= exactLimit, n <= exactLimit {
            let lowTail = cdf(Int(u.rounded()), m, n)
            let highTail = 1 - cdf(Int(u.rounded()) - 1, m, n)
            return Result(u: u, p: min(1, 2 * min(lowTail, highTail)), exact: true)
        }
        let total = Double(m + n)
        let variance = mn / 12 * ((total + 1) - tieTerm / (total * (total - 1)))
        guard variance > 0 else { return Result(u: u, p: 1, exact: false) }
        let z = (abs(u - mn / 2) - 0.5) / variance.squareRoot()
        return Result(u: u, p: min(1, 2 * (1 - MannWhitney.normalCDF(max(0, z)))), exact: false)
    }

    /// The largest c with P(U <= c) <= alpha/2 (nil when even U = 0 is likelier): the interval of
    /// the shift is [D(c+1), D(mn-c)] of the m·n sorted pairwise differences.
    public static func criticalValue(alpha: Double, _ m: Int, _ n: Int) -> Int? {
        guard m > 0, n > 0 else { return nil }
        if m <= exactLimit, n <= exactLimit {
            let c = counts(m, n)
            let total = c.reduce(0, +)
            var cumulative = 0.0
            var best: Int? = nil
            for (u, count) in c.enumerated() {
                cumulative += count
                if cumulative / total <= alpha / 2 + 1e-12 { best = u } else { break }
            }
            return best
        }
        let mn = Double(m * n)
        let sd = (mn * Double(m + n + 1) / 12).squareRoot()
        let c = Int((mn / 2 - quantileNormal(1 - alpha / 2) * sd - 0.5).rounded(.down))
        return c >= 0 ? c : nil
    }

    /// The confidence actually achieved by the interval with critical value c: 1 - 2·P(U <= c).
    public static func achievedConfidence(critical c: Int, _ m: Int, _ n: Int) -> Double {
        if m <= exactLimit, n <= exactLimit { return 1 - 2 * cdf(c, m, n) }
        let mn = Double(m * n)
        let sd = (mn * Double(m + n + 1) / 12).squareRoot()
        return 1 - 2 * MannWhitney.normalCDF((Double(c) + 0.5 - mn / 2) / sd)
    }

    /// Φ⁻¹(p), by bisection on Φ (accurate to 1e-10; only used for a few critical values).
    public static func quantileNormal(_ p: Double) -> Double {
        var lo = -40.0, hi = 40.0
        for _ in 0..<200 {
            let mid = (lo + hi) / 2
            if MannWhitney.normalCDF(mid) < p { lo = mid } else { hi = mid }
        }
        return (lo + hi) / 2
    }
}

/// The Hodges-Lehmann change between two sets of run values and its distribution-free interval,
/// as ratios current/baseline (computed on logarithms: a shift in log = a relative change).
public struct ShiftInterval: Sendable, Equatable {
    /// Median of all current/baseline ratios.
    public var ratio: Double
    /// Interval of the ratio; nil bounds when the run counts are too small for the confidence.
    public var lower: Double?
    public var upper: Double?
    /// The confidence the interval actually has (exact order statistics give discrete levels).
    public var confidence: Double?

    public static func compute(baseline x: [Double], current y: [Double], alpha: Double) -> ShiftInterval? {
        guard !x.isEmpty, !y.isEmpty, x.allSatisfy({ $0 > 0 && $0.isFinite }), y.allSatisfy({ $0 > 0 && $0.isFinite }) else {
            return nil
        }
        var d: [Double] = []
        d.reserveCapacity(x.count * y.count)
        for a in y { for b in x { d.append(log(a) - log(b)) } }
        d.sort()
        let estimate = median(sorted: d)
        guard let c = MannWhitneyExact.criticalValue(alpha: alpha, x.count, y.count) else {
            return ShiftInterval(ratio: exp(estimate), lower: nil, upper: nil, confidence: nil)
        }
        return ShiftInterval(ratio: exp(estimate), lower: exp(d[c]), upper: exp(d[d.count - 1 - c]),
                             confidence: MannWhitneyExact.achievedConfidence(critical: c, x.count, y.count))
    }
}

/// The smallest relative change the interval above detects (clears 1) in 95% of comparisons,
/// for m baseline and n current runs whose logarithms spread like the baseline's (sample standard
/// deviation σ, normal model): exp(σ·q) - 1, where q is the 95th percentile of minus the interval's
/// lower bound between two standard-normal samples of sizes m and n with no change (the lower
/// bound moves one for one with a true shift). q comes from a fixed-seed simulation: the same
/// inputs give the same floor on every machine.
public enum NoiseFloor {
    public static let power = 0.95
    static let draws = 20_000

    /// q for (m, n, alpha); nil when the run counts cannot reach the confidence at all.
    public static func quantile(m: Int, n: Int, alpha: Double) -> Double? {
        guard m >= 2, n >= 1, let c = MannWhitneyExact.criticalValue(alpha: alpha, m, n) else { return nil }
        var rng = GaussianRandom(seed: 0x6f6e_6465_6d61_6e64 ^ UInt64(m * 1000 + n))
        var lows: [Double] = []
        lows.reserveCapacity(draws)
        var x = [Double](repeating: 0, count: m), y = [Double](repeating: 0, count: n)
        var d = [Double](repeating: 0, count: m * n)
        for _ in 0..<draws {
            for i in 0..<m { x[i] = rng.nextGaussian() }
            for i in 0..<n { y[i] = rng.nextGaussian() }
            var k = 0
            for a in y { for b in x { d[k] = a - b; k += 1 } }
            d.sort()
            lows.append(-d[c])
        }
        lows.sort()
        return lows[Int(Double(draws) * power)]
    }

    /// Sample standard deviation of the logarithms of `values` (nil below 2 positive values).
    public static func logSpread(_ values: [Double]) -> Double? {
        guard values.count >= 2, values.allSatisfy({ $0 > 0 && $0.isFinite }) else { return nil }
        let logs = values.map { log($0) }
        let mean = logs.reduce(0, +) / Double(logs.count)
        let ss = logs.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
        return (ss / Double(logs.count - 1)).squareRoot()
    }
}

func median(sorted v: [Double]) -> Double {
    guard !v.isEmpty else { return .nan }
    return v.count % 2 == 1 ? v[v.count / 2] : (v[v.count / 2 - 1] + v[v.count / 2]) / 2
}

public func median(_ values: [Double]) -> Double { median(sorted: values.sorted()) }

/// Normal deviates (Box-Muller) over the one seeded generator, `SplitMix64`: deterministic for
/// the noise-floor simulation.
public struct GaussianRandom: RandomNumberGenerator, Sendable {
    var source: SplitMix64
    var spare: Double?
    public init(seed: UInt64) { source = SplitMix64(seed: seed) }
    public mutating func next() -> UInt64 { source.next() }
    public mutating func nextGaussian() -> Double {
        if let s = spare { spare = nil; return s }
        let u1 = (Double(next() >> 11) + 1) / 9_007_199_254_740_993.0
        let u2 = Double(next() >> 11) / 9_007_199_254_740_992.0
        let r = (-2 * log(u1)).squareRoot()
        spare = r * sin(2 * .pi * u2)
        return r * cos(2 * .pi * u2)
    }
}
