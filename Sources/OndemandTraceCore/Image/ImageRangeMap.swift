/// Which file owns each byte of an image or of one of its blobs: the answer to "what was this
/// READ of [offset, offset + length) for". Built by a `Builder` from an image's layout (EROFS:
/// `ImageRangeMap(image:)` in TraceFiles, over `ErofsFormat`'s reader).
public struct ImageRangeMap: Sendable {
    public enum Owner: Sendable, Hashable, Comparable, CustomStringConvertible {
        /// A file, by its path relative to the image root.
        case file(String)
        /// Superblock, inodes, xattrs, chunk tables and directory blocks.
        case metadata
        /// Bytes no file claims (padding, free blocks, the packed inode's fragments).
        case unattributed

        public var description: String {
            switch self {
            case .file(let path): return path
            case .metadata: return "(metadata)"
            case .unattributed: return "(unattributed)"
            }
        }
    }

    struct Segment: Sendable {
        var start: UInt64
        var end: UInt64
        /// Index into `table.owners`: reads compare and hash integers, not paths.
        var owner: Int32
        /// A file's bytes inside an inode block (an inline tail): they come with the metadata,
        /// whoever the READ was for.
        var inline = false
    }

    /// Per device: non-overlapping segments sorted by start.
    private var segments: [Int: [Segment]] = [:]
    /// Paths of files part of whose data the map cannot place (an inode's `unmapped`):
    /// reads of that part are unattributed, but the file is known to exist.
    public private(set) var unmappedFiles: [String] = []

    /// A map made by a `Builder`: one `add` per inode of the image, then `finish`.
    init(segments: [Int: [Segment]], unmappedFiles: [String], table: OwnerTable) {
        (self.segments, self.unmappedFiles, self.table) = (segments, unmappedFiles, table)
    }

    /// A run of an image's bytes: `length` bytes at `physical` on `device` (0: the image; k ≥ 1:
    /// its k-th blob). The image format's reader says where each file's runs lie.
    public struct Extent: Sendable {
        public var physical: UInt64
        public var length: UInt64
        public var device: Int
        @inline(__always)
        public init(physical: UInt64, length: UInt64, device: Int) { (self.physical, self.length, self.device) = (physical, length, device) }
    }

    /// The map's making, inode by inode (the glue from an image format's layout:
    /// `TraceFiles/ImageFiles.swift`).
    public struct Builder {
        var files: [Int: [Segment]] = [:]
        var device0: [Segment] = []  // most extents: no dictionary lookup for them
        var metadata: [Segment] = []
        let block: UInt64
        var owners: [Owner] = [.metadata, .unattributed]
        var ids = PathIDs()
        var unmappedFiles: [String] = []

        /// No path comes twice: each file its own id, no lookup.
        let unique: Bool

        /// `header`: the bytes every image of the format holds as metadata (its superblock);
        /// `files`: how many to make room for; `unique`: the caller knows no path comes twice.
        public init(blockSize: UInt64, header: Range<UInt64>, files: Int = 0, unique: Bool = false) {
            block = blockSize
            self.unique = unique
            ids = PathIDs(expected: unique ? 0 : files)
            owners.reserveCapacity(files + 2)
            device0.reserveCapacity(files)
            metadata.append(blocks(header))
        }

        func blocks(_ range: Range<UInt64>) -> Segment {
            Segment(start: range.lowerBound / block * block, end: (range.upperBound + block - 1) / block * block, owner: ImageRangeMap.metadataID)
        }

        /// One inode reached from the root: a directory's data counts as metadata, any other's
        /// as the file's at `path`. `metadata`: the inode's own bytes; `unmapped`: part of its
        /// data lies where `extents` cannot say.
        public mutating func add<Extents: Sequence<Extent>>(path: String, isDirectory: Bool, extents: Extents,
                                                            metadata range: Range<UInt64>, unmapped: Bool) {
            // Inodes share blocks: the same block again adds nothing (`flatten` would drop it).
            let inode = blocks(range)
            if let last = metadata.last, last.owner == ImageRangeMap.metadataID, !last.inline, last.start == inode.start, last.end == inode.end {} else {
                metadata.append(inode)
            }
            if unmapped { unmappedFiles.append(path) }
            var id = ImageRangeMap.metadataID
            if !isDirectory {
                let next = Int32(owners.count)
                id = unique ? next : ids.id(path, next: next, owners: owners)  // the path's id, or next, now its own
                if id == next { owners.append(.file(path)) }
            }
            for e in extents where e.length > 0 {
                let segment = Segment(start: e.physical, end: e.physical + e.length, owner: id,
                                      inline: e.device == 0 && e.physical % block != 0)
                if isDirectory { metadata.append(segment) } else if e.device == 0 { device0.append(segment) } else { files[e.device, default: []].append(segment) }
            }
        }

