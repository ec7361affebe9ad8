import Histogram

extension FileBlame {
    /// The READs of a trace as the blame needs them (range, issue, wait, reader), compact and in
    /// trace order: what `report --image` keeps while the trace is read, before its objects are
    /// matched to images.
    public struct Reads: Sendable {
        struct Entry {
            var start: UInt64
            var end: UInt64
            var issued: UInt64
            var latency: UInt64
            var obj: UInt32
            /// Index into `readerKeys`.
            var reader: Int32
            var answered: Bool
        }

        private(set) var entries: [Entry] = []
        private(set) var readerKeys: [ReportAccumulator.ReaderKey] = []
        private var readerIndex: [ReportAccumulator.ReaderKey: Int32] = [:]
        private var lastReader: (pid: Int32, comm: String?, id: Int32)?

        public init() {}

        public var count: Int { entries.count }

        /// Keeps `r` if it is a READ with a range.
        public mutating func add(_ r: RequestRecord) {
            guard r.kind == .read, let offset = r.offset, offset >= 0, let length = r.length else { return }
            let reader: Int32
            if let lastReader, lastReader.pid == r.pid, lastReader.comm == r.comm { reader = lastReader.id } else {
                reader = readerID(.init(pid: r.pid, comm: r.comm ?? "?"))
                lastReader = (r.pid, r.comm, reader)
            }
            let start = UInt64(offset)
            entries.append(Entry(start: start, end: start &+ length < start ? .max : start + length, issued: r.issued,
                                 latency: r.latency ?? 0, obj: r.obj, reader: reader, answered: r.completed != nil))
        }

        private mutating func readerID(_ key: ReportAccumulator.ReaderKey) -> Int32 {
            if readerKeys.count <= 16 {
                if let i = readerKeys.firstIndex(of: key) { return Int32(i) }
            } else if let id = readerIndex[key] {
                return id
            }
            readerKeys.append(key)
            readerIndex[key] = Int32(readerKeys.count - 1)
            return Int32(readerKeys.count - 1)
        }
    }
}

/// `FileBlame`'s arithmetic. Owners get one global id (each image's owner ids shifted by the owners
/// of the images before it) and their tallies live in flat arrays indexed by it. Each READ is
/// walked over its image's sorted segments: once in trace order for counts, bytes, waits, first
/// misses and readers (a bit per reader), once in latency order, where a file's k-th answered READ
/// is its k-th smallest wait, for the percentiles, and in trace order again until the first-missed
/// files have their waterfall bars. No hashing per (file, READ), no per-file list of values: a few
/// operations per file a READ covers.
struct BlameTally {
    typealias Read = FileBlame.Reads.Entry
    /// In trace order (the log's own array, not a copy).
    private let reads: [Read]
    /// Each READ's segment range (index into `lists`), -1 when its object has no image.
    private var listOf: [Int32] = []
    private let readerKeys: [ReportAccumulator.ReaderKey]
    /// Every image's segments, owner ids made global; each (image, device) a range of them.
    private var segments: [ImageRangeMap.Segment] = []
    private var lists: [(lo: Int, hi: Int, unattributed: Int32, index: ImageRangeMap.SegmentIndex)] = []
    private var listIndex: [ListKey: Int32] = [:]
    private var maps: [(map: ImageRangeMap, base: Int)] = []
    private var mapIndex: [ObjectIdentifier: Int] = [:]
    private var ownerTotal = 0

    private struct ListKey: Hashable {
        var table: ObjectIdentifier
        var device: Int
    }

    init(reads log: FileBlame.Reads, sources: [UInt32: FileBlame.Source]) {
        reads = log.entries
        readerKeys = log.readerKeys
        var objectList: [UInt32: Int32] = [:]
        var last: (obj: UInt32, list: Int32)?
        listOf.reserveCapacity(reads.count)
        for e in reads {
            if let last, last.obj == e.obj { listOf.append(last.list); continue }
            let list: Int32
            if let known = objectList[e.obj] { list = known } else {
                list = sources[e.obj].map { self.list(for: $0) } ?? -1
                objectList[e.obj] = list
            }
            last = (e.obj, list)
            listOf.append(list)
        }
    }

