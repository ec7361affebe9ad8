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
    public var fault: String? {
        get { texts?.fault }
        set { texts = Texts.make(fault: newValue, volume: volume, blob: blob) }
    }
    /// OPEN `pickup`: the object's name, its volume and cookie keys as `KeyText` (escaped).
    public var volume: String? {
        get { texts?.volume }
        set { texts = Texts.make(fault: fault, volume: newValue, blob: blob) }
    }
    public var blob: String? {
        get { texts?.blob }
        set { texts = Texts.make(fault: fault, volume: volume, blob: newValue) }
    }

    /// The texts few markers carry (a fault's name, an OPEN's keys), in one box: a marker is
    /// copied a few times on its way to the correlator, and three optional strings cost three
    /// reference counts per copy where one box (nil for most markers) costs one.
    private var texts: Texts?

    private final class Texts: Sendable, Equatable {
        let fault, volume, blob: String?
        private init(fault: String?, volume: String?, blob: String?) { (self.fault, self.volume, self.blob) = (fault, volume, blob) }
        static func make(fault: String?, volume: String?, blob: String?) -> Texts? {
            fault == nil && volume == nil && blob == nil ? nil : Texts(fault: fault, volume: volume, blob: blob)
        }
        static func == (a: Texts, b: Texts) -> Bool { (a.fault, a.volume, a.blob) == (b.fault, b.volume, b.blob) }
    }

    public static let prefix = "odt1 "

    public init(stage: Stage, request: Request, msgID: UInt32, objectID: UInt32, fd: UInt32? = nil,
                offset: Int64? = nil, length: UInt64? = nil, result: Int64? = nil, fault: String? = nil) {
        (self.stage, self.request, self.msgID, self.objectID) = (stage, request, msgID, objectID)
        (self.fd, self.offset, self.length, self.result) = (fd, offset, length, result)
        texts = Texts.make(fault: fault, volume: nil, blob: nil)
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

    /// `init?(text:)` of the text's UTF-8 bytes (a trace.dat reader's, without a `String`).
    public init?(bytes: UnsafeRawBufferPointer) {
        guard let parsed = Self.parse(bytes.assumingMemoryBound(to: UInt8.self)) else { return nil }
        self = parsed
    }

    /// Whether a text may be one of our markers: the prefix, then a stage and a space. A reader
    /// tests this before it hands a text on to be parsed elsewhere (`MarkerRecord`); the
    /// fanotify path's markers (`FanotifyMarker`) and cookie lines fail it.
    public static func looksOurs(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let b = bytes.assumingMemoryBound(to: UInt8.self)
        guard b.count >= 10, matches(UnsafeBufferPointer(rebasing: b[..<5]), "odt1 ") else { return false }
        let word: StaticString
        switch b[5] {
        case UInt8(ascii: "p"): word = "pickup "
        case UInt8(ascii: "w"): word = "written "
        case UInt8(ascii: "d"): word = "done "
        case UInt8(ascii: "f"): word = "fault "
        default: return false
        }
        let end = 5 + word.utf8CodeUnitCount
        return b.count >= end && matches(UnsafeBufferPointer(rebasing: b[5..<end]), word)
    }

    static func parse(_ b: UnsafeBufferPointer<UInt8>) -> DaemonMarker? {
        guard b.count >= 5, Self.matches(UnsafeBufferPointer(rebasing: b[..<5]), "odt1 ") else { return nil }
        if let marker = parseAsWritten(b) { return marker }
        var stage: Stage?, request: Request?
        var msg: UInt32?, oid: UInt32?
        var fd: UInt32?, off: Int64?, len: UInt64?, res: Int64?, fault: String?
        var volume: String?, blob: String?
        var index = 0  // of the space-separated part
        var i = 0
        let space = UInt8(ascii: " "), equals = UInt8(ascii: "=")
        // One pass over the bytes: a part's end, its first "=" and the number after it found
        // together (a report parses a marker per on-demand event; a pass each cost twice this).
        while i < b.count {
            while i < b.count && b[i] == space { i += 1 }
            guard i < b.count else { break }
            let start = i
            guard index >= 3 else {
                while i < b.count && b[i] != space { i += 1 }
                let word = UnsafeBufferPointer(rebasing: b[start..<i])
                if index == 1 { stage = Stage(word: word) } else if index == 2 { request = Request(word: word) }
                index += 1
                continue
            }
            while i < b.count && b[i] != space && b[i] != equals { i += 1 }
            guard i < b.count, b[i] == equals else { return nil }
            let key = UnsafeBufferPointer(rebasing: b[start..<i])
            i += 1
            let valueStart = i
            let number = Decimal(scanning: b, from: &i)
            switch key.count {
            case 2 where key[0] == UInt8(ascii: "f") && key[1] == UInt8(ascii: "d"): fd = number.unsigned()
            case 3:
                switch (key[0], key[1], key[2]) {
                case (UInt8(ascii: "m"), UInt8(ascii: "s"), UInt8(ascii: "g")): msg = number.unsigned()
                case (UInt8(ascii: "o"), UInt8(ascii: "i"), UInt8(ascii: "d")): oid = number.unsigned()
                case (UInt8(ascii: "o"), UInt8(ascii: "f"), UInt8(ascii: "f")): off = number.signed()
                case (UInt8(ascii: "l"), UInt8(ascii: "e"), UInt8(ascii: "n")): len = number.unsigned()
                case (UInt8(ascii: "r"), UInt8(ascii: "e"), UInt8(ascii: "s")): res = number.signed()
                default: break
                }
            case 4, 5, 6:
                let value = UnsafeBufferPointer(rebasing: b[valueStart..<i])
                if Self.matches(key, "fault") { fault = String(decoding: value, as: UTF8.self) }
                else if Self.matches(key, "volume") { volume = KeyText.normalized(String(decoding: value, as: UTF8.self)) }
                else if Self.matches(key, "blob") { blob = KeyText.normalized(String(decoding: value, as: UTF8.self)) }
            default: break
            }
            index += 1
        }
        guard index >= 5, let stage, let request, let msg, let oid else { return nil }
        var marker = DaemonMarker(stage: stage, request: request, msgID: msg, objectID: oid, fd: fd, offset: off, length: len,
                                  result: res)
        marker.texts = Texts.make(fault: fault, volume: volume, blob: blob)
        return marker
    }

    /// `parse` of a line as `line` writes it without texts: the words and numeric fields in its
    /// order, one space apart. Nil for any other line, which the general parse reads (the same
    /// values where both read it: `DaemonMarkerParsingTests`). Nearly every marker is such a
    /// line, and this reads it in one pass without splitting it into parts.
    static func parseAsWritten(_ b: UnsafeBufferPointer<UInt8>) -> DaemonMarker? {
        var c = Cursor(b: b, i: 5)
        let stage: Stage, request: Request
        switch b.count > 5 ? b[5] : 0 {  // the words told apart by their first letter
        case UInt8(ascii: "p") where c.take("pickup "): stage = .pickup
        case UInt8(ascii: "w") where c.take("written "): stage = .written
        case UInt8(ascii: "d") where c.take("done "): stage = .done
        case UInt8(ascii: "f") where c.take("fault "): stage = .fault
        default: return nil
        }
        switch c.i < b.count ? b[c.i] : 0 {
        case UInt8(ascii: "r") where c.take("read "): request = .read
        case UInt8(ascii: "o") where c.take("open "): request = .open
        case UInt8(ascii: "c") where c.take("close "): request = .close
        default: return nil
        }
        guard c.take("msg="), let msg = c.unsigned32(), c.take(" oid="), let oid = c.unsigned32() else { return nil }
        var marker = DaemonMarker(stage: stage, request: request, msgID: msg, objectID: oid)
        if c.take(" fd=") { guard let v = c.unsigned32() else { return nil }; marker.fd = v }
        if c.take(" off=") { guard let v = c.signed() else { return nil }; marker.offset = v }
        if c.take(" len=") { guard let v = c.digits(upTo: 19) else { return nil }; marker.length = v }
        if c.take(" res=") { guard let v = c.signed() else { return nil }; marker.result = v }
        return c.i == b.count ? marker : nil
    }

    /// A place in a line for `parseAsWritten`.
    struct Cursor {
        let b: UnsafeBufferPointer<UInt8>
        var i: Int

        /// Passes over `word` if the line goes on with it.
        @inline(__always)
        mutating func take(_ word: StaticString) -> Bool {
            let end = i + word.utf8CodeUnitCount
            guard end <= b.count, DaemonMarker.matches(UnsafeBufferPointer(rebasing: b[i..<end]), word) else { return false }
            i = end
            return true
        }

        /// 1 to `limit` decimal digits, up to a space or the end (so that no value overflows).
        @inline(__always)
        mutating func digits(upTo limit: Int) -> UInt64? {
            let start = i
            var n: UInt64 = 0
            while i < b.count && b[i] != UInt8(ascii: " ") {
                let d = b[i] &- UInt8(ascii: "0")
                guard d < 10 else { return nil }
                n = n &* 10 &+ UInt64(d)
                i &+= 1
            }
            return i > start && i - start <= limit ? n : nil
        }

        mutating func unsigned32() -> UInt32? { digits(upTo: 10).flatMap { UInt32(exactly: $0) } }

        mutating func signed() -> Int64? {
            let negative = take("-")
            guard let magnitude = digits(upTo: 18) else { return nil }
            return negative ? -Int64(magnitude) : Int64(magnitude)
        }
    }

    /// Whether `w` is `word`'s bytes. (`elementsEqual` with a `String.UTF8View`, generic, cost
    /// more than the rest of a marker's parse: a report parses a marker per on-demand event of a
    /// recording of our daemon.)
    @inline(__always)
    static func matches(_ w: UnsafeBufferPointer<UInt8>, _ word: StaticString) -> Bool {
        guard w.count == word.utf8CodeUnitCount else { return false }
        let p = word.utf8Start
        for i in 0..<w.count where w[i] != p[i] { return false }
        return true
    }

    /// A decimal number with an optional sign, as Swift's integer parsing reads it: a value's
    /// bytes up to the next space, read as they are passed over.
    struct Decimal {
        private var magnitude: UInt64 = 0
        private var negative = false, valid = true

        /// Reads from `i` up to the next space or the end, where it leaves `i`.
        @inline(__always)
        init(scanning b: UnsafeBufferPointer<UInt8>, from i: inout Int) {
            if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
                negative = b[i] == UInt8(ascii: "-")
                i &+= 1
            }
            let first = i
            var n: UInt64 = 0, ok = true
            while i < b.count && b[i] != UInt8(ascii: " ") {
                let d = UInt64(b[i] &- UInt8(ascii: "0"))
                // Past 10 or over UInt64: not a number (the comparisons, not a checked multiply).
                if d >= 10 || n > UInt64.max / 10 || (n == UInt64.max / 10 && d > UInt64.max % 10) { ok = false }
                n = n &* 10 &+ d
                i &+= 1
            }
            (magnitude, valid) = (n, ok && i > first)
        }

        /// As `UInt32("-0")`: a minus sign is fine on zero.
        func unsigned<T: FixedWidthInteger & UnsignedInteger>() -> T? {
            guard valid, !negative || magnitude == 0 else { return nil }
            return T(exactly: magnitude)
        }

        func signed() -> Int64? {
            guard valid else { return nil }
            if negative { return magnitude <= UInt64(Int64.max) + 1 ? Int64(truncatingIfNeeded: 0 &- magnitude) : nil }
            return Int64(exactly: magnitude)
        }
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
        case (6, UInt8(ascii: "p")) where DaemonMarker.matches(w, "pickup"): self = .pickup
        case (7, UInt8(ascii: "w")) where DaemonMarker.matches(w, "written"): self = .written
        case (4, UInt8(ascii: "d")) where DaemonMarker.matches(w, "done"): self = .done
        case (5, UInt8(ascii: "f")) where DaemonMarker.matches(w, "fault"): self = .fault
        default: return nil
        }
    }
}

extension DaemonMarker.Request {
    init?(word w: UnsafeBufferPointer<UInt8>) {
        switch (w.count, w.first) {
        case (4, UInt8(ascii: "r")) where DaemonMarker.matches(w, "read"): self = .read
        case (4, UInt8(ascii: "o")) where DaemonMarker.matches(w, "open"): self = .open
        case (5, UInt8(ascii: "c")) where DaemonMarker.matches(w, "close"): self = .close
        default: return nil
        }
    }
}
