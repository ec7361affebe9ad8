/// The one reading of a duration on the command line: a number with a unit (`ns`, `us`/`µs`,
/// `ms`, `s`, `m`, `h`), or a bare number in the unit each option states (`record --duration 30`
/// is seconds, `report --min-latency 2` milliseconds: what users of similar tools expect there).
public enum DurationText {
    public enum Unit: Sendable {
        case nanoseconds, microseconds, milliseconds, seconds

        var scale: Double {
            switch self {
            case .nanoseconds: return 1
            case .microseconds: return 1e3
            case .milliseconds: return 1e6
            case .seconds: return 1e9
            }
        }
    }

    static let suffixes: [(String, Double)] = [("ns", 1), ("us", 1e3), ("µs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9)]

    /// Nanoseconds; nil when it is not a non-negative finite duration. `bare` nil: a unit is
    /// required (fault specs, where `delay=10` would be ambiguous).
    public static func nanoseconds(_ text: String, bare: Unit?) -> UInt64? {
        var number = Substring(text), scale = bare?.scale
        // Longest suffix first: "ms" before "s", "ns"/"us" before "s".
        for (suffix, s) in suffixes.sorted(by: { $0.0.count > $1.0.count }) where text.hasSuffix(suffix) {
            number = text.dropLast(suffix.count)
            scale = s
            break
        }
        guard let scale, let value = Double(number), value >= 0, value.isFinite, value * scale < 1.8e19 else { return nil }
        return UInt64((value * scale).rounded())
    }
}
