import Foundation
import Testing
import TestSupport

/// `check` on schema-2 documents (several runs each), and its refusals of bad input.
@Suite struct CheckRunsCLITests {
    static let plain = Fixtures.repo + "/SampleTraces/vm-plain-6.12.txt"

    /// Each test's documents, removed with it.
    let scratch: TemporaryDirectory
    init() throws { scratch = try TemporaryDirectory("check-runs") }

    /// A new path in the test's directory.
    func file(_ name: String) -> String {
        scratch.path + "/\(UInt32.random(in: 0...UInt32.max))-\(name)"
    }

    static func singleRunReport() throws -> [String: Any] {
        let result = try Run.odt("report", "--format", "json", plain)
        #expect(result.status == 0)
        return try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    }

    /// A schema-2 document whose runs are the sample's figures with every latency multiplied by
    /// `factors[i]` (throughput divided by it); `noReads` empties one run.
    func document(_ factors: [Double], noReads: Int? = nil, preset: String = "regression") throws -> String {
        var root = try Self.singleRunReport()
        let reads = try #require(root["reads"] as? [String: Any])
        let runs: [[String: Any]] = factors.enumerated().map { i, f in
            var r = reads
            var latency = r["latency_us"] as! [String: Any]
            for key in ["min", "mean", "p50", "p90", "p99", "p999", "max"] {
                latency[key] = (latency[key] as! NSNumber).doubleValue * f
            }
            if noReads == i { latency = ["count": 0]; r["histogram_us"] = [] }
            r["latency_us"] = latency
            r["throughput_bytes_per_s"] = (reads["throughput_bytes_per_s"] as! NSNumber).doubleValue / f
            return ["run": i + 1, "reads": r, "opens": root["opens"]!, "anomalies": ["total": 0]]
        }
        root["schema"] = "ondemand-trace/report/2"
        root["runs"] = runs
        root["run"] = ["preset": preset, "image": "small", "runs": String(factors.count), "warmup": "1", "pinned": "off"]
        let path = file("doc.json")
        let data = try JSONSerialization.data(withJSONObject: root)
        #expect(FileManager.default.createFile(atPath: path, contents: data))
        return path
    }

    static let baseFactors = [1.00, 1.03, 0.98, 1.01, 0.99]

    @Test func identicalSetsPassWithTheRunAsTheUnit() throws {
        let base = try document(Self.baseFactors), cur = try document([1.02, 0.97, 1.0, 1.01, 0.985])
        let result = try Run.odt("check", "--baseline", base, cur)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let p50 = result.stdout.split(separator: "\n").first { $0.hasPrefix("p50 ") }.map(String.init) ?? ""
        #expect(p50.contains("n=5/5") && p50.hasSuffix("~"), "\(result.stdout)")
        #expect(result.stdout.contains("change [99.2% interval]"))
        #expect(result.stdout.contains("test: Mann-Whitney U (two-sided, across runs"))
        #expect(result.stdout.contains("result: ok"))
    }

    @Test func aSetTwiceAsSlowRegresses() throws {
        let base = try document(Self.baseFactors), cur = try document(Self.baseFactors.map { $0 * 2 })
        let result = try Run.odt("check", "--baseline", base, cur)
        #expect(result.status == 1)
        let p50 = result.stdout.split(separator: "\n").first { $0.hasPrefix("p50 ") }.map(String.init) ?? ""
        #expect(p50.hasSuffix("REGRESSION") && p50.contains("+100% [+90%, +110%]") && p50.contains("0.0079"), "\(result.stdout)")
        let json = try Run.odt("check", "--format", "json", "--baseline", base, cur)
        #expect(json.status == 1)
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(doc["mode"] as? String == "across_runs")
        let rows = try #require(doc["metrics"] as? [[String: Any]])
        let row = try #require(rows.first { $0["metric"] as? String == "p50" })
        #expect(row["verdict"] as? String == "regression")
        #expect(row["baseline_runs"] as? Int == 5 && row["current_runs"] as? Int == 5)
        #expect(abs((row["p_value"] as? Double ?? 0) - 2.0 / 252) < 1e-6)
        #expect((row["min_detectable"] as? Double ?? 0) > 0)
    }

