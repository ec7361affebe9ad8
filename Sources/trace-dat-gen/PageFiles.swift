import TraceDatFormat
import TraceRecording

/// Each CPU's ring-buffer pages, collected as they fill in the recorder's per-CPU page files
/// (`CPUDataFile`: anonymous files beside the output; a million requests make hundreds of MB),
/// then assembled behind the header by the one trace.dat writer, as `record` assembles its output.
final class PageFiles {
    static let pageSize = 4096
    private var encoders: [RingBufferPageEncoder]
    private let files: [CPUDataFile]
    private let output: String

    init(output: String, cpus: Int, loseEvery: Int) throws {
        self.output = output
        // Every Nth page says the ring buffer dropped events before it: as many as its page number.
        encoders = (0..<cpus).map { _ in
            RingBufferPageEncoder(pageSize: Self.pageSize, commitSize: 8) { index in
                loseEvery > 0 && index % loseEvery == loseEvery - 1 ? Int64(index + 1) : 0
            }
        }
        var files: [CPUDataFile] = []
        for cpu in 0..<cpus { files.append(try CPUDataFile(cpu: cpu, output: output)) }
        self.files = files
    }

    /// Bytes of pages per CPU.
    var sizes: [UInt64] { files.map(\.size) }

    func append(cpu: Int, timestamp: UInt64, record: [UInt8]) throws {
        if let page = encoders[cpu].append(timestamp: timestamp, payload: record) { try write(page, cpu: cpu) }
    }

    func finish() throws {
        for cpu in encoders.indices {
            if let page = encoders[cpu].finish() { try write(page, cpu: cpu) }
        }
    }

    private func write(_ page: [UInt8], cpu: Int) throws {
        try files[cpu].append(page: page, count: page.count, pageSize: Self.pageSize)
    }

    /// Writes the output: the header, then each CPU's pages; its size.
    func assemble(header: TraceDatV6Header) throws -> UInt64 {
        try TraceDatOutputFile.write(header: header, cpuFiles: files, to: output)
    }
}
