#if canImport(Glibc)
import Glibc
import SystemCalls
#endif
import OndemandTraceCore

/// Loads `*/format` or `*.format` files from a directory such as a copy of
/// `/sys/kernel/tracing/events/cachefiles`.
public enum FormatDirectory {
    public static func load(_ directory: String) throws(TraceFileError) -> [EventLayout] {
        guard let dir = opendir(directory) else {
            throw TraceFileError(path: directory, message: "cannot open formats directory: \(describeErrno(errno))")
        }
        defer { closedir(dir) }
        var layouts: [EventLayout] = []
        let system = directory.split(separator: "/").last.map(String.init) ?? "cachefiles"
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard name != ".", name != ".." else { continue }
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

    static func readSmallFile(_ path: String) -> String? {
        guard let f = fopen(path, "r") else { return nil }
        defer { fclose(f) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&buffer, 1, buffer.count, f)
            if n <= 0 { break }
            bytes += buffer[0..<n]
            if bytes.count > 1 << 20 { return nil }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
