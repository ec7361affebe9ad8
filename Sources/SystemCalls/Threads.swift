#if canImport(Glibc)
import Glibc
#endif

/// `pthread_create` refused (EAGAIN: too many threads, or no memory for one).
public struct ThreadStartError: Error, CustomStringConvertible, Sendable {
    public var errno: Int32
    public var description: String { "cannot start a thread: \(describeErrno(errno))" }
}

/// A POSIX thread this process started (`startThread`): joined, or detached, once.
public struct Thread: @unchecked Sendable {
    let id: pthread_t

    /// Waits until the thread's work has returned.
    public func join() { pthread_join(id, nil) }

    /// Lets the thread end on its own (nobody joins it).
    public func detach() { pthread_detach(id) }
}

/// Starts a POSIX thread that runs `work` (kept alive until it returns), or throws when none
/// starts (the caller then does the work itself, or logs). A caller that joins the thread
/// before returning may pass a closure made with `withoutActuallyEscaping`.
public func startThread(_ work: @escaping () -> Void) throws(ThreadStartError) -> Thread {
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
    return Thread(id: thread)
}

private final class ThreadWork: @unchecked Sendable {
    let work: () -> Void
    init(_ work: @escaping () -> Void) { self.work = work }
}

/// A mutex with one condition variable: a thread waits under the lock until another changes
/// what it waits for and wakes it (`Pipelined`'s queue of batches).
public final class ConditionLock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    public init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// Runs `body` under the lock.
    public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// Under the lock: gives it up until another thread's `broadcast`, then holds it again.
    public func wait() { pthread_cond_wait(condition, mutex) }

    /// Wakes every waiting thread (each rechecks what it waits for).
    public func broadcast() { pthread_cond_broadcast(condition) }
}