    /// The segment range of `source`'s image and device (added on first use).
    private mutating func list(for source: FileBlame.Source) -> Int32 {
        let table = source.map.ownerTable
        let key = ListKey(table: table, device: source.device)
        if let known = listIndex[key] { return known }
        let m: Int
        if let known = mapIndex[table] { m = known } else {
            m = maps.count
            maps.append((source.map, ownerTotal))
            mapIndex[table] = m
            ownerTotal += source.map.ownerCount
        }
        let base = maps[m].base
        let lo = segments.count
        for var s in source.map.segmentList(device: source.device) {
            s.owner += Int32(base)
            segments.append(s)
        }
        let index = segments.withUnsafeBufferPointer { ImageRangeMap.SegmentIndex(UnsafeBufferPointer(rebasing: $0[lo...])) }
        lists.append((lo, segments.count, ImageRangeMap.unattributedID + Int32(base), index))
        listIndex[key] = Int32(lists.count - 1)
        return Int32(lists.count - 1)
    }

    /// Calls `body(owner, bytes, start, inline)` for each piece of `read`'s range (global owner ids).
    @inline(__always)
    private func walk(_ start: UInt64, _ end: UInt64, _ list: Int32, _ segs: UnsafeBufferPointer<ImageRangeMap.Segment>,
                      _ body: (Int, UInt64, UInt64, Bool) -> Void) {
        let list = lists[Int(list)]
        ImageRangeMap.walk(UnsafeBufferPointer(rebasing: segs[list.lo..<list.hi]), within: list.index.within(start), offset: start, end: end,
                           unattributed: list.unattributed) { owner, bytes, at, inline in body(Int(owner), bytes, at, inline) }
    }

    /// One owner's tallies, together (one or two cache lines per file a READ covers).
    struct Tally {
        var reads = 0
        var unanswered = 0
        var bytes: UInt64 = 0
        var answered: UInt64 = 0
        var sumWait: UInt64 = 0
        var minWait: UInt64 = .max
        var maxWait: UInt64 = 0
        var firstMiss: UInt64 = .max
        var ownTime: UInt64 = .max
        var ownOffset: UInt64 = .max
        var readerMask: UInt64 = 0
        /// The READ that last touched the owner: a READ over two extents of a file counts once.
        var stamp: Int32 = -1
        /// Index into the span lists, or -1.
        var spanSlot: Int32 = -1
        var firstMissOfData: UInt64 { ownTime != .max ? ownTime : firstMiss }
    }

    /// An owner's percentiles: the ranks wanted among its waits, their values, waits seen so far.
    struct Ranks {
        var rank: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        var value: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        var seen: UInt64 = 0
        var stamp: Int32 = -1
    }

    static let percentiles: [Double] = [50, 90, 99, 99.9]

    /// The rows of every owner a READ touched; `withSpans`: the waterfall's bars too (a walk in trace order until the first-missed files
    /// have theirs: up to all the READs when some file is read rarely).
    func rows(withSpans: Bool) -> [FileBlame.Row] {
        var t = [Tally](repeating: Tally(), count: ownerTotal)
        var extraReaders: [Int: Set<Int32>] = [:]  // reader ids past 63
        segments.withUnsafeBufferPointer { segs in
            t.withUnsafeMutableBufferPointer { t in
                reads.withUnsafeBufferPointer { reads in
                    for ri in reads.indices where listOf[ri] >= 0 { tally(Int32(ri), reads[ri], listOf[ri], segs, t, &extraReaders) }
                }
            }
        }
        let touched = t.indices.filter { t[$0].reads > 0 }
        var ranks = [Ranks](repeating: Ranks(), count: ownerTotal)
        for o in touched where t[o].answered > 0 { ranks[o].rank = Self.ranks(of: t[o].answered) }
        percentileValues(&ranks)
        let spans = withSpans ? spans(&t, touched) : []
        var rows: [FileBlame.Row] = []
        rows.reserveCapacity(touched.count)
        var m = 0
        var histogram: LatencyRecorder.Counts?  // for its bucket bounds (LatencyRecorder's)
        for o in touched {
            while m + 1 < maps.count && maps[m + 1].base <= o { m += 1 }
            var row = FileBlame.Row(owner: maps[m].map.owner(Int32(o - maps[m].base)), firstMiss: t[o].firstMiss)
            fill(&row, t[o], ranks[o], extraReaders: extraReaders[o], histogram: &histogram)
            if t[o].spanSlot >= 0 { row.spans = spans[Int(t[o].spanSlot)] }
            rows.append(row)
        }
        return rows
    }

