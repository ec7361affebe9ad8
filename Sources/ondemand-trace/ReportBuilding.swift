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
        let builder = ReportBuilder(filter: filter, slowThreshold: slowThreshold, requestObserver: observer)
        let summary = try TraceInput.readConcurrently(path: path, selection: .report, textFormats: textFormats) { item in
            switch item {
            case .event(let event):
                builder.consume(event)
                eventObserver?(event)
            case let .lost(cpu, count, timestamp): builder.noteLost(cpu: cpu, count: count, timestamp: timestamp)
            }
        }
        if requireOndemandEvents, summary.ondemandEvents == 0 { throw InputFailure(description: NoEventsMessage.describe(summary)) }
        let metadata = TraceMetadata(path: summary.path, format: summary.format.rawValue,
                                     formatDescription: summary.formatDescription, kernelRelease: summary.kernelRelease,
                                     clock: summary.clock, recordsSeen: summary.recordsSeen,
                                     eventsDelivered: summary.eventsDelivered, ondemandEvents: summary.ondemandEvents)
        return (builder.finish(metadata: metadata, cpuStats: summary.cpuStats), summary)
    }
}
