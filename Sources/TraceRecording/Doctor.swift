import CTrace
import OndemandTraceCore
import SystemCalls

/// One prerequisite, checked: what was found and, when it is not right, the fix.
public struct DoctorCheck: Sendable {
    public enum Status: String, Sendable { case ok = "ok", warning = "warn", failed = "FAIL", info = "info" }
    public var name: String
    public var status: Status
    public var summary: String
    public var details: [String] = []
    public var fix: String?
}

extension DoctorCheck {
    /// This check's failure as information: the kernel offers the other on-demand path.
    var notNeeded: DoctorCheck {
        guard status == .failed else { return self }
        var check = self
        check.status = .info
        check.summary += " (not needed: the other on-demand path is available)"
        return check
    }
}

extension DoctorCheck {
    /// `doctor`'s table: a line per check (`[ ok ] name  summary`), its details and, when it is
    /// not ok, its fix indented below, then the verdict line.
    public static func table(_ checks: [DoctorCheck]) -> [String] {
        var lines: [String] = []
        let width = checks.map(\.name.count).max() ?? 0
        let indent = String(repeating: " ", count: 7 + width + 1)
        for check in checks {
            let label = check.status.rawValue
            let room = max(0, 4 - label.count)
            let tag = "[" + String(repeating: " ", count: room / 2) + label + String(repeating: " ", count: room - room / 2) + "]"
            lines.append("\(tag) \(check.name + String(repeating: " ", count: max(0, width - check.name.count))) \(check.summary)")
            lines += check.details.map { indent + $0 }
            if let fix = check.fix, check.status != .ok { lines.append(indent + "fix: " + fix) }
        }
        let failed = checks.filter { $0.status == .failed }.count
        lines.append(failed == 0 ? "all prerequisites met" : "\(failed) check(s) failed")
        return lines
    }
}

/// The checks of `ondemand-trace doctor`, in order: each prerequisite of recording (and of serving)
/// on-demand requests on this machine.
public enum Doctor {
    public static let ondemandEvents = ["cachefiles_ondemand_open", "cachefiles_ondemand_copen", "cachefiles_ondemand_close",
                                        "cachefiles_ondemand_read", "cachefiles_ondemand_cread", "cachefiles_ondemand_fd_write",
                                        "cachefiles_ondemand_fd_release"]

    /// Runs every check. `mount`: mount tracefs if it is absent and we may.
    public static func run(mount: Bool = true) -> [DoctorCheck] {
        let release = KernelRelease.runningText
        let config = kernelConfig(release: release)
        var checks = [privileges(), tracefs(mount: mount)]
        // Without tracefs nothing may ask libtracefs for its directory: that mounts it.
        let tracefsMounted = checks[1].status == .ok
        if tracefsMounted { checks.append(instances()) }
        let events = tracefsMounted ? cachefilesEvents(config: config)
            : DoctorCheck(name: "cachefiles events", status: .failed, summary: "not checked: tracefs is not mounted", fix: "mount tracefs (above)")
        var cachefiles = [events, configCheck(config), deviceCheck(config: config), semantics(release)]
        var fanotify = [fanotifyPath(config: config, tracefs: tracefsMounted)]
        let cachefilesOffered = cachefiles[0].status != .failed, fanotifyOffered = fanotify[0].status != .failed
        checks.append(paths(cachefiles: cachefilesOffered, fanotify: fanotifyOffered, fanotifyCheck: fanotify[0]))
        // A path this kernel lacks is no failure when it offers the other one.
        if fanotifyOffered { cachefiles = cachefiles.map(\.notNeeded) }
        if cachefilesOffered { fanotify = fanotify.map(\.notNeeded) }
        return checks + cachefiles + fanotify
    }

    // MARK: the on-demand paths

    /// Which of the two on-demand paths this kernel offers, one line.
    static func paths(cachefiles: Bool, fanotify: Bool, fanotifyCheck: DoctorCheck) -> DoctorCheck {
        let summary = "cachefiles on-demand + EROFS fscache (5.19-7.1): \(cachefiles ? "yes" : "no"); "
            + "fanotify pre-content + EROFS file-backed (6.14+): \(fanotify ? "yes" : "no")"
        guard cachefiles || fanotify else {
            return DoctorCheck(name: "on-demand paths", status: .failed, summary: summary,
                               fix: "a kernel with CONFIG_CACHEFILES_ONDEMAND (LTS 6.1-6.18) or one with fanotify pre-content events and kprobe events (6.14+); the checks below say what is missing")
        }
        return DoctorCheck(name: "on-demand paths", status: .ok, summary: summary + "; record --backend auto takes " + (cachefiles ? "cachefiles" : "fanotify"))
    }

