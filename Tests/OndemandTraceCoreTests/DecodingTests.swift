import Testing
@testable import OndemandTraceCore

@Suite struct BinaryDecoderTests {
    static let common: [FieldLayout] = [
        FieldLayout(name: "common_type", type: "unsigned short", offset: 0, size: 2, isSigned: false),
        FieldLayout(name: "common_flags", type: "unsigned char", offset: 2, size: 1, isSigned: false),
        FieldLayout(name: "common_preempt_count", type: "unsigned char", offset: 3, size: 1, isSigned: false),
        FieldLayout(name: "common_pid", type: "int", offset: 4, size: 4, isSigned: true),
    ]

    static func record(id: UInt16, pid: Int32, size: Int, _ fill: (inout [UInt8]) -> Void) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: size)
        withUnsafeBytes(of: id.littleEndian) { bytes.replaceSubrange(0..<2, with: $0) }
        withUnsafeBytes(of: pid.littleEndian) { bytes.replaceSubrange(4..<8, with: $0) }
        fill(&bytes)
        return bytes
    }

    static func put<T: FixedWidthInteger>(_ value: T, at offset: Int, in bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(offset..<(offset + MemoryLayout<T>.size), with: $0) }
    }

    @Test func decodesTheRealReadLayout() throws {
        let layout = try FormatFileParser.parse(DefaultFormats.format(named: "cachefiles_ondemand_read")!, system: "cachefiles")
        #expect(layout.name == "cachefiles_ondemand_read")
        let decoder = BinaryEventDecoder(layouts: [layout], selection: .ondemand)
        let bytes = Self.record(id: UInt16(layout.id), pid: 119, size: 40) { b in
            Self.put(UInt32(7), at: 8, in: &b)
            Self.put(Int64(0x201000), at: 24, in: &b)
            Self.put(UInt64(0x3000), at: 32, in: &b)
        }
        let body = try bytes.withUnsafeBytes { try decoder.decode($0) }
        #expect(body == .ondemand(.read(.init(obj: 7, msgID: 0, objectID: 0, start: 0x201000, len: 0x3000))))
        #expect(bytes.withUnsafeBytes { decoder.pid(of: $0) } == 119)
    }

    @Test func aKernelThatMovesAndDropsFieldsStillDecodes() throws {
        // Imagined layout: `object_id` dropped, `len` before `start`, an extra field first.
        let layout = EventLayout(system: "cachefiles", name: "cachefiles_ondemand_read", id: 600,
                                 fields: Self.common + [
                                    FieldLayout(name: "flags", type: "unsigned int", offset: 8, size: 4, isSigned: false),
                                    FieldLayout(name: "obj", type: "unsigned int", offset: 12, size: 4, isSigned: false),
                                    FieldLayout(name: "msg_id", type: "unsigned int", offset: 16, size: 4, isSigned: false),
                                    FieldLayout(name: "len", type: "size_t", offset: 24, size: 8, isSigned: false),
                                    FieldLayout(name: "start", type: "loff_t", offset: 32, size: 8, isSigned: true),
                                 ])
        let decoder = BinaryEventDecoder(layouts: [layout], selection: .all)
        let bytes = Self.record(id: 600, pid: 5, size: 40) { b in
            Self.put(UInt32(0xdead), at: 8, in: &b)
            Self.put(UInt32(3), at: 12, in: &b)
            Self.put(UInt32(9), at: 16, in: &b)
            Self.put(UInt64(4096), at: 24, in: &b)
            Self.put(Int64(-1), at: 32, in: &b)
        }
        let body = try bytes.withUnsafeBytes { try decoder.decode($0) }
        #expect(body == .ondemand(.read(.init(obj: 3, msgID: 9, objectID: nil, start: -1, len: 4096))))
    }

    @Test func shortRecordsAreErrorsNotZeros() throws {
        let layout = try FormatFileParser.parse(DefaultFormats.format(named: "cachefiles_ondemand_read")!, system: "cachefiles")
        let decoder = BinaryEventDecoder(layouts: [layout], selection: .ondemand)
        let bytes = Self.record(id: UInt16(layout.id), pid: 1, size: 20) { _ in }
        #expect(throws: DecodeError.shortRecord(event: "cachefiles_ondemand_read", size: 20, needed: 40)) {
            try bytes.withUnsafeBytes { try decoder.decode($0) }
        }
    }

    @Test func unselectedEventsAreSkipped() throws {
        let decoder = BinaryEventDecoder(layouts: DefaultFormats.layouts, selection: .markers)
        let read = try #require(DefaultFormats.layouts.first { $0.name == "cachefiles_ondemand_read" })
        let bytes = Self.record(id: UInt16(read.id), pid: 1, size: 40) { _ in }
        #expect(try bytes.withUnsafeBytes { try decoder.decode($0) } == nil)
        #expect(!decoder.isSelected(eventID: read.id))
    }

    /// The slim path of the report's ties (`decodeTie`) gives what `decode` gives: the same fields
    /// (`TieRecord.traceEvent`) or the same error, on random records of every length, with refs
    /// of every reason (most dropped by the mask first), in the 6.12 layouts and in one with a
    /// signed cookie before obj.
    @Test(arguments: [UInt64(1), 2, 3])
    func tieRecordsAreWhatDecodeGives(round: UInt64) throws {
        let seed = round &* 0x9E37_79B9 &+ 25
        var rng = SplitMix64(seed: seed)
        let moved = EventLayout(system: "cachefiles", name: "cachefiles_ref", id: 700, fields: Self.common + [
            FieldLayout(name: "cookie", type: "int", offset: 8, size: 4, isSigned: true),
            FieldLayout(name: "why", type: "unsigned char", offset: 12, size: 1, isSigned: false),
            FieldLayout(name: "obj", type: "unsigned short", offset: 14, size: 2, isSigned: false),
        ], symbols: ["why": [1: "NEW obj", 3: "PUT detach"]])
        for layouts in [DefaultFormats.layouts, [moved]] {
            let decoder = BinaryEventDecoder(layouts: layouts, selection: .report)
            var ties = 0
            for layout in layouts where TieRecord.Kind(eventName: layout.name) != nil {
                #expect(decoder.isTie(eventID: layout.id), "\(layout.name)")
                let full = layout.fields.map { $0.offset + $0.size }.max()!
                for size in 2...full {
                    for _ in 0..<40 {
                        var bytes = (0..<size).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                        bytes[0] = UInt8(layout.id & 0xff)
                        bytes[1] = UInt8(layout.id >> 8)
                        // A reason the mask keeps (NEW obj, SEE lookup_cookie, GET ondemand_fd) or any.
                        if let why = layout.field(named: "why"), why.offset < size {
                            bytes[why.offset] = [1, 8, 12, UInt8(rng.next() % 18)][Int(rng.next() % 4)]
                        }
                        let (generic, tie) = bytes.withUnsafeBytes { data in
                            (Result<EventBody?, DecodeError> { () throws(DecodeError) in try decoder.decode(data) },
                             Result<TieRecord?, DecodeError> { () throws(DecodeError) in
                                 guard decoder.passesMask(data, eventID: layout.id) else { return nil }
                                 return try decoder.decodeTie(data, eventID: layout.id, timestamp: 9, cpu: 1)
                             })
                        }
                        switch (generic, tie) {
                        case let (.success(body), .success(record)):
                            #expect(body == record?.traceEvent(comm: nil).body, "\(layout.name) \(bytes) seed \(seed)")
                            #expect(record == nil || record!.pid == bytes.withUnsafeBytes { decoder.pid(of: $0) })
                            if record != nil { ties += 1 }
                        case let (.failure(a), .failure(b)):
                            #expect(a == b, "\(layout.name) \(bytes) seed \(seed)")
                        default:
                            Issue.record("\(layout.name) \(bytes): decode \(generic), decodeTie \(tie), seed \(seed)")
                        }
                    }
                }
            }
            #expect(ties > (layouts.count == 1 ? 2 : 100), "seed \(seed)")
        }
    }

    @Test func markersAndGenericEventsKeepTheirFields() throws {
        let decoder = BinaryEventDecoder(layouts: DefaultFormats.layouts, selection: .all)
        let text = Array("odt1 pickup read msg=3\n".utf8) + [0]
        let marker = Self.record(id: 5, pid: 42, size: 16 + text.count) { b in b.replaceSubrange(16..<(16 + text.count), with: text) }
        #expect(try marker.withUnsafeBytes { try decoder.decode($0) } == .marker(.init(text: "odt1 pickup read msg=3")))
    }

    /// `markerText` gives the bytes of the text `decode` gives a marker (up to the first NUL, a
    /// final newline dropped but not a final CR LF), whatever the text's length against the
    /// eight bytes it looks for the NUL in at a time.
    @Test(arguments: ["odt1 pickup read msg=3\n", "odt1 done read msg=1 oid=1 res=0", "x\r\n", "\n", "", "ab\ncd\n\n",
                      "0123456\n", "01234567\n", "012345678901234", "odt1 done\0read msg=1\n", "caf\u{e9} \u{1F600}\n"])
    func markerTextIsTheDecodedText(text: String) throws {
        let decoder = BinaryEventDecoder(layouts: DefaultFormats.layouts, selection: .report)
        for padding in 0..<9 {
            let bytes = Array(text.utf8) + [UInt8](repeating: 0, count: padding)
            let record = Self.record(id: 5, pid: 42, size: 16 + bytes.count) { b in b.replaceSubrange(16..<(16 + bytes.count), with: bytes) }
            try record.withUnsafeBytes { data in
                #expect(decoder.isMarker(eventID: 5) && !decoder.isMarker(eventID: 4))
                let got = try #require(try decoder.markerText(data, eventID: 5))
                guard case .marker(let event)? = try decoder.decode(data) else { Issue.record("not a marker"); return }
                #expect(String(decoding: got, as: UTF8.self) == event.text, "\(text.debugDescription) + \(padding) NULs")
            }
        }

        let ioError = try #require(DefaultFormats.layouts.first { $0.name == "cachefiles_io_error" })
        let record = Self.record(id: UInt16(ioError.id), pid: 1, size: 24) { b in
            Self.put(UInt32(4), at: 8, in: &b)
            Self.put(UInt32(16), at: 16, in: &b)
            Self.put(Int16(-5), at: 20, in: &b)
        }
        guard case .generic(let event)? = try record.withUnsafeBytes({ try decoder.decode($0) }) else {
            Issue.record("not a generic event"); return
        }
        #expect(event["obj"] == .unsigned(4))
        #expect(event["error"] == .signed(-5))
        // The enum prints as the kernel's text does, through the format's __print_symbolic table.
        #expect(event["where"] == .string("write"))
    }
}

