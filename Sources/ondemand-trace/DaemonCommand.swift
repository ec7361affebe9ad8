import ArgumentParser
import SystemCalls
import OndemandDaemon
import OndemandTraceCore

struct Daemon: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "daemon",
        abstract: "Serve EROFS images on demand: a cachefiles on-demand daemon, or (--fanotify) a fanotify pre-content one.",
        discussion: """
            Binds CACHE-DIR in on-demand mode on /dev/cachefiles and answers the kernel's \
            requests: OPEN for fsid F is served from the file SOURCE-DIR/F (an EROFS image), READ \
            copies the range into the object's anonymous fd and completes it, CLOSE closes the \
            fds. Keys that could name a path outside SOURCE-DIR ('/', '..', NUL, control \
            characters) are refused with EINVAL; a missing blob with ENOENT. Runs until SIGTERM \
            or SIGINT. Needs root, a kernel with CONFIG_CACHEFILES_ONDEMAND, and a cache \
            directory on ext4 or xfs (not tmpfs).

            Fault and latency injection (--fault, repeatable; READs and OPENs count from 1; a \
            delay is a number with a unit ns, us, ms, s, m or h, a bare number is seconds):
              delay=10ms               each READ waits 10 ms before its data is written
              delay=1ms..5ms,seed=7    a reproducible random delay per READ
              delay=2ms,after-write    wait between the data write and the completion
              delay=20ms,every=3       only the 3rd, 6th, ... READ
              never-answer,nth=5       the 5th READ is never completed
              no-data,every=4          every 4th READ is completed without data
              open-error=EIO           every OPEN is refused with -EIO (the mount fails)
              exit,nth=10              the daemon exits when it picks up the 10th READ
            Each injected fault is logged and, when recording, marked.

            Failover (6.8+ kernels): a parent holds /dev/cachefiles open and passes it down; when \
            the daemon dies, a new one started with --devnode-fd N --restore serves the requests \
            the dead one had taken, and the readers never see an error:
              exec 3<>/dev/cachefiles
              ondemand-trace daemon --devnode-fd 3 --cache-dir /cache --source-dir blobs &
              # ... the daemon dies ...
              ondemand-trace daemon --devnode-fd 3 --restore --cache-dir /cache \\
                  --source-dir blobs &

            With --marker-file (a tracefs instance's trace_marker), each stage of each request \
            is written as an 'odt1 ...' line (docs/markers.md) into the same ring buffer as the \
            kernel's cachefiles events.

            Where is it stuck? (the log lines: docs/daemon-log.md)
              --log-requests     a line per stage of every request (picked-up,
                                 written, done): msg, oid, off, len, worker,
                                 tid, elapsed_us
              --warn-after 2s    a 'request slow' line for a request in flight
                                 longer than 2 s, once; then its later stages
              kill -USR1 PID     'in-flight' lines: the requests picked up and
                                 not answered (stage, age, the worker holding
                                 each), each worker's state, whether the
                                 devnode offers a request nobody took; a
                                 separate thread answers, even when every
                                 worker is blocked

            fanotify pre-content mode (--fanotify, Linux 6.14+; the only on-demand path from \
            7.2 on): marks --image-file, a sparse copy of the image on ext4, xfs or btrfs \
            (truncate -s SIZE), for FAN_PRE_ACCESS and fills each range the kernel asks for \
            from --source, then answers FAN_ALLOW; a range already present (SEEK_DATA) is \
            answered at once. Mount the image file itself, file-backed, once --ready-file exists \
            (mount(2) with the file as source; busybox mount sets up a loop device, whose reads \
            bypass the hook). Faults as above (READ = a pre-content event), plus:
              deny=EIO,every=25        answer FAN_DENY with EIO: the reader's read fails
            --log-requests logs every event with its range, answer, bytes, time and file; \
            --warn-after D an event unanswered longer than D, once; kill -USR1 PID the events \
            read and not answered, with their age. Bootstrap + blobs (Nydus v3, \
            mkfs.erofs --blobdev): give each blob's sparse file and full blob as a pair, \
            --blob-file SPARSE --blob-source FULL, repeated in the image's device order; all \
            files are marked before --ready-file exists; mount the image file with \
            -o device=SPARSE per blob (EROFS opens each as a file, read through the same hook). \
            With --marker-file each file's name (the source's file name) and each injected fault \
            are written into the recording (docs/markers.md), for the report's blob names and \
            faults.

            Examples:
              mkfs.erofs blobs/img1 rootdir/
              ondemand-trace daemon --cache-dir /var/cache/od --source-dir blobs &
              mount -t erofs none -o fsid=img1 /mnt/img
              ondemand-trace daemon --cache-dir /cache --source-dir blobs \\
                  --threads 4 --fault delay=10ms \\
                  --marker-file /sys/kernel/tracing/instances/x/trace_marker
              truncate -s $(stat -c %s img.erofs) /cache/img.sparse
              ondemand-trace daemon --fanotify --image-file /cache/img.sparse \
                  --source img.erofs --ready-file /tmp/ready &
              ondemand-trace daemon --fanotify --image-file /cache/boot.sparse \
                  --source boot.erofs --blob-file /cache/data.sparse \
                  --blob-source data.blob --ready-file /tmp/ready &
              # then: mount(2) /cache/boot.sparse, erofs, "device=/cache/data.sparse"
            """
    )

    @Option(help: ArgumentHelp("The cachefiles cache directory (on ext4/xfs).", valueName: "cache-dir"))
    var cacheDir: String?

    @Option(help: ArgumentHelp("The directory of blobs: one EROFS image per fsid, named after it.", valueName: "source-dir"))
    var sourceDir: String?

    @Flag(help: "Serve as a fanotify pre-content daemon (--image-file, --source) instead of on /dev/cachefiles.")
    var fanotify = false

    @Option(help: ArgumentHelp("With --fanotify: the sparse image file to mark and fill (on ext4, xfs or btrfs).", valueName: "file"))
    var imageFile: String?

    @Option(help: ArgumentHelp("With --fanotify: the full image the ranges are copied from.", valueName: "file"))
    var source: String?

    @Option(name: .customLong("blob-file"), help: ArgumentHelp("With --fanotify: a data blob's sparse file to mark and fill (bootstrap + blobs); repeatable, one per --blob-source, in the image's device order.", valueName: "file"))
    var blobFiles: [String] = []

    @Option(name: .customLong("blob-source"), help: ArgumentHelp("With --fanotify: the full blob a --blob-file is filled from (the n-th for the n-th).", valueName: "file"))
    var blobSources: [String] = []

    @Option(help: "The cache tag.")
    var tag = "ondemand-trace"

    @Option(help: "Requests served concurrently.")
    var threads = 1

    @Option(name: .customLong("fault"), help: ArgumentHelp("A fault to inject (see above); repeatable.", valueName: "spec"))
    var faults: [String] = []

    @Option(help: ArgumentHelp("Write request markers to this trace_marker file (--fanotify: file names and faults).", valueName: "path"))
    var markerFile: String?

    @Option(help: ArgumentHelp("Append the log here instead of standard error.", valueName: "file"))
    var log: String?

    @Option(help: ArgumentHelp("Create this file once bound (for scripts waiting for the daemon).", valueName: "file"))
    var readyFile: String?

    @Option(help: ArgumentHelp("The cachefiles devnode.", valueName: "path"))
    var devnode = "/dev/cachefiles"

    @Option(help: ArgumentHelp("Use this inherited /dev/cachefiles fd (held open by a parent across daemon restarts) instead of opening the devnode.", valueName: "fd"))
    var devnodeFd: Int32?

    @OptionGroup var diagnostics: DaemonDiagnosticsOptions

    @Flag(help: "Failover: the inherited devnode (--devnode-fd) is already bound by a daemon that died; send 'restore' so the kernel re-sends its unanswered requests.")
    var restore = false

    func validate() throws {
        if threads < 1 { throw ValidationError("--threads must be at least 1") }
        if fanotify {
            guard imageFile != nil, source != nil else { throw ValidationError("--fanotify needs --image-file and --source") }
            if blobFiles.count != blobSources.count {
                throw ValidationError("--blob-file and --blob-source go in pairs: \(blobFiles.count) --blob-file, \(blobSources.count) --blob-source")
            }
            for (given, name) in [(cacheDir != nil, "--cache-dir"), (sourceDir != nil, "--source-dir"),
                                  (devnodeFd != nil, "--devnode-fd"), (restore, "--restore")] where given {
                throw ValidationError("\(name) is for the cachefiles daemon, not --fanotify")
            }
        } else {
            guard cacheDir != nil, sourceDir != nil else { throw ValidationError("give --cache-dir and --source-dir (or --fanotify with --image-file and --source)") }
            if imageFile != nil || source != nil || !blobFiles.isEmpty || !blobSources.isEmpty {
                throw ValidationError("--image-file, --source, --blob-file and --blob-source need --fanotify")
            }
            if faults.contains(where: { $0.hasPrefix("deny") }) { throw ValidationError("--fault deny is a fanotify answer: it needs --fanotify") }
        }
        if restore && devnodeFd == nil { throw ValidationError("--restore needs --devnode-fd: the devnode the previous daemon bound") }
        do { _ = try FaultPlan.parse(faults) } catch { throw ValidationError(error.description) }
    }

    func run() throws {
        if fanotify { return try runFanotify() }
        var configuration = OndemandServer.Configuration(cacheDirectory: cacheDir!, sourceDirectory: sourceDir!)
        configuration.tag = tag
        configuration.threads = threads
        configuration.faults = try FaultPlan.parse(faults)
        configuration.markerPath = markerFile
        configuration.devnode = devnode
        configuration.inheritedDevnodeFD = devnodeFd
        configuration.restore = restore
        diagnostics.apply(to: &configuration)
        let server = try started { log throws(DaemonError) in try OndemandServer(configuration, log: log) }
        _ = server.serve()
    }

    /// Marks and serves until SIGTERM/SIGINT (or an exit fault).
    private func runFanotify() throws {
        var configuration = FanotifyServer.Configuration(imageFile: imageFile!, source: source!)
        configuration.blobs = zip(blobFiles, blobSources).map { FanotifyServer.Configuration.Blob(file: $0, source: $1) }
        configuration.markerPath = markerFile
        configuration.threads = threads
        configuration.faults = try FaultPlan.parse(faults)
        configuration.logRequests = diagnostics.logRequests
        configuration.warnAfter = try diagnostics.warnAfterNanoseconds()
        let signals = FanotifyServer.blockStopSignals()
        let server = try started { log throws(DaemonError) in try FanotifyServer(configuration, log: log) }
        server.start()
        let byFault = server.waitForStop(signals: signals)
        server.stop()
        if byFault { throw ExitCode(1) }
    }

    /// The server made with the log (--log, or standard error), the ready file created; any
    /// failure is one line, exit 2.
    private func started<Server>(_ make: (DaemonLog) throws(DaemonError) -> Server) throws -> Server {
        do {
            let daemonLog = try log.map { path throws(DaemonError) in try DaemonLog(path: path) } ?? DaemonLog()
            let server = try make(daemonLog)
            if let readyFile { try touch(readyFile) }
            return server
        } catch {
            printError("ondemand-trace daemon: \(error)")
            throw ExitCode(2)
        }
    }

    private func touch(_ path: String) throws(DaemonError) {
        do { try Descriptor.open(path, .write, [.create, .truncate]).close() } catch {
            throw DaemonError("\(path): cannot create the ready file: \(describeErrno(error.errno))")
        }
    }
}
