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

    public static let prefix = "odt1 "

    public init(stage: Stage, request: Request, msgID: UInt32, objectID: UInt32, fd: UInt32? = nil,
                offset: Int64? = nil, length: UInt64? = nil, result: Int64? = nil, fault: String? = nil) {
        (self.stage, self.request, self.msgID, self.objectID) = (stage, request, msgID, objectID)
        (self.fd, self.offset, self.length, self.result, self.fault) = (fd, offset, length, result, fault)
    }

    /// Parses a marker's text; nil when it is not one of ours or is malformed.
    public init?(text: some StringProtocol) {
        guard text.hasPrefix(Self.prefix) else { return nil }
        let parts = text.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count >= 5, let stage = Stage(rawValue: String(parts[1])),
              let request = Request(rawValue: String(parts[2])) else { return nil }
        var msg: UInt32?, oid: UInt32?
        var fd: UInt32?, off: Int64?, len: UInt64?, res: Int64?, fault: String?
        for part in parts.dropFirst(3) {
            guard let eq = part.firstIndex(of: "=") else { return nil }
            let key = part[part.startIndex..<eq]
            let value = part[part.index(after: eq)...]
            switch key {
            case "msg": msg = UInt32(value)
            case "oid": oid = UInt32(value)
            case "fd": fd = UInt32(value)
            case "off": off = Int64(value)
            case "len": len = UInt64(value)
            case "res": res = Int64(value)
            case "fault": fault = String(value)
            default: break // a later minor addition: ignore
            }
        }
        guard let msg, let oid else { return nil }
        self.init(stage: stage, request: request, msgID: msg, objectID: oid, fd: fd, offset: off, length: len,
                  result: res, fault: fault)
    }

    /// The daemon's spelling: offsets as the kernel's READ message carries them (unsigned).
    public init(_ stage: Stage, _ request: Request, msgID: UInt32, objectID: UInt32, fd: UInt32? = nil,
                offset: UInt64? = nil, length: UInt64? = nil, result: Int64? = nil, fault: String? = nil) {
        self.init(stage: stage, request: request, msgID: msgID, objectID: objectID, fd: fd,
                  offset: offset.map { Int64(truncatingIfNeeded: $0) }, length: length, result: result, fault: fault)
    }

    /// The text written to `trace_marker` (without newline).
    public var line: String {
        var s = "\(Self.prefix)\(stage.rawValue) \(request.rawValue) msg=\(msgID) oid=\(objectID)"
        if let fd { s += " fd=\(fd)" }
        if let offset { s += " off=\(offset)" }
        if let length { s += " len=\(length)" }
        if let result { s += " res=\(result)" }
        if let fault { s += " fault=\(fault)" }
        return s
    }
}
