import Foundation
import Testing
@testable import OndemandDaemon
import OndemandTraceCore
import TestSupport

/// The built-in workload of `run`, on plain directories (the mounted image's role is played by
/// a copy of the tree): listing, byte-for-byte verification, random order, several readers.
@Suite struct ImageWorkloadTests {
    let scratch: TemporaryDirectory
    var root: String { scratch.path }

    init() throws {
        scratch = try TemporaryDirectory("workload")
        for (path, size) in [("a.bin", 300_000), ("sub/b.bin", 4096), ("sub/deeper/c.txt", 17), ("empty", 0)] {
            for side in ["image", "expected"] {
                let full = "\(root)/\(side)/\(path)"
                try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                var gen = SplitMix64(seed: UInt64(path.utf8.count))
                let bytes = (0..<size).map { _ in UInt8(truncatingIfNeeded: gen.next()) }
                #expect(FileManager.default.createFile(atPath: full, contents: Data(bytes)))
            }
        }
        try FileManager.default.createSymbolicLink(atPath: "\(root)/image/link", withDestinationPath: "a.bin")
    }

    func options(_ order: ImageWorkload.Order = .sequential, readers: Int = 1) -> ImageWorkload.Options {
        var o = ImageWorkload.Options()
        o.order = order
        o.readers = readers
        o.blockSize = 8192
        o.expectDirectory = root + "/expected"
        return o
    }

    @Test func listsRegularFilesSortedAndSkipsSymlinks() {
        #expect(ImageWorkload.listFiles(root + "/image") == ["a.bin", "empty", "sub/b.bin", "sub/deeper/c.txt"])
    }

    @Test(arguments: [(ImageWorkload.Order.sequential, 1), (.random, 1), (.random, 3), (.sequential, 8)])
    func readsEveryByteAndVerifies(_ order: ImageWorkload.Order, _ readers: Int) {
        let result = ImageWorkload.run(root: root + "/image", options: options(order, readers: readers))
        #expect(result.files == 4)
        #expect(result.bytes == 300_000 + 4096 + 17)
        #expect(result.verified)
    }

    @Test func findsAChangedByteAMissingFileAndAnExtraFile() throws {
        let handle = try #require(FileHandle(forUpdatingAtPath: root + "/expected/a.bin"))
        try handle.seek(toOffset: 250_001)
        let old = try #require(try handle.read(upToCount: 1))
        try handle.seek(toOffset: 250_001)
        try handle.write(contentsOf: Data([old[0] ^ 0xff]))
        try handle.close()
        try FileManager.default.removeItem(atPath: root + "/expected/sub/b.bin")
        #expect(FileManager.default.createFile(atPath: root + "/expected/extra", contents: Data([1])))
        let result = ImageWorkload.run(root: root + "/image", options: options(.random, readers: 2))
        #expect(result.mismatches == ["a.bin", "sub/b.bin"])
        #expect(result.missing == ["only in image: sub/b.bin", "only in expected: extra"])
        #expect(!result.verified)
    }

    @Test func aFileThatIsNotRegularInTheImageCountsAsMissing() throws {
        try FileManager.default.removeItem(atPath: root + "/image/sub/deeper/c.txt")
        try FileManager.default.createDirectory(atPath: root + "/image/sub/deeper/c.txt", withIntermediateDirectories: false)
        let result = ImageWorkload.run(root: root + "/image", options: options())
        #expect(result.files == 3)
        #expect(result.missing == ["only in expected: sub/deeper/c.txt"])
        #expect(result.mismatches.isEmpty && result.readErrors.isEmpty && !result.verified)
    }
}
