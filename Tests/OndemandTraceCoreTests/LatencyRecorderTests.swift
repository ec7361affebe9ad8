import Histogram
import Testing
@testable import OndemandTraceCore

struct LatencyRecorderTests {
    /// Kept values are stored as 32-bit numbers below 2^32 ns and as 64-bit ones above: the
    /// percentiles stay the exact order statistics on both sides of the boundary, merged or not.
    @Test func keptValuesAreExactAcrossThe32BitBoundary() {
        let values: [UInt64] = [7_000_000_000_000, 3, 1 << 32, (1 << 32) - 1, 5_000_000_000, 42, 1 << 40, 900]
        var all = LatencyRecorder(significantDigits: 2, exactLimit: 64, log2: false)
        var a = all, b = all
        for (i, v) in values.enumerated() {
            all.record(nanoseconds: v)
            if i % 2 == 0 { a.record(nanoseconds: v) } else { b.record(nanoseconds: v) }
        }
        a.merge(b)
        let sorted = values.sorted()
        for p in [1.0, 12.5, 25, 37.5, 50, 62.5, 75, 87.5, 99] {
            let rank = max(1, Int((p / 100 * Double(sorted.count)).rounded(.up)))
            #expect(all.percentileNanoseconds(p) == sorted[rank - 1], "p\(p)")
            #expect(a.percentileNanoseconds(p) == sorted[rank - 1], "merged p\(p)")
        }
        #expect(all.errorBound == 0 && all.maxNanoseconds == 7_000_000_000_000)
    }

    /// The histogram starts small and grows to the values recorded (32-bit counts): its
    /// percentiles are those of the full-range 64-bit histogram the recorder used before.
    @Test(arguments: [2, 3])
    func growingHistogramGivesTheFullRangePercentiles(digits: Int) {
        let seed = UInt64.random(in: 0...UInt64.max)
        print("LatencyRecorderTests seed \(seed)")
        var random = SplitMix64(seed: seed)
        var recorder = LatencyRecorder(significantDigits: digits, exactLimit: 100, log2: false)
        var reference = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 1 << 34,
                                          numberOfSignificantValueDigits: digits >= 3 ? .three : .two)
        reference.autoResize = true
        for _ in 0..<20_000 {
            // Mostly micro- to milliseconds, some up to ~20 minutes (beyond the first range and 2^34).
            let v = random.next() % 50 == 0 ? random.next() % (1 << 40) : 1_000 + random.next() % 5_000_000
            recorder.record(nanoseconds: v)
            _ = reference.record(v)
        }
        for p in [0.1, 1, 10, 50, 90, 99, 99.9, 99.99] {
            let expected = min(max(reference.valueAtPercentile(p), recorder.minNanoseconds), recorder.maxNanoseconds)
            #expect(recorder.percentileNanoseconds(p) == expected, "p\(p), seed \(seed)")
        }
    }

    /// The recorder counts values in HdrHistogram's buckets itself (`BucketCounts`): every
    /// percentile, merged or not, is the library's own over the same values — with zeros, values
    /// at bucket edges, few values or many, and the extremes alone in or sharing a bucket.
    @Test(arguments: [2, 3])
    func bucketCountsGiveTheLibrarysPercentiles(digits: Int) {
        let seed = UInt64.random(in: 0...UInt64.max)
        print("bucketCountsGiveTheLibrarysPercentiles seed \(seed)")
        var random = SplitMix64(seed: seed)
        for trial in 0..<60 {
            let counted = LatencyRecorder(significantDigits: digits, exactLimit: 0, log2: false)
            var a = counted, whole = counted
            var b = LatencyRecorder(significantDigits: digits, exactLimit: Int(random.next() % 40), log2: false)
            var reference = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 1 << 20,
                                              numberOfSignificantValueDigits: digits >= 3 ? .three : .two)
            reference.autoResize = true
            let top = UInt64(random.next() % 46)
            for i in 0..<(1 + Int(random.next() % 2_000)) {
                let v: UInt64
                switch random.next() % 5 {
                case 0: v = trial % 3 == 0 ? 0 : 1 + random.next() % 3
                case 1: v = random.next() % 5_000
                case 2: v = (UInt64(1) << (random.next() % (top + 1))) &+ UInt64(random.next() % 3) &- 1
                default: v = random.next() % (UInt64(1) << top + 1)
                }
                whole.record(nanoseconds: v)
                if i % 2 == 0 { a.record(nanoseconds: v) } else { b.record(nanoseconds: v) }
                _ = reference.record(v)
            }
            a.merge(b)
            for p in [0.001, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.999] {
                let expected = min(max(reference.valueAtPercentile(p), whole.minNanoseconds), whole.maxNanoseconds)
                #expect(whole.percentileNanoseconds(p) == expected, "trial \(trial) p\(p), seed \(seed)")
                #expect(a.percentileNanoseconds(p) == expected, "merged, trial \(trial) p\(p), seed \(seed)")
            }
        }
        let buckets = BucketCounts(significantDigits: digits)
        for v in [0, 1, 255, 256, 2047, 2048, 4095, 4096, 1 << 20, (1 << 40) + 12_345] as [UInt64] {
            #expect(buckets.index(buckets.lowestValue(buckets.index(v))) == buckets.index(v), "\(v)")
            #expect(buckets.lowestValue(buckets.index(v)) <= v)
        }
    }

    /// The power-of-two histogram is summed from the fine buckets: each value lands in bcc's
    /// bucket (0: 0-1 µs, i: 2^i ... 2^(i+1)-1 µs, the last one holding all above), merged or not.
    @Test func log2HistogramCountsEachValueInItsOctave() {
        let seed = UInt64.random(in: 0...UInt64.max)
        print("log2HistogramCountsEachValueInItsOctave seed \(seed)")
        var random = SplitMix64(seed: seed)
        var whole = LatencyRecorder(), a = whole, b = whole
        var expected = [UInt64](repeating: 0, count: LatencyRecorder.log2BucketCount)
        for i in 0..<5_000 {
            let v = random.next() % 3 == 0 ? random.next() % 4_000 : random.next() >> (random.next() % 64)
            whole.record(nanoseconds: v)
            if i % 2 == 0 { a.record(nanoseconds: v) } else { b.record(nanoseconds: v) }
            let us = v / 1000
            expected[us < 2 ? 0 : min(63 - us.leadingZeroBitCount, LatencyRecorder.log2BucketCount - 1)] += 1
        }
        a.merge(b)
        #expect(whole.log2Microseconds == expected, "seed \(seed)")
        #expect(a.log2Microseconds == expected, "merged, seed \(seed)")
        #expect(LatencyRecorder(log2: false).log2Microseconds.isEmpty)
    }

    /// Bucket counts are 16-bit with a carry: buckets counted to 65,536 and past it, alone and
    /// in a merge (halves below 65,536 whose sum is not), with the lowest bucket moving down as
    /// lower values come, give the library's percentiles.
    @Test func bucketCountsCarryPast16Bits() {
        var whole = LatencyRecorder(significantDigits: 2, exactLimit: 0, log2: false)
        var a = whole, b = whole
        var reference = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 1 << 20,
                                          numberOfSignificantValueDigits: .two)
        reference.autoResize = true
        for (value, times) in [(50_000, 70_000), (1_000_000, 65_536), (300, 3), (7, 1), (2_000_000, 131_072)] as [(UInt64, Int)] {
            for i in 0..<times {
                whole.record(nanoseconds: value)
                if i % 2 == 0 { a.record(nanoseconds: value) } else { b.record(nanoseconds: value) }
                _ = reference.record(value)
            }
        }
        a.merge(b)
        #expect(whole.count == 266_612 && a.count == whole.count)
        for p in [0.0001, 0.001, 0.002, 10, 26, 27, 50, 51, 52, 99] {
            let expected = min(max(reference.valueAtPercentile(p), whole.minNanoseconds), whole.maxNanoseconds)
            #expect(whole.percentileNanoseconds(p) == expected, "p\(p)")
            #expect(a.percentileNanoseconds(p) == expected, "merged p\(p)")
        }
    }
}