    /// The fanotify path: the pre-content hook, kprobe events to see it, the file tracepoint,
    /// and the config a file-backed EROFS mount needs; stale probe groups of dead recorders.
    /// `tracefs`: it is mounted (else its kprobe events and tracepoints are not looked at).
    static func fanotifyPath(config: (text: KernelConfig, source: String)?, tracefs: Bool = true) -> DoctorCheck {
        let name = "fanotify path"
        var missing: [String] = [], fixes: [String] = [], details: [String] = []
        if !OndemandPaths.hasPreContentHook {
            missing.append("no pre-content hook (fsnotify_pre_content not in /proc/kallsyms)")
            fixes.append("Linux 6.14+ with CONFIG_FANOTIFY=y CONFIG_FANOTIFY_ACCESS_PERMISSIONS=y")
        }
        if !tracefs {
            missing.append("kprobe events not checked: tracefs is not mounted")
            fixes.append("tracefs mounted")
        } else if !OndemandPaths.hasKprobeEvents {
            missing.append("no kprobe events (\(TracefsInstance.tracingDirectory)/kprobe_events)")
            fixes.append("CONFIG_KPROBES=y CONFIG_KPROBE_EVENTS=y")
        }
        if tracefs, !Tracefs.events(ofSystem: FanotifyProbe.fileTracepoint.system).contains(FanotifyProbe.fileTracepoint.event) {
            details.append("no fsnotify:fsnotify tracepoint: requests are not told apart by image file (one object)")
        }
        if let config {
            let options = ["CONFIG_FANOTIFY_ACCESS_PERMISSIONS", "CONFIG_EROFS_FS_BACKED_BY_FILE", "CONFIG_KPROBE_EVENTS"]
            details.append("\(config.source): " + options.map(config.text.describe).joined(separator: ", "))
            if !config.text.isEnabled("CONFIG_EROFS_FS_BACKED_BY_FILE") { fixes.append("CONFIG_EROFS_FS_BACKED_BY_FILE=y (file-backed EROFS mounts)") }
        }
        let stale = tracefs ? KprobeEvents.staleGroups() : []
        if !stale.isEmpty {
            details.append("kprobe events of dead recorders: " + stale.joined(separator: ", "))
        }
        if !missing.isEmpty {
            return DoctorCheck(name: name, status: .failed, summary: missing.joined(separator: "; "), details: details,
                               fix: "a kernel with " + fixes.joined(separator: ", "))
        }
        if !stale.isEmpty {
            return DoctorCheck(name: name, status: .warning, summary: "available; stale kprobe events left by killed recorders", details: details,
                               fix: "`ondemand-trace record` removes them when it starts, or: " + stale.map { "echo '-:\($0)/*' >> \(TracefsInstance.tracingDirectory)/kprobe_events" }.joined(separator: "; "))
        }
        return DoctorCheck(name: name, status: .ok, summary: "pre-content hook and kprobe events present (whether each probe is accepted shows when `record --backend fanotify` creates it)",
                           details: details)
    }


    // MARK: privileges

    static func effectiveCapabilities() -> UInt64? {
        guard let status = readText("/proc/self/status") else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("CapEff:") {
            return UInt64(line.dropFirst("CapEff:".count).trimmingPrefix(while: { $0 == "\t" || $0 == " " }), radix: 16)
        }
        return nil
    }

    static func privileges() -> DoctorCheck {
        let name = "privileges"
        let caps = effectiveCapabilities() ?? 0
        let sysAdmin = caps & (1 << 21) != 0
        let perfmon = caps & (1 << 38) != 0
        if ThisProcess.isRoot && sysAdmin {
            return DoctorCheck(name: name, status: .ok, summary: "running as root with CAP_SYS_ADMIN")
        }
        if sysAdmin {
            return DoctorCheck(name: name, status: .ok, summary: "CAP_SYS_ADMIN: may create tracefs instances and mount tracefs")
        }
        if ThisProcess.isRoot {
            return DoctorCheck(name: name, status: .warning, summary: "root, but without CAP_SYS_ADMIN (a restricted container?)",
                               details: ["tracefs access follows its file permissions; mounting tracefs and /dev/cachefiles need CAP_SYS_ADMIN"],
                               fix: "run with CAP_SYS_ADMIN (e.g. docker --cap-add SYS_ADMIN, or a privileged container)")
        }
        return DoctorCheck(name: name, status: .failed,
                           summary: "not root" + (perfmon ? "; CAP_PERFMON alone does not open tracefs (root-only files) or /dev/cachefiles" : ", no CAP_SYS_ADMIN"),
                           fix: "run as root (sudo ondemand-trace ...), or grant CAP_SYS_ADMIN: sudo setcap cap_sys_admin+ep $(command -v ondemand-trace)")
    }

