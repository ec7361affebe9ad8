/// The one reading of a duration on the command line (every option that takes a time, and the
/// daemon's fault specs): a number with a unit (`ns`, `us`/`µs`, `ms`, `s`, `m`, `h`); a bare
/// number is seconds, except where an option's bare number once meant milliseconds
/// (`--min-latency`, `run --slowdown`): there it is refused, so it cannot change meaning silently.
public enum DurationText {
    /// What a number without a unit means.
    public enum Bare: Sendable, Equatable {
        case seconds
        /// Refused: the unit must be given (the message suggests this one).
        case refused(suggesting: String)
    }

    /// The rule an option's help text states.
    public static func rule(_ bare: Bare) -> String {
        switch bare {
        case .seconds: return "a number with a unit ns, us, ms, s, m or h; a bare number is seconds"
        case .refused: return "a number with a unit ns, us, ms, s, m or h (the unit is required)"
        }
    }

    /// A duration an option refused: one line naming the option, the text and what to write.
    public struct Failure: Error, Equatable, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }

    static let suffixes: [(String, Double)] = [("ns", 1), ("us", 1e3), ("µs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9)]

    /// Nanoseconds; nil when it is not a non-negative finite duration (or a refused bare number).
    public static func nanoseconds(_ text: String, bare: Bare = .seconds) -> UInt64? {
        try? parse(text, option: "", bare: bare)
    }

    /// Nanoseconds, or a `Failure` naming `option` (e.g. `--min-latency`); `positive`: 0 refused.
    public static func parse(_ text: String, option: String, bare: Bare = .seconds, positive: Bool = false) throws(Failure) -> UInt64 {
        let quoted = option.isEmpty ? "'\(text)'" : "\(option) '\(text)'"
        var number = Substring(text), scale: Double? = nil
        // Longest suffix first: "ms" before "s", "ns"/"us" before "s".
        for (suffix, s) in suffixes.sorted(by: { $0.0.count > $1.0.count }) where text.hasSuffix(suffix) {
            number = text.dropLast(suffix.count)
            scale = s
            break
        }
        guard let value = Double(number), value >= 0, value.isFinite, !number.hasPrefix("+"),
              value * (scale ?? 1e9) < 1.8e19 else {
            throw Failure(description: "\(quoted): expected a duration, \(rule(bare)) (e.g. 500ms, 2s)")
        }
        if scale == nil, case .refused(let unit) = bare {
            throw Failure(description: "\(quoted): add the unit, e.g. \(text)\(unit) (a bare number is refused here)")
        }
        let ns = UInt64((value * (scale ?? 1e9)).rounded())
        if positive, ns == 0 { throw Failure(description: "\(quoted): must be more than 0") }
        return ns
    }
}
