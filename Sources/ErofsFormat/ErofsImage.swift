/// Reads an EROFS image's metadata (fs/erofs/erofs_fs.h): the superblock, compact and extended
/// inodes, directories, and where each file's bytes lie — flat-plain and flat-inline data, and
/// chunk-based files (chunk indexes with a device per chunk, or block maps) of a bootstrap whose
/// data lives in blobs. Pure: it works on the image's bytes, so `report --image` can say which
/// file each on-demand READ of the image or a blob was for.
///
/// Every offset and count the image states is checked against its size and sane limits before it
/// is used: a hostile image gets an `ErofsError`, never a trap or a loop.
public struct ErofsImage: Sendable {
    public struct Superblock: Sendable, Equatable {
        public var blockSizeBits: Int
        public var rootNid: UInt64
        public var metaBlockAddress: UInt64
        public var inodeCount: UInt64
        public var blocks: UInt64
        public var extraDevices: Int
        public var featureIncompat: UInt32
        public var blockSize: UInt64 { 1 << UInt64(blockSizeBits) }
    }

    /// A run of a file's blocks: `length` bytes from `logical` in the file stand at `physical` on
    /// `device` (0: this image; k ≥ 1: the k-th blob, `-o device=`). Whole blocks, the last one
    /// padded, except an inline tail, which is exact. A compressed file's pcluster: `length`
    /// bytes at `physical` (what a READ of it touches) decompress to `logicalLength` bytes from
    /// `logical`; nil for data stored as is.
    public struct Extent: Sendable, Equatable, Hashable {
        public var logical: UInt64
        public var physical: UInt64
        public var length: UInt64
        public var device: Int
        public var logicalLength: UInt64?
        public init(logical: UInt64, physical: UInt64, length: UInt64, device: Int, logicalLength: UInt64? = nil) {
            (self.logical, self.physical, self.length, self.device, self.logicalLength) = (logical, physical, length, device, logicalLength)
        }
    }

    public enum Kind: String, Sendable { case file, directory, symlink, other }

    /// One inode reached from the root, with its path relative to the root (no leading `/`; the
    /// root itself is "").
    public struct Entry: Sendable {
        public var path: String
        public var nid: UInt64
        public var kind: Kind
        public var size: UInt64
        public var layout: Int
        /// Where the data stands: blocks, chunks, or a compressed file's pclusters.
        public var extents: [Extent]
        /// Compressed (layouts 1 and 3): `extents` are its pclusters, from the compression index.
        public var compressed: Bool
        /// Part of the data lies where `extents` cannot say (a fragment in the packed inode, an
        /// index format this reader does not know): reads of it count as unattributed.
        public var unmapped: Bool
        /// The inode's own bytes in the image (inode, xattrs, chunk table or compression index;
        /// not an inline tail).
        public var metadata: Range<UInt64>
    }

    public static let superblockOffset: UInt64 = 1024
    /// The bytes before the superblock and the superblock itself: metadata of every image.
    public static let headerBytes: Range<UInt64> = 0..<(superblockOffset + 128)
    public static let magic: UInt32 = 0xE0F5_E1E2
    public static let nullAddress: UInt32 = 0xFFFF_FFFF
    /// Limits far above real images that keep a hostile one from costing hours.
    public static let maxEntries = 10_000_000
    public static let maxDepth = 4096
    public static let maxFileSize: UInt64 = 1 << 60

    public let superblock: Superblock
    public let size: UInt64
    let bytes: ImageBytes

    public init(bytes: [UInt8]) throws(ErofsError) {
        try self.init(image: ImageBytes(bytes))
    }

