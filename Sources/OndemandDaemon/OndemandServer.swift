import SystemCalls
import CDaemonSys
import OndemandTraceCore
import Synchronization

/// A cachefiles on-demand daemon: binds a cache directory in on-demand mode and serves the
/// kernel's OPEN/READ/CLOSE requests from blobs (EROFS images) in a source directory, one blob per
/// fsid (`<source>/<fsid>`).
public final class OndemandServer: Sendable {
    public struct Configuration: Sendable {
        public var devnode = "/dev/cachefiles"
        /// A devnode fd inherited from the process that holds it across daemons (failover).
        public var inheritedDevnodeFD: Int32?
        /// With an inherited, already bound devnode: send `restore` (the kernel re-queues the
        /// requests the dead daemon had read but not answered) instead of binding.
        public var restore = false
        public var cacheDirectory: String
        public var tag = "ondemand-trace"
        public var sourceDirectory: String
        /// Blobs named explicitly (fsid → file), served before looking in `sourceDirectory`.
        public var blobFiles: [String: String] = [:]
        public var threads = 1
        public var faults = FaultPlan()
        /// The recording instance's trace_marker; nil when nothing records.
        public var markerPath: String?
        /// What the `exit` fault does: end the process (the `daemon` command), or, embedded in
        /// another program (`run`), die as a daemon would: stop serving and close every fd.
        public var exitFaultEndsProcess = true
        /// Log every request at each stage (picked up, written, done) with its duration.
        public var logRequests = false
        /// Log a request still in flight after this many nanoseconds, once per request.
        public var warnAfter: UInt64?

        public init(cacheDirectory: String, sourceDirectory: String) {
            self.cacheDirectory = cacheDirectory
            self.sourceDirectory = sourceDirectory
        }
    }

    /// What was served, for the exit summary and throughput figures.
    public struct Totals: Sendable {
        public var opens = 0, openErrors = 0, reads = 0, readBytes: UInt64 = 0, closes = 0, faults = 0
        public var firstRequest: UInt64?, lastRequest: UInt64?
    }

    /// An object the kernel opened: its anonymous fd and the blob it reads from. Requests hold a
    /// reference while they use the fds, so a CLOSE racing a READ on another thread cannot close
    /// (and let the kernel reuse) an fd still being written.
    final class OpenObject: Sendable {
        let anon: Descriptor
        let blob: Descriptor
        let size: UInt64
        let name: String
        init(anon: Descriptor, blob: Descriptor, size: UInt64, name: String) {
            self.anon = anon; self.blob = blob; self.size = size; self.name = name
        }
        deinit { anon.close(); blob.close() }
    }

    public let configuration: Configuration
    let device: CachefilesDevice
    /// The source directory, open (blobs are opened in it); nil when only `blobFiles` are served.
    let source: Descriptor?
    let log: DaemonLog
    let markers: TraceMarkerWriter?
    let objects = Mutex<[UInt32: OpenObject]>([:])
    let readCounter = Atomic<Int>(0)
    let openCounter = Atomic<Int>(0)
    let totals = Mutex(Totals())
    /// SIGTERM and SIGINT, which every worker polls, so any worker can notice them.
    let stopSignals: SignalDescriptor
    /// Woken by `stop()` (and the exit fault) to wake the polling leader.
    let wake: WakePipe
    let background = Mutex<Thread?>(nil)
    let leader = Mutex<Void>(())
    let stopping = Atomic<Bool>(false)
    let signalled = Atomic<Bool>(false)
    /// The requests in hand and what each worker does (`--log-requests`, SIGUSR1, `--warn-after`).
    let tracker: Mutex<RequestTracker>
    /// SIGUSR1 (the in-flight dump), read by the monitor thread only, so a dump comes even when
    /// every worker is blocked in the kernel.
    let dumpSignals: SignalDescriptor
    /// Woken when serving ends, to stop the monitor thread.
    let monitorStop: WakePipe

