import ArgumentParser
import OndemandTraceCore

@main
struct OndemandTrace: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ondemand-trace",
        abstract: "Observe the kernel's cachefiles on-demand mode: decode, correlate and time its requests.",
        discussion: """
            The kernel traces each on-demand round trip (OPEN/READ/CLOSE sent to the daemon on \
            /dev/cachefiles, its copen and READ_COMPLETE answers) with the cachefiles_ondemand_* \
            tracepoints. This tool reads those traces (trace.dat from trace-cmd or this tool, or \
            tracefs text) and reports what happened.
            """,
        version: ToolVersion.current,
        subcommands: [Dump.self, Report.self, Record.self, MonitorCommand.self, Doctor.self, Daemon.self, Run.self, Check.self]
    )
}
