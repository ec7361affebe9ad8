/// The seven cachefiles on-demand tracepoints (`include/trace/events/cachefiles.h`).
///
/// Every field is optional: a kernel whose format file lacks a field decodes it as absent (nil),
/// never as zero. On 6.8+ (and 6.1.95+, 6.6.y) `msgID` and `objectID` read 0 in open, read and
/// close: the kernel assigns them only when the daemon reads the request. `obj` is reliable in all.
public enum OndemandEvent: Sendable, Equatable {
    case open(Open)
    case copen(Copen)
    case close(Close)
    case read(Read)
    case cread(Cread)
    case fdWrite(FdWrite)
    case fdRelease(FdRelease)

    public enum Kind: String, Sendable, CaseIterable {
        case open, copen, close, read, cread
        case fdWrite = "fd_write"
        case fdRelease = "fd_release"

        public var eventName: String { "cachefiles_ondemand_" + rawValue }

        public init?(eventName: String) {
            guard eventName.hasPrefix("cachefiles_ondemand_") else { return nil }
            self.init(rawValue: String(eventName.dropFirst("cachefiles_ondemand_".count)))
        }

        /// Kernel field names, in the order the typed initialisers take them.
        public var fieldNames: [String] {
            switch self {
            case .open: return ["obj", "msg_id", "object_id", "fd", "flags"]
            case .copen: return ["obj", "msg_id", "len"]
            case .close: return ["obj", "msg_id", "object_id"]
            case .read: return ["obj", "msg_id", "object_id", "start", "len"]
            case .cread: return ["obj", "msg_id"]
            case .fdWrite: return ["obj", "backer", "start", "len"]
            case .fdRelease: return ["obj", "object_id"]
            }
        }
    }

    public var kind: Kind {
        switch self {
        case .open: return .open
        case .copen: return .copen
        case .close: return .close
        case .read: return .read
        case .cread: return .cread
        case .fdWrite: return .fdWrite
        case .fdRelease: return .fdRelease
        }
    }

    /// The cachefiles object's debug id, the one id valid in all seven events.
    public var obj: UInt32? {
        switch self {
        case .open(let e): return e.obj
        case .copen(let e): return e.obj
        case .close(let e): return e.obj
        case .read(let e): return e.obj
        case .cread(let e): return e.obj
        case .fdWrite(let e): return e.obj
        case .fdRelease(let e): return e.obj
        }
    }

    /// Fields by kernel name with their values (nil = absent in this kernel's layout).
    public var fields: [(name: String, value: FieldValue?)] {
        func u(_ v: UInt32?) -> FieldValue? { v.map { .unsigned(UInt64($0)) } }
        func u64(_ v: UInt64?) -> FieldValue? { v.map { .unsigned($0) } }
        func s(_ v: Int64?) -> FieldValue? { v.map { .signed($0) } }
        switch self {
        case .open(let e):
            return [("obj", u(e.obj)), ("msg_id", u(e.msgID)), ("object_id", u(e.objectID)), ("fd", u(e.fd)), ("flags", u(e.flags))]
        case .copen(let e):
            return [("obj", u(e.obj)), ("msg_id", u(e.msgID)), ("len", s(e.len))]
        case .close(let e):
            return [("obj", u(e.obj)), ("msg_id", u(e.msgID)), ("object_id", u(e.objectID))]
        case .read(let e):
            return [("obj", u(e.obj)), ("msg_id", u(e.msgID)), ("object_id", u(e.objectID)), ("start", s(e.start)), ("len", u64(e.len))]
        case .cread(let e):
            return [("obj", u(e.obj)), ("msg_id", u(e.msgID))]
        case .fdWrite(let e):
            return [("obj", u(e.obj)), ("backer", u(e.backer)), ("start", s(e.start)), ("len", u64(e.len))]
        case .fdRelease(let e):
            return [("obj", u(e.obj)), ("object_id", u(e.objectID))]
        }
    }