    /// Checks the directories, opens the devnode and binds (or restores); after this returns the
    /// kernel may send requests. SIGTERM and SIGINT are blocked here and handled by `serve()`.
    public init(_ configuration: Configuration, log: DaemonLog) throws(DaemonError) {
        self.configuration = configuration
        self.log = log
        guard configuration.threads >= 1 else { throw DaemonError("--threads must be at least 1") }

        // An empty source directory: only `blobFiles` are served.
        if configuration.sourceDirectory.isEmpty {
            source = nil
        } else {
            do { source = try Descriptor.open(configuration.sourceDirectory, .read, [.directory]) } catch {
                throw DaemonError("\(configuration.sourceDirectory): cannot open the source directory: \(describeErrno(error.errno))")
            }
        }

        if !configuration.restore, FileSystem.kind(of: configuration.cacheDirectory) != .directory {
            throw DaemonError("\(configuration.cacheDirectory): the cache directory does not exist or is not a directory")
        }
        self.markers = try configuration.markerPath.map { path throws(DaemonError) in try TraceMarkerWriter(path: path) }

        // Signals go to a signalfd every worker polls, so any worker can notice SIGTERM.
        do {
            stopSignals = try SignalDescriptor(SignalSet([Signal.terminate, Signal.interrupt]))
            wake = try WakePipe()
            dumpSignals = try SignalDescriptor(SignalSet([Signal.user1]))
            monitorStop = try WakePipe()
        } catch {
            throw DaemonError("\(error)")
        }
        self.tracker = Mutex(RequestTracker(logsEveryStage: configuration.logRequests))

        if configuration.restore {
            guard let inherited = configuration.inheritedDevnodeFD else {
                throw DaemonError("restore needs the inherited devnode fd of the previous daemon (--devnode-fd)")
            }
            device = try CachefilesDevice(inheritedFD: inherited, path: configuration.devnode)
            try device.command("restore")
            log("restored: the requests in flight on inherited devnode fd \(inherited) are queued again")
        } else {
            if let inherited = configuration.inheritedDevnodeFD {
                device = try CachefilesDevice(inheritedFD: inherited, path: configuration.devnode)
            } else {
                device = try CachefilesDevice(path: configuration.devnode)
            }
            try device.command("dir \(configuration.cacheDirectory)")
            try device.command("tag \(configuration.tag)")
            do {
                try device.command("bind ondemand")
            } catch {
                throw Self.explainBindFailure(error, cacheDirectory: configuration.cacheDirectory)
            }
            let served = (configuration.blobFiles.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
                          + (configuration.sourceDirectory.isEmpty ? [] : [configuration.sourceDirectory])).joined(separator: " ")
            log("bound: cache \(configuration.cacheDirectory) tag \(configuration.tag), serving \(served) with \(configuration.threads) thread(s)")
        }
        for fault in configuration.faults.faults { log("fault plan: \(fault.spec)") }
    }

    deinit { source?.close() }

    static func explainBindFailure(_ error: DaemonError, cacheDirectory: String) -> DaemonError {
        if error.errno == ErrnoCode.ENOBUFS {
            return DaemonError("bind ondemand failed with ENOBUFS: the filesystem of \(cacheDirectory) is too full for cachefiles (free space or inodes below its bstop/fstop limits)", errno: ErrnoCode.ENOBUFS)
        }
        guard error.errno == ErrnoCode.EOPNOTSUPP else { return error }
        if (try? FileSystem.filesystemType(cacheDirectory)) == FileSystem.tmpfsType {
            return DaemonError("\(cacheDirectory): cachefiles refuses a cache directory on tmpfs (bind fails with EOPNOTSUPP: tmpfs has no sync_fs); put it on ext4 or xfs", errno: ErrnoCode.EOPNOTSUPP)
        }
        return DaemonError("bind ondemand failed with EOPNOTSUPP: the kernel lacks CONFIG_CACHEFILES_ONDEMAND, or the filesystem of \(cacheDirectory) lacks what cachefiles needs (xattrs, tmpfile, sync_fs)", errno: ErrnoCode.EOPNOTSUPP)
    }