        public mutating func finish() -> ImageRangeMap {
            // Files first (an inline tail sits in an inode block), then metadata fills what is left.
            var segments: [Int: [Segment]] = [:]
            if !device0.isEmpty { files[0] = device0 }
            for (device, list) in files { segments[device] = ImageRangeMap.flatten(list, under: []) }
            segments[0] = ImageRangeMap.flatten(metadata, under: segments[0] ?? [])
            return ImageRangeMap(segments: segments, unmappedFiles: unmappedFiles, table: OwnerTable(owners))
        }
    }

    /// Paths to owner ids (open addressing over an FNV-1a hash of the path's bytes: cheaper than
    /// `Dictionary`'s for 100,000 short paths).
    struct PathIDs {
        private var slots: [Int32]
        private var hashes: [UInt64]
        private var count = 0

        init(expected: Int = 0) {
            var n = 1024
            while n < expected * 2 { n *= 2 }
            (slots, hashes) = ([Int32](repeating: -1, count: n), [UInt64](repeating: 0, count: n))
        }

        static func hash(_ path: String) -> UInt64 {
            var path = path
            return path.withUTF8 { bytes in
                var h: UInt64 = 0xcbf2_9ce4_8422_2325
                for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
                h = (h ^ (h >> 29)) &* 0xbf58_476d_1ce4_e5b9  // mixed: paths that differ in their last byte differ in every bit
                return h ^ (h >> 32)
            }
        }

        /// `path`'s id in `owners` (a `.file`), or `next` when it has none yet (then it is `next`).
        mutating func id(_ path: String, next: Int32, owners: [Owner]) -> Int32 {
            if (count + 1) * 2 > slots.count { grow(owners) }
            let h = Self.hash(path)
            var i = Int(truncatingIfNeeded: h) & (slots.count - 1)
            while slots[i] >= 0 {
                if hashes[i] == h, case .file(let known) = owners[Int(slots[i])], known == path { return slots[i] }
                i = (i + 1) & (slots.count - 1)
            }
            (slots[i], hashes[i]) = (next, h)
            count += 1
            return next
        }

        private mutating func grow(_ owners: [Owner]) {
            let old = zip(slots, hashes).filter { $0.0 >= 0 }
            slots = [Int32](repeating: -1, count: slots.count * 2)
            hashes = [UInt64](repeating: 0, count: slots.count)
            for (id, h) in old {
                var i = Int(truncatingIfNeeded: h) & (slots.count - 1)
                while slots[i] >= 0 { i = (i + 1) & (slots.count - 1) }
                (slots[i], hashes[i]) = (id, h)
            }
        }
    }

    /// `fill`'s segments added where `base` leaves gaps; the first claim of a byte wins.
    static func flatten(_ fill: [Segment], under base: [Segment]) -> [Segment] {
        if base.isEmpty, zip(fill, fill.dropFirst()).allSatisfy({ $0.end <= $1.start && $1.start < $1.end }), fill.first.map({ $0.start < $0.end }) ?? true {
            return fill  // sorted, apart, none empty: as it is (most files' extents)
        }
        let out = byStart(base)
        var claimed: [Segment] = []
        for var s in byStart(fill) {
            if let last = claimed.last, last.end > s.start { s.start = last.end }
            guard s.start < s.end else { continue }
            claimed.append(s)
        }
        // Cut the fill around the base's segments.
        var merged: [Segment] = []
        var i = 0
        for s in claimed {
            var piece = s
            while i < out.count && out[i].end <= piece.start { i += 1 }
            var j = i
            while j < out.count && out[j].start < piece.end {
                if out[j].start > piece.start { merged.append(Segment(start: piece.start, end: out[j].start, owner: piece.owner, inline: piece.inline)) }
                piece.start = max(piece.start, out[j].end)
                j += 1
            }
            if piece.start < piece.end { merged.append(piece) }
        }
        // Both sorted, no start twice (the pieces lie in the base's gaps): merge them.
        var all: [Segment] = []
        all.reserveCapacity(out.count + merged.count)
        var (a, b) = (0, 0)
        while a < out.count || b < merged.count {
            if b == merged.count || (a < out.count && out[a].start < merged[b].start) { all.append(out[a]); a += 1 } else { all.append(merged[b]); b += 1 }
        }
        return all
    }

    /// Sorted by start (stably: of two claims of one byte the first given wins); most lists come
    /// sorted already.
    static func byStart(_ list: [Segment]) -> [Segment] {
        for i in list.indices.dropFirst() where list[i - 1].start > list[i].start { return list.sorted { $0.start < $1.start } }
        return list
    }

