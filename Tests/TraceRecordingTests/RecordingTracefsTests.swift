import Glibc
import OndemandTraceCore
import Testing
import TestSupport
import TraceFiles
import TraceRecording

/// Recording on the host's real tracefs (root needed). The host kernel has no cachefiles, so these
/// record events every kernel has: ftrace:print (trace_marker writes) and sched:sched_process_exec.
// Serialized: every recorder start removes stale instances, so concurrent ones would race.
@Suite(.serialized, .enabled(if: HostFacts.canRecord, "needs root and tracefs"))
struct RecordingTracefsTests {
    static func instanceExists(_ name: String) -> Bool {
        access(HostFacts.instancesDirectory + "/" + name, F_OK) == 0
    }

    static func writeMarkers(_ path: String, _ lines: [String]) throws {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Run.Failure(description: "cannot open \(path)") }
        defer { close(fd) }
        for line in lines {
            let n = line.withCString { write(fd, $0, strlen($0)) }
            guard n == line.utf8.count else { throw Run.Failure(description: "short write to \(path)") }
        }
    }

    /// Runs /bin/true `count` times, one after the other; their pids.
    static func runTrue(_ count: Int) throws -> Set<Int32> {
        var pids = Set<Int32>()
        for _ in 0..<count {
            let run = try Run.start(["/bin/true"])
            pids.insert(run.pid)
            #expect(run.wait().status == 0)
        }
        return pids
    }

    static func events(in path: String) throws -> [TraceEvent] {
        var events: [TraceEvent] = []
        _ = try TraceInput.read(path: path, selection: [.markers, .otherSystems]) { item in
            if case .event(let event) = item { events.append(event) }
        }
        return events
    }

    @Test func recordsMarkersAndExecsThroughTheSessionAPI() throws {
        let scratch = try TemporaryDirectory("recording"); let dir = scratch.path
        let output = dir + "/api.dat"
        let name = "odt-test-api-\(getpid())"
        let session = RecordingSession(options: RecordingOptions(
            outputPath: output, events: [EventSpec(system: "sched", event: "sched_process_exec"), .marker],
            bufferSizeKB: 1024, instanceName: name))
        try session.start()
        #expect(Self.instanceExists(name))
        let markerPath = try #require(session.markerPath)
        #expect(markerPath.hasSuffix("/instances/\(name)/trace_marker"))
        let markers = (0..<50).map { "odt-test line \($0)\n" }
        try Self.writeMarkers(markerPath, markers)
        let pids = try Self.runTrue(20)
        let result = try session.stop()
        #expect(!Self.instanceExists(name))
        #expect(result.path == output)
        #expect(result.events >= 70)
        #expect(result.lostEvents == 0)
        #expect(result.cpuStats.count == Int(sysconf(Int32(_SC_NPROCESSORS_CONF))))

        let events = try Self.events(in: output)
        #expect(events.count == Int(result.events))
        let texts = events.compactMap { event -> String? in
            if case .marker(let marker) = event.body, marker.text.hasPrefix("odt-test line ") { return marker.text }
            return nil
        }
        #expect(texts == markers.map { String($0.dropLast()) })
        let execs = events.filter { $0.name == "sched_process_exec" && pids.contains($0.pid) }
        #expect(execs.count == 20)
        for exec in execs {
            guard case .generic(let generic) = exec.body else { Issue.record("not generic: \(exec)"); continue }
            #expect(generic["filename"] == .string("/bin/true"))
            #expect(generic["pid"]?.integer == Int64(exec.pid))
        }
        #expect(events.map(\.timestamp) == events.map(\.timestamp).sorted())

        // trace-cmd reads the same records.
        let report = try Run.start(["trace-cmd", "report", "-i", output]).wait()
        #expect(report.status == 0, "\(report.stderr)")
        let lines = report.stdout.split(separator: "\n")
        #expect(lines.filter { $0.contains(" print: ") && $0.contains("odt-test line ") }.count == 50)
        for pid in pids {
            #expect(lines.filter { $0.contains("sched_process_exec:") && $0.contains("filename=/bin/true pid=\(pid) ") }.count == 1)
        }
        let stat = try Run.start(["trace-cmd", "report", "--stat", "-i", output]).wait()
        #expect(stat.stdout.contains("overrun: 0"), "\(stat.stdout)")
    }

    @Test(arguments: [SIGINT, SIGTERM])
    func aSignalLeavesAValidFileAndNoInstance(signal: Int32) throws {
        let scratch = try TemporaryDirectory("recording"); let dir = scratch.path
        let output = dir + "/signal.dat"
        let recorder = try Run.start([Run.binary, "record", "--events", "ftrace:print", "-o", output])
        let name = InstanceName.forProcess(recorder.pid)
        let marker = HostFacts.instancesDirectory + "/\(name)/trace_marker"
        // Tracing is on once the start line is printed.
        var waited = 0
        while !recorder.stderrSoFar.contains("recording "), waited < 200 {
            usleep(50_000)
            waited += 1
        }
        try Self.writeMarkers(marker, (0..<10).map { "before signal \($0)\n" })
        kill(recorder.pid, signal)
        let result = recorder.wait()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("wrote \(output): 10 records"), "\(result.stderr)")
        #expect(!Self.instanceExists(name))
        let texts = try Self.events(in: output).compactMap { event -> String? in
            if case .marker(let m) = event.body { return m.text }
            return nil
        }
        #expect(texts == (0..<10).map { "before signal \($0)" })
        #expect(try Run.start(["trace-cmd", "report", "-i", output]).wait().status == 0)
    }

    @Test func recordingStopsWhenTheCommandExits() throws {
        let scratch = try TemporaryDirectory("recording"); let dir = scratch.path
        let output = dir + "/command.dat"
        let result = try Run.odt("record", "--events", "sched:sched_process_exec", "-o", output,
                                        "--", "/bin/sh", "-c", "/bin/true; /bin/true; /bin/true")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("sh exited with status 0"))
        let execs = try Self.events(in: output).filter {
            if case .generic(let g) = $0.body { return g["filename"] == .string("/bin/true") }
            return false
        }
        #expect(execs.count >= 3)
    }

    @Test func staleInstancesOfDeadRecordersAreRemovedAndLiveOnesKept() throws {
        let dead = try Run.start(["/bin/true"])
        _ = dead.wait()
        let stale = InstanceName.forProcess(dead.pid)
        let live = InstanceName.forProcess(1)  // init never dies
        #expect(mkdir(HostFacts.instancesDirectory + "/" + stale, 0o755) == 0)
        let madeLive = mkdir(HostFacts.instancesDirectory + "/" + live, 0o755) == 0
        defer {
            rmdir(HostFacts.instancesDirectory + "/" + stale)
            if madeLive { rmdir(HostFacts.instancesDirectory + "/" + live) }
        }
        let scratch = try TemporaryDirectory("recording"); let dir = scratch.path
        let session = RecordingSession(options: RecordingOptions(outputPath: dir + "/x.dat", events: [.marker],
                                                                 bufferSizeKB: 64, instanceName: "odt-test-stale-\(getpid())"))
        try session.start()
        session.abandon()
        #expect(session.staleInstancesRemoved.contains(stale))
        #expect(!Self.instanceExists(stale))
        #expect(Self.instanceExists(live) == madeLive)
        #expect(!Self.instanceExists("odt-test-stale-\(getpid())"))
    }

    @Test func errorsAreOneLineExitTwoAndLeaveNoInstance() throws {
        let scratch = try TemporaryDirectory("record-errors"), never = scratch.path + "/never.dat"
        let cases: [([String], String)] = [
            (["-o", "/nonexistent-dir/x.dat", "--events", "ftrace:print"], "/nonexistent-dir/x.dat: cannot write the output here: no such directory"),
            (["-o", scratch.path, "--events", "ftrace:print"], "\(scratch.path): is a directory"),
            (["--events", "nosuch:event", "-o", never], "no such event 'nosuch:event' in this kernel"),
            (["--events", "nosuchsystem", "-o", never], "no such event system 'nosuchsystem'"),
            (["--events", "ftrace:print", "--clock", "sundial", "-o", never], "--clock sundial: this kernel has no such trace clock"),
        ]
        for (arguments, message) in cases {
            let run = try Run.start([Run.binary, "record"] + arguments)
            let result = run.wait()
            expectOneLineError(result, message, progress: ProgressLines.record)
            #expect(!Self.instanceExists(InstanceName.forProcess(run.pid)))
        }
        #expect(try Fixtures.list(scratch.path).isEmpty)
    }

    @Test(.enabled(if: HostFacts.hasSetpriv, "needs setpriv"))
    func withoutPermissionItIsOneLine() throws {
        let scratch = try TemporaryDirectory("record-nobody")
        chmod(scratch.path, 0o777)  // the output could be written: the instance is what is refused
        let result = try Run.start(["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
                                    Run.binary, "record", "--events", "ftrace:print", "-o", scratch.path + "/never.dat"]).wait()
        expectOneLineError(result, "/instances: permission denied: recording needs root (or CAP_SYS_ADMIN)", progress: ProgressLines.record)
    }

    @Test(.enabled(if: !HostFacts.hasCachefilesEvents && !HostFacts.hasKprobeEvents, "this kernel has an on-demand path"))
    func withoutAnyOndemandPathTheDefaultFailsClearly() throws {
        let scratch = try TemporaryDirectory("record-paths"), never = scratch.path + "/never.dat"
        let result = try Run.odt("record", "-o", never, "--duration", "1")
        expectOneLineError(result, "this kernel offers no on-demand path to record: no cachefiles_ondemand_* events", progress: ProgressLines.record)
        let forced = try Run.odt("record", "--backend", "cachefiles", "-o", never, "--duration", "1")
        expectOneLineError(forced, "no cachefiles events in this kernel (it lacks CONFIG_CACHEFILES", progress: ProgressLines.record)
    }

    /// The fanotify path without kprobe events: one line, and no instance or probe group left.
    @Test(.enabled(if: !HostFacts.hasKprobeEvents, "this kernel has kprobe events"))
    func fanotifyWithoutKprobeEventsFailsClearly() throws {
        let scratch = try TemporaryDirectory("record-kprobes")
        let run = try Run.start([Run.binary, "record", "--backend", "fanotify", "-o", scratch.path + "/never.dat", "--duration", "1"])
        let result = run.wait()
        expectOneLineError(result, "kprobe_events: not found: this kernel has no kprobe events (CONFIG_KPROBE_EVENTS)", progress: ProgressLines.record)
        #expect(!Self.instanceExists(InstanceName.forProcess(run.pid)))
        #expect(try Fixtures.list(scratch.path).isEmpty)
    }

    @Test func aSecondRecorderOnTheSameInstanceNameIsRefused() throws {
        let name = "odt-test-busy-\(getpid())"
        #expect(mkdir(HostFacts.instancesDirectory + "/" + name, 0o755) == 0)
        defer { rmdir(HostFacts.instancesDirectory + "/" + name) }
        let scratch = try TemporaryDirectory("record-busy")
        let result = try Run.odt("record", "--events", "ftrace:print", "--instance", name, "-o", scratch.path + "/never.dat")
        expectOneLineError(result, "tracefs instance \(name) already exists: another recorder is using it", progress: ProgressLines.record)
        #expect(Self.instanceExists(name))  // someone else's: left alone
    }

    @Test(.enabled(if: HostFacts.canMountTmpfs, "cannot mount a small tmpfs here"))
    func aFullDiskIsOneLineAndLeavesNoFile() throws {
        let scratch = try TemporaryDirectory("recording"); let dir = scratch.path
        defer { umount(dir) }
        #expect(mount("tmpfs", dir, "tmpfs", 0, "size=64k") == 0)
        let output = dir + "/full.dat"
        let recorder = try Run.start([Run.binary, "record", "--events", "ftrace:print", "-o", output, "--duration", "3"])
        let marker = HostFacts.instancesDirectory + "/\(InstanceName.forProcess(recorder.pid))/trace_marker"
        var waited = 0
        while !recorder.stderrSoFar.contains("recording "), waited < 200 {
            usleep(50_000)
            waited += 1
        }
        // About 1 MiB of markers: far more than 64 KiB.
        try Self.writeMarkers(marker, (0..<8000).map { "filler line \($0) " + String(repeating: "x", count: 100) + "\n" })
        let result = recorder.wait()
        expectOneLineError(result, "no space left on device (disk full)", progress: ProgressLines.record)
        #expect(try Run.start(["ls", "-A", dir]).wait().stdout.isEmpty)
        #expect(!Self.instanceExists(InstanceName.forProcess(recorder.pid)))
    }
}

