/// Ties the kernel's on-demand records into requests, fed one event at a time in trace order.
///
/// On 6.8+ kernels open/read/close carry `mid=0 oid=0`, so requests are joined per object (`obj`):
/// - READ → cread: a cread completes, in this order of preference, the READ its daemon marker
///   names (`msg=`), the READ whose range the same thread (pid) wrote with fd_write, any READ whose
///   range is written (oldest first), and finally the oldest outstanding READ (flagged: its range
///   was never written). The cread's msg_id becomes the request's msg_id. msg_ids are never keys
///   (older kernels reuse them at once).
/// - OPEN → copen: the oldest outstanding OPEN of the object.
/// - Names: an object's volume and cookie key come from names given up front, our daemon's OPEN
///   `pickup` marker (its fd names the object), or `record`'s cookie lines (`CookieKeyLine`) tied
///   through `cachefiles_ref` (obj and cookie ids) — whichever comes, whenever it comes.
/// - Resumption: an answered READ is handed on when its reader's next `cachefiles_prep_read` /
///   `cachefiles_read` on the object shows it went on (`resumed`), or at its next READ or the end.
///
/// Memory holds the outstanding requests and one entry per object, not the trace.
public final class Correlator {
    /// One object's lifetime: OPEN(s) → copen → READs → CLOSE → fd_release.
    public struct ObjectLifetime: Sendable, Equatable {
        public var obj: UInt32
        /// The daemon's object_id (from fd_release, a kernel-filled open, or a marker).
        public var objectID: UInt32?
        public var fd: UInt32?
        public var opens = 0
        public var copens = 0
        /// Size the daemon answered in its last copen.
        public var size: Int64?
        public var firstSeen: UInt64
        public var firstOpen: UInt64?
        public var lastClose: UInt64?
        public var lastFdRelease: UInt64?
        public var reads = 0
        public var readsCompleted = 0
        public var bytesRequested: UInt64 = 0
        public var bytesWritten: UInt64 = 0
        public var fdWrites = 0
        /// The fscache cookie's debug id (`cachefiles_ref`).
        public var cookie: UInt32?
        /// Volume and cookie key (the blob): from `--blob-names`, our daemon's OPEN marker, or the
        /// cookie lines `record` writes (via `cookie`); nil when the trace does not say.
        public var name: BlobName?

        /// A second OPEN of the same object (6.8+ failover re-opens objects).
        public var reopens: Int { max(0, opens - 1) }

        /// First OPEN (or first record) to fd_release, or nil while the object lives on.
        public var lifetime: UInt64? { lastFdRelease.map { $0 &- (firstOpen ?? firstSeen) } }
    }

    /// Plain values (the task's name is an index into `TaskNames`): appended, scanned and removed
    /// without reference counting.
    struct PendingRead {
        var serial: UInt64
        var pid: Int32
        var name: TaskNames.Index
        var start: Int64
        var length: UInt64
        var issued: UInt64
        var kernelObjectID: UInt32?
        var covered: UInt64 = 0
        var writerPid: Int32?
        var lastWrite: UInt64?
        var markerMsg: UInt32?
        var pickedUp: UInt64?
        var markerWritten: UInt64?
        var isWritten: Bool { covered >= length }
    }

    struct PendingOpen {
        var serial: UInt64
        var pid: Int32
        var name: TaskNames.Index
        var fd: UInt32?
        var issued: UInt64
        var kernelMsgID: UInt32?
        var markerMsg: UInt32?
    }

    struct ObjectState {
        var lifetime: ObjectLifetime
        var reads: [PendingRead] = []
        var opens: [PendingOpen] = []
        /// Per daemon thread, the READ its last fd_write completed (its serial), or 0 when that
        /// write covered no outstanding READ (its next cread answers a READ the trace lacks).
        var lastWrittenBy = ThreadSlots()
        /// `lifetime.name` in `objectNames` (0: none), for the requests that close meanwhile.
        var nameIndex: Int32 = 0
        /// Where `lifetime.name` came from: a later source of higher rank replaces it.
        var nameRank = NameRank.none
        /// Its fd was released: a next OPEN (failover's re-open) gives the object a new id.
        var idEnded = false
        /// Its fd was released with READs outstanding (their serials): an anomaly if one of them
        /// is never answered (a failover's new daemon answers them: no anomaly).
        var releasedWithReads: (anomaly: Anomaly, serials: [UInt64])?
        init(obj: UInt32, timestamp: UInt64) { lifetime = ObjectLifetime(obj: obj, firstSeen: timestamp) }
    }

    enum NameRank: Int, Comparable {
        case none, cookie, marker, given
        static func < (a: NameRank, b: NameRank) -> Bool { a.rawValue < b.rawValue }
    }

