import Glibc
import SystemCalls
import TraceDatFormat

/// What `record --recover` assembled.
public struct RecoveryResult: Sendable {
    public var path: String
    public var recordsPerCPU: [UInt64]
    public var pagesPerCPU: [UInt64]
    /// Bytes at a piece's end that were not whole, valid pages (not synced before the kill).
    public var droppedBytes: UInt64
    public var fileSize: UInt64
    /// The first and last record's time stamp (trace clock, ns); nil without records.
    public var firstTimestamp: UInt64?
    public var lastTimestamp: UInt64?
    /// When the recording started (realtime ns), and the trace clock then.
    public var startRealtimeNs: UInt64
    public var startClockNs: UInt64
    /// The trace clock's name (`mono`: time stamps line up with the realtime start).
    public var clock: String
    public var recorderPID: UInt32
    /// Pieces the metadata names that were absent (killed before they were created).
    public var missingPieces: [Int]

    public var records: UInt64 { recordsPerCPU.reduce(0, +) }

    /// A time stamp as UTC wall time, when the clock is `mono` (else nil).
    public func wallTime(_ timestamp: UInt64) -> UInt64? {
        guard clock == "mono" else { return nil }
        return startRealtimeNs &+ timestamp &- startClockNs
    }
}

/// `record --recover OUTPUT`: assembles the pieces a killed recorder left beside OUTPUT
/// (`RecordingPieces`) into a trace.dat at OUTPUT, then removes them. Each piece keeps its whole,
/// valid pages (a page cut short or never synced ends it). Anything not ours, a half-written
/// metadata block, pieces of two recordings: a `RecordingError` naming the file, nothing removed.
public enum RecordingRecovery {
    struct Piece {
        var fd: Int32
        var bytes: UInt64
        var pages: UInt64
        var records: UInt64
        var first: UInt64?
        var last: UInt64?
        var dropped: UInt64
    }

    /// `pieces`: the path the pieces are named after, when it is not `output`.
    public static func recover(output: String, pieces base: String? = nil) throws(RecordingError) -> RecoveryResult {
        let base = base ?? output
        let metaPath = RecordingPieces.metaPath(base)
        let meta = try readMeta(metaPath, base: base)
        if isRunning(meta) {
            throw RecordingError("\(metaPath): still being recorded by pid \(meta.pid); stop it (Ctrl-C, SIGTERM) and it writes \(output) itself")
        }
        if access(RecordingPieces.piecePath(base, cpu: meta.cpuCount), F_OK) == 0 {
            throw RecordingError("\(RecordingPieces.piecePath(base, cpu: meta.cpuCount)): from another recording (\(metaPath) names \(meta.cpuCount) CPUs)")
        }
        var pieces: [Piece?] = []
        defer { for piece in pieces { if let piece { close(piece.fd) } } }
        for cpu in 0..<meta.cpuCount {
            pieces.append(try openPiece(RecordingPieces.piecePath(base, cpu: cpu), cpu: cpu, meta: meta, metaPath: metaPath))
        }
        var header = meta.header
        header.cpuDataSizes = pieces.map { $0?.bytes ?? 0 }
        var file = try TraceDatOutputFile(output: output)
        let size = try TraceDatFileWriter.write(header: header, to: &file) { (cpu: Int, file: inout TraceDatOutputFile) throws(RecordingError) in
            guard let piece = pieces[cpu] else { return }
            try CPUDataFile.copy(from: piece.fd, offset: UInt64(meta.header.pageSize), count: piece.bytes, to: &file)
        }
        RecordingPieces.remove(base: base, cpus: meta.cpuCount)
        RecordingPieces.syncDirectory(of: output)
        let present = pieces.compactMap { $0 }
        return RecoveryResult(path: output, recordsPerCPU: pieces.map { $0?.records ?? 0 }, pagesPerCPU: pieces.map { $0?.pages ?? 0 },
                              droppedBytes: present.reduce(0) { $0 + $1.dropped }, fileSize: size,
                              firstTimestamp: present.compactMap(\.first).min(), lastTimestamp: present.compactMap(\.last).max(),
                              startRealtimeNs: meta.startRealtimeNs, startClockNs: meta.startClockNs,
                              clock: clockName(meta.header.traceClock), recorderPID: meta.pid,
                              missingPieces: pieces.indices.filter { pieces[$0] == nil })
    }

