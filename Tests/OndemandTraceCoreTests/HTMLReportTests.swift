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
        let svg = HTMLReport.scatterSVG(Self.scatter(latencies: [150, 900, 2_500, 40_000]), start: 0)
        let labels = svg.split(separator: "<text").compactMap { part -> String? in
            guard part.contains("text-anchor=\"end\"") else { return nil }
            return part.split(separator: ">").dropFirst().first.map { String($0.prefix { $0 != "<" }) }
        }
        #expect(labels.prefix(4) == ["100ns", "1µs", "10µs", "100µs"])
        #expect(HTMLReport.tickLabel(exponent: 3) == "1ms")
        #expect(HTMLReport.tickLabel(exponent: 6) == "1s")
        #expect(HTMLReport.tickLabel(exponent: -2) == "10ns")
    }
}
