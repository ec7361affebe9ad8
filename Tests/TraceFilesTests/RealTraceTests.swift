#if canImport(Glibc)
import Glibc
#endif
import Testing
import OndemandTraceCore
import TraceDatFormat
import SystemCalls
import TestSupport
@testable import TraceFiles

/// The shared starter trace (recorded in the test VM, Linux 6.12.117), read three ways.
@Suite struct RealTraceTests {
    static let starter = Fixtures.shared + "/real-traces/starter"

    static func events(_ path: String, selection: EventSelection = .ondemand) throws -> (events: [TraceEvent], summary: ReadSummary) {
        var events: [TraceEvent] = []
        let summary = try TraceInput.read(path: path, selection: selection) { item in
            if case .event(let e) = item { events.append(e) }
        }
        return (events, summary)
    }

    static func counts(_ events: [TraceEvent]) -> [String: Int] {
        events.reduce(into: [:]) { $0[$1.name, default: 0] += 1 }
    }

    static let expectedCounts = [
        "cachefiles_ondemand_open": 1, "cachefiles_ondemand_copen": 1, "cachefiles_ondemand_read": 22,
        "cachefiles_ondemand_fd_write": 22, "cachefiles_ondemand_cread": 22, "cachefiles_ondemand_close": 1,
        "cachefiles_ondemand_fd_release": 1,
    ]

    @Test func traceDatAndTextAgreeOnEveryRecordAndField() throws {
        let dat = try Self.events(Self.starter + "/trace.dat")
        let txt = try Self.events(Self.starter + "/trace.txt")
        #expect(Self.counts(dat.events) == Self.expectedCounts)
        #expect(Self.counts(txt.events) == Self.expectedCounts)
        #expect(dat.summary.formatDescription == "trace.dat v7, zstd")
        #expect(dat.summary.kernelRelease == "6.12.117")
        #expect(dat.summary.clock == "local")
        // The text copy came from a second instance: same records, own timestamps.
        try #require(dat.events.count == txt.events.count)
        for (a, b) in zip(dat.events, txt.events) {
            #expect(a.body == b.body)
            #expect(a.cpu == b.cpu && a.pid == b.pid && a.comm == b.comm)
        }
        // Ids: 0 in read records on 6.12, the real msg_id in cread.
        let creadIDs = dat.events.compactMap { e -> UInt32? in
            if case .ondemand(.cread(let c)) = e.body { return c.msgID } else { return nil }
        }
        #expect(creadIDs.sorted() == Array(1...22))
    }

    @Test func agreesWithTraceCmdReport() throws {
        let dir = try TemporaryDirectory("real")
        let reportText = dir.path + "/report.txt"
        let result = try Run.program("/bin/sh", ["-c", "trace-cmd report -i '\(Self.starter)/trace.dat' > '\(reportText)' 2>/dev/null"])
        try #require(result.status == 0, "trace-cmd report failed: \(result.stderr)")
        let fromReport = try Self.events(reportText, selection: .all)
        let fromDat = try Self.events(Self.starter + "/trace.dat", selection: .all)
        #expect(fromReport.events.count == 1324)
        try #require(fromReport.events.count == fromDat.events.count)
        for (a, b) in zip(fromDat.events, fromReport.events) {
            // trace-cmd report prints microseconds, rounded.
            #expect((a.timestamp + 500) / 1000 == b.timestamp / 1000)
            #expect(a.name == b.name && a.cpu == b.cpu && a.pid == b.pid && a.comm == b.comm)
            if case .ondemand = a.body { #expect(a.body == b.body) }
        }
    }

    /// The starter trace as file version 6, uncompressed, by `trace-cmd convert`, in `dir`.
    static func version6(in dir: TemporaryDirectory) throws -> String {
        try Fixtures.version6(of: starter + "/trace.dat", in: dir)
    }

    @Test func version6ConversionDecodesTheSame() throws {
        let dir = try TemporaryDirectory("real")
        let v6 = try Self.version6(in: dir)
        let original = try Self.events(Self.starter + "/trace.dat", selection: .all)
        let converted = try Self.events(v6, selection: .all)
        #expect(converted.summary.formatDescription == "trace.dat v6")
        #expect(converted.events == original.events)
        #expect(converted.events.count == 1324)
    }
}

/// Broken input: an error naming the file, never a crash, a hang or a silent partial answer.
@Suite struct BadInputTests {
    static func read(_ path: String) throws -> ReadSummary {
        try TraceInput.read(path: path, selection: .all) { _ in }
    }

