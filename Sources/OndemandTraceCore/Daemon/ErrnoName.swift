/// Errno names and messages (Linux's, as glibc's strerror words them): the names a fault may
/// use, and how the core shows an errno from a trace, `ENOENT (No such file or directory)`
/// (`describe`; `describeErrno` in SystemCalls shows the same from glibc, for any errno).
public enum ErrnoName {
    static let table: [(name: String, value: Int32, message: String)] = [
        ("EPERM", 1, "Operation not permitted"), ("ENOENT", 2, "No such file or directory"), ("ESRCH", 3, "No such process"),
        ("EINTR", 4, "Interrupted system call"), ("EIO", 5, "Input/output error"), ("ENXIO", 6, "No such device or address"),
        ("E2BIG", 7, "Argument list too long"), ("ENOEXEC", 8, "Exec format error"), ("EBADF", 9, "Bad file descriptor"),
        ("ECHILD", 10, "No child processes"), ("EAGAIN", 11, "Resource temporarily unavailable"),
        ("ENOMEM", 12, "Cannot allocate memory"), ("EACCES", 13, "Permission denied"), ("EFAULT", 14, "Bad address"),
        ("EBUSY", 16, "Device or resource busy"), ("EEXIST", 17, "File exists"), ("EXDEV", 18, "Invalid cross-device link"),
        ("ENODEV", 19, "No such device"), ("ENOTDIR", 20, "Not a directory"), ("EISDIR", 21, "Is a directory"),
        ("EINVAL", 22, "Invalid argument"), ("ENFILE", 23, "Too many open files in system"), ("EMFILE", 24, "Too many open files"),
        ("ENOTTY", 25, "Inappropriate ioctl for device"), ("ETXTBSY", 26, "Text file busy"), ("EFBIG", 27, "File too large"),
        ("ENOSPC", 28, "No space left on device"), ("ESPIPE", 29, "Illegal seek"), ("EROFS", 30, "Read-only file system"),
        ("EMLINK", 31, "Too many links"), ("EPIPE", 32, "Broken pipe"), ("ERANGE", 34, "Numerical result out of range"),
        ("ENAMETOOLONG", 36, "File name too long"), ("ENOSYS", 38, "Function not implemented"),
        ("ENOTEMPTY", 39, "Directory not empty"), ("ELOOP", 40, "Too many levels of symbolic links"),
        ("ENODATA", 61, "No data available"), ("EOVERFLOW", 75, "Value too large for defined data type"),
        ("EOPNOTSUPP", 95, "Operation not supported"), ("EADDRINUSE", 98, "Address already in use"),
        ("EADDRNOTAVAIL", 99, "Cannot assign requested address"), ("ENOBUFS", 105, "No buffer space available"),
        ("ETIMEDOUT", 110, "Connection timed out"), ("ECONNREFUSED", 111, "Connection refused"),
        ("ECANCELED", 125, "Operation canceled"),
    ]

    public static let names: [String: Int32] = Dictionary(uniqueKeysWithValues: table.map { ($0.name, $0.value) })

    /// `EIO` for 5; nil for a number without a name here.
    public static func name(_ errno: Int32) -> String? { table.first { $0.value == errno }?.name }

    public static func parse(_ text: String) -> Int32? {
        if let n = names[text.uppercased()] { return n }
        if let n = Int32(text), n > 0, n < 4096 { return n }
        return nil
    }

    /// `EIO (Input/output error)`; `errno N` for a number not listed.
    public static func describe(_ e: Int32) -> String {
        if let known = table.first(where: { $0.value == e }) { return "\(known.name) (\(known.message))" }
        return "errno \(e)"
    }
}
