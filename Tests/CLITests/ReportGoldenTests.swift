import Foundation
import Testing
import TestSupport

/// The real binary, run as a subprocess on the sample trace: its output must equal the golden
/// files in Tests/Golden byte for byte. After an intended change of the output, regenerate with
/// `UPDATE_GOLDEN=1 swift test --filter ReportGoldenTests` and review the diff.
@Suite struct ReportGoldenTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The binary run from the repository root: the golden files hold the relative paths.
    static func run(_ arguments: [String]) throws -> ProcessResult {
        try TestSupport.Run.program(TestSupport.Run.binary, arguments, directory: root.path)
    }

    static func compare(_ arguments: [String], golden name: String) throws {
        let result = try run(arguments)
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let url = root.appendingPathComponent("Tests/Golden/\(name)")
        if ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] != nil {
            try result.stdout.write(to: url, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOf: url, encoding: .utf8)
        #expect(result.stdout == expected, "ondemand-trace \(arguments.joined(separator: " ")) differs from Tests/Golden/\(name)")
    }

    @Test func latencyText() throws {
        try Self.compare(["report", "--latency", "SampleTraces/starter-6.12.dat"], golden: "report-latency-starter.txt")
    }

    @Test func json() throws {
        try Self.compare(["report", "--format", "json", "SampleTraces/starter-6.12.dat"], golden: "report-starter.json")
    }

    /// `report --files --image` on the lz4 sample: every byte of the image attributed, compressed
    /// files by their pclusters (SampleTraces/README.md).
    @Test func filesOfTheLz4Sample() throws {
        try Self.compare(["report", "--files", "--image", "SampleTraces/vm-lz4.erofs", "SampleTraces/vm-lz4-6.12.txt"],
                         golden: "report-files-lz4.txt")
    }

    /// `--prefetch-list` on the lz4 sample: the list itself is the golden file.
    @Test func prefetchListOfTheLz4Sample() throws {
        let scratch = try TemporaryDirectory("prefetch")
        let list = scratch.path + "/prefetch.txt"
        let result = try Self.run(["report", "--image", "SampleTraces/vm-lz4.erofs", "--prefetch-list", list, "SampleTraces/vm-lz4-6.12.txt"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let url = Self.root.appendingPathComponent("Tests/Golden/prefetch-lz4.txt")
        let written = try String(contentsOfFile: list, encoding: .utf8)
        if ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] != nil { try written.write(to: url, atomically: true, encoding: .utf8) }
        #expect(written == (try String(contentsOf: url, encoding: .utf8)), "the prefetch list differs from Tests/Golden/prefetch-lz4.txt")
    }

    @Test func jsonHasTheDocumentedFields() throws {
        let result = try Self.run(["report", "--format", "json", "SampleTraces/starter-6.12.dat"])
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(doc["schema"] as? String == "ondemand-trace/report/1")
        let reads = try #require(doc["reads"] as? [String: Any])
        #expect(reads["count"] as? Int == 22 && reads["matched"] as? Int == 22 && reads["unmatched"] as? Int == 0)
        #expect(reads["bytes"] as? Int == 2_117_632)
        let latency = try #require(reads["latency_us"] as? [String: Any])
        for key in ["min", "mean", "p50", "p90", "p99", "p999", "max"] { #expect(latency[key] is Double, "\(key)") }
        #expect((reads["histogram_log2_us"] as? [Int])?.reduce(0, +) == 22)
        let opens = try #require(doc["opens"] as? [String: Any])
        #expect(opens["count"] as? Int == 1 && opens["matched"] as? Int == 1)
        #expect((doc["objects"] as? [[String: Any]])?.count == 1)
        let anomalies = try #require(doc["anomalies"] as? [String: Any])
        #expect(anomalies["total"] as? Int == 0 && (anomalies["list"] as? [Any])?.isEmpty == true)
        let trace = try #require(doc["trace"] as? [String: Any])
        #expect(trace["kernel_release"] as? String == "6.12.117" && trace["clock"] as? String == "local")
        #expect((doc["lost_events"] as? [String: Any])?["total"] as? Int == 0)
    }

    @Test func csvHasOneRowPerRequest() throws {
        let result = try Self.run(["report", "--format", "csv", "SampleTraces/starter-6.12.dat"])
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.first?.hasPrefix("kind,obj,msg_id,") == true)
        #expect(lines.count == 1 + 22 + 1)
        #expect(lines.filter { $0.hasPrefix("read,1,") }.count == 22)
    }

    @Test func slowRequestsAndFilters() throws {
        let result = try Self.run(["report", "--min-latency", "8ms", "SampleTraces/starter-6.12.dat"])
        #expect(result.stdout.contains("requests slower than 8000.0 µs: 1"))
        let none = try Self.run(["report", "--object", "7", "SampleTraces/starter-6.12.dat"])
        #expect(none.status == 0 && none.stdout.contains("READ      0 requests"))
    }

    @Test func badInputIsOneLineAndStatus2() throws {
        let missing = try Self.run(["report", "SampleTraces/no-such.dat"])
        expectOneLineError(missing, "no-such.dat")
        let badDuration = try Self.run(["report", "--min-latency", "fast", "SampleTraces/starter-6.12.dat"])
        #expect(badDuration.status != 0 && badDuration.stderr.contains("--min-latency"))
    }
}
