import OndemandTraceCore
import SystemCalls

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
        try Pipelined.run(batchSize: batchSize, depth: depth, produce: { (emit: (TraceItem) throws -> Void) in
            try TraceInput.read(path: path, selection: selection, textFormats: textFormats, emit)
        }, consume: body)
    }
}

/// A stretch of a trace as `readBatches` hands it over: its on-demand events, the records that
/// tie objects to cookies and readers to their going on (`TieRecord`) and our daemon's markers
/// (`MarkerRecord`) as plain records (a batch of them copies as bytes), the other items (lost
/// events, other markers, and everything of a text trace), and the names of the tasks whose pids
/// first come in this batch.
public struct TraceItemBatch: Sendable {
    public fileprivate(set) var ondemand: [OndemandRecord] = []
    /// Lost events, other markers and everything of a text trace, each at its place in `places`.
    public fileprivate(set) var others: [TraceItem] = []
    /// `cachefiles_ref`, `cachefiles_prep_read` and `cachefiles_read` records of the report's
    /// selection (a trace.dat's).
    public fileprivate(set) var ties: [TieRecord] = []
    /// Texts that look like our daemon's markers, when the reader was asked for them
    /// (`readBatches`), each's bytes in `markerText`.
    public fileprivate(set) var markers: [MarkerRecord] = []
    public fileprivate(set) var markerText: [UInt8] = []
    /// Where the ties, markers and other items come among the on-demand records and each other:
    /// one place each, in trace order.
    fileprivate var places: [Place] = []
    struct Place: Equatable {
        enum Kind: UInt8 { case tie, marker, other }
        /// The on-demand records before it.
        var before: Int32
        var kind: Kind
    }
    /// Task names of the pids of `ondemand` not named in an earlier batch (saved cmdlines; nil: unknown).
    public fileprivate(set) var names: [(pid: Int32, comm: String?)] = []

    fileprivate init(capacity: Int) { ondemand.reserveCapacity(capacity) }

    /// Empties a batch the consumer gave back, keeping its storage.
    fileprivate mutating func removeAll() {
        ondemand.removeAll(keepingCapacity: true)
        others.removeAll(keepingCapacity: true)
        ties.removeAll(keepingCapacity: true)
        markers.removeAll(keepingCapacity: true)
        markerText.removeAll(keepingCapacity: true)
        places.removeAll(keepingCapacity: true)
        names.removeAll(keepingCapacity: true)
    }

    fileprivate mutating func place(_ kind: Place.Kind) {
        places.append(Place(before: Int32(ondemand.count), kind: kind))
    }

    /// Calls `records` with each run of on-demand records between the others, `ties` with each
    /// run of ties, `markers` with each run of markers (and `markerText`, where their texts
    /// lie), and `item` with the other items, in trace order.
    @inline(__always)
    public func forEach(records: (ArraySlice<OndemandRecord>) throws -> Void, ties tie: (ArraySlice<TieRecord>) throws -> Void,
                        markers marker: (ArraySlice<MarkerRecord>, [UInt8]) throws -> Void,
                        item: (TraceItem) throws -> Void) rethrows {
        var start = 0, o = 0, t = 0, m = 0, p = 0
        while p < places.count {
            let place = places[p]
            let before = Int(place.before)
            if before > start { try records(ondemand[start..<before]) }
            start = before
            // A run of ties (or markers) with no on-demand record between them goes in one call.
            var end = p + 1
            while end < places.count, places[end] == place, place.kind != .other { end += 1 }
            switch place.kind {
            case .tie: try tie(ties[t..<(t + end - p)]); t += end - p
            case .marker: try marker(markers[m..<(m + end - p)], markerText); m += end - p
            case .other: try item(others[o]); o += 1
            }
            p = end
        }
        if start < ondemand.count { try records(ondemand[start...]) }
    }
}

/// A pid's task name as the reader hands it on, once per pid: `alreadyGiven` after the first
/// time, `new(name)` the first time (name nil: the trace does not know the task).
enum NewTaskName {
    case alreadyGiven
    case new(String?)
}

/// A pid's task name in the reader's table: `notLookedUp` yet, or `lookedUp(name)` (name nil:
/// the trace does not know the task).
enum CachedTaskName {
    case notLookedUp
    case lookedUp(String?)
}

/// Fills `TraceItemBatch`es on the reading thread and hands each over when full.
final class TraceItemBatcher {
    /// Touched per record by one thread: no run-time exclusivity check.
    @exclusivity(unchecked) private var batch: TraceItemBatch
    private let size: Int
    private let put: (TraceItemBatch) throws -> TraceItemBatch?
    /// Texts like our daemon's markers go as `MarkerRecord`s (else as `.marker` events).
    let markerRecords: Bool

