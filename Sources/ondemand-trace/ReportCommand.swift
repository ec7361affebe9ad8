import ArgumentParser
import OndemandTraceCore
import SystemCalls
import TraceFiles

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Correlate on-demand requests and report their latency, object lifetimes and anomalies.",
        discussion: """
            Each READ the kernel sent is tied to the cread that answered it (per object; by the \
            daemon's markers when the trace has them, else by the daemon thread that wrote the \
            range, else by arrival order), each OPEN to its copen. The report gives request counts, \
            bytes, latency percentiles (min, mean, p50, p90, p99, p99.9, max in µs) and, with \
            markers, where the time went (queued, served, completed); when the trace shows the \
            reader going on, resumed (cread -> its next record on the object) and its stall \
            (read -> resumed). Objects are named by volume and cookie key (the blob) when the \
            trace says so (docs/markers.md) or --blob-names does. Anomalies are always counted: \
            reads never answered, opens never answered, creads without a read or without data, \
            fd_release with reads outstanding, close without fd_release, lost events, \
            cachefiles_io_error/vfs_error.

            The JSON document is described in docs/report-schema.md; CSV has one row per request.

            Examples:
              ondemand-trace report --latency trace.dat
              ondemand-trace report --objects --anomalies trace.dat
              ondemand-trace report --format json trace.dat | jq .reads.latency_us
              ondemand-trace report --format csv trace.dat > requests.csv
              ondemand-trace report --format chrome trace.dat > trace.json   # open in ui.perfetto.dev
              ondemand-trace report --html report.html trace.dat
              ondemand-trace report --comm md5sum --since 4.4 --until 4.5s trace.dat
              ondemand-trace report --min-latency 2ms trace.dat    (lists requests of 2 ms or more)
              ondemand-trace report --blobs --objects trace.dat    (which blob: volume and cookie key)
              ondemand-trace report --blob mdblob.img trace.dat
              ondemand-trace report --blob-names 1=md.img --blob-names 2=mdblob.img trace-cmd.dat
            """
    )

    typealias Format = ReportFormat

    @OptionGroup var input: TraceFileOptions

    @Flag(help: "Add the log2 latency histogram and the breakdowns by request size and by reader.")
    var latency = false

    @Flag(help: "Add the per-object table: opens, size, reads, bytes, close, fd_release, lifetime.")
    var objects = false

    @Flag(help: "List every anomaly (they are always counted).")
    var anomalies = false

    @Flag(help: "Add the per-blob table: each blob's (volume and cookie key's) objects, READs, bytes and latency.")
    var blobs = false

    @Option(help: ArgumentHelp("Only the objects of this blob (the cookie key, as the report prints it).", valueName: "name"))
    var blob: String?

    @Option(name: .customLong("blob-names"), parsing: .singleValue, help: ArgumentHelp(
        "Name an object by hand: OBJ=NAME (obj as the report prints it); repeatable. For traces that carry no names (recorded by trace-cmd); they win over names in the trace.",
        valueName: "obj=name"))
    var blobNames: [String] = []

    @Option(help: "Output format: text, json (one document, docs/report-schema.md), csv (one row per request) or chrome (trace-event JSON for ui.perfetto.dev / chrome://tracing).")
    var format: Format = .text

    @Option(help: ArgumentHelp("Also write a self-contained HTML report (summary, histogram, latency over time, objects, anomalies) to this file.", valueName: "file"))
    var html: String?

    @Option(name: .customLong("object"), help: ArgumentHelp("Only this object (the `obj` debug id).", valueName: "obj"))
    var object: UInt32?

    @Option(help: "Only READs by readers with this command name.")
    var comm: String?

    @Option(help: "Only READs by this reader pid.")
    var pid: Int32?

    @Option(help: ArgumentHelp("Only requests issued at or after this trace time: \(DurationText.rule(.seconds)) (9.5, 9500ms).", valueName: "time"))
    var since: String?

    @Option(help: ArgumentHelp("Only requests issued before this trace time: \(DurationText.rule(.seconds)).", valueName: "time"))
    var until: String?

    @Option(help: ArgumentHelp("List requests at least this slow: \(DurationText.rule(Self.minLatencyBare)) (2ms, 500us).",
                               valueName: "duration"))
    var minLatency: String?

    @Option(name: .customLong("image"), parsing: .singleValue, help: ArgumentHelp(
        "The EROFS image (or blob) behind the trace's objects, to say which files each READ was for; repeatable: a bootstrap and its blobs. Matched to an object by its blob name (the file's name, or without extension), else by the size its copen answered; OBJ=FILE forces it.",
        valueName: "file"))
    var images: [String] = []

    @Flag(help: "With --image: the per-file table (total and max wait, READs, bytes, first miss, readers), most waited-for first.")
    var files = false

    @Option(help: ArgumentHelp("With --image: write the image's paths in first-miss order, one per line (a prefetch list, as `nydus-image create --prefetch-policy fs` reads).", valueName: "file"))
    var prefetchList: String?

    func validate() throws {
        _ = try givenNames()
        if let blob, KeyText.name(blob).isEmpty { throw ValidationError("--blob: empty name") }
        if images.isEmpty, files || prefetchList != nil { throw ValidationError("--files and --prefetch-list need --image") }
        _ = try window()
        if let minLatency { _ = try durationOption(minLatency, "--min-latency", bare: Self.minLatencyBare) }
    }

    /// `--min-latency 20` once meant 20 ms: a bare number is refused there (not taken as seconds).
    static let minLatencyBare = DurationText.Bare.refused(suggesting: "ms")

    /// `--since` and `--until` in nanoseconds of trace time; since after until is a usage error.
    func window() throws -> (since: UInt64?, until: UInt64?) {
        let from = try since.map { try durationOption($0, "--since") }
        let to = try until.map { try durationOption($0, "--until") }
        if let from, let to, from > to {
            throw ValidationError("--since \(since!) is after --until \(until!): no request can be in between")
        }
        return (from, to)
    }

    /// `--blob-names`, by obj.
    func givenNames() throws -> [UInt32: BlobName] {
        var names: [UInt32: BlobName] = [:]
        for spec in blobNames {
            guard let (obj, name) = BlobName.assignment(spec) else {
                throw ValidationError("--blob-names '\(spec)': expected OBJ=NAME (obj a number as the report prints it, a non-empty name)")
            }
            guard names.updateValue(name, forKey: obj) == nil else { throw ValidationError("--blob-names: obj \(obj) named twice") }
        }
        return names
    }

    func run() throws {
        let (since, until) = try window()
        let filter = ReportFilter(obj: object, comm: comm, pid: pid, since: since, until: until, blob: blob.map(KeyText.name))
        let sinks = RequestSinks(format: format, html: html != nil, keepRequests: !images.isEmpty) { StandardOutput.write($0) }
        let loading = images.isEmpty ? nil : ImageFiles.Loading(images)  // indexed while the trace is read
        var (model, summary) = try reportingFileErrors {
            try TraceReport.build(path: input.path, textFormats: try input.textFormats(), filter: filter,
                                  slowThreshold: minLatency.flatMap { DurationText.nanoseconds($0, bare: Self.minLatencyBare) }, names: try givenNames(),
                                  namesFirst: format == .csv, requestObserver: sinks.requestObserver,
                                  eventObserver: sinks.eventObserver, keepReads: !images.isEmpty && blameShown)
        }
        if let cut = summary.cut { printError("warning: \(input.path): \(cut)") }
        if let loading { model.files = try blame(sinks, loading, model) }
        emit(model, sinks)
        if !filter.isEmpty, model.stats.reads.count + model.stats.opens.count == 0 {
            printError("ondemand-trace: note: no request of \(input.path) matches \(filterText)")
        }
        if let prefetchList, let blame = model.files {
            try reportingFileErrors { try OutputFile.write(blame.prefetchList.map { $0 + "\n" }.joined(), to: prefetchList) }
        }
        if let html, let scatter = sinks.scatter {
            try reportingFileErrors { try OutputFile.write(HTMLReport.render(model, scatter: scatter), to: html) }
        }
        if summary.unparsedLines > 0 {
            printError("note: \(summary.unparsedLines) line(s) of \(summary.path) were not trace events and were skipped (first: line \(summary.firstUnparsedLine ?? 0))")
        }
    }

    /// The filter options given, as typed.
    var filterText: String {
        [("--object", object.map(String.init)), ("--comm", comm), ("--pid", pid.map(String.init)), ("--since", since),
         ("--until", until), ("--blob", blob)].compactMap { name, value in value.map { "\(name) \($0)" } }.joined(separator: " ")
    }

    /// Whether the output shows the blame (JSON's `files`, `--files`, the prefetch list, the HTML
    /// page's waterfall): else the images are only matched to objects (their errors reported).
    var blameShown: Bool { format == .json || (format == .text && files) || prefetchList != nil || html != nil }

    /// The model's READs tied to the files of the `--image` files behind their objects, nil when
    /// not shown (and, for CSV, each request's row with its paths, now that objects are matched).
    func blame(_ sinks: RequestSinks, _ loading: ImageFiles.Loading, _ model: ReportModel) throws -> FileBlame? {
        let sources = try reportingFileErrors { try ImageFiles.sources(try loading.result(), for: model.objects) }
        for mismatch in ImageMatching.sizeMismatches(objects: model.objects, matched: sources) { printError("warning: \(mismatch)") }
        if format == .csv { sinks.addRows(sources: sources) }
        guard blameShown, let reads = model.keptReads else { return nil }
        return FileBlame(reads: reads, sources: sources, spans: html != nil, percentiles: format == .json,
                         concurrently: ImageFiles.concurrently)
    }

    /// The report on standard output, in the chosen format.
    func emit(_ model: ReportModel, _ sinks: RequestSinks) {
        switch format {
        case .csv:
            var stream = BufferedOutput()
            sinks.csvLines { stream.line($0) }
            stream.flush()
        case .json:
            var stream = BufferedOutput()
            stream.line(ReportJSON.render(model))
            stream.flush()
        case .chrome:
            sinks.finishChrome(model)
        case .text:
            var sections: ReportText.Sections = []
            if latency { sections.insert(.latency) }
            if objects { sections.insert(.objects) }
            if anomalies { sections.insert(.anomalies) }
            if files { sections.insert(.files) }
            if blobs { sections.insert(.blobs) }
            StandardOutput.write(ReportText.render(model, sections: sections))
        }
    }
}

extension ReportFormat: ExpressibleByArgument {}
