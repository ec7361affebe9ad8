import Glibc
import SystemCalls
import Testing
import TestSupport

/// The calls the daemons make, on the host: waits on several descriptors, wake pipes, signals as
/// a descriptor, sparse files' data and holes, a fanotify group.
@Suite struct PollSetTests {
    @Test func aWakePipeWakesEveryLaterWaitAndManyWakesNeverBlock() throws {
        let pipe = try WakePipe()
        var waiting = PollSet(readable: [pipe.readEnd])
        #expect(try waiting.wait(timeoutMilliseconds: 0) == 0)
        #expect(waiting[0].isEmpty)
        pipe.wake()
        #expect(try waiting.wait(timeoutMilliseconds: 1000) == 1)
        #expect(waiting[0] == .readable)
        #expect(try waiting.wait(timeoutMilliseconds: 0) == 1)   // nothing reads it: still awake
        // Past the pipe's 64 KiB: a blocking write end would hang here.
        for _ in 0..<100_000 { pipe.wake() }
        #expect(Polling.readable([pipe.readEnd], timeoutMilliseconds: 0) == [true])
    }

    @Test func reportsWhichDescriptorIsReadyAndAHangUp() throws {
        var ends: [Int32] = [-1, -1]
        try #require(pipe(&ends) == 0)
        defer { close(ends[0]) }
        let other = try WakePipe()
        var waiting = PollSet(readable: [other.readEnd, ends[0]])
        close(ends[1])   // the writer gone: the read end hangs up
        #expect(try waiting.wait(timeoutMilliseconds: 1000) == 1)
        #expect(waiting[0].isEmpty)
        #expect(waiting[1].contains(.hungUp) && !waiting[1].isDisjoint(with: .failed))
    }
}

@Suite struct SignalDescriptorTests {
    /// Thread-directed (`raise`), so no other thread of the test process, where SIGUSR1 is not
    /// blocked, can take it and die of it.
    @Test func aBlockedSignalSentToThisThreadIsReadOnceFromTheDescriptor() throws {
        let signals = try SignalDescriptor(SignalSet([Signal.user1]))
        defer {
            var set = sigset_t()
            sigemptyset(&set)
            sigaddset(&set, SIGUSR1)
            pthread_sigmask(SIG_UNBLOCK, &set, nil)
        }
        var waiting = PollSet(readable: [signals.fd])
        #expect(try waiting.wait(timeoutMilliseconds: 0) == 0)
        #expect(signals.drain() == [])
        raise(SIGUSR1)
        #expect(try waiting.wait(timeoutMilliseconds: 1000) == 1)
        #expect(signals.drain() == [Signal.user1])
        #expect(signals.drain() == [])   // read once; nonblocking when none is left
        #expect(try waiting.wait(timeoutMilliseconds: 0) == 0)
    }
}

@Suite struct SparseFileTests {
    static let mib: UInt64 = 1 << 20

    /// A file of 4 MiB with one written page at 1 MiB, the rest holes.
    func sparseFile(in dir: TemporaryDirectory) throws -> Descriptor {
        let file = try Descriptor.open(dir.path + "/sparse", .readWrite, [.create])
        try file.truncate(to: 4 * Self.mib)
        let page = [UInt8](repeating: 7, count: 4096)
        try page.withUnsafeBytes { try file.write($0, at: Self.mib) }
        return file
    }

    @Test func dataAndHolesOfASparseFile() throws {
        let dir = try TemporaryDirectory("sparse")
        let file = try sparseFile(in: dir)
        defer { file.close() }
        if try file.holeStart(from: 0) == 4 * Self.mib {
            try Test.cancel("the filesystem of \(dir.path) reports no holes (SEEK_HOLE gives the end)")
        }
        let page = Self.mib + 4096
        #expect(try file.dataStart(from: 0) == Self.mib)
        #expect(try file.dataStart(from: Self.mib + 100) == Self.mib + 100)
        #expect(try file.dataStart(from: 2 * Self.mib) == nil)   // no data after it
        #expect(try file.holeStart(from: 0) == 0)
        #expect(try file.holeStart(from: Self.mib) == page)
        #expect(try file.holeStart(from: 3 * Self.mib) == 3 * Self.mib)
        #expect(file.isAllData(from: Self.mib, to: page))
        #expect(file.isAllData(from: Self.mib + 10, to: Self.mib + 20))
        #expect(!file.isAllData(from: Self.mib, to: page + 1))
        #expect(!file.isAllData(from: 0, to: 4096))
        #expect(file.isAllData(from: 5, to: 5))   // empty: nothing missing
    }

