/// Compressed EROFS files (layouts 1 and 3, fs/erofs/zmap.c): where each physical cluster
/// (pcluster) of a file lies, read from its compression index, so a READ of the compressed range
/// is blamed on the file it decompresses into.
///
/// After the inode and its xattrs, aligned to 8, stands an 8-byte map header (advise flags, the
/// logical cluster size, the size of an inline tail). Then one index record per logical cluster
/// (lcluster, one block): 8 bytes each in the full layout (1); packed in the compact layout (3),
/// 2 per 8 bytes ("4B") or 16 per 32 bytes ("2B", after a few 4B records that align it), each
/// pack ending with the block address of its first head. A HEAD (or PLAIN, stored uncompressed)
/// lcluster starts a pcluster at `clusterofs` inside it; NONHEAD ones continue it. With big
/// pclusters, the first NONHEAD after a head holds the pcluster's block count (CBLKCNT).
/// ztailpacking keeps the last pcluster inline right after the index (in the inode's block);
/// fragments keep it in the packed inode, whose bytes are not mapped here: unattributed.
extension ErofsImage {
    enum LclusterType: UInt8 { case plain = 0, head1 = 1, nonhead = 2, head2 = 3 }

    static let adviseCompacted2B: UInt16 = 0x0001
    static let adviseBigPcluster1: UInt16 = 0x0002
    static let adviseBigPcluster2: UInt16 = 0x0004
    static let adviseInlinePcluster: UInt16 = 0x0008
    static let adviseFragmentPcluster: UInt16 = 0x0020
    static let adviseExtents: UInt16 = 0x0040
    static let cblkcntFlag: UInt64 = 1 << 11
    /// Z_EROFS_PCLUSTER_MAX_SIZE: no pcluster is larger (1 MiB).
    static let maxPclusterBytes: UInt64 = 1 << 20

    /// One lcluster's index record, decoded.
    struct Lcluster {
        var type: LclusterType
        /// HEAD/PLAIN: where its pcluster's data starts in the lcluster.
        var clusterofs: UInt64 = 0
        /// HEAD/PLAIN: the pcluster's first block.
        var pblk: UInt64 = 0
        /// NONHEAD: distance back to the head (1 when it carries a CBLKCNT).
        var delta0: UInt64 = 0
        /// NONHEAD with CBLKCNT: the pcluster's size in blocks.
        var compressedBlocks: UInt64 = 0
        /// The end of the record's pack: an inline tail stands there.
        var nextPackOffset: UInt64 = 0
    }

    /// How an inode's compression index is laid out.
    struct CompressionIndex {
        var inode: Inode
        var advise: UInt16
        var lclusterBits: Int
        /// Logical clusters of the file, and blocks (the compact layout counts records by blocks).
        var count: UInt64
        var totalBlocks: UInt64
        var inlineSize: UInt64
        /// Full layout: where record 0 is. Compact: the start of the packs (`ebase`).
        var base: UInt64
        var compacted4bInitial: UInt64 = 0
        var compacted2b: UInt64 = 0
        var full: Bool { inode.layout == 1 }
        var bigPcluster1: Bool { advise & ErofsImage.adviseBigPcluster1 != 0 }
        var bigPcluster2: Bool { advise & ErofsImage.adviseBigPcluster2 != 0 }
    }

    /// The pclusters of a compressed file as extents (`length`: the physical bytes a READ touches;
    /// `logicalLength`: the bytes they decompress to), the end of its index (metadata), and
    /// whether part of the data lies where no extent can say (a fragment in the packed inode, an
    /// unknown index format, a device the image does not map).
    /// `budget`: bytes of index still allowed to be read in this image (each lcluster costs at
    /// least 2, so a hostile image cannot make many inodes share one huge index).
    func compressedExtents(_ inode: Inode, budget: inout UInt64) throws(ErofsError) -> (extents: [Extent], metadataEnd: UInt64, unmapped: Bool) {
        guard inode.kind == .file else { throw fail(inode, "a compressed \(inode.kind.rawValue) is not supported") }
        let headerAt = (inode.bodyEnd + 7) & ~7
        guard headerAt + 8 <= size else { throw fail(inode, "its compression header lies past the end of the image") }
        guard inode.size > 0 else { return ([], headerAt + 8, false) }
        if bytes[Int(headerAt + 7)] & 0x80 != 0 {  // the whole file is a fragment of the packed inode
            return ([], headerAt + 8, true)
        }
        let advise = Self.u16(bytes, headerAt + 4)
        if inode.layout == 1 && advise & Self.adviseExtents != 0 { return ([], headerAt + 8, true) }  // extent records (6.15+)
        let index = try compressionIndex(inode, headerAt: headerAt, advise: advise, budget: &budget)
        return try pclusters(index)
    }

