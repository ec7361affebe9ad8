import Foundation
import Testing
import TestSupport
@testable import ErofsFormat
import OndemandTraceCore
import TraceFiles

/// The EROFS reader against erofs-utils: images made by `mkfs.erofs` from a seeded random tree,
/// every path and every file's extents compared with what `dump.erofs` says (the independent
/// truth), then hostile versions of the same images.
@Suite(.serialized) struct ErofsImageTests {
    final class Workspace {
        let scratch: TemporaryDirectory
        var dir: String { scratch.path }
        let seed: UInt64
        /// Relative paths of the tree's regular files, symlinks and directories.
        var paths: Set<String> = []

        init() throws {
            seed = UInt64.random(in: 0...UInt64.max)
            print("ErofsImageTests: seed \(seed)")
            scratch = try TemporaryDirectory("erofs")
            try makeTree()
        }

        func makeTree() throws {
            var rng = SplitMix64(seed: seed)
            let fm = FileManager.default
            let src = dir + "/src"
            try fm.createDirectory(atPath: src + "/sub/deeper", withIntermediateDirectories: true)
            try fm.createDirectory(atPath: src + "/many", withIntermediateDirectories: true)
            paths = ["sub", "sub/deeper", "many"]
            func file(_ path: String, _ size: Int, compressible: Bool = false) throws {
                var bytes = [UInt8](repeating: 0, count: size)
                for i in bytes.indices { bytes[i] = compressible ? UInt8(ascii: "a") + UInt8(i / 64 % 7) : UInt8(truncatingIfNeeded: rng.next()) }
                try Data(bytes).write(to: URL(fileURLWithPath: src + "/" + path))
                paths.insert(path)
            }
            for (i, size) in [0, 1, 4095, 4096, 4097, 10_000, 65_536, 300_001].enumerated() { try file("f\(i).bin", size) }
            try file("sub/text.txt", 20_000, compressible: true)
            try file("sub/deeper/random.bin", Int(rng.next() % 200_000) + 1)
            for i in 0..<120 { try file("many/entry-with-a-rather-long-name-\(i).dat", Int(rng.next() % 9000)) }
            // For compressed images: runs of text between runs of noise, so pclusters of both
            // kinds (compressed, and PLAIN where lz4 gains nothing) and files of every size class.
            try fm.createDirectory(atPath: src + "/z", withIntermediateDirectories: true)
            paths.insert("z")
            for (i, size) in [37, 3000, 4096, 9000, 70_000, 150_000, Int(rng.next() % 400_000) + 1].enumerated() {
                var bytes = [UInt8](repeating: 0, count: size)
                var at = 0
                while at < size {
                    let run = min(size - at, Int(rng.next() % 12_000) + 1), noise = rng.next() % 3 == 0
                    for k in at..<(at + run) { bytes[k] = noise ? UInt8(truncatingIfNeeded: rng.next()) : UInt8(ascii: "a") + UInt8((k / 50 + i) % 23) }
                    at += run
                }
                try Data(bytes).write(to: URL(fileURLWithPath: src + "/z/mixed-\(i).bin"))
                paths.insert("z/mixed-\(i).bin")
            }
            // Text only, whatever the draws gave the mixed files: compressed files of three size
            // classes in every compressed image (no random draw taken, so the rest stays as it was).
            for (i, size) in [6000, 40_000, 180_000].enumerated() { try file("z/text-\(i).txt", size, compressible: true) }
            try fm.createSymbolicLink(atPath: src + "/link", withDestinationPath: "f1.bin")
            try fm.linkItem(atPath: src + "/f5.bin", toPath: src + "/sub/hardlink.bin")
            paths.formUnion(["link", "sub/hardlink.bin"])
        }

