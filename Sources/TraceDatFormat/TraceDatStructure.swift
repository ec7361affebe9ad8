/// A structural walk over a trace.dat file (versions 6 and 7, `man 5 trace-cmd.dat.v6/.v7`) that
/// checks every size and offset against the file before libtracecmd sees it: libtracecmd trusts
/// them, and a file cut inside the CPU data makes it read past the end.
public struct TraceDatStructure {
    public struct CPUData: Equatable, Sendable {
        public var cpu: Int
        public var offset: UInt64
        public var size: UInt64
    }

    public var version: Int
    public var bigEndian: Bool
    public var longSize: Int
    public var pageSize: Int
    public var compression: String
    public var cpuData: [CPUData] = []
    public var kernelRelease: String?
    public var clock: String?
    /// `per_cpu/cpuN/stats` text saved in the file (CPUSTAT options), by CPU order.
    public var cpuStats: [String] = []
    /// v7: the end of the furthest section seen, to check what follows it.
    var furthestSectionEnd = 0
    /// v7: the largest description-string id a section header names; the strings section must hold it.
    var largestStringID: UInt32?
    /// Called with the offset up to which ring-buffer pages were checked, every 4 MiB of a CPU's
    /// data, so that a caller with a mapped file can drop what was read (the check has no I/O).
    var pagesChecked: ((_ upTo: Int) -> Void)?
    /// How many ring-buffer pages `parse` checked (see `PageCheck`).
    public private(set) var pageCheck = PageCheck.all
    /// `parse(allowingCut: true)` of a file cut inside its (uncompressed) CPU data: where, and
    /// what is left. `cpuData` then holds the whole pages before the cut.
    public private(set) var cut: Cut?
    var allowingCut = false

    /// A file that ends inside its CPU data (a copy cut short, a disk that filled up).
    public struct Cut: Equatable, Sendable {
        /// The file's size.
        public var fileSize: UInt64
        /// Where the CPU data the header announces ends.
        public var declaredEnd: UInt64
        /// The bytes up to the last whole ring-buffer page before the cut: what is read.
        public var kept: UInt64
        /// The CPUs whose data the cut shortened, in order.
        public var cpus: [Int] = []

        /// One line, for a warning.
        public var description: String {
            "the file is cut at byte \(fileSize) of \(declaredEnd) (in the data of CPU \(cpus.map(String.init).joined(separator: ", "))): "
                + "reported up to the cut (byte \(kept)); the other CPUs' records go on past it, so requests near the end may read as unanswered"
        }
    }

    /// Which ring-buffer pages `parse` checks. Checking a page means touching it: on a large file
    /// the pass over every page header cost as much as reading the records (1.2 s of 5 on 1.9 GB).
    public enum PageCheck: Sendable {
        /// Every page: the file is safe for libtracecmd to iterate.
        case all
        /// Each CPU's pages up to its first with data: what libtracecmd reads when it opens the
        /// file and finds each CPU's first record. For a reader that checks each page itself
        /// before reading it (`RingBufferPage`); to hand the file to libtracecmd's iteration
        /// afterwards, call `checkAllPages` first.
        case leading
    }

    public static func looksLikeTraceDat(_ prefix: [UInt8]) -> Bool {
        TraceDatFileLayout.startsLikeTraceDat(prefix)
    }

    /// Reads fields from the mapped file with bounds checks; every failure names the offset.
    struct Cursor {
        let bytes: UnsafeRawBufferPointer
        var offset: Int
        var bigEndian = false

        func fail(_ message: String, at: Int? = nil) -> TraceDatFormatError {
            TraceDatFormatError(message, byteOffset: UInt64(at ?? offset))
        }

        mutating func skip(_ n: UInt64, what: String) throws(TraceDatFormatError) {
            guard n <= UInt64(bytes.count - offset) else {
                throw fail("file ends inside \(what) (\(n) bytes announced, \(bytes.count - offset) left): truncated")
            }
            offset += Int(n)
        }