    /// Object states, updated in place through one buffer access per record (values in a class
    /// property would pay an exclusivity check per field touched). The properties touched per
    /// record skip the run-time exclusivity check (`@exclusivity(unchecked)`: one thread, and no
    /// access to one of them overlaps another to the same): it cost ~150 instructions a record.
    @exclusivity(unchecked) private var states: [ObjectState] = []
    /// Index into `states` by obj. Debug ids come from a kernel counter, so they are small and
    /// dense: an array indexed by obj is compact and cheaper than hashing, per record.
    @exclusivity(unchecked) private var slotByObj: [Int32] = []
    private var sparseSlots: [UInt32: Int] = [:]
    private static let denseLimit: UInt32 = 1 << 22
    /// The daemon's object_id → obj, learnt from OPEN markers (fd) to join READ markers: looked
    /// up at each marker (a `Dictionary` hashed each with SipHash), keyed by the id's bits.
    @exclusivity(unchecked) private var objByObjectID = PidTable<UInt32>()
    /// Names given before the trace (`--blob-names`, or a first pass over the trace), by obj.
    private let givenNames: [UInt32: BlobName]
    /// Cookie of objects `cachefiles_ref` named before their first on-demand record.
    private var pendingCookies: [UInt32: UInt32] = [:]
    /// The cookie lines `record` wrote, by cookie id.
    private var cookieNames: [UInt32: BlobName] = [:]
    /// Answered READs whose reader has not yet touched the object again, by reader pid (a reader
    /// waits for one READ at a time): they close at its next `cachefiles_prep_read` /
    /// `cachefiles_read` on the object (`resumed`), its next READ, or the end.
    @exclusivity(unchecked) private var awaitingResume = ParkedRequests()
    @exclusivity(unchecked) private var serial: UInt64 = 0
    /// The names of the tasks that caused requests, and of the pids of records handed over without one.
    @exclusivity(unchecked) private var taskNames = TaskNames()
    private let onClosed: (ClosedRequest) -> Void
    /// Every name an object was given, in order (0: none): a request keeps its object's name of
    /// the moment it closed as an index here (`ClosedRequest.objectName`).
    private var objectNames: [BlobName?] = [nil]
    private let onAnomaly: (Anomaly) -> Void
    @exclusivity(unchecked) public private(set) var firstTimestamp: UInt64?
    @exclusivity(unchecked) public private(set) var lastTimestamp: UInt64?
    @exclusivity(unchecked) public private(set) var markersSeen = 0
    /// Counts the names given to objects while reading (not those given up front): a reader that
    /// waits for names looks again only when it changed.
    public private(set) var namesLearned = 0
    /// Injected faults the daemon's markers announced, by name.
    public private(set) var faults: [String: Int] = [:]

    /// `onClosed` receives each request when it is answered, and at `finish` the unanswered ones
    /// (`record(_:)` gives it as a `RequestRecord`); `onAnomaly` each anomaly when found.
    /// Whether answered READs wait for their reader's resumption before they are handed on.
    private let awaitResume: Bool
    /// Whether an object's outstanding requests are settled (handed on unanswered) when its fd is
    /// released, instead of at `finish`.
    private let settleAtRelease: Bool

    /// `names`: objects named before the trace is read (they win over what the trace says).
    /// `awaitResume`: hand on an answered READ when its reader resumes (`RequestRecord.resumed`),
    /// not at its cread (false: at the cread, without `resumed`; `record --live`'s windows).
    /// `settleAtRelease`: an object's outstanding requests end unanswered at its fd_release (its
    /// daemon closed the fd: no answer can come), not at `finish` — for `monitor`, which never
    /// finishes and must not count a dead daemon's requests as in flight forever.
    public init(names: [UInt32: BlobName] = [:], awaitResume: Bool = true, settleAtRelease: Bool = false,
                onClosed: @escaping (ClosedRequest) -> Void, onAnomaly: @escaping (Anomaly) -> Void) {
        self.givenNames = names
        self.awaitResume = awaitResume
        self.settleAtRelease = settleAtRelease
        self.onClosed = onClosed
        self.onAnomaly = onAnomaly
    }

    /// `onRequest` receives each closed request as a `RequestRecord`.
    public convenience init(names: [UInt32: BlobName] = [:], awaitResume: Bool = true, settleAtRelease: Bool = false,
                            onRequest: @escaping (RequestRecord) -> Void, onAnomaly: @escaping (Anomaly) -> Void) {
        let resolver = Resolver()
        self.init(names: names, awaitResume: awaitResume, settleAtRelease: settleAtRelease,
                  onClosed: { onRequest(resolver.correlator!.record($0)) }, onAnomaly: onAnomaly)
        resolver.correlator = self
    }

    /// The correlator an `onRequest` closure resolves names with (it is made before the correlator).
    private final class Resolver {
        unowned(unsafe) var correlator: Correlator?
    }

    /// `closed` with its task's and object's names.
    public func record(_ closed: ClosedRequest) -> RequestRecord {
        RequestRecord(closed, comm: taskNames[closed.taskName], blob: objectNames[Int(closed.objectName)])
    }

    /// The name of `closed`'s task (`RequestRecord.comm`).
    @inline(__always)
    public func comm(_ closed: ClosedRequest) -> String? { taskNames[closed.taskName] }

    /// Gives the object a name (of the rank it came from).
    private func rename(_ state: inout ObjectState, _ name: BlobName, _ rank: NameRank) {
        (state.lifetime.name, state.nameRank) = (name, rank)
        state.nameIndex = Int32(objectNames.count)
        objectNames.append(name)
    }

    /// The index of obj's state, created on first sight.
    @inline(__always)
    private func slot(_ obj: UInt32, _ timestamp: UInt64) -> Int {
        if let known = existingSlot(obj) { return known }
        let index = states.count
        var state = ObjectState(obj: obj, timestamp: timestamp)
        if let name = givenNames[obj] { rename(&state, name, .given) }
        if !pendingCookies.isEmpty, let cookie = pendingCookies.removeValue(forKey: obj) { learnCookie(&state, cookie) }
        states.append(state)
        setSlot(obj, index)
        return index
    }

    /// Records that obj's state is at `index`.
    private func setSlot(_ obj: UInt32, _ index: Int) {
        if obj < Self.denseLimit {
            let i = Int(obj)
            if i >= slotByObj.count { slotByObj.append(contentsOf: repeatElement(-1, count: max(i + 1, slotByObj.count * 2) - slotByObj.count)) }
            slotByObj[i] = Int32(index)
        } else {
            sparseSlots[obj] = index
        }
    }

