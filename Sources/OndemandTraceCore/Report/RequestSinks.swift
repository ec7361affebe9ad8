/// What `report` writes on standard output.
public enum ReportFormat: String, CaseIterable, Sendable { case text, json, csv, chrome }

/// Where each request goes while the trace is read: CSV rows (kept, to be written by issue time;
/// for `--image` the requests, whose paths are known only once objects are matched), the Chrome
/// trace, the HTML scatter.
/// (The READs `--image` blames are kept by the report's builder, `keepReads`: no request made
/// for them.)
public final class RequestSinks {
    // Unchecked: one thread calls the observers, once per request (a dynamic exclusivity check
    // of each property each time costs more than the append).
    @exclusivity(unchecked) private var rows = ReportCSV.RowsByIssue()
    @exclusivity(unchecked) private var chrome: ChromeTraceWriter?
    @exclusivity(unchecked) public private(set) var scatter: LatencyScatter?
    @exclusivity(unchecked) private var kept: [RequestRecord] = []
    private let csvRows: Bool
    private let keepRequests: Bool
    private let csvHeader: String?

    /// `keepRequests`: `--image` given (CSV rows kept until their paths are known). `write`: where
    /// the Chrome trace's text goes as it is made (standard output).
    public init(format: ReportFormat, html: Bool, keepRequests: Bool, write: @escaping (String) -> Void) {
        self.keepRequests = keepRequests && format == .csv
        csvRows = format == .csv && !keepRequests
        csvHeader = format == .csv ? (keepRequests ? ReportCSV.headerWithPaths : ReportCSV.header) : nil
        if format == .chrome { chrome = ChromeTraceWriter(sink: write) }
        if html { scatter = LatencyScatter() }
    }

    public var requestObserver: ((RequestRecord) -> Void)? {
        guard csvRows || chrome != nil || scatter != nil || keepRequests else { return nil }
        return { [self] request in
            if csvRows { rows.add(request, row: ReportCSV.row(request)) }
            chrome?.request(request)
            scatter?.add(request)
            if keepRequests { kept.append(request) }
        }
    }

    /// The Chrome trace's records (opens, closes, markers; `TraceReport` passes those of the
    /// filtered objects only).
    public var eventObserver: ((TraceEvent) -> Void)? {
        guard chrome != nil else { return nil }
        return { [self] event in chrome?.event(event) }
    }

    /// The kept requests' CSV rows, each with the paths of the files its range covers, now that
    /// the objects are matched to their images.
    public func addRows(sources: [UInt32: FileBlame.Source]) {
        for request in kept {
            let paths = sources[request.obj].map { FileBlame.owners(of: request, source: $0).map(\.description) } ?? []
            rows.add(request, row: ReportCSV.row(request, paths: paths))
        }
    }

    /// The CSV document's lines: the header, then the rows by issue time.
    public func csvLines(_ line: (String) -> Void) {
        if let csvHeader { line(csvHeader) }
        rows.forEach(line)
    }

    /// Ends the Chrome trace: the model's anomalies, then the metadata.
    public func finishChrome(_ model: ReportModel) {
        for anomaly in model.stats.anomalies { chrome?.anomaly(anomaly) }
        chrome?.finish(metadata: [("tool", "ondemand-trace"), ("trace", model.metadata.path),
                                  ("format", model.metadata.formatDescription),
                                  ("kernel_release", model.metadata.kernelRelease),
                                  ("clock", model.metadata.clock)])
    }
}
