import Testing
@testable import OndemandTraceCore

/// Hand-built event sequences: each test states a situation the kernel and a daemon produce.
struct EventScript {
    var events: [TraceEvent] = []
    var now: UInt64 = 1_000_000_000

    mutating func at(_ us: UInt64) -> Self { now = 1_000_000_000 + us * 1000; return self }

    mutating func add(_ pid: Int32, _ comm: String, _ e: OndemandEvent) {
        events.append(TraceEvent(timestamp: now, cpu: 0, pid: pid, comm: comm, body: .ondemand(e)))
    }
    mutating func open(_ obj: UInt32, fd: UInt32 = 4, at us: UInt64, oid: UInt32 = 0, mid: UInt32 = 0) {
        _ = at(us); add(100, "daemon", .open(.init(obj: obj, msgID: mid, objectID: oid, fd: fd, flags: 0)))
    }
    mutating func copen(_ obj: UInt32, msg: UInt32, size: Int64 = 1 << 20, at us: UInt64) {
        _ = at(us); add(100, "daemon", .copen(.init(obj: obj, msgID: msg, len: size)))
    }
    mutating func read(_ obj: UInt32, _ start: Int64, _ len: UInt64, at us: UInt64, pid: Int32 = 200, comm: String = "cat", oid: UInt32 = 0) {
        _ = at(us); add(pid, comm, .read(.init(obj: obj, msgID: 0, objectID: oid, start: start, len: len)))
    }
    mutating func write(_ obj: UInt32, _ start: Int64, _ len: UInt64, at us: UInt64, thread: Int32 = 100) {
        _ = at(us); add(thread, "daemon", .fdWrite(.init(obj: obj, backer: 7, start: start, len: len)))
    }
    mutating func cread(_ obj: UInt32, msg: UInt32, at us: UInt64, thread: Int32 = 100) {
        _ = at(us); add(thread, "daemon", .cread(.init(obj: obj, msgID: msg)))
    }
    mutating func close(_ obj: UInt32, at us: UInt64) {
        _ = at(us); add(300, "kworker", .close(.init(obj: obj, msgID: 0, objectID: 0)))
    }
    mutating func release(_ obj: UInt32, oid: UInt32, at us: UInt64) {
        _ = at(us); add(100, "daemon", .fdRelease(.init(obj: obj, objectID: oid)))
    }
    mutating func marker(_ text: String, at us: UInt64, thread: Int32 = 100) {
        _ = at(us)
        events.append(TraceEvent(timestamp: now, cpu: 0, pid: thread, comm: "daemon", body: .marker(MarkerEvent(text: text))))
    }
    mutating func generic(_ name: String, _ fields: [NamedValue], at us: UInt64) {
        _ = at(us)
        events.append(TraceEvent(timestamp: now, cpu: 0, pid: 100, comm: "daemon",
                                 body: .generic(GenericEvent(system: "cachefiles", name: name, fields: fields))))
    }

    struct Result {
        var requests: [RequestRecord]
        var anomalies: [Anomaly]
        var objects: [Correlator.ObjectLifetime]
        var reads: [RequestRecord] { requests.filter { $0.kind == .read } }
        var opens: [RequestRecord] { requests.filter { $0.kind == .open } }
        func kinds() -> [Anomaly.Kind] { anomalies.map(\.kind) }
        /// (offset, msg_id) of every answered read, by offset.
        var readMsgIDs: [Int64: UInt32] {
            Dictionary(uniqueKeysWithValues: reads.filter(\.isCompleted).map { ($0.offset!, $0.msgID!) })
        }
    }

    func run() -> Result {
        var requests: [RequestRecord] = []
        var anomalies: [Anomaly] = []
        let c = Correlator(onRequest: { requests.append($0) }, onAnomaly: { anomalies.append($0) })
        for e in events { c.consume(e) }
        let objects = c.finish()
        return Result(requests: requests, anomalies: anomalies, objects: objects)
    }
}

@Suite struct CorrelatorTests {
    /// A cread stamped before its READ (clocks that differ between CPUs, an edited text trace)
    /// once made the latency wrap around and the histogram trap.
    @Test func aRecordOlderThanTheOneBeforeItIsClampedAndReported() {
        var s = EventScript()
        s.open(1, at: 0); s.copen(1, msg: 0, at: 50)
        s.read(1, 0, 4096, at: 500); s.write(1, 0, 4096, at: 400); s.cread(1, msg: 1, at: 450)
        let r = s.run()
        #expect(r.kinds() == [.timeWentBackwards, .timeWentBackwards])
        #expect(r.reads.map(\.latency) == [0])
        #expect(r.anomalies[0].detail.hasPrefix("a record at 1.000400 s on CPU 0 comes after one at 1.000500 s"))
    }

