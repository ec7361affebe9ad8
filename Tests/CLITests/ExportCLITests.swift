import Foundation
import Testing
import TestSupport

/// `report --format chrome` and `report --html` on real VM traces.
@Suite struct ExportCLITests {
    static let daemonExit = Fixtures.repo + "/SampleTraces/vm-daemon-exit-6.12.txt"
    static let plain = Fixtures.repo + "/SampleTraces/vm-plain-6.12.txt"

    static func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test func chromeTraceHasOneSlicePerRequestAndTheAnomalies() throws {
        let result = try Run.odt("report", "--format", "chrome", Self.daemonExit)
        #expect(result.status == 0, "\(result.stderr)")
        let doc = try Self.json(result.stdout)
        let events = try #require(doc["traceEvents"] as? [[String: Any]])
        let begins = events.filter { $0["ph"] as? String == "b" }
        let ends = events.filter { $0["ph"] as? String == "e" }
        #expect(begins.count == ends.count)
        // 5 READs + 1 OPEN as top slices; 4 answered READs with 3 marker stages each.
        let tops = begins.filter { ["read", "open"].contains(($0["name"] as? String)?.split(separator: " ").first.map(String.init)) }
        #expect(tops.count == 6)
        #expect(begins.count == 6 + 4 * 3)
        let unanswered = begins.filter { ($0["cat"] as? String)?.contains("unanswered") == true }
        #expect(unanswered.count == 1)
        let anomalies = events.compactMap { $0["name"] as? String }.filter { $0.hasPrefix("anomaly: ") }
        #expect(Set(anomalies) == ["anomaly: read_never_completed", "anomaly: fd_release_with_outstanding_reads"])
        let names = events.filter { $0["ph"] as? String == "M" }.compactMap { ($0["args"] as? [String: Any])?["name"] as? String }
        #expect(names == ["obj 4"])
    }

    /// `--blob` keeps the other blobs' records out of the Chrome trace too: its opens, closes and
    /// markers, not only its requests.
    @Test func chromeTraceWithABlobFilterHasThatBlobsRecordsOnly() throws {
        let named = ["--blob-names", "4=img"]
        let kept = try Self.json(try Run.odt(["report", "--format", "chrome"] + named + ["--blob", "img", Self.daemonExit]).stdout)
        let all = try Self.json(try Run.odt(["report", "--format", "chrome", Self.daemonExit]).stdout)
        #expect((kept["traceEvents"] as? [Any])?.count == (all["traceEvents"] as? [Any])?.count)
        let other = try Run.odt(["report", "--format", "chrome"] + named + ["--blob", "other", Self.daemonExit])
        #expect(other.status == 0, "\(other.stderr)")
        let events = try #require(try Self.json(other.stdout)["traceEvents"] as? [[String: Any]])
        #expect(events.filter { ["i", "b", "e", "n"].contains($0["ph"] as? String ?? "") }.isEmpty, "\(events.prefix(3))")
    }

    /// Every figure the page marks with data-metric equals the JSON report's value.
    @Test func htmlFiguresEqualTheJSONReport() throws {
        let scratch = try TemporaryDirectory("html")
        let html = scratch.path + "/report.html"
        let result = try Run.odt("report", "--html", html, "--format", "json", Self.plain)
        #expect(result.status == 0, "\(result.stderr)")
        let report = try Self.json(result.stdout)
        let page = try Fixtures.text(html)
        #expect(page.hasPrefix("<!DOCTYPE html>"))
        // Self-contained: no scripts, and no address but the SVG namespace name.
        #expect(!page.contains("<script"))
        let addresses = page.replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "")
        #expect(!addresses.contains("http://") && !addresses.contains("https://") && !addresses.contains("src="))
        let pattern = try NSRegularExpression(pattern: #"data-metric="([^"]+)" data-value="([^"]+)""#)
        let matches = pattern.matches(in: page, range: NSRange(page.startIndex..., in: page))
        #expect(matches.count >= 15)
        for match in matches {
            let metric = String(page[Range(match.range(at: 1), in: page)!])
            let shown = try #require(Double(String(page[Range(match.range(at: 2), in: page)!])))
            guard !metric.hasPrefix("objects.") else { continue }
            var node: Any? = report
            for key in metric.split(separator: ".").map(String.init) {
                node = (node as? [String: Any])?[key]
            }
            let expected = try #require((node as? NSNumber)?.doubleValue, "no \(metric) in the JSON report")
            #expect(abs(shown - expected) < 0.0005, "\(metric): page \(shown), JSON \(expected)")
        }
    }

    /// A real browser renders the page: the rendered DOM holds the figures and a screenshot is drawn.
    @Test(.enabled(if: HostFacts.isExecutable("/usr/bin/chromium")))
    func chromiumRendersThePage() throws {
        let scratch = try TemporaryDirectory("html"), dir = scratch.path
        let html = dir + "/report.html"
        #expect(try Run.odt("report", "--html", html, Self.daemonExit).status == 0)
        let common = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--user-data-dir=\(dir)/profile"]
        let dom = try Run.program("/usr/bin/chromium", common + ["--dump-dom", "file://" + html])
        #expect(dom.stdout.contains("read_never_completed"))
        #expect(dom.stdout.contains("<svg"))
        let shot = try Run.program("/usr/bin/chromium", common + ["--window-size=1100,1800", "--screenshot=\(dir)/shot.png", "file://" + html])
        #expect(shot.status == 0, "\(shot.stderr)")
        let png = try Fixtures.bytes(dir + "/shot.png")
        #expect(png.count > 20_000)
        #expect(Array(png.prefix(4)) == [0x89, 0x50, 0x4e, 0x47])
    }
}
