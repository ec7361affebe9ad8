import Testing
@testable import OndemandTraceCore

/// The fanotify path's join: records as the kprobe events and `fsnotify:fsnotify` give them
/// (field names of `FanotifyProbe.all` and the 7.3 tracepoint), through `ReportBuilder`.
struct FanotifyCorrelatorTests {
    /// Builds records one after another, 1 µs apart unless told.
    struct Script {
        var events: [TraceEvent] = []
        var now: UInt64 = 1_000_000_000
        let group = "ondemand_fan_4242"

        mutating func add(_ pid: Int32, _ comm: String, _ system: String, _ name: String, _ fields: [(String, FieldValue)],
                          after us: UInt64 = 1) {
            now += us * 1000
            events.append(TraceEvent(timestamp: now, cpu: 0, pid: pid, comm: comm,
                                     body: .generic(GenericEvent(system: system, name: name, fields: fields.map { NamedValue($0.0, $0.1) }))))
        }
        mutating func enter(_ pid: Int32, pos: Int64, count: UInt64, after us: UInt64 = 1) {
            add(pid, "md5sum", group, "fan_pre_content", [("__probe_ip", .unsigned(0xffff_8000)), ("pos", .signed(pos)), ("count", .unsigned(count))], after: us)
        }
        mutating func file(_ pid: Int32, ino: UInt64, mask: UInt64 = 0x100000) {
            add(pid, "md5sum", "fsnotify", "fsnotify", [("dev", .unsigned(254 << 20)), ("ino", .unsigned(ino)), ("mask", .unsigned(mask))])
        }
        mutating func queue(_ pid: Int32, ev: UInt64) { add(pid, "md5sum", group, "fan_insert", [("ev", .unsigned(ev))]) }
        mutating func pickup(ev: UInt64, after us: UInt64 = 1) { add(900, "daemon", group, "fan_pickup", [("ev", .unsigned(ev))], after: us) }
        mutating func answer(ev: UInt64, resp: UInt32 = 1, after us: UInt64 = 1) {
            add(900, "daemon", group, "fan_answer", [("ev", .unsigned(ev)), ("resp", .unsigned(UInt64(resp)))], after: us)
        }
        mutating func destroy(_ pid: Int32, ev: UInt64) { add(pid, "md5sum", group, "fan_destroy", [("ev", .unsigned(ev))]) }
        mutating func leave(_ pid: Int32, ret: Int64 = 0, after us: UInt64 = 1) {
            add(pid, "md5sum", group, "fan_pre_content_ret", [("ret", .signed(ret))], after: us)
        }
        /// A whole round trip of one reader: hook, file, queue, pickup, answer, destroy, return.
        mutating func roundTrip(_ pid: Int32, pos: Int64, count: UInt64, ev: UInt64, ino: UInt64 = 12, waitUS: UInt64 = 100, resp: UInt32 = 1) {
            enter(pid, pos: pos, count: count); file(pid, ino: ino); queue(pid, ev: ev)
            pickup(ev: ev, after: 10); answer(ev: ev, resp: resp, after: waitUS); destroy(pid, ev: ev); leave(pid, after: 5)
        }
    }

    func report(_ script: Script) -> (ReportModel, [RequestRecord]) {
        var requests: [RequestRecord] = []
        let builder = ReportBuilder(requestObserver: { requests.append($0) })
        for e in script.events { builder.consume(e) }
        let model = builder.finish(metadata: TraceMetadata(path: "t.dat", format: "trace.dat", formatDescription: "trace.dat v6",
                                                           kernelRelease: "7.3.4", clock: "mono", recordsSeen: script.events.count,
                                                           eventsDelivered: script.events.count, ondemandEvents: 0))
        return (model, requests)
    }

    @Test func oneRoundTripIsOneRequestWithItsStages() {
        var s = Script()
        s.roundTrip(101, pos: 8192, count: 4096, ev: 0xffff_8880_0000_1000, waitUS: 250)
        let (model, requests) = report(s)
        #expect(model.backend == .fanotify)
        #expect(requests.count == 1)
        let r = requests[0]
        #expect(r.join == .event && r.offset == 8192 && r.length == 4096 && r.pid == 101 && r.comm == "md5sum")
        // hook at +1 µs, file +1, queue +1, pickup +10, answer +250, destroy +1, return +5
        #expect(r.latency == 262_000)
        #expect(r.stall == 268_000)
        #expect(r.stages.map(\.stage) == [.queued, .toAnswer, .resumed])
        #expect(r.stages.map(\.nanoseconds) == [12_000, 250_000, 6_000])
        #expect(r.blob == BlobName(volume: "dev=254:0", blob: "ino=12"))
        #expect(model.objects.count == 1 && model.objects[0].reads == 1 && model.objects[0].readsCompleted == 1)
        #expect(model.anomalyTotal == 0)
        #expect(model.stats.joins[.event] == 1)
    }

