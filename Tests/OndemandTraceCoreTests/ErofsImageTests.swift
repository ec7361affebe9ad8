import Foundation
import Testing
import TestSupport
@testable import OndemandTraceCore

/// The EROFS reader against erofs-utils: images made by `mkfs.erofs` from a seeded random tree,
/// every path and every file's extents compared with what `dump.erofs` says (the independent
/// truth), then hostile versions of the same images.
@Suite(.serialized) struct ErofsImageTests {
    final class Workspace {
        let scratch: TemporaryDirectory
        var dir: String { scratch.path }
        let seed: UInt64
        /// Relative paths of the tree's regular files, symlinks and directories.
        var paths: Set<String> = []

        init() throws {
            seed = UInt64.random(in: 0...UInt64.max)
            print("ErofsImageTests: seed \(seed)")
            scratch = try TemporaryDirectory("erofs")
            try makeTree()
        }

        func makeTree() throws {
            var rng = SplitMix64(seed: seed)
            let fm = FileManager.default
            let src = dir + "/src"
            try fm.createDirectory(atPath: src + "/sub/deeper", withIntermediateDirectories: true)
            try fm.createDirectory(atPath: src + "/many", withIntermediateDirectories: true)
            paths = ["sub", "sub/deeper", "many"]
            func file(_ path: String, _ size: Int, compressible: Bool = false) throws {
                var bytes = [UInt8](repeating: 0, count: size)
                for i in bytes.indices { bytes[i] = compressible ? UInt8(ascii: "a") + UInt8(i / 64 % 7) : UInt8(truncatingIfNeeded: rng.next()) }
                try Data(bytes).write(to: URL(fileURLWithPath: src + "/" + path))
                paths.insert(path)
            }
            for (i, size) in [0, 1, 4095, 4096, 4097, 10_000, 65_536, 300_001].enumerated() { try file("f\(i).bin", size) }
            try file("sub/text.txt", 20_000, compressible: true)
            try file("sub/deeper/random.bin", Int(rng.next() % 200_000) + 1)
            for i in 0..<120 { try file("many/entry-with-a-rather-long-name-\(i).dat", Int(rng.next() % 9000)) }
            // For compressed images: runs of text between runs of noise, so pclusters of both
            // kinds (compressed, and PLAIN where lz4 gains nothing) and files of every size class.
            try fm.createDirectory(atPath: src + "/z", withIntermediateDirectories: true)
            paths.insert("z")
            for (i, size) in [37, 3000, 4096, 9000, 70_000, 150_000, Int(rng.next() % 400_000) + 1].enumerated() {
                var bytes = [UInt8](repeating: 0, count: size)
                var at = 0
                while at < size {
                    let run = min(size - at, Int(rng.next() % 12_000) + 1), noise = rng.next() % 3 == 0
                    for k in at..<(at + run) { bytes[k] = noise ? UInt8(truncatingIfNeeded: rng.next()) : UInt8(ascii: "a") + UInt8((k / 50 + i) % 23) }
                    at += run
                }
                try Data(bytes).write(to: URL(fileURLWithPath: src + "/z/mixed-\(i).bin"))
                paths.insert("z/mixed-\(i).bin")
            }
            try fm.createSymbolicLink(atPath: src + "/link", withDestinationPath: "f1.bin")
            try fm.linkItem(atPath: src + "/f5.bin", toPath: src + "/sub/hardlink.bin")
            paths.formUnion(["link", "sub/hardlink.bin"])
        }

        /// Makes an image; returns its path (and the blob's, with `blob`).
        func image(_ name: String, _ options: [String], blob: Bool = false) throws -> (image: String, blob: String?) {
            let image = dir + "/" + name + ".img", blobPath = blob ? dir + "/" + name + ".blob" : nil
            var args = ["-T0", "--all-root"] + options
            if let blobPath { args.append("--blobdev=" + blobPath) }
            let result = try TestSupport.Run.program("/usr/bin/mkfs.erofs", args + [image, dir + "/src"])
            try #require(result.status == 0, "mkfs.erofs \(args): \(result.stderr)")
            return (image, blobPath)
        }
    }


