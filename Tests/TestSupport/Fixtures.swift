#if canImport(Glibc)
import Glibc
#endif

/// Paths to the repository and the shared real traces beside it.
public enum Fixtures {
    public static let repo: String = {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)  // Tests/<target>/<file>
        return parts.joined(separator: "/")
    }()
    public static let shared = repo + "/../shared"

    public struct Failure: Error, CustomStringConvertible { public var description: String; public init(description: String) { self.description = description } }

    public static func text(_ path: String) throws -> String {
        guard let f = fopen(path, "r") else { throw Failure(description: "cannot open \(path)") }
        defer { fclose(f) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buffer, 1, buffer.count, f)
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    public static func list(_ dir: String) throws -> [String] {
        guard let d = opendir(dir) else { throw Failure(description: "cannot open \(dir)") }
        defer { closedir(d) }
        var names: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }
}

extension String {
    public func replacingAll(_ target: String, with replacement: String) -> String {
        split(separator: Substring(target), omittingEmptySubsequences: false).joined(separator: replacement)
    }
}

extension Fixtures {
    public static func bytes(_ path: String) throws -> [UInt8] {
        guard let f = fopen(path, "r") else { throw Failure(description: "cannot open \(path)") }
        defer { fclose(f) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = fread(&buffer, 1, buffer.count, f)
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
        return bytes
    }

    public static func write(_ bytes: [UInt8], to path: String) throws {
        guard let f = fopen(path, "w") else { throw Failure(description: "cannot create \(path)") }
        defer { fclose(f) }
        guard bytes.isEmpty || fwrite(bytes, 1, bytes.count, f) == bytes.count else {
            throw Failure(description: "short write to \(path)")
        }
    }
}
