import Foundation
import Testing
import TestSupport
import ErofsFormat
@testable import OndemandTraceCore
import TraceFiles

/// An EROFS layout made the core's byte owners (`ImageRangeMap`, through TraceFiles' glue) and
/// blamed: images made by `mkfs.erofs` (`ErofsImageTests.Workspace`), READs at random.
@Suite(.serialized) struct ImageBlameTests {
    typealias Workspace = ErofsImageTests.Workspace
    static func read(_ path: String) throws -> [UInt8] { try ErofsImageTests.read(path) }

    /// The sources of `images` (bootstraps) and `blobs`, as `report --image` makes them.
    static func sources(images: [(name: String, image: ErofsImage)], blobs: [(name: String, size: UInt64)]) throws -> [FileBlame.Source] {
        try ImageMatching.sources(images: images.map(ImageFiles.blameImage), blobs: blobs)
    }

    /// `FileBlame` (tallies walked over the segments, percentiles in latency order) against the
    /// plain way: each READ's owners from `ownersWithInline`, a `LatencyRecorder`, a reader set and
    /// spans per owner. Random READs over a flat image with inline tails and over a bootstrap +
    /// blob (two objects, one map); one owner gets more than `exactLimit` waits (HdrHistogram
    /// percentiles), and there are more than 64 readers.
    @Test func fileBlameMatchesAPerReadReference() throws {
        let w = try Workspace()
        var rng = SplitMix64(seed: w.seed)
        for (name, options, blob) in [("flat", [String](), false), ("chunked", ["--chunksize=4096"], true)] {
            let (path, blobPath) = try w.image(name, options, blob: blob)
            let image = try ErofsImage(bytes: Self.read(path))
            let blobs = try blobPath.map { [($0, UInt64(try Self.read($0).count))] } ?? []
            let list = try ImageBlameTests.sources(images: [(path, image)], blobs: blobs)
            var sources: [UInt32: FileBlame.Source] = [:]
            for (i, source) in list.enumerated() { sources[UInt32(i + 1)] = source }
            var requests: [RequestRecord] = []
            var t: UInt64 = 1_000
            for _ in 0..<15_000 {
                t += rng.next() % 3 == 0 ? 0 : rng.next() % 5_000  // ties: a READ starting in a file and one from before it, issued at once
                let hot = rng.next() % 2 == 0  // the superblock's block: (metadata) gets > exactLimit waits
                let obj = hot ? 1 : UInt32(rng.next() % UInt64(list.count + 1) + 1)  // the last has no image
                let size = obj <= list.count ? list[Int(obj) - 1].size : 1 << 20
                let offset = hot ? Int64(rng.next() % 4096) : Int64(rng.next() % (size + 8192))
                let length = hot ? rng.next() % 512 + 1 : rng.next() % 200_000
                let reader = Int32(rng.next() % 70)
                let latency = rng.next() % 100 == 0 ? rng.next() % 50_000_000 : rng.next() % 900_000 + 100
                requests.append(RequestRecord(kind: rng.next() % 50 == 0 ? .open : .read, obj: obj, msgID: 1, pid: 100 + reader,
                                              comm: reader % 9 == 0 ? nil : "r\(reader % 5)", offset: rng.next() % 60 == 0 ? nil : offset,
                                              length: length, issued: t, completed: rng.next() % 20 == 0 ? nil : t + latency, join: .marker))
            }
            struct Reference {
                var firstMiss: UInt64, firstOwnMiss: (UInt64, UInt64)? = nil, reads = 0, bytes: UInt64 = 0, totalWait: UInt64 = 0, unanswered = 0
                var wait = LatencyRecorder(significantDigits: 3, exactLimit: FileBlame.exactLimit, log2: false)
                var readers = Set<ReportAccumulator.ReaderKey>(), spans: [(UInt64, UInt64?)] = []
            }
            var reference: [ImageRangeMap.Owner: Reference] = [:]
            for r in requests {
                guard r.kind == .read, let source = sources[r.obj], let offset = r.offset, offset >= 0, let length = r.length else { continue }
                for (id, bytes, ownStart) in source.map.ownersWithInline(device: source.device, offset: UInt64(offset), length: length) {
                    let owner = source.map.owner(id)
                    var row = reference[owner] ?? Reference(firstMiss: r.issued)
                    row.firstMiss = min(row.firstMiss, r.issued)
                    if let ownStart, row.firstOwnMiss.map({ (r.issued, ownStart) < $0 }) ?? true { row.firstOwnMiss = (r.issued, ownStart) }
                    row.reads += 1
                    row.bytes += bytes
                    if let latency = r.latency { row.wait.record(nanoseconds: latency); row.totalWait += latency } else { row.unanswered += 1 }
                    row.readers.insert(ReportAccumulator.ReaderKey(pid: r.pid, comm: r.comm ?? "?"))
                    if row.spans.count < FileBlame.spanLimit { row.spans.append((r.issued, r.completed)) }
                    reference[owner] = row
                }
            }
            let blame = FileBlame(requests: requests, sources: sources)
            // Without percentiles (`report`'s text and HTML): the same rows, the percentiles nil.
            var log = FileBlame.Reads()
            for r in requests { log.add(r) }
            let plain = FileBlame(reads: log, sources: sources, spans: false, percentiles: false)
            #expect(plain.rows.count == blame.rows.count, "seed \(w.seed), \(name)")
            for (a, b) in zip(plain.rows, blame.rows) {
                var expected = b.wait.summary
                (expected.p50Microseconds, expected.p90Microseconds, expected.p99Microseconds, expected.p999Microseconds) = (nil, nil, nil, nil)
                #expect(a.owner == b.owner && a.reads == b.reads && a.totalWait == b.totalWait && a.readers == b.readers
                        && a.wait.count == b.wait.count && a.wait.maxNanoseconds == b.wait.maxNanoseconds && a.wait.summary == expected
                        && a.spans.isEmpty, "seed \(w.seed), \(name), \(a.owner)")
            }
            // Tallied in two halves (`report` runs them on two threads; here the second first) and
            // added up: the same rows, in the same order.
            let halves = FileBlame(reads: log, sources: sources, concurrently: { first, second in second(); first() })
            #expect(log.count >= 8192 && halves.rows.count == blame.rows.count, "seed \(w.seed), \(name)")
            for (a, b) in zip(halves.rows, blame.rows) {
                #expect(a.owner == b.owner && a.firstMiss == b.firstMiss && a.firstOwnMiss?.time == b.firstOwnMiss?.time
                        && a.firstOwnMiss?.offset == b.firstOwnMiss?.offset && a.reads == b.reads && a.bytesRequested == b.bytesRequested
                        && a.totalWait == b.totalWait && a.unanswered == b.unanswered && a.readers == b.readers
                        && a.wait.count == b.wait.count && a.wait.maxNanoseconds == b.wait.maxNanoseconds && a.wait.summary == b.wait.summary
                        && a.spans.map(\.issued) == b.spans.map(\.issued) && a.spans.map(\.completed) == b.spans.map(\.completed),
                        "seed \(w.seed), \(name), \(a.owner)")
            }
            #expect(Set(blame.rows.map(\.owner)) == Set(reference.keys), "seed \(w.seed), \(name)")
            #expect(reference.values.contains { $0.wait.count > UInt64(FileBlame.exactLimit) }, "seed \(w.seed), \(name)")
            #expect(reference.values.contains { $0.readers.count > 64 }, "seed \(w.seed), \(name)")
            let spanned = Set(blame.byFirstMiss.prefix(FileBlame.spanRows).map(\.owner))
            for row in blame.rows {
                let ref = try #require(reference[row.owner])
                let context = "seed \(w.seed), \(name), \(row.owner)"
                #expect(row.firstMiss == ref.firstMiss && row.firstOwnMiss?.time == ref.firstOwnMiss?.0
                        && row.firstOwnMiss?.offset == ref.firstOwnMiss?.1, "\(context)")
                #expect(row.reads == ref.reads && row.bytesRequested == ref.bytes && row.unanswered == ref.unanswered, "\(context)")
                #expect(row.totalWait == ref.totalWait && row.wait.count == ref.wait.count, "\(context)")
                #expect(row.wait.maxNanoseconds == ref.wait.maxNanoseconds && row.wait.summary == ref.wait.summary, "\(context)")
                #expect(row.readers == ref.readers.sorted(), "\(context)")
                if spanned.contains(row.owner) {
                    #expect(row.spans.map(\.issued) == ref.spans.map(\.0) && row.spans.map(\.completed) == ref.spans.map(\.1), "\(context)")
                }
            }
        }
    }

    /// A bootstrap and its blob, each its own object: a READ of the blob object is blamed on the
    /// file whose chunk lies there; objects are told apart by the size their copen answered.
    @Test func readsOfABlobObjectAreBlamedOnTheFileWhoseChunkItHolds() throws {
        let w = try Workspace()
        let (bootPath, blobPath) = try w.image("boot", ["--chunksize=4096"], blob: true)
        let boot = try ErofsImage(bytes: Self.read(bootPath))
        let blobSize = UInt64(try Self.read(try #require(blobPath)).count)
        let sources = try ImageBlameTests.sources(images: [("boot.img", boot)], blobs: [("boot.blob", blobSize)])
        #expect(sources.map(\.device) == [0, 1])
        var bootObject = Correlator.ObjectLifetime(obj: 1, firstSeen: 0), blobObject = Correlator.ObjectLifetime(obj: 2, firstSeen: 0)
        bootObject.size = Int64(boot.size)
        blobObject.size = Int64(blobSize)
        let matched = try ImageMatching.match(objects: [bootObject, blobObject], sources: sources, forced: [:])
        #expect(matched[1]?.name == "boot.img" && matched[2]?.name == "boot.blob")

        let f7 = try #require(try boot.entries().first { $0.path == "f7.bin" })
        let chunk = try #require(f7.extents.first { $0.device == 1 && $0.logical == 8192 })
        let read = RequestRecord(kind: .read, obj: 2, msgID: 1, pid: 7, comm: "cat", offset: Int64(chunk.physical), length: 8192,
                                 issued: 5_000, completed: 9_000, join: .marker)
        let blame = FileBlame(requests: [read], sources: [2: try #require(matched[2])])
        let rows = blame.byWait
        #expect(rows.first?.owner == .file("f7.bin") && rows.first?.bytesRequested ?? 0 >= 4096)
        #expect(rows.first?.totalWait == 4_000 && rows.first?.readers.count == 1)
        #expect(blame.prefetchList.first == "f7.bin")

        // Same size, two candidates: an error naming both.
        #expect { try ImageMatching.match(objects: [bootObject], sources: sources + [sources[0]], forced: [:]) } throws: {
            "\($0)".contains("boot.img and boot.img") && "\($0)".contains("--image 1=FILE")
        }
    }

    /// `ImageRangeMap(image:)` gives every file its own id without looking its path up when the
    /// directories' names are sorted, and looks paths up when they are not: the same map as
    /// `ImageRangeMap(image:entries:)` (which always looks up), on a good image and on one whose
    /// directory names a file twice (the two paths one owner).
    @Test func rangeMapsFromTheWalkAndFromEntriesAgree() throws {
        let w = try Workspace()
        let (path, _) = try w.image("plain", [])
        let good = try Self.read(path)
        var twice = good
        let many = try #require(try ErofsImage(bytes: good).entries().first { $0.path == "many" })
        let name = Array("entry-with-a-rather-long-name-11.dat".utf8), same = Array("entry-with-a-rather-long-name-10.dat".utf8)
        var renamed = 0
        for e in many.extents {
            let range = Int(e.physical)..<Int(e.physical + e.length)
            if let at = (range.lowerBound...(range.upperBound - name.count)).first(where: { twice[$0..<($0 + name.count)].elementsEqual(name) }) {
                twice.replaceSubrange(at..<(at + name.count), with: same)
                renamed += 1
            }
        }
        #expect(renamed == 1, "seed \(w.seed)")
        for (label, bytes) in [("good", good), ("a name twice", twice)] {
            let image = try ErofsImage(bytes: bytes)
            let entries = try image.entries()
            let paths = entries.filter { $0.kind != .directory }.map(\.path)
            #expect((Set(paths).count < paths.count) == (label != "good"), "seed \(w.seed), \(label)")
            let walked = try ImageRangeMap(image: image), listed = ImageRangeMap(image: image, entries: entries)
            #expect(walked.ownerCount == listed.ownerCount && walked.unmappedFiles == listed.unmappedFiles, "seed \(w.seed), \(label)")
            for offset in stride(from: UInt64(0), to: image.size, by: 512) {
                func pieces(_ map: ImageRangeMap) -> [String] {
                    map.ownersWithInline(device: 0, offset: offset, length: 1536).map { "\($0.owner) \(map.owner($0.owner)) \($0.bytes) \($0.ownStart ?? 0)" }
                }
                #expect(pieces(walked) == pieces(listed), "seed \(w.seed), \(label), offset \(offset)")
            }
        }
    }
}

@Suite struct ImageMatchingByNameTests {
    /// Two files of one size: by size alone ambiguous; the objects' blob names (a file's name,
    /// or its name without extension) tell them apart; an unnamed object still goes by size.
    @Test func aNamedObjectTakesTheFileOfItsName() throws {
        let w = try ImageBlameTests.Workspace()
        let (bootPath, _) = try w.image("boot", [])
        let boot = try ErofsImage(bytes: ImageBlameTests.read(bootPath))
        let sources = try ImageBlameTests.sources(images: [("dir/md.img", boot), ("other/copy.img", boot)], blobs: [])
        var first = Correlator.ObjectLifetime(obj: 1, firstSeen: 0), second = Correlator.ObjectLifetime(obj: 2, firstSeen: 0)
        (first.size, second.size) = (Int64(boot.size), Int64(boot.size))
        (first.name, second.name) = (BlobName(volume: "erofs,md", blob: "md"), BlobName(volume: "erofs,md", blob: "copy.img"))
        let matched = try ImageMatching.match(objects: [first, second], sources: sources, forced: [:])
        #expect(matched[1]?.name == "dir/md.img" && matched[2]?.name == "other/copy.img")
        second.name = nil
        #expect { try ImageMatching.match(objects: [first, second], sources: sources, forced: [:]) } throws: {
            "\($0)".contains("matches dir/md.img and other/copy.img by size")
        }
    }
}
