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
    private var set = sigset_t()

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

    /// Whether a process `pid` exists (it may belong to another user): `kill(pid, 0)`.
    public static func exists(_ pid: Int32) -> Bool { kill(pid, 0) == 0 || errno != ESRCH }
}
