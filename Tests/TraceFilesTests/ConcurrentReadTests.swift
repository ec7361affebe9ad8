import Testing
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

    @Test func aReaderErrorIsThrown() throws {
        #expect(throws: TraceFileError.self) {
            _ = try TraceInput.readConcurrently(path: "/nonexistent/trace.dat", selection: .all) { _ in }
        }
    }
}