        mutating func read(_ n: Int, what: String) throws(TraceDatFormatError) -> UnsafeRawBufferPointer {
            guard n <= bytes.count - offset else {
                throw fail("file ends inside \(what): truncated")
            }
            defer { offset += n }
            return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)])
        }

        mutating func u8(_ what: String) throws(TraceDatFormatError) -> UInt8 { try read(1, what: what)[0] }
        mutating func u16(_ what: String) throws(TraceDatFormatError) -> UInt16 {
            let v = try read(2, what: what).loadUnaligned(as: UInt16.self)
            return bigEndian ? v.byteSwapped : v
        }
        mutating func u32(_ what: String) throws(TraceDatFormatError) -> UInt32 {
            let v = try read(4, what: what).loadUnaligned(as: UInt32.self)
            return bigEndian ? v.byteSwapped : v
        }
        mutating func u64(_ what: String) throws(TraceDatFormatError) -> UInt64 {
            let v = try read(8, what: what).loadUnaligned(as: UInt64.self)
            return bigEndian ? v.byteSwapped : v
        }
        mutating func cString(_ what: String, max: Int = 4096) throws(TraceDatFormatError) -> String {
            let start = offset
            let limit = min(bytes.count, offset + max)
            var end = offset
            while end < limit, bytes[end] != 0 { end += 1 }
            guard end < limit else { throw fail("\(what) is not terminated", at: start) }
            offset = end + 1
            return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
        }
        mutating func expect(_ label: [UInt8], what: String) throws(TraceDatFormatError) {
            let at = offset
            let got = try read(label.count, what: what)
            guard got.elementsEqual(label) else {
                throw fail("expected \(what) \"\(String(decoding: label.filter { $0 != 0 }, as: UTF8.self))\"", at: at)
            }
        }
    }

    /// Checks `bytes`, a whole trace.dat, and returns what its header says.
    /// `allowingCut`: a file cut inside its uncompressed CPU data is no error; `cut` says where,
    /// and `cpuData` ends at the last whole page before it.
    public static func parse(_ bytes: UnsafeRawBufferPointer, pages: PageCheck = .all, allowingCut: Bool = false,
                             pagesChecked: ((_ upTo: Int) -> Void)? = nil) throws(TraceDatFormatError) -> TraceDatStructure {
        var c = Cursor(bytes: bytes, offset: 0)
        guard bytes.count > 0 else { throw TraceDatFormatError("empty file") }
        let head = try c.read(min(10, bytes.count), what: "the magic number")
        guard head.elementsEqual(TraceDatFileLayout.magic) else {
            throw TraceDatFormatError("not a trace.dat file (bad magic number)", byteOffset: 0)
        }
        let versionText = try c.cString("the file version", max: 8)
        guard let version = Int(versionText) else { throw c.fail("file version '\(versionText)' is not a number", at: 10) }
        guard version == 6 || version == 7 else {
            throw c.fail("trace.dat file version \(version) is not supported (6 and 7 are)", at: 10)
        }
        let endian = try c.u8("the endianness flag")
        guard endian <= 1 else { throw c.fail("endianness flag is \(endian), not 0 or 1", at: c.offset - 1) }
        c.bigEndian = endian == 1
        let longSize = Int(try c.u8("the long size"))
        guard longSize == 4 || longSize == 8 else { throw c.fail("long size \(longSize) is not 4 or 8", at: c.offset - 1) }
        let pageSize = Int(try c.u32("the page size"))
        guard pageSize >= 1024, pageSize <= 1 << 20, pageSize & (pageSize - 1) == 0 else {
            throw c.fail("page size \(pageSize) is not a power of two between 1 KiB and 1 MiB", at: c.offset - 4)
        }
        var s = TraceDatStructure(version: version, bigEndian: c.bigEndian, longSize: longSize,
                                  pageSize: pageSize, compression: "none", pagesChecked: pagesChecked, pageCheck: pages)
        s.allowingCut = allowingCut
        if version == 6 {
            try s.walkVersion6(&c)
        } else {
            try s.walkVersion7(&c)
        }
        return s
    }

    // MARK: version 6: one sequence of sections, then options, then the flyrecord CPU table.

    mutating func walkVersion6(_ c: inout Cursor) throws(TraceDatFormatError) {
        try c.expect(TraceDatFileLayout.headerPageLabel, what: "the header_page section")
        try c.skip(try c.u64("the header_page size"), what: "header_page")
        try c.expect(TraceDatFileLayout.headerEventLabel, what: "the header_event section")
        try c.skip(try c.u64("the header_event size"), what: "header_event")
        try walkFormats(&c)
        try c.skip(UInt64(try c.u32("the kallsyms size")), what: "kallsyms")
        try c.skip(UInt64(try c.u32("the printk formats size")), what: "printk formats")
        try c.skip(try c.u64("the saved cmdlines size"), what: "saved cmdlines")
        let cpus = Int(try c.u32("the CPU count"))
        guard cpus <= 8192 else { throw c.fail("CPU count \(cpus) is implausible", at: c.offset - 4) }
        var label = Array(try c.read(10, what: "the section label"))
        if label == TraceDatFileLayout.optionsLabel {
            while true {
                let id = try c.u16("an option id")
                if id == TraceDatOptionID.done.rawValue { break }
                let size = try c.u32("an option size")
                let at = c.offset
                try c.skip(UInt64(size), what: "option \(id)")
                readOption(id: id, data: UnsafeRawBufferPointer(rebasing: c.bytes[at..<(at + Int(size))]), bigEndian: c.bigEndian)
            }
            label = Array(try c.read(10, what: "the section label"))
        }
        if label == TraceDatFileLayout.latencyLabel {
            throw c.fail("this is a latency-tracer file (text), not flyrecord event data")
        }
        guard label == TraceDatFileLayout.flyrecordLabel else { throw c.fail("expected \"flyrecord\" after the header sections", at: c.offset - 10) }
        for cpu in 0..<cpus {
            let offset = try c.u64("CPU \(cpu)'s data offset")
            let size = try c.u64("CPU \(cpu)'s data size")
            let kept = try checkRange(offset, size, cpu: cpu, c)
            cpuData.append(CPUData(cpu: cpu, offset: offset, size: kept))
        }
        try checkPages(c)
    }

    mutating func walkFormats(_ c: inout Cursor) throws(TraceDatFormatError) {
        let ftraceCount = try c.u32("the ftrace format count")
        for i in 0..<ftraceCount { try c.skip(try c.u64("ftrace format \(i)'s size"), what: "ftrace format \(i)") }
        let systems = try c.u32("the event system count")
        for _ in 0..<systems {
            let name = try c.cString("an event system name")
            let count = try c.u32("the event count of system \(name)")
            for i in 0..<count { try c.skip(try c.u64("\(name) format \(i)'s size"), what: "format \(i) of system \(name)") }
        }
    }

    /// The CPU data's size as read: `size`, or with `allowingCut` its whole pages before the end
    /// of a file cut inside it (`cut` notes it).
    mutating func checkRange(_ offset: UInt64, _ size: UInt64, cpu: Int, _ c: Cursor) throws(TraceDatFormatError) -> UInt64 {
        let fileSize = UInt64(c.bytes.count)
        guard offset <= fileSize, size <= fileSize - offset else {
            if allowingCut, compression == "none", offset.addingReportingOverflow(size).overflow == false {
                let whole = offset < fileSize ? (fileSize - offset) / UInt64(pageSize) * UInt64(pageSize) : 0
                var noted = cut ?? Cut(fileSize: fileSize, declaredEnd: 0, kept: fileSize)
                noted.declaredEnd = max(noted.declaredEnd, offset + size)
                noted.kept = min(noted.kept, offset + whole)
                noted.cpus.append(cpu)
                cut = noted
                return whole
            }
            throw TraceDatFormatError("CPU \(cpu)'s data (\(size) bytes at offset \(offset)) runs past the end of the file (\(fileSize) bytes): truncated",
                                 byteOffset: min(offset, fileSize))
        }
        return size
    }

    /// The pages `parse` left unchecked (`PageCheck.leading`), checked as `.all` would have: after
    /// this, libtracecmd may iterate the file. Nothing to do for compressed data.
    public mutating func checkAllPages(_ bytes: UnsafeRawBufferPointer) throws(TraceDatFormatError) {
        guard pageCheck == .leading else { return }
        pageCheck = .all
        if compression == "none" { try checkPages(Cursor(bytes: bytes, offset: 0, bigEndian: bigEndian)) }
    }

    /// Each ring-buffer page's commit (bytes used) must fit in the page, or kbuffer reads beyond it.
    func checkPages(_ c: Cursor) throws(TraceDatFormatError) {
        let headerSize = RingBufferPage.headerSize(commitSize: longSize)
        for data in cpuData {
            var page = data.offset
            while page + UInt64(headerSize) <= data.offset + data.size {
                var pc = Cursor(bytes: c.bytes, offset: Int(page) + RingBufferPage.timestampSize, bigEndian: c.bigEndian)
                let raw = longSize == 8 ? try pc.u64("a page header") : UInt64(try pc.u32("a page header"))
                let commit = raw & RingBufferPage.commitSizeMask
                guard commit <= UInt64(pageSize - headerSize) else {
                    throw TraceDatFormatError("CPU \(data.cpu): ring-buffer page claims \(commit) bytes of data, more than a \(pageSize)-byte page holds: corrupt", byteOffset: page)
                }
                if pageCheck == .leading, commit > 0 { break }
                page += UInt64(pageSize)
                if (page - data.offset) % (4 << 20) == 0 { pagesChecked?(Int(page)) }
            }
        }
    }

    // MARK: version 7: sections found through chained OPTIONS sections.

    mutating func walkVersion7(_ c: inout Cursor) throws(TraceDatFormatError) {
        compression = try c.cString("the compression name", max: 64)
        _ = try c.cString("the compression version", max: 64)
        var next = try c.u64("the first options offset")
        var visited = Set<UInt64>()
        var sawDone = false
        while next != 0 {
            guard visited.insert(next).inserted else { throw c.fail("options sections form a loop", at: Int(next)) }
            guard next < UInt64(c.bytes.count) else {
                throw c.fail("options section at offset \(next) is past the end of the file (\(c.bytes.count) bytes): truncated", at: c.bytes.count)
            }
            var s = Cursor(bytes: c.bytes, offset: Int(next), bigEndian: c.bigEndian)
            let sectionID = try s.u16("an options section header")
            let flags = try s.u16("an options section header")
            noteStringID(try s.u32("an options section header"))
            let size = try s.u64("an options section size")
            guard sectionID == 0 else { throw s.fail("expected an options section, found section id \(sectionID)", at: Int(next)) }
            let start = s.offset
            try s.skip(size, what: "an options section")
            furthestSectionEnd = max(furthestSectionEnd, s.offset)
            next = 0
            if flags & 1 != 0 {
                // A compressed options section: its sizes are checked; its content is libtracecmd's.
                var z = Cursor(bytes: c.bytes, offset: start, bigEndian: c.bigEndian)
                let compressed = try z.u32("a compression header")
                _ = try z.u32("a compression header")
                guard UInt64(compressed) + 8 <= size else { throw z.fail("compressed options larger than their section") }
                sawDone = true
                break
            }
            var o = Cursor(bytes: UnsafeRawBufferPointer(rebasing: c.bytes[0..<(start + Int(size))]), offset: start, bigEndian: c.bigEndian)
            while o.offset < start + Int(size) {
                let id = try o.u16("an option id")
                let optionSize = try o.u32("an option size")
                let at = o.offset
                try o.skip(UInt64(optionSize), what: "option \(id)")
                let data = UnsafeRawBufferPointer(rebasing: c.bytes[at..<(at + Int(optionSize))])
                if id == TraceDatOptionID.done.rawValue {
                    guard optionSize == 8 else { throw o.fail("DONE option has size \(optionSize), not 8", at: at) }
                    var d = Cursor(bytes: data, offset: 0, bigEndian: c.bigEndian)
                    next = try d.u64("the next options offset")
                    sawDone = true
                    break
                }
                try readOptionV7(id: id, data: data, c)
            }
        }
        guard sawDone else { throw c.fail("the options sections do not end with DONE: truncated or corrupt") }
        try checkCPUDataV7(c)
        try checkTrailingSections(c)
    }

    mutating func readOptionV7(id: UInt16, data: UnsafeRawBufferPointer, _ c: Cursor) throws(TraceDatFormatError) {
        switch id {
        case TraceDatOptionID.buffer.rawValue: // BUFFER: offset, name, clock, page size, cpu count, (cpu, offset, size)...
            var b = Cursor(bytes: data, offset: 0, bigEndian: c.bigEndian)
            let sectionOffset = try b.u64("a BUFFER option")
            let name = try b.cString("a BUFFER option's instance name")
            let clock = try b.cString("a BUFFER option's clock")
            _ = try b.u32("a BUFFER option's page size")
            let count = try b.u32("a BUFFER option's CPU count")
            guard sectionOffset <= UInt64(c.bytes.count) else {
                throw c.fail("buffer \"\(name)\" data section at \(sectionOffset) is past the end of the file: truncated", at: c.bytes.count)
            }
            if name.isEmpty { self.clock = clock }
            for _ in 0..<count {
                let cpu = Int(try b.u32("a BUFFER option's CPU id"))
                let offset = try b.u64("a BUFFER option's CPU offset")
                let declared = try b.u64("a BUFFER option's CPU size")
                let size = try checkRange(offset, declared, cpu: cpu, c)
                furthestSectionEnd = max(furthestSectionEnd, Int(min(UInt64(c.bytes.count), offset + size + (compression == "none" ? 0 : 4))))
                if name.isEmpty { cpuData.append(CPUData(cpu: cpu, offset: offset, size: size)) }
            }
        case TraceDatOptionID.sectionOffsets:
            // Offsets of the metadata sections: each must hold at least its header.
            var b = Cursor(bytes: data, offset: 0, bigEndian: c.bigEndian)
            let offset = try b.u64("a section offset option")
            var s = Cursor(bytes: c.bytes, offset: 0, bigEndian: c.bigEndian)
            guard offset <= UInt64(c.bytes.count) else {
                throw c.fail("section (option \(id)) at offset \(offset) is past the end of the file: truncated", at: c.bytes.count)
            }
            s.offset = Int(offset)
            _ = try s.read(4, what: "a section header")
            noteStringID(try s.u32("a section header"))
            try s.skip(try s.u64("a section size"), what: "the section of option \(id)")
            furthestSectionEnd = max(furthestSectionEnd, s.offset)
        default:
            readOption(id: id, data: data, bigEndian: c.bigEndian)
        }
    }

    mutating func readOption(id: UInt16, data: UnsafeRawBufferPointer, bigEndian: Bool) {
        let text = { String(decoding: data.prefix { $0 != 0 }, as: UTF8.self) }
        switch id {
        case TraceDatOptionID.cpuStat.rawValue: cpuStats.append(text())
        case TraceDatOptionID.traceClock.rawValue where clock == nil:
            // TRACECLOCK is the whole `trace_clock` file: "[local] global counter": the selected one is bracketed.
            let all = text()
            if let open = all.firstIndex(of: "["), let close = all[open...].firstIndex(of: "]") {
                clock = String(all[all.index(after: open)..<close])
            }
        case TraceDatOptionID.uname.rawValue: kernelRelease = text().split(separator: " ").dropFirst(2).first.map(String.init)
        default: break
        }
    }

    /// Sections no option points to (the strings section) follow the last one: each must be whole.
    func checkTrailingSections(_ c: Cursor) throws(TraceDatFormatError) {
        var t = Cursor(bytes: c.bytes, offset: furthestSectionEnd, bigEndian: c.bigEndian)
        var stringBytes: UInt64 = 0
        while t.offset < c.bytes.count {
            let id = try t.u16("a section header")
            _ = try t.read(6, what: "a section header")
            let size = try t.u64("a section size")
            try t.skip(size, what: "the section at offset \(t.offset - 16)")
            if id == TraceDatOptionID.strings.rawValue { stringBytes += size }
        }
        if let largestStringID, UInt64(largestStringID) >= stringBytes {
            throw c.fail("the strings section is missing or short (section headers name string \(largestStringID), it holds \(stringBytes) bytes): truncated", at: c.bytes.count)
        }
    }

    mutating func noteStringID(_ id: UInt32) {
        largestStringID = max(largestStringID ?? 0, id)
    }

    /// Compressed CPU data is a chunk table; uncompressed data is ring-buffer pages.
    func checkCPUDataV7(_ c: Cursor) throws(TraceDatFormatError) {
        guard compression != "none" else { return try checkPages(c) }
        for data in cpuData where data.size > 0 {
            // trace-cmd counts the chunks after the 4-byte chunk count in `size`.
            let end = min(UInt64(c.bytes.count), data.offset + data.size + 4)
            var z = Cursor(bytes: UnsafeRawBufferPointer(rebasing: c.bytes[0..<Int(end)]),
                           offset: Int(data.offset), bigEndian: c.bigEndian)
            let chunks = try z.u32("CPU \(data.cpu)'s chunk count")
            for i in 0..<chunks {
                let compressed = try z.u32("CPU \(data.cpu) chunk \(i)'s header")
                _ = try z.u32("CPU \(data.cpu) chunk \(i)'s header")
                try z.skip(UInt64(compressed), what: "CPU \(data.cpu)'s compressed chunk \(i)")
            }
        }
    }
}
