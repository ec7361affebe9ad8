import Foundation
import Glibc
import OndemandTraceCore
import SystemCalls
import Testing
import TestSupport
import TraceDatFormat
import TraceFiles
import TraceRecording

/// `record` killed with SIGKILL at a random moment, then `record --recover`: on the host's tracefs
/// (root), with trace_marker lines numbered in the order written as the records.
@Suite(.serialized, .enabled(if: HostFacts.canRecord, "needs root and tracefs"))
struct CrashRecoveryTests {
    /// Lines written longer ago than this before the kill were drained (a round's poll interval,
    /// 0.1 s, and room for a busy host): each round's pages are written to the pieces at once.
    static let syncedBound: UInt64 = 1_000_000_000

    static func markerTexts(_ path: String, prefix: String) throws -> [String] {
        try RecordingTracefsTests.events(in: path).compactMap { event -> String? in
            if case .marker(let m) = event.body, m.text.hasPrefix(prefix) { return m.text }
            return nil
        }
    }

    static func waitForStart(_ recorder: Run.Running) {
        var waited = 0
        while !recorder.stderrSoFar.contains("recording "), waited < 400 {
            usleep(25_000)
            waited += 1
        }
    }

    @Test func aRecorderKilledAtRandomMomentsIsRecoveredEachTime() throws {
        let seed = ProcessInfo.processInfo.environment["ODT_KILL_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 0...UInt64.max)
        print("CrashRecoveryTests: seed \(seed) (ODT_KILL_SEED=\(seed) repeats it)")
        var rng = SplitMix64(seed: seed)
        let scratch = try TemporaryDirectory("crash"); let dir = scratch.path
        var dead: [pid_t] = []  // killed recorders whose instance the next start removes
        var summary: [String] = []
        for round in 0..<20 {
            let output = dir + "/kill\(round).dat"
            let recorder = try Run.start([Run.binary, "record", "--events", "ftrace:print", "--no-cookie-keys", "-o", output])
            // Every fifth round is killed while it may still be starting; the others while recording.
            let early = round % 5 == 4
            let killAfter = early ? rng.next() % 600_000_000 : rng.next() % 3_500_000_000
            let spawned = monotonicNanoseconds()
            if !early { Self.waitForStart(recorder) }
            let started = monotonicNanoseconds()
            if !early {
                for stale in dead.map(InstanceName.forProcess) {
                    #expect(!RecordingTracefsTests.instanceExists(stale), "seed \(seed), round \(round): \(stale) left")
                }
                dead.removeAll()
            }
            // Numbered lines into the recorder's instance until the kill.
            let prefix = "crash \(round) line "
            var written: [UInt64] = []  // when each line was written
            let marker = HostFacts.instancesDirectory + "/\(InstanceName.forProcess(recorder.pid))/trace_marker"
            let fd = early ? -1 : open(marker, O_WRONLY | O_CLOEXEC)
            defer { if fd >= 0 { close(fd) } }
            let deadline = (early ? spawned : started) + killAfter
            while monotonicNanoseconds() < deadline {
                if fd >= 0 {
                    let line = prefix + "\(written.count)\n"
                    if line.withCString({ write(fd, $0, strlen($0)) }) > 0 { written.append(monotonicNanoseconds()) }
                }
                usleep(300)
            }
            kill(recorder.pid, SIGKILL)
            let killed = monotonicNanoseconds()
            _ = recorder.wait()
            dead.append(recorder.pid)

            let recovery = try Run.odt("record", "--recover", output)
            let left = try FileContents.directoryEntries(dir).filter { $0.hasPrefix("kill\(round).dat.") }
            #expect(left.isEmpty, "seed \(seed), round \(round): left \(left)")
            if recovery.status != 0 {
                // Killed before the metadata was written: nothing to recover, said in one line.
                #expect(early && recovery.stderr.contains("nothing to recover"), "seed \(seed), round \(round): \(recovery.stderr)")
                summary.append("\(round): killed at start, nothing to recover")
                continue
            }
            let recovered = try #require(recovery.stderr.split(separator: " ").dropFirst(2).first.flatMap { Int($0) },
                                         "seed \(seed), round \(round): \(recovery.stderr)")
            let texts = try Self.markerTexts(output, prefix: prefix)
            let numbers = texts.compactMap { Int($0.dropFirst(prefix.count)) }
            // In order, each once, and every line written before the last sync is there.
            #expect(numbers == Array(0..<numbers.count), "seed \(seed), round \(round): \(numbers.prefix(5))… \(numbers.count) lines")
            let synced = written.filter { killed - $0 > Self.syncedBound }.count
            #expect(numbers.count >= synced, "seed \(seed), round \(round): \(numbers.count) lines recovered of \(synced) synced, \(written.count) written")
            #expect(recovered >= numbers.count)
            // dump and report read the recovered file.
            // dump and report read the recovered file (no on-demand events in it: exit 2, saying so).
            let dump = try Run.odt("dump", "--all", output)
            #expect(dump.stdout.split(separator: "\n").count == recovered, "seed \(seed), round \(round): \(dump.stderr)")
            for run in [dump, try Run.odt("report", output)] {
                #expect(run.status == 0 || run.stderr.contains("in \(recovered) records (trace.dat v6)"), "seed \(seed), round \(round): \(run.stderr)")
            }
            summary.append("\(round): killed after \(killAfter / 1_000_000) ms\(early ? " (from its start)" : ""), \(written.count) lines written (\(synced) of them ≥1 s before the kill), \(numbers.count) recovered")
        }
        print("CrashRecoveryTests: seed \(seed):\n  " + summary.joined(separator: "\n  "))
        // The last dead recorder's instance goes at the next start.
        let last = try Run.odt("record", "--events", "ftrace:print", "--no-cookie-keys", "--duration", "100ms", "-o", dir + "/last.dat")
        #expect(last.status == 0, "\(last.stderr)")
        for stale in dead.map(InstanceName.forProcess) { #expect(!RecordingTracefsTests.instanceExists(stale)) }
        #expect(try FileContents.directoryEntries(dir).filter { $0.hasPrefix("last.dat") } == ["last.dat"])
    }

    @Test func aNewRecordingRefusesToStartOverUnrecoveredPieces() throws {
        let scratch = try TemporaryDirectory("crash"); let dir = scratch.path
        let output = dir + "/x.dat"
        let recorder = try Run.start([Run.binary, "record", "--events", "ftrace:print", "--no-cookie-keys", "-o", output])
        Self.waitForStart(recorder)
        // While it runs: another recorder to the same output, and a recovery, are refused.
        let second = try Run.odt("record", "--events", "ftrace:print", "-o", output, "--duration", "100ms")
        expectOneLineError(second, "\(output): already being recorded by pid \(recorder.pid)", progress: ProgressLines.record)
        let early = try Run.odt("record", "--recover", output)
        expectOneLineError(early, "\(output).meta: still being recorded by pid \(recorder.pid)", progress: ProgressLines.record)
        kill(recorder.pid, SIGKILL)
        _ = recorder.wait()
        let third = try Run.odt("record", "--events", "ftrace:print", "-o", output, "--duration", "100ms")
        expectOneLineError(third, "the pieces of a killed recording are beside the output; assemble them with `ondemand-trace record --recover \(output)`", progress: ProgressLines.record)
        #expect(try Run.odt("record", "--recover", output).status == 0)
        #expect(try FileContents.directoryEntries(dir) == ["x.dat"])
    }
}

/// `record --recover` on what is not a killed recording's pieces: one line, exit 2, nothing removed.
struct RecoveryBadInputTests {
    static let header = TraceDatV6Header(pageSize: 4096, headerPage: Array("page".utf8), headerEvent: Array("event".utf8),
                                         ftraceFormats: [], systems: [], savedCmdlines: [], options: [.text(.traceClock, "[mono]\n")],
                                         traceClock: "[mono]", cpuDataSizes: [0, 0])

