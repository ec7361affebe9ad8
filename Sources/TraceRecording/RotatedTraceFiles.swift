import SystemCalls
import TraceDatFormat

/// `RecordingOutput.rotating`: writes the pages recorded so far as `monitor-<UTC time>.dat` in the
/// directory, empties the per-CPU files, and removes the oldest such files beyond `keep`.
/// Used from one thread at a time (the reader thread, then `stop()` after it has ended).
final class RotatedTraceFiles: @unchecked Sendable {
    static let prefix = "monitor-"
    let rotation: TraceRotation
    private var lastMilliseconds: UInt64 = 0
    /// The last file written, and its size.
    private(set) var lastWritten: (path: String, size: UInt64)?

    init(rotation: TraceRotation) { self.rotation = rotation }

    /// Writes a file unless no page was recorded since the last one; its path and size.
    @discardableResult
    func write(header: TraceDatV6Header, cpuFiles: [CPUDataFile]) throws(RecordingError) -> (String, UInt64)? {
        guard cpuFiles.contains(where: { $0.size > 0 }) else { return nil }
        let path = rotation.directory + "/" + nextName()
        let size = try TraceDatOutputFile.write(header: header, cpuFiles: cpuFiles, to: path)
        for file in cpuFiles { try file.reset() }
        lastWritten = (path, size)
        rotation.onFile?(path)
        removeOldest()
        return (path, size)
    }

    /// The pieces of the file being filled (`RecordingPieces`): `DIR/monitor-current.meta`, `.cpuN`.
    static let piecesName = "monitor-current"

    /// Where the pieces of the file being filled go, and the path errors name. Those a killed
    /// monitor left are assembled first into a rotated file of their own (none without records).
    static func piecesBase(_ rotation: TraceRotation) throws(RecordingError) -> (base: String, output: String) {
        let base = rotation.directory + "/" + piecesName
        if FileSystem.exists(RecordingPieces.metaPath(base)) {
            var ms = Clock.realtime.nanoseconds() / 1_000_000
            while FileSystem.exists(rotation.directory + "/" + name(milliseconds: ms)) { ms += 1 }
            let recovered = try RecordingRecovery.recover(output: rotation.directory + "/" + name(milliseconds: ms), pieces: base)
            if recovered.records == 0 { try? FileSystem.remove(recovered.path) } else { rotation.onFile?(recovered.path) }
        }
        return (base, rotation.directory)
    }

    /// `monitor-20261130T161502.123Z.dat` (UTC, milliseconds): names sort in time order; a
    /// millisecond already used (or a file already there) moves the name on by one millisecond.
    private func nextName() -> String {
        var ms = max(Clock.realtime.nanoseconds() / 1_000_000, lastMilliseconds + 1)
        while FileSystem.exists(rotation.directory + "/" + Self.name(milliseconds: ms)) { ms += 1 }
        lastMilliseconds = ms
        return Self.name(milliseconds: ms)
    }

    static func name(milliseconds: UInt64) -> String {
        let f = RecoveryResult.utcFields(milliseconds: milliseconds)
        return prefix + f[0] + f[1] + f[2] + "T" + f[3] + f[4] + f[5] + "." + f[6] + "Z.dat"
    }

    /// Removes the oldest rotated files beyond `keep` (only files named like ours).
    private func removeOldest() {
        guard let names = try? FileContents.directoryEntries(rotation.directory) else { return }
        let ours = names.filter { $0.hasPrefix(Self.prefix) && $0.hasSuffix(".dat") }.sorted()
        for name in ours.dropLast(rotation.keep) { try? FileSystem.remove(rotation.directory + "/" + name) }
    }
}
