/// One CPU's `per_cpu/cpuN/stats` at the end of a recording.
public struct CPUBufferStats: Sendable, Equatable {
    public var cpu: Int
    /// Events overwritten before they were read (overwrite mode: the reader was too slow).
    public var overrun: UInt64
    public var commitOverrun: UInt64
    /// Events not written because the buffer was full (non-overwrite mode) or nested too deep.
    public var droppedEvents: UInt64
    public var entries: UInt64
    public var readEvents: UInt64
    /// The file as read, stored in the trace.dat as a CPUSTAT option.
    public var text: String

    public var lost: UInt64 { overrun + commitOverrun + droppedEvents }

    /// Parses the `name: value` lines of the stats file; absent numbers are 0.
    public static func parse(cpu: Int, text: String) -> CPUBufferStats {
        var values: [String: UInt64] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = String(line[..<colon])
            let value = line[line.index(after: colon)...].trimmingPrefix(while: { $0 == " " })
            if let number = UInt64(value) { values[key] = number }
        }
        return CPUBufferStats(cpu: cpu, overrun: values["overrun"] ?? 0, commitOverrun: values["commit overrun"] ?? 0,
                              droppedEvents: values["dropped events"] ?? 0, entries: values["entries"] ?? 0,
                              readEvents: values["read events"] ?? 0, text: text)
    }
}

extension Substring {
    func trimmingPrefix(while predicate: (Character) -> Bool) -> Substring {
        var s = self
        while let first = s.first, predicate(first) { s.removeFirst() }
        return s
    }
}
