import Glibc

/// Paths: what is there, who may use it, and the changes the tool makes to directories
/// (rename, remove, create). Each failure is a `SystemError` naming the path.
public enum FileSystem {
    public enum Kind: Sendable { case regular, directory, other }

    /// What `stat` says of a path.
    public struct Status: Sendable {
        public var kind: Kind
        public var size: UInt64
        /// The device as the kernel writes it in /proc (`fdinfo`'s sdev): major << 20 | minor.
        public var kernelDevice: UInt64
        public var inode: UInt64

        init(_ st: stat) {
            kind = FileSystem.kind(st.st_mode)
            size = UInt64(st.st_size)
            let dev = UInt64(st.st_dev)
            let major = (dev >> 8) & 0xfff | (dev >> 32) & 0xffff_f000
            let minor = dev & 0xff | (dev >> 12) & 0xffff_ff00
            kernelDevice = major << 20 | minor
            inode = UInt64(st.st_ino)
        }
    }

    /// `stat` (`lstat` when `followLinks` is false: a symlink is `.other`).
    public static func status(_ path: String, followLinks: Bool = true) throws(SystemError) -> Status {
        var st = stat()
        guard (followLinks ? stat(path, &st) : lstat(path, &st)) == 0 else {
            throw SystemError(path: path, action: "cannot read its status", errno: errno)
        }
        return Status(st)
    }

    /// The filesystem's type (`statfs`'s magic number: 0xEF53 for ext4).
    public static func filesystemType(_ path: String) throws(SystemError) -> Int {
        // struct statfs starts with f_type, a long, on every Linux architecture glibc supports.
        var buffer = [Int](repeating: 0, count: 64)
        guard let statfs = statfsCall, statfs(path, &buffer) == 0 else {
            throw SystemError(path: path, action: "cannot read its filesystem", errno: statfsCall == nil ? ENOSYS : errno)
        }
        return buffer[0]
    }

    /// tmpfs's type (cachefiles refuses a cache directory there; it raises no pre-content events).
    public static let tmpfsType = 0x0102_1994

    /// glibc's `statfs` (its header, sys/vfs.h, is not in Swift's Glibc module).
    private typealias StatfsCall = @convention(c) (UnsafePointer<CChar>, UnsafeMutableRawPointer) -> Int32
    private static let statfsCall: StatfsCall? = glibcFunction("statfs", as: StatfsCall.self)

    /// Sets the size of the file at `path` (a longer file reads zeros: sparse).
    public static func truncate(_ path: String, to size: UInt64) throws(SystemError) {
        guard Glibc.truncate(path, off_t(size)) == 0 else { throw SystemError(path: path, action: "cannot set its size", errno: errno) }
    }

    /// A new directory under `parent` named `prefix` and six random characters.
    public static func makeTemporaryDirectory(in parent: String, prefix: String) throws(SystemError) -> String {
        var template = Array((parent + "/" + prefix + "XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw SystemError(path: parent, action: "cannot create a directory", errno: errno) }
        return String(cString: made)
    }

    static func kind(_ mode: mode_t) -> Kind {
        switch mode & S_IFMT {
        case S_IFREG: .regular
        case S_IFDIR: .directory
        default: .other
        }
    }

    /// The kind of file at `path`; nil when there is none (or it cannot be looked at).
    public static func kind(of path: String) -> Kind? { try? status(path).kind }

    /// What a process may do with a path (`access`, with the real user's rights).
    public struct Access: OptionSet, Sendable {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }
        public static let read = Access(rawValue: R_OK)
        public static let write = Access(rawValue: W_OK)
        public static let execute = Access(rawValue: X_OK)
    }

    /// Whether `path` exists (a dangling symlink does not).
    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// Whether this process may do `what` with `path`.
    public static func allows(_ path: String, _ what: Access) -> Bool { access(path, what.rawValue) == 0 }

    /// Removes a file (not a directory).
    public static func remove(_ path: String) throws(SystemError) {
        guard unlink(path) == 0 else { throw SystemError(path: path, action: "cannot remove", errno: errno) }
    }

    /// Moves `path` to `target`, replacing what is there (atomically, on one filesystem).
    public static func rename(_ path: String, to target: String) throws(SystemError) {
        guard Glibc.rename(path, target) == 0 else { throw SystemError(path: path, action: "cannot rename into place", errno: errno) }
    }

    public static func makeDirectory(_ path: String, mode: UInt32 = 0o755) throws(SystemError) {
        guard mkdir(path, mode_t(mode)) == 0 else { throw SystemError(path: path, action: "cannot create", errno: errno) }
    }

    /// Removes an empty directory.
    public static func removeDirectory(_ path: String) throws(SystemError) {
        guard rmdir(path) == 0 else { throw SystemError(path: path, action: "cannot remove", errno: errno) }
    }

    /// Where the symlink at `path` points; nil when it is none.
    public static func linkTarget(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n >= 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The absolute path without symlinks, `.` or `..`; nil when it does not resolve.
    public static func canonicalPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Syncs the directory `path` (after a rename in it: the new name survives a power loss).
    public static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }
}
