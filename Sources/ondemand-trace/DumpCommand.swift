import ArgumentParser
import OndemandTraceCore
import TraceFiles

struct Dump: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the decoded on-demand events of a trace, one per line.",
        discussion: """
            Every cachefiles_ondemand_* record becomes one line with its timestamp (seconds of \
            the trace clock), CPU, task and every field by its kernel name. A field this kernel's \
            format lacks prints as '-' (JSON: null), never as 0. On 6.8+ kernels msg_id and \
            object_id read 0 in open/read/close records: that is what the kernel recorded.

            Examples:
              ondemand-trace dump trace.dat
              ondemand-trace dump --all --format json trace.dat | jq .
              cat /sys/kernel/tracing/trace | ondemand-trace dump -
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json }

    @OptionGroup var input: TraceFileOptions

    @Option(help: "Output format: text (aligned lines) or json (one object per line).")
    var format: Format = .text

    @Flag(help: "Include the other cachefiles events and ftrace:print markers.")
    var all = false

    func run() throws {
        var out = BufferedOutput()
        let summary = try reportingInputErrors {
            let formats = try input.textFormats()
            return try TraceInput.read(path: input.path, selection: all ? .all : .ondemand, textFormats: formats) { item in
                guard case .event(let event) = item else { return }
                if format == .json { out.line(EventFormatting.json(event)) } else { out.append { EventFormatting.appendLine(event, to: &$0) } }
            }
        }
        out.flush()
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
