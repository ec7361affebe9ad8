/// A line our fanotify pre-content daemon writes to `trace_marker` (docs/markers.md). The kernel's
/// records already tie each request exactly (the probes); the markers add what only the daemon
/// knows: which image file is which blob, and which events it injected a fault into.
///
///     odt1 fan file dev=8:16 ino=12 volume=erofs,soak blob=soak-blob
///     odt1 fan fault pid=312 dev=8:16 ino=12 off=0 len=131072 fault=delay
///
/// A file is told by its device (`major:minor`, the `s_dev` of the `fsnotify:fsnotify` record) and
/// inode; an event by its reader's thread id (the daemon's group reports thread ids), its file and
/// its range: a reader is in one pre-content hook at a time.
public enum FanotifyMarker: Sendable, Equatable {
    /// The image file (bootstrap or blob) on `dev`/`ino` is called `name`.
    case file(dev: UInt64, ino: UInt64, name: BlobName)
    /// A fault (`delay`, `deny`, `never-answer`, `no-data`, `exit`) injected into the event of
    /// reader `pid` for `length` bytes at `offset` of the file.
    case fault(pid: Int32, dev: UInt64, ino: UInt64, offset: Int64, length: UInt64, fault: String)

    public static let prefix = "odt1 fan "

    /// Whether a marker's text is one of these (cheap: most markers of a trace are not).
    public static func isOurs(_ text: String) -> Bool {
        text.utf8.starts(with: prefix.utf8)
    }

    /// Parses a marker's text; nil when it is not one of these or is malformed. Unknown keys are
    /// ignored (a later minor addition).
    public init?(text: String) {
        guard Self.isOurs(text) else { return nil }
        let words = text.utf8.dropFirst(Self.prefix.utf8.count).split(separator: UInt8(ascii: " "))
        guard let kind = words.first else { return nil }
        var fields: [String: String] = [:]
        for word in words.dropFirst() {
            guard let eq = word.firstIndex(of: UInt8(ascii: "=")) else { return nil }
            fields[String(decoding: word[..<eq], as: UTF8.self)] = String(decoding: word[word.index(after: eq)...], as: UTF8.self)
        }
        guard let dev = fields["dev"].flatMap(Self.device), let ino = fields["ino"].flatMap({ UInt64($0) }) else { return nil }
        switch String(decoding: kind, as: UTF8.self) {
        case "file":
            guard let blob = fields["blob"].flatMap({ KeyText.normalized($0) }) else { return nil }
            self = .file(dev: dev, ino: ino, name: BlobName(volume: fields["volume"].flatMap { KeyText.normalized($0) }, blob: blob))
        case "fault":
            guard let pid = fields["pid"].flatMap({ Int32($0) }), let offset = fields["off"].flatMap({ Int64($0) }),
                  let length = fields["len"].flatMap({ UInt64($0) }), let fault = fields["fault"], !fault.isEmpty else { return nil }
            self = .fault(pid: pid, dev: dev, ino: ino, offset: offset, length: length, fault: fault)
        default:
            return nil
        }
    }

    /// The text written to `trace_marker` (without newline).
    public var line: String {
        switch self {
        case let .file(dev, ino, name):
            return Self.prefix + "file dev=\(Self.deviceText(dev)) ino=\(ino)" + (name.volume.map { " volume=\($0)" } ?? "") + " blob=\(name.blob)"
        case let .fault(pid, dev, ino, offset, length, fault):
            return Self.prefix + "fault pid=\(pid) dev=\(Self.deviceText(dev)) ino=\(ino) off=\(offset) len=\(length) fault=\(fault)"
        }
    }

    /// The kernel's dev_t (major << 20 | minor) as `major:minor`.
    public static func deviceText(_ dev: UInt64) -> String { "\(dev >> 20):\(dev & 0xfffff)" }

    /// `major:minor` as the kernel's dev_t; nil when malformed.
    static func device(_ text: String) -> UInt64? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let major = UInt64(parts[0]), let minor = UInt64(parts[1]), major < 1 << 12, minor < 1 << 20 else { return nil }
        return major << 20 | minor
    }
}
