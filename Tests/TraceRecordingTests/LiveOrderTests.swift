import CTrace
import Foundation
import Testing
import OndemandTraceCore
import TestSupport
@testable import TraceFiles
@testable import TraceRecording

/// `record --live` must count what the file's report counts. The recorder reads each CPU's
/// ring buffer in turn, so a record written on CPU 0 just after CPU 0 was drained reaches it a
/// round later than a newer record of CPU 1 drained after it: without the watermark merge
/// (`LiveMerge`) a cread would come before its READ. These tests replay real recordings' records
/// through that merge and the live correlator under adversarial read schedules.
@Suite(.serialized) struct LiveOrderTests {
    static let samples = Fixtures.repo + "/SampleTraces/"
    /// What the recorder assumes (`WatermarkClock.commitMarginNS`): a record is in its page
    /// within this long of its time stamp.
    static let margin = WatermarkClock.commitMarginNS

    struct Recording {
        var layouts: [EventLayout]
        /// Per CPU, in the ring buffer's order.
        var perCPU: [[RawRecord]]
        var cpus: Int { perCPU.count }
        var all: [RawRecord] { perCPU.flatMap { $0 } }
    }

    /// The raw records of an uncompressed trace.dat, per CPU, with the layouts of its formats.
    static func recording(_ path: String) throws -> Recording {
        let file = try MappedFile(path: path)
        let structure = try TraceDatStructure.parse(file.bytes, path: path)
        let handle = try #require(tracecmd_open(path, TraceDatReader.openFlags))
        defer { tracecmd_close(handle) }
        let tep = try #require(tracecmd_get_tep(handle))
        let layouts = EventFormats.layouts(of: tep)
        var walker = RingBufferWalker(file: file.bytes, cpuData: structure.cpuData.map { ($0.cpu, Int($0.offset), Int($0.size)) },
                                      pageSize: structure.pageSize, commitSize: Int(tep_get_header_page_size(tep)))
        let cpus = (structure.cpuData.map(\.cpu).max() ?? 0) + 1
        var perCPU = Array(repeating: [RawRecord](), count: cpus)
        try walker.forEach { r in
            perCPU[Int(r.cpu)].append(RawRecord(cpu: r.cpu, timestamp: r.timestamp, bytes: Array(r.data), missedEvents: r.missedEvents))
            return true
        }
        return Recording(layouts: layouts, perCPU: perCPU)
    }

    /// A zstd v7 sample as an uncompressed v6 file (trace-cmd convert), removed by the caller.
    static func uncompressed(_ input: String) throws -> String {
        let out = NSTemporaryDirectory() + "odt-live-\(getpid())-\(input.split(separator: "/").last!)"
        let result = try TestSupport.Run.program("/usr/bin/trace-cmd", ["convert", "-i", input, "-o", out, "--file-version", "6", "--compression", "none"])
        try #require(result.status == 0, "trace-cmd convert failed: \(result.stderr)")
        return out
    }

    /// The report's figures for the same records: correlated in file order, then finished.
    struct Totals: Equatable, CustomStringConvertible {
        var reads = 0, readsAnswered = 0, readBytes: UInt64 = 0, opens = 0, opensAnswered = 0, anomalies = 0, records = 0, lost: Int64 = 0
        var description: String {
            "reads \(reads)/\(readsAnswered) answered, \(readBytes) B, opens \(opens)/\(opensAnswered), anomalies \(anomalies), records \(records), lost \(lost)"
        }

        init() {}

        init(windows: [LiveLatency.Window]) {
            for w in windows {
                reads += w.reads; readsAnswered += w.readsAnswered; readBytes += w.readBytes
                opens += w.opens; opensAnswered += w.opensAnswered; anomalies += w.anomalies
                records += w.records; lost += w.lost
            }
        }
    }

    static func report(_ path: String, records: Int) throws -> Totals {
        let (model, _) = try TraceReport.build(path: path)
        var totals = Totals()
        totals.reads = model.stats.reads.count
        totals.readsAnswered = model.stats.reads.matched
        totals.readBytes = model.stats.reads.bytes
        totals.opens = model.stats.opens.count
        totals.opensAnswered = model.stats.opens.matched
        totals.anomalies = model.stats.anomalyCounts.values.reduce(0, +)
        totals.records = records
        totals.lost = model.lost.total
        return totals
    }

