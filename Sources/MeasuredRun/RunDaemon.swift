import OndemandDaemon
import OndemandTraceCore
import SystemCalls

/// Whoever serves a run's requests: started after the recording, stopped before it ends.
enum RunDaemon {
    case embedded(OndemandServer)
    /// Ours on the fanotify path.
    case fanotify(FanotifyServer)
    /// `sh -c command`, leading a process group of its own: stopping it stops what it started.
    case command(Int32, String)
    case alreadyServing

    static let caches = "/proc/fs/fscache/caches"

    /// The user's daemon, `sh -c command`, once it has bound a cache.
    static func startCommand(_ command: String, bindTimeout: UInt64, progress: (String) -> Void) throws(RunError) -> RunDaemon {
        let before = try boundCaches()
        let pid: Int32
        do { pid = try ChildProcess.spawn(["/bin/sh", "-c", command], newProcessGroup: true) } catch { throw RunError("--daemon-command: \(error)") }
        let deadline = monotonicNanoseconds() + bindTimeout
        while true {
            if let status = ChildProcess.statusIfEnded(pid) {
                throw RunError("--daemon-command '\(command)' \(ChildProcess.describe(status)) before it bound a cache")
            }
            if let bound = FscacheCaches.newlyBound(before: before, now: try boundCaches()).first {
                progress("daemon: '\(command)' (pid \(pid)) bound cache \(bound.name)")
                return .command(pid, command)
            }
            if monotonicNanoseconds() >= deadline {
                _ = stop(pid)
                throw RunError("--daemon-command '\(command)' bound no cache within \(bindTimeout % 1_000_000_000 == 0 ? "\(bindTimeout / 1_000_000_000) s" : "\(bindTimeout / 1_000_000) ms") (no new active cache in \(caches)); stopped it")
            }
            sleepNanoseconds(20_000_000)
        }
    }

    /// The user's fanotify daemon, `sh -c command` with `$ONDEMAND_IMAGE_FILE` (the sparse file to
    /// mark and fill) and `$ONDEMAND_SOURCE_IMAGE` (the full image) set, and for a bootstrap +
    /// blobs image `$ONDEMAND_BLOB_FILES` and `$ONDEMAND_BLOB_SOURCES` (one path a line, in device
    /// order), once it has marked every file. `sources`: the image's, then the blobs'.
    static func startFanotifyCommand(_ command: String, files: FanotifyFiles, sources: [String], markTimeout: UInt64,
                                     progress: (String) -> Void) throws(RunError) -> RunDaemon {
        let image = files.image
        var environment = ["ONDEMAND_IMAGE_FILE": image.path, "ONDEMAND_SOURCE_IMAGE": sources[0]]
        if !files.blobs.isEmpty {
            environment["ONDEMAND_BLOB_FILES"] = files.blobs.map(\.path).joined(separator: "\n")
            environment["ONDEMAND_BLOB_SOURCES"] = sources.dropFirst().joined(separator: "\n")
        }
        let pid: Int32
        do {
            pid = try ChildProcess.spawn(["/bin/sh", "-c", command], environment: environment, newProcessGroup: true)
        } catch { throw RunError("--daemon-command: \(error)") }
        let deadline = monotonicNanoseconds() + markTimeout
        while true {
            if let status = ChildProcess.statusIfEnded(pid) {
                throw RunError("--daemon-command '\(command)' \(ChildProcess.describe(status)) before it marked \(image.path)")
            }
            let unmarked = ([image] + files.blobs).filter { !$0.isMarked() }
            if unmarked.isEmpty {
                progress("daemon: '\(command)' (pid \(pid)) marked \(image.path)" + (files.blobs.isEmpty ? "" : " and \(files.blobs.count) blob file(s)") + " for pre-content events")
                return .command(pid, command)
            }
            if monotonicNanoseconds() >= deadline {
                _ = stop(pid)
                throw RunError("--daemon-command '\(command)' did not mark \(unmarked.map(\.path).joined(separator: ", ")) for pre-content events within \(markTimeout / 1_000_000) ms (no FAN_PRE_ACCESS mark in any /proc/*/fdinfo); stopped it")
            }
            sleepNanoseconds(20_000_000)
        }
    }

    /// A daemon already serving: some cache must be bound.
    static func requireBoundCache() throws(RunError) -> RunDaemon {
        guard try boundCaches().contains(where: { $0.state == "A" }) else {
            throw RunError("--no-daemon: no cache is bound (\(caches) lists no active cache): start the daemon first")
        }
        return .alreadyServing
    }

    static func boundCaches() throws(RunError) -> [FscacheCaches.Cache] {
        do { return FscacheCaches.parse(try FileContents.readText(caches)) } catch {
            throw RunError("\(error) (is fscache built into this kernel?)")
        }
    }

    /// Stops it; the line that says how it ended.
    func stop() -> String {
        switch self {
        case .embedded(let server):
            let t = server.stop()
            return "daemon: \(t.opens) OPEN (\(t.openErrors) refused), \(t.reads) READ, \(t.readBytes) bytes, \(t.closes) CLOSE, \(t.faults) fault(s) injected"
        case .fanotify(let server):
            let t = server.stop()
            return "daemon: \(t.events) pre-content event(s) (\(t.present) present, \(t.denied) denied, \(t.unanswered) unanswered), \(t.bytes) bytes, \(t.faults) fault(s) injected"
        case .command(let pid, let command):
            return "daemon: '\(command)' " + Self.stop(pid)
        case .alreadyServing:
            return "daemon: left serving (--no-daemon)"
        }
    }

    /// SIGTERM to its process group, 10 s to exit, then SIGKILL; how it ended.
    static func stop(_ pid: Int32) -> String {
        let (status, killed) = ChildProcess.stop(pid, group: true, grace: 10_000_000_000)
        return ChildProcess.describe(status) + (killed ? " (did not exit within 10 s of SIGTERM)" : "")
    }
}
