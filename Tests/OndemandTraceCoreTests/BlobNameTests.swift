import Testing
@testable import OndemandTraceCore

extension EventScript {
    mutating func tie(_ name: String, obj: UInt32, cookie: UInt32? = nil, pid: Int32, at us: UInt64) {
        _ = at(us)
        var fields = [NamedValue("obj", .unsigned(UInt64(obj)))]
        if let cookie { fields.append(NamedValue("cookie", .unsigned(UInt64(cookie)))) }
        events.append(TraceEvent(timestamp: now, cpu: 0, pid: pid, comm: "x",
                                 body: .generic(GenericEvent(system: "cachefiles", name: name, fields: fields))))
    }

    func model(names: [UInt32: BlobName] = [:], filter: ReportFilter = ReportFilter()) -> ReportModel {
        let builder = ReportBuilder(filter: filter, names: names)
        for e in events { builder.consume(e) }
        return builder.finish(metadata: TraceMetadata(path: "t", format: "text", formatDescription: "text", kernelRelease: nil,
                                                      clock: nil, recordsSeen: events.count, eventsDelivered: events.count,
                                                      ondemandEvents: events.count))
    }
}

@Suite struct KeyTextTests {
    @Test func printableBytesStandForThemselvesAndTheRestIsHex() {
        #expect(KeyText.escape(Array("erofs,md.img".utf8)) == "erofs,md.img")
        #expect(KeyText.escape([0x61, 0x20, 0x5c, 0x00, 0xff, 0x7e]) == #"a\x20\x5c\x00\xff~"#)
        #expect(KeyText.unescape(#"a\x20\x5C\x00\xff~"#) == [0x61, 0x20, 0x5c, 0x00, 0xff, 0x7e])
        for bad in [#"a\x2"#, #"a\y20"#, "a b", #"\xg0"#, "é"] { #expect(KeyText.unescape(bad) == nil, "\(bad)") }
        #expect(KeyText.name("a b") == #"a\x20b"#)
        #expect(KeyText.name(#"a\x20b"#) == #"a\x20b"#)
    }

    @Test func anyBytesComeBackExactly() {
        let seed = UInt64.random(in: 0...UInt64.max)
        print("KeyTextTests: seed \(seed)")
        var rng = SplitMix64(seed: seed)
        for _ in 0..<500 {
            let bytes = (0..<Int(rng.next() % 40)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let text = KeyText.escape(bytes)
            #expect(!text.contains(" ") && text.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7f }, "seed \(seed)")
            #expect(KeyText.unescape(text) == bytes, "seed \(seed): \(bytes)")
        }
    }

    @Test func markersCarryTheKeysAndOldMarkersStillParse() throws {
        var m = DaemonMarker(.pickup, .open, msgID: 3, objectID: 2, fd: 9)
        let name = BlobName(volumeKey: Array("erofs,md img".utf8) + [0], cookieKey: Array("blob\\1".utf8))
        (m.volume, m.blob) = (name.volume, name.blob)
        #expect(m.line == #"odt1 pickup open msg=3 oid=2 fd=9 volume=erofs,md\x20img blob=blob\x5c1"#)
        let parsed = try #require(DaemonMarker(text: m.line))
        #expect(parsed == m)
        #expect(parsed.name == BlobName(volume: #"erofs,md\x20img"#, blob: #"blob\x5c1"#))
        let old = try #require(DaemonMarker(text: "odt1 pickup open msg=3 oid=2 fd=9"))
        #expect(old.name == nil && old.fd == 9)
    }

    /// The tables as the 6.12 test kernel printed them with a bootstrap and a blob mounted.
    @Test func readsTheProcTablesOfTheTestKernel() {
        let cookies = """
            COOKIE   VOLUME   REF ACT ACC S FL DEF             
            ======== ======== === === === = == ================
            00000002 00000001   2   1   0 A 6134 6368756e6b
            00000003 00000001   2   1   0 A 4134 6368756e6b2d626c6f62
            0000000a 00000001   2   1   0 A 4134 61/0102
            """
        let volumes = """
            VOLUME   REF   nCOOK ACC FL CACHE           KEY
            ======== ===== ===== === == =============== ================
            00000001     3     2   1 00 explore         erofs,chunk
            """
        var known: Set<UInt32> = [3]
        let lines = FscacheProcTables.newLines(cookies: cookies, volumes: volumes, known: &known)
        #expect(lines.map(\.line) == ["odt1 cookie id=2 volume_id=1 volume=erofs,chunk blob=chunk",
                                      "odt1 cookie id=10 volume_id=1 volume=erofs,chunk blob=a"])
        #expect(known == [2, 3, 10])
        #expect(CookieKeyLine(text: lines[0].line) == lines[0])
        #expect(CookieKeyLine(text: "odt1 cookie volume=x blob=y") == nil)
    }
}

