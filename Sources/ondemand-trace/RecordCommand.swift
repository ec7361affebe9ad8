import ArgumentParser
import SystemCalls
import OndemandTraceCore
import TraceRecording

struct Record: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Record the on-demand path's events (cachefiles or fanotify pre-content, and daemon markers) into a trace.dat.",
        discussion: """
            A private tracefs instance (ondemand-trace-<pid>) gets its own ring buffers, clock and \
            events, so nobody else's tracing is touched; it is removed when recording ends, on \
            Ctrl-C or SIGTERM, and by the next start if this process was killed. The output is a \
            trace.dat (file version 6) that `ondemand-trace report`/`dump`, `trace-cmd report` and \
            KernelShark read. It is written beside the output and renamed into place when \
            complete, so an interrupted write never leaves a file that looks whole.

            Recording stops after --duration, on Ctrl-C/SIGTERM (all that was read is kept), or \
            when the command given after `--` exits. Events the kernel lost (the instance's \
            per_cpu/cpuN/stats: overrun, dropped) are stored in the file and reported.

            Crash-safe: while recording, what has been drained is kept beside the output as \
            OUTPUT.meta (the formats and metadata, written first) and OUTPUT.cpuN (each CPU's \
            pages, written after every drain and synced to disk every second). If the recorder \
            is killed (kill -9, the OOM killer, a lost session), `record --recover OUTPUT` \
            assembles OUTPUT from them, says how much and from when to when, and removes them: \
            a kill loses nothing that was drained (at most the last 0.1 s still in the ring \
            buffer), a power loss at most the last second. A normal end leaves only OUTPUT; a \
            new recording to OUTPUT refuses to start over unrecovered pieces.

            Needs root (or CAP_SYS_ADMIN) and tracefs; `ondemand-trace doctor` checks everything.

            Every fscache cookie alive while recording is named in the file (one `odt1 cookie` \
            line: its volume and cookie key), so `report` names each object's blob even for a \
            daemon that writes no markers (--no-cookie-keys: not).

            --live prints, every --interval, the READs and OPENs answered in it with their \
            latency percentiles (the report's correlation), and stops after --count lines.

            Examples:
              ondemand-trace record -o boot.dat --duration 30s
              ondemand-trace record -o run.dat -- ./workload.sh
              ondemand-trace record --live --interval 1s --count 10
              ondemand-trace record --events sched:sched_process_exec -- make
              ondemand-trace record --recover boot.dat
            """
    )

    @Option(name: .shortAndLong, help: ArgumentHelp("The trace.dat to write.", valueName: "file"))
    var output = "ondemand.dat"

    @Option(help: ArgumentHelp(
        "Events to record, comma-separated: system (all its events) or system:event. Markers (ftrace:print) are always recorded. Default: cachefiles,ftrace:print.",
        valueName: "list"))
    var events: String?

    @Option(name: .customLong("buffer-size"), help: ArgumentHelp("Ring-buffer size per CPU, in KiB.", valueName: "KiB"))
    var bufferSizeKB = RecordingOptions.defaultBufferSizeKB

    @Option(help: ArgumentHelp("Trace clock (see tracefs trace_clock); mono lines up with CLOCK_MONOTONIC.", valueName: "clock"))
    var clock = RecordingOptions.defaultClock

    @Option(help: ArgumentHelp("Stop after this long: \(DurationText.rule(.seconds)) (30, 500ms, 2m).", valueName: "duration"))
    var duration: String?

    @Option(help: ArgumentHelp("Name of the tracefs instance (default ondemand-trace-<pid>). It must not exist.", valueName: "name"))
    var instance: String?

    @Flag(help: "Print a latency line every --interval while recording (the report's correlation of READs and OPENs).")
    var live = false

    @Option(help: ArgumentHelp("With --live: the time between lines: \(DurationText.rule(.seconds)) (1, 500ms).", valueName: "interval"))
    var interval = "1"

    @Option(help: ArgumentHelp("With --live: stop after this many lines.", valueName: "n"))
    var count: Int?

    @Flag(inversion: .prefixedNo, help: "Name the objects: poll /proc/fs/fscache/cookies and volumes every 20 ms and write each cookie's volume and cookie key into the recording (docs/markers.md), for daemons that write no markers.")
    var cookieKeys = true

    @Option(help: ArgumentHelp(
        "Which on-demand path to record: cachefiles (cachefiles_ondemand_* tracepoints, Linux 5.19-7.1), fanotify (pre-content events through kprobes, 6.14+; docs/fanotify.md) or auto (cachefiles where the kernel has it, else fanotify). With --events and no --backend: only those events.",
        valueName: "auto|cachefiles|fanotify"))
    var backend: BackendChoice?

    @Option(help: ArgumentHelp("Assemble the trace.dat a killed recorder left in pieces beside this output (OUTPUT.meta, OUTPUT.cpuN), then remove them; record nothing.", valueName: "output"))
    var recover: String?

    @Flag(name: .customLong("no-crash-safe"), help: "Hold the pages in unlinked temporary files, as record did before the pieces: a kill leaves nothing to recover (bench/record-bench.sh compares the cost).")
    var notCrashSafe = false

    @Argument(parsing: .postTerminator, help: ArgumentHelp("A command to run while recording (after --); recording stops when it exits.", valueName: "command"))
    var command: [String] = []

    func validate() throws {
        if let duration { _ = try durationOption(duration, "--duration", positive: true) }
        _ = try durationOption(interval, "--interval", positive: true)
        if let count, count < 1 { throw ValidationError("--count must be at least 1") }
        if count != nil && !live { throw ValidationError("--count needs --live") }
        if recover != nil, live || duration != nil || !command.isEmpty || events != nil {
            throw ValidationError("--recover assembles a killed recording's pieces: it takes no --live, --duration, --events or command")
        }
        guard bufferSizeKB >= 4, bufferSizeKB <= 4 << 20 else {
            throw ValidationError("--buffer-size \(bufferSizeKB): give KiB per CPU between 4 and \(4 << 20)")
        }
    }

    func run() throws {
        if let recover {
            let result = try failing { () throws(RecordingError) in try RecordingRecovery.recover(output: recover) }
            printError(result.summary)
            return
        }
        let backend = try resolvedBackend()
        let given = try events.map { list in
            do throws(RecordingError) { return try EventSpec.parseList(list) } catch { throw ValidationError(error.message) }
        }
        RecordLoop.blockSignals()
        let live = self.live ? LiveLatency() : nil
        let session = RecordingSession(options: recordingOptions(events: given ?? (backend == .fanotify ? [EventSpec.marker] : EventSpec.defaults),
                                                                 backend: backend, live: live))
        try failing { () throws(RecordingError) in try session.start() }
        printNotes(session)
        var out = BufferedOutput()
        let loop = RecordLoop(session: session, live: live,
                              options: .init(duration: duration.flatMap { DurationText.nanoseconds($0) },
                                             liveInterval: self.live ? DurationText.nanoseconds(interval) : nil,
                                             liveCount: count, command: command,
                                             cookiePollInterval: cookieKeys ? 20_000_000 : nil),
                              line: { out.line($0); out.flush(); return StandardOutput.isWritable })
        let outcome = try failing { () throws(RecordingError) in try loop.run() }
        printError(summary(outcome))
        if let warning = lostWarning(outcome.result) { printError(warning) }
    }

    /// The options as the recording's (validated already).
    func recordingOptions(events: [EventSpec], backend: Backend?, live: LiveLatency?) -> RecordingOptions {
        var options = RecordingOptions(outputPath: output, events: events, bufferSizeKB: bufferSizeKB, clock: clock, instanceName: instance)
        options.fanotifyProbes = backend == .fanotify
        options.crashSafe = !notCrashSafe
        if let live {
            // The decoder is made from what is recorded, probes included, once they exist.
            options.onFormats = { @Sendable formats throws(RecordingError) in try live.use(formats: formats) }
            options.onRecords = { @Sendable records in live.consume(records) }
        }
        return options
    }

    /// What the start cleaned up or could not create, and what is recorded where.
    func printNotes(_ session: RecordingSession) {
        for stale in session.staleInstancesRemoved {
            printError("note: removed stale tracefs instance \(stale) (its recorder is gone)")
        }
        for stale in session.staleProbeGroupsRemoved {
            printError("note: removed stale kprobe events \(stale)/* (their recorder is gone)")
        }
        for (definition, reason) in session.probesRefused {
            printError("note: kprobe '\(definition)' not created: \(reason); its stage is reported absent")
        }
        printError("recording \(session.events.map(\.description).joined(separator: ",")) in tracefs instance \(session.instanceName) into \(output)"
                   + (command.isEmpty ? "; Ctrl-C to stop" : ""))
    }

    /// "wrote FILE: N records (cpu0 …), K KiB; COMMAND exited with status 0".
    func summary(_ outcome: RecordLoop.Outcome) -> String {
        let result = outcome.result
        var text = "wrote \(result.path ?? output): \(result.events) records ("
            + result.eventsPerCPU.enumerated().map { "cpu\($0.offset) \($0.element)" }.joined(separator: ", ")
            + "), \(result.fileSize / 1024) KiB"
        if let status = outcome.childStatus {
            text += "; \(command[0]) " + ChildProcess.describe(status)
        } else if let child = outcome.child {
            text += "; \(command[0]) (pid \(child)) is still running"
        }
        return text
    }

    /// The warning when the ring buffer lost events, with the numbers per CPU.
    func lostWarning(_ result: RecordingResult) -> String? {
        guard result.lostEvents > 0 else { return nil }
        var perCPU: [String] = []
        for stats in result.cpuStats where stats.lost > 0 || result.missedPerCPU[stats.cpu] > 0 {
            var text = "cpu\(stats.cpu) overrun \(stats.overrun), dropped \(stats.droppedEvents)"
            if stats.commitOverrun > 0 { text += ", commit overrun \(stats.commitOverrun)" }
            if result.missedPerCPU[stats.cpu] > 0 { text += ", missed \(result.missedPerCPU[stats.cpu])" }
            perCPU.append(text)
        }
        return "warning: the ring buffer lost \(result.lostEvents) events (\(perCPU.joined(separator: "; "))); raise --buffer-size (now \(bufferSizeKB) KiB per CPU)"
    }

    /// The backend asked for, `auto` resolved on this kernel; nil: only the events given.
    func resolvedBackend() throws -> Backend? {
        switch backend {
        case nil: return events == nil ? try failing { () throws(RecordingError) in try Self.detect() } : nil
        case .auto?: return try failing { () throws(RecordingError) in try Self.detect() }
        case .cachefiles?: return .cachefiles
        case .fanotify?: return .fanotify
        }
    }

    static func detect() throws(RecordingError) -> Backend {
        _ = try Tracefs.directory()
        guard let found = OndemandPaths.detect() else {
            throw RecordingError("this kernel offers no on-demand path to record: no cachefiles_ondemand_* events (CONFIG_CACHEFILES_ONDEMAND) and no fanotify pre-content hook with kprobe events (6.14+, CONFIG_FANOTIFY_ACCESS_PERMISSIONS, CONFIG_KPROBE_EVENTS); see `ondemand-trace doctor`, or record other events with --events")
        }
        return found
    }

    /// A recording error: one line, exit status 2.
    func failing<T>(_ body: () throws(RecordingError) -> T) throws -> T {
        do {
            return try body()
        } catch {
            printError("ondemand-trace: \(error)")
            throw ExitCode(2)
        }
    }
}

/// `--backend`: a kernel path, or `auto`.
enum BackendChoice: String, ExpressibleByArgument, CaseIterable {
    case auto, cachefiles, fanotify
}
