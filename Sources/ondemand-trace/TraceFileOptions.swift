import ArgumentParser
import OndemandTraceCore
import TraceFiles

/// The input options every command that reads a trace shares.
struct TraceFileOptions: ParsableArguments {
    @Argument(help: ArgumentHelp(
        "A trace: trace.dat (trace-cmd or `ondemand-trace record`, file version 6 or 7), tracefs text (`trace`, `trace_pipe`) or `trace-cmd report` output; `-` reads text from standard input.",
        valueName: "trace-file"))
    var path: String

    @Option(name: .customLong("formats"), help: ArgumentHelp(
        "For text input: a directory of the traced kernel's format files (`events/cachefiles/*/format`), when its print formats differ from 6.12's.",
        valueName: "dir"))
    var formatsDirectory: String?

    func textFormats() throws -> [EventLayout]? {
        try formatsDirectory.map(Self.loadFormats)
    }

    static func loadFormats(_ directory: String) throws -> [EventLayout] {
        try FormatDirectory.load(directory)
    }
}
