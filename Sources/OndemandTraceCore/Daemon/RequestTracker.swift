/// What the daemon has in hand: the requests it picked up and has not answered, and what each
/// worker thread is doing. The policy behind `daemon --log-requests` (a line per stage of each
/// request), the SIGUSR1 dump (the requests in flight, their age and the thread holding each) and
/// `--warn-after` (a request in flight too long, logged once). No I/O and no clock: callers pass
/// `now` (CLOCK_MONOTONIC nanoseconds) and log the lines returned. Line formats:
/// docs/daemon-log.md.
public struct RequestTracker: Sendable {
    public enum Kind: String, Sendable { case open = "OPEN", read = "READ", close = "CLOSE" }

    public enum Stage: String, Sendable {
        /// Read from /dev/cachefiles, being served.
        case pickedUp = "picked-up"
        /// READ: the data is in the anonymous fd, the completion not yet sent.
        case written
        /// Left unanswered on purpose or by necessity (a never-answer fault, no open object):
        /// no thread holds it, the kernel still waits.
        case abandoned
    }

    public struct Request: Sendable, Equatable {
        public var kind: Kind
        public var msgID: UInt32
        public var objectID: UInt32
        /// READ: the requested range.
        public var offset: UInt64?
        public var length: UInt64?
        /// OPEN: the anonymous fd.
        public var fd: UInt32?
        public var pickedUpAt: UInt64
        public var stage: Stage = .pickedUp
        /// The worker serving it (nil once abandoned) and that thread's kernel id.
        public var worker: Int?
        public var tid: Int32?
        public var warned = false
        public var reason: String?

        public init(kind: Kind, msgID: UInt32, objectID: UInt32, offset: UInt64? = nil, length: UInt64? = nil,
                    fd: UInt32? = nil, pickedUpAt: UInt64, worker: Int? = nil, tid: Int32? = nil) {
            self.kind = kind; self.msgID = msgID; self.objectID = objectID
            self.offset = offset; self.length = length; self.fd = fd
            self.pickedUpAt = pickedUpAt; self.worker = worker; self.tid = tid
        }

        /// `READ msg=5 oid=2 off=0 len=131072`, `OPEN msg=1 oid=1 fd=7`, `CLOSE msg=9 oid=1`.
        public var identity: String {
            var s = "\(kind.rawValue) msg=\(msgID) oid=\(objectID)"
            if let fd { s += " fd=\(fd)" }
            if let offset { s += " off=\(offset)" }
            if let length { s += " len=\(length)" }
            return s
        }

        var holder: String {
            guard let worker else { return "worker=- tid=-" }
            return "worker=\(worker) tid=\(tid.map(String.init) ?? "-")"
        }
    }

    public enum WorkerState: Sendable, Equatable {
        case starting
        /// Waiting for its turn to poll the devnode (another worker polls).
        case waiting
        /// In poll()/read() on the devnode: the one worker that takes the next request.
        case polling
        case serving(msgID: UInt32)
        case stopped

        var text: String {
            switch self {
            case .starting: "starting"
            case .waiting: "waiting"
            case .polling: "polling"
            case .serving(let msg): "serving msg=\(msg)"
            case .stopped: "stopped"
            }
        }
    }

    public struct Worker: Sendable, Equatable {
        public var tid: Int32
        public var state: WorkerState
        public var since: UInt64
    }

    /// Log a line at every stage of every request (`--log-requests`); without it only warnings
    /// and what follows them are logged.
    public var logsEveryStage: Bool
    public private(set) var inFlight: [UInt32: Request] = [:]
    public private(set) var workers: [Int: Worker] = [:]
    public private(set) var pickedUpCount = 0
    public private(set) var doneCount = 0
    public private(set) var abandonedCount = 0

    public init(logsEveryStage: Bool) { self.logsEveryStage = logsEveryStage }

    // MARK: workers

    public mutating func workerStarted(_ index: Int, tid: Int32, now: UInt64) {
        workers[index] = Worker(tid: tid, state: .starting, since: now)
    }

    public mutating func worker(_ index: Int, is state: WorkerState, now: UInt64) {
        guard var w = workers[index], w.state != state else { return }
        w.state = state
        w.since = now
        workers[index] = w
    }

    // MARK: requests

    /// The worker read `request` from the devnode. A msg_id still in flight as abandoned is
    /// replaced (the kernel re-sent it after a `restore`).
    public mutating func pickedUp(_ request: Request) -> [String] {
        var r = request
        r.stage = .pickedUp
        inFlight[r.msgID] = r
        pickedUpCount += 1
        if let w = r.worker { worker(w, is: .serving(msgID: r.msgID), now: r.pickedUpAt) }
        return logsEveryStage ? ["request picked-up \(r.identity) \(r.holder)"] : []
    }

