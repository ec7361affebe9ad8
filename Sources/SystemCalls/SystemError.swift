import Glibc

/// A failed system call as a value: what was done to which path, and the errno.
public struct SystemError: Error, CustomStringConvertible, Sendable {
    public var path: String
    /// What was attempted, as the message says it: "cannot read", "cannot list".
    public var action: String
    public var errno: Int32

    public init(path: String, action: String, errno: Int32) {
        self.path = path
        self.action = action
        self.errno = errno
    }

    public var description: String { "\(path): \(action): \(describeErrno(errno))" }
}

/// `ENOENT (No such file or directory)`: the name a kernel developer greps for, and the text
/// (glibc's `strerrorname_np` and `strerror`); `errno N (text)` for a number without a name.
public func describeErrno(_ e: Int32) -> String {
    let message = String(cString: strerror(e))
    guard let name = errnoName?(e) else { return "errno \(e) (\(message))" }
    return "\(String(cString: name)) (\(message))"
}

private typealias ErrnoNameFunction = @convention(c) (Int32) -> UnsafePointer<CChar>?
/// glibc's `strerrorname_np` (2.32+; not in Swift's Glibc module): nil for a number without a name.
private let errnoName: ErrnoNameFunction? = glibcFunction("strerrorname_np", as: ErrnoNameFunction.self)

/// Calls `body` again while it fails with EINTR: the one place interrupted calls are retried.
/// For calls that return a negative value on failure and set errno (read, write, poll, waitpid…).
@inlinable
public func retryingInterrupted<T: SignedInteger>(_ body: () -> T) -> T {
    while true {
        let result = body()
        if result >= 0 || errno != EINTR { return result }
    }
}

/// The errno values callers tell apart, under their C names, so they need not import the C library.
public enum ErrnoCode {
    public static let EPERM = Glibc.EPERM
    public static let ENOENT = Glibc.ENOENT
    public static let ESRCH = Glibc.ESRCH
    public static let EIO = Glibc.EIO
    public static let ENXIO = Glibc.ENXIO
    public static let EAGAIN = Glibc.EAGAIN
    public static let EACCES = Glibc.EACCES
    public static let EBUSY = Glibc.EBUSY
    public static let EEXIST = Glibc.EEXIST
    public static let ENODEV = Glibc.ENODEV
    public static let EINVAL = Glibc.EINVAL
    public static let ENOSPC = Glibc.ENOSPC
    public static let EROFS = Glibc.EROFS
    public static let EPIPE = Glibc.EPIPE
    public static let EDQUOT = Glibc.EDQUOT
    public static let EOPNOTSUPP = Glibc.EOPNOTSUPP
    public static let ENOBUFS = Glibc.ENOBUFS
}

/// The errno the last failed call left in this thread, for the C libraries' calls (libtracefs,
/// libtracecmd), which report through it; set to 0 before a call that may leave it unset.
public var currentErrno: Int32 {
    get { errno }
    set { errno = newValue }
}

/// Frees what a C library returned from malloc (libtracefs's strings and lists of them).
public func freeMallocated(_ pointer: UnsafeMutableRawPointer?) {
    free(pointer)
}
