#if canImport(Glibc)
import Glibc
#endif
import CDaemonSys
import SystemCalls
import Testing
import TestSupport
@testable import OndemandDaemon
import OndemandTraceCore
import Synchronization

/// The fanotify daemon on this host's kernel: a sparse file marked for pre-content events is read
/// by a plain read(2) (a file-backed EROFS mount needs the 7.3 VM; the hook is the same). Runs
/// where the kernel has pre-content events (6.14+, root, /tmp on ext4/xfs/btrfs).
@Suite(.serialized, .enabled(if: HostFacts.hasPreContentEvents, "needs root and fanotify pre-content events on /tmp"))
struct FanotifyServerTests {
    /// A source of seeded random bytes and its sparse copy, in a fresh directory.
    struct Image {
        let dir: TemporaryDirectory
        let source: String, sparse: String
        let bytes: [UInt8]
        init(size: Int, seed: UInt64) throws {
            print("FanotifyServerTests: seed \(seed)")
            dir = try TemporaryDirectory("fan")
            (source, sparse) = (dir.path + "/full.img", dir.path + "/sparse.img")
            var rng = SplitMix64(seed: seed)
            bytes = (0..<size).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            try Fixtures.write(bytes, to: source)
            close(open(sparse, O_WRONLY | O_CREAT, 0o644))
            #expect(truncate(sparse, off_t(size)) == 0)
        }