    /// Serves until SIGTERM/SIGINT with `threads` workers, then returns what was served.
    public func serve() -> Totals {
        let monitor = spawn("the monitor thread") { $0.monitorLoop() }
        var workers: [Thread] = []
        for index in stride(from: 2, through: configuration.threads, by: 1) {
            if let thread = spawn("a worker thread", { $0.workerLoop(index: index) }) { workers.append(thread) }
        }
        workerLoop(index: 1)
        for thread in workers { thread.join() }
        monitorStop.wake()
        if let monitor { monitor.join() }
        if signalled.load(ordering: .relaxed) {
            // Nobody will answer now: let the kernel fail what is pending, so readers do not hang.
            device.close()
            log("stopped by a signal: devnode closed, requests still pending fail")
        }
        let t = totals.withLock { $0 }
        let span = Double((t.lastRequest ?? 0) - (t.firstRequest ?? 0)) / 1e9
        log("stopped: \(t.opens) OPEN (\(t.openErrors) refused), \(t.reads) READ, \(t.readBytes) bytes, \(t.closes) CLOSE, \(t.faults) fault(s) injected, requests over \(JSONWriter.format(span, decimals: 6)) s")
        return t
    }

    /// Serves on a background thread (for `run`); `stop()` ends it.
    public func start() {
        do {
            let thread = try startThread { [self] in _ = serve() }
            background.withLock { $0 = thread }
        } catch {
            log("could not start the serving thread: \(describeErrno(error.errno))")
        }
    }

    /// Stops serving (requests still pending stay unanswered until the devnode closes) and
    /// waits for the workers; returns what was served.
    public func stop() -> Totals {
        stopping.store(true, ordering: .relaxed)
        wake.wake()
        if let thread = background.withLock({ t -> Thread? in defer { t = nil }; return t }) {
            thread.join()
        }
        return totals.withLock { $0 }
    }

    /// Runs `body` on a new thread; nil (logged) when the thread could not start.
    private func spawn(_ what: String, _ body: @escaping @Sendable (OndemandServer) -> Void) -> Thread? {
        do {
            return try startThread { [self] in body(self) }
        } catch {
            log("could not start \(what): \(describeErrno(error.errno))")
            return nil
        }
    }

    /// Logs the lines a tracker update returns (outside the lock).
    private func track(_ body: (inout RequestTracker) -> [String]) {
        let lines = tracker.withLock { body(&$0) }
        for line in lines { log(line) }
    }

    /// The monitor thread: the in-flight dump on SIGUSR1 and, with `--warn-after`, the requests
    /// in flight too long. It never touches the devnode's requests, so it answers even when every
    /// worker is stuck.
    private func monitorLoop() {
        let limit = configuration.warnAfter
        let timeout = limit.map { Int32(RequestTracker.checkInterval(forThreshold: $0) / 1_000_000) } ?? -1
        var waiting = PollSet(readable: [dumpSignals.fd, monitorStop.readEnd])
        while true {
            do { try waiting.wait(timeoutMilliseconds: timeout) } catch {
                log("monitor: poll failed: \(describeErrno(error.errno)); no more SIGUSR1 dumps or warnings")
                return
            }
            if !waiting[1].isEmpty { return }
            if !waiting[0].isEmpty {
                dumpSignals.drain()
                let pending = devnodePending()
                let now = monotonicNanoseconds()
                track { $0.dump(now: now, devnodePending: pending) }
            }
            if let limit {
                let now = monotonicNanoseconds()
                track { $0.overdue(threshold: limit, now: now) }
            }
        }
    }

    /// Whether the kernel reports a request waiting to be read (poll with no wait); nil once the
    /// devnode is closed.
    private func devnodePending() -> Bool? {
        guard !device.isClosed else { return nil }
        var devnode = PollSet(readable: [device.fd])
        guard (try? devnode.wait(timeoutMilliseconds: 0)) != nil else { return nil }
        return devnode[0].contains(.readable)
    }

    private struct WorkerID { var index: Int; var tid: Int32 }