/// `record(contentsOf:)` ends a recorder as recording the same values one at a time does: in
/// every configuration (values kept, then counted; counted only; with the fine log2 buckets),
/// with the counts growing down and up and a bucket's count carrying past 16 bits.
struct LatencyRecorderBulkTests {
    @Test(arguments: [(2, 0, false), (2, 256, false), (3, 100, true), (3, 0, false)])
    func valuesInBulkEndAsOneByOne(digits: Int, exactLimit: Int, log2: Bool) {
        let seed = UInt64.random(in: 0...UInt64.max)
        print("LatencyRecorderBulkTests seed \(seed)")
        var random = SplitMix64(seed: seed)
        var one = LatencyRecorder(significantDigits: digits, exactLimit: exactLimit, log2: log2), bulk = one
        for round in 0..<40 {
            var values: [UInt64] = []
            switch round % 4 {
            case 0: values = (0..<Int(random.next() % 300)).map { _ in 5_000 + random.next() % 2_000_000 }
            case 1: values = [UInt64](repeating: 123_456, count: 20_000)  // past 65,535 in two rounds
            case 2: values = (0..<50).map { _ in random.next() % 1_000 }  // below the counted range
            default: values = (0..<50).map { _ in random.next() >> (random.next() % 40) }  // far above it
            }
            for v in values { one.record(nanoseconds: v) }
            values.withUnsafeBufferPointer { bulk.record(contentsOf: $0) }
            let ps = [0.001, 1, 25, 50, 75, 90, 99, 99.9, 99.999, 100]
            #expect(bulk.count == one.count && bulk.sumNanoseconds == one.sumNanoseconds, "round \(round), seed \(seed)")
            #expect(bulk.minNanoseconds == one.minNanoseconds && bulk.maxNanoseconds == one.maxNanoseconds, "round \(round), seed \(seed)")
            #expect(bulk.percentilesNanoseconds(ps) == one.percentilesNanoseconds(ps), "round \(round), seed \(seed)")
            #expect(bulk.log2Microseconds == one.log2Microseconds && bulk.fineMicroseconds == one.fineMicroseconds, "round \(round)")
        }
        // Ten rounds of 20,000 equal values: their bucket carried past 16 bits, the median is theirs.
        #expect(one.count > 200_000 && abs(Double(one.percentileNanoseconds(50)) - 123_456) < 123_456.0 / 100)
    }
}

