/// Reads the text that tracefs `trace` / `trace_pipe` and `trace-cmd report` print, one line at a
/// time. Field names come from each event's print format (see `PrintFormat`), so a kernel that
/// renames a label decodes once its format files are given.
public struct TextTraceParser: Sendable {
    enum Entry: Sendable {
        case ondemand(OndemandEvent.Kind, PrintFormat)
        case generic(system: String, PrintFormat)
    }

    private var entries: [String: Entry] = [:]
    private let selection: EventSelection
    /// Lines that were neither events, comments nor known status lines.
    public private(set) var unparsedLines = 0
    /// The first few unparsed lines' numbers, for messages.
    public private(set) var firstUnparsedLine: Int?
    /// Events read but not selected (other systems, other cachefiles events).
    public private(set) var skippedEvents = 0
    public private(set) var lineNumber = 0

    public init(layouts: [EventLayout] = DefaultFormats.layouts, selection: EventSelection) {
        self.selection = selection
        for layout in layouts {
            let format = PrintFormat(parsing: layout.printFormat ?? "")
            if layout.system == "cachefiles" {
                if let kind = OndemandEvent.Kind(eventName: layout.name) {
                    entries[layout.name] = .ondemand(kind, format)
                } else {
                    entries[layout.name] = .generic(system: layout.system, format)
                }
            }
        }
    }

    public enum Line: Sendable, Equatable {
        case event(TraceEvent)
        /// `CPU:N [LOST M EVENTS]` (tracefs) or `CPU:N [M EVENTS DROPPED]` (trace-cmd).
        case lost(cpu: Int32, count: Int64)
        /// Comments, headers, blank lines, unselected events, lines we could not read.
        case none
    }

    public mutating func parse(_ line: Substring) -> Line {
        lineNumber += 1
        let trimmed = line.drop { $0 == " " || $0 == "\t" }
        if trimmed.isEmpty || trimmed.first == "#" { return .none }
        if trimmed.hasPrefix("CPU:"), let lost = Self.parseLost(trimmed) { return lost }
        if trimmed.hasPrefix("cpus=") || trimmed.hasPrefix("version =") || (trimmed.hasPrefix("CPU ") && trimmed.hasSuffix("is empty")) {
            return .none
        }
        guard let header = Self.parseHeader(line) else {
            unparsedLines += 1
            if firstUnparsedLine == nil { firstUnparsedLine = lineNumber }
            return .none
        }
        let body: EventBody
        switch header.event {
        case "tracing_mark_write", "print":
            guard selection.contains(.markers) else { skippedEvents += 1; return .none }
            var text = Substring(header.payload)
            // trace-cmd report prints `print: <ip>: text`; tracefs prints just the text.
            if header.event == "print", let colon = text.firstIndex(of: ":"),
               text[..<colon].allSatisfy({ $0.isHexDigit || $0 == "x" || $0 == "_" || $0.isLetter }),
               !text[..<colon].contains(" ") {
                text = text[text.index(after: colon)...].drop { $0 == " " }
            }
            body = .marker(MarkerEvent(text: String(text)))
        default:
            switch entries[header.event] {
            case let .ondemand(kind, format)?:
                guard selection.contains(.ondemand) || (kind == .open && selection.contains(.ondemandOpens)) else {
                    skippedEvents += 1
                    return .none
                }
                body = .ondemand(Self.ondemand(kind, format, header.payload))
            case let .generic(system, format)?:
                let isError = header.event == "cachefiles_io_error" || header.event == "cachefiles_vfs_error"
                let isTie = EventSelection.tieFields[header.event] != nil && selection.contains(.objectTies)
                guard isTie || selection.contains(isError ? .cachefilesErrors : .cachefilesOther) else { skippedEvents += 1; return .none }
                body = .generic(GenericEvent(system: system, name: header.event, fields: Self.genericFields(format, header.payload)))
            case nil:
                if header.event.hasPrefix("cachefiles_"), selection.contains(.cachefilesOther) {
                    body = .generic(GenericEvent(system: "cachefiles", name: header.event,
                                                 fields: Self.genericFields(PrintFormat(labels: [:]), header.payload)))
                } else {
                    skippedEvents += 1
                    return .none
                }
            }
        }
        return .event(TraceEvent(timestamp: header.timestamp, cpu: header.cpu, pid: header.pid,
                                 comm: header.comm, body: body))
    }

    static func ondemand(_ kind: OndemandEvent.Kind, _ format: PrintFormat, _ payload: Substring) -> OndemandEvent {
        var values = RawFieldValues()
        let names = kind.fieldNames
        for token in payload.split(separator: " ") {
            guard let eq = token.firstIndex(of: "=") else { continue }
            let label = String(token[..<eq])
            guard let mapped = format.labels[label], let index = names.firstIndex(of: mapped.field) else { continue }
            values[index] = parseNumber(token[token.index(after: eq)...], radix: mapped.radix)
        }
        return OndemandEvent(kind: kind, values: values)
    }

