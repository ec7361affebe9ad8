/// The name of a cachefiles object: its volume key and its cookie key. For EROFS in fscache mode
/// the volume key is `erofs,<fsid or domain_id>` and the cookie key the blob's tag (the fsid of the
/// bootstrap, a `device=` tag of a data blob). Both are kept as `KeyText` (escaped) text.
public struct BlobName: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The volume key, escaped, without the kernel's trailing NUL; nil when unknown (named by hand).
    public var volume: String?
    /// The cookie key, escaped: the blob.
    public var blob: String

    public init(volume: String?, blob: String) {
        (self.volume, self.blob) = (volume, blob)
    }

    /// From the raw keys of an OPEN request (the volume key's trailing NUL dropped).
    public init(volumeKey: some Collection<UInt8>, cookieKey: some Collection<UInt8>) {
        var volume = Array(volumeKey)
        if volume.last == 0 { volume.removeLast() }
        self.init(volume: KeyText.escape(volume), blob: KeyText.escape(cookieKey))
    }

    /// Ordered by blob, then volume (unknown first).
    public static func < (a: BlobName, b: BlobName) -> Bool {
        (a.blob, a.volume ?? "") < (b.blob, b.volume ?? "") || (a.blob == b.blob && a.volume == nil && b.volume != nil)
    }

    public var description: String { volume.map { "\($0) \(blob)" } ?? blob }

    /// `OBJ=NAME` as `report --blob-names` takes it; nil when malformed.
    public static func assignment(_ text: String) -> (obj: UInt32, name: BlobName)? {
        guard let eq = text.firstIndex(of: "="), let obj = UInt32(text[..<eq]) else { return nil }
        let name = KeyText.name(text[text.index(after: eq)...])
        return name.isEmpty ? nil : (obj, BlobName(volume: nil, blob: name))
    }
}

/// Arbitrary key bytes as one word of text: the printable ASCII bytes `!` ... `~` stand for
/// themselves except the backslash; every other byte (space, control, backslash, non-ASCII) is
/// `\xHH` (two lowercase hex digits). So a key never contains a space, and the text maps back to
/// the bytes exactly (`unescape`).
public enum KeyText {
    public static func escape(_ bytes: some Collection<UInt8>) -> String {
        let hex = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        for b in bytes {
            if b > 0x20 && b < 0x7f && b != UInt8(ascii: "\\") {
                out.append(b)
            } else {
                out += [UInt8(ascii: "\\"), UInt8(ascii: "x"), hex[Int(b >> 4)], hex[Int(b & 15)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes of an escaped key; nil when the text is not one (a space, a byte outside
    /// printable ASCII, or a backslash not followed by `x` and two hex digits).
    public static func unescape(_ text: some StringProtocol) -> [UInt8]? {
        let u = Array(text.utf8)
        var out: [UInt8] = []
        var i = 0
        func hexValue(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
        while i < u.count {
            let c = u[i]
            if c == UInt8(ascii: "\\") {
                guard i + 3 < u.count, u[i + 1] == UInt8(ascii: "x"), let hi = hexValue(u[i + 2]), let lo = hexValue(u[i + 3])
                else { return nil }
                out.append(hi << 4 | lo)
                i += 4
            } else {
                guard c > 0x20 && c < 0x7f else { return nil }
                out.append(c)
                i += 1
            }
        }
        return out
    }

    /// A name as a user typed it: already escaped text is taken as such (normalized), anything
    /// else escaped (`a b` → `a\x20b`).
    public static func name(_ typed: some StringProtocol) -> String {
        normalized(typed) ?? escape(Array(typed.utf8))
    }

    /// The text in the one spelling `escape` gives (e.g. `\x2F` → `/`); nil when not a key.
    public static func normalized(_ text: some StringProtocol) -> String? {
        unescape(text).map { escape($0) }
    }
}
