/// Where `TraceDatFileWriter` puts a trace.dat: a new file that becomes the output only when every
/// byte is written and on the disk, so a failure never leaves a file that looks complete.
/// This module does no I/O: the recorder's `TraceDatOutputFile` (a temporary file beside the
/// output, synced, renamed over it) is the implementation over the OS, for the recorder, the
/// crash-safe recovery and `trace-dat-gen` alike.
public protocol TraceDatSink {
    associatedtype Failure: Error
    /// Appends `bytes` to the file.
    mutating func write(_ bytes: UnsafeRawBufferPointer) throws(Failure)
    /// Makes the file durable and puts it in place; its size.
    mutating func commit() throws(Failure) -> UInt64
    /// Removes what was written (after a failure).
    mutating func discard()
}

/// The one trace.dat writer: the v6 header, then each CPU's section of pages in CPU order (the
/// offsets the header's table gives them), committed; after any failure the file is discarded.
public enum TraceDatFileWriter {
    /// `section(cpu, &sink)` appends CPU `cpu`'s pages: `header.cpuDataSizes[cpu]` bytes.
    /// Returns the size of the file.
    public static func write<Sink: TraceDatSink>(header: TraceDatV6Header, to sink: inout Sink,
                                                 section: (_ cpu: Int, _ sink: inout Sink) throws(Sink.Failure) -> Void)
        throws(Sink.Failure) -> UInt64 {
        do throws(Sink.Failure) {
            var failure: Sink.Failure?
            header.encode().bytes.withUnsafeBytes { raw in
                do throws(Sink.Failure) { try sink.write(raw) } catch { failure = error }
            }
            if let failure { throw failure }
            for cpu in header.cpuDataSizes.indices { try section(cpu, &sink) }
            return try sink.commit()
        } catch {
            sink.discard()
            throw error
        }
    }
}
