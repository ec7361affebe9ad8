import SystemCalls
import OndemandTraceCore
import Synchronization

/// `/dev/cachefiles`, opened by an on-demand daemon: text commands written to it, one request
/// message per `read()`.
public final class CachefilesDevice: Sendable {
    public let fd: Int32
    public let path: String
    private let owned: Bool
    private let closed = Atomic<Bool>(false)

    /// Opens the devnode. Refuses with a message that says why: not root, no devnode, busy.
    public init(path: String = "/dev/cachefiles") throws(DaemonError) {
        if !ThisProcess.isRoot {
            throw DaemonError("\(path): must run as root (the kernel lets only CAP_SYS_ADMIN open the cachefiles devnode)")
        }
        let device: Descriptor
        do { device = try Descriptor.open(path, .readWrite) } catch {
            let e = error.errno
            switch e {
            case ErrnoCode.ENOENT, ErrnoCode.ENXIO, ErrnoCode.ENODEV:
                throw DaemonError("\(path): no such device: this kernel has no cachefiles (CONFIG_CACHEFILES and CONFIG_CACHEFILES_ONDEMAND), or devtmpfs is not mounted on /dev")
            case ErrnoCode.EBUSY:
                throw DaemonError("\(path): busy: another cachefiles daemon (e.g. cachefilesd or a running ondemand-trace daemon) has it open")
            case ErrnoCode.EPERM, ErrnoCode.EACCES:
                throw DaemonError("\(path): permission denied (needs CAP_SYS_ADMIN)")
            default:
                throw DaemonError("\(path): cannot open: \(describeErrno(e))")
            }
        }
        self.fd = device.fd
        self.path = path
        self.owned = true
    }

    /// Adopts a devnode fd inherited from a previous daemon (failover).
    public init(inheritedFD fd: Int32, path: String = "/dev/cachefiles") throws(DaemonError) {
        guard Descriptor(fd: fd, path: path).isOpen else { throw DaemonError("\(path): inherited fd \(fd) is not open") }
        self.fd = fd
        self.path = path
        self.owned = true
    }

    deinit { close() }

    public var isClosed: Bool { closed.load(ordering: .relaxed) }

    /// Closes the devnode: the kernel unbinds the cache and fails every request still pending
    /// (unless another process holds the devnode too). Once only.
    public func close() {
        if owned, !closed.exchange(true, ordering: .relaxed) { Descriptor(fd: fd, path: path).close() }
    }

    /// Writes one command (`dir /cache`, `bind ondemand`, `copen 3,4096`, `restore`).
    public func command(_ text: String) throws(DaemonError) {
        do { try Descriptor(fd: fd, path: path).write(text) } catch {
            throw DaemonError("\(path): command \"\(text)\" failed: \(describeErrno(error.errno))", errno: error.errno)
        }
    }

    /// Reads one message into `buffer`; 0 when the kernel had none pending (another thread got it).
    public func readMessage(into buffer: UnsafeMutableRawBufferPointer) throws(DaemonError) -> Int {
        do { return try Descriptor(fd: fd, path: path).read(into: buffer) } catch {
            if error.errno == ErrnoCode.EAGAIN { return 0 }
            throw DaemonError("\(path): read failed: \(describeErrno(error.errno))", errno: error.errno)
        }
    }
}

public struct DaemonError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public var errno: Int32?
    public init(_ description: String, errno: Int32? = nil) {
        self.description = description
        self.errno = errno
    }
}

