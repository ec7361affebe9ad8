import SystemCalls
import TraceDatFormat

/// `TraceDatFileWriter`'s file: a temporary file beside the output, synced and renamed over the
/// output on commit, removed on failure. Used by the recorder (`record`, `monitor -o`'s rotated
/// files), the crash-safe recovery and `trace-dat-gen`.
public struct TraceDatOutputFile: TraceDatSink {
    /// The path the errors name and the file becomes.
    public let output: String
    private let temporary: String
    private var fd: Int32?

    public init(output: String) throws(RecordingError) {
        self.output = output
        temporary = OutputFiles.directory(of: output) + "/." + OutputFiles.baseName(of: output) + ".\(ThisProcess.id).tmp"
        fd = try OutputFiles.create(temporary, output: output)
    }

    public mutating func write(_ bytes: UnsafeRawBufferPointer) throws(RecordingError) {
        if let failure = FileContents.writeAll(fd!, bytes) {
            throw RecordingError("\(output): writing failed: \(OutputFiles.describe(failure))")
        }
    }

    public mutating func commit() throws(RecordingError) -> UInt64 {
        guard let fd else { throw RecordingError("\(output): written twice") }
        let file = Descriptor(fd: fd, path: temporary)
        let size: UInt64
        do {
            try file.sync()
            size = try file.seekToEnd()
        } catch {
            throw RecordingError("\(output): writing failed: \(OutputFiles.describe(error.errno))")
        }
        file.close()
        self.fd = nil
        do { try FileSystem.rename(temporary, to: output) } catch {
            throw RecordingError("\(output): cannot rename the finished file into place: \(OutputFiles.describe(error.errno))")
        }
        return size
    }

    public mutating func discard() {
        if let fd { Descriptor(fd: fd, path: temporary).close() }
        fd = nil
        try? FileSystem.remove(temporary)
    }

    /// Writes the trace.dat of `header` with each CPU's pages from `cpuFiles`; its size.
    public static func write(header: TraceDatV6Header, cpuFiles: [CPUDataFile], to output: String) throws(RecordingError) -> UInt64 {
        var file = try TraceDatOutputFile(output: output)
        return try TraceDatFileWriter.write(header: header, to: &file) { (cpu: Int, file: inout TraceDatOutputFile) throws(RecordingError) in
            try cpuFiles[cpu].copy(to: &file)
        }
    }
}
