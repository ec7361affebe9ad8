import Glibc

/// Starting the command given after `--` (record, run).
enum ChildProcess {
    struct SpawnError: Error, CustomStringConvertible {
        var description: String
    }

    /// Starts `command` (looked up in PATH) with every signal unblocked: the recorder and the
    /// daemon block SIGINT/SIGTERM for their own signal handling, the child must not inherit that.
    static func spawn(_ command: [String]) throws(SpawnError) -> pid_t {
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
        guard rc == 0 else { throw SpawnError(description: "cannot run \(command[0]): \(String(cString: strerror(rc)))") }
        return pid
    }
}
