import OndemandTraceCore
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
                guard let status = try? FileSystem.status(root + "/" + path, followLinks: false) else { continue }
                switch status.kind {
                case .directory: walk(path)
                case .regular: out.append(path)
                case .other: break
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
        var threads: [Thread] = []
        for reader in 1..<readers {
            if let thread = try? startThread({ work(reader) }) { threads.append(thread) } else { work(reader) }
        }
        work(0)
        for thread in threads { thread.join() }
        result = shared.withLock { $0 }
        result.seconds = Double(monotonicNanoseconds() - started) / 1e9
        result.readErrors.sort()
        result.mismatches.sort()
        return result
    }

    private static func readFile(_ path: String, expected: String?, options: Options, salt: UInt64)
        -> (bytes: UInt64, error: String?, mismatch: Bool) {
        let file: Descriptor
        let size: Int
        do {
            file = try .open(path, .read)
            size = Int(try file.status().size)
        } catch { return (0, describeErrno(error.errno), false) }
        defer { file.close() }
        let expectFile = expected.flatMap { try? Descriptor.open($0, .read) }
        defer { expectFile?.close() }
        var mismatch = expected != nil && expectFile == nil
        let block = options.blockSize
        var offsets = Array(stride(from: 0, to: size, by: block))
        if options.order == .random {
            var generator = SplitMix64(seed: options.seed &+ salt &* 0x9E37_79B9_7F4A_7C15)
            offsets.shuffle(using: &generator)
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: block, alignment: 4096)
        let other = UnsafeMutableRawBufferPointer.allocate(byteCount: block, alignment: 4096)
        defer { buffer.deallocate(); other.deallocate() }
        var total: UInt64 = 0
        for offset in offsets {
            let want = min(block, size - offset)
            let got: Int
            do { got = try file.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]), at: UInt64(offset)) } catch {
                return (total, "read at \(offset): \(describeErrno(error.errno))", mismatch)
            }
            total += UInt64(got)
            if let expectFile {
                let theirs = (try? expectFile.read(into: UnsafeMutableRawBufferPointer(rebasing: other[0..<want]), at: UInt64(offset))) ?? -1
                if theirs != got || !buffer[0..<got].elementsEqual(other[0..<got]) { mismatch = true }
            }
            if got < want { return (total, "short read at \(offset): \(got) of \(want) bytes", mismatch) }
        }
        if let expected, expectFile != nil, let theirs = try? FileSystem.status(expected), Int(theirs.size) != size { mismatch = true }
        return (total, nil, mismatch)
    }
}
