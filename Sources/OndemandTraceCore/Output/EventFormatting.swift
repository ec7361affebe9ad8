/// How `dump` prints an event: a readable line, or one JSON object — one event at a time, as a
/// `String` (`EventLineWriter` writes millions of them into a byte buffer; these call it).
public enum EventFormatting {
    /// `    4.409061 [001] mount-119         read        obj=1 msg_id=0 object_id=0 start=0 len=4096`
    public static func line(_ event: TraceEvent) -> String {
        render(event, .text)
    }

    /// `{"event":"cachefiles_ondemand_read","ts_ns":4409061000,"ts":4.409061,"cpu":1,"pid":119,"comm":"mount","fields":{"obj":1,...}}`
    public static func json(_ event: TraceEvent) -> String {
        render(event, .json)
    }

    static func render(_ event: TraceEvent, _ format: EventLineWriter.Format) -> String {
        let out = ByteBuffer(capacity: 256)
        EventLineWriter(format: format).append(event, to: out)
        return String(decoding: UnsafeRawBufferPointer(rebasing: out.bytes.dropLast()), as: UTF8.self)
    }

    /// Nanoseconds as seconds with a fixed number of decimals, without floating point.
    public static func seconds(_ ns: UInt64, decimals: Int) -> String {
        let whole = ns / 1_000_000_000
        var fraction = String(ns % 1_000_000_000).leftPadded(to: 9, with: "0")
        fraction.removeLast(9 - min(9, decimals))
        return decimals == 0 ? String(whole) : "\(whole).\(fraction)"
    }
}

extension String {
    public func leftPadded(to width: Int, with pad: Character = " ") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
    public func rightPadded(to width: Int, with pad: Character = " ") -> String {
        count >= width ? self : self + String(repeating: pad, count: width - count)
    }
}
