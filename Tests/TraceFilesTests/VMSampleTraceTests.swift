import Testing
import OndemandTraceCore
import TraceFiles

/// The traces the VM harness recorded (SampleTraces/vm-*.txt, see its README): what the embedded
/// daemon did on a real 6.12 kernel, read back through the project's own reader.
@Suite struct VMSampleTraceTests {
    static let samples = String(#filePath.split(separator: "/").dropLast(3).joined(separator: "/")).withRoot + "/SampleTraces/"

    struct Counts {
        var kinds: [OndemandEvent.Kind: Int] = [:]
        var markers: [String] = []
        var reads: [(start: Int64, len: UInt64)] = []
        var creadMsgIDs: [UInt32] = []
    }

    func counts(_ name: String) throws -> Counts {
        var counts = Counts()
        _ = try TraceInput.read(path: Self.samples + name, selection: .all) { item in
            guard case .event(let event) = item else { return }
            switch event.body {
            case .ondemand(let e):
                counts.kinds[e.kind, default: 0] += 1
                if case .read(let r) = e, let start = r.start, let len = r.len { counts.reads.append((start, len)) }
                if case .cread(let c) = e, let msg = c.msgID { counts.creadMsgIDs.append(msg) }
            case .marker(let m): counts.markers.append(m.text)
            case .generic: break
            }
        }
        return counts
    }

    @Test func plainRunServesTheWholeImageOnce() throws {
        let c = try counts("vm-plain-6.12.txt")
        #expect(c.kinds[.read] == 49 && c.kinds[.fdWrite] == 49 && c.kinds[.cread] == 49)
        #expect(c.kinds[.open] == 1 && c.kinds[.copen] == 1 && c.kinds[.close] == 1 && c.kinds[.fdRelease] == 1)
        #expect(c.reads.reduce(0) { $0 + $1.len } == 2_523_136)  // the image's size: every byte read once
        // Each READ has a pickup, written and done marker, and its msg matches a cread's msg_id.
        let pickups = c.markers.filter { $0.hasPrefix("odt1 pickup read ") }
        #expect(pickups.count == 49)
        #expect(c.markers.filter { $0.hasPrefix("odt1 written read ") }.count == 49)
        #expect(c.markers.filter { $0.hasPrefix("odt1 done read ") && $0.hasSuffix(" res=0") }.count == 49)
        let markedMsgs = pickups.compactMap { $0.split(separator: " ").first { $0.hasPrefix("msg=") }.flatMap { UInt32($0.dropFirst(4)) } }
        #expect(markedMsgs.sorted() == c.creadMsgIDs.sorted())
    }

    @Test func delayedRunMarksEveryInjectedDelay() throws {
        let c = try counts("vm-delay10ms-6.12.txt")
        #expect(c.kinds[.read] == 49 && c.kinds[.cread] == 49)
        #expect(c.markers.filter { $0.hasPrefix("odt1 fault read ") && $0.hasSuffix(" fault=delay") }.count == 49)
    }

    @Test func refusedOpenLeavesNoCopen() throws {
        let c = try counts("vm-open-eio-6.12.txt")
        #expect(c.kinds[.open] == 1 && c.kinds[.copen] == nil && c.kinds[.read] == nil)
        #expect(c.markers == ["odt1 pickup open msg=0 oid=1 fd=9", "odt1 fault open msg=0 oid=1 fd=9 fault=open-error",
                              "odt1 done open msg=0 oid=1 fd=9 res=-5"])
    }

    @Test func daemonExitLeavesTheFifthReadUncompleted() throws {
        let c = try counts("vm-daemon-exit-6.12.txt")
        #expect(c.kinds[.read] == 5 && c.kinds[.fdWrite] == 4 && c.kinds[.cread] == 4)
        #expect(c.markers.last == "odt1 fault read msg=5 oid=1 off=163840 len=4096 fault=exit")
        #expect(!c.creadMsgIDs.contains(5))
    }

    @Test func failoverServesEveryReadAfterTheObjectIsReopened() throws {
        let c = try counts("vm-failover-restore-6.12.txt")
        // The first daemon dies holding READ msg 5; after `restore` the kernel re-opens the object
        // (a second OPEN/copen) and the new daemon answers it and every later READ.
        #expect(c.kinds[.open] == 2 && c.kinds[.copen] == 2 && c.kinds[.fdRelease] == 2)
        #expect(c.kinds[.read] == 49 && c.kinds[.fdWrite] == 49 && c.kinds[.cread] == 49)
        #expect(c.reads.reduce(0) { $0 + $1.len } == 2_523_136)
        #expect(c.markers.filter { $0.hasSuffix("fault=exit") }.count == 1)
        #expect(c.markers.filter { $0.hasPrefix("odt1 pickup open ") }.count == 2)
    }
}

private extension String {
    var withRoot: String { hasPrefix("/") ? self : "/" + self }
}