    static func genericFields(_ format: PrintFormat, _ payload: Substring) -> [NamedValue] {
        var unlabeledIndex = 0
        return payload.split(separator: " ").compactMap { token in
            guard let eq = token.firstIndex(of: "=") else {
                // A word printed without a label: the next unlabeled field (a symbolic name).
                defer { unlabeledIndex += 1 }
                guard unlabeledIndex < format.unlabeled.count else { return nil }
                return NamedValue(format.unlabeled[unlabeledIndex], .string(String(token)))
            }
            let label = String(token[..<eq])
            let raw = token[token.index(after: eq)...]
            guard let mapped = format.labels[label] else { return NamedValue(label, .string(String(raw))) }
            if mapped.radix == 10, raw.hasPrefix("-"), let n = Int64(raw) { return NamedValue(mapped.field, .signed(n)) }
            if let n = parseNumber(raw, radix: mapped.radix) { return NamedValue(mapped.field, .unsigned(n)) }
            return NamedValue(mapped.field, .string(String(raw)))
        }
    }

    /// A number as printed: hex with or without `0x`, or signed decimal; the result is its
    /// 64-bit pattern (negative decimals sign-extended).
    static func parseNumber(_ text: Substring, radix: Int) -> UInt64? {
        var digits = text
        if digits.hasPrefix("0x") || digits.hasPrefix("0X") { digits = digits.dropFirst(2); return UInt64(digits, radix: 16) }
        if radix == 16 { return UInt64(digits, radix: 16) }
        if digits.hasPrefix("-") { return Int64(digits).map { UInt64(bitPattern: $0) } }
        return UInt64(digits)
    }

    struct Header {
        var comm: String
        var pid: Int32
        var cpu: Int32
        var timestamp: UInt64
        var event: String
        var payload: Substring
    }

    /// `<comm>-<pid> [(tgid)] [cpu] [flags] <secs>.<frac>: <event>: <payload>`
    static func parseHeader(_ line: Substring) -> Header? {
        // The CPU column is the first `[digits]` group.
        var search = line.startIndex
        var cpuOpen: Substring.Index?
        var cpuClose: Substring.Index?
        while let open = line[search...].firstIndex(of: "[") {
            if let close = line[open...].firstIndex(of: "]"), close > line.index(after: open),
               line[line.index(after: open)..<close].allSatisfy(\.isASCIIDigit) {
                cpuOpen = open
                cpuClose = close
                break
            }
            search = line.index(after: open)
        }
        guard let cpuOpen, let cpuClose, let cpu = Int32(line[line.index(after: cpuOpen)..<cpuClose]) else { return nil }
        var task = line[..<cpuOpen].trimmingWhitespaceSubstring()
        // An optional `(tgid)` column after the task.
        if task.hasSuffix(")"), let paren = task.lastIndex(of: "(") {
            task = task[..<paren].trimmingWhitespaceSubstring()
        }
        guard let dash = task.lastIndex(of: "-"), let pid = Int32(task[task.index(after: dash)...]) else { return nil }
        let comm = String(task[..<dash].drop { $0 == " " })
        var rest = line[line.index(after: cpuClose)...]
        // Columns after the CPU: optional flags (`.....`, `d..1.`), the timestamp ending in ':'.
        var timestamp: UInt64?
        while !rest.isEmpty {
            rest = rest.drop { $0 == " " || $0 == "\t" }
            guard let end = rest.firstIndex(where: { $0 == " " || $0 == "\t" }) else { return nil }
            let token = rest[..<end]
            rest = rest[end...]
            if token.hasSuffix(":"), let ts = parseTimestamp(token.dropLast()) {
                timestamp = ts
                break
            }
            if token.count > 8 { return nil }
        }
        guard let timestamp else { return nil }
        rest = rest.drop { $0 == " " || $0 == "\t" }
        guard let colon = rest.firstIndex(of: ":") else { return nil }
        let event = rest[..<colon]
        guard !event.isEmpty, event.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else { return nil }
        let payload = rest[rest.index(after: colon)...].drop { $0 == " " || $0 == "\t" }
        return Header(comm: comm, pid: pid, cpu: cpu, timestamp: timestamp, event: String(event), payload: payload)
    }

    /// `3.412719` (µs) or `3.412719123` (ns) seconds, to nanoseconds.
    static func parseTimestamp(_ text: Substring) -> UInt64? {
        guard let dot = text.firstIndex(of: ".") else { return UInt64(text) }
        guard let seconds = UInt64(text[..<dot]) else { return nil }
        var fraction = text[text.index(after: dot)...]
        guard !fraction.isEmpty, fraction.count <= 9, fraction.allSatisfy(\.isASCIIDigit) else { return nil }
        var nanos = UInt64(fraction)!
        for _ in fraction.count..<9 { nanos *= 10 }
        fraction = ""
        return seconds * 1_000_000_000 + nanos
    }

    static func parseLost(_ line: Substring) -> Line? {
        // "CPU:1 [LOST 123 EVENTS]" or "CPU:1 [123 EVENTS DROPPED]"
        let parts = line.split(whereSeparator: { $0 == " " || $0 == "[" || $0 == "]" || $0 == ":" })
        guard parts.count >= 4, parts[0] == "CPU", let cpu = Int32(parts[1]) else { return nil }
        if parts[2] == "LOST", let n = Int64(parts[3]) { return .lost(cpu: cpu, count: n) }
        if let n = Int64(parts[2]), parts[3] == "EVENTS" { return .lost(cpu: cpu, count: n) }
        return nil
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

extension Substring {
    func trimmingWhitespaceSubstring() -> Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return s
    }
}