    static func meta(pid: UInt32 = 999_999, id: UInt8 = 1) -> RecordingPieceFormat.Meta {
        .init(id: Array(repeating: id, count: 16), pid: pid, startRealtimeNs: 1_700_000_000_000_000_000, startClockNs: 5_000_000_000,
              instance: "ondemand-trace-\(pid)", header: header)
    }

    static func piece(cpu: Int, id: UInt8 = 1, pages: Int = 0) -> [UInt8] {
        RecordingPieceFormat.pieceHeader(id: Array(repeating: id, count: 16), cpu: cpu, pid: 999_999, pageSize: 4096)
            + [UInt8](repeating: 0, count: pages * 4096)
    }

    /// Writes the files, runs the recovery, checks the one line and that every file is still there.
    func expectRefused(_ files: [String: [UInt8]], _ message: String) throws {
        let scratch = try TemporaryDirectory("recover"); let dir = scratch.path
        for (name, bytes) in files { try Fixtures.write(bytes, to: dir + "/" + name) }
        expectOneLineError(try Run.odt("record", "--recover", dir + "/x.dat"), "ondemand-trace: \(dir)/" + message)
        #expect(try FileContents.directoryEntries(dir).sorted() == files.keys.sorted())
    }

    @Test func notOurs() throws {
        try expectRefused(["x.dat.meta": Array("hello, this is a text file\n".utf8), "x.dat.cpu0": Self.piece(cpu: 0)],
                          "x.dat.meta: not a piece of an ondemand-trace recording")
        try expectRefused(["x.dat.meta": RecordingPieceFormat.encode(Self.meta()), "x.dat.cpu0": Array(repeating: 7, count: 5000)],
                          "x.dat.cpu0: not a piece of an ondemand-trace recording")
    }

