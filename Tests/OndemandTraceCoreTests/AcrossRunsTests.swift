import Testing
@testable import OndemandTraceCore

#if canImport(Glibc)
import Glibc
#endif

@Suite struct MannWhitneyExactTests {
    /// The exact null distribution of U by brute force: every way to pick which m of the m+n
    /// ranks belong to the first sample.
    static func bruteForce(_ m: Int, _ n: Int) -> [Double] {
        var counts = [Double](repeating: 0, count: m * n + 1)
        func pick(_ start: Int, _ left: Int, _ chosen: [Int]) {
            if left == 0 {
                // U of the chosen sample: pairs where a chosen rank exceeds an unchosen one.
                let set = Set(chosen)
                var u = 0
                for a in chosen { for b in 0..<(m + n) where !set.contains(b) && a > b { u += 1 } }
                counts[u] += 1
                return
            }
            guard start < m + n else { return }
            for i in start..<(m + n) { pick(i + 1, left - 1, chosen + [i]) }
        }
        pick(0, m, [])
        return counts
    }

    @Test(arguments: [(1, 1), (2, 3), (3, 3), (4, 6), (5, 5), (6, 7)])
    func distributionMatchesEnumeration(m: Int, n: Int) {
        #expect(MannWhitneyExact.counts(m, n) == Self.bruteForce(m, n))
    }

    @Test func fiveAndFiveIsTheKnownTable() {
        let c = MannWhitneyExact.counts(5, 5)
        #expect(c.reduce(0, +) == 252)
        #expect(Array(c.prefix(6)) == [1, 1, 2, 3, 5, 7])
        // Complete separation: the smallest two-sided p with 5+5 runs is 2/252.
        let r = MannWhitneyExact.test(baseline: [1, 2, 3, 4, 5], current: [6, 7, 8, 9, 10])!
        #expect(r.exact && r.u == 25)
        #expect(abs(r.p - 2.0 / 252) < 1e-12)
        // Interleaved: U = 15, P(U >= 15) = P(U <= 10) = 87/252.
        let mixed = MannWhitneyExact.test(baseline: [1, 2, 3, 4, 5], current: [1.5, 2.5, 3.5, 4.5, 5.5])!
        #expect(mixed.u == 15)
        #expect(abs(mixed.p - 2 * 87.0 / 252) < 1e-12)
    }

    /// Critical values of U for a two-sided test, from the published tables (e.g. Mann & Whitney
    /// 1947; any statistics text): the largest U with P(U <= c) <= alpha/2.
    @Test(arguments: [
        (0.05, 4, 4, 0), (0.05, 5, 5, 2), (0.05, 6, 6, 5), (0.05, 8, 8, 13), (0.05, 10, 10, 23),
        (0.01, 5, 5, 0), (0.01, 6, 6, 2), (0.01, 8, 8, 7), (0.01, 10, 10, 16), (0.05, 5, 10, 8),
    ])
    func criticalValuesMatchTables(alpha: Double, m: Int, n: Int, expected: Int) {
        #expect(MannWhitneyExact.criticalValue(alpha: alpha, m, n) == expected)
    }

    @Test func tooFewRunsHaveNoCriticalValue() {
        #expect(MannWhitneyExact.criticalValue(alpha: 0.01, 4, 4) == nil)   // 2/70 > 0.01
        #expect(MannWhitneyExact.criticalValue(alpha: 0.01, 3, 3) == nil)
        #expect(MannWhitneyExact.criticalValue(alpha: 0.05, 3, 3) == nil)   // 2/20
    }

    @Test func tiesUseTheNormalApproximation() {
        let r = MannWhitneyExact.test(baseline: [1, 1, 2, 2, 3], current: [1, 2, 2, 3, 3])!
        #expect(!r.exact)
        #expect(r.p > 0.3 && r.p <= 1)
    }
}

@Suite struct ShiftIntervalTests {
    @Test func hodgesLehmannOfAPureShiftIsTheShift() throws {
        let base: [Double] = [1000, 1030, 990, 1010, 1050]
        let slow = base.map { $0 * 1.5 }
        let s = try #require(ShiftInterval.compute(baseline: base, current: slow, alpha: 0.01))
        #expect(abs(s.ratio - 1.5) < 1e-9)
        // 5+5 at alpha 0.01: the extreme ratios, 1 - 2/252 confidence.
        #expect(abs(s.lower! - 990 * 1.5 / 1050) < 1e-9)
        #expect(abs(s.upper! - 1050 * 1.5 / 990) < 1e-9)
        #expect(abs(s.confidence! - (1 - 2.0 / 252)) < 1e-12)
    }

