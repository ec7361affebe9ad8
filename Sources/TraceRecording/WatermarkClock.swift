import SystemCalls

/// How the live reader knows a CPU's watermark (the time up to which a drain has read everything
/// the CPU recorded). For the clocks that are a POSIX clock (`mono`, the default, `mono_raw`,
/// `boot`) it is that clock's time just before the drain, less a margin for an event whose time
/// was taken but whose write was not yet committed when the page was read. For other clocks it
/// is the newest time stamp already read from any CPU: a record with that time existed before the
/// drain began. That lags while every CPU is idle; the final drain releases everything anyway.
struct WatermarkClock {
    let clock: Clock?
    /// Events are written with preemption off, so a time stamp reaches the page within
    /// microseconds; 10 ms is a wide margin that costs live lines nothing visible.
    static let commitMarginNS: UInt64 = 10_000_000

    init(traceClock: String) {
        switch traceClock {
        case "mono": clock = .monotonic
        case "mono_raw": clock = .monotonicRaw
        case "boot": clock = .boottime
        default: clock = nil
        }
    }

    func now(newestSeen: UInt64) -> UInt64 {
        guard let clock else { return newestSeen }
        let ns = clock.nanoseconds()
        return ns > Self.commitMarginNS ? ns - Self.commitMarginNS : 0
    }
}
