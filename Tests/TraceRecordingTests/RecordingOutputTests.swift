import Glibc
import OndemandTraceCore
import Synchronization
import SystemCalls
import Testing
import TestSupport
import TraceFiles
import TraceRecording

/// `monitor`'s outputs on the host's tracefs: pages dropped once decoded, or rotated trace.dat files.
extension RecordingTracefsTests {
    static func markerTexts(in path: String) throws -> [String] {
        try events(in: path).compactMap { event in
            if case .marker(let marker) = event.body, marker.text.hasPrefix("odt-rot ") { return marker.text }
            return nil
        }
    }

    @Test func rotatingOutputKeepsTheNewestFilesEachAWholeTrace() throws {
        let scratch = try TemporaryDirectory("rotate"); let dir = scratch.path
        let written = Mutex<[String]>([])
        let name = "odt-test-rotate-\(getpid())"
        let session = RecordingSession(options: RecordingOptions(
            output: .rotating(TraceRotation(directory: dir, maxBytes: 2 * UInt64(getpagesize()), keep: 2,
                                            onFile: { path in written.withLock { $0.append(path) } })),
            events: [.marker], bufferSizeKB: 256, instanceName: name, pollIntervalMS: 20))
        try session.start()
        let markerPath = try #require(session.markerPath)
        var lines: [String] = []
        for round in 0..<6 {   // 6 rounds of ~12 KiB of markers, each past the 8 KiB rotation size
            let batch = (0..<150).map { "odt-rot \(round) \($0) " + String(repeating: "x", count: 40) + "\n" }
            try Self.writeMarkers(markerPath, batch)
            lines += batch
            usleep(300_000)
        }
        let result = try session.stop()
        #expect(!Self.instanceExists(name))
        let files = written.withLock { $0 }
        #expect(files.count >= 3, "\(files)")
        #expect(result.path == files.last)
        let kept = try FileContents.directoryEntries(dir).sorted()
        #expect(kept == files.suffix(2).map { String($0.split(separator: "/").last!) })
        #expect(kept.allSatisfy { $0.hasPrefix("monitor-") && $0.hasSuffix("Z.dat") })
        // Each kept file reads on its own; together they hold the newest markers, in order.
        var texts: [String] = []
        for file in kept { texts += try Self.markerTexts(in: dir + "/" + file) }
        let expected = lines.map { String($0.dropLast()) }
        #expect(!texts.isEmpty && texts == Array(expected.suffix(texts.count)), "\(texts.count) markers kept of \(expected.count)")
    }

    @Test func discardedOutputStillHandsOnEveryRecordAndWritesNothing() throws {
        let scratch = try TemporaryDirectory("discard"); let dir = scratch.path
        let seen = Mutex(0)
        let name = "odt-test-discard-\(getpid())"
        let session = RecordingSession(options: RecordingOptions(
            output: .discard, events: [.marker], bufferSizeKB: 256, instanceName: name,
            onRecords: { records in seen.withLock { $0 += records.filter { $0.bytes.count > 0 }.count } }))
        try session.start()
        try Self.writeMarkers(try #require(session.markerPath), (0..<300).map { "odt-discard \($0)\n" })
        let result = try session.stop()
        #expect(result.path == nil && result.fileSize == 0)
        #expect(result.events == 300)
        #expect(seen.withLock { $0 } == 300)
        #expect(try FileContents.directoryEntries(dir).isEmpty)
        #expect(!Self.instanceExists(name))
    }
}
