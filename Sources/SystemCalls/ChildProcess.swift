import Glibc

/// The command given after `--` (record, run): started, and its end described.
public enum ChildProcess {
    public struct SpawnError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Starts `command` (looked up in PATH) with every signal unblocked and SIGPIPE back to its
    /// default: the recorder and the daemon block SIGINT/SIGTERM for their own signal handling
    /// and this process ignores SIGPIPE (`reportBrokenPipes`); the child must inherit neither.
    /// `directory`: where the child starts (this process stays where it is: other threads use
    /// relative paths). `environment`: variables added to this process's. `newProcessGroup`: the
    /// child leads a process group of its own, so `signalGroup` reaches what it starts in turn
    /// (a shell's children).
    public static func spawn(_ command: [String], in directory: String? = nil, environment: [String: String] = [:],
                             newProcessGroup: Bool = false) throws(SpawnError) -> pid_t {
        try spawn(command, in: directory, environment: environment, newProcessGroup: newProcessGroup, output: nil)
    }

    /// What `command` writes to standard output when it exits with status 0 (its standard error
    /// discarded); nil when it cannot start or fails.
    public static func output(of command: [String]) -> String? {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { return nil }
        for fd in ends { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        let pid: pid_t
        do { pid = try spawn(command, in: nil, environment: [:], newProcessGroup: false, output: ends[1]) } catch {
            close(ends[0])
            close(ends[1])
            return nil
        }
        close(ends[1])
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = retryingInterrupted { read(ends[0], &buffer, buffer.count) }
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
        close(ends[0])
        return wait(pid) == 0 ? String(decoding: bytes, as: UTF8.self) : nil
    }

    /// `output`: the fd the child's standard output goes to (its standard error then to /dev/null).
    private static func spawn(_ command: [String], in directory: String?, environment: [String: String],
                              newProcessGroup: Bool, output: Int32?) throws(SpawnError) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let directory {
            guard let addChdir = Self.addChdir else { throw SpawnError(description: "cannot start a command in \(directory): this C library has no posix_spawn_file_actions_addchdir_np") }
            _ = addChdir(&actions, directory)
        }
        if let output {
            posix_spawn_file_actions_adddup2(&actions, output, 1)
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var flags = Int32(POSIX_SPAWN_SETSIGMASK) | Int32(POSIX_SPAWN_SETSIGDEF)
        if newProcessGroup {
            posix_spawnattr_setpgroup(&attributes, 0)
            flags |= Int32(POSIX_SPAWN_SETPGROUP)
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))
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

    /// Runs `body` in a forked child with crash signals at their default and its output sent to
    /// /dev/null, and waits for it: code that may crash on bad input (a C parser) cannot take
    /// this process down. The child's wait status; nil when no child could be made.
    public static func runIsolated(_ body: () -> Void) -> Int32? {
        let child = fork()
        if child == 0 {
            // Die quietly: no Swift crash report, no library chatter.
            for sig in [SIGSEGV, SIGBUS, SIGABRT, SIGILL, SIGFPE] { Glibc.signal(sig, SIG_DFL) }
            let null = open("/dev/null", O_WRONLY)
            if null >= 0 { dup2(null, 1); dup2(null, 2) }
            body()
            _exit(0)
        }
        guard child > 0 else { return nil }
        return wait(child)
    }

    typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
    /// glibc's `posix_spawn_file_actions_addchdir_np` (2.29+; not in Swift's Glibc module).
    static let addChdir: AddChdir? = glibcFunction("posix_spawn_file_actions_addchdir_np", as: AddChdir.self)

    /// Waits for `pid` (retrying on EINTR); its wait status.
    public static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        _ = retryingInterrupted { waitpid(pid, &status, 0) }
        return status
    }

    /// The wait status of `pid` if it has ended (it is reaped then); nil while it runs.
    public static func statusIfEnded(_ pid: pid_t) -> Int32? {
        var status: Int32 = 0
        return retryingInterrupted { waitpid(pid, &status, WNOHANG) } == pid ? status : nil
    }

    /// Sends `signal` to the child `pid`.
    public static func signal(_ pid: pid_t, _ signal: Int32) {
        kill(pid, signal)
    }

    /// Sends `signal` to the process group `pid` leads (`spawn(newProcessGroup: true)`).
    public static func signalGroup(_ pid: pid_t, _ signal: Int32) {
        kill(-pid, signal)
    }

    /// SIGTERM, `grace` nanoseconds to exit, then SIGKILL; with `group`, to the child's whole
    /// process group, waiting for every member of it (what a shell started goes too). The child's
    /// wait status, and whether SIGKILL was needed.
    public static func stop(_ pid: pid_t, group: Bool, grace: UInt64) -> (status: Int32, killed: Bool) {
        func send(_ signal: Int32) { if group { signalGroup(pid, signal) } else { Self.signal(pid, signal) } }
        send(SIGTERM)
        let deadline = monotonicNanoseconds() + grace
        var status: Int32?
        while monotonicNanoseconds() < deadline {
            if status == nil { status = statusIfEnded(pid) }
            if let status, !group || !groupHasLiveMembers(pid) { return (status, false) }
            sleepNanoseconds(20_000_000)
        }
        send(SIGKILL)
        return (status ?? wait(pid), true)
    }

    /// Whether a process of group `group` still runs (one that is not a zombie: an init that
    /// does not reap, in a container or a VM, leaves those).
    public static func groupHasLiveMembers(_ group: pid_t) -> Bool {
        guard kill(-group, 0) == 0 else { return false }
        for name in (try? FileContents.directoryEntries("/proc")) ?? [] where Int32(name) != nil {
            // `pid (comm) state ppid pgrp ...`: comm may hold spaces and parentheses.
            guard let text = try? FileContents.readText("/proc/\(name)/stat"), let close = text.lastIndex(of: ")") else { continue }
            let fields = text[text.index(after: close)...].split(separator: " ")
            if fields.count > 2, fields[2] == "\(group)", fields[0] != "Z" { return true }
        }
        return false
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
