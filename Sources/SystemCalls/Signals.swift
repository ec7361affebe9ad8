import Glibc

/// The signal numbers the tool handles, so callers need not import the C library.
public enum Signal {
    public static let interrupt = SIGINT
    public static let terminate = SIGTERM
    public static let hangup = SIGHUP
    public static let child = SIGCHLD
    public static let kill = SIGKILL
    /// The daemon's in-flight dump.
    public static let user1 = SIGUSR1

    /// "SIGINT" for SIGINT; "signal N" for one not named here.
    public static func name(_ signal: Int32) -> String {
        switch signal {
        case SIGINT: "SIGINT"
        case SIGTERM: "SIGTERM"
        case SIGHUP: "SIGHUP"
        case SIGCHLD: "SIGCHLD"
        case SIGKILL: "SIGKILL"
        case SIGUSR1: "SIGUSR1"
        default: "signal \(signal)"
        }
    }
}

/// A set of signals taken synchronously: blocked (in the calling thread, and in the threads it
/// starts afterwards, which inherit the mask) and then waited for with `sigtimedwait`, so no
/// handler runs and no signal kills the process with its work left behind.
public struct SignalSet: @unchecked Sendable {
    fileprivate var set = sigset_t()

    public init(_ signals: [Int32]) {
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
    }

    /// Blocks them in the calling thread.
    public func block() {
        var set = set
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Waits up to `timeoutNanoseconds` for one of them (blocked first); the signal, or nil when
    /// the time passed (or another signal's handler interrupted the wait).
    public func wait(timeoutNanoseconds ns: UInt64) -> Int32? {
        var set = set
        var timeout = timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
        let signal = sigtimedwait(&set, nil, &timeout)
        return signal > 0 ? signal : nil
    }
}

/// A set of signals read as a descriptor (signalfd): blocked, as `SignalSet.block` does, and
/// then readable on `fd`, so a thread waiting on other descriptors too (a `PollSet`) notices
/// them. Nonblocking and close-on-exec; closed with the object.
public final class SignalDescriptor: Sendable {
    public let fd: Int32

    /// Blocks `signals` in the calling thread (call it before the threads that must not take
    /// them start: they inherit the mask) and opens the descriptor they arrive on.
    public init(_ signals: SignalSet) throws(SystemError) {
        signals.block()
        var set = signals.set
        let fd = Self.signalfd?(-1, &set, O_CLOEXEC | O_NONBLOCK) ?? -1
        guard fd >= 0 else {
            throw SystemError(path: "signalfd", action: "cannot create", errno: Self.signalfd == nil ? ENOSYS : errno)
        }
        self.fd = fd
    }

    deinit { close(fd) }

    /// Reads every signal pending on it (none left then: `fd` is no longer readable); their
    /// numbers, in the order the kernel gave them.
    @discardableResult
    public func drain() -> [Int32] {
        var received: [Int32] = []
        // struct signalfd_siginfo: 128 bytes, the signal's number (a u32) first.
        var info = [UInt8](repeating: 0, count: 128)
        while true {
            let n = info.withUnsafeMutableBytes { raw in retryingInterrupted { read(fd, raw.baseAddress, raw.count) } }
            guard n == info.count else { return received }
            received.append(info.withUnsafeBytes { Int32(bitPattern: $0.load(as: UInt32.self)) })
        }
    }

    /// glibc's `signalfd` (sys/signalfd.h is not in Swift's Glibc module).
    private typealias SignalfdCall = @convention(c) (Int32, UnsafePointer<sigset_t>, Int32) -> Int32
    private static let signalfd: SignalfdCall? = glibcFunction("signalfd", as: SignalfdCall.self)
}

/// This process: its id, its privileges, its end.
public enum ThisProcess {
    public static var id: Int32 { getpid() }

    /// The environment variable `name`; nil when unset.
    public static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    /// Whether it runs as root (the effective user).
    public static var isRoot: Bool { geteuid() == 0 }

    /// Ends the process with `status` (atexit handlers run, stdio is flushed).
    public static func exit(_ status: Int32) -> Never { Glibc.exit(status) }

    /// Ends the process with `status` at once, as a crash would leave things: no atexit
    /// handler, nothing flushed (`_exit`: the daemon's `exit` fault).
    public static func exitImmediately(_ status: Int32) -> Never { _exit(status) }

    /// Whether a process `pid` exists (it may belong to another user): `kill(pid, 0)`.
    public static func exists(_ pid: Int32) -> Bool { kill(pid, 0) == 0 || errno != ESRCH }
}
