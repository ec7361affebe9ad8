/// How `dump` prints an event: a readable line, or one JSON object.
public enum EventFormatting {
    /// `    4.409061 [001] mount-119         read        obj=1 msg_id=0 object_id=0 start=0 len=4096`
    public static func line(_ event: TraceEvent) -> String {
        var out = seconds(event.timestamp, decimals: 6).leftPadded(to: 14)
        out += " [" + String(event.cpu).leftPadded(to: 3, with: "0") + "] "
        out += ((event.comm ?? "<...>") + "-" + String(event.pid)).rightPadded(to: 20) + " "
        switch event.body {
        case .ondemand(let e):
            out += e.kind.rawValue.rightPadded(to: 11)
            out += e.fields.map { "\($0.name)=\($0.value?.description ?? "-")" }.joined(separator: " ")
        case .generic(let e):
            out += e.name.rightPadded(to: 11) + " "
            out += e.fields.map { "\($0.name)=\($0.value)" }.joined(separator: " ")
        case .marker(let m):
            out += "marker".rightPadded(to: 11) + m.text
        }
        return out
    }

    /// `{"event":"cachefiles_ondemand_read","ts_ns":4409061000,"ts":4.409061,"cpu":1,"pid":119,"comm":"mount","fields":{"obj":1,...}}`
    public static func json(_ event: TraceEvent) -> String {
        var w = JSONWriter()
        w.objectStart()
        w.key("event"); w.string(event.name)
        w.key("ts_ns"); w.number(event.timestamp)
        w.key("ts"); w.raw(seconds(event.timestamp, decimals: 9))
        w.key("cpu"); w.number(Int64(event.cpu))
        w.key("pid"); w.number(Int64(event.pid))
        w.key("comm")
        if let comm = event.comm { w.string(comm) } else { w.null() }
        w.key("fields")
        w.objectStart()
        switch event.body {
        case .ondemand(let e):
            for field in e.fields {
                w.key(field.name)
                if let value = field.value { w.value(value) } else { w.null() }
            }
        case .generic(let e):
            for field in e.fields { w.key(field.name); w.value(field.value) }
        case .marker(let m):
            w.key("buf"); w.string(m.text)
        }
        w.objectEnd()
        w.objectEnd()
        return w.output
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
