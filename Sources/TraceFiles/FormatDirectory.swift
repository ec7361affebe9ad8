import SystemCalls
import OndemandTraceCore

/// Loads `*/format` or `*.format` files from a directory such as a copy of
/// `/sys/kernel/tracing/events/cachefiles`.
public enum FormatDirectory {
    public static func load(_ directory: String) throws(TraceFileError) -> [EventLayout] {
        let names: [String]
        do { names = try FileContents.directoryEntries(directory) } catch {
            throw TraceFileError(path: directory, message: "cannot open formats directory: \(describeErrno(error.errno))")
        }
        var layouts: [EventLayout] = []
        let system = directory.split(separator: "/").last.map(String.init) ?? "cachefiles"
        for name in names {
            let candidates = [directory + "/" + name + "/format", directory + "/" + name]
            for path in candidates where path.hasSuffix("/format") || path.hasSuffix(".format") {
                guard let text = readSmallFile(path) else { continue }
                do {
                    layouts.append(try FormatFileParser.parse(text, system: system == "ftrace" ? "ftrace" : "cachefiles"))
                } catch {
                    throw TraceFileError(path: path, message: "bad format file: \(error.message)", line: error.line)
                }
            }
        }
        guard !layouts.isEmpty else { throw TraceFileError(path: directory, message: "no format files found") }
        return layouts
    }

    /// A format file is a few KiB: anything over 1 MiB is not one.
    static func readSmallFile(_ path: String) -> String? {
        guard let bytes = try? FileContents.read(path, limit: (1 << 20) + 1), bytes.count <= 1 << 20 else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}
