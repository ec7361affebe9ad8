#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

/// A read-only memory map of a whole file (an empty file maps to an empty buffer).
final class MappedFile {
    let path: String
    let bytes: UnsafeRawBufferPointer
    private let base: UnsafeMutableRawPointer?

    init(path: String) throws(TraceFileError) {
        self.path = path
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(FilePath(path), .readOnly)
        } catch {
            throw TraceFileError(path: path, message: "cannot open: \(Errno.describe(error))")
        }
        defer { try? fd.close() }
        var info = stat()
        guard fstat(fd.rawValue, &info) == 0 else {
            throw TraceFileError(path: path, message: "cannot stat: \(Errno(rawValue: errno))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw TraceFileError(path: path, message: "not a regular file")
        }
        let size = Int(info.st_size)
        guard size > 0 else {
            base = nil
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd.rawValue, 0)
        guard let mapped, mapped != MAP_FAILED else {
            throw TraceFileError(path: path, message: "cannot map: \(Errno(rawValue: errno))")
        }
        // Readers keep a window of a few hundred KiB mapped (`TraceDatPageWalker`); without this
        // the kernel maps the page cache's 2 MiB folios whole, and held 2-6 MiB at a time.
        _ = madvise(mapped, size, MADV_NOHUGEPAGE)
        base = mapped
        bytes = UnsafeRawBufferPointer(start: mapped, count: size)
    }

    /// Lets the kernel drop the pages read so far from this process (they stay in the page cache):
    /// after the structure check has touched every ring-buffer page header, the mapping would
    /// otherwise hold the whole file resident while libtracecmd reads it again.
    func dropResidentPages() {
        if let base { _ = madvise(base, bytes.count, MADV_DONTNEED) }
    }

    /// Drops the pages of `bytes` before `offset` from this process (page cache keeps them): a
    /// scan over a large mapped file then does not make the whole file resident.
    static func release(_ bytes: UnsafeRawBufferPointer, upTo offset: Int) {
        guard let base = bytes.baseAddress else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = Int(bitPattern: base)
        let alignedStart = (start + page - 1) / page * page
        let end = (start + min(offset, bytes.count)) / page * page
        if end > alignedStart { _ = madvise(UnsafeMutableRawPointer(bitPattern: alignedStart), end - alignedStart, MADV_DONTNEED) }
    }

    deinit {
        if let base { munmap(base, bytes.count) }
    }
}

extension Errno {
    static func describe(_ error: any Error) -> String {
        if let errno = error as? Errno { return errno.description }
        return "\(error)"
    }
}
