import Testing
import TestSupport
import OndemandTraceCore
@testable import TraceFiles

/// The reader thread must hand over exactly the items `read` does, in order, and pass errors on.
@Suite(.serialized) struct ConcurrentReadTests {
    static func events(_ path: String, concurrent: Bool, batchSize: Int = 7) throws -> ([TraceEvent], ReadSummary) {
        var events: [TraceEvent] = []
        let body: (TraceItem) throws -> Void = { if case .event(let e) = $0 { events.append(e) } }
        let summary = concurrent
            ? try TraceInput.readConcurrently(path: path, selection: .all, batchSize: batchSize, depth: 2, body)
            : try TraceInput.read(path: path, selection: .all, body)
        return (events, summary)
    }

    @Test(arguments: [StarterTraceReportTests.dat, StarterTraceReportTests.txt])
    func sameItemsInTheSameOrder(path: String) throws {
        let (a, sa) = try Self.events(path, concurrent: false)
        let (b, sb) = try Self.events(path, concurrent: true)
        #expect(a.count > 1000 && a == b && sa == sb)
    }

    /// The batches, taken apart: each on-demand record with the name its pid was given.
    static func batchedEvents(_ path: String, selection: EventSelection = .all, batchSize: Int) throws
        -> ([TraceEvent], ReadSummary, Int, ties: Int) {
        var events: [TraceEvent] = []
        var names: [Int32: String?] = [:]
        var records = 0, tieCount = 0
        let summary = try TraceInput.readBatches(path: path, selection: selection, batchSize: batchSize, depth: 2) { batch in
            for (pid, comm) in batch.names {
                #expect(names[pid] == nil, "pid \(pid) named twice")
                names[pid] = comm
            }
            batch.forEach(records: { run in
                records += run.count
                for r in run { events.append(r.traceEvent(comm: names[r.pid] ?? nil)) }
            }, ties: { run in
                tieCount += run.count
                for t in run { events.append(t.traceEvent(comm: names[t.pid] ?? nil)) }
            }, markers: { run, _ in
                Issue.record("\(run.count) marker record(s) from a reader not asked for them")
            }, item: { if case .event(let e) = $0 { events.append(e) } })
        }
        return (events, summary, records, tieCount)
    }

    /// What a report sees of a trace, markers compared by what `DaemonMarker` reads of them.
    enum Seen: Equatable {
        case event(TraceEvent)
        case marker(timestamp: UInt64, cpu: Int32, DaemonMarker)

        init(_ event: TraceEvent) {
            if case .marker(let m) = event.body, let marker = DaemonMarker(text: m.text) {
                self = .marker(timestamp: event.timestamp, cpu: event.cpu, marker)
            } else {
                self = .event(event)
            }
        }
    }

    /// With `markerRecords`, our daemon's markers come as `MarkerRecord`s whose bytes parse as
    /// `DaemonMarker(text:)` parses the text `read` gives, at their places among the on-demand
    /// records and ties however the batches fall; the summary is the same.
    @Test(arguments: [1, 2, 3, 7, 4096])
    func markersComeParsedInTheirPlaces(batchSize: Int) throws {
        let path = StarterTraceReportTests.samples + "record-6.12.dat"
        var a: [Seen] = []
        let sa = try TraceInput.read(path: path, selection: .report) { if case .event(let e) = $0 { a.append(Seen(e)) } }
        var b: [Seen] = []
        var names: [Int32: String?] = [:]
        var parsed = 0
        let sb = try TraceInput.readBatches(path: path, selection: .report, batchSize: batchSize, depth: 2,
                                            markerRecords: true) { batch in
            for (pid, comm) in batch.names { names[pid] = comm }
            batch.forEach(records: { run in
                for r in run { b.append(.event(r.traceEvent(comm: names[r.pid] ?? nil))) }
            }, ties: { run in
                for t in run { b.append(.event(t.traceEvent(comm: names[t.pid] ?? nil))) }
            }, markers: { run, text in
                parsed += run.count
                text.withUnsafeBytes { buffer in
                    for m in run {
                        guard let marker = DaemonMarker(bytes: m.text(in: buffer)) else {
                            Issue.record("a marker record that does not parse: \(m.traceEvent(text: buffer, comm: nil))")
                            continue
                        }
                        b.append(.marker(timestamp: m.timestamp, cpu: m.cpu, marker))
                    }
                }
            }, item: { if case .event(let e) = $0 { b.append(.event(e)) } })
        }
        #expect(a == b && sa == sb)
        // 151 on-demand events, 101 ties (see `tiesComeAsTheGenericDecoderGivesThem`), 151 markers.
        #expect(parsed == 151 && a.count == 151 + 101 + 151)
    }

