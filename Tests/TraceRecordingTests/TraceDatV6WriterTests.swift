import Glibc
import OndemandTraceCore
import TraceDatFormat
import Testing
import TestSupport
import TraceFiles
@testable import TraceRecording

/// The v6 writer's layout, checked byte by byte and by reading a synthetic file back with our
/// reader and with `trace-cmd report`. No tracefs needed.
@Suite struct TraceDatV6WriterTests {
    static let headerPage = """
        \tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;
        \tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;
        \tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;
        \tfield: char data;\toffset:16;\tsize:4080;\tsigned:0;

        """
    static let headerEvent = """
        # compressed entry header
        \ttype_len    :    5 bits
        \ttime_delta  :   27 bits
        \tarray       :   32 bits

        \tpadding     : type == 29
        \ttime_extend : type == 30
        \ttime_stamp : type == 31
        \tdata max type_len  == 28

        """
    static let printFormat = """
        name: print
        ID: 5
        format:
        \tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
        \tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
        \tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
        \tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

        \tfield:unsigned long ip;\toffset:8;\tsize:8;\tsigned:0;
        \tfield:char buf[];\toffset:16;\tsize:0;\tsigned:0;

        print fmt: "%ps: %s", (void *)REC->ip, REC->buf

        """

    static func header(sizes: [UInt64], options: [TraceDatV6Header.Option] = []) -> TraceDatV6Header {
        TraceDatV6Header(pageSize: 4096, headerPage: Array(headerPage.utf8), headerEvent: Array(headerEvent.utf8),
                         ftraceFormats: [Array(printFormat.utf8)], systems: [],
                         savedCmdlines: Array("42 marker-task\n".utf8), options: options,
                         traceClock: "local global [mono] boot", cpuDataSizes: sizes)
    }

    static func u64(_ bytes: [UInt8], at offset: Int) -> UInt64 {
        bytes[offset..<(offset + 8)].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
    }

    @Test func cpuDataStartsOnAPageBoundaryAndFollowsTheTable() {
        let (bytes, offsets) = Self.header(sizes: [8192, 0, 4096]).encode()
        #expect(bytes.count % 4096 == 0)
        #expect(offsets == [UInt64(bytes.count), UInt64(bytes.count) + 8192, UInt64(bytes.count) + 8192])
        #expect(Array(bytes.prefix(10)) == [0x17, 0x08, 0x44] + Array("tracing".utf8))
        #expect(Array(bytes[10..<14]) == [0x36, 0, 0, 8])  // "6", NUL, little endian, long size 8
        // After "flyrecord\0": (offset, size) per CPU, then the clock's size and text.
        let fly = bytes.indices.first { Array(bytes[$0..<min(bytes.count, $0 + 10)]) == Array("flyrecord\0".utf8) }!
        let table = fly + 10
        #expect(Self.u64(bytes, at: table) == offsets[0])
        #expect(Self.u64(bytes, at: table + 8) == 8192)
        #expect(Self.u64(bytes, at: table + 16) == offsets[1])
        #expect(Self.u64(bytes, at: table + 24) == 0)
        #expect(Self.u64(bytes, at: table + 40) == 4096)
        let clockSize = Int(Self.u64(bytes, at: table + 48))
        #expect(String(decoding: bytes[(table + 56)..<(table + 56 + clockSize)], as: UTF8.self) == "local global [mono] boot")
        #expect(bytes[(table + 56 + clockSize)...].allSatisfy { $0 == 0 })
    }