    /// The image in place (a mapped file): only its metadata is read.
    public init(image bytes: ImageBytes) throws(ErofsError) {
        self.bytes = bytes
        size = UInt64(bytes.count)
        let sb = Self.superblockOffset
        guard size >= sb + 128 else { throw ErofsError("too small for an EROFS superblock (\(size) bytes)", at: 0) }
        guard Self.u32(bytes, sb) == Self.magic else {
            throw ErofsError("not an EROFS image (magic 0x\(String(Self.u32(bytes, sb), radix: 16)), expected 0xe0f5e1e2)", at: sb)
        }
        let bits = Int(bytes[Int(sb) + 12])
        guard (9...16).contains(bits) else { throw ErofsError("block size 2^\(bits) is not supported", at: sb + 12) }
        superblock = Superblock(blockSizeBits: bits, rootNid: UInt64(Self.u16(bytes, sb + 14)),
                                metaBlockAddress: UInt64(Self.u32(bytes, sb + 40)), inodeCount: Self.u64(bytes, sb + 16),
                                blocks: UInt64(Self.u32(bytes, sb + 36)), extraDevices: Int(Self.u16(bytes, sb + 86)),
                                featureIncompat: Self.u32(bytes, sb + 80))
    }

    /// The blobs' tags from the device table (`mkfs.erofs --blobdev` leaves them empty: the
    /// mount's `-o device=` names the blob then), in device order (device k is index k - 1).
    public var deviceTags: [String] {
        let slotOffset = UInt64(Self.u16(bytes, Self.superblockOffset + 88)) * 128
        return (0..<UInt64(superblock.extraDevices)).map { k in
            let at = slotOffset + k * 128
            guard at + 64 <= size else { return "" }
            return String(decoding: bytes[Int(at)..<Int(at + 64)].prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    // MARK: inodes

    struct Inode {
        var nid: UInt64
        var offset: UInt64
        var extended: Bool
        var layout: Int
        var mode: UInt16
        var size: UInt64
        var rawAddress: UInt32
        /// The end of inode + xattrs: where an inline tail or a chunk table starts.
        var bodyEnd: UInt64
        var kind: Kind {
            switch mode & 0o170000 {
            case 0o100000: return .file
            case 0o040000: return .directory
            case 0o120000: return .symlink
            default: return .other
            }
        }
    }

    func inode(_ nid: UInt64) throws(ErofsError) -> Inode {
        let (offset, overflow) = (superblock.metaBlockAddress << UInt64(superblock.blockSizeBits)).addingReportingOverflow(nid.multipliedReportingOverflow(by: 32).partialValue)
        guard !overflow, nid < (1 << 48), offset + 32 <= size else { throw ErofsError("inode \(nid) lies past the end of the image", at: offset) }
        let format = Self.u16(bytes, offset)
        let extended = format & 1 == 1
        let layout = Int((format >> 1) & 7)
        guard !extended || offset + 64 <= size else { throw ErofsError("inode \(nid) lies past the end of the image", at: offset) }
        let xattrCount = UInt64(Self.u16(bytes, offset + 2))
        let xattrSize: UInt64 = xattrCount == 0 ? 0 : 12 + (xattrCount - 1) * 4
        let size = extended ? Self.u64(bytes, offset + 8) : UInt64(Self.u32(bytes, offset + 8))
        // Sizes are rounded up to blocks and chunks: one near 2^64 would overflow (2^60 is 1 EiB).
        guard size < Self.maxFileSize else { throw ErofsError("inode \(nid): size \(size) is absurd", at: offset + 8) }
        return Inode(nid: nid, offset: offset, extended: extended, layout: layout, mode: Self.u16(bytes, offset + 4),
                     size: size, rawAddress: Self.u32(bytes, offset + 16), bodyEnd: offset + (extended ? 64 : 32) + xattrSize)
    }

    /// The extents of an inode's data; nil for compressed layouts (see `compressedExtents`).
    func extents(_ inode: Inode) throws(ErofsError) -> (extents: [Extent], metadataEnd: UInt64)? {
        var out: [Extent] = []
        guard let end = try appendExtents(inode, to: &out) else { return nil }
        return (out, end)
    }

    /// `extents(_:)` appended to `out` (no array per inode); returns where the inode's metadata
    /// ends, nil for compressed layouts (nothing appended).
    func appendExtents(_ inode: Inode, to out: inout [Extent]) throws(ErofsError) -> UInt64? {
        let block = superblock.blockSize
        switch inode.layout {
        case 0, 2:  // flat plain; flat inline: full blocks, then the tail right after the inode
            // Extents cover whole blocks (what the kernel reads), but for an inline tail.
            let tail = inode.layout == 2 ? inode.size % block : 0
            let full = (inode.size - tail + block - 1) / block * block
            if full > 0 {
                let start = UInt64(inode.rawAddress) << UInt64(superblock.blockSizeBits)
                let (end, overflow) = start.addingReportingOverflow(full)
                guard !overflow, end <= size else {
                    throw ErofsError("inode \(inode.nid): data at \(start) + \(full) lies past the end of the image", at: inode.offset)
                }
                out.append(Extent(logical: 0, physical: start, length: full, device: 0))
            }
            if tail > 0 {
                guard inode.bodyEnd + tail <= size, inode.bodyEnd % block + tail <= block else {
                    throw ErofsError("inode \(inode.nid): inline data crosses a block or the end of the image", at: inode.offset)
                }
                out.append(Extent(logical: full, physical: inode.bodyEnd, length: tail, device: 0))
            }
            return inode.bodyEnd
        case 4:
            return try chunks(inode, to: &out)
        case 1, 3:
            return nil
        default:
            throw ErofsError("inode \(inode.nid): unknown data layout \(inode.layout)", at: inode.offset)
        }
    }

    /// Chunk-based data: the chunk format in the inode says the chunk size and whether the table
    /// holds 8-byte indexes (with a device per chunk) or 4-byte block addresses.
    func chunks(_ inode: Inode, to out: inout [Extent]) throws(ErofsError) -> UInt64 {
        let block = superblock.blockSize
        let table = try chunkTable(inode)
        for i in 0..<table.count {
            let at = table.offset + i * table.entrySize
            let device = table.indexed ? Int(Self.u16(bytes, at + 2)) : 0
            let address = table.indexed ? Self.u32(bytes, at + 4) : Self.u32(bytes, at)
            guard address != Self.nullAddress else { continue }  // a hole
            guard device <= superblock.extraDevices else {
                throw ErofsError("inode \(inode.nid): chunk \(i) names device \(device); the image has \(superblock.extraDevices) extra device(s)", at: at)
            }
            let length = min(table.chunkSize, (inode.size - i * table.chunkSize + block - 1) / block * block)
            let physical = UInt64(address) << UInt64(superblock.blockSizeBits)
            guard device != 0 || physical + length <= size else {
                throw ErofsError("inode \(inode.nid): chunk \(i) lies past the end of the image", at: at)
            }
            out.append(Extent(logical: i * table.chunkSize, physical: physical, length: length, device: device))
        }
        return table.offset + table.count * table.entrySize
    }

    /// Where a chunk-based inode's table lies and what its entries are, checked against the image.
    struct ChunkTable {
        var offset: UInt64
        var count: UInt64
        var chunkSize: UInt64
        /// 8-byte indexes with a device each; else 4-byte block addresses (device 0).
        var indexed: Bool
        var entrySize: UInt64 { indexed ? 8 : 4 }
    }

    func chunkTable(_ inode: Inode) throws(ErofsError) -> ChunkTable {
        let format = inode.rawAddress
        let chunkBits = UInt64(superblock.blockSizeBits) + UInt64(format & 0x1f)
        guard chunkBits < 48 else { throw ErofsError("inode \(inode.nid): chunk size 2^\(chunkBits) is absurd", at: inode.offset) }
        let chunk: UInt64 = 1 << chunkBits
        let indexed = format & 0x20 != 0
        let table = ChunkTable(offset: indexed ? (inode.bodyEnd + 7) & ~7 : inode.bodyEnd, count: (inode.size + chunk - 1) >> chunkBits,
                               chunkSize: chunk, indexed: indexed)
        guard table.count <= UInt64(Self.maxEntries), table.offset + table.count * table.entrySize <= size else {
            throw ErofsError("inode \(inode.nid): a table of \(table.count) chunks lies past the end of the image", at: table.offset)
        }
        return table
    }

    /// One entry of a chunk-based file's table of indexes: where it stands in the image, the
    /// device it names and the chunk's first block there (`nullAddress`: a hole).
    public struct ChunkIndex: Sendable, Equatable {
        public var offset: UInt64
        public var device: Int
        public var blockAddress: UInt32
    }

    /// The chunk indexes of inode `nid` and its chunk size in blocks; nil when its data is not
    /// chunk-based with a device per chunk (other layouts, or 4-byte block maps).
    public func chunkIndexes(nid: UInt64) throws(ErofsError) -> (indexes: [ChunkIndex], chunkBlocks: UInt64)? {
        let inode = try inode(nid)
        guard inode.layout == 4 else { return nil }
        let table = try chunkTable(inode)
        guard table.indexed else { return nil }
        let indexes = (0..<table.count).map { i in
            let at = table.offset + i * table.entrySize
            return ChunkIndex(offset: at, device: Int(Self.u16(bytes, at + 2)), blockAddress: Self.u32(bytes, at + 4))
        }
        return (indexes, table.chunkSize >> UInt64(superblock.blockSizeBits))
    }

    // MARK: directories and the tree

    /// Every inode reached from the root, depth first, directories before their entries (in
    /// the order the directory lists them: by name).
    public func entries() throws(ErofsError) -> [Entry] {
        var out: [Entry] = []
        try walk { v, extents in
            out.append(Entry(path: v.path, nid: v.nid, kind: v.kind, size: v.size, layout: v.layout, extents: Array(extents),
                             compressed: v.compressed, unmapped: v.unmapped, metadata: v.metadata))
        }
        return out
    }

    /// An `Entry` but its extents, as `walk` hands it over.
    public struct Visit {
        public var path: String
        public var nid: UInt64
        public var kind: Kind
        public var size: UInt64
        public var layout: Int
        public var compressed: Bool
        public var unmapped: Bool
        public var metadata: Range<UInt64>
    }

    /// `entries()` one at a time, each with its extents (a slice of one array all the inodes'
    /// extents go to): no array per inode, which is most of the cost of 100,000 small files.
    /// Returns whether every directory's names were sorted: then no path came twice.
    @discardableResult
    public func walk(_ visit: (Visit, ArraySlice<Extent>) -> Void) throws(ErofsError) -> Bool {
        var count = 0
        var unique = true
        var visited = Set<UInt64>()
        // Hard links are decoded once: nid -> its first decoding in `decoded`.
        let expected = Int(min(superblock.inodeCount, 1 << 20))  // room made (not grown by doubling) for this many
        var files = NidTable(expected: expected)
        var decoded: [(extents: Range<Int>, metadataEnd: UInt64, compressed: Bool, unmapped: Bool)] = []
        var pool: [Extent] = []
        decoded.reserveCapacity(expected)
        pool.reserveCapacity(expected)
        // Bytes of chunk tables, compression indexes and directories left to read: in a real
        // image they are disjoint, so a hostile one cannot make many inodes share a huge one.
        var budget = size + 4096
        var stack: [(nid: UInt64, path: String, depth: Int)] = [(superblock.rootNid, "", 0)]
        while let (nid, path, depth) = stack.popLast() {
            guard count < Self.maxEntries, depth < Self.maxDepth else { throw ErofsError("more than \(Self.maxEntries) inodes or \(Self.maxDepth) levels", at: nil) }
            count += 1
            let inode = try inode(nid)
            // A file may have several names (hard links); a directory reached twice is a loop.
            guard inode.kind != .directory || visited.insert(nid).inserted else {
                throw ErofsError("directory loop: directory inode \(nid) is reached again as \(path)", at: inode.offset)
            }
            let mapped: (extents: Range<Int>, metadataEnd: UInt64, compressed: Bool, unmapped: Bool)
            if inode.kind != .directory, let first = files[nid] {
                mapped = decoded[Int(first)]
            } else {
                let lo = pool.count
                let m = try map(inode, path: path, budget: &budget, into: &pool)
                mapped = (lo..<pool.count, m.metadataEnd, m.compressed, m.unmapped)
                if inode.kind != .directory {
                    files[nid] = Int32(decoded.count)
                    decoded.append(mapped)
                }
            }
            visit(Visit(path: path, nid: nid, kind: inode.kind, size: inode.size, layout: inode.layout, compressed: mapped.compressed,
                        unmapped: mapped.unmapped, metadata: inode.offset..<mapped.metadataEnd), pool[mapped.extents])
            guard inode.kind == .directory else { continue }
            let bytes = pool[mapped.extents].reduce(0) { $0 + $1.length }
            guard bytes <= budget else { throw ErofsError("directory \(path.isEmpty ? "/" : path): its \(bytes) bytes are more than the image holds", at: inode.offset) }
            budget -= bytes
            let (data, children, sorted) = try directory(inode, pool[mapped.extents], path: path)
            unique = unique && sorted
            let parent = path.isEmpty ? [] : Array(path.utf8) + [UInt8(ascii: "/")]
            for child in children.reversed() {
                // The parent's path, '/', the name's bytes: one string (invalid UTF-8 in the name
                // repaired as `String(decoding:)` does).
                let name = data[child.name]
                let childPath = String(unsafeUninitializedCapacity: parent.count + name.count) { buffer in
                    _ = buffer.initialize(from: parent)
                    _ = UnsafeMutableBufferPointer(rebasing: buffer[parent.count...]).initialize(from: name)
                    return parent.count + name.count
                }
                stack.append((child.nid, childPath, depth + 1))
            }
        }
        return unique
    }

    /// Which inodes were decoded already: nid -> index (open addressing; nids are spread
    /// enough that a multiplicative hash scatters them).
    struct NidTable {
        private var keys: [UInt64]
        private var values: [Int32]
        private var count = 0

        /// Room for `expected` nids (the superblock's count, at most 2^20, which a hostile image
        /// may state wrong: the table grows, or stays partly empty).
        init(expected: Int) {
            var slots = 64
            while slots < expected * 2 { slots *= 2 }
            (keys, values) = (Array(repeating: .max, count: slots), Array(repeating: 0, count: slots))
        }

        /// Eight consecutive nids (as a directory's files mostly are) share a cache line.
        private func slot(_ nid: UInt64) -> Int {
            let group = Int(truncatingIfNeeded: ((nid >> 3) &* 0x9E37_79B9_7F4A_7C15) >> 29) << 3
            var i = (group | Int(nid & 7)) & (keys.count - 1)
            while keys[i] != nid && keys[i] != .max { i = (i + 1) & (keys.count - 1) }
            return i
        }

        subscript(nid: UInt64) -> Int32? {
            get {
                let i = slot(nid)
                return keys[i] == nid ? values[i] : nil
            }
            set {
                guard let newValue, nid != .max else { return }  // a nid is < 2^48 (`inode` checks)
                if (count + 1) * 2 > keys.count { grow() }
                let i = slot(nid)
                if keys[i] != nid { count += 1 }
                (keys[i], values[i]) = (nid, newValue)
            }
        }

        private mutating func grow() {
            let old = zip(keys, values).filter { $0.0 != .max }
            keys = Array(repeating: .max, count: keys.count * 2)
            values = Array(repeating: 0, count: keys.count)
            count = 0
            for (k, v) in old { self[k] = v }
        }
    }

    /// An inode's extents, whatever its layout, appended to `pool`; its table or index charged
    /// to `budget`.
    func map(_ inode: Inode, path: String, budget: inout UInt64,
             into pool: inout [Extent]) throws(ErofsError) -> (metadataEnd: UInt64, compressed: Bool, unmapped: Bool) {
        guard let metadataEnd = try appendExtents(inode, to: &pool) else {
            guard inode.kind != .directory else { throw ErofsError("directory \(path.isEmpty ? "/" : path) is compressed; not supported", at: inode.offset) }
            let z = try compressedExtents(inode, budget: &budget)
            pool += z.extents
            return (z.metadataEnd, true, z.unmapped)
        }
        let table = metadataEnd - inode.bodyEnd
        guard table <= budget else { throw ErofsError("inode \(inode.nid): a chunk table of \(table) bytes is more than the image holds", at: inode.offset) }
        budget -= table
        return (metadataEnd, false, false)
    }

    /// A directory's entries but `.` and `..`, from its blocks: each block starts with 12-byte
    /// dirents (nid u64, nameoff u16, type u8, reserved u8); the first nameoff says how many.
    /// The names are ranges of the directory's bytes (returned with them).
    /// `sorted`: every name sorts (bytewise) after the one before it, so none is there twice
    /// (mkfs.erofs sorts them; the kernel's lookup relies on it).
    func directory(_ inode: Inode, _ extents: ArraySlice<Extent>, path: String) throws(ErofsError)
        -> (data: [UInt8], children: [(nid: UInt64, name: Range<Int>)], sorted: Bool) {
        let block = superblock.blockSize
        var data: [UInt8] = []
        for e in extents {
            guard e.device == 0 else { throw ErofsError("directory \(path.isEmpty ? "/" : path): its data is on device \(e.device), not in the image", at: inode.offset) }
            data += bytes[Int(e.physical)..<Int(e.physical + e.length)]
        }
        var out: [(nid: UInt64, name: Range<Int>)] = []
        var sorted = true
        var start: UInt64 = 0
        while start < UInt64(data.count) {
            let end = min(start + block, UInt64(data.count))
            guard end - start >= 12 else { throw ErofsError("directory \(path.isEmpty ? "/" : path): a block too short for an entry", at: inode.offset) }
            let first = UInt64(Self.u16(data, start + 8))
            guard first >= 12, first % 12 == 0, first <= end - start else {
                throw ErofsError("directory \(path.isEmpty ? "/" : path): corrupt entry table (first name at \(first))", at: inode.offset)
            }
            let count = first / 12
            for i in 0..<count {
                let at = start + i * 12
                let nameStart = start + UInt64(Self.u16(data, at + 8))
                var nameEnd = i + 1 < count ? start + UInt64(Self.u16(data, at + 20)) : end
                guard nameStart < nameEnd, nameEnd <= end else {
                    throw ErofsError("directory \(path.isEmpty ? "/" : path): corrupt name offsets", at: inode.offset)
                }
                if i + 1 == count, let nul = data[Int(nameStart)..<Int(nameEnd)].firstIndex(of: 0) { nameEnd = UInt64(nul) }
                // The bytes checked, not the characters: cheaper, and a '/' byte followed by a
                // combining mark is still a '/'.
                let name = Int(nameStart)..<Int(nameEnd)
                let previous = sorted ? out.last?.name : nil
                let (slash, dots, after) = data.withUnsafeBufferPointer { d in
                    (d[name].contains(UInt8(ascii: "/")), name.count <= 2 && d[name].allSatisfy { $0 == UInt8(ascii: ".") },
                     previous.map { Self.precedes(d[$0], d[name]) } ?? true)
                }
                guard !name.isEmpty, !slash else {
                    throw ErofsError("directory \(path.isEmpty ? "/" : path): an entry with an empty name or a '/' in it", at: inode.offset)
                }
                if !dots {
                    sorted = sorted && after
                    out.append((Self.u64(data, at), name))
                }
            }
            start = end
        }
        return (data, out, sorted)
    }

    /// `a` sorts before `b`, bytewise (a prefix first).
    static func precedes(_ a: Slice<UnsafeBufferPointer<UInt8>>, _ b: Slice<UnsafeBufferPointer<UInt8>>) -> Bool {
        var (i, j) = (a.startIndex, b.startIndex)
        while i < a.endIndex && j < b.endIndex {
            if a[i] != b[j] { return a[i] < b[j] }
            i += 1
            j += 1
        }
        return a.count < b.count
    }

    // MARK: little-endian reads (callers check bounds)

    @inline(__always)
    static func u16<B: RandomAccessCollection<UInt8>>(_ b: B, _ at: UInt64) -> UInt16 where B.Index == Int {
        UInt16(b[Int(at)]) | UInt16(b[Int(at) + 1]) << 8
    }
    @inline(__always)
    static func u32<B: RandomAccessCollection<UInt8>>(_ b: B, _ at: UInt64) -> UInt32 where B.Index == Int {
        UInt32(u16(b, at)) | UInt32(u16(b, at + 2)) << 16
    }
    @inline(__always)
    static func u64<B: RandomAccessCollection<UInt8>>(_ b: B, _ at: UInt64) -> UInt64 where B.Index == Int {
        UInt64(u32(b, at)) | UInt64(u32(b, at + 4)) << 32
    }
}

/// An image whose metadata cannot be read, with where (byte offset) when known.
public struct ErofsError: Error, Equatable, CustomStringConvertible {
    public var message: String
    public var offset: UInt64?
    public init(_ message: String, at offset: UInt64?) { (self.message, self.offset) = (message, offset) }
    public var description: String { message + (offset.map { " (at byte \($0))" } ?? "") }
}
