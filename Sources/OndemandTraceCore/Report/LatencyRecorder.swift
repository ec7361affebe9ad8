import Histogram

/// Latency statistics of one population of requests, in constant memory.
///
/// Count, sum, min and max are exact. Percentiles are exact while the population has at most
/// `exactLimit` values (they are kept); beyond that they come from an HdrHistogram of
/// nanoseconds: with three significant digits a reported percentile is the top of the histogram
/// bucket holding the exact order statistic, so it is at most 0.1% (1/1024) above the exact value
/// and never below it (`errorBound`). Breakdown recorders (`breakdown`: per object, blob, reader,
/// size) keep at most 256 values and use two digits (1/128, under 1%) to stay small.
///
/// A percentile p is the ceil(p/100 × count)-th smallest value (HdrHistogram's definition).
public struct LatencyRecorder: Sendable {
    public static let log2BucketCount = 40

    /// Filled when the kept values overflow `exactLimit` (from them), so small populations — a
    /// breakdown row, one blob's objects — cost only their values.
    private var buckets: BucketCounts
    public private(set) var count: UInt64 = 0
    public private(set) var sumNanoseconds: UInt64 = 0
    public private(set) var minNanoseconds: UInt64 = .max
    public private(set) var maxNanoseconds: UInt64 = 0
    /// Counts by power-of-two microsecond bucket, like bcc's biolatency: bucket 0 holds 0-1 µs,
    /// bucket i (i ≥ 1) holds 2^i ... 2^(i+1)-1 µs; the last bucket also holds everything above.
    /// Summed from `fineMicroseconds`, whose buckets split the same octaves.
    public var log2Microseconds: [UInt64] {
        guard tracksLog2 else { return [] }
        var out = [UInt64](repeating: 0, count: Self.log2BucketCount)
        for (fine, n) in fineMicroseconds.enumerated() where n > 0 {
            let octave = fine == 0 ? 0 : (fine - 1) / Self.fineBucketsPerOctave
            out[min(octave, Self.log2BucketCount - 1)] += n
        }
        return out
    }
    public let significantDigits: Int
    /// Counts in log-linear buckets (`fineBucketsPerOctave` per power of two of microseconds):
    /// fine enough for `check`'s rank test between two runs, and small in the JSON.
    public private(set) var fineMicroseconds: [UInt64]
    public static let fineBucketsPerOctave = 16
    /// The values themselves while there are at most `exactLimit` of them.
    private var exactValues: ExactValues?
    /// `exactValues != nil`, as a flag read per value.
    private var keepsValues: Bool
    /// Neither values kept nor `fineMicroseconds`: a value is only counted in `buckets`.
    private var countsOnly: Bool
    public let exactLimit: Int

    /// Whether `log2Microseconds` is kept (the report prints it for the main populations only).
    public let tracksLog2: Bool

    public init(significantDigits: Int = 3, exactLimit: Int = 1 << 16, log2: Bool = true) {
        tracksLog2 = log2
        self.significantDigits = significantDigits
        self.exactLimit = exactLimit
        exactValues = exactLimit > 0 ? ExactValues() : nil
        keepsValues = exactLimit > 0
        countsOnly = !keepsValues && !log2
        buckets = BucketCounts(significantDigits: significantDigits)
        fineMicroseconds = []
    }

    /// A breakdown row's recorder: a report keeps one per object, and a thousand objects are
    /// common, so it stays within a few KB however many values it records (peak RSS does not grow
    /// with the trace): 256 kept values (1 KB), then two-digit bucket counts.
    public static func breakdown() -> LatencyRecorder {
        LatencyRecorder(significantDigits: 2, exactLimit: breakdownExactLimit, log2: false)
    }
    public static let breakdownExactLimit = 256

    /// Counts are 32-bit and the range starts at 1 ms, growing to the largest value recorded
    /// (`autoResize`; the buckets, and so every percentile, do not depend on the range).
    /// A bucket would wrap after 2^32 values of one population, far beyond any trace.
    typealias Counts = Histogram<UInt32>

    static func emptyHistogram(_ significantDigits: Int) -> Counts {
        var h = Counts(lowestDiscernibleValue: 1, highestTrackableValue: 1 << 20,
                       numberOfSignificantValueDigits: significantDigits >= 3 ? .three : .two)
        h.autoResize = true
        return h
    }

    /// The largest relative amount a reported percentile can exceed the exact one (0: exact).
    public var errorBound: Double {
        if keepsValues { return 0 }
        return significantDigits >= 3 ? 1.0 / 1024 : 1.0 / 128
    }