    static func expectFileError(_ path: String, containing text: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            let summary = try read(path)
            Issue.record("read succeeded with \(summary.eventsDelivered) events", sourceLocation: sourceLocation)
        } catch let error as TraceFileError {
            #expect(error.path == path, sourceLocation: sourceLocation)
            if let text { #expect(error.description.contains(text), "\(error)", sourceLocation: sourceLocation) }
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func truncatedVersion7AtManyOffsets() throws {
        let original = try Fixtures.bytes(RealTraceTests.starter + "/trace.dat")
        let dir = try TemporaryDirectory("real")
        let path = dir.path + "/cut.dat"
        var offsets = Array(stride(from: 0, to: original.count, by: 211))
        offsets += Array((original.count - 400)..<original.count)
        for offset in offsets {
            try Fixtures.write(Array(original[0..<offset]), to: path)
            Self.expectFileError(path)
        }
    }

    /// Cut in the header: an error naming the file. Cut in the CPU data: read up to the cut, and
    /// said (`cut`): never a crash, never a silent partial answer.
    @Test func truncatedVersion6AtManyOffsets() throws {
        let dir = try TemporaryDirectory("real")
        let v6 = try RealTraceTests.version6(in: dir)
        let original = try Fixtures.bytes(v6)
        try #require(original.count > 100_000)
        let firstData = try original.withUnsafeBytes { try TraceDatStructure.parse($0, path: v6) }.cpuData.map(\.offset).min()!
        let path = dir.path + "/cut.dat"
        // Dense over the header and the CPU data, where libtracecmd itself would fault.
        var offsets = Array(stride(from: 0, to: 5000, by: 13)) + Array(stride(from: 5000, to: original.count, by: 4093))
        offsets += Array(stride(from: original.count - 60_000, to: original.count, by: 97))
        var partial = 0
        for offset in offsets {
            try Fixtures.write(Array(original[0..<offset]), to: path)
            // Past the header's CPU table (just before the first CPU's data at the latest) it reads.
            guard let summary = try? Self.read(path) else {
                #expect(offset <= firstData, "\(offset): an error past the header")
                Self.expectFileError(path, containing: offset == 0 ? "empty file" : nil)
                continue
            }
            #expect(summary.cut?.hasPrefix("the file is cut at byte \(offset) of \(original.count)") == true, "\(offset): \(summary.cut ?? "no cut")")
            #expect(summary.path == path)
            partial += 1
        }
        #expect(partial > 50)
    }

    @Test func corruptPageHeaderInVersion6() throws {
        let dir = try TemporaryDirectory("real")
        let v6 = try RealTraceTests.version6(in: dir)
        var bytes = try Fixtures.bytes(v6)
        let structure = try bytes.withUnsafeBytes { try TraceDatStructure.parse($0, path: v6) }
        let firstPage = Int(try #require(structure.cpuData.first { $0.size > 0 }).offset)
        // Claim 64 KiB of data in a 4 KiB page.
        bytes.replaceSubrange((firstPage + 8)..<(firstPage + 16), with: [0, 0, 1, 0, 0, 0, 0, 0])
        try Fixtures.write(bytes, to: v6)
        Self.expectFileError(v6, containing: "corrupt")
    }

    /// A bad page past each CPU's first: the structure check leaves it to the reader
    /// (`PageCheck.leading`), which names the file, the CPU and the page's offset; the full check
    /// (before libtracecmd iterates) finds it too.
    @Test func corruptPageHeaderPastTheFirst() throws {
        let dir = try TemporaryDirectory("real")
        let v6 = try RealTraceTests.version6(in: dir)
        var bytes = try Fixtures.bytes(v6)
        let structure = try bytes.withUnsafeBytes { try TraceDatStructure.parse($0, path: v6) }
        let data = try #require(structure.cpuData.max { $0.size < $1.size })
        try #require(data.size >= 3 * UInt64(structure.pageSize), "CPU \(data.cpu) has at least three pages")
        let lastPage = Int(data.offset + data.size) - structure.pageSize
        bytes.replaceSubrange((lastPage + 8)..<(lastPage + 16), with: [0, 0, 1, 0, 0, 0, 0, 0])
        try Fixtures.write(bytes, to: v6)

        Self.expectFileError(v6, containing: "CPU \(data.cpu): page claims 65536 bytes of data, more than it holds")
        let null = open("/dev/null", O_WRONLY)
        defer { close(null) }
        do {
            _ = try TraceDump.write(path: v6, selection: .all, format: .text, to: OutputDescriptor(fd: null, name: "/dev/null"))
            Issue.record("dump read the bad page")
        } catch let error as TraceFileError {
            #expect(error.path == v6 && error.byteOffset == UInt64(lastPage), "\(error)")
        }
        var leading = try bytes.withUnsafeBytes { try TraceDatStructure.parse($0, pages: .leading) }
        #expect(throws: TraceDatFormatError.self) { try bytes.withUnsafeBytes { try leading.checkAllPages($0) } }
        #expect(throws: TraceDatFormatError.self) { try bytes.withUnsafeBytes { try TraceDatStructure.parse($0) } }
    }

    /// Found by scripts/fuzz: a corrupt ftrace format size makes libtraceevent's parser
    /// dereference NULL. The metadata probe in a child process turns that into an error.
    @Test func formatThatCrashesLibtraceeventIsAnError() throws {
        let dir = try TemporaryDirectory("real")
        let v6 = try RealTraceTests.version6(in: dir)
        var bytes = try Fixtures.bytes(v6)
        let patch: [(offset: Int, old: UInt8, new: UInt8)] = [
            (11031, 0x33, 0x01), (11032, 0x31, 0x00), (11033, 0x5d, 0x00), (11034, 0x3b, 0x00), (11035, 0x09, 0x00),
            (11036, 0x6f, 0x0f), (11037, 0x66, 0x8e), (11038, 0x66, 0x8b), (676852, 0x6f, 0x75), (676853, 0x5f, 0x6e),
        ]
        for p in patch {
            try #require(bytes[p.offset] == p.old, "trace-cmd convert wrote a different layout at \(p.offset)")
            bytes[p.offset] = p.new
        }
        try Fixtures.write(bytes, to: v6)
        Self.expectFileError(v6, containing: "metadata (event formats, kallsyms or cmdlines) is corrupt")
    }

    @Test func randomBytesAndEmptyFiles() throws {
        let dir = try TemporaryDirectory("real")
        let path = dir.path + "/random.bin"
        let seed = UInt64.random(in: 0...UInt64.max)
        print("randomBytesAndEmptyFiles: seed \(seed)")  // a failure replays with this seed
        var generator = SplitMix64(seed: seed)
        for size in [1, 2, 9, 10, 64, 4096, 100_000] {
            // 0xFF never occurs in UTF-8 (nor starts a trace.dat): not text, not a trace.
            try Fixtures.write([0xff] + (1..<size).map { _ in UInt8.random(in: 0...255, using: &generator) }, to: path)
            Self.expectFileError(path, containing: "not a trace file")
        }
        // Random bytes behind a valid magic number and version.
        let magic: [UInt8] = [0x17, 0x08, 0x44] + Array("tracing6".utf8) + [0]
        for size in [0, 1, 5, 50, 5000] {
            try Fixtures.write(magic + (0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) }, to: path)
            Self.expectFileError(path)
        }
        try Fixtures.write([], to: path)
        Self.expectFileError(path, containing: "empty file")
        Self.expectFileError(dir.path + "/missing.dat", containing: "cannot open")
        Self.expectFileError(dir.path, containing: "not a regular file")
    }

    @Test func garbageTextIsSkippedAndCounted() throws {
        let dir = try TemporaryDirectory("real")
        let path = dir.path + "/mixed.txt"
        let good = "  mount-119 [001] ..... 4.409061: cachefiles_ondemand_read: o=00000001 mid=0 oid=0 s=0 l=1000"
        try Fixtures.write(Array("garbage\n\(good)\n\u{7f}more garbage\nCPU:1 [LOST 3 EVENTS]\n".utf8), to: path)
        var lost: [(Int32, Int64?)] = []
        var events = 0
        let summary = try TraceInput.read(path: path, selection: .ondemand) { item in
            switch item {
            case .event: events += 1
            case let .lost(cpu, count, _): lost.append((cpu, count))
            }
        }
        #expect(events == 1)
        #expect(summary.unparsedLines == 2 && summary.firstUnparsedLine == 1)
        #expect(summary.lostEvents == [1: 3])
        #expect(lost.count == 1 && lost[0].0 == 1 && lost[0].1 == 3)
    }
}

/// A directory under /tmp removed when the value goes away.
import CTrace

/// Enum names (`__print_symbolic`) come from the trace's own formats, as libtraceevent parsed them.
@Suite struct SymbolTableTests {
    @Test func ioErrorWhereNamesFromTheTraceDat() throws {
        let handle = try #require(tracecmd_open(RealTraceTests.starter + "/trace.dat", TraceDatReader.openFlags))
        defer { tracecmd_close(handle) }
        let tep = try #require(tracecmd_get_tep(handle))
        let layouts = EventFormats.layouts(of: tep)
        let ioError = try #require(layouts.first { $0.name == "cachefiles_io_error" })
        #expect(ioError.symbols["where"]?[16] == "write")
        #expect(ioError.symbols["where"]?[0] == "fallocate")
        #expect(ioError.symbols["where"]?.count == 17)
        // The same table as the kernel's format file text gives.
        let fromText = try FormatFileParser.parse(DefaultFormats.format(named: "cachefiles_io_error")!, system: "cachefiles")
        #expect(fromText.name == "cachefiles_io_error" && fromText.symbols == ioError.symbols)
    }
}
