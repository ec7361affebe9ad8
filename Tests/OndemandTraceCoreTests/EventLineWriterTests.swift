import Testing
@testable import OndemandTraceCore

/// The number routines `dump` formats with, against the standard library's.
@Suite struct ByteBufferNumberTests {
    static func text(_ fill: (ByteBuffer) -> Void) -> String {
        let out = ByteBuffer(capacity: 8)  // small: growing is exercised too
        fill(out)
        return String(decoding: out.bytes, as: UTF8.self)
    }

    static let unsignedEdges: [UInt64] = {
        var values: [UInt64] = [0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, UInt64(UInt32.max), UInt64(UInt32.max) + 1,
                                UInt64(Int64.max), UInt64(Int64.max) + 1, UInt64.max, UInt64.max - 1]
        var p: UInt64 = 1
        for _ in 0..<19 {
            p *= 10
            values += [p - 1, p, p + 1]
        }
        return values
    }()

    @Test func unsignedEdgeValues() {
        for v in Self.unsignedEdges {
            #expect(Self.text { $0.appendDecimal(v) } == String(describing: v))
            #expect(ByteBuffer.decimalDigits(v) == String(v).count, "\(v)")
        }
    }

    @Test func signedEdgeValues() {
        var values: [Int64] = [0, 1, -1, 9, -9, 10, -10, Int64.max, Int64.min, Int64.min + 1, Int64(Int32.min), Int64(Int32.max)]
        values += Self.unsignedEdges.filter { $0 <= UInt64(Int64.max) }.flatMap { [Int64($0), -Int64($0)] }
        for v in values {
            #expect(Self.text { $0.appendDecimal(v) } == String(describing: v))
        }
    }

    @Test func randomValuesOfEveryLength() {
        let seed = UInt64.random(in: 0...UInt64.max)
        print("ByteBufferNumberTests.randomValuesOfEveryLength seed: \(seed)")
        var rng = SplitMix64(seed: seed)
        for _ in 0..<20_000 {
            // A random number of bits, so that every digit count comes up.
            let u = rng.next() >> (rng.next() % 64)
            let s = Int64(bitPattern: rng.next()) >> (rng.next() % 64)
            #expect(Self.text { $0.appendDecimal(u) } == String(describing: u), "seed \(seed)")
            #expect(Self.text { $0.appendDecimal(s) } == String(describing: s), "seed \(seed)")
            let b = UInt8(truncatingIfNeeded: u)
            #expect(Self.text { $0.appendHex(b) } == String(b, radix: 16), "seed \(seed)")
            let decimals = Int(rng.next() % 10)
            #expect(Self.text { $0.appendSeconds(u, decimals: decimals) } == EventFormatting.seconds(u, decimals: decimals),
                    "seed \(seed): \(u) ns, \(decimals) decimals")
            #expect(ByteBuffer.secondsWidth(u, decimals: decimals) == EventFormatting.seconds(u, decimals: decimals).utf8.count)
        }
    }

    @Test func secondsAndPadding() {
        #expect(Self.text { $0.appendSeconds(4_409_061_123, decimals: 6) } == "4.409061")
        #expect(Self.text { $0.appendSeconds(4_000_000_009, decimals: 9) } == "4.000000009")
        #expect(Self.text { $0.appendSeconds(999_999_999, decimals: 0) } == "0")
        #expect(Self.text { $0.appendSeconds(UInt64.max, decimals: 9) } == "18446744073.709551615")
        #expect(Self.text { $0.appendDecimal(42, zeroPaddedTo: 5) } == "00042")
        #expect(Self.text { $0.appendDecimal(0, zeroPaddedTo: 1) } == "0")
        #expect(Self.text { $0.append(0x20, repeating: 3); $0.append("é\"") } == "   é\"")
    }

    @Test func removeFirstKeepsTheRest() {
        let out = ByteBuffer(capacity: 4)
        out.append("hello world")
        out.removeFirst(6)
        #expect(String(decoding: out.bytes, as: UTF8.self) == "world")
    }
}