/// The accumulator records object rows' latencies in batches grouped by object: each row must
/// end as a recorder fed the same values one at a time (counts, bytes, percentiles, extremes).
struct ReportAccumulatorObjectRowTests {
    @Test func groupedObjectRowsEqualRowsRecordedOneByOne() {
        let seed = UInt64.random(in: 0...UInt64.max)
        print("ReportAccumulatorObjectRowTests seed \(seed)")
        var random = SplitMix64(seed: seed)
        var accumulator = ReportAccumulator()
        var reference: [UInt32: ReportAccumulator.BreakdownRow] = [:]
        // More values than one batch (65,536), objects spread out and added late (the rows grow),
        // a few past the dense rows (kept apart).
        for i in 0..<150_000 {
            let obj = random.next() % 50 == 0 ? (1 << 22) + UInt32(random.next() % 3)
                : UInt32(random.next() % UInt64(i < 100_000 ? 40 : 300)) * 7
            let length = 4096 * (1 + random.next() % 32)
            let latency: UInt64? = random.next() % 10 == 0 ? nil : 10_000 + random.next() % 3_000_000
            accumulator.add(RequestRecord(kind: .read, obj: obj, msgID: nil, pid: 1, comm: "r", offset: 0, length: length,
                                          issued: 1, completed: latency.map { 1 + $0 }, join: latency == nil ? .none : .arrival))
            reference[obj, default: ReportAccumulator.BreakdownRow()].add(length: length, latency: latency)
        }
        let rows = accumulator.byObject
        #expect(rows.count == reference.count && rows.count > 200)
        for (obj, want) in reference {
            let got = rows[obj]
            #expect(got?.count == want.count && got?.bytes == want.bytes, "obj \(obj)")
            #expect(got?.latency.count == want.latency.count && got?.latency.sumNanoseconds == want.latency.sumNanoseconds)
            #expect(got?.latency.percentilesNanoseconds([0, 50, 90, 99, 100]) == want.latency.percentilesNanoseconds([0, 50, 90, 99, 100]),
                    "obj \(obj)")
        }
    }
}

/// The reader rows of records handed over by pid (`nameTask`): a pid's row of last time is
/// reused while its name index is the same, a renamed pid gets a row of its new name, and a
/// pid named back finds its first row again.
struct ReportAccumulatorReaderRowTests {
    @Test func aRenamedPidGetsTheRowOfItsNewName() {
        let builder = ReportBuilder()
        var t: UInt64 = 1_000_000
        func read(_ pid: Int32, _ start: Int64, latency: UInt64) {
            t += 1_000
            let obj: UInt32 = 3
            builder.consume([OndemandRecord(timestamp: t, cpu: 0, pid: pid, event: .read(.init(obj: obj, msgID: 0, objectID: 0, start: start, len: 4096))),
                             OndemandRecord(timestamp: t + latency / 2, cpu: 0, pid: 100, event: .fdWrite(.init(obj: obj, backer: 7, start: start, len: 4096))),
                             OndemandRecord(timestamp: t + latency, cpu: 0, pid: 100, event: .cread(.init(obj: obj, msgID: 1)))][...])
            t += latency
        }
        builder.nameTask(100, "daemon")
        builder.nameTask(200, "cat")
        for i in 0..<3 { read(200, Int64(i) * 4096, latency: 10_000) }
        builder.nameTask(200, "dd")
        for i in 0..<2 { read(200, Int64(i) * 4096, latency: 20_000) }
        builder.nameTask(200, "cat")
        read(200, 0, latency: 40_000)
        builder.nameTask(201, "dd")
        read(201, 0, latency: 80_000)
        let model = builder.finish(metadata: TraceMetadata(path: "t", format: "text", formatDescription: "text", kernelRelease: nil,
                                                           clock: nil, recordsSeen: 0, eventsDelivered: 0, ondemandEvents: 0))
        let rows = model.stats.byReader
        let got = rows.keys.sorted().map { ($0.comm, $0.pid, rows[$0]!.count, rows[$0]!.latency.maxNanoseconds) }
        #expect(got.map(\.0) == ["cat", "dd", "dd"] && got.map(\.1) == [200, 200, 201])
        #expect(got.map(\.2) == [4, 2, 1])
        #expect(got.map(\.3) == [40_000, 20_000, 80_000])
    }
}