    @Test func intervalExcludesOneExactlyWhenTheTestRejects() throws {
        var rng = GaussianRandom(seed: 42)
        print("seed 42")
        for _ in 0..<300 {
            let x = (0..<5).map { _ in 1000 * exp(0.1 * rng.nextGaussian()) }
            let shift = exp(0.15 * rng.nextGaussian())
            let y = (0..<5).map { _ in 1000 * shift * exp(0.1 * rng.nextGaussian()) }
            let s = try #require(ShiftInterval.compute(baseline: x, current: y, alpha: 0.01))
            let p = try #require(MannWhitneyExact.test(baseline: x, current: y)).p
            #expect((s.lower! > 1 || s.upper! < 1) == (p < 0.01), "x \(x) y \(y)")
        }
    }

    @Test func noiseFloorQuantileForFiveAndFive() throws {
        // Lower bound = min(current) - max(baseline) for 5+5 at 0.01; with no change its negative
        // has mean 2·E[max of 5 normals] = 2.33 and a 95th percentile near 3.9.
        let q = try #require(NoiseFloor.quantile(m: 5, n: 5, alpha: 0.01))
        #expect(q > 3.6 && q < 4.2, "q = \(q)")
        #expect(NoiseFloor.quantile(m: 5, n: 5, alpha: 0.01) == q)   // deterministic
        #expect(NoiseFloor.quantile(m: 3, n: 3, alpha: 0.01) == nil)
        // More runs, lower floor.
        #expect(try #require(NoiseFloor.quantile(m: 10, n: 10, alpha: 0.01)) < q * 0.7)
    }
}

@Suite struct AcrossRunsCheckTests {
    static let limits = [try! Limit(parsing: "p50=+10%"), try! Limit(parsing: "throughput=-10%"), try! Limit(parsing: "unmatched=0")]

    /// A set of runs whose p50s are `p50s` (throughput 100 MiB/s scaled inversely).
    static func set(_ p50s: [Double], unmatched: [Double]? = nil) -> RunSet {
        let runs = p50s.enumerated().map { i, p in
            RunFigures(identity: ["run.preset": "regression"],
                       values: [.p50: p, .throughput: 100 * 1000 / p, .unmatched: unmatched?[i] ?? 0],
                       readLatency: LatencyBuckets([.init(lower: p, upper: p, count: 400)]))
        }
        return RunSet(merging: runs.map { RunSet(single: $0) })
    }

    static let base: [Double] = [1000, 1012, 995, 1006, 990]

    @Test func aClearSlowdownIsARegressionWithItsInterval() throws {
        let result = RegressionCheck.run(baseline: Self.set(Self.base), current: Self.set(Self.base.map { $0 * 1.5 }), limits: Self.limits)
        let p50 = result.rows[0]
        #expect(result.mode == .acrossRuns)
        #expect(p50.verdict == .regression)
        #expect(abs(p50.change! - 0.5) < 1e-9)
        #expect(p50.changeLower! > 0.10)
        #expect(abs(p50.pValue! - 2.0 / 252) < 1e-12)
        #expect(p50.baselineRuns == 5 && p50.currentRuns == 5)
        #expect(result.rows[1].verdict == .regression)   // throughput fell by a third
        #expect(result.regressed)
        let table = CheckFormatting.table(result)
        #expect(table.contains("n=5/5"))
        #expect(table.contains("+50% [+47%, +53%]"), "\(table)")
        #expect(table.contains("result: REGRESSION (p50, throughput)"))
    }

    @Test func significantButWithinTheLimitIsOk() {
        let result = RegressionCheck.run(baseline: Self.set(Self.base), current: Self.set(Self.base.map { $0 * 1.05 }), limits: Self.limits)
        #expect(result.rows[0].pValue! < 0.01)
        #expect(result.rows[0].verdict == .ok)
        #expect(!result.regressed)
    }

