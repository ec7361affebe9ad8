import SystemCalls
import OndemandTraceCore
import Synchronization

/// A fanotify pre-content daemon: marks a sparse EROFS image file (and the sparse files of its
/// data blobs, for a bootstrap + blobs image) for `FAN_PRE_ACCESS` and fills each range the kernel
/// asks for from the full file, then answers `FAN_ALLOW` (or, by a fault, `FAN_DENY` with an
/// errno, late, or never). A range already present (SEEK_DATA) is answered at once and counted
/// apart, as erofs-utils and Nydus do. Mount the image file (file-backed EROFS, each blob's file
/// a `device=`) after `init` returns: the marks are in place then. With a marker file, each file's
/// name and each injected fault are written into the recording (`FanotifyMarker`).
public final class FanotifyServer: Sendable {
    public struct Configuration: Sendable {
        /// The sparse image file (on ext4, xfs or btrfs) the kernel reads and this daemon fills.
        public var imageFile: String
        /// The full image the ranges are copied from.
        public var source: String
        /// The image's name in the markers (the blob name of its object; default: the source's
        /// file name).
        public var imageName: String?
        /// The data blobs of a bootstrap + blobs image, in the image's device order.
        public var blobs: [Blob] = []
        /// The recording instance's trace_marker; nil when nothing records.
        public var markerPath: String?
        public var threads = 1
        public var faults = FaultPlan()
        /// Log every event (range, answer, what was written, how long) as it is answered.
        public var logRequests = false
        /// Log an event still unanswered after this many nanoseconds, once.
        public var warnAfter: UInt64?

        public init(imageFile: String, source: String) {
            (self.imageFile, self.source) = (imageFile, source)
        }

        /// A data blob: its sparse file (marked and filled) and the full blob.
        public struct Blob: Sendable {
            public var file: String
            public var source: String
            /// Its name in the markers (default: the source's file name).
            public var name: String?
            public init(file: String, source: String, name: String? = nil) {
                (self.file, self.source, self.name) = (file, source, name)
            }
        }

        /// Every file served, the image first: (sparse file, source, name).
        var files: [(file: String, source: String, name: String)] {
            [(imageFile, source, imageName ?? Self.baseName(source))] + blobs.map { ($0.file, $0.source, $0.name ?? Self.baseName($0.source)) }
        }

        static func baseName(_ path: String) -> String { path.split(separator: "/").last.map(String.init) ?? path }
    }

    /// A file served: the sparse file marked (its device as the kernel's dev_t, and inode: what
    /// an event's fd is matched by), the source it is filled from, its name.
    struct Served: Sendable {
        var path: String
        var dev: UInt64
        var ino: UInt64
        var source: Descriptor
        var sourceSize: UInt64
        var name: BlobName
    }

    /// What was served.
    public struct Totals: Sendable {
        public var events = 0, present = 0, denied = 0, unanswered = 0, faults = 0
        public var bytes: UInt64 = 0
    }

    // The 6.14+ uapi values Debian 12's headers predate.
    static let rangeInfoType: UInt8 = 6
    static let allow: UInt32 = 0x01, deny: UInt32 = 0x02

    public let configuration: Configuration
    let group: FanotifyGroup
    /// The image file first, then the blobs'.
    let served: [Served]
    let log: DaemonLog
    let markers: TraceMarkerWriter?
    let counter = Atomic<Int>(0)
    let totals = Mutex(Totals())
    let stopping = Atomic<Bool>(false)
    /// Woken by `stop()` (and the exit fault) to wake the readers.
    let wake: WakePipe
    let threads = Mutex<[Thread]>([])
    /// The fds of events held unanswered (never-answer): closed when the daemon stops, which
    /// lets the kernel allow them.
    let held = Mutex<[Int32]>([])
    /// The events in hand, by index: since when, what, whether `--warn-after` logged it.
    let inFlight = Mutex<[Int: (since: UInt64, what: String, warned: Bool)]>([:])

