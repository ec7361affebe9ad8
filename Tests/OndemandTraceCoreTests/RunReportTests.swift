import Testing
@testable import OndemandTraceCore

/// `run`'s document: the pooled report, then `runs` (each run's figures) and `run` (what was
/// measured), written by the one JSON writer, not spliced into a finished document.
@Suite struct RunReportTests {
    static func model(latencyUs: UInt64) -> ReportModel {
        var s = EventScript()
        s.open(1, at: 0); s.copen(1, msg: 0, at: 50)
        s.read(1, 0, 4096, at: 100); s.write(1, 0, 4096, at: 150); s.cread(1, msg: 1, at: 100 + latencyUs)
        let builder = ReportBuilder()
        for e in s.events { builder.consume(e) }
        return builder.finish(metadata: TraceMetadata(path: "t.dat", format: "trace.dat", formatDescription: "trace.dat v6",
                                                      kernelRelease: "6.12.117", clock: "mono", recordsSeen: 5,
                                                      eventsDelivered: 5, ondemandEvents: 5))
    }

    @Test func runsAndRunFollowThePooledReport() throws {
        let pooled = Self.model(latencyUs: 300)
        let runs = [RunReport.Entry(trace: "run-1.dat", cacheDirectory: "/c/run-1", model: Self.model(latencyUs: 200)),
                    RunReport.Entry(trace: "run-2.dat", cacheDirectory: "/c/run-2", model: Self.model(latencyUs: 400))]
        let section = [("preset", "regression"), ("runs", "2")]
        let document = RunReport.render(pooled: pooled, runs: runs, run: section)

        // What the document was before (the pooled report with the two sections appended).
        var entries = JSONWriter()
        entries.arrayStart()
        for (i, entry) in runs.enumerated() { RunReport.renderEntry(&entries, index: i + 1, entry) }
        entries.arrayEnd()
        let pooledOnly = ReportJSON.render(pooled, schema: RunReport.schema)
        let expected = String(pooledOnly.dropLast()) + ",\"runs\":" + entries.output
            + ",\"run\":{\"preset\":\"regression\",\"runs\":\"2\"}}"
        #expect(document == expected)
        #expect(document.hasPrefix("{\"schema\":\"ondemand-trace/report/2\""))
        #expect(document.contains("\"run\":1,\"trace\":\"run-1.dat\"") && document.contains("\"run\":2,\"trace\":\"run-2.dat\""))
    }
}
