import CTrace
import SystemCalls
import OndemandTraceCore
import Synchronization
import TraceDatFormat

/// The recorder's drain thread: reads every CPU's `trace_pipe_raw` of an instance on a thread of
/// its own: poll() wakes it when a buffer fills (buffer_percent) or after `pollInterval`, then
/// every CPU is drained without blocking, page by page, through libtracefs (`tracefs_cpu_read`,
/// `tracefs_cpu_flush` at the end). Each page goes to its CPU's file as it is, and is decoded
/// (`RingBufferPage`) to count its records and, live, to hand them on.
final class CPUBufferDrain: @unchecked Sendable {
    // Only the drain thread touches `streams` between start() and join(); the counters other
    // threads may read live in `progress`.
    struct Stream {
        let cpu: Int
        let fd: Int32
        let tcpu: OpaquePointer
        /// nil: the pages are only decoded (`RecordingOutput.discard`).
        let file: CPUDataFile?
    }

    struct Progress: Sendable {
        var pages: [UInt64]
        var events: [UInt64]
        /// Events the ring buffer reported lost between pages (the pages' missed-events counts).
        var missed: [UInt64]
        /// Pages that said events were lost without saying how many.
        var missedUnknown: [UInt64]
        var failure: RecordingError?
    }

    private var streams: [Stream]
    /// Receives the records in time order across CPUs (live mode only), as `merge` releases them.
    private let onRecords: (@Sendable ([RawRecord]) -> Void)?
    /// Runs on the drain thread after each round (the pages read so far are in the files): the
    /// session's rotation of trace.dat files.
    private let afterRound: (() throws(RecordingError) -> Void)?
    /// Live mode: holds records until no CPU can still deliver an older one (see `LiveMerge`).
    private var merge: LiveMerge<RawRecord>
    private let watermarkClock: WatermarkClock
    let pageSize: Int
    let cpuCount: Int
    let pollIntervalMS: Int32
    private let wake: WakePipe
    let progress: Mutex<Progress>
    private var thread: Thread?
    /// Live mode: the newest time stamp read so far, and the records released by the last round.
    private var newestSeen: UInt64 = 0
    private var released: [RawRecord] = []

    /// `progress` is indexed by CPU number, `0..<cpuCount`.
    /// `traceClock`: the instance's trace clock, which says how a CPU's watermark is known.
    init(streams: [Stream], cpuCount: Int, pageSize: Int, pollIntervalMS: Int32, traceClock: String = "mono",
         onRecords: (@Sendable ([RawRecord]) -> Void)? = nil,
         afterRound: (() throws(RecordingError) -> Void)? = nil) throws(RecordingError) {
        self.streams = streams
        self.onRecords = onRecords
        self.afterRound = afterRound
        merge = LiveMerge(cpus: cpuCount)
        // A CPU without a stream (possible but absent) records nothing: it never holds others back.
        for cpu in 0..<cpuCount where !streams.contains(where: { $0.cpu == cpu }) { merge.advance(cpu: cpu, to: .max) }
        watermarkClock = WatermarkClock(traceClock: traceClock)
        self.pageSize = pageSize
        self.cpuCount = cpuCount
        self.pollIntervalMS = pollIntervalMS
        do { wake = try WakePipe() } catch {
            throw RecordingError("cannot create a pipe: \(describeErrno(error.errno))")
        }
        let n = cpuCount
        progress = Mutex(Progress(pages: Array(repeating: 0, count: n), events: Array(repeating: 0, count: n),
                                  missed: Array(repeating: 0, count: n), missedUnknown: Array(repeating: 0, count: n)))
    }

    func start() throws(RecordingError) {
        do { thread = try startThread { [self] in run() } } catch {
            throw RecordingError("cannot start the reader thread: \(describeErrno(error.errno))")
        }
    }

    /// Asks the thread to drain what is left and end, and waits for it. Tracing should be off.
    func stopAndJoin() {
        guard let thread else { return }
        wake.wake()
        thread.join()
        self.thread = nil
    }

    var failure: RecordingError? { progress.withLock { $0.failure } }

    private func run() {
        let fds = streams.map(\.fd) + [wake.readEnd]
        var page = [UInt8](repeating: 0, count: pageSize)
        do throws(RecordingError) {
            while true {
                guard let ready = Polling.readable(fds, timeoutMilliseconds: pollIntervalMS) else { break }
                let stopping = ready.last!
                for index in streams.indices {
                    // Read the watermark before the drain: what the CPU recorded before this
                    // moment is in the pages the drain returns (read() hands out partial pages).
                    let watermark = watermarkClock.now(newestSeen: newestSeen)
                    try drain(index, into: &page, final: stopping)
                    merge.advance(cpu: streams[index].cpu, to: watermark)
                }
                if stopping { merge.releaseAll { released.append($0) } } else { merge.release { released.append($0) } }
                if let onRecords, !released.isEmpty {
                    onRecords(released)
                    released.removeAll(keepingCapacity: true)
                }
                if stopping { break }
                try afterRound?()
            }
            for stream in streams { try stream.file?.flush() }
        } catch {
            progress.withLock { $0.failure = error }
        }
    }

    /// Reads `streams[index]` until it has nothing more; `final` uses tracefs_cpu_flush, which
    /// also returns the page the kernel is still writing to.
    private func drain(_ index: Int, into page: inout [UInt8], final: Bool) throws(RecordingError) {
        let stream = streams[index]
        while true {
            let n = page.withUnsafeMutableBytes { buffer in
                final ? tracefs_cpu_flush(stream.tcpu, buffer.baseAddress) : tracefs_cpu_read(stream.tcpu, buffer.baseAddress, true)
            }
            if n <= 0 { return }
            try stream.file?.append(page: page, count: Int(n), pageSize: pageSize)
            let (events, missed) = page.withUnsafeBytes { count(UnsafeRawBufferPointer(rebasing: $0[..<Int(n)]), cpu: stream.cpu) }
            progress.withLock {
                $0.pages[stream.cpu] += 1
                $0.events[stream.cpu] += events
                if missed > 0 { $0.missed[stream.cpu] += UInt64(missed) } else if missed < 0 { $0.missedUnknown[stream.cpu] += 1 }
            }
        }
    }

    /// Records in one page, and the events lost before it (-1: some, number unknown).
    /// In live mode the records are also handed to `merge`, the page's missed events on its first.
    /// A page that does not hold what it claims counts the records before the fault.
    private func count(_ bytes: UnsafeRawBufferPointer, cpu: Int) -> (UInt64, Int64) {
        // The kernel's commit word is a long; trace_pipe_raw hands out whole sub-buffers.
        guard let page = try? RingBufferPage(bytes, commitSize: MemoryLayout<Int>.size, pageSize: pageSize) else { return (0, 0) }
        var events: UInt64 = 0
        var records = page.records()
        while let record = try? records.next() {
            if onRecords != nil {
                let ts = record.timestamp
                merge.append(cpu: cpu, timestamp: ts, RawRecord(cpu: Int32(cpu), timestamp: ts, bytes: Array(record.data),
                                                                missedEvents: record.missedEvents))
                newestSeen = max(newestSeen, ts)
            }
            events += 1
        }
        return (events, page.missedEvents)
    }

    /// Releases the libtracefs readers and closes the `trace_pipe_raw` files (before the
    /// instance can be removed). Only after stopAndJoin().
    func closeStreams() {
        for stream in streams {
            tracefs_cpu_free_fd(stream.tcpu)
            Descriptor(fd: stream.fd, path: "trace_pipe_raw").close()
        }
        streams.removeAll()
    }
}
