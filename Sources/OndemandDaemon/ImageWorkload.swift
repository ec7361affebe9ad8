#if canImport(Glibc)
import Glibc
import OndemandTraceCore
#endif
import SystemCalls
import Synchronization

/// The built-in workload of `run`: read every regular file of a mounted image once, sequentially
/// or at shuffled block offsets, with N concurrent readers, optionally comparing every byte with
/// a directory holding the same files (the tree the image was made from).
public enum ImageWorkload {
    public enum Order: String, Sendable, CaseIterable { case sequential, random }

    public struct Options: Sendable {
        public var order = Order.sequential
        public var readers = 1
        public var blockSize = 128 << 10
        public var seed: UInt64 = 1
        public var expectDirectory: String?
        public init() {}
    }

    public struct Result: Sendable {
        public var files = 0
        public var bytes: UInt64 = 0
        public var seconds = 0.0
        /// Files that could not be read: "path: error".
        public var readErrors: [String] = []
        /// Files whose bytes differ from the expected directory's.
        public var mismatches: [String] = []
        /// Files only on one side: "only in image: x" / "only in expected: y".
        public var missing: [String] = []
        public var verified: Bool { readErrors.isEmpty && mismatches.isEmpty && missing.isEmpty }
    }

    /// Regular files under `root`, relative paths, sorted (symlinks and special files skipped).
    public static func listFiles(_ root: String) -> [String] {
        var ignored: [String] = []
        return listFiles(root, errors: &ignored)
    }

    /// The same, with "dir: error" for each directory that could not be listed.
    public static func listFiles(_ root: String, errors: inout [String]) -> [String] {
        var out: [String] = []
        var failures: [String] = []
        defer { errors += failures }
        func walk(_ relative: String) {
            let names: [String]
            do { names = try FileContents.directoryEntries(relative.isEmpty ? root : root + "/" + relative) } catch {
                failures.append("\(relative.isEmpty ? "." : relative): cannot list: \(describeErrno(error.errno))")
                return
            }
            for name in names {
                let path = relative.isEmpty ? name : relative + "/" + name
                var st = stat()
                guard lstat(root + "/" + path, &st) == 0 else { continue }
                switch st.st_mode & S_IFMT {
                case S_IFDIR: walk(path)
                case S_IFREG: out.append(path)
                default: break
                }
            }
        }
        walk("")
        return out.sorted()
    }

    public static func run(root: String, options: Options) -> Result {
        var result = Result()
        let files = listFiles(root, errors: &result.readErrors)
        if let expected = options.expectDirectory {
            let other = Set(listFiles(expected)), mine = Set(files)
            result.missing = mine.subtracting(other).sorted().map { "only in image: \($0)" }
                + other.subtracting(mine).sorted().map { "only in expected: \($0)" }
        }
        let shared = Mutex(result)
        let started = monotonicNanoseconds()
        let readers = max(1, min(options.readers, max(1, files.count)))
        let work = { (reader: Int) in
            for (index, file) in files.enumerated() where index % readers == reader {
                let outcome = readFile(root + "/" + file, expected: options.expectDirectory.map { $0 + "/" + file },
                                       options: options, salt: UInt64(index))
                shared.withLock { r in
                    r.files += 1
                    r.bytes += outcome.bytes
                    if let error = outcome.error { r.readErrors.append("\(file): \(error)") }
                    if outcome.mismatch { r.mismatches.append(file) }
                }
            }
        }
        var threads: [pthread_t] = []
        for reader in 1..<readers {
            if let thread = try? startThread({ work(reader) }) { threads.append(thread) } else { work(reader) }
        }
        work(0)
        for thread in threads { pthread_join(thread, nil) }
        result = shared.withLock { $0 }
        result.seconds = Double(monotonicNanoseconds() - started) / 1e9
        result.readErrors.sort()
        result.mismatches.sort()
        return result
    }

    private static func readFile(_ path: String, expected: String?, options: Options, salt: UInt64)
        -> (bytes: UInt64, error: String?, mismatch: Bool) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return (0, describeErrno(errno), false) }
        defer { close(fd) }
        var st = stat()
        fstat(fd, &st)
        let size = Int(st.st_size)
        let expectFD = expected.map { open($0, O_RDONLY | O_CLOEXEC) } ?? -1
        defer { if expectFD >= 0 { close(expectFD) } }
        var mismatch = expected != nil && expectFD < 0
        let block = options.blockSize
        var offsets = Array(stride(from: 0, to: size, by: block))
        if options.order == .random {
            var generator = SplitMix64(seed: options.seed &+ salt &* 0x9E37_79B9_7F4A_7C15)
            offsets.shuffle(using: &generator)
        }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: block, alignment: 4096)
        let other = UnsafeMutableRawPointer.allocate(byteCount: block, alignment: 4096)
        defer { buffer.deallocate(); other.deallocate() }
        var total: UInt64 = 0
        for offset in offsets {
            let want = min(block, size - offset)
            let got = pread(fd, buffer, want, off_t(offset))
            if got < 0 { return (total, "read at \(offset): \(describeErrno(errno))", mismatch) }
            total += UInt64(got)
            if expectFD >= 0 {
                let theirs = pread(expectFD, other, want, off_t(offset))
                if theirs != got || memcmp(buffer, other, got) != 0 { mismatch = true }
            }
            if got < want { return (total, "short read at \(offset): \(got) of \(want) bytes", mismatch) }
        }
        if let expected, expectFD >= 0 {
            var est = stat()
            if stat(expected, &est) == 0, Int(est.st_size) != size { mismatch = true }
        }
        return (total, nil, mismatch)
    }
}
