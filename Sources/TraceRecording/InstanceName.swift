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