    @Test func singleThreadedInOrderRoundTrips() {
        var s = EventScript()
        s.open(1, at: 0); s.copen(1, msg: 0, at: 50)
        s.read(1, 0, 4096, at: 100); s.write(1, 0, 4096, at: 150); s.cread(1, msg: 1, at: 170)
        s.read(1, 4096, 8192, at: 200); s.write(1, 4096, 8192, at: 260); s.cread(1, msg: 2, at: 300)
        s.close(1, at: 1000); s.release(1, oid: 1, at: 1010)
        let r = s.run()
        #expect(r.anomalies.isEmpty)
        #expect(r.reads.map(\.msgID) == [1, 2])
        #expect(r.reads.map(\.latency) == [70_000, 100_000])
        #expect(r.reads.map(\.join) == [.thread, .thread])
        #expect(r.reads[1].stages.map(\.nanoseconds) == [60_000, 40_000])
        #expect(r.opens.count == 1 && r.opens[0].latency == 50_000 && r.opens[0].msgID == 0)
        let o = r.objects[0]
        #expect(o.obj == 1 && o.objectID == 1 && o.reads == 2 && o.readsCompleted == 2)
        #expect(o.bytesWritten == 12288 && o.bytesRequested == 12288 && o.reopens == 0)
        #expect(o.lifetime == 1_010_000)
    }

    /// Two daemon threads: thread 11 takes the first READ, thread 12 the second; 12 finishes first.
    @Test func outOfOrderCompletionIsPairedPerThread() {
        var s = EventScript()
        s.open(1, at: 0); s.copen(1, msg: 0, at: 10)
        s.read(1, 0, 4096, at: 100, pid: 201)
        s.read(1, 65536, 4096, at: 110, pid: 202)
        s.write(1, 65536, 4096, at: 120, thread: 12)
        s.write(1, 0, 4096, at: 125, thread: 11)   // both ranges written before either cread
        s.cread(1, msg: 2, at: 130, thread: 12)    // thread 12 completes the second READ first
        s.cread(1, msg: 1, at: 400, thread: 11)
        let r = s.run()
        #expect(r.anomalies.isEmpty)
        #expect(r.readMsgIDs == [0: 1, 65536: 2])
        let second = r.reads.first { $0.offset == 65536 }!
        #expect(second.latency == 20_000 && second.pid == 202 && second.join == .thread)
        let first = r.reads.first { $0.offset == 0 }!
        #expect(first.latency == 300_000 && first.pid == 201)
    }

    /// Parallel readers of one file with the same range outstanding, and a kernel that reuses a
    /// msg_id at once: nothing may be keyed on msg_id.
    @Test func severalOutstandingReadsAndReusedMsgIDs() {
        var s = EventScript()
        s.read(1, 0, 4096, at: 0, pid: 201)
        s.read(1, 0, 4096, at: 5, pid: 202)
        s.read(1, 8192, 4096, at: 6, pid: 203)
        s.write(1, 0, 4096, at: 10); s.cread(1, msg: 7, at: 20)
        s.write(1, 0, 4096, at: 30); s.cread(1, msg: 7, at: 40)     // msg_id 7 reused at once
        s.write(1, 8192, 4096, at: 50); s.cread(1, msg: 7, at: 60)
        let r = s.run()
        #expect(r.anomalies.isEmpty)
        #expect(r.reads.count == 3 && r.reads.allSatisfy { $0.msgID == 7 && $0.isCompleted })
        #expect(r.reads.map(\.pid) == [201, 202, 203])
        #expect(r.reads.map(\.latency) == [20_000, 35_000, 54_000])
    }

    /// Overlapping READs of one object served by two threads: a write that covers both READs
    /// belongs to the READ whose range it is, and its thread's cread completes that one.
    @Test func overlappingRangesFollowTheWriteThatMatchesThem() {
        var s = EventScript()
        s.read(1, 4096, 4096, at: 0, pid: 201)          // B: inside A's range, first
        s.read(1, 0, 16384, at: 1, pid: 202)            // A
        s.write(1, 0, 16384, at: 10, thread: 11)        // thread 11 serves A (covers B too)
        s.cread(1, msg: 2, at: 11, thread: 11)
        s.write(1, 4096, 4096, at: 12, thread: 12)      // thread 12 serves B
        s.cread(1, msg: 1, at: 13, thread: 12)
        let r = s.run()
        #expect(r.anomalies.isEmpty)
        #expect(r.readMsgIDs == [0: 2, 4096: 1])
    }

