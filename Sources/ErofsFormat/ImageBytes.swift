/// An image's bytes without copying them: a view of memory someone keeps alive (`owner`: a
/// mapped file) or an array's own storage. Indexing a 1 GB image reads its metadata only; the
/// data pages are never touched, let alone copied.
public struct ImageBytes: RandomAccessCollection, @unchecked Sendable {
    private let base: UnsafeRawBufferPointer
    /// Keeps `base` valid (the mapping, or the copy of an array).
    private let owner: AnyObject

    /// A view of `base`, valid while `owner` lives.
    public init(viewing base: UnsafeRawBufferPointer, owner: AnyObject) {
        (self.base, self.owner) = (base, owner)
    }

    /// The bytes of an array (tests, small images).
    public init(_ bytes: [UInt8]) {
        let storage = Storage(bytes)
        (base, owner) = (UnsafeRawBufferPointer(storage.buffer), storage)
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { base.count }
    @inline(__always) public subscript(position: Int) -> UInt8 { base[position] }

    private final class Storage {
        let buffer: UnsafeMutableRawBufferPointer
        init(_ bytes: [UInt8]) {
            buffer = .allocate(byteCount: Swift.max(bytes.count, 1), alignment: 16)
            bytes.withUnsafeBytes { if let from = $0.baseAddress { buffer.baseAddress!.copyMemory(from: from, byteCount: $0.count) } }
        }
        deinit { buffer.deallocate() }
    }
}