    /// SplitMix64: a small generator whose seed is printed, so a failing schedule replays.
    struct Seeded: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// Replays the recorder's reading: rounds at random gaps (sometimes seconds: every CPU idle),
    /// the CPUs drained in a random order within a round, a random time apart; a drain returns
    /// the CPU's records whose write has committed (time stamp + a random delay below the margin),
    /// partial pages included; the CPU's watermark is the drain's start less the margin. Windows
    /// are taken at random rounds; the last one after the final drain, as `record` does.
    static func liveWindows(_ recording: Recording, rng: inout Seeded) -> [LiveLatency.Window] {
        let live = LiveLatency(layouts: recording.layouts)
        var merge = LiveMerge<RawRecord>(cpus: recording.cpus)
        var next = Array(repeating: 0, count: recording.cpus)
        let lag = recording.perCPU.map { records in records.map { _ in UInt64.random(in: 0..<margin / 2, using: &rng) } }
        let first = recording.all.map(\.timestamp).min() ?? 0
        var now = first > margin ? first - margin : 0
        var windows: [LiveLatency.Window] = []
        while next.indices.contains(where: { next[$0] < recording.perCPU[$0].count }) {
            switch UInt64.random(in: 0..<10, using: &rng) {
            case 0: now += UInt64.random(in: 500_000_000...3_000_000_000, using: &rng)  // long idle
            case 1...4: now += UInt64.random(in: 5_000_000...50_000_000, using: &rng)
            default: now += UInt64.random(in: 100_000...5_000_000, using: &rng)
            }
            var drainAt = now
            for cpu in (0..<recording.cpus).shuffled(using: &rng) {
                drainAt += UInt64.random(in: 0...3_000_000, using: &rng)
                let records = recording.perCPU[cpu]
                while next[cpu] < records.count, records[next[cpu]].timestamp + lag[cpu][next[cpu]] <= drainAt {
                    merge.append(cpu: cpu, timestamp: records[next[cpu]].timestamp, records[next[cpu]])
                    next[cpu] += 1
                }
                merge.advance(cpu: cpu, to: drainAt - margin)
            }
            now = drainAt
            var released: [RawRecord] = []
            merge.release { released.append($0) }
            live.consume(released)
            if Bool.random(using: &rng) { windows.append(live.takeWindow()) }
        }
        var rest: [RawRecord] = []
        merge.releaseAll { rest.append($0) }
        live.consume(rest)
        windows.append(live.finish())
        return windows
    }

    static func checkSchedules(_ path: String, schedules: Int = 40) throws {
        let recording = try recording(path)
        let expected = try report(path, records: recording.all.count)
        let seed = UInt64.random(in: 0...UInt64.max)
        print("LiveOrderTests: \(path.split(separator: "/").last!): seed \(seed), \(schedules) schedules, report: \(expected)")
        var rng = Seeded(state: seed)
        for schedule in 0..<schedules {
            let windows = liveWindows(recording, rng: &rng)
            let got = Totals(windows: windows)
            #expect(got == expected, "seed \(seed), schedule \(schedule): live \(got) vs report \(expected) in \(windows.count) windows")
            if got != expected { return }
        }
    }

    @Test func liveWindowsAddUpToTheReportOfARecorderFile() throws {
        // record-6.12.dat: 2 CPUs, daemon markers, 49 READs; written by `ondemand-trace record`.
        try Self.checkSchedules(Self.samples + "record-6.12.dat")
    }

    @Test func liveWindowsAddUpWithTwoReadersAndLostEventPages() throws {
        for sample in [Self.samples + "starter-6.12.dat", Fixtures.repo + "/Tests/Fixtures/generated-lost-events.dat"] {
            let path = try Self.uncompressed(sample)
            defer { unlink(path) }
            try Self.checkSchedules(path, schedules: 20)
        }
    }

    /// The case that made CI red: the cread's page (CPU 1) is read before the partial page that
    /// holds its READ (CPU 0). Sorting each drain's records is not enough; the merge holds the
    /// cread back until CPU 0 has been read past it.
    @Test func aCreadReadBeforeItsReadsPartialPageWaitsForIt() throws {
        let read = try LiveLatencyTests.record("cachefiles_ondemand_read", at: 1_000_000, ["obj": 1, "start": 0, "len": 4096])
        var write = try LiveLatencyTests.record("cachefiles_ondemand_fd_write", at: 1_300_000, ["obj": 1, "start": 0, "len": 4096])
        var cread = try LiveLatencyTests.record("cachefiles_ondemand_cread", at: 1_400_000, ["obj": 1, "msg_id": 7])
        (write.cpu, cread.cpu) = (1, 1)
        let layouts = DefaultFormats.layouts

        // Sorting each round (the old reader): round 1 drained CPU 0 before the READ was
        // written and CPU 1 after the cread was: the cread comes first.
        let sorted = LiveLatency(layouts: layouts)
        sorted.consume([write, cread])
        sorted.consume([read])
        let wrong = sorted.finish()
        // cread_without_read, time_went_backwards (the READ after it), read_never_completed
        #expect(wrong.readsAnswered == 0 && wrong.anomalies == 3)

        var merge = LiveMerge<RawRecord>(cpus: 2)
        let live = LiveLatency(layouts: layouts)
        var released: [RawRecord] = []
        merge.advance(cpu: 0, to: 900_000)    // CPU 0 drained at 0.9 ms: nothing yet
        merge.append(cpu: 1, timestamp: write.timestamp, write)
        merge.append(cpu: 1, timestamp: cread.timestamp, cread)
        merge.advance(cpu: 1, to: 1_500_000)  // CPU 1 drained at 1.5 ms: the data and the cread
        merge.release { released.append($0) }
        #expect(released.isEmpty && merge.pending == 2)
        merge.append(cpu: 0, timestamp: read.timestamp, read)
        merge.advance(cpu: 0, to: 2_000_000)  // the next round reads the READ's partial page
        merge.release { released.append($0) }
        #expect(released.map(\.timestamp) == [1_000_000, 1_300_000, 1_400_000])
        live.consume(released)
        let right = live.finish()
        #expect(right.reads == 1 && right.readsAnswered == 1 && right.anomalies == 0)
        #expect(right.readLatency.p50Microseconds == 400)
    }
}
