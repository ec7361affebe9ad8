/// One page (sub-buffer) of a CPU's ring buffer, as the kernel hands it out in `trace_pipe_raw`
/// and a trace.dat stores it. This file is the one definition of the page layout in the project:
///
///     header   u64 timestamp (of the page's first event), then `commit`, a long (4 or 8 bytes,
///              as the file's `header_page` says): the size of the event data in its low 27 bits,
///              bit 31 (RB_MISSED_EVENTS): events were lost before this page,
///              bit 30 (RB_MISSED_STORED): their count, a long, follows the event data
///     events   each behind a u32 header: type_len (low 5 bits), time_delta (high 27 bits), then
///              1...28  data of type_len × 4 bytes
///              0       a u32 length (counting itself), then the data, padded to 4 bytes
///              29      padding (a discarded event): its length in the next u32
///              30      time extend: the next u32 holds bits 27... of the delta
///              31      absolute time stamp: the next u32 holds bits 27... of the time
///
/// Little-endian only (the walker hands big-endian files to libtracecmd). `@frozen`/`@inlinable`:
/// the file walker's loop is the hot path of `report` and must specialize across the module.
@frozen
public struct RingBufferPage {
    // The constants are inlinable computed properties, not `static let`s: another module would
    // reach a `let` through an accessor call on every use, in the middle of the record loop.
    @inlinable public static var timestampSize: Int { 8 }
    /// The size bits of `commit`. The kernel sets only the two flags above them; libtraceevent's
    /// kbuffer and libtracecmd (`COMMIT_MASK`) take 27 bits, and this project's files must decode
    /// as they decode them: a wider mask would call pages corrupt that they read, a narrower one
    /// would miss data they read. A sub-buffer is far smaller than 2^27 bytes either way.
    @inlinable public static var commitSizeMask: UInt64 { (1 << 27) - 1 }
    @inlinable public static var missedEventsFlag: UInt64 { 1 << 31 }
    @inlinable public static var missedCountStoredFlag: UInt64 { 1 << 30 }
    @inlinable public static var timeDeltaBits: Int { 27 }
    @inlinable public static var timeDeltaMask: UInt64 { (1 << UInt64(timeDeltaBits)) - 1 }
    /// type_len values: data lengths in 4-byte words up to `maxDataTypeLen`, then the specials.
    @inlinable public static var maxDataTypeLen: UInt32 { 28 }
    @inlinable public static var paddingType: UInt32 { 29 }
    @inlinable public static var timeExtendType: UInt32 { 30 }
    @inlinable public static var timeStampType: UInt32 { 31 }

    @inlinable
    public static func headerSize(commitSize: Int) -> Int { timestampSize + commitSize }

    /// The page's bytes (a file's last page may be cut short, but holds the header).
    public let bytes: UnsafeRawBufferPointer
    /// 4 or 8: the long size of the kernel that wrote the page.
    public let commitSize: Int
    public let timestamp: UInt64
    /// Bytes of event data after the header.
    public let dataSize: Int
    /// Events lost before this page: 0 none, -1 some (count not stored), else the count.
    public let missedEvents: Int64

    @inlinable public var dataStart: Int { Self.timestampSize + commitSize }
    @inlinable public var dataEnd: Int { dataStart + dataSize }

