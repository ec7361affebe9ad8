import CTrace
import OndemandTraceCore
import TraceDatFormat
#if canImport(Glibc)
import SystemCalls
#endif

/// Reads the records of an uncompressed trace.dat straight from its mapped ring-buffer pages, in
/// time order across CPUs — what libtracecmd's iteration does, without a malloc'd record and a
/// C callback per record (the report spends most of its time there otherwise).
///
/// Each page is decoded by `RingBufferPage` (TraceDatFormat), which owns the layout. The caller
/// checks the walker against libtracecmd before trusting it (`TraceDatReader`): same first record
/// per CPU, or libtracecmd is used.
struct TraceDatPageWalker {
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
        /// Offset of the page being read.
        var page: Int
        var end: Int
        var records = RingBufferPage.Records.empty
        var released: Int
        /// Pages before this offset are mapped in (`populateAhead`).
        var populated: Int
        var current: Record?
    }

    private let file: UnsafeRawBufferPointer
    private let pageSize: Int
    private let commitSize: Int
    private let release: (chunk: Int, lag: Int)
    private var cursors: [Cursor]

    /// Pages behind a cursor are given back to the kernel in chunks of this many bytes, so the
    /// resident size does not grow with the trace.
    static let releaseChunk = 4 << 20
    /// The pages of the last chunk read stay mapped: a consumer on another thread (`dump`'s
    /// writer) may still be reading records from them, and would fault them back in.
    static let releaseLag = 4 << 20

    /// For readers that copy what they need out of each record before the next (`TraceDatReader`):
    /// pages go back in 256 KiB chunks as soon as they are behind (peak RSS of `report`: with
    /// 1 MiB chunks and populates, two CPUs' windows held 2-6 MB of the file).
    static let copyingRelease = (chunk: 256 << 10, lag: 0)
    /// How far ahead of each record the walker asks for the file's bytes (`odt_prefetch`).
    static let prefetchDistance = 1024
    /// How far ahead of a cursor pages are mapped in at once (a call per 256 KiB: no slower than
    /// per 1 MiB for `dump --all` at 10^6 requests; the kernel may map a large folio's pages too).
    static let populateChunk = 256 << 10
    /// The kernel's page size, which madvise ranges are aligned to.
    static let systemPageSize = MemoryMap.pageSize

    /// `cpuData`: (cpu, offset, size) of each CPU's pages; `commitSize`: 4 or 8 (`header_page`).
    /// `release`: how many bytes of pages behind a cursor are given back at once, and how many
    /// stay mapped behind it (`releaseChunk`, `releaseLag` unless the reader copies its records).
    init(file: UnsafeRawBufferPointer, cpuData: [(cpu: Int, offset: Int, size: Int)], pageSize: Int, commitSize: Int,
         release: (chunk: Int, lag: Int) = (releaseChunk, releaseLag)) {
        self.file = file
        self.pageSize = pageSize
        self.commitSize = commitSize
        self.release = release
        cursors = cpuData.map { d in
            // `page` starts one page early: the first `advance` moves onto the first page.
            Cursor(cpu: Int32(d.cpu), page: d.offset - pageSize, end: d.offset + d.size, released: d.offset, populated: d.offset)
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
        var skipped = 0
        try forEach(skipping: ([], []), skipped: &skipped, body)
    }

    /// `forEach`, passing over without a call to `body` the records `table` skips
    /// (`BinaryEventDecoder.skipTable`) that follow no lost events; they are counted in `skipped`.
    /// In a real recording most records are such (lookups, writes, refs), and the call with its
    /// frame cost more than the test.
    mutating func forEach(skipping table: (kinds: [UInt8], masks: [BinaryEventDecoder.SkipMask]), skipped: inout Int,
                          _ body: (Record) throws -> Bool) throws {
        let pages = Pages(file: file, pageSize: pageSize, commitSize: commitSize, release: release)
        var passed = 0
        defer { skipped += passed }
        try table.kinds.withUnsafeBufferPointer { kinds in try table.masks.withUnsafeBufferPointer { masks in
        // One exclusive access for the whole walk (not one per record), and the first CPU's
        // records are taken in a run for as long as they come before every other CPU's head:
        // the merge then costs one comparison per record, not a scan of the cursors.
        try cursors.withUnsafeMutableBufferPointer { cursors in
            for i in cursors.indices { try pages.advance(&cursors[i]) }
            func head(_ i: Int) -> (timestamp: UInt64, cpu: Int32)? { cursors[i].current.map { ($0.timestamp, $0.cpu) } }
            var first = TimeOrder.first(count: cursors.count, head: head)
            while let best = first {
                // The oldest head of the other CPUs: `best` goes on until its next record is not older.
                let nextCPU = TimeOrder.first(count: cursors.count, head: { $0 == best ? nil : head($0) })
                let next = nextCPU.flatMap(head)
                // When the run ends, that head is the oldest of all (`best`'s new head does not
                // come before it), so the next run is its CPU's without a scan.
                first = nextCPU
                // The run's record stays in a local, not stored into the cursor and loaded back
                // (a stall per record: the load waited for the stores to reach the cache).
                var record = cursors[best].current!
                while true {
                    if record.missedEvents == 0, Self.skips(record.data, kinds, masks) {
                        passed &+= 1
                    } else {
                        guard try body(record) else { return }
                    }
                    guard let following = try pages.next(&cursors[best]) else { cursors[best].current = nil; break }
                    if let next, !TimeOrder.precedes((following.timestamp, following.cpu), next) {
                        cursors[best].current = following
                        break
                    }
                    record = following
                }
            }
        }
        } }
    }

    /// Whether `skipTable`'s kinds and masks pass over the record.
    @inline(__always)
    private static func skips(_ data: UnsafeRawBufferPointer, _ kinds: UnsafeBufferPointer<UInt8>,
                              _ masks: UnsafeBufferPointer<BinaryEventDecoder.SkipMask>) -> Bool {
        guard data.count >= 2 else { return false }
        let id = Int(data.loadUnaligned(as: UInt16.self))
        guard id < kinds.count else { return false }
        let kind = kinds[id]
        guard kind >= 2 else { return kind == 1 }
        let mask = masks[Int(kind) - 2]
        guard data.count >= mask.offset + mask.size else { return false }
        let value: UInt64
        switch mask.size {
        case 1: value = UInt64(data[mask.offset])
        case 2: value = UInt64(data.loadUnaligned(fromByteOffset: mask.offset, as: UInt16.self))
        case 4: value = UInt64(data.loadUnaligned(fromByteOffset: mask.offset, as: UInt32.self))
        default: value = data.loadUnaligned(fromByteOffset: mask.offset, as: UInt64.self)
        }
        return value >= 64 || mask.values & (1 << value) == 0
    }

    /// Moves cursor `i` to its next data record (nil at the end of its pages).
    private mutating func advance(_ i: Int) throws(WalkError) {
        // In place: copying the cursor out and back showed in profiles (once per record).
        let pages = Pages(file: file, pageSize: pageSize, commitSize: commitSize, release: release)
        try cursors.withUnsafeMutableBufferPointer { (cursors) throws(WalkError) in try pages.advance(&cursors[i]) }
    }
}

