import ArgumentParser
import TraceRecording

struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check this machine's prerequisites for recording and serving on-demand requests.",
        discussion: """
            Each check prints ok, warn, FAIL or info, what it found, and the fix:
              privileges         root, or CAP_SYS_ADMIN (tracefs instances, mount, /dev/cachefiles)
              tracefs            mounted (mounted at /sys/kernel/tracing if absent and allowed)
              tracefs instances  a private instance can be created and removed; stale ones listed
              on-demand paths    which of the two this kernel offers: cachefiles on-demand
                                 (5.19-7.1) and fanotify pre-content (6.14+); a path it lacks
                                 is no failure when it offers the other (its checks say info)
              cachefiles events  the 7 cachefiles_ondemand_* tracepoints exist
              kernel config      CONFIG_CACHEFILES, _ONDEMAND, CONFIG_EROFS_FS, _ONDEMAND
                                 (from /proc/config.gz or /boot/config-$(uname -r))
              /dev/cachefiles    present, and not held by another daemon
              kernel semantics   whether msg_id/object_id are filled (5.19-6.7) or 0 (6.8+,
                                 6.1.95+, 6.6.35+) in open/read/close records
              fanotify path      the pre-content hook, kprobe events, fsnotify:fsnotify,
                                 CONFIG_EROFS_FS_BACKED_BY_FILE; stale probes of dead recorders

            Exit status: 0 when nothing failed, 1 when a check failed.

            Examples:
              sudo ondemand-trace doctor
              ondemand-trace doctor --no-mount
            """
    )

    @Flag(name: .customLong("no-mount"), help: "Do not mount tracefs when it is absent; only report it.")
    var noMount = false

    func run() throws {
        let checks = TraceRecording.Doctor.run(mount: !noMount)
        var out = BufferedOutput()
        for line in DoctorCheck.table(checks) { out.line(line) }
        out.flush()
        if checks.contains(where: { $0.status == .failed }) { throw ExitCode(1) }
    }
}