    /// READ: `bytes` are in the anonymous fd.
    public mutating func written(msgID: UInt32, bytes: UInt64, now: UInt64) -> [String] {
        guard var r = inFlight[msgID] else { return [] }
        r.stage = .written
        inFlight[msgID] = r
        return logsEveryStage || r.warned
            ? ["request written \(r.identity) \(r.holder) bytes=\(bytes) elapsed_us=\(Self.micros(now, since: r.pickedUpAt))"] : []
    }

    /// Answered (copen, READ_COMPLETE) or, for CLOSE, handled; `result` as the markers' `res=`.
    /// A request that was reported slow is logged done even without `--log-requests`.
    public mutating func done(msgID: UInt32, result: Int64, now: UInt64) -> [String] {
        guard let r = inFlight.removeValue(forKey: msgID) else { return [] }
        doneCount += 1
        if let w = r.worker { worker(w, is: .waiting, now: now) }
        return logsEveryStage || r.warned
            ? ["request done \(r.identity) \(r.holder) result=\(result) elapsed_us=\(Self.micros(now, since: r.pickedUpAt))"] : []
    }

    /// Left unanswered: stays in flight with no holder (always logged: the kernel still waits).
    public mutating func abandoned(msgID: UInt32, reason: String, now: UInt64) -> [String] {
        guard var r = inFlight[msgID] else { return [] }
        let line = "request abandoned \(r.identity) \(r.holder) elapsed_us=\(Self.micros(now, since: r.pickedUpAt)) reason=\(reason)"
        if let w = r.worker { worker(w, is: .waiting, now: now) }
        r.stage = .abandoned
        r.worker = nil
        r.tid = nil
        r.reason = reason
        inFlight[msgID] = r
        abandonedCount += 1
        return [line]
    }

    /// `--warn-after`: one line for each request in flight for longer than `threshold` that was
    /// not reported yet (oldest first); each request is reported once.
    public mutating func overdue(threshold: UInt64, now: UInt64) -> [String] {
        let late = inFlight.values
            .filter { !$0.warned && now >= $0.pickedUpAt && now - $0.pickedUpAt > threshold }
            .sorted { ($0.pickedUpAt, $0.msgID) < ($1.pickedUpAt, $1.msgID) }
        return late.map { r in
            inFlight[r.msgID]!.warned = true
            return "request slow \(r.identity) stage=\(r.stage.rawValue) \(r.holder) age_us=\(Self.micros(now, since: r.pickedUpAt)) limit_us=\(threshold / 1000)"
                + (r.reason.map { " reason=\($0)" } ?? "")
        }
    }

    /// The SIGUSR1 dump: a header, the requests in flight (oldest first), each worker, an end
    /// line. `devnodePending`: whether poll() on the devnode reports a request not yet picked up
    /// (nil when unknown).
    public func dump(now: UInt64, devnodePending: Bool?) -> [String] {
        let pending = devnodePending.map { $0 ? "readable" : "idle" } ?? "unknown"
        var lines = ["in-flight: \(inFlight.count) request(s), \(workers.count) worker(s), picked up \(pickedUpCount), done \(doneCount), abandoned \(abandonedCount), devnode \(pending)"]
        for r in inFlight.values.sorted(by: { ($0.pickedUpAt, $0.msgID) < ($1.pickedUpAt, $1.msgID) }) {
            lines.append("in-flight \(r.identity) stage=\(r.stage.rawValue) age_us=\(Self.micros(now, since: r.pickedUpAt)) \(r.holder)"
                         + (r.reason.map { " reason=\($0)" } ?? ""))
        }
        for (index, w) in workers.sorted(by: { $0.key < $1.key }) {
            lines.append("in-flight worker=\(index) tid=\(w.tid) \(w.state.text) for_us=\(Self.micros(now, since: w.since))")
        }
        lines.append("in-flight: end")
        return lines
    }

    /// How often to look for overdue requests: a quarter of the limit, between 10 ms and 1 s, so
    /// a warning comes at most 25% (or 1 s) late.
    public static func checkInterval(forThreshold threshold: UInt64) -> UInt64 {
        min(max(threshold / 4, 10_000_000), 1_000_000_000)
    }

    static func micros(_ now: UInt64, since start: UInt64) -> UInt64 { now >= start ? (now - start) / 1000 : 0 }
}
