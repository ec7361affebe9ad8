import OndemandTraceCore
import Testing
import TestSupport
import TraceFiles
@testable import TraceRecording

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
