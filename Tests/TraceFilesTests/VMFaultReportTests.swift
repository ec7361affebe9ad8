import Testing
import OndemandTraceCore
@testable import TraceFiles

/// The report on traces the VM harness recorded with our daemon and its injected faults
/// (SampleTraces/README.md): each fault must show up as exactly the anomalies and the latency
/// shift it causes, and nothing else.
@Suite(.serialized) struct VMFaultReportTests {
    static func path(_ name: String) -> String { StarterTraceReportTests.samples + name }

    static func report(_ name: String) throws -> StarterTraceReportTests.Run {
        try StarterTraceReportTests.report(path(name))
    }

    /// msg_id of each READ by (offset, length), from the daemon's `odt1 pickup read` markers,
    /// parsed here from the raw text.
    static func pickupMsgIDs(_ name: String) throws -> [StarterTraceReportTests.Pair: UInt32] {
        var out: [StarterTraceReportTests.Pair: UInt32] = [:]
        for line in try StarterTraceReportTests.readText(path(name)).split(separator: "\n") where line.contains("odt1 pickup read ") {
            let f = StarterTraceReportTests.fields(line)
            out[.init(Int64(f["off"]!)!, UInt64(f["len"]!)!)] = UInt32(f["msg"]!)!
        }
        return out
    }

    @Test func plainRunIsJoinedExactlyByMarkers() throws {
        let run = try Self.report("vm-plain-6.12.txt")
        let s = run.model.stats
        #expect(s.anomalyCounts.isEmpty)
        #expect(s.reads.count == 49 && s.reads.matched == 49 && s.reads.bytes == 2_523_136)
        #expect(s.joins == [.marker: 49])
        let picked = try Self.pickupMsgIDs("vm-plain-6.12.txt")
        #expect(picked.count == 49)
        for r in run.reads { #expect(r.msgID == picked[.init(r.offset!, r.length!)]) }
        #expect(s.stages.keys.sorted { $0.rawValue < $1.rawValue } == [.completed, .queued, .served])
        #expect(s.stages.values.allSatisfy { $0.count == 49 })
        // The stages add up to the round trip of each request.
        for r in run.reads { #expect(r.stages.reduce(0) { $0 + $1.nanoseconds } == r.latency) }
        #expect(s.opens.matched == 1 && run.model.objects.count == 1 && run.model.objects[0].reopens == 0)
    }

    @Test func delayedRunShiftsEveryReadByTheInjectedDelay() throws {
        let plain = try Self.report("vm-plain-6.12.txt").model.stats
        let delayed = try Self.report("vm-delay10ms-6.12.txt")
        let s = delayed.model.stats
        #expect(s.anomalyCounts.isEmpty)
        #expect(s.reads.matched == 49 && s.joins == [.marker: 49])
        #expect(delayed.model.faults == ["delay": 49])
        // Every READ waited 10 ms before its data was written: the served stage holds the delay.
        #expect(s.reads.latency.minNanoseconds >= 10_000_000)
        #expect(s.stages[.served]!.minNanoseconds >= 10_000_000)
        #expect(s.reads.latency.percentileNanoseconds(50) >= plain.reads.latency.percentileNanoseconds(50) + 10_000_000)
        #expect(plain.stages[.served]!.minNanoseconds < 10_000_000)
    }

    /// The daemon answered the OPEN with -EIO (its marker says so; the kernel traces no copen
    /// for an error): answered, with EIO, not "never answered" (issue 28).
    @Test func refusedOpenIsAnsweredWithItsErrno() throws {
        let run = try Self.report("vm-open-eio-6.12.txt")
        let s = run.model.stats
        #expect(s.anomalyCounts == [.openFailed: 1])
        #expect(s.anomalies[0].detail == "open fd=9: the daemon answered EIO (Input/output error)")
        #expect(s.opens.count == 1 && s.opens.matched == 1 && s.opens.unmatched == 0 && s.reads.count == 0)
        // Answered at the daemon's `done` marker (21.553269), issued at the OPEN (21.505183).
        let open = try #require(run.requests.first { $0.kind == .open })
        #expect(open.completed == 21_553_269_000 && open.issued == 21_505_183_000 && open.join == .marker)
        #expect(run.model.faults == ["open-error": 1])
    }

    /// A failover that worked is no anomaly (issue 28: `check`'s anomalies=0 made it a
    /// regression): the object re-opened by the new daemon has a new id (2), and the fd_release
    /// with it is no id_mismatch; the READ the dead daemon had taken when its fd was released was
    /// answered by the new one, so that release left nothing unanswered.
    @Test func aFailoverThatWorkedIsNoAnomaly() throws {
        let run = try Self.report("vm-failover-restore-6.12.txt")
        let s = run.model.stats
        #expect(s.anomalyCounts.isEmpty, "\(s.anomalies.map(\.detail))")
        #expect(run.model.objects.map(\.objectID) == [2] && run.model.objects.map(\.opens) == [2])
        #expect(s.reads.matched == 49 && s.opens.matched == 2)
    }

    @Test func daemonExitLeavesExactlyTheFifthReadUnanswered() throws {
        let run = try Self.report("vm-daemon-exit-6.12.txt")
        let s = run.model.stats
        #expect(s.anomalyCounts == [.readNeverCompleted: 1, .fdReleaseWithOutstandingReads: 1])
        let unanswered = run.reads.filter { !$0.isCompleted }
        #expect(unanswered.count == 1 && unanswered[0].offset == 163_840 && unanswered[0].length == 4096)
        #expect(unanswered[0].msgID == 5)  // from the daemon's pickup marker
        #expect(s.reads.matched == 4 && run.reads.filter(\.isCompleted).compactMap(\.msgID).sorted() == [1, 2, 3, 4])
        #expect(run.model.faults == ["exit": 1])
    }

    /// A trace.dat written by `ondemand-trace record` (v6, uncompressed: read page by page).
    @Test func recordedTraceDat() throws {
        let run = try Self.report("record-6.12.dat")
        let s = run.model.stats
        #expect(s.anomalyCounts.isEmpty)
        #expect(s.reads.count == 49 && s.reads.matched == 49 && s.joins == [.marker: 49])
        #expect(run.model.markersSeen == 151)
    }
}