        /// Reads the sparse file whole with read(2): what a reader gets, or its errno.
        func read() -> (bytes: [UInt8], errno: Int32) {
            let fd = open(sparse, O_RDONLY | O_CLOEXEC)
            defer { close(fd) }
            var out: [UInt8] = [], chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = Glibc.read(fd, &chunk, chunk.count)
                if n < 0 { return (out, errno) }
                if n == 0 { return (out, 0) }
                out += chunk[0..<n]
            }
        }
    }

    func server(_ image: Image, faults: [String] = [], threads: Int = 2) throws -> (FanotifyServer, String) {
        var configuration = FanotifyServer.Configuration(imageFile: image.sparse, source: image.source)
        configuration.threads = threads
        configuration.faults = try FaultPlan.parse(faults)
        configuration.logRequests = true
        let logPath = image.dir.path + "/daemon.log"
        let server = try FanotifyServer(configuration, log: try DaemonLog(path: logPath))
        server.start()
        return (server, logPath)
    }

    @Test func everyRangeIsFilledFromTheSourceAndPresentOnesAnsweredAtOnce() throws {
        let image = try Image(size: 1_500_000, seed: 26)
        let (server, log) = try server(image)
        let first = image.read()
        #expect(first.errno == 0)
        #expect(first.bytes == image.bytes)
        let second = image.read()
        #expect(second.bytes == image.bytes)
        let totals = server.stop()
        #expect(totals.bytes == UInt64(image.bytes.count))
        #expect(totals.present > 0 && totals.events > totals.present)
        #expect(totals.denied == 0 && totals.unanswered == 0)
        let lines = try Fixtures.text(log).split(separator: "\n")
        #expect(lines.filter { $0.contains("FAN_ALLOW") }.count == totals.events)
    }

    @Test func aDenialFailsTheReaderWithItsErrno() throws {
        let image = try Image(size: 300_000, seed: 2)
        let (server, log) = try server(image, faults: ["deny=EIO,nth=1"])
        let result = image.read()
        #expect(result.errno == EIO)
        #expect(result.bytes.isEmpty)
        let totals = server.stop()
        #expect(totals.denied == 1 && totals.faults == 1)
        #expect(try Fixtures.text(log).contains("FAN_DENY EIO"))
    }

    @Test func aDelayedAnswerIsLateAndANeverAnsweredEventIsAllowedWhenTheDaemonStops() throws {
        let image = try Image(size: 200_000, seed: 3)
        let (server, _) = try server(image, faults: ["delay=50ms,nth=1"], threads: 1)
        let start = monotonicNanoseconds()
        #expect(image.read().bytes == image.bytes)
        #expect(monotonicNanoseconds() - start >= 50_000_000)
        server.stop()

        let held = try Image(size: 200_000, seed: 4)
        let (never, log) = try self.server(held, faults: ["never-answer,nth=1"], threads: 1)
        var readResult: (bytes: [UInt8], errno: Int32)?
        let reader = try startThread { readResult = held.read() }
        sleepNanoseconds(300_000_000)
        #expect(readResult == nil)   // blocked in the hook
        never.logInFlight()
        let totals = never.stop()    // the group goes: the kernel allows the held event
        reader.join()
        #expect(totals.unanswered == 1)
        #expect(readResult?.errno == 0)
        let text = try Fixtures.text(log)
        #expect(text.contains("never answered (fault)"))
        #expect(text.contains("in-flight: event 1 (0+") && text.contains("in-flight: 1 event(s) read and not answered"))
    }

    /// The exit fault in a daemon embedded in `run`: it dies as a process would (the group
    /// closes, the kernel allows what is pending), so the reader is not left blocked.
    @Test func anExitFaultClosesTheGroupSoNoReaderStaysBlocked() throws {
        let image = try Image(size: 300_000, seed: 5)
        let (server, log) = try server(image, faults: ["exit,nth=2"], threads: 1)
        final class Outcome: Sendable { let read = Mutex<(bytes: [UInt8], errno: Int32)?>(nil) }
        let outcome = Outcome()
        let reader = try startThread { let got = image.read(); outcome.read.withLock { $0 = got } }
        let deadline = monotonicNanoseconds() + 5_000_000_000
        while outcome.read.withLock({ $0 == nil }), monotonicNanoseconds() < deadline { sleepNanoseconds(20_000_000) }
        let finished = outcome.read.withLock { $0 != nil }
        #expect(finished)   // not blocked on the dead daemon's event
        #expect(server.isStopping)
        if !finished { server.stop() }
        reader.join()
        // The event it died on and the later ones were allowed unfilled: the reader got holes.
        #expect(outcome.read.withLock { $0?.errno } == 0)
        #expect(try Fixtures.text(log).contains("exit fault: dying"))
        let totals = server.stop()
        #expect(totals.faults == 1)
    }

    /// A bootstrap + blob image: both files marked by one group, each event filled from its own
    /// file's source (told by the event fd's inode), each file named in the markers and each
    /// injected fault marked with the reader's thread id, file and range.
    @Test func blobsAreFilledFromTheirOwnSourcesAndMarkedWithTheirNames() throws {
        let image = try Image(size: 200_000, seed: 27)
        let blob = try Image(size: 700_000, seed: 28)
        let markers = image.dir.path + "/markers"
        close(open(markers, O_WRONLY | O_CREAT, 0o644))
        var configuration = FanotifyServer.Configuration(imageFile: image.sparse, source: image.source)
        configuration.imageName = "boot"
        configuration.blobs = [.init(file: blob.sparse, source: blob.source)]
        configuration.markerPath = markers
        configuration.threads = 2
        configuration.faults = try FaultPlan.parse(["delay=1ms,every=3"])
        configuration.logRequests = true
        let logPath = image.dir.path + "/daemon.log"
        let server = try FanotifyServer(configuration, log: try DaemonLog(path: logPath))
        server.start()
        final class Read: Sendable { let result = Mutex<(tid: Int32, image: [UInt8], blob: [UInt8])?>(nil) }
        let read = Read()
        let reader = try startThread {
            let tid = Int32(daemon_sys_gettid())
            let (a, b) = (image.read().bytes, blob.read().bytes)
            read.result.withLock { $0 = (tid, a, b) }
        }
        reader.join()
        let totals = server.stop()
        let got = try #require(read.result.withLock { $0 })
        #expect(got.image == image.bytes && got.blob == blob.bytes)
        #expect(totals.faults > 0 && totals.bytes == UInt64(image.bytes.count + blob.bytes.count))
        var imageStat = stat(), blobStat = stat()
        stat(image.sparse, &imageStat); stat(blob.sparse, &blobStat)
        let lines = try Fixtures.text(markers).split(separator: "\n").map { FanotifyMarker(text: String($0)) }
        #expect(lines.allSatisfy { $0 != nil })
        let named: [UInt64: String] = Dictionary(uniqueKeysWithValues: lines.compactMap { m -> (UInt64, String)? in
            if case let .file(_, ino, name)? = m { return (ino, name.blob) }
            return nil
        })
        // The blob's name defaults to its source's file name.
        #expect(named == [UInt64(imageStat.st_ino): "boot", UInt64(blobStat.st_ino): "full.img"])
        let faults = lines.compactMap { m -> (pid: Int32, ino: UInt64, fault: String)? in
            if case let .fault(pid, _, ino, _, _, fault)? = m { return (pid, ino, fault) }
            return nil
        }
        #expect(faults.count == totals.faults)
        #expect(faults.allSatisfy { $0.pid == got.tid && $0.fault == "delay" && named[$0.ino] != nil })
        let log = try Fixtures.text(logPath)
        #expect(log.contains(", file boot") && log.contains(", file full.img") && log.contains("2 file(s) marked"))
        #expect(log.contains("pid \(got.tid) "))   // FAN_REPORT_TID: the reading thread, not the process
    }

    @Test func aFileOnTmpfsCannotBeMarkedAndSaysWhy() throws {
        let dir = try TemporaryDirectory("fan-tmpfs")
        guard mount("tmpfs", dir.path, "tmpfs", 0, "size=1m") == 0 else { return }
        defer { umount(dir.path) }
        let path = dir.path + "/img"
        close(open(path, O_WRONLY | O_CREAT, 0o644))
        var configuration = FanotifyServer.Configuration(imageFile: path, source: path)
        configuration.threads = 1
        #expect {
            _ = try FanotifyServer(configuration, log: DaemonLog(fd: 2))
        } throws: { error in
            "\(error)".contains("fanotify_mark(FAN_PRE_ACCESS)") && "\(error)".contains("not tmpfs or 9p")
        }
    }
}
