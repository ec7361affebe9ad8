import TraceDatFormat
import Testing

/// The v6 header's layout, checked byte by byte (read back through our reader and trace-cmd in
/// `TraceRecordingTests`' `TraceDatOutputFileTests`).
@Suite struct TraceDatV6HeaderTests {
    /// A header with stand-in format texts: the layout does not read them.
    static func header(sizes: [UInt64], options: [TraceDatV6Header.Option] = []) -> TraceDatV6Header {
        TraceDatV6Header(pageSize: 4096, headerPage: Array("header page\n".utf8), headerEvent: Array("header event\n".utf8),
                         ftraceFormats: [Array("name: print\n".utf8)], systems: [],
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
}

/// The writer's order and its failure rule, over a sink in memory.
@Suite struct TraceDatFileWriterTests {
    struct Failed: Error, Equatable {}

    /// Keeps the bytes; fails the write that would pass `failAfter` bytes.
    struct MemorySink: TraceDatSink {
        var bytes: [UInt8] = []
        var failAfter = Int.max
        var committed = false
        var discarded = false

        mutating func write(_ chunk: UnsafeRawBufferPointer) throws(Failed) { try append(Array(chunk)) }
        mutating func append(_ chunk: [UInt8]) throws(Failed) {
            guard bytes.count + chunk.count <= failAfter else { throw Failed() }
            bytes += chunk
        }
        mutating func commit() throws(Failed) -> UInt64 { committed = true; return UInt64(bytes.count) }
        mutating func discard() { discarded = true }
    }

    @Test func theHeaderThenEachCPUsSectionInOrderThenCommit() throws {
        let header = TraceDatV6HeaderTests.header(sizes: [4096, 0, 8192])
        var sink = MemorySink()
        var asked: [Int] = []
        let size = try TraceDatFileWriter.write(header: header, to: &sink) { (cpu: Int, sink: inout MemorySink) throws(Failed) in
            asked.append(cpu)
            try sink.append([UInt8](repeating: UInt8(cpu + 1), count: Int(header.cpuDataSizes[cpu])))
        }
        let (encoded, offsets) = header.encode()
        #expect(asked == [0, 1, 2])
        #expect(sink.committed && !sink.discarded)
        #expect(size == UInt64(encoded.count + 4096 + 8192))
        #expect(Array(sink.bytes.prefix(encoded.count)) == encoded)
        #expect(sink.bytes[Int(offsets[0])..<Int(offsets[0]) + 4096].allSatisfy { $0 == 1 })
        #expect(sink.bytes[Int(offsets[2])...].allSatisfy { $0 == 3 })
    }

    /// A failed section is the writer's failure: the file is discarded, never committed.
    @Test func aFailureDiscardsTheFile() {
        let header = TraceDatV6HeaderTests.header(sizes: [4096])
        var sink = MemorySink(failAfter: header.encode().bytes.count + 100)
        var thrown: Failed?
        do {
            _ = try TraceDatFileWriter.write(header: header, to: &sink) { (cpu: Int, sink: inout MemorySink) throws(Failed) in
                try sink.append([UInt8](repeating: 0, count: 4096))
            }
        } catch {
            thrown = error
        }
        #expect(thrown == Failed())
        #expect(sink.discarded && !sink.committed)
    }
}
