import Testing
@testable import OndemandTraceCore

@Suite struct CachefilesMessageTests {
    private func decode(_ bytes: [UInt8]) throws(CachefilesMessageError) -> CachefilesMessage {
        let result = bytes.withUnsafeBytes { raw in Result { () throws(CachefilesMessageError) in try CachefilesMessage.decode(raw) } }
        return try result.get()
    }

    @Test func decodesAnOpenAsTheKernelLaysItOut() throws {
        // msg_id 7, opcode OPEN, len, object_id 3; then volume_key_size 12, cookie_key_size 5, fd 8, flags 0.
        var bytes: [UInt8] = [7, 0, 0, 0, 0, 0, 0, 0, 49, 0, 0, 0, 3, 0, 0, 0,
                              12, 0, 0, 0, 5, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0]
        bytes += Array("erofs,small".utf8) + [0] + Array("small".utf8)
        let message = try decode(bytes)
        #expect(message.msgID == 7)
        #expect(message.objectID == 3)
        #expect(message.request == .open(.init(volumeKey: Array("erofs,small".utf8) + [0], cookieKey: Array("small".utf8), fd: 8, flags: 0)))
        #expect(message.encoded() == bytes)
    }

    @Test func decodesReadAndClose() throws {
        let read = CachefilesMessage(msgID: 12, objectID: 1, request: .read(.init(offset: 4096, length: 131_072)))
        #expect(try decode(read.encoded()) == read)
        #expect(read.encoded().count == 32)
        let close = CachefilesMessage(msgID: 50, objectID: 1, request: .close)
        #expect(try decode(close.encoded()) == close)
        #expect(close.requestName == "close")
    }

    @Test func refusesMalformedMessages() {
        #expect(throws: CachefilesMessageError.truncated(have: 8, need: 16)) { try decode([UInt8](repeating: 0, count: 8)) }
        var read = CachefilesMessage(msgID: 1, objectID: 1, request: .read(.init(offset: 0, length: 4096))).encoded()
        read.removeLast(4)
        #expect(throws: CachefilesMessageError.badLength(declared: 32, read: 28)) { try decode(read) }
        var open = CachefilesMessage(msgID: 1, objectID: 1, request: .open(.init(volumeKey: [1, 2], cookieKey: [3], fd: 5, flags: 0))).encoded()
        open[16] = 200  // volume_key_size larger than the payload
        #expect(throws: CachefilesMessageError.keysOverrun(volume: 200, cookie: 1, available: 3)) { try decode(open) }
        var unknown = CachefilesMessage(msgID: 1, objectID: 1, request: .close).encoded()
        unknown[4] = 9
        #expect(throws: CachefilesMessageError.unknownOpcode(9)) { try decode(unknown) }
    }

    @Test func repliesUseTheCopenSyntax() {
        #expect(CachefilesReply.copen(msgID: 3, size: 2_523_136) == "copen 3,2523136")
        #expect(CachefilesReply.copen(msgID: 4, errno: 5) == "copen 4,-5")
    }
}

@Suite struct BlobKeysTests {
    private func name(_ volume: String, _ cookie: String, nul: Bool = true) -> Result<String, KeyRejection> {
        BlobKeys.blobName(volumeKey: Array(volume.utf8) + (nul ? [0] : []), cookieKey: Array(cookie.utf8))
    }

    @Test func acceptsAPlainFsid() {
        #expect(name("erofs,small", "small") == .success("small"))
        #expect(name("erofs,img-1.v2", "img-1.v2", nul: false) == .success("img-1.v2"))
    }

    @Test(arguments: ["../etc/passwd", "a/b", "/abs", "..", ".", "", "x..y"])
    func refusesNamesThatCouldLeaveTheSourceDirectory(_ fsid: String) {
        guard case .failure = name("erofs,\(fsid)", fsid) else { Issue.record("accepted \(fsid)"); return }
        // The cookie key alone is checked too, even when the volume key is fine.
        guard case .failure = name("erofs,ok", fsid) else { Issue.record("accepted cookie \(fsid)"); return }
    }

    @Test func refusesNulAndControlCharacters() {
        let nul = BlobKeys.blobName(volumeKey: Array("erofs,a".utf8) + [0], cookieKey: [0x61, 0, 0x62])
        #expect(nul == .failure(KeyRejection(key: "a\\x00b", reason: "cookie key contains a NUL byte")))
        let control = BlobKeys.blobName(volumeKey: Array("erofs,a\u{1b}".utf8) + [0], cookieKey: Array("a".utf8))
        #expect(control == .failure(KeyRejection(key: "erofs,a\\x1b", reason: "volume key contains a control character")))
        let embeddedNul = BlobKeys.blobName(volumeKey: Array("erofs,a".utf8) + [0, 0x62, 0], cookieKey: Array("a".utf8))
        guard case .failure(let rejection) = embeddedNul else { Issue.record("accepted an embedded NUL"); return }
        #expect(rejection.reason == "volume key contains a NUL byte")
        #expect(name("nfs,small", "small") == .failure(KeyRejection(key: "nfs,small", reason: "volume key does not start with \"erofs,\"")))
        guard case .failure = BlobKeys.blobName(volumeKey: Array("erofs,".utf8) + [0xff, 0], cookieKey: [0xff]) else {
            Issue.record("accepted invalid UTF-8"); return
        }
    }
}

