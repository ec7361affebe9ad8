/// `/proc/fs/fscache/caches` (Linux 5.17+), read to tell when a daemon has bound a cache:
///
///     CACHE    REF   VOLS  OBJS  ACCES S NAME
///     ======== ===== ===== ===== ===== = ===============
///     00000001     2     1     0     1 A ondemand-trace
///
/// State `A` is an active (bound) cache; `-` not present, `P` preparing, `E` I/O error, `W`
/// withdrawn.
public enum FscacheCaches {
    public struct Cache: Equatable, Sendable {
        public var debugID: String
        public var state: Character
        public var name: String
    }

    /// Every cache line; header and malformed lines are skipped.
    public static func parse(_ text: String) -> [Cache] {
        text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, fields[0].count == 8, fields[0].allSatisfy(\.isHexDigit),
                  fields[5].count == 1, let state = fields[5].first else { return nil }
            return Cache(debugID: String(fields[0]), state: state, name: fields.count > 6 ? fields[6...].joined(separator: " ") : "-")
        }
    }

    /// The caches bound now that were not bound in `before` (by debug id).
    public static func newlyBound(before: [Cache], now: [Cache]) -> [Cache] {
        let active = Set(before.filter { $0.state == "A" }.map(\.debugID))
        return now.filter { $0.state == "A" && !active.contains($0.debugID) }
    }
}