    /// A trace.dat's on-demand events come as plain records, the rest as items, in trace order
    /// and with the same task names as `read` gives them; a text trace comes as items only.
    /// (starter: zstd, read through libtracecmd; record: its pages walked directly.)
    @Test(arguments: [(StarterTraceReportTests.dat, 1), (StarterTraceReportTests.dat, 7), (StarterTraceReportTests.txt, 7),
                      (StarterTraceReportTests.samples + "record-6.12.dat", 3)])
    func batchesHoldTheSameEventsInTheSameOrder(path: String, batchSize: Int) throws {
        let (a, sa) = try Self.events(path, concurrent: false)
        let (b, sb, records, ties) = try Self.batchedEvents(path, batchSize: batchSize)
        #expect(a.count > 1000 && a == b && sa == sb)
        let ondemand = a.filter { if case .ondemand = $0.body { return true } else { return false } }.count
        #expect(ondemand >= 70 && records == (path.hasSuffix(".dat") ? ondemand : 0) && ties == 0)
    }

    /// With the report's selection, a trace.dat's refs, prep_reads and reads come as plain tie
    /// records (`TieRecord`): the same fields and task names as `read` decodes them generically,
    /// in trace order among the on-demand records and the markers, however the batches fall.
    @Test(arguments: [1, 2, 3, 7, 4096])
    func tiesComeAsTheGenericDecoderGivesThem(batchSize: Int) throws {
        let path = StarterTraceReportTests.samples + "record-6.12.dat"
        var a: [TraceEvent] = []
        let sa = try TraceInput.read(path: path, selection: .report) { if case .event(let e) = $0 { a.append(e) } }
        let (b, sb, records, ties) = try Self.batchedEvents(path, selection: .report, batchSize: batchSize)
        #expect(a == b && sa == sb)
        let generic = a.filter { if case .generic(let g) = $0.body { return TieRecord.Kind(eventName: g.name) != nil } else { return false } }
        // 49 prep_reads, 49 reads, the object's NEW obj, GET ondemand_fd and SEE lookup_cookie refs.
        #expect(records == 151 && ties == 101 && generic.count == ties)
        #expect(a.contains { if case .marker = $0.body { return true } else { return false } })
    }

    struct Stop: Error {}

    @Test func anErrorFromTheConsumerStopsTheReader() throws {
        var seen = 0
        #expect(throws: Stop.self) {
            _ = try TraceInput.readConcurrently(path: StarterTraceReportTests.dat, selection: .all, batchSize: 5, depth: 1) { _ in
                seen += 1
                if seen == 12 { throw Stop() }
            }
        }
        #expect(seen == 12)
    }

    /// A READ record shorter than its format says (here the format's `len` moved past the record)
    /// ends the batched read with the file's error, as the generic read; the records handed over
    /// before it are whole (the one that failed was not added, half decoded, to its batch).
    /// Every READ fails here, so only records of other kinds may have been handed over.
    @Test(arguments: [1, 3, 4096])
    func aShortOndemandRecordEndsTheBatchedReadWithTheFilesError(batchSize: Int) throws {
        var bytes = try Fixtures.bytes(StarterTraceReportTests.samples + "record-6.12.dat")
        let field = Array("field:size_t len;\toffset:32;".utf8), moved = Array("field:size_t len;\toffset:92;".utf8)
        let at = try #require((0...(bytes.count - field.count)).first { bytes[$0..<($0 + field.count)].elementsEqual(field) })
        bytes.replaceSubrange(at..<(at + field.count), with: moved)
        let scratch = try TemporaryDirectory("short")
        let path = scratch.path + "/short-read.dat"
        try Fixtures.write(bytes, to: path)
        var handed = 0  // the OPEN and copen before the first READ
        let error = #expect(throws: TraceFileError.self) {
            _ = try TraceInput.readBatches(path: path, selection: .report, batchSize: batchSize, depth: 2, markerRecords: true) { batch in
                batch.forEach(records: { run in
                    for r in run {
                        handed += 1
                        if case .read = r.event { Issue.record("a READ handed over: \(r)") }
                        #expect(r.event.obj != nil, "a record handed over before its event was decoded: \(r)")
                    }
                }, ties: { _ in }, markers: { _, _ in }, item: { _ in })
            }
        }
        #expect(error?.description.contains("cachefiles_ondemand_read") == true && error?.description.contains(path) == true,
                "\(String(describing: error))")
        let generic = #expect(throws: TraceFileError.self) { _ = try TraceInput.read(path: path, selection: .report) { _ in } }
        #expect(generic?.description == error?.description && handed > 0)
    }

    @Test func aReaderErrorIsThrown() throws {
        #expect(throws: TraceFileError.self) {
            _ = try TraceInput.readConcurrently(path: "/nonexistent/trace.dat", selection: .all) { _ in }
        }
    }
}