    // MARK: tracefs

    static func tracefs(mount: Bool) -> DoctorCheck {
        let name = "tracefs"
        var path: UnsafePointer<CChar>?
        if tracefs_tracing_dir_is_mounted(false, &path) > 0 {
            return DoctorCheck(name: name, status: .ok, summary: "mounted at \(path.map { String(cString: $0) } ?? "/sys/kernel/tracing")")
        }
        if mount, tracefs_tracing_dir_is_mounted(true, &path) >= 0, let dir = tracefs_tracing_dir() {
            return DoctorCheck(name: name, status: .ok, summary: "was not mounted; mounted it at \(String(cString: dir))")
        }
        return DoctorCheck(name: name, status: .failed, summary: "not mounted" + (mount ? ", and mounting it failed (\(describeErrno(currentErrno)))" : ""),
                           details: ["the kernel needs CONFIG_TRACING (tracefs); /sys/kernel/tracing is its mount point"],
                           fix: "sudo mount -t tracefs nodev /sys/kernel/tracing")
    }

    /// Creating (and removing) an instance is exactly what `record` does first.
    static func instances() -> DoctorCheck {
        let name = "tracefs instances"
        let probe = InstanceName.forProcess(ThisProcess.id)
        do {
            let instance = try TracefsInstance(name: probe)
            instance.destroy()
        } catch {
            return DoctorCheck(name: name, status: .failed, summary: error.message,
                               fix: "run as root or with CAP_SYS_ADMIN")
        }
        let stale = staleInstances()
        if !stale.isEmpty {
            return DoctorCheck(name: name, status: .warning, summary: "can create private instances; stale ones of dead recorders: \(stale.joined(separator: ", "))",
                               fix: "`ondemand-trace record` removes them when it starts, or: "
                                   + stale.map { "rmdir \(TracefsInstance.tracingDirectory)/instances/\($0)" }.joined(separator: "; "))
        }
        return DoctorCheck(name: name, status: .ok, summary: "can create and remove a private instance (\(InstanceName.prefix)<pid>)")
    }

    static func staleInstances() -> [String] {
        guard let list = tracefs_instances("^\(InstanceName.prefix)[0-9][0-9]*$") else { return [] }
        defer { tracefs_list_free(list) }
        return Tracefs.strings(list).filter { name in
            guard let pid = InstanceName.ownerPID(name) else { return false }
            return !ThisProcess.exists(pid)
        }
    }

    // MARK: cachefiles

    static func cachefilesEvents(config: (text: KernelConfig, source: String)?) -> DoctorCheck {
        let name = "cachefiles events"
        let events = TracefsInstance.tracingDirectory + "/events"
        if !FileSystem.allows(events, [.read, .execute]) {
            return DoctorCheck(name: name, status: .failed, summary: "cannot list \(events): \(describeErrno(currentErrno))",
                               fix: "run as root")
        }
        let present = Set(Tracefs.events(ofSystem: "cachefiles"))
        let missing = ondemandEvents.filter { !present.contains($0) }
        if present.isEmpty {
            var details = ["the kernel lacks CONFIG_CACHEFILES (or the cachefiles module is not loaded)"]
            if let config {
                details.append("\(config.source): " + ["CONFIG_CACHEFILES", "CONFIG_CACHEFILES_ONDEMAND", "CONFIG_EROFS_FS_ONDEMAND"].map(config.text.describe).joined(separator: ", "))
            }
            let module = config?.text["CONFIG_CACHEFILES"] == "m"
            return DoctorCheck(name: name, status: .failed, summary: "none in this kernel (\(present.count) of 7 on-demand tracepoints)",
                               details: details,
                               fix: module ? "sudo modprobe cachefiles" : "boot a kernel built with CONFIG_CACHEFILES, CONFIG_CACHEFILES_ONDEMAND=y and CONFIG_EROFS_FS_ONDEMAND=y (5.19 or later)")
        }
        if !missing.isEmpty {
            return DoctorCheck(name: name, status: .warning, summary: "\(present.count) cachefiles events, but no \(missing.joined(separator: ", "))",
                               details: ["without them the on-demand round trips cannot be traced: CONFIG_CACHEFILES_ONDEMAND is probably off"],
                               fix: "a kernel with CONFIG_CACHEFILES_ONDEMAND=y")
        }
        return DoctorCheck(name: name, status: .ok, summary: "all 7 on-demand tracepoints present (\(present.count) cachefiles events)")
    }