    @Test func aDescriptorThatCannotSeekNamesItsPath() throws {
        var ends: [Int32] = [-1, -1]
        try #require(pipe(&ends) == 0)
        defer { close(ends[0]); close(ends[1]) }
        let pipeEnd = Descriptor(fd: ends[0], path: "the pipe")
        #expect(throws: SystemError.self) { try pipeEnd.holeStart(from: 0) }
        let error = #expect(throws: SystemError.self) { try pipeEnd.dataStart(from: 0) }
        #expect(error?.description == "the pipe: cannot seek to data: ESPIPE (Illegal seek)")
        #expect(!pipeEnd.isAllData(from: 0, to: 1))
    }

    @Test func opensANameInADirectoryAndNamesBothInItsErrors() throws {
        let dir = try TemporaryDirectory("openat")
        let directory = try Descriptor.open(dir.path, .read, [.directory])
        defer { directory.close() }
        let file = try Descriptor.open("f", in: directory, .readWrite, [.create])
        defer { file.close() }
        #expect(file.path == dir.path + "/f")
        let bytes: [UInt8] = [1, 2, 3]
        #expect(try bytes.withUnsafeBytes { try file.writeSome($0, at: 10) } == 3)
        #expect(try file.status().size == 13)
        symlink(dir.path + "/f", dir.path + "/link")
        let error = #expect(throws: SystemError.self) { try Descriptor.open("link", in: directory, .read, [.noFollow]) }
        #expect(error?.description == "\(dir.path)/link: cannot open: ELOOP (Too many levels of symbolic links)")
    }

    @Test(.enabled(if: HostFacts.tmpfsDirectory != nil, "no tmpfs here"))
    func tmpfsIsToldByItsType() throws {
        #expect(try FileSystem.filesystemType(HostFacts.tmpfsDirectory!) == FileSystem.tmpfsType)
        #expect(try FileSystem.filesystemType("/proc") != FileSystem.tmpfsType)
    }
}

@Suite struct FanotifyGroupTests {
    /// Made, or refused in one line that names the call (EPERM without root, EINVAL without
    /// permission events); marking a missing file names the file.
    @Test func errorsNameTheCallOrTheFile() {
        let group: FanotifyGroup
        do { group = try FanotifyGroup() } catch {
            #expect(error.errno == EPERM || error.errno == EINVAL, "\(error)")
            #expect(error.description.hasPrefix("fanotify_init(FAN_CLASS_PRE_CONTENT): cannot create: "))
            return
        }
        let error = #expect(throws: SystemError.self) { try group.mark("/nonexistent/odt-file", for: 0x0010_0000) }
        #expect(error?.description == "/nonexistent/odt-file: cannot mark for fanotify events: ENOENT (No such file or directory)")
        group.close()
        group.close()   // once: the second does nothing
    }

    /// A read of a marked file waits for the group's answer; a denial with EIO fails it with EIO.
    @Test(.enabled(if: HostFacts.hasPreContentEvents, "needs root and fanotify pre-content events on /tmp"))
    func aReaderWaitsForTheAnswerAndGetsItsErrno() throws {
        let dir = try TemporaryDirectory("fan-group")
        let path = dir.path + "/marked"
        let file = try Descriptor.open(path, .write, [.create])
        try file.truncate(to: 8192)
        file.close()
        let group = try FanotifyGroup()
        try group.mark(path, for: 0x0010_0000)   // FAN_PRE_ACCESS
        final class Outcome: @unchecked Sendable { var errno: Int32 = -1 }
        let outcome = Outcome()
        let reader = try startThread {
            guard let file = try? Descriptor.open(path, .read) else { return }
            defer { file.close() }
            var bytes = [UInt8](repeating: 0, count: 100)
            do throws(SystemError) { _ = try file.read(into: &bytes, count: 100, at: 0); outcome.errno = 0 } catch { outcome.errno = error.errno }
        }
        var waiting = PollSet(readable: [group.fd])
        #expect(try waiting.wait(timeoutMilliseconds: 10_000) == 1)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 8)
        defer { buffer.deallocate() }
        let n = try group.readEvents(into: buffer)
        try #require(n >= 24)
        // struct fanotify_event_metadata: event_len (u32) first, the event's fd at 16.
        let eventFD = buffer.loadUnaligned(fromByteOffset: 16, as: Int32.self)
        try #require(eventFD >= 0)
        try group.respond(to: eventFD, with: 0x02 | UInt32(EIO) << 24)   // FAN_DENY with EIO
        close(eventFD)
        reader.join()
        #expect(outcome.errno == EIO)
        #expect(try group.readEvents(into: buffer) == 0)   // none queued: 0, not EAGAIN
        group.close()
    }
}
