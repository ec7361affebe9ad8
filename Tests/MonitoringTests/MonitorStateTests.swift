import Monitoring
import OndemandTraceCore
import Testing

/// A small on-demand conversation, built event by event (trace times in ms).
struct Conversation {
    var events: [TraceEvent] = []
    let daemon: Int32 = 900

    mutating func add(_ ms: UInt64, pid: Int32, _ body: EventBody) {
        events.append(TraceEvent(timestamp: ms * 1_000_000, cpu: 0, pid: pid, comm: nil, body: body))
    }
    mutating func open(_ ms: UInt64, obj: UInt32, fd: UInt32) {
        add(ms, pid: 1, .ondemand(.open(.init(obj: obj, msgID: 0, objectID: 0, fd: fd, flags: 0))))
    }
    /// An OPEN at `ms` (fd 10) answered 2 ms later.
    mutating func opened(_ ms: UInt64, obj: UInt32) {
        open(ms, obj: obj, fd: 10)
        copen(ms + 2, obj: obj, size: 1 << 20)
    }
    mutating func copen(_ ms: UInt64, obj: UInt32, size: Int64) {
        add(ms, pid: daemon, .ondemand(.copen(.init(obj: obj, msgID: 7, len: size))))
    }
    mutating func read(_ ms: UInt64, obj: UInt32, start: Int64, len: UInt64, reader: Int32) {
        add(ms, pid: reader, .ondemand(.read(.init(obj: obj, msgID: 0, objectID: 0, start: start, len: len))))
    }
    mutating func answer(_ ms: UInt64, obj: UInt32, start: Int64, len: UInt64) {
        add(ms, pid: daemon, .ondemand(.fdWrite(.init(obj: obj, backer: 1, start: start, len: len))))
        add(ms, pid: daemon, .ondemand(.cread(.init(obj: obj, msgID: 9))))
    }
    mutating func release(_ ms: UInt64, obj: UInt32) {
        add(ms, pid: daemon, .ondemand(.close(.init(obj: obj, msgID: 0, objectID: 0))))
        add(ms, pid: daemon, .ondemand(.fdRelease(.init(obj: obj, objectID: 3))))
    }
    mutating func cookie(_ ms: UInt64, obj: UInt32, cookie: UInt32, blob: String) {
        add(ms, pid: 1, .marker(.init(text: CookieKeyLine(cookie: cookie, volumeID: 1, name: BlobName(volume: "erofs,img", blob: blob)).line)))
        add(ms, pid: 1, .generic(GenericEvent(system: "cachefiles", name: "cachefiles_ref",
                                              fields: [.init("obj", .unsigned(UInt64(obj))), .init("cookie", .unsigned(UInt64(cookie)))])))
    }
}

@Suite struct MonitorStateTests {
    final class Collected {
        var requests: [RequestRecord] = []
        var anomalies: [Anomaly.Kind] = []
    }

    func state(_ collected: Collected) -> MonitorState {
        MonitorState(onRequest: { collected.requests.append($0) }, onAnomaly: { collected.anomalies.append($0.kind) })
    }

    /// A monitor fed `c`, and what it handed on.
    func fed(_ c: Conversation) -> (MonitorState, Collected) {
        let collected = Collected()
        let monitor = state(collected)
        c.events.forEach(monitor.consume)
        return (monitor, collected)
    }

    @Test func answersAreHandedOnAtTheirCreadAndInFlightFollowsTheOutstanding() {
        var c = Conversation()
        c.cookie(0, obj: 5, cookie: 40, blob: "img")
        c.opened(1, obj: 5)
        c.read(10, obj: 5, start: 0, len: 4096, reader: 101)
        c.read(11, obj: 5, start: 8192, len: 8192, reader: 102)
        let (monitor, collected) = fed(c)
        #expect(collected.requests.map(\.kind) == [.open])
        #expect(collected.requests[0].blob?.blob == "img")
        #expect(collected.requests[0].completed! - collected.requests[0].issued == 2_000_000)
        let (read, open) = monitor.inFlight()
        #expect(read == .init(count: 2, oldestIssued: 10_000_000))
        #expect(open == .init(count: 0, oldestIssued: nil))
        #expect(read.oldestAge(now: 2_510_000_000) == 2.5)

        var more = Conversation()
        more.answer(20, obj: 5, start: 8192, len: 8192)
        more.events.forEach(monitor.consume)
        #expect(collected.requests.count == 2)
        #expect(collected.requests[1].offset == 8192 && collected.requests[1].pid == 102)
        #expect(monitor.inFlight().read == .init(count: 1, oldestIssued: 10_000_000))
    }

