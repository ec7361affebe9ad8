import ArgumentParser
import Monitoring
import OndemandTraceCore
import TraceRecording

struct Monitor: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "monitor",
        abstract: "Watch the on-demand requests continuously and serve them as Prometheus metrics.",
        discussion: """
            Records the cachefiles on-demand events in a private tracefs instance (as `record` \
            does), correlates them as `report` does, and serves the figures on http://ADDR:PORT/metrics \
            (Prometheus text format; OpenMetrics when the scraper asks for it) until SIGINT or \
            SIGTERM, which remove the instance. Memory follows the requests in flight, not the time \
            running. The daemon may restart and the cache be rebound under it: a released fd's \
            requests are settled, new objects are counted as they come.

            Metrics (names fixed; docs/monitoring.md and contrib/ use them):
              ondemand_read_latency_seconds{blob}    histogram: READ to its cread
              ondemand_read_requests_total{blob}     READs handled (answered/settled)
              ondemand_read_bytes_total{blob}        bytes the READs asked for
              ondemand_open_requests_total{blob}     OPENs handled
              ondemand_open_latency_seconds{blob}    histogram: OPEN to its copen
              ondemand_requests_in_flight{op}        READs/OPENs waiting now
              ondemand_oldest_in_flight_seconds{op}  how long the oldest has waited
              ondemand_anomalies_total{kind}         as `report` names them
              ondemand_lost_events_total             ring-buffer losses
              ondemand_monitor_info{kernel,version}  1
            `blob` is the cookie key (the fsid or device= tag); the first --max-blobs blobs keep \
            their name, later ones count under blob="other", unknown ones have no blob label.

            A request in flight longer than --hung-after is logged once on stderr (object, blob, \
            range, age, reader) and shows in ondemand_oldest_in_flight_seconds while it lasts.

            With -o, the file being filled is kept in pieces in DIR (monitor-current.meta, \
            monitor-current.cpuN) until it is rotated: written after every drain (0.1 s) and \
            synced every second. A killed monitor (kill -9, OOM) loses nothing it had drained, at \
            most the last 0.1 s still in the ring buffer; a power loss at most the current file's \
            last second (its unsynced tail). The next `monitor -o DIR` assembles the pieces into \
            a rotated file first (or: ondemand-trace record --recover DIR/monitor-current).

            Needs root (or CAP_SYS_ADMIN), tracefs and a kernel with CONFIG_CACHEFILES_ONDEMAND.

            Examples:
              ondemand-trace monitor
              ondemand-trace monitor --listen 0.0.0.0:9464 --hung-after 10s
              ondemand-trace monitor -o /var/lib/odt --rotate-size 256MiB --keep 8
            """
    )

    @Option(help: ArgumentHelp("Where to serve /metrics: ADDR:PORT, [IPv6]:PORT; port 0 picks a free one.", valueName: "addr:port"))
    var listen = ListenAddress.defaultText

    @Option(name: .customLong("hung-after"), help: ArgumentHelp("Log a request in flight longer than this: \(DurationText.rule(.seconds)) (5s, 500ms, 2m).", valueName: "duration"))
    var hungAfter = "5s"

    @Option(name: .customLong("max-blobs"), help: ArgumentHelp("Blobs with a label of their own; the rest count under blob=\"other\".", valueName: "n"))
    var maxBlobs = 32

    @Option(name: .shortAndLong, help: ArgumentHelp("Also keep the recording as rotated trace.dat files in this directory (monitor-<UTC time>.dat).", valueName: "dir"))
    var output: String?

    @Option(name: .customLong("rotate-size"), help: ArgumentHelp("With -o: start a new file when the recorded pages reach this size (KiB, MiB, GiB; bare: MiB).", valueName: "size"))
    var rotateSize = "64MiB"

    @Option(help: ArgumentHelp("With -o: keep this many files, removing the oldest.", valueName: "n"))
    var keep = 8

    @Option(name: .customLong("buffer-size"), help: ArgumentHelp("Ring-buffer size per CPU, in KiB.", valueName: "KiB"))
    var bufferSizeKB = RecordingOptions.defaultBufferSizeKB

    @Option(help: ArgumentHelp("Name of the tracefs instance (default ondemand-trace-<pid>). It must not exist.", valueName: "name"))
    var instance: String?

    @Flag(inversion: .prefixedNo, help: "Name the objects of daemons that write no markers: poll /proc/fs/fscache/cookies every 100 ms.")
    var cookieKeys = true

    func validate() throws {
        if case .failure(let error) = ListenAddress.parse(listen) { throw ValidationError("--listen \(error)") }
        _ = try durationOption(hungAfter, "--hung-after", positive: true)
        guard maxBlobs >= 0, maxBlobs <= 10_000 else { throw ValidationError("--max-blobs must be between 0 and 10000") }
        guard ByteSizeText.bytes(rotateSize, bare: 1 << 20).map({ $0 >= 1 << 20 }) ?? false else {
            throw ValidationError("--rotate-size '\(rotateSize)' is not a size of at least 1 MiB (e.g. 64MiB, 1GiB)")
        }
        guard keep >= 1 else { throw ValidationError("--keep must be at least 1") }
        if output == nil, keep != 8 || rotateSize != "64MiB" { throw ValidationError("--rotate-size and --keep need -o DIR") }
        guard bufferSizeKB >= 4, bufferSizeKB <= 4 << 20 else {
            throw ValidationError("--buffer-size \(bufferSizeKB): give KiB per CPU between 4 and \(4 << 20)")
        }
    }

    func run() throws {
        do throws(MonitorError) {
            try Monitoring.Monitor(options: options(), log: { printError($0) }).run()
        } catch {
            printError("ondemand-trace: \(error)")
            throw ExitCode(2)
        }
    }

    /// The options as the monitor's (validated already).
    func options() -> Monitoring.Monitor.Options {
        guard case .success(let address) = ListenAddress.parse(listen) else { preconditionFailure("--listen validated") }
        let rotation = output.map { TraceRotation(directory: $0, maxBytes: ByteSizeText.bytes(rotateSize, bare: 1 << 20)!, keep: keep,
                                                   onFile: { printError("monitor: wrote \($0)") }) }
        return Monitoring.Monitor.Options(listen: address, hungAfter: DurationText.nanoseconds(hungAfter)!,
                                          maxBlobs: maxBlobs, rotation: rotation, bufferSizeKB: bufferSizeKB,
                                          instanceName: instance, cookieKeys: cookieKeys)
    }
}
