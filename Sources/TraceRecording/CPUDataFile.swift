import SystemCalls

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
        case ErrnoCode.ENOSPC: return "no space left on device (disk full)"
        case ErrnoCode.EDQUOT: return "disk quota exceeded"
        case ErrnoCode.EACCES, ErrnoCode.EPERM: return "permission denied"
        case ErrnoCode.EROFS: return "read-only file system"
        case ErrnoCode.ENOENT: return "no such directory"
        default: return describeErrno(code)
        }
    }

    /// Creates `path` exclusively for writing; the error names the output the user asked for.
    static func create(_ path: String, output: String) throws(RecordingError) -> Int32 {
        do { return try Descriptor.open(path, .readWrite, [.create, .exclusive]).fd } catch {
            throw RecordingError("\(output): cannot write the output here: \(describe(error.errno))")
        }
    }

    /// A file that vanishes when closed or when the process dies: created, then unlinked at once.
    static func anonymous(near output: String, tag: String) throws(RecordingError) -> Int32 {
        let path = directory(of: output) + "/." + baseName(of: output) + ".\(tag).\(ThisProcess.id).tmp"
        let fd = try create(path, output: output)
        try? FileSystem.remove(path)
        return fd
    }

}

/// One CPU's ring-buffer pages, appended in order through a buffer: to an anonymous file, or
/// (crash-safe, `RecordingPieces`) to the named piece `OUTPUT.cpuN` after its page-sized header.
public final class CPUDataFile {
    let file: Descriptor
    var fd: Int32 { file.fd }
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
        file = Descriptor(fd: try OutputFiles.anonymous(near: output, tag: "cpu\(cpu)"), path: output)
        dataOffset = 0
        buffer.reserveCapacity(bufferLimit)
    }

    /// A named piece at `path`, replaced if present, starting with `header`.
    init(piece path: String, header: [UInt8], output: String) throws(RecordingError) {
        self.output = output
        let opened: Descriptor
        do { opened = try Descriptor.open(path, .readWrite, [.create, .truncate]) } catch {
            throw RecordingError("\(path): cannot write the recording's pieces here: \(OutputFiles.describe(error.errno))")
        }
        do { try opened.write(header) } catch {
            opened.close()
            throw RecordingError("\(path): writing failed: \(OutputFiles.describe(error.errno))")
        }
        file = opened
        dataOffset = UInt64(header.count)
        buffer.reserveCapacity(bufferLimit)
    }

    deinit { file.close() }

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
        do { try file.syncData() } catch {
            throw RecordingError("\(output): syncing the recorded data failed: \(OutputFiles.describe(error.errno))")
        }
    }

    /// Empties the file but its header (after its pages went into a rotated trace.dat).
    func reset() throws(RecordingError) {
        try flush()
        do {
            try file.truncate(to: dataOffset)
            try file.seek(to: dataOffset)
        } catch {
            throw RecordingError("\(output): cannot empty the recorded data: \(describeErrno(error.errno))")
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
        var offset = start
        let end = start + count
        let file = Descriptor(fd: fd, path: out.output)
        while offset < end {
            let want = min(chunk.count, Int(end - offset))
            let n: Int
            do { n = try file.read(into: &chunk, count: want, at: offset) } catch {
                throw RecordingError("\(out.output): reading back the recorded data failed: \(describeErrno(error.errno))")
            }
            if n == 0 { break }
            offset += UInt64(n)
            var failure: RecordingError?
            chunk.withUnsafeBytes { bytes in
                do throws(RecordingError) { try out.write(UnsafeRawBufferPointer(rebasing: bytes[0..<n])) } catch { failure = error }
            }
            if let failure { throw failure }
        }
    }
}