    @Test func aHungRequestIsReturnedOnceAndForgottenWhenItEnds() {
        var c = Conversation()
        c.opened(1, obj: 5)
        c.read(10, obj: 5, start: 0, len: 4096, reader: 101)
        c.read(3000, obj: 5, start: 4096, len: 4096, reader: 102)
        let (monitor, _) = fed(c)
        let second: UInt64 = 1_000_000_000
        #expect(monitor.newlyHung(now: 4 * second, after: 5 * second).isEmpty)
        let first = monitor.newlyHung(now: 5 * second + 10_000_000, after: 5 * second)
        #expect(first.map(\.offset) == [0])
        #expect(first[0].pid == 101 && first[0].length == 4096 && first[0].kind == .read)
        #expect(monitor.newlyHung(now: 6 * second, after: 5 * second).isEmpty)  // once
        let later = monitor.newlyHung(now: 9 * second, after: 5 * second)
        #expect(later.map(\.offset) == [4096])
        #expect(HungRequestText.line(later[0], now: 9 * second, comm: "cat")
                == "hung read: obj 5 blob (unknown) 4096+4096 in flight 6.0 s, reader cat (pid 102)")
    }

    @Test func releasingTheFdSettlesItsRequestsUnanswered() {
        var c = Conversation()
        c.opened(1, obj: 5)
        c.read(10, obj: 5, start: 0, len: 4096, reader: 101)
        c.open(11, obj: 6, fd: 11)   // never answered: the daemon dies
        c.release(20, obj: 5)
        c.add(21, pid: 900, .ondemand(.fdRelease(.init(obj: 6, objectID: 4))))
        let (monitor, collected) = fed(c)
        monitor.releaseUnnamed(now: 100_000_000 + MonitorState.idleNamingGrace)   // unnamed objects: held for the grace
        let unanswered = collected.requests.filter { $0.completed == nil }
        #expect(unanswered.map(\.kind) == [.read, .open])
        #expect(monitor.inFlight() == (read: .init(), open: .init()))
        #expect(collected.anomalies.filter { $0 == .readNeverCompleted }.count == 1)
        #expect(collected.anomalies.filter { $0 == .openNeverAnswered }.count == 1)
        #expect(collected.anomalies.filter { $0 == .fdReleaseWithOutstandingReads }.count == 1)
    }

    @Test func releasedObjectsAreForgottenSoMemoryFollowsTheLiveOnes() {
        let collected = Collected()
        let monitor = state(collected)
        // 70,000 objects opened, read once, released: more than one compaction interval.
        for obj in UInt32(1)...70_000 {
            var c = Conversation()
            let t = UInt64(obj) * 10
            c.open(t, obj: obj, fd: obj)
            c.copen(t + 1, obj: obj, size: 4096)
            c.read(t + 2, obj: obj, start: 0, len: 4096, reader: 7)
            c.answer(t + 3, obj: obj, start: 0, len: 4096)
            if obj % 1000 != 0 { c.release(t + 4, obj: obj) }  // every 1000th stays open
            c.events.forEach(monitor.consume)
        }
        monitor.releaseUnnamed(now: .max / 2)
        #expect(collected.requests.count == 140_000)
        #expect(collected.requests.allSatisfy { $0.completed != nil })
        // A compaction every 65,536 events (7 per object): what is held is the 70 objects left
        // open and the objects since the last compaction.
        #expect(monitor.objectCount < 20_000, "\(monitor.objectCount) objects held")
        #expect(monitor.inFlight() == (read: .init(), open: .init()))
    }
}

@Suite struct MonitorTextTests {
    @Test func blobLabelsAreCappedAndUnknownBlobsHaveNone() {
        var labels = BlobLabels(limit: 2)
        #expect(labels.label(for: BlobName(volume: "erofs,a", blob: "a")) == "a")
        #expect(labels.label(for: nil) == "")
        #expect(labels.label(for: BlobName(volume: "erofs,a", blob: "b")) == "b")
        #expect(labels.label(for: BlobName(volume: "erofs,a", blob: "c")) == "other")
        #expect(labels.label(for: BlobName(volume: nil, blob: "a")) == "a")
        var none = BlobLabels(limit: 0)
        #expect(none.label(for: BlobName(volume: nil, blob: "a")) == "other")
    }

    @Test(arguments: [
        ("127.0.0.1:9464", "127.0.0.1", 9464), ("0.0.0.0:0", "0.0.0.0", 0), ("[::1]:80", "::1", 80), ("localhost:9100", "localhost", 9100),
    ])
    func listenAddresses(text: String, host: String, port: Int) throws {
        let address = try ListenAddress.parse(text).get()
        #expect(address == ListenAddress(host: host, port: port))
        #expect(address.description == text)
    }

    @Test(arguments: ["9464", "127.0.0.1", ":9464", "127.0.0.1:65536", "127.0.0.1:x", "::1:9464", "[::1:9464"])
    func badListenAddresses(text: String) {
        guard case .failure(let error) = ListenAddress.parse(text) else { Issue.record("\(text) parsed"); return }
        #expect(error.description.contains(text))
    }

    @Test func byteSizes() {
        #expect(ByteSizeText.bytes("64MiB", bare: 1) == 64 << 20)
        #expect(ByteSizeText.bytes("64", bare: 1 << 20) == 64 << 20)
        #expect(ByteSizeText.bytes("512k", bare: 1) == 512 << 10)
        #expect(ByteSizeText.bytes("2G", bare: 1) == 2 << 30)
        #expect(ByteSizeText.bytes("10B", bare: 1 << 20) == 10)
        #expect(ByteSizeText.bytes("1.5GiB", bare: 1) == nil)
        #expect(ByteSizeText.bytes("MiB", bare: 1) == nil)
        #expect(ByteSizeText.bytes("99999999999999999999G", bare: 1) == nil)
        #expect(ByteSizeText.bytes("20000000000G", bare: 1) == nil)  // overflows
    }
}