    @Test func overTheLimitButIntervalNotPastItIsNoRegression() {
        // +15% median change, but the runs overlap: not significant.
        let current: [Double] = [1300, 1000, 1150, 990, 1200]
        let result = RegressionCheck.run(baseline: Self.set(Self.base), current: Self.set(current), limits: Self.limits)
        #expect(result.rows[0].exceeded)
        #expect(result.rows[0].verdict != .regression)
        #expect(!result.regressed)
    }

    @Test func fasterIsImproved() {
        let result = RegressionCheck.run(baseline: Self.set(Self.base), current: Self.set(Self.base.map { $0 * 0.7 }), limits: Self.limits)
        #expect(result.rows[0].verdict == .improved)
        #expect(result.rows[1].verdict == .improved)
    }

    @Test func identicalSetsAreNotSignificant() {
        let result = RegressionCheck.run(baseline: Self.set(Self.base), current: Self.set([1003, 998, 1008, 993, 1001]), limits: Self.limits)
        #expect(result.rows[0].verdict == .notSignificant)
        #expect(!result.regressed)
    }

    @Test func aLimitBelowTheNoiseFloorCannotBeJudged() throws {
        // Runs spread by ~25%: the floor is far above +10%.
        let noisy: [Double] = [1000, 1400, 800, 1200, 950]
        let result = RegressionCheck.run(baseline: Self.set(noisy), current: Self.set([1100, 900, 1300, 1000, 1250]), limits: Self.limits)
        let row = result.rows[0]
        let sigma = try #require(NoiseFloor.logSpread(noisy))
        let q = try #require(NoiseFloor.quantile(m: 5, n: 5, alpha: 0.01))
        #expect(abs(row.minDetectable! - (exp(sigma * q) - 1)) < 1e-12)
        #expect(row.minDetectable! > 0.5)
        #expect(row.verdict == .cannotJudge)
        #expect(result.warnings.contains { $0.contains("p50: limit +10% is below the min. detectable change") && $0.contains("cannot be judged with this noise") })
        #expect(!result.regressed)
        // ...but a slowdown far past the floor is still caught.
        let slow = RegressionCheck.run(baseline: Self.set(noisy), current: Self.set(noisy.map { $0 * 6 }), limits: Self.limits)
        #expect(slow.rows[0].verdict == .regression)
    }

    @Test func tooFewRunsCannotJudgeAndOneRunFallsBack() {
        let three = RegressionCheck.run(baseline: Self.set([1000, 1010, 990]), current: Self.set([2000, 2020, 1980]), limits: Self.limits)
        #expect(three.mode == .acrossRuns)
        #expect(three.rows[0].verdict == .cannotJudge)
        #expect(three.warnings.contains { $0.contains("cannot reach 99% confidence") })
        let one = RegressionCheck.run(baseline: Self.set([1000]), current: Self.set([1000]), limits: Self.limits)
        #expect(one.mode == .perRequest)
        #expect(one.warnings.first?.contains("run-to-run noise is unknown") == true)
    }

    @Test func countsTakeTheWorstRun() {
        let result = RegressionCheck.run(baseline: Self.set(Self.base), current: Self.set(Self.base, unmatched: [0, 0, 1, 0, 0]), limits: Self.limits)
        #expect(result.rows[2].verdict == .regression)
        #expect(result.rows[2].current == 1)
    }

    @Test func jsonHasTheSameFields() {
        let result = RegressionCheck.run(baseline: Self.set(Self.base), current: Self.set(Self.base.map { $0 * 1.5 }), limits: Self.limits)
        let json = CheckFormatting.json(result)
        #expect(json.hasPrefix(#"{"result":"regression","test":"Mann-Whitney U (two-sided, across runs"#))
        #expect(json.contains(#""mode":"across_runs""#))
        #expect(json.contains(#"{"metric":"p50","unit":"µs","baseline":1000.000,"baseline_spread":0.0087,"baseline_runs":5,"current":1500.000,"#), "\(json)")
        #expect(json.contains(#""change":0.5000,"change_lower":0.4674,"change_upper":0.5333,"confidence":0.9921,"p_value":0.007937,"limit":"+10%","limit_change":0.1000,"#), "\(json)")
        #expect(json.contains(#""verdict":"regression"}"#))
    }
}
