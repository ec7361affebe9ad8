import Glibc
import SystemCalls
import Testing
import TestSupport

@Suite struct FileContentsTests {
    @Test func readsWholeFilesPrefixesAndChunks() throws {
        let dir = try TemporaryDirectory("syscalls")
        let bytes = (0..<(3 << 20) + 17).map { UInt8(truncatingIfNeeded: $0 &* 31) }  // over 1 MiB chunks
        let fd = open(dir.path + "/f", O_WRONLY | O_CREAT, 0o644)
        #expect(bytes.withUnsafeBytes { FileContents.writeAll(fd, $0) } == nil)
        close(fd)
        #expect(try FileContents.read(dir.path + "/f") == bytes)
        #expect(try FileContents.read(dir.path + "/f", limit: 5) == Array(bytes.prefix(5)))
        var chunks = 0
        try FileContents.forEachChunk(dir.path + "/f") { _ in chunks += 1; return chunks < 2 }
        #expect(chunks == 2)
    }

    @Test func errorsNameThePathTheActionAndTheErrno() {
        #expect(throws: SystemError.self) { try FileContents.read("/nonexistent/x") }
        do { _ = try FileContents.read("/nonexistent/x") } catch {
            #expect(error.description == "/nonexistent/x: cannot open: ENOENT (No such file or directory)")
        }
        do { _ = try FileContents.read("/") } catch {
            #expect(error.errno == EISDIR, "\(error)")
        }
    }

    @Test func listsAndRemovesTrees() throws {
        let dir = try TemporaryDirectory("syscalls")
        mkdir(dir.path + "/t", 0o755); mkdir(dir.path + "/t/sub", 0o755); mkdir(dir.path + "/kept", 0o755)
        close(open(dir.path + "/t/b", O_WRONLY | O_CREAT, 0o644))
        close(open(dir.path + "/t/sub/a", O_WRONLY | O_CREAT, 0o644))
        close(open(dir.path + "/kept/x", O_WRONLY | O_CREAT, 0o644))
        symlink(dir.path + "/kept", dir.path + "/t/link")  // removed, not followed
        #expect(try FileContents.directoryEntries(dir.path + "/t") == ["b", "link", "sub"])
        try FileContents.removeTree(dir.path + "/t")
        #expect(try FileContents.directoryEntries(dir.path) == ["kept"])
        #expect(try FileContents.directoryEntries(dir.path + "/kept") == ["x"])
    }
}

@Suite struct ChildProcessTests {
    @Test func startsInADirectoryWithAddedVariablesAndReportsTheStatus() throws {
        let dir = try TemporaryDirectory("syscalls")
        let pid = try ChildProcess.spawn(["sh", "-c", "pwd > out; echo \"$ODT_X\" >> out; exit 3"], in: dir.path,
                                         environment: ["ODT_X": "forty two"])
        let status = ChildProcess.wait(pid)
        #expect(ChildProcess.exitCode(status) == 3 && ChildProcess.killingSignal(status) == nil)
        #expect(ChildProcess.describe(status) == "exited with status 3")
        #expect(try FileContents.readText(dir.path + "/out") == dir.path + "\nforty two\n")
    }

    @Test func aKilledChildIs128PlusItsSignal() throws {
        let pid = try ChildProcess.spawn(["sh", "-c", "kill -TERM $$"])
        let status = ChildProcess.wait(pid)
        #expect(ChildProcess.exitCode(status) == 128 + SIGTERM && ChildProcess.killingSignal(status) == SIGTERM)
    }

    @Test func aMissingProgramIsAnErrorNotACrash() {
        #expect(throws: ChildProcess.SpawnError.self) { try ChildProcess.spawn(["/nonexistent/program"]) }
    }
}

@Suite struct SleepTests {
    /// A zero sleep makes no nanosleep: the kernel would wait for its timer (a tick without
    /// high-resolution timers; ~50 µs of timer slack with them), once per request of a daemon.
    @Test func sleepingZeroNanosecondsReturnsAtOnce() {
        let start = monotonicNanoseconds()
        for _ in 0..<2000 { sleepNanoseconds(0) }
        #expect(monotonicNanoseconds() - start < 20_000_000)
        let slept = monotonicNanoseconds()
        sleepNanoseconds(2_000_000)
        #expect(monotonicNanoseconds() - slept >= 2_000_000)
    }
}
