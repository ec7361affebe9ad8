import ErofsFormat
import OndemandTraceCore

// The glue from `ErofsFormat`'s layout to the core's byte owners and blame: the core knows no
// image format, the format knows nothing of ours.

extension ImageFiles {
    /// An EROFS image as the blame sees it: the owners of its bytes, its blobs' tags.
    public static func blameImage(_ named: (name: String, image: ErofsImage)) throws(ImageMatching.Failure) -> ImageMatching.Image {
        let map: ImageRangeMap
        do { map = try ImageRangeMap(image: named.image) } catch { throw ImageMatching.Failure("\(named.name): \(error)") }
        return ImageMatching.Image(name: named.name, size: named.image.size, map: map, deviceTags: named.image.deviceTags)
    }
}

/// The glue from `ErofsFormat`'s layout to the core's byte owners: the core knows no format.
extension ImageRangeMap {
    static func builder(_ image: ErofsImage, files: Int = 0, unique: Bool = false) -> Builder {
        Builder(blockSize: image.superblock.blockSize, header: ErofsImage.headerBytes, files: files, unique: unique)
    }

    static func extents(_ extents: some Collection<ErofsImage.Extent>) -> some Sequence<Extent> {
        extents.lazy.map { Extent(physical: $0.physical, length: $0.length, device: $0.device) }
    }

    /// The map of `image` from its listed entries (tests, the fuzzer: every path looked up).
    public init(image: ErofsImage, entries: [ErofsImage.Entry]) {
        var builder = Self.builder(image)
        for e in entries {
            builder.add(path: e.path, isDirectory: e.kind == .directory, extents: Self.extents(e.extents), metadata: e.metadata, unmapped: e.unmapped)
        }
        self = builder.finish()
    }

    /// The map of `image`, its inodes read one at a time (`image.walk`, without an array per inode).
    public init(image: ErofsImage) throws(ErofsError) {
        // Paths are unique when every directory's names are sorted (as mkfs.erofs writes
        // them): else made again, each path looked up.
        let files = Int(min(image.superblock.inodeCount, 1 << 20))
        var builder = Self.builder(image, files: files, unique: true)
        func add(_ v: ErofsImage.Visit, _ extents: ArraySlice<ErofsImage.Extent>) {
            builder.add(path: v.path, isDirectory: v.kind == .directory, extents: Self.extents(extents), metadata: v.metadata, unmapped: v.unmapped)
        }
        if !(try image.walk(add)) {
            builder = Self.builder(image, files: files)
            try image.walk(add)
        }
        self = builder.finish()
    }
}
