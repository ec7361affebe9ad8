/// Which files made the readers wait: each READ's range, on the image or blob behind its object,
/// mapped to the files (and metadata) it covers. A READ that spans several files counts for each
/// (its reader waited for all of them); its bytes are split exactly.
public struct FileBlame: Sendable {
    /// An image or blob file that can back a cachefiles object.
    public struct Source: Sendable {
        /// The name given (`--image NAME` or `OBJ=NAME`).
        public var name: String
        public var size: UInt64
        /// The byte owners of the EROFS image this source belongs to (its bootstrap's for a blob).
        public var map: ImageRangeMap
        /// 0: the image itself; k: its k-th blob.
        public var device: Int

        public init(name: String, size: UInt64, map: ImageRangeMap, device: Int) {
            (self.name, self.size, self.map, self.device) = (name, size, map, device)
        }
    }

    /// The round trips of the answered READs that touched a row: what a
    /// `LatencyRecorder(significantDigits: 3, exactLimit: FileBlame.exactLimit)` of them reports
    /// (exact percentiles up to that many values, else the top of the HdrHistogram bucket).
    public struct Wait: Sendable {
        public var count: UInt64 = 0
        public var maxNanoseconds: UInt64 = 0
        public var summary = LatencySummary(count: 0)
    }

    public struct Row: Sendable {
        public var owner: ImageRangeMap.Owner
        public var firstMiss: UInt64
        /// The first READ of bytes only a read of this file fetches (not an inline tail in an
        /// inode block, which comes with the metadata), and where in it they start: nil when
        /// there was none.
        public var firstOwnMiss: (time: UInt64, offset: UInt64)?
        /// When its bytes were first fetched: its own bytes, else its inline tail's block.
        public var firstMissOfData: UInt64 { firstOwnMiss?.time ?? firstMiss }
        public var reads = 0
        /// The bytes of READs that fell on this owner.
        public var bytesRequested: UInt64 = 0
        /// Round trips of the READs that touched it (answered ones).
        public var wait = Wait()
        public var totalWait: UInt64 = 0
        public var unanswered = 0
        /// The readers (pid, comm) of its READs, sorted.
        public var readers: [ReportAccumulator.ReaderKey] = []
        /// Each READ's issue and answer (nil: never answered), the first `FileBlame.spanLimit`, in
        /// trace order: the bars of the HTML waterfall. Only the rows first missed (the first
        /// `FileBlame.spanRows` by `firstMissOfData`, ties included) have them, when asked for.
        public var spans: [(issued: UInt64, completed: UInt64?)] = []
    }

    public static let spanLimit = 256
    public static let spanRows = 80
    /// Up to this many waits a row's percentiles are exact.
    public static let exactLimit = 1 << 12

    /// One per file (or metadata, unattributed) of each image a READ touched.
    public private(set) var rows: [Row] = []

    public init() {}

    /// Every READ of `requests` whose object has a source.
    public init(requests: [RequestRecord], sources: [UInt32: Source], spans: Bool = true, percentiles: Bool = true,
                concurrently: Concurrently? = nil) {
        var reads = Reads()
        for r in requests { reads.add(r) }
        self.init(reads: reads, sources: sources, spans: spans, percentiles: percentiles, concurrently: concurrently)
    }

    /// Every READ of `reads` whose object has a source. The work is a few operations per file a
    /// READ covers (see `BlameTally`). `spans`: the rows' waterfall bars (for the HTML page);
    /// `percentiles`: the rows' wait percentiles (JSON's `wait_us`; nil without: the text table
    /// and the HTML page do not show them, and they cost a sort and a walk of every READ).
    /// `concurrently`: runs its two closures at once, for the READs' halves to be tallied on
    /// two threads (the core starts none).
    public init(reads: Reads, sources: [UInt32: Source], spans: Bool = true, percentiles: Bool = true,
                concurrently: Concurrently? = nil) {
        rows = BlameTally(reads: reads, sources: sources).rows(withSpans: spans, percentiles: percentiles, concurrently: concurrently)
    }

    /// Runs both closures, returning when both are done (at once, on two threads, or in turn).
    public typealias Concurrently = (_ first: () -> Void, _ second: () -> Void) -> Void

    /// The owners of a READ's range (files, `(metadata)`, `(unattributed)`), in order.
    public static func owners(of r: RequestRecord, source: Source) -> [ImageRangeMap.Owner] {
        guard r.kind == .read, let offset = r.offset, offset >= 0, let length = r.length else { return [] }
        return source.map.owners(device: source.device, offset: UInt64(offset), length: length).map(\.owner)
    }

    /// In the order the readers first missed their data (ties: the path): the picture of a start-up.
    public var byFirstMiss: [Row] {
        rows.sorted { ($0.firstMissOfData, $0.owner) < ($1.firstMissOfData, $1.owner) }
    }

    /// Most total wait first (ties: the path).
    public var byWait: [Row] {
        rows.sorted { ($0.totalWait, $1.owner) > ($1.totalWait, $0.owner) }
    }

    /// The files' paths in the order the readers first missed them: a prefetch list
    /// (`nydus-image create --prefetch-policy fs` reads one path per line). A file whose only
    /// fetched bytes were an inline tail is left out: that block came for the metadata (a lookup
    /// reads it whether or not the file is read), and the bootstrap carries it anyway. Files
    /// missed by one READ are in the image's order (the path breaks ties).
    public var prefetchList: [String] {
        rows.compactMap { row -> (UInt64, UInt64, String)? in
            if case .file(let path) = row.owner, let first = row.firstOwnMiss { return (first.time, first.offset, path) }
            return nil
        }.sorted { $0 < $1 }.map(\.2).reduce(into: (seen: Set<String>(), list: [String]())) { acc, path in
            if acc.seen.insert(path).inserted { acc.list.append(path) }  // a path two images share, once
        }.list
    }
}

