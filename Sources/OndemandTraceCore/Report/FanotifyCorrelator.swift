/// Ties the fanotify path's records into requests, exactly, in trace order.
///
/// A reader is in one pre-content hook at a time, and every reader-side record of a request
/// comes from the reader's own thread between the hook's entry and its return: the range
/// (`fan_pre_content`), the file (`fsnotify:fsnotify`, mask FS_PRE_ACCESS) and the kernel event's
/// address (`fan_insert`). The listener's records carry that address: picked up
/// (`fan_pickup`), answered (`fan_answer`); the address is free for reuse after `fan_destroy`.
/// So a request is keyed by its reader's pid until it has an address, and by the address after:
/// no guess, no order assumed between readers.
///
/// A hook that returns without queuing an event (no listener wanted the range) is no request, and
/// so is an event the kernel destroyed unread and unanswered before the hook returned 0: it was
/// dropped (`fsnotify_insert_event` refuses events while the group shuts down, after `fan_insert`
/// fired), and the reader went on with the range unfilled (`eventDropped`). A reader interrupted
/// before the listener read its event returns an error instead: a request it gave up.
/// Answers to events queued before the trace began are left out (their requests are not in it).
///
/// Our daemon's markers (`FanotifyMarker`) name the image files (bootstrap and blobs: the objects)
/// and announce the faults it injected.
public final class FanotifyCorrelator {
    /// One request in flight: a reader inside the hook.
    struct InFlight {
        var serial: UInt64
        var pid: Int32
        var taskName: TaskNames.Index
        var entered: UInt64
        var pos: Int64?
        var count: UInt64?
        /// Index into `objects` (nil: no fsnotify record named the file).
        var file: Int?
        var event: UInt64?
        var pickedUp: UInt64?
        var answered: UInt64?
        var response: UInt32?
        /// When the kernel destroyed the event unread and unanswered (`fan_destroy`).
        var destroyedUnread: UInt64?

        /// The range asked for, `pos+count` ("?" for a field the record lacks).
        var range: String { "\(pos.map(String.init) ?? "?")+\(count.map(String.init) ?? "?")" }
    }

    /// A file the requests were for: the image file, by device and inode.
    struct File: Hashable {
        var dev: UInt64?
        var ino: UInt64?
    }

    private var inHook: [Int32: InFlight] = [:]
    private var serial: UInt64 = 0
    /// The reader pid of each queued event's request, by the event's address.
    private var readerByEvent: [UInt64: Int32] = [:]
    private var fileIndex: [File: Int] = [:]
    /// Names the daemon's `file` markers gave, by file.
    private var givenNames: [File: BlobName] = [:]
    /// The image files in order first seen, `obj` = index + 1 (one of them, unnamed, for the
    /// requests no fsnotify record named).
    private var objects: [Correlator.ObjectLifetime] = []
    private var unnamedObject: Int?
    private var objectNameIndexes: [Int32] = []
    private unowned let names: Correlator
    private let onClosed: (ClosedRequest) -> Void
    private let onAnomaly: (Anomaly) -> Void

    /// Records of the kprobe events (not the fsnotify tracepoint, which any trace may hold).
    public private(set) var probeRecords = 0
    public private(set) var firstTimestamp: UInt64?
    public private(set) var lastTimestamp: UInt64?
    /// Our daemon's markers read (`FanotifyMarker`).
    public private(set) var markersSeen = 0
    /// Injected faults the daemon's markers announced, by name.
    public private(set) var faults: [String: Int] = [:]

    /// `names`: the cachefiles correlator whose task and object name tables the requests'
    /// indexes point into (one `RequestRecord` resolution for both paths).
    init(names: Correlator, onClosed: @escaping (ClosedRequest) -> Void, onAnomaly: @escaping (Anomaly) -> Void) {
        self.names = names
        self.onClosed = onClosed
        self.onAnomaly = onAnomaly
    }

    /// `onRequest` receives each closed request with its names (`Correlator.record(_:)`).
    public convenience init(names: Correlator, onRequest: @escaping (RequestRecord) -> Void,
                            onAnomaly: @escaping (Anomaly) -> Void) {
        self.init(names: names, onClosed: { [unowned names] in onRequest(names.record($0)) }, onAnomaly: onAnomaly)
    }

