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
        try build(paths: [path], textFormats: textFormats, filter: filter, slowThreshold: slowThreshold,
                  requestObserver: requestObserver, eventObserver: eventObserver, requireOndemandEvents: requireOndemandEvents)
    }

    /// One model over several traces read one after the other (`run --repeat`: the pooled figures
    /// of runs recorded back to back, each complete before the next starts). The metadata names
    /// every path and sums the records; format and kernel come from the first trace.
    public static func build(paths: [String], textFormats: [EventLayout]? = nil, filter: ReportFilter = ReportFilter(),
                             slowThreshold: UInt64? = nil, requestObserver: ((RequestRecord) -> Void)? = nil,
                             eventObserver: ((TraceEvent) -> Void)? = nil,
                             requireOndemandEvents: Bool = true) throws -> (model: ReportModel, summary: ReadSummary) {
        precondition(!paths.isEmpty)
        let builder = ReportBuilder(filter: filter, slowThreshold: slowThreshold, requestObserver: requestObserver)
        var summaries: [ReadSummary] = []
        for path in paths {
            summaries.append(try TraceInput.readConcurrently(path: path, selection: .report, textFormats: textFormats) { item in
                switch item {
                case .event(let event):
                    builder.consume(event)
                    eventObserver?(event)
                case let .lost(cpu, count, timestamp): builder.noteLost(cpu: cpu, count: count, timestamp: timestamp)
                }
            })
        }
        let summary = summaries[0]
        let ondemand = summaries.reduce(0) { $0 + $1.ondemandEvents }
        if requireOndemandEvents, ondemand == 0 { throw noOndemandEvents(summary) }
        let metadata = TraceMetadata(path: paths.joined(separator: " "), format: summary.format.rawValue,
                                     formatDescription: summary.formatDescription, kernelRelease: summary.kernelRelease,
                                     clock: summary.clock, recordsSeen: summaries.reduce(0) { $0 + $1.recordsSeen },
                                     eventsDelivered: summaries.reduce(0) { $0 + $1.eventsDelivered }, ondemandEvents: ondemand)
        return (builder.finish(metadata: metadata, cpuStats: summaries.flatMap(\.cpuStats)), summary)
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
