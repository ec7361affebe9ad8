/// Something wrong the correlator found, at a time of the trace.
public struct Anomaly: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable, Comparable {
        /// A READ with no cread by the end of the trace (daemon never answered, or died).
        case readNeverCompleted = "read_never_completed"
        /// An OPEN with no copen (a failed `copen <id>,-errno` leaves no record).
        case openNeverAnswered = "open_never_answered"
        /// An OPEN the daemon answered with an error (`copen <id>,-errno`, told by its marker):
        /// answered, and the mount or the open failed with that errno.
        case openFailed = "open_failed"
        /// A cread on an object with no outstanding READ.
        case creadWithoutRead = "cread_without_read"
        /// A cread completing a READ whose range was not (fully) written: the reader sees EIO.
        case creadRangeNeverWritten = "cread_range_never_written"
        /// The daemon closed the object's fd while READs on it were outstanding.
        case fdReleaseWithOutstandingReads = "fd_release_with_outstanding_reads"
        /// The kernel sent CLOSE but the daemon never closed the object's fd.
        case closedWithoutFdRelease = "closed_without_fd_release"
        /// A copen on an object with no outstanding OPEN.
        case copenWithoutOpen = "copen_without_open"
        /// The ring buffer dropped events: correlation around them may be wrong.
        case lostEvents = "lost_events"
        /// A `cachefiles_io_error` record.
        case ioError = "io_error"
        /// A `cachefiles_vfs_error` record.
        case vfsError = "vfs_error"
        /// A kernel-filled id (mid/oid of open/read/close, 5.19-6.7) contradicts the correlation.
        case idMismatch = "id_mismatch"
        /// A record older than the one before it: the trace's clock is not one order across CPUs.
        case timeWentBackwards = "time_went_backwards"
        /// fanotify: a pre-content event the listener did not answer by the end of the trace.
        case neverAnswered = "never_answered"
        /// fanotify: the listener answered FAN_DENY (the reader got an errno).
        case denied = "denied"
        /// fanotify: the reader left the hook before any answer (killed, interrupted).
        case readerGaveUp = "reader_gave_up"
        /// fanotify: the kernel dropped a pre-content event before any listener read it (its group
        /// was shutting down) and let the read go on with the range unfilled. Not a request.
        case eventDropped = "event_dropped"

        /// The kinds a backend can report (each backend's JSON lists its own).
        public static func kinds(of backend: Backend) -> [Kind] {
            switch backend {
            case .cachefiles: return allCases.filter { !fanotifyOnly.contains($0) }
            case .fanotify: return [.neverAnswered, .denied, .readerGaveUp, .eventDropped, .lostEvents, .timeWentBackwards]
            }
        }
        static let fanotifyOnly: Set<Kind> = [.neverAnswered, .denied, .readerGaveUp, .eventDropped]

        public static func < (a: Kind, b: Kind) -> Bool {
            allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
        }
    }

    public var kind: Kind
    /// The cachefiles object's debug id, when the anomaly concerns one object.
    public var obj: UInt32?
    /// Trace time in nanoseconds.
    public var timestamp: UInt64
    public var detail: String

    public init(kind: Kind, obj: UInt32?, timestamp: UInt64, detail: String) {
        (self.kind, self.obj, self.timestamp, self.detail) = (kind, obj, timestamp, detail)
    }
}

/// One READ or OPEN request as the correlator closed it: answered, or still open at the end.
public struct RequestRecord: RequestTimes, Sendable, Equatable {
    public enum Kind: String, Sendable { case read, open }

    /// How the answer was tied to the request.
    public enum Join: String, Sendable, CaseIterable {
        /// The daemon's markers named the request (exact).
        case marker
        /// The same daemon thread wrote the range and issued the cread.
        case thread
        /// The oldest written (or, failing that, outstanding) request of the object.
        case arrival
        /// OPEN → copen: the oldest outstanding OPEN of the object.
        case open
        /// Not answered.
        case none
        /// fanotify: the kernel event's address, from the reader's hook to the listener's answer (exact).
        case event

        /// The position in `allCases` (a count per join, in an array).
        var index: Int {
            switch self {
            case .marker: return 0
            case .thread: return 1
            case .arrival: return 2
            case .open: return 3
            case .none: return 4
            case .event: return 5
            }
        }
    }

    public var kind: Kind
    public var obj: UInt32
    /// The real msg_id: from the cread/copen that answered it, or the daemon's marker.
    public var msgID: UInt32?
    /// The task that caused the request (READ: the reader; OPEN: the daemon thread that read it).
    public var pid: Int32
    public var comm: String?
    public var offset: Int64?
    public var length: UInt64?
    /// Trace times in nanoseconds.
    public var issued: UInt64
    /// Marker `pickup`: the daemon read the request.
    public var pickedUp: UInt64?
    /// Marker `written`, or else the last fd_write covering the range.
    public var written: UInt64?
    /// The cread / copen.
    public var completed: UInt64?
    public var join: Join
    /// READ: the range was fully written before the cread.
    public var rangeWritten: Bool
    /// READ: the reader's next `cachefiles_prep_read` / `cachefiles_read` on the object after the
    /// cread (it woke up and went on); nil when the trace has none.
    public var resumed: UInt64?
    /// The object's name when the request closed (`Correlator.ObjectLifetime.name`).
    public var blob: BlobName?

