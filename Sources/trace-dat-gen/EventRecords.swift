import ArgumentParser
import Foundation
import OndemandTraceCore

/// Builds event records (common header, then fields at the offsets of the format files).
struct EventRecords {
    /// The format files, by file name, as the trace.dat stores them.
    let formatFiles: [[UInt8]]
    private var layouts: [String: EventLayout] = [:]

    init(directory: String) throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".format") }.sorted()
        var files: [[UInt8]] = []
        for name in names {
            let bytes = try TraceDatGen.bytes(directory + "/" + name)
            files.append(bytes)
            let layout = try FormatFileParser.parse(String(decoding: bytes, as: UTF8.self), system: "cachefiles")
            layouts[layout.name] = layout
        }
        guard !files.isEmpty else { throw ValidationError("no format files in \(directory)") }
        formatFiles = files
    }

    /// The record of event `name` by `pid` with `fields` (others 0), padded to 4 bytes.
    func record(_ name: String, pid: Int32, _ fields: KeyValuePairs<String, Int64>) -> [UInt8] {
        guard let layout = layouts[name] else { fatalError("no format for \(name)") }
        let size = layout.fields.map { $0.offset + $0.size }.max() ?? 0
        var bytes = [UInt8](repeating: 0, count: (size + 3) & ~3)
        func put(_ field: String, _ value: Int64) {
            guard let f = layout.field(named: field) else { fatalError("\(name) has no field \(field)") }
            for i in 0..<f.size { bytes[f.offset + i] = UInt8(truncatingIfNeeded: value >> (8 * Int64(i))) }
        }
        put("common_type", Int64(layout.id))
        put("common_pid", Int64(pid))
        for (field, value) in fields { put(field, value) }
        return bytes
    }
}