    /// Wrapping arithmetic where nothing can overflow (a count past 2^64). Inlined: the common
    /// case, a value counted in a bucket already covered (`countsOnly`), is a few integer
    /// operations where it is recorded (a call per value was a third of its cost, five to six
    /// values a READ on `report`'s correlating thread); the rest is `recordRest`.
    @inline(__always)
    public mutating func record(nanoseconds: UInt64) {
        count &+= 1
        sumNanoseconds &+= nanoseconds
        if nanoseconds < minNanoseconds { minNanoseconds = nanoseconds }
        if nanoseconds > maxNanoseconds { maxNanoseconds = nanoseconds }
        if countsOnly, buckets.countIfCovered(nanoseconds) { return }
        recordRest(nanoseconds)
    }

    /// `record(nanoseconds:)` for each value, in order: the recorder ends the same. Values only
    /// counted (`countsOnly`) are summed and counted in one pass, not a call and a buffer access
    /// each (the object rows take their latencies this way, grouped, `ReportAccumulator`).
    public mutating func record(contentsOf values: UnsafeBufferPointer<UInt64>) {
        var rest = values[...]
        // Kept values (up to `exactLimit`) one at a time: the recorder may stop keeping them.
        while !countsOnly, let value = rest.first {
            record(nanoseconds: value)
            rest = rest.dropFirst()
        }
        guard !rest.isEmpty else { return }
        var (sum, low, high) = (sumNanoseconds, minNanoseconds, maxNanoseconds)
        for value in rest {
            sum &+= value
            if value < low { low = value }
            if value > high { high = value }
        }
        count &+= UInt64(rest.count)
        (sumNanoseconds, minNanoseconds, maxNanoseconds) = (sum, low, high)
        buckets.record(contentsOf: UnsafeBufferPointer(rebasing: rest))
    }

    /// `record` past count, sum, min and max, when the value is not simply counted.
    @inline(never)
    private mutating func recordRest(_ nanoseconds: UInt64) {
        // `keepsValues`, not `exactValues != nil`: comparing the optional copied its arrays.
        if keepsValues {
            // While the values are kept, all `count` of them are.
            if count <= UInt64(exactLimit) { exactValues!.append(nanoseconds) } else { dropValues(recording: nanoseconds) }
        } else {
            buckets.record(nanoseconds)
        }
        if tracksLog2 {
            let fine = Self.fineBucket(nanoseconds: nanoseconds)
            if fine >= fineMicroseconds.count { fineMicroseconds += [UInt64](repeating: 0, count: fine + 1 - fineMicroseconds.count) }
            fineMicroseconds[fine] += 1
        }
    }

    /// The kept values overflowed `exactLimit`: from now on the bucket counts count them.
    private mutating func dropValues(recording nanoseconds: UInt64) {
        countKeptValues()
        buckets.record(nanoseconds)
    }

    /// Moves the kept values into the bucket counts.
    private mutating func countKeptValues() {
        guard keepsValues else { return }
        for v in exactValues?.values ?? [] { buckets.record(v) }
        exactValues = nil
        keepsValues = false
        countsOnly = !tracksLog2
    }

    /// Adds `other`'s values, as if each had been recorded here (recorders of one configuration).
    public mutating func merge(_ other: LatencyRecorder) {
        guard other.count > 0 else { return }
        count += other.count
        sumNanoseconds &+= other.sumNanoseconds
        minNanoseconds = min(minNanoseconds, other.minNanoseconds)
        maxNanoseconds = max(maxNanoseconds, other.maxNanoseconds)
        if var mine = exactValues, let theirs = other.exactValues, mine.count + theirs.count <= exactLimit {
            mine.append(contentsOf: theirs)
            exactValues = mine
        } else {
            countKeptValues()
            if other.keepsValues {
                for v in other.exactValues?.values ?? [] { buckets.record(v) }
            } else {
                buckets.add(other.buckets)
            }
        }
        if tracksLog2 && other.tracksLog2 {
            if other.fineMicroseconds.count > fineMicroseconds.count {
                fineMicroseconds += [UInt64](repeating: 0, count: other.fineMicroseconds.count - fineMicroseconds.count)
            }
            for (i, n) in other.fineMicroseconds.enumerated() { fineMicroseconds[i] += n }
        }
    }

