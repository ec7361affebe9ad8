/// What `record` learnt of one fscache cookie (from `/proc/fs/fscache/cookies` and `volumes`),
/// written into the recording's `trace_marker` so the trace alone names its objects
/// (docs/markers.md): `odt1 cookie id=2 volume_id=1 volume=erofs,chunk blob=chunk`.
/// The report ties it to objects through `cachefiles_ref`, which carries obj and cookie ids.
public struct CookieKeyLine: Sendable, Equatable {
    /// The cookie's debug id (`c=` of `cachefiles_ref`, `COOKIE` of /proc/fs/fscache/cookies).
    public var cookie: UInt32
    public var volumeID: UInt32?
    public var name: BlobName

    public static let prefix = "odt1 cookie "

    public init(cookie: UInt32, volumeID: UInt32?, name: BlobName) {
        (self.cookie, self.volumeID, self.name) = (cookie, volumeID, name)
    }

    public var line: String {
        "\(Self.prefix)id=\(cookie)" + (volumeID.map { " volume_id=\($0)" } ?? "")
            + (name.volume.map { " volume=\($0)" } ?? "") + " blob=\(name.blob)"
    }

    /// nil when the text is not such a line (or lacks `id=` or `blob=`); unknown keys are ignored.
    public init?(text: some StringProtocol) {
        guard text.hasPrefix(Self.prefix) else { return nil }
        var id: UInt32?, volumeID: UInt32?, volume: String?, blob: String?
        for part in text.dropFirst(Self.prefix.count).split(separator: " ") {
            guard let eq = part.firstIndex(of: "=") else { return nil }
            let value = part[part.index(after: eq)...]
            switch part[..<eq] {
            case "id": id = UInt32(value)
            case "volume_id": volumeID = UInt32(value)
            case "volume": volume = KeyText.normalized(value)
            case "blob": blob = KeyText.normalized(value)
            default: break
            }
        }
        guard let id, let blob else { return nil }
        self.init(cookie: id, volumeID: volumeID, name: BlobName(volume: volume, blob: blob))
    }
}

/// `/proc/fs/fscache/cookies` and `/proc/fs/fscache/volumes` as Linux 6.x prints them:
///
///     COOKIE   VOLUME   REF ACT ACC S FL DEF
///     ======== ======== === === === = == ================
///     00000002 00000001   2   1   0 A 6134 6368756e6b
///
///     VOLUME   REF   nCOOK ACC FL CACHE           KEY
///     ======== ===== ===== === == =============== ================
///     00000001     3     2   1 00 explore         erofs,chunk
///
/// Debug ids are hex; the cookie key is hex bytes (`/` and the aux data's hex may follow,
/// fs/netfs/fscache_cookie.c), the volume key the text after the cache name (fscache_volume.c).
public enum FscacheProcTables {
    /// cookie id → (volume id, key bytes), for every cookie line with a key.
    public static func cookies(_ text: String) -> [(cookie: UInt32, volume: UInt32, key: [UInt8])] {
        var out: [(UInt32, UInt32, [UInt8])] = []
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ", omittingEmptySubsequences: true)
            guard words.count >= 8, let cookie = UInt32(words[0], radix: 16), let volume = UInt32(words[1], radix: 16) else { continue }
            let hex = words[7].split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)[0]
            guard let key = bytes(hex: hex), !key.isEmpty else { continue }
            out.append((cookie, volume, key))
        }
        return out
    }

    /// volume id → key bytes.
    public static func volumes(_ text: String) -> [UInt32: [UInt8]] {
        var out: [UInt32: [UInt8]] = [:]
        for line in text.split(separator: "\n") {
            // Six words, then the key: the rest of the line.
            var rest = line[...]
            var words: [Substring] = []
            while words.count < 6 {
                rest = rest.drop { $0 == " " }
                guard let end = rest.firstIndex(of: " ") else { break }
                words.append(rest[..<end])
                rest = rest[end...]
            }
            rest = rest.drop { $0 == " " }
            guard words.count == 6, !rest.isEmpty, let id = UInt32(words[0], radix: 16), words[1].allSatisfy(\.isNumber) else { continue }
            out[id] = Array(rest.utf8)
        }
        return out
    }

    /// The lines to write for the cookies not in `known`. `known` becomes the cookies listed now:
    /// debug ids are never reused, so a cookie gone from the table is forgotten (a poller that
    /// runs for weeks holds the live cookies, not every cookie it saw).
    public static func newLines(cookies: String, volumes: String, known: inout Set<UInt32>) -> [CookieKeyLine] {
        let volumeKeys = Self.volumes(volumes)
        var out: [CookieKeyLine] = []
        let listed = Self.cookies(cookies)
        var present = Set<UInt32>(minimumCapacity: listed.count)
        for c in listed {
            present.insert(c.cookie)
            guard !known.contains(c.cookie) else { continue }
            let volume = volumeKeys[c.volume].map { KeyText.escape($0) }
            out.append(CookieKeyLine(cookie: c.cookie, volumeID: c.volume, name: BlobName(volume: volume, blob: KeyText.escape(c.key))))
        }
        known = present
        return out
    }

    static func bytes(hex: Substring) -> [UInt8]? {
        let u = Array(hex.utf8)
        guard u.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        var i = 0
        while i < u.count {
            guard let b = UInt8(String(decoding: u[i..<i + 2], as: UTF8.self), radix: 16) else { return nil }
            out.append(b)
            i += 2
        }
        return out
    }
}
