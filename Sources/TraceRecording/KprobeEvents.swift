import CTrace
import OndemandTraceCore
import SystemCalls

/// The fanotify path's kprobe events for one recorder, created through libtracefs's
/// dynamic-event API in the group `ondemand_fan_<pid>` (kprobe events are global: the group keeps
/// two recorders apart and names a dead recorder's leftovers). Removed by `destroy()`, after the
/// instance that enabled them is gone (the kernel refuses to remove an enabled probe).
final class KprobeEvents {
    let group: String
    private var created: [OpaquePointer] = []
    /// The optional probes this kernel refused.
    private(set) var refused: [Refusal] = []

    /// A probe the kernel refused, and why (an inlined function, no such symbol, no kprobes).
    struct Refusal: Sendable {
        var probe: FanotifyProbe
        var reason: String
    }

    /// Creates every probe this kernel accepts. Throws when a required one is refused (no
    /// request could be joined); the optional ones refused are returned, their stages absent.
    init(group: String, probes: [FanotifyProbe] = FanotifyProbe.all) throws(RecordingError) {
        self.group = group
        for probe in probes {
            if let reason = create(probe) { refused.append(Refusal(probe: probe, reason: reason)) }
        }
        if let missing = refused.first(where: { $0.probe.required }) {
            destroy()
            throw RecordingError("kprobe \(missing.probe.definition(group: group)): \(missing.reason); without it the fanotify path cannot be recorded (see `ondemand-trace doctor`)")
        }
    }

    deinit { destroy() }

    /// Return probes in flight at once (the kernel's default is 10 or twice the CPUs): each
    /// reader blocked in the hook holds one, and a return past the limit is lost.
    static let maxActive: UInt32 = 1024

    /// nil when created, else why not.
    private func create(_ probe: FanotifyProbe) -> String? {
        currentErrno = 0
        // A return probe's handle is made without maxactive and the probe written here: given a
        // maxactive, libtracefs 1.6 writes `r1024::GROUP/EVENT`, which the kernel refuses.
        let event = probe.isReturn
            ? tracefs_kretprobe_alloc(group, probe.event, probe.function, probe.arguments, 0)
            : tracefs_kprobe_alloc(group, probe.event, probe.function, probe.arguments)
        guard let event else { return "libtracefs cannot describe it: \(describeErrno(currentErrno))" }
        currentErrno = 0
        let code = probe.isReturn ? Self.append(Self.returnProbeLine(probe, group: group))
            : tracefs_dynevent_create(event) == 0 ? 0 : currentErrno
        guard code == 0 else {
            tracefs_dynevent_free(event)
            return Self.refusal(code, function: probe.function)
        }
        created.append(event)
        return nil
    }

    /// `rMAXACTIVE:GROUP/EVENT FUNCTION ARGS`, the `kprobe_events` line of a return probe.
    static func returnProbeLine(_ probe: FanotifyProbe, group: String) -> String {
        "r\(maxActive):\(group)/\(probe.event) \(probe.function) \(probe.arguments)\n"
    }

    /// Appends a line to `kprobe_events`: 0, or the errno of the kernel's refusal.
    private static func append(_ line: String) -> Int32 {
        do {
            let file = try Descriptor.open(TracefsInstance.tracingDirectory + "/kprobe_events", .write, [.append])
            defer { file.close() }
            try file.write(line)
            return 0
        } catch { return error.errno }
    }

    static func refusal(_ code: Int32, function: String) -> String {
        switch code {
        case ErrnoCode.ENOENT, ErrnoCode.EINVAL: return "the kernel refused it (\(function) is inlined or not a probe point in this build, or an argument does not fit)"
        case ErrnoCode.EACCES, ErrnoCode.EPERM: return "permission denied (run as root)"
        case ErrnoCode.ENODEV: return "this kernel has no kprobe events (CONFIG_KPROBE_EVENTS)"
        default: return "the kernel refused it: \(describeErrno(code))"
        }
    }

    /// The events to enable: the whole group.
    var spec: EventSpec { EventSpec(system: group) }

    /// Removes the probes (their instance disabled or removed first).
    func destroy() {
        for event in created.reversed() {
            tracefs_dynevent_destroy(event, true)
            tracefs_dynevent_free(event)
        }
        created.removeAll()
    }

    /// Removes the kprobe groups `ondemand_fan_<pid>` whose recorder is gone (a crash or SIGKILL
    /// left them). Returns the groups removed.
    @discardableResult
    static func removeStale() -> [String] {
        var removed: Set<String> = []
        forEachStaleProbe { event, group in if tracefs_dynevent_destroy(event, true) == 0 { removed.insert(group) } }
        return removed.sorted()
    }

    /// The groups `ondemand_fan_<pid>` whose recorder is gone, left in place.
    static func staleGroups() -> [String] {
        var groups: Set<String> = []
        forEachStaleProbe { _, group in groups.insert(group) }
        return groups.sorted()
    }

    /// Each kprobe of a recorder's group whose process is gone, with its group.
    private static func forEachStaleProbe(_ body: (OpaquePointer, String) -> Void) {
        let types = UInt32(TRACEFS_DYNEVENT_KPROBE.rawValue | TRACEFS_DYNEVENT_KRETPROBE.rawValue)
        guard available, let list = tracefs_dynevent_get_all(types, nil) else { return }
        defer { tracefs_dynevent_list_free(list) }
        var i = 0
        while let event = list[i] {
            i += 1
            var system: UnsafeMutablePointer<CChar>?
            tracefs_dynevent_info(event, &system, nil, nil, nil, nil)
            guard let system else { continue }
            let group = String(cString: system)
            freeMallocated(system)
            guard let pid = FanotifyProbe.recorderPid(group: group), pid != ThisProcess.id else { continue }
            if ThisProcess.exists(pid) { continue }  // its recorder is alive
            body(event, group)
        }
    }

    /// Whether this kernel can have kprobe events at all.
    static var available: Bool {
        FileSystem.exists(TracefsInstance.tracingDirectory + "/kprobe_events")
    }
}
