import ArgumentParser
import OndemandTraceCore
import TraceFiles

struct Dump: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump",
        abstract: "Print the decoded on-demand events of a trace, one per line.",
        discussion: """
            Every cachefiles_ondemand_* record becomes one line with its timestamp (seconds of \
            the trace clock), CPU, task and every field by its kernel name. A field this kernel's \
            format lacks prints as '-' (JSON: null; CSV: empty), never as 0. On 6.8+ kernels msg_id \
            and object_id read 0 in open/read/close records: that is what the kernel recorded.

            CSV: a header line, then one row per event: event,ts_ns,ts,cpu,pid,comm and a column \
            per field name of the selected events (the union over their formats; empty when an \
            event lacks the field), quoted per RFC 4180, and a last column other_fields with \
            the fields that have none as name=value (text input's events without a format).

            Examples:
              ondemand-trace dump trace.dat
              ondemand-trace dump --all --format json trace.dat | jq .
              ondemand-trace dump --format csv trace.dat > events.csv
              cat /sys/kernel/tracing/trace | ondemand-trace dump -
            """
    )

    @OptionGroup var input: TraceFileOptions

    @Option(help: "Output format: text (aligned lines), json (one object per line) or csv (a header, a row per event).")
    var format: EventLineWriter.Format = .text

    @Flag(help: "Include the other cachefiles events and ftrace:print markers.")
    var all = false

    func run() throws {
        let read = try reportingFileErrors {
            try TraceDump.write(path: input.path, selection: all ? .all : [.ondemand, .fanotify], format: format,
                                textFormats: try input.textFormats())
        }
        // nil: the output was closed (`| head`): nothing more to say.
        guard let summary = read else { return }
        if summary.ondemandEvents == 0 {
            printError("ondemand-trace: \(TraceReport.noOndemandEvents(summary))")
            throw ExitCode(2)
        }
        if summary.recordsWithoutFormat > 0 {
            printError("warning: \(summary.recordsWithoutFormat) record(s) of \(summary.path) belong to events the file has no usable format for; they were not decoded")
        }
        if summary.unparsedLines > 0 {
            printError("note: \(summary.unparsedLines) line(s) of \(summary.path) were not trace events and were skipped (first: line \(summary.firstUnparsedLine ?? 0))")
        }
    }
}

extension EventLineWriter.Format: ExpressibleByArgument {}