    /// Bucket 0 holds 0-1 µs; then each octave [2^e, 2^(e+1)) µs, e ≥ 0, is cut in 16 equal parts.
    @inline(__always)
    public static func fineBucket(nanoseconds: UInt64) -> Int {
        let us = nanoseconds / 1000
        guard us >= 1 else { return 0 }
        let e = 63 &- us.leadingZeroBitCount
        let sub = e >= 4 ? Int((us &>> UInt64(e &- 4)) & 15) : Int((us &<< UInt64(4 &- e)) & 15)
        return 1 &+ e &* fineBucketsPerOctave &+ sub
    }

    /// The [lower, upper) bounds in µs of a fine bucket.
    public static func fineBucketRange(_ index: Int) -> (lower: Double, upper: Double) {
        guard index > 0 else { return (0, 1) }
        let e = (index - 1) / fineBucketsPerOctave, sub = (index - 1) % fineBucketsPerOctave
        let base = Double(UInt64(1) << UInt64(e))
        let width = base / Double(fineBucketsPerOctave)
        return (base + Double(sub) * width, base + Double(sub + 1) * width)
    }

    /// The value at `percentile` (0...100) in nanoseconds (see the type's note on exactness).
    public func percentileNanoseconds(_ percentile: Double) -> UInt64 {
        percentilesNanoseconds([percentile])[0]
    }

    /// Several percentiles at once (one sort of the kept values).
    public func percentilesNanoseconds(_ percentiles: [Double]) -> [UInt64] {
        guard count > 0 else { return percentiles.map { _ in 0 } }
        let sorted = exactValues?.values.sorted()
        // Kept values give exact percentiles; counted ones, the library's over the same counts.
        let counted = keepsValues ? [] : buckets.valuesAtPercentiles(percentiles)
        return percentiles.indices.map { k in
            let p = percentiles[k]
            if p <= 0 { return minNanoseconds }
            if p >= 100 { return maxNanoseconds }
            if let sorted {
                let rank = max(1, Int((p / 100 * Double(sorted.count)).rounded(.up)))
                return sorted[min(rank, sorted.count) - 1]
            }
            // Clamped: HdrHistogram reports bucket tops, which may lie beyond the exact extremes.
            return min(max(counted[k], minNanoseconds), maxNanoseconds)
        }
    }

    public var summary: LatencySummary {
        guard count > 0 else { return LatencySummary(count: 0) }
        let us = { (ns: UInt64) in Double(ns) / 1000 }
        let p = percentilesNanoseconds([50, 90, 99, 99.9])
        return LatencySummary(
            count: count,
            minMicroseconds: us(minNanoseconds),
            meanMicroseconds: Double(sumNanoseconds) / Double(count) / 1000,
            p50Microseconds: us(p[0]),
            p90Microseconds: us(p[1]),
            p99Microseconds: us(p[2]),
            p999Microseconds: us(p[3]),
            maxMicroseconds: us(maxNanoseconds))
    }
}

/// Min, mean, percentiles and max of a latency population, in microseconds (nil when empty).
public struct LatencySummary: Sendable, Equatable {
    public var count: UInt64
    public var minMicroseconds, meanMicroseconds, p50Microseconds, p90Microseconds: Double?
    public var p99Microseconds, p999Microseconds, maxMicroseconds: Double?

    public init(count: UInt64, minMicroseconds: Double? = nil, meanMicroseconds: Double? = nil,
                p50Microseconds: Double? = nil, p90Microseconds: Double? = nil, p99Microseconds: Double? = nil,
                p999Microseconds: Double? = nil, maxMicroseconds: Double? = nil) {
        self.count = count
        self.minMicroseconds = minMicroseconds
        self.meanMicroseconds = meanMicroseconds
        self.p50Microseconds = p50Microseconds
        self.p90Microseconds = p90Microseconds
        self.p99Microseconds = p99Microseconds
        self.p999Microseconds = p999Microseconds
        self.maxMicroseconds = maxMicroseconds
    }

    /// The columns in the order reports print them.
    public var columns: [(name: String, value: Double?)] {
        [("min", minMicroseconds), ("mean", meanMicroseconds), ("p50", p50Microseconds), ("p90", p90Microseconds),
         ("p99", p99Microseconds), ("p999", p999Microseconds), ("max", maxMicroseconds)]
    }
}