@Suite(.enabled(if: HostFacts.canRecord, "needs root and tracefs"))
struct LiveCLITests {
    @Test func liveLinesCountTheMarkersOfEachInterval() throws {
        let scratch = try TemporaryDirectory("recording"); let dir = scratch.path
        let script = "sleep 0.5; for i in 1 2 3 4 5; do echo \"odt1 pickup read msg=$i oid=1 off=0 len=4096\" > \(HostFacts.instancesDirectory)/ondemand-trace-$PPID/trace_marker; done; sleep 0.7"
        let result = try Run.odt("record", "--live", "--interval", "250ms", "--events", "ftrace:print", "-o", dir + "/live.dat", "--", "/bin/sh", "-c", script)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count >= 5)
        #expect(lines.allSatisfy { $0.contains("s reads 0 (0 answered, 0 KiB) | opens 0 (0 answered) | anomalies 0 | records ") })
        #expect(lines.last?.hasSuffix(" (final)") == true)
        let markers = lines.compactMap { line in line.split(separator: " ").last(where: { Int($0) != nil }).flatMap { Int($0) } }
        #expect(markers.reduce(0, +) == 5, "\(result.stdout)")
    }

    @Test func countStopsTheRecording() throws {
        let scratch = try TemporaryDirectory("recording"); let dir = scratch.path
        let result = try Run.odt("record", "--live", "--interval", "100ms", "--count", "3", "--events", "ftrace:print", "-o", dir + "/count.dat")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.split(separator: "\n").count == 3)
        #expect(access(dir + "/count.dat", F_OK) == 0)
    }
}