        /// Makes an image; returns its path (and the blob's, with `blob`).
        func image(_ name: String, _ options: [String], blob: Bool = false) throws -> (image: String, blob: String?) {
            let image = dir + "/" + name + ".img", blobPath = blob ? dir + "/" + name + ".blob" : nil
            var args = ["-T0", "--all-root"] + options
            if let blobPath { args.append("--blobdev=" + blobPath) }
            let result = try TestSupport.Run.program("/usr/bin/mkfs.erofs", args + [image, dir + "/src"])
            try #require(result.status == 0, "mkfs.erofs \(args): \(result.stderr)")
            return (image, blobPath)
        }
    }


    static func read(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

    /// `dump.erofs -e`'s extents of one path, adjacent ones merged: "N: L0..L1 | len : P0..P1 | len [# device D]".
    static func dumpExtents(_ image: String, blobs: [String], path: String) throws -> (extents: [ErofsImage.Extent], layout: Int) {
        let args = blobs.map { "--device=" + $0 } + ["--path=/" + path, "-e", image]
        let result = try TestSupport.Run.program("/usr/bin/dump.erofs", args)
        try #require(result.status == 0, "dump.erofs \(args): \(result.stderr)")
        var extents: [ErofsImage.Extent] = []
        var layout = -1
        for line in result.stdout.split(separator: "\n") {
            if let r = line.range(of: "Layout: ") { layout = Int(line[r.upperBound...].prefix { $0.isNumber }) ?? -1 }
            let parts = line.split(whereSeparator: { " |:.#".contains($0) }).map(String.init)
            guard parts.count >= 7, Int(parts[0]) != nil, let l0 = UInt64(parts[1]), let p0 = UInt64(parts[4]), let len = UInt64(parts[3]) else { continue }
            let device = line.contains("# device") ? Int(parts.last!) ?? -1 : 0
            extents.append(.init(logical: l0, physical: p0, length: len, device: device))
        }
        return (merged(extents), layout)
    }

    /// `dump.erofs -e`'s pclusters of a compressed file, as they are: each line's logical
    /// start and length, physical start and length.
    static func dumpPclusters(_ image: String, path: String) throws -> [ErofsImage.Extent] {
        let result = try TestSupport.Run.program("/usr/bin/dump.erofs", ["--path=/" + path, "-e", image])
        try #require(result.status == 0, "dump.erofs \(path): \(result.stderr)")
        return result.stdout.split(separator: "\n").compactMap { line in
            let parts = line.split(whereSeparator: { " |:.".contains($0) }).map(String.init)
            guard parts.count == 7, Int(parts[0]) != nil, let l0 = UInt64(parts[1]), let llen = UInt64(parts[3]),
                  let p0 = UInt64(parts[4]), let plen = UInt64(parts[6]) else { return nil }
            return .init(logical: l0, physical: p0, length: plen, device: 0, logicalLength: llen)
        }
    }

    static func merged(_ extents: [ErofsImage.Extent]) -> [ErofsImage.Extent] {
        var out: [ErofsImage.Extent] = []
        for e in extents.sorted(by: { $0.logical < $1.logical }) where e.length > 0 {
            if var last = out.last, last.device == e.device, last.logical + last.length == e.logical, last.physical + last.length == e.physical {
                last.length += e.length
                out[out.count - 1] = last
            } else {
                out.append(e)
            }
        }
        return out
    }

    /// Compares an image with dump.erofs; how many compressed inodes it met.
    @discardableResult
    static func check(_ w: Workspace, _ name: String, _ options: [String], blob: Bool = false) throws -> Int {
        let (path, blobPath) = try w.image(name, options, blob: blob)
        let image = try ErofsImage(bytes: read(path))
        let entries = try image.entries()
        #expect(Set(entries.map(\.path)).subtracting([""]) == w.paths, "\(name): paths")
        #expect(image.superblock.extraDevices == (blob ? 1 : 0))
        let map = ImageRangeMap(image: image, entries: entries)
        var compared = 0, compressed = 0
        for entry in entries where entry.kind == .file || entry.kind == .directory {
            guard !entry.path.hasPrefix("many/") || entry.path.hasSuffix("-7.dat") else { continue }  // a sample of the bulk
            let truth = try dumpExtents(path, blobs: blobPath.map { [$0] } ?? [], path: entry.path)
            #expect(entry.layout == truth.layout, "\(name): \(entry.path) layout")
            if [1, 3].contains(truth.layout) {
                #expect(entry.compressed && !entry.unmapped, "\(name): \(entry.path) is compressed, every pcluster mapped")
                let pclusters = try dumpPclusters(path, path: entry.path)
                #expect(entry.extents == pclusters, "seed \(w.seed), \(name): \(entry.path) pclusters")
                #expect(entry.extents.reduce(0) { $0 + ($1.logicalLength ?? 0) } == entry.size, "\(name): \(entry.path) covered")
                for e in entry.extents {
                    let owners = map.owners(device: 0, offset: e.physical, length: e.length)
                    #expect(owners.count == 1 && owners[0].owner == .file(entry.path), "\(name): \(entry.path) owns its pcluster at \(e.physical)")
                }
                compressed += 1
                continue
            }
            #expect(merged(entry.extents) == truth.extents, "seed \(w.seed), \(name): \(entry.path)")
            for e in merged(entry.extents) where entry.kind == .file {
                let owners = map.owners(device: e.device, offset: e.physical, length: e.length)
                #expect(owners.count == 1 && owners[0].bytes == e.length, "\(name): \(entry.path) owns its extent")
            }
            compared += 1
        }
        #expect(compared + compressed >= 16, "\(name): \(compared) inodes compared with dump.erofs")
        #expect(map.owners(device: 0, offset: 1024, length: 128).map(\.owner) == [.metadata])
        return compressed
    }

    @Test func flatImagesMatchDumpErofs() throws {
        let w = try Workspace()
        try Self.check(w, "plain", [])
        try Self.check(w, "extended", ["-Eforce-inode-extended"])
    }

    @Test func chunkBasedImagesWithABlobMatchDumpErofs() throws {
        let w = try Workspace()
        try Self.check(w, "chunked", ["--chunksize=8192"])
        try Self.check(w, "bootstrap", ["--chunksize=4096"], blob: true)
    }

    /// `ErofsBlobSplit` (`erofs-tool split-blob`, for vm/make-image twoblobs): the split
    /// bootstrap's chunks lie on two devices as dump.erofs, given both blobs, says, and
    /// fsck.erofs extracts the very tree from the bootstrap and the two blobs.
    @Test func aBlobSplitInTwoMatchesDumpErofsAndExtractsTheTree() throws {
        let w = try Workspace()
        let (path, made) = try w.image("split", ["--chunksize=4096"], blob: true)
        let blobPath = try #require(made), blob2Path = w.dir + "/split.blob2"
        let blob = try Self.read(blobPath)
        let split = try ErofsBlobSplit(image: Self.read(path), blobSize: UInt64(blob.count))
        #expect(split.movedChunks > 0 && split.firstBlobBytes % 4096 == 0 && split.firstBlobBytes < blob.count, "seed \(w.seed)")
        #expect(split.blobBlocks == (UInt64(blob.count) + 4095) / 4096 && split.secondBlobBlocks == split.blobBlocks - split.firstBlobBytes / 4096)
        try Data(split.image).write(to: URL(fileURLWithPath: path))
        try Data(blob.prefix(Int(split.firstBlobBytes))).write(to: URL(fileURLWithPath: blobPath))
        try Data(blob.dropFirst(Int(split.firstBlobBytes))).write(to: URL(fileURLWithPath: blob2Path))
        let image = try ErofsImage(bytes: split.image)
        #expect(image.superblock.extraDevices == 2 && image.deviceTags.count == 2)
        var onSecond = 0
        for entry in try image.entries() where entry.kind == .file {
            guard !entry.path.hasPrefix("many/") || entry.path.hasSuffix("-7.dat") else { continue }  // a sample of the bulk
            let truth = try Self.dumpExtents(path, blobs: [blobPath, blob2Path], path: entry.path)
            #expect(Self.merged(entry.extents) == truth.extents, "seed \(w.seed): \(entry.path)")
            onSecond += entry.extents.count { $0.device == 2 }
        }
        #expect(onSecond > 0, "seed \(w.seed)")
        let extracted = w.dir + "/extracted"
        let fsck = try TestSupport.Run.program("/usr/bin/fsck.erofs", ["--device=" + blobPath, "--device=" + blob2Path, "--extract=" + extracted, path])
        try #require(fsck.status == 0, "fsck.erofs: \(fsck.stderr)")
        let diff = try TestSupport.Run.program("/usr/bin/diff", ["-r", extracted, w.dir + "/src"])
        #expect(diff.status == 0, "seed \(w.seed): \(diff.stdout)")
        // A bootstrap without a blob has nothing to split: an error, not a guess.
        let (flat, _) = try w.image("flat", [])
        #expect { try ErofsBlobSplit(image: Self.read(flat), blobSize: 0) } throws: { "\($0)".contains("0 extra devices, expected 1") }
    }

    /// Compact (2B and 4B) and full indexes, 4 KiB and big pclusters, inline (ztailpacking)
    /// tails: every compressed file's pclusters as dump.erofs lists them.
    @Test(arguments: [
        ["-zlz4"], ["-zlz4hc"], ["-zlz4", "-Elegacy-compress"], ["-zlz4hc", "-C65536"], ["-zlz4hc,9", "-C16384", "-Elegacy-compress"],
        ["-zlz4", "-Eztailpacking"], ["-zlz4hc", "-C32768", "-Eztailpacking"], ["-zlz4hc", "-C16384", "-Eztailpacking,legacy-compress"],
        ["-zlz4", "-Eforce-inode-extended", "-C8192"],
    ])
    func compressedImagesMatchDumpErofs(_ options: [String]) throws {
        let w = try Workspace()
        let compressed = try Self.check(w, "lz4", options)
        #expect(compressed >= 4, "\(options): \(compressed) compressed files compared")
        let image = try ErofsImage(bytes: Self.read(w.dir + "/lz4.img"))
        let pclusters = try image.entries().filter(\.compressed).flatMap(\.extents)
        let big = pclusters.filter { $0.length > 4096 }.count, inline = pclusters.filter { $0.physical % 4096 != 0 }.count
        print("ErofsImageTests: \(options): \(compressed) compressed files, \(pclusters.count) pclusters (\(big) big, \(inline) inline) match dump.erofs")
        // The features under test are in use: big pclusters with -C, inline tails with ztailpacking.
        #expect((big > 0) == options.contains { $0.hasPrefix("-C") && $0 != "-C4096" })
        #expect((inline > 0) == options.contains { $0.contains("ztailpacking") })
        // Compact indexes pack 16 records in 32 bytes (2B) once a file is long enough, big pclusters or not.
        let packed2B = try image.entries().filter { $0.layout == 3 && $0.size > 100_000 }.filter { entry in
            let body = try image.inode(entry.nid).bodyEnd
            return ErofsImage.u16(image.bytes, (body + 7) / 8 * 8 + 4) & ErofsImage.adviseCompacted2B != 0
        }.count
        #expect((packed2B > 0) == (!options.contains { $0.contains("legacy") }), "\(packed2B) files with 2B records")
        let text = try #require(try image.entries().first { $0.path == "sub/text.txt" })
        #expect(text.compressed && !text.extents.isEmpty && text.extents.allSatisfy { $0.logicalLength != nil })
    }

    // MARK: hostile images

    static func entryOffset(_ image: ErofsImage, _ path: String) throws -> UInt64 {
        try #require(try image.entries().first { $0.path == path }).metadata.lowerBound
    }

    /// A file kept whole in the packed inode (the map header's top bit, `-Efragments` of newer
    /// erofs-utils): known to exist, no extent claimed, its former pclusters unattributed — never
    /// given to another file.
    @Test func aFragmentFileIsKnownButItsBytesStayUnattributed() throws {
        let w = try Workspace()
        let (path, _) = try w.image("frag", ["-zlz4hc", "-C16384"])
        var bytes = try Self.read(path)
        let image = try ErofsImage(bytes: bytes)
        let entry = try #require(try image.entries().filter { $0.compressed && !$0.extents.isEmpty }.max { $0.size < $1.size })
        let header = Int((try image.inode(entry.nid).bodyEnd + 7) / 8 * 8)
        bytes[header + 7] |= 0x80
        let edited = try ErofsImage(bytes: bytes)
        let entries = try edited.entries()
        let now = try #require(entries.first { $0.path == entry.path })
        #expect(now.compressed && now.unmapped && now.extents.isEmpty)
        let map = ImageRangeMap(image: edited, entries: entries)
        #expect(map.unmappedFiles == [entry.path])
        for e in entry.extents {
            #expect(map.owners(device: 0, offset: e.physical, length: e.length).map(\.owner) == [.unattributed], "\(entry.path) at \(e.physical)")
        }
    }

    /// Compression indexes that lie: each gets an ErofsError naming the problem, never a trap.
    @Test func hostileCompressionIndexesGetAClearError() throws {
        let w = try Workspace()
        for (name, options) in [("full", ["-zlz4hc", "-C16384", "-Elegacy-compress"]), ("compact", ["-zlz4hc", "-C16384"])] {
            let (path, _) = try w.image(name, options)
            let good = try Self.read(path)
            let image = try ErofsImage(bytes: good)
            let entry = try #require(try image.entries().filter { $0.compressed && $0.extents.count >= 2 }.max { $0.size < $1.size })
            let inode = try image.inode(entry.nid)
            let header = Int((inode.bodyEnd + 7) / 8 * 8)
            let records = header + (name == "full" ? 16 : 8)
            func expectError(_ what: String, _ edit: (inout [UInt8]) -> Void) {
                var bad = good
                edit(&bad)
                #expect { try ErofsImage(bytes: bad).entries() } throws: { error in
                    print("ErofsImageTests: \(name), \(what): \(error)")
                    return "\(error)".contains("inode \(entry.nid)") && "\(error)".contains(what)
                }
            }
            // An absurd size: far more records than the image holds.
            expectError("more than the image holds") { for b in 0..<4 { $0[Int(inode.offset) + 8 + b] = 0xff } }
            expectError("logical cluster size") { $0[header + 7] = 0x0f }
            if name == "full" {
                expectError("does not start with a head") { $0[records] = 2 }
                expectError("past the end of the image") { $0[records + 6] = 0xff; $0[records + 7] = 0x7f }  // blkaddr
                // A compressed head's first NONHEAD claims a pcluster of 2047 blocks (CBLKCNT).
                let head1 = try #require((0..<Int(entry.size / 4096)).first { i in
                    good[records + i * 8] & 3 == 1 && good[records + i * 8 + 8] & 3 == 2
                })
                expectError("larger than EROFS allows") { $0[records + head1 * 8 + 12] = 0xff; $0[records + head1 * 8 + 13] = 0x0f }
                // A head stored uncompressed (PLAIN) followed by a NONHEAD: more bytes than its block.
                if let plain = (0..<Int(entry.size / 4096)).first(where: { i in good[records + i * 8] & 3 == 0 && good[records + i * 8 + 8] & 3 != 2 }) {
                    expectError("stored uncompressed") { $0[records + plain * 8 + 8] = 2; $0[records + plain * 8 + 12] = 1; $0[records + plain * 8 + 13] = 0 }
                }
                expectError("past the cluster") { $0[records + 2] = 0xff; $0[records + 3] = 0xff }  // clusterofs
            } else {
                // The first pack's block address (its last 4 bytes; the first packs hold 2 records in 8 bytes).
                expectError("past the end of the image") { $0[records + 7] = 0x7f }
                expectError("big pclusters for only one head type") { $0[header + 4] &= ~UInt8(ErofsImage.adviseBigPcluster2) }
            }
        }
    }
    @Test func hostileImagesGetAClearError() throws {
        let w = try Workspace()
        let (path, _) = try w.image("plain", [])
        let good = try Self.read(path)
        let image = try ErofsImage(bytes: good)

        #expect(throws: ErofsError.self) { try ErofsImage(bytes: Array(good.prefix(1000))) }
        var bad = good
        bad[1024] ^= 0xff
        #expect { try ErofsImage(bytes: bad) } throws: { "\($0)".contains("not an EROFS image") }

        // A file's data address far past the end.
        bad = good
        let f = Int(try Self.entryOffset(image, "f7.bin"))
        bad[f + 16] = 0xff; bad[f + 17] = 0xff; bad[f + 18] = 0x00; bad[f + 19] = 0x01
        #expect { try ErofsImage(bytes: bad).entries() } throws: { "\($0)".contains("past the end of the image") }

        // An extended inode whose size is near 2^64: rounding it up to blocks must not trap
        // (found by scripts/fuzz image).
        let (extendedPath, _) = try w.image("extended", ["-Eforce-inode-extended"])
        let extendedGood = try Self.read(extendedPath)
        var huge = extendedGood
        let g = Int(try Self.entryOffset(try ErofsImage(bytes: extendedGood), "f7.bin"))
        for b in 0..<8 { huge[g + 8 + b] = b == 0 ? 0x01 : 0xff }
        #expect { try ErofsImage(bytes: huge).entries() } throws: { "\($0)".contains("is absurd") }

        // A directory whose entry points back at the root: a loop.
        bad = good
        let sub = try #require(try image.entries().first { $0.path == "sub/deeper" })
        let deeperInode = try image.inode(sub.nid)
        let deeperExtents = try #require(try image.extents(deeperInode)).extents
        let block = Int(deeperExtents[0].physical)
        let firstNameOff = Int(ErofsImage.u16(good, UInt64(block + 8)))
        for i in 0..<(firstNameOff / 12) {  // every entry of sub/deeper now names the root
            let root = image.superblock.rootNid
            for b in 0..<8 { bad[block + i * 12 + b] = UInt8(truncatingIfNeeded: root >> (8 * UInt64(b))) }
        }
        #expect { try ErofsImage(bytes: bad).entries() } throws: { "\($0)".contains("directory loop") }

        // A directory block whose entry table claims more than the block.
        bad = good
        bad[block + 8] = 0xff; bad[block + 9] = 0x7f
        #expect { try ErofsImage(bytes: bad).entries() } throws: { "\($0)".contains("corrupt entry table") }
    }

    @Test func nidTableGivesWhatADictionaryGives() {
        let seed = UInt64.random(in: 0...UInt64.max)
        var rng = SplitMix64(seed: seed)
        var table = ErofsImage.NidTable(expected: Int(rng.next() % 100))
        var truth: [UInt64: Int32] = [:]
        for i in 0..<30_000 {
            let nid = rng.next() % 3 == 0 ? rng.next() % (1 << 48) : UInt64(i / 4) * 32 + rng.next() % 4
            #expect(table[nid] == truth[nid], "seed \(seed): nid \(nid)")
            if rng.next() % 2 == 0 {
                let value = Int32(truncatingIfNeeded: rng.next())
                table[nid] = value
                truth[nid] = value
            }
        }
        for (nid, value) in truth { #expect(table[nid] == value, "seed \(seed): nid \(nid)") }
    }
}
