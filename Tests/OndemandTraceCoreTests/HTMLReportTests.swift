import Testing
@testable import OndemandTraceCore

@Suite struct HTMLReportTests {
    static func scatter(latencies: [UInt64]) -> LatencyScatter {
        var scatter = LatencyScatter()
        for (i, latency) in latencies.enumerated() {
            let issued = UInt64(1_000_000 + i * 1000)
            scatter.add(RequestRecord(kind: .read, obj: 1, msgID: UInt32(i), pid: 1, comm: "cat", offset: 0, length: 4096,
                                      issued: issued, completed: issued + latency, join: .thread))
        }
        return scatter
    }

    /// Ticks below 1 µs were all labelled "1µs" (10^e computed as 1 for e < 0).
    @Test func subMicrosecondTicksNameTheirValue() {
        let svg = HTMLReport.scatterSVG(Self.scatter(latencies: [150, 900, 2_500, 40_000]), axis: .init(t0: 1_000_000, t1: 1_004_000))
        let labels = svg.split(separator: "<text").compactMap { part -> String? in
            guard part.contains("text-anchor=\"end\"") else { return nil }
            return part.split(separator: ">").dropFirst().first.map { String($0.prefix { $0 != "<" }) }
        }
        #expect(labels.prefix(4) == ["100ns", "1µs", "10µs", "100µs"])
        #expect(HTMLReport.tickLabel(exponent: 3) == "1ms")
        #expect(HTMLReport.tickLabel(exponent: 6) == "1s")
        #expect(HTMLReport.tickLabel(exponent: -2) == "10ns")
    }

    /// Integer count ticks: no `0, 1, 1` for a maximum of 1, no label off its value.
    static let countCases: [(UInt64, [UInt64])] = [
        (1, [0, 1]), (2, [0, 1, 2]), (7, [0, 2, 4, 6, 8]), (14, [0, 5, 10, 15]), (27, [0, 5, 10, 15, 20, 25, 30]),
        (100, [0, 20, 40, 60, 80, 100]), (0, [0, 1]),
    ]
    @Test(arguments: countCases)
    func countTicksAreRoundAndCoverTheMaximum(_ maxCount: UInt64, _ expected: [UInt64]) {
        #expect(HTMLReport.countTicks(maxCount) == expected)
    }

    /// Time ticks between the ends, at round seconds, labelled as precisely as their step.
    @Test func timeTicksAreRoundAndInside() {
        let axis = HTMLReport.TimeAxis(t0: 9_378_851_000, t1: 10_893_857_000)
        #expect(axis.ticks.map(\.label) == ["9.5", "10.0", "10.5"])
        #expect(axis.ticks.map(\.t) == [9_500_000_000, 10_000_000_000, 10_500_000_000])
        #expect(axis.ticks.allSatisfy { $0.t >= axis.t0 && $0.t <= axis.t1 })
        #expect(axis.x(axis.t0) == HTMLReport.TimeAxis.left && axis.x(axis.t1) == HTMLReport.TimeAxis.right)
        let short = HTMLReport.TimeAxis(t0: 16_596_426_000, t1: 17_324_928_000)
        #expect(short.ticks.map(\.label) == ["16.6", "16.8", "17.0", "17.2"])
        let tiny = HTMLReport.TimeAxis(t0: 21_505_183_000, t1: 21_553_269_000)
        #expect(tiny.ticks.map(\.label) == ["21.51", "21.52", "21.53", "21.54", "21.55"])
    }
}
