import OndemandTraceCore
import SystemCalls

/// Which on-demand loading paths the running kernel offers, found at run time (never assumed
/// from the release: a backport or a config can add or remove either).
public enum OndemandPaths {
    /// cachefiles on-demand: its tracepoints exist (CONFIG_CACHEFILES_ONDEMAND).
    public static var hasCachefilesOndemand: Bool {
        Tracefs.events(ofSystem: "cachefiles").contains(OndemandEvent.Kind.read.eventName)
    }

    /// kprobe events can be created (CONFIG_KPROBE_EVENTS).
    public static var hasKprobeEvents: Bool { KprobeEvents.available }

    /// The pre-content hook exists as a function (6.14+ with CONFIG_FANOTIFY_ACCESS_PERMISSIONS);
    /// whether it can be probed is known only when a probe is created.
    public static var hasPreContentHook: Bool {
        guard let symbols = try? FileContents.readText("/proc/kallsyms") else { return false }
        let name = " " + FanotifyProbe.all[0].function
        return symbols.split(separator: "\n").contains { $0.hasSuffix(name) || $0.contains(name + "\t") }
    }

    /// `auto`: cachefiles where the kernel has it, else fanotify where it has the hook and
    /// kprobe events; nil when neither.
    public static func detect() -> Backend? {
        if hasCachefilesOndemand { return .cachefiles }
        if hasKprobeEvents && hasPreContentHook { return .fanotify }
        return nil
    }
}
