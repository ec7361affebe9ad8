#if canImport(Glibc)
import Glibc
#endif

/// `pthread_create` refused (EAGAIN: too many threads, or no memory for one).
public struct ThreadStartError: Error, CustomStringConvertible, Sendable {
    public var errno: Int32
    public var description: String { "cannot start a thread: \(describeErrno(errno))" }
}

/// Starts a POSIX thread that runs `work` (kept alive until it returns), or throws when none
/// starts (the caller then does the work itself, or logs). A caller that joins the thread
/// (`pthread_join`) before returning may pass a closure made with `withoutActuallyEscaping`.
public func startThread(_ work: @escaping () -> Void) throws(ThreadStartError) -> pthread_t {
    let context = Unmanaged.passRetained(ThreadWork(work)).toOpaque()
    var thread = pthread_t()
    let rc = pthread_create(&thread, nil, { raw in
        Unmanaged<ThreadWork>.fromOpaque(raw!).takeRetainedValue().work()
        return nil
    }, context)
    guard rc == 0 else {
        Unmanaged<ThreadWork>.fromOpaque(context).release()
        throw ThreadStartError(errno: rc)
    }
    return thread
}

private final class ThreadWork: @unchecked Sendable {
    let work: () -> Void
    init(_ work: @escaping () -> Void) { self.work = work }
}
