import Glibc

/// A read-only, private memory map of a whole open file (an empty file maps to an empty buffer),
/// unmapped when released.
public final class MemoryMap: @unchecked Sendable {
    public let bytes: UnsafeRawBufferPointer

    /// Maps `size` bytes of `file` from its start; the error's action is "cannot map".
    public init(_ file: Descriptor, size: Int) throws(SystemError) {
        guard size > 0 else {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, file.fd, 0)
        guard let mapped, mapped != MAP_FAILED else { throw SystemError(path: file.path, action: "cannot map", errno: errno) }
        bytes = UnsafeRawBufferPointer(start: mapped, count: size)
    }

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
    }

    /// What the kernel is told about a range of mapped pages.
    public enum Advice: Sendable {
        /// Drop the pages from this process (a private read-only map: the page cache keeps them).
        case dontNeed
        /// Map base pages, not whole huge folios (readers keep a small window mapped).
        case noHugePages
        /// Map the pages in now, in one call (MADV_POPULATE_READ, Linux 5.14+; an older kernel
        /// ignores it and the page faults map them as before).
        case populateRead

        var value: Int32 {
            switch self {
            case .dontNeed: MADV_DONTNEED
            case .noHugePages: MADV_NOHUGEPAGE
            case .populateRead: 22  // not in Glibc's headers of every distribution
            }
        }
    }

    /// The kernel's page size, which advised ranges are aligned to.
    public static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// Advises the kernel about `count` bytes from `start` (page-aligned, in a mapping).
    public static func advise(_ start: UnsafeRawPointer, count: Int, _ advice: Advice) {
        _ = madvise(UnsafeMutableRawPointer(mutating: start), count, advice.value)
    }
}