    static func kernelConfig(release: String) -> (text: KernelConfig, source: String)? {
        if FileSystem.allows("/proc/config.gz", .read), let text = ChildProcess.output(of: ["gzip", "-dc", "/proc/config.gz"]), !text.isEmpty {
            return (KernelConfig(text: text), "/proc/config.gz")
        }
        let boot = "/boot/config-" + release
        if let text = readText(boot) { return (KernelConfig(text: text), boot) }
        return nil
    }

    static func configCheck(_ config: (text: KernelConfig, source: String)?) -> DoctorCheck {
        let name = "kernel config"
        let options = ["CONFIG_CACHEFILES", "CONFIG_CACHEFILES_ONDEMAND", "CONFIG_EROFS_FS", "CONFIG_EROFS_FS_ONDEMAND"]
        guard let config else {
            return DoctorCheck(name: name, status: .info, summary: "not found (no /proc/config.gz, no /boot/config-\(KernelRelease.runningText))",
                               details: ["the tracepoints above are what matters for recording"])
        }
        let summary = options.map(config.text.describe).joined(separator: ", ")
        let off = options.filter { !config.text.isEnabled($0) }
        if off.isEmpty { return DoctorCheck(name: name, status: .ok, summary: summary + " (\(config.source))") }
        return DoctorCheck(name: name, status: .failed, summary: summary + " (\(config.source))",
                           fix: "rebuild the kernel with " + off.map { "\($0)=y" }.joined(separator: " "))
    }

    static func deviceCheck(config: (text: KernelConfig, source: String)?) -> DoctorCheck {
        let name = "/dev/cachefiles"
        guard FileSystem.exists("/dev/cachefiles") else {
            let module = config?.text["CONFIG_CACHEFILES"] == "m"
            return DoctorCheck(name: name, status: .failed, summary: "absent",
                               details: ["the on-demand daemon talks to the kernel through it"],
                               fix: module ? "sudo modprobe cachefiles" : "a kernel with CONFIG_CACHEFILES (then: mknod /dev/cachefiles c 10 $(awk '$2==\"cachefiles\"{print $1}' /proc/misc) if devtmpfs is absent)")
        }
        let code: Int32
        do {
            try Descriptor.open("/dev/cachefiles", .readWrite).close()
            return DoctorCheck(name: name, status: .ok, summary: "present and free (no daemon holds it)")
        } catch { code = error.errno }
        if code == ErrnoCode.EBUSY {
            let holders = holdersOfCachefiles()
            return DoctorCheck(name: name, status: .warning,
                               summary: "held by another daemon" + (holders.isEmpty ? "" : ": " + holders.joined(separator: ", ")),
                               details: ["only one process may open it; `ondemand-trace run` cannot serve while it is held, `record` still works"],
                               fix: "stop that daemon to serve requests with ondemand-trace")
        }
        return DoctorCheck(name: name, status: .failed, summary: "cannot open: \(describeErrno(code))",
                           fix: code == ErrnoCode.EACCES || code == ErrnoCode.EPERM ? "run as root" : nil)
    }

    /// Processes with /dev/cachefiles open, as "comm (pid N)".
    static func holdersOfCachefiles() -> [String] {
        var holders: [String] = []
        for pid in (try? FileContents.directoryEntries("/proc")) ?? [] where Int32(pid) != nil {
            for name in (try? FileContents.directoryEntries("/proc/\(pid)/fd")) ?? [] {
                if FileSystem.linkTarget("/proc/\(pid)/fd/\(name)") == "/dev/cachefiles" {
                    let comm = (readText("/proc/\(pid)/comm") ?? "?").trimmingCharacters(in: "\n")
                    holders.append("\(comm) (pid \(pid))")
                    break
                }
            }
        }
        return holders
    }

    static func semantics(_ text: String) -> DoctorCheck {
        guard let release = KernelRelease(text) else {
            return DoctorCheck(name: "kernel semantics", status: .info, summary: "cannot read the version in '\(text)'")
        }
        let semantics = OndemandIDSemantics.of(release)
        return DoctorCheck(name: "kernel semantics", status: semantics == .noOndemandMode ? .failed : .info,
                           summary: "\(text): \(semantics.explanation)",
                           fix: semantics == .noOndemandMode ? "a 5.19 or later kernel" : nil)
    }

    // MARK: files

    static func readText(_ path: String) -> String? {
        try? FileContents.readText(path)
    }
}
