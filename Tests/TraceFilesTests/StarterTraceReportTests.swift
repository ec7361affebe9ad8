import Testing
import OndemandTraceCore
@testable import TraceFiles

/// The report on the real starter trace (Linux 6.12.117, one object, 22 READs, single-threaded
/// daemon that answered every third READ 1-3 ms late), checked against what the daemon logged
/// and against latencies computed here straight from the raw records.
@Suite(.serialized) struct StarterTraceReportTests {
    static let samples = String(#filePath.split(separator: "/", omittingEmptySubsequences: false)
        .dropLast(3).joined(separator: "/")) + "/SampleTraces/"
    static let dat = samples + "starter-6.12.dat"
    static let txt = samples + "starter-6.12.txt"

    struct Run {
        var model: ReportModel
        var requests: [RequestRecord]
        var reads: [RequestRecord] { requests.filter { $0.kind == .read } }
    }

    static func report(_ path: String, filter: ReportFilter = ReportFilter()) throws -> Run {
        var requests: [RequestRecord] = []
        let (model, _) = try TraceReport.build(path: path, filter: filter, requestObserver: { requests.append($0) })
        return Run(model: model, requests: requests)
    }

    /// daemon.log: `READ  mid=3 oid=1 off=2101248 len=4096 (small)` → (offset, length) → msg_id.
    static func daemonLogReads() throws -> [Pair: UInt32] {
        let text = try readText(samples + "starter-6.12.daemon.log")
        var reads: [Pair: UInt32] = [:]
        for line in text.split(separator: "\n") where line.contains("] READ ") {
            let f = fields(line)
            reads[Pair(Int64(f["off"]!)!, UInt64(f["len"]!)!)] = UInt32(f["mid"]!)!
        }
        return reads
    }

    static func readText(_ path: String) throws -> String {
        let file = try MappedFile(path: path)
        return withExtendedLifetime(file) { String(decoding: file.bytes, as: UTF8.self) }
    }

    struct Pair: Hashable { var offset: Int64; var length: UInt64; init(_ o: Int64, _ l: UInt64) { (offset, length) = (o, l) } }

    static func fields(_ line: Substring) -> [String: String] {
        var out: [String: String] = [:]
        for part in line.split(separator: " ") {
            let kv = part.split(separator: "=", maxSplits: 1)
            if kv.count == 2 { out[String(kv[0])] = String(kv[1]) }
        }
        return out
    }

    /// Latency in ns of each msg_id, from raw trace.txt lines: the read record with the daemon's
    /// (off, len) for that msg_id, to the cread record with that msg_id. No correlator involved.
    static func handLatenciesFromText() throws -> [UInt32: UInt64] {
        let text = try readText(txt)
        let byRange = try daemonLogReads()
        var issued: [UInt32: UInt64] = [:], answered: [UInt32: UInt64] = [:]
        for line in text.split(separator: "\n") {
            let tokens = line.split(separator: " ")
            guard let i = tokens.firstIndex(where: { $0.hasPrefix("cachefiles_ondemand_") }), i > 0 else { continue }
            let parts = tokens[i - 1].dropLast().split(separator: ".")   // "4.409061:"
            let ns = UInt64(parts[0])! * 1_000_000_000 + UInt64(parts[1])! * 1000
            let f = fields(line)
            if tokens[i] == "cachefiles_ondemand_read:" {
                let msg = byRange[Pair(Int64(f["s"]!, radix: 16)!, UInt64(f["l"]!, radix: 16)!)]!
                issued[msg] = ns
            } else if tokens[i] == "cachefiles_ondemand_cread:" {
                answered[UInt32(f["mid"]!, radix: 16)!] = ns   // cread prints mid=%x
            }
        }
        return answered.reduce(into: [:]) { out, a in out[a.key] = a.value - issued[a.key]! }
    }

    /// The same from trace.dat's decoded records (decoding only, no correlator).
    static func handLatenciesFromDat() throws -> [UInt32: UInt64] {
        let byRange = try daemonLogReads()
        var issued: [UInt32: UInt64] = [:], answered: [UInt32: UInt64] = [:]
        _ = try TraceInput.read(path: dat, selection: .ondemand) { item in
            guard case .event(let e) = item, case .ondemand(let o) = e.body else { return }
            if case .read(let r) = o { issued[byRange[Pair(r.start!, r.len!)]!] = e.timestamp }
            if case .cread(let c) = o { answered[c.msgID!] = e.timestamp }
        }
        return answered.reduce(into: [:]) { out, a in out[a.key] = a.value - issued[a.key]! }
    }

