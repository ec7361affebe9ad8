/// One line our daemon writes to `trace_marker` (docs/markers.md), e.g.
/// `odt1 pickup read msg=12 oid=1 off=4096 len=16384`. The daemon writes `line`; the report
/// parses it back with `init?(text:)`.
public struct DaemonMarker: Sendable, Equatable {
    public enum Stage: String, Sendable { case pickup, written, done, fault }
    public enum Request: String, Sendable { case open, read, close }

    public var stage: Stage
    public var request: Request
    public var msgID: UInt32
    public var objectID: UInt32
    public var fd: UInt32?
    public var offset: Int64?
    public var length: UInt64?
    public var result: Int64?
    public var fault: String?
    /// OPEN `pickup`: the object's name, its volume and cookie keys as `KeyText` (escaped).
    public var volume: String?
    public var blob: String?

    public static let prefix = "odt1 "

    public init(stage: Stage, request: Request, msgID: UInt32, objectID: UInt32, fd: UInt32? = nil,
                offset: Int64? = nil, length: UInt64? = nil, result: Int64? = nil, fault: String? = nil) {
        (self.stage, self.request, self.msgID, self.objectID) = (stage, request, msgID, objectID)
        (self.fd, self.offset, self.length, self.result, self.fault) = (fd, offset, length, result, fault)
    }

    /// Parses a marker's text; nil when it is not one of ours or is malformed. Fields are
    /// separated by spaces; a field of an unknown key is ignored (a later minor addition).
    public init?(text: some StringProtocol) {
        // Over the UTF-8 bytes: every marker of a trace passes here (live and in files), and
        // String splitting was most of `record --live`'s cost.
        let parsed = text.utf8.withContiguousStorageIfAvailable { Self.parse($0) } ?? Array(text.utf8).withUnsafeBufferPointer { Self.parse($0) }
        guard let parsed else { return nil }
        self = parsed
    }

    static func parse(_ b: UnsafeBufferPointer<UInt8>) -> DaemonMarker? {
        guard b.starts(with: Self.prefix.utf8) else { return nil }
        var stage: Stage?, request: Request?
        var msg: UInt32?, oid: UInt32?
        var fd: UInt32?, off: Int64?, len: UInt64?, res: Int64?, fault: String?
        var volume: String?, blob: String?
        var index = 0  // of the space-separated part
        var i = 0
        while i < b.count {
            while i < b.count && b[i] == UInt8(ascii: " ") { i += 1 }
            guard i < b.count else { break }
            var end = i
            while end < b.count && b[end] != UInt8(ascii: " ") { end += 1 }
            let part = UnsafeBufferPointer(rebasing: b[i..<end])
            switch index {
            case 0: break  // odt1
            case 1: stage = Stage(word: part)
            case 2: request = Request(word: part)
            default:
                guard let eq = part.firstIndex(of: UInt8(ascii: "=")) else { return nil }
                let key = UnsafeBufferPointer(rebasing: part[..<eq]), value = UnsafeBufferPointer(rebasing: part[(eq + 1)...])
                switch key.count {
                case 2 where key[0] == UInt8(ascii: "f") && key[1] == UInt8(ascii: "d"): fd = Self.unsigned(value)
                case 3:
                    switch (key[0], key[1], key[2]) {
                    case (UInt8(ascii: "m"), UInt8(ascii: "s"), UInt8(ascii: "g")): msg = Self.unsigned(value)
                    case (UInt8(ascii: "o"), UInt8(ascii: "i"), UInt8(ascii: "d")): oid = Self.unsigned(value)
                    case (UInt8(ascii: "o"), UInt8(ascii: "f"), UInt8(ascii: "f")): off = Self.signed(value)
                    case (UInt8(ascii: "l"), UInt8(ascii: "e"), UInt8(ascii: "n")): len = Self.unsigned(value)
                    case (UInt8(ascii: "r"), UInt8(ascii: "e"), UInt8(ascii: "s")): res = Self.signed(value)
                    default: break
                    }
                case 5 where key.elementsEqual("fault".utf8): fault = String(decoding: value, as: UTF8.self)
                case 6 where key.elementsEqual("volume".utf8): volume = KeyText.normalized(String(decoding: value, as: UTF8.self))
                case 4 where key.elementsEqual("blob".utf8): blob = KeyText.normalized(String(decoding: value, as: UTF8.self))
                default: break
                }
            }
            index += 1
            i = end
        }
        guard index >= 5, let stage, let request, let msg, let oid else { return nil }
        var marker = DaemonMarker(stage: stage, request: request, msgID: msg, objectID: oid, fd: fd, offset: off, length: len,
                                  result: res, fault: fault)
        (marker.volume, marker.blob) = (volume, blob)
        return marker
    }