@Suite struct BlobNameCorrelationTests {
    /// Two objects, a bootstrap and a blob, each read once by its own reader.
    static func twoObjects(_ s: inout EventScript) {
        s.tie("cachefiles_ref", obj: 1, cookie: 2, pid: 50, at: 0)
        s.open(1, fd: 4, at: 1); s.copen(1, msg: 1, at: 2)
        s.tie("cachefiles_ref", obj: 2, cookie: 3, pid: 50, at: 3)
        s.open(2, fd: 5, at: 4); s.copen(2, msg: 2, at: 5)
        s.read(1, 0, 4096, at: 10, pid: 200); s.write(1, 0, 4096, at: 20); s.cread(1, msg: 3, at: 30)
        s.tie("cachefiles_prep_read", obj: 1, pid: 200, at: 45)
        s.read(2, 0, 8192, at: 50, pid: 201); s.write(2, 0, 8192, at: 60); s.cread(2, msg: 4, at: 150)
        s.tie("cachefiles_read", obj: 2, pid: 201, at: 160)
    }

    /// record's cookie lines come when it polls: after the first requests. The per-blob table and
    /// the objects still carry the names; the reads are where they were.
    @Test func cookieLinesNameObjectsThroughCachefilesRef() {
        var s = EventScript()
        Self.twoObjects(&s)
        s.marker("odt1 cookie id=3 volume_id=1 volume=erofs,md blob=mdblob", at: 170)
        s.marker("odt1 cookie id=2 volume_id=1 volume=erofs,md blob=md", at: 171)
        let m = s.model()
        #expect(m.objects.map(\.cookie) == [2, 3])
        #expect(m.objects.map(\.name) == [BlobName(volume: "erofs,md", blob: "md"), BlobName(volume: "erofs,md", blob: "mdblob")])
        #expect(m.blobs.map { [$0.name!.blob, String($0.objects), String($0.reads), String($0.readsAnswered), String($0.bytesRequested)] }
                == [["md", "1", "1", "1", "4096"], ["mdblob", "1", "1", "1", "8192"]])
        #expect(m.blobs.map { $0.latency.maxNanoseconds } == [20_000, 100_000])
    }

    @Test func namesGivenBeforeTheTraceWinAndFilterByBlob() {
        var s = EventScript()
        Self.twoObjects(&s)
        s.marker("odt1 cookie id=3 volume=erofs,md blob=mdblob", at: 170)
        let given: [UInt32: BlobName] = [1: BlobName(volume: nil, blob: "boot"), 2: BlobName(volume: "erofs,md", blob: "mdblob")]
        let m = s.model(names: given)
        #expect(m.objects.map(\.name) == [given[1], given[2]])
        var filter = ReportFilter(blob: "mdblob")
        filter.blobObjects = [2]
        let only = s.model(names: given, filter: filter)
        #expect(only.stats.reads.count == 1 && only.objects.map(\.obj) == [2] && only.blobs.map(\.reads) == [1])
    }

    @Test func openMarkersNameTheirObject() {
        var s = EventScript()
        s.open(1, fd: 4, at: 1)
        s.marker(#"odt1 pickup open msg=1 oid=7 fd=4 volume=erofs,md blob=md\x20x"#, at: 2)
        s.copen(1, msg: 1, at: 3)
        s.read(1, 0, 4096, at: 10); s.write(1, 0, 4096, at: 20); s.cread(1, msg: 3, at: 30)
        let r = s.run()
        #expect(r.objects[0].name == BlobName(volume: "erofs,md", blob: #"md\x20x"#))
        #expect(r.reads.map(\.blob?.blob) == [#"md\x20x"#])
    }

    /// resumed: cread -> the reader's next cachefiles record on the object; stall: read -> it.
    @Test func theReaderResumesAtItsNextRecordOnTheObject() {
        var s = EventScript()
        Self.twoObjects(&s)
        let r = s.run()
        #expect(r.reads.map(\.stall) == [35_000, 110_000])
        #expect(r.reads.map { $0.stages.map(\.stage) } == [[.toWrite, .toCread, .resumed], [.toWrite, .toCread, .resumed]])
        #expect(r.reads.map { $0.stages.last!.nanoseconds } == [15_000, 10_000])
    }

    /// Without those records (an older recording): no resumed stage, no stall — absent, not 0.
    @Test func withoutTheRecordsTheStallIsAbsent() {
        var s = EventScript()
        s.open(1, fd: 4, at: 1); s.copen(1, msg: 1, at: 2)
        s.read(1, 0, 4096, at: 10, pid: 200); s.write(1, 0, 4096, at: 20); s.cread(1, msg: 3, at: 30)
        s.tie("cachefiles_prep_read", obj: 9, pid: 200, at: 40)   // another object: not a resumption
        s.read(1, 4096, 4096, at: 50, pid: 200); s.write(1, 4096, 4096, at: 60); s.cread(1, msg: 4, at: 70)
        let m = s.model()
        #expect(m.stats.reads.matched == 2 && m.stats.stall.count == 0 && m.stats.stages[.resumed] == nil)
        let json = ReportJSON.render(m)
        #expect(json.contains(#""stall_us":null"#) && !json.contains(#""resumed""#))
    }
}

