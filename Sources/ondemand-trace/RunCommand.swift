import ArgumentParser
import Foundation
import Glibc
import CDaemonSys
import OndemandDaemon
import OndemandTraceCore
import TraceFiles
import TraceRecording

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
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
            (also in $ONDEMAND_MOUNT). Exit status: 0 when the mount, workload and verification \
            succeeded, 1 when one of them failed (the trace and report are still written), 2 when \
            the run could not be set up.

            Repeated runs: --repeat N makes N measured runs after --warmup runs (default 1) that \
            are not counted, each with a fresh daemon and its own cache directory DIR/run-N \
            (removed after the run) and trace (run.dat -> run-1.dat, ...). The report (schema 2) \
            holds each run's figures in `runs` and the pooled ones at the top level: `check` \
            compares the runs of two such reports, the run as the unit. --passes P reads the \
            image P times per run, each pass mounted with a fresh fsid (FSID-pass1, ...) so the \
            daemon serves it again. With --preset regression or --repeat, the daemon's threads \
            are pinned to the last CPU and the readers to the others (--no-pin to leave them).

            Needs root, a kernel with CONFIG_CACHEFILES_ONDEMAND and CONFIG_EROFS_FS_ONDEMAND, and \
            a cache directory on ext4 or xfs.

            Examples:
              ondemand-trace run --image small.erofs --cache-dir /cache \\
                  --expect small.tree
              ondemand-trace run --image big.erofs --fsid big --cache-dir /cache \\
                  --readers 4 --threads 4 --order random
              ondemand-trace run --image small.erofs --cache-dir /cache \\
                  --fault delay=10ms -o slow.dat --report slow.json
              ondemand-trace run --image small.erofs --cache-dir /cache \\
                  -- md5sum hello.txt
              ondemand-trace run --image small.erofs --cache-dir /cache \\
                  --preset regression --report baseline.json
              ondemand-trace run --image small.erofs --cache-dir /cache \\
                  --preset regression --report today.json --baseline baseline.json
            """
    )

    @Option(help: ArgumentHelp("The EROFS image to serve.", valueName: "file"))
    var image: String

    @Option(help: ArgumentHelp("The fsid to mount it with (default: the image's file name without extension).", valueName: "name"))
    var fsid: String?

    @Option(help: ArgumentHelp("The cachefiles cache directory (ext4/xfs); use a fresh one for a cold cache.", valueName: "dir"))
    var cacheDir: String

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
    var slowdownNanoseconds: UInt64? { slowdown.flatMap { DurationText.nanoseconds($0, bare: .milliseconds) } }

    @Option(name: .customLong("repeat"), help: ArgumentHelp("Measured runs of the same image and workload, each with a fresh daemon and a fresh cache directory (a subdirectory run-N of --cache-dir); the report holds each run's figures and the pooled ones (default 1; 5 with --preset regression).", valueName: "n"))
    var repeatCount: Int?

    @Option(help: ArgumentHelp("Runs made first and not counted (default 1 with --repeat or --preset, else 0).", valueName: "n"))
    var warmup: Int?

    @Option(help: ArgumentHelp("Passes over the image per run, each mounted with a fresh fsid (FSID-passN) so every pass is served by the daemon again (default 1; 12 with --preset regression: >= 400 READs with vm/make-image's small image).", valueName: "n"))
    var passes: Int?

    @Flag(inversion: .prefixedNo, help: "Pin the daemon's threads to the last CPU and the readers to the others (when at least 2 CPUs are allowed); default: on with --preset or --repeat.")
    var pin: Bool?

    @Option(help: ArgumentHelp("Add this delay to every READ on top of the preset or faults (e.g. 5ms): a slower system made on purpose, to prove that `check` catches it. Kept out of the run's identity, so a baseline made without it stays comparable.", valueName: "duration"))
    var slowdown: String?

    @Option(help: ArgumentHelp("After the run, compare its report with this baseline report (as `check` does) and exit 1 on a regression.", valueName: "file"))
    var baseline: String?

    @Option(name: .customLong("max"), parsing: .singleValue,
            help: ArgumentHelp("With --baseline: a limit METRIC=VALUE, as `check --max`; repeatable.", valueName: "limit"))
    var limits: [String] = []

    @Option(help: "With --baseline: significance level of the rank test.")
    var alpha: Double = 0.01

    @Flag(help: "With --baseline: compare even when the runs were measured differently.")
    var allowDifferent = false

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
        if let slowdown, slowdownNanoseconds == nil { throw ValidationError("--slowdown '\(slowdown)': expected a duration like 5ms") }
        do { _ = try FaultPlan.parse(daemonFaults) } catch { throw ValidationError(error.description) }
        if baseline == nil, !limits.isEmpty || allowDifferent { throw ValidationError("--max and --allow-different go with --baseline") }
        if baseline != nil { try RegressionGate.validate(limits: limits, alpha: alpha) }
        if let problem = BlobKeys.nameProblem(resolvedFsid) { throw ValidationError("fsid \"\(resolvedFsid)\": \(problem)") }
    }

    func run() throws {
        var st = stat()
        guard stat(image, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { fail("\(image): not a readable regular file") }
        let pinning = effectivePin ? CPUPinning.plan() : nil
        let pinned = !effectivePin ? "off" : pinning?.description ?? "no (fewer than 2 CPUs allowed)"
        if effectivePin { printError("pinning: \(pinned)") }

        // Warm-up runs first (not counted), then the measured ones; each on its own cache directory.
        var measured: [RunReport.Entry] = []
        var failed: [String] = []
        let total = effectiveWarmup + effectiveRepeat
        for index in 0..<total {
            let isWarmup = index < effectiveWarmup
            let number = index - effectiveWarmup + 1
            let label = isWarmup ? "warmup\(index + 1)" : "run-\(number)"
            let cache = multiRun ? cacheDir + "/" + label : cacheDir
            let trace = !multiRun ? output : isWarmup ? Self.numbered(output, label) : effectiveRepeat == 1 ? output : Self.numbered(output, String(number))
            if multiRun {
                guard mkdir(cache, 0o755) == 0 else { fail("\(cache): cannot create the run's cache directory: \(describeErrno(errno)) (use a fresh --cache-dir)") }
                printError(isWarmup ? "warm-up run \(index + 1) of \(effectiveWarmup) (not counted)" : "run \(number) of \(effectiveRepeat)")
            }
            let outcome = measureOnce(cacheDirectory: cache, trace: trace, pinning: pinning)
            if multiRun { Self.removeTree(cache) }
            failed += outcome.failed.map { multiRun ? "\(label): \($0)" : $0 }
            if isWarmup {
                unlink(outcome.trace)
            } else {
                // The first measured run's READs, for --files / --prefetch-list: a start-up picture.
                var requests: [RequestRecord] = []
                let keep = measured.isEmpty && (files || prefetchList != nil)
                var (model, _) = try reportingInputErrors {
                    try TraceReport.build(path: outcome.trace, requestObserver: keep ? { requests.append($0) } : nil,
                                          requireOndemandEvents: false)
                }
                if keep {
                    let sources = try reportingInputErrors { try ImageFiles.sources([image], for: model.objects) }
                    model.files = FileBlame(requests: requests, sources: sources)
                }
                measured.append(RunReport.Entry(trace: outcome.trace, cacheDirectory: cache, model: model))
            }
            if !outcome.failed.isEmpty { break }   // a broken run: report what there is, exit 1
        }
        let (section, pooled) = try writeReport(measured, pinned: pinned)
        if let blame = measured.first?.model.files {
            if files { FileHandleWriter.write(ReportText.filesTable(blame), fd: 1) }
            if let prefetchList {
                try reportingInputErrors { try OutputFile.write(blame.prefetchList.map { $0 + "\n" }.joined(), to: prefetchList) }
            }
        }
        for line in failed { printError("failed: \(line)") }
        if !failed.isEmpty { throw ExitCode(1) }
        if let baseline {
            let regressed = try reportingInputErrors { () -> Bool in
                let base = try Check.baselineSet(baseline)
                // The figures straight from the models, named as a report's would be.
                var identity: [String: String] = [:]
                for (key, value) in section where !RunReport.notIdentity.contains(key) { identity["run." + key] = value }
                let runs = measured.map { RunFigures(report: $0.model, identity: identity) }
                let current = RunSet(runs: runs, pooled: RunFigures(report: pooled, identity: identity))
                return try RegressionGate(limits: limits, alpha: alpha, allowDifferent: allowDifferent, format: .text)
                    .compare(baseline: base, current: current)
            }
            if regressed { throw ExitCode(1) }
        }
    }

    /// `run.dat` -> `run-3.dat`.
    static func numbered(_ path: String, _ suffix: String) -> String {
        let slash = path.lastIndex(of: "/").map { path.index(after: $0) } ?? path.startIndex
        if let dot = path[slash...].lastIndex(of: "."), dot != slash {
            return String(path[..<dot]) + "-" + suffix + String(path[dot...])
        }
        return path + "-" + suffix
    }

    /// Removes a run's cache directory (ours: created by this run).
    static func removeTree(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// One run: recording, daemon, mount, workload (passes), umount; returns the trace written and
    /// what failed.
    private func measureOnce(cacheDirectory: String, trace: String, pinning: CPUPinning?) -> (trace: String, failed: [String]) {
        let fsid = resolvedFsid
        let passFsids = effectivePasses == 1 ? [fsid] : (1...effectivePasses).map { "\(fsid)-pass\($0)" }

        // SIGINT/SIGTERM go to the daemon's signalfd (blocked here, before any thread exists):
        // an interrupted run still unmounts and writes what it has.
        let session = RecordingSession(options: RecordingOptions(outputPath: trace, bufferSizeKB: bufferSizeKB))
        var configuration = OndemandServer.Configuration(cacheDirectory: cacheDirectory, sourceDirectory: "")
        guard let absoluteImage = realpath(image, nil) else { fail("\(image): \(describeErrno(errno))") }
        configuration.blobFiles = Dictionary(uniqueKeysWithValues: passFsids.map { ($0, String(cString: absoluteImage)) })
        free(absoluteImage)
        configuration.threads = effectiveThreads
        configuration.faults = try! FaultPlan.parse(daemonFaults)   // validated
        configuration.exitFaultEndsProcess = false  // the recording and the report must survive it
        diagnostics.apply(to: &configuration)
        var server: OndemandServer!
        do {
            var signals = sigset_t()
            sigemptyset(&signals)
            sigaddset(&signals, SIGINT)
            sigaddset(&signals, SIGTERM)
            sigaddset(&signals, SIGUSR1)  // the daemon's in-flight dump, not the default exit
            pthread_sigmask(SIG_BLOCK, &signals, nil)
            try session.start()
            configuration.markerPath = session.markerPath
            let daemonLog = try log.map { path throws(DaemonError) in try DaemonLog(path: path) } ?? DaemonLog()
            server = try OndemandServer(configuration, log: daemonLog)
        } catch {
            session.abandon()
            fail("\(error)")
        }
        // The daemon's threads inherit this thread's CPUs when they start; the readers (and the
        // mount) get the others.
        pinning?.pinDaemon()
        server.start()
        pinning?.pinReaders()
        defer { pinning?.restore() }

        var createdMountpoint: String?
        let target: String
        if let mountpoint { target = mountpoint } else {
            var template = Array("/tmp/ondemand-trace-run.XXXXXX".utf8CString)
            guard let made = mkdtemp(&template) else {
                _ = server.stop(); session.abandon(); fail("cannot create a mount point under /tmp: \(describeErrno(errno))")
            }
            target = String(cString: made)
            createdMountpoint = target
        }
        defer { if let createdMountpoint { rmdir(createdMountpoint) } }

        var failed: [String] = []
        for passFsid in passFsids {
            let mounted = mount("none", target, "erofs", 0, "fsid=\(passFsid)") == 0
            if !mounted {
                failed.append("mount -t erofs none -o fsid=\(passFsid) \(target): \(describeErrno(errno))")
                break
            }
            if command.isEmpty {
                var options = ImageWorkload.Options()
                options.order = effectiveOrder
                options.readers = effectiveReaders
                options.blockSize = effectiveBlockSize
                options.seed = seed
                options.expectDirectory = expect
                let result = ImageWorkload.run(root: target, options: options)
                let mib = Double(result.bytes) / 1_048_576
                printError("workload: \(result.files) files, \(result.bytes) bytes in \(JSONWriter.format(result.seconds, decimals: 3)) s (\(JSONWriter.format(result.seconds > 0 ? mib / result.seconds : 0, decimals: 1)) MiB/s), \(effectiveOrder.rawValue), \(effectiveReaders) reader(s)" + (passFsids.count > 1 ? ", fsid \(passFsid)" : ""))
                failed += result.readErrors.map { "read error: \($0)" }
                failed += result.mismatches.map { "bytes differ from \(expect ?? "-"): \($0)" }
                failed += result.missing
                if expect != nil, result.verified { printError("verified: every byte equals \(expect!)") }
            } else {
                let status = runCommand(in: target)
                if status != 0 { failed.append("\(command[0]) exited with status \(status)") }
            }
            if umount2(target, 0) != 0 {
                failed.append("umount \(target): \(describeErrno(errno)); detached lazily")
                umount2(target, Int32(MNT_DETACH))
            }
            if !failed.isEmpty { break }
        }
        let totals = server.stop()
        // Release the daemon before the recording ends: its devnode (the next run binds a new
        // cache) and its trace_marker fd (the recording's instance cannot be removed while open).
        server = nil
        let recorded: RecordingResult
        do { recorded = try session.stop() } catch {
            if let createdMountpoint { rmdir(createdMountpoint) }  // fail() exits: no defer runs
            fail("\(error)")
        }
        printError("daemon: \(totals.opens) OPEN (\(totals.openErrors) refused), \(totals.reads) READ, \(totals.readBytes) bytes, \(totals.closes) CLOSE, \(totals.faults) fault(s) injected")
        printError("wrote \(recorded.path): \(recorded.events) records" + (recorded.lostEvents > 0 ? ", \(recorded.lostEvents) LOST (raise --buffer-size)" : ""))
        return (recorded.path, failed)
    }

    /// The command after `--`, in the mount point; its exit status (128+signal if killed).
    private func runCommand(in directory: String) -> Int32 {
        // The child starts in the mount point: chdir around the spawn (paths we still use are absolute).
        let previous = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        defer { if previous >= 0 { fchdir(previous); close(previous) } }
        guard chdir(directory) == 0 else {
            printError("ondemand-trace run: cannot enter \(directory): \(describeErrno(errno))")
            return 127
        }
        setenv("ONDEMAND_MOUNT", directory, 1)
        let pid: pid_t
        do { pid = try ChildProcess.spawn(command) } catch {
            printError("ondemand-trace run: \(error)")
            return 127
        }
        return ChildProcess.exitCode(ChildProcess.wait(pid))
    }

    /// Writes the report file (the measured runs pooled, then each run); returns its run section.
    private func writeReport(_ runs: [RunReport.Entry], pinned: String) throws -> (section: [(String, String)], pooled: ReportModel) {
        guard !runs.isEmpty else { fail("no measured run to report") }
        // One run is its own pool: no second reading of its trace.
        var pooled = try runs.count == 1 ? runs[0].model : reportingInputErrors {
            try TraceReport.build(paths: runs.map(\.trace), requireOndemandEvents: false)
        }.model
        pooled.files = runs[0].model.files  // the first run's: file times of pooled runs do not compare
        let fd = open(report, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { fail("\(report): cannot write the report: \(describeErrno(errno))") }
        var section = runIdentity()
        section += [("runs", String(runs.count)), ("warmup", String(effectiveWarmup)), ("pinned", pinned)]
        let document = RunReport.render(pooled: pooled, runs: runs, run: section)
        FileHandleWriter.write(document + "\n", fd: fd)
        close(fd)
        printError("wrote \(report)" + (runs.count > 1 ? " (\(runs.count) runs)" : ""))
        return (section, pooled)
    }

    /// What this run measured, as `check` compares it (`run` in docs/report-schema.md): two runs
    /// are comparable when every value is equal.
    func runIdentity() -> [(String, String)] {
        var st = stat()
        _ = stat(image, &st)
        var identity: [(String, String)] = [
            ("preset", preset?.rawValue ?? "none"),
            ("image", image.split(separator: "/").last.map(String.init) ?? image),
            ("image_bytes", String(st.st_size)),
            ("image_fnv1a64", Self.fingerprint(image).map { String($0, radix: 16) } ?? "unreadable"),
            ("fsid", resolvedFsid),
            ("daemon_threads", String(effectiveThreads)),
            ("faults", effectiveFaults.joined(separator: " ")),
            ("passes", String(effectivePasses)),
            ("workload", command.isEmpty
                ? "built-in \(effectiveOrder.rawValue) readers=\(effectiveReaders) block=\(effectiveBlockSize)"
                    + (effectiveOrder == .random ? " seed=\(seed)" : "")
                : command.joined(separator: " ")),
        ]
        if let slowdown { identity.append(("slowdown", slowdown)) }
        return identity
    }

    /// FNV-1a (64 bit) of the image file: the same image, byte for byte.
    static func fingerprint(_ path: String) -> UInt64? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = read(fd, buffer.baseAddress, buffer.count)
            if n < 0 { if errno == EINTR { continue }; return nil }
            if n == 0 { return hash }
            for byte in buffer[0..<n] { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        }
    }

    private func fail(_ message: String) -> Never {
        printError("ondemand-trace run: \(message)")
        Glibc.exit(2)
    }
}

extension ImageWorkload.Order: ExpressibleByArgument {}
