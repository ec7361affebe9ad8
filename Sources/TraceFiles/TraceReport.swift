import OndemandTraceCore

/// Reads a trace and builds its report model: the one reading loop `report`, `check`, `run` and
/// the tests share (decoding on a second thread, see `readConcurrently`).
public enum TraceReport {
    /// `requireOndemandEvents`: a trace without any on-demand event is an error naming the file
    /// (`run` reports even that: a mount that failed before any request).
    public static func build(path: String, textFormats: [EventLayout]? = nil, filter: ReportFilter = ReportFilter(),
                             slowThreshold: UInt64? = nil, requestObserver: ((RequestRecord) -> Void)? = nil,
                             eventObserver: ((TraceEvent) -> Void)? = nil,
                             requireOndemandEvents: Bool = true) throws -> (model: ReportModel, summary: ReadSummary) {
        let builder = ReportBuilder(filter: filter, slowThreshold: slowThreshold, requestObserver: requestObserver)
        let summary = try TraceInput.readConcurrently(path: path, selection: .report, textFormats: textFormats) { item in
            switch item {
            case .event(let event):
                builder.consume(event)
                eventObserver?(event)
            case let .lost(cpu, count, timestamp): builder.noteLost(cpu: cpu, count: count, timestamp: timestamp)
            }
        }
        if requireOndemandEvents, summary.ondemandEvents == 0 { throw noOndemandEvents(summary) }
        let metadata = TraceMetadata(path: summary.path, format: summary.format.rawValue,
                                     formatDescription: summary.formatDescription, kernelRelease: summary.kernelRelease,
                                     clock: summary.clock, recordsSeen: summary.recordsSeen,
                                     eventsDelivered: summary.eventsDelivered, ondemandEvents: summary.ondemandEvents)
        return (builder.finish(metadata: metadata, cpuStats: summary.cpuStats), summary)
    }

    /// "FILE: no cachefiles on-demand events (…what was read instead)".
    public static func noOndemandEvents(_ summary: ReadSummary) -> TraceFileError {
        let detail = summary.format == .text
            ? " (\(summary.recordsSeen) lines read, \(summary.unparsedLines) not understood"
                + (summary.firstUnparsedLine.map { ", the first at line \($0)" } ?? "") + ")"
            : " in \(summary.recordsSeen) records (\(summary.formatDescription))"
        return TraceFileError(path: summary.path, message: "no cachefiles on-demand events" + detail)
    }
}
