import Glibc
import OndemandTraceCore
import TraceDatFormat
import Testing
import TestSupport
import TraceFiles
@testable import TraceRecording

/// The one writer into the recorder's file (`TraceDatOutputFile`, as `record` writes): a synthetic
/// file read back with our reader and with `trace-cmd report`; a failure leaves no file. No
/// tracefs needed. (The header's layout: `TraceDatFormatTests`.)
@Suite struct TraceDatOutputFileTests {
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
        let size = try TraceDatOutputFile.write(header: header, cpuFiles: [cpu0, cpu1], to: output)
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
            try TraceDatOutputFile.write(header: Self.header(sizes: [0]), cpuFiles: [cpu0], to: output)
        }
        #expect(access(output, F_OK) != 0)
    }
}

