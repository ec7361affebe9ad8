import Histogram

extension FileBlame {
    /// The READs of a trace as the blame needs them (range, issue, wait, reader), compact and in
    /// trace order: what `report --image` keeps while the trace is read, before its objects are
    /// matched to images.
    public struct Reads: Sendable {
        /// 40 bytes: the READ's reader and whether it was answered share a word.
        struct Entry {
            var start: UInt64
            var end: UInt64
            var issued: UInt64
            var latency: UInt64
            var obj: UInt32
            /// Index into `readerKeys` (low 31 bits), answered (top bit).
            var readerAndAnswered: UInt32
            var reader: Int32 { Int32(bitPattern: readerAndAnswered & 0x7fff_ffff) }
            var answered: Bool { readerAndAnswered & 0x8000_0000 != 0 }
        }

        /// The entries in chunks of `chunkSize`, `current` the last: an array grown by doubling
        /// would copy them and fault in its pages twice over.
        private var chunks: [[Entry]] = []
        private var current: [Entry] = []
        static let chunkSize = 1 << 16
        private(set) var readerKeys: [ReportAccumulator.ReaderKey] = []
        private var readerIndex: [ReportAccumulator.ReaderKey: Int32] = [:]
        /// The last readers seen, by pid (direct-mapped), with the index of their name: most
        /// READs skip the lookup by key, and the name itself.
        private var recent = [(pid: Int32, name: Int32, id: Int32)](repeating: (-1, 0, -1), count: 64)
        /// The names of the readers of `add(_: RequestRecord)`, as indexes (1 on; 0: none).
        private var commIndex: [String: Int32] = [:]
        /// The objects of the READs, in the order first seen (the blame's image order).
        private(set) var objects: [UInt32] = []
        private var objectSeen: Set<UInt32> = []

        public init() {}

        public var count: Int { chunks.count * Self.chunkSize + current.count }
        /// Every entry, in order, chunk by chunk.
        var entryChunks: [[Entry]] { current.isEmpty ? chunks : chunks + [current] }

        /// Keeps `r` if it is a READ with a range. `name`: an index that stands for its reader's
        /// name (one per name, as the correlator's task names), `comm` that name: asked for only
        /// when the reader's pid and name index are not the last seen in their slot.
        @inline(__always)
        mutating func add(_ r: ClosedRequest, name: Int32, comm: () -> String?) {
            guard r.kind == .read, let offset = r.offset, offset >= 0, let length = r.length else { return }
            let slot = Int(UInt32(bitPattern: r.pid) & 63)
            var reader = recent[slot].id
            if reader < 0 || recent[slot].pid != r.pid || recent[slot].name != name {
                reader = readerID(.init(pid: r.pid, comm: comm() ?? "?"))
                recent[slot] = (r.pid, name, reader)
            }
            if r.obj != objects.last, objectSeen.insert(r.obj).inserted { objects.append(r.obj) }
            let start = UInt64(offset)
            if current.count == Self.chunkSize {
                chunks.append(current)
                current = []
            }
            if current.isEmpty { current.reserveCapacity(Self.chunkSize) }
            current.append(Entry(start: start, end: start &+ length < start ? .max : start + length, issued: r.issued,
                                 latency: r.latency ?? 0, obj: r.obj,
                                 readerAndAnswered: UInt32(reader) | (r.completed != nil ? 0x8000_0000 : 0)))
        }