    init(size: Int, markerRecords: Bool, put: @escaping (TraceItemBatch) throws -> TraceItemBatch?) {
        self.size = max(1, size)
        self.markerRecords = markerRecords
        self.put = put
        batch = TraceItemBatch(capacity: self.size)
    }

    /// An on-demand record, its event decoded in place, in the batch (see
    /// `BinaryEventDecoder.decodeOndemand(_:eventID:into:)`). `name`: the task's name when its
    /// pid comes for the first time. Nothing is added when the record does not decode.
    @inline(__always)
    func addOndemand(_ data: UnsafeRawBufferPointer, eventID: Int, decoder: BinaryEventDecoder,
                     timestamp: UInt64, cpu: Int32, pid: Int32, name: NewTaskName) throws {
        batch.ondemand.append(OndemandRecord(timestamp: timestamp, cpu: cpu, pid: pid, event: Self.placeholder))
        do {
            try decoder.decodeOndemand(data, eventID: eventID, into: &batch.ondemand[batch.ondemand.count - 1].event)
        } catch {
            batch.ondemand.removeLast()
            throw error
        }
        if case .new(let name) = name { batch.names.append((pid, name)) }
        if batch.ondemand.count == size { try flush() }
    }

    /// What an on-demand record holds until its event is decoded into it.
    private static let placeholder = OndemandEvent.cread(.init(obj: nil, msgID: nil))

    /// `name`: as for an on-demand record.
    @inline(__always)
    func add(_ tie: TieRecord, name: NewTaskName) throws {
        if case .new(let name) = name { batch.names.append((tie.pid, name)) }
        batch.place(.tie)
        batch.ties.append(tie)
        if batch.ties.count == size { try flush() }
    }

    /// A marker's text (see `MarkerRecord`), copied into the batch.
    @inline(__always)
    func addMarker(text: UnsafeRawBufferPointer, timestamp: UInt64, cpu: Int32, pid: Int32) throws {
        batch.place(.marker)
        batch.markers.append(MarkerRecord(timestamp: timestamp, cpu: cpu, pid: pid, textStart: Int32(batch.markerText.count),
                                          textCount: Int32(text.count)))
        batch.markerText.append(contentsOf: text)
        if batch.markers.count == size || batch.markerText.count >= Self.markerTextLimit { try flush() }
    }

    /// Bytes of marker text a batch holds at most (a trace_marker write is at most a page).
    static let markerTextLimit = 1 << 20

    func add(_ item: TraceItem) throws {
        batch.place(.other)
        batch.others.append(item)
        if batch.others.count == size { try flush() }
    }

    /// Hands over what is waiting, if anything, and goes on in a batch the consumer is done with.
    func flush() throws {
        guard !batch.ondemand.isEmpty || !batch.places.isEmpty else { return }
        if let spare = try put(batch) {
            batch = spare
            batch.removeAll()
        } else {
            batch = TraceItemBatch(capacity: size)
        }
    }
}

extension TraceInput {
    /// `readConcurrently` for the report: the items in batches (`TraceItemBatch`), the on-demand
    /// events of a trace.dat as plain records. Passing a `TraceItem` per event cost the report more
    /// than decoding it (value-witness copies and reference counting, on both threads).
    /// `markerRecords`: a trace.dat's texts like our daemon's markers come as `MarkerRecord`s
    /// (`TraceItemBatch.markers`), not as `.marker` events.
    public static func readBatches(path: String, selection: EventSelection, textFormats: [EventLayout]? = nil,
                                   batchSize: Int = 4096, depth: Int = 8, markerRecords: Bool = false,
                                   _ body: (TraceItemBatch) throws -> Void) throws -> ReadSummary {
        try Pipelined.runBatched(depth: depth, produce: { put in
            try withoutActuallyEscaping(put) { put in
                let batcher = TraceItemBatcher(size: batchSize, markerRecords: markerRecords, put: put)
                do {
                    let summary = try TraceInput.read(path: path, selection: selection, textFormats: textFormats,
                                                      batcher: batcher) { try batcher.add($0) }
                    try batcher.flush()
                    return summary
                } catch {
                    try? batcher.flush()
                    throw error
                }
            }
        }, consume: body)
    }
}