    @Test func readersInterleavedAndAnAddressReusedAreJoinedByTheKernelEvent() {
        var s = Script()
        let a: UInt64 = 0xffff_0000_0000_0a00, b: UInt64 = 0xffff_0000_0000_0b00
        s.enter(1, pos: 0, count: 4096); s.file(1, ino: 12); s.queue(1, ev: a)
        s.enter(2, pos: 65536, count: 8192); s.file(2, ino: 13); s.queue(2, ev: b)
        // The daemon reads and answers the second reader's event first.
        s.pickup(ev: b); s.pickup(ev: a); s.answer(ev: b, after: 7); s.destroy(2, ev: b); s.leave(2)
        s.answer(ev: a, after: 40); s.destroy(1, ev: a); s.leave(1)
        // Address a reused by a third request once freed.
        s.roundTrip(3, pos: 4096, count: 4096, ev: a, waitUS: 3)
        let (model, requests) = report(s)
        #expect(requests.map(\.pid) == [2, 1, 3])
        #expect(requests.map(\.offset) == [65536, 0, 4096])
        #expect(requests.map(\.length) == [8192, 4096, 4096])
        #expect(requests[0].blob?.blob == "ino=13" && requests[1].blob?.blob == "ino=12")
        #expect(requests.allSatisfy { $0.join == .event && $0.completed != nil && $0.resumed != nil })
        #expect(model.objects.map(\.reads) == [2, 1])
    }

    @Test func aDenialIsAnsweredAndAnAnomalyWithItsErrno() {
        var s = Script()
        s.roundTrip(5, pos: 0, count: 4096, ev: 0x1000, resp: 0x02 | (5 << 24))  // FAN_DENY_ERRNO(EIO)
        let (model, requests) = report(s)
        #expect(requests.count == 1 && requests[0].completed != nil && !requests[0].rangeWritten)
        #expect(model.stats.anomalyCounts[.denied] == 1)
        #expect(model.stats.anomalies.first?.detail.contains("FAN_DENY: EIO (Input/output error)") == true)
        #expect(FanotifyResponse(0x02).errno == 1)   // plain FAN_DENY: EPERM
        #expect(FanotifyResponse(0x01).errno == nil)
    }

    @Test func unansweredAndAbandonedRequestsAreReportedAsSuch() {
        var s = Script()
        // Reader 7 waits to the end: picked up, never answered.
        s.enter(7, pos: 0, count: 4096); s.file(7, ino: 12); s.queue(7, ev: 0x7000); s.pickup(ev: 0x7000)
        // Reader 8 gives up (killed) before any answer.
        s.enter(8, pos: 4096, count: 4096); s.file(8, ino: 12); s.queue(8, ev: 0x8000); s.leave(8, ret: -512)
        let (model, requests) = report(s)
        #expect(requests.count == 2)
        #expect(requests.allSatisfy { $0.completed == nil && $0.join == .none })
        #expect(model.stats.anomalyCounts[.neverAnswered] == 1)
        #expect(model.stats.anomalyCounts[.readerGaveUp] == 1)
        #expect(model.stats.reads.unmatched == 2)
    }

