/// Appends numbers in the file's byte order.
struct ByteWriter {
    var bigEndian: Bool
    var bytes: [UInt8] = []

    mutating func append(_ data: [UInt8]) { bytes.append(contentsOf: data) }
    mutating func u16(_ v: UInt16) { appendInteger(bigEndian ? v.bigEndian : v.littleEndian) }
    mutating func u32(_ v: UInt32) { appendInteger(bigEndian ? v.bigEndian : v.littleEndian) }
    mutating func u64(_ v: UInt64) { appendInteger(bigEndian ? v.bigEndian : v.littleEndian) }

    private mutating func appendInteger<T: FixedWidthInteger>(_ v: T) {
        withUnsafeBytes(of: v) { bytes.append(contentsOf: $0) }
    }
}
