/// Which file owns each byte of an image or of one of its blobs: the answer to "what was this
/// READ of [offset, offset + length) for". Built from `ErofsImage.entries()`.
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
        var owner: Owner
        /// A file's bytes inside an inode block (an inline tail): they come with the metadata,
        /// whoever the READ was for.
        var inline = false
    }

    /// Per device: non-overlapping segments sorted by start.
    private var segments: [Int: [Segment]] = [:]
    /// Paths of files part of whose data the map cannot place (`ErofsImage.Entry.unmapped`):
    /// reads of that part are unattributed, but the file is known to exist.
    public private(set) var unmappedFiles: [String] = []

    public init(image: ErofsImage, entries: [ErofsImage.Entry]) {
        var files: [Int: [Segment]] = [:]
        var metadata: [Segment] = []
        let block = image.superblock.blockSize
        func blocks(_ range: Range<UInt64>) -> Segment {
            Segment(start: range.lowerBound / block * block, end: (range.upperBound + block - 1) / block * block, owner: .metadata)
        }
        metadata.append(blocks(0..<(ErofsImage.superblockOffset + 128)))
        for entry in entries {
            metadata.append(blocks(entry.metadata))
            if entry.unmapped { unmappedFiles.append(entry.path) }
            for e in entry.extents where e.length > 0 {
                let segment = Segment(start: e.physical, end: e.physical + e.length,
                                      owner: entry.kind == .directory ? .metadata : .file(entry.path),
                                      inline: e.device == 0 && e.physical % block != 0)
                if entry.kind == .directory { metadata.append(segment) } else { files[e.device, default: []].append(segment) }
            }
        }
        // Files first (an inline tail sits in an inode block), then metadata fills what is left.
        for (device, list) in files { segments[device] = Self.flatten(list, under: []) }
        segments[0] = Self.flatten(metadata, under: segments[0] ?? [])
    }

    /// `fill`'s segments added where `base` leaves gaps; the first claim of a byte wins.
    static func flatten(_ fill: [Segment], under base: [Segment]) -> [Segment] {
        var out = base.sorted { $0.start < $1.start }
        var claimed: [Segment] = []
        for var s in fill.sorted(by: { $0.start < $1.start }) {
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
        out += merged
        return out.sorted { $0.start < $1.start }
    }

    /// The owners of [offset, offset + length) on `device`, with the bytes of each, in order.
    public func owners(device: Int, offset: UInt64, length: UInt64) -> [(owner: Owner, bytes: UInt64)] {
        ownersWithInline(device: device, offset: offset, length: length).map { ($0.owner, $0.bytes) }
    }

    /// The same, with the bytes of each owner that are not inline in an inode block (the ones
    /// only a read of that file fetches) and where the first of them lies.
    public func ownersWithInline(device: Int, offset: UInt64, length: UInt64) -> [(owner: Owner, bytes: UInt64, ownBytes: UInt64, ownStart: UInt64?)] {
        let end = offset &+ length < offset ? UInt64.max : offset + length
        let list = segments[device] ?? []
        var low = 0, high = list.count
        while low < high {
            let mid = (low + high) / 2
            if list[mid].end <= offset { low = mid + 1 } else { high = mid }
        }
        var out: [(owner: Owner, bytes: UInt64, ownBytes: UInt64, ownStart: UInt64?)] = []
        func add(_ owner: Owner, _ bytes: UInt64, at start: UInt64, inline: Bool = false) {
            guard bytes > 0 else { return }
            let own = inline ? 0 : bytes
            if let i = out.firstIndex(where: { $0.owner == owner }) {
                out[i].bytes += bytes
                out[i].ownBytes += own
                if own > 0, out[i].ownStart == nil { out[i].ownStart = start }
            } else {
                out.append((owner, bytes, own, own > 0 ? start : nil))
            }
        }
        var at = offset
        var i = low
        while at < end && i < list.count && list[i].start < end {
            if list[i].start > at { add(.unattributed, list[i].start - at, at: at); at = list[i].start }
            let stop = min(end, list[i].end)
            add(list[i].owner, stop - at, at: at, inline: list[i].inline)
            at = stop
            i += 1
        }
        if at < end { add(.unattributed, end - at, at: at) }
        return out
    }
}
