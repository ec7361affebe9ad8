import Testing
import OndemandTraceCore

@Suite struct DurationTextTests {
    @Test func unitsAndTheBareUnitOfEachOption() {
        #expect(DurationText.nanoseconds("30", bare: .seconds) == 30_000_000_000)      // record --duration
        #expect(DurationText.nanoseconds("5", bare: .milliseconds) == 5_000_000)       // --slowdown, --min-latency
        #expect(DurationText.nanoseconds("500ms", bare: .seconds) == 500_000_000)
        #expect(DurationText.nanoseconds("1.5s", bare: .milliseconds) == 1_500_000_000)
        #expect(DurationText.nanoseconds("2m", bare: .seconds) == 120_000_000_000)
        #expect(DurationText.nanoseconds("250us", bare: .seconds) == 250_000)
        #expect(DurationText.nanoseconds("250µs", bare: .seconds) == 250_000)
        #expect(DurationText.nanoseconds("40ns", bare: .seconds) == 40)
        #expect(DurationText.nanoseconds("1h", bare: .seconds) == 3_600_000_000_000)
        #expect(DurationText.nanoseconds("0", bare: .seconds) == 0)
        #expect(DurationText.nanoseconds("10ms", bare: nil) == 10_000_000)
        #expect(DurationText.nanoseconds("10", bare: nil) == nil, "fault specs need a unit")
        for bad in ["soon", "", "-1s", "1e30s", "ms", "nan", "inf"] {
            #expect(DurationText.nanoseconds(bad, bare: .seconds) == nil, "\(bad)")
        }
    }
}