    @Test func severalFilesPoolTheirRuns() throws {
        let base = try document(Self.baseFactors)
        let cur1 = try document([2.0, 2.04]), cur2 = try document([1.96, 2.02, 1.98])
        let result = try Run.odt("check", "--baseline", base, cur1, cur2)
        #expect(result.status == 1)
        #expect(result.stdout.contains("n=5/5"), "\(result.stdout)")
    }

    @Test func anOldSingleRunBaselineStillWorksWithAWarning() throws {
        let old = file("old.json"), cur = try document(Self.baseFactors, preset: "none")
        _ = try Run.program("/bin/sh", ["-c", "'\(Run.binary)' report --format json '\(Self.plain)' > '\(old)'"])
        let result = try Run.odt("check", "--allow-different", "--baseline", old, cur)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("warning: 1 baseline run(s), 5 current run(s): the run-to-run noise is unknown"))
        #expect(result.stdout.contains("test: Mann-Whitney U (one-sided, tie-corrected, on per-request READ latencies)"))
    }

    @Test func badBaselinesAreOneLine() throws {
        let garbage = file("garbage.txt"), other = file("other.json"), future = file("future.json")
        _ = FileManager.default.createFile(atPath: garbage, contents: Data("garbage\n".utf8))
        expectOneLineError(try Run.odt("check", "--baseline", garbage, Self.plain), garbage, "not a report")
        // A trace is not a baseline either (the repository keeps a report).
        expectOneLineError(try Run.odt("check", "--baseline", Self.plain, Self.plain), Self.plain, "not a report")
        _ = FileManager.default.createFile(atPath: other, contents: Data(#"{"name": "something else"}"#.utf8))
        expectOneLineError(try Run.odt("check", "--baseline", other, Self.plain), other, "not an ondemand-trace report")
        var report = try Self.singleRunReport()
        report["schema"] = "ondemand-trace/report/9"
        _ = FileManager.default.createFile(atPath: future, contents: try JSONSerialization.data(withJSONObject: report))
        expectOneLineError(try Run.odt("check", "--baseline", future, Self.plain), future,
                                "report schema \"ondemand-trace/report/9\" is not one this version reads")
        // Only the first bytes are read to tell a report from a trace: an endless file is refused at once.
        let endless = try Run.program("/bin/sh", ["-c", "timeout 20 '\(Run.binary)' check --baseline /dev/zero '\(Self.plain)'"])
        expectOneLineError(endless, "/dev/zero", "not a report")
    }

    @Test func aRunWithoutReadsIsAnError() throws {
        let base = try document(Self.baseFactors), cur = try document(Self.baseFactors, noReads: 2)
        expectOneLineError(try Run.odt("check", "--baseline", base, cur), cur, "run 3 has no answered READ")
    }

    /// A trace's figures are built from the report model (no JSON round trip): they must equal
    /// the figures read back from that trace's report JSON, metric by metric.
    @Test func aTraceAndItsReportGiveTheSameFigures() throws {
        let report = file("plain.json")
        _ = try Run.program("/bin/sh", ["-c", "'\(Run.binary)' report --format json '\(Self.plain)' > '\(report)'"])
        let all = ["p50", "p90", "p99", "p999", "mean", "max", "open_p50", "open_p99", "unmatched", "anomalies", "throughput", "requests_per_s"]
        let result = try Run.program(Run.binary, ["check", "--format", "json", "--baseline", report, Self.plain] + all.flatMap { ["--max", "\($0)=\($0 == "throughput" || $0 == "requests_per_s" ? "-" : "+")1%"] })
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let rows = try #require(doc["metrics"] as? [[String: Any]])
        #expect(rows.count == all.count)
        for row in rows {
            let b = row["baseline"] as? Double, c = row["current"] as? Double
            #expect(b != nil && b == c, "\(row)")
        }
    }

    @Test func unlikeBaselinesAreRefused() throws {
        let a = try document(Self.baseFactors), b = try document(Self.baseFactors, preset: "none"), cur = try document(Self.baseFactors)
        expectOneLineError(try Run.odt("check", "--baseline", a, "--baseline", b, cur), b, "measured differently (run.preset")
    }
}
