import OndemandTraceCore
import SystemCalls

/// The fanotify path's image file (or a data blob's) for one run: a sparse file of the image's
/// size in the run's cache directory, which the daemon marks and fills and the kernel mounts
/// file-backed (a blob's as a `device=`).
struct FanotifyImage {
    let path: String
    let size: Int64

    /// Filesystems that let a file raise pre-content events (`SB_I_ALLOW_HSM`), by statfs magic.
    static let hsmFilesystems: [Int: String] = [0xEF53: "ext4", 0x5846_5342: "xfs", 0x9123_683E: "btrfs"]
    static let knownOthers: [Int: String] = [0x0102_1994: "tmpfs", 0x0102_1997: "9p", 0x6969: "nfs", 0x794C_7630: "overlayfs"]

    /// Creates `DIR/FILENAME`, sparse, with the size of `image`; refuses a directory whose
    /// filesystem allows no pre-content events.
    init(directory: String, fileName: String, image: String) throws(RunError) {
        let magic: Int
        do { magic = try FileSystem.filesystemType(directory) } catch { throw RunError("\(directory): \(describeErrno(error.errno))") }
        guard Self.hsmFilesystems[magic] != nil else {
            let what = Self.knownOthers[magic] ?? "a filesystem of type 0x\(String(magic, radix: 16))"
            throw RunError("\(directory): on \(what), which raises no fanotify pre-content events: use a --cache-dir on ext4, xfs or btrfs")
        }
        let imageSize: UInt64
        do { imageSize = try FileSystem.status(image).size } catch { throw RunError("\(image): \(describeErrno(error.errno))") }
        (path, size) = (directory + "/" + fileName, Int64(imageSize))
        let file: Descriptor
        do { file = try Descriptor.open(path, .write, [.create, .truncate]) } catch {
            throw RunError("\(path): cannot create the image file: \(describeErrno(error.errno))")
        }
        defer { file.close() }
        do { try file.truncate(to: imageSize) } catch { throw RunError("\(path): cannot size the image file: \(describeErrno(error.errno))") }
    }

    /// Drops every byte (the file stays, and with it the daemon's mark): the next pass misses again.
    func empty() throws(RunError) {
        do {
            try FileSystem.truncate(path, to: 0)
            try FileSystem.truncate(path, to: UInt64(size))
        } catch {
            throw RunError("\(path): cannot empty the image file for the next pass: \(describeErrno(error.errno))")
        }
    }

    /// The file's device and inode, as the kernel's fdinfo shows them (hex).
    var identity: (dev: UInt64, ino: UInt64)? {
        guard let status = try? FileSystem.status(path) else { return nil }
        return (status.kernelDevice, status.inode)
    }

    /// Whether some process holds a fanotify mark for pre-content events on this file (a
    /// foreign daemon marks it itself: the run waits for that before it mounts).
    func isMarked() -> Bool {
        guard let id = identity else { return false }
        for pid in (try? FileContents.directoryEntries("/proc")) ?? [] where Int32(pid) != nil {
            for fd in (try? FileContents.directoryEntries("/proc/\(pid)/fdinfo")) ?? [] {
                guard isFanotify("/proc/\(pid)/fd/\(fd)"), let info = try? FileContents.readText("/proc/\(pid)/fdinfo/\(fd)") else { continue }
                if FanotifyMarks.parse(info).contains(where: { $0.ino == id.ino && $0.sdev == id.dev && $0.mask & FanotifyProbe.preAccessMask != 0 }) {
                    return true
                }
            }
        }
        return false
    }

    private func isFanotify(_ link: String) -> Bool {
        FileSystem.linkTarget(link) == "anon_inode:[fanotify]"
    }

    /// mount(2) of the image file itself, file-backed (a loop device's reads would bypass the
    /// hook), each blob's file a `device=` in the image's device order (EROFS opens each as a
    /// file and reads it through the same hook).
    func mount(at target: String, blobs: [FanotifyImage] = []) -> Int32? {
        let options = blobs.isEmpty ? nil : blobs.map { "device=\($0.path)" }.joined(separator: ",")
        return Mounts.mount(path, on: target, type: "erofs", readOnly: true, options: options)
    }
}
