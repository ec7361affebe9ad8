import Glibc

/// `BlameTally`'s tallies per segment, for the READs whose run of segments holds no owner twice:
/// each such READ is added in a fixed number of steps however many segments it covers. Its
/// counts and waits are differences (added at its first segment, taken away past its last; a
/// prefix sum gives each segment's), its bytes are each covering READ's segment length less the
/// trims at its ends, and its smallest and largest values are tags over two power-of-two spans
/// that together cover the run (pushed down to single segments at the end: a max needs no
/// care for the overlap). The earliest (issue time, start) of the READs that start in a segment
/// is kept apart from the earliest issue time of those that cover it from an earlier one, since
/// a file's first miss of its own data starts at the READ's start in the first and at the
/// segment's start in the others.
///
/// The memory is zeroed by `calloc` (so zero means "none" everywhere: the lowest values are kept
/// with their bits inverted, which makes every tag a maximum) and only its touched pages become
/// resident: the segments of a whole image, of which a trace reads a part.
struct SegmentTallies: ~Copyable {
    typealias Segment = ImageRangeMap.Segment

    private struct Sums {
        var reads: UInt64 = 0  // differences, like `answered` and `wait`
        var answered: UInt64 = 0
        var wait: UInt64 = 0
        /// The segment's bytes outside the READs that start or end in it.
        var trim: UInt64 = 0
        /// The earliest (issue time, start) of the READs that start in the segment, inverted.
        var startIssuedInverted: UInt64 = 0
        var startOffsetInverted: UInt64 = 0
    }

    /// Over the 2^level segments from the tag's own.
    private struct Tags {
        /// The earliest issue time of the READs that cover the segment but start before it, inverted.
        var laterIssuedInverted: UInt64 = 0
        var maxWait: UInt64 = 0
        var minWaitInverted: UInt64 = 0
        var readers: UInt64 = 0

        /// Each value the larger of its own and `other`'s.
        @inline(__always)
        mutating func raise(_ other: Tags) {
            laterIssuedInverted = max(laterIssuedInverted, other.laterIssuedInverted)
            maxWait = max(maxWait, other.maxWait)
            minWaitInverted = max(minWaitInverted, other.minWaitInverted)
            readers |= other.readers
        }
    }

    /// A segment's totals over the READs added.
    struct Totals {
        var reads: UInt64
        var answered: UInt64
        var wait: UInt64
        var bytes: UInt64
        /// Of the answered READs (`.max` and 0 when none).
        var minWait: UInt64
        var maxWait: UInt64
        var readers: UInt64
        var firstMiss: UInt64
        /// The earliest (issue time, offset) of the segment's own bytes a READ asked for.
        var firstOwn: (time: UInt64, offset: UInt64)
    }

    /// Runs of up to 2^levels - 1 segments; longer ones are for the caller to walk.
    static let levels = 7
    static let longestRun = (1 << levels) - 1

    private let count: Int
    private let sums: UnsafeMutablePointer<Sums>
    private let tags: UnsafeMutablePointer<Tags>  // level l's from l * count
    /// The segments and levels touched.
    private var low = Int.max, high = -1, topLevel = 0

    /// Room for `count` segments (global indexes, as `BlameTally.segments`): virtual memory,
    /// 272 bytes a segment. When it cannot be had, `available` is false and nothing may be added.
    init(segments count: Int) {
        let sums = calloc(count + 1, MemoryLayout<Sums>.stride)
        let tags = calloc(max(1, count * Self.levels), MemoryLayout<Tags>.stride)
        available = sums != nil && tags != nil
        if !available {
            free(sums)
            free(tags)
        }
        self.count = available ? count : 0
        self.sums = (available ? sums! : calloc(1, MemoryLayout<Sums>.stride)!).bindMemory(to: Sums.self, capacity: self.count + 1)
        self.tags = (available ? tags! : calloc(1, MemoryLayout<Tags>.stride)!).bindMemory(to: Tags.self, capacity: max(1, self.count * Self.levels))
    }