    /// p50 by HdrHistogram's rank definition: the ceil(n/2)-th smallest; max the largest.
    static func p50AndMax(_ latencies: [UInt32: UInt64]) -> (p50: Double, max: Double) {
        let sorted = latencies.values.sorted()
        return (Double(sorted[(sorted.count + 1) / 2 - 1]) / 1000, Double(sorted.last!) / 1000)
    }

    @Test(arguments: [dat, txt])
    func everyReadGetsTheMsgIDTheDaemonLogged(path: String) throws {
        let run = try Self.report(path)
        let expected = try Self.daemonLogReads()
        #expect(expected.count == 22)
        #expect(run.reads.count == 22)
        for r in run.reads {
            #expect(r.isCompleted)
            #expect(r.msgID == expected[Pair(r.offset!, r.length!)], "read \(r.offset!)+\(r.length!)")
        }
        let s = run.model.stats
        #expect(s.reads.count == 22 && s.reads.matched == 22 && s.reads.bytes == 2_117_632)
        #expect(s.opens.count == 1 && s.opens.matched == 1)
        #expect(run.model.anomalyTotal == 0)
        #expect(run.model.objects.count == 1)
        let o = run.model.objects[0]
        #expect(o.obj == 1 && o.objectID == 1 && o.size == 2_117_632 && o.bytesWritten == 2_117_632 && o.readsCompleted == 22)
        #expect(o.lastClose != nil && o.lastFdRelease != nil && o.reopens == 0)
    }

    @Test func textLatenciesEqualAHandComputation() throws {
        let hand = try Self.handLatenciesFromText()
        #expect(hand.count == 22)
        let (p50, max) = Self.p50AndMax(hand)
        let summary = try Self.report(Self.txt).model.stats.reads.latency.summary
        #expect(summary.p50Microseconds == p50)
        #expect(summary.maxMicroseconds == max)
        // The slowest: msg 6, read s=d000 l=10000 at 4.437515, cread mid=6 at 4.445999.
        #expect(max == 8484.0)
    }

    @Test func datLatenciesEqualAHandComputation() throws {
        let hand = try Self.handLatenciesFromDat()
        let (p50, max) = Self.p50AndMax(hand)
        let run = try Self.report(Self.dat)
        let summary = run.model.stats.reads.latency.summary
        #expect(summary.p50Microseconds == p50)
        #expect(summary.maxMicroseconds == max)
        for r in run.reads { #expect(r.latency == hand[r.msgID!]) }
    }

    /// trace.dat and trace.txt were taken with different clocks: same joins, latencies within 1%.
    @Test func datAndTextAgree() throws {
        let a = try Self.report(Self.dat), b = try Self.report(Self.txt)
        let byMsg = Dictionary(uniqueKeysWithValues: b.reads.map { ($0.msgID!, $0) })
        for r in a.reads {
            let t = try #require(byMsg[r.msgID!])
            #expect((r.offset, r.length, r.pid, r.comm) == (t.offset, t.length, t.pid, t.comm))
            let (x, y) = (Double(r.latency!), Double(t.latency!))
            #expect(abs(x - y) <= 0.01 * max(x, y), "msg \(r.msgID!): \(x) vs \(y) ns")
        }
        #expect(a.model.stats.anomalyCounts == b.model.stats.anomalyCounts)
    }

    @Test func filters() throws {
        let byComm = try Self.report(Self.dat, filter: ReportFilter(comm: "md5sum"))
        #expect(byComm.model.stats.reads.count == 21 && byComm.model.stats.opens.count == 0)
        let byPid = try Self.report(Self.dat, filter: ReportFilter(pid: 123))
        #expect(byPid.model.stats.reads.count == 2)
        // The first four READs were issued before 4.437 s (trace.dat clock).
        let early = try Self.report(Self.dat, filter: ReportFilter(until: 4_437_000_000))
        #expect(early.model.stats.reads.count == 5 && early.model.stats.opens.count == 1)
        let none = try Self.report(Self.dat, filter: ReportFilter(obj: 2))
        #expect(none.model.stats.reads.count == 0 && none.model.objects.isEmpty)
    }
}
