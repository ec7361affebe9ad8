import ArgumentParser
import MeasuredRun
import OndemandDaemon
import OndemandTraceCore
import SystemCalls
import TraceFiles
import TraceRecording

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Serve an EROFS image on demand, mount it, drive reads, and record and report them.",
        discussion: """
            One command for a measured run: starts a recording (a private tracefs instance), the \
            embedded daemon with its markers going into that recording, mounts the image with \
            `mount -t erofs none -o fsid=FSID`, runs the workload, unmounts, stops the daemon and \
            the recording, and writes the trace.dat and the JSON report (the same document as \
            `report --format json`).

            The built-in workload reads every file of the image once (--order sequential or \
            random block offsets, --readers N at once); with --expect DIR every byte is compared \
            with the same file under DIR. A command after `--` runs instead, in the mount point \
            (also in $ONDEMAND_MOUNT). Exit status: 0 when the workload and verification \
            succeeded, 1 when one of them failed (the trace and report are still written), 2 when \
            the run could not be set up (bad input, no cachefiles, a daemon that never bound a \
            cache, a mount the kernel refused).

            Repeated runs: --repeat N makes N measured runs after --warmup runs (default 1) that \
            are not counted, each with a fresh daemon and its own cache directory DIR/run-N \
            (removed after the run) and trace (run.dat -> run-1.dat, ...). The report (schema 2) \
            holds each run's figures in `runs` and the pooled ones at the top level: `check` \
            compares the runs of two such reports, the run as the unit. --passes P reads the \
            image P times per run, each pass mounted with a fresh fsid (FSID-pass1, ...) so the \
            daemon serves it again. With --preset regression or --repeat, the daemon's threads \
            are pinned to the last CPU and the readers to the others (--no-pin to leave them).

            Bootstrap + blobs (Nydus-style images, `mkfs.erofs --blobdev`): each --blob FILE is \
            served beside the image and mounted as device=TAG (the file's name, or TAG=FILE), in \
            the image's device order; --domain ID mounts with domain_id=ID, where images share \
            their blobs. Another daemon (nydusd, or yours): --daemon-command 'CMD' starts it per \
            run with `sh -c` and waits until it has bound a cache (--daemon-timeout), then stops \
            it with SIGTERM; --no-daemon uses the one already serving. Without our markers the \
            report joins requests by range; everything else (recording, workload, --expect, \
            --repeat, --baseline) is the same. A mount the kernel refuses is exit 2, with the \
            kernel log's reason.

            Needs root, a kernel with CONFIG_CACHEFILES_ONDEMAND and CONFIG_EROFS_FS_ONDEMAND, and \
            for the embedded daemon a cache directory on ext4 or xfs.

            The fanotify pre-content path (--backend fanotify; auto picks it on a kernel without \
            cachefiles on-demand, such as 7.2 and later): each run makes a sparse copy of the \
            image, CACHE-DIR/FSID.img (CACHE-DIR on ext4, xfs or btrfs: tmpfs and 9p raise no \
            pre-content events), the daemon marks it for FAN_PRE_ACCESS and fills what the \
            kernel asks for, and the file itself is mounted file-backed (mount(2), read-only). \
            The recording adds its kprobe events (docs/fanotify.md). --fault deny=EIO,every=N \
            answers FAN_DENY. --daemon-command 'CMD' runs your daemon with $ONDEMAND_IMAGE_FILE \
            (the file to mark and fill) and $ONDEMAND_SOURCE_IMAGE (the full image) set, and \
            waits until it has marked the file (--daemon-timeout). Bootstrap + blobs: each --blob \
            gets its sparse file too, CACHE-DIR/TAG.blob, marked and filled like the image's and \
            mounted as device=PATH in the given order (a foreign daemon gets them in \
            $ONDEMAND_BLOB_FILES and $ONDEMAND_BLOB_SOURCES, one path a line); the report names \
            the image file by the fsid and each blob's by its tag. Each pass of --passes empties \
            the files, so every pass is served again. --domain and --no-daemon are for the \
            cachefiles path. A reader blocked on an event nobody answers (--fault \
            never-answer) would block the run for ever: --workload-timeout 30s ends the \
            recording after that long, then stops the daemon, which releases the reader (exit 1).

            Examples:
              ondemand-trace run --image small.erofs --cache-dir /cache \\
                  --expect small.tree
              ondemand-trace run --image big.erofs --fsid big --cache-dir /cache \\
                  --readers 4 --threads 4 --order random
              ondemand-trace run --image small.erofs --cache-dir /cache \\
                  --fault delay=10ms -o slow.dat --report slow.json
              ondemand-trace run --image small.erofs --cache-dir /cache \\
                  -- md5sum hello.txt
              ondemand-trace run --image boot.erofs --blob data.blob --cache-dir /cache \\
                  --readers 4 --expect boot.tree
              ondemand-trace run --image boot.erofs --blob data.blob --expect boot.tree \\
                  --daemon-command 'nydusd ...' --repeat 5 --report mine.json
              ondemand-trace run --image small.erofs --cache-dir /cache \\
                  --preset regression --report baseline.json
              ondemand-trace run --image small.erofs --cache-dir /cache \\
                  --preset regression --report today.json --baseline baseline.json
              ondemand-trace run --backend fanotify --image small.erofs --cache-dir /cache \\
                  --readers 4 --expect small.tree
              ondemand-trace run --backend fanotify --image boot.erofs --blob data.blob \\
                  --cache-dir /cache --expect boot.tree --files
            """
    )

    @Option(help: ArgumentHelp("The EROFS image to serve.", valueName: "file"))
    var image: String

    @Option(help: ArgumentHelp("The fsid to mount it with (default: the image's file name without extension); on the fanotify path the image file's name.", valueName: "name"))
    var fsid: String?

    @Option(help: ArgumentHelp("The on-demand path: cachefiles (Linux 5.19-7.1), fanotify (pre-content events, 6.14+) or auto (cachefiles where the kernel has it, else fanotify).", valueName: "auto|cachefiles|fanotify"))
    var backend: BackendChoice = .auto

    @Option(help: ArgumentHelp("The embedded daemon's cachefiles cache directory (ext4/xfs); use a fresh one for a cold cache.", valueName: "dir"))
    var cacheDir: String?

    @Option(name: .customLong("blob"), help: ArgumentHelp("A data blob of the image (bootstrap + blobs, `mkfs.erofs --blobdev`): FILE, asked for by its file name, or TAG=FILE; served beside the image and mounted with device=TAG; repeatable, in the image's device order.", valueName: "[tag=]file"))
    var blobs: [String] = []

    @Option(help: ArgumentHelp("Mount with domain_id=ID: images of one domain share their blobs.", valueName: "id"))
    var domain: String?

    @Option(help: ArgumentHelp("Serve with your daemon instead of ours: `sh -c COMMAND` started per run (it binds its own cache; the run waits for a newly bound cache in /proc/fs/fscache/caches) and stopped with SIGTERM at the end. No markers: requests are joined by range.", valueName: "command"))
    var daemonCommand: String?

    @Option(help: ArgumentHelp("With --daemon-command: how long to wait for it to bind a cache (fanotify: to mark the image file) (default 10s): \(DurationText.rule(.seconds)).", valueName: "duration"))
    var daemonTimeout = "10s"

    @Option(help: ArgumentHelp("The fanotify path: when a pass's workload has not finished after this long (a reader blocked on an event nobody answers, e.g. --fault never-answer), end the recording, then stop the daemon, which releases the reader; the run fails (exit 1) and its report shows the unanswered request as never_answered (default: no limit).", valueName: "duration"))
    var workloadTimeout: String?

    @Flag(help: "A daemon is already serving (a cache is bound): start none.")
    var noDaemon = false

    @Option(help: ArgumentHelp("Where to mount (default: a new directory under /tmp, removed afterwards).", valueName: "dir"))
    var mountpoint: String?

    @Option(help: "Daemon threads (default 1).")
    var threads: Int?

    @Option(name: .customLong("fault"), help: ArgumentHelp("A fault to inject (see `daemon --help`); repeatable.", valueName: "spec"))
    var faults: [String] = []

    @Option(help: "Built-in workload: read every file at sequential or random block offsets (default sequential).")
    var order: ImageWorkload.Order?

    @Option(help: "Built-in workload: concurrent readers (default 1).")
    var readers: Int?

    @Option(help: ArgumentHelp("Built-in workload: bytes per read(), a multiple of 4096 (default 131072).", valueName: "bytes"))
    var blockSize: Int?

    @Option(help: "Built-in workload: seed of the random order.")
    var seed: UInt64 = 1

    enum Preset: String, ExpressibleByArgument, CaseIterable { case regression }

    @Option(help: ArgumentHelp("regression: the fixed workload and delays of the regression checks (1 daemon thread, 1 sequential reader, 128 KiB reads, delay=2ms on every 4th READ, 12 passes per run), 1 warm-up then --repeat 5 runs, CPUs pinned; compare two such reports with `check` (docs/regression-method.md).", valueName: "name"))
    var preset: Preset?

    /// The regression preset: everything that shapes the requests is fixed, so two runs of the
    /// same image differ only in how fast the system served them.
    static let regressionFaults = ["delay=2ms,every=4"]
    /// Passes per run of the regression preset: 12 × 37 READs with the VM's small image.
    static let regressionPasses = 12

    var effectiveThreads: Int { threads ?? 1 }
    var effectiveOrder: ImageWorkload.Order { order ?? .sequential }
    var effectiveReaders: Int { readers ?? 1 }
    var effectiveBlockSize: Int { blockSize ?? 128 << 10 }
    var effectiveFaults: [String] { preset == .regression ? Self.regressionFaults : faults }
    var effectiveRepeat: Int { repeatCount ?? (preset == .regression ? 5 : 1) }
    var effectiveWarmup: Int { warmup ?? (preset != nil || repeatCount != nil ? 1 : 0) }
    var effectivePasses: Int { passes ?? (preset == .regression ? Self.regressionPasses : 1) }
    var effectivePin: Bool { pin ?? (preset != nil || repeatCount != nil) }
    /// A run per cache subdirectory and trace file (`-o` and `--cache-dir` used as given otherwise).
    var multiRun: Bool { effectiveRepeat > 1 || effectiveWarmup > 0 }
    /// What the daemon injects: the faults plus the slowdown, if any.
    var daemonFaults: [String] { effectiveFaults + (slowdownNanoseconds.map { ["delay=\($0 / 1000)us"] } ?? []) }
    var slowdownNanoseconds: UInt64? { slowdown.flatMap { DurationText.nanoseconds($0, bare: Self.slowdownBare) } }

    @Option(name: .customLong("repeat"), help: ArgumentHelp("Measured runs of the same image and workload, each with a fresh daemon and a fresh cache directory (a subdirectory run-N of --cache-dir); the report holds each run's figures and the pooled ones (default 1; 5 with --preset regression).", valueName: "n"))
    var repeatCount: Int?

    @Option(help: ArgumentHelp("Runs made first and not counted (default 1 with --repeat or --preset, else 0).", valueName: "n"))
    var warmup: Int?

    @Option(help: ArgumentHelp("Passes over the image per run, each mounted with a fresh fsid (FSID-passN) so every pass is served by the daemon again (default 1; 12 with --preset regression: >= 400 READs with vm/make-image's small image).", valueName: "n"))
    var passes: Int?

    @Flag(inversion: .prefixedNo, help: "Pin the daemon's threads to the last CPU and the readers to the others (when at least 2 CPUs are allowed); default: on with --preset or --repeat.")
    var pin: Bool?

    @Option(help: ArgumentHelp("Add this delay to every READ on top of the preset or faults: \(DurationText.rule(Self.slowdownBare)) (5ms). A slower system made on purpose, to prove that `check` catches it. Kept out of the run's identity, so a baseline made without it stays comparable.", valueName: "duration"))
    var slowdown: String?
    /// `--slowdown 5` once meant 5 ms: a bare number is refused (not taken as seconds).
    static let slowdownBare = DurationText.Bare.refused(suggesting: "ms")

    @Option(help: ArgumentHelp("After the run, compare its report with this baseline report (as `check` does) and exit 1 on a regression.", valueName: "file"))
    var baseline: String?

    @OptionGroup(title: "With --baseline: the verdict, as `check` gives it") var regression: RegressionOptions

    @Option(help: ArgumentHelp("Compare every byte read with the same files under this directory.", valueName: "dir"))
    var expect: String?

    @Option(name: .shortAndLong, help: ArgumentHelp("The trace.dat to write.", valueName: "file"))
    var output = "run.dat"

    @Option(help: ArgumentHelp("The JSON report to write (docs/report-schema.md).", valueName: "file"))
    var report = "run.json"

    @Option(help: ArgumentHelp("The daemon's log (default: standard error).", valueName: "file"))
    var log: String?

    @OptionGroup(title: "The embedded daemon's diagnostics") var diagnostics: DaemonDiagnosticsOptions

    @Flag(help: "Print which files of the image the first measured run waited for (as `report --image IMG --files`); the report JSON gets `files`.")
    var files = false

    @Option(help: ArgumentHelp("Write the image's paths in the order the first measured run first missed them (as `report --prefetch-list`).", valueName: "file"))
    var prefetchList: String?

    @Option(name: .customLong("buffer-size"), help: ArgumentHelp("Ring-buffer size per CPU, in KiB.", valueName: "KiB"))
    var bufferSizeKB = RecordingOptions.defaultBufferSizeKB

    @Argument(parsing: .postTerminator, help: ArgumentHelp("A command to run in the mount point instead of the built-in workload.", valueName: "command"))
    var command: [String] = []

    var resolvedFsid: String {
        if let fsid { return fsid }
        let base = image.split(separator: "/").last.map(String.init) ?? image
        return base.split(separator: ".").first.map(String.init) ?? base
    }

    func validate() throws {
        try validateWorkload()
        try validateDaemon()
        if backend == .fanotify {
            let cachefilesOnly = [("--domain", domain != nil), ("--no-daemon", noDaemon)].filter(\.1).map(\.0)
            if !cachefilesOnly.isEmpty { throw ValidationError("\(cachefilesOnly.joined(separator: ", ")): the cachefiles path's, not --backend fanotify") }
            if daemonCommand != nil, cacheDir == nil { throw ValidationError("--backend fanotify needs --cache-dir (where the image file is made) with --daemon-command too") }
        } else if backend == .cachefiles, daemonFaults.contains(where: { $0.hasPrefix("deny") }) {
            throw ValidationError("--fault deny is a fanotify answer: it needs --backend fanotify")
        }
        if let workloadTimeout {
            if workloadTimeoutNanoseconds == nil { throw ValidationError("--workload-timeout '\(workloadTimeout)': expected a positive duration like 30s") }
            if backend == .cachefiles { throw ValidationError("--workload-timeout is the fanotify path's (--backend fanotify or auto)") }
        }
        if baseline == nil, regression.isSet { throw ValidationError("--max and --allow-different go with --baseline") }
        if let problem = BlobKeys.nameProblem(resolvedFsid) { throw ValidationError("fsid \"\(resolvedFsid)\": \(problem)") }
        if let domain, let problem = BlobKeys.nameProblem(domain) ?? (domain.contains(",") ? "contains ','" : nil) {
            throw ValidationError("--domain \"\(domain)\": \(problem)")
        }
        do { try RunBlob.requireDistinct(try blobs.map(RunBlob.parse), fsid: resolvedFsid) } catch { throw ValidationError(error.description) }
    }

    /// Who serves: ours (its options), or another daemon (none of ours apply).
    func validateDaemon() throws {
        let foreign = daemonCommand != nil || noDaemon
        if daemonCommand != nil, noDaemon { throw ValidationError("--daemon-command and --no-daemon exclude each other") }
        _ = try durationOption(daemonTimeout, "--daemon-timeout", positive: true)
        guard foreign else {
            if cacheDir == nil { throw ValidationError("--cache-dir is required for the embedded daemon") }
            return
        }
        let ours = [("--cache-dir", cacheDir != nil && backend != .fanotify), ("--threads", threads != nil), ("--fault", !faults.isEmpty),
                    ("--slowdown", slowdown != nil), ("--log", log != nil), ("--preset", preset != nil),
                    ("--log-requests", diagnostics.logRequests), ("--warn-after", diagnostics.warnAfter != nil)]
        let given = ours.filter(\.1).map(\.0)
        if !given.isEmpty {
            throw ValidationError("\(given.joined(separator: ", ")) go\(given.count == 1 ? "es" : "") with the embedded daemon, not --daemon-command or --no-daemon")
        }
    }

    var workloadTimeoutNanoseconds: UInt64? {
        workloadTimeout.flatMap { DurationText.nanoseconds($0, bare: .seconds) }.flatMap { $0 > 0 ? $0 : nil }
    }

    var daemonTimeoutNanoseconds: UInt64? {
        DurationText.nanoseconds(daemonTimeout).flatMap { $0 > 0 ? $0 : nil }
    }

    func validateWorkload() throws {
        if preset != nil {
            let fixed = [("--threads", threads != nil), ("--order", order != nil), ("--readers", readers != nil),
                         ("--block-size", blockSize != nil), ("--fault", !faults.isEmpty), ("a command", !command.isEmpty)]
            let given = fixed.filter(\.1).map(\.0)
            if !given.isEmpty {
                throw ValidationError("--preset \(preset!.rawValue) fixes the workload: drop \(given.joined(separator: ", "))")
            }
        }
        if effectiveThreads < 1 { throw ValidationError("--threads must be at least 1") }
        if effectiveRepeat < 1 || effectiveRepeat > 1000 { throw ValidationError("--repeat must be between 1 and 1000") }
        if effectiveWarmup < 0 || effectiveWarmup > 100 { throw ValidationError("--warmup must be between 0 and 100") }
        if effectivePasses < 1 || effectivePasses > 1000 { throw ValidationError("--passes must be between 1 and 1000") }
        if effectivePasses > 1, !command.isEmpty { throw ValidationError("--passes goes with the built-in workload, not a command") }
        if effectiveReaders < 1 { throw ValidationError("--readers must be at least 1") }
        if effectiveBlockSize < 4096 || effectiveBlockSize % 4096 != 0 { throw ValidationError("--block-size must be a positive multiple of 4096") }
        if let slowdown { _ = try durationOption(slowdown, "--slowdown", bare: Self.slowdownBare) }
        do { _ = try FaultPlan.parse(daemonFaults) } catch { throw ValidationError(error.description) }
    }

    func run() throws {
        let result: RunSeries.Result
        var plan = try plan()
        // A missing image is the user's to fix whatever the kernel offers: named first.
        do { try RunSeries.checkInputs(plan) } catch {
            printError("ondemand-trace run: \(error)")
            throw ExitCode(2)
        }
        plan.backend = resolvedBackend()
        if plan.backend == .cachefiles, plan.workloadTimeout != nil {
            printError("ondemand-trace run: --workload-timeout is the fanotify path's, and --backend auto picked cachefiles on this kernel")
            throw ExitCode(2)
        }
        do { result = try RunSeries(plan: plan, progress: printError).execute() } catch let error as RunError {
            printError("ondemand-trace run: \(error)")
            throw ExitCode(2)
        }
        if let blame = result.files { try printBlame(blame) }
        for line in result.failed { printError("failed: \(line)") }
        if !result.failed.isEmpty { throw ExitCode(1) }
        if let baseline {
            let regressed = try reportingFileErrors {
                try regression.compare(baseline: try RunSetFiles.baseline(baseline), current: result.runSet, format: .text)
            }
            if regressed { throw ExitCode(1) }
        }
    }

    /// `--files` and `--prefetch-list`: which files the first measured run waited for.
    func printBlame(_ blame: FileBlame) throws {
        if files { StandardOutput.write(ReportText.filesTable(blame)) }
        if let prefetchList {
            try reportingFileErrors { try OutputFile.write(blame.prefetchList.map { $0 + "\n" }.joined(), to: prefetchList) }
        }
    }

    /// `--backend`, `auto` resolved on this kernel: cachefiles where it has it, else fanotify; on
    /// a kernel with neither, cachefiles (whose recording then says what is missing).
    func resolvedBackend() -> Backend {
        switch backend {
        case .cachefiles: return .cachefiles
        case .fanotify: return .fanotify
        case .auto: return OndemandPaths.detect() ?? .cachefiles
        }
    }

    /// The options as a plan (validated already).
    func plan() throws -> RunPlan {
        var daemon = OndemandServer.Configuration(cacheDirectory: cacheDir ?? "", sourceDirectory: "")
        daemon.threads = effectiveThreads
        daemon.faults = try FaultPlan.parse(daemonFaults)
        diagnostics.apply(to: &daemon)
        var plan = RunPlan(image: image, fsid: resolvedFsid, cacheDirectory: cacheDir ?? "", daemon: daemon, bufferSizeKB: bufferSizeKB)
        plan.blobs = try blobs.map(RunBlob.parse)
        plan.domain = domain
        if let daemonCommand { plan.daemonSource = .command(daemonCommand, bindTimeout: daemonTimeoutNanoseconds!) }
        if noDaemon { plan.daemonSource = .alreadyServing }
        plan.mountpoint = mountpoint
        plan.workloadTimeout = workloadTimeoutNanoseconds
        plan.daemonLog = log
        plan.workload.order = effectiveOrder
        plan.workload.readers = effectiveReaders
        plan.workload.blockSize = effectiveBlockSize
        plan.workload.seed = seed
        plan.workload.expectDirectory = expect
        plan.command = command
        (plan.measuredRuns, plan.warmupRuns, plan.passes, plan.pin) = (effectiveRepeat, effectiveWarmup, effectivePasses, effectivePin)
        (plan.traceOutput, plan.reportOutput) = (output, report)
        plan.blameFiles = files || prefetchList != nil
        (plan.preset, plan.faultSpecs, plan.slowdown) = (preset?.rawValue, effectiveFaults, slowdown)
        return plan
    }
}

extension ImageWorkload.Order: ExpressibleByArgument {}
