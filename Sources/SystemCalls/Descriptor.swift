import Glibc

/// A file this process opened (close-on-exec always): reads and writes with EINTR retried and
/// short writes continued, each failure a `SystemError` naming the path. Closed by `close()`.
public struct Descriptor: Sendable {
    public let fd: Int32
    /// The path errors name.
    public let path: String

    public enum Access: Sendable { case read, write, readWrite }

    public struct Options: OptionSet, Sendable {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }
        public static let create = Options(rawValue: O_CREAT)
        public static let truncate = Options(rawValue: O_TRUNC)
        /// With `create`: fails when the file exists.
        public static let exclusive = Options(rawValue: O_EXCL)
        public static let append = Options(rawValue: O_APPEND)
        public static let nonBlocking = Options(rawValue: O_NONBLOCK)
        public static let directory = Options(rawValue: O_DIRECTORY)
        public static let noFollow = Options(rawValue: O_NOFOLLOW)
    }

    /// A descriptor this process has by other means (a pipe's end, one handed over).
    public init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    public static func open(_ path: String, _ access: Access, _ options: Options = [], mode: UInt32 = 0o644) throws(SystemError) -> Descriptor {
        let fd = retryingInterrupted { Glibc.open(path, flags(access, options), mode_t(mode)) }
        guard fd >= 0 else { throw SystemError(path: path, action: "cannot open", errno: errno) }
        return Descriptor(fd: fd, path: path)
    }

    /// Opens `name` in the open `directory` (openat: the directory cannot be swapped under the
    /// name); errors name `directory.path/name`.
    public static func open(_ name: String, in directory: Descriptor, _ access: Access, _ options: Options = []) throws(SystemError) -> Descriptor {
        let path = directory.path + "/" + name
        let fd = retryingInterrupted { openat(directory.fd, name, flags(access, options)) }
        guard fd >= 0 else { throw SystemError(path: path, action: "cannot open", errno: errno) }
        return Descriptor(fd: fd, path: path)
    }

    /// open(2)'s flags for `access` and `options`, close-on-exec added (for a C library that
    /// opens the file itself: libtracefs).
    public static func flags(_ access: Access, _ options: Options = []) -> Int32 {
        let accessFlag: Int32 = switch access {
        case .read: O_RDONLY
        case .write: O_WRONLY
        case .readWrite: O_RDWR
        }
        return accessFlag | options.rawValue | O_CLOEXEC
    }

    public func close() { _ = Glibc.close(fd) }

    /// Whether the descriptor is open in this process (one inherited from a parent, say).
    public var isOpen: Bool { fcntl(fd, F_GETFD) >= 0 }

    /// A new file in $TMPDIR (else /tmp) named `prefix` and six random characters, removed at
    /// once: it lives while open, and nothing is left behind. Opened for reading and writing.
    public static func temporary(prefix: String) throws(SystemError) -> Descriptor {
        let directory = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        var template = Array((directory + "/" + prefix + "XXXXXX").utf8CString)
        let fd = mkstemp(&template)
        guard fd >= 0 else { throw SystemError(path: directory, action: "cannot create a temporary file", errno: errno) }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        let path = String(cString: template)
        unlink(path)
        return Descriptor(fd: fd, path: path)
    }

    /// Reads what is there, up to `buffer.count` bytes; 0 at the end.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Int {
        let n = retryingInterrupted { Glibc.read(fd, buffer.baseAddress, buffer.count) }
        guard n >= 0 else { throw SystemError(path: path, action: "cannot read", errno: errno) }
        return n
    }

    /// Reads at `offset` (the file position unchanged), up to `buffer.count` bytes; 0 at the end.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(SystemError) -> Int {
        let n = retryingInterrupted { pread(fd, buffer.baseAddress, buffer.count, off_t(offset)) }
        guard n >= 0 else { throw SystemError(path: path, action: "cannot read", errno: errno) }
        return n
    }

    /// Reads up to `count` bytes at `offset` into the start of `array`; 0 at the end.
    public func read(into array: inout [UInt8], count: Int, at offset: UInt64) throws(SystemError) -> Int {
        let n = array.withUnsafeMutableBytes { buffer in
            retryingInterrupted { pread(fd, buffer.baseAddress, min(count, buffer.count), off_t(offset)) }
        }
        guard n >= 0 else { throw SystemError(path: path, action: "cannot read", errno: errno) }
        return n
    }

    /// Writes all of `bytes` at the file position (or the end, with `append`).
    public func write(_ bytes: UnsafeRawBufferPointer) throws(SystemError) {
        if let error = FileContents.writeAll(fd, bytes) { throw SystemError(path: path, action: "write failed", errno: error) }
    }

    public func write(_ bytes: [UInt8]) throws(SystemError) {
        if let error = bytes.withUnsafeBytes({ FileContents.writeAll(fd, $0) }) {
            throw SystemError(path: path, action: "write failed", errno: error)
        }
    }

    public func write(_ text: String) throws(SystemError) {
        try write(Array(text.utf8))
    }

    /// Writes all of `bytes` at `offset` (the file position unchanged).
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(SystemError) {
        var done = 0
        while done < bytes.count {
            let n = try writeSome(UnsafeRawBufferPointer(rebasing: bytes[done...]), at: offset + UInt64(done))
            guard n > 0 else { throw SystemError(path: path, action: "write failed", errno: ENOSPC) }
            done += n
        }
    }

    /// One write of `bytes` at `offset` (pwrite: the file position unchanged); how many bytes it
    /// took, which may be fewer (a caller that must know where a write stopped).
    public func writeSome(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(SystemError) -> Int {
        let n = retryingInterrupted { pwrite(fd, bytes.baseAddress, bytes.count, off_t(offset)) }
        guard n >= 0 else { throw SystemError(path: path, action: "write failed", errno: errno) }
        return n
    }

    /// What `fstat` says of the open file.
    public func status() throws(SystemError) -> FileSystem.Status {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw SystemError(path: path, action: "cannot read its status", errno: errno) }
        return FileSystem.Status(st)
    }

    /// Sets the size (a longer file reads zeros where nothing was written: sparse).
    public func truncate(to size: UInt64) throws(SystemError) {
        guard retryingInterrupted({ ftruncate(fd, off_t(size)) }) == 0 else {
            throw SystemError(path: path, action: "cannot set its size", errno: errno)
        }
    }

    /// Moves the file position to `offset`.
    public func seek(to offset: UInt64) throws(SystemError) {
        guard lseek(fd, off_t(offset), SEEK_SET) == off_t(offset) else { throw SystemError(path: path, action: "cannot seek", errno: errno) }
    }

    /// Moves the file position to the end; the size.
    @discardableResult
    public func seekToEnd() throws(SystemError) -> UInt64 {
        let end = lseek(fd, 0, SEEK_END)
        guard end >= 0 else { throw SystemError(path: path, action: "cannot seek", errno: errno) }
        return UInt64(end)
    }

    /// Where data starts at or after `offset` (SEEK_DATA, which moves the file position); nil when
    /// none does (past the last data).
    public func dataStart(from offset: UInt64) throws(SystemError) -> UInt64? {
        let at = lseek(fd, off_t(offset), Self.seekData)
        if at < 0, errno == ENXIO { return nil }
        guard at >= 0 else { throw SystemError(path: path, action: "cannot seek to data", errno: errno) }
        return UInt64(at)
    }

    /// Where the hole at or after `offset` starts (SEEK_HOLE, which moves the file position; the
    /// end of the file counts as one, and a filesystem that tracks no holes reports only that).
    public func holeStart(from offset: UInt64) throws(SystemError) -> UInt64 {
        let at = lseek(fd, off_t(offset), Self.seekHole)
        guard at >= 0 else { throw SystemError(path: path, action: "cannot seek to a hole", errno: errno) }
        return UInt64(at)
    }

    /// Whether every byte of `[start, end)` is data, no hole in it (true when it is empty): a
    /// sparse file's range already filled. False when the file cannot tell.
    public func isAllData(from start: UInt64, to end: UInt64) -> Bool {
        guard start < end else { return true }
        guard (try? dataStart(from: start)) == start, let hole = try? holeStart(from: start) else { return false }
        return hole >= end
    }

    /// lseek's GNU whences, which Swift's Glibc module leaves out.
    private static let seekData: Int32 = 3, seekHole: Int32 = 4

    /// Waits until the file's data and metadata are on the disk.
    public func sync() throws(SystemError) {
        guard fsync(fd) == 0 else { throw SystemError(path: path, action: "cannot sync", errno: errno) }
    }

    /// Waits until the file's data (and the size) are on the disk.
    public func syncData() throws(SystemError) {
        guard fdatasync(fd) == 0 else { throw SystemError(path: path, action: "cannot sync", errno: errno) }
    }
}
