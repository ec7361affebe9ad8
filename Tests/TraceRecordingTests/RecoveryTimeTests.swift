import Testing
@testable import TraceRecording

/// The recovery's UTC times, computed without the C library's gmtime.
@Suite struct RecoveryTimeTests {
    @Test(arguments: [(Int64(0), "1970-01-01"), (11_016, "2000-02-29"), (11_017, "2000-03-01"), (20_793, "2026-12-06"),
                      (2_932_896, "9999-12-31")])
    func civilDates(days: Int64, expected: String) {
        let (year, month, day) = RecoveryResult.civilDate(daysSinceEpoch: days)
        #expect("\(year)-\(month < 10 ? "0" : "")\(month)-\(day < 10 ? "0" : "")\(day)" == expected)
    }

    @Test func utcTimestamps() {
        #expect(RecoveryResult.utc(1_796_536_201_123 * 1_000_000) == "2026-12-06T05:50:01.123Z")
        #expect(RecoveryResult.utc(1_709_251_199_999 * 1_000_000) == "2024-02-29T23:59:59.999Z")
        #expect(RecoveryResult.utc(0) == "1970-01-01T00:00:00.000Z")
    }
}
