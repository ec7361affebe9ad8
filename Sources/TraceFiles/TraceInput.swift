import OndemandTraceCore
import TraceDatFormat
import SystemPackage
import SystemCalls

/// What the reader hands over, in trace order.
public enum TraceItem: Sendable {
    case event(TraceEvent)
    /// The ring buffer dropped events on `cpu` before `timestamp` (count nil: dropped, number unknown).
    case lost(cpu: Int32, count: Int64?, timestamp: UInt64)
}

/// What reading a file found besides its events.
public struct ReadSummary: Sendable, Equatable {
    public enum Format: String, Sendable { case traceDat = "trace.dat", text }
    public var path: String
    public var format: Format
    /// e.g. `trace.dat v7, zstd` or `text`.
    public var formatDescription: String
    /// All records (trace.dat) or lines (text) seen, selected or not.
    public var recordsSeen = 0
    /// Events handed over.
    public var eventsDelivered = 0
    /// On-demand events among them.
    public var ondemandEvents = 0
    /// trace.dat records whose event id has no format in the file (not decodable, not counted as events).
    public var recordsWithoutFormat = 0
    /// Text lines that were not events, comments or status lines.
    public var unparsedLines = 0
    public var firstUnparsedLine: Int?
    /// Events the ring buffer dropped, by CPU, as far as the trace says (nil count: unknown number).
    public var lostEvents: [Int32: Int64] = [:]
    public var lostEventsUnknownCount = 0
    public var kernelRelease: String?
    public var clock: String?
    /// `per_cpu/cpuN/stats` text stored in a trace.dat (CPUSTAT options), one per CPU.
    public var cpuStats: [String] = []
    /// A trace.dat cut inside its CPU data: where (one line); what was read is up to the cut.
    public var cut: String?
}

public enum TraceInput {
    /// Reads `path` (a trace.dat file or text; `-` is standard input, text), detecting which by
    /// content, and hands every selected event to `body` in timestamp order (text: line order).
    /// `formats` are format files for text input; the kernel 6.12 ones are used if nil.
    public static func read(path: String, selection: EventSelection, textFormats: [EventLayout]? = nil,
                            _ body: (TraceItem) throws -> Void) throws -> ReadSummary {
        try read(path: path, selection: selection, textFormats: textFormats, batcher: nil, body)
    }

    /// `batcher`: a trace.dat's items go there instead of to `body` (`readBatches`).
    static func read(path: String, selection: EventSelection, textFormats: [EventLayout]?,
                     batcher: TraceItemBatcher?, _ body: (TraceItem) throws -> Void) throws -> ReadSummary {
        if path == "-" {
            return try TextTraceReader.read(from: FileDescriptor.standardInput, path: path, selection: selection,
                                            formats: textFormats, body)
        }
        let file = try MappedFile(path: path)
        guard file.bytes.count > 0 else { throw TraceFileError(path: path, message: "empty file") }
        let prefix = Array(file.bytes.prefix(4096))
        if TraceDatStructure.looksLikeTraceDat(prefix) {
            // The pages are checked as they are read (`TraceDatReader.read` checks them all
            // first when libtracecmd reads them instead).
            let structure = try TraceDatStructure.parse(file.bytes, path: path, pages: .leading, allowingCut: true)
            file.dropResidentPages()
            if let cut = structure.cut {
                return try readCut(path: path, file: file, structure: structure, cut: cut, selection: selection,
                                   batcher: batcher, body)
            }
            return try TraceDatReader.read(path: path, structure: structure, file: file, selection: selection,
                                           batcher: batcher, body)
        }
        guard isText(prefix, truncated: file.bytes.count > prefix.count) else {
            throw TraceFileError(path: path, message: "not a trace file: neither trace.dat (it starts with 17 08 44 'tracing') nor text", byteOffset: 0)
        }
        return try TextTraceReader.read(bytes: file.bytes, path: path, selection: selection, formats: textFormats, body)
    }

    /// A trace.dat cut inside its CPU data, read up to the cut (as far as its last whole page):
    /// libtracecmd refuses a file shorter than its header says, so it reads a copy in memory whose
    /// missing tail is zeros (sparse: empty ring-buffer pages), the walker the same pages. The
    /// copy is an unlinked temporary file (in $TMPDIR, else /tmp): nothing is left behind.
    static func readCut(path: String, file: MappedFile, structure: TraceDatStructure, cut: TraceDatStructure.Cut,
                        selection: EventSelection, batcher: TraceItemBatcher?,
                        _ body: (TraceItem) throws -> Void) throws -> ReadSummary {
        let scratch: Descriptor
        do {
            scratch = try Descriptor.temporary(prefix: "ondemand-trace-cut-")
        } catch {
            throw TraceFileError(path: path, message: "\(cut.description); cannot make a copy to read: \(describeErrno(error.errno))")
        }
        defer { scratch.close() }
        do {
            try scratch.write(UnsafeRawBufferPointer(rebasing: file.bytes[0..<Int(cut.kept)]))
            try scratch.truncate(to: cut.declaredEnd)
        } catch {
            throw TraceFileError(path: path, message: "\(cut.description); cannot make a copy to read: \(describeErrno(error.errno))")
        }
        let copy = try MappedFile(path: "/proc/self/fd/\(scratch.fd)")
        var summary = try TraceDatReader.read(path: copy.path, structure: structure, file: copy, selection: selection,
                                              batcher: batcher, body)
        summary.path = path
        summary.cut = cut.description
        return summary
    }

    /// The event layouts `read` decodes `path` with, for output that names every field before the
    /// first event (`dump --format csv`): a trace.dat's own format files; for text, `textFormats`
    /// or the built-in 6.12 ones.
    public static func layouts(path: String, textFormats: [EventLayout]? = nil) throws -> [EventLayout] {
        let text = textFormats ?? DefaultFormats.layouts
        guard path != "-" else { return text }
        let file = try MappedFile(path: path)
        guard TraceDatStructure.looksLikeTraceDat(Array(file.bytes.prefix(4096))) else { return text }
        return try TraceDatReader.layouts(path: path)
    }

    /// Valid UTF-8 without NULs or control characters other than tab, CR and LF. `truncated`: the
    /// sample is a prefix of a longer file, so a multi-byte character may be cut at its end.
    static func isText(_ sample: [UInt8], truncated: Bool) -> Bool {
        guard !sample.isEmpty, !sample.contains(where: { $0 < 0x20 && $0 != 0x0a && $0 != 0x09 && $0 != 0x0d }) else {
            return false
        }
        if String(validating: sample, as: UTF8.self) != nil { return true }
        guard truncated else { return false }
        for cut in 1...3 where sample.count > cut {
            if String(validating: sample.dropLast(cut), as: UTF8.self) != nil { return true }
        }
        return false
    }
}
