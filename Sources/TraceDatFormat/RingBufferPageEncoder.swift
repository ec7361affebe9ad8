/// Packs records into ring-buffer pages as the kernel writes them (layout: `RingBufferPage`): the
/// first record of a page at the page's time stamp, each next one at a 27-bit delta from the
/// previous, a time extend before it when the gap does not fit, and a page closed when the next
/// record does not fit. For synthetic trace.dat files and tests; the recorder copies the
/// kernel's own pages.
public struct RingBufferPageEncoder {
    public let pageSize: Int
    public let commitSize: Int
    /// Pages closed so far; the open page has this index.
    public private(set) var pagesClosed = 0
    /// Events lost before page `index`: 0 none, -1 some (flag only), N > 0 the count, stored after
    /// the data as the kernel does when it has room.
    private let missedEventsBeforePage: (_ index: Int) -> Int64
    private var data: [UInt8] = []
    private var isOpen = false
    private var pageTimestamp: UInt64 = 0
    private var lastTimestamp: UInt64 = 0
    private var missed: Int64 = 0

    /// The largest payload a `type_len` can say (above it the length goes in a word of its own).
    static let maxSmallPayload = Int(RingBufferPage.maxDataTypeLen) * 4

    public init(pageSize: Int = 4096, commitSize: Int = 8, missedEventsBeforePage: @escaping (_ index: Int) -> Int64 = { _ in 0 }) {
        precondition(commitSize == 4 || commitSize == 8, "commit is a long: 4 or 8 bytes")
        self.pageSize = pageSize
        self.commitSize = commitSize
        self.missedEventsBeforePage = missedEventsBeforePage
        data.reserveCapacity(pageSize)
    }

    /// Room for event data in the open page (a stored missed-events count takes a long of it).
    private var capacity: Int {
        pageSize - RingBufferPage.headerSize(commitSize: commitSize) - (missed > 0 ? commitSize : 0)
    }

    /// Adds a record at `timestamp` (not before the previous one); the payload is padded to 4
    /// bytes. Returns the page this record closed, when it did not fit in the open one.
    public mutating func append(timestamp: UInt64, payload: some Collection<UInt8>) -> [UInt8]? {
        precondition(!isOpen || timestamp >= lastTimestamp, "records must come in time order")
        let padded = (payload.count + 3) & ~3
        let small = padded > 0 && padded <= Self.maxSmallPayload
        let eventSize = 4 + (small ? 0 : 4) + padded
        var closed: [UInt8]?
        if isOpen {
            let extendSize = timestamp - lastTimestamp > RingBufferPage.timeDeltaMask ? 8 : 0
            if data.count + extendSize + eventSize > capacity { closed = close() }
        }
        if !isOpen { open(at: timestamp) }
        precondition(data.count + eventSize <= capacity, "a record of \(payload.count) bytes does not fit in a \(pageSize)-byte page")
        var delta = timestamp - lastTimestamp
        if delta > RingBufferPage.timeDeltaMask {
            precondition(delta >> RingBufferPage.timeDeltaBits <= UInt64(UInt32.max), "time gap beyond a time extend's 59 bits")
            word(RingBufferPage.timeExtendType | UInt32(delta & RingBufferPage.timeDeltaMask) << 5)
            word(UInt32(delta >> RingBufferPage.timeDeltaBits))
            delta = 0
        }
        word((small ? UInt32(padded / 4) : 0) | UInt32(delta) << 5)
        if !small { word(UInt32(padded + 4)) }
        data.append(contentsOf: payload)
        data.append(contentsOf: repeatElement(0, count: padded - payload.count))
        lastTimestamp = timestamp
        return closed
    }

    /// Closes the open page and returns it (nil when no record is waiting).
    public mutating func finish() -> [UInt8]? {
        isOpen ? close() : nil
    }

    private mutating func open(at timestamp: UInt64) {
        isOpen = true
        pageTimestamp = timestamp
        lastTimestamp = timestamp
        missed = missedEventsBeforePage(pagesClosed)
        data.removeAll(keepingCapacity: true)
    }

    private mutating func close() -> [UInt8] {
        var commit = UInt64(data.count)
        if missed != 0 { commit |= RingBufferPage.missedEventsFlag }
        if missed > 0 { commit |= RingBufferPage.missedCountStoredFlag }
        var page: [UInt8] = []
        page.reserveCapacity(pageSize)
        Self.append(pageTimestamp, size: 8, to: &page)
        Self.append(commit, size: commitSize, to: &page)
        page.append(contentsOf: data)
        if missed > 0 { Self.append(UInt64(missed), size: commitSize, to: &page) }
        page.append(contentsOf: repeatElement(0, count: pageSize - page.count))
        isOpen = false
        pagesClosed += 1
        return page
    }

    private mutating func word(_ value: UInt32) {
        Self.append(UInt64(value), size: 4, to: &data)
    }

    private static func append(_ value: UInt64, size: Int, to bytes: inout [UInt8]) {
        for i in 0..<size { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(i)))) }
    }
}
