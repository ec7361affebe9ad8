/// A min-heap of records by (time, order of emission).
struct RecordHeap {
    struct Entry {
        var timestamp: UInt64
        var sequence: Int
        var cpu: Int
        var record: [UInt8]
        func before(_ other: Entry) -> Bool { (timestamp, sequence) < (other.timestamp, other.sequence) }
    }

    private var entries: [Entry] = []
    private var sequence = 0

    mutating func push(timestamp: UInt64, cpu: Int, record: [UInt8]) {
        entries.append(Entry(timestamp: timestamp, sequence: sequence, cpu: cpu, record: record))
        sequence += 1
        var i = entries.count - 1
        while i > 0, entries[i].before(entries[(i - 1) / 2]) {
            entries.swapAt(i, (i - 1) / 2)
            i = (i - 1) / 2
        }
    }

    /// The earliest record, if it is not after `until`.
    mutating func pop(until: UInt64) -> Entry? {
        guard let first = entries.first, first.timestamp <= until else { return nil }
        let last = entries.removeLast()
        guard !entries.isEmpty else { return first }
        entries[0] = last
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < entries.count, entries[l].before(entries[m]) { m = l }
            if r < entries.count, entries[r].before(entries[m]) { m = r }
            if m == i { break }
            entries.swapAt(i, m)
            i = m
        }
        return first
    }
}