    /// The kernel sent an OPEN request to the daemon (anonymous fd `fd` installed).
    public struct Open: Sendable, Equatable {
        public var obj, msgID, objectID, fd, flags: UInt32?
        public init(obj: UInt32?, msgID: UInt32?, objectID: UInt32?, fd: UInt32?, flags: UInt32?) {
            (self.obj, self.msgID, self.objectID, self.fd, self.flags) = (obj, msgID, objectID, fd, flags)
        }
    }
    /// The daemon answered an OPEN with `copen <msg_id>,<size>` (only traced on success).
    public struct Copen: Sendable, Equatable {
        public var obj, msgID: UInt32?
        public var len: Int64?
        public init(obj: UInt32?, msgID: UInt32?, len: Int64?) {
            (self.obj, self.msgID, self.len) = (obj, msgID, len)
        }
    }
    /// The kernel sent a CLOSE request for an object.
    public struct Close: Sendable, Equatable {
        public var obj, msgID, objectID: UInt32?
        public init(obj: UInt32?, msgID: UInt32?, objectID: UInt32?) {
            (self.obj, self.msgID, self.objectID) = (obj, msgID, objectID)
        }
    }
    /// The kernel sent a READ request for `len` bytes at `start` (a cache miss).
    public struct Read: Sendable, Equatable {
        public var obj, msgID, objectID: UInt32?
        public var start: Int64?
        public var len: UInt64?
        public init(obj: UInt32?, msgID: UInt32?, objectID: UInt32?, start: Int64?, len: UInt64?) {
            (self.obj, self.msgID, self.objectID, self.start, self.len) = (obj, msgID, objectID, start, len)
        }
    }
    /// The daemon completed a READ (`CACHEFILES_IOC_READ_COMPLETE`).
    public struct Cread: Sendable, Equatable {
        public var obj, msgID: UInt32?
        public init(obj: UInt32?, msgID: UInt32?) { (self.obj, self.msgID) = (obj, msgID) }
    }
    /// The daemon wrote data into the object's anonymous fd.
    public struct FdWrite: Sendable, Equatable {
        public var obj, backer: UInt32?
        public var start: Int64?
        public var len: UInt64?
        public init(obj: UInt32?, backer: UInt32?, start: Int64?, len: UInt64?) {
            (self.obj, self.backer, self.start, self.len) = (obj, backer, start, len)
        }
    }
    /// The daemon closed the object's anonymous fd.
    public struct FdRelease: Sendable, Equatable {
        public var obj, objectID: UInt32?
        public init(obj: UInt32?, objectID: UInt32?) { (self.obj, self.objectID) = (obj, objectID) }
    }
}

extension OndemandEvent {
    /// Builds a typed event from raw values given in `kind.fieldNames` order. Values are the
    /// field's bit pattern (sign-extended for signed fields); nil means the field is absent.
    /// Always inlined: the report's reading thread makes one per on-demand record, and as a call
    /// it was a fifth of their decoding.
    @inlinable @inline(__always)
    public init(kind: Kind, values v: RawFieldValues) {
        func u32(_ x: UInt64?) -> UInt32? { x.map { UInt32(truncatingIfNeeded: $0) } }
        func i64(_ x: UInt64?) -> Int64? { x.map { Int64(bitPattern: $0) } }
        switch kind {
        case .open: self = .open(Open(obj: u32(v.v0), msgID: u32(v.v1), objectID: u32(v.v2), fd: u32(v.v3), flags: u32(v.v4)))
        case .copen: self = .copen(Copen(obj: u32(v.v0), msgID: u32(v.v1), len: i64(v.v2)))
        case .close: self = .close(Close(obj: u32(v.v0), msgID: u32(v.v1), objectID: u32(v.v2)))
        case .read: self = .read(Read(obj: u32(v.v0), msgID: u32(v.v1), objectID: u32(v.v2), start: i64(v.v3), len: v.v4))
        case .cread: self = .cread(Cread(obj: u32(v.v0), msgID: u32(v.v1)))
        case .fdWrite: self = .fdWrite(FdWrite(obj: u32(v.v0), backer: u32(v.v1), start: i64(v.v2), len: v.v3))
        case .fdRelease: self = .fdRelease(FdRelease(obj: u32(v.v0), objectID: u32(v.v1)))
        }
    }
}

/// Up to five raw field values, stored inline so decoding allocates nothing.
public struct RawFieldValues: Sendable {
    public var v0, v1, v2, v3, v4: UInt64?
    public init() {}
    public subscript(index: Int) -> UInt64? {
        get {
            switch index {
            case 0: return v0
            case 1: return v1
            case 2: return v2
            case 3: return v3
            case 4: return v4
            default: return nil
            }
        }
        set {
            switch index {
            case 0: v0 = newValue
            case 1: v1 = newValue
            case 2: v2 = newValue
            case 3: v3 = newValue
            case 4: v4 = newValue
            default: break
            }
        }
    }
}