    @Test func optionsAreIdSizeDataAndEndWithZero() {
        let (bytes, _) = Self.header(sizes: [0], options: [.text(.uname, "Linux h 6.18 x86_64"), .cpuStat(cpu: 0, stats: "overrun: 3\n")]).encode()
        let start = bytes.indices.first { Array(bytes[$0..<min(bytes.count, $0 + 10)]) == Array("options  \0".utf8) }! + 10
        var at = start
        var found: [(UInt16, String)] = []
        while true {
            let id = UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8
            at += 2
            if id == 0 { break }
            let size = Int(bytes[at..<(at + 4)].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) })
            at += 4
            found.append((id, String(decoding: bytes[at..<(at + size)], as: UTF8.self)))
            at += size
        }
        #expect(found.map(\.0) == [5, 2])
        #expect(found.map(\.1) == ["Linux h 6.18 x86_64\0", "CPU: 0\noverrun: 3\n\0"])
        #expect(Array(bytes[at..<(at + 10)]) == Array("flyrecord\0".utf8))
    }

    /// One ring-buffer page: a timestamp, the commit (bytes of records), then print records
    /// (type_len = length/4, 27-bit time delta), like the kernel writes them.
    static func page(start: UInt64, records: [(delta: UInt32, pid: Int32, text: String)]) -> [UInt8] {
        var data: [UInt8] = []
        for record in records {
            var body: [UInt8] = []
            withUnsafeBytes(of: UInt16(5).littleEndian) { body += $0 }
            body += [0, 0]
            withUnsafeBytes(of: record.pid.littleEndian) { body += $0 }
            withUnsafeBytes(of: UInt64(0)) { body += $0 }
            body += Array(record.text.utf8) + [0]
            while body.count % 4 != 0 { body.append(0) }
            let word = UInt32(body.count / 4) | record.delta << 5
            withUnsafeBytes(of: word.littleEndian) { data += $0 }
            data += body
        }
        var page: [UInt8] = []
        withUnsafeBytes(of: start.littleEndian) { page += $0 }
        withUnsafeBytes(of: UInt64(data.count).littleEndian) { page += $0 }
        page += data
        return page + [UInt8](repeating: 0, count: 4096 - page.count)
    }

    @Test func aWrittenFileReadsBackThroughOurReaderAndTraceCmd() throws {
        let scratch = try TemporaryDirectory("writer"); let dir = scratch.path
        let output = dir + "/synthetic.dat"
        let cpu0 = try CPUDataFile(cpu: 0, output: output)
        let cpu1 = try CPUDataFile(cpu: 1, output: output)
        try cpu0.append(page: Self.page(start: 1_000_000_000, records: [(100, 42, "odt1 pickup read msg=1 oid=1\n"), (50, 42, "second\n")]), count: 4096, pageSize: 4096)
        try cpu1.append(page: Self.page(start: 1_000_000_120, records: [(0, 7, "on cpu one\n")]), count: 4096, pageSize: 4096)
        let header = Self.header(sizes: [cpu0.size, cpu1.size], options: [.text(.traceClock, "[mono] boot\n"), .text(.uname, "Linux h 6.18.0-test x86_64")])
        let size = try TraceDatFileWriter.write(header: header, cpuFiles: [cpu0, cpu1], to: output)
        #expect(size == UInt64(header.encode().bytes.count) + 8192)

        var events: [TraceEvent] = []
        let summary = try TraceInput.read(path: output, selection: .markers) { item in
            if case .event(let event) = item { events.append(event) }
        }
        #expect(summary.kernelRelease == "6.18.0-test")
        #expect(summary.clock == "mono")
        #expect(events.map(\.timestamp) == [1_000_000_100, 1_000_000_120, 1_000_000_150])
        #expect(events.map(\.cpu) == [0, 1, 0])
        #expect(events.map(\.body) == [.marker(.init(text: "odt1 pickup read msg=1 oid=1")), .marker(.init(text: "on cpu one")), .marker(.init(text: "second"))])
        #expect(events[0].comm == "marker-task")

        let report = try Run.start(["trace-cmd", "report", "-i", output]).wait()
        #expect(report.status == 0, "\(report.stderr)")
        let lines = report.stdout.split(separator: "\n").filter { $0.contains("print:") }
        #expect(lines.count == 3)
        #expect(lines.first?.contains("marker-task-42") == true)
        #expect(lines.first?.contains("1.000000: print:") == true)
        #expect(lines.first?.hasSuffix("odt1 pickup read msg=1 oid=1") == true)
    }

    @Test func aFailedWriteLeavesNoFile() throws {
        let scratch = try TemporaryDirectory("writer"); let dir = scratch.path
        let output = dir + "/out.dat"
        let cpu0 = try CPUDataFile(cpu: 0, output: output)
        // The destination directory vanishes before the file is assembled.
        TemporaryDirectory.remove(dir)
        #expect(throws: RecordingError.self) {
            try TraceDatFileWriter.write(header: Self.header(sizes: [0]), cpuFiles: [cpu0], to: output)
        }
        #expect(access(output, F_OK) != 0)
    }
}

