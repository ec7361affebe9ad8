#if canImport(Glibc)
import Glibc
import SystemCalls
#endif
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
        temporary = OutputFiles.directory(of: output) + "/." + OutputFiles.baseName(of: output) + ".\(getpid()).tmp"
        fd = try OutputFiles.create(temporary, output: output)
    }

    public mutating func write(_ bytes: UnsafeRawBufferPointer) throws(RecordingError) {
        if let failure = FileContents.writeAll(fd!, bytes) {
            throw RecordingError("\(output): writing failed: \(OutputFiles.describe(failure))")
        }
    }

    public mutating func commit() throws(RecordingError) -> UInt64 {
        guard let fd else { throw RecordingError("\(output): written twice") }
        if fsync(fd) != 0 {
            throw RecordingError("\(output): writing failed: \(OutputFiles.describe(errno))")
        }
        let size = UInt64(lseek(fd, 0, SEEK_END))
        close(fd)
        self.fd = nil
        if rename(temporary, output) != 0 {
            throw RecordingError("\(output): cannot rename the finished file into place: \(OutputFiles.describe(errno))")
        }
        return size
    }

    public mutating func discard() {
        if let fd { close(fd) }
        fd = nil
        unlink(temporary)
    }

    /// Writes the trace.dat of `header` with each CPU's pages from `cpuFiles`; its size.
    public static func write(header: TraceDatV6Header, cpuFiles: [CPUDataFile], to output: String) throws(RecordingError) -> UInt64 {
        var file = try TraceDatOutputFile(output: output)
        return try TraceDatFileWriter.write(header: header, to: &file) { (cpu: Int, file: inout TraceDatOutputFile) throws(RecordingError) in
            try cpuFiles[cpu].copy(to: &file)
        }
    }
}
