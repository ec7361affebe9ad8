import Glibc

/// CLOCK_MONOTONIC in nanoseconds: the clock of the daemon's log, the recorder's deadlines and
/// the trace's `mono` clock.
public func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

/// Sleeps the whole `ns`, a signal or not (an interrupted nanosleep goes on with what remains).
/// 0 returns at once: nanosleep(0) still waits for the timer (a whole tick, 4 ms at HZ=250,
/// on a kernel without high-resolution timers).
public func sleepNanoseconds(_ ns: UInt64) {
    guard ns > 0 else { return }
    var request = timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0, errno == EINTR { request = remaining }
}
