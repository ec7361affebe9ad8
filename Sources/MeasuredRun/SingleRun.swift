import ErofsFormat
import OndemandDaemon
import OndemandTraceCore
import Synchronization
import SystemCalls
import TraceRecording

/// One run: recording, daemon (ours with its markers into the recording, or the user's), then per
/// pass mount, workload and umount; the daemon and the recording stopped. Whatever fails after
/// the set-up is an entry in `failed`, so the trace is still written; every path out removes
/// what it made.
/// The fanotify path's sparse files of one run: the image's and its blobs', in device order.
struct FanotifyFiles {
    var image: FanotifyImage
    var blobs: [FanotifyImage]
}

struct SingleRun {
    let plan: RunPlan
    let progress: (String) -> Void

    struct Outcome {
        var trace: String
        var failed: [String]
        /// The kernel refused a mount: the run could not be set up (exit 2), though its trace
        /// is written.
        var mountRefused = false
    }

    func measure(cacheDirectory: String, trace: String, pinning: CPUPinning?) throws(RunError) -> Outcome {
        // SIGINT/SIGTERM go to the daemon's signalfd (blocked here, before any thread exists):
        // an interrupted run still unmounts and writes what it has.
        Self.blockDaemonSignals()
        // fanotify: the image file first (a directory that raises no pre-content events is an
        // error before anything starts), then the recording with the path's probes.
        let files = plan.backend == .fanotify ? try fanotifyFiles(in: cacheDirectory) : nil
        defer { if let files { for file in [files.image] + files.blobs { try? FileSystem.remove(file.path) } } }   // a run leaves no image file behind
        var options = RecordingOptions(outputPath: trace, bufferSizeKB: plan.bufferSizeKB)
        if files != nil { (options.events, options.fanotifyProbes) = ([.marker], true) }
        let session = RecordingSession(options: options)
        do { try session.start() } catch { throw RunError("\(error)") }
        // The daemon's threads inherit this thread's CPUs when they start; the readers (and the
        // mount) get the others.
        pinning?.pinDaemon()
        var daemon: RunDaemon?
        do throws(RunError) {
            if let files { daemon = try startFanotify(files, markers: session.markerPath) } else { daemon = try start(markers: session.markerPath, cacheDirectory: cacheDirectory) }
        } catch {
            pinning?.restore()
            session.abandon()
            throw error
        }
        pinning?.pinReaders()
        defer { pinning?.restore() }
        let cookies = plan.daemonSource == .embedded || files != nil ? nil : CookiePolling(markerPath: session.markerPath)

        var outcome = Outcome(trace: trace, failed: [])
        // A workload over --workload-timeout (fanotify: a reader blocked on an event nobody
        // answers): the recording ends first, so the trace shows what was still unanswered, then
        // the daemon, whose going makes the kernel let the blocked readers go.
        var ended: Result<RecordingResult, RunError>?
        let release = {
            do { ended = .success(try session.stop()) } catch { ended = .failure(RunError("\(error)")) }
            if let stopped = daemon { progress(stopped.stop()) }
            daemon = nil
        }
        do throws(RunError) {
            try withMountpoint { target in
                if let files { runPasses(of: files, at: target, into: &outcome, release: release) } else { runPasses(at: target, into: &outcome) }
            }
        } catch {
            _ = daemon?.stop(); daemon = nil; cookies?.finish()
            if ended == nil { session.abandon() }
            throw error
        }
        // Stop and release the daemon before the recording ends: its devnode (the next run binds
        // a new cache) and its trace_marker fd (the recording's instance cannot be removed while
        // open: the next run would find it busy).
        if let stopped = daemon { progress(stopped.stop()) }
        daemon = nil
        cookies?.finish()
        let recorded: RecordingResult
        do { recorded = try ended?.get() ?? session.stop() } catch { throw RunError("\(error)") }
        progress("wrote \(trace): \(recorded.events) records" + (recorded.lostEvents > 0 ? ", \(recorded.lostEvents) LOST (raise --buffer-size)" : ""))
        outcome.trace = trace
        return outcome
    }

