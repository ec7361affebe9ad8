import Testing
@testable import OndemandTraceCore

@Suite struct LimitTests {
    @Test func parsesEveryForm() throws {
        #expect(try Limit(parsing: "p50=+10%").bound == .relative(0.10))
        #expect(try Limit(parsing: "throughput=-10%").bound == .relative(-0.10))
        #expect(try Limit(parsing: "unmatched=0").bound == .absolute(0))
        #expect(try Limit(parsing: "p99=+2ms").bound == .delta(2000))
        #expect(try Limit(parsing: "p99=5ms").bound == .absolute(5000))
        #expect(try Limit(parsing: "max=1.5s").bound == .absolute(1_500_000))
        #expect(try Limit(parsing: "p90=+250us").bound == .delta(250))
        // The one duration grammar: every unit; a bare 0 is 0 in any unit.
        #expect(try Limit(parsing: "p99=+1m").bound == .delta(60_000_000))
        #expect(try Limit(parsing: "p99=500ns").bound == .absolute(0.5))
        #expect(try Limit(parsing: "open_p99=0").bound == .absolute(0))
    }

    /// A bare number for a time (it was µs) is refused with the unit to add.
    @Test func aBareTimeIsRefused() {
        #expect(throws: Limit.ParseError(description: "limit 'p99=5': add the unit, e.g. 5us or 5ms (a bare number is refused for a time)")) {
            try Limit(parsing: "p99=5")
        }
        #expect(throws: Limit.ParseError.self) { try Limit(parsing: "p99=+2") }
    }

    @Test(arguments: ["p50", "p51=+10%", "p50=10%", "p50=+ten%", "unmatched=+2ms", "p50=-inf"])
    func rejectsBadSpecs(spec: String) {
        #expect(throws: Limit.ParseError.self) { try Limit(parsing: spec) }
    }

    @Test func directionFollowsTheMetric() throws {
        let p99 = try Limit(parsing: "p99=+20%")
        #expect(!p99.isExceeded(baseline: 1000, current: 1200))
        #expect(p99.isExceeded(baseline: 1000, current: 1201))
        let throughput = try Limit(parsing: "throughput=-10%")
        #expect(!throughput.isExceeded(baseline: 100, current: 90))
        #expect(throughput.isExceeded(baseline: 100, current: 89.9))
        #expect(try Limit(parsing: "unmatched=0").isExceeded(baseline: 0, current: 1))
    }

    @Test func userLimitsReplaceDefaultsOfTheSameMetric() throws {
        let merged = RegressionCheck.limits(overriding: [try Limit(parsing: "p99=+50%")])
        #expect(merged.filter { $0.metric == .p99 }.map(\.text) == ["+50%"])
        #expect(merged.count == Limit.defaults.count)
    }
}

@Suite struct MannWhitneyTests {
    static func buckets(_ values: [Double]) -> LatencyBuckets {
        // One bucket per distinct value: the exact test.
        var counts: [Double: Int] = [:]
        for v in values { counts[v, default: 0] += 1 }
        return LatencyBuckets(counts.map { .init(lower: $0.key, upper: $0.key, count: $0.value) })
    }

    @Test func matchesAHandComputedExample() throws {
        // Baseline 1,2,3,4 ; current 3,5,6,7 → U(current) = (2 + 0.5) + 4 + 4 + 4 = 14.5 of 16.
        let r = try #require(MannWhitney.test(baseline: Self.buckets([1, 2, 3, 4]), current: Self.buckets([3, 5, 6, 7])))
        #expect(r.u == 14.5)
        #expect(abs(r.effect - 14.5 / 16) < 1e-12)
        // mean 8, tie-corrected sd = sqrt(16/12 * (9 - 6/56)) = 3.4434; z = (14.5 - 8 - 0.5)/3.4434 = 1.7424
        #expect(abs(r.pGreater - 0.0407) < 0.001)
    }