    /// An event the kernel destroys unread and unanswered, its hook returning 0, was dropped (its
    /// group was shutting down): no request, an anomaly. One destroyed unread whose reader returns
    /// an error was taken off the queue for a killed reader: a request it gave up.
    @Test func anEventDroppedUnreadIsNoRequestButAnAnomaly() {
        var s = Script()
        s.roundTrip(10, pos: 0, count: 4096, ev: 0x2000)
        s.enter(11, pos: 8192, count: 4096); s.file(11, ino: 12); s.queue(11, ev: 0x3000); s.destroy(11, ev: 0x3000); s.leave(11)
        s.enter(12, pos: 12288, count: 4096); s.file(12, ino: 12); s.queue(12, ev: 0x4000); s.destroy(12, ev: 0x4000)
        s.leave(12, ret: -512)
        // Dropped, and the trace ends before its hook returns.
        s.enter(13, pos: 16384, count: 4096); s.file(13, ino: 12); s.queue(13, ev: 0x5000); s.destroy(13, ev: 0x5000)
        // The address reused at once by a request answered as usual.
        s.roundTrip(14, pos: 20480, count: 4096, ev: 0x3000)
        let (model, requests) = report(s)
        #expect(requests.map(\.pid) == [10, 12, 14])
        #expect(model.stats.anomalyCounts[.eventDropped] == 2 && model.stats.anomalyCounts[.readerGaveUp] == 1)
        #expect(model.stats.anomalies.filter { $0.kind == .eventDropped }.map(\.detail).first?.hasPrefix("range 8192+4096 of pid 11: ") == true)
        #expect(model.stats.reads.count == 3 && model.stats.reads.matched == 2)
    }

    @Test func aHookThatQueuesNothingIsNoRequestAndForeignAnswersAreCountedApart() {
        var s = Script()
        s.enter(9, pos: 0, count: 4096); s.file(9, ino: 12, mask: 0x1); s.leave(9)   // no listener wanted it
        s.answer(ev: 0xdead)   // an event queued before the trace began
        s.roundTrip(10, pos: 0, count: 4096, ev: 0x2000)
        let (model, requests) = report(s)
        #expect(requests.count == 1 && requests[0].pid == 10)
        #expect(model.anomalyTotal == 0)
    }

    @Test func theDaemonsMarkersNameTheFilesAndCountTheFaults() {
        var s = Script()
        func marker(_ m: FanotifyMarker, _ pid: Int32 = 900) {
            s.now += 1000
            s.events.append(TraceEvent(timestamp: s.now, cpu: 1, pid: pid, comm: "daemon", body: .marker(MarkerEvent(text: m.line))))
        }
        let dev: UInt64 = 254 << 20
        marker(.file(dev: dev, ino: 12, name: BlobName(volume: "erofs,soak", blob: "soak")))
        marker(.file(dev: dev, ino: 13, name: BlobName(volume: "erofs,soak", blob: "soak-blob")))
        s.roundTrip(101, pos: 0, count: 4096, ev: 0xa00, ino: 12)
        s.enter(102, pos: 1 << 20, count: 131072); s.file(102, ino: 13); s.queue(102, ev: 0xb00); s.pickup(ev: 0xb00)
        marker(.fault(pid: 102, dev: dev, ino: 13, offset: 1 << 20, length: 131072, fault: "delay"))
        s.answer(ev: 0xb00, after: 10_000); s.destroy(102, ev: 0xb00); s.leave(102)
        s.roundTrip(103, pos: 0, count: 4096, ev: 0xc00, ino: 14)   // a file no marker named
        // A cachefiles marker in the same trace is not ours: left to the cachefiles correlator.
        s.events.append(TraceEvent(timestamp: s.now + 1000, cpu: 1, pid: 900, comm: "daemon",
                                   body: .marker(MarkerEvent(text: "odt1 fault read msg=1 oid=1 off=0 len=4096 fault=no-data"))))
        let (model, requests) = report(s)
        #expect(requests.map { $0.blob?.blob } == ["soak", "soak-blob", "ino=14"])
        #expect(model.objects.map { $0.name?.blob } == ["soak", "soak-blob", "ino=14"])
        #expect(model.objects[1].name?.volume == "erofs,soak")
        #expect(model.faults == ["delay": 1, "no-data": 1])
        #expect(model.markersSeen == 3 + 1)
        #expect(requests.allSatisfy { $0.join == .event })
        #expect(ReportText.render(model, sections: []).contains("faults:   delay ×1, no-data ×1"))
    }

