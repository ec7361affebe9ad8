import Testing
@testable import OndemandTraceCore

/// `check` reads back what `report --format json` and `run` write: the reader beside its writer.
@Suite struct RunFiguresJSONTests {
    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// A report written by `ReportJSON` reads back as the figures taken from the model itself.
    @Test func aReportReadsBackAsItsModelsFigures() throws {
        let model = RunReportTests.model(latencyUs: 300)
        let set = try RunFiguresJSON.runSet(fromReportJSON: Self.bytes(ReportJSON.render(model)), path: "r.json")
        let direct = RunFigures(report: model)
        #expect(set.runs.count == 1)
        #expect(set.pooled.identity == ["kernel_release": "6.12.117"])
        #expect(set.pooled.readsMeasured == direct.readsMeasured)
        #expect(set.pooled.readsMeasured == 1)
        for metric in [Metric.p50, .p99, .max, .mean, .unmatched, .anomalies] {
            let read = try #require(set.pooled.values[metric]), expected = try #require(direct.values[metric])
            #expect(abs(read - expected) <= 0.001, "\(metric): \(read) read back, \(expected) in the model")
        }
    }

    /// `run`'s schema 2: each entry of `runs` is a run; the `run` section is the identity, less
    /// the keys that say how the runs were taken.
    @Test func aRunDocumentReadsEachRun() throws {
        let runs = [RunReport.Entry(trace: "run-1.dat", cacheDirectory: "/c/run-1", model: RunReportTests.model(latencyUs: 200)),
                    RunReport.Entry(trace: "run-2.dat", cacheDirectory: "/c/run-2", model: RunReportTests.model(latencyUs: 400))]
        let document = RunReport.render(pooled: RunReportTests.model(latencyUs: 300), runs: runs,
                                         run: [("preset", "regression"), ("runs", "2"), ("image", "small.erofs")])
        let set = try RunFiguresJSON.runSet(fromReportJSON: Self.bytes(document), path: "run.json")
        let p50 = { (us: UInt64) in RunFigures(report: RunReportTests.model(latencyUs: us)).values[.p50] ?? -1 }
        let read = set.runs.map { $0.values[.p50] ?? -1 } + [set.pooled.values[.p50] ?? -1]
        for (value, expected) in zip(read, [p50(200), p50(400), p50(300)]) {
            #expect(abs(value - expected) <= 0.001, "\(value) read back, \(expected) in the model")
        }
        #expect(p50(200) < p50(400))
        #expect(set.pooled.identity == ["kernel_release": "6.12.117", "run.preset": "regression", "run.image": "small.erofs"])
    }

    /// Whatever is wrong, one line naming the file and the problem.
    @Test(arguments: [
        ("[1, 2", "x.json: not a report: not a JSON object (a report is what `report --format json` or `run --report` writes)"),
        ("{\"a\": 1", "x.json: not a report: not a JSON object (a report is what `report --format json` or `run --report` writes)"),
        ("{\"schema\": \"other/1\"}", "x.json: not an ondemand-trace report (no \"schema\": \"ondemand-trace/report/N\")"),
        ("{\"schema\": \"ondemand-trace/report/9\"}", "x.json: report schema \"ondemand-trace/report/9\" is not one this version reads (ondemand-trace/report/1, ondemand-trace/report/2); use the ondemand-trace that wrote it, or make a new baseline"),
        ("{\"schema\": \"ondemand-trace/report/1\", \"reads\": {}}", "x.json: the report has no reads.latency_us"),
        ("{\"schema\": \"ondemand-trace/report/1\", \"reads\": {\"latency_us\": {\"count\": 0}}}", "x.json: the report has no answered READ (0 READ latencies): nothing to compare; was the run's mount or workload broken?"),
        ("{\"schema\": \"ondemand-trace/report/2\", \"reads\": {\"latency_us\": {\"count\": 3}}, \"runs\": []}", "x.json: schema ondemand-trace/report/2 report without a \"runs\" list"),
    ])
    func aBadDocumentIsOneLine(text: String, message: String) {
        #expect(throws: CheckInputError(message)) { try RunFiguresJSON.runSet(fromReportJSON: Self.bytes(text), path: "x.json") }
        #expect(!message.contains("\n"))
    }
}

/// The parser under the reader: JSON's grammar, escapes, numbers kept as written, and where a
/// text stops being JSON.
@Suite struct JSONValueTests {
    @Test func parsesEveryKindOfValue() throws {
        let value = try JSONValue(parsing: Array(#"{"s": "a\"b\\c\n\u00e9\ud83d\ude00", "n": -1.5e3, "i": 42, "t": true, "f": false, "z": null, "a": [1, [], {}]}"#.utf8))
        #expect(value["s"] == .string("a\"b\\c\né😀"))
        #expect(value["n"]?.doubleValue == -1500)
        #expect(value["n"]?.text == "-1.5e3")
        #expect(value["i"]?.intValue == 42)
        #expect(value["t"] == .bool(true) && value["f"] == .bool(false) && value["z"] == .null)
        #expect(value["a"] == .array([.number("1"), .array([]), .object([:])]))
    }

    @Test(arguments: [
        ("", "expected an object or an array at byte 0"),
        ("3", "expected an object or an array at byte 0"),
        ("{\"a\" 1}", "expected ':' at byte 5"),
        ("{\"a\": 01}", "unexpected character at byte 6"),
        ("[1,]", "unexpected character at byte 3"),
        ("[1] x", "unexpected text after the document at byte 4"),
        ("[\"a", "unterminated string at byte 3"),
        ("[\"\\x\"]", "invalid escape at byte 3"),
        ("[1.]", "expected a digit at byte 3"),
    ])
    func badTextSaysWhereAndWhy(text: String, message: String) {
        #expect(throws: JSONValue.ParseError.self) { try JSONValue(parsing: Array(text.utf8)) }
        do { _ = try JSONValue(parsing: Array(text.utf8)) } catch { #expect(error.description == message) }
    }

    /// Nesting is bounded: a hostile file is an error, not a crashed stack.
    @Test func deepNestingIsRefused() {
        let text = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: JSONValue.ParseError.self) { try JSONValue(parsing: Array(text.utf8)) }
    }
}
