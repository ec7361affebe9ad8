#if canImport(Glibc)
import Glibc
#endif

/// A program's exit status (128 + the signal when killed) and its output.
public struct ProcessResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// The one way tests run programs: no shell, output into unlinked temporary files (a large
/// output never blocks the child, nothing is left in /tmp).
public enum Run {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }

    /// The `ondemand-trace` built beside the running test bundle (debug or release), else the
    /// debug build of the repository.
    public static let binary: String = {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        if n > 0 {
            let exe = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let dir = exe.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
            for candidate in [dir + "/ondemand-trace", dir.split(separator: "/", omittingEmptySubsequences: false).dropLast(3).joined(separator: "/") + "/ondemand-trace"]
            where access(candidate, X_OK) == 0 { return candidate }
        }
        for configuration in ["debug", "release"] where access(Fixtures.repo + "/.build/\(configuration)/ondemand-trace", X_OK) == 0 {
            return Fixtures.repo + "/.build/\(configuration)/ondemand-trace"
        }
        return Fixtures.repo + "/.build/debug/ondemand-trace"
    }()

    /// A started program; `wait()` collects it.
    public final class Running: @unchecked Sendable {
        public let pid: pid_t
        let out: Int32, err: Int32

        init(pid: pid_t, out: Int32, err: Int32) { (self.pid, self.out, self.err) = (pid, out, err) }

        private var exited = false
        deinit { if !exited { kill(pid, SIGKILL); var s: Int32 = 0; waitpid(pid, &s, 0); close(out); close(err) } }

        public func signal(_ signal: Int32) { kill(pid, signal) }

        /// What it has written to stderr so far (while it runs).
        public var stderrSoFar: String { Run.contents(err) }

        public func wait() -> ProcessResult {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            exited = true
            defer { close(out); close(err) }
            let code = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
            return ProcessResult(status: code, stdout: Run.contents(out), stderr: Run.contents(err))
        }
    }

    /// `directory`: where the program starts (default: here). `descriptors`: fds handed to the
    /// child, as child fd → this process's fd (e.g. a socket as the daemon's devnode).
    public static func start(_ argv: [String], stdin: String? = nil, directory: String? = nil,
                             descriptors: [Int32: Int32] = [:]) throws -> Running {
        let input = try memoryFile("stdin"), out = try memoryFile("stdout"), err = try memoryFile("stderr")
        defer { close(input) }
        if let stdin {
            let bytes = Array(stdin.utf8)
            _ = bytes.withUnsafeBytes { write(input, $0.baseAddress, $0.count) }
            lseek(input, 0, SEEK_SET)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if stdin == nil { posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0) } else { posix_spawn_file_actions_adddup2(&actions, input, 0) }
        posix_spawn_file_actions_adddup2(&actions, out, 1)
        posix_spawn_file_actions_adddup2(&actions, err, 2)
        for (child, parent) in descriptors.sorted(by: { $0.key < $1.key }) { posix_spawn_file_actions_adddup2(&actions, parent, child) }
        // Nothing else this (multi-threaded) process has open reaches the child: a recording's
        // tracefs files held by a child would keep another test's instance from being removed.
        if let closeFrom = Self.closeFrom { _ = closeFrom(&actions, (descriptors.keys.max() ?? 2) + 1) }
        // env -C: the child changes directory, not this (multi-threaded) test process.
        let argv = directory.map { ["/usr/bin/env", "-C", $0] + argv } ?? argv
        let args = argv.map { strdup($0) } + [nil]
        defer { args.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, argv[0], &actions, nil, args, environ)
        guard rc == 0 else {
            close(out); close(err)
            throw Failure(description: "cannot run \(argv[0]): \(String(cString: strerror(rc)))")
        }
        return Running(pid: pid, out: out, err: err)
    }

    public static func program(_ path: String, _ arguments: [String], stdin: String? = nil, directory: String? = nil) throws -> ProcessResult {
        try start([path] + arguments, stdin: stdin, directory: directory).wait()
    }

    public static func odt(_ arguments: String..., stdin: String? = nil) throws -> ProcessResult {
        try program(binary, arguments, stdin: stdin)
    }

    public static func odt(_ arguments: [String], stdin: String? = nil) throws -> ProcessResult {
        try program(binary, arguments, stdin: stdin)
    }

    typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+; not in Swift's Glibc module).
    static let closeFrom: CloseFrom? = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np").map { unsafeBitCast($0, to: CloseFrom.self) }

    /// An unlinked temporary file: no name in /tmp from the moment it exists.
    static func memoryFile(_ name: String) throws -> Int32 {
        var template = Array("/tmp/odt-test-\(name)-XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        guard fd >= 0 else { throw Failure(description: "mkstemp: \(String(cString: strerror(errno)))") }
        unlink(template)
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        return fd
    }

    /// Everything written to `fd` so far, read with pread: the child shares the file offset.
    static func contents(_ fd: Int32) -> String {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = pread(fd, &buffer, buffer.count, off_t(bytes.count))
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
