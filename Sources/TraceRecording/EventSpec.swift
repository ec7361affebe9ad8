/// What to enable: a whole event system (`cachefiles`) or one event (`sched:sched_process_exec`).
public struct EventSpec: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var system: String
    /// nil: every event of the system.
    public var event: String?

    public init(system: String, event: String? = nil) {
        self.system = system
        self.event = event
    }

    /// All cachefiles events (so the error events come too) and the `ftrace:print` markers.
    public static let defaults = [EventSpec(system: "cachefiles"), marker]
    public static let marker = EventSpec(system: "ftrace", event: "print")

    public var description: String { event.map { "\(system):\($0)" } ?? system }

    /// Parses `sys`, `sys:event`, `sys:*` or `sys/event`, separated by commas.
    public static func parseList(_ text: String) throws(RecordingError) -> [EventSpec] {
        var specs: [EventSpec] = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let trimmed = String(item).trimmingCharacters(in: " ")
            let parts = trimmed.split(separator: trimmed.contains(":") ? ":" : "/", omittingEmptySubsequences: false).map(String.init)
            guard !trimmed.isEmpty, parts.count <= 2, parts.allSatisfy(isName(_:)) || (parts.count == 2 && parts[1] == "*" && isName(parts[0])) else {
                throw RecordingError("--events: '\(trimmed)' is not an event: write system:event or system (e.g. sched:sched_process_exec, cachefiles)")
            }
            let spec = EventSpec(system: parts[0], event: parts.count == 2 && parts[1] != "*" ? parts[1] : nil)
            if !specs.contains(spec) { specs.append(spec) }
        }
        return specs
    }

    static func isName(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") || ($0 >= 48 && $0 <= 57) || ($0 | 0x20 >= 97 && $0 | 0x20 <= 122) }
    }
}

extension String {
    func trimmingCharacters(in set: Character) -> String {
        var s = Substring(self)
        while s.first == set { s.removeFirst() }
        while s.last == set { s.removeLast() }
        return String(s)
    }
}