@Suite struct MonitorNamingTests {
    /// Also when the clock runs ahead of the records still in the ring buffer: a name polled in
    /// time but consumed after `namingGrace` of clock still names the request (seen in a loaded
    /// test VM).
    @Test func aRequestAnsweredBeforeItsObjectIsNamedWaitsForTheName() {
        var c = Conversation()
        c.opened(1, obj: 5)
        var requests: [RequestRecord] = []
        let monitor = MonitorState(onRequest: { requests.append($0) }, onAnomaly: { _ in })
        c.events.forEach(monitor.consume)
        #expect(requests.isEmpty)   // held: no name yet
        monitor.releaseUnnamed(now: 3_000_000 + MonitorState.namingGrace + 500_000_000)   // the hung check, 0.75 s on
        #expect(requests.isEmpty)
        var later = Conversation()
        later.cookie(20, obj: 5, cookie: 40, blob: "img")   // the poller's line, 17 ms after the copen, drained late
        later.events.forEach(monitor.consume)
        #expect(requests.map { $0.blob?.blob } == ["img"])
    }

    @Test func anObjectNeverNamedIsCountedAfterTheGrace() {
        var c = Conversation()
        c.opened(1, obj: 5)
        var requests: [RequestRecord] = []
        let monitor = MonitorState(onRequest: { requests.append($0) }, onAnomaly: { _ in })
        c.events.forEach(monitor.consume)
        monitor.releaseUnnamed(now: 3_000_000 + MonitorState.idleNamingGrace - 1)
        #expect(requests.isEmpty)
        monitor.releaseUnnamed(now: 3_000_000 + MonitorState.idleNamingGrace)
        #expect(requests.count == 1 && requests[0].blob == nil)
        // By the records, the shorter grace: a later record ends the wait of the next one.
        var d = Conversation()
        d.opened(1, obj: 6)
        let byRecords = MonitorState(onRequest: { requests.append($0) }, onAnomaly: { _ in })
        d.events.forEach(byRecords.consume)
        var after = Conversation()
        after.read(3 + MonitorState.namingGrace / 1_000_000, obj: 6, start: 0, len: 4096, reader: 101)
        after.events.forEach(byRecords.consume)
        #expect(requests.count == 2 && requests[1].blob == nil && requests[1].kind == .open)
    }
}

/// The fanotify path in the monitor: a reader blocked in the hook is in flight (and hung once),
/// and its request is counted when answered.
@Suite struct MonitorFanotifyTests {
    static func event(_ ms: UInt64, _ pid: Int32, _ system: String, _ name: String, _ fields: [(String, UInt64)]) -> TraceEvent {
        TraceEvent(timestamp: ms * 1_000_000, cpu: 0, pid: pid, comm: nil,
                   body: .generic(GenericEvent(system: system, name: name, fields: fields.map { NamedValue($0.0, .unsigned($0.1)) })))
    }

    @Test func aBlockedReaderIsInFlightAndHungThenCounted() {
        var requests: [RequestRecord] = []
        let monitor = MonitorState(onRequest: { requests.append($0) }, onAnomaly: { _ in })
        let g = "ondemand_fan_77"
        for e in [Self.event(1, 40, g, "fan_pre_content", [("pos", 4096), ("count", 8192)]),
                  Self.event(1, 40, "fsnotify", "fsnotify", [("mask", 0x100000), ("ino", 12), ("s_dev", 254 << 20)]),
                  Self.event(2, 40, g, "fan_insert", [("ev", 0xabc0)]),
                  Self.event(3, 9, g, "fan_pickup", [("ev", 0xabc0)])] {
            monitor.consume(e)
        }
        let (read, open) = monitor.inFlight()
        #expect(read.count == 1 && read.oldestIssued == 1_000_000 && open.count == 0)
        let hung = monitor.newlyHung(now: 6_000_000_000, after: 5_000_000_000)
        #expect(hung.count == 1 && hung[0].pid == 40 && hung[0].offset == 4096 && hung[0].blob?.blob == "ino=12")
        #expect(monitor.newlyHung(now: 7_000_000_000, after: 5_000_000_000).isEmpty)   // once
        for e in [Self.event(6500, 9, g, "fan_answer", [("ev", 0xabc0), ("resp", 1)]),
                  Self.event(6501, 40, g, "fan_destroy", [("ev", 0xabc0)]),
                  Self.event(6502, 40, g, "fan_pre_content_ret", [("ret", 0)])] {
            monitor.consume(e)
        }
        #expect(monitor.inFlight().read.count == 0)
        #expect(requests.count == 1 && requests[0].latency == 6_499_000_000 && requests[0].length == 8192)
    }
}
