import SystemCalls

/// What `record` does between starting and stopping a recording: runs the command after `--`,
/// waits for the end — the duration, Ctrl-C/SIGTERM/SIGHUP (passed on to the command), the
/// command exiting, a reader failure, or `liveCount` live lines — and prints a live line every
/// `liveInterval`; then stops the recording, and with live lines prints the last (partial)
/// interval after the final drain.
///
/// Signals are taken synchronously with `sigtimedwait`: `blockSignals()` must run before the
/// recording starts, so the reader thread inherits the mask and no signal can kill the process
/// with the tracefs instance left behind.
public struct RecordLoop {
    public struct Options: Sendable {
        /// Nanoseconds; nil: until a signal or the command's end.
        public var duration: UInt64?
        /// Nanoseconds between live lines; nil: no live lines.
        public var liveInterval: UInt64?
        public var liveCount: Int?
        public var command: [String]
        /// Poll the fscache cookie tables every `cookiePollInterval` ns and write what they name
        /// into the recording (`CookieKeyPoller`); nil: not at all.
        public var cookiePollInterval: UInt64?

        public init(duration: UInt64? = nil, liveInterval: UInt64? = nil, liveCount: Int? = nil, command: [String] = [],
                    cookiePollInterval: UInt64? = 20_000_000) {
            (self.duration, self.liveInterval, self.liveCount, self.command) = (duration, liveInterval, liveCount, command)
            self.cookiePollInterval = cookiePollInterval
        }
    }

    public struct Outcome: Sendable {
        public var result: RecordingResult
        /// The command's pid, and its wait status when it ended before the recording did.
        public var child: Int32?
        public var childStatus: Int32?
    }

    public static let signals = SignalSet([Signal.interrupt, Signal.terminate, Signal.hangup, Signal.child])

    /// Blocks the signals the loop waits for, in the calling thread and the threads it starts.
    public static func blockSignals() {
        signals.block()
    }

    let session: RecordingSession
    let live: LiveLatency?
    let options: Options
    /// Receives each live line (its text, without newline); false when its reader has gone
    /// (`record --live | head`): the recording then ends as at `liveCount`, its file written.
    let line: (String) -> Bool

    public init(session: RecordingSession, live: LiveLatency?, options: Options, line: @escaping (String) -> Bool) {
        (self.session, self.live, self.options, self.line) = (session, live, options, line)
    }

    /// Runs until the end, then stops the recording. The session must have been started.
    public func run() throws(RecordingError) -> Outcome {
        let cookies = options.cookiePollInterval == nil ? nil : session.markerPath.flatMap { CookieKeyPoller(markerPath: $0) }
        cookies?.poll()
        var child: Int32?
        if !options.command.isEmpty {
            do { child = try ChildProcess.spawn(options.command) } catch {
                cookies?.finish()
                session.abandon()
                throw RecordingError(error.description)
            }
        }
        let started = monotonicNanoseconds()
        var lines = 0
        let childStatus = wait(child: child, started: started, lines: &lines, cookies: cookies)
        cookies?.finish()
        let result = try session.stop()
        if let live, lines < (options.liveCount ?? .max) {
            _ = line(Self.elapsed(since: started) + " " + live.finish().text + " (final)")
        }
        return Outcome(result: result, child: child, childStatus: childStatus)
    }

    /// Waits for the end, printing live lines; the child's wait status if it ended.
    private func wait(child: Int32?, started: UInt64, lines: inout Int, cookies: CookieKeyPoller?) -> Int32? {
        let deadline = options.duration.map { started + $0 }
        var nextLine = options.liveInterval.map { started + $0 }
        while session.failure == nil {
            let now = monotonicNanoseconds()
            if let live, let due = nextLine, now >= due {
                lines += 1
                let read = line(Self.elapsed(since: started) + " " + live.takeWindow().text)
                nextLine = due + options.liveInterval!
                if !read { return nil }
                if let count = options.liveCount, lines >= count { return nil }
            }
            cookies?.poll()
            var wait = UInt64(200_000_000)
            if cookies != nil, let every = options.cookiePollInterval { wait = min(wait, every) }
            if let due = nextLine { wait = min(wait, due > now ? due - now : 0) }
            if let deadline {
                if now >= deadline { return nil }
                wait = min(wait, deadline - now)
            }
            guard let signal = Self.signals.wait(timeoutNanoseconds: wait) else { continue }
            if signal == Signal.child {
                if let child, let status = ChildProcess.statusIfEnded(child) { return status }
                continue
            }
            if let child { ChildProcess.signal(child, signal) }  // SIGINT, SIGTERM, SIGHUP: passed on
            return nil
        }
        return nil
    }

    /// "1.250s": time since the start, in milliseconds.
    static func elapsed(since start: UInt64) -> String {
        let ms = (monotonicNanoseconds() - start) / 1_000_000
        let fraction = String(ms % 1000)
        return "\(ms / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction + "s"
    }
}
