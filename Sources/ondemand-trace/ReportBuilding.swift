import ArgumentParser
import OndemandTraceCore
import TraceFiles

/// Reads a trace and builds the report model: what `report`, `check` and `run` share. `run`
/// reports even a trace without on-demand events (a mount that failed before any request).
enum ReportBuilding {
    static func model(path: String, textFormats: [EventLayout]?, filter: ReportFilter = ReportFilter(),
                      slowThreshold: UInt64? = nil, observer: ((RequestRecord) -> Void)? = nil,
                      eventObserver: ((TraceEvent) -> Void)? = nil,
                      requireOndemandEvents: Bool = true) throws -> (model: ReportModel, summary: ReadSummary) {
        try model(paths: [path], textFormats: textFormats, filter: filter, slowThreshold: slowThreshold, observer: observer,
                  eventObserver: eventObserver, requireOndemandEvents: requireOndemandEvents)
    }

    /// One model over several traces read one after the other (`run --repeat`: the pooled figures
    /// of runs recorded back to back, each complete before the next starts).
    static func model(paths: [String], textFormats: [EventLayout]?, filter: ReportFilter = ReportFilter(),
                      slowThreshold: UInt64? = nil, observer: ((RequestRecord) -> Void)? = nil,
                      eventObserver: ((TraceEvent) -> Void)? = nil,
                      requireOndemandEvents: Bool = true) throws -> (model: ReportModel, summary: ReadSummary) {
        precondition(!paths.isEmpty)
        let builder = ReportBuilder(filter: filter, slowThreshold: slowThreshold, requestObserver: observer)
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
        if requireOndemandEvents, ondemand == 0 { throw InputFailure(description: NoEventsMessage.describe(summary)) }
        let metadata = TraceMetadata(path: paths.joined(separator: " "), format: summary.format.rawValue,
                                     formatDescription: summary.formatDescription, kernelRelease: summary.kernelRelease,
                                     clock: summary.clock, recordsSeen: summaries.reduce(0) { $0 + $1.recordsSeen },
                                     eventsDelivered: summaries.reduce(0) { $0 + $1.eventsDelivered }, ondemandEvents: ondemand)
        return (builder.finish(metadata: metadata, cpuStats: summaries.flatMap(\.cpuStats)), summary)
    }
}