    public init(kind: Kind, obj: UInt32, msgID: UInt32?, pid: Int32, comm: String?, offset: Int64?, length: UInt64?,
                issued: UInt64, pickedUp: UInt64? = nil, written: UInt64? = nil, completed: UInt64?, join: Join,
                rangeWritten: Bool = false, resumed: UInt64? = nil, blob: BlobName? = nil) {
        (self.kind, self.obj, self.msgID, self.pid, self.comm) = (kind, obj, msgID, pid, comm)
        (self.resumed, self.blob) = (resumed, blob)
        (self.offset, self.length, self.issued, self.pickedUp, self.written) = (offset, length, issued, pickedUp, written)
        (self.completed, self.join, self.rangeWritten) = (completed, join, rangeWritten)
    }

    /// `closed` with the names its indexes stand for.
    init(_ closed: ClosedRequest, comm: String?, blob: BlobName?) {
        self.init(kind: closed.kind, obj: closed.obj, msgID: closed.msgID, pid: closed.pid, comm: comm, offset: closed.offset,
                  length: closed.length, issued: closed.issued, pickedUp: closed.pickedUp, written: closed.written,
                  completed: closed.completed, join: closed.join, rangeWritten: closed.rangeWritten, resumed: closed.resumed,
                  blob: blob)
    }

    public enum Stage: String, Sendable, CaseIterable {
        case queued, served, completed
        case toWrite = "to_write"
        case toCread = "to_cread"
        /// fanotify: the listener read the event → its answer (it fetched and wrote the range).
        case toAnswer = "to_answer"
        case resumed

        var index: Int {
            switch self {
            case .queued: return 0
            case .served: return 1
            case .completed: return 2
            case .toWrite: return 3
            case .toCread: return 4
            case .resumed: return 5
            case .toAnswer: return 6
            }
        }

        public func explanation(for backend: Backend) -> String {
            switch (self, backend) {
            case (.queued, .fanotify): return "hook -> daemon read the event"
            case (.resumed, .fanotify): return "answer -> reader left the hook"
            default: return explanation
            }
        }

        public var explanation: String {
            switch self {
            case .queued: return "read -> daemon pickup (marker)"
            case .served: return "pickup -> data written (marker)"
            case .completed: return "written -> cread (marker)"
            case .toWrite: return "read -> last fd_write"
            case .toCread: return "fd_write -> cread"
            case .resumed: return "cread -> reader resumed"
            case .toAnswer: return "daemon read the event -> answer"
            }
        }
    }
}

/// The times a request's latency and stages are measured between (`RequestRecord`, and
/// `ClosedRequest` on the report's hot path): one definition of each for both.
public protocol RequestTimes {
    var kind: RequestRecord.Kind { get }
    var join: RequestRecord.Join { get }
    var issued: UInt64 { get }
    var pickedUp: UInt64? { get }
    var written: UInt64? { get }
    var completed: UInt64? { get }
    var resumed: UInt64? { get }
}

extension RequestTimes {
    public var isCompleted: Bool { completed != nil }

    /// Request to answer, in nanoseconds.
    public var latency: UInt64? { completed.map { $0 &- issued } }

    /// The wait the reader felt: its READ to its resumption (nil without `resumed`).
    @inline(__always)
    public var stall: UInt64? {
        guard kind == .read, let resumed, resumed >= issued else { return nil }
        return resumed - issued
    }

    /// Where the time went. With markers: queued (request → daemon pickup), served (pickup →
    /// data written), completed (written → cread). Without: to_write (request → last fd_write
    /// covering it) and to_cread (that write → cread). Either way, when the trace shows it,
    /// resumed (cread → the reader's next record on the object).
    public var stages: [(stage: RequestRecord.Stage, nanoseconds: UInt64)] {
        var out: [(stage: RequestRecord.Stage, nanoseconds: UInt64)] = []
        forEachStage { out.append(($0, $1)) }
        return out
    }

    /// The stages without building an array (the report calls this once per request).
    @inline(__always)
    public func forEachStage(_ body: (RequestRecord.Stage, UInt64) -> Void) {
        guard kind == .read, let completed else { return }
        if join == .event {
            // fanotify: hook → the listener's read → its answer → the reader's return.
            if let pickedUp, pickedUp >= issued, completed >= pickedUp {
                body(.queued, pickedUp - issued); body(.toAnswer, completed - pickedUp)
            }
        } else if let pickedUp, let written, pickedUp >= issued, written >= pickedUp, completed >= written {
            body(.queued, pickedUp - issued); body(.served, written - pickedUp); body(.completed, completed - written)
        } else if let written, written >= issued, completed >= written {
            body(.toWrite, written - issued); body(.toCread, completed - written)
        }
        if let resumed, resumed >= completed { body(.resumed, resumed - completed) }
    }
}

