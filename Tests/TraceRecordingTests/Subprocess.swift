import TestSupport
import Glibc

/// Runs a program with its output captured (files, so a large output never blocks it).
struct Subprocess {
    var status: Int32
    var stdout: String
    var stderr: String

    static let repo = Fixtures.repo

    /// The ondemand-trace binary built beside the tests.
    static let binary: String = {
        for configuration in ["debug", "release"] {
            let path = repo + "/.build/\(configuration)/ondemand-trace"
            if access(path, X_OK) == 0 { return path }
        }
        return repo + "/.build/debug/ondemand-trace"
    }()

    struct Failure: Error, CustomStringConvertible { var description: String }

    /// Starts `argv`; stdout and stderr go to temporary files read by `wait()`.
    final class Running {
        let pid: pid_t
        let outPath: String
        let errPath: String
        init(pid: pid_t, outPath: String, errPath: String) {
            self.pid = pid
            self.outPath = outPath
            self.errPath = errPath
        }

        func wait() -> Subprocess {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            defer { unlink(outPath); unlink(errPath) }
            let code = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
            return Subprocess(status: code, stdout: Subprocess.read(outPath), stderr: Subprocess.read(errPath))
        }
    }

    static func start(_ argv: [String]) throws -> Running {
        let base = "/tmp/odt-subprocess-\(getpid())-\(counter.next())"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, base + ".out", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, base + ".err", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let args = argv.map { strdup($0) } + [nil]
        defer { args.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, argv[0], &actions, nil, args, environ)
        guard rc == 0 else { throw Failure(description: "cannot run \(argv[0]): \(String(cString: strerror(rc)))") }
        return Running(pid: pid, outPath: base + ".out", errPath: base + ".err")
    }

    static func run(_ argv: [String]) throws -> Subprocess {
        try start(argv).wait()
    }

    static func odt(_ arguments: String...) throws -> Subprocess {
        try run([binary] + arguments)
    }

    static func read(_ path: String) -> String {
        (try? Fixtures.text(path)) ?? ""
    }

    final class Counter: @unchecked Sendable {
        private var value = 0
        private var lock = pthread_mutex_t()
        init() { pthread_mutex_init(&lock, nil) }
        func next() -> Int {
            pthread_mutex_lock(&lock)
            defer { pthread_mutex_unlock(&lock) }
            value += 1
            return value
        }
    }
    static let counter = Counter()
}
