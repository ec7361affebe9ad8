/// One decoded trace record: the common header every ftrace event has, and its body.
public struct TraceEvent: Sendable, Equatable {
    /// Timestamp in nanoseconds of the trace clock the record was taken with.
    public var timestamp: UInt64
    public var cpu: Int32
    public var pid: Int32
    /// The task name, from the file's saved cmdlines or the text line; nil when unknown.
    public var comm: String?
    public var body: EventBody

    public init(timestamp: UInt64, cpu: Int32, pid: Int32, comm: String?, body: EventBody) {
        self.timestamp = timestamp
        self.cpu = cpu
        self.pid = pid
        self.comm = comm
        self.body = body
    }

    /// The kernel's event name, e.g. `cachefiles_ondemand_read`, `cachefiles_io_error` or `print`.
    public var name: String {
        switch body {
        case .ondemand(let event): return event.kind.eventName
        case .generic(let event): return event.name
        case .marker: return MarkerEvent.eventName
        }
    }
}

public enum EventBody: Sendable, Equatable {
    /// One of the seven `cachefiles_ondemand_*` tracepoints, typed.
    case ondemand(OndemandEvent)
    /// Any other event (the other `cachefiles_*` events), kept by field name.
    case generic(GenericEvent)
    /// An `ftrace:print` record (a write to `trace_marker`).
    case marker(MarkerEvent)
}

/// An event kept without a typed model: its fields by kernel name, in format-file order.
public struct GenericEvent: Sendable, Equatable {
    public var system: String
    public var name: String
    public var fields: [NamedValue]

    public init(system: String, name: String, fields: [NamedValue]) {
        self.system = system
        self.name = name
        self.fields = fields
    }

    public subscript(field: String) -> FieldValue? {
        fields.first { $0.name == field }?.value
    }
}

public struct NamedValue: Sendable, Equatable {
    public var name: String
    public var value: FieldValue
    public init(_ name: String, _ value: FieldValue) {
        self.name = name
        self.value = value
    }
}

public enum FieldValue: Sendable, Equatable, CustomStringConvertible {
    case unsigned(UInt64)
    case signed(Int64)
    case string(String)
    /// Raw bytes of an array field that is not a string.
    case bytes([UInt8])

    public var description: String {
        switch self {
        case .unsigned(let v): return String(v)
        case .signed(let v): return String(v)
        case .string(let s): return s
        case .bytes(let b): return b.map { String($0, radix: 16) }.joined(separator: " ")
        }
    }

    public var integer: Int64? {
        switch self {
        case .unsigned(let v): return Int64(truncatingIfNeeded: v)
        case .signed(let v): return v
        default: return nil
        }
    }
}

/// A `trace_marker` write. `text` is the buffer without its trailing newline.
public struct MarkerEvent: Sendable, Equatable {
    public static let eventName = "print"
    public var text: String
    public init(text: String) { self.text = text }
}

/// An on-demand record as the report's reading thread hands it to the correlating one: the
/// event and its header, plain values only, so batches of them copy as bytes (a `TraceEvent`
/// costs a value-witness call and reference counting per copy). The task name travels apart,
/// once per pid (`TraceItemBatch.names`).
public struct OndemandRecord: Sendable, Equatable {
    public var timestamp: UInt64
    public var cpu: Int32
    public var pid: Int32
    public var event: OndemandEvent

    public init(timestamp: UInt64, cpu: Int32, pid: Int32, event: OndemandEvent) {
        (self.timestamp, self.cpu, self.pid, self.event) = (timestamp, cpu, pid, event)
    }

    /// The same record as a `TraceEvent` (for event observers).
    public func traceEvent(comm: String?) -> TraceEvent {
        TraceEvent(timestamp: timestamp, cpu: cpu, pid: pid, comm: comm, body: .ondemand(event))
    }
}

/// A trace_marker write that looks like one of our daemon's markers (`DaemonMarker.looksOurs`)
/// as the report's reading thread hands it over: plain values, its text bytes kept in a buffer
/// of its batch, not in a `String` of its own (a marker per on-demand event in a recording of our
/// daemon). The correlating thread parses it (`ReportBuilder.consume(_:text:)`).
public struct MarkerRecord: Sendable, Equatable {
    public var timestamp: UInt64
    public var cpu: Int32
    public var pid: Int32
    /// Where its text lies in the batch's buffer.
    public var textStart: Int32
    public var textCount: Int32

    public init(timestamp: UInt64, cpu: Int32, pid: Int32, textStart: Int32, textCount: Int32) {
        (self.timestamp, self.cpu, self.pid, self.textStart, self.textCount) = (timestamp, cpu, pid, textStart, textCount)
    }

    /// Its text in `buffer` (the batch's).
    @inline(__always)
    public func text(in buffer: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: buffer[Int(textStart)..<Int(textStart + textCount)])
    }

    /// The same record as the generic decoder gives it (comm: the task's name, if known).
    public func traceEvent(text buffer: UnsafeRawBufferPointer, comm: String?) -> TraceEvent {
        TraceEvent(timestamp: timestamp, cpu: cpu, pid: pid, comm: comm,
                   body: .marker(MarkerEvent(text: String(decoding: text(in: buffer), as: UTF8.self))))
    }
}

/// A record of `EventSelection.objectTies` as the report's reading thread hands it over:
/// `cachefiles_ref` (an object's cookie) or `cachefiles_prep_read` / `cachefiles_read` (a reader
/// going on), decoded on the slim path (`BinaryEventDecoder.decodeTie`) into plain values, not a
/// `GenericEvent` (an array of named values, allocated and released per record).
public struct TieRecord: Sendable, Equatable {
    public enum Kind: UInt8, Sendable, CaseIterable {
        case ref, prepRead, read

        public var eventName: String {
            switch self {
            case .ref: return "cachefiles_ref"
            case .prepRead: return "cachefiles_prep_read"
            case .read: return "cachefiles_read"
            }
        }

        public init?(eventName: String) {
            guard let kind = Self.allCases.first(where: { $0.eventName == eventName }) else { return nil }
            self = kind
        }
    }

    public var timestamp: UInt64
    public var cpu: Int32
    public var pid: Int32
    public var kind: Kind
    /// The fields' bit patterns (signed ones sign-extended); nil when the layout lacks the field.
    public var obj: UInt64?
    public var cookie: UInt64?
    /// Bit 0: `obj` is a signed field, bit 1: `cookie` is (`traceEvent` gives them as `.signed`).
    public var signedFields: UInt8

    public init(timestamp: UInt64, cpu: Int32, pid: Int32, kind: Kind, obj: UInt64?, cookie: UInt64?, signedFields: UInt8 = 0) {
        (self.timestamp, self.cpu, self.pid, self.kind) = (timestamp, cpu, pid, kind)
        (self.obj, self.cookie, self.signedFields) = (obj, cookie, signedFields)
    }

    /// The same record as the generic decoder gives it (for event observers and tests).
    public func traceEvent(comm: String?) -> TraceEvent {
        func value(_ raw: UInt64, signed: Bool) -> FieldValue { signed ? .signed(Int64(bitPattern: raw)) : .unsigned(raw) }
        var fields: [NamedValue] = []
        if let obj { fields.append(NamedValue("obj", value(obj, signed: signedFields & 1 != 0))) }
        if let cookie { fields.append(NamedValue("cookie", value(cookie, signed: signedFields & 2 != 0))) }
        return TraceEvent(timestamp: timestamp, cpu: cpu, pid: pid, comm: comm,
                          body: .generic(GenericEvent(system: "cachefiles", name: kind.eventName, fields: fields)))
    }
}
