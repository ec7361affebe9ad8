/// The pieces a recording keeps beside its output while it runs, so that a killed recorder's pages
/// can still be assembled into a trace.dat (`record --recover`). Pure: bytes in, bytes out.
///
/// - `OUTPUT.meta`, written (and synced) before tracing starts: magic `ODTMETA1`, the body's
///   length (u64), the body, its FNV-1a 64 checksum (u64). The body: the recording's 16-byte id,
///   the recorder's pid, the realtime and trace-clock time at the start (ns), the instance name,
///   and every field of the trace.dat header but the per-CPU sizes (formats, cmdlines, options).
/// - `OUTPUT.cpuN`: one page-sized header (magic `ODTCPU01`, the id, the CPU, the pid, the page
///   size), then that CPU's ring-buffer pages as the recorder drained them.
///
/// Little-endian throughout (the header's own fields keep its `bigEndian`).
public enum RecordingPieceFormat {
    public static let metaMagic: [UInt8] = Array("ODTMETA1".utf8)
    public static let pieceMagic: [UInt8] = Array("ODTCPU01".utf8)

    public struct Meta: Sendable, Equatable {
        public var id: [UInt8]
        public var pid: UInt32
        public var startRealtimeNs: UInt64
        /// The trace clock's reading at the start (CLOCK_MONOTONIC for the `mono` clock).
        public var startClockNs: UInt64
        public var instance: String
        /// `cpuDataSizes` holds one 0 per CPU: how many CPUs the recording has pieces for.
        public var header: TraceDatV6Header

        public init(id: [UInt8], pid: UInt32, startRealtimeNs: UInt64, startClockNs: UInt64, instance: String, header: TraceDatV6Header) {
            (self.id, self.pid, self.startRealtimeNs, self.startClockNs, self.instance, self.header) = (id, pid, startRealtimeNs, startClockNs, instance, header)
        }

        public var cpuCount: Int { header.cpuDataSizes.count }
    }

    /// What is wrong with a piece's bytes, for one line naming the file.
    public enum Problem: Error, Equatable, CustomStringConvertible {
        case notOurs
        case halfWritten(have: Int, need: Int)
        case damaged(String)

        public var description: String {
            switch self {
            case .notOurs: return "not a piece of an ondemand-trace recording"
            case .halfWritten(let have, let need): return "half-written (\(have) of \(need) bytes)"
            case .damaged(let what): return "damaged: \(what)"
            }
        }
    }

    // MARK: meta

    public static func encode(_ meta: Meta) -> [UInt8] {
        var body = ByteWriter(bigEndian: false)
        body.append(meta.id)
        body.u32(meta.pid)
        body.u64(meta.startRealtimeNs)
        body.u64(meta.startClockNs)
        let h = meta.header
        body.blob(Array(meta.instance.utf8))
        body.u32(UInt32(h.pageSize))
        body.u32(UInt32(h.longSize))
        body.u32(h.bigEndian ? 1 : 0)
        body.blob(h.headerPage)
        body.blob(h.headerEvent)
        body.blobs(h.ftraceFormats)
        body.u32(UInt32(h.systems.count))
        for system in h.systems {
            body.blob(Array(system.name.utf8))
            body.blobs(system.formats)
        }
        body.blob(h.kallsyms)
        body.blob(h.printkFormats)
        body.blob(h.savedCmdlines)
        body.u32(UInt32(h.options.count))
        for option in h.options {
            body.u32(UInt32(option.id.rawValue))
            body.blob(option.data)
        }
        body.blob(Array(h.traceClock.utf8))
        body.u32(UInt32(h.cpuDataSizes.count))
        var out = ByteWriter(bigEndian: false)
        out.append(metaMagic)
        out.u64(UInt64(body.bytes.count))
        out.append(body.bytes)
        out.u64(fnv1a(body.bytes[...]))
        return out.bytes
    }