/// Ties each cachefiles object to the image or blob that backs it: by `OBJ=NAME` when forced,
/// else by the object's blob name (the cookie key) when the trace names it and one file is
/// called so (its name, or its name without extension), else by the size its copen answered (the backing file's size). Two sources of one size, or an
/// image no object matches, are errors that name the candidates.
public enum ImageMatching {
    public struct Failure: Error, Equatable, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    /// An image (a bootstrap) as the blame needs it: its size, the owners of its bytes and of
    /// its blobs', and its blobs' tags in device order (device k is index k - 1; a tag may be
    /// empty, `-o device=` naming the blob then).
    public struct Image: Sendable {
        public var name: String
        public var size: UInt64
        public var map: ImageRangeMap
        public var deviceTags: [String]
        public init(name: String, size: UInt64, map: ImageRangeMap, deviceTags: [String]) {
            (self.name, self.size, self.map, self.deviceTags) = (name, size, map, deviceTags)
        }
    }

    /// `images`: images (bootstraps); `blobs`: other files, each a blob of one of them —
    /// the device whose slot tag is the blob's file name, else the only extra device, else the
    /// blobs of an image in the order given.
    public static func sources(images: [Image], blobs: [(name: String, size: UInt64)]) throws(Failure) -> [FileBlame.Source] {
        var out = images.map { FileBlame.Source(name: $0.name, size: $0.size, map: $0.map, device: 0) }
        let withBlobs = images.filter { !$0.deviceTags.isEmpty }
        var next: [String: Int] = [:]
        for blob in blobs {
            let base = blob.name.split(separator: "/").last.map(String.init) ?? blob.name
            if let tagged = withBlobs.first(where: { $0.deviceTags.contains(base) }) {
                out.append(.init(name: blob.name, size: blob.size, map: tagged.map, device: tagged.deviceTags.firstIndex(of: base)! + 1))
                continue
            }
            guard withBlobs.count == 1, let owner = withBlobs.first else {
                throw Failure("\(blob.name): not an EROFS image, and no single bootstrap with blobs (-o device=) to attach it to"
                              + (withBlobs.isEmpty ? "" : " (candidates: \(withBlobs.map(\.name).joined(separator: ", ")))"))
            }
            let device = (next[owner.name] ?? 0) + 1
            guard device <= owner.deviceTags.count else {
                throw Failure("\(blob.name): \(owner.name) has \(owner.deviceTags.count) blob(s); more were given")
            }
            next[owner.name] = device
            out.append(.init(name: blob.name, size: blob.size, map: owner.map, device: device))
        }
        return out
    }

    public static func match(objects: [Correlator.ObjectLifetime], sources: [FileBlame.Source],
                             forced: [UInt32: String]) throws(Failure) -> [UInt32: FileBlame.Source] {
        var out: [UInt32: FileBlame.Source] = [:]
        for object in objects {
            if let name = forced[object.obj] {
                guard let source = sources.first(where: { $0.name == name }) else { throw Failure("--image \(object.obj)=\(name): no such image given") }
                out[object.obj] = source
                continue
            }
            if let blob = object.name?.blob {
                let named = sources.filter { fileNames($0.name).contains(blob) }
                if named.count == 1 { out[object.obj] = named[0]; continue }
            }
            guard let size = object.size, size > 0 else { continue }
            let candidates = sources.filter { $0.size == UInt64(size) }
            if candidates.count > 1 {
                throw Failure("object \(object.obj) (\(size) bytes) matches \(candidates.map(\.name).joined(separator: " and ")) by size; say which with --image \(object.obj)=FILE")
            }
            if let source = candidates.first { out[object.obj] = source }
        }
        // The fanotify path's objects (image files) carry no size: the one image given backs the
        // one such object.
        let unsized = objects.filter { out[$0.obj] == nil && $0.size == nil && $0.reads > 0 }
        if sources.count == 1, out.isEmpty, unsized.count == 1 { out[unsized[0].obj] = sources[0] }
        for source in sources where !out.values.contains(where: { $0.name == source.name }) {
            let sizes = objects.compactMap { o in o.size.map { "obj \(o.obj): \($0)" } }.joined(separator: ", ")
            throw Failure("\(source.name) (\(source.size) bytes) backs no object of the trace (object sizes from copen: \(sizes.isEmpty ? "none" : sizes)); force one with --image OBJ=FILE")
        }
        return out
    }

    /// One line per object whose matched source's size differs from the size its copen answered
    /// (an `OBJ=FILE` forced, or a blob matched by name): READs past the file's end, or bytes of
    /// another file, are then counted as the wrong file's or `(unattributed)`.
    public static func sizeMismatches(objects: [Correlator.ObjectLifetime], matched: [UInt32: FileBlame.Source]) -> [String] {
        objects.compactMap { object in
            guard let source = matched[object.obj], let size = object.size, size >= 0, UInt64(size) != source.size else { return nil }
            return "--image: object \(object.obj) is \(size) bytes (its copen) but \(source.name) is \(source.size): "
                + "the blame of its READs is not to be trusted (is it the right image?)"
        }
    }

    /// A source's file name and that name without its extension, escaped as blob names are.
    static func fileNames(_ path: String) -> [String] {
        let base = path.split(separator: "/").last.map(String.init) ?? path
        var names = [KeyText.escape(Array(base.utf8))]
        if let dot = base.lastIndex(of: "."), dot != base.startIndex { names.append(KeyText.escape(Array(base[..<dot].utf8))) }
        return names
    }
}