    /// Opens the sources, creates the pre-content group and marks the image file and the blobs'.
    public init(_ configuration: Configuration, log: DaemonLog) throws(DaemonError) {
        self.configuration = configuration
        self.log = log
        guard configuration.threads >= 1 else { throw DaemonError("--threads must be at least 1") }
        markers = try configuration.markerPath.map { path throws(DaemonError) in try TraceMarkerWriter(path: path) }
        do { wake = try WakePipe() } catch { throw DaemonError("\(error)") }
        var served: [Served] = []
        func closeAll() { for s in served { s.source.close() } }
        let volume = KeyText.escape(Array("erofs,\(configuration.files[0].name)".utf8))
        for file in configuration.files {
            let sourceFile: Descriptor
            do { sourceFile = try Descriptor.open(file.source, .read) } catch {
                closeAll()
                throw DaemonError("\(file.source): cannot open the source: \(describeErrno(error.errno))")
            }
            let source: FileSystem.Status, sparse: FileSystem.Status
            do {
                source = try sourceFile.status()
                sparse = try FileSystem.status(file.file)
            } catch {
                sourceFile.close(); closeAll()
                throw DaemonError("\(error.path): \(describeErrno(error.errno))")
            }
            served.append(Served(path: file.file, dev: sparse.kernelDevice, ino: sparse.inode, source: sourceFile,
                                 sourceSize: source.size, name: BlobName(volume: volume, blob: KeyText.escape(Array(file.name.utf8)))))
        }
        let group: FanotifyGroup
        do { group = try FanotifyGroup() } catch {
            let code = error.errno
            closeAll()
            throw DaemonError("fanotify_init(FAN_CLASS_PRE_CONTENT): \(describeErrno(code))"
                              + (code == ErrnoCode.EINVAL || code == ErrnoCode.EPERM ? " (needs root and CONFIG_FANOTIFY_ACCESS_PERMISSIONS)" : ""))
        }
        for file in served {
            do { try group.mark(file.path, for: FanotifyProbe.preAccessMask) } catch {
                let code = error.errno
                group.close(); closeAll()
                throw DaemonError("\(file.path): fanotify_mark(FAN_PRE_ACCESS): \(describeErrno(code))"
                                  + (code == ErrnoCode.EINVAL || code == ErrnoCode.EOPNOTSUPP ? " (pre-content events need Linux 6.14+ and a file on ext4, xfs or btrfs, not tmpfs or 9p)" : ""))
            }
        }
        self.group = group
        self.served = served
        for file in served {
            markers?.write(.file(dev: file.dev, ino: file.ino, name: file.name))
            log("fanotify: marked \(file.path) (\(file.name.blob)) for pre-content events; filling from \(configuration.files.first { $0.file == file.path }?.source ?? "?") (\(file.sourceSize) bytes)")
        }
        log("fanotify: \(served.count) file(s) marked, \(configuration.threads) thread(s)")
    }

    deinit {
        group.close()
        for file in served { file.source.close() }
    }

    /// Starts the reader threads (serving in the background until `stop()`), and with
    /// `warnAfter` a thread that logs each event in hand longer than that, once.
    public func start() {
        if let limit = configuration.warnAfter {
            do {
                let watcher = try startThread { [self] in
                    while !isStopping {
                        sleepNanoseconds(min(limit / 4, 100_000_000))
                        warnSlow(after: limit)
                    }
                }
                threads.withLock { $0.append(watcher) }
            } catch {
                log("fanotify: \(error); no --warn-after watcher")
            }
        }
        for _ in 0..<configuration.threads {
            do {
                let thread = try startThread { [self] in serve() }
                threads.withLock { $0.append(thread) }
            } catch {
                log("fanotify: \(error); serving with fewer threads")
            }
        }
    }

