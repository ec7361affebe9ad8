import Foundation
import Testing
import TestSupport

/// `report --image` on a real VM trace: `vm-plain-6.12.txt` read every file of the deterministic
/// `vm/make-image small` image once, so its READs must cover the image exactly, file by file.
@Suite(.serialized) struct ImageReportCLITests {
    static let plain = Fixtures.repo + "/SampleTraces/vm-plain-6.12.txt"

    /// The image the trace was recorded with, rebuilt (same bytes: fixed time stamps and UUID).
    final class Image {
        let dir = NSTemporaryDirectory() + "odt-image-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        var path: String { dir + "/small.erofs" }
        init() throws {
            let made = try Run.program(Fixtures.repo + "/vm/make-image", [dir, "small", "small"])
            try #require(made.status == 0, "vm/make-image: \(made.stderr)")
        }
        deinit { try? FileManager.default.removeItem(atPath: dir) }
        func sizes() throws -> [String: Int] {
            var out: [String: Int] = [:]
            for line in try Fixtures.text(dir + "/small.md5").split(separator: "\n") {
                let path = String(line.split(separator: " ", omittingEmptySubsequences: true)[1])
                out[path] = try FileManager.default.attributesOfItem(atPath: dir + "/small.tree/" + path)[.size] as? Int
            }
            return out
        }
    }

    @Test func everyFileOfTheImageIsBlamedForItsOwnBytes() throws {
        let image = try Image()
        let list = image.dir + "/prefetch.txt"
        let result = try Run.odt("report", "--format", "json", "--image", image.path, "--prefetch-list", list, Self.plain)
        #expect(result.status == 0, "\(result.stderr)")
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let files = try #require(doc["files"] as? [[String: Any]])
        var bytes: [String: Int] = [:]
        for row in files { bytes[row["path"] as! String] = (row["bytes_requested"] as! NSNumber).intValue }
        let sizes = try image.sizes()
        let imageSize = try FileManager.default.attributesOfItem(atPath: image.path)[.size] as! Int
        #expect(bytes.values.reduce(0, +) == imageSize, "every byte of the image was read once")
        #expect(bytes["(unattributed)"] == nil)
        #expect(bytes["(metadata)", default: 0] > 0)
        for (path, size) in sizes {
            // Whole blocks, but for an inline tail: between the size and the size rounded up.
            let got = try #require(bytes[path], "\(path) missing")
            #expect(got >= size && got <= (size + 4095) / 4096 * 4096, "\(path): \(got) bytes for a \(size)-byte file")
        }
        #expect(bytes["sub/2m.bin"] == 2 << 20)
        let waits = files.map { ($0["wait_total_us"] as! NSNumber).doubleValue }
        #expect(waits == waits.sorted(by: >), "most waited-for first")
        let prefetch = try Fixtures.text(list).split(separator: "\n").map(String.init)
        #expect(Set(prefetch) == Set(sizes.keys) && prefetch.count == sizes.count)
        let firstMiss = Dictionary(uniqueKeysWithValues: files.map { ($0["path"] as! String, ($0["first_miss_s"] as! NSNumber).doubleValue) })
        #expect(prefetch.map { firstMiss[$0]! } == prefetch.map { firstMiss[$0]! }.sorted(), "in first-miss order")
    }

    @Test func theTextTableNamesEveryFile() throws {
        let image = try Image()
        let result = try Run.odt("report", "--image", image.path, "--files", Self.plain)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("files: 14 (by total wait"))
        let rows = result.stdout.split(separator: "\n").filter { $0.hasSuffix("sub/2m.bin") }
        #expect(rows.count == 1 && rows[0].contains(" 19 ") && rows[0].contains(" 2097152 "))
    }

    /// CSV gains a `paths` column: the owners of each READ's range.
    @Test func csvRowsNameThePathsOfEachRead() throws {
        let image = try Image()
        let result = try Run.odt("report", "--format", "csv", "--image", image.path, Self.plain)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasSuffix(",join,range_written,blob,resumed_s,stall_us,paths") == true)
        let reads = lines.filter { $0.hasPrefix("read,") }
        #expect(reads.count == 49)
        let owners = Set(reads.flatMap { $0.split(separator: ",", omittingEmptySubsequences: false).last!.split(separator: ";").map(String.init) })
        #expect(owners.count == 14 && owners.contains("hello.txt") && owners.contains("(metadata)"))
        let plain = try Run.odt("report", "--format", "csv", Self.plain)
        #expect(!plain.stdout.hasPrefix(lines[0]), "without --image the columns stay as they were")
    }

    /// The HTML page draws the waterfall: a row per file in first-miss order, a bar per READ.
    @Test func theHTMLWaterfallHasARowPerFile() throws {
        let image = try Image()
        let html = image.dir + "/report.html"
        let result = try Run.odt("report", "--image", image.path, "--html", html, Self.plain)
        #expect(result.status == 0, "\(result.stderr)")
        let page = try Fixtures.text(html)
        let section = try #require(page.range(of: "Files, in the order the readers first missed them")).upperBound
        let waterfall = page[section...].prefix { _ in true }.components(separatedBy: "<h2>")[0]
        let rows = waterfall.components(separatedBy: "data-file=\"").dropFirst().map { $0.prefix { $0 != "\"" } }
        #expect(rows.count == 14 && rows.contains("sub/2m.bin") && rows.contains("(metadata)"))
        let bars = waterfall.components(separatedBy: "<rect ").count - 1
        #expect(bars >= 49, "at least one bar per READ (\(bars))")
    }

    @Test func imagesThatDoNotFitAreOneLineExitTwo() throws {
        let image = try Image()
        let other = image.dir + "/other.bin"
        try Fixtures.write([UInt8](repeating: 7, count: 5000), to: other)
        for (args, message) in [
            (["--image", "/nonexistent.erofs"], "/nonexistent.erofs: cannot open"),
            (["--image", other], "not an EROFS image, and no single bootstrap with blobs"),
            (["--image", image.path, "--image", "1=" + image.dir + "/small.md5"], "not an EROFS image"),
        ] {
            let result = try Run.odt(["report"] + args + [Self.plain])
            #expect(result.status == 2, "\(args): \(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1 && result.stderr.contains(message), "\(args): \(result.stderr)")
        }
        let wrong = try Run.program(Fixtures.repo + "/vm/make-image", [image.dir, "other", "small"])
        try #require(wrong.status == 0)
        let result = try Run.odt("report", "--image", image.dir + "/other.erofs", Self.plain)
        #expect(result.status == 2 && result.stderr.contains("backs no object of the trace"), "\(result.stderr)")
        #expect(try Run.odt("report", "--files", Self.plain).status != 0)
    }
}
