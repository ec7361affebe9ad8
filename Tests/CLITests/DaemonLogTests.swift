import Foundation
import Glibc
@testable import OndemandTraceCore
import Testing
import TestSupport

/// `daemon --log-requests --warn-after` and the SIGUSR1 dump, end to end through the real binary,
/// with a socketpair standing in for /dev/cachefiles (`--devnode-fd`): the test reads the daemon's
/// commands and sends it the kernel's messages, one per SOCK_SEQPACKET packet as the devnode gives
/// one per read(). No kernel with cachefiles needed.
@Suite(.serialized) struct DaemonLogTests {
    /// An fd number at or above 100 (so the child's dup2 targets 3 and 5 cannot collide).
    private func high(_ fd: Int32) -> Int32 {
        let moved = fcntl(fd, F_DUPFD_CLOEXEC, 100)
        close(fd)
        return moved
    }

    private func receive(_ fd: Int32) -> String {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, 5000) == 1 else { return "<nothing within 5 s>" }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = read(fd, &buffer, buffer.count)
        return n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : "<read \(n)>"
    }

    private func send(_ fd: Int32, _ message: CachefilesMessage) {
        let bytes = message.encoded()
        #expect(write(fd, bytes, bytes.count) == bytes.count)
    }

    /// Waits (up to 30 s) until the log holds a line containing `text`; returns the log.
    @discardableResult
    private func waitForLog(_ path: String, containing text: String) -> String {
        for _ in 0..<3000 {
            if let log = try? String(contentsOfFile: path, encoding: .utf8), log.contains(text) { return log }
            usleep(10_000)
        }
        return (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    }

    /// The log without what varies from run to run: timestamps, durations, ages, thread ids.
    private func normalized(_ log: String) -> [String] {
        log.split(separator: "\n").map { line in
            String(line.drop(while: { $0 != " " }).dropFirst())
                .replacing(#/(?<key>elapsed_us|age_us|for_us|tid)=\d+/#) { "\($0.key)=N" }
        }
    }

    @Test func logsEachStageWarnsOnceAndDumpsWhatIsInFlightOnSIGUSR1() throws {
        let temporary = try TemporaryDirectory("daemon-log")
        let dir = temporary.path
        try FileManager.default.createDirectory(atPath: dir + "/cache", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir + "/blobs", withIntermediateDirectories: true)
        let blob = (0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        try Data(blob).write(to: URL(fileURLWithPath: dir + "/blobs/img"))
        let log = dir + "/daemon.log"

        var pair: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0)
        let kernelSide = high(pair[0]), daemonSide = high(pair[1])
        // The "anonymous fd" of the OPEN: a plain file the daemon writes the READ's data into.
        let anon = high(open(dir + "/anon", O_RDWR | O_CREAT | O_CLOEXEC, 0o600))
        defer { close(kernelSide); close(anon) }

        let daemon = try Run.start([Run.binary, "daemon", "--devnode-fd", "3", "--cache-dir", dir + "/cache", "--source-dir", dir + "/blobs",
                                    "--threads", "2", "--log", log, "--log-requests", "--warn-after", "300ms"],
                                   descriptors: [3: daemonSide, 5: anon])
        close(daemonSide)

        #expect(receive(kernelSide) == "dir \(dir)/cache")
        #expect(receive(kernelSide) == "tag ondemand-trace")
        #expect(receive(kernelSide) == "bind ondemand")
        send(kernelSide, CachefilesMessage(msgID: 1, objectID: 1, request: .open(.init(
            volumeKey: Array("erofs,img".utf8) + [0], cookieKey: Array("img".utf8), fd: 5, flags: 0))))
        #expect(receive(kernelSide) == "copen 1,8192")
        // The daemon logs the OPEN done just after its copen: wait for it, so the lines below
        // come in one order (the kernel may send a READ as soon as it has the copen).
        waitForLog(log, containing: "request done OPEN msg=1")
        send(kernelSide, CachefilesMessage(msgID: 2, objectID: 1, request: .read(.init(offset: 4096, length: 4096))))
        waitForLog(log, containing: "request done READ msg=2")
        send(kernelSide, CachefilesMessage(msgID: 3, objectID: 7, request: .read(.init(offset: 0, length: 4096))))
        waitForLog(log, containing: "request slow READ msg=3")
        usleep(400_000)  // a second check interval: still one warning
        daemon.signal(SIGUSR1)
        waitForLog(log, containing: "in-flight: end")
        send(kernelSide, CachefilesMessage(msgID: 4, objectID: 1, request: .close))
        waitForLog(log, containing: "request done CLOSE msg=4")
        daemon.signal(SIGTERM)
        let result = daemon.wait()
        #expect(result.status == 0, "exit status \(result.status): \(result.stderr)")

        let text = try String(contentsOfFile: log, encoding: .utf8)
        let lines = normalized(text)
        func worker(_ line: String) -> String { line.replacing(#/worker=[12] /#, with: "worker=W ") }
        let requestLines = lines.filter { $0.hasPrefix("request ") || $0.hasPrefix("in-flight") }.map(worker)
        #expect(requestLines == [
            "request picked-up OPEN msg=1 oid=1 fd=5 worker=W tid=N",
            "request done OPEN msg=1 oid=1 fd=5 worker=W tid=N result=8192 elapsed_us=N",
            "request picked-up READ msg=2 oid=1 off=4096 len=4096 worker=W tid=N",
            "request written READ msg=2 oid=1 off=4096 len=4096 worker=W tid=N bytes=4096 elapsed_us=N",
            // A regular file is no anonymous fd: the completion ioctl fails with ENOTTY.
            "request done READ msg=2 oid=1 off=4096 len=4096 worker=W tid=N result=-25 elapsed_us=N",
            "request picked-up READ msg=3 oid=7 off=0 len=4096 worker=W tid=N",
            "request abandoned READ msg=3 oid=7 off=0 len=4096 worker=W tid=N elapsed_us=N reason=no-open-object",
            "request slow READ msg=3 oid=7 off=0 len=4096 stage=abandoned worker=- tid=- age_us=N limit_us=300000 reason=no-open-object",
            "in-flight: 1 request(s), 2 worker(s), picked up 3, done 2, abandoned 1, devnode idle",
            "in-flight READ msg=3 oid=7 off=0 len=4096 stage=abandoned age_us=N worker=- tid=- reason=no-open-object",
        ] + requestLines.filter { $0.hasPrefix("in-flight worker=") } + [
            "in-flight: end",
            "request picked-up CLOSE msg=4 oid=1 worker=W tid=N",
            "request done CLOSE msg=4 oid=1 worker=W tid=N result=0 elapsed_us=N",
        ])
        // Each worker once in the dump, in order, idle (one polls, the other waits its turn).
        let workers = requestLines.filter { $0.hasPrefix("in-flight worker=") }
        #expect(workers.count == 2)
        #expect(workers.allSatisfy { $0.hasSuffix(" polling for_us=N") || $0.hasSuffix(" waiting for_us=N") }, "\(workers)")
        let dumpWorkers = text.split(separator: "\n").filter { $0.contains("in-flight worker=") }
        #expect(dumpWorkers.first?.contains("in-flight worker=1 tid=\(daemon.pid) ") == true, "worker 1 is the main thread: \(dumpWorkers)")
        // The slow READ was reported once; the age in it is past the limit.
        let slow = text.split(separator: "\n").filter { $0.contains("request slow") }
        #expect(slow.count == 1)
        let age = slow.first.flatMap { $0.firstMatch(of: #/age_us=(\d+)/#).map { Int($0.1)! } } ?? 0
        #expect(age > 300_000 && age < 5_000_000, "age \(age)")
        // The READ's bytes went into the "anonymous fd" at its offset.
        let written = try Data(contentsOf: URL(fileURLWithPath: dir + "/anon"))
        #expect(Array(written.suffix(from: 4096)) == Array(blob[4096..<8192]))
    }
}
