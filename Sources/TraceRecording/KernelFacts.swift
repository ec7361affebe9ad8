import SystemCalls

/// A kernel release as `uname -r` prints it: `6.18.44-fc-v669`, `6.1.95`, `5.19.0-rc1`.
public struct KernelRelease: Sendable, Equatable, Comparable, CustomStringConvertible {
    public var major: Int
    public var minor: Int
    public var patch: Int
    public var text: String

    public init?(_ text: String) {
        let numbers = text.prefix { $0.isNumber || $0 == "." }.split(separator: ".").compactMap { Int($0) }
        guard numbers.count >= 2 else { return nil }
        major = numbers[0]
        minor = numbers[1]
        patch = numbers.count > 2 ? numbers[2] : 0
        self.text = text
    }

    public var description: String { text }

    /// The running kernel's release text (`uname -r`).
    public static var runningText: String {
        RunningKernel.release
    }

    public static func < (a: KernelRelease, b: KernelRelease) -> Bool {
        (a.major, a.minor, a.patch) < (b.major, b.minor, b.patch)
    }

    public func isAtLeast(_ major: Int, _ minor: Int, _ patch: Int = 0) -> Bool {
        (self.major, self.minor, self.patch) >= (major, minor, patch)
    }
}

/// What the kernel puts in the msg_id/object_id fields of its open/read/close records.
public enum OndemandIDSemantics: Sendable, Equatable {
    /// Before 5.19 there is no on-demand mode at all.
    case noOndemandMode
    /// 5.19–6.7: open fills msg_id and object_id, read and close fill object_id.
    case idsFilled
    /// 6.8+, and the stable series that took the same change (6.1.95+, 6.6.35+): they are 0;
    /// only copen/cread msg_id, fd_release object_id and obj are reliable.
    case idsZero

    public static func of(_ release: KernelRelease) -> OndemandIDSemantics {
        if !release.isAtLeast(5, 19) { return .noOndemandMode }
        if release.isAtLeast(6, 8) { return .idsZero }
        if release.major == 6, release.minor == 1, release.patch >= 95 { return .idsZero }
        if release.major == 6, release.minor == 6, release.patch >= 35 { return .idsZero }
        return .idsFilled
    }

    public var explanation: String {
        switch self {
        case .noOndemandMode:
            return "kernels before 5.19 have no cachefiles on-demand mode"
        case .idsFilled:
            return "msg_id/object_id are filled in open/read/close records (5.19–6.7 semantics); the report cross-checks them"
        case .idsZero:
            return "msg_id/object_id are 0 in open/read/close records (6.8+, or a 6.1.95+/6.6.35+ stable kernel); requests are joined by obj, copen/cread msg_id and fd_release object_id"
        }
    }
}

/// Values from a kernel `.config` (`/proc/config.gz`, `/boot/config-<release>`).
public struct KernelConfig: Sendable {
    public var values: [String: String]

    public init(text: String) {
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# CONFIG_"), line.hasSuffix(" is not set") {
                let name = line.dropFirst(2).dropLast(" is not set".count)
                values[String(name)] = "n"
            } else if line.hasPrefix("CONFIG_"), let eq = line.firstIndex(of: "=") {
                values[String(line[..<eq])] = String(line[line.index(after: eq)...])
            }
        }
        self.values = values
    }

    /// `y`, `m`, `n` (or another value); nil when the option is not in the file at all.
    public subscript(name: String) -> String? { values[name] }

    public func isEnabled(_ name: String) -> Bool { values[name] == "y" || values[name] == "m" }

    /// "CONFIG_X=y", "CONFIG_X is not set", or "CONFIG_X is absent".
    public func describe(_ name: String) -> String {
        switch values[name] {
        case nil: return "\(name) is absent"
        case "n": return "\(name) is not set"
        case let value?: return "\(name)=\(value)"
        }
    }
}
