import ArgumentParser
import OndemandTraceCore
import TraceFiles

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Correlate on-demand requests and report their latency, object lifetimes and anomalies.",
        discussion: """
            Each READ the kernel sent is tied to the cread that answered it (per object; by the \
            daemon's markers when the trace has them, else by the daemon thread that wrote the \
            range, else by arrival order), each OPEN to its copen. The report gives request counts, \
            bytes, latency percentiles (min, mean, p50, p90, p99, p99.9, max in µs) and, with \
            markers, where the time went (queued, served, completed). Anomalies are always counted: \
            reads never answered, opens never answered, creads without a read or without data, \
            fd_release with reads outstanding, close without fd_release, lost events, \
            cachefiles_io_error/vfs_error.

            The JSON document is described in docs/report-schema.md; CSV has one row per request.

            Examples:
              ondemand-trace report --latency trace.dat
              ondemand-trace report --objects --anomalies trace.dat
              ondemand-trace report --format json trace.dat | jq .reads.latency_us
              ondemand-trace report --format csv trace.dat > requests.csv
              ondemand-trace report --comm md5sum --since 4.4 --until 4.5 trace.dat
              ondemand-trace report --min-latency 2ms trace.dat    (lists requests of 2 ms or more)
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json, csv }

    @OptionGroup var input: TraceFileOptions

    @Flag(help: "Add the log2 latency histogram and the breakdowns by request size and by reader.")
    var latency = false

    @Flag(help: "Add the per-object table: opens, size, reads, bytes, close, fd_release, lifetime.")
    var objects = false

    @Flag(help: "List every anomaly (they are always counted).")
    var anomalies = false

    @Option(help: "Output format: text, json (one document, docs/report-schema.md) or csv (one row per request).")
    var format: Format = .text

    @Option(name: .customLong("object"), help: ArgumentHelp("Only this object (the `obj` debug id).", valueName: "obj"))
    var object: UInt32?

    @Option(help: "Only READs by readers with this command name.")
    var comm: String?

    @Option(help: "Only READs by this reader pid.")
    var pid: Int32?

    @Option(help: ArgumentHelp("Only requests issued at or after this trace time (seconds).", valueName: "seconds"))
    var since: Double?

    @Option(help: ArgumentHelp("Only requests issued before this trace time (seconds).", valueName: "seconds"))
    var until: Double?

    @Option(help: ArgumentHelp("List requests at least this slow: a number with unit ns, us, ms or s (bare number: ms).",
                               valueName: "duration"))
    var minLatency: String?

    func validate() throws {
        if let minLatency, Self.nanoseconds(minLatency) == nil {
            throw ValidationError("--min-latency '\(minLatency)': expected a duration like 500us, 2ms or 1.5s")
        }
        for (name, value) in [("since", since), ("until", until)] {
            if let value, !(value >= 0) { throw ValidationError("--\(name) must be a non-negative number of seconds") }
        }
    }

    /// `2ms` → 2_000_000; a bare number is milliseconds (as fileslower takes).
    static func nanoseconds(_ text: String) -> UInt64? {
        let units: [(String, Double)] = [("ns", 1), ("us", 1e3), ("µs", 1e3), ("ms", 1e6), ("s", 1e9)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            guard let v = Double(text.dropLast(suffix.count)), v >= 0 else { return nil }
            return UInt64((v * scale).rounded())
        }
        guard let v = Double(text), v >= 0 else { return nil }
        return UInt64((v * 1e6).rounded())
    }

    func run() throws {
        let filter = ReportFilter(obj: object, comm: comm, pid: pid,
                                  since: since.map { UInt64(($0 * 1e9).rounded()) },
                                  until: until.map { UInt64(($0 * 1e9).rounded()) })
        var csv = BufferedOutput()
        if format == .csv { csv.line(ReportCSV.header) }
        let csvRows = format == .csv
        let builder = ReportBuilder(filter: filter, slowThreshold: minLatency.flatMap(Self.nanoseconds),
                                    requestObserver: csvRows ? { csv.line(ReportCSV.row($0)) } : nil)
        let summary = try reportingInputErrors {
            let formats = try input.textFormats()
            return try TraceInput.readConcurrently(path: input.path, selection: .report, textFormats: formats) { item in
                switch item {
                case .event(let event): builder.consume(event)
                case let .lost(cpu, count, timestamp): builder.noteLost(cpu: cpu, count: count, timestamp: timestamp)
                }
            }
        }
        if summary.ondemandEvents == 0 {
            printError("ondemand-trace: \(NoEventsMessage.describe(summary))")
            throw ExitCode(2)
        }
        let metadata = TraceMetadata(path: summary.path, format: summary.format.rawValue,
                                     formatDescription: summary.formatDescription, kernelRelease: summary.kernelRelease,
                                     clock: summary.clock, recordsSeen: summary.recordsSeen,
                                     eventsDelivered: summary.eventsDelivered, ondemandEvents: summary.ondemandEvents)
        let model = builder.finish(metadata: metadata, cpuStats: summary.cpuStats)
        switch format {
        case .csv:
            csv.flush()
        case .json:
            var out = BufferedOutput()
            out.line(ReportJSON.render(model))
            out.flush()
        case .text:
            var sections: ReportText.Sections = []
            if latency { sections.insert(.latency) }
            if objects { sections.insert(.objects) }
            if anomalies { sections.insert(.anomalies) }
            FileHandleWriter.write(ReportText.render(model, sections: sections), fd: 1)
        }
        if summary.unparsedLines > 0 {
            printError("note: \(summary.unparsedLines) line(s) of \(summary.path) were not trace events and were skipped (first: line \(summary.firstUnparsedLine ?? 0))")
        }
    }
}
