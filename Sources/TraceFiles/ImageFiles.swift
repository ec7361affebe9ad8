import OndemandTraceCore
import SystemCalls
import ErofsFormat

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
            return Loaded(sources: try ImageMatching.sources(images: try images.map(blameImage), blobs: blobs), forced: forced)
        } catch {
            throw TraceFileError(path: "--image", message: error.description)  // the message names the image
        }
    }

    /// The images named by `specs`, each tied to the object of `objects` it backs.
    public static func sources(_ specs: [String], for objects: [Correlator.ObjectLifetime]) throws -> [UInt32: FileBlame.Source] {
        try sources(try load(specs), for: objects)
    }

    /// The images of `loaded`, each tied to the object of `objects` it backs.
    public static func sources(_ loaded: Loaded, for objects: [Correlator.ObjectLifetime]) throws -> [UInt32: FileBlame.Source] {
        do {
            return try ImageMatching.match(objects: objects, sources: loaded.sources, forced: loaded.forced)
        } catch {
            throw TraceFileError(path: "--image", message: error.description)
        }
    }
}

extension ImageFiles {
    /// `load` on a thread of its own, started at once: the images are read and indexed while
    /// the trace is (which they do not need; only matching them to objects does). `result`
    /// waits for it. Without a thread, `result` loads them itself.
    public final class Loading: @unchecked Sendable {
        private let specs: [String]
        private var outcome: Result<Loaded, any Error>?
        private var thread: Thread?

        public init(_ specs: [String]) {
            self.specs = specs
            thread = try? startThread { [self] in outcome = Result { try ImageFiles.load(specs) } }
        }

        /// The loaded images, or the error loading them threw.
        public func result() throws -> Loaded {
            if let thread {  // `outcome` is written before the thread ends: read after joining it
                thread.join()
                self.thread = nil
            }
            if outcome == nil { outcome = Result { try ImageFiles.load(specs) } }
            return try outcome!.get()
        }

        // Not joined here: the last reference may be the thread's own.
        deinit { thread?.detach() }
    }
}

extension ImageFiles {
    /// Runs `first` on a thread of its own and `second` on this one, and returns when both are
    /// done (`FileBlame.Concurrently`: the blame's two halves). Without a thread, in turn.
    public static func concurrently(_ first: () -> Void, _ second: () -> Void) {
        withoutActuallyEscaping(first) { first in
            guard let thread = try? startThread(first) else {
                first()
                second()
                return
            }
            second()
            thread.join()
        }
    }
}