    /// A daemon writing one request in several pieces: the READ is written when all are in.
    @Test func readWrittenInPieces() {
        var s = EventScript()
        s.read(1, 0, 16384, at: 0)
        s.read(1, 16384, 4096, at: 1)
        s.write(1, 0, 8192, at: 10, thread: 11)
        s.write(1, 16384, 4096, at: 11, thread: 12)
        s.write(1, 8192, 8192, at: 20, thread: 11)
        s.cread(1, msg: 5, at: 21, thread: 11)
        s.cread(1, msg: 6, at: 22, thread: 12)
        let r = s.run()
        #expect(r.readMsgIDs == [0: 5, 16384: 6])
        #expect(r.reads.first { $0.offset == 0 }!.written == 1_000_000_000 + 20_000)
        #expect(r.anomalies.isEmpty)
    }

    @Test func markersGiveExactJoinAndStages() {
        var s = EventScript()
        s.open(9, fd: 5, at: 0)
        s.marker("odt1 pickup open msg=0 oid=3 fd=5", at: 1)
        s.copen(9, msg: 0, at: 2)
        s.read(9, 0, 4096, at: 10)
        s.read(9, 4096, 4096, at: 11)
        s.marker("odt1 pickup read msg=2 oid=3 off=4096 len=4096", at: 20, thread: 11)
        s.marker("odt1 pickup read msg=1 oid=3 off=0 len=4096", at: 21, thread: 12)
        // One thread writes both ranges (a daemon that batches), then each worker completes.
        s.write(9, 0, 8192, at: 30, thread: 13)
        s.marker("odt1 written read msg=1 oid=3 off=0 len=4096", at: 31, thread: 12)
        s.marker("odt1 written read msg=2 oid=3 off=4096 len=4096", at: 32, thread: 11)
        s.cread(9, msg: 2, at: 40, thread: 11)
        s.cread(9, msg: 1, at: 50, thread: 12)
        let r = s.run()
        #expect(r.anomalies.isEmpty)
        #expect(r.readMsgIDs == [0: 1, 4096: 2])
        #expect(r.reads.allSatisfy { $0.join == .marker })
        let second = r.reads.first { $0.offset == 4096 }!
        #expect(second.stages.map(\.stage) == [.queued, .served, .completed])
        #expect(second.stages.map(\.nanoseconds) == [9_000, 12_000, 8_000])
        #expect(r.objects[0].objectID == 3)
    }

    @Test func readNeverCompletedAndOpenNeverAnswered() {
        var s = EventScript()
        s.open(1, at: 0)                             // daemon answered copen with -ENOENT: no copen record
        s.open(2, at: 5); s.copen(2, msg: 1, at: 6)
        s.read(2, 0, 4096, at: 10)
        s.read(2, 4096, 4096, at: 11)
        s.write(2, 0, 4096, at: 12); s.cread(2, msg: 2, at: 13)
        let r = s.run()
        #expect(r.kinds().sorted() == [.readNeverCompleted, .openNeverAnswered])
        #expect(r.anomalies.first { $0.kind == .readNeverCompleted }!.obj == 2)
        #expect(r.anomalies.first { $0.kind == .openNeverAnswered }!.obj == 1)
        #expect(r.reads.filter { !$0.isCompleted }.map(\.offset) == [4096])
        #expect(r.opens.filter { !$0.isCompleted }.map(\.obj) == [1])
    }

    @Test func creadWithoutReadAndCreadOfUnwrittenRange() {
        var s = EventScript()
        s.cread(1, msg: 4, at: 0)                    // nothing outstanding
        s.read(1, 0, 4096, at: 10)
        s.cread(1, msg: 5, at: 20)                   // daemon answered without writing (no-data fault)
        let r = s.run()
        #expect(r.kinds() == [.creadWithoutRead, .creadRangeNeverWritten])
        #expect(r.reads.count == 1 && r.reads[0].msgID == 5 && !r.reads[0].rangeWritten)
    }

    /// A READ missing from the trace (lost, or before the recording): its write and cread must
    /// not steal the next, still unwritten READ.
    @Test func creadAfterAStrayWriteIsNotPinnedOnAnotherRead() {
        var s = EventScript()
        s.write(1, 1 << 20, 4096, at: 0)             // for a READ the trace does not hold
        s.read(1, 0, 4096, at: 5)
        s.cread(1, msg: 3, at: 10)
        s.write(1, 0, 4096, at: 20); s.cread(1, msg: 4, at: 30)
        let r = s.run()
        #expect(r.kinds() == [.creadWithoutRead])
        #expect(r.readMsgIDs == [0: 4])
    }

