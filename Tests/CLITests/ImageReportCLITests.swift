import Foundation
import Testing
import TestSupport
import ErofsFormat
import OndemandTraceCore

/// `report --image` on a real VM trace: `vm-plain-6.12.txt` read every file of the deterministic
/// `vm/make-image small` image once, so its READs must cover the image exactly, file by file.
@Suite(.serialized) struct ImageReportCLITests {
    static let plain = Fixtures.repo + "/SampleTraces/vm-plain-6.12.txt"

    /// The image the trace was recorded with, rebuilt (same bytes: fixed time stamps and UUID).
    final class Image {
        let scratch: TemporaryDirectory
        var dir: String { scratch.path }
        var path: String { dir + "/small.erofs" }
        init() throws {
            scratch = try TemporaryDirectory("image")
            let made = try Run.program(Fixtures.repo + "/vm/make-image", [dir, "small", "small"])
            try #require(made.status == 0, "vm/make-image: \(made.stderr)")
        }
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
        // Every file with a block of its own; a file left out can only be an inline tail in an
        // inode block (under a block), which came with the metadata.
        #expect(Set(prefetch).isSubset(of: Set(sizes.keys)) && prefetch.count == Set(prefetch).count)
        #expect(sizes.filter { $0.value >= 4096 }.keys.allSatisfy(prefetch.contains), "\(prefetch)")
        #expect(Set(sizes.keys).subtracting(prefetch).allSatisfy { sizes[$0]! < 4096 }, "\(Set(sizes.keys).subtracting(prefetch))")
        let firstMiss = Dictionary(uniqueKeysWithValues: files.map { ($0["path"] as! String, ($0["first_miss_s"] as! NSNumber).doubleValue) })
        #expect(prefetch.map { firstMiss[$0]! } == prefetch.map { firstMiss[$0]! }.sorted(), "in first-miss order")
    }

    @Test func theTextTableNamesEveryFile() throws {
        let image = try Image()
        let result = try Run.odt("report", "--image", image.path, "--files", Self.plain)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("files: 13, plus (metadata); by total wait"), "(metadata) is no file")
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

    /// The lz4 sample (a compressed image, read once in the VM): every byte of the image is a
    /// file's or metadata, each compressed file blamed for exactly its pclusters.
    @Test func compressedFilesAreBlamedForTheirPclusters() throws {
        let imagePath = Fixtures.repo + "/SampleTraces/vm-lz4.erofs"
        let result = try Run.odt("report", "--format", "json", "--image", imagePath, Fixtures.repo + "/SampleTraces/vm-lz4-6.12.txt")
        #expect(result.status == 0, "\(result.stderr)")
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let files = try #require(doc["files"] as? [[String: Any]])
        var bytes: [String: Int] = [:]
        for row in files { bytes[row["path"] as! String] = (row["bytes_requested"] as! NSNumber).intValue }
        let image = try ErofsImage(bytes: [UInt8](try Data(contentsOf: URL(fileURLWithPath: imagePath))))
        #expect(bytes.values.reduce(0, +) == Int(image.size) && image.size == 69_632, "every byte of the image was read once")
        #expect(bytes["(unattributed)"] == nil)
        let regular = try image.entries().filter { $0.kind == .file }
        #expect(regular.count == 8 && regular.filter(\.compressed).count == 6)
        for entry in regular {
            let owned = entry.extents.reduce(0) { $0 + Int($1.length) }
            #expect(bytes[entry.path] == owned, "\(entry.path): \(bytes[entry.path] ?? 0) bytes blamed, \(owned) on disk")
        }
        #expect(bytes["bin/app"] == 28_672, "two big pclusters, 16 + 12 KiB")
        // The kernel fetched each pcluster stored in blocks of its own with exactly one READ of
        // exactly its range: the index says what a READ of compressed data touches.
        let csv = try Run.odt("report", "--format", "csv", "--image", imagePath, Fixtures.repo + "/SampleTraces/vm-lz4-6.12.txt")
        let reads = Set(csv.stdout.split(separator: "\n").filter { $0.hasPrefix("read,") }.map { line in
            let f = line.split(separator: ",", omittingEmptySubsequences: false)
            return "\(f[5])+\(f[6])"
        })
        let pclusters = regular.filter(\.compressed).flatMap(\.extents).filter { $0.physical % 4096 == 0 }
        #expect(pclusters.count == 3 && pclusters.allSatisfy { reads.contains("\($0.physical)+\($0.length)") }, "\(pclusters) in \(reads)")
    }

    /// A compressed file whose size claims far more clusters than its index holds: one line
    /// naming the image and the inode, exit 2.
    @Test func aLyingCompressionIndexIsOneLineExitTwo() throws {
        let imagePath = Fixtures.repo + "/SampleTraces/vm-lz4.erofs"
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: imagePath)))
        let app = try #require(try ErofsImage(bytes: bytes).entries().first { $0.path == "bin/app" })
        for b in 0..<4 { bytes[Int(app.metadata.lowerBound) + 8 + b] = 0xff }  // a compact inode's size
        let scratch = try TemporaryDirectory("lz4")
        let bad = scratch.path + "/bad.erofs"
        try Fixtures.write(bytes, to: bad)
        let result = try Run.odt("report", "--files", "--image", bad, Fixtures.repo + "/SampleTraces/vm-lz4-6.12.txt")
        expectOneLineError(result, bad, "inode \(app.nid)", "more than the image holds")
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
            expectOneLineError(result, message)
        }
        let wrong = try Run.program(Fixtures.repo + "/vm/make-image", [image.dir, "other", "small"])
        try #require(wrong.status == 0)
        let result = try Run.odt("report", "--image", image.dir + "/other.erofs", Self.plain)
        expectOneLineError(result, "backs no object of the trace")
        #expect(try Run.odt("report", "--files", Self.plain).status != 0)
    }
}
