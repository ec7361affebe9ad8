import Glibc
import OndemandDaemon
import OndemandTraceCore
import SystemCalls
import TraceRecording

/// One run: recording, daemon (its markers into the recording), then per pass mount, workload and
/// umount; the daemon and the recording stopped. Whatever fails after the set-up is an entry in
/// `failed`, so the trace is still written; every path out removes what it made.
struct SingleRun {
    let plan: RunPlan
    let progress: (String) -> Void

    struct Outcome {
        var trace: String
        var failed: [String]
    }

    func measure(cacheDirectory: String, trace: String, pinning: CPUPinning?) throws(RunError) -> Outcome {
        // SIGINT/SIGTERM go to the daemon's signalfd (blocked here, before any thread exists):
        // an interrupted run still unmounts and writes what it has.
        Self.blockDaemonSignals()
        let session = RecordingSession(options: RecordingOptions(outputPath: trace, bufferSizeKB: plan.bufferSizeKB))
        var server: OndemandServer? = try start(session, cacheDirectory: cacheDirectory)
        // The daemon's threads inherit this thread's CPUs when they start; the readers (and the
        // mount) get the others.
        pinning?.pinDaemon()
        server!.start()
        pinning?.pinReaders()
        defer { pinning?.restore() }

        var failed: [String] = []
        do throws(RunError) {
            failed = try withMountpoint { target in runPasses(at: target) }
        } catch {
            _ = server!.stop(); server = nil; session.abandon()
            throw error
        }
        let totals = server!.stop()
        // Release the daemon before the recording ends: its devnode (the next run binds a new
        // cache) and its trace_marker fd (the recording's instance cannot be removed while open).
        server = nil
        let recorded: RecordingResult
        do { recorded = try session.stop() } catch { throw RunError("\(error)") }
        progress("daemon: \(totals.opens) OPEN (\(totals.openErrors) refused), \(totals.reads) READ, \(totals.readBytes) bytes, \(totals.closes) CLOSE, \(totals.faults) fault(s) injected")
        progress("wrote \(recorded.path): \(recorded.events) records" + (recorded.lostEvents > 0 ? ", \(recorded.lostEvents) LOST (raise --buffer-size)" : ""))
        return Outcome(trace: recorded.path, failed: failed)
    }

    /// The recording, then the daemon writing its markers into it.
    private func start(_ session: RecordingSession, cacheDirectory: String) throws(RunError) -> OndemandServer {
        var configuration = plan.daemon
        configuration.cacheDirectory = cacheDirectory
        guard let absoluteImage = realpath(plan.image, nil) else { throw RunError("\(plan.image): \(describeErrno(errno))") }
        configuration.blobFiles = Dictionary(uniqueKeysWithValues: plan.passFsids.map { ($0, String(cString: absoluteImage)) })
        free(absoluteImage)
        configuration.exitFaultEndsProcess = false  // the recording and the report must survive it
        do {
            try session.start()
            configuration.markerPath = session.markerPath
            let log = try plan.daemonLog.map { path throws(DaemonError) in try DaemonLog(path: path) } ?? DaemonLog()
            return try OndemandServer(configuration, log: log)
        } catch {
            session.abandon()
            throw RunError("\(error)")
        }
    }

    /// Runs `body` in the plan's mount point, or in a fresh one under /tmp that is removed after.
    private func withMountpoint(_ body: (String) -> [String]) throws(RunError) -> [String] {
        if let mountpoint = plan.mountpoint { return body(mountpoint) }
        var template = Array("/tmp/ondemand-trace-run.XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            throw RunError("cannot create a mount point under /tmp: \(describeErrno(errno))")
        }
        let target = String(cString: made)
        defer { rmdir(target) }
        return body(target)
    }

    /// Each pass: mount with its fsid, the workload, umount. Stops at the first failure.
    private func runPasses(at target: String) -> [String] {
        var failed: [String] = []
        let fsids = plan.passFsids
        for fsid in fsids {
            guard mount("none", target, "erofs", 0, "fsid=\(fsid)") == 0 else {
                failed.append("mount -t erofs none -o fsid=\(fsid) \(target): \(describeErrno(errno))")
                break
            }
            failed += plan.command.isEmpty ? builtInWorkload(at: target, pass: fsids.count > 1 ? fsid : nil)
                                           : commandWorkload(at: target)
            if umount2(target, 0) != 0 {
                failed.append("umount \(target): \(describeErrno(errno)); detached lazily")
                umount2(target, Int32(MNT_DETACH))
            }
            if !failed.isEmpty { break }
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
        let pid: pid_t
        do { pid = try ChildProcess.spawn(plan.command, in: target, environment: ["ONDEMAND_MOUNT": target]) } catch {
            return ["\(error)"]
        }
        let status = ChildProcess.exitCode(ChildProcess.wait(pid))
        return status == 0 ? [] : ["\(plan.command[0]) exited with status \(status)"]
    }

    private static func blockDaemonSignals() {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        sigaddset(&signals, SIGUSR1)  // the daemon's in-flight dump, not the default exit
        pthread_sigmask(SIG_BLOCK, &signals, nil)
    }
}
