import Glibc
import OndemandTraceCore

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

/// `ENOENT (No such file or directory)`: the name a kernel developer greps for, and the text.
public func describeErrno(_ e: Int32) -> String {
    ErrnoName.describe(e) { String(cString: strerror($0)) }
}

/// Calls `body` again while it fails with EINTR: the one place interrupted calls are retried.
/// For calls that return a negative value on failure and set errno (read, write, poll, waitpid…).
@inlinable
public func retryingInterrupted<T: SignedInteger>(_ body: () -> T) -> T {
    while true {
        let result = body()
        if result >= 0 || errno != EINTR { return result }
    }
}