/// `EventLineWriter` against the straightforward `String` formatting `dump` used before it
/// (`Reference` below), on random events: every byte the same.
@Suite struct EventLineWriterTests {
    /// The old formatting, kept as the specification.
    enum Reference {
        static func line(_ event: TraceEvent) -> String {
            var out = ""
            let seconds = EventFormatting.seconds(event.timestamp, decimals: 6)
            if seconds.utf8.count < 14 { out += String(repeating: " ", count: 14 - seconds.utf8.count) }
            out += seconds + " ["
            if event.cpu >= 0 && event.cpu < 100 { out += event.cpu < 10 ? "00" : "0" }
            out += String(event.cpu) + "] "
            let task = out.utf8.count
            out += (event.comm ?? "<...>") + "-" + String(event.pid)
            pad(&out, from: task, to: 20)
            out += " "
            let name = out.utf8.count
            switch event.body {
            case .ondemand(let e):
                out += e.kind.rawValue
                pad(&out, from: name, to: 11)
                out += e.fields.map { "\($0.name)=\($0.value?.description ?? "-")" }.joined(separator: " ")
            case .generic(let e):
                out += e.name
                pad(&out, from: name, to: 11)
                for field in e.fields { out += " \(field.name)=\(field.value.description)" }
            case .marker(let m):
                out += "marker     " + m.text
            }
            return out
        }

        static func pad(_ out: inout String, from start: Int, to width: Int) {
            let written = out.utf8.count - start
            if written < width { out += String(repeating: " ", count: min(width - written, 31)) }
        }

        static func json(_ event: TraceEvent) -> String {
            var w = JSONWriter()
            w.objectStart()
            w.key("event"); w.string(event.name)
            w.key("ts_ns"); w.number(event.timestamp)
            w.key("ts"); w.raw(EventFormatting.seconds(event.timestamp, decimals: 9))
            w.key("cpu"); w.number(Int64(event.cpu))
            w.key("pid"); w.number(Int64(event.pid))
            w.key("comm")
            if let comm = event.comm { w.string(comm) } else { w.null() }
            w.key("fields")
            w.objectStart()
            switch event.body {
            case .ondemand(let e):
                for field in e.fields {
                    w.key(field.name)
                    if let value = field.value { w.value(value) } else { w.null() }
                }
            case .generic(let e):
                for field in e.fields { w.key(field.name); w.value(field.value) }
            case .marker(let m):
                w.key("buf"); w.string(m.text)
            }
            w.objectEnd()
            w.objectEnd()
            return w.output
        }
    }

    /// Strings with what needs escaping or padding care: quotes, backslashes, controls, DEL,
    /// multi-byte characters, CR LF, commas, long ones.
    static let awkward = ["", "mount", "a\"b", "back\\slash", "tab\there", "nl\nx", "cr\r", "\u{1}\u{1f}\u{7f}", "é∂😀",
                          "comma,here", " spaced ", "\r\n", String(repeating: "x", count: 40), "kworker/u8:2"]

    static func randomEvent(_ rng: inout SplitMix64) -> TraceEvent {
        func pick<T>(_ values: [T]) -> T { values[Int(rng.next() % UInt64(values.count))] }
        func maybe<T>(_ v: T) -> T? { rng.next() % 5 == 0 ? nil : v }
        func u32() -> UInt32 { UInt32(truncatingIfNeeded: rng.next() >> (rng.next() % 64)) }
        func i64() -> Int64 { Int64(bitPattern: rng.next()) >> (rng.next() % 64) }
        func u64() -> UInt64 { rng.next() >> (rng.next() % 64) }
        let body: EventBody
        switch rng.next() % 10 {
        case 0: body = .ondemand(.open(.init(obj: maybe(u32()), msgID: maybe(u32()), objectID: maybe(u32()), fd: maybe(u32()), flags: maybe(u32()))))
        case 1: body = .ondemand(.copen(.init(obj: maybe(u32()), msgID: maybe(u32()), len: maybe(i64()))))
        case 2: body = .ondemand(.close(.init(obj: maybe(u32()), msgID: maybe(u32()), objectID: maybe(u32()))))
        case 3: body = .ondemand(.read(.init(obj: maybe(u32()), msgID: maybe(u32()), objectID: maybe(u32()), start: maybe(i64()), len: maybe(u64()))))
        case 4: body = .ondemand(.cread(.init(obj: maybe(u32()), msgID: maybe(u32()))))
        case 5: body = .ondemand(.fdWrite(.init(obj: maybe(u32()), backer: maybe(u32()), start: maybe(i64()), len: maybe(u64()))))
        case 6: body = .ondemand(.fdRelease(.init(obj: maybe(u32()), objectID: maybe(u32()))))
        case 7: body = .marker(MarkerEvent(text: pick(awkward)))
        default:
            let name = pick(["cachefiles_ref", "cachefiles_io_error", "cachefiles_a_very_long_event_name", "x", pick(awkward)])
            var fields: [NamedValue] = []
            for i in 0..<Int(rng.next() % 5) {
                let value: FieldValue = pick([.unsigned(u64()), .signed(i64()), .string(pick(awkward)),
                                              .bytes((0..<Int(rng.next() % 5)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })])
                fields.append(NamedValue(rng.next() % 7 == 0 ? pick(awkward) : ["obj", "why", "error", "where", "buf"][i], value))
            }
            body = .generic(GenericEvent(system: "cachefiles", name: name, fields: fields))
        }
        return TraceEvent(timestamp: u64(), cpu: pick([0, 1, 7, 10, 99, 100, 1000, -1]), pid: pick([0, 1, 119, -1, Int32.max, Int32.min]),
                          comm: pick([nil, "mount", "ondemand", "<idle>"] + awkward.map { Optional($0) }), body: body)
    }

