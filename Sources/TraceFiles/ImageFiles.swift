import OndemandTraceCore

/// The images behind a trace, as `report --image` names them: `FILE` or `OBJ=FILE`. An EROFS
/// image (a bootstrap) is read for its metadata; any other file is a blob of one of them, of
/// which only the size matters.
public enum ImageFiles {
    public struct Loaded {
        public var sources: [FileBlame.Source]
        /// `OBJ=FILE` pairs: the object's image, by the name given.
        public var forced: [UInt32: String]
    }

    public static func load(_ specs: [String]) throws -> Loaded {
        var images: [(name: String, image: ErofsImage)] = []
        var blobs: [(name: String, size: UInt64)] = []
        var forced: [UInt32: String] = [:]
        for spec in specs {
            var path = spec
            if let eq = spec.firstIndex(of: "="), let obj = UInt32(spec[..<eq]) {
                path = String(spec[spec.index(after: eq)...])
                forced[obj] = path
            }
            let file = try MappedFile(path: path)
            let bytes = file.bytes
            let isErofs = bytes.count >= 1028 && bytes.loadUnaligned(fromByteOffset: 1024, as: UInt32.self).littleEndian == ErofsImage.magic
            if isErofs {
                // In place: the mapping lives as long as the image (no copy of a 1 GB image's data).
                do { images.append((path, try ErofsImage(image: ImageBytes(viewing: bytes, owner: file)))) } catch {
                    throw TraceFileError(path: path, message: "\(error)")
                }
            } else {
                blobs.append((path, UInt64(bytes.count)))
            }
        }
        do {
            return Loaded(sources: try ImageMatching.sources(images: images, blobs: blobs), forced: forced)
        } catch {
            throw TraceFileError(path: "--image", message: error.description)  // the message names the image
        }
    }

    /// The images named by `specs`, each tied to the object of `objects` it backs.
    public static func sources(_ specs: [String], for objects: [Correlator.ObjectLifetime]) throws -> [UInt32: FileBlame.Source] {
        let loaded = try load(specs)
        do {
            return try ImageMatching.match(objects: objects, sources: loaded.sources, forced: loaded.forced)
        } catch {
            throw TraceFileError(path: "--image", message: error.description)
        }
    }
}
