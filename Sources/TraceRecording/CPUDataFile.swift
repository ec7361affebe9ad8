#if canImport(Glibc)
import Glibc
import SystemCalls
#endif

/// Files of the output's directory: the temporary trace.dat renamed over the output on success,
/// and one anonymous file per CPU collecting its pages until the trace.dat is assembled.
enum OutputFiles {
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let dir = String(path[..<slash])
        return dir.isEmpty ? "/" : dir
    }

    static func baseName(of path: String) -> String {
        path.lastIndex(of: "/").map { String(path[path.index(after: $0)...]) } ?? path
    }

    static func describe(_ code: Int32) -> String {
        switch code {
        case ENOSPC: return "no space left on device (disk full)"
        case EDQUOT: return "disk quota exceeded"
        case EACCES, EPERM: return "permission denied"
        case EROFS: return "read-only file system"
        case ENOENT: return "no such directory"
        default: return describeErrno(code)
        }
    }

    /// Creates `path` exclusively for writing; the error names the output the user asked for.
    static func create(_ path: String, output: String) throws(RecordingError) -> Int32 {
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw RecordingError("\(output): cannot write the output here: \(describe(errno))")
        }
        return fd
    }

    /// A file that vanishes when closed or when the process dies: created, then unlinked at once.
    static func anonymous(near output: String, tag: String) throws(RecordingError) -> Int32 {
        let path = directory(of: output) + "/." + baseName(of: output) + ".\(tag).\(getpid()).tmp"
        let fd = try create(path, output: output)
        unlink(path)
        return fd
    }

}

/// One CPU's ring-buffer pages, appended in order through a buffer: to an anonymous file, or
/// (crash-safe, `RecordingPieces`) to the named piece `OUTPUT.cpuN` after its page-sized header.
public final class CPUDataFile {
    let fd: Int32
    let output: String
    /// Where the pages start in the file (the piece's header before it).
    let dataOffset: UInt64
    private var buffer: [UInt8] = []
    private let bufferLimit = 1 << 20
    /// Bytes of pages (the header not counted).
    public private(set) var size: UInt64 = 0

    /// An anonymous file beside `output` (which its errors name).
    public init(cpu: Int, output: String) throws(RecordingError) {
        self.output = output
        fd = try OutputFiles.anonymous(near: output, tag: "cpu\(cpu)")
        dataOffset = 0
        buffer.reserveCapacity(bufferLimit)
    }

    /// A named piece at `path`, replaced if present, starting with `header`.
    init(piece path: String, header: [UInt8], output: String) throws(RecordingError) {
        self.output = output
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw RecordingError("\(path): cannot write the recording's pieces here: \(OutputFiles.describe(errno))") }
        self.fd = fd
        if let failure = header.withUnsafeBytes({ FileContents.writeAll(fd, $0) }) {
            close(fd)
            throw RecordingError("\(path): writing failed: \(OutputFiles.describe(failure))")
        }
        dataOffset = UInt64(header.count)
        buffer.reserveCapacity(bufferLimit)
    }

    deinit { close(fd) }

    /// Appends one page (`count` may be shorter than a page: the rest is zero-filled).
    public func append(page: [UInt8], count: Int, pageSize: Int) throws(RecordingError) {
        buffer.append(contentsOf: page[0..<min(count, pageSize)])
        if count < pageSize { buffer.append(contentsOf: repeatElement(0, count: pageSize - count)) }
        size += UInt64(pageSize)
        if buffer.count >= bufferLimit { try flush() }
    }

    func flush() throws(RecordingError) {
        guard !buffer.isEmpty else { return }
        let failure = buffer.withUnsafeBytes { FileContents.writeAll(fd, $0) }
        buffer.removeAll(keepingCapacity: true)
        if let failure {
            throw RecordingError("\(output): writing the recorded data failed: \(OutputFiles.describe(failure))")
        }
    }

    /// Writes the buffer and waits until the file's data is on the disk.
    func sync() throws(RecordingError) {
        try flush()
        if fdatasync(fd) != 0 {
            throw RecordingError("\(output): syncing the recorded data failed: \(OutputFiles.describe(errno))")
        }
    }

    /// Empties the file but its header (after its pages went into a rotated trace.dat).
    func reset() throws(RecordingError) {
        try flush()
        guard ftruncate(fd, off_t(dataOffset)) == 0, lseek(fd, off_t(dataOffset), SEEK_SET) == off_t(dataOffset) else {
            throw RecordingError("\(output): cannot empty the recorded data: \(describeErrno(errno))")
        }
        size = 0
    }

    /// Appends the pages to the trace.dat being written.
    func copy(to out: inout TraceDatOutputFile) throws(RecordingError) {
        try flush()
        try Self.copy(from: fd, offset: dataOffset, count: size, to: &out)
    }

    /// Appends `count` bytes of `fd` from `offset` to the trace.dat being written.
    static func copy(from fd: Int32, offset start: UInt64, count: UInt64, to out: inout TraceDatOutputFile) throws(RecordingError) {
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var offset = off_t(start)
        let end = off_t(start + count)
        while offset < end {
            let want = min(chunk.count, Int(end - offset))
            let n = retryingInterrupted { chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, want, offset) } }
            if n < 0 {
                throw RecordingError("\(out.output): reading back the recorded data failed: \(describeErrno(errno))")
            }
            if n == 0 { break }
            offset += off_t(n)
            var failure: RecordingError?
            chunk.withUnsafeBytes { bytes in
                do throws(RecordingError) { try out.write(UnsafeRawBufferPointer(rebasing: bytes[0..<n])) } catch { failure = error }
            }
            if let failure { throw failure }
        }
    }
}
