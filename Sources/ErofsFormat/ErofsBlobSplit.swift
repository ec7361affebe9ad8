/// Splits the data blob of a bootstrap + one blob in two: a bootstrap with two blobs, as Nydus
/// images have (erofs-utils 1.5's mkfs.erofs writes one `--blobdev` only). For `vm/make-image
/// twoblobs`, through `erofs-tool split-blob`.
///
/// The chunks in the second half of the blob move to device 2: their chunk indexes are rewritten
/// (device 2, address less the first half's blocks), and the device table moves to a new last
/// block with a second slot (the inodes follow the old table, which has no room to grow). The
/// superblock checksum feature is cleared rather than recomputed. Every file's bytes stay the
/// same, so the image's tree still holds.
public struct ErofsBlobSplit: Sendable {
    /// The bootstrap, rewritten.
    public var image: [UInt8]
    /// The first blob is the old one's first `firstBlobBytes` bytes; the second blob the rest.
    public var firstBlobBytes: UInt64
    public var movedChunks: Int
    public var blobBlocks: UInt64
    public var secondBlobBlocks: UInt64

    static let deviceSlotSize: UInt64 = 128
    static let slotBlocksOffset: UInt64 = 64

    /// `bytes`: a bootstrap with one extra device; `blobSize`: that blob's size (mkfs.erofs 1.5
    /// leaves the slot's block count 0: the blob file's size says it then).
    public init(image bytes: [UInt8], blobSize: UInt64) throws(ErofsError) {
        let erofs = try ErofsImage(bytes: bytes)
        let sb = ErofsImage.superblockOffset
        guard erofs.superblock.extraDevices == 1 else {
            throw ErofsError("\(erofs.superblock.extraDevices) extra devices, expected 1", at: sb + 86)
        }
        let block = erofs.superblock.blockSize
        let slot = UInt64(ErofsImage.u16(bytes, sb + 88)) * Self.deviceSlotSize
        guard slot + Self.deviceSlotSize <= erofs.size else { throw ErofsError("the device table lies past the end of the image", at: sb + 88) }
        let stated = UInt64(ErofsImage.u32(bytes, slot + Self.slotBlocksOffset))
        blobBlocks = stated != 0 ? stated : (blobSize + block - 1) / block
        let indexes = try Self.chunkIndexes(erofs)
        guard let chunkBlocks = indexes.chunkBlocks else { throw ErofsError("nothing to move (no chunk-based file)", at: nil) }
        let half = blobBlocks / chunkBlocks / 2 * chunkBlocks
        var out = bytes
        movedChunks = 0
        for index in indexes.list where index.device == 1 && index.blockAddress != ErofsImage.nullAddress && UInt64(index.blockAddress) >= half {
            Self.put16(&out, index.offset + 2, 2)
            Self.put32(&out, index.offset + 4, index.blockAddress - UInt32(half))
            movedChunks += 1
        }
        guard half > 0, movedChunks > 0 else { throw ErofsError("nothing to move (no chunk in the second half of the blob)", at: nil) }
        // The new device table in a new last block: slot 1 as it was but for its blocks, slot 2 for the rest.
        let table = (UInt64(out.count) + block - 1) / block * block
        out += [UInt8](repeating: 0, count: Int(table + block) - out.count)
        out.replaceSubrange(Int(table)..<Int(table + Self.deviceSlotSize), with: bytes[Int(slot)..<Int(slot + Self.deviceSlotSize)])
        secondBlobBlocks = blobBlocks - half
        Self.put32(&out, table + Self.slotBlocksOffset, UInt32(half))
        Self.put32(&out, table + Self.deviceSlotSize + Self.slotBlocksOffset, UInt32(secondBlobBlocks))
        Self.put16(&out, sb + 88, UInt16(table / Self.deviceSlotSize))
        Self.put16(&out, sb + 86, 2)
        Self.put32(&out, sb + 36, UInt32(UInt64(out.count) / block))
        Self.put32(&out, sb + 8, ErofsImage.u32(out, sb + 8) & ~1)  // no superblock checksum
        (image, firstBlobBytes) = (out, half * block)
    }

    /// Every chunk index of the image's chunk-based files (a file of several names once), and
    /// their chunk size in blocks (one for the whole image, as mkfs.erofs makes it).
    static func chunkIndexes(_ erofs: ErofsImage) throws(ErofsError) -> (list: [ErofsImage.ChunkIndex], chunkBlocks: UInt64?) {
        var list: [ErofsImage.ChunkIndex] = []
        var chunkBlocks: UInt64?
        var seen = Set<UInt64>()
        for entry in try erofs.entries() where entry.kind == .file && entry.layout == 4 && seen.insert(entry.nid).inserted {
            guard let chunked = try erofs.chunkIndexes(nid: entry.nid) else {
                throw ErofsError("\(entry.path): chunk block maps without device ids", at: entry.metadata.lowerBound)
            }
            guard chunkBlocks == nil || chunkBlocks == chunked.chunkBlocks else {
                throw ErofsError("\(entry.path): chunks of \(chunked.chunkBlocks) blocks, others of \(chunkBlocks!)", at: entry.metadata.lowerBound)
            }
            chunkBlocks = chunked.chunkBlocks
            list += chunked.indexes
        }
        return (list, chunkBlocks)
    }

    static func put16(_ b: inout [UInt8], _ at: UInt64, _ v: UInt16) {
        b[Int(at)] = UInt8(truncatingIfNeeded: v)
        b[Int(at) + 1] = UInt8(truncatingIfNeeded: v >> 8)
    }

    static func put32(_ b: inout [UInt8], _ at: UInt64, _ v: UInt32) {
        put16(&b, at, UInt16(truncatingIfNeeded: v))
        put16(&b, at + 2, UInt16(truncatingIfNeeded: v >> 16))
    }
}
