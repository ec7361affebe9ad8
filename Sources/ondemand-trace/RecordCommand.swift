import ArgumentParser
import Glibc
import OndemandTraceCore
import TraceRecording

struct Record: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Record the cachefiles events (and daemon markers) into a trace.dat.",
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

            Needs root (or CAP_SYS_ADMIN) and tracefs; `ondemand-trace doctor` checks everything.

            --live prints, every --interval, the READs and OPENs answered in it with their \
            latency percentiles (the report's correlation), and stops after --count lines.

            Examples:
              ondemand-trace record -o boot.dat --duration 30s
              ondemand-trace record -o run.dat -- ./workload.sh
              ondemand-trace record --live --interval 1s --count 10
              ondemand-trace record --events sched:sched_process_exec -- make
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

    @Option(help: ArgumentHelp("Stop after this long: 30 (seconds), 500ms, 10s, 2m, 1h.", valueName: "duration"))
    var duration: String?

    @Option(help: ArgumentHelp("Name of the tracefs instance (default ondemand-trace-<pid>). It must not exist.", valueName: "name"))
    var instance: String?

    @Flag(help: "Print a latency line every --interval while recording (the report's correlation of READs and OPENs).")
    var live = false

    @Option(help: ArgumentHelp("With --live: seconds between lines (or 500ms, 2s...).", valueName: "interval"))
    var interval = "1"

    @Option(help: ArgumentHelp("With --live: stop after this many lines.", valueName: "n"))
    var count: Int?

    @Argument(parsing: .postTerminator, help: ArgumentHelp("A command to run while recording (after --); recording stops when it exits.", valueName: "command"))
    var command: [String] = []

    func validate() throws {
        if let duration, DurationText.nanoseconds(duration) == nil {
            throw ValidationError("--duration '\(duration)' is not a duration (e.g. 30, 500ms, 10s, 2m)")
        }
        if DurationText.nanoseconds(interval) == nil {
            throw ValidationError("--interval '\(interval)' is not a duration (e.g. 1, 500ms, 2s)")
        }
        if let count, count < 1 { throw ValidationError("--count must be at least 1") }
        if count != nil && !live { throw ValidationError("--count needs --live") }
        guard bufferSizeKB >= 4, bufferSizeKB <= 4 << 20 else {
            throw ValidationError("--buffer-size \(bufferSizeKB): give KiB per CPU between 4 and \(4 << 20)")
        }
    }

    func run() throws {
        var eventList = EventSpec.defaults
        if let events {
            do throws(RecordingError) {
                eventList = try EventSpec.parseList(events)
            } catch {
                throw ValidationError(error.message)
            }
        }
        // Signals are taken synchronously with sigtimedwait: blocked before the reader thread
        // exists, so it inherits the mask and no signal can kill us with the instance left behind.
        var signals = sigset_t()
        sigemptyset(&signals)
        for signal in [SIGINT, SIGTERM, SIGHUP, SIGCHLD] { sigaddset(&signals, signal) }
        pthread_sigmask(SIG_BLOCK, &signals, nil)

        var liveLatency: LiveLatency?
        if live {
            liveLatency = try failing { () throws(RecordingError) in
                try LiveLatency(formats: RecordingSession.eventFormats(eventList))
            }
        }
        var options = RecordingOptions(outputPath: output, events: eventList, bufferSizeKB: bufferSizeKB,
                                       clock: clock, instanceName: instance)
        if let liveLatency {
            options.onRecords = { @Sendable records in liveLatency.consume(records) }
        }
        let session = RecordingSession(options: options)
        try failing { () throws(RecordingError) in try session.start() }
        for stale in session.staleInstancesRemoved {
            printError("note: removed stale tracefs instance \(stale) (its recorder is gone)")
        }
        printError("recording \(eventList.map(\.description).joined(separator: ",")) in tracefs instance \(session.instanceName) into \(output)"
                   + (command.isEmpty ? "; Ctrl-C to stop" : ""))

        var child: pid_t?
        if !command.isEmpty {
            do {
                child = try spawn(command)
            } catch {
                session.abandon()
                printError("ondemand-trace: \(error)")
                throw ExitCode(2)
            }
        }
        let started = monotonicNow()
        let deadline = duration.flatMap(DurationText.nanoseconds).map { started + $0 }
        let step = DurationText.nanoseconds(interval) ?? 1_000_000_000
        var nextLine = started + step
        var lines = 0
        var out = BufferedOutput()
        var childStatus: Int32?
        waiting: while true {
            if session.failure != nil { break }
            let now = monotonicNow()
            if let liveLatency, now >= nextLine {
                lines += 1
                let elapsed = String(TimeText.seconds(now - started).dropLast(3))
                out.line(elapsed + "s " + liveLatency.takeWindow().text)
                out.flush()
                nextLine += step
                if let count, lines >= count { break }
            }
            var wait = UInt64(200_000_000)
            if liveLatency != nil { wait = min(wait, nextLine > now ? nextLine - now : 0) }
            if let deadline {
                if now >= deadline { break }
                wait = min(wait, deadline - now)
            }
            var timeout = timespec(tv_sec: Int(wait / 1_000_000_000), tv_nsec: Int(wait % 1_000_000_000))
            var info = siginfo_t()
            let signal = sigtimedwait(&signals, &info, &timeout)
            switch signal {
            case SIGCHLD:
                if let pid = child {
                    var status: Int32 = 0
                    if waitpid(pid, &status, WNOHANG) == pid {
                        childStatus = status
                        break waiting
                    }
                }
            case SIGINT, SIGTERM, SIGHUP:
                if let pid = child { kill(pid, signal) }
                break waiting
            default:
                continue
            }
        }

        let result = try failing { () throws(RecordingError) in try session.stop() }
        if let liveLatency, lines < (count ?? .max) {
            // The part of an interval before the stop, with what the final drain read.
            let elapsed = String(TimeText.seconds(monotonicNow() - started).dropLast(3))
            out.line(elapsed + "s " + liveLatency.finish().text + " (final)")
            out.flush()
        }
        var summary = "wrote \(result.path): \(result.events) records ("
            + result.eventsPerCPU.enumerated().map { "cpu\($0.offset) \($0.element)" }.joined(separator: ", ")
            + "), \(result.fileSize / 1024) KiB"
        if let childStatus {
            summary += "; \(command[0]) " + describeExit(childStatus)
        } else if let child {
            summary += "; \(command[0]) (pid \(child)) is still running"
        }
        printError(summary)
        if result.lostEvents > 0 {
            var perCPU: [String] = []
            for stats in result.cpuStats where stats.lost > 0 || result.missedPerCPU[stats.cpu] > 0 {
                var text = "cpu\(stats.cpu) overrun \(stats.overrun), dropped \(stats.droppedEvents)"
                if stats.commitOverrun > 0 { text += ", commit overrun \(stats.commitOverrun)" }
                if result.missedPerCPU[stats.cpu] > 0 { text += ", missed \(result.missedPerCPU[stats.cpu])" }
                perCPU.append(text)
            }
            printError("warning: the ring buffer lost \(result.lostEvents) events (\(perCPU.joined(separator: "; "))); raise --buffer-size (now \(bufferSizeKB) KiB per CPU)")
        }
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

    func spawn(_ command: [String]) throws -> pid_t {
        do { return try ChildProcess.spawn(command) } catch { throw RecordingError("\(error)") }
    }

    func describeExit(_ status: Int32) -> String {
        let signal = status & 0x7f
        if signal == 0 { return "exited with status \((status >> 8) & 0xff)" }
        return "was killed by signal \(signal)"
    }

    func monotonicNow() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }
}