    /// Whoever serves: the embedded daemon writing its markers into the recording, or the user's.
    private func start(markers: String?, cacheDirectory: String) throws(RunError) -> RunDaemon {
        switch plan.daemonSource {
        case .command(let command, let timeout):
            return try RunDaemon.startCommand(command, bindTimeout: timeout, progress: progress)
        case .alreadyServing:
            return try RunDaemon.requireBoundCache()
        case .embedded:
            var configuration = plan.daemon
            configuration.cacheDirectory = cacheDirectory
            let image = try absolute(plan.image)
            configuration.blobFiles = Dictionary(uniqueKeysWithValues: plan.passFsids.map { ($0, image) })
            for blob in plan.blobs { configuration.blobFiles[blob.tag] = try absolute(blob.path) }
            configuration.exitFaultEndsProcess = false  // the recording and the report must survive it
            configuration.markerPath = markers
            do {
                let log = try daemonLog()
                let server = try OndemandServer(configuration, log: log)
                server.start()
                return .embedded(server)
            } catch { throw RunError("\(error)") }
        }
    }

    /// The fanotify path's files of a run: the image's, `FSID.img`, and each blob's, `TAG.blob`,
    /// sparse in the cache directory (none left behind when one cannot be made).
    private func fanotifyFiles(in given: String) throws(RunError) -> FanotifyFiles {
        // A bootstrap mounted file-backed without its blobs' devices mounts (7.3), and then every
        // read of their data fails with EIO: refused before anything starts.
        if let head = try? FileContents.read(plan.image, limit: 4096), let bootstrap = try? ErofsImage(bytes: head),
           bootstrap.superblock.extraDevices != plan.blobs.count {
            throw RunError("\(plan.image): the image has \(bootstrap.superblock.extraDevices) data blob(s) (extra devices) and \(plan.blobs.count) --blob given: give each with --blob, in the image's device order")
        }
        // A blob's path goes into the mount's options: absolute (the kernel opens it), no ','.
        let directory = plan.blobs.isEmpty ? given : try absolute(given)
        if !plan.blobs.isEmpty, directory.contains(",") {
            throw RunError("\(directory): a cache directory with ',' in its path cannot hold blobs (their paths go into the mount's device= options)")
        }
        let image = try FanotifyImage(directory: directory, fileName: plan.fsid + ".img", image: plan.image)
        var blobs: [FanotifyImage] = []
        do throws(RunError) {
            for blob in plan.blobs { blobs.append(try FanotifyImage(directory: directory, fileName: blob.tag + ".blob", image: blob.path)) }
        } catch {
            for file in [image] + blobs { try? FileSystem.remove(file.path) }
            throw error
        }
        return FanotifyFiles(image: image, blobs: blobs)
    }

    /// The fanotify path's daemon: ours (it marks the files as it starts), or the user's,
    /// waited for until it has marked them.
    private func startFanotify(_ files: FanotifyFiles, markers: String?) throws(RunError) -> RunDaemon {
        let source = try absolute(plan.image)
        var blobSources: [String] = []
        for blob in plan.blobs { blobSources.append(try absolute(blob.path)) }
        switch plan.daemonSource {
        case .command(let command, let timeout):
            return try RunDaemon.startFanotifyCommand(command, files: files, sources: [source] + blobSources, markTimeout: timeout, progress: progress)
        case .alreadyServing:
            throw RunError("--no-daemon: on the fanotify path the image file is made per run; give --daemon-command (it gets $ONDEMAND_IMAGE_FILE to mark)")
        case .embedded:
            var configuration = FanotifyServer.Configuration(imageFile: files.image.path, source: source)
            // Named as the cachefiles path names the objects: the fsid, each blob's tag.
            configuration.imageName = plan.fsid
            configuration.blobs = zip(files.blobs, zip(plan.blobs, blobSources)).map { file, blob in
                FanotifyServer.Configuration.Blob(file: file.path, source: blob.1, name: blob.0.tag)
            }
            configuration.markerPath = markers
            configuration.threads = plan.daemon.threads
            configuration.faults = plan.daemon.faults
            configuration.logRequests = plan.daemon.logRequests
            configuration.warnAfter = plan.daemon.warnAfter
            do {
                let log = try daemonLog()
                let server = try FanotifyServer(configuration, log: log)
                server.start()
                return .fanotify(server)
            } catch { throw RunError("\(error)") }
        }
    }

