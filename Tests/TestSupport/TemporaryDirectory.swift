#if canImport(Glibc)
import Glibc
#endif

/// A new directory under /tmp, removed with everything in it when the last reference goes.
public final class TemporaryDirectory: Sendable {
    public let path: String

    public init(_ tag: String = "test") throws {
        var template = Array("/tmp/odt-\(tag)-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw Run.Failure(description: "mkdtemp: \(String(cString: strerror(errno)))") }
        path = String(cString: made)
    }

    deinit { Self.remove(path) }

    /// Removes `path` and, for a directory, all below it (links are removed, not followed).
    public static func remove(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        if info.st_mode & S_IFMT == S_IFDIR {
            for name in (try? Fixtures.list(path)) ?? [] { remove(path + "/" + name) }
            rmdir(path)
        } else {
            unlink(path)
        }
    }
}

extension Fixtures {
    /// A trace.dat as file version 6 without compression (`trace-cmd convert`), in `directory`:
    /// what the direct page walker reads (the samples are zstd-compressed version 7).
    public static func version6(of input: String, in directory: TemporaryDirectory) throws -> String {
        let output = directory.path + "/" + (input.split(separator: "/").last.map(String.init) ?? "trace") + ".v6.dat"
        let result = try Run.program("trace-cmd", ["convert", "-i", input, "-o", output, "--file-version", "6", "--compression", "none"])
        guard result.status == 0 else { throw Run.Failure(description: "trace-cmd convert \(input) failed: \(result.stderr)") }
        return output
    }
}
