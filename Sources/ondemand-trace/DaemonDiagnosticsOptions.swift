import ArgumentParser
import OndemandDaemon
import OndemandTraceCore

/// The daemon's diagnostics (docs/daemon-log.md), for `daemon` and for the daemon `run` embeds.
struct DaemonDiagnosticsOptions: ParsableArguments {
    @Flag(help: "Log every request at each stage (picked-up, written, done) with its ids, range, thread and duration.")
    var logRequests = false

    @Option(help: ArgumentHelp("Log a request still in flight after this long, once per request: \(DurationText.rule(.seconds)) (2s, 500ms).", valueName: "duration"))
    var warnAfter: String?

    func validate() throws { _ = try warnAfterNanoseconds() }

    /// `--warn-after 2s` (or `2`, seconds) → nanoseconds.
    func warnAfterNanoseconds() throws -> UInt64? {
        try warnAfter.map { try durationOption($0, "--warn-after", positive: true) }
    }

    /// Sets them on a daemon's configuration (validated already).
    func apply(to configuration: inout OndemandServer.Configuration) {
        configuration.logRequests = logRequests
        configuration.warnAfter = (try? warnAfterNanoseconds()) ?? nil
    }
}
