import ArgumentParser
import OndemandTraceCore
import SystemCalls
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

    func validate() throws { try Self.validate(formatsDirectory: formatsDirectory) }

    /// `--formats json` where `--format json` was meant: a usage error saying so.
    static func validate(formatsDirectory: String?) throws {
        guard let dir = formatsDirectory, ["text", "json", "csv", "chrome"].contains(dir), !FileSystem.exists(dir) else { return }
        throw ValidationError("--formats takes a directory of format files, and there is no '\(dir)': did you mean --format \(dir)?")
    }

    func textFormats() throws -> [EventLayout]? {
        try formatsDirectory.map(Self.loadFormats)
    }

    static func loadFormats(_ directory: String) throws -> [EventLayout] {
        try FormatDirectory.load(directory)
    }
}
