import Foundation
import Testing
import TestSupport

/// Blob names in `report`: by hand (`--blob-names`), from record's cookie lines joined through
/// `cachefiles_ref`, the `--blobs` table, the `--blob` filter and the CSV column.
@Suite struct BlobReportCLITests {
    static let plain = Fixtures.repo + "/SampleTraces/vm-plain-6.12.txt"

    static func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    /// vm-plain with what a recording by `record` adds: the object's `cachefiles_ref` before its
    /// OPEN and, at the end (polled late), the cookie line naming its cookie.
    static func withCookieLines(in scratch: TemporaryDirectory) throws -> String {
        var lines = try Fixtures.text(plain).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let first = try #require(lines.firstIndex { !$0.hasPrefix("#") })
        lines.insert("           mount-99      [001] .....     9.300000: cachefiles_ref: c=00000002 o=00000001 u=1 NEW obj", at: first)
        let last = try #require(lines.lastIndex { !$0.isEmpty })
        lines.insert(#"  ondemand-trace-70      [000] .....    10.900000: tracing_mark_write: odt1 cookie id=2 volume_id=1 volume=erofs,small blob=small\x20one"#, at: last + 1)
        let path = scratch.path + "/blobs.txt"
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func cookieLinesNameTheObjectInEveryOutput() throws {
        let scratch = try TemporaryDirectory("blobs")
        let path = try Self.withCookieLines(in: scratch)
        let doc = try Self.json(try Run.odt("report", "--format", "json", path).stdout)
        let objects = try #require(doc["objects"] as? [[String: Any]])
        #expect(objects.map { $0["blob"] as? String } == [#"small\x20one"#])
        #expect(objects.map { $0["volume"] as? String } == ["erofs,small"])
        let reads = try #require(doc["reads"] as? [String: Any])
        let blobs = try #require(doc["blobs"] as? [[String: Any]])
        #expect(blobs.count == 1)
        #expect(blobs[0]["reads"] as? Int == reads["count"] as? Int && (reads["count"] as? Int ?? 0) > 40)
        #expect(blobs[0]["reads_answered"] as? Int == reads["matched"] as? Int)
        // CSV: every READ row names the blob, though the name comes at the trace's end.
        let csv = try Run.odt("report", "--format", "csv", path)
        let rows = csv.stdout.split(separator: "\n").dropFirst().filter { $0.hasPrefix("read,") }
        #expect(!rows.isEmpty && rows.allSatisfy { $0.split(separator: ",", omittingEmptySubsequences: false)[14] == #"small\x20one"# })
        // Text: the per-blob table and the objects' blob column.
        let text = try Run.odt("report", "--blobs", "--objects", path).stdout
        #expect(text.contains("blobs: 1 (read -> cread of their READs)"))
        #expect(text.contains(#"erofs,small small\x20one"#))
        // --blob keeps that blob's objects (given as typed or as key text).
        for name in ["small one", #"small\x20one"#] {
            let only = try Self.json(try Run.odt("report", "--format", "json", "--blob", name, path).stdout)
            #expect((only["reads"] as? [String: Any])?["count"] as? Int == reads["count"] as? Int)
        }
        let none = try Self.json(try Run.odt("report", "--format", "json", "--blob", "other", path).stdout)
        #expect((none["reads"] as? [String: Any])?["count"] as? Int == 0)
        #expect((none["objects"] as? [[String: Any]])?.isEmpty == true)
    }

    @Test func namesGivenByHandWinAndOldTracesHaveNone() throws {
        let old = try Self.json(try Run.odt("report", "--format", "json", Self.plain).stdout)
        #expect((old["objects"] as? [[String: Any]])?.first?["blob"] is NSNull)
        #expect((old["blobs"] as? [Any])?.isEmpty == true)
        let named = try Self.json(try Run.odt("report", "--format", "json", "--blob-names", "1=boot.img", Self.plain).stdout)
        #expect((named["objects"] as? [[String: Any]])?.first?["blob"] as? String == "boot.img")
        #expect((named["blobs"] as? [[String: Any]])?.map { $0["blob"] as? String } == ["boot.img"])
        let text = try Run.odt("report", "--blobs", Self.plain).stdout
        #expect(text.contains("blobs: the trace names no object"))
    }

    @Test func badNamesAreUsageErrors() throws {
        for args in [["--blob-names", "x=y"], ["--blob-names", "1="], ["--blob-names", "1=a", "--blob-names", "1=b"], ["--blob", ""]] {
            let result = try Run.odt(["report"] + args + [Self.plain])
            #expect(result.status == 2, "\(args)")   // a usage error, as every option's
            #expect(result.stderr.contains("--blob"), "\(args): \(result.stderr)")
        }
    }
}