    @inline(__always)
    private func existingSlot(_ obj: UInt32) -> Int? {
        if obj < Self.denseLimit {
            let i = Int(obj)
            guard i < slotByObj.count, slotByObj[i] >= 0 else { return nil }
            return Int(slotByObj[i])
        }
        return sparseSlots[obj]
    }

    /// Runs `body` on the state at `index`, in place.
    @inline(__always)
    private func withState<R>(_ index: Int, _ body: (inout ObjectState) throws -> R) rethrows -> R {
        try states.withUnsafeMutableBufferPointer { try body(&$0[index]) }
    }

    // MARK: input

    public func consume(_ event: TraceEvent) {
        if case .generic(let g) = event.body, g.system == "cachefiles" {
            // The records that tie objects to cookies and readers to their resumption are not
            // the trace's requests: they leave its span (and the time order check) alone.
            switch g.name {
            case "cachefiles_ref": noteRef(g); return
            case "cachefiles_prep_read", "cachefiles_read":
                noteResume(g, pid: event.pid, at: max(event.timestamp, lastTimestamp ?? 0)); return
            default: break
            }
        }
        var obj: UInt32?
        if case .ondemand(let e) = event.body { obj = e.obj }
        let t = admit(event.timestamp, cpu: event.cpu, obj: obj)
        switch event.body {
        case .ondemand(let e): consume(e, pid: event.pid, comm: event.comm, at: t)
        case .marker(let m):
            guard let marker = DaemonMarker(text: m.text) else {
                if let line = CookieKeyLine(text: m.text) { learn(line) }
                return
            }
            markersSeen += 1
            consume(marker, at: t)
        case .generic(let g):
            let kind: Anomaly.Kind
            switch g.name {
            case "cachefiles_io_error": kind = .ioError
            case "cachefiles_vfs_error": kind = .vfsError
            default: return
            }
            let obj = g["obj"]?.integer.map { UInt32(truncatingIfNeeded: $0) }
            let detail = g.fields.filter { $0.name != "obj" }.map { "\($0.name)=\($0.value)" }.joined(separator: " ")
            onAnomaly(Anomaly(kind: kind, obj: obj, timestamp: t, detail: detail))
        }
    }

    /// The ring buffer dropped events on `cpu` before `timestamp` (count nil: unknown number).
    public func noteLost(cpu: Int32, count: Int64?, timestamp: UInt64) {
        let what = count.map { "\($0) event(s)" } ?? "an unknown number of events"
        onAnomaly(Anomaly(kind: .lostEvents, obj: nil, timestamp: timestamp, detail: "CPU \(cpu) lost \(what)"))
    }

    /// An on-demand record, as `consume(_: TraceEvent)` takes it with that body; its task's name
    /// is the one `nameTask` gave its pid (the report's reading loop hands these over as plain
    /// values, and each task's name once, see `OndemandRecord`).
    public func consume(_ record: OndemandRecord) {
        let t = admit(record.timestamp, cpu: record.cpu, obj: record.event.obj)
        consume(record.event, pid: record.pid, comm: nil, namedByPid: true, at: t)
    }

    /// `consume(_: OndemandRecord)` for each record, in order. The records of objects already
    /// seen update their states through one buffer access for the run of them (an access per
    /// record cost a uniqueness check and a call); a record that adds a state ends the run.
    public func consume(_ records: ArraySlice<OndemandRecord>) {
        var next = records.startIndex
        while next < records.endIndex {
            next = states.withUnsafeMutableBufferPointer { states in
                var i = next
                while i < records.endIndex {
                    let record = records[i]
                    var index = -1
                    if let obj = record.event.obj {
                        guard let known = existingSlot(obj) else { break }
                        index = known
                    }
                    let t = admit(record.timestamp, cpu: record.cpu, obj: record.event.obj)
                    if index >= 0 { update(&states[index], record.event, pid: record.pid, comm: nil, namedByPid: true, at: t) }
                    i += 1
                }
                return i
            }
            if next < records.endIndex {
                consume(records[next])
                next += 1
            }
        }
    }

    /// A tie record, as `consume(_: TraceEvent)` takes the `GenericEvent` it stands for (see
    /// `TieRecord`): a cookie learnt, a reader's resumption. It leaves the trace's span alone.
    @inline(__always)
    public func consume(_ tie: TieRecord) {
        func id(_ raw: UInt64?) -> UInt32? { raw.map { UInt32(truncatingIfNeeded: $0) } }
        switch tie.kind {
        case .ref: noteRef(obj: id(tie.obj), cookie: id(tie.cookie))
        case .prepRead, .read: noteResume(obj: id(tie.obj), pid: tie.pid, at: max(tie.timestamp, lastTimestamp ?? 0))
        }
    }

    /// One of our daemon's markers, as `consume(_: TraceEvent)` takes the `.marker` event whose
    /// text it was parsed from.
    public func consume(_ marker: DaemonMarker, timestamp: UInt64, cpu: Int32) {
        let t = admit(timestamp, cpu: cpu, obj: nil)
        markersSeen += 1
        consume(marker, at: t)
    }

    /// `consume(_: TieRecord)` for each, in order.
    public func consume(_ ties: ArraySlice<TieRecord>) {
        for i in ties.indices { consume(ties[i]) }
    }

    /// Names the task `pid` for the records `consume(_: OndemandRecord)` takes.
    public func nameTask(_ pid: Int32, _ comm: String?) { _ = taskNames.name(pid, comm) }

