/// Which blob an OPEN names. The volume key (`erofs,<fsid>`) and cookie key (`<fsid>`) come from
/// the `fsid=` mount option that whoever may mount chose, so they are untrusted: a key must never
/// name a path outside the source directory.
public enum BlobKeys {
    public static let volumePrefix = "erofs,"

    /// The blob's file name in the source directory: the cookie key, after checking both keys.
    public static func blobName(volumeKey: [UInt8], cookieKey: [UInt8]) -> Result<String, KeyRejection> {
        // The volume key carries one trailing NUL (its size is strlen + 1); no other NUL is allowed.
        var volume = volumeKey[...]
        if volume.last == 0 { volume = volume.dropLast() }
        guard let volumeText = checked(volume, which: "volume key") else {
            return .failure(rejection(volume, which: "volume key"))
        }
        guard volumeText.hasPrefix(volumePrefix) else {
            return .failure(KeyRejection(key: printable(volume), reason: "volume key does not start with \"\(volumePrefix)\""))
        }
        let volumeName = String(volumeText.dropFirst(volumePrefix.count))
        if let problem = nameProblem(volumeName) {
            return .failure(KeyRejection(key: printable(volume), reason: "volume key: \(problem)"))
        }
        guard let cookie = checked(cookieKey[...], which: "cookie key") else {
            return .failure(rejection(cookieKey[...], which: "cookie key"))
        }
        if let problem = nameProblem(cookie) {
            return .failure(KeyRejection(key: printable(cookieKey[...]), reason: "cookie key: \(problem)"))
        }
        return .success(cookie)
    }

    /// Why `name` cannot be a file name inside the source directory, or nil when it can.
    public static func nameProblem(_ name: String) -> String? {
        if name.isEmpty { return "empty" }
        if name.contains("/") { return "contains '/'" }
        if name.contains("..") { return "contains '..'" }
        if name == "." { return "is '.'" }
        return nil
    }

    private static func checked(_ bytes: ArraySlice<UInt8>, which: String) -> String? {
        guard !bytes.contains(where: { $0 < 0x20 || $0 == 0x7f }) else { return nil }
        guard let text = String(validating: bytes, as: UTF8.self) else { return nil }
        return text
    }

    private static func rejection(_ bytes: ArraySlice<UInt8>, which: String) -> KeyRejection {
        if bytes.contains(0) { return KeyRejection(key: printable(bytes), reason: "\(which) contains a NUL byte") }
        if bytes.contains(where: { $0 < 0x20 || $0 == 0x7f }) {
            return KeyRejection(key: printable(bytes), reason: "\(which) contains a control character")
        }
        return KeyRejection(key: printable(bytes), reason: "\(which) is not UTF-8")
    }

    /// The key for a log line: printable ASCII as is, anything else as \xNN.
    public static func printable(_ bytes: ArraySlice<UInt8>) -> String {
        var out = ""
        for b in bytes {
            if b >= 0x20, b < 0x7f, b != UInt8(ascii: "\\") { out.unicodeScalars.append(Unicode.Scalar(b)) }
            else { out += "\\x" + String(b, radix: 16).leftPadded(to: 2, with: "0") }
        }
        return out
    }
}

/// An OPEN whose keys were refused; the daemon answers it with `EINVAL` and logs this.
public struct KeyRejection: Error, Equatable, CustomStringConvertible {
    public var key: String
    public var reason: String
    public var description: String { "\(reason) (key \"\(key)\")" }
}
