import Glibc
import SystemCalls
import Testing
import TestSupport

@Suite struct ErrnoTextTests {
    /// Names from glibc, so an errno the core's fault table does not list is named too.
    @Test func namesEveryErrnoGlibcKnows() {
        #expect(describeErrno(ENOENT) == "ENOENT (No such file or directory)")
        #expect(describeErrno(EDQUOT) == "EDQUOT (Disk quota exceeded)")
        #expect(describeErrno(ENOTCONN) == "ENOTCONN (Transport endpoint is not connected)")
        #expect(describeErrno(4000) == "errno 4000 (Unknown error 4000)")
    }
}

/// The one output policy: EPIPE ends quietly (`Closed`), anything else names the output and the errno.
@Suite struct OutputTests {
    @Test func aFullDiskIsOneLineNamingTheOutput() throws {
        let fd = open("/dev/full", O_WRONLY)
        try #require(fd >= 0, "needs /dev/full")
        defer { close(fd) }
        do {
            try OutputDescriptor(fd: fd, name: "standard output").write("x\n")
            Issue.record("a write to /dev/full succeeded")
        } catch let error as SystemError {
            #expect(error.description == "standard output: write failed: ENOSPC (No space left on device)")
        }
    }

    @Test func aReaderThatLeftEndsTheOutputQuietly() throws {
        OutputDescriptor.reportBrokenPipes()
        var ends: [Int32] = [0, 0]
        try #require(pipe(&ends) == 0)
        close(ends[0])
        defer { close(ends[1]) }
        #expect(throws: OutputDescriptor.Closed.self) { try OutputDescriptor(fd: ends[1], name: "standard output").write("x\n") }
    }

    @Test func aFileIsWrittenWholeOrNamedInTheError() throws {
        let dir = try TemporaryDirectory("output")
        try OutputFile.write("one\ntwo\n", to: dir.path + "/out")
        #expect(try FileContents.readText(dir.path + "/out") == "one\ntwo\n")
        #expect(throws: SystemError.self) { try OutputFile.write("x", to: dir.path + "/missing/out") }
        do { try OutputFile.write("x", to: dir.path + "/missing/out") } catch {
            #expect(error.description == dir.path + "/missing/out: cannot write: ENOENT (No such file or directory)")
        }
        do { try OutputFile.write("x", to: "/dev/full") } catch {
            #expect(error.description == "/dev/full: write failed: ENOSPC (No space left on device)")
        }
        #expect(access("/dev/full", F_OK) == 0, "a device is not removed")
    }
}

@Suite struct ChildProcessGroupTests {
    /// `run --daemon-command`'s shell: stopping it stops what it started.
    @Test func stoppingAGroupStopsTheShellsChildren() throws {
        let pid = try ChildProcess.spawn(["/bin/sh", "-c", "sleep 30 & sleep 30; wait"], newProcessGroup: true)
        sleepNanoseconds(200_000_000)  // the shell has started its children
        let (status, killed) = ChildProcess.stop(pid, group: true, grace: 5_000_000_000)
        #expect(ChildProcess.killingSignal(status) == SIGTERM && !killed, "\(ChildProcess.describe(status))")
        #expect(!ChildProcess.groupHasLiveMembers(pid), "no process of the group runs (zombies an init does not reap may stay)")
    }

    @Test func aChildThatIgnoresSIGTERMIsKilled() throws {
        let pid = try ChildProcess.spawn(["/bin/sh", "-c", "trap '' TERM; sleep 30 & wait; wait"], newProcessGroup: true)
        sleepNanoseconds(200_000_000)
        let (status, killed) = ChildProcess.stop(pid, group: true, grace: 300_000_000)
        #expect(killed && ChildProcess.killingSignal(status) == SIGKILL, "\(ChildProcess.describe(status))")
    }

