import ArgumentParser
import OndemandTraceCore
import SystemCalls

struct OndemandTrace: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ondemand-trace",
        abstract: "Observe on-demand image loading (cachefiles on-demand, fanotify pre-content): record, correlate and time each request.",
        discussion: """
            The kernel traces each on-demand round trip (OPEN/READ/CLOSE sent to the daemon on \
            /dev/cachefiles, its copen and READ_COMPLETE answers) with the cachefiles_ondemand_* \
            tracepoints. This tool reads those traces (trace.dat from trace-cmd or this tool, or \
            tracefs text) and reports what happened.

            Durations: a number with a unit (ns, us, ms, s, m, h); a bare number is seconds, \
            except in report --min-latency, run --slowdown and a time in check --max, which need \
            the unit (a bare number there meant milliseconds or microseconds before).
            Exit status: 0 ok, 1 found (a regression, a failed workload, a failed check), 2 an \
            error (bad usage or input).
            """,
        version: ToolVersion.current,
        subcommands: [Dump.self, Report.self, Record.self, Monitor.self, Doctor.self, Daemon.self, Run.self, Check.self]
    )
}

/// The one entry point: every error, usage errors included, is exit status 2 (argument parser's
/// 64 is not what the help texts promise); `help UNKNOWN` is an error, not the top-level help.
@main
enum Main {
    static func main() {
        OutputDescriptor.reportBrokenPipes()
        let arguments = Array(CommandLine.arguments.dropFirst())
        if let problem = unknownHelpTopic(arguments) {
            printError("ondemand-trace: \(problem)")
            ThisProcess.exit(2)
        }
        do {
            var command = try OndemandTrace.parseAsRoot(arguments)
            try command.run()
            endOutput()
        } catch {
            endOutput()
            let code = OndemandTrace.exitCode(for: error)
            let message = OndemandTrace.fullMessage(for: error)
            if code == .success {
                if !message.isEmpty { StandardOutput.write(message + "\n") }
            } else if !message.isEmpty {
                printError(message)
            }
            ThisProcess.exit(status(for: code, thrown: error))
        }
        ThisProcess.exit(0)
    }

    /// A standard output that failed (a full disk) is an error, whatever the command found.
    static func endOutput() {
        guard let failure = StandardOutput.failure else { return }
        printError("ondemand-trace: \(failure)")
        ThisProcess.exit(2)
    }

    /// A status a command chose (`ExitCode(1)`: found) stands; any other error is 2, argument
    /// parser's usage errors (64) and errors it knows nothing of (1) included.
    static func status(for code: ExitCode, thrown error: Error) -> Int32 {
        if error is ExitCode { return code.rawValue }
        return code == .success ? 0 : 2
    }

    /// `help NAME` where NAME is no subcommand: the problem, one line.
    static func unknownHelpTopic(_ arguments: [String]) -> String? {
        guard arguments.count >= 2, arguments[0] == "help" else { return nil }
        let names = OndemandTrace.configuration.subcommands.map { $0._commandName }
        guard !names.contains(arguments[1]) else { return nil }
        return "help: no command '\(arguments[1])' (commands: \(names.joined(separator: ", ")))"
    }
}
