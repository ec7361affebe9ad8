import ArgumentParser
import ErofsFormat
import Foundation

/// EROFS images the VM tests need and erofs-utils 1.5 cannot make, through `ErofsFormat`.
@main
struct ErofsTool: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "erofs-tool", subcommands: [SplitBlob.self])
}

/// `vm/make-image twoblobs`: a bootstrap + blob made a bootstrap + two blobs, as Nydus images have.
struct SplitBlob: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "split-blob",
        abstract: "Moves the chunks of the second half of IMAGE's blob to BLOB2 (device 2); IMAGE and BLOB are rewritten."
    )

    @Argument(help: "A bootstrap with one blob (mkfs.erofs --chunksize --blobdev).") var image: String
    @Argument(help: "Its blob: keeps the first half.") var blob: String
    @Argument(help: "The second blob, written.") var blob2: String

    func run() throws {
        let (imageBytes, blobBytes) = (try Self.read(image), try Self.read(blob))
        let split: ErofsBlobSplit
        do { split = try ErofsBlobSplit(image: imageBytes, blobSize: UInt64(blobBytes.count)) } catch {
            throw Self.failure(image, "\(error)")
        }
        let half = Int(split.firstBlobBytes)
        try Self.write(split.image[...], to: image)
        try Self.write(blobBytes.prefix(half), to: blob)
        try Self.write(blobBytes.dropFirst(half), to: blob2)
        print("split-blob: \(split.movedChunks) chunk(s) moved to the second blob (\(split.secondBlobBlocks) of \(split.blobBlocks) blocks)")
    }

    static func read(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else { throw failure(path, "cannot be read") }
        return [UInt8](data)
    }

    static func write(_ bytes: ArraySlice<UInt8>, to path: String) throws {
        do { try Data(bytes).write(to: URL(fileURLWithPath: path)) } catch { throw failure(path, "cannot be written: \(error.localizedDescription)") }
    }

    /// One line naming the file, exit 2 (bad input).
    static func failure(_ path: String, _ problem: String) -> ExitCode {
        FileHandle.standardError.write(Data("erofs-tool split-blob: \(path): \(problem)\n".utf8))
        return ExitCode(2)
    }
}