    /// Reads the page header. `pageSize`: the sub-buffer size; data claimed past it, or past the
    /// end of `bytes`, is an error.
    @inlinable
    public init(_ bytes: UnsafeRawBufferPointer, commitSize: Int, pageSize: Int) throws(RingBufferPageError) {
        let header = Self.headerSize(commitSize: commitSize)
        guard bytes.count >= header else { throw RingBufferPageError(offset: 0, kind: .headerCut(available: bytes.count)) }
        let commit = Self.long(bytes, at: Self.timestampSize, size: commitSize)
        let size = Int(commit & Self.commitSizeMask)
        guard size <= pageSize - header, header + size <= bytes.count else {
            throw RingBufferPageError(offset: 0, kind: .dataPastPage(claimed: size))
        }
        var missed: Int64 = 0
        if commit & Self.missedEventsFlag != 0 {
            missed = -1
            if commit & Self.missedCountStoredFlag != 0, header + size + commitSize <= bytes.count {
                let count = Int64(bitPattern: Self.long(bytes, at: header + size, size: commitSize))
                missed = count > 0 ? count : -1
            }
        }
        self.bytes = bytes
        self.commitSize = commitSize
        timestamp = bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self).littleEndian
        dataSize = size
        missedEvents = missed
    }

    @inlinable
    static func long(_ bytes: UnsafeRawBufferPointer, at offset: Int, size: Int) -> UInt64 {
        size == 8 ? bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self).littleEndian
            : UInt64(bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self).littleEndian)
    }

    /// The data records of the page, in order (padding and time stamps applied, not returned).
    @inlinable
    public func records() -> Records {
        Records(bytes: bytes, position: dataStart, dataEnd: dataEnd, timestamp: timestamp, missedEvents: missedEvents)
    }

    /// One data record.
    @frozen
    public struct Record {
        public var timestamp: UInt64
        /// The event's payload (its fields, common header first), inside the page.
        public var data: UnsafeRawBufferPointer
        /// Where the payload starts in the page.
        public var offset: Int
        /// Events lost just before this record: the page's `missedEvents` on its first record, else 0.
        public var missedEvents: Int64

        @inlinable
        public init(timestamp: UInt64, data: UnsafeRawBufferPointer, offset: Int, missedEvents: Int64) {
            self.timestamp = timestamp
            self.data = data
            self.offset = offset
            self.missedEvents = missedEvents
        }
    }

    /// Walks a page's events; `next()` returns nil after the last record.
    @frozen
    public struct Records {
        public let bytes: UnsafeRawBufferPointer
        public var position: Int
        public let dataEnd: Int
        public var timestamp: UInt64
        public var missedEvents: Int64

        @inlinable
        public init(bytes: UnsafeRawBufferPointer, position: Int, dataEnd: Int, timestamp: UInt64, missedEvents: Int64) {
            self.bytes = bytes
            self.position = position
            self.dataEnd = dataEnd
            self.timestamp = timestamp
            self.missedEvents = missedEvents
        }

        /// No records (a cursor before its first page).
        @inlinable
        public static var empty: Records {
            Records(bytes: UnsafeRawBufferPointer(start: nil, count: 0), position: 0, dataEnd: 0, timestamp: 0, missedEvents: 0)
        }

        @inline(__always) @inlinable
        func u32(_ at: Int) -> UInt32 { bytes.loadUnaligned(fromByteOffset: at, as: UInt32.self).littleEndian }

        /// Always inlined: the file walker calls it for every record of a trace.
        @inlinable @inline(__always)
        public mutating func next() throws(RingBufferPageError) -> Record? {
            while position < dataEnd {
                let at = position
                guard at + 4 <= dataEnd else { throw RingBufferPageError(offset: at, kind: .eventHeaderPastData) }
                let header = u32(at)
                let typeLen = header & 31
                let delta = UInt64(header >> 5)
                let p = at + 4
                switch typeLen {
                case RingBufferPage.paddingType:
                    // Without room for its length word, the padding runs to the end of the data.
                    guard p + 4 <= dataEnd else { position = dataEnd; continue }
                    timestamp &+= delta
                    position = p + Int(u32(p))
                case RingBufferPage.timeExtendType:
                    guard p + 4 <= dataEnd else { throw RingBufferPageError(offset: at, kind: .timeExtendPastData) }
                    timestamp &+= (UInt64(u32(p)) << RingBufferPage.timeDeltaBits) &+ delta
                    position = p + 4
                case RingBufferPage.timeStampType:
                    guard p + 4 <= dataEnd else { throw RingBufferPageError(offset: at, kind: .timeStampPastData) }
                    timestamp = (UInt64(u32(p)) << RingBufferPage.timeDeltaBits) &+ delta
                    position = p + 4
                default:
                    var start = p
                    var length = Int(typeLen) * 4
                    if typeLen == 0 {
                        guard p + 4 <= dataEnd else { throw RingBufferPageError(offset: at, kind: .lengthPastData) }
                        length = (Int(u32(p)) - 4 + 3) & ~3
                        start = p + 4
                    }
                    guard length >= 0, start + length <= dataEnd else {
                        throw RingBufferPageError(offset: at, kind: .eventPastData(length: length))
                    }
                    timestamp &+= delta
                    position = start + length
                    let missed = missedEvents
                    missedEvents = 0
                    return Record(timestamp: timestamp, data: UnsafeRawBufferPointer(start: bytes.baseAddress! + start, count: length),
                                  offset: start, missedEvents: missed)
                }
            }
            return nil
        }
    }
}