    /// Failover: the daemon dies with a READ taken, a new one re-opens the object (a new id) and
    /// answers it. Nothing is left unanswered: no anomaly, not even at the release.
    @Test func aFailoverThatAnswersTheTakenReadIsNoAnomaly() {
        var s = EventScript()
        s.open(1, at: 0); s.marker("odt1 pickup open msg=0 oid=1 fd=4", at: 0); s.copen(1, msg: 0, at: 1)
        s.read(1, 0, 4096, at: 10)
        s.release(1, oid: 1, at: 20)                 // the daemon died
        s.open(1, at: 30); s.marker("odt1 pickup open msg=6 oid=2 fd=4", at: 30); s.copen(1, msg: 6, at: 31)
        s.write(1, 0, 4096, at: 40); s.cread(1, msg: 7, at: 41)
        s.release(1, oid: 2, at: 50)
        let r = s.run()
        #expect(r.kinds() == [], "\(r.anomalies.map(\.detail))")
    }

    @Test func fdReleaseWithOutstandingReadsAndCloseWithoutRelease() {
        var s = EventScript()
        s.open(1, at: 0); s.copen(1, msg: 0, at: 1)
        s.read(1, 0, 4096, at: 10)
        s.release(1, oid: 1, at: 20)                 // the daemon died
        s.open(2, at: 30); s.copen(2, msg: 1, at: 31)
        s.close(2, at: 40)                           // CLOSE sent, fd never closed
        let r = s.run()
        #expect(r.kinds() == [.fdReleaseWithOutstandingReads, .readNeverCompleted, .closedWithoutFdRelease])
        #expect(r.anomalies.map(\.obj) == [1, 1, 2])
        #expect(r.anomalies[1].detail.contains("before the fd was released"))
    }

    @Test func reopenIsCountedAndErrorRecordsAreAnomalies() {
        var s = EventScript()
        s.open(1, at: 0); s.copen(1, msg: 0, at: 1)
        s.release(1, oid: 1, at: 5)
        s.open(1, fd: 6, at: 10); s.copen(1, msg: 3, at: 12)
        s.generic("cachefiles_io_error", [NamedValue("obj", .unsigned(1)), NamedValue("backer", .unsigned(7)),
                                          NamedValue("error", .signed(-5))], at: 13)
        s.generic("cachefiles_vfs_error", [NamedValue("obj", .unsigned(1)), NamedValue("error", .signed(-28))], at: 14)
        let r = s.run()
        #expect(r.objects[0].opens == 2 && r.objects[0].reopens == 1 && r.objects[0].fd == 6)
        #expect(r.opens.map(\.msgID) == [0, 3])
        #expect(r.kinds() == [.ioError, .vfsError])
        #expect(r.anomalies[0].detail == "backer=7 error=-5")
    }

    /// 5.19-6.7 kernels fill oid in read records: a contradiction with the object's id is flagged.
    @Test func kernelFilledIDsAreACrossCheck() {
        var s = EventScript()
        s.open(1, at: 0, oid: 4, mid: 9); s.copen(1, msg: 9, at: 1)
        s.read(1, 0, 4096, at: 2, oid: 4)
        s.read(1, 4096, 4096, at: 3, oid: 5)
        let r = s.run()
        #expect(r.kinds().filter { $0 == .idMismatch }.count == 1)
        var t = EventScript()
        t.open(1, at: 0, oid: 4, mid: 9); t.copen(1, msg: 8, at: 1)
        #expect(t.run().kinds() == [.idMismatch])
    }

    @Test func lostEventsAreAnomalies() {
        var anomalies: [Anomaly] = []
        let c = Correlator(onRequest: { _ in }, onAnomaly: { anomalies.append($0) })
        c.noteLost(cpu: 1, count: 12, timestamp: 5)
        c.noteLost(cpu: 0, count: nil, timestamp: 6)
        #expect(anomalies.map(\.kind) == [.lostEvents, .lostEvents])
        #expect(anomalies[0].detail == "CPU 1 lost 12 event(s)")
        #expect(LostEventCounts.overruns(inStats: "entries: 5\noverrun: 3\ncommit overrun: 0\ndropped events: 2\n") == 5)
        #expect(LostEventCounts.overruns(inStats: "entries: 5\n") == nil)
    }

