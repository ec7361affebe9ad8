/// Writes the Chrome trace-event format (JSON) that ui.perfetto.dev and chrome://tracing open.
///
/// Each cachefiles object is a "process" named `obj N` (its own track group); each READ/OPEN
/// request is an async slice from request to answer, with its stages (queued/served/completed
/// from the daemon's markers, else to_write/to_cread) nested inside; kernel OPEN/CLOSE/fd_release
/// records are instants on the object; anomalies are instants named `anomaly: <kind>`.
/// Output streams through `sink` in chunks, so memory does not grow with the trace.
public struct ChromeTraceWriter {
    private let sink: (String) -> Void
    private var buffer = ""
    private var first = true
    private var namedObjects = Set<UInt32>()
    private var nextID: UInt64 = 1

    public init(sink: @escaping (String) -> Void) {
        self.sink = sink
        buffer = #"{"displayTimeUnit":"ns","traceEvents":["#
    }

    /// Kernel records that mark an object's life.
    public mutating func event(_ event: TraceEvent) {
        guard case .ondemand(let e) = event.body, let obj = e.obj else { return }
        let name: String
        var args: [(String, String)] = []
        switch e {
        case .open(let o): name = "OPEN"; if let fd = o.fd { args.append(("fd", String(fd))) }
        case .copen(let c): name = "copen"; if let len = c.len { args.append(("size", String(len))) }
        case .close: name = "CLOSE"
        case .fdRelease: name = "fd_release"
        default: return
        }
        args.append(("comm", quoted(event.comm ?? "?")))
        args.append(("pid", String(event.pid)))
        instant(obj: obj, name: name, category: "object", timestamp: event.timestamp, args: args)
    }

    public mutating func request(_ r: RequestRecord) {
        let id = nextID
        nextID += 1
        nameObject(r.obj)
        let name = r.kind == .read
            ? "read \(r.length.map(String.init) ?? "?")@\(r.offset.map(String.init) ?? "?")"
            : "open"
        var args: [(String, String)] = [
            ("msg_id", r.msgID.map(String.init) ?? "null"),
            ("reader", quoted("\(r.comm ?? "?")-\(r.pid)")),
            ("join", quoted(r.join.rawValue)),
        ]
        if let latency = r.latency { args.append(("latency_us", JSONWriter.format(Double(latency) / 1000, decimals: 3))) }
        if r.completed == nil { args.append(("unanswered", "true")) }
        let end = r.completed ?? r.written ?? r.pickedUp ?? r.issued
        let category = r.kind.rawValue + (r.completed == nil ? ",unanswered" : "")
        async(phase: "b", id: id, obj: r.obj, name: name, category: category, timestamp: r.issued, args: args)
        var t = r.issued
        for (stage, ns) in r.stages {
            async(phase: "b", id: id, obj: r.obj, name: stage.rawValue, category: category, timestamp: t, args: [])
            t += ns
            async(phase: "e", id: id, obj: r.obj, name: stage.rawValue, category: category, timestamp: t, args: [])
        }
        async(phase: "e", id: id, obj: r.obj, name: name, category: category, timestamp: end, args: [])
    }

    public mutating func anomaly(_ a: Anomaly) {
        let args = [("detail", quoted(a.detail))]
        if let obj = a.obj {
            instant(obj: obj, name: "anomaly: \(a.kind.rawValue)", category: "anomaly", timestamp: a.timestamp, args: args)
        } else {
            append(#"{"ph":"i","s":"g","name":"anomaly: \#(a.kind.rawValue)","cat":"anomaly","pid":0,"tid":0,"ts":\#(micros(a.timestamp)),"args":\#(object(args))}"#)
        }
    }

    /// Closes the document; `metadata` goes to its `otherData`.
    /// `metadata`: a nil value is JSON's null (as the report's JSON has it).
    public mutating func finish(metadata: [(String, String?)]) {
        buffer += "],\"otherData\":{" + metadata.map { "\"\(JSONWriter.escape($0.0))\":" + ($0.1.map { "\"\(JSONWriter.escape($0))\"" } ?? "null") }.joined(separator: ",") + "}}\n"
        sink(buffer)
        buffer = ""
    }

    private mutating func nameObject(_ obj: UInt32) {
        guard namedObjects.insert(obj).inserted else { return }
        append(#"{"ph":"M","name":"process_name","pid":\#(obj),"tid":\#(obj),"args":{"name":"obj \#(obj)"}}"#)
        append(#"{"ph":"M","name":"process_sort_index","pid":\#(obj),"tid":\#(obj),"args":{"sort_index":\#(obj)}}"#)
    }

    private mutating func instant(obj: UInt32, name: String, category: String, timestamp: UInt64, args: [(String, String)]) {
        nameObject(obj)
        append(#"{"ph":"i","s":"p","name":"\#(JSONWriter.escape(name))","cat":"\#(category)","pid":\#(obj),"tid":\#(obj),"ts":\#(micros(timestamp)),"args":\#(object(args))}"#)
    }

    private mutating func async(phase: String, id: UInt64, obj: UInt32, name: String, category: String,
                                timestamp: UInt64, args: [(String, String)]) {
        append(#"{"ph":"\#(phase)","id":\#(id),"name":"\#(JSONWriter.escape(name))","cat":"\#(category)","pid":\#(obj),"tid":\#(obj),"ts":\#(micros(timestamp)),"args":\#(object(args))}"#)
    }

    private mutating func append(_ json: String) {
        if !first { buffer += "," }
        first = false
        buffer += "\n" + json
        if buffer.utf8.count > 1 << 16 {
            sink(buffer)
            buffer = ""
        }
    }

    private func micros(_ ns: UInt64) -> String { JSONWriter.format(Double(ns) / 1000, decimals: 3) }
    private func quoted(_ s: String) -> String { "\"" + JSONWriter.escape(s) + "\"" }
    private func object(_ args: [(String, String)]) -> String {
        "{" + args.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
    }
}
