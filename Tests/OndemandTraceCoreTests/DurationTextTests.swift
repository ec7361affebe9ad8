import Testing
import OndemandTraceCore

@Suite struct DurationTextTests {
    @Test func unitsAndBareSeconds() {
        #expect(DurationText.nanoseconds("30") == 30_000_000_000)      // record --duration
        #expect(DurationText.nanoseconds("9.5") == 9_500_000_000)      // report --since
        #expect(DurationText.nanoseconds("500ms") == 500_000_000)
        #expect(DurationText.nanoseconds("1.5s") == 1_500_000_000)
        #expect(DurationText.nanoseconds("2m") == 120_000_000_000)
        #expect(DurationText.nanoseconds("250us") == 250_000)
        #expect(DurationText.nanoseconds("250µs") == 250_000)
        #expect(DurationText.nanoseconds("40ns") == 40)
        #expect(DurationText.nanoseconds("1h") == 3_600_000_000_000)
        #expect(DurationText.nanoseconds("0") == 0)
        for bad in ["soon", "", "-1s", "+1s", "1e30s", "ms", "nan", "inf", "5 ms"] {
            #expect(DurationText.nanoseconds(bad) == nil, "\(bad)")
        }
    }

    /// Where a bare number once meant milliseconds it is refused, naming the unit to add.
    @Test func aRefusedBareNumberNamesTheUnit() throws {
        let ms = DurationText.Bare.refused(suggesting: "ms")
        #expect(DurationText.nanoseconds("20", bare: ms) == nil)
        #expect(DurationText.nanoseconds("20ms", bare: ms) == 20_000_000)
        #expect(throws: DurationText.Failure(description: "--min-latency '20': add the unit, e.g. 20ms (a bare number is refused here)")) {
            try DurationText.parse("20", option: "--min-latency", bare: ms)
        }
        #expect(throws: DurationText.Failure(description: "--hung-after '0': must be more than 0")) {
            try DurationText.parse("0", option: "--hung-after", positive: true)
        }
        #expect(DurationText.rule(.seconds).contains("a bare number is seconds"))
        #expect(DurationText.rule(ms).contains("the unit is required"))
    }
}