    /// A decimal number with an optional sign, as Swift's integer parsing reads it:
    /// (negative, magnitude); nil when empty, not a number or over UInt64.
    static func decimal(_ v: UnsafeBufferPointer<UInt8>) -> (negative: Bool, magnitude: UInt64)? {
        var i = 0, negative = false
        if i < v.count, v[i] == UInt8(ascii: "+") || v[i] == UInt8(ascii: "-") { negative = v[i] == UInt8(ascii: "-"); i += 1 }
        guard i < v.count else { return nil }
        var n: UInt64 = 0
        while i < v.count {
            let d = v[i] &- UInt8(ascii: "0")
            guard d < 10 else { return nil }
            let (times10, o1) = n.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt64(d))
            guard !o1, !o2 else { return nil }
            n = sum
            i += 1
        }
        return (negative, n)
    }

    static func unsigned<T: FixedWidthInteger & UnsignedInteger>(_ v: UnsafeBufferPointer<UInt8>) -> T? {
        // As `UInt32("-0")`: a minus sign is fine on zero.
        decimal(v).flatMap { $0.negative && $0.magnitude != 0 ? nil : T(exactly: $0.magnitude) }
    }

    static func signed(_ v: UnsafeBufferPointer<UInt8>) -> Int64? {
        guard let (negative, magnitude) = decimal(v) else { return nil }
        if negative { return magnitude <= UInt64(Int64.max) + 1 ? Int64(truncatingIfNeeded: 0 &- magnitude) : nil }
        return Int64(exactly: magnitude)
    }

    /// The daemon's spelling: offsets as the kernel's READ message carries them (unsigned).
    public init(_ stage: Stage, _ request: Request, msgID: UInt32, objectID: UInt32, fd: UInt32? = nil,
                offset: UInt64? = nil, length: UInt64? = nil, result: Int64? = nil, fault: String? = nil) {
        self.init(stage: stage, request: request, msgID: msgID, objectID: objectID, fd: fd,
                  offset: offset.map { Int64(truncatingIfNeeded: $0) }, length: length, result: result, fault: fault)
    }

    /// The object's name, when the marker carries its cookie key.
    public var name: BlobName? { blob.map { BlobName(volume: volume, blob: $0) } }

    /// The text written to `trace_marker` (without newline).
    public var line: String {
        var s = "\(Self.prefix)\(stage.rawValue) \(request.rawValue) msg=\(msgID) oid=\(objectID)"
        if let fd { s += " fd=\(fd)" }
        if let offset { s += " off=\(offset)" }
        if let length { s += " len=\(length)" }
        if let result { s += " res=\(result)" }
        if let fault { s += " fault=\(fault)" }
        if let volume { s += " volume=\(volume)" }
        if let blob { s += " blob=\(blob)" }
        return s
    }
}

extension DaemonMarker.Stage {
    init?(word w: UnsafeBufferPointer<UInt8>) {
        switch (w.count, w.first) {
        case (6, UInt8(ascii: "p")) where w.elementsEqual("pickup".utf8): self = .pickup
        case (7, UInt8(ascii: "w")) where w.elementsEqual("written".utf8): self = .written
        case (4, UInt8(ascii: "d")) where w.elementsEqual("done".utf8): self = .done
        case (5, UInt8(ascii: "f")) where w.elementsEqual("fault".utf8): self = .fault
        default: return nil
        }
    }
}

extension DaemonMarker.Request {
    init?(word w: UnsafeBufferPointer<UInt8>) {
        switch (w.count, w.first) {
        case (4, UInt8(ascii: "r")) where w.elementsEqual("read".utf8): self = .read
        case (4, UInt8(ascii: "o")) where w.elementsEqual("open".utf8): self = .open
        case (5, UInt8(ascii: "c")) where w.elementsEqual("close".utf8): self = .close
        default: return nil
        }
    }
}
