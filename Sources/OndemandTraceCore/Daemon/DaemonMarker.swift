/// One line of the daemon's `trace_marker` protocol (docs/markers.md):
/// `odt1 <stage> <request> msg=<msg_id> oid=<object_id> [fd=] [off=] [len=] [res=] [fault=]`.
public struct DaemonMarker: Equatable, Sendable {
    public enum Stage: String, Sendable { case pickup, written, done, fault }

    public var stage: Stage
    public var request: String
    public var msgID: UInt32
    public var objectID: UInt32
    public var fd: UInt32? = nil
    public var offset: UInt64? = nil
    public var length: UInt64? = nil
    public var result: Int64? = nil
    public var fault: String? = nil

    public static let prefix = "odt1"

    public init(_ stage: Stage, _ request: String, msgID: UInt32, objectID: UInt32,
                fd: UInt32? = nil, offset: UInt64? = nil, length: UInt64? = nil,
                result: Int64? = nil, fault: String? = nil) {
        self.stage = stage; self.request = request; self.msgID = msgID; self.objectID = objectID
        self.fd = fd; self.offset = offset; self.length = length; self.result = result; self.fault = fault
    }

    public var line: String {
        var s = "\(Self.prefix) \(stage.rawValue) \(request) msg=\(msgID) oid=\(objectID)"
        if let fd { s += " fd=\(fd)" }
        if let offset { s += " off=\(offset)" }
        if let length { s += " len=\(length)" }
        if let result { s += " res=\(result)" }
        if let fault { s += " fault=\(fault)" }
        return s
    }
}
