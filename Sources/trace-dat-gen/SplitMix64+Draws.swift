import OndemandTraceCore

/// The generator's draws as the traffic model takes them (modulo: the same seed gives the same
/// trace on every machine, and the fixture made with it stays reproducible).
extension SplitMix64 {
    mutating func next(below n: Int) -> UInt64 { next() % UInt64(n) }
    mutating func next(in range: ClosedRange<UInt64>) -> UInt64 { range.lowerBound + next() % (range.upperBound - range.lowerBound + 1) }
}