/// HdrHistogram's counts, kept in place on the hot path: the library's buckets (`Histogram`'s
/// index arithmetic for a lowest discernible value of 1), counted without its per-value
/// bookkeeping (index functions not inlined across modules; its own count, min and max beside
/// the recorder's): recording was the largest cost of `report`'s correlating thread, five to six
/// values a READ. `valuesAtPercentiles` gives the library's percentiles of the same counts (the
/// tests hold them to the library's own).
///
/// Small, because a report keeps one per object row (a thousand objects are common): only the
/// whole buckets from the lowest to the highest value recorded, 16-bit counts, and the rare count
/// past 65,535 carried into `carries`. Two digits, microseconds to milliseconds: 2.5 KB.
struct BucketCounts: Sendable {
    /// The low 16 bits of the count of each index from `base`.
    private var lowCounts: [UInt16] = []
    /// The index of `lowCounts[0]` (a multiple of half the sub-buckets).
    private var base = 0
    /// The high 16 bits of the counts that passed 65,535, by index.
    private var carries: [Int: UInt16] = [:]
    /// log2 of half the sub-buckets of a bucket.
    private let halfMagnitude: Int
    /// 64 - log2 of the sub-buckets: a value's bucket is this minus its leading zeros (masked).
    private let leadingZeroBase: Int
    private let subBucketMask: UInt64

    init(significantDigits: Int) {
        // As `Histogram`: the sub-buckets are the power of two at or above 2 × 10^digits.
        let magnitude = significantDigits >= 3 ? 11 : 8
        halfMagnitude = magnitude - 1
        leadingZeroBase = 64 - magnitude
        subBucketMask = (1 << UInt64(magnitude)) - 1
    }

    /// `Histogram.countsIndexForValue`.
    @inline(__always)
    func index(_ value: UInt64) -> Int {
        Self.index(value, halfMagnitude: halfMagnitude, leadingZeroBase: leadingZeroBase, subBucketMask: subBucketMask)
    }

    @inline(__always)
    static func index(_ value: UInt64, halfMagnitude: Int, leadingZeroBase: Int, subBucketMask: UInt64) -> Int {
        // Masking shifts and wrapping arithmetic: `bucket` is 0...56, nothing can overflow.
        let bucket = leadingZeroBase &- (value | subBucketMask).leadingZeroBitCount
        let subBucket = Int(truncatingIfNeeded: value &>> UInt64(bucket))
        return ((bucket &+ 1) &<< halfMagnitude) &+ subBucket &- (1 &<< halfMagnitude)
    }

    /// The lowest value of the bucket at `index` (`Histogram.valueFromIndex`).
    func lowestValue(_ index: Int) -> UInt64 {
        let half = 1 << halfMagnitude
        var bucket = (index >> halfMagnitude) - 1
        var subBucket = (index & (half - 1)) + half
        if bucket < 0 {
            subBucket -= half
            bucket = 0
        }
        return UInt64(subBucket) << UInt64(bucket)
    }

    /// Counts `value` if its bucket is covered and its count does not pass 65,535 (nearly
    /// always); otherwise counts nothing and returns false (`record` does the rest).
    @inline(__always)
    mutating func countIfCovered(_ value: UInt64) -> Bool {
        let offset = index(value) &- base
        guard covers(offset) else { return false }
        return lowCounts.withUnsafeMutableBufferPointer { counts in
            guard counts[offset] != .max else { return false }
            counts[offset] &+= 1
            return true
        }
    }

    @inline(__always)
    mutating func record(_ value: UInt64) {
        let i = index(value)
        let offset = offset(covering: i)
        let wrapped = lowCounts.withUnsafeMutableBufferPointer { counts in
            counts[offset] &+= 1
            return counts[offset] == 0
        }
        if wrapped { carry(i) }
    }

    /// `record` for each value: those counted in place (nearly all) through one buffer access.
    mutating func record(contentsOf values: UnsafeBufferPointer<UInt64>) {
        var next = values.startIndex
        while next < values.endIndex {
            // The geometry in locals: `self` is not read while its counts are held.
            let (base, half, zeros, mask) = (base, halfMagnitude, leadingZeroBase, subBucketMask)
            next = lowCounts.withUnsafeMutableBufferPointer { counts in
                var i = next
                while i < values.endIndex {
                    let offset = Self.index(values[i], halfMagnitude: half, leadingZeroBase: zeros, subBucketMask: mask) &- base
                    guard UInt(bitPattern: offset) < UInt(counts.count), counts[offset] != .max else { break }
                    counts[offset] &+= 1
                    i &+= 1
                }
                return i
            }
            // Not covered, or its count carries: the general way.
            if next < values.endIndex {
                record(values[next])
                next &+= 1
            }
        }
    }