@Suite struct LatencyMergeTests {
    @Test func mergingIsRecordingEverything() {
        let seed = UInt64.random(in: 0...UInt64.max)
        print("LatencyMergeTests: seed \(seed)")
        var rng = SplitMix64(seed: seed)
        for limit in [4096, 10] {
            var a = LatencyRecorder(significantDigits: 2, exactLimit: limit, log2: false)
            var b = a, all = a
            for i in 0..<300 {
                let v = rng.next() % 50_000_000
                if i % 3 == 0 { a.record(nanoseconds: v) } else { b.record(nanoseconds: v) }
                all.record(nanoseconds: v)
            }
            a.merge(b)
            #expect(a.summary == all.summary, "seed \(seed), exact limit \(limit)")
            #expect(a.errorBound == all.errorBound)
        }
    }
}

@Suite struct BlobCheckTests {
    static func figures(_ blobs: [String: BlobFigures]) -> RunFigures {
        RunFigures(identity: [:], values: [.p50: 100, .p99: 200], readLatency: nil, blobs: blobs)
    }

    /// Blobs both sides name get a line each (sorted); a blob named on one side only does not.
    @Test func blobsOnBothSidesAreCompared() {
        let base = Self.figures(["b": BlobFigures(reads: 10, p50: 100, p99: 400, max: 500),
                                 "a": BlobFigures(reads: 5, p50: 50, p99: 80, max: 90),
                                 "only-base": BlobFigures(reads: 1, p50: 1, p99: 1, max: 1)])
        let cur = Self.figures(["b": BlobFigures(reads: 10, p50: 150, p99: 400, max: 600),
                                "a": BlobFigures(reads: 5, p50: 50, p99: 88, max: 90)])
        let result = RegressionCheck.run(baseline: base, current: cur, limits: Limit.defaults)
        #expect(result.blobs.map(\.blob) == ["a", "b"])
        let text = CheckFormatting.table(result)
        #expect(text.contains("per blob (both sides name their objects; baseline -> current, not judged):"))
        let line = text.split(separator: "\n").first { $0.hasPrefix("b ") }.map(String.init) ?? ""
        #expect(line.contains("10 -> 10") && line.contains("100.0 -> 150.0 (+50%)") && line.contains("400.0 -> 400.0 (+0.0%)")
                && line.contains("500.0 -> 600.0 (+20%)"), "\(line)")
        #expect(CheckFormatting.json(result).contains(#""blobs":[{"blob":"a","baseline":{"reads":5,"p50_us":50.000,"p99_us":80.000,"max_us":90.000}"#))
        let unnamed = RegressionCheck.run(baseline: Self.figures([:]), current: cur, limits: Limit.defaults)
        #expect(unnamed.blobs.isEmpty && !CheckFormatting.table(unnamed).contains("per blob"))
    }
}

@Suite struct ObjectTieDecodingTests {
    static func ref(_ layout: EventLayout, obj: UInt64, cookie: UInt64, why: UInt64) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: layout.fields.map { $0.offset + $0.size }.max() ?? 8)
        func put(_ value: UInt64, _ name: String) throws {
            let field = try #require(layout.field(named: name))
            for i in 0..<field.size { bytes[field.offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
        }
        try put(UInt64(layout.id), "common_type"); try put(obj, "obj"); try put(cookie, "cookie"); try put(why, "why")
        return bytes
    }

    /// For the report only the rare cachefiles_ref records are decoded (NEW obj, the OPEN's GET
    /// ondemand_fd, SEE lookup_cookie), with obj and cookie; dump (`.all`) gets every one whole.
    @Test func theReportDecodesOnlyTheRefsThatTieAnObjectToItsCookie() throws {
        let layouts = DefaultFormats.layouts
        let layout = try #require(layouts.first { $0.name == "cachefiles_ref" })
        let report = BinaryEventDecoder(layouts: layouts, selection: .report)
        let all = BinaryEventDecoder(layouts: layouts, selection: .all)
        let new = try Self.ref(layout, obj: 7, cookie: 3, why: 1), ioreq = try Self.ref(layout, obj: 7, cookie: 3, why: 0)
        let decoded = try new.withUnsafeBytes { try report.decode($0) }
        guard case .generic(let g)? = decoded else { Issue.record("not decoded: \(String(describing: decoded))"); return }
        #expect(g.fields.map(\.name) == ["obj", "cookie"] && g["obj"]?.integer == 7 && g["cookie"]?.integer == 3)
        #expect(try ioreq.withUnsafeBytes { try report.decode($0) } == nil)
        guard case .generic(let full)? = try ioreq.withUnsafeBytes({ try all.decode($0) }) else { Issue.record("dump lost it"); return }
        #expect(full.fields.map(\.name) == ["obj", "cookie", "why", "usage"])
    }
}
