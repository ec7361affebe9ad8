/// Option ids from trace-cmd's `enum tracecmd_option_id`; in version 7 the section ids too.
public enum TraceDatOptionID: UInt16, Sendable {
    case done = 0
    case date = 1
    case cpuStat = 2
    case buffer = 3
    case traceClock = 4
    case uname = 5
    case strings = 15
    case headerInfo = 16
    case ftraceEvents = 17
    case eventFormats = 18
    case kallsyms = 19
    case printk = 20
    case cmdlines = 21

    /// Version 7: the options whose data is the offset of a metadata section.
    public static let sectionOffsets: ClosedRange<UInt16> = headerInfo.rawValue...cmdlines.rawValue
}
