/// The one order of trace records across CPUs, used by every reader: the oldest time stamp first,
/// ties to the lower CPU (as libtracecmd orders them). Each CPU's own records are already in
/// time order (one ring buffer per CPU), so merging means repeatedly taking the oldest head.
public enum TimeOrder {
    /// The index of the source whose head comes first, among `count` sources whose heads `head(i)`
    /// gives (nil: that source has nothing now); nil when no head is at or before `limit`.
    @inlinable @inline(__always)
    public static func first(count: Int, limit: UInt64 = .max, head: (Int) -> (timestamp: UInt64, cpu: Int32)?) -> Int? {
        var best = -1
        var bestTS = UInt64.max
        var bestCPU = Int32.max
        for i in 0..<count {
            guard let h = head(i) else { continue }
            if best < 0 || precedes(h, (bestTS, bestCPU)) {
                (best, bestTS, bestCPU) = (i, h.timestamp, h.cpu)
            }
        }
        return best >= 0 && bestTS <= limit ? best : nil
    }

    /// Whether a record at `a` comes before one at `b`.
    @inlinable @inline(__always)
    public static func precedes(_ a: (timestamp: UInt64, cpu: Int32), _ b: (timestamp: UInt64, cpu: Int32)) -> Bool {
        a.timestamp < b.timestamp || (a.timestamp == b.timestamp && a.cpu < b.cpu)
    }
}

/// Merges records that arrive per CPU, in pieces, into one time order across CPUs — for a live
/// reader, which cannot see a CPU's future. A record is released only once no CPU can still
/// deliver an older one: each CPU has a *watermark*, a time up to which everything it recorded
/// has been handed in (`advance`), and nothing newer than the lowest watermark is released.
/// Without that, a record read late from one CPU (its page was read before the record was
/// written) would be released after a newer record of another CPU — a cread before its READ.
///
///     var merge = LiveMerge<Record>(cpus: 2)
///     merge.append(cpu: 1, timestamp: 20, cread)          // read first...
///     merge.append(cpu: 0, timestamp: 10, read)           // ...but older
///     merge.advance(cpu: 0, to: 25); merge.advance(cpu: 1, to: 25)
///     merge.release { print($0) }                         // read, then cread
///     merge.releaseAll { ... }                            // at the end: everything left
public struct LiveMerge<Record> {
    @usableFromInline struct Entry {
        @usableFromInline var timestamp: UInt64
        @usableFromInline var record: Record
        @inlinable init(timestamp: UInt64, record: Record) { (self.timestamp, self.record) = (timestamp, record) }
    }

    /// Per CPU: records not yet released (in arrival order, which is time order) and the index
    /// of the first of them.
    @usableFromInline var queues: [[Entry]]
    @usableFromInline var heads: [Int]
    /// Per CPU: everything it recorded up to this time has been appended.
    @usableFromInline var marks: [UInt64]

    public init(cpus: Int) {
        queues = Array(repeating: [], count: max(1, cpus))
        heads = Array(repeating: 0, count: max(1, cpus))
        marks = Array(repeating: 0, count: max(1, cpus))
    }

    /// Records held back, waiting for a watermark.
    public var pending: Int { queues.indices.reduce(0) { $0 + queues[$1].count - heads[$1] } }

    /// The lowest watermark: every record at or before it can be released.
    @inlinable
    public var releasable: UInt64 { marks.min() ?? 0 }

    /// A record read from `cpu` (after those read from it before).
    @inlinable
    public mutating func append(cpu: Int, timestamp: UInt64, _ record: Record) {
        queues[cpu].append(Entry(timestamp: timestamp, record: record))
    }

    /// Everything `cpu` recorded up to `time` has been appended. Watermarks only move forward.
    @inlinable
    public mutating func advance(cpu: Int, to time: UInt64) {
        if time > marks[cpu] { marks[cpu] = time }
    }

    /// Hands over, in time order, every record at or before the lowest watermark.
    @inlinable
    public mutating func release(_ body: (Record) throws -> Void) rethrows {
        try release(upTo: releasable, body)
    }

    /// Hands over every record left (the readers have ended: nothing older can arrive).
    @inlinable
    public mutating func releaseAll(_ body: (Record) throws -> Void) rethrows {
        try release(upTo: .max, body)
    }

    @inlinable
    mutating func release(upTo limit: UInt64, _ body: (Record) throws -> Void) rethrows {
        while let i = TimeOrder.first(count: queues.count, limit: limit, head: { i in
            heads[i] < queues[i].count ? (queues[i][heads[i]].timestamp, Int32(i)) : nil
        }) {
            let entry = queues[i][heads[i]]
            heads[i] += 1
            try body(entry.record)
        }
        for i in queues.indices where heads[i] > 0 && heads[i] * 2 >= queues[i].count {
            queues[i].removeFirst(heads[i])
            heads[i] = 0
        }
    }
}