    func fail(_ inode: Inode, _ message: String, at: UInt64? = nil) -> ErofsError {
        ErofsError("inode \(inode.nid): \(message)", at: at ?? inode.offset)
    }

    func compressionIndex(_ inode: Inode, headerAt: UInt64, advise: UInt16, budget: inout UInt64) throws(ErofsError) -> CompressionIndex {
        let blockBits = superblock.blockSizeBits
        let lclusterBits = blockBits + Int(bytes[Int(headerAt + 7)] & 15)
        let compact = inode.layout == 3
        guard lclusterBits <= (compact ? 14 : 20) else { throw fail(inode, "logical cluster size 2^\(lclusterBits) is not supported", at: headerAt) }
        if compact && (advise & Self.adviseBigPcluster1 == 0) != (advise & Self.adviseBigPcluster2 == 0) {
            throw fail(inode, "compact index with big pclusters for only one head type", at: headerAt)
        }
        let count = (inode.size - 1) >> UInt64(lclusterBits) + 1
        let totalBlocks = (inode.size - 1) >> UInt64(blockBits) + 1
        guard count * 2 <= budget, totalBlocks <= size else {
            throw fail(inode, "an index of \(count) logical clusters is more than the image holds", at: headerAt)
        }
        budget -= count * 2
        var index = CompressionIndex(inode: inode, advise: advise, lclusterBits: lclusterBits, count: count, totalBlocks: totalBlocks,
                                     inlineSize: advise & (Self.adviseInlinePcluster | Self.adviseFragmentPcluster) == Self.adviseInlinePcluster ? UInt64(Self.u16(bytes, headerAt + 2)) : 0,
                                     base: headerAt + (compact ? 8 : 16))
        if compact {
            index.compacted4bInitial = ((32 - index.base % 32) / 4) & 7
            if advise & Self.adviseCompacted2B != 0 && index.compacted4bInitial < totalBlocks {
                index.compacted2b = (totalBlocks - index.compacted4bInitial) / 16 * 16
            }
        }
        return index
    }

    /// Where lcluster `lcn`'s record lies: its pack's start, the pack's size, the record's slot.
    func recordPlace(_ index: CompressionIndex, _ lcn: UInt64) -> (pack: UInt64, packSize: UInt64, slot: UInt64) {
        if index.full { return (index.base + lcn * 8, 8, 0) }
        var pos = index.base, n = lcn, shift: UInt64 = 2
        if n >= index.compacted4bInitial {
            pos += index.compacted4bInitial * 4
            n -= index.compacted4bInitial
            if n < index.compacted2b { shift = 1 } else { pos += index.compacted2b * 2; n -= index.compacted2b }
        }
        pos += n << shift
        let packSize: UInt64 = shift == 2 ? 8 : 32
        let pack = pos / packSize * packSize
        return (pack, packSize, (pos - pack) >> shift)
    }

