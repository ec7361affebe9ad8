#if canImport(Glibc)
import Glibc
#endif
import Testing
import OndemandTraceCore
import TestSupport
@testable import TraceFiles

/// Each anomaly on the real starter trace, made by the one edit of its text that reproduces what
/// the fault leaves in a recording (a record that never came, or one the kernel adds). Every
/// other record stays as recorded, so the test also shows that nothing else is disturbed.
@Suite(.serialized) struct StarterTraceAnomalyTests {
    static func lines() throws -> [Substring] {
        try StarterTraceReportTests.readText(StarterTraceReportTests.txt).split(separator: "\n", omittingEmptySubsequences: false)
    }

    /// Writes the edited trace to a temporary file and reports on it.
    static func report(_ edit: (inout [Substring]) throws -> Void) throws -> StarterTraceReportTests.Run {
        var text = try lines()
        try edit(&text)
        let scratch = try TemporaryDirectory("anomaly")
        let path = scratch.path + "/trace.txt"
        try Fixtures.write(Array(text.joined(separator: "\n").utf8), to: path)
        return try StarterTraceReportTests.report(path)
    }

    static func remove(_ needle: String, from text: inout [Substring]) throws {
        let hits = text.indices.filter { text[$0].hasSuffix(needle) }
        try #require(hits.count == 1, "\(needle): \(hits.count) lines")
        text.remove(at: hits[0])
    }

    /// Inserts `line` after the record whose line ends with `needle`.
    static func insert(_ line: String, after needle: String, in text: inout [Substring]) throws {
        let i = try #require(text.firstIndex { $0.hasSuffix(needle) })
        text.insert(Substring(line), at: i + 1)
    }

    static func counts(_ run: StarterTraceReportTests.Run) -> [Anomaly.Kind: Int] { run.model.stats.anomalyCounts }

    @Test func daemonNeverAnswersOneRead() throws {
        let run = try Self.report { try Self.remove("cachefiles_ondemand_cread: o=00000001 mid=5", from: &$0) }
        #expect(Self.counts(run) == [.readNeverCompleted: 1, .fdReleaseWithOutstandingReads: 1])
        let unanswered = run.reads.filter { !$0.isCompleted }
        #expect(unanswered.map(\.offset) == [2_105_344])     // msg 5 in daemon.log
        #expect(run.model.stats.reads.matched == 21)
        #expect(run.model.stats.anomalies.first { $0.kind == .readNeverCompleted }!.detail.contains("before the fd was released"))
        // The other 21 keep their msg_ids.
        let expected = try StarterTraceReportTests.daemonLogReads()
        for r in run.reads where r.isCompleted { #expect(r.msgID == expected[.init(r.offset!, r.length!)]) }
    }

    @Test func openAnsweredWithAnError() throws {
        // `copen 0,-ENOENT` leaves no copen record.
        let run = try Self.report { try Self.remove("cachefiles_ondemand_copen: o=00000001 mid=0 l=205000", from: &$0) }
        #expect(Self.counts(run) == [.openNeverAnswered: 1])
        #expect(run.model.stats.opens.count == 1 && run.model.stats.opens.matched == 0)
    }

    @Test func creadWithoutRead() throws {
        // The READ of msg 3 lost from the recording: its write and cread must not take msg 4's READ.
        let run = try Self.report { try Self.remove("cachefiles_ondemand_read: o=00000001 mid=0 oid=0 s=201000 l=1000", from: &$0) }
        #expect(Self.counts(run) == [.creadWithoutRead: 1])
        #expect(run.model.stats.reads.count == 21 && run.model.stats.reads.matched == 21)
    }

    @Test func creadOfAnUnwrittenRange() throws {
        // The daemon completed msg 5 without writing its data (the reader gets EIO).
        let run = try Self.report { try Self.remove("cachefiles_ondemand_fd_write: o=00000001 iB=110 s=202000 l=3000", from: &$0) }
        #expect(Self.counts(run) == [.creadRangeNeverWritten: 1])
        #expect(run.reads.first { $0.offset == 2_105_344 }?.msgID == 5)
        #expect(run.model.stats.reads.matched == 22)
    }

    @Test func closedWithoutFdRelease() throws {
        let run = try Self.report { try Self.remove("cachefiles_ondemand_fd_release: o=00000001 oid=1", from: &$0) }
        #expect(Self.counts(run) == [.closedWithoutFdRelease: 1])
        #expect(run.model.objects[0].lastFdRelease == nil && run.model.objects[0].objectID == nil)
    }

    @Test func lostEvents() throws {
        let run = try Self.report {
            try Self.insert("CPU:1 [LOST 12 EVENTS]", after: "cachefiles_ondemand_cread: o=00000001 mid=4", in: &$0)
        }
        #expect(Self.counts(run) == [.lostEvents: 1])
        #expect(run.model.lost.total == 12 && run.model.lost.byCPU == [1: 12])
    }

    @Test func cachefilesErrorRecords() throws {
        let run = try Self.report {
            try Self.insert("        ondemand-117     [001] .....     4.436410: cachefiles_io_error: o=00000001 B=110 write e=-5",
                            after: "cachefiles_write: o=00000001 B=110 s=202000 l=3000", in: &$0)
            try Self.insert("        ondemand-117     [001] .....     4.436411: cachefiles_vfs_error: o=00000001 B=110 fallocate e=-28",
                            after: "cachefiles_io_error: o=00000001 B=110 write e=-5", in: &$0)
        }
        #expect(Self.counts(run) == [.ioError: 1, .vfsError: 1])
        let errors = run.model.stats.anomalies
        #expect(errors.map(\.obj) == [1, 1])
        #expect(errors[0].detail.contains("-5") && errors[1].detail.contains("-28"))
        #expect(run.model.stats.reads.matched == 22)
    }
}
