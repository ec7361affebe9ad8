/// A ring-buffer page that does not hold what its header or an event header says.
public struct RingBufferPageError: Error, Equatable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable {
        case headerCut(available: Int)
        case dataPastPage(claimed: Int)
        case eventHeaderPastData
        case timeExtendPastData
        case timeStampPastData
        case lengthPastData
        case eventPastData(length: Int)
    }

    /// Byte offset in the page.
    public var offset: Int
    public var kind: Kind

    @inlinable
    public init(offset: Int, kind: Kind) {
        self.offset = offset
        self.kind = kind
    }

    public var description: String {
        switch kind {
        case .headerCut(let available): "page header cut short (\(available) bytes)"
        case .dataPastPage(let claimed): "page claims \(claimed) bytes of data, more than it holds"
        case .eventHeaderPastData: "event header runs past its page's data"
        case .timeExtendPastData: "time extend runs past its page's data"
        case .timeStampPastData: "time stamp runs past its page's data"
        case .lengthPastData: "event length runs past its page's data"
        case .eventPastData(let length): "event of \(length) bytes runs past its page's data"
        }
    }
}