    /// The index of a task's name for a request another correlator closes (`FanotifyCorrelator`):
    /// the name the record carries, or else the one `nameTask` gave its pid.
    func taskNameIndex(_ pid: Int32, _ comm: String?) -> TaskNames.Index {
        comm == nil ? taskNames.index(of: pid) : taskNames.name(pid, comm)
    }

    /// The index of an object's name for requests another correlator closes (0: none).
    func objectNameIndex(_ name: BlobName?) -> Int32 {
        guard let name else { return 0 }
        objectNames.append(name)
        return Int32(objectNames.count - 1)
    }

    /// The name `nameTask` gave `pid`.
    public func taskName(_ pid: Int32) -> String? { taskNames[taskNames.index(of: pid)] }

    /// The time a record is taken at, the trace's span moved on to it. Records must come in time
    /// order (`TimeOrder`); one that does not (clocks that differ between CPUs, an edited text
    /// trace) is taken at the time already reached, so no latency is negative, and is reported.
    @inline(__always)
    private func admit(_ timestamp: UInt64, cpu: Int32, obj: UInt32?) -> UInt64 {
        var t = timestamp
        if let last = lastTimestamp, t < last {
            onAnomaly(Anomaly(kind: .timeWentBackwards, obj: obj, timestamp: last,
                              detail: "a record at \(TimeText.seconds(timestamp)) s on CPU \(cpu) comes after one at \(TimeText.seconds(last)) s; taken as \(TimeText.seconds(last)) s (record with a global clock, e.g. trace_clock mono)"))
            t = last
        }
        if firstTimestamp == nil { firstTimestamp = t }
        lastTimestamp = t
        return t
    }

    /// `t`: the event's time, or the time already reached if it went backwards.
    /// `namedByPid`: the task's name is `taskName(pid)`, looked up only for the records that keep it.
    private func consume(_ e: OndemandEvent, pid: Int32, comm: String?, namedByPid: Bool = false, at t: UInt64) {
        guard let obj = e.obj else { return }
        let index = slot(obj, t)
        withState(index) { update(&$0, e, pid: pid, comm: comm, namedByPid: namedByPid, at: t) }
    }

    private func update(_ state: inout ObjectState, _ e: OndemandEvent, pid: Int32, comm: String?, namedByPid: Bool,
                        at t: UInt64) {
        let obj = state.lifetime.obj
        switch e {
        case .read(let r):
            if !awaitingResume.isEmpty { awaitingResume.unpark(pid) { onClosed($0) } }
            serial += 1
            let length = r.len ?? 0
            let name = namedByPid ? taskNames.index(of: pid) : taskNames.name(pid, comm)
            state.reads.append(PendingRead(serial: serial, pid: pid, name: name, start: r.start ?? 0,
                                           length: length, issued: t, kernelObjectID: nonZero(r.objectID)))
            state.lifetime.reads += 1
            state.lifetime.bytesRequested += length
            if let kernelOID = nonZero(r.objectID), let known = state.lifetime.objectID, kernelOID != known {
                onAnomaly(Anomaly(kind: .idMismatch, obj: obj, timestamp: t,
                                  detail: "read oid=\(kernelOID) but the object's id is \(known)"))
            }
        case .fdWrite(let w):
            let start = w.start ?? 0
            let length = w.len ?? 0
            state.lifetime.bytesWritten += length
            state.lifetime.fdWrites += 1
            let end = start &+ Int64(clamping: length)
            var coveredAny = false
            var completed: (serial: UInt64, exact: Bool)?
            // One exclusive access for the whole scan (this runs once per fd_write).
            state.reads.withUnsafeMutableBufferPointer { reads in
                for i in reads.indices where !reads[i].isWritten {
                    let r = reads[i]
                    let overlap = min(end, r.start &+ Int64(clamping: r.length)) - max(start, r.start)
                    guard overlap > 0 else { continue }
                    coveredAny = true
                    reads[i].covered = min(r.length, r.covered + UInt64(overlap))
                    reads[i].writerPid = pid
                    reads[i].lastWrite = t
                    // The READ this write is for: the one it covers exactly, else the oldest it completes.
                    if reads[i].isWritten, completed == nil || (!completed!.exact && r.start == start && r.length == length) {
                        completed = (r.serial, r.start == start && r.length == length)
                    }
                }
            }
            if let completed { state.lastWrittenBy.set(pid, completed.serial) }
            else if !coveredAny { state.lastWrittenBy.set(pid, 0) }
        case .cread(let c):
            completeRead(&state, msgID: c.msgID, pid: pid, at: t)
        case .open(let o):
            state.lifetime.opens += 1
            if state.lifetime.firstOpen == nil { state.lifetime.firstOpen = t }
            state.lifetime.fd = o.fd
            if state.idEnded { (state.lifetime.objectID, state.idEnded) = (nil, false) }
            if let oid = nonZero(o.objectID) { learnObjectID(&state, oid, at: t, from: "open") }
            serial += 1
            let name = namedByPid ? taskNames.index(of: pid) : taskNames.name(pid, comm)
            state.opens.append(PendingOpen(serial: serial, pid: pid, name: name, fd: o.fd, issued: t,
                                           kernelMsgID: nonZero(o.msgID)))
        case .copen(let c):
            state.lifetime.copens += 1
            state.lifetime.size = c.len
            guard !state.opens.isEmpty else {
                onAnomaly(Anomaly(kind: .copenWithoutOpen, obj: obj, timestamp: t,
                                  detail: "copen msg_id=\(c.msgID.map(String.init) ?? "-") with no outstanding open"))
                return
            }
            let open = state.opens.removeFirst()
            if let kernel = open.kernelMsgID, let real = c.msgID, kernel != real {
                onAnomaly(Anomaly(kind: .idMismatch, obj: obj, timestamp: t,
                                  detail: "open mid=\(kernel) answered by copen msg_id=\(real)"))
            }
            onClosed(ClosedRequest(kind: .open, join: .open, rangeWritten: false, obj: obj, msgID: c.msgID ?? open.markerMsg,
                                   pid: open.pid, taskName: open.name, objectName: state.nameIndex, offset: nil,
                                   length: c.len.map { UInt64(max(0, $0)) }, issued: open.issued, completed: t))
        case .close(let c):
            state.lifetime.lastClose = t
            if let oid = nonZero(c.objectID), let known = state.lifetime.objectID, oid != known {
                onAnomaly(Anomaly(kind: .idMismatch, obj: obj, timestamp: t,
                                  detail: "close oid=\(oid) but the object's id is \(known)"))
            }
        case .fdRelease(let f):
            state.lifetime.lastFdRelease = t
            if let oid = f.objectID { learnObjectID(&state, oid, at: t, from: "fd_release") }
            state.idEnded = true
            if !state.reads.isEmpty {
                let ranges = state.reads.prefix(4).map { "\($0.start)+\($0.length)" }.joined(separator: ", ")
                let anomaly = Anomaly(kind: .fdReleaseWithOutstandingReads, obj: obj, timestamp: t,
                                      detail: "\(state.reads.count) read(s) outstanding: \(ranges)"
                                        + (state.reads.count > 4 ? ", ..." : ""))
                // Told at once where requests settle here (monitor); else once it is known that
                // one of them stayed unanswered (at the end: a failover may still answer them).
                if settleAtRelease { onAnomaly(anomaly) } else { state.releasedWithReads = (anomaly, state.reads.map(\.serial)) }
            }
            if settleAtRelease { settleOutstanding(&state, atRelease: true) }
        }
    }