    /// Whether READs may be added (the memory was had).
    let available: Bool

    deinit {
        free(sums)
        free(tags)
    }

    /// Adds READ `r` (not empty; reader below 64) over segments `first...last` (at most
    /// `longestRun`, no owner twice).
    @inline(__always)
    mutating func add(_ r: BlameTally.Read, _ first: Int, _ last: Int, _ segs: UnsafeBufferPointer<Segment>) {
        // The pointers in locals: through `self` they are loaded again after every store.
        let sums = self.sums, tags = self.tags, count = self.count
        let answered: UInt64 = r.answered ? 1 : 0, latency = r.latency
        let opening = sums + first, past = sums + (last &+ 1)
        opening.pointee.reads &+= 1
        opening.pointee.answered &+= answered
        opening.pointee.wait &+= latency
        past.pointee.reads &-= 1
        past.pointee.answered &-= answered
        past.pointee.wait &-= latency
        opening.pointee.trim &+= r.start &- segs[first].start
        sums[last].trim &+= segs[last].end &- r.end
        let issued = ~r.issued, start = ~r.start
        if (issued, start) > (opening.pointee.startIssuedInverted, opening.pointee.startOffsetInverted) {
            (opening.pointee.startIssuedInverted, opening.pointee.startOffsetInverted) = (issued, start)
        }
        let (level, other) = Self.spans(first, last)
        let waits = Tags(maxWait: latency, minWaitInverted: r.answered ? ~latency : 0, readers: 1 << UInt64(r.reader & 63))
        let row = tags + level &* count
        row[first].raise(waits)
        row[other].raise(waits)
        if last > first {
            let (level, other) = Self.spans(first &+ 1, last)
            let row = tags + level &* count
            row[first &+ 1].laterIssuedInverted = max(row[first &+ 1].laterIssuedInverted, issued)
            row[other].laterIssuedInverted = max(row[other].laterIssuedInverted, issued)
        }
        topLevel = max(topLevel, level)
        low = min(low, first)
        high = max(high, last)
    }

    /// The level of the two spans that cover `first...last` and the start of the second (the
    /// first starts at `first`).
    @inline(__always)
    private static func spans(_ first: Int, _ last: Int) -> (level: Int, other: Int) {
        let level = Int.bitWidth &- 1 &- (last &- first &+ 1).leadingZeroBitCount
        return (level, last &- (1 &<< level) &+ 1)
    }

    /// Each segment some READ covered, with its totals, in segment order. Pushes the tags down
    /// first (so call it once).
    mutating func forEachTouched(_ segs: UnsafeBufferPointer<Segment>, _ body: (Int, Totals) -> Void) {
        guard low <= high else { return }
        var level = topLevel
        while level > 0 {
            let half = 1 << (level - 1), upper = tags + level * count, lower = tags + (level - 1) * count
            var i = low
            while i + (1 << level) - 1 <= high {
                lower[i].raise(upper[i])
                lower[i + half].raise(upper[i])
                i += 1
            }
            level -= 1
        }
        var reads: UInt64 = 0, answered: UInt64 = 0, wait: UInt64 = 0
        for k in low...high {
            let s = sums[k], t = tags[k]
            reads &+= s.reads
            answered &+= s.answered
            wait &+= s.wait
            guard reads != 0 else { continue }
            let later = ~t.laterIssuedInverted, started = ~s.startIssuedInverted
            body(k, Totals(reads: reads, answered: answered, wait: wait,
                           bytes: reads &* (segs[k].end &- segs[k].start) &- s.trim,
                           minWait: ~t.minWaitInverted, maxWait: t.maxWait, readers: t.readers,
                           firstMiss: min(later, started),
                           firstOwn: later <= started ? (later, segs[k].start) : (started, ~s.startOffsetInverted)))
        }
    }
}