    @Test func threadSlotsBeyondTheInlineFour() {
        var slots = ThreadSlots()
        for pid in Int32(1)...6 { slots.set(pid, UInt64(pid) * 10) }
        #expect((1...6).map { slots.get(Int32($0)) } == [10, 20, 30, 40, 50, 60])
        #expect(slots.remove(2) == 20 && slots.get(2) == nil)
        slots.set(6, 61)                            // stays where it is, not in the freed slot
        #expect(slots.remove(6) == 61 && slots.get(6) == nil)
        slots.set(-1, 7)                            // pid -1 (no pid field) is a pid like any other
        #expect(slots.get(-1) == 7 && slots.get(Int32.min + 1) == nil)
    }

    @Test func markerParsing() {
        let m = DaemonMarker(text: "odt1 done open msg=3 oid=2 fd=7 res=-2")
        #expect(m == DaemonMarker(stage: .done, request: .open, msgID: 3, objectID: 2, fd: 7, result: -2))
        #expect(DaemonMarker(text: "odt1 fault read msg=1 oid=1 fault=never-answer")?.fault == "never-answer")
        #expect(DaemonMarker(text: "hello odt1 pickup read msg=1 oid=1") == nil)
        #expect(DaemonMarker(text: "odt1 pickup read oid=1") == nil)
    }
}

/// `consume(_: ArraySlice<OndemandRecord>)` updates the states of known objects in runs, and
/// leaves the run for a record of a new object: cut anywhere, a random trace (objects appearing
/// mid-batch, records without an obj, time going backwards) gives what one record at a time gives.
@Suite struct CorrelatorBatchTests {
    static func randomRecords(_ rng: inout SplitMix64, count: Int) -> [OndemandRecord] {
        var records: [OndemandRecord] = []
        var t: UInt64 = 1_000_000
        for _ in 0..<count {
            t = rng.next() % 16 == 0 ? t - min(t, rng.next() % 5_000) : t + rng.next() % 20_000
            let obj: UInt32? = rng.next() % 40 == 0 ? nil : UInt32(rng.next() % 12)
            let pid = Int32(100 + rng.next() % 4)
            let start = Int64(rng.next() % 8) * 4096
            let event: OndemandEvent
            switch rng.next() % 8 {
            case 0: event = .open(.init(obj: obj, msgID: 0, objectID: 0, fd: UInt32(rng.next() % 3), flags: 0))
            case 1: event = .copen(.init(obj: obj, msgID: UInt32(rng.next() % 50), len: 1 << 20))
            case 2, 3: event = .read(.init(obj: obj, msgID: 0, objectID: 0, start: start, len: 4096))
            case 4, 5: event = .fdWrite(.init(obj: obj, backer: 7, start: start, len: 4096))
            case 6: event = .cread(.init(obj: obj, msgID: UInt32(rng.next() % 50)))
            default: event = rng.next() % 2 == 0 ? .close(.init(obj: obj, msgID: 0, objectID: 0))
                                                 : .fdRelease(.init(obj: obj, objectID: UInt32(rng.next() % 3)))
            }
            records.append(OndemandRecord(timestamp: t, cpu: 0, pid: pid, event: event))
        }
        return records
    }

    static func run(_ records: [OndemandRecord], cuts: [Int]?) -> EventScript.Result {
        var requests: [RequestRecord] = []
        var anomalies: [Anomaly] = []
        let c = Correlator(onRequest: { requests.append($0) }, onAnomaly: { anomalies.append($0) })
        for pid: Int32 in 100..<104 { c.nameTask(pid, "task\(pid)") }
        if let cuts {
            var start = 0
            for end in cuts + [records.count] where end >= start {
                c.consume(records[start..<end])
                start = end
            }
        } else {
            for r in records { c.consume(r) }
        }
        return EventScript.Result(requests: requests, anomalies: anomalies, objects: c.finish())
    }

    @Test(arguments: 0..<8)
    func batchesGiveWhatRecordsOneAtATimeGive(round: Int) {
        let seed = UInt64(round) &* 0x5DEE_CE66 &+ 15
        var rng = SplitMix64(seed: seed)
        let records = Self.randomRecords(&rng, count: 600)
        let cuts = (0..<Int(rng.next() % 20)).map { _ in Int(rng.next() % 601) }.sorted()
        let one = Self.run(records, cuts: nil), batched = Self.run(records, cuts: cuts)
        #expect(one.requests.count > 50 && one.anomalies.contains { $0.kind == .timeWentBackwards }, "seed \(seed)")
        #expect(batched.requests == one.requests, "seed \(seed)")
        #expect(batched.anomalies == one.anomalies, "seed \(seed)")
        #expect(batched.objects == one.objects, "seed \(seed)")
    }
}