    private func nonZero(_ v: UInt32?) -> UInt32? { v == 0 ? nil : v }

    private func learnObjectID(_ state: inout ObjectState, _ oid: UInt32, at t: UInt64, from source: String) {
        if let known = state.lifetime.objectID, known != oid {
            onAnomaly(Anomaly(kind: .idMismatch, obj: state.lifetime.obj, timestamp: t,
                              detail: "\(source) oid=\(oid) but the object's id was \(known)"))
        }
        state.lifetime.objectID = oid
    }

    private func completeRead(_ state: inout ObjectState, msgID: UInt32?, pid: Int32, at t: UInt64) {
        let lastWritten = state.lastWrittenBy.get(pid)
        let (index, join) = state.reads.withUnsafeBufferPointer { reads -> (Int?, RequestRecord.Join) in
            if let msgID, let i = reads.firstIndex(where: { $0.markerMsg == msgID }) { return (i, .marker) }
            // The READ this thread's last write completed; else, among written READs, the one this
            // thread wrote earliest; else the oldest written.
            if let serial = lastWritten, serial != 0,
               let i = reads.firstIndex(where: { $0.serial == serial && $0.markerMsg == nil }) { return (i, .thread) }
            var best: Int?
            for i in reads.indices where reads[i].isWritten && reads[i].writerPid == pid && reads[i].markerMsg == nil {
                if best == nil || reads[i].lastWrite! < reads[best!].lastWrite! { best = i }
            }
            if let best { return (best, .thread) }
            if let i = reads.firstIndex(where: { $0.isWritten && $0.markerMsg == nil }) { return (i, .arrival) }
            if lastWritten == 0 { return (nil, .arrival) } // it wrote for a READ not in the trace
            if let i = reads.firstIndex(where: { $0.writerPid == pid && $0.markerMsg == nil }) { return (i, .arrival) }
            return (reads.firstIndex { $0.markerMsg == nil }, .arrival)
        }
        let obj = state.lifetime.obj
        let strayWrite = state.lastWrittenBy.remove(pid) == 0
        guard let index else {
            onAnomaly(Anomaly(kind: .creadWithoutRead, obj: obj, timestamp: t,
                              detail: "cread msg_id=\(msgID.map(String.init) ?? "-") with no outstanding read"
                                + (strayWrite ? " (its thread wrote a range no outstanding read asked for)" : "")))
            return
        }
        let r = state.reads.remove(at: index)
        state.lifetime.readsCompleted += 1
        if !r.isWritten {
            onAnomaly(Anomaly(kind: .creadRangeNeverWritten, obj: obj, timestamp: t,
                              detail: "cread msg_id=\(msgID.map(String.init) ?? "-") for \(r.start)+\(r.length): "
                                + "\(r.covered) of \(r.length) bytes written"))
        }
        if let m = r.markerMsg, let msgID, m != msgID {
            onAnomaly(Anomaly(kind: .idMismatch, obj: obj, timestamp: t,
                              detail: "marker msg=\(m) but cread msg_id=\(msgID)"))
        }
        let answered = ClosedRequest(kind: .read, join: join, rangeWritten: r.isWritten, obj: obj, msgID: msgID ?? r.markerMsg,
                                     pid: r.pid, taskName: r.name, objectName: state.nameIndex, offset: r.start,
                                     length: r.length, issued: r.issued, pickedUp: r.pickedUp,
                                     written: r.markerWritten ?? r.lastWrite, completed: t)
        if !awaitResume {
            onClosed(answered)
        } else {
            // The displaced request comes back as a value: a closure calling `onClosed` captured
            // self, which was retained and released around every park.
            if let displaced = awaitingResume.park(answered) { onClosed(displaced) }
        }
    }

