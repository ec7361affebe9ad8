#if canImport(Glibc)
import Glibc
#endif
import CDaemonSys
import OndemandTraceCore
import TraceRecording

/// What this host offers the tests that need more than a process: root, tracefs, the kernel's
/// on-demand paths, tools. Found the way the product finds them (tracefs through libtracefs, as
/// `record` does; the paths as `doctor` and `--backend auto` do), in this one place, so that a
/// test is enabled by the same fact its code path depends on.
public enum HostFacts {
    public static let isRoot = geteuid() == 0

    /// The tracefs directory as `record` finds it (libtracefs, which mounts it when absent and
    /// allowed); nil without one.
    public static let tracefs: String? = try? Tracefs.directory()

    /// Where tracefs instances are made (for checking that a run left none behind).
    public static var instancesDirectory: String { (tracefs ?? "/sys/kernel/tracing") + "/instances" }

    /// The tracefs instances there now (none when tracefs is absent).
    public static func instances() -> [String] { (try? Fixtures.list(instancesDirectory)) ?? [] }

    /// Root and a tracefs whose instances can be made: what `record` and `monitor` need.
    public static let canRecord: Bool = isRoot && access(instancesDirectory, W_OK) == 0

    /// The kernel has the cachefiles event system (CONFIG_CACHEFILES).
    public static var hasCachefilesEvents: Bool { !Tracefs.events(ofSystem: "cachefiles").isEmpty }

    /// kprobe events can be created (the fanotify path's probes).
    public static var hasKprobeEvents: Bool { OndemandPaths.hasKprobeEvents }

    public static let hasSetpriv = access("/usr/bin/setpriv", X_OK) == 0

    /// Root with setpriv: a test can run the binary as nobody.
    public static var canDropPrivileges: Bool { isRoot && hasSetpriv }

    public static func isExecutable(_ path: String) -> Bool { access(path, X_OK) == 0 }

    /// Whether `path` is on tmpfs (statfs magic).
    public static func isTmpfs(_ path: String) -> Bool {
        var fs = statfs()
        return statfs(path, &fs) == 0 && Int(fs.f_type) == 0x0102_1994
    }

    /// A directory on tmpfs (cachefiles and the fanotify path refuse one), nil when there is none.
    public static let tmpfsDirectory: String? = ["/dev/shm", "/run", "/tmp"].first { isTmpfs($0) && access($0, W_OK) == 0 }

    /// A small tmpfs can be mounted here (root, to fill a disk).
    public static let canMountTmpfs: Bool = {
        guard isRoot, let scratch = try? TemporaryDirectory("mount-probe") else { return false }
        guard mount("tmpfs", scratch.path, "tmpfs", 0, "size=64k") == 0 else { return false }
        return umount(scratch.path) == 0
    }()

    /// Root, and a file in a TemporaryDirectory can be marked for fanotify pre-content events
    /// (6.14+, and a filesystem that allows them: ext4, xfs, btrfs).
    public static let hasPreContentEvents: Bool = {
        guard isRoot, let dir = try? TemporaryDirectory("fan-probe") else { return false }
        let path = dir.path + "/probe"
        close(open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644))
        let group = fanotify_init(UInt32(FAN_CLASS_PRE_CONTENT | FAN_CLOEXEC), UInt32(O_RDWR))
        guard group >= 0 else { return false }
        defer { close(group) }
        return fanotify_mark(group, UInt32(FAN_MARK_ADD), FanotifyProbe.preAccessMask, AT_FDCWD, path) == 0
    }()
}