    /// Takes one record; false when it is not one of the fanotify path's (a probe, the fsnotify
    /// tracepoint, or one of our fanotify daemon's markers).
    @discardableResult
    public func consume(_ event: TraceEvent) -> Bool {
        switch event.body {
        case .generic(let g):
            guard let e = FanotifyEvent(g) else { return false }
            consume(e, pid: event.pid, comm: event.comm, timestamp: event.timestamp)
        case .marker(let m):
            guard FanotifyMarker.isOurs(m.text) else { return false }
            if let marker = FanotifyMarker(text: m.text) { consume(marker) }
        default:
            return false
        }
        return true
    }

    /// A marker of our daemon: a file's name (for the requests from here on, and the object's),
    /// or an injected fault.
    public func consume(_ marker: FanotifyMarker) {
        markersSeen += 1
        switch marker {
        case let .file(dev, ino, name):
            let f = File(dev: dev, ino: ino)
            givenNames[f] = name
            if let index = fileIndex[f] {  // named after its first request: from here on
                objects[index].name = name
                objectNameIndexes[index] = names.objectNameIndex(name)
            }
        case .fault(_, _, _, _, _, let fault):
            faults[fault, default: 0] += 1
        }
    }

    public func consume(_ e: FanotifyEvent, pid: Int32, comm: String?, timestamp: UInt64) {
        if case .file = e {} else { probeRecords += 1 }
        let t = max(timestamp, lastTimestamp ?? 0)
        if firstTimestamp == nil { firstTimestamp = t }
        lastTimestamp = t
        switch e {
        case let .hookEntered(pos, count):
            // A hook entered again means its last return was lost: hand that request on as it stands.
            if let stale = inHook.removeValue(forKey: pid), stale.event != nil { close(stale, resumed: nil, result: nil) }
            serial += 1
            inHook[pid] = InFlight(serial: serial, pid: pid, taskName: names.taskNameIndex(pid, comm), entered: t, pos: pos, count: count)
        case let .file(dev, ino, mask):
            guard let mask, mask & FanotifyProbe.preAccessMask != 0, var r = inHook[pid], r.event == nil else { return }
            r.file = file(File(dev: dev, ino: ino), at: t)
            inHook[pid] = r
        case .queued(let ev):
            // Only the first event a hook queues is its request (a second group gets its own).
            guard var r = inHook[pid], r.event == nil else { return }
            r.event = ev
            readerByEvent[ev] = pid
            inHook[pid] = r
        case .pickedUp(let ev):
            update(ev) { if $0.pickedUp == nil { $0.pickedUp = t } }
        case let .answered(ev, response):
            guard readerByEvent[ev] != nil else { return }
            update(ev) { r in
                guard r.answered == nil else { return }
                (r.answered, r.response) = (t, response)
            }
        case .destroyed(let ev):
            guard let reader = readerByEvent.removeValue(forKey: ev), var r = inHook[reader], r.event == ev,
                  r.pickedUp == nil, r.answered == nil else { return }
            r.destroyedUnread = t
            inHook[reader] = r
        case .hookReturned(let result):
            guard let r = inHook.removeValue(forKey: pid), let ev = r.event else { return }
            if readerByEvent[ev] == pid { readerByEvent.removeValue(forKey: ev) }
            if let dropped = r.destroyedUnread, (result ?? 0) >= 0 { return drop(r, at: dropped) }
            close(r, resumed: t, result: result)
        }
    }

    private func update(_ ev: UInt64, _ body: (inout InFlight) -> Void) {
        guard let pid = readerByEvent[ev], var r = inHook[pid] else { return }
        body(&r)
        inHook[pid] = r
    }

    private func file(_ f: File, at t: UInt64) -> Int {
        if let known = fileIndex[f] { return known }
        let name = givenNames[f]
            ?? BlobName(volume: f.dev.map { "dev=" + FanotifyMarker.deviceText($0) }, blob: "ino=" + (f.ino.map(String.init) ?? "?"))
        let index = addObject(name, at: t)
        fileIndex[f] = index
        return index
    }

