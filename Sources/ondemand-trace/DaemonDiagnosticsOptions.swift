import ArgumentParser
import OndemandDaemon
import OndemandTraceCore

/// The daemon's diagnostics (docs/daemon-log.md), for `daemon` and for the daemon `run` embeds.
struct DaemonDiagnosticsOptions: ParsableArguments {
    @Flag(help: "Log every request at each stage (picked-up, written, done) with its ids, range, thread and duration.")
    var logRequests = false

    @Option(help: ArgumentHelp("Log a request still in flight after this long (e.g. 2s, 500ms), once per request.", valueName: "duration"))
    var warnAfter: String?

    func validate() throws { _ = try warnAfterNanoseconds() }

    /// `--warn-after 2s` → nanoseconds; a unit is required.
    func warnAfterNanoseconds() throws -> UInt64? {
        guard let warnAfter else { return nil }
        guard let ns = DurationText.nanoseconds(warnAfter, bare: nil), ns > 0 else {
            throw ValidationError("--warn-after '\(warnAfter)': expected a positive duration like 2s or 500ms")
        }
        return ns
    }

    /// Sets them on a daemon's configuration (validated already).
    func apply(to configuration: inout OndemandServer.Configuration) {
        configuration.logRequests = logRequests
        configuration.warnAfter = (try? warnAfterNanoseconds()) ?? nil
    }
}