    /// The embedded daemon's log: `--log`, or standard error.
    private func daemonLog() throws(DaemonError) -> DaemonLog {
        try plan.daemonLog.map { path throws(DaemonError) in try DaemonLog(path: path) } ?? DaemonLog()
    }

    private func absolute(_ path: String) throws(RunError) -> String {
        guard let resolved = FileSystem.canonicalPath(path) else { throw RunError("\(path): \(describeErrno(currentErrno))") }
        return resolved
    }

    /// The image names data blobs that were not given (the kernel log says so): the usual first
    /// mistake, named.
    private func missingBlobsHint(_ kernelSaid: [String]) -> String {
        plan.blobs.isEmpty && kernelSaid.contains { $0.contains("device tag") } ? " (the image has data blobs: give each with --blob)" : ""
    }

    /// Runs `body` in the plan's mount point, or in a fresh one under /tmp that is removed after.
    private func withMountpoint(_ body: (String) -> Void) throws(RunError) {
        if let mountpoint = plan.mountpoint { return body(mountpoint) }
        let target: String
        do { target = try FileSystem.makeTemporaryDirectory(in: "/tmp", prefix: "ondemand-trace-run.") } catch {
            throw RunError("cannot create a mount point under /tmp: \(describeErrno(error.errno))")
        }
        defer { try? FileSystem.removeDirectory(target) }
        body(target)
    }

    /// Each pass: mount with its fsid, the workload, umount. Stops at the first failure.
    private func runPasses(at target: String, into outcome: inout Outcome) {
        let fsids = plan.passFsids
        for fsid in fsids {
            let options = plan.mountOptions(fsid: fsid)
            let kernelLog = KernelLog()
            if let code = Mounts.mount("none", on: target, type: "erofs", options: options) {
                let said = (kernelLog?.newMessages() ?? []).filter {
                    ($0.contains("erofs") || $0.contains("cachefiles") || $0.contains("fscache")) && !$0.contains("[deprecated]")
                }
                outcome.failed.append("the kernel refused mount -t erofs none -o \(options) \(target): \(describeErrno(code))"
                                      + (said.isEmpty ? "" : "; kernel log: " + said.joined(separator: " | ")) + missingBlobsHint(said))
                outcome.mountRefused = true
                return
            }
            outcome.failed += workloadAndUmount(at: target, pass: fsids.count > 1 ? fsid : nil)
            if !outcome.failed.isEmpty { return }
        }
    }

    /// The fanotify path's passes: the image file mounted file-backed (the blobs' files as its
    /// devices), the workload, umount; between passes the files are emptied so every pass is
    /// served again.
    private func runPasses(of files: FanotifyFiles, at target: String, into outcome: inout Outcome, release: () -> Void) {
        let image = files.image
        for pass in 1...plan.passes {
            if pass > 1 {
                do { for file in [image] + files.blobs { try file.empty() } } catch { outcome.failed.append("\(error)"); return }
            }
            let kernelLog = KernelLog()
            if let code = image.mount(at: target, blobs: files.blobs) {
                let said = (kernelLog?.newMessages() ?? []).filter { $0.contains("erofs") }
                outcome.failed.append("the kernel refused to mount \(image.path) (erofs, file-backed) on \(target): \(describeErrno(code))"
                                      + (said.isEmpty ? "" : "; kernel log: " + said.joined(separator: " | "))
                                      + (code == ErrnoCode.EINVAL && said.isEmpty ? " (a kernel without CONFIG_EROFS_FS_BACKED_BY_FILE, or a daemon that did not fill the superblock)" : "")
                                      + missingBlobsHint(said))
                outcome.mountRefused = true
                return
            }
            let label = plan.passes > 1 ? "\(plan.fsid)-pass\(pass)" : nil
            var released = false
            outcome.failed += withTimeLimit(release: { release(); released = true }) {
                plan.command.isEmpty ? builtInWorkload(at: target, pass: label) : commandWorkload(at: target)
            }
            if let code = Mounts.unmount(target) {
                outcome.failed.append("umount \(target): \(describeErrno(code)); detached lazily")
                Mounts.detach(target)
            }
            if !outcome.failed.isEmpty || released { return }
        }
    }

