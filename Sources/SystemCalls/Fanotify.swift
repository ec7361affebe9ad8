import Glibc
import Synchronization

/// A fanotify group for pre-content events: the kernel holds a read of a marked file's missing
/// range until the group answers (the fanotify daemon's). Made with `FAN_CLASS_PRE_CONTENT`, the
/// reader's thread id in each event (`FAN_REPORT_TID`, as the trace's records have it), reads
/// that do not block, close-on-exec; its events' fds open for reading and writing. The events'
/// bytes are the caller's to parse. Closed once, by `close()` or with the object: closing it
/// answers what is still pending (the kernel allows it).
public final class FanotifyGroup: Sendable {
    public let fd: Int32
    private let closed = Atomic<Bool>(false)

    // linux/fanotify.h's values (the header is not in Swift's Glibc module).
    private static let classPreContent: UInt32 = 0x08, cloexec: UInt32 = 0x01, nonBlocking: UInt32 = 0x02
    private static let reportTID: UInt32 = 0x100
    private static let markAdd: UInt32 = 0x01

    /// Fails with EPERM without CAP_SYS_ADMIN, EINVAL on a kernel without permission events.
    public init() throws(SystemError) {
        let flags = Self.classPreContent | Self.cloexec | Self.nonBlocking | Self.reportTID
        let fd = Self.fanotifyInit?(flags, UInt32(O_RDWR)) ?? -1
        guard fd >= 0 else {
            throw SystemError(path: "fanotify_init(FAN_CLASS_PRE_CONTENT)", action: "cannot create",
                              errno: Self.fanotifyInit == nil ? ENOSYS : errno)
        }
        self.fd = fd
    }

    deinit { close() }

    /// Marks the file at `path` for the events in `mask` (`FAN_PRE_ACCESS`: the kernel's value,
    /// which the caller knows); EINVAL or EOPNOTSUPP on a kernel or filesystem without them.
    public func mark(_ path: String, for mask: UInt64) throws(SystemError) {
        guard Self.fanotifyMark?(fd, Self.markAdd, mask, AT_FDCWD, path) == 0 else {
            throw SystemError(path: path, action: "cannot mark for fanotify events", errno: Self.fanotifyMark == nil ? ENOSYS : errno)
        }
    }

    /// Reads the events queued, whole, into `buffer`; 0 when none is (another thread took them).
    public func readEvents(into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Int {
        let n = retryingInterrupted { read(fd, buffer.baseAddress, buffer.count) }
        if n < 0, errno == EAGAIN { return 0 }
        guard n >= 0 else { throw SystemError(path: "the fanotify group", action: "cannot read its events", errno: errno) }
        return n
    }

    /// Answers the permission event whose fd is `eventFD` (`struct fanotify_response`:
    /// `FAN_ALLOW`, or `FAN_DENY` with an errno in its top byte); the event's fd stays open.
    public func respond(to eventFD: Int32, with response: UInt32) throws(SystemError) {
        var answer = (eventFD, response)
        let n = withUnsafeBytes(of: &answer) { raw in retryingInterrupted { write(fd, raw.baseAddress, raw.count) } }
        guard n == MemoryLayout.size(ofValue: answer) else {
            throw SystemError(path: "the fanotify group", action: "cannot answer", errno: n < 0 ? errno : EIO)
        }
    }

    /// Closes the group (once, whoever calls first).
    public func close() {
        if !closed.exchange(true, ordering: .acquiringAndReleasing) { _ = Glibc.close(fd) }
    }

    /// glibc's `fanotify_init` and `fanotify_mark` (sys/fanotify.h is not in Swift's Glibc module).
    private typealias InitCall = @convention(c) (UInt32, UInt32) -> Int32
    private typealias MarkCall = @convention(c) (Int32, UInt32, UInt64, Int32, UnsafePointer<CChar>) -> Int32
    private static let fanotifyInit: InitCall? = glibcFunction("fanotify_init", as: InitCall.self)
    private static let fanotifyMark: MarkCall? = glibcFunction("fanotify_mark", as: MarkCall.self)
}
