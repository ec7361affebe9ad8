import OndemandTraceCore
#if canImport(Glibc)
import Glibc
#endif

/// Reads the records of an uncompressed trace.dat straight from its mapped ring-buffer pages, in
/// time order across CPUs — what libtracecmd's iteration does, without a malloc'd record and a
/// C callback per record (the report spends most of its time there otherwise).
///
/// The page format is the kernel's (`header_page`, `header_event` in the file, decoded like
/// libtraceevent's kbuffer): a page header of a u64 timestamp and a `commit` word (data size in
/// the low 27 bits, bit 31: events were lost before this page, bit 30: their count is stored after
/// the data), then events, each behind a 4-byte header of type_len (5 bits) and time_delta (27
/// bits): type_len 1-28 = data of type_len × 4 bytes, 0 = length in the next word, 29 = padding,
/// 30 = time extend, 31 = absolute time stamp. The caller checks the walker against libtracecmd
/// before trusting it (`TraceDatReader`): same first record per CPU, or libtracecmd is used.
struct RingBufferWalker {
    struct Record {
        var timestamp: UInt64
        var cpu: Int32
        /// Record payload (the event's fields).
        var data: UnsafeRawBufferPointer
        /// Byte offset of the payload in the file.
        var offset: Int
        /// Events lost just before this record: 0 none, -1 some (count unknown).
        var missedEvents: Int64
    }

    struct WalkError: Error {
        var cpu: Int32
        var offset: Int
        var message: String
    }

    private struct Cursor {
        var cpu: Int32
        var page: Int
        var end: Int
        var dataEnd = 0
        var next = 0
        var timestamp: UInt64 = 0
        var missedOnPage: Int64 = 0
        var firstOnPage = false
        var released: Int
        var current: Record?
    }

    private let file: UnsafeRawBufferPointer
    private let pageSize: Int
    private let commitSize: Int
    private var cursors: [Cursor]

    static let commitMask: UInt64 = (1 << 27) - 1
    static let missingEvents: UInt64 = 1 << 31
    static let missingStored: UInt64 = 1 << 30
    /// Pages behind a cursor are given back to the kernel in chunks of this many bytes, so the
    /// resident size does not grow with the trace.
    static let releaseChunk = 4 << 20

    /// `cpuData`: (cpu, offset, size) of each CPU's pages; `commitSize`: 4 or 8 (`header_page`).
    init(file: UnsafeRawBufferPointer, cpuData: [(cpu: Int, offset: Int, size: Int)], pageSize: Int, commitSize: Int) {
        self.file = file
        self.pageSize = pageSize
        self.commitSize = commitSize
        cursors = cpuData.map { d in
            // `page` starts one page early: the first `advance` moves onto the first page.
            Cursor(cpu: Int32(d.cpu), page: d.offset - pageSize, end: d.offset + d.size, released: d.offset)
        }
    }

    /// The first record of each CPU, without consuming anything (for the check against libtracecmd).
    func firstRecords() throws(WalkError) -> [Int32: UInt64] {
        var copy = self
        var firsts: [Int32: UInt64] = [:]
        for i in copy.cursors.indices {
            try copy.advance(i)
            if let record = copy.cursors[i].current { firsts[record.cpu] = record.timestamp }
        }
        return firsts
    }

    /// Calls `body` with every record in `TimeOrder` (ties: the lower CPU first, as libtracecmd).
    /// `body` returns false to stop.
    mutating func forEach(_ body: (Record) throws -> Bool) throws {
        for i in cursors.indices { try advance(i) }
        while let best = TimeOrder.first(count: cursors.count, head: { i in
            cursors[i].current.map { ($0.timestamp, $0.cpu) }
        }) {
            guard try body(cursors[best].current!) else { return }
            try advance(best)
        }
    }

    @inline(__always)
    private func u32(_ at: Int) -> UInt32 { file.loadUnaligned(fromByteOffset: at, as: UInt32.self).littleEndian }