@Suite struct TextParserTests {
    func parse(_ line: String, selection: EventSelection = .all) -> TextTraceParser.Line {
        var parser = TextTraceParser(selection: selection)
        return parser.parse(Substring(line))
    }

    @Test func tracefsLineWithFlagColumns() {
        let line = "          md5sum-122     [001] .....     4.425489: cachefiles_ondemand_read: o=00000001 mid=0 oid=0 s=1000 l=4000"
        #expect(parse(line) == .event(TraceEvent(timestamp: 4_425_489_000, cpu: 1, pid: 122, comm: "md5sum",
                                                  body: .ondemand(.read(.init(obj: 1, msgID: 0, objectID: 0, start: 0x1000, len: 0x4000))))))
    }

    @Test func traceCmdReportLineAndOddComms() {
        let line = "     kworker/0:0-7     [000]     4.354050: cachefiles_ondemand_cread:    o=0000001f mid=1a"
        #expect(parse(line) == .event(TraceEvent(timestamp: 4_354_050_000, cpu: 0, pid: 7, comm: "kworker/0:0",
                                                  body: .ondemand(.cread(.init(obj: 0x1f, msgID: 0x1a))))))
        let tgid = "  DOM Worker-12-9 (    9) [003] d..1.  10.000000001: cachefiles_ondemand_fd_release: o=00000002 oid=5"
        #expect(parse(tgid) == .event(TraceEvent(timestamp: 10_000_000_001, cpu: 3, pid: 9, comm: "DOM Worker-12",
                                                  body: .ondemand(.fdRelease(.init(obj: 2, objectID: 5))))))
    }

    @Test func noFlagColumnsAndMarkers() {
        let line = "  ondemand-117  [000]  5.000001: tracing_mark_write: odt1 done read msg=1 oid=1 res=0"
        #expect(parse(line) == .event(TraceEvent(timestamp: 5_000_001_000, cpu: 0, pid: 117, comm: "ondemand",
                                                  body: .marker(.init(text: "odt1 done read msg=1 oid=1 res=0")))))
    }

    @Test func missingLabelsAreAbsent() {
        let line = "  x-1 [000] 1.000000: cachefiles_ondemand_open: o=00000003 fd=9"
        #expect(parse(line) == .event(TraceEvent(timestamp: 1_000_000_000, cpu: 0, pid: 1, comm: "x",
                                                  body: .ondemand(.open(.init(obj: 3, msgID: nil, objectID: nil, fd: 9, flags: nil))))))
    }

    @Test func errorEventsKeepSignsAndSymbolicNames() {
        let line = "  kworker/1:2-40 [001] ..... 7.000000: cachefiles_io_error: o=00000003 B=1f fallocate e=-5"
        guard case .event(let event) = parse(line), case .generic(let g) = event.body else {
            Issue.record("not a generic event"); return
        }
        #expect(g["obj"] == .unsigned(3))
        #expect(g["backer"] == .unsigned(0x1f))
        #expect(g["where"] == .string("fallocate"))
        #expect(g["error"] == .signed(-5))
    }

    @Test func lostEventLinesAndGarbage() {
        #expect(parse("CPU:1 [LOST 42 EVENTS]") == .lost(cpu: 1, count: 42))
        #expect(parse("CPU:0 [7 EVENTS DROPPED]") == .lost(cpu: 0, count: 7))
        var parser = TextTraceParser(selection: .all)
        #expect(parser.parse("# tracer: nop") == .none)
        #expect(parser.parse("hello world") == .none)
        #expect(parser.parse("   bash-1 [000] 2.000000: sched_switch: prev=a") == .none)
        #expect(parser.unparsedLines == 1 && parser.firstUnparsedLine == 2 && parser.skippedEvents == 1)
    }
}

@Suite struct FormattingTests {
    @Test func jsonLineHasEveryFieldByKernelName() {
        let event = TraceEvent(timestamp: 4_409_061_123, cpu: 1, pid: 119, comm: "mo\"unt",
                               body: .ondemand(.copen(.init(obj: 1, msgID: nil, len: 2_117_632))))
        #expect(EventFormatting.json(event) == #"{"event":"cachefiles_ondemand_copen","ts_ns":4409061123,"ts":4.409061123,"cpu":1,"pid":119,"comm":"mo\"unt","fields":{"obj":1,"msg_id":null,"len":2117632}}"#)
        #expect(EventFormatting.line(event) == "      4.409061 [001] mo\"unt-119           copen      obj=1 msg_id=- len=2117632")
    }
}