    public static func decodeMeta(_ bytes: [UInt8]) throws(Problem) -> Meta {
        guard bytes.count >= metaMagic.count, bytes.prefix(metaMagic.count).elementsEqual(metaMagic) else { throw .notOurs }
        var reader = ByteReader(bytes: bytes[...], position: metaMagic.count)
        guard let length = reader.u64() else { throw .halfWritten(have: bytes.count, need: metaMagic.count + 16) }
        guard length < 1 << 40 else { throw .damaged("a length of \(length) bytes") }
        let need = metaMagic.count + 16 + Int(length)
        guard bytes.count >= need else { throw .halfWritten(have: bytes.count, need: need) }
        let body = bytes[(metaMagic.count + 8)..<(need - 8)]
        var sumReader = ByteReader(bytes: bytes[...], position: need - 8)
        guard sumReader.u64() == fnv1a(body) else { throw .damaged("its checksum does not match (half-written or changed)") }
        guard bytes.count == need else { throw .damaged("\(bytes.count - need) bytes after its end") }
        var r = ByteReader(bytes: body, position: body.startIndex)
        let id = try r.take(16)
        let pid = try r.need(r.u32()), realtime = try r.need(r.u64()), clock = try r.need(r.u64())
        let instance = String(decoding: try r.blob(), as: UTF8.self)
        let pageSize = Int(try r.need(r.u32())), longSize = Int(try r.need(r.u32())), bigEndian = try r.need(r.u32()) != 0
        let headerPage = try r.blob(), headerEvent = try r.blob(), ftrace = try r.blobs()
        var systems: [TraceDatV6Header.EventSystem] = []
        for _ in 0..<(try r.count()) {
            systems.append(.init(name: String(decoding: try r.blob(), as: UTF8.self), formats: try r.blobs()))
        }
        let kallsyms = try r.blob(), printk = try r.blob(), cmdlines = try r.blob()
        var options: [TraceDatV6Header.Option] = []
        for _ in 0..<(try r.count()) {
            guard let id = TraceDatOptionID(rawValue: UInt16(truncatingIfNeeded: try r.need(r.u32()))) else { throw .damaged("an unknown option") }
            options.append(.init(id: id, data: try r.blob()))
        }
        let traceClock = String(decoding: try r.blob(), as: UTF8.self)
        let cpus = Int(try r.need(r.u32()))
        guard pageSize >= 4096, pageSize & (pageSize - 1) == 0, longSize == 4 || longSize == 8, cpus > 0, cpus <= 1 << 16 else {
            throw .damaged("page size \(pageSize), long size \(longSize), \(cpus) CPUs")
        }
        var header = TraceDatV6Header(pageSize: pageSize, headerPage: headerPage, headerEvent: headerEvent, ftraceFormats: ftrace,
                                      systems: systems, savedCmdlines: cmdlines, options: options, traceClock: traceClock,
                                      cpuDataSizes: Array(repeating: 0, count: cpus))
        (header.longSize, header.bigEndian, header.kallsyms, header.printkFormats) = (longSize, bigEndian, kallsyms, printk)
        return Meta(id: id, pid: pid, startRealtimeNs: realtime, startClockNs: clock, instance: instance, header: header)
    }

    // MARK: per-CPU pieces

    /// The first `pageSize` bytes of `OUTPUT.cpuN`.
    public static func pieceHeader(id: [UInt8], cpu: Int, pid: UInt32, pageSize: Int) -> [UInt8] {
        var out = ByteWriter(bigEndian: false)
        out.append(pieceMagic)
        out.append(id)
        out.u32(UInt32(cpu))
        out.u32(pid)
        out.u32(UInt32(pageSize))
        out.append([UInt8](repeating: 0, count: pageSize - out.bytes.count))
        return out.bytes
    }

    public struct PieceHeader: Equatable, Sendable {
        public var id: [UInt8]
        public var cpu: Int
        public var pid: UInt32
        public var pageSize: Int
    }

    /// Reads a piece's header from its first bytes (at least 40).
    public static func decodePieceHeader(_ bytes: [UInt8]) throws(Problem) -> PieceHeader {
        guard bytes.count >= pieceMagic.count, bytes.prefix(pieceMagic.count).elementsEqual(pieceMagic) else { throw .notOurs }
        var r = ByteReader(bytes: bytes[...], position: pieceMagic.count)
        guard let id = try? r.take(16), let cpu = r.u32(), let pid = r.u32(), let pageSize = r.u32() else {
            throw .halfWritten(have: bytes.count, need: pieceMagic.count + 28)
        }
        return PieceHeader(id: id, cpu: Int(cpu), pid: pid, pageSize: Int(pageSize))
    }

    public static func fnv1a(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        return hash
    }
}

extension ByteWriter {
    /// A u64 length, then the bytes.
    mutating func blob(_ data: [UInt8]) {
        u64(UInt64(data.count))
        append(data)
    }

    mutating func blobs(_ list: [[UInt8]]) {
        u32(UInt32(list.count))
        for data in list { blob(data) }
    }
}

/// Reads little-endian numbers and `ByteWriter.blob`s; nil or `.damaged` past the end.
struct ByteReader {
    let bytes: ArraySlice<UInt8>
    var position: Int

    mutating func u32() -> UInt32? { integer(UInt32.self) }
    mutating func u64() -> UInt64? { integer(UInt64.self) }

    private mutating func integer<T: FixedWidthInteger>(_: T.Type) -> T? {
        let size = MemoryLayout<T>.size
        guard position + size <= bytes.endIndex else { return nil }
        var value: T = 0
        for (shift, byte) in bytes[position..<(position + size)].enumerated() { value |= T(byte) << (8 * shift) }
        position += size
        return value
    }

    func need<T>(_ value: T?) throws(RecordingPieceFormat.Problem) -> T {
        guard let value else { throw .damaged("it ends inside a field") }
        return value
    }

    mutating func take(_ count: Int) throws(RecordingPieceFormat.Problem) -> [UInt8] {
        guard count >= 0, position + count <= bytes.endIndex else { throw .damaged("it ends inside a field") }
        defer { position += count }
        return Array(bytes[position..<(position + count)])
    }

    mutating func blob() throws(RecordingPieceFormat.Problem) -> [UInt8] {
        try take(Int(clamping: try need(u64())))
    }

    mutating func count() throws(RecordingPieceFormat.Problem) -> Int {
        let n = Int(try need(u32()))
        guard n <= bytes.endIndex - position else { throw .damaged("a count of \(n) past its end") }
        return n
    }

    mutating func blobs() throws(RecordingPieceFormat.Problem) -> [[UInt8]] {
        var list: [[UInt8]] = []
        for _ in 0..<(try count()) { list.append(try blob()) }
        return list
    }
}