    @Test func halfWrittenMetadata() throws {
        let bytes = RecordingPieceFormat.encode(Self.meta())
        for cut in [10, bytes.count / 2, bytes.count - 1] {
            try expectRefused(["x.dat.meta": Array(bytes.prefix(cut)), "x.dat.cpu0": Self.piece(cpu: 0)], "x.dat.meta: half-written (\(cut) of")
        }
        var changed = bytes
        changed[40] ^= 0xff
        try expectRefused(["x.dat.meta": changed], "x.dat.meta: damaged: its checksum does not match")
    }

    @Test func piecesOfTwoRecordings() throws {
        try expectRefused(["x.dat.meta": RecordingPieceFormat.encode(Self.meta()), "x.dat.cpu0": Self.piece(cpu: 0),
                           "x.dat.cpu1": Self.piece(cpu: 1, id: 2)],
                          "x.dat.cpu1: from another recording (pid 999999) than ")
    }

    @Test func missingMetadataOrNothingAtAll() throws {
        try expectRefused(["x.dat.cpu0": Self.piece(cpu: 0)], "x.dat.meta: missing: the pieces")
        try expectRefused([:], "x.dat.meta: no such file: nothing to recover beside")
        try expectRefused(["x.dat.meta": RecordingPieceFormat.encode(Self.meta()), "x.dat.cpu2": Self.piece(cpu: 2)],
                          "x.dat.cpu2: from another recording (")
    }

    @Test func metadataRoundTrips() throws {
        var meta = Self.meta()
        meta.header.systems = [.init(name: "cachefiles", formats: [Array("fmt".utf8)])]
        meta.header.ftraceFormats = [Array("print".utf8)]
        #expect(try RecordingPieceFormat.decodeMeta(RecordingPieceFormat.encode(meta)) == meta)
        let piece = try RecordingPieceFormat.decodePieceHeader(Self.piece(cpu: 3))
        #expect(piece.id == Array(repeating: 1, count: 16) && piece.cpu == 3 && piece.pid == 999_999 && piece.pageSize == 4096)
    }
}

/// `doctor` names a dead recorder's instance and prints the command that removes it.
@Suite(.serialized, .enabled(if: HostFacts.canRecord, "needs root and tracefs"))
struct DoctorStaleInstanceTests {
    /// Other suites' recorders, started in parallel, remove stale instances too: a round where
    /// one did so before doctor looked, or before the rmdir, is tried again.
    @Test func theFixLineRemovesTheStaleInstance() throws {
        var checked = false
        for _ in 0..<10 where !checked {
            let gone = try Run.start(["/bin/true"])
            _ = gone.wait()
            let stale = InstanceName.forProcess(gone.pid)
            let path = HostFacts.instancesDirectory + "/" + stale
            #expect(mkdir(path, 0o755) == 0)
            defer { rmdir(path) }
            let doctor = try Run.odt("doctor")
            guard let fix = doctor.stdout.split(separator: "\n").first(where: { $0.contains("fix:") && $0.contains(stale) }) else {
                #expect(!RecordingTracefsTests.instanceExists(stale), "\(doctor.stdout)")
                continue
            }
            let command = try #require(fix.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
                .compactMap { part -> String? in part.range(of: "rmdir ").map { String(part[$0.lowerBound...]) } }
                .first { $0.hasSuffix("/" + stale) }, "\(fix)")
            #expect(command == "rmdir " + path)
            let removal = try Run.start(["sh", "-c", command]).wait()
            #expect(!RecordingTracefsTests.instanceExists(stale))
            checked = removal.status == 0
        }
        #expect(checked, "doctor's fix line never ran before another recorder removed the instance")
    }
}
