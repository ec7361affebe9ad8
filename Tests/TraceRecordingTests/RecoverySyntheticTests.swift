import Glibc
import Synchronization
import OndemandTraceCore
import SystemCalls
import TraceDatFormat
import Testing
import TestSupport
import TraceFiles
@testable import TraceRecording

/// `record --recover` on pieces made here (no tracefs): whole pages kept, a torn or never-synced
/// tail dropped, the times said; `monitor -o`'s pieces assembled into a rotated file at the start.
@Suite struct RecoverySyntheticTests {
    typealias W = TraceDatOutputFileTests

    /// Pieces of a killed recording named after `base`: cpu0 two pages and a torn half page,
    /// cpu1 one page then a page of zeros (extended, never synced).
    static func writePieces(base: String) throws {
        let meta = RecordingPieceFormat.Meta(id: Array(repeating: 9, count: 16), pid: 999_998,
                                             startRealtimeNs: 1_765_000_000_000_000_000, startClockNs: 1_000_000_000,
                                             instance: "ondemand-trace-999998", header: W.header(sizes: [0, 0], options: [.text(.traceClock, "[mono]\n")]))
        try Fixtures.write(RecordingPieceFormat.encode(meta), to: base + ".meta")
        let head = { (cpu: Int) in RecordingPieceFormat.pieceHeader(id: meta.id, cpu: cpu, pid: meta.pid, pageSize: 4096) }
        try Fixtures.write(head(0) + W.page(start: 1_000_000_000, records: [(100, 42, "one\n"), (50, 42, "two\n")])
                           + W.page(start: 2_000_000_000, records: [(0, 42, "three\n")])
                           + Array(W.page(start: 3_000_000_000, records: [(0, 42, "torn\n")]).prefix(2000)), to: base + ".cpu0")
        try Fixtures.write(head(1) + W.page(start: 1_500_000_000, records: [(0, 7, "other cpu\n")])
                           + [UInt8](repeating: 0, count: 4096), to: base + ".cpu1")
    }

    @Test func wholePagesAreKeptTheTailDroppedAndThePiecesRemoved() throws {
        let scratch = try TemporaryDirectory("recover"); let dir = scratch.path
        try Self.writePieces(base: dir + "/x.dat")
        let result = try RecordingRecovery.recover(output: dir + "/x.dat")
        #expect(result.recordsPerCPU == [3, 1])
        #expect(result.pagesPerCPU == [2, 1])
        #expect(result.droppedBytes == 2000 + 4096)
        #expect(result.firstTimestamp == 1_000_000_100 && result.lastTimestamp == 2_000_000_000)
        #expect(result.summary.hasPrefix("recovered \(dir)/x.dat: 4 records (cpu0 3, cpu1 1), "))
        // 1.0000001 s after the start on the mono clock, i.e. 0.0000001 s after the realtime start.
        #expect(result.summary.contains("from 2025-12-06T05:46:40.000Z to 2025-12-06T05:46:41.000Z (0.999999 s)"), "\(result.summary)")
        #expect(try FileContents.directoryEntries(dir) == ["x.dat"])
        var texts: [String] = []
        _ = try TraceInput.read(path: dir + "/x.dat", selection: .markers) { item in
            if case .event(let event) = item, case .marker(let m) = event.body { texts.append(m.text) }
        }
        #expect(texts == ["one", "two", "other cpu", "three"])
    }

    @Test func aMonitorsPiecesBecomeARotatedFileAtTheNextStart() throws {
        let scratch = try TemporaryDirectory("rotate"); let dir = scratch.path
        try Self.writePieces(base: dir + "/" + RotatedTraceFiles.piecesName)
        let told = Mutex<[String]>([])
        let (base, _) = try RotatedTraceFiles.piecesBase(TraceRotation(directory: dir, maxBytes: 1 << 20, keep: 2, onFile: { path in told.withLock { $0.append(path) } }))
        #expect(base == dir + "/monitor-current")
        let files = try FileContents.directoryEntries(dir)
        #expect(files.count == 1 && files[0].hasPrefix("monitor-2") && files[0].hasSuffix("Z.dat"), "\(files)")
        #expect(told.withLock { $0 } == [dir + "/" + files[0]])
        #expect(try TraceInput.read(path: dir + "/" + files[0], selection: .markers) { _ in }.recordsSeen == 4)
    }
}