@Suite struct RecordingModelTests {
    @Test func eventListsParse() throws {
        #expect(try EventSpec.parseList("sched:sched_process_exec,ftrace:print") == [EventSpec(system: "sched", event: "sched_process_exec"), .marker])
        #expect(try EventSpec.parseList("cachefiles, sched/sched_switch,irq:*") == [EventSpec(system: "cachefiles"), EventSpec(system: "sched", event: "sched_switch"), EventSpec(system: "irq")])
        #expect(throws: RecordingError.self) { try EventSpec.parseList("sched:") }
        #expect(throws: RecordingError.self) { try EventSpec.parseList("a:b:c") }
        #expect(throws: RecordingError.self) { try EventSpec.parseList("sched:x;rm") }
        #expect(EventSpec.defaults.map(\.description) == ["cachefiles", "ftrace:print"])
    }

    @Test func cpuStatsParse() {
        let text = "entries: 5\noverrun: 12\ncommit overrun: 1\nbytes: 400\noldest event ts:  1287.499364\nnow ts:  1290.1\ndropped events: 3\nread events: 7\n"
        let stats = CPUBufferStats.parse(cpu: 1, text: text)
        #expect(stats.overrun == 12)
        #expect(stats.commitOverrun == 1)
        #expect(stats.droppedEvents == 3)
        #expect(stats.readEvents == 7)
        #expect(stats.lost == 16)
    }

    @Test func instanceNamesCarryTheOwnerPid() {
        #expect(InstanceName.forProcess(123) == "ondemand-trace-123")
        #expect(InstanceName.ownerPID("ondemand-trace-123") == 123)
        #expect(InstanceName.ownerPID("ondemand-trace-x") == nil)
        #expect(InstanceName.ownerPID("mine") == nil)
    }
}

/// A file this recorder wrote on the test kernel (SampleTraces/record-6.12.dat, see its README):
/// real cachefiles records in our v6 layout, read by our reader, trace-cmd and `report`.
@Suite struct RecordedSampleTests {
    static let path = Fixtures.repo + "/SampleTraces/record-6.12.dat"

    @Test func ourReaderSeesEveryRecord() throws {
        var counts: [String: Int] = [:]
        var markers = 0
        let summary = try TraceInput.read(path: Self.path, selection: .all) { item in
            guard case .event(let event) = item else { return }
            counts[event.name, default: 0] += 1
            if case .marker(let m) = event.body, m.text.hasPrefix("odt1 ") { markers += 1 }
        }
        #expect(summary.formatDescription == "trace.dat v6")
        #expect(summary.recordsSeen == 1799)
        #expect(summary.eventsDelivered == 1799)
        #expect(summary.kernelRelease == "6.12.117")
        #expect(summary.clock == "mono")
        #expect(summary.cpuStats.count == 2)
        #expect(summary.cpuStats.allSatisfy { $0.contains("overrun: 0") && $0.contains("dropped events: 0") })
        #expect(summary.lostEvents.isEmpty)
        #expect(counts["cachefiles_ondemand_read"] == 49)
        #expect(counts["cachefiles_ondemand_cread"] == 49)
        #expect(counts["cachefiles_ondemand_fd_write"] == 49)
        #expect(counts["cachefiles_ondemand_open"] == 1)
        #expect(counts["cachefiles_ondemand_copen"] == 1)
        #expect(counts["cachefiles_lookup"] == 260)
        #expect(markers == 151)
    }

    @Test func traceCmdSeesTheSameRecords() throws {
        let report = try Run.start(["trace-cmd", "report", "-i", Self.path]).wait()
        #expect(report.status == 0, "\(report.stderr)")
        let lines = report.stdout.split(separator: "\n")
        #expect(lines.filter { $0.contains(" cachefiles_ondemand_read:") }.count == 49)
        #expect(lines.filter { $0.contains(" print: ") && $0.contains("odt1 ") }.count == 151)
        #expect(lines.filter { $0.contains(": cachefiles_") || $0.contains(" print: ") }.count == 1799)
        let stat = try Run.start(["trace-cmd", "report", "--stat", "-i", Self.path]).wait()
        #expect(stat.stdout.contains("CPU: 1"), "\(stat.stdout)")
    }

    @Test func reportJoinsEveryReadByItsMarkers() throws {
        let result = try Run.odt("report", Self.path)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("READ      49 requests: 49 answered, 0 unanswered"))
        #expect(result.stdout.contains("markers:  151 daemon markers"))
        #expect(result.stdout.contains("anomalies: none"))
    }
}