    private func workerLoop(index: Int) {
        let me = WorkerID(index: index, tid: daemon_sys_gettid())
        tracker.withLock { $0.workerStarted(index, tid: me.tid, now: monotonicNanoseconds()) }
        defer { tracker.withLock { $0.worker(index, is: .stopped, now: monotonicNanoseconds()) } }
        let capacity = 1 << 16
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 16)
        defer { buffer.deallocate() }
        // Page-aligned: the anonymous fd writes to the cache file with direct I/O.
        let dataBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 4096)
        defer { dataBuffer.deallocate() }

        while true {
            let message: CachefilesMessage
            switch nextMessage(buffer, worker: index) {
            case .stop: return
            case .message(let m): message = m
            }
            let now = monotonicNanoseconds()
            totals.withLock { t in
                if t.firstRequest == nil { t.firstRequest = now }
                t.lastRequest = now
            }
            switch message.request {
            case .open(let open): handleOpen(message, open, me, at: now)
            case .read(let read): handleRead(message, read, data: dataBuffer, me, at: now)
            case .close: handleClose(message, me, at: now)
            }
        }
    }

    private enum Next { case message(CachefilesMessage), stop }

    /// Waits for the next request. One thread at a time polls and reads (leader/followers): the
    /// kernel wakes every poller of /dev/cachefiles for each request, and all but one would read
    /// nothing. The leader hands over as soon as it has a message, then serves it.
    private func nextMessage(_ buffer: UnsafeMutableRawBufferPointer, worker: Int) -> Next {
        tracker.withLock { $0.worker(worker, is: .waiting, now: monotonicNanoseconds()) }
        return leader.withLock { _ -> Next in
            tracker.withLock { $0.worker(worker, is: .polling, now: monotonicNanoseconds()) }
            var waiting = PollSet(readable: [device.fd, stopSignals.fd, wake.readEnd])
            while !stopping.load(ordering: .relaxed) {
                do throws(SystemError) { try waiting.wait(timeoutMilliseconds: -1) } catch {
                    log("poll failed: \(describeErrno(error.errno)); stopping")
                    break
                }
                if !waiting[1].isEmpty { signalled.store(true, ordering: .relaxed); break }  // SIGTERM/SIGINT
                if !waiting[2].isEmpty { break }  // stop()
                if !waiting[0].isDisjoint(with: .failed) {
                    log("\(device.path): poll reported an error; stopping")
                    break
                }
                let n: Int
                do { n = try device.readMessage(into: buffer) } catch {
                    log("\(error); stopping")
                    break
                }
                guard n > 0 else { continue }
                do {
                    return .message(try CachefilesMessage.decode(UnsafeRawBufferPointer(rebasing: buffer[0..<n])))
                } catch {
                    log("\(device.path): undecodable message: \(error)")
                }
            }
            stopping.store(true, ordering: .relaxed)
            return .stop
        }
    }

    private func marker(_ m: DaemonMarker) { markers?.write(m) }

    private func handleOpen(_ message: CachefilesMessage, _ open: CachefilesMessage.Open, _ me: WorkerID, at pickup: UInt64) {
        let msg = message.msgID, oid = message.objectID
        let index = openCounter.add(1, ordering: .relaxed).newValue
        track { $0.pickedUp(.init(kind: .open, msgID: msg, objectID: oid, fd: open.fd, pickedUpAt: pickup, worker: me.index, tid: me.tid)) }
        var pickedUp = DaemonMarker(.pickup, .open, msgID: msg, objectID: oid, fd: open.fd)
        let keys = BlobName(volumeKey: open.volumeKey, cookieKey: open.cookieKey)
        (pickedUp.volume, pickedUp.blob) = (keys.volume, keys.blob)
        marker(pickedUp)
        let anon = Descriptor(fd: Int32(bitPattern: open.fd), path: "anonymous fd")

        func refuse(_ errno: Int32, _ why: String, fault: String? = nil) {
            log("OPEN msg=\(msg) oid=\(oid) fd=\(open.fd): \(why); answering -\(describeErrno(errno))")
            if let fault { marker(DaemonMarker(.fault, .open, msgID: msg, objectID: oid, fd: open.fd, fault: fault)) }
            let result: Int64
            do {
                try device.command(CachefilesReply.copen(msgID: msg, errno: errno))
                result = -Int64(errno)
            } catch {
                log("\(error)")
                result = -Int64(error.errno ?? ErrnoCode.EIO)
            }
            anon.close()
            totals.withLock { $0.opens += 1; $0.openErrors += 1; if fault != nil { $0.faults += 1 } }
            track { $0.done(msgID: msg, result: result, now: monotonicNanoseconds()) }
            marker(DaemonMarker(.done, .open, msgID: msg, objectID: oid, fd: open.fd, result: result))
        }

        if let injected = configuration.faults.openError(index: index) {
            refuse(injected.errno, "injected fault \(injected.spec)", fault: "open-error")
            return
        }
        let name: String
        switch BlobKeys.blobName(volumeKey: open.volumeKey, cookieKey: open.cookieKey) {
        case .failure(let rejection): refuse(ErrnoCode.EINVAL, "refused key: \(rejection)"); return
        case .success(let n): name = n
        }
        let blobPath = configuration.blobFiles[name] ?? "\(configuration.sourceDirectory)/\(name)"
        let blob: Descriptor
        do throws(SystemError) {
            if let file = configuration.blobFiles[name] {
                blob = try Descriptor.open(file, .read)
            } else if let source {
                blob = try Descriptor.open(name, in: source, .read, [.noFollow])
            } else {
                throw SystemError(path: blobPath, action: "cannot open", errno: ErrnoCode.ENOENT)
            }
        } catch {
            let e = error.errno
            refuse(e == ErrnoCode.ENOENT ? ErrnoCode.ENOENT : ErrnoCode.EIO, "blob \(blobPath): \(describeErrno(e))")
            return
        }
        guard let status = try? blob.status(), status.kind == .regular else {
            blob.close()
            refuse(ErrnoCode.EIO, "blob \(blobPath) is not a regular file")
            return
        }
        let size = status.size
        // Registered before copen: the kernel may send a READ as soon as it has the answer.
        objects.withLock { $0[oid] = OpenObject(anon: anon, blob: blob, size: size, name: name) }
        var result = Int64(size)
        do {
            try device.command(CachefilesReply.copen(msgID: msg, size: size))
            log("OPEN msg=\(msg) oid=\(oid) fd=\(open.fd) blob=\(name) size=\(size)")
        } catch {
            log("OPEN msg=\(msg) oid=\(oid): \(error)")
            result = -Int64(error.errno ?? ErrnoCode.EIO)
            _ = objects.withLock { $0.removeValue(forKey: oid) }
        }
        totals.withLock { $0.opens += 1 }
        track { $0.done(msgID: msg, result: result, now: monotonicNanoseconds()) }
        marker(DaemonMarker(.done, .open, msgID: msg, objectID: oid, fd: open.fd, result: result))
    }

    private func handleRead(_ message: CachefilesMessage, _ read: CachefilesMessage.Read, data: UnsafeMutableRawBufferPointer,
                            _ me: WorkerID, at pickup: UInt64) {
        let msg = message.msgID, oid = message.objectID
        let index = readCounter.add(1, ordering: .relaxed).newValue
        track { $0.pickedUp(.init(kind: .read, msgID: msg, objectID: oid, offset: read.offset, length: read.length,
                                  pickedUpAt: pickup, worker: me.index, tid: me.tid)) }
        marker(DaemonMarker(.pickup, .read, msgID: msg, objectID: oid, offset: read.offset, length: read.length))
        guard let object = objects.withLock({ $0[oid] }) else {
            log("READ msg=\(msg) oid=\(oid) off=\(read.offset) len=\(read.length): no open object \(oid); cannot answer")
            track { $0.abandoned(msgID: msg, reason: "no-open-object", now: monotonicNanoseconds()) }
            return
        }
        let actions = configuration.faults.readActions(index: index)
        func injected(_ name: String) {
            let spec = actions.applied.first(where: { $0.name == name })?.spec ?? name
            log("READ msg=\(msg) oid=\(oid) off=\(read.offset) len=\(read.length): injected fault \(spec) (READ #\(index))")
            marker(DaemonMarker(.fault, .read, msgID: msg, objectID: oid, offset: read.offset, length: read.length, fault: name))
            totals.withLock { $0.faults += 1 }
        }
        if actions.exitDaemon {
            injected("exit")
            if configuration.exitFaultEndsProcess {
                log("exiting now, with requests unanswered")
                ThisProcess.exitImmediately(3)
            }
            log("dying now, with requests unanswered: devnode and object fds closed, serving stopped")
            track { $0.abandoned(msgID: msg, reason: "exit", now: monotonicNanoseconds()) }
            stopping.store(true, ordering: .relaxed)
            wake.wake()
            device.close()
            objects.withLock { $0.removeAll() }
            return
        }
        if actions.delayBeforeWrite > 0 { injected("delay"); sleepNanoseconds(actions.delayBeforeWrite) }
        var written: UInt64 = 0
        if actions.writeData {
            switch copy(object, offset: read.offset, length: read.length, buffer: data) {
            case .success(let n): written = n
            case .failure(let error):
                log("READ msg=\(msg) oid=\(oid) off=\(read.offset) len=\(read.length): \(error)")
            }
            marker(DaemonMarker(.written, .read, msgID: msg, objectID: oid, offset: read.offset, length: read.length))
            track { $0.written(msgID: msg, bytes: written, now: monotonicNanoseconds()) }
        } else {
            injected("no-data")
        }
        if actions.delayAfterWrite > 0 { injected("delay"); sleepNanoseconds(actions.delayAfterWrite) }
        guard actions.answer else {
            injected("never-answer")
            track { $0.abandoned(msgID: msg, reason: "never-answer", now: monotonicNanoseconds()) }
            return
        }
        var result: Int64 = 0
        if daemon_sys_read_complete(object.anon.fd, msg) < 0 {
            let e = currentErrno
            result = -Int64(e)
            log("READ msg=\(msg) oid=\(oid): CACHEFILES_IOC_READ_COMPLETE failed: \(describeErrno(e))")
        }
        totals.withLock { $0.reads += 1; $0.readBytes += written }
        track { $0.done(msgID: msg, result: result, now: monotonicNanoseconds()) }
        marker(DaemonMarker(.done, .read, msgID: msg, objectID: oid, result: result))
    }

    /// Copies `[offset, offset+length)` of the blob into the anonymous fd through the aligned
    /// buffer; past the blob's end (up to the requested, block-aligned length) writes zeros.
    private func copy(_ object: OpenObject, offset: UInt64, length: UInt64, buffer: UnsafeMutableRawBufferPointer) -> Result<UInt64, DaemonError> {
        var done: UInt64 = 0
        while done < length {
            let chunk = Int(min(UInt64(buffer.count), length - done))
            let position = offset + done
            var have = 0
            while have < chunk {
                let n: Int
                do { n = try object.blob.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[have..<chunk]), at: position + UInt64(have)) } catch {
                    return .failure(DaemonError("blob \(object.name): pread failed: \(describeErrno(error.errno))"))
                }
                if n == 0 { break }
                have += n
            }
            if have < chunk { UnsafeMutableRawBufferPointer(rebasing: buffer[have..<chunk]).initializeMemory(as: UInt8.self, repeating: 0) }
            var put = 0
            while put < chunk {
                // One write at a time: a failure names the offset it stopped at.
                do { put += try object.anon.writeSome(UnsafeRawBufferPointer(rebasing: buffer[put..<chunk]), at: position + UInt64(put)) } catch {
                    return .failure(DaemonError("anonymous fd: pwrite at \(position + UInt64(put)) failed: \(describeErrno(error.errno))"))
                }
            }
            done += UInt64(chunk)
        }
        return .success(done)
    }

    private func handleClose(_ message: CachefilesMessage, _ me: WorkerID, at pickup: UInt64) {
        let msg = message.msgID, oid = message.objectID
        track { $0.pickedUp(.init(kind: .close, msgID: msg, objectID: oid, pickedUpAt: pickup, worker: me.index, tid: me.tid)) }
        marker(DaemonMarker(.pickup, .close, msgID: msg, objectID: oid))
        let object = objects.withLock { $0.removeValue(forKey: oid) }
        log("CLOSE msg=\(msg) oid=\(oid)" + (object == nil ? " (unknown object)" : " blob=\(object!.name)"))
        totals.withLock { $0.closes += 1 }
        track { $0.done(msgID: msg, result: 0, now: monotonicNanoseconds()) }
        marker(DaemonMarker(.done, .close, msgID: msg, objectID: oid))
        // `object` goes out of scope here; its fds close once no READ still holds it.
    }
}