/// A request as the correlator closes it, in plain values: `RequestRecord` without its strings.
/// The task's and the object's names are indexes into the correlator's tables
/// (`Correlator.record(_:)` resolves them). Copying one copies bytes; copying a `RequestRecord`
/// went through its strings' value witnesses, several times per READ on `report`'s busiest thread.
/// Its optional fields are stored as values and a bit each (`present`): 80 bytes, not 140, for
/// the copies a READ makes on its way (parked, handed on).
public struct ClosedRequest: RequestTimes, Sendable {
    public var kind: RequestRecord.Kind
    public var join: RequestRecord.Join
    public var rangeWritten: Bool
    private var present: UInt8 = 0
    public var obj: UInt32
    public var pid: Int32
    /// The task's name, in the correlator's `TaskNames`.
    var taskName: Int32
    /// The object's name when the request closed, in the correlator's table of object names.
    var objectName: Int32
    private var msgIDValue: UInt32 = 0
    private var offsetValue: Int64 = 0
    private var lengthValue: UInt64 = 0
    public var issued: UInt64
    private var pickedUpValue: UInt64 = 0, writtenValue: UInt64 = 0, completedValue: UInt64 = 0, resumedValue: UInt64 = 0

    private static let msgIDBit: UInt8 = 1, offsetBit: UInt8 = 2, lengthBit: UInt8 = 4, pickedUpBit: UInt8 = 8
    private static let writtenBit: UInt8 = 16, completedBit: UInt8 = 32, resumedBit: UInt8 = 64

    init(kind: RequestRecord.Kind, join: RequestRecord.Join, rangeWritten: Bool, obj: UInt32, msgID: UInt32?, pid: Int32,
         taskName: Int32, objectName: Int32, offset: Int64?, length: UInt64?, issued: UInt64, pickedUp: UInt64? = nil,
         written: UInt64? = nil, completed: UInt64?, resumed: UInt64? = nil) {
        (self.kind, self.join, self.rangeWritten, self.obj, self.pid) = (kind, join, rangeWritten, obj, pid)
        (self.taskName, self.objectName, self.issued) = (taskName, objectName, issued)
        (self.msgID, self.offset, self.length) = (msgID, offset, length)
        (self.pickedUp, self.written, self.completed, self.resumed) = (pickedUp, written, completed, resumed)
    }

    @inline(__always)
    private func value<T>(_ bit: UInt8, _ stored: T) -> T? { present & bit != 0 ? stored : nil }

    @inline(__always)
    private mutating func mark(_ bit: UInt8, _ isPresent: Bool) {
        present = isPresent ? present | bit : present & ~bit
    }

    public var msgID: UInt32? {
        get { value(Self.msgIDBit, msgIDValue) }
        set { mark(Self.msgIDBit, newValue != nil); msgIDValue = newValue ?? 0 }
    }
    public var offset: Int64? {
        get { value(Self.offsetBit, offsetValue) }
        set { mark(Self.offsetBit, newValue != nil); offsetValue = newValue ?? 0 }
    }
    public var length: UInt64? {
        get { value(Self.lengthBit, lengthValue) }
        set { mark(Self.lengthBit, newValue != nil); lengthValue = newValue ?? 0 }
    }
    public var pickedUp: UInt64? {
        get { value(Self.pickedUpBit, pickedUpValue) }
        set { mark(Self.pickedUpBit, newValue != nil); pickedUpValue = newValue ?? 0 }
    }
    public var written: UInt64? {
        get { value(Self.writtenBit, writtenValue) }
        set { mark(Self.writtenBit, newValue != nil); writtenValue = newValue ?? 0 }
    }
    public var completed: UInt64? {
        get { value(Self.completedBit, completedValue) }
        set { mark(Self.completedBit, newValue != nil); completedValue = newValue ?? 0 }
    }
    public var resumed: UInt64? {
        get { value(Self.resumedBit, resumedValue) }
        set { mark(Self.resumedBit, newValue != nil); resumedValue = newValue ?? 0 }
    }
}

extension ClosedRequest {
    /// `r` without its names (the indexes 0: none).
    init(_ r: RequestRecord) {
        self.init(kind: r.kind, join: r.join, rangeWritten: r.rangeWritten, obj: r.obj, msgID: r.msgID, pid: r.pid,
                  taskName: 0, objectName: 0, offset: r.offset, length: r.length, issued: r.issued, pickedUp: r.pickedUp,
                  written: r.written, completed: r.completed, resumed: r.resumed)
    }
}
