#if canImport(Glibc)
import Glibc
#endif
import Testing
import OndemandTraceCore
import SystemCalls
import TestSupport
@testable import TraceFiles

/// `dump`'s two paths — records formatted from the mapped pages, and decoded events formatted —
/// write the same bytes and find the same summary, on real traces and every format. The samples
/// are zstd-compressed version 7, which the direct path does not read: they are converted to
/// uncompressed version 6 first (`Fixtures.version6`, trace-cmd convert).
@Suite(.serialized) struct TraceDumpTests {
    static let traces = [StarterTraceReportTests.dat, StarterTraceReportTests.samples + "record-6.12.dat",
                         Fixtures.repo + "/Tests/Fixtures/generated-lost-events.dat"]

    /// Runs `write` with a temporary file as its output; the bytes written and what it returned.
    static func output(_ write: (ByteBuffer, OutputDescriptor) throws -> ReadSummary) throws -> ([UInt8], ReadSummary) {
        let dir = try TemporaryDirectory("dump")
        let path = dir.path + "/out"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        try #require(fd >= 0)
        let out = ByteBuffer(capacity: 64)
        let sink = OutputDescriptor(fd: fd, name: path)
        let summary = try write(out, sink)
        try sink.write(out)
        close(fd)
        return (try Fixtures.bytes(path), summary)
    }

    @Test(arguments: traces, EventLineWriter.Format.allCases)
    func directRecordsWriteWhatDecodedEventsWrite(path: String, format: EventLineWriter.Format) throws {
        let dir = try TemporaryDirectory("dump-v6")
        let path = path.hasSuffix("record-6.12.dat") ? path : try Fixtures.version6(of: path, in: dir)
        for selection in [EventSelection.ondemand, .all] {
            let direct = try #require(try DirectTraceDat.open(path: path, selection: selection), "\(path) is read directly")
            let (a, sa) = try Self.output { try TraceDump.writeRecords(direct, path: path, selection: selection, format: format, out: $0, sink: $1) }
            let (b, sb) = try Self.output {
                try TraceDump.writeEvents(path: path, selection: selection, format: format, textFormats: nil, out: $0, sink: $1)
            }
            #expect(a.count > 5000)
            #expect(a == b, "\(path) \(format) \(selection)")
            #expect(sa == sb)
        }
    }

    @Test func textInputIsNotReadDirectly() throws {
        #expect(try DirectTraceDat.open(path: StarterTraceReportTests.txt, selection: .all) == nil)
        #expect(try DirectTraceDat.open(path: "-", selection: .all) == nil)
        #expect(throws: TraceFileError.self) { try DirectTraceDat.open(path: "/nonexistent", selection: .all) }
    }

    @Test func csvColumnsOfATraceDatComeFromItsFormats() throws {
        let layouts = try TraceInput.layouts(path: StarterTraceReportTests.dat)
        #expect(layouts.contains { $0.name == "cachefiles_ondemand_read" })
        let text = try TraceInput.layouts(path: StarterTraceReportTests.txt)
        #expect(text.map(\.name) == DefaultFormats.layouts.map(\.name))
    }
}