    /// The workload, on its own thread when there is a time limit (`--workload-timeout`): past
    /// it, `release` (the recording and the daemon stopped) frees the readers still blocked,
    /// and the workload is waited for. Its failures, and the time limit's.
    private func withTimeLimit(release: () -> Void, _ workload: @escaping () -> [String]) -> [String] {
        guard let limit = plan.workloadTimeout else { return workload() }
        final class Finished: Sendable { let failed = Mutex<[String]?>(nil) }
        let result = Finished()
        let thread: Thread
        do { thread = try startThread { let failed = workload(); result.failed.withLock { $0 = failed } } } catch { return workload() }
        let deadline = monotonicNanoseconds() + limit
        while result.failed.withLock({ $0 == nil }), monotonicNanoseconds() < deadline { sleepNanoseconds(20_000_000) }
        if let failed = result.failed.withLock({ $0 }) {
            thread.join()
            return failed
        }
        let said = "the workload did not finish within --workload-timeout (\(JSONWriter.format(Double(limit) / 1e9, decimals: 3)) s; a reader blocked: see never_answered in the report)"
        progress(said + "; the recording ends and the daemon stops, which releases it")
        release()
        thread.join()
        return [said] + (result.failed.withLock { $0 } ?? [])
    }

    /// A mounted pass: the workload (built in, or the command), then umount; what failed.
    private func workloadAndUmount(at target: String, pass: String?) -> [String] {
        var failed = plan.command.isEmpty ? builtInWorkload(at: target, pass: pass) : commandWorkload(at: target)
        if let code = Mounts.unmount(target) {
            failed.append("umount \(target): \(describeErrno(code)); detached lazily")
            Mounts.detach(target)
        }
        return failed
    }

    private func builtInWorkload(at target: String, pass fsid: String?) -> [String] {
        let options = plan.workload, expect = options.expectDirectory
        let result = ImageWorkload.run(root: target, options: options)
        let mib = Double(result.bytes) / 1_048_576
        progress("workload: \(result.files) files, \(result.bytes) bytes in \(JSONWriter.format(result.seconds, decimals: 3)) s (\(JSONWriter.format(result.seconds > 0 ? mib / result.seconds : 0, decimals: 1)) MiB/s), \(options.order.rawValue), \(options.readers) reader(s)" + (fsid.map { ", fsid \($0)" } ?? ""))
        var failed = result.readErrors.map { "read error: \($0)" }
        failed += result.mismatches.map { "bytes differ from \(expect ?? "-"): \($0)" }
        failed += result.missing
        if let expect, result.verified { progress("verified: every byte equals \(expect)") }
        return failed
    }

    /// The command after `--`, started in the mount point with `$ONDEMAND_MOUNT` set.
    private func commandWorkload(at target: String) -> [String] {
        let pid: Int32
        do { pid = try ChildProcess.spawn(plan.command, in: target, environment: ["ONDEMAND_MOUNT": target]) } catch {
            return ["\(error)"]
        }
        let status = ChildProcess.exitCode(ChildProcess.wait(pid))
        return status == 0 ? [] : ["\(plan.command[0]) exited with status \(status)"]
    }

    private static func blockDaemonSignals() {
        // SIGUSR1: the daemon's in-flight dump, not the default exit.
        SignalSet([Signal.interrupt, Signal.terminate, Signal.user1]).block()
    }
}
