/// How the image was loaded on demand: which kernel mechanism a trace shows.
public enum Backend: String, Sendable, CaseIterable {
    /// cachefiles on-demand mode (EROFS over fscache; Linux 5.19 to 7.1): `cachefiles_ondemand_*`.
    case cachefiles
    /// fanotify pre-content events (file-backed EROFS; Linux 6.14 and later): kprobe events.
    case fanotify
}

/// The kprobe events that show a fanotify pre-content round trip (no tracepoint carries a
/// permission event's answer). `record` creates them in a group of its own; the same lines
/// written to `kprobe_events` by hand (group `ondemand_fan`) give a trace `report` reads too
/// (docs/fanotify.md).
public struct FanotifyProbe: Sendable, Equatable {
    /// The event's name in the group (`fan_insert`).
    public var event: String
    /// A return probe (`r`) or an entry probe (`p`).
    public var isReturn: Bool
    /// The kernel function probed.
    public var function: String
    /// The fetch arguments (`ev=%si:x64`): x86_64 registers, as the kernel's calling convention
    /// places the arguments.
    public var arguments: String
    /// Without it the report cannot join requests (with: a stage or a time is reported absent).
    public var required: Bool

    /// `p:GROUP/EVENT FUNCTION ARGS`, a `kprobe_events` line.
    public func definition(group: String) -> String {
        "\(isReturn ? "r" : "p"):\(group)/\(event) \(function) \(arguments)"
    }

    /// The group of hand-made probes (docs/fanotify.md); `record` uses `ondemand_fan_<pid>`.
    public static let group = "ondemand_fan"

    /// Whether a trace's event system is one of these groups (`ondemand_fan`, `ondemand_fan_123`).
    public static func isGroup(_ system: String) -> Bool {
        guard system.hasPrefix(group) else { return false }
        let rest = system.utf8.dropFirst(group.utf8.count)
        return rest.isEmpty || (rest.first == UInt8(ascii: "_") && rest.count > 1 && rest.dropFirst().allSatisfy { $0 >= 48 && $0 <= 57 })
    }

    /// `record`'s group: one per recorder, so two recorders never share (or remove) each other's
    /// probes, and a dead recorder's group is known by its pid.
    public static func group(pid: Int32) -> String { "\(group)_\(pid)" }

    /// The pid in a recorder's group name (`ondemand_fan_123` → 123).
    public static func recorderPid(group name: String) -> Int32? {
        guard isGroup(name), name != group else { return nil }
        return Int32(name.dropFirst(group.count + 1))
    }

    /// `fsnotify_pre_content(const struct path *, const loff_t *ppos, size_t count)` and its
    /// helpers on x86_64 (checked on 7.3.4; a kernel that inlines one refuses its probe).
    public static let all: [FanotifyProbe] = [
        FanotifyProbe(event: "fan_pre_content", isReturn: false, function: "fsnotify_pre_content",
                      arguments: "pos=+0(%si):s64 count=%dx:u64", required: true),
        FanotifyProbe(event: "fan_pre_content_ret", isReturn: true, function: "fsnotify_pre_content",
                      arguments: "ret=$retval:s32", required: true),
        FanotifyProbe(event: "fan_insert", isReturn: false, function: "fsnotify_insert_event",
                      arguments: "ev=%si:x64", required: true),
        FanotifyProbe(event: "fan_pickup", isReturn: true, function: "fsnotify_remove_first_event",
                      arguments: "ev=$retval:x64", required: false),
        FanotifyProbe(event: "fan_answer", isReturn: false, function: "finish_permission_event",
                      arguments: "ev=%si:x64 resp=%dx:x32", required: true),
        FanotifyProbe(event: "fan_destroy", isReturn: false, function: "fsnotify_destroy_event",
                      arguments: "ev=%si:x64", required: false),
    ]

    /// The tracepoint that names the file (dev, ino, mask) in the reader's context.
    public static let fileTracepoint = (system: "fsnotify", event: "fsnotify")
    /// `FS_PRE_ACCESS`: the mask bit of a pre-content access event.
    public static let preAccessMask: UInt64 = 0x0010_0000
}