/// One producer thread and the calling thread as consumer, items handed over in batches.
enum Pipelined {
    /// Runs `produce` on a new thread; every item it emits reaches `consume` on the calling thread,
    /// in order. Returns what `produce` returned once `consume` saw every item. An error from
    /// `consume` stops the producer (its `emit` throws) and is thrown; an error from `produce` is
    /// thrown after the items before it were consumed. Without a thread, runs both on this one.
    static func run<Item, Outcome>(batchSize: Int, depth: Int,
                                   produce: (_ emit: (Item) throws -> Void) throws -> Outcome,
                                   consume: (Item) throws -> Void) throws -> Outcome {
        let size = max(1, batchSize)
        return try runBatched(depth: depth, produce: { put in
            var batch: [Item] = []
            batch.reserveCapacity(size)
            do {
                let value = try withoutActuallyEscaping(put) { put in
                    try produce { item in
                        batch.append(item)
                        if batch.count == size {
                            batch = try put(batch) ?? batch
                            batch.removeAll(keepingCapacity: true)
                        }
                    }
                }
                if !batch.isEmpty { _ = try put(batch) }
                return value
            } catch {
                if !batch.isEmpty { _ = try? put(batch) }
                throw error
            }
        }, consume: { batch in
            for i in batch.indices { try consume(batch[i]) }
        })
    }

    /// `run` with the batches made by `produce` and taken whole by `consume`. `put` hands one over
    /// and returns one `consume` is done with, if any, for its storage: a fixed few batches go
    /// round (allocating each one anew cost peak RSS, as malloc kept freed ones on the wrong
    /// thread's heap). It throws once the consumer gave up. Without a thread, runs both on this one.
    static func runBatched<Batch, Outcome>(depth: Int, produce: (_ put: (Batch) throws -> Batch?) throws -> Outcome,
                                           consume: (Batch) throws -> Void) throws -> Outcome {
        try withoutActuallyEscaping(produce) { produce in
            let channel = BatchChannel<Batch, Outcome>(depth: depth)
            let thread = try? startThread {
                let outcome = Result<Outcome, any Error> {
                    try produce { batch in
                        guard let spare = channel.put(batch) else { throw Cancelled() }
                        return spare
                    }
                }
                channel.finish(outcome)
            }
            guard let thread else {
                return try produce { batch in
                    try consume(batch)
                    return batch
                }
            }
            var failure: (any Error)?
            while let batch = channel.take() {
                do {
                    try consume(batch)
                } catch {
                    failure = error
                    channel.cancel()
                    break
                }
                channel.giveBack(consume batch)
            }
            thread.join()
            if let failure { throw failure }
            return try channel.outcome!.get()
        }
    }

    struct Cancelled: Error {}
}

/// A bounded queue of batches between one producer and one consumer thread.
private final class BatchChannel<Batch, Outcome>: @unchecked Sendable {
    private let lock = ConditionLock()
    private var batches: [Batch?] = []
    /// Batches the consumer is done with, for the producer to fill again.
    private var spares: [Batch] = []
    private var head = 0
    private var finished = false
    private var cancelled = false
    private let depth: Int
    /// Set when the producer is done (read under the lock, or after joining the thread).
    private(set) var outcome: Result<Outcome, any Error>?

    init(depth: Int) {
        self.depth = max(1, depth)
    }

    /// Blocks while `depth` batches wait; nil when the consumer gave up, else a spare batch if
    /// there is one.
    func put(_ batch: Batch) -> Batch?? {
        lock.withLock {
            while batches.count - head >= depth && !cancelled { lock.wait() }
            guard !cancelled else { return nil }
            batches.append(batch)
            lock.broadcast()
            return .some(spares.popLast())
        }
    }

    /// A batch the consumer is done with (two are kept: the producer takes one per `put`).
    func giveBack(_ batch: Batch) {
        lock.withLock {
            if spares.count < 2 { spares.append(batch) }
        }
    }

    func finish(_ outcome: Result<Outcome, any Error>) {
        lock.withLock {
            self.outcome = outcome
            finished = true
            lock.broadcast()
        }
    }

    /// The next batch; nil once the producer finished and everything was taken.
    func take() -> Batch? {
        lock.withLock {
            while head == batches.count && !finished { lock.wait() }
            guard head < batches.count else { return nil }
            let batch = batches[head]
            batches[head] = nil
            head += 1
            if head > 64 && head * 2 > batches.count { batches.removeFirst(head); head = 0 }
            lock.broadcast()
            return batch
        }
    }

    func cancel() {
        lock.withLock {
            cancelled = true
            lock.broadcast()
        }
    }
}