    func lcluster(_ index: CompressionIndex, _ lcn: UInt64) throws(ErofsError) -> Lcluster {
        let (pack, packSize, slot) = recordPlace(index, lcn)
        guard pack + packSize <= size else { throw fail(index.inode, "compression index record \(lcn) lies past the end of the image", at: pack) }
        let lclusterSize: UInt64 = 1 << UInt64(index.lclusterBits)
        if index.full {
            let advise = Self.u16(bytes, pack)
            var record = Lcluster(type: LclusterType(rawValue: UInt8(advise & 3))!, nextPackOffset: pack + 8)
            if record.type == .nonhead {
                record.delta0 = UInt64(Self.u16(bytes, pack + 4))
                if record.delta0 & Self.cblkcntFlag != 0 {
                    guard index.bigPcluster1 || index.bigPcluster2 else { throw fail(index.inode, "a block count in record \(lcn) without big pclusters", at: pack) }
                    record.compressedBlocks = record.delta0 & ~Self.cblkcntFlag
                    record.delta0 = 1
                }
            } else {
                record.clusterofs = UInt64(Self.u16(bytes, pack + 2))
                guard record.clusterofs < lclusterSize else { throw fail(index.inode, "record \(lcn) starts its cluster at \(record.clusterofs), past the cluster", at: pack) }
                record.pblk = UInt64(Self.u32(bytes, pack + 4))
            }
            return record
        }
        return try compactLcluster(index, lcn, pack: pack, packSize: packSize, slot: slot)
    }

    /// A compact record: `lobits` of value and 2 bits of type per slot, the pack's last 4 bytes
    /// the block address its heads count from.
    func compactLcluster(_ index: CompressionIndex, _ lcn: UInt64, pack: UInt64, packSize: UInt64, slot: UInt64) throws(ErofsError) -> Lcluster {
        let vcnt = packSize == 8 ? 2 : 16
        guard packSize == 8 || index.lclusterBits <= 12 else { throw fail(index.inode, "2-byte compact records need 4 KiB clusters", at: pack) }
        let lobits = max(UInt64(index.lclusterBits), 12)
        let encodeBits = (packSize - 4) * 8 / UInt64(vcnt)
        func decode(_ i: Int) -> (lo: UInt64, type: LclusterType) {
            let bit = encodeBits * UInt64(i)
            let v = UInt64(Self.u32(bytes, pack + bit / 8)) >> (bit & 7)
            return (v & ((1 << lobits) - 1), LclusterType(rawValue: UInt8((v >> lobits) & 3))!)
        }
        let i = Int(slot)
        let (lo, type) = decode(i)
        var record = Lcluster(type: type, nextPackOffset: pack + packSize)
        let big = index.bigPcluster1
        if type == .nonhead {
            if lo & Self.cblkcntFlag != 0 {
                guard big else { throw fail(index.inode, "a block count in record \(lcn) without big pclusters", at: pack) }
                record.compressedBlocks = lo & ~Self.cblkcntFlag
                record.delta0 = 1
            } else if i + 1 != vcnt {
                record.delta0 = lo
            } else {  // the pack's last slot holds delta[1]: delta[0] comes from the slot before
                let previous = decode(i - 1)
                record.delta0 = (previous.type != .nonhead ? 0 : previous.lo & Self.cblkcntFlag != 0 ? 1 : previous.lo) + 1
            }
            return record
        }
        guard lo < 1 << UInt64(index.lclusterBits) else { throw fail(index.inode, "record \(lcn) starts its cluster at \(lo), past the cluster", at: pack) }
        record.clusterofs = lo
        // The pack's last 4 bytes address a block; this head's pcluster starts after the blocks
        // of the pclusters whose heads come before it in the pack (walking back over NONHEADs).
        var blocksBefore: UInt64 = big ? 0 : 1
        var j = i
        while j > 0 {
            j -= 1
            let (value, kind) = decode(j)
            guard kind == .nonhead else { blocksBefore += 1; continue }
            if !big {  // 1 block per pcluster: skip back to the NONHEAD's head, count it if in the pack
                j -= Int(value)
                if j >= 0 { blocksBefore += 1 }
            } else if value & Self.cblkcntFlag != 0 {  // a big pcluster's first NONHEAD: its size, then its head
                j -= 1
                blocksBefore += value & ~Self.cblkcntFlag
            } else {  // a later NONHEAD: skip to the one that holds the size
                guard value > 1 else { throw fail(index.inode, "record \(lcn): a big-pcluster pack with a plain distance of \(value)", at: pack) }
                j -= Int(value) - 2
            }
        }
        record.pblk = UInt64(Self.u32(bytes, pack + packSize - 4)) + blocksBefore
        return record
    }

