import OndemandTraceCore

/// Reads a trace and builds its report model: the one reading loop `report`, `check`, `run` and
/// the tests share (decoding on a second thread, see `readBatches`).
public enum TraceReport {
    /// `requireOndemandEvents`: a trace without any on-demand event is an error naming the file
    /// (`run` reports even that: a mount that failed before any request).
    ///
    /// `names`: objects named by hand (`--blob-names`). `namesFirst`: learn every object's name
    /// in a first pass over the trace, so each request carries its object's name from the start
    /// (CSV rows; `filter.blob` always does this): a name can appear in the trace after the
    /// object's first requests (`record` polls /proc/fs/fscache/cookies).
    ///
    /// `keepReads`: the model keeps the READs for a file blame (`ReportModel.keptReads`).
    public static func build(path: String, textFormats: [EventLayout]? = nil, filter: ReportFilter = ReportFilter(),
                             slowThreshold: UInt64? = nil, names: [UInt32: BlobName] = [:], namesFirst: Bool = false,
                             requestObserver: ((RequestRecord) -> Void)? = nil,
                             eventObserver: ((TraceEvent) -> Void)? = nil, keepReads: Bool = false,
                             requireOndemandEvents: Bool = true) throws -> (model: ReportModel, summary: ReadSummary) {
        try build(paths: [path], textFormats: textFormats, filter: filter, slowThreshold: slowThreshold, names: names,
                  namesFirst: namesFirst, requestObserver: requestObserver, eventObserver: eventObserver,
                  keepReads: keepReads, requireOndemandEvents: requireOndemandEvents)
    }

    /// One model over several traces read one after the other (`run --repeat`: the pooled figures
    /// of runs recorded back to back, each complete before the next starts). The metadata names
    /// every path and sums the records; format and kernel come from the first trace.
    public static func build(paths: [String], textFormats: [EventLayout]? = nil, filter: ReportFilter = ReportFilter(),
                             slowThreshold: UInt64? = nil, names: [UInt32: BlobName] = [:], namesFirst: Bool = false,
                             selection: EventSelection = .report, requestObserver: ((RequestRecord) -> Void)? = nil,
                             eventObserver: ((TraceEvent) -> Void)? = nil, keepReads: Bool = false,
                             requireOndemandEvents: Bool = true) throws -> (model: ReportModel, summary: ReadSummary) {
        precondition(!paths.isEmpty)
        var names = names, filter = filter
        if namesFirst || filter.blob != nil {
            let first = try build(paths: paths, textFormats: textFormats, names: names, selection: .names,
                                  requireOndemandEvents: false)
            for o in first.model.objects { if let name = o.name, names[o.obj] == nil { names[o.obj] = name } }
            if let blob = filter.blob { filter.blobObjects = Set(names.filter { $0.value.blob == blob }.keys) }
        }
        let builder = ReportBuilder(filter: filter, slowThreshold: slowThreshold, names: names,
                                    requestObserver: requestObserver, keepReads: keepReads)
        var summaries: [ReadSummary] = []
        for path in paths {
            // An event observer sees each marker as an event: only without one do they come as records.
            summaries.append(try TraceInput.readBatches(path: path, selection: selection, textFormats: textFormats,
                                                        markerRecords: eventObserver == nil) { batch in
                for (pid, comm) in batch.names { builder.nameTask(pid, comm) }
                batch.forEach(records: { records in
                    guard let eventObserver else { return builder.consume(records) }
                    for record in records {
                        builder.consume(record)
                        let event = record.traceEvent(comm: builder.taskName(record.pid))
                        if filter.admitsEvent(event) { eventObserver(event) }
                    }
                }, ties: { ties in
                    guard let eventObserver else { return builder.consume(ties) }
                    for i in ties.indices {
                        builder.consume(ties[i...i])
                        let event = ties[i].traceEvent(comm: builder.taskName(ties[i].pid))
                        if filter.admitsEvent(event) { eventObserver(event) }
                    }
                }, markers: { markers, text in
                    builder.consume(markers, text: text)
                }, item: { item in
                    switch item {
                    case .event(let event):
                        builder.consume(event)
                        if let eventObserver, filter.admitsEvent(event) { eventObserver(event) }
                    case let .lost(cpu, count, timestamp): builder.noteLost(cpu: cpu, count: count, timestamp: timestamp)
                    }
                })
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

    /// "FILE: no on-demand events (…what was read instead)".
    public static func noOndemandEvents(_ summary: ReadSummary) -> TraceFileError {
        let detail = summary.format == .text
            ? " (\(summary.recordsSeen) lines read, \(summary.unparsedLines) not understood"
                + (summary.firstUnparsedLine.map { ", the first at line \($0)" } ?? "") + ")"
            : " in \(summary.recordsSeen) records (\(summary.formatDescription))"
        return TraceFileError(path: summary.path, message: "no on-demand events, cachefiles or fanotify" + detail)
    }
}
