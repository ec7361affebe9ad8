import OndemandTraceCore
import SystemCalls

/// The runs `check` and `run --baseline` read from a file: a report JSON as it is
/// (`RunFiguresJSON`), a trace read and reported first (`TraceReport`).
public enum RunSetFiles {
    /// A baseline must be a report document (not a trace: it is what the repository keeps).
    public static func baseline(_ path: String) throws -> RunSet {
        guard try startsLikeJSON(path) else {
            throw CheckInputError("\(path): not a report (a baseline is a report JSON: `run --report` or `report --format json`)")
        }
        return try report(path)
    }

    /// A report JSON, or a trace (`textFormats`: asked for only when the file is a trace).
    public static func current(_ path: String, textFormats: () throws -> [EventLayout]?) throws -> RunSet {
        if try startsLikeJSON(path) { return try report(path) }
        let (model, _) = try TraceReport.build(path: path, textFormats: try textFormats())
        let figures = RunFigures(report: model)
        guard figures.readsMeasured > 0 else {
            throw CheckInputError("\(path): no answered READ in the trace: nothing to compare")
        }
        return RunSet(single: figures)
    }

    static func report(_ path: String) throws(CheckInputError) -> RunSet {
        let bytes: [UInt8]
        do { bytes = try FileContents.read(path) } catch { throw CheckInputError(error.description) }
        return try RunFiguresJSON.runSet(fromReportJSON: bytes, path: path)
    }

    /// Whether the file's first non-blank byte is `{` (reads at most the first 4 KiB).
    static func startsLikeJSON(_ path: String) throws(CheckInputError) -> Bool {
        let head: [UInt8]
        do { head = try FileContents.read(path, limit: 4096) } catch { throw CheckInputError(error.description) }
        let first = head.first { ![0x20, 0x09, 0x0a, 0x0d].contains($0) }
        return first == UInt8(ascii: "{")
    }
}
