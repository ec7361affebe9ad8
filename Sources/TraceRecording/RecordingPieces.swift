import SystemCalls
import TraceDatFormat

/// The crash-safe files of a recording beside its output (`RecordingPieceFormat`): `OUTPUT.meta`,
/// written and synced before tracing starts, and one `OUTPUT.cpuN` per CPU that the drain thread
/// writes pages to after every drain round and syncs every `syncInterval`. A normal end assembles the trace.dat and removes
/// them; after a kill, `RecordingRecovery` assembles them. Used from one thread at a time.
final class RecordingPieces {
    let base: String
    let files: [CPUDataFile]
    let syncIntervalNs: UInt64
    private var lastSync: UInt64

    static func metaPath(_ base: String) -> String { base + ".meta" }
    static func piecePath(_ base: String, cpu: Int) -> String { base + ".cpu\(cpu)" }

    /// Writes `BASE.meta` (temporary file, fsync, rename, the directory synced), then creates the
    /// pieces. `output`: the path errors name.
    init(base: String, meta: RecordingPieceFormat.Meta, output: String, syncIntervalMS: Int) throws(RecordingError) {
        self.base = base
        syncIntervalNs = UInt64(max(1, syncIntervalMS)) * 1_000_000
        lastSync = monotonicNanoseconds()
        let metaPath = Self.metaPath(base)
        let temporary = metaPath + ".\(ThisProcess.id).tmp"
        let file = Descriptor(fd: try OutputFiles.create(temporary, output: output), path: temporary)
        let bytes = RecordingPieceFormat.encode(meta)
        do throws(SystemError) {
            try file.write(bytes)
            try file.sync()
            file.close()
        } catch {
            file.close()
            try? FileSystem.remove(temporary)
            throw RecordingError("\(metaPath): writing failed: \(OutputFiles.describe(error.errno))")
        }
        do { try FileSystem.rename(temporary, to: metaPath) } catch {
            try? FileSystem.remove(temporary)
            throw RecordingError("\(metaPath): cannot rename into place: \(OutputFiles.describe(error.errno))")
        }
        var files: [CPUDataFile] = []
        do throws(RecordingError) {
            for cpu in 0..<meta.cpuCount {
                let header = RecordingPieceFormat.pieceHeader(id: meta.id, cpu: cpu, pid: meta.pid, pageSize: meta.header.pageSize)
                files.append(try CPUDataFile(piece: Self.piecePath(base, cpu: cpu), header: header, output: output))
            }
        } catch {
            Self.remove(base: base, cpus: meta.cpuCount)
            throw error
        }
        self.files = files
        Self.syncDirectory(of: base)
    }

    /// After each drain round: the pages go to the files at once (a killed process loses none of
    /// them: the page cache keeps what was written), and to the disk every `syncInterval` (what a
    /// power loss may take).
    func afterRound() throws(RecordingError) {
        for file in files { try file.flush() }
        let now = monotonicNanoseconds()
        guard now - lastSync >= syncIntervalNs else { return }
        for file in files { try file.sync() }
        lastSync = now
    }

    /// The metadata first: a kill in between leaves pieces that cannot be mistaken for a recording.
    func remove() { Self.remove(base: base, cpus: files.count) }

    static func remove(base: String, cpus: Int) {
        try? FileSystem.remove(metaPath(base))
        for cpu in 0..<cpus { try? FileSystem.remove(piecePath(base, cpu: cpu)) }
    }

    static func syncDirectory(of path: String) {
        FileSystem.syncDirectory(OutputFiles.directory(of: path))
    }

    /// Removes `BASE.meta.<pid>.tmp` files of dead recorders (killed while writing the metadata,
    /// before they recorded anything); their pids.
    static func removeUnfinishedMeta(base: String) -> [Int32] {
        let prefix = OutputFiles.baseName(of: metaPath(base)) + "."
        let dir = OutputFiles.directory(of: base)
        var removed: [Int32] = []
        for name in (try? FileContents.directoryEntries(dir)) ?? [] where name.hasPrefix(prefix) && name.hasSuffix(".tmp") {
            guard let pid = Int32(name.dropFirst(prefix.count).dropLast(4)), pid != ThisProcess.id, !ThisProcess.exists(pid) else { continue }
            if (try? FileSystem.remove(dir + "/" + name)) != nil { removed.append(pid) }
        }
        return removed
    }

    /// Refuses to record over the pieces of another recording (unrecovered, or still running).
    static func checkNoneLeft(base: String, output: String) throws(RecordingError) {
        _ = removeUnfinishedMeta(base: base)
        let metaPath = metaPath(base)
        guard FileSystem.exists(metaPath) else { return }
        let meta = try? RecordingPieceFormat.decodeMeta(try FileContents.read(metaPath))
        if let meta, RecordingRecovery.isRunning(meta) {
            throw RecordingError("\(output): already being recorded by pid \(meta.pid) (its pieces \(metaPath), \(base).cpuN are beside it)")
        }
        throw RecordingError("\(metaPath): the pieces of a killed recording are beside the output; assemble them with `ondemand-trace record --recover \(output)` (or remove \(base).meta and \(base).cpu*)")
    }

    /// A new recording's metadata: a random id, this process, the time now.
    static func meta(header: TraceDatV6Header, instance: String) -> RecordingPieceFormat.Meta {
        var generator = SystemRandomNumberGenerator()
        let id = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return .init(id: id, pid: UInt32(ThisProcess.id), startRealtimeNs: Clock.realtime.nanoseconds(), startClockNs: monotonicNanoseconds(),
                     instance: instance, header: header)
    }
}

extension RecordingSession {
    /// The crash-safe pieces beside `base`, with the header as far as it is known at the start.
    static func pieces(base: String, output: String, metadata: Metadata, instance: TracefsInstance, pageSize: Int,
                       options: RecordingOptions, cpus: Int) throws(RecordingError) -> RecordingPieces {
        var (header, _) = header(metadata: metadata, instance: instance, pageSize: pageSize, clock: options.clock, cpus: cpus, cpuFiles: [])
        header.options.removeAll { $0.id == .cpuStat }
        header.cpuDataSizes = Array(repeating: 0, count: cpus)
        return try RecordingPieces(base: base, meta: RecordingPieces.meta(header: header, instance: instance.name),
                                   output: output, syncIntervalMS: options.syncIntervalMS)
    }
}
