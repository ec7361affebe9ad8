import Synchronization
import SystemCalls
import TraceRecording

/// Another daemon writes no OPEN markers: while it serves, the cookie keys (which blob each
/// object is) are polled into the recording on a thread of their own, as `record` does.
final class CookiePolling: @unchecked Sendable {
    private let poller: CookieKeyPoller
    private let stopping = Atomic<Bool>(false)
    private var thread: SystemCalls.Thread?

    /// Nil when the kernel lists no cookies (no /proc/fs/fscache) or there is no recording.
    init?(markerPath: String?) {
        guard let poller = markerPath.flatMap({ CookieKeyPoller(markerPath: $0) }) else { return nil }
        self.poller = poller
        poller.poll()
        thread = try? startThread { [self] in
            while !stopping.load(ordering: .relaxed) {
                self.poller.poll()  // only this thread polls until finish()
                sleepNanoseconds(20_000_000)
            }
        }
    }

    /// The last poll, and the marker fd closed (the recording's instance can then be removed).
    func finish() {
        stopping.store(true, ordering: .relaxed)
        thread?.join()
        poller.finish()
    }
}