    // MARK: names and resumption

    /// `cachefiles_ref` carries the object's cookie: learnt once per object.
    private func noteRef(_ g: GenericEvent) {
        noteRef(obj: g["obj"]?.integer.map { UInt32(truncatingIfNeeded: $0) },
                cookie: g["cookie"]?.integer.map { UInt32(truncatingIfNeeded: $0) })
    }

    private func noteRef(obj: UInt32?, cookie: UInt32?) {
        guard let obj, obj != 0, let cookie, cookie != 0 else { return }
        if let index = existingSlot(obj) {
            withState(index) { state in if state.lifetime.cookie == nil { learnCookie(&state, cookie) } }
        } else if pendingCookies[obj] == nil {
            pendingCookies[obj] = cookie
        }
    }

    private func learnCookie(_ state: inout ObjectState, _ cookie: UInt32) {
        state.lifetime.cookie = cookie
        if state.nameRank < .cookie, let name = cookieNames[cookie] {
            rename(&state, name, .cookie)
            namesLearned &+= 1
        }
    }

    /// A cookie line of `record`: names the objects of that cookie (now and later).
    private func learn(_ line: CookieKeyLine) {
        cookieNames[line.cookie] = line.name
        for i in states.indices where states[i].lifetime.cookie == line.cookie && states[i].nameRank <= .cookie {
            withState(i) { rename(&$0, line.name, .cookie) }
            namesLearned &+= 1
        }
    }

    /// The reader's next record on the object after its READ was answered: it resumed.
    private func noteResume(_ g: GenericEvent, pid: Int32, at t: UInt64) {
        guard !awaitingResume.isEmpty else { return }
        noteResume(obj: g["obj"]?.integer.map { UInt32(truncatingIfNeeded: $0) }, pid: pid, at: t)
    }

    @inline(__always)
    private func noteResume(obj: UInt32?, pid: Int32, at t: UInt64) {
        guard !awaitingResume.isEmpty, let obj else { return }
        awaitingResume.unpark(pid, if: { $0.obj == obj }) { waiting in
            var resumed = waiting
            resumed.resumed = t
            onClosed(resumed)
        }
    }

    private func consume(_ m: DaemonMarker, at t: UInt64) {
        if m.stage == .fault {
            faults[m.fault ?? "unnamed", default: 0] += 1
        }
        switch m.request {
        case .open:
            if m.stage == .pickup || objByObjectID[Int32(bitPattern: m.objectID)] == nil, let fd = m.fd {
                // The OPEN record carries the fd the daemon's marker names: that ties oid to obj.
                let candidate = states.indices
                    .filter { states[$0].opens.contains { $0.fd == fd && $0.markerMsg == nil } }
                    .max { (states[$0].opens.last?.issued ?? 0) < (states[$1].opens.last?.issued ?? 0) }
                if let index = candidate {
                    withState(index) { state in
                        objByObjectID.updateValue(state.lifetime.obj, forKey: Int32(bitPattern: m.objectID))
                        if let i = state.opens.firstIndex(where: { $0.fd == fd && $0.markerMsg == nil }) {
                            state.opens[i].markerMsg = m.msgID
                        }
                        if state.lifetime.objectID == nil { state.lifetime.objectID = m.objectID }
                        if let name = m.name, state.nameRank <= .marker {
                            rename(&state, name, .marker)
                            namesLearned &+= 1
                        }
                    }
                }
            }
            if m.stage == .done, let res = m.result, res < 0, let obj = objByObjectID[Int32(bitPattern: m.objectID)],
               let index = existingSlot(obj) {
                withState(index) { state in failOpen(&state, msgID: m.msgID, errno: res, at: t) }
            }
        case .read:
            guard let obj = objByObjectID[Int32(bitPattern: m.objectID)], let index = existingSlot(obj) else { return }
            withState(index) { state in
                switch m.stage {
                case .pickup:
                    if let i = state.reads.firstIndex(where: { $0.markerMsg == nil && $0.start == m.offset && $0.length == m.length }) {
                        state.reads[i].markerMsg = m.msgID
                        state.reads[i].pickedUp = t
                    }
                case .written:
                    if let i = state.reads.firstIndex(where: { $0.markerMsg == m.msgID }) { state.reads[i].markerWritten = t }
                case .done, .fault:
                    break
                }
            }
        case .close:
            break
        }
    }

    /// The daemon answered the OPEN its marker names with an error (no copen record is traced
    /// for it): the OPEN is answered, at the marker, and the failure an anomaly.
    private func failOpen(_ state: inout ObjectState, msgID: UInt32, errno: Int64, at t: UInt64) {
        guard let i = state.opens.firstIndex(where: { $0.markerMsg == msgID }) else { return }
        let open = state.opens.remove(at: i)
        let answer = errno >= -4095 ? ErrnoName.describe(Int32(-errno)) : String(errno)
        onAnomaly(Anomaly(kind: .openFailed, obj: state.lifetime.obj, timestamp: t,
                          detail: "open fd=\(open.fd.map(String.init) ?? "-"): the daemon answered \(answer)"))
        onClosed(ClosedRequest(kind: .open, join: .marker, rangeWritten: false, obj: state.lifetime.obj, msgID: msgID,
                               pid: open.pid, taskName: open.name, objectName: state.nameIndex, offset: nil, length: nil,
                               issued: open.issued, completed: t))
    }