    @Test func statusIfEndedIsNilWhileTheChildRuns() throws {
        let pid = try ChildProcess.spawn(["/bin/sh", "-c", "exit 4"])
        var status: Int32?
        for _ in 0..<250 where status == nil {
            status = ChildProcess.statusIfEnded(pid)
            if status == nil { sleepNanoseconds(20_000_000) }
        }
        #expect(status.map(ChildProcess.exitCode) == 4)
        let sleeper = try ChildProcess.spawn(["sleep", "30"])
        #expect(ChildProcess.statusIfEnded(sleeper) == nil)
        ChildProcess.signal(sleeper, SIGKILL)
        #expect(ChildProcess.killingSignal(ChildProcess.wait(sleeper)) == SIGKILL)
    }

    @Test func outputOfACommandIsItsStandardOutputWhenItSucceeds() {
        #expect(ChildProcess.output(of: ["/bin/sh", "-c", "echo out; echo err >&2"]) == "out\n")
        #expect(ChildProcess.output(of: ["/bin/sh", "-c", "echo out; exit 1"]) == nil)
        #expect(ChildProcess.output(of: ["/nonexistent/program"]) == nil)
    }

    /// A child started after `reportBrokenPipes` gets SIGPIPE back: `yes | head` ends.
    @Test func childrenGetSIGPIPEBack() throws {
        OutputDescriptor.reportBrokenPipes()
        let pid = try ChildProcess.spawn(["/bin/sh", "-c", "yes | head -n 1 >/dev/null"])
        #expect(ChildProcess.exitCode(ChildProcess.wait(pid)) == 0)
    }

    /// `probeMetadata`'s guard: a crash in the body is the child's, reported as its signal.
    @Test func anIsolatedCrashIsTheChildsSignal() {
        let crashed = ChildProcess.runIsolated { raise(SIGSEGV) }
        #expect(crashed.flatMap(ChildProcess.killingSignal) == SIGSEGV)
        #expect(ChildProcess.runIsolated {} == 0)
    }
}

@Suite struct ClockAndSignalTests {
    @Test func sleepsTheWholeTimeAndClocksMove() {
        let start = monotonicNanoseconds()
        sleepNanoseconds(30_000_000)
        #expect(monotonicNanoseconds() - start >= 30_000_000)
        #expect(Clock.realtime.nanoseconds() > 1_700_000_000 * 1_000_000_000)  // after 2023
        #expect(Clock.boottime.nanoseconds() > 0 && Clock.monotonicRaw.nanoseconds() > 0)
    }

    @Test func aSignalSetWaitsForItsSignalOrTheTime() {
        let set = SignalSet([SIGUSR2])
        set.block()
        #expect(set.wait(timeoutNanoseconds: 10_000_000) == nil)
        pthread_kill(pthread_self(), SIGUSR2)
        #expect(set.wait(timeoutNanoseconds: 1_000_000_000) == SIGUSR2)
    }
}

@Suite struct DescriptorTests {
    @Test func readsAndWritesAtOffsetsAndSizes() throws {
        let dir = try TemporaryDirectory("descriptor")
        let file = try Descriptor.open(dir.path + "/f", .readWrite, [.create, .exclusive])
        defer { file.close() }
        try [UInt8]([1, 2, 3, 4]).withUnsafeBytes { try file.write($0, at: 10) }
        #expect(try file.status().size == 14 && file.status().kind == .regular)
        var got = [UInt8](repeating: 9, count: 6)
        let n = try file.read(into: &got, count: 6, at: 8)
        #expect(n == 6 && got == [0, 0, 1, 2, 3, 4])
        try file.truncate(to: 4096)
        #expect(try FileSystem.status(dir.path + "/f").size == 4096)
        #expect(throws: SystemError.self) { try Descriptor.open(dir.path + "/f", .write, [.create, .exclusive]) }
        let scratch = try Descriptor.temporary(prefix: "odt-test-")
        #expect(!FileSystem.exists(scratch.path))
        scratch.close()
    }
}
