import OndemandTraceCore
import TraceDatFormat
import SystemPackage

enum TextTraceReader {
    static func read(bytes: UnsafeRawBufferPointer, path: String, selection: EventSelection,
                     formats: [EventLayout]?, _ body: (TraceItem) throws -> Void) throws -> ReadSummary {
        var reader = Lines(path: path, selection: selection, formats: formats)
        var start = 0
        while start < bytes.count {
            let end = bytes[start...].firstIndex(of: 0x0a) ?? bytes.count
            try reader.feed(UnsafeRawBufferPointer(rebasing: bytes[start..<end]), body)
            start = end + 1
        }
        return reader.finish()
    }

    static func read(from fd: FileDescriptor, path: String, selection: EventSelection,
                     formats: [EventLayout]?, _ body: (TraceItem) throws -> Void) throws -> ReadSummary {
        var reader = Lines(path: path, selection: selection, formats: formats)
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var first = true
        while true {
            let n: Int
            do {
                n = try buffer.withUnsafeMutableBytes { try fd.read(into: $0, retryOnInterrupt: true) }
            } catch {
                throw TraceFileError(path: path, message: "read failed: \(Errno.describe(error))")
            }
            if n == 0 { break }
            if first, !TraceInput.isText(Array(buffer[0..<min(n, 4096)]), truncated: true) {
                let what = TraceDatStructure.looksLikeTraceDat(Array(buffer[0..<n])) ? "a trace.dat" : "not text"
                throw TraceFileError(path: path, message: "standard input takes text only (this is \(what)); give the file's path instead")
            }
            first = false
            pending.append(contentsOf: buffer[0..<n])
            var start = 0
            while let end = pending[start...].firstIndex(of: 0x0a) {
                try pending.withUnsafeBytes { try reader.feed(UnsafeRawBufferPointer(rebasing: $0[start..<end]), body) }
                start = end + 1
            }
            pending.removeFirst(start)
        }
        if !pending.isEmpty { try pending.withUnsafeBytes { try reader.feed($0, body) } }
        return reader.finish()
    }

    struct Lines {
        var parser: TextTraceParser
        var summary: ReadSummary
        var lastTimestamp: UInt64 = 0

        init(path: String, selection: EventSelection, formats: [EventLayout]?) {
            parser = TextTraceParser(layouts: formats ?? DefaultFormats.layouts, selection: selection)
            summary = ReadSummary(path: path, format: .text, formatDescription: "text")
        }

        mutating func feed(_ line: UnsafeRawBufferPointer, _ body: (TraceItem) throws -> Void) throws {
            summary.recordsSeen += 1
            var text = String(decoding: line, as: UTF8.self)
            if text.hasSuffix("\r") { text.removeLast() }
            switch parser.parse(Substring(text)) {
            case .event(let event):
                summary.eventsDelivered += 1
                switch event.body {
                case .ondemand: summary.ondemandEvents += 1
                case .generic(let g) where FanotifyEvent.isFanotify(system: g.system, name: g.name): summary.ondemandEvents += 1
                default: break
                }
                lastTimestamp = event.timestamp
                try body(.event(event))
            case let .lost(cpu, count):
                summary.lostEvents[cpu, default: 0] += count
                try body(.lost(cpu: cpu, count: count, timestamp: lastTimestamp))
            case .none:
                break
            }
        }

        func finish() -> ReadSummary {
            var s = summary
            s.unparsedLines = parser.unparsedLines
            s.firstUnparsedLine = parser.firstUnparsedLine
            return s
        }
    }
}