    /// Ends the trace: outstanding requests are reported unanswered, objects closed but never
    /// released are flagged. Returns every object's lifetime, ordered by obj.
    public func finish() -> [ObjectLifetime] {
        let end = lastTimestamp ?? 0
        let waiting = awaitingResume.all.sorted { ($0.completed ?? 0, $0.obj, $0.pid) < ($1.completed ?? 0, $1.obj, $1.pid) }
        awaitingResume.removeAll()
        for request in waiting { onClosed(request) }
        let all = states.sorted { $0.lifetime.obj < $1.lifetime.obj }
        for var state in all {
            let obj = state.lifetime.obj
            if let released = state.releasedWithReads, state.reads.contains(where: { released.serials.contains($0.serial) }) {
                onAnomaly(released.anomaly)
            }
            settleOutstanding(&state, atRelease: false)
            if let close = state.lifetime.lastClose, (state.lifetime.lastFdRelease ?? 0) < close {
                onAnomaly(Anomaly(kind: .closedWithoutFdRelease, obj: obj, timestamp: close,
                                  detail: "close at \(TimeText.seconds(close)) s, no fd_release by \(TimeText.seconds(end)) s"))
            }
        }
        for i in states.indices {
            states[i].reads.removeAll()
            states[i].opens.removeAll()
        }
        return all.map(\.lifetime)
    }

    /// Hands on the object's outstanding requests unanswered (each an anomaly), and forgets them.
    private func settleOutstanding(_ state: inout ObjectState, atRelease: Bool) {
        let obj = state.lifetime.obj
        for open in state.opens {
            let by = atRelease ? "before the fd was released" : "by the end of the trace"
            onAnomaly(Anomaly(kind: .openNeverAnswered, obj: obj, timestamp: open.issued,
                              detail: "open fd=\(open.fd.map(String.init) ?? "-"): no copen \(by)"))
            onClosed(ClosedRequest(kind: .open, join: .none, rangeWritten: false, obj: obj, msgID: open.markerMsg, pid: open.pid,
                                   taskName: open.name, objectName: state.nameIndex, offset: nil, length: nil,
                                   issued: open.issued, completed: nil))
        }
        for r in state.reads {
            let released = state.lifetime.lastFdRelease.map { $0 > r.issued } ?? false
            onAnomaly(Anomaly(kind: .readNeverCompleted, obj: obj, timestamp: r.issued,
                              detail: "read \(r.start)+\(r.length) by \(taskNames[r.name] ?? "?")-\(r.pid)"
                                + (r.markerMsg.map { " (msg=\($0))" } ?? "")
                                + ": no cread " + (released ? "before the fd was released" : "by the end of the trace")
                                + " (\(r.covered) of \(r.length) bytes written)"))
            onClosed(ClosedRequest(kind: .read, join: .none, rangeWritten: r.isWritten, obj: obj, msgID: r.markerMsg, pid: r.pid,
                                   taskName: r.name, objectName: state.nameIndex, offset: r.start, length: r.length,
                                   issued: r.issued, pickedUp: r.pickedUp, written: r.markerWritten ?? r.lastWrite,
                                   completed: nil))
        }
        state.opens.removeAll()
        state.reads.removeAll()
    }

    /// Calls `body` with each request still waiting for its answer, by object (the oldest first
    /// within an object). For `monitor`'s in-flight gauges and hung-request log.
    public func forEachOutstanding(_ body: (OutstandingRequest) -> Void) {
        for state in states {
            for open in state.opens {
                body(OutstandingRequest(id: open.serial, kind: .open, obj: state.lifetime.obj, blob: state.lifetime.name,
                                        offset: nil, length: nil, issued: open.issued, pid: open.pid))
            }
            for r in state.reads {
                body(OutstandingRequest(id: r.serial, kind: .read, obj: state.lifetime.obj, blob: state.lifetime.name,
                                        offset: r.start, length: r.length, issued: r.issued, pid: r.pid))
            }
        }
    }

    /// The blob the object is known by now (nil: not yet, or never).
    public func name(of obj: UInt32) -> BlobName? {
        existingSlot(obj).map { states[$0].lifetime.name } ?? nil
    }

    /// Objects tracked (one entry per object seen until `forgetReleased`).
    public var objectCount: Int { states.count }

    /// Forgets the objects whose fd was released and that wait for nothing, so a correlator that
    /// never finishes (`monitor`) holds the live objects, not every object it ever saw. Their
    /// lifetimes are gone from `finish`'s result.
    public func forgetReleased() {
        let keep = states.filter { state in
            guard let released = state.lifetime.lastFdRelease else { return true }
            return !state.reads.isEmpty || !state.opens.isEmpty || (state.lifetime.lastClose ?? 0) > released
        }
        guard keep.count < states.count else { return }
        states = keep
        slotByObj = []
        sparseSlots = [:]
        for (index, state) in states.enumerated() { setSlot(state.lifetime.obj, index) }
        let live = Set(states.map(\.lifetime.obj))
        objByObjectID = objByObjectID.filter { live.contains($0) }
    }
}

/// A request the correlator still waits an answer for (`Correlator.forEachOutstanding`).
public struct OutstandingRequest: Sendable, Equatable {
    /// Unique among the correlator's requests.
    public var id: UInt64
    public var kind: RequestRecord.Kind
    public var obj: UInt32
    public var blob: BlobName?
    public var offset: Int64?
    public var length: UInt64?
    /// Trace time of the OPEN/READ record.
    public var issued: UInt64
    /// READ: the reader; OPEN: the task that caused it.
    public var pid: Int32
}