    static func readMeta(_ metaPath: String, base: String) throws(RecordingError) -> RecordingPieceFormat.Meta {
        let bytes: [UInt8]
        do { bytes = try FileContents.read(metaPath, limit: 256 << 20) } catch {
            guard error.errno == ENOENT else { throw RecordingError("\(metaPath): cannot read: \(describeErrno(error.errno))") }
            if access(RecordingPieces.piecePath(base, cpu: 0), F_OK) == 0 {
                throw RecordingError("\(metaPath): missing: the pieces \(base).cpuN beside it cannot be assembled without it")
            }
            if let pid = RecordingPieces.removeUnfinishedMeta(base: base).first {
                throw RecordingError("\(metaPath): no such file: nothing to recover beside \(base) (its recorder, pid \(pid), was killed while starting, before it recorded anything; its unfinished \(metaPath).\(pid).tmp is removed)")
            }
            throw RecordingError("\(metaPath): no such file: nothing to recover beside \(base)")
        }
        do { return try RecordingPieceFormat.decodeMeta(bytes) } catch {
            throw RecordingError("\(metaPath): \(error)")
        }
    }

    /// A piece checked against the metadata, its valid pages counted; nil if absent or empty
    /// (the recorder was killed before it wrote the header).
    static func openPiece(_ path: String, cpu: Int, meta: RecordingPieceFormat.Meta, metaPath: String) throws(RecordingError) -> Piece? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw RecordingError("\(path): cannot read: \(describeErrno(errno))")
        }
        var info = stat()
        fstat(fd, &info)
        let pageSize = meta.header.pageSize
        if info.st_size == 0 { close(fd); return nil }
        var head = [UInt8](repeating: 0, count: min(Int(info.st_size), pageSize))
        let n = head.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        do throws(RecordingError) {
            guard n == head.count else { throw RecordingError("\(path): cannot read: \(describeErrno(errno))") }
            let piece: RecordingPieceFormat.PieceHeader
            do { piece = try RecordingPieceFormat.decodePieceHeader(head) } catch { throw RecordingError("\(path): \(error)") }
            guard piece.id == meta.id else {
                throw RecordingError("\(path): from another recording (pid \(piece.pid)) than \(metaPath) (pid \(meta.pid))")
            }
            guard piece.cpu == cpu, piece.pageSize == pageSize else {
                throw RecordingError("\(path): damaged: says CPU \(piece.cpu), page size \(piece.pageSize)")
            }
            guard Int(info.st_size) >= pageSize else {
                throw RecordingError("\(path): \(RecordingPieceFormat.Problem.halfWritten(have: Int(info.st_size), need: pageSize))")
            }
            return try scan(fd: fd, size: UInt64(info.st_size) - UInt64(pageSize), pageSize: pageSize, longSize: meta.header.longSize, path: path)
        } catch {
            close(fd)
            throw error
        }
    }

    /// Counts the records of the whole, valid pages from the start; the first that is not ends it.
    static func scan(fd: Int32, size: UInt64, pageSize: Int, longSize: Int, path: String) throws(RecordingError) -> Piece {
        var piece = Piece(fd: fd, bytes: 0, pages: 0, records: 0, dropped: 0)
        var chunk = [UInt8](repeating: 0, count: 256 * pageSize)
        var offset: UInt64 = 0
        let whole = size / UInt64(pageSize) * UInt64(pageSize)
        scanning: while offset < whole {
            let want = Int(min(UInt64(chunk.count), whole - offset))
            let n = retryingInterrupted { chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, want, off_t(offset) + off_t(pageSize)) } }
            guard n == want else { throw RecordingError("\(path): cannot read: \(n < 0 ? describeErrno(errno) : "it shrank")") }
            let valid = chunk.withUnsafeBytes { bytes -> Bool in
                for start in stride(from: 0, to: want, by: pageSize) {
                    let page = UnsafeRawBufferPointer(rebasing: bytes[start..<(start + pageSize)])
                    guard let (count, first, last) = check(page, pageSize: pageSize, longSize: longSize) else { return false }
                    piece.records += count
                    if piece.first == nil { piece.first = first }
                    if let last { piece.last = last }
                    piece.pages += 1
                    piece.bytes += UInt64(pageSize)
                }
                return true
            }
            if !valid { break scanning }
            offset += UInt64(want)
        }
        piece.dropped = size - piece.bytes
        return piece
    }

    /// A page's record count and first and last time stamps; nil for a page that is not one
    /// (zeros never synced, or bytes that do not hold what the header claims).
    static func check(_ page: UnsafeRawBufferPointer, pageSize: Int, longSize: Int) -> (UInt64, UInt64?, UInt64?)? {
        guard let parsed = try? RingBufferPage(page, commitSize: longSize, pageSize: pageSize),
              parsed.timestamp != 0 || parsed.dataSize != 0 else { return nil }
        var records = parsed.records()
        var count: UInt64 = 0
        var first: UInt64?, last: UInt64?
        do {
            while let record = try records.next() {
                count += 1
                if first == nil { first = record.timestamp }
                last = record.timestamp
            }
        } catch { return nil }
        return (count, first, last)
    }

    /// Whether the recorder that wrote `meta` still runs: its pid is alive and runs this program,
    /// or its tracefs instance is still there.
    static func isRunning(_ meta: RecordingPieceFormat.Meta) -> Bool {
        let pid = meta.pid
        guard pid > 0, Int32(bitPattern: pid) != getpid(), kill(Int32(bitPattern: pid), 0) == 0 || errno == EPERM else { return false }
        return executable("/proc/\(pid)/exe") == executable("/proc/self/exe")
            || (!meta.instance.isEmpty && access(TracefsInstance.tracingDirectory + "/instances/" + meta.instance, F_OK) == 0)
    }

    static func executable(_ link: String) -> String? {
        var target = [CChar](repeating: 0, count: 4096)
        let n = readlink(link, &target, target.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: target[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// "mono" from "local global [mono] ...".
    static func clockName(_ traceClock: String) -> String {
        guard let open = traceClock.firstIndex(of: "["), let close = traceClock[open...].firstIndex(of: "]") else { return traceClock }
        return String(traceClock[traceClock.index(after: open)..<close])
    }
}

extension RecoveryResult {
    /// "recovered OUT: N records (cpu0 …), K KiB, from 2026-12-06T05:50:01.123Z to …05:50:04.456Z (3.333 s)".
    public var summary: String {
        var text = "recovered \(path): \(records) records ("
            + recordsPerCPU.enumerated().map { "cpu\($0.offset) \($0.element)" }.joined(separator: ", ")
            + "), \(fileSize / 1024) KiB"
        if let first = firstTimestamp, let last = lastTimestamp {
            let span = RecoveryResult.seconds(last - first)
            if let from = wallTime(first), let to = wallTime(last) {
                text += ", from \(Self.utc(from)) to \(Self.utc(to)) (\(span) s)"
            } else {
                text += ", from \(Self.seconds(first)) to \(Self.seconds(last)) s of the \(clock) clock (\(span) s)"
            }
        }
        text += "; recorder pid \(recorderPID) started \(Self.utc(startRealtimeNs))"
        if droppedBytes > 0 { text += "; \(droppedBytes / 1024) KiB at the pieces' ends were not whole pages (never synced), dropped" }
        if !missingPieces.isEmpty { text += "; no piece for " + missingPieces.map { "cpu\($0)" }.joined(separator: ", ") + " (killed before it was made)" }
        return text + "; pieces removed"
    }

    /// "12.345678" (seconds, microseconds).
    static func seconds(_ ns: UInt64) -> String {
        let micros = String(ns / 1000 % 1_000_000)
        return "\(ns / 1_000_000_000)." + String(repeating: "0", count: 6 - micros.count) + micros
    }

    /// "2026-12-06T05:50:01.123Z".
    static func utc(_ ns: UInt64) -> String {
        let f = utcFields(milliseconds: ns / 1_000_000)
        return f[0] + "-" + f[1] + "-" + f[2] + "T" + f[3] + ":" + f[4] + ":" + f[5] + "." + f[6] + "Z"
    }

    /// Year, month, day, hour, minute, second, millisecond in UTC, zero-padded.
    static func utcFields(milliseconds: UInt64) -> [String] {
        var seconds = time_t(milliseconds / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ v: some BinaryInteger, _ width: Int) -> String {
            let text = String(v)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return [pad(parts.tm_year + 1900, 4), pad(parts.tm_mon + 1, 2), pad(parts.tm_mday, 2),
                pad(parts.tm_hour, 2), pad(parts.tm_min, 2), pad(parts.tm_sec, 2), pad(milliseconds % 1000, 3)]
    }
}
