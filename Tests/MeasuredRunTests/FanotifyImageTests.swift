import CDaemonSys
import Glibc
import OndemandTraceCore
import Testing
import TestSupport
@testable import MeasuredRun

/// The fanotify path's image file: made sparse, the size of the image, only where the filesystem
/// raises pre-content events; emptied between passes; seen as marked once a daemon marks it.
@Suite struct FanotifyImageTests {
    let scratch: TemporaryDirectory
    let image: String
    static let imageSize = 3 * 65536 + 123

    init() throws {
        scratch = try TemporaryDirectory("fan-image")
        image = scratch.path + "/source.erofs"
        try Fixtures.write([UInt8](repeating: 0xab, count: Self.imageSize), to: image)
    }

    /// Whether the cache directory (a TemporaryDirectory) is on a filesystem the path accepts.
    static let temporaryFilesAllowHSM: Bool = {
        guard let dir = try? TemporaryDirectory("fan-fs") else { return false }
        var fs = statfs()
        return statfs(dir.path, &fs) == 0 && FanotifyImage.hsmFilesystems[Int(fs.f_type)] != nil
    }()

    static func status(_ path: String) -> Glibc.stat? {
        var st = Glibc.stat()
        return lstat(path, &st) == 0 ? st : nil
    }

    @Test(.enabled(if: HostFacts.tmpfsDirectory != nil, "no tmpfs here"))
    func aTmpfsCacheDirectoryIsRefusedBeforeAnythingIsMade() throws {
        let tmpfs = try #require(HostFacts.tmpfsDirectory)
        let name = "odt-test-\(getpid())"
        do {
            let made = try FanotifyImage(directory: tmpfs, fileName: name + ".img", image: image)
            Issue.record("made \(made.path) on tmpfs")
            unlink(made.path)
        } catch {
            #expect(error.description == "\(tmpfs): on tmpfs, which raises no fanotify pre-content events: use a --cache-dir on ext4, xfs or btrfs")
        }
        #expect(access(tmpfs + "/" + name + ".img", F_OK) != 0)
    }

    @Test func aMissingDirectoryOrImageIsNamed() {
        do {
            _ = try FanotifyImage(directory: scratch.path + "/none", fileName: "run" + ".img", image: image)
            Issue.record("a missing directory was accepted")
        } catch { #expect(error.description == "\(scratch.path)/none: ENOENT (No such file or directory)") }
        guard Self.temporaryFilesAllowHSM else { return }
        do {
            _ = try FanotifyImage(directory: scratch.path, fileName: "run" + ".img", image: scratch.path + "/none.erofs")
            Issue.record("a missing image was accepted")
        } catch { #expect(error.description == "\(scratch.path)/none.erofs: ENOENT (No such file or directory)") }
        #expect(access(scratch.path + "/run.img", F_OK) != 0)
    }

    @Test(.enabled(if: temporaryFilesAllowHSM, "temporary files are not on ext4, xfs or btrfs"))
    func theImageFileIsSparseWithTheImagesSizeAndEmptiesForTheNextPass() throws {
        let file = try FanotifyImage(directory: scratch.path, fileName: "run-1" + ".img", image: image)
        #expect(file.path == scratch.path + "/run-1.img")
        #expect(file.size == Int64(Self.imageSize))
        let made = try #require(Self.status(file.path))
        #expect(made.st_size == off_t(Self.imageSize))
        #expect(made.st_blocks == 0)   // sparse: every byte is the daemon's to fill
        // A pass fills it; the next pass must miss again.
        let filled = [UInt8](repeating: 7, count: 65536)
        let fd = open(file.path, O_WRONLY | O_CLOEXEC)
        #expect(filled.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 65536) } == 65536)
        fsync(fd)
        close(fd)
        let written = try #require(Self.status(file.path))
        #expect(written.st_blocks > 0)
        try file.empty()
        let emptied = try #require(Self.status(file.path))
        #expect(emptied.st_size == off_t(Self.imageSize) && emptied.st_blocks == 0)
        #expect(emptied.st_ino == made.st_ino)   // the same file: a daemon's mark stays on it
        // (its device as fdinfo writes it is checked against the kernel's own in aDaemonsMarkIsSeen)
        let identity = try #require(file.identity)
        #expect(identity.ino == UInt64(made.st_ino))
    }

    /// Nobody marks the file: not marked. A pre-content mark on it (as a daemon places one): marked;
    /// a mark on another file does not count.
    @Test(.enabled(if: temporaryFilesAllowHSM && HostFacts.hasPreContentEvents, "needs root and fanotify pre-content events"))
    func aDaemonsMarkIsSeen() throws {
        let file = try FanotifyImage(directory: scratch.path, fileName: "marked" + ".img", image: image)
        let other = try FanotifyImage(directory: scratch.path, fileName: "other" + ".img", image: image)
        #expect(!file.isMarked())
        let group = fanotify_init(UInt32(FAN_CLASS_PRE_CONTENT | FAN_CLOEXEC), UInt32(O_RDWR))
        try #require(group >= 0)
        defer { close(group) }
        #expect(fanotify_mark(group, UInt32(FAN_MARK_ADD), FanotifyProbe.preAccessMask, AT_FDCWD, other.path) == 0)
        #expect(!file.isMarked())
        #expect(other.isMarked())
        #expect(fanotify_mark(group, UInt32(FAN_MARK_ADD), FanotifyProbe.preAccessMask, AT_FDCWD, file.path) == 0)
        #expect(file.isMarked())
    }
}
