/// A small seeded generator (SplitMix64): the same seed gives the same numbers on every machine —
/// `run --seed`, the fault plans' random delays, `trace-dat-gen`, and every randomized test (which
/// prints its seed so a failure replays).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return Self.mix(state)
    }

    /// The generator's output function: a good 64-bit hash of `z` (fault delays hash (seed, index)).
    public static func mix(_ z: UInt64) -> UInt64 {
        var z = z
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
