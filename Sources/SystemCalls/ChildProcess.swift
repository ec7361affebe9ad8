import Glibc

/// The command given after `--` (record, run): started, and its end described.
public enum ChildProcess {
    public struct SpawnError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Starts `command` (looked up in PATH) with every signal unblocked: the recorder and the
    /// daemon block SIGINT/SIGTERM for their own signal handling, the child must not inherit that.
    /// `directory`: where the child starts (this process stays where it is: other threads use
    /// relative paths). `environment`: variables added to this process's.
    public static func spawn(_ command: [String], in directory: String? = nil,
                             environment: [String: String] = [:]) throws(SpawnError) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let directory {
            guard let addChdir = Self.addChdir else { throw SpawnError(description: "cannot start a command in \(directory): this C library has no posix_spawn_file_actions_addchdir_np") }
            _ = addChdir(&actions, directory)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        let argv = command.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var inherited: [String] = []
        var entry = environ
        while let variable = entry.pointee {
            let text = String(cString: variable)
            if !environment.keys.contains(where: { text.hasPrefix($0 + "=") }) { inherited.append(text) }
            entry += 1
        }
        let envp = (inherited + environment.map { "\($0.key)=\($0.value)" }).map { strdup($0) } + [nil]
        defer { envp.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, command[0], &actions, &attributes, argv, envp)
        guard rc == 0 else { throw SpawnError(description: "cannot run \(command[0]): \(describeErrno(rc))") }
        return pid
    }

    typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
    /// glibc's `posix_spawn_file_actions_addchdir_np` (2.29+; not in Swift's Glibc module).
    static let addChdir: AddChdir? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addchdir_np")
        .map { unsafeBitCast($0, to: AddChdir.self) }

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