    @inline(__always)
    private func tally(_ ri: Int32, _ r: Read, _ list: Int32, _ segs: UnsafeBufferPointer<ImageRangeMap.Segment>,
                       _ t: UnsafeMutableBufferPointer<Tally>, _ extraReaders: inout [Int: Set<Int32>]) {
        walk(r.start, r.end, list, segs) { o, bytes, at, inline in
            if t[o].stamp != ri {
                t[o].stamp = ri
                t[o].reads += 1
                if r.issued < t[o].firstMiss { t[o].firstMiss = r.issued }
                if r.answered {
                    t[o].answered += 1
                    t[o].sumWait &+= r.latency
                    if r.latency < t[o].minWait { t[o].minWait = r.latency }
                    if r.latency > t[o].maxWait { t[o].maxWait = r.latency }
                } else {
                    t[o].unanswered += 1
                }
                if r.reader < 64 { t[o].readerMask |= 1 << UInt64(r.reader) } else { extraReaders[o, default: []].insert(r.reader) }
            }
            t[o].bytes += bytes
            if !inline, (r.issued, at) < (t[o].ownTime, t[o].ownOffset) { (t[o].ownTime, t[o].ownOffset) = (r.issued, at) }
        }
    }

    /// The ranks of `percentiles` among `n` waits, as `LatencyRecorder` picks them: exact up to
    /// `FileBlame.exactLimit` values, else HdrHistogram's count at the percentile.
    static func ranks(of n: UInt64) -> (UInt64, UInt64, UInt64, UInt64) {
        let r = percentiles.map { p -> UInt64 in
            if n <= UInt64(FileBlame.exactLimit) { return UInt64(min(max(1, Int((p / 100 * Double(n)).rounded(.up))), Int(n))) }
            return max(1, UInt64(((min(max(p.nextDown, 0), 100) * Double(n)) / 100).rounded(.up)))
        }
        return (r[0], r[1], r[2], r[3])
    }

    /// Walks the answered READs in latency order: an owner's k-th is its k-th smallest wait.
    private func percentileValues(_ ranks: inout [Ranks]) {
        let sorted = byLatency()
        segments.withUnsafeBufferPointer { segs in
            ranks.withUnsafeMutableBufferPointer { ranks in
                sorted.withUnsafeBufferPointer { sorted in
                    for i in sorted.indices {
                        let r = sorted[i], ri = Int32(i)
                        walk(r.start, r.end, r.list, segs) { o, _, _, _ in
                            guard ranks[o].stamp != ri else { return }
                            ranks[o].stamp = ri
                            ranks[o].seen += 1
                            let seen = ranks[o].seen
                            if seen == ranks[o].rank.0 { ranks[o].value.0 = r.latency }
                            if seen == ranks[o].rank.1 { ranks[o].value.1 = r.latency }
                            if seen == ranks[o].rank.2 { ranks[o].value.2 = r.latency }
                            if seen == ranks[o].rank.3 { ranks[o].value.3 = r.latency }
                        }
                    }
                }
            }
        }
    }

    /// An answered READ as the percentile walk needs it (32 bytes: cheap to move while sorting).
    struct Timed {
        var start: UInt64
        var end: UInt64
        var latency: UInt64
        var list: Int32
    }

    /// The answered READs by latency: an LSD radix sort on digits of at most 11 bits (2,048
    /// buckets stay in cache), as few passes as the largest latency needs (two up to 4 ms).
    private func byLatency() -> [Timed] {
        var top: UInt64 = 0, n = 0
        var a = [Timed](unsafeUninitializedCapacity: reads.count) { out, count in
            reads.withUnsafeBufferPointer { reads in
                for i in reads.indices where reads[i].answered && listOf[i] >= 0 {
                    let r = reads[i]
                    out.baseAddress!.advanced(by: n).initialize(to: Timed(start: r.start, end: r.end, latency: r.latency, list: listOf[i]))
                    top = max(top, r.latency)
                    n += 1
                }
            }
            count = n
        }
        let bits = 64 - top.leadingZeroBitCount
        let passes = (bits + 10) / 11, digit = UInt64(passes == 0 ? 1 : (bits + passes - 1) / passes)
        let mask = (UInt64(1) << digit) - 1
        var b = [Timed](unsafeUninitializedCapacity: n) { _, count in count = n }  // every slot written before read
        var counts = [Int](repeating: 0, count: Int(mask) + 2)
        var shift: UInt64 = 0
        while shift < UInt64(bits) {
            a.withUnsafeBufferPointer { from in
                b.withUnsafeMutableBufferPointer { to in
                    counts.withUnsafeMutableBufferPointer { counts in
                        for i in counts.indices { counts[i] = 0 }
                        for r in from { counts[Int((r.latency >> shift) & mask) + 1] += 1 }
                        for d in 1..<counts.count { counts[d] += counts[d - 1] }
                        for r in from {
                            let d = Int((r.latency >> shift) & mask)
                            to[counts[d]] = r
                            counts[d] += 1
                        }
                    }
                }
            }
            swap(&a, &b)
            shift += digit
        }
        return a
    }