    static func read(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

    /// `dump.erofs -e`'s extents of one path, adjacent ones merged: "N: L0..L1 | len : P0..P1 | len [# device D]".
    static func dumpExtents(_ image: String, blob: String?, path: String) throws -> (extents: [ErofsImage.Extent], layout: Int) {
        var args = ["--path=/" + path, "-e", image]
        if let blob { args.insert("--device=" + blob, at: 0) }
        let result = try TestSupport.Run.program("/usr/bin/dump.erofs", args)
        try #require(result.status == 0, "dump.erofs \(args): \(result.stderr)")
        var extents: [ErofsImage.Extent] = []
        var layout = -1
        for line in result.stdout.split(separator: "\n") {
            if let r = line.range(of: "Layout: ") { layout = Int(line[r.upperBound...].prefix { $0.isNumber }) ?? -1 }
            let parts = line.split(whereSeparator: { " |:.#".contains($0) }).map(String.init)
            guard parts.count >= 7, Int(parts[0]) != nil, let l0 = UInt64(parts[1]), let p0 = UInt64(parts[4]), let len = UInt64(parts[3]) else { continue }
            let device = line.contains("# device") ? Int(parts.last!) ?? -1 : 0
            extents.append(.init(logical: l0, physical: p0, length: len, device: device))
        }
        return (merged(extents), layout)
    }

    /// `dump.erofs -e`'s pclusters of a compressed file, as they are: each line's logical
    /// start and length, physical start and length.
    static func dumpPclusters(_ image: String, path: String) throws -> [ErofsImage.Extent] {
        let result = try TestSupport.Run.program("/usr/bin/dump.erofs", ["--path=/" + path, "-e", image])
        try #require(result.status == 0, "dump.erofs \(path): \(result.stderr)")
        return result.stdout.split(separator: "\n").compactMap { line in
            let parts = line.split(whereSeparator: { " |:.".contains($0) }).map(String.init)
            guard parts.count == 7, Int(parts[0]) != nil, let l0 = UInt64(parts[1]), let llen = UInt64(parts[3]),
                  let p0 = UInt64(parts[4]), let plen = UInt64(parts[6]) else { return nil }
            return .init(logical: l0, physical: p0, length: plen, device: 0, logicalLength: llen)
        }
    }

    static func merged(_ extents: [ErofsImage.Extent]) -> [ErofsImage.Extent] {
        var out: [ErofsImage.Extent] = []
        for e in extents.sorted(by: { $0.logical < $1.logical }) where e.length > 0 {
            if var last = out.last, last.device == e.device, last.logical + last.length == e.logical, last.physical + last.length == e.physical {
                last.length += e.length
                out[out.count - 1] = last
            } else {
                out.append(e)
            }
        }
        return out
    }

    /// Compares an image with dump.erofs; how many compressed inodes it met.
    @discardableResult
    static func check(_ w: Workspace, _ name: String, _ options: [String], blob: Bool = false) throws -> Int {
        let (path, blobPath) = try w.image(name, options, blob: blob)
        let image = try ErofsImage(bytes: read(path))
        let entries = try image.entries()
        #expect(Set(entries.map(\.path)).subtracting([""]) == w.paths, "\(name): paths")
        #expect(image.superblock.extraDevices == (blob ? 1 : 0))
        let map = ImageRangeMap(image: image, entries: entries)
        var compared = 0, compressed = 0
        for entry in entries where entry.kind == .file || entry.kind == .directory {
            guard !entry.path.hasPrefix("many/") || entry.path.hasSuffix("-7.dat") else { continue }  // a sample of the bulk
            let truth = try dumpExtents(path, blob: blobPath, path: entry.path)
            #expect(entry.layout == truth.layout, "\(name): \(entry.path) layout")
            if [1, 3].contains(truth.layout) {
                #expect(entry.compressed && !entry.unmapped, "\(name): \(entry.path) is compressed, every pcluster mapped")
                let pclusters = try dumpPclusters(path, path: entry.path)
                #expect(entry.extents == pclusters, "seed \(w.seed), \(name): \(entry.path) pclusters")
                #expect(entry.extents.reduce(0) { $0 + ($1.logicalLength ?? 0) } == entry.size, "\(name): \(entry.path) covered")
                for e in entry.extents {
                    let owners = map.owners(device: 0, offset: e.physical, length: e.length)
                    #expect(owners.count == 1 && owners[0].owner == .file(entry.path), "\(name): \(entry.path) owns its pcluster at \(e.physical)")
                }
                compressed += 1
                continue
            }
            #expect(merged(entry.extents) == truth.extents, "seed \(w.seed), \(name): \(entry.path)")
            for e in merged(entry.extents) where entry.kind == .file {
                let owners = map.owners(device: e.device, offset: e.physical, length: e.length)
                #expect(owners.count == 1 && owners[0].bytes == e.length, "\(name): \(entry.path) owns its extent")
            }
            compared += 1
        }
        #expect(compared + compressed >= 16, "\(name): \(compared) inodes compared with dump.erofs")
        #expect(map.owners(device: 0, offset: 1024, length: 128).map(\.owner) == [.metadata])
        return compressed
    }

    @Test func flatImagesMatchDumpErofs() throws {
        let w = try Workspace()
        try Self.check(w, "plain", [])
        try Self.check(w, "extended", ["-Eforce-inode-extended"])
    }

    @Test func chunkBasedImagesWithABlobMatchDumpErofs() throws {
        let w = try Workspace()
        try Self.check(w, "chunked", ["--chunksize=8192"])
        try Self.check(w, "bootstrap", ["--chunksize=4096"], blob: true)
    }

    /// Compact (2B and 4B) and full indexes, 4 KiB and big pclusters, inline (ztailpacking)
    /// tails: every compressed file's pclusters as dump.erofs lists them.
    @Test(arguments: [
        ["-zlz4"], ["-zlz4hc"], ["-zlz4", "-Elegacy-compress"], ["-zlz4hc", "-C65536"], ["-zlz4hc,9", "-C16384", "-Elegacy-compress"],
        ["-zlz4", "-Eztailpacking"], ["-zlz4hc", "-C32768", "-Eztailpacking"], ["-zlz4hc", "-C16384", "-Eztailpacking,legacy-compress"],
        ["-zlz4", "-Eforce-inode-extended", "-C8192"],
    ])
    func compressedImagesMatchDumpErofs(_ options: [String]) throws {
        let w = try Workspace()
        let compressed = try Self.check(w, "lz4", options)
        #expect(compressed >= 4, "\(options): \(compressed) compressed files compared")
        let image = try ErofsImage(bytes: Self.read(w.dir + "/lz4.img"))
        let pclusters = try image.entries().filter(\.compressed).flatMap(\.extents)
        let big = pclusters.filter { $0.length > 4096 }.count, inline = pclusters.filter { $0.physical % 4096 != 0 }.count
        print("ErofsImageTests: \(options): \(compressed) compressed files, \(pclusters.count) pclusters (\(big) big, \(inline) inline) match dump.erofs")
        // The features under test are in use: big pclusters with -C, inline tails with ztailpacking.
        #expect((big > 0) == options.contains { $0.hasPrefix("-C") && $0 != "-C4096" })
        #expect((inline > 0) == options.contains { $0.contains("ztailpacking") })
        // Compact indexes pack 16 records in 32 bytes (2B) once a file is long enough, big pclusters or not.
        let packed2B = try image.entries().filter { $0.layout == 3 && $0.size > 100_000 }.filter { entry in
            let body = try image.inode(entry.nid).bodyEnd
            return ErofsImage.u16(image.bytes, (body + 7) / 8 * 8 + 4) & ErofsImage.adviseCompacted2B != 0
        }.count
        #expect((packed2B > 0) == (!options.contains { $0.contains("legacy") }), "\(packed2B) files with 2B records")
        let text = try #require(try image.entries().first { $0.path == "sub/text.txt" })
        #expect(text.compressed && !text.extents.isEmpty && text.extents.allSatisfy { $0.logicalLength != nil })
    }

    /// A bootstrap and its blob, each its own object: a READ of the blob object is blamed on the
    /// file whose chunk lies there; objects are told apart by the size their copen answered.
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
            let list = try ImageMatching.sources(images: [(path, image)], blobs: blobs)
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

    /// `SegmentIndex` narrows the search to the range holding the first segment that ends past
    /// an offset: the same segment a search over the whole list finds, for random lists (gaps,
    /// tiny and huge segments, one ending at 2^64 - 1) and offsets (0, inside, between, past all).
    /// `report --image`'s READs as the report's builder keeps them (`keepReads`: from the
    /// correlator's closed requests, the reader told by its task-name index) blame as the
    /// `RequestRecord`s it hands an observer do: a pid renamed midway (two readers of one pid),
    /// a reader called "?", more than 64 readers (pids sharing a slot of the last-seen cache),
    /// a filter, with and without an observer beside.
    @Test func keptReadsBlameAsTheObservedRequestsDo() throws {
        let w = try Workspace()
        var rng = SplitMix64(seed: w.seed &+ 1)
        let (path, _) = try w.image("kept", [])
        let image = try ErofsImage(bytes: Self.read(path))
        let source = try #require(try ImageMatching.sources(images: [(path, image)], blobs: []).first)
        var s = EventScript()
        s.open(1, at: 0); s.copen(1, msg: 0, size: Int64(image.size), at: 10)
        var t: UInt64 = 100
        for i in 0..<3_000 {
            let n = rng.next() % 80
            let (pid, comm): (Int32, String) = n < 10 ? (200, i < 1_500 ? "cat" : "sh") : n < 15 ? (201, "?") : (Int32(300 + n), "r\(n % 7)")
            s.read(1, Int64(rng.next() % image.size), rng.next() % 20_000 + 1, at: t, pid: pid, comm: comm)
            t += rng.next() % 300 + 1
            if rng.next() % 20 != 0 { s.cread(1, msg: 0, at: t) }
            t += rng.next() % 50 + 1
        }
        let filter = ReportFilter(since: 1_000_000_000 + t * 1_000 / 5)
        func model(_ observer: ((RequestRecord) -> Void)?) -> ReportModel {
            let builder = ReportBuilder(filter: filter, requestObserver: observer, keepReads: true)
            for e in s.events { builder.consume(e) }
            return builder.finish(metadata: TraceMetadata(path: "t", format: "text", formatDescription: "text", kernelRelease: nil,
                                                          clock: nil, recordsSeen: 0, eventsDelivered: 0, ondemandEvents: 0))
        }
        var observed: [RequestRecord] = []
        let withObserver = try #require(model { observed.append($0) }.keptReads)
        let alone = try #require(model(nil).keptReads)
        #expect(s.model().keptReads == nil)
        let reads = observed.filter { $0.kind == .read }
        #expect(reads.count > 2_000 && reads.count < 2_600 && withObserver.count == reads.count && alone.count == reads.count,
                "seed \(w.seed)")
        let reference = FileBlame(requests: observed, sources: [1: source])
        let readers = Set(reference.rows.flatMap(\.readers))
        #expect(readers.contains(.init(pid: 200, comm: "cat")) && readers.contains(.init(pid: 200, comm: "sh"))
                && readers.contains(.init(pid: 201, comm: "?")) && readers.count > 64, "seed \(w.seed)")
        for kept in [withObserver, alone] {
            // Each READ's reader, range and times, as its request says.
            let entries = kept.entryChunks.joined()
            #expect(entries.map { kept.readerKeys[Int($0.reader)] } == reads.map { .init(pid: $0.pid, comm: $0.comm ?? "?") },
                    "seed \(w.seed)")
            #expect(entries.map { [$0.start, $0.end, $0.issued, $0.latency] }
                    == reads.map { [UInt64($0.offset!), UInt64($0.offset!) + $0.length!, $0.issued, $0.latency ?? 0] },
                    "seed \(w.seed)")
            let blame = FileBlame(reads: kept, sources: [1: source])
            #expect(blame.rows.count == reference.rows.count, "seed \(w.seed)")
            for (a, b) in zip(blame.rows, reference.rows) {
                #expect(a.owner == b.owner && a.firstMiss == b.firstMiss && a.firstOwnMiss?.time == b.firstOwnMiss?.time
                        && a.reads == b.reads && a.bytesRequested == b.bytesRequested && a.totalWait == b.totalWait
                        && a.unanswered == b.unanswered && a.readers == b.readers && a.wait.summary == b.wait.summary
                        && a.spans.map(\.issued) == b.spans.map(\.issued) && a.spans.map(\.completed) == b.spans.map(\.completed),
                        "seed \(w.seed), \(a.owner)")
            }
        }
    }

    @Test func segmentIndexFindsWhatAFullSearchFinds() {
        let seed = UInt64.random(in: 0...UInt64.max)
        var rng = SplitMix64(seed: seed)
        for round in 0..<200 {
            var list: [ImageRangeMap.Segment] = []
            var at = rng.next() % 3 == 0 ? 0 : rng.next() % 100_000
            for _ in 0..<Int(rng.next() % 300) {
                let length = rng.next() % 4 == 0 ? rng.next() % (1 << 30) + 1 : rng.next() % 9000 + 1
                list.append(.init(start: at, end: at + length, owner: 2))
                at += length + (rng.next() % 2 == 0 ? 0 : rng.next() % 50_000)
            }
            if round % 10 == 0 { list.append(.init(start: at, end: .max, owner: 2)) }
            list.withUnsafeBufferPointer { segs in
                let index = ImageRangeMap.SegmentIndex(segs)
                for _ in 0..<100 {
                    let offset: UInt64 = switch rng.next() % 4 {
                    case 0: 0
                    case 1: .max - rng.next() % 3
                    default: rng.next() % (at + 100_000)
                    }
                    let truth = segs.firstIndex { $0.end > offset } ?? segs.count
                    var (low, high) = index.within(offset)
                    #expect(low <= truth && truth <= high, "seed \(seed), round \(round), offset \(offset)")
                    while low < high {
                        let mid = (low + high) / 2
                        if segs[mid].end <= offset { low = mid + 1 } else { high = mid }
                    }
                    #expect(low == truth, "seed \(seed), round \(round), offset \(offset)")
                }
            }
        }
    }

    /// `SegmentTallies` (differences, trims and power-of-two tags; a few steps per READ) against
    /// each segment summed over the READs that cover it: random lists (tiny and huge segments,
    /// one ending at 2^64 - 1), runs of 1 to `longestRun` segments, many READs issued at once.
    @Test func segmentTalliesSumAsTheReadsOverEachSegment() {
        let seed = UInt64.random(in: 0...UInt64.max)
        var rng = SplitMix64(seed: seed)
        for round in 0..<40 {
            var list: [ImageRangeMap.Segment] = []
            var at = rng.next() % 50_000
            for i in 0..<Int(rng.next() % 400 + 1) {
                let length = rng.next() % 8 == 0 ? rng.next() % (1 << 30) + 1 : rng.next() % 9000 + 1
                list.append(.init(start: at, end: at + length, owner: Int32(i)))
                at += length
            }
            if round % 4 == 0 { list.append(.init(start: at, end: .max, owner: Int32(list.count))) }
            var expected = [SegmentTallies.Totals?](repeating: nil, count: list.count)
            var tallies = SegmentTallies(segments: list.count)
            let available = tallies.available
            #expect(available)
            list.withUnsafeBufferPointer { segs in
                var t: UInt64 = 0
                for _ in 0..<Int(rng.next() % 3000) {
                    t += rng.next() % 2 == 0 ? 0 : rng.next() % 100
                    let first = Int(rng.next() % UInt64(segs.count))
                    let last = min(segs.count - 1, first + Int(rng.next() % UInt64(SegmentTallies.longestRun)))
                    let start = segs[first].start + rng.next() % (segs[first].end - segs[first].start)
                    let end = last > first ? segs[last].start + 1 + rng.next() % (segs[last].end - segs[last].start)
                                           : start + 1 + rng.next() % (segs[first].end - start)
                    let answered = rng.next() % 5 != 0, latency = answered ? rng.next() % 1_000_000 : 0, reader = UInt32(rng.next() % 64)
                    let r = FileBlame.Reads.Entry(start: start, end: end, issued: t, latency: latency, obj: 1,
                                                  readerAndAnswered: reader | (answered ? 0x8000_0000 : 0))
                    tallies.add(r, first, last, segs)
                    for k in first...last {
                        let s = segs[k], from = max(start, s.start)
                        var e = expected[k] ?? .init(reads: 0, answered: 0, wait: 0, bytes: 0, minWait: .max, maxWait: 0, readers: 0,
                                                     firstMiss: .max, firstOwn: (.max, .max))
                        e.reads += 1
                        e.answered += answered ? 1 : 0
                        e.wait += latency
                        e.bytes &+= min(end, s.end) - from
                        if answered { e.minWait = min(e.minWait, latency) }
                        e.maxWait = max(e.maxWait, latency)
                        e.readers |= 1 << UInt64(reader)
                        e.firstMiss = min(e.firstMiss, t)
                        if (t, from) < e.firstOwn { e.firstOwn = (t, from) }
                        expected[k] = e
                    }
                }
                var seen = 0
                tallies.forEachTouched(segs) { k, got in
                    seen += 1
                    guard let e = expected[k] else { Issue.record("seed \(seed), round \(round): segment \(k) not covered"); return }
                    #expect(got.reads == e.reads && got.answered == e.answered && got.wait == e.wait && got.bytes == e.bytes
                            && got.minWait == e.minWait && got.maxWait == e.maxWait && got.readers == e.readers
                            && got.firstMiss == e.firstMiss && got.firstOwn == e.firstOwn, "seed \(seed), round \(round), segment \(k)")
                }
                #expect(seen == expected.count { $0 != nil }, "seed \(seed), round \(round)")
            }
        }
        // Memory that cannot be had (calloc's size overflows): no crash, nothing to add to.
        var none = SegmentTallies(segments: Int.max / 8)
        let noneAvailable = none.available
        #expect(!noneAvailable)
        [ImageRangeMap.Segment]().withUnsafeBufferPointer { segs in none.forEachTouched(segs) { _, _ in Issue.record("a segment from nowhere") } }
    }

    @Test func readsOfABlobObjectAreBlamedOnTheFileWhoseChunkItHolds() throws {
        let w = try Workspace()
        let (bootPath, blobPath) = try w.image("boot", ["--chunksize=4096"], blob: true)
        let boot = try ErofsImage(bytes: Self.read(bootPath))
        let blobSize = UInt64(try Self.read(try #require(blobPath)).count)
        let sources = try ImageMatching.sources(images: [("boot.img", boot)], blobs: [("boot.blob", blobSize)])
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

    // MARK: hostile images

    static func entryOffset(_ image: ErofsImage, _ path: String) throws -> UInt64 {
        try #require(try image.entries().first { $0.path == path }).metadata.lowerBound
    }

    /// A file kept whole in the packed inode (the map header's top bit, `-Efragments` of newer
    /// erofs-utils): known to exist, no extent claimed, its former pclusters unattributed — never
    /// given to another file.
    @Test func aFragmentFileIsKnownButItsBytesStayUnattributed() throws {
        let w = try Workspace()
        let (path, _) = try w.image("frag", ["-zlz4hc", "-C16384"])
        var bytes = try Self.read(path)
        let image = try ErofsImage(bytes: bytes)
        let entry = try #require(try image.entries().filter { $0.compressed && !$0.extents.isEmpty }.max { $0.size < $1.size })
        let header = Int((try image.inode(entry.nid).bodyEnd + 7) / 8 * 8)
        bytes[header + 7] |= 0x80
        let edited = try ErofsImage(bytes: bytes)
        let entries = try edited.entries()
        let now = try #require(entries.first { $0.path == entry.path })
        #expect(now.compressed && now.unmapped && now.extents.isEmpty)
        let map = ImageRangeMap(image: edited, entries: entries)
        #expect(map.unmappedFiles == [entry.path])
        for e in entry.extents {
            #expect(map.owners(device: 0, offset: e.physical, length: e.length).map(\.owner) == [.unattributed], "\(entry.path) at \(e.physical)")
        }
    }

    /// Compression indexes that lie: each gets an ErofsError naming the problem, never a trap.
    @Test func hostileCompressionIndexesGetAClearError() throws {
        let w = try Workspace()
        for (name, options) in [("full", ["-zlz4hc", "-C16384", "-Elegacy-compress"]), ("compact", ["-zlz4hc", "-C16384"])] {
            let (path, _) = try w.image(name, options)
            let good = try Self.read(path)
            let image = try ErofsImage(bytes: good)
            let entry = try #require(try image.entries().filter { $0.compressed && $0.extents.count >= 2 }.max { $0.size < $1.size })
            let inode = try image.inode(entry.nid)
            let header = Int((inode.bodyEnd + 7) / 8 * 8)
            let records = header + (name == "full" ? 16 : 8)
            func expectError(_ what: String, _ edit: (inout [UInt8]) -> Void) {
                var bad = good
                edit(&bad)
                #expect { try ErofsImage(bytes: bad).entries() } throws: { error in
                    print("ErofsImageTests: \(name), \(what): \(error)")
                    return "\(error)".contains("inode \(entry.nid)") && "\(error)".contains(what)
                }
            }
            // An absurd size: far more records than the image holds.
            expectError("more than the image holds") { for b in 0..<4 { $0[Int(inode.offset) + 8 + b] = 0xff } }
            expectError("logical cluster size") { $0[header + 7] = 0x0f }
            if name == "full" {
                expectError("does not start with a head") { $0[records] = 2 }
                expectError("past the end of the image") { $0[records + 6] = 0xff; $0[records + 7] = 0x7f }  // blkaddr
                // A compressed head's first NONHEAD claims a pcluster of 2047 blocks (CBLKCNT).
                let head1 = try #require((0..<Int(entry.size / 4096)).first { i in
                    good[records + i * 8] & 3 == 1 && good[records + i * 8 + 8] & 3 == 2
                })
                expectError("larger than EROFS allows") { $0[records + head1 * 8 + 12] = 0xff; $0[records + head1 * 8 + 13] = 0x0f }
                // A head stored uncompressed (PLAIN) followed by a NONHEAD: more bytes than its block.
                if let plain = (0..<Int(entry.size / 4096)).first(where: { i in good[records + i * 8] & 3 == 0 && good[records + i * 8 + 8] & 3 != 2 }) {
                    expectError("stored uncompressed") { $0[records + plain * 8 + 8] = 2; $0[records + plain * 8 + 12] = 1; $0[records + plain * 8 + 13] = 0 }
                }
                expectError("past the cluster") { $0[records + 2] = 0xff; $0[records + 3] = 0xff }  // clusterofs
            } else {
                // The first pack's block address (its last 4 bytes; the first packs hold 2 records in 8 bytes).
                expectError("past the end of the image") { $0[records + 7] = 0x7f }
                expectError("big pclusters for only one head type") { $0[header + 4] &= ~UInt8(ErofsImage.adviseBigPcluster2) }
            }
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

    @Test func hostileImagesGetAClearError() throws {
        let w = try Workspace()
        let (path, _) = try w.image("plain", [])
        let good = try Self.read(path)
        let image = try ErofsImage(bytes: good)

        #expect(throws: ErofsError.self) { try ErofsImage(bytes: Array(good.prefix(1000))) }
        var bad = good
        bad[1024] ^= 0xff
        #expect { try ErofsImage(bytes: bad) } throws: { "\($0)".contains("not an EROFS image") }

        // A file's data address far past the end.
        bad = good
        let f = Int(try Self.entryOffset(image, "f7.bin"))
        bad[f + 16] = 0xff; bad[f + 17] = 0xff; bad[f + 18] = 0x00; bad[f + 19] = 0x01
        #expect { try ErofsImage(bytes: bad).entries() } throws: { "\($0)".contains("past the end of the image") }

        // An extended inode whose size is near 2^64: rounding it up to blocks must not trap
        // (found by scripts/fuzz image).
        let (extendedPath, _) = try w.image("extended", ["-Eforce-inode-extended"])
        let extendedGood = try Self.read(extendedPath)
        var huge = extendedGood
        let g = Int(try Self.entryOffset(try ErofsImage(bytes: extendedGood), "f7.bin"))
        for b in 0..<8 { huge[g + 8 + b] = b == 0 ? 0x01 : 0xff }
        #expect { try ErofsImage(bytes: huge).entries() } throws: { "\($0)".contains("is absurd") }

        // A directory whose entry points back at the root: a loop.
        bad = good
        let sub = try #require(try image.entries().first { $0.path == "sub/deeper" })
        let deeperInode = try image.inode(sub.nid)
        let deeperExtents = try #require(try image.extents(deeperInode)).extents
        let block = Int(deeperExtents[0].physical)
        let firstNameOff = Int(ErofsImage.u16(good, UInt64(block + 8)))
        for i in 0..<(firstNameOff / 12) {  // every entry of sub/deeper now names the root
            let root = image.superblock.rootNid
            for b in 0..<8 { bad[block + i * 12 + b] = UInt8(truncatingIfNeeded: root >> (8 * UInt64(b))) }
        }
        #expect { try ErofsImage(bytes: bad).entries() } throws: { "\($0)".contains("directory loop") }

        // A directory block whose entry table claims more than the block.
        bad = good
        bad[block + 8] = 0xff; bad[block + 9] = 0x7f
        #expect { try ErofsImage(bytes: bad).entries() } throws: { "\($0)".contains("corrupt entry table") }
    }
}
