import OndemandTraceCore

/// Decodes the recorder's raw records (`RecordingOptions.onRecords`) into trace events, with the
/// layouts of the recorded events' format files: what `record --live` and `monitor` correlate.
public struct LiveRecordDecoder: Sendable {
    private let decoder: BinaryEventDecoder

    /// `formats`: the recorded events' format files (`RecordingSession.eventFormats`).
    public init(formats: [(system: String, format: String)]) throws(RecordingError) {
        var layouts: [EventLayout] = []
        for (system, text) in formats {
            do {
                layouts.append(try FormatFileParser.parse(text, system: system))
            } catch {
                throw RecordingError("cannot parse the format of a \(system) event: \(error)")
            }
        }
        self.init(layouts: layouts)
    }

    public init(layouts: [EventLayout]) {
        decoder = BinaryEventDecoder(layouts: layouts, selection: .report)
    }

    /// The record as an event the correlator takes; nil for records of no interest to it. The
    /// task name is not in the ring buffer: `comm` is nil.
    public func event(_ record: RawRecord) -> TraceEvent? {
        guard let body = record.bytes.withUnsafeBytes({ try? decoder.decode($0) }) ?? nil else { return nil }
        let pid = record.bytes.withUnsafeBytes { decoder.pid(of: $0) }
        return TraceEvent(timestamp: record.timestamp, cpu: record.cpu, pid: pid, comm: nil, body: body)
    }
}