    /// The waterfall bars of the owners first missed (the first `FileBlame.spanRows` by first
    /// miss, ties included): their first `FileBlame.spanLimit` READs, walking the READs in trace
    /// order only until every one of them has its bars.
    private func spans(_ t: inout [Tally], _ touched: [Int]) -> [[(issued: UInt64, completed: UInt64?)]] {
        var chosen = touched
        if touched.count > FileBlame.spanRows {
            let threshold = touched.map { t[$0].firstMissOfData }.sorted()[FileBlame.spanRows - 1]
            chosen = touched.filter { t[$0].firstMissOfData <= threshold }
        }
        var spans = [[(issued: UInt64, completed: UInt64?)]](repeating: [], count: chosen.count)
        var unfilled = 0
        for (slot, o) in chosen.enumerated() {
            t[o].spanSlot = Int32(slot)
            t[o].stamp = -1
            unfilled += 1
        }
        segments.withUnsafeBufferPointer { segs in
            t.withUnsafeMutableBufferPointer { t in
                for (i, r) in reads.enumerated() {
                    if unfilled == 0 { break }
                    guard listOf[i] >= 0 else { continue }
                    let ri = Int32(i)
                    walk(r.start, r.end, listOf[i], segs) { o, _, _, _ in
                        let slot = Int(t[o].spanSlot)
                        guard slot >= 0, t[o].stamp != ri else { return }
                        t[o].stamp = ri
                        spans[slot].append((r.issued, r.answered ? r.issued &+ r.latency : nil))
                        if spans[slot].count == min(FileBlame.spanLimit, t[o].reads) { unfilled -= 1; t[o].spanSlot = -1 }
                    }
                }
            }
        }
        for (slot, o) in chosen.enumerated() { t[o].spanSlot = Int32(slot) }
        return spans
    }

    private func fill(_ row: inout FileBlame.Row, _ t: Tally, _ ranks: Ranks, extraReaders: Set<Int32>?,
                      histogram: inout LatencyRecorder.Counts?) {
        if t.ownTime != .max { row.firstOwnMiss = (t.ownTime, t.ownOffset) }
        row.reads = t.reads
        row.bytesRequested = t.bytes
        row.totalWait = t.sumWait
        row.unanswered = t.unanswered
        let n = t.answered
        if n > 0 {
            var p = [ranks.value.0, ranks.value.1, ranks.value.2, ranks.value.3]
            if n > UInt64(FileBlame.exactLimit) {
                // HdrHistogram reports the top of the value's bucket (LatencyRecorder clamps it to the max).
                if histogram == nil { histogram = LatencyRecorder.emptyHistogram(3) }
                p = p.map { min(histogram!.highestEquivalentForValue($0), t.maxWait) }
            }
            let us = p.map { Double($0) / 1000 }
            row.wait = FileBlame.Wait(count: n, maxNanoseconds: t.maxWait, summary: LatencySummary(
                count: n, minMicroseconds: Double(t.minWait) / 1000, meanMicroseconds: Double(t.sumWait) / Double(n) / 1000,
                p50Microseconds: us[0], p90Microseconds: us[1], p99Microseconds: us[2], p999Microseconds: us[3],
                maxMicroseconds: Double(t.maxWait) / 1000))
        }
        var mask = t.readerMask
        while mask != 0 {
            row.readers.append(readerKeys[mask.trailingZeroBitCount])
            mask &= mask - 1
        }
        for id in extraReaders ?? [] { row.readers.append(readerKeys[Int(id)]) }
        row.readers.sort()
    }
}
