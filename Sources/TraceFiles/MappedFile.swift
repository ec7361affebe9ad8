import SystemCalls
import SystemPackage

/// A read-only memory map of a whole file (an empty file maps to an empty buffer).
final class MappedFile {
    let path: String
    let bytes: UnsafeRawBufferPointer
    private let map: MemoryMap

    init(path: String) throws(TraceFileError) {
        self.path = path
        let file: Descriptor
        do { file = try Descriptor.open(path, .read) } catch {
            throw TraceFileError(path: path, message: "cannot open: \(Errno(rawValue: error.errno))")
        }
        defer { file.close() }
        let status: FileSystem.Status
        do { status = try file.status() } catch {
            throw TraceFileError(path: path, message: "cannot stat: \(Errno(rawValue: error.errno))")
        }
        guard status.kind == .regular else {
            throw TraceFileError(path: path, message: "not a regular file")
        }
        do { map = try MemoryMap(file, size: Int(status.size)) } catch {
            throw TraceFileError(path: path, message: "cannot map: \(Errno(rawValue: error.errno))")
        }
        bytes = map.bytes
        // Readers keep a window of a few hundred KiB mapped (`TraceDatPageWalker`); without this
        // the kernel maps the page cache's 2 MiB folios whole, and held 2-6 MiB at a time.
        if let base = bytes.baseAddress { MemoryMap.advise(base, count: bytes.count, .noHugePages) }
    }

    /// Lets the kernel drop the pages read so far from this process (they stay in the page cache):
    /// after the structure check has touched every ring-buffer page header, the mapping would
    /// otherwise hold the whole file resident while libtracecmd reads it again.
    func dropResidentPages() {
        if let base = bytes.baseAddress { MemoryMap.advise(base, count: bytes.count, .dontNeed) }
    }

    /// Drops the pages of `bytes` before `offset` from this process (page cache keeps them): a
    /// scan over a large mapped file then does not make the whole file resident.
    static func release(_ bytes: UnsafeRawBufferPointer, upTo offset: Int) {
        guard let base = bytes.baseAddress else { return }
        let page = MemoryMap.pageSize
        let start = Int(bitPattern: base)
        let alignedStart = (start + page - 1) / page * page
        let end = (start + min(offset, bytes.count)) / page * page
        if end > alignedStart { MemoryMap.advise(UnsafeRawPointer(bitPattern: alignedStart)!, count: end - alignedStart, .dontNeed) }
    }
}

extension Errno {
    static func describe(_ error: any Error) -> String {
        if let errno = error as? Errno { return errno.description }
        return "\(error)"
    }
}