    @Test func textAndJSONAreTheReferenceBytes() {
        let seed = UInt64.random(in: 0...UInt64.max)
        print("EventLineWriterTests.textAndJSONAreTheReferenceBytes seed: \(seed)")
        var rng = SplitMix64(seed: seed)
        // One writer per format for the whole stream: names encoded once must still fit each event.
        let text = EventLineWriter(format: .text), json = EventLineWriter(format: .json)
        let textOut = ByteBuffer(capacity: 16), jsonOut = ByteBuffer(capacity: 16)
        var expectedText = "", expectedJSON = ""
        for _ in 0..<5_000 {
            let event = Self.randomEvent(&rng)
            text.append(event, to: textOut)
            json.append(event, to: jsonOut)
            expectedText += Reference.line(event) + "\n"
            expectedJSON += Reference.json(event) + "\n"
            #expect(EventFormatting.line(event) == Reference.line(event), "seed \(seed)")
        }
        let gotText = String(decoding: textOut.bytes, as: UTF8.self), gotJSON = String(decoding: jsonOut.bytes, as: UTF8.self)
        #expect(gotText == expectedText, "seed \(seed)")
        #expect(gotJSON == expectedJSON, "seed \(seed)")
        if gotText != expectedText {
            for (a, b) in zip(gotText.split(separator: "\n"), expectedText.split(separator: "\n")) where a != b {
                Issue.record("first difference (seed \(seed)):\n\(a)\n\(b)")
                break
            }
        }
    }

