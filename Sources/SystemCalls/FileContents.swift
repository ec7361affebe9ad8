import Glibc

/// Whole files and directory listings: the one way the tool reads small files (formats, /proc,
/// reports, images' metadata), through `Descriptor` (EINTR retried).
public enum FileContents {
    /// Every byte of `path` (at most `limit`); a directory or an unreadable file is an error.
    public static func read(_ path: String, limit: Int = .max) throws(SystemError) -> [UInt8] {
        var bytes: [UInt8] = []
        try forEachChunk(path) { chunk in
            bytes.append(contentsOf: chunk.prefix(limit - bytes.count))
            return bytes.count < limit
        }
        return bytes
    }

    /// The file as UTF-8 text (invalid bytes repaired).
    public static func readText(_ path: String) throws(SystemError) -> String {
        String(decoding: try read(path), as: UTF8.self)
    }

    /// Hands the file to `body` in chunks of up to 1 MiB until the end, or until `body` says stop.
    public static func forEachChunk(_ path: String, _ body: (UnsafeRawBufferPointer) -> Bool) throws(SystemError) {
        let file = try Descriptor.open(path, .read)
        defer { file.close() }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = try file.read(into: buffer)
            if n == 0 || !body(UnsafeRawBufferPointer(rebasing: buffer[0..<n])) { return }
        }
    }

    /// The names in a directory, without `.` and `..`, sorted.
    public static func directoryEntries(_ path: String) throws(SystemError) -> [String] {
        guard let dir = opendir(path) else { throw SystemError(path: path, action: "cannot list", errno: errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// Writes all of `bytes` to `fd` (partial writes continued, EINTR retried); the errno on failure.
    @discardableResult
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int32? {
        var offset = 0
        while offset < bytes.count {
            let n = retryingInterrupted { Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset) }
            if n < 0 { return errno }
            if n == 0 { return ENOSPC }
            offset += n
        }
        return nil
    }
}

extension FileContents {
    /// Removes `path` and, for a directory, everything under it (symlinks are removed, not followed).
    public static func removeTree(_ path: String) throws(SystemError) {
        var st = stat()
        guard lstat(path, &st) == 0 else { throw SystemError(path: path, action: "cannot remove", errno: errno) }
        if st.st_mode & S_IFMT == S_IFDIR {
            for name in try directoryEntries(path) { try removeTree(path + "/" + name) }
            guard rmdir(path) == 0 else { throw SystemError(path: path, action: "cannot remove", errno: errno) }
        } else {
            guard unlink(path) == 0 else { throw SystemError(path: path, action: "cannot remove", errno: errno) }
        }
    }
}
