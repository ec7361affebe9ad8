import OndemandTraceCore
import SystemCalls

/// `dump`: every selected event of a trace as a line of text, JSON or CSV (`EventLineWriter`),
/// written to a file descriptor in large writes. Reading runs on a second thread (`Pipelined`):
/// an uncompressed trace.dat's records go undecoded from its mapped pages to the writer, which
/// formats them from their bytes; other input is decoded into events first (`TraceInput.read`).
public enum TraceDump {
    /// Bytes gathered before each write(2).
    static let writeSize = 1 << 20

    /// Writes the lines to `sink` and returns what reading found; nil when the output's reader
    /// went away first (EPIPE, e.g. `| head`, with SIGPIPE ignored: `reportBrokenPipes`): the dump
    /// stops quietly, as other tools do. On an input error the lines before it are written, then
    /// the error is thrown; a failed write is the `SystemError` naming the output.
    public static func write(path: String, selection: EventSelection, format: EventLineWriter.Format,
                             textFormats: [EventLayout]? = nil, to sink: OutputDescriptor = .standardOutput) throws -> ReadSummary? {
        let out = ByteBuffer(capacity: writeSize + (64 << 10))
        do {
            let summary: ReadSummary
            do {
                if let direct = try DirectTraceDat.open(path: path, selection: selection) {
                    summary = try writeRecords(direct, path: path, selection: selection, format: format, out: out, sink: sink)
                } else {
                    summary = try writeEvents(path: path, selection: selection, format: format, textFormats: textFormats,
                                              out: out, sink: sink)
                }
            } catch let error where !(error is OutputDescriptor.Closed) {
                try sink.write(out)
                throw error
            }
            try sink.write(out)
            return summary
        } catch is OutputDescriptor.Closed {
            return nil
        }
    }

    /// What the reader thread hands over on the direct path: a record for the writer, or the lines
    /// of a group of records it formatted itself.
    enum DirectItem {
        case record(DirectTraceDat.Record)
        case lines(ByteBuffer)
    }

    /// Records per group; every `readerShare`-th group is formatted on the reader thread, the
    /// others on the writing one. Walking the pages costs the reader about half of what formatting
    /// costs, so with a third of the formatting the two threads are about equally busy.
    static let groupSize = 1024
    static let readerShare = 3

    /// The direct path: records from the mapped pages, formatted from their bytes, on both threads.
    static func writeRecords(_ direct: DirectTraceDat, path: String, selection: EventSelection, format: EventLineWriter.Format,
                             out: ByteBuffer, sink: OutputDescriptor) throws -> ReadSummary {
        let decoder = direct.decoder
        let columns = format == .csv ? EventLineWriter.csvColumns(layouts: decoder.layouts, selection: selection) : []
        // One writer per thread: each encodes names for itself, the bytes are the same.
        let writer = EventLineWriter(format: format, csvColumns: columns, decoder: decoder)
        let readerWriter = EventLineWriter(format: format, csvColumns: columns, decoder: decoder)
        writer.appendHeader(to: out)
        @inline(__always)
        func line(_ r: borrowing DirectTraceDat.Record, _ writer: EventLineWriter, _ out: ByteBuffer) throws {
            do {
                try writer.append(record: r.data, timestamp: r.timestamp, cpu: r.cpu, pid: r.pid, comm: r.comm, to: out)
            } catch {
                throw TraceFileError(path: path, message: "CPU \(r.cpu): \(error)", byteOffset: UInt64(r.offset))
            }
        }
        return try Pipelined.run(batchSize: 4096, depth: 8, produce: { (emit: (DirectItem) throws -> Void) in
            var seen = 0
            var group: [DirectTraceDat.Record] = []
            group.reserveCapacity(groupSize)
            func formatGroup() throws {
                let lines = ByteBuffer(capacity: groupSize * 128)
                for r in group { try line(r, readerWriter, lines) }
                group.removeAll(keepingCapacity: true)
                try emit(.lines(lines))
            }
            let summary = try direct.walk { r in
                if (seen / groupSize) % readerShare == readerShare - 1 {
                    group.append(r)
                    if group.count == groupSize { try formatGroup() }
                } else {
                    try emit(.record(r))
                }
                seen += 1
            }
            if !group.isEmpty { try formatGroup() }
            return summary
        }, consume: { item in
            switch item {
            case .record(let r): try line(r, writer, out)
            case .lines(let lines): out.append(lines.bytes)
            }
            if out.count >= writeSize { try sink.write(out) }
        })
    }

    /// Any other input: decoded events, then written.
    static func writeEvents(path: String, selection: EventSelection, format: EventLineWriter.Format,
                            textFormats: [EventLayout]?, out: ByteBuffer, sink: OutputDescriptor) throws -> ReadSummary {
        var columns: [String] = []
        if format == .csv {
            let layouts = try TraceInput.layouts(path: path, textFormats: textFormats)
            columns = EventLineWriter.csvColumns(layouts: layouts, selection: selection)
        }
        let writer = EventLineWriter(format: format, csvColumns: columns)
        writer.appendHeader(to: out)
        return try TraceInput.readConcurrently(path: path, selection: selection, textFormats: textFormats) { item in
            guard case .event(let event) = item else { return }
            writer.append(event, to: out)
            if out.count >= writeSize { try sink.write(out) }
        }
    }
}

extension OutputDescriptor {
    /// Writes all of `buffer` and empties it.
    func write(_ buffer: ByteBuffer) throws {
        try write(buffer.bytes)
        buffer.removeAll()
    }
}