    @Test func fanotifyMarkersRoundTripAndMalformedOnesAreRefused() {
        let file = FanotifyMarker.file(dev: 8 << 20 | 16, ino: 99, name: BlobName(volume: "erofs,a\\x20b", blob: "x"))
        #expect(file.line == "odt1 fan file dev=8:16 ino=99 volume=erofs,a\\x20b blob=x")
        #expect(FanotifyMarker(text: file.line) == file)
        let fault = FanotifyMarker.fault(pid: 7, dev: 259 << 20 | 1, ino: 5, offset: 4096, length: 8192, fault: "deny")
        #expect(fault.line == "odt1 fan fault pid=7 dev=259:1 ino=5 off=4096 len=8192 fault=deny")
        #expect(FanotifyMarker(text: fault.line) == fault)
        #expect(FanotifyMarker(text: fault.line + " later=1") == fault)   // an unknown key is ignored
        for bad in ["odt1 fan file dev=8 ino=99 blob=x", "odt1 fan file dev=8:16 ino=99", "odt1 fan fault pid=7 dev=8:1 ino=5 off=0 len=1",
                    "odt1 fan other dev=8:16 ino=1", "odt1 pickup read msg=1 oid=1", "odt1 fan file dev=8:16 ino=-1 blob=x",
                    "odt1 fan file dev=8:16 ino=1 blob=a\\q"] {
            #expect(FanotifyMarker(text: bad) == nil, "\(bad)")
        }
        #expect(DaemonMarker(text: fault.line) == nil)   // not a cachefiles marker
    }

    @Test func probeGroupsAreRecognisedByName() {
        #expect(FanotifyProbe.isGroup("ondemand_fan"))
        #expect(FanotifyProbe.isGroup("ondemand_fan_123"))
        #expect(!FanotifyProbe.isGroup("ondemand_fanx"))
        #expect(!FanotifyProbe.isGroup("ondemand_fan_"))
        #expect(!FanotifyProbe.isGroup("ondemand_fan_12a"))
        #expect(FanotifyProbe.recorderPid(group: "ondemand_fan_123") == 123)
        #expect(FanotifyProbe.recorderPid(group: "ondemand_fan") == nil)
        #expect(FanotifyProbe.all[0].definition(group: "ondemand_fan") == "p:ondemand_fan/fan_pre_content fsnotify_pre_content pos=+0(%si):s64 count=%dx:u64")
    }

    @Test func aCachefilesTraceWithFsnotifyRecordsStaysCachefiles() {
        var s = Script()
        s.file(3, ino: 12)
        let (model, _) = report(s)
        #expect(model.backend == .cachefiles)
    }

    /// A trace recorded without the optional probes (a kernel that refused them): the latency
    /// stands, the stages that need them are absent (not 0), and a reused address is still
    /// told apart by the reader's return.
    @Test func withoutTheOptionalProbesTheirStagesAreAbsent() {
        var s = Script()
        for (pid, pos) in [(Int32(21), Int64(0)), (22, 4096)] {
            s.enter(pid, pos: pos, count: 4096); s.file(pid, ino: 12); s.queue(pid, ev: 0x5000)
            s.answer(ev: 0x5000, after: 30); s.leave(pid, after: 2)
        }
        let (model, requests) = report(s)
        #expect(requests.map(\.pid) == [21, 22])
        #expect(requests.allSatisfy { $0.latency == 32_000 && $0.pickedUp == nil })
        #expect(requests.allSatisfy { $0.stages.map(\.stage) == [.resumed] })
        #expect(model.stats.stages[.queued] == nil && model.stats.stages[.toAnswer] == nil)
    }

    /// A fanotify group's fdinfo as the kernel prints it (7.3: an inode mark, hex fields).
    @Test func marksAreReadFromFdinfo() {
        let fdinfo = """
            pos:\t0
            flags:\t02004002
            mnt_id:\t16
            ino:\t1057
            fanotify flags:18 event-flags:8002
            fanotify ino:c sdev:fe00000 mflags:0 mask:100000 ignored_mask:0 fhandle-bytes:8 fhandle-type:1 f_handle:0c00000000000000
            fanotify mnt_id:1f mflags:0 mask:8 ignored_mask:0
            """
        #expect(FanotifyMarks.parse(fdinfo) == [FanotifyMarks.Mark(ino: 12, sdev: 254 << 20, mask: 0x100000)])
        #expect(FanotifyMarks.parse("fanotify flags:18 event-flags:8002\n").isEmpty)
    }

    /// `check` tells the two paths apart: a fanotify trace's figures carry a backend.
    @Test func checkFiguresNameTheFanotifyBackend() {
        var s = Script()
        s.roundTrip(1, pos: 0, count: 4096, ev: 0x10)
        let (fanotify, _) = report(s)
        #expect(RunFigures(report: fanotify).identity["backend"] == "fanotify")
        var c = Script()
        c.file(1, ino: 1)
        #expect(RunFigures(report: report(c).0).identity["backend"] == nil)
    }
}