extension TraceDatPageWalker {
    /// What moving a cursor reads: the mapped file and its page geometry.
    private struct Pages {
        let file: UnsafeRawBufferPointer
        let pageSize: Int
        let commitSize: Int
        let release: (chunk: Int, lag: Int)

        func advance(_ c: inout Cursor) throws(WalkError) {
            c.current = try next(&c)
        }

        /// The cursor's next data record (nil at the end of its pages), not stored in it.
        @inline(__always)
        func next(_ c: inout Cursor) throws(WalkError) -> Record? {
            while true {
                let next: RingBufferPage.Record?
                do {
                    next = try c.records.next()
                } catch {
                    throw WalkError(cpu: c.cpu, offset: c.page + error.offset, message: error.description)
                }
                if let r = next {
                    // The bytes a few records on, on their way while these are read.
                    odt_prefetch(r.data.baseAddress! + TraceDatPageWalker.prefetchDistance)
                    return Record(timestamp: r.timestamp, cpu: c.cpu, data: r.data, offset: c.page + r.offset,
                                  missedEvents: r.missedEvents)
                }
                guard try nextPage(&c) else { return nil }
            }
        }

        /// Moves onto the next page with data; false at the end of the CPU's pages.
        func nextPage(_ c: inout Cursor) throws(WalkError) -> Bool {
            let header = RingBufferPage.headerSize(commitSize: commitSize)
            while true {
                c.page += pageSize
                guard c.page + header <= c.end else { c.records = .empty; return false }
                if c.page - c.released >= release.chunk + release.lag { releasePages(&c) }
                if c.page + pageSize > c.populated { populateAhead(&c) }
                let bytes = UnsafeRawBufferPointer(rebasing: file[c.page..<min(c.page + pageSize, c.end)])
                let page: RingBufferPage
                do {
                    page = try RingBufferPage(bytes, commitSize: commitSize, pageSize: pageSize)
                } catch {
                    throw WalkError(cpu: c.cpu, offset: c.page + error.offset, message: error.description)
                }
                guard page.dataSize > 0 else { continue }
                c.records = page.records()
                return true
            }
        }

        /// Maps the next `populateChunk` bytes of the CPU's pages in one call (MADV_POPULATE_READ,
        /// Linux 5.14+; without it, the page faults map them as before): a fault per few pages
        /// cost more system time than the walk.
        func populateAhead(_ c: inout Cursor) {
            guard let base = file.baseAddress else { return }
            let system = TraceDatPageWalker.systemPageSize
            let from = max(c.populated, c.page) / system * system
            let to = min(c.end, from + TraceDatPageWalker.populateChunk)
            if to > from { MemoryMap.advise(base + from, count: to - from, .populateRead) }
            c.populated = to
        }

        /// Gives the pages already read back to the kernel (MADV_DONTNEED on a private read-only map).
        func releasePages(_ c: inout Cursor) {
            guard let base = file.baseAddress else { return }
            let system = TraceDatPageWalker.systemPageSize
            let from = c.released / system * system
            let to = (c.page - release.lag) / system * system
            if to > from { MemoryMap.advise(base + from, count: to - from, .dontNeed) }
            c.released = to
        }
    }
}
