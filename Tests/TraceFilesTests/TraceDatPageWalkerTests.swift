import Foundation
import Testing
import TestSupport
import OndemandTraceCore
import TraceDatFormat
@testable import TraceFiles

/// The direct page reader must hand over exactly what libtracecmd does. The sample trace is
/// zstd-compressed (read by libtracecmd only), so the test converts it to an uncompressed v6
/// file with `trace-cmd convert` (scripts/install-deps installs trace-cmd) and reads that both ways.
@Suite(.serialized) struct TraceDatPageWalkerTests {
    static let lostEvents = String(StarterTraceReportTests.samples.dropLast("SampleTraces/".count)) + "Tests/Fixtures/generated-lost-events.dat"

    struct Item: Equatable { var event: TraceEvent?; var lost: String? }

    static func items(_ path: String, direct: Bool, selection: EventSelection = .all) throws -> (items: [Item], summary: ReadSummary) {
        let file = try MappedFile(path: path)
        let structure = try TraceDatStructure.parse(file.bytes, path: path)
        var items: [Item] = []
        let summary = try TraceDatReader.read(path: path, structure: structure, file: direct ? file : nil, selection: selection) { item in
            switch item {
            case .event(let e): items.append(Item(event: e))
            case let .lost(cpu, count, t): items.append(Item(lost: "\(cpu) \(String(describing: count)) \(t)"))
            }
        }
        return (items, summary)
    }

    @Test func directPagesEqualLibtracecmd() throws {
        let scratch = try TemporaryDirectory("v6")
        let path = try Fixtures.version6(of: StarterTraceReportTests.dat, in: scratch)
        let direct = try Self.items(path, direct: true)
        let library = try Self.items(path, direct: false)
        #expect(direct.items.count == library.items.count && direct.items.count > 1000)
        #expect(direct.items == library.items)
        #expect(direct.summary == library.summary)
        #expect(direct.summary.recordsSeen == 1324 && direct.summary.ondemandEvents == 70)
        // And the same events as the compressed original.
        let original = try Self.items(StarterTraceReportTests.dat, direct: true)
        #expect(original.items == direct.items)
    }

    /// Pages flagged "events lost before this page", with stored counts: both readers report
    /// the same drops at the same places.
    @Test func lostEventsAgreeWithLibtracecmd() throws {
        let scratch = try TemporaryDirectory("v6")
        let path = try Fixtures.version6(of: Self.lostEvents, in: scratch)
        let direct = try Self.items(path, direct: true)
        let library = try Self.items(Self.lostEvents, direct: false)
        #expect(direct.items == library.items)
        #expect(direct.summary.lostEvents == library.summary.lostEvents)
        let drops = direct.items.filter { $0.lost != nil }.count
        #expect(drops > 5 && direct.summary.lostEvents.values.reduce(0, +) > Int64(drops))
    }

    /// The direct walk passes over the records its selection skips or masks (`skipTable`) without
    /// handing them to the decoding; the events, lost-event items and counts stay libtracecmd's:
    /// the report's selection (refs dropped by reason), the names pass, markers only; on the
    /// starter trace, the lost-events fixture (records after a drop are never passed over) and
    /// a recording of `record`.
    @Test(arguments: [EventSelection.report, .names, .markers, .ondemand])
    func skippedRecordsAreCountedAndTheRestHandedOver(selection: EventSelection) throws {
        let scratch = try TemporaryDirectory("v6")
        for original in [StarterTraceReportTests.dat, Self.lostEvents, StarterTraceReportTests.samples + "record-6.12.dat"] {
            let path = original.hasSuffix("record-6.12.dat") ? original : try Fixtures.version6(of: original, in: scratch)
            let direct = try Self.items(path, direct: true, selection: selection)
            let library = try Self.items(path, direct: false, selection: selection)
            #expect(direct.items == library.items, "\(original)")
            #expect(direct.summary == library.summary, "\(original)")
            #expect(direct.summary.recordsSeen > direct.summary.eventsDelivered + 200, "\(original)")
        }
    }

    @Test func reportCountsEachDropAsAnAnomaly() throws {
        let run = try StarterTraceReportTests.report(Self.lostEvents)
        let drops = try Self.items(Self.lostEvents, direct: false).items.filter { $0.lost != nil }.count
        #expect(run.model.stats.anomalyCounts == [.lostEvents: drops])
        #expect(run.model.lost.total == run.model.lost.byCPU.values.reduce(0, +) && run.model.lost.total > 0)
        #expect(run.model.stats.reads.count == 400 && run.model.stats.reads.matched == 400)
    }

    @Test func walkerReadsEveryRecordInTimeOrder() throws {
        let scratch = try TemporaryDirectory("v6")
        let path = try Fixtures.version6(of: StarterTraceReportTests.dat, in: scratch)
        let file = try MappedFile(path: path)
        let structure = try TraceDatStructure.parse(file.bytes, path: path)
        var walker = TraceDatPageWalker(file: file.bytes, cpuData: structure.cpuData.map { ($0.cpu, Int($0.offset), Int($0.size)) },
                                      pageSize: structure.pageSize, commitSize: 8)
        var count = 0, last: UInt64 = 0, ordered = true
        try walker.forEach { r in
            count += 1
            ordered = ordered && r.timestamp >= last
            last = r.timestamp
            return true
        }
        #expect(count == 1324 && ordered)
    }
}
