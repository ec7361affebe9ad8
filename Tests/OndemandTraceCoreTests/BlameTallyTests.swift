import Testing
@testable import OndemandTraceCore

/// The blame's arithmetic over an image's byte owners (no image format: maps made by
/// `ImageRangeMap.Builder`).
struct BlameTallyTests {
    /// The byte owners of an image of `files` files laid out one after another in 4 KiB blocks
    /// (one in four with a tail inline in its inode's block), and the image's size.
    static func image(_ rng: inout SplitMix64, files: Int) -> (map: ImageRangeMap, size: UInt64) {
        var builder = ImageRangeMap.Builder(blockSize: 4096, header: 0..<1152)
        var at: UInt64 = 1 << 16
        for i in 0..<UInt64(files) {
            let inode = 4096 + i * 64, blocks = rng.next() % 10
            var extents = [ImageRangeMap.Extent(physical: at, length: (blocks + (i % 4 == 0 ? 0 : 1)) * 4096, device: 0)]
            if i % 4 == 0 { extents.append(.init(physical: inode + 32, length: rng.next() % 32 + 1, device: 0)) }
            at += extents[0].length
            builder.add(path: "d\(i % 5)/f\(i)", isDirectory: false, extents: extents, metadata: inode..<(inode + 32), unmapped: false)
        }
        return (builder.finish(), at)
    }

    /// `report --image`'s READs as the report's builder keeps them (`keepReads`: from the
    /// correlator's closed requests, the reader told by its task-name index) blame as the
    /// `RequestRecord`s it hands an observer do: a pid renamed midway (two readers of one pid),
    /// a reader called "?", more than 64 readers (pids sharing a slot of the last-seen cache),
    /// a filter, with and without an observer beside.
    @Test func keptReadsBlameAsTheObservedRequestsDo() throws {
        let seed = UInt64.random(in: 0...UInt64.max)
        var rng = SplitMix64(seed: seed)
        let image = Self.image(&rng, files: 300)
        let source = FileBlame.Source(name: "image", size: image.size, map: image.map, device: 0)
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
                "seed \(seed)")
        let reference = FileBlame(requests: observed, sources: [1: source])
        let readers = Set(reference.rows.flatMap(\.readers))
        #expect(readers.contains(.init(pid: 200, comm: "cat")) && readers.contains(.init(pid: 200, comm: "sh"))
                && readers.contains(.init(pid: 201, comm: "?")) && readers.count > 64, "seed \(seed)")
        for kept in [withObserver, alone] {
            // Each READ's reader, range and times, as its request says.
            let entries = kept.entryChunks.joined()
            #expect(entries.map { kept.readerKeys[Int($0.reader)] } == reads.map { .init(pid: $0.pid, comm: $0.comm ?? "?") },
                    "seed \(seed)")
            #expect(entries.map { [$0.start, $0.end, $0.issued, $0.latency] }
                    == reads.map { [UInt64($0.offset!), UInt64($0.offset!) + $0.length!, $0.issued, $0.latency ?? 0] },
                    "seed \(seed)")
            let blame = FileBlame(reads: kept, sources: [1: source])
            #expect(blame.rows.count == reference.rows.count, "seed \(seed)")
            for (a, b) in zip(blame.rows, reference.rows) {
                #expect(a.owner == b.owner && a.firstMiss == b.firstMiss && a.firstOwnMiss?.time == b.firstOwnMiss?.time
                        && a.reads == b.reads && a.bytesRequested == b.bytesRequested && a.totalWait == b.totalWait
                        && a.unanswered == b.unanswered && a.readers == b.readers && a.wait.summary == b.wait.summary
                        && a.spans.map(\.issued) == b.spans.map(\.issued) && a.spans.map(\.completed) == b.spans.map(\.completed),
                        "seed \(seed), \(a.owner)")
            }
        }
    }

    /// `SegmentIndex` narrows the search to the range holding the first segment that ends past
    /// an offset: the same segment a search over the whole list finds, for random lists (gaps,
    /// tiny and huge segments, one ending at 2^64 - 1) and offsets (0, inside, between, past all).
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
}
