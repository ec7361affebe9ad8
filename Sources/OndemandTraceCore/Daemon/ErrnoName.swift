/// The errno names a fault may use, and the names in messages (not swift-system's `Errno`:
/// these are the few the daemon answers with, by name).
public enum ErrnoName {
    public static let names: [String: Int32] = [
        "EPERM": 1, "ENOENT": 2, "EIO": 5, "ENXIO": 6, "EAGAIN": 11, "ENOMEM": 12, "EACCES": 13,
        "EBUSY": 16, "ENODEV": 19, "EINVAL": 22, "ENOSPC": 28, "EROFS": 30, "ENAMETOOLONG": 36,
        "ENODATA": 61, "EOPNOTSUPP": 95, "ENOBUFS": 105, "ETIMEDOUT": 110,
    ]

    /// `EIO` for 5; nil for a number without a name here.
    public static func name(_ errno: Int32) -> String? { names.first { $0.value == errno }?.key }

    public static func parse(_ text: String) -> Int32? {
        if let n = names[text.uppercased()] { return n }
        if let n = Int32(text), n > 0, n < 4096 { return n }
        return nil
    }
}
