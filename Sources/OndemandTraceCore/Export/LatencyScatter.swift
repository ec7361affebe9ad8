/// A bounded, deterministic sample of (issue time, latency) points for the HTML scatter plot:
/// every request until `capacity`, then every 2nd, 4th, ... so memory stays fixed and the
/// sample stays spread over the whole trace.
public struct LatencyScatter: Sendable {
    public struct Point: Sendable, Equatable {
        public var issued: UInt64
        /// nil: never answered.
        public var latency: UInt64?
        public var obj: UInt32
    }

    public let capacity: Int
    public private(set) var points: [Point] = []
    public private(set) var seen = 0
    private var stride = 1

    public init(capacity: Int = 20_000) { self.capacity = max(2, capacity) }

    public mutating func add(_ r: RequestRecord) {
        guard r.kind == .read else { return }
        defer { seen += 1 }
        guard seen % stride == 0 else { return }
        points.append(Point(issued: r.issued, latency: r.latency, obj: r.obj))
        if points.count >= capacity {
            points = points.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
            stride *= 2
        }
    }
}