    /// Moves cursor `i` to its next data record (nil at the end of its pages).
    private mutating func advance(_ i: Int) throws(WalkError) {
        var c = cursors[i]
        defer { cursors[i] = c }
        c.current = nil
        while true {
            if c.next >= c.dataEnd {
                guard try nextPage(&c) else { return }
                continue
            }
            guard c.next + 4 <= c.dataEnd else { throw WalkError(cpu: c.cpu, offset: c.next, message: "event header runs past its page's data") }
            let header = u32(c.next)
            let typeLen = header & 31
            let delta = UInt64(header >> 5)
            let p = c.next + 4
            switch typeLen {
            case 29: // padding: its length is in the next word
                guard p + 4 <= c.dataEnd else { c.next = c.dataEnd; continue }
                c.timestamp &+= delta
                c.next = p + Int(u32(p))
            case 30: // time extend
                guard p + 4 <= c.dataEnd else { throw WalkError(cpu: c.cpu, offset: c.next, message: "time extend runs past its page's data") }
                c.timestamp &+= (UInt64(u32(p)) << 27) &+ delta
                c.next = p + 4
            case 31: // absolute time stamp
                guard p + 4 <= c.dataEnd else { throw WalkError(cpu: c.cpu, offset: c.next, message: "time stamp runs past its page's data") }
                c.timestamp = (UInt64(u32(p)) << 27) &+ delta
                c.next = p + 4
            default:
                var start = p
                var length = Int(typeLen) * 4
                if typeLen == 0 {
                    guard p + 4 <= c.dataEnd else { throw WalkError(cpu: c.cpu, offset: c.next, message: "event length runs past its page's data") }
                    length = (Int(u32(p)) - 4 + 3) & ~3
                    start = p + 4
                }
                guard length >= 0, start + length <= c.dataEnd else {
                    throw WalkError(cpu: c.cpu, offset: c.next, message: "event of \(length) bytes runs past its page's data")
                }
                c.timestamp &+= delta
                c.next = start + length
                c.current = Record(timestamp: c.timestamp, cpu: c.cpu,
                                   data: UnsafeRawBufferPointer(rebasing: file[start..<(start + length)]),
                                   offset: start, missedEvents: c.firstOnPage ? c.missedOnPage : 0)
                c.firstOnPage = false
                return
            }
        }
    }

    /// Moves onto the next page with data; false at the end of the CPU's pages.
    private func nextPage(_ c: inout Cursor) throws(WalkError) -> Bool {
        let header = 8 + commitSize
        while true {
            c.page += pageSize
            guard c.page + header <= c.end else { c.dataEnd = 0; c.next = 0; return false }
            if c.page - c.released >= Self.releaseChunk { release(&c) }
            let ts = file.loadUnaligned(fromByteOffset: c.page, as: UInt64.self).littleEndian
            let commit = commitSize == 8
                ? file.loadUnaligned(fromByteOffset: c.page + 8, as: UInt64.self).littleEndian
                : UInt64(u32(c.page + 8))
            let size = Int(commit & Self.commitMask)
            let dataStart = c.page + header
            guard size <= pageSize - header, dataStart + size <= c.end else {
                throw WalkError(cpu: c.cpu, offset: c.page, message: "page claims \(size) bytes of data, more than it holds")
            }
            guard size > 0 else { continue }
            c.timestamp = ts
            c.dataEnd = dataStart + size
            c.next = dataStart
            c.firstOnPage = true
            c.missedOnPage = 0
            if commit & Self.missingEvents != 0 {
                c.missedOnPage = -1
                if commit & Self.missingStored != 0, c.dataEnd + commitSize <= c.end {
                    let count = commitSize == 8
                        ? Int64(bitPattern: file.loadUnaligned(fromByteOffset: c.dataEnd, as: UInt64.self).littleEndian)
                        : Int64(u32(c.dataEnd))
                    c.missedOnPage = count > 0 ? count : -1
                }
            }
            return true
        }
    }

    /// Gives the pages already read back to the kernel (MADV_DONTNEED on a private read-only map).
    private func release(_ c: inout Cursor) {
        guard let base = file.baseAddress else { return }
        let system = Int(sysconf(Int32(_SC_PAGESIZE)))
        let from = c.released / system * system
        let to = c.page / system * system
        if to > from { _ = madvise(UnsafeMutableRawPointer(mutating: base + from), to - from, MADV_DONTNEED) }
        c.released = to
    }
}
