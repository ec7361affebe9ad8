import ArgumentParser
import Foundation
import TraceDatFormat

/// Each CPU's ring-buffer pages, written to a temporary file beside the output as they fill, then
/// assembled behind the header (a million requests make hundreds of MB).
final class PageFiles {
    static let pageSize = 4096
    private var encoders: [RingBufferPageEncoder]
    private let handles: [FileHandle]
    private let paths: [String]
    private let output: String
    private(set) var sizes: [UInt64]

    init(output: String, cpus: Int, loseEvery: Int) throws {
        self.output = output
        // Every Nth page says the ring buffer dropped events before it: as many as its page number.
        encoders = (0..<cpus).map { _ in
            RingBufferPageEncoder(pageSize: Self.pageSize, commitSize: 8) { index in
                loseEvery > 0 && index % loseEvery == loseEvery - 1 ? Int64(index + 1) : 0
            }
        }
        paths = (0..<cpus).map { "\(output).cpu\($0)" }
        handles = try paths.map { path in
            guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
                throw ValidationError("cannot write \(path)")
            }
            return handle
        }
        sizes = Array(repeating: 0, count: cpus)
    }

    func append(cpu: Int, timestamp: UInt64, record: [UInt8]) throws {
        if let page = encoders[cpu].append(timestamp: timestamp, payload: record) { try write(page, cpu: cpu) }
    }

    func finish() throws {
        for cpu in encoders.indices {
            if let page = encoders[cpu].finish() { try write(page, cpu: cpu) }
            try handles[cpu].close()
        }
    }

    private func write(_ page: [UInt8], cpu: Int) throws {
        try handles[cpu].write(contentsOf: page)
        sizes[cpu] += UInt64(page.count)
    }

    /// Writes the output: the header, then each CPU's pages; removes the temporary files.
    func assemble(header: [UInt8]) throws -> UInt64 {
        guard FileManager.default.createFile(atPath: output, contents: Data(header)), let out = FileHandle(forWritingAtPath: output) else {
            throw ValidationError("cannot write \(output)")
        }
        try out.seekToEnd()
        for path in paths {
            guard let input = FileHandle(forReadingAtPath: path) else { throw ValidationError("cannot read \(path)") }
            while let chunk = try input.read(upToCount: 16 << 20), !chunk.isEmpty { try out.write(contentsOf: chunk) }
            try input.close()
            try FileManager.default.removeItem(atPath: path)
        }
        let size = try out.offset()
        try out.close()
        return size
    }
}
