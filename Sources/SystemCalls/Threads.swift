#if canImport(Glibc)
import Glibc
#endif

/// Starts a POSIX thread that runs `work` (kept alive until it returns); nil when no thread could
/// be started, for the caller to do the work itself. The caller joins it (`pthread_join`), so a
/// closure made with `withoutActuallyEscaping` may be passed.
public func startThread(_ work: @escaping () -> Void) -> pthread_t? {
    let context = Unmanaged.passRetained(ThreadWork(work)).toOpaque()
    var thread = pthread_t()
    let rc = pthread_create(&thread, nil, { raw in
        Unmanaged<ThreadWork>.fromOpaque(raw!).takeRetainedValue().work()
        return nil
    }, context)
    guard rc == 0 else {
        Unmanaged<ThreadWork>.fromOpaque(context).release()
        return nil
    }
    return thread
}

private final class ThreadWork: @unchecked Sendable {
    let work: () -> Void
    init(_ work: @escaping () -> Void) { self.work = work }
}