    @Test func aShiftOfFiveMillisecondsIsSignificantAndNoiseIsNot() throws {
        var generator = SplitMix64(seed: 11)
        let base = (0..<60).map { _ in 800 + Double(generator.next() % 400) }
        let same = (0..<60).map { _ in 800 + Double(generator.next() % 400) }
        let slow = base.map { $0 + 5000 }
        let shifted = try #require(MannWhitney.test(baseline: Self.buckets(base), current: Self.buckets(slow)))
        #expect(shifted.pGreater < 1e-6)
        let noise = try #require(MannWhitney.test(baseline: Self.buckets(base), current: Self.buckets(same)))
        #expect(noise.pGreater > 0.01)
    }
}

@Suite struct RegressionCheckTests {
    static func figures(p50: Double, unmatched: Double = 0, latencies: [Double], kernel: String = "6.12.117") -> RunFigures {
        RunFigures(identity: ["preset": "small", "kernel": kernel],
                   values: [.p50: p50, .p99: p50 * 2, .mean: p50, .unmatched: unmatched, .anomalies: 0, .throughput: 50],
                   readLatency: MannWhitneyTests.buckets(latencies))
    }

    @Test func slowerRunRegressesAndEqualRunPasses() {
        let base = Self.figures(p50: 1000, latencies: (0..<40).map { 900 + Double($0) * 5 })
        let slow = Self.figures(p50: 6000, latencies: (0..<40).map { 5900 + Double($0) * 5 })
        let result = RegressionCheck.run(baseline: base, current: slow, limits: Limit.defaults)
        #expect(result.regressed)
        #expect(result.rows.first { $0.metric == .p50 }?.verdict == .regression)
        let again = RegressionCheck.run(baseline: base, current: base, limits: Limit.defaults)
        #expect(!again.regressed)
    }

    @Test func overTheLimitButNotSignificantIsNoise() {
        // Medians differ by 20% but the distributions overlap almost entirely.
        let base = Self.figures(p50: 1000, latencies: [900, 1000, 1100, 5000])
        let cur = Self.figures(p50: 1200, latencies: [950, 1050, 1150, 4000])
        let result = RegressionCheck.run(baseline: base, current: cur, limits: [try! Limit(parsing: "p50=+10%")])
        #expect(result.rows[0].exceeded)
        #expect(result.rows[0].verdict == .notSignificant)
        #expect(!result.regressed)
    }

    @Test func countsRegressWithoutATest() {
        let base = Self.figures(p50: 1000, latencies: [1000])
        let cur = Self.figures(p50: 1000, unmatched: 1, latencies: [1000])
        let result = RegressionCheck.run(baseline: base, current: cur, limits: Limit.defaults)
        #expect(result.rows.first { $0.metric == .unmatched }?.verdict == .regression)
        #expect(CheckFormatting.table(result).contains("REGRESSION (unmatched)"))
    }

    @Test func unlikeRunsAreNamed() {
        let diffs = RegressionCheck.differences(Self.figures(p50: 1, latencies: [1]), Self.figures(p50: 1, latencies: [1], kernel: "6.8.0"))
        #expect(diffs.map(\.key) == ["kernel"])
    }
}


@Suite struct FineHistogramTests {
    @Test func bucketsAreSixteenPerOctave() {
        #expect(LatencyRecorder.fineBucket(nanoseconds: 999) == 0)
        #expect(LatencyRecorder.fineBucket(nanoseconds: 1_000) == 1)
        // 1000 µs: octave 9 (512-1023), sub-bucket (1000-512)/32 = 15.
        let index = LatencyRecorder.fineBucket(nanoseconds: 1_000_000)
        #expect(index == 1 + 9 * 16 + 15)
        #expect(LatencyRecorder.fineBucketRange(index) == (992, 1024))
        // Every value lies in its bucket's range.
        for us: UInt64 in [1, 2, 3, 7, 15, 16, 17, 100, 1023, 1024, 5000, 123_456, 10_000_000] {
            let r = LatencyRecorder.fineBucketRange(LatencyRecorder.fineBucket(nanoseconds: us * 1000))
            #expect(r.lower <= Double(us) && Double(us) < r.upper, "\(us) µs in \(r)")
        }
    }
}