    @inline(never)
    private mutating func carry(_ index: Int) { carries[index, default: 0] &+= 1 }

    /// `index`'s place in `lowCounts`, which is made to cover it.
    @inline(__always)
    private mutating func offset(covering index: Int) -> Int {
        let offset = index &- base
        return covers(offset) ? offset : cover(index)
    }

    /// Whether `lowCounts` has a place at `offset` (an index minus `base`).
    @inline(__always)
    private func covers(_ offset: Int) -> Bool {
        // One unsigned comparison covers both sides: below `base` wraps to a huge offset.
        UInt(bitPattern: offset) < UInt(lowCounts.count)
    }

    /// Whole groups of half the sub-buckets, from the lowest index recorded to the highest.
    /// Returns `index`'s offset in `lowCounts`.
    @inline(never)
    private mutating func cover(_ index: Int) -> Int {
        let groupStart = (index >> halfMagnitude) << halfMagnitude
        let groupEnd = groupStart + (1 << halfMagnitude)
        if lowCounts.isEmpty {
            base = groupStart
            lowCounts = Array(repeating: 0, count: groupEnd - groupStart)
        } else if index < base {
            lowCounts.insert(contentsOf: repeatElement(0, count: base - groupStart), at: 0)
            base = groupStart
        } else {
            lowCounts += repeatElement(0, count: groupEnd - base - lowCounts.count)
        }
        return index - base
    }

    /// The count at each index with one, in index order.
    func forEachCount(_ body: (_ index: Int, _ count: UInt32) -> Void) {
        for (offset, low) in lowCounts.enumerated() {
            let i = base + offset
            let high = carries.isEmpty ? 0 : UInt32(carries[i] ?? 0)
            let n = high << 16 | UInt32(low)
            if n > 0 { body(i, n) }
        }
    }

    /// Adds `other`'s counts (of the same significant digits).
    mutating func add(_ other: BucketCounts) {
        other.forEachCount { i, n in
            let offset = offset(covering: i)
            let sum = UInt32(lowCounts[offset]) + (n & 0xFFFF)
            lowCounts[offset] = UInt16(truncatingIfNeeded: sum)
            let high = UInt16(truncatingIfNeeded: n >> 16) &+ UInt16(truncatingIfNeeded: sum >> 16)
            if high > 0 { carries[i, default: 0] &+= high }
        }
    }

    /// For each percentile strictly between 0 and 100, the top of the bucket that holds it, as
    /// the library's `valueAtPercentile` finds it in a histogram of these counts (before its clamp
    /// to the extremes, which the recorder's exact ones replace): one walk of the counts. A report
    /// takes four percentiles of each of a thousand object rows; making a histogram of each row
    /// was most of the time after the last record. Other percentiles give 0.
    func valuesAtPercentiles(_ percentiles: [Double]) -> [UInt64] {
        var total: UInt64 = 0
        forEachCount { _, n in total += UInt64(n) }
        // The library's rank: the percentile less one ulp, of the count, rounded up, at least 1.
        let ranks = percentiles.map { p -> UInt64 in
            guard p > 0, p < 100 else { return 0 }
            return Swift.max(1, UInt64((Swift.min(Swift.max(p.nextDown, 0), 100) * Double(total) / 100).rounded(.up)))
        }
        var values = [UInt64](repeating: 0, count: percentiles.count)
        let order = ranks.indices.filter { ranks[$0] > 0 }.sorted { ranks[$0] < ranks[$1] }
        var next = 0
        var seen: UInt64 = 0
        forEachCount { i, n in
            seen += UInt64(n)
            while next < order.count, seen >= ranks[order[next]] {
                // The bucket's highest value: the next index's lowest, less one.
                values[order[next]] = lowestValue(i + 1) &- 1
                next += 1
            }
        }
        return values
    }
}

/// The values a recorder keeps while it has few: those under 2^32 ns (4.3 s: nearly all) as
/// 32-bit numbers, in half the memory. Their order is not kept (they are sorted or counted).
struct ExactValues: Sendable {
    private var low: [UInt32] = []
    private var high: [UInt64] = []

    var count: Int { low.count + high.count }

    @inline(__always)
    mutating func append(_ value: UInt64) {
        if value <= UInt64(UInt32.max) { low.append(UInt32(truncatingIfNeeded: value)) } else { high.append(value) }
    }

    mutating func append(contentsOf other: ExactValues) {
        low += other.low
        high += other.high
    }

    var values: [UInt64] { low.map { UInt64($0) } + high }
}
