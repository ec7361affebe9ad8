import OndemandTraceCore

/// A data blob served beside the image (`--blob [TAG=]FILE`): the kernel asks for it by its tag,
/// the `device=` mount option, which is also its cookie key.
public struct RunBlob: Sendable, Equatable {
    public var tag: String
    public var path: String

    public init(tag: String, path: String) {
        self.tag = tag
        self.path = path
    }

    /// `FILE` (the tag is its file name) or `TAG=FILE` (the part before `=` has no `/`).
    public static func parse(_ spec: String) throws(RunError) -> RunBlob {
        if let eq = spec.firstIndex(of: "="), !spec[..<eq].contains("/") {
            let tag = String(spec[..<eq]), path = String(spec[spec.index(after: eq)...])
            guard !path.isEmpty else { throw RunError("--blob \(spec): no file after '='") }
            return try checked(RunBlob(tag: tag, path: path), spec: spec)
        }
        let name = spec.split(separator: "/").last.map(String.init) ?? spec
        return try checked(RunBlob(tag: name, path: spec), spec: spec)
    }

    private static func checked(_ blob: RunBlob, spec: String) throws(RunError) -> RunBlob {
        if let problem = BlobKeys.nameProblem(blob.tag) { throw RunError("--blob \(spec): tag \"\(blob.tag)\" \(problem)") }
        if blob.tag.contains(",") { throw RunError("--blob \(spec): tag \"\(blob.tag)\" contains ',' (it goes into the mount options)") }
        return blob
    }

    /// Each tag once, and none equal to the image's fsid (its own cookie key).
    public static func requireDistinct(_ blobs: [RunBlob], fsid: String) throws(RunError) {
        var seen: Set<String> = []
        for blob in blobs {
            if blob.tag == fsid { throw RunError("--blob \(blob.path): tag \"\(blob.tag)\" is the image's fsid; give another tag with TAG=FILE") }
            if !seen.insert(blob.tag).inserted { throw RunError("--blob: tag \"\(blob.tag)\" given twice") }
        }
    }
}
