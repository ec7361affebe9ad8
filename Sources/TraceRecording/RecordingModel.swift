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

/// A recording failure: one line with the resource and the cause.
public struct RecordingError: Error, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// One CPU's `per_cpu/cpuN/stats` at the end of a recording.
public struct CPUBufferStats: Sendable, Equatable {
    public var cpu: Int
    /// Events overwritten before they were read (overwrite mode: the reader was too slow).
    public var overrun: UInt64
    public var commitOverrun: UInt64
    /// Events not written because the buffer was full (non-overwrite mode) or nested too deep.
    public var droppedEvents: UInt64
    public var entries: UInt64
    public var readEvents: UInt64
    /// The file as read, stored in the trace.dat as a CPUSTAT option.
    public var text: String

    public var lost: UInt64 { overrun + commitOverrun + droppedEvents }

    /// Parses the `name: value` lines of the stats file; absent numbers are 0.
    public static func parse(cpu: Int, text: String) -> CPUBufferStats {
        var values: [String: UInt64] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = String(line[..<colon])
            let value = line[line.index(after: colon)...].trimmingPrefix(while: { $0 == " " })
            if let number = UInt64(value) { values[key] = number }
        }
        return CPUBufferStats(cpu: cpu, overrun: values["overrun"] ?? 0, commitOverrun: values["commit overrun"] ?? 0,
                              droppedEvents: values["dropped events"] ?? 0, entries: values["entries"] ?? 0,
                              readEvents: values["read events"] ?? 0, text: text)
    }
}

extension Substring {
    func trimmingPrefix(while predicate: (Character) -> Bool) -> Substring {
        var s = self
        while let first = s.first, predicate(first) { s.removeFirst() }
        return s
    }
}

/// Instances this tool creates are named `ondemand-trace-<pid>`: a dead pid marks a stale one.
public enum InstanceName {
    public static let prefix = "ondemand-trace-"

    public static func forProcess(_ pid: Int32) -> String { prefix + String(pid) }

    /// The pid in one of our instance names, nil for any other name.
    public static func ownerPID(_ name: String) -> Int32? {
        guard name.hasPrefix(prefix) else { return nil }
        let digits = name.dropFirst(prefix.count)
        guard !digits.isEmpty, digits.allSatisfy(\.isNumber) else { return nil }
        return Int32(digits)
    }
}
