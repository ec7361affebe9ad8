import TraceDatFormat

/// The records of an uncompressed, little-endian trace.dat read straight from its mapped pages
/// in time order across CPUs (`TraceDatPageWalker`, as `report` reads them), for a tool that feeds
/// them elsewhere (`monitor-replay`: `monitor`'s pipeline fed from a file).
public final class TraceDatPages {
    public let path: String
    private let file: MappedFile
    private let structure: TraceDatStructure

    public init(path: String) throws(TraceFileError) {
        self.path = path
        file = try MappedFile(path: path)
        structure = try TraceDatStructure.parse(file.bytes, path: path)
        guard structure.compression == "none", !structure.bigEndian else {
            throw TraceFileError(path: path, message: "compressed or big-endian: its pages are not read directly")
        }
    }

    /// The kernel the trace was recorded on, as its file says.
    public var kernelRelease: String? { structure.kernelRelease }
    /// How many CPUs have pages in the file.
    public var cpusWithData: Int { structure.cpuData.filter { $0.size > 0 }.count }

    /// Calls `body` with every record (its CPU, time stamp, payload and the events lost before
    /// it); the payload is valid only during the call.
    public func forEach(_ body: (_ cpu: Int32, _ timestamp: UInt64, _ payload: UnsafeRawBufferPointer, _ missedEvents: Int64) -> Void) throws {
        var walker = TraceDatPageWalker(file: file.bytes, cpuData: structure.cpuData.map { ($0.cpu, Int($0.offset), Int($0.size)) },
                                        pageSize: structure.pageSize, commitSize: structure.longSize,
                                        release: TraceDatPageWalker.copyingRelease)
        try walker.forEach { record in
            body(record.cpu, record.timestamp, record.data, record.missedEvents)
            return true
        }
    }
}
