#if canImport(Glibc)
import Glibc
#endif
import OndemandTraceCore

extension TraceInput {
    /// `read`, with the reading and decoding on a second thread: `body` runs on the calling thread
    /// with the items in the same order, while the next ones are decoded. For consumers whose own
    /// work per item is comparable to decoding it (the report's correlation), this nearly halves
    /// the wall time on two cores. Memory: at most `depth` batches of `batchSize` items in flight.
    /// An error from `body` stops the reader; an error from the reader is thrown after the items
    /// before it were handed over.
    public static func readConcurrently(path: String, selection: EventSelection, textFormats: [EventLayout]? = nil,
                                        batchSize: Int = 4096, depth: Int = 8,
                                        _ body: (TraceItem) throws -> Void) throws -> ReadSummary {
        let channel = BatchChannel(depth: depth)
        let job = ReaderJob(path: path, selection: selection, textFormats: textFormats, batchSize: batchSize, channel: channel)
        var thread = pthread_t()
        let context = Unmanaged.passRetained(job).toOpaque()
        let rc = pthread_create(&thread, nil, { raw in
            let job = Unmanaged<ReaderJob>.fromOpaque(raw!).takeRetainedValue()
            job.run()
            return nil
        }, context)
        guard rc == 0 else {
            Unmanaged<ReaderJob>.fromOpaque(context).release()
            return try read(path: path, selection: selection, textFormats: textFormats, body)
        }
        var failure: (any Error)?
        while let batch = channel.take() {
            do {
                for item in batch { try body(item) }
            } catch {
                failure = error
                channel.cancel()
                break
            }
        }
        pthread_join(thread, nil)
        if let failure { throw failure }
        return try channel.outcome!.get()
    }
}

/// What the reader thread runs: `TraceInput.read`, its items packed into batches.
private final class ReaderJob: @unchecked Sendable {
    let path: String
    let selection: EventSelection
    let textFormats: [EventLayout]?
    let batchSize: Int
    let channel: BatchChannel

    init(path: String, selection: EventSelection, textFormats: [EventLayout]?, batchSize: Int, channel: BatchChannel) {
        (self.path, self.selection, self.textFormats, self.batchSize, self.channel) = (path, selection, textFormats, batchSize, channel)
    }

    struct Cancelled: Error {}

    func run() {
        var batch: [TraceItem] = []
        batch.reserveCapacity(batchSize)
        let outcome: Result<ReadSummary, any Error>
        do {
            let summary = try TraceInput.read(path: path, selection: selection, textFormats: textFormats) { item in
                batch.append(item)
                if batch.count == batchSize {
                    guard channel.put(batch) else { throw Cancelled() }
                    batch.removeAll(keepingCapacity: true)
                }
            }
            if !batch.isEmpty { _ = channel.put(batch) }
            outcome = .success(summary)
        } catch {
            if !batch.isEmpty { _ = channel.put(batch) }
            outcome = .failure(error)
        }
        channel.finish(outcome)
    }
}

/// A bounded queue of batches between one producer and one consumer thread.
private final class BatchChannel: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var changed = pthread_cond_t()
    private var batches: [[TraceItem]] = []
    private var head = 0
    private var finished = false
    private var cancelled = false
    private let depth: Int
    /// Set when the producer is done (read under the mutex, or after joining the thread).
    private(set) var outcome: Result<ReadSummary, any Error>?

    init(depth: Int) {
        self.depth = max(1, depth)
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&changed, nil)
    }

    deinit {
        pthread_cond_destroy(&changed)
        pthread_mutex_destroy(&mutex)
    }

    /// Blocks while `depth` batches wait; false when the consumer gave up.
    func put(_ batch: [TraceItem]) -> Bool {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        while batches.count - head >= depth && !cancelled { pthread_cond_wait(&changed, &mutex) }
        guard !cancelled else { return false }
        batches.append(batch)
        pthread_cond_broadcast(&changed)
        return true
    }

    func finish(_ outcome: Result<ReadSummary, any Error>) {
        pthread_mutex_lock(&mutex)
        self.outcome = outcome
        finished = true
        pthread_cond_broadcast(&changed)
        pthread_mutex_unlock(&mutex)
    }

    /// The next batch; nil once the producer finished and everything was taken.
    func take() -> [TraceItem]? {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        while head == batches.count && !finished { pthread_cond_wait(&changed, &mutex) }
        guard head < batches.count else { return nil }
        let batch = batches[head]
        batches[head] = []
        head += 1
        if head > 64 && head * 2 > batches.count { batches.removeFirst(head); head = 0 }
        pthread_cond_broadcast(&changed)
        return batch
    }

    func cancel() {
        pthread_mutex_lock(&mutex)
        cancelled = true
        pthread_cond_broadcast(&changed)
        pthread_mutex_unlock(&mutex)
    }
}