    @Test func csvRowsHaveEveryColumnQuotedPerRFC4180() {
        let writer = EventLineWriter(format: .csv, csvColumns: ["obj", "msg_id", "len", "buf", "why"])
        let out = ByteBuffer()
        writer.appendHeader(to: out)
        writer.append(TraceEvent(timestamp: 4_409_061_123, cpu: 1, pid: 119, comm: "mo,unt",
                                 body: .ondemand(.copen(.init(obj: 1, msgID: nil, len: -5)))), to: out)
        writer.append(TraceEvent(timestamp: 5_000_000_000, cpu: 0, pid: 70, comm: nil,
                                 body: .marker(MarkerEvent(text: "say \"hi\"\r\nthere"))), to: out)
        writer.append(TraceEvent(timestamp: 6, cpu: 0, pid: 1, comm: " x",
                                 body: .generic(GenericEvent(system: "cachefiles", name: "cachefiles_ref",
                                                             fields: [NamedValue("obj", .unsigned(3)), NamedValue("why", .string("get")),
                                                                      NamedValue("not_a_column", .unsigned(9))]))), to: out)
        writer.append(TraceEvent(timestamp: 7, cpu: 0, pid: 1, comm: "x",
                                 body: .generic(GenericEvent(system: "cachefiles", name: "cachefiles_ref",
                                                             fields: [NamedValue("a", .string("\"b\"")), NamedValue("c", .string("1,2"))]))), to: out)
        #expect(String(decoding: out.bytes, as: UTF8.self) == """
            event,ts_ns,ts,cpu,pid,comm,obj,msg_id,len,buf,why,other_fields
            cachefiles_ondemand_copen,4409061123,4.409061123,1,119,"mo,unt",1,,-5,,,
            print,5000000000,5.000000000,0,70,,,,,"say ""hi""\r\nthere",,
            cachefiles_ref,6,0.000000006,0,1," x",3,,,,get,not_a_column=9
            cachefiles_ref,7,0.000000007,0,1,x,,,,,,"a=""b"" c=1,2"

            """)
    }

    @Test func csvColumnsAreTheUnionOfTheSelectedLayoutsFields() {
        let columns = EventLineWriter.csvColumns(layouts: DefaultFormats.layouts, selection: .ondemand)
        #expect(Set(columns) == Set(["obj", "msg_id", "object_id", "fd", "flags", "len", "start", "backer"]))
        #expect(Set(columns).count == columns.count)
        let all = EventLineWriter.csvColumns(layouts: DefaultFormats.layouts, selection: .all)
        #expect(all.contains("buf") && Set(columns).isSubset(of: Set(all)))
        #expect(!all.contains { $0.hasPrefix("common_") })
    }
}

/// The direct path (`append(record:)`, from a record's bytes) writes what decoding the record and
/// writing the event does, for layouts that move, drop, widen or sign fields.
@Suite struct EventLineWriterRecordTests {
    static let common = BinaryDecoderTests.common

    static func field(_ name: String, _ type: String, _ offset: Int, _ size: Int, signed: Bool = false,
                      array: Bool = false) -> FieldLayout {
        FieldLayout(name: name, type: type, offset: offset, size: size, isSigned: signed, isArray: array)
    }

    static let layouts: [EventLayout] = [
        // read with fields moved, object_id dropped, obj widened to 8 bytes, start signed 4 bytes.
        EventLayout(system: "cachefiles", name: "cachefiles_ondemand_read", id: 600, fields: common + [
            field("len", "size_t", 8, 8), field("obj", "u64", 16, 8), field("msg_id", "int", 24, 4, signed: true),
            field("start", "int", 28, 4, signed: true)]),
        EventLayout(system: "cachefiles", name: "cachefiles_ondemand_cread", id: 601, fields: common + [
            field("obj", "unsigned int", 8, 4), field("msg_id", "unsigned int", 12, 4)]),
        EventLayout(system: "cachefiles", name: "cachefiles_ref", id: 602, fields: common + [
            field("obj", "unsigned int", 8, 4), field("why", "enum cachefiles_obj_ref_trace", 12, 4),
            field("usage", "int", 16, 4, signed: true), field("tag", "char", 20, 8, array: true)],
                    printFormat: #""o=%08x w=%s", REC->obj, __print_symbolic(REC->why, { 1, "get" }, { 2, "put" })"#),
        EventLayout(system: "ftrace", name: "print", id: 603, fields: common + [
            field("ip", "unsigned long", 8, 8), field("buf", "char", 16, 0, array: true)]),
    ]

    static func record(_ rng: inout SplitMix64) -> [UInt8] {
        let layout = layouts[Int(rng.next() % UInt64(layouts.count))]
        let size = layout.name == "print" ? 16 + Int(rng.next() % 12) : layout.fields.map { $0.offset + $0.size }.max()!
        var bytes = (0..<size).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        bytes[0] = UInt8(layout.id & 0xff)
        bytes[1] = UInt8(layout.id >> 8)
        if layout.name == "cachefiles_ref" { bytes[12] = UInt8(rng.next() % 4); bytes[13...15] = [0, 0, 0] }
        if layout.name == "print", rng.next() % 2 == 0 { bytes[bytes.count - 1] = 0x0a }
        return bytes
    }

    @Test(arguments: EventLineWriter.Format.allCases)
    func recordsWriteWhatTheirEventsWrite(format: EventLineWriter.Format) throws {
        let seed = UInt64.random(in: 0...UInt64.max)
        print("EventLineWriterRecordTests.recordsWriteWhatTheirEventsWrite(\(format)) seed: \(seed)")
        var rng = SplitMix64(seed: seed)
        let decoder = BinaryEventDecoder(layouts: Self.layouts, selection: .all)
        let columns = EventLineWriter.csvColumns(layouts: Self.layouts, selection: .all)
        let direct = EventLineWriter(format: format, csvColumns: columns, decoder: decoder)
        let viaEvent = EventLineWriter(format: format, csvColumns: columns)
        let a = ByteBuffer(), b = ByteBuffer()
        for i in 0..<3_000 {
            let bytes = Self.record(&rng)
            let timestamp = rng.next() >> 20
            try bytes.withUnsafeBytes { data in
                let pid = decoder.pid(of: data)
                try direct.append(record: data, timestamp: timestamp, cpu: Int32(i % 3), pid: pid, comm: "c", to: a)
                let body = try #require(try decoder.decode(data))
                viaEvent.append(TraceEvent(timestamp: timestamp, cpu: Int32(i % 3), pid: pid, comm: "c", body: body), to: b)
            }
        }
        #expect(String(decoding: a.bytes, as: UTF8.self) == String(decoding: b.bytes, as: UTF8.self), "seed \(seed)")
    }

    @Test func aShortRecordIsAnErrorNotAZero() throws {
        let decoder = BinaryEventDecoder(layouts: Self.layouts, selection: .all)
        let writer = EventLineWriter(format: .text, decoder: decoder)
        let out = ByteBuffer()
        for (id, size) in [(600, 20), (602, 14)] {
            var bytes = [UInt8](repeating: 0, count: size)
            bytes[0] = UInt8(id & 0xff)
            bytes[1] = UInt8(id >> 8)
            #expect(throws: DecodeError.self) {
                try bytes.withUnsafeBytes { try writer.append(record: $0, timestamp: 1, cpu: 0, pid: 1, comm: nil, to: out) }
            }
        }
    }
}