    /// The owners of [offset, offset + length) on `device`, with the bytes of each, in order.
    public func owners(device: Int, offset: UInt64, length: UInt64) -> [(owner: Owner, bytes: UInt64)] {
        ownersWithInline(device: device, offset: offset, length: length).map { (table.owners[Int($0.owner)], $0.bytes) }
    }

    /// Owner `id` of `ownersWithInline`.
    public func owner(_ id: Int32) -> Owner { table.owners[Int(id)] }
    /// Tells this map's owner ids from another map's.
    public var ownerTable: ObjectIdentifier { ObjectIdentifier(table) }

    static let metadataID: Int32 = 0, unattributedID: Int32 = 1
    /// Owner ids: 0 metadata, 1 unattributed, then each file once.
    final class OwnerTable: Sendable {
        let owners: [Owner]
        init(_ owners: [Owner]) { self.owners = owners }
    }
    private let table: OwnerTable

    /// The same, with where each owner's first byte not inline in an inode block lies (bytes only
    /// a read of that file fetches); nil when all its bytes here are inline.
    public func ownersWithInline(device: Int, offset: UInt64, length: UInt64) -> [(owner: Int32, bytes: UInt64, ownStart: UInt64?)] {
        let end = offset &+ length < offset ? UInt64.max : offset + length
        var out: [(owner: Int32, bytes: UInt64, ownStart: UInt64?)] = []
        segmentList(device: device).withUnsafeBufferPointer { list in
            Self.walk(list, offset: offset, end: end, unattributed: Self.unattributedID) { owner, bytes, start, inline in
                if let i = out.lastIndex(where: { $0.owner == owner }) {
                    out[i].bytes += bytes
                    if !inline, out[i].ownStart == nil { out[i].ownStart = start }
                } else {
                    out.append((owner, bytes, inline ? nil : start))
                }
            }
        }
        return out
    }

    /// The segments of `device`, sorted by start (owner ids index `owner(_:)`).
    func segmentList(device: Int) -> [Segment] { segments[device] ?? [] }
    /// How many owner ids there are (0 ..< ownerCount).
    var ownerCount: Int { table.owners.count }

    /// Calls `body(owner, bytes, start, inline)` for each piece of [offset, end) over the sorted,
    /// non-overlapping `list`, in order: a segment's part, or a gap between segments (unattributed).
    /// A piece's owner may come again later in the same range (a file in two extents).
    @inline(__always)
    /// `within`: where the first segment ending past `offset` lies, when the caller knows (see
    /// `SegmentIndex`).
    static func walk(_ list: UnsafeBufferPointer<Segment>, within: (low: Int, high: Int)? = nil, offset: UInt64, end: UInt64,
                     unattributed: Int32, _ body: (_ owner: Int32, _ bytes: UInt64, _ start: UInt64, _ inline: Bool) -> Void) {
        var (low, high) = within ?? (0, list.count)
        while low < high {
            let mid = (low + high) / 2
            if list[mid].end <= offset { low = mid + 1 } else { high = mid }
        }
        var at = offset
        var i = low
        while at < end && i < list.count && list[i].start < end {
            let s = list[i]
            if s.start > at { body(unattributed, s.start - at, at, false); at = s.start }
            let stop = min(end, s.end)
            if stop > at { body(s.owner, stop - at, at, s.inline) }
            at = stop
            i += 1
        }
        if at < end { body(unattributed, end - at, at, false) }
    }

    /// A coarse table over sorted segments: for bucket b of 2^shift bytes, the first segment
    /// ending past b << shift. About one bucket per segment, so a lookup narrows the binary search
    /// to a segment or two (a search over 100,000 segments costs more than walking a READ).
    struct SegmentIndex {
        let shift: UInt64
        /// firstEndingPast[b] for b in 0...buckets; the last is the segment count.
        let firstEndingPast: [Int32]

        init(_ list: UnsafeBufferPointer<Segment>) {
            let top = list.last?.end ?? 0
            let per = max(1, top / UInt64(max(1, list.count)))
            let shift = UInt64(min(63, 64 - per.leadingZeroBitCount))
            let buckets = Int(top >> shift) + 1
            var table = [Int32](repeating: 0, count: buckets + 1)
            var i = 0
            for b in 0...buckets {
                let x = UInt64(b).multipliedReportingOverflow(by: 1 << shift)
                let at = x.overflow ? UInt64.max : x.partialValue
                while i < list.count && list[i].end <= at { i += 1 }
                table[b] = Int32(i)
            }
            (self.shift, firstEndingPast) = (shift, table)
        }

        /// The range that holds the first segment ending past `offset`.
        @inline(__always)
        func within(_ offset: UInt64) -> (low: Int, high: Int) {
            let last = firstEndingPast.count - 1
            let b = Int(min(offset >> shift, UInt64(last)))
            return (Int(firstEndingPast[b]), Int(firstEndingPast[min(b + 1, last)]))
        }
    }
}