@Suite struct FaultPlanTests {
    @Test func parsesEveryKind() throws {
        let plan = try FaultPlan.parse(["delay=10ms", "delay=1ms..5ms,seed=7,every=3", "delay=2ms,after-write",
                                        "never-answer,nth=5", "no-data,every=4", "open-error=EIO", "exit,nth=10"])
        #expect(plan.faults.map(\.kind) == [
            .delay(.fixed(nanoseconds: 10_000_000), afterWrite: false),
            .delay(.uniform(minNanoseconds: 1_000_000, maxNanoseconds: 5_000_000, seed: 7), afterWrite: false),
            .delay(.fixed(nanoseconds: 2_000_000), afterWrite: true),
            .neverAnswer, .noData, .openError(errno: 5), .exit,
        ])
        #expect(plan.faults.map(\.selector) == [.every(1), .every(3), .every(1), .nth(5), .every(4), .every(1), .nth(10)])
    }

    @Test func selectsReadsByNumber() throws {
        let plan = try FaultPlan.parse(["delay=10ms,every=3", "delay=1ms,after-write,every=3", "no-data,nth=2", "never-answer,nth=4", "exit,nth=6"])
        #expect(plan.readActions(index: 1) == FaultPlan.ReadActions())
        let second = plan.readActions(index: 2)
        #expect(!second.writeData && second.answer && second.delayBeforeWrite == 0)
        let third = plan.readActions(index: 3)
        #expect(third.delayBeforeWrite == 10_000_000 && third.delayAfterWrite == 1_000_000 && third.writeData)
        #expect(third.applied.map(\.name) == ["delay", "delay"])
        #expect(!plan.readActions(index: 4).answer)
        #expect(plan.readActions(index: 6).exitDaemon && plan.readActions(index: 6).delayBeforeWrite == 10_000_000)
        #expect(!plan.readActions(index: 12).exitDaemon)
    }

    @Test func selectsOpens() throws {
        let plan = try FaultPlan.parse(["open-error=ENOENT,nth=2", "delay=5ms"])
        #expect(plan.openError(index: 1) == nil)
        #expect(plan.openError(index: 2)?.errno == 2)
        #expect(plan.readActions(index: 1).delayBeforeWrite == 5_000_000)
    }

    @Test func randomDelaysAreReproducibleAndInRange() throws {
        let delay = FaultPlan.Delay.uniform(minNanoseconds: 1_000_000, maxNanoseconds: 5_000_000, seed: 7)
        let values = (1...1000).map { delay.nanoseconds(forRequest: $0) }
        #expect(values.allSatisfy { (1_000_000...5_000_000).contains($0) })
        #expect(values == (1...1000).map { delay.nanoseconds(forRequest: $0) })
        #expect(Set(values).count > 900)
        let mean = Double(values.reduce(0, +)) / 1000
        #expect(abs(mean - 3_000_000) < 200_000)
        let other = FaultPlan.Delay.uniform(minNanoseconds: 1_000_000, maxNanoseconds: 5_000_000, seed: 8)
        #expect(values != (1...1000).map { other.nanoseconds(forRequest: $0) })
    }

    @Test(arguments: [
        ("delay", "delay needs a duration, e.g. delay=10ms or delay=1ms..5ms"),
        ("delay=10", "\"10\" is not a duration (e.g. 10ms, 500us, 1s)"),
        ("delay=5ms..1ms", "\"5ms..1ms\" is not a range MIN..MAX of durations (e.g. 1ms..5ms)"),
        ("delay=1ms,every=0", "\"0\" is not a positive number"),
        ("open-error=EWHAT", "\"EWHAT\" is not an errno name (EIO, ENOENT, ...) or a positive number"),
        ("no-data=3", "no-data takes no value"),
        ("explode", "unknown fault \"explode\" (delay, never-answer, no-data, open-error, exit, deny)"),
        ("exit,when=3", "unknown option \"when=3\" (every=N, nth=N, seed=N, before-write, after-write)"),
    ])
    func refusesBadSpecs(_ spec: String, _ reason: String) {
        #expect(throws: FaultSpecError(spec: spec, reason: reason)) { try FaultPlan.parse([spec]) }
    }

    @Test func parsesDurations() {
        #expect(DurationText.nanoseconds("10ms", bare: nil) == 10_000_000)
        #expect(DurationText.nanoseconds("500us", bare: nil) == 500_000)
        #expect(DurationText.nanoseconds("1.5s", bare: nil) == 1_500_000_000)
        #expect(DurationText.nanoseconds("250ns", bare: nil) == 250)
        #expect(DurationText.nanoseconds("ms", bare: nil) == nil)
        #expect(DurationText.nanoseconds("-1ms", bare: nil) == nil)
        #expect(DurationText.nanoseconds("10", bare: nil) == nil)
    }
}

@Suite struct DaemonMarkerTests {
    @Test func linesFollowTheDocumentedFormat() {
        #expect(DaemonMarker(.pickup, .read, msgID: 12, objectID: 1, offset: 4096, length: 16384).line
                == "odt1 pickup read msg=12 oid=1 off=4096 len=16384")
        #expect(DaemonMarker(.done, .read, msgID: 12, objectID: 1, result: 0).line == "odt1 done read msg=12 oid=1 res=0")
        #expect(DaemonMarker(.done, .open, msgID: 0, objectID: 1, fd: 8, result: -5).line == "odt1 done open msg=0 oid=1 fd=8 res=-5")
        #expect(DaemonMarker(.fault, .read, msgID: 3, objectID: 2, offset: 0, length: 4096, fault: "delay").line
                == "odt1 fault read msg=3 oid=2 off=0 len=4096 fault=delay")
    }
}