    private func addObject(_ name: BlobName?, at t: UInt64) -> Int {
        var o = Correlator.ObjectLifetime(obj: UInt32(objects.count + 1), firstSeen: t)
        o.name = name
        objects.append(o)
        objectNameIndexes.append(names.objectNameIndex(name))
        return objects.count - 1
    }

    /// An event the kernel dropped: no request (no listener saw it), an anomaly (the reader read the
    /// range as the image file holds it, unfilled).
    private func drop(_ r: InFlight, at t: UInt64) {
        onAnomaly(Anomaly(kind: .eventDropped, obj: r.file.map { UInt32($0 + 1) }, timestamp: t,
                          detail: "range \(r.range) of pid \(r.pid): the kernel dropped the event before a listener "
                            + "read it (its group was going away); the read went on unfilled"))
    }

    /// Hands the request on: answered or not, with the reader's resumption and result.
    private func close(_ r: InFlight, resumed: UInt64?, result: Int32?) {
        let index: Int
        if let file = r.file {
            index = file
        } else {
            index = unnamedObject ?? addObject(nil, at: r.entered)
            unnamedObject = index
        }
        let obj = UInt32(index + 1)
        objects[index].reads += 1
        objects[index].bytesRequested += r.count ?? 0
        if let answered = r.answered {
            objects[index].readsCompleted += 1
            let response = FanotifyResponse(r.response ?? 0)
            if !response.isDenied { objects[index].bytesWritten += r.count ?? 0 }
            if response.isDenied {
                onAnomaly(Anomaly(kind: .denied, obj: obj, timestamp: answered,
                                  detail: "range \(r.range) of pid \(r.pid): \(response)"))
            }
        } else if let resumed {
            onAnomaly(Anomaly(kind: .readerGaveUp, obj: obj, timestamp: resumed,
                              detail: "pid \(r.pid) left the hook for \(r.range) with \(result.map(String.init) ?? "?") before any answer"))
        } else {
            onAnomaly(Anomaly(kind: .neverAnswered, obj: obj, timestamp: r.entered,
                              detail: "range \(r.range) of pid \(r.pid): \(r.pickedUp == nil ? "never read by the listener" : "read by the listener, never answered") by the end of the trace"))
        }
        let allowed = r.answered != nil && !FanotifyResponse(r.response ?? 0).isDenied
        onClosed(ClosedRequest(kind: .read, join: r.answered == nil ? .none : .event, rangeWritten: allowed, obj: obj, msgID: nil,
                               pid: r.pid, taskName: r.taskName, objectName: objectNameIndexes[index], offset: r.pos,
                               length: r.count, issued: r.entered, pickedUp: r.pickedUp, written: nil,
                               completed: r.answered, resumed: resumed))
    }

    /// Each request queued to a listener and not answered yet (a reader blocked in the hook).
    /// Ids have the top bit set: apart from the cachefiles correlator's.
    public func forEachOutstanding(_ body: (OutstandingRequest) -> Void) {
        for r in inHook.values where r.event != nil && r.answered == nil && r.destroyedUnread == nil {
            body(OutstandingRequest(id: 1 << 63 | r.serial, kind: .read, obj: UInt32((r.file ?? unnamedObject ?? 0) + 1),
                                    blob: r.file.map { objects[$0].name } ?? nil, offset: r.pos, length: r.count,
                                    issued: r.entered, pid: r.pid))
        }
    }

    /// Hands on the requests still in flight (readers blocked at the end) and returns the
    /// image files' lifetimes.
    public func finish() -> [Correlator.ObjectLifetime] {
        for r in inHook.values.sorted(by: { ($0.entered, $0.pid) < ($1.entered, $1.pid) }) where r.event != nil {
            if let dropped = r.destroyedUnread { drop(r, at: dropped) } else { close(r, resumed: nil, result: nil) }
        }
        inHook.removeAll()
        readerByEvent.removeAll()
        return objects
    }
}