    /// Serves on the calling thread until `stop()` (the `daemon` command's main thread).
    public func serve() {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 8)
        let data = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 8)
        defer { buffer.deallocate(); data.deallocate() }
        var waiting = PollSet(readable: [group.fd, wake.readEnd])
        while !stopping.load(ordering: .acquiring) {
            guard let ready = try? waiting.wait(timeoutMilliseconds: 200), ready > 0, waiting[0].contains(.readable) else { continue }
            let n: Int
            do { n = try group.readEvents(into: buffer) } catch {
                log("fanotify: read: \(describeErrno(error.errno))")
                return
            }
            var offset = 0
            while offset + 24 <= n {
                let event = UnsafeRawBufferPointer(rebasing: buffer[offset..<n])
                let length = Int(event.loadUnaligned(fromByteOffset: 0, as: UInt32.self))
                guard length >= 24, offset + length <= n else { break }
                handle(UnsafeRawBufferPointer(rebasing: event[0..<length]), scratch: data)
                offset += length
            }
        }
    }

    /// One event: its range record, the faults that apply, the fill, the answer.
    private func handle(_ event: UnsafeRawBufferPointer, scratch: UnsafeMutableRawBufferPointer) {
        let received = monotonicNanoseconds()
        let metadataLength = Int(event.loadUnaligned(fromByteOffset: 6, as: UInt16.self))
        let fd = event.loadUnaligned(fromByteOffset: 16, as: Int32.self)
        let pid = event.loadUnaligned(fromByteOffset: 20, as: Int32.self)
        guard fd >= 0 else { log("fanotify: an event without an fd (queue overflow?): events were lost"); return }
        var range: (offset: UInt64, count: UInt64)?
        var at = metadataLength
        while at + 4 <= event.count {
            let type = event[at], length = Int(event.loadUnaligned(fromByteOffset: at + 2, as: UInt16.self))
            guard length > 0, at + length <= event.count else { break }
            if type == Self.rangeInfoType, length >= 24 {
                range = (event.loadUnaligned(fromByteOffset: at + 8, as: UInt64.self), event.loadUnaligned(fromByteOffset: at + 16, as: UInt64.self))
            }
            at += length
        }
        let index = counter.add(1, ordering: .relaxed).newValue
        let file = servedFile(fd)
        var actions = configuration.faults.readActions(index: index)
        let what = range.map { "\($0.offset)+\($0.count)" } ?? "no range"
        inFlight.withLock { $0[index] = (received, "event \(index) (\(what), pid \(pid))", false) }
        if !actions.applied.isEmpty {
            totals.withLock { $0.faults += 1 }
            log("fanotify: event \(index) (\(what), pid \(pid)): fault " + actions.applied.map(\.spec).joined(separator: "; "))
            if let file {
                for fault in actions.applied {
                    markers?.write(.fault(pid: pid, dev: file.dev, ino: file.ino, offset: Int64(bitPattern: range?.offset ?? 0),
                                          length: range?.count ?? 0, fault: fault.name))
                }
            }
        }
        if file == nil, actions.denyErrno == nil {
            // Not one of the files marked (cannot happen but by a kernel bug): nothing to fill
            // it from, and allowing would hand the reader a hole's zeros.
            log("fanotify: event \(index) (\(what), pid \(pid)): on a file this daemon did not mark; answering FAN_DENY EIO")
            actions.denyErrno = ErrnoCode.EIO
        }
        if actions.exitDaemon {
            // As a daemon that dies: its fds close, the group with them, and the kernel allows
            // what is pending (no reader stays blocked on a daemon that is gone).
            log("fanotify: exit fault: dying without answering event \(index): the group closed, serving stopped")
            stopping.store(true, ordering: .releasing)
            wake.wake()
            closeEvent(fd)
            _ = inFlight.withLock { $0.removeValue(forKey: index) }
            for held in held.withLock({ h in defer { h.removeAll() }; return h }) { closeEvent(held) }
            group.close()
            return
        }
        // Only a delay sleeps: nanosleep(0) waits for the next tick on a kernel without
        // high-resolution timers (up to 4 ms at HZ=250, twice per event: the 7.3 test kernel's
        // median answer took 7 ms instead of 0.8).
        if actions.delayBeforeWrite > 0 { sleepNanoseconds(actions.delayBeforeWrite) }
        var written: UInt64 = 0, present = false
        if actions.denyErrno == nil, actions.writeData, let range {
            present = isPresent(fd, range, file!)
            if !present { written = fill(fd, range, file!, scratch) }
        }
        if actions.delayAfterWrite > 0 { sleepNanoseconds(actions.delayAfterWrite) }
        guard actions.answer else {
            held.withLock { $0.append(fd) }   // still in flight: --warn-after reports it
            totals.withLock { $0.events += 1; $0.unanswered += 1; $0.bytes += written }
            log("fanotify: event \(index) (\(what), pid \(pid)): never answered (fault)")
            return
        }
        let response = actions.denyErrno.map { Self.deny | (UInt32($0) & 0xff) << 24 } ?? Self.allow
        do { try group.respond(to: fd, with: response) } catch {
            log("fanotify: answer to event \(index) (fd \(fd)): \(describeErrno(error.errno))")
        }
        closeEvent(fd)
        _ = inFlight.withLock { $0.removeValue(forKey: index) }
        totals.withLock {
            $0.events += 1; $0.bytes += written
            if present { $0.present += 1 }
            if actions.denyErrno != nil { $0.denied += 1 }
        }
        if configuration.logRequests {
            let answer = actions.denyErrno.map { "FAN_DENY \(ErrnoName.name($0) ?? "errno \($0)")" }
            log("fanotify: event \(index) pid \(pid) \(what): \(answer ?? (present ? "present, FAN_ALLOW" : "FAN_ALLOW")), wrote \(written) bytes in \(JSONWriter.format(Double(monotonicNanoseconds() - received) / 1e6, decimals: 3)) ms, file \(file?.name.blob ?? "?")")
        }
    }

    /// Logs each event in hand longer than `limit`, once.
    private func warnSlow(after limit: UInt64) {
        let now = monotonicNanoseconds()
        let slow: [String] = inFlight.withLock { events in
            var lines: [String] = []
            for (index, e) in events where !e.warned && now - e.since >= limit {
                events[index]?.warned = true
                lines.append("fanotify: request slow: \(e.what) unanswered for \(JSONWriter.format(Double(now - e.since) / 1e6, decimals: 1)) ms")
            }
            return lines
        }
        for line in slow { log(line) }
    }

    /// The file an event's fd is on, by device and inode.
    private func servedFile(_ fd: Int32) -> Served? {
        if served.count == 1 { return served[0] }
        guard let status = try? eventFile(fd).status() else { return nil }
        return served.first { $0.dev == status.kernelDevice && $0.ino == status.inode }
    }

    /// An event's fd: the file being read, open for reading and writing (its writes raise no events).
    private func eventFile(_ fd: Int32) -> Descriptor { Descriptor(fd: fd, path: "the event's file") }

    private func closeEvent(_ fd: Int32) { eventFile(fd).close() }

    /// Whether the range (clipped to the file) is data already: nothing to fetch.
    private func isPresent(_ fd: Int32, _ range: (offset: UInt64, count: UInt64), _ file: Served) -> Bool {
        let end = min(range.offset + range.count, file.sourceSize)
        return range.offset < end && eventFile(fd).isAllData(from: range.offset, to: end)
    }

    /// Copies the range from the source through the event's fd (its writes raise no events).
    private func fill(_ fd: Int32, _ range: (offset: UInt64, count: UInt64), _ file: Served, _ scratch: UnsafeMutableRawBufferPointer) -> UInt64 {
        let target = eventFile(fd)
        var at = range.offset, left = min(range.count, file.sourceSize > at ? file.sourceSize - at : 0), written: UInt64 = 0
        while left > 0 {
            let chunk = Int(min(left, UInt64(scratch.count)))
            let got: Int, put: Int
            do { got = try file.source.read(into: UnsafeMutableRawBufferPointer(rebasing: scratch[0..<chunk]), at: at) } catch {
                log("fanotify: read of the source at \(at): \(describeErrno(error.errno))"); break
            }
            guard got > 0 else { log("fanotify: read of the source at \(at): end of file"); break }
            do { put = try target.writeSome(UnsafeRawBufferPointer(rebasing: scratch[0..<got]), at: at) } catch {
                log("fanotify: write at \(at): \(describeErrno(error.errno))"); break
            }
            guard put == got else { log("fanotify: write at \(at): short"); break }
            (at, left, written) = (at + UInt64(put), left - UInt64(put), written + UInt64(put))
        }
        return written
    }

    /// Stops the readers, closes the held events (the kernel allows what is pending when the
    /// group goes), and returns what was served.
    @discardableResult
    public func stop() -> Totals {
        stopping.store(true, ordering: .releasing)
        wake.wake()
        for thread in threads.withLock({ t in defer { t.removeAll() }; return t }) { thread.join() }
        for fd in held.withLock({ h in defer { h.removeAll() }; return h }) { closeEvent(fd) }
        // Closing the group is what answers the events still pending (the kernel allows them):
        // a reader must never stay blocked on a daemon that has stopped.
        group.close()
        let t = totals.withLock { $0 }
        log("fanotify: stopped: \(t.events) event(s), \(t.present) present, \(t.denied) denied, \(t.unanswered) unanswered, \(t.bytes) bytes written, \(t.faults) fault(s) injected")
        return t
    }

    /// Blocks SIGTERM, SIGINT and SIGUSR1 in the calling thread (and the threads it starts
    /// after): call before `start()`, then `waitForStop(signals:)`.
    public static func blockStopSignals() -> SignalSet {
        let signals = SignalSet([Signal.terminate, Signal.interrupt, Signal.user1])
        signals.block()
        return signals
    }

    /// Waits for SIGTERM/SIGINT or an exit fault (true when the fault ended it); SIGUSR1 logs
    /// the events in hand meanwhile.
    public func waitForStop(signals: SignalSet) -> Bool {
        while !isStopping {
            let signal = signals.wait(timeoutNanoseconds: 200_000_000)
            if signal == Signal.user1 { logInFlight() }
            if let signal, signal == Signal.terminate || signal == Signal.interrupt {
                log("fanotify: \(Signal.name(signal)): stopping")
                return false
            }
        }
        return true
    }

    /// One `in-flight` line per event read and not answered (its age), then a count.
    public func logInFlight() {
        let now = monotonicNanoseconds()
        let events = inFlight.withLock { $0 }.sorted { $0.key < $1.key }
        for (_, e) in events {
            log("fanotify: in-flight: \(e.what) for \(JSONWriter.format(Double(now - e.since) / 1e6, decimals: 1)) ms")
        }
        log("fanotify: in-flight: \(events.count) event(s) read and not answered")
    }

    /// Whether `stop()` was asked for, or an exit fault fired.
    public var isStopping: Bool { stopping.load(ordering: .acquiring) }
}