@Suite(.enabled(if: HostFacts.canRecord, "needs root and tracefs"))
struct LostEventsTests {
    /// A burst far larger than a tiny buffer, written between two drains: the kernel overwrites
    /// events, and the recorder says how many, stores the stats and still writes a valid file.
    @Test func aBurstIntoATinyBufferIsReportedAndStored() throws {
        let scratch = try TemporaryDirectory("recording"); let dir = scratch.path
        let output = dir + "/lost.dat"
        let recorder = try Run.start([Run.binary, "record", "--events", "ftrace:print", "--buffer-size", "16",
                                             "-o", output, "--duration", "2"])
        let marker = HostFacts.instancesDirectory + "/\(InstanceName.forProcess(recorder.pid))/trace_marker"
        var waited = 0
        while !recorder.stderrSoFar.contains("recording "), waited < 200 {
            usleep(50_000)
            waited += 1
        }
        // ~1.2 MiB in one go (a 100 ms poll interval) into 16 KiB per CPU.
        let line = "burst " + String(repeating: "y", count: 50) + "\n"
        let fd = open(marker, O_WRONLY | O_CLOEXEC)
        #expect(fd >= 0)
        for _ in 0..<20_000 { _ = line.withCString { write(fd, $0, strlen($0)) } }
        close(fd)
        let result = recorder.wait()
        #expect(result.status == 0, "\(result.stderr)")
        let warning = result.stderr.split(separator: "\n").first { $0.hasPrefix("warning: the ring buffer lost ") }
        #expect(warning != nil, "\(result.stderr)")
        #expect(warning?.contains("overrun ") == true)
        #expect(warning?.contains("raise --buffer-size (now 16 KiB per CPU)") == true)
        let lost = warning.flatMap { $0.split(separator: " ")[5...].first.flatMap { Int($0) } } ?? 0
        #expect(lost > 0)

        var markers = 0
        let summary = try TraceInput.read(path: output, selection: .markers) { item in
            if case .event = item { markers += 1 }
        }
        #expect(markers > 0 && markers < 20_000)
        let overruns = summary.cpuStats.compactMap { stats in
            stats.split(separator: "\n").first { $0.hasPrefix("overrun: ") }.flatMap { Int($0.dropFirst("overrun: ".count)) }
        }
        #expect(overruns.reduce(0, +) > 0, "\(summary.cpuStats)")
        #expect(markers + overruns.reduce(0, +) <= 20_000)
    }
}
