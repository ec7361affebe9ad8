/// The metadata of a trace.dat file version 6 (`man 5 trace-cmd.dat.v6`) and where its per-CPU
/// ring-buffer pages go. Pure: `encode()` gives the bytes that precede the CPU data.
///
/// Layout: magic, "6", endianness, long size, page size; header_page; header_event; ftrace
/// formats; event systems and their formats; kallsyms; printk formats; saved cmdlines; CPU count;
/// "options  " and the options; "flyrecord" and one (offset, size) pair per CPU; the trace clock
/// (libtracecmd reads it right after that table when a TRACECLOCK option is present); padding to
/// a page boundary; then each CPU's pages, one CPU after the other.
public struct TraceDatV6Header: Sendable, Equatable {
    public struct EventSystem: Sendable, Equatable {
        public var name: String
        /// The `format` file of each event of the system.
        public var formats: [[UInt8]]
        public init(name: String, formats: [[UInt8]]) {
            self.name = name
            self.formats = formats
        }
    }

    public typealias OptionID = TraceDatOptionID

    public struct Option: Sendable, Equatable {
        public var id: OptionID
        public var data: [UInt8]
        public init(id: OptionID, data: [UInt8]) {
            self.id = id
            self.data = data
        }

        /// A text option as trace-cmd writes them: the text and a terminating NUL.
        public static func text(_ id: OptionID, _ text: String) -> Option {
            Option(id: id, data: Array(text.utf8) + [0])
        }

        /// CPUSTAT: "CPU: N" then the instance's `per_cpu/cpuN/stats` text, like trace-cmd.
        public static func cpuStat(cpu: Int, stats: String) -> Option {
            text(.cpuStat, "CPU: \(cpu)\n" + stats)
        }
    }

    public var pageSize: Int
    public var longSize: Int = 8
    public var bigEndian: Bool = false
    public var headerPage: [UInt8]
    public var headerEvent: [UInt8]
    /// `events/ftrace/*/format` of the ftrace events stored (at least `print`, for markers).
    public var ftraceFormats: [[UInt8]]
    public var systems: [EventSystem]
    public var kallsyms: [UInt8] = []
    public var printkFormats: [UInt8] = []
    public var savedCmdlines: [UInt8]
    public var options: [Option]
    /// The `trace_clock` file ("local global [mono] ..."); the bracketed one is the clock used.
    public var traceClock: String
    /// Bytes of ring-buffer pages per CPU; each a multiple of `pageSize`.
    public var cpuDataSizes: [UInt64]

    public init(pageSize: Int, headerPage: [UInt8], headerEvent: [UInt8], ftraceFormats: [[UInt8]],
                systems: [EventSystem], savedCmdlines: [UInt8], options: [Option], traceClock: String,
                cpuDataSizes: [UInt64]) {
        self.pageSize = pageSize
        self.headerPage = headerPage
        self.headerEvent = headerEvent
        self.ftraceFormats = ftraceFormats
        self.systems = systems
        self.savedCmdlines = savedCmdlines
        self.options = options
        self.traceClock = traceClock
        self.cpuDataSizes = cpuDataSizes
    }

    /// The bytes before the CPU data, padded to a page boundary, and each CPU's data offset.
    public func encode() -> (bytes: [UInt8], cpuOffsets: [UInt64]) {
        var out = ByteWriter(bigEndian: bigEndian)
        out.append(TraceDatFileLayout.magic)
        out.append(Array("6".utf8) + [0])
        out.append([bigEndian ? 1 : 0, UInt8(longSize)])
        out.u32(UInt32(pageSize))

        out.append(TraceDatFileLayout.headerPageLabel)
        out.u64(UInt64(headerPage.count))
        out.append(headerPage)
        out.append(TraceDatFileLayout.headerEventLabel)
        out.u64(UInt64(headerEvent.count))
        out.append(headerEvent)

        out.u32(UInt32(ftraceFormats.count))
        for format in ftraceFormats {
            out.u64(UInt64(format.count))
            out.append(format)
        }
        out.u32(UInt32(systems.count))
        for system in systems {
            out.append(Array(system.name.utf8) + [0])
            out.u32(UInt32(system.formats.count))
            for format in system.formats {
                out.u64(UInt64(format.count))
                out.append(format)
            }
        }

        out.u32(UInt32(kallsyms.count))
        out.append(kallsyms)
        out.u32(UInt32(printkFormats.count))
        out.append(printkFormats)
        out.u64(UInt64(savedCmdlines.count))
        out.append(savedCmdlines)

        out.u32(UInt32(cpuDataSizes.count))
        out.append(TraceDatFileLayout.optionsLabel)
        for option in options {
            out.u16(option.id.rawValue)
            out.u32(UInt32(option.data.count))
            out.append(option.data)
        }
        out.u16(TraceDatOptionID.done.rawValue)

        out.append(TraceDatFileLayout.flyrecordLabel)
        let clock = Array(traceClock.utf8)
        let tableEnd = out.bytes.count + cpuDataSizes.count * 16 + 8 + clock.count
        let dataStart = Self.align(tableEnd, to: pageSize)
        let offsets = Self.cpuOffsets(dataStart: UInt64(dataStart), sizes: cpuDataSizes)
        for (offset, size) in zip(offsets, cpuDataSizes) {
            out.u64(offset)
            out.u64(size)
        }
        out.u64(UInt64(clock.count))
        out.append(clock)
        out.append([UInt8](repeating: 0, count: dataStart - out.bytes.count))
        return (out.bytes, offsets)
    }

    static func align(_ value: Int, to boundary: Int) -> Int {
        (value + boundary - 1) / boundary * boundary
    }

    /// CPUs' data lie back to back from `dataStart`; a CPU with no data points at where it would start.
    static func cpuOffsets(dataStart: UInt64, sizes: [UInt64]) -> [UInt64] {
        var offsets: [UInt64] = []
        var next = dataStart
        for size in sizes {
            offsets.append(next)
            next += size
        }
        return offsets
    }
}