/// A few daemon threads' values: four kept inline (a daemon has a handful of workers), the rest
/// in a dictionary — no allocation or hashing in the common case. Its accessors are inlined
/// (each is a call a READ).
struct ThreadSlots {
    private var p0: Int32 = .min, p1: Int32 = .min, p2: Int32 = .min, p3: Int32 = .min  // .min: free
    private var v0: UInt64 = 0, v1: UInt64 = 0, v2: UInt64 = 0, v3: UInt64 = 0
    private var more: [Int32: UInt64] = [:]

    @inline(__always)
    func get(_ pid: Int32) -> UInt64? {
        if p0 == pid { return v0 }
        if p1 == pid { return v1 }
        if p2 == pid { return v2 }
        if p3 == pid { return v3 }
        return more.isEmpty ? nil : more[pid]
    }

    @inline(__always)
    mutating func set(_ pid: Int32, _ value: UInt64) {
        if !more.isEmpty, more[pid] != nil { more[pid] = value; return }
        if p0 == pid { v0 = value } else if p1 == pid { v1 = value }
        else if p2 == pid { v2 = value } else if p3 == pid { v3 = value }
        else if p0 == .min { (p0, v0) = (pid, value) } else if p1 == .min { (p1, v1) = (pid, value) }
        else if p2 == .min { (p2, v2) = (pid, value) } else if p3 == .min { (p3, v3) = (pid, value) }
        else { more[pid] = value }
    }

    @inline(__always)
    @discardableResult
    mutating func remove(_ pid: Int32) -> UInt64? {
        if p0 == pid { p0 = .min; return v0 }
        if p1 == pid { p1 = .min; return v1 }
        if p2 == pid { p2 = .min; return v2 }
        if p3 == pid { p3 = .min; return v3 }
        return more.isEmpty ? nil : more.removeValue(forKey: pid)
    }
}

/// Trace times as the reports print them.
public enum TimeText {
    /// Nanoseconds as seconds with microsecond precision, e.g. `4.409061`.
    public static func seconds(_ ns: UInt64) -> String {
        String(ns / 1_000_000_000) + "." + String(ns % 1_000_000_000 / 1000).leftPadded(to: 6, with: "0")
    }
}

/// The answered READs waiting for their reader to resume, one per reader pid. Each pid keeps its
/// place in an array, found through a pid table: a table of the requests themselves moved each
/// request at every probe and swap, and freeing a pid's place at each resumption cost a removal
/// and an insertion in the table per READ. Places of pids with nothing parked are dropped when
/// they outnumber the parked ones (many short-lived readers).
struct ParkedRequests {
    private var slotByPid = PidTable<Int32>()
    /// By place; `occupied` says which hold a request (an optional request was copied whole to
    /// be tested, taken and put back).
    private var requests: [ClosedRequest] = []
    private var occupied: [Bool] = []
    private var parked = 0

    var isEmpty: Bool { parked == 0 }

    /// Every request parked, in no order.
    var all: [ClosedRequest] { requests.indices.filter { occupied[$0] }.map { requests[$0] } }

    /// Parks `request` for its pid; returns the one parked there before, if any.
    mutating func park(_ request: ClosedRequest) -> ClosedRequest? {
        guard let place = slotByPid[request.pid].map(Int.init) else {
            if slotByPid.count >= 4096, slotByPid.count > 4 * parked { dropEmptyPlaces() }
            slotByPid.updateValue(Int32(requests.count), forKey: request.pid)
            requests.append(request)
            occupied.append(true)
            parked += 1
            return nil
        }
        var displaced: ClosedRequest?
        if occupied[place] {
            displaced = requests[place]
        } else {
            occupied[place] = true
            parked += 1
        }
        requests[place] = request
        return displaced
    }

    /// Takes `pid`'s request (when `condition` holds for it) and gives it to `body`. Inlined:
    /// a READ's reader is looked up here (its answered READ, if any, closes).
    @inline(__always)
    mutating func unpark(_ pid: Int32, if condition: (ClosedRequest) -> Bool = { _ in true }, _ body: (ClosedRequest) -> Void) {
        guard let place = slotByPid[pid].map(Int.init), occupied[place], condition(requests[place]) else { return }
        occupied[place] = false
        parked -= 1
        body(requests[place])
    }

    mutating func removeAll() {
        self = ParkedRequests()
    }

    /// Keeps the places of the pids with a request parked.
    private mutating func dropEmptyPlaces() {
        let kept = all
        self = ParkedRequests()
        for request in kept { _ = park(request) }
    }
}

/// The names of tasks (`comm`), each kept once: requests in flight hold an index, a plain value.
/// Index 0 is "unknown" (nil). Also the name of each pid, as last given.
struct TaskNames {
    typealias Index = Int32
    private var names: [String?] = [nil]
    private var indexByName: [String: Index] = [:]
    private var indexByPid = PidTable<Index>()

    subscript(index: Index) -> String? { names[Int(index)] }

    /// The index of the name `pid` was last given (0 when none).
    @inline(__always)
    func index(of pid: Int32) -> Index { indexByPid[pid] ?? 0 }

    /// Gives `pid` the name `comm`; returns its index.
    @inline(__always)
    mutating func name(_ pid: Int32, _ comm: String?) -> Index {
        // The common case, a task named as before, costs a table lookup and a comparison.
        if let known = indexByPid[pid], names[Int(known)] == comm { return known }
        let index = intern(comm)
        indexByPid.updateValue(index, forKey: pid)
        return index
    }

    private mutating func intern(_ comm: String?) -> Index {
        guard let comm else { return 0 }
        if let known = indexByName[comm] { return known }
        let index = Index(names.count)
        names.append(comm)
        indexByName[comm] = index
        return index
    }
}