        /// Keeps `r` if it is a READ with a range.
        public mutating func add(_ r: RequestRecord) {
            var name: Int32 = 0
            if let comm = r.comm {
                name = commIndex[comm] ?? Int32(commIndex.count + 1)
                commIndex[comm] = name
            }
            add(ClosedRequest(r), name: name, comm: { r.comm })
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
/// of the images before it); the owners a READ touched get a tally each, in a flat array (an
/// owner's slot looked up by its id), the first half of the READs and the second apart (on two
/// threads when the caller has them) and then added up. Each image's segments are laid end to
/// end with their gaps as `(unattributed)` segments, from 0 to 2^64 - 1, so a READ covers a run of
/// consecutive segments, the first found through a `SegmentIndex`. In trace order, for counts,
/// bytes, waits, first misses and readers (a bit per reader), a READ whose run holds no owner
/// twice is added to `SegmentTallies` in a few steps, the segments added to their owners at the
/// end; any other is walked over its run. Each answered READ's run and wait are noted (16 bytes);
/// then those runs are walked in latency order, where a file's k-th is its k-th smallest wait,
/// for the percentiles (and its first and last are its smallest and largest); and the READs in
/// trace order again until the first-missed files have their waterfall bars.
/// No hashing per (file, READ), no per-file list of values.
struct BlameTally {
    typealias Read = FileBlame.Reads.Entry
    typealias Segment = ImageRangeMap.Segment
    /// In trace order, in chunks (the log's own arrays, not copies).
    private let reads: [[Read]]
    private let readCount: Int
    private let readerKeys: [ReportAccumulator.ReaderKey]
    /// Every image's (and device's) segments with the gaps filled, owner ids made global: each
    /// list a range of them, the last ending at 2^64 - 1.
    private var segments: [Segment] = []
    /// `index` covers the list but its last segment (which may end at 2^64 - 1).
    private var lists: [(lo: Int, hi: Int, index: ImageRangeMap.SegmentIndex)] = []
    private var listIndex: [ListKey: Int32] = [:]
    private var maps: [(map: ImageRangeMap, base: Int)] = []
    private var mapIndex: [ObjectIdentifier: Int] = [:]
    private var ownerTotal = 0

    private struct ListKey: Hashable {
        var table: ObjectIdentifier
        var device: Int
    }

    init(reads log: FileBlame.Reads, sources: [UInt32: FileBlame.Source]) {
        reads = log.entryChunks
        readCount = log.count
        readerKeys = log.readerKeys
        for obj in log.objects { listByObject[obj] = sources[obj].map { list(for: $0) } ?? -1 }
    }

    /// The segment list of each object's READs (-1: the object has no image).
    private var listByObject: [UInt32: Int32] = [:]

    /// `listByObject[obj]`, looked up only when the object is not the last one's.
    struct ObjectLists {
        private var obj: UInt32 = 0, list: Int32 = -2

        @inline(__always)
        mutating func list(_ obj: UInt32, _ tally: BlameTally) -> Int32 {
            if obj != self.obj || list == -2 { (self.obj, list) = (obj, tally.listByObject[obj] ?? -1) }
            return list
        }
    }

    /// The segment list of `source`'s image and device (added on first use).
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
        let base = Int32(maps[m].base)
        let unattributed = ImageRangeMap.unattributedID + base
        let lo = segments.count
        var at: UInt64 = 0
        for var s in source.map.segmentList(device: source.device) {
            if s.start > at { segments.append(Segment(start: at, end: s.start, owner: unattributed)) }
            s.owner += base
            segments.append(s)
            at = s.end
        }
        if at < .max || segments.count == lo { segments.append(Segment(start: at, end: .max, owner: unattributed)) }
        // Back to front: the nearest segment that repeats an owner of an earlier one, from each on.
        var seenAt = [Int32](repeating: .max, count: source.map.ownerCount)
        var repeats = [Int32](repeating: .max, count: segments.count - lo)
        var nearest = Int32.max
        for k in (lo..<segments.count).reversed() {
            let owner = Int(segments[k].owner - base)
            nearest = min(nearest, seenAt[owner])
            repeats[k - lo] = nearest
            seenAt[owner] = Int32(k)
        }
        repeatFrom += repeats
        let index = segments.withUnsafeBufferPointer { ImageRangeMap.SegmentIndex(UnsafeBufferPointer(rebasing: $0[lo..<($0.count - 1)])) }
        lists.append((lo, segments.count, index))
        indexTableStart.append(indexTables.count)
        indexTables += index.firstEndingPast
        listIndex[key] = Int32(lists.count - 1)
        return Int32(lists.count - 1)
    }

    /// For each segment `k`, the nearest segment past it whose owner already has one at or after
    /// `k` (`.max`: none): a READ over `k...last` covers an owner twice when `repeatFrom[k] <= last`.
    private var repeatFrom: [Int32] = []

    /// Every list's `SegmentIndex` table end to end (list `l`'s from `indexTableStart[l]`): one
    /// buffer for the walks, no array looked up per READ.
    private var indexTables: [Int32] = []
    private var indexTableStart: [Int] = []

    /// `first` for the READs of one list, its table in hand.
    struct Finder {
        var lo = 0, shift: UInt64 = 0, last = 0
        var table: UnsafePointer<Int32>? = nil

        /// The segment (global index) that holds byte `offset`.
        @inline(__always)
        func first(_ offset: UInt64, _ segs: UnsafeBufferPointer<Segment>) -> Int {
            let b = Int(min(offset >> shift, UInt64(last)))
            return BlameTally.search(offset, from: Int(table![b]) + lo, to: Int(table![min(b + 1, last)]) + lo, segs)
        }
    }

    /// The first segment of [low, high) that ends past `offset` (`high` when none: the list's
    /// last segment, which holds everything past the others).
    @inline(__always)
    static func search(_ offset: UInt64, from low: Int, to high: Int, _ segs: UnsafeBufferPointer<Segment>) -> Int {
        var low = low, high = high
        if high - low <= 8 {  // mostly 0 or 1 step: a scan mispredicts less than a search
            while low < high && segs[low].end <= offset { low += 1 }
            return low
        }
        while low < high {
            let mid = (low + high) / 2
            if segs[mid].end <= offset { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// The finder of list `list`; `tables`: `indexTables`, held for the walk.
    private func finder(_ list: Int32, _ tables: UnsafeBufferPointer<Int32>) -> Finder {
        let l = lists[Int(list)]
        return Finder(lo: l.lo, shift: l.index.shift, last: l.index.firstEndingPast.count - 1,
                      table: tables.baseAddress! + indexTableStart[Int(list)])
    }

    /// The segment (global index) that holds byte `offset` of list `list`.
    @inline(__always)
    private func first(_ offset: UInt64, _ list: Int32, _ segs: UnsafeBufferPointer<Segment>) -> Int {
        let l = lists[Int(list)]
        let (low, high) = l.index.within(offset)
        return Self.search(offset, from: low + l.lo, to: high + l.lo, segs)
    }

    /// The run of segments [first, last] that `r` (not empty) covers.
    @inline(__always)
    private func run(_ r: Read, _ list: Int32, _ segs: UnsafeBufferPointer<Segment>) -> (Int, Int) {
        let k = first(r.start, list, segs)
        var last = k
        while segs[last].end < r.end { last += 1 }
        return (k, last)
    }

    /// One owner's tallies, together (one or two cache lines per file a READ covers).
    struct Tally {
        var reads = 0
        var bytes: UInt64 = 0
        var answered: UInt64 = 0
        var sumWait: UInt64 = 0
        /// Of the answered READs (used without percentiles; else the latency-order walk finds them).
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

    /// An owner's percentiles: the ranks wanted among its waits, their values, waits seen so
    /// far; and its smallest and largest wait (the first and the last seen).
    struct Ranks {
        var rank: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        var value: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        var seen: UInt64 = 0
        var stamp: Int32 = -1
        var minWait: UInt64 = 0
        var maxWait: UInt64 = 0
    }

    /// An answered READ as the percentile walk needs it: its wait and its run of segments
    /// (16 bytes: cheap to move while sorting).
    struct Timed {
        var latency: UInt64
        var first: Int32
        var last: Int32
    }

    static let percentiles: [Double] = [50, 90, 99, 99.9]

    /// The rows of every owner a READ touched; `withSpans`: the waterfall's bars too (a walk in trace order until the first-missed files
    /// have theirs: up to all the READs when some file is read rarely).
    /// `percentiles`: each row's wait percentiles too (the walk in latency order); else they are nil.
    /// `concurrently`: runs its two closures at once (`FileBlame.Concurrently`); the READs'
    /// halves are tallied on each, then added up.
    func rows(withSpans: Bool, percentiles: Bool = true, concurrently: FileBlame.Concurrently? = nil) -> [FileBlame.Row] {
        var tallied: Part
        if let concurrently, readCount >= Self.concurrentMinimum {
            let cut = readCount / 2
            var second = Part()
            tallied = Part()
            concurrently({ tallied = tally(0..<cut, percentiles: percentiles) },
                         { second = tally(cut..<readCount, percentiles: percentiles) })
            tallied.add(second)
        } else {
            tallied = tally(0..<readCount, percentiles: percentiles)
        }
        var t = tallied.t, timed = tallied.timed
        let slotOf = tallied.slotOf, extraReaders = tallied.extraReaders
        tallied = Part()  // `t` and `timed` now the only references to their storage
        // The touched owners in id order (the rows' order), each with its slot.
        var touched: [(owner: Int, slot: Int)] = []
        touched.reserveCapacity(t.count)
        for o in slotOf.indices where slotOf[o] >= 0 { touched.append((o, Int(slotOf[o]))) }
        var ranks = [Ranks](repeating: Ranks(), count: t.count)
        for slot in t.indices where t[slot].answered > 0 { ranks[slot].rank = Self.ranks(of: t[slot].answered) }
        if percentiles {
            Self.sortByLatency(&timed)
            percentileValues(&ranks, slotOf, timed)
            timed = []
        }
        let spans = withSpans ? spans(&t, slotOf) : []
        var rows: [FileBlame.Row] = []
        rows.reserveCapacity(touched.count)
        var m = 0
        var histogram: LatencyRecorder.Counts?  // for its bucket bounds (LatencyRecorder's)
        for (o, slot) in touched {
            while m + 1 < maps.count && maps[m + 1].base <= o { m += 1 }
            var row = FileBlame.Row(owner: maps[m].map.owner(Int32(o - maps[m].base)), firstMiss: t[slot].firstMiss)
            fill(&row, t[slot], percentiles ? ranks[slot] : nil, extraReaders: extraReaders[o], histogram: &histogram)
            if t[slot].spanSlot >= 0 { row.spans = spans[Int(t[slot].spanSlot)] }
            rows.append(row)
        }
        return rows
    }

    /// The tallies of some of the READs: for the owners they touched only (a few thousand of an
    /// image's 100,000 files, say), in the order first touched; `slotOf` gives an owner's slot
    /// (-1: untouched), `owners` each slot's owner.
    struct Part {
        var t: [Tally] = []
        var slotOf: [Int32] = []
        var owners: [Int32] = []
        var timed: [Timed] = []
        var extraReaders: [Int: Set<Int32>] = [:]  // reader ids past 63, by owner

        /// `other`'s tallies (of later READs) added to these.
        mutating func add(_ other: Part) {
            for (slot, owner) in other.owners.enumerated() {
                let x = other.t[slot], o = Int(owner)
                guard slotOf[o] >= 0 else {
                    slotOf[o] = Int32(t.count)
                    t.append(x)
                    owners.append(owner)
                    continue
                }
                let i = Int(slotOf[o])
                t[i].reads += x.reads
                t[i].bytes &+= x.bytes
                t[i].answered += x.answered
                t[i].sumWait &+= x.sumWait
                t[i].minWait = min(t[i].minWait, x.minWait)
                t[i].maxWait = max(t[i].maxWait, x.maxWait)
                t[i].firstMiss = min(t[i].firstMiss, x.firstMiss)
                if (x.ownTime, x.ownOffset) < (t[i].ownTime, t[i].ownOffset) { (t[i].ownTime, t[i].ownOffset) = (x.ownTime, x.ownOffset) }
                t[i].readerMask |= x.readerMask
            }
            for (owner, readers) in other.extraReaders { extraReaders[owner, default: []].formUnion(readers) }
            timed += other.timed
        }
    }

    /// Below this many READs, one thread tallies them all.
    static let concurrentMinimum = 1 << 13

    /// The tallies of the READs `range` of the log (their indices in trace order). The storage is
    /// room for every owner, left uninitialised: only the pages used are faulted in. Most READs
    /// go to `SegmentTallies` (a few steps each, however many files they cover), added to their
    /// owners at the end; those that cover an owner twice (it must count once), cover very many
    /// segments or have a reader past 63 are walked segment by segment (all of them when the
    /// per-segment tallies could not have their memory).
    private func tally(_ range: Range<Int>, percentiles: Bool) -> Part {
        var part = Part()
        part.slotOf = [Int32](repeating: -1, count: ownerTotal)
        if percentiles { part.timed.reserveCapacity(range.count) }
        part.owners.reserveCapacity(min(ownerTotal, 1 << 16))
        var bySegment = SegmentTallies(segments: segments.count)
        let ranged = bySegment.available
        part.t = [Tally](unsafeUninitializedCapacity: ownerTotal) { t, touchedCount in
            var used = 0
            segments.withUnsafeBufferPointer { segs in
                part.slotOf.withUnsafeMutableBufferPointer { slotOf in
                    indexTables.withUnsafeBufferPointer { tables in
                        repeatFrom.withUnsafeBufferPointer { repeatFrom in
                            var first = 0  // the log index of the chunk's first READ
                            var objectLists = ObjectLists(), list: Int32 = -1, finder = Finder()
                            for chunk in reads {
                                defer { first += chunk.count }
                                let lo = max(range.lowerBound, first), hi = min(range.upperBound, first + chunk.count)
                                guard lo < hi else { continue }
                                chunk.withUnsafeBufferPointer { chunk in
                                    for ri in lo..<hi {
                                        let r = chunk[ri - first]
                                        let readList = objectLists.list(r.obj, self)
                                        guard readList >= 0 && r.start < r.end else { continue }
                                        if readList != list { (list, finder) = (readList, self.finder(readList, tables)) }
                                        let k0 = finder.first(r.start, segs)
                                        var k1 = k0
                                        while segs[k1].end < r.end { k1 &+= 1 }
                                        if percentiles && r.answered { part.timed.append(Timed(latency: r.latency, first: Int32(k0), last: Int32(k1))) }
                                        if Int(repeatFrom[k0]) > k1 && k1 - k0 < SegmentTallies.longestRun && r.reader < 64 && ranged {
                                            bySegment.add(r, k0, k1, segs)
                                        } else {
                                            tally(Int32(ri), r, k0, segs, t, slotOf, &used, &part.owners, &part.extraReaders)
                                        }
                                    }
                                }
                            }
                        }
                    }
                    bySegment.forEachTouched(segs) { k, s in
                        let o = Self.slot(Int(segs[k].owner), t, slotOf, &used, &part.owners)
                        t[o].reads &+= Int(s.reads)
                        t[o].bytes &+= s.bytes
                        t[o].answered &+= s.answered
                        t[o].sumWait &+= s.wait
                        t[o].minWait = min(t[o].minWait, s.minWait)
                        t[o].maxWait = max(t[o].maxWait, s.maxWait)
                        t[o].firstMiss = min(t[o].firstMiss, s.firstMiss)
                        t[o].readerMask |= s.readers
                        if !segs[k].inline, s.firstOwn < (t[o].ownTime, t[o].ownOffset) { (t[o].ownTime, t[o].ownOffset) = s.firstOwn }
                    }
                }
            }
            touchedCount = used
        }
        return part
    }

    /// The slot of `owner`'s tally; an owner touched for the first time gets the next of `used`
    /// slots, noted in `owners`.
    @inline(__always)
    private static func slot(_ owner: Int, _ t: UnsafeMutableBufferPointer<Tally>, _ slotOf: UnsafeMutableBufferPointer<Int32>,
                             _ used: inout Int, _ owners: inout [Int32]) -> Int {
        var o = Int(slotOf[owner])
        if o < 0 {
            o = used
            used += 1
            slotOf[owner] = Int32(o)
            owners.append(Int32(owner))
            (t.baseAddress! + o).initialize(to: Tally())
        }
        return o
    }

    /// `r`'s pieces, segment by segment from `k0` (the segment holding its first byte), added to
    /// their owners' tallies (`t[slotOf[owner]]`, see `slot`). Without branches on the READ's
    /// answer: an unanswered one's latency is 0 (`Reads` keeps it so), its lowest wait `.max`.
    @inline(__always)
    private func tally(_ ri: Int32, _ r: Read, _ k0: Int, _ segs: UnsafeBufferPointer<Segment>,
                       _ t: UnsafeMutableBufferPointer<Tally>, _ slotOf: UnsafeMutableBufferPointer<Int32>, _ used: inout Int,
                       _ owners: inout [Int32], _ extraReaders: inout [Int: Set<Int32>]) {
        let latency = r.latency, reader = r.reader, issued = r.issued
        let answered: UInt64 = r.answered ? 1 : 0, lowest = r.answered ? latency : .max
        let bit: UInt64 = reader < 64 ? 1 << UInt64(reader) : 0
        var k = k0, at = r.start
        while true {
            let s = segs[k], owner = Int(s.owner)
            let o = Self.slot(owner, t, slotOf, &used, &owners)
            let stop = min(r.end, s.end)
            if t[o].stamp != ri {
                t[o].stamp = ri
                t[o].reads &+= 1
                t[o].firstMiss = min(t[o].firstMiss, issued)
                t[o].answered &+= answered
                t[o].sumWait &+= latency
                t[o].minWait = min(t[o].minWait, lowest)
                t[o].maxWait = max(t[o].maxWait, latency)
                t[o].readerMask |= bit
                if reader >= 64 { extraReaders[owner, default: []].insert(reader) }
            }
            t[o].bytes &+= stop &- at
            if !s.inline, (issued, at) < (t[o].ownTime, t[o].ownOffset) { (t[o].ownTime, t[o].ownOffset) = (issued, at) }
            if stop == r.end { break }
            at = stop
            k += 1
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

    /// Walks the answered READs' runs in latency order: an owner's k-th is its k-th smallest wait.
    /// `slotOf`: each owner's tally slot, its index in `ranks` (every owner of a run has one: the
    /// tally touched it).
    private func percentileValues(_ ranks: inout [Ranks], _ slotOf: [Int32], _ sorted: [Timed]) {
        segments.withUnsafeBufferPointer { segs in
            ranks.withUnsafeMutableBufferPointer { ranks in
                sorted.withUnsafeBufferPointer { sorted in
                    slotOf.withUnsafeBufferPointer { slotOf in
                        for i in sorted.indices {
                            let r = sorted[i], ri = Int32(i)
                            for k in Int(r.first)...Int(r.last) {
                                let o = Int(slotOf[Int(segs[k].owner)])
                                guard ranks[o].stamp != ri else { continue }
                                ranks[o].stamp = ri
                                ranks[o].seen += 1
                                let seen = ranks[o].seen
                                if seen == 1 { ranks[o].minWait = r.latency }
                                ranks[o].maxWait = r.latency
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
    }

    /// Sorts `a` by latency: an LSD radix sort on digits of at most 11 bits (2,048 buckets stay
    /// in cache), as few passes as the largest latency needs (two up to 4 ms). Stable.
    static func sortByLatency(_ a: inout [Timed]) {
        let n = a.count
        let top = a.reduce(0) { max($0, $1.latency) }
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
    }

    /// The waterfall bars of the owners first missed (the first `FileBlame.spanRows` by first
    /// miss, ties included): their first `FileBlame.spanLimit` READs, walking the READs in trace
    /// order only until every one of them has its bars.
    private func spans(_ t: inout [Tally], _ slotOf: [Int32]) -> [[(issued: UInt64, completed: UInt64?)]] {
        var chosen = Array(t.indices)
        if t.count > FileBlame.spanRows {
            let threshold = t.map(\.firstMissOfData).sorted()[FileBlame.spanRows - 1]
            chosen = chosen.filter { t[$0].firstMissOfData <= threshold }
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
                var objectLists = ObjectLists()
                for (i, r) in reads.joined().enumerated() {
                    if unfilled == 0 { break }
                    let list = objectLists.list(r.obj, self)
                    guard list >= 0, r.start < r.end else { continue }
                    let ri = Int32(i)
                    let (k0, k1) = run(r, list, segs)
                    for k in k0...k1 {
                        let o = Int(slotOf[Int(segs[k].owner)])
                        let slot = Int(t[o].spanSlot)
                        guard slot >= 0, t[o].stamp != ri else { continue }
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

    /// `ranks`: nil without percentiles (the summary's are nil then).
    private func fill(_ row: inout FileBlame.Row, _ t: Tally, _ ranks: Ranks?, extraReaders: Set<Int32>?,
                      histogram: inout LatencyRecorder.Counts?) {
        if t.ownTime != .max { row.firstOwnMiss = (t.ownTime, t.ownOffset) }
        row.reads = t.reads
        row.bytesRequested = t.bytes
        row.totalWait = t.sumWait
        row.unanswered = t.reads - Int(t.answered)
        let n = t.answered
        if n > 0 {
            let (minWait, maxWait) = ranks.map { ($0.minWait, $0.maxWait) } ?? (t.minWait, t.maxWait)
            var us: [Double?] = [nil, nil, nil, nil]
            if let ranks {
                var p = [ranks.value.0, ranks.value.1, ranks.value.2, ranks.value.3]
                if n > UInt64(FileBlame.exactLimit) {
                    // HdrHistogram reports the top of the value's bucket (LatencyRecorder clamps it to the max).
                    if histogram == nil { histogram = LatencyRecorder.emptyHistogram(3) }
                    p = p.map { min(histogram!.highestEquivalentForValue($0), maxWait) }
                }
                us = p.map { Double($0) / 1000 }
            }
            row.wait = FileBlame.Wait(count: n, maxNanoseconds: maxWait, summary: LatencySummary(
                count: n, minMicroseconds: Double(minWait) / 1000, meanMicroseconds: Double(t.sumWait) / Double(n) / 1000,
                p50Microseconds: us[0], p90Microseconds: us[1], p99Microseconds: us[2], p999Microseconds: us[3],
                maxMicroseconds: Double(maxWait) / 1000))
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
