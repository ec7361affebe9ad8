/// One ring-buffer record: the event's bytes (common header first) and its time.
public struct RawRecord: Sendable {
    public var cpu: Int32
    public var timestamp: UInt64
    public var bytes: [UInt8]
    /// Events the ring buffer lost on this CPU just before this record: 0 none, -1 some (count
    /// unknown), else the count — as the file readers report a page's missed events.
    public var missedEvents: Int64

    public init(cpu: Int32, timestamp: UInt64, bytes: [UInt8], missedEvents: Int64 = 0) {
        (self.cpu, self.timestamp, self.bytes, self.missedEvents) = (cpu, timestamp, bytes, missedEvents)
    }
}
