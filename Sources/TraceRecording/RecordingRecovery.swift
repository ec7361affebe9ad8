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
        if FileSystem.exists(RecordingPieces.piecePath(base, cpu: meta.cpuCount)) {
            throw RecordingError("\(RecordingPieces.piecePath(base, cpu: meta.cpuCount)): from another recording (\(metaPath) names \(meta.cpuCount) CPUs)")
        }
        var pieces: [Piece?] = []
        defer { for piece in pieces { if let piece { Descriptor(fd: piece.fd, path: "").close() } } }
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
            guard error.errno == ErrnoCode.ENOENT else { throw RecordingError("\(metaPath): cannot read: \(describeErrno(error.errno))") }
            if FileSystem.exists(RecordingPieces.piecePath(base, cpu: 0)) {
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
        let file: Descriptor
        let fileSize: Int
        do {
            file = try Descriptor.open(path, .read)
            fileSize = Int((try? file.status().size) ?? 0)
        } catch {
            if error.errno == ErrnoCode.ENOENT { return nil }
            throw RecordingError("\(path): cannot read: \(describeErrno(error.errno))")
        }
        let fd = file.fd
        let pageSize = meta.header.pageSize
        if fileSize == 0 { file.close(); return nil }
        var head = [UInt8](repeating: 0, count: min(fileSize, pageSize))
        do throws(RecordingError) {
            do throws(SystemError) {
                let n = try file.read(into: &head, count: head.count, at: 0)
                guard n == head.count else { throw SystemError(path: path, action: "cannot read", errno: ErrnoCode.EIO) }
            } catch { throw RecordingError("\(path): cannot read: \(describeErrno(error.errno))") }
            let piece: RecordingPieceFormat.PieceHeader
            do { piece = try RecordingPieceFormat.decodePieceHeader(head) } catch { throw RecordingError("\(path): \(error)") }
            guard piece.id == meta.id else {
                throw RecordingError("\(path): from another recording (pid \(piece.pid)) than \(metaPath) (pid \(meta.pid))")
            }
            guard piece.cpu == cpu, piece.pageSize == pageSize else {
                throw RecordingError("\(path): damaged: says CPU \(piece.cpu), page size \(piece.pageSize)")
            }
            guard fileSize >= pageSize else {
                throw RecordingError("\(path): \(RecordingPieceFormat.Problem.halfWritten(have: fileSize, need: pageSize))")
            }
            return try scan(fd: fd, size: UInt64(fileSize) - UInt64(pageSize), pageSize: pageSize, longSize: meta.header.longSize, path: path)
        } catch {
            file.close()
            throw error
        }
    }

    /// Counts the records of the whole, valid pages from the start; the first that is not ends it.
    static func scan(fd: Int32, size: UInt64, pageSize: Int, longSize: Int, path: String) throws(RecordingError) -> Piece {
        var piece = Piece(fd: fd, bytes: 0, pages: 0, records: 0, dropped: 0)
        var chunk = [UInt8](repeating: 0, count: 256 * pageSize)
        let file = Descriptor(fd: fd, path: path)
        var offset: UInt64 = 0
        let whole = size / UInt64(pageSize) * UInt64(pageSize)
        scanning: while offset < whole {
            let want = Int(min(UInt64(chunk.count), whole - offset))
            let n: Int
            do {
                n = try file.read(into: &chunk, count: want, at: offset + UInt64(pageSize))
            } catch { throw RecordingError("\(path): cannot read: \(describeErrno(error.errno))") }
            guard n == want else { throw RecordingError("\(path): cannot read: it shrank") }
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
        guard pid > 0, Int32(bitPattern: pid) != ThisProcess.id, ThisProcess.exists(Int32(bitPattern: pid)) else { return false }
        return executable("/proc/\(pid)/exe") == executable("/proc/self/exe")
            || (!meta.instance.isEmpty && FileSystem.exists(TracefsInstance.tracingDirectory + "/instances/" + meta.instance))
    }

    static func executable(_ link: String) -> String? {
        FileSystem.linkTarget(link).flatMap { $0.isEmpty ? nil : $0 }
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
        let seconds = milliseconds / 1000
        let (year, month, day) = civilDate(daysSinceEpoch: Int64(seconds / 86_400))
        let time = seconds % 86_400
        func pad(_ v: some BinaryInteger, _ width: Int) -> String {
            let text = String(v)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return [pad(year, 4), pad(month, 2), pad(day, 2),
                pad(time / 3600, 2), pad(time / 60 % 60, 2), pad(time % 60, 2), pad(milliseconds % 1000, 3)]
    }

    /// The proleptic Gregorian date of a day counted from 1970-01-01 (days ≥ 0): eras of 400
    /// years (146,097 days) from 0000-03-01, years starting in March so that February's leap
    /// day comes last.
    static func civilDate(daysSinceEpoch days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let shifted = days + 719_468  // 0000-03-01 to 1970-01-01
        let era = shifted / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthFromMarch = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthFromMarch + 2) / 5 + 1
        let month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
