/// How `dump` prints an event: a readable line, or one JSON object.
public enum EventFormatting {
    /// `    4.409061 [001] mount-119         read        obj=1 msg_id=0 object_id=0 start=0 len=4096`
    public static func line(_ event: TraceEvent) -> String {
        var out = ""
        appendLine(event, to: &out)
        return out
    }

    /// The same line appended to `out` (no newline): a dump of millions of events builds no
    /// intermediate strings.
    public static func appendLine(_ event: TraceEvent, to out: inout String) {
        var seconds = ""
        appendSeconds(event.timestamp, decimals: 6, to: &seconds)
        if seconds.utf8.count < 14 { out += spaces[14 - seconds.utf8.count] }
        out += seconds
        out += " ["
        if event.cpu >= 0 && event.cpu < 100 { out += event.cpu < 10 ? "00" : "0" }
        out += String(event.cpu)
        out += "] "
        let task = out.utf8.count
        out += event.comm ?? "<...>"
        out += "-"
        out += String(event.pid)
        pad(&out, from: task, to: 20)
        out += " "
        let name = out.utf8.count
        switch event.body {
        case .ondemand(let e):
            out += e.kind.rawValue
            pad(&out, from: name, to: 11)
            var first = true
            for field in e.fields {
                if !first { out += " " }
                first = false
                out += field.name
                out += "="
                if let value = field.value { append(value, to: &out) } else { out += "-" }
            }
        case .generic(let e):
            out += e.name
            pad(&out, from: name, to: 11)
            for field in e.fields {
                out += " "
                out += field.name
                out += "="
                append(field.value, to: &out)
            }
        case .marker(let m):
            out += "marker     "
            out += m.text
        }
    }

    static func append(_ value: FieldValue, to out: inout String) {
        switch value {
        case .unsigned(let n): out += String(n)
        case .signed(let n): out += String(n)
        default: out += value.description
        }
    }

    /// Pads what was appended since UTF-8 offset `start` to `width` characters, on the right.
    static func pad(_ out: inout String, from start: Int, to width: Int) {
        let written = out.utf8.count - start
        guard written < width else { return }
        out += spaces[min(width - written, spaces.count - 1)]
    }

    /// Runs of 0 to 31 spaces, made once.
    static let spaces: [String] = (0..<32).map { String(repeating: " ", count: $0) }

    static func appendSeconds(_ ns: UInt64, decimals: Int, to out: inout String) {
        out += String(ns / 1_000_000_000)
        guard decimals > 0 else { return }
        out += "."
        var fraction = ns % 1_000_000_000
        for _ in decimals..<9 { fraction /= 10 }
        let digits = String(fraction)
        for _ in digits.count..<decimals { out += "0" }
        out += digits
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
