import Glibc

/// The POSIX clocks the tool reads: the trace's clocks (`mono`, `mono_raw`, `boot`) and the wall
/// clock (names of rotated files, the recovery's timestamps).
public enum Clock: Sendable {
    /// CLOCK_MONOTONIC: the clock of the daemon's log, the recorder's deadlines and the trace's `mono`.
    case monotonic
    case monotonicRaw
    case boottime
    case realtime
    /// CLOCK_PROCESS_CPUTIME_ID: the CPU time (user and system) of this process's threads.
    case processCPUTime

    var id: clockid_t {
        switch self {
        case .monotonic: CLOCK_MONOTONIC
        case .monotonicRaw: CLOCK_MONOTONIC_RAW
        case .boottime: CLOCK_BOOTTIME
        case .realtime: CLOCK_REALTIME
        case .processCPUTime: CLOCK_PROCESS_CPUTIME_ID
        }
    }

    /// The clock's time in nanoseconds.
    public func nanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(id, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }
}

/// CLOCK_MONOTONIC in nanoseconds.
public func monotonicNanoseconds() -> UInt64 { Clock.monotonic.nanoseconds() }

/// Sleeps the whole `ns`, a signal or not (an interrupted nanosleep goes on with what remains).
/// 0 returns at once: nanosleep(0) still waits for the timer (a whole tick, 4 ms at HZ=250,
/// on a kernel without high-resolution timers).
public func sleepNanoseconds(_ ns: UInt64) {
    guard ns > 0 else { return }
    var request = timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
    var remaining = timespec()
    _ = retryingInterrupted {
        let rc = nanosleep(&request, &remaining)
        request = remaining
        return rc
    }
}
