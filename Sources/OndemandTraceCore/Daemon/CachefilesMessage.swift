/// The messages the kernel sends a cachefiles on-demand daemon, decoded from the bytes one
/// `read()` of `/dev/cachefiles` returns (`include/uapi/linux/cachefiles.h`):
///
///     struct cachefiles_msg  { __u32 msg_id; __u32 opcode; __u32 len; __u32 object_id; __u8 data[]; };
///     struct cachefiles_open { __u32 volume_key_size; __u32 cookie_key_size; __u32 fd; __u32 flags; __u8 data[]; };
///     struct cachefiles_read { __u64 off; __u64 len; };
///
/// All fields are in the host's byte order (little-endian on every machine we run on).
public struct CachefilesMessage: Equatable, Sendable {
    public var msgID: UInt32
    public var objectID: UInt32
    public var request: Request

    public enum Request: Equatable, Sendable {
        /// The kernel opened an object; `fd` is the anonymous fd it installed in the daemon.
        case open(Open)
        case close
        case read(Read)
    }

    public struct Open: Equatable, Sendable {
        /// For EROFS: `erofs,<fsid>` followed by a NUL (the NUL counts in the size).
        public var volumeKey: [UInt8]
        /// For EROFS: `<fsid>`, without a NUL.
        public var cookieKey: [UInt8]
        public var fd: UInt32
        public var flags: UInt32
    }

    public struct Read: Equatable, Sendable {
        public var offset: UInt64
        public var length: UInt64
    }

    public static let headerSize = 16
    public static let openHeaderSize = 16
    /// Opcodes of `enum cachefiles_opcode`.
    public static let opcodeOpen: UInt32 = 0
    public static let opcodeClose: UInt32 = 1
    public static let opcodeRead: UInt32 = 2

    public var requestName: String {
        switch request {
        case .open: return "open"
        case .close: return "close"
        case .read: return "read"
        }
    }

    /// Decodes one message. `bytes` is what `read()` returned, exactly.
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(CachefilesMessageError) -> CachefilesMessage {
        guard bytes.count >= headerSize else { throw .truncated(have: bytes.count, need: headerSize) }
        let msgID = bytes.loadLittleEndian(UInt32.self, at: 0)
        let opcode = bytes.loadLittleEndian(UInt32.self, at: 4)
        let length = Int(bytes.loadLittleEndian(UInt32.self, at: 8))
        let objectID = bytes.loadLittleEndian(UInt32.self, at: 12)
        guard length >= headerSize, length <= bytes.count else {
            throw .badLength(declared: length, read: bytes.count)
        }
        let payload = UnsafeRawBufferPointer(rebasing: bytes[headerSize..<length])
        let request: Request
        switch opcode {
        case opcodeOpen:
            guard payload.count >= openHeaderSize else { throw .truncated(have: length, need: headerSize + openHeaderSize) }
            let volumeSize = Int(payload.loadLittleEndian(UInt32.self, at: 0))
            let cookieSize = Int(payload.loadLittleEndian(UInt32.self, at: 4))
            let fd = payload.loadLittleEndian(UInt32.self, at: 8)
            let flags = payload.loadLittleEndian(UInt32.self, at: 12)
            let keys = payload.count - openHeaderSize
            guard volumeSize <= keys, cookieSize <= keys - volumeSize else {
                throw .keysOverrun(volume: volumeSize, cookie: cookieSize, available: keys)
            }
            let volume = Array(payload[openHeaderSize..<openHeaderSize + volumeSize])
            let cookie = Array(payload[openHeaderSize + volumeSize..<openHeaderSize + volumeSize + cookieSize])
            request = .open(Open(volumeKey: volume, cookieKey: cookie, fd: fd, flags: flags))
        case opcodeClose:
            request = .close
        case opcodeRead:
            guard payload.count >= 16 else { throw .truncated(have: length, need: headerSize + 16) }
            request = .read(Read(offset: payload.loadLittleEndian(UInt64.self, at: 0),
                                 length: payload.loadLittleEndian(UInt64.self, at: 8)))
        default:
            throw .unknownOpcode(opcode)
        }
        return CachefilesMessage(msgID: msgID, objectID: objectID, request: request)
    }

    /// Encodes a message as the kernel would (for tests and fakes of the kernel side).
    public func encoded() -> [UInt8] {
        var payload: [UInt8] = []
        let opcode: UInt32
        switch request {
        case .open(let open):
            opcode = Self.opcodeOpen
            for v in [UInt32(open.volumeKey.count), UInt32(open.cookieKey.count), open.fd, open.flags] { payload.appendLittleEndian(v) }
            payload += open.volumeKey + open.cookieKey
        case .close:
            opcode = Self.opcodeClose
        case .read(let read):
            opcode = Self.opcodeRead
            payload.appendLittleEndian(read.offset)
            payload.appendLittleEndian(read.length)
        }
        var out: [UInt8] = []
        for v in [msgID, opcode, UInt32(Self.headerSize + payload.count), objectID] { out.appendLittleEndian(v) }
        return out + payload
    }
}

public enum CachefilesMessageError: Error, Equatable, CustomStringConvertible {
    case truncated(have: Int, need: Int)
    case badLength(declared: Int, read: Int)
    case keysOverrun(volume: Int, cookie: Int, available: Int)
    case unknownOpcode(UInt32)

    public var description: String {
        switch self {
        case let .truncated(have, need): return "message of \(have) bytes is shorter than its \(need)-byte header"
        case let .badLength(declared, read): return "message declares \(declared) bytes but read() returned \(read)"
        case let .keysOverrun(volume, cookie, available):
            return "OPEN keys (\(volume) + \(cookie) bytes) overrun the \(available) bytes of payload"
        case let .unknownOpcode(op): return "unknown opcode \(op)"
        }
    }
}

/// The replies written to `/dev/cachefiles`.
public enum CachefilesReply {
    /// Accepts an OPEN: the object (the EROFS image) is `size` bytes.
    public static func copen(msgID: UInt32, size: UInt64) -> String { "copen \(msgID),\(size)" }
    /// Refuses an OPEN with `-errno`.
    public static func copen(msgID: UInt32, errno: Int32) -> String { "copen \(msgID),-\(errno)" }
}

extension UnsafeRawBufferPointer {
    func loadLittleEndian<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T {
        T(littleEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}

extension Array where Element == UInt8 {
    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}