    /// The file's pclusters, in logical order, from its heads.
    func pclusters(_ index: CompressionIndex) throws(ErofsError) -> (extents: [Extent], metadataEnd: UInt64, unmapped: Bool) {
        let inode = index.inode
        let bits = UInt64(index.lclusterBits)
        let lastPlace = recordPlace(index, index.count - 1)
        let indexEnd = lastPlace.pack + lastPlace.packSize
        guard indexEnd <= size else { throw fail(inode, "its compression index of \(index.count) records lies past the end of the image", at: index.base) }
        var heads: [(lcn: UInt64, record: Lcluster)] = []
        var records: [Lcluster] = []
        records.reserveCapacity(Int(index.count))
        for lcn in 0..<index.count {
            let record = try lcluster(index, lcn)
            records.append(record)
            if record.type != .nonhead { heads.append((lcn, record)) }
        }
        guard let first = heads.first, first.lcn == 0, first.record.clusterofs == 0 else {
            throw fail(inode, "its compressed data does not start with a head cluster", at: index.base)
        }
        let fragment = index.advise & Self.adviseFragmentPcluster != 0
        var extents: [Extent] = []
        var unmapped = false
        for (k, head) in heads.enumerated() {
            let start = head.lcn << bits + head.record.clusterofs
            guard start < inode.size else { break }
            let end = k + 1 < heads.count ? min(inode.size, heads[k + 1].lcn << bits + heads[k + 1].record.clusterofs) : inode.size
            let isTail = end == inode.size
            if isTail && index.inlineSize > 0 {
                let at = records[Int(index.count - 1)].nextPackOffset
                guard at % superblock.blockSize + index.inlineSize <= superblock.blockSize, at + index.inlineSize <= size else {
                    throw fail(inode, "its inline tail of \(index.inlineSize) bytes crosses a block or the end of the image", at: at)
                }
                try checkPlain(index, head, logicalLength: end - start, physicalLength: index.inlineSize)
                extents.append(Extent(logical: start, physical: at, length: index.inlineSize, device: 0, logicalLength: end - start))
                continue
            }
            if isTail && fragment { unmapped = true; continue }
            let blocks = try pclusterBlocks(index, head, records)
            let physical = head.record.pblk << UInt64(superblock.blockSizeBits)
            let length = blocks << UInt64(superblock.blockSizeBits)
            try checkPlain(index, head, logicalLength: end - start, physicalLength: length)
            guard physical + length <= size else {
                if superblock.extraDevices > 0 { unmapped = true; continue }  // a device the mount maps; not this image
                throw fail(inode, "a pcluster at \(physical) + \(length) lies past the end of the image", at: index.base)
            }
            extents.append(Extent(logical: start, physical: physical, length: length, device: 0, logicalLength: end - start))
        }
        return (extents, indexEnd, unmapped)
    }

    /// Data stored as is (PLAIN) cannot be longer than its pcluster.
    func checkPlain(_ index: CompressionIndex, _ head: (lcn: UInt64, record: Lcluster), logicalLength: UInt64, physicalLength: UInt64) throws(ErofsError) {
        guard head.record.type != .plain || logicalLength <= physicalLength else {
            throw fail(index.inode, "record \(head.lcn): \(logicalLength) bytes stored uncompressed in a pcluster of \(physicalLength)", at: index.base)
        }
    }

    /// A pcluster's size in blocks: 1, or with big pclusters the CBLKCNT of the first NONHEAD after its head.
    func pclusterBlocks(_ index: CompressionIndex, _ head: (lcn: UInt64, record: Lcluster), _ records: [Lcluster]) throws(ErofsError) -> UInt64 {
        let big = head.record.type == .head1 ? index.bigPcluster1 : index.bigPcluster2
        guard big, head.lcn + 1 < index.count else { return 1 }
        let next = records[Int(head.lcn + 1)]
        guard next.type == .nonhead else { return 1 }
        guard next.delta0 == 1 else { throw fail(index.inode, "record \(head.lcn + 1) lacks the block count of its big pcluster", at: index.base) }
        let blocks = max(next.compressedBlocks, 1)
        guard blocks << UInt64(superblock.blockSizeBits) <= Self.maxPclusterBytes else {
            throw fail(index.inode, "a pcluster of \(blocks) blocks is larger than EROFS allows", at: index.base)
        }
        return blocks
    }
}