/// One record of the fanotify path, typed: the kprobe events of `FanotifyProbe.all` and the
/// `fsnotify:fsnotify` tracepoint. A field the record lacks is nil, never 0.
public enum FanotifyEvent: Sendable, Equatable {
    /// The reader entered the pre-content hook for `count` bytes at `pos`.
    case hookEntered(pos: Int64?, count: UInt64?)
    /// The reader left the hook with `result` (0, or -errno: denied, interrupted).
    case hookReturned(result: Int32?)
    /// The fsnotify core dispatched an event on a file (reader's context): its superblock's device.
    case file(dev: UInt64?, ino: UInt64?, mask: UInt64?)
    /// The event was queued for a group (reader's context): `event` is the kernel event's address.
    case queued(event: UInt64)
    /// The listener read the event (its context); address 0 when the queue was empty.
    case pickedUp(event: UInt64)
    /// The listener's answer (FAN_ALLOW, FAN_DENY with an errno in the top byte).
    case answered(event: UInt64, response: UInt32?)
    /// The event was freed: its address may be reused from here on.
    case destroyed(event: UInt64)

    /// The typed event of a decoded record, or nil when it is not one of the fanotify path's.
    public init?(_ g: GenericEvent) {
        func unsigned(_ name: String) -> UInt64? {
            switch g[name] {
            case .unsigned(let v)?: return v
            case .signed(let v)?: return UInt64(bitPattern: v)
            default: return nil
            }
        }
        if g.system == FanotifyProbe.fileTracepoint.system {
            guard g.name == FanotifyProbe.fileTracepoint.event else { return nil }
            // 7.3 names the device `s_dev` (the superblock's); `dev` in other builds.
            self = .file(dev: unsigned("s_dev") ?? unsigned("dev"), ino: unsigned("ino"), mask: unsigned("mask"))
            return
        }
        guard FanotifyProbe.isGroup(g.system) else { return nil }
        switch g.name {
        case "fan_pre_content":
            self = .hookEntered(pos: unsigned("pos").map { Int64(bitPattern: $0) }, count: unsigned("count"))
        case "fan_pre_content_ret":
            self = .hookReturned(result: unsigned("ret").map { Int32(truncatingIfNeeded: Int64(bitPattern: $0)) })
        case "fan_insert", "fan_pickup", "fan_destroy":
            guard let ev = unsigned("ev") else { return nil }
            self = g.name == "fan_insert" ? .queued(event: ev) : g.name == "fan_pickup" ? .pickedUp(event: ev) : .destroyed(event: ev)
        case "fan_answer":
            guard let ev = unsigned("ev") else { return nil }
            self = .answered(event: ev, response: unsigned("resp").map { UInt32(truncatingIfNeeded: $0) })
        default:
            return nil
        }
    }

    /// Whether records of this event (by its format's system and name) belong to the fanotify path.
    public static func isFanotify(system: String, name: String) -> Bool {
        FanotifyProbe.isGroup(system) || (system == FanotifyProbe.fileTracepoint.system && name == FanotifyProbe.fileTracepoint.event)
    }
}

/// A listener's answer to a permission event (`struct fanotify_response.response`).
public struct FanotifyResponse: Sendable, Equatable, CustomStringConvertible {
    public var raw: UInt32
    public init(_ raw: UInt32) { self.raw = raw }

    static let allow: UInt32 = 0x01, deny: UInt32 = 0x02
    public var isDenied: Bool { raw & Self.deny != 0 }
    /// The errno a denial returns to the reader (`FAN_DENY_ERRNO`; plain FAN_DENY is EPERM).
    public var errno: Int32? {
        guard isDenied else { return nil }
        let e = Int32((raw >> 24) & 0xff)
        return e == 0 ? 1 : e
    }

    public var description: String {
        if let errno { return "FAN_DENY: \(ErrnoName.describe(errno))" }
        return raw & Self.allow != 0 ? "FAN_ALLOW" : "0x" + String(raw, radix: 16)
    }
}

/// The fanotify marks a group holds, as `/proc/PID/fdinfo/FD` of its fd lists them
/// (`fanotify ino:c sdev:fe00000 mflags:0 mask:100000 ignored_mask:0 ...`, numbers in hex).
public enum FanotifyMarks {
    public struct Mark: Sendable, Equatable {
        public var ino: UInt64
        /// The kernel's dev_t: major << 20 | minor.
        public var sdev: UInt64
        public var mask: UInt64
    }

    /// The inode marks in an fdinfo text (mount and filesystem marks are left out).
    public static func parse(_ fdinfo: String) -> [Mark] {
        fdinfo.split(separator: "\n").compactMap { line in
            guard line.hasPrefix("fanotify ino:") else { return nil }
            var fields: [Substring: UInt64] = [:]
            for word in line.split(separator: " ").dropFirst() {
                guard let colon = word.firstIndex(of: ":") else { continue }
                fields[word[..<colon]] = UInt64(word[word.index(after: colon)...], radix: 16)
            }
            guard let ino = fields["ino"], let sdev = fields["sdev"], let mask = fields["mask"] else { return nil }
            return Mark(ino: ino, sdev: sdev, mask: mask)
        }
    }
}
