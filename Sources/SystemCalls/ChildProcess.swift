import Glibc

/// The command given after `--` (record, run): started, and its end described.
public enum ChildProcess {
    public struct SpawnError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Starts `command` (looked up in PATH) with every signal unblocked: the recorder and the
    /// daemon block SIGINT/SIGTERM for their own signal handling, the child must not inherit that.
    public static func spawn(_ command: [String]) throws(SpawnError) -> pid_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        let argv = command.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, command[0], nil, &attributes, argv, environ)
        guard rc == 0 else { throw SpawnError(description: "cannot run \(command[0]): \(describeErrno(rc))") }
        return pid
    }

    /// Waits for `pid` (retrying on EINTR); its wait status.
    public static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        _ = retryingInterrupted { waitpid(pid, &status, 0) }
        return status
    }

    /// A wait status as a shell's exit code: the status, or 128 + the signal that killed it.
    public static func exitCode(_ status: Int32) -> Int32 {
        status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// The signal that killed the child, or nil when it exited.
    public static func killingSignal(_ status: Int32) -> Int32? {
        status & 0x7f == 0 ? nil : status & 0x7f
    }

    /// "exited with status N" / "was killed by signal N".
    public static func describe(_ status: Int32) -> String {
        let signal = status & 0x7f
        if signal == 0 { return "exited with status \((status >> 8) & 0xff)" }
        return "was killed by signal \(signal)"
    }
}
