/// One CSV row per request; `report` writes them by issue time (`RowsByIssue`), requests being
/// closed in the order they are answered (unanswered ones at the end).
public enum ReportCSV {
    /// Rows kept until the trace is read, then handed on by issue time (`issued_s`), requests
    /// issued at the same time in the order they closed. The text of each row is kept in one
    /// byte array (not a string per row).
    public struct RowsByIssue: Sendable {
        private var text: [UInt8] = []
        private var rows: [(issued: UInt64, end: Int)] = []

        public init() {}

        public mutating func add(_ request: RequestRecord, row: String) {
            text.append(contentsOf: row.utf8)
            rows.append((request.issued, text.count))
        }

        /// Each row, in issue order.
        public func forEach(_ body: (String) -> Void) {
            let order = rows.indices.sorted { (rows[$0].issued, $0) < (rows[$1].issued, $1) }
            for i in order {
                let start = i == 0 ? 0 : rows[i - 1].end
                body(String(decoding: text[start..<rows[i].end], as: UTF8.self))
            }
        }
    }

    public static let header = "kind,obj,msg_id,pid,comm,offset,length,issued_s,picked_up_s,written_s,completed_s,latency_us,join,range_written,blob,resumed_s,stall_us"

    public static func row(_ r: RequestRecord) -> String {
        func opt<T>(_ v: T?) -> String { v.map { "\($0)" } ?? "" }
        func sec(_ ns: UInt64?) -> String { ns.map { JSONWriter.format(Double($0) / 1e9, decimals: 9) } ?? "" }
        let comm = r.comm.map(quote) ?? ""
        return [r.kind.rawValue, String(r.obj), opt(r.msgID), String(r.pid), comm, opt(r.offset), opt(r.length),
                sec(r.issued), sec(r.pickedUp), sec(r.written), sec(r.completed),
                r.latency.map { JSONWriter.format(Double($0) / 1000, decimals: 3) } ?? "",
                r.join.rawValue, r.kind == .read ? String(r.rangeWritten) : "", r.blob.map { quote($0.blob) } ?? "",
                sec(r.resumed), r.stall.map { JSONWriter.format(Double($0) / 1000, decimals: 3) } ?? ""].joined(separator: ",")
    }

    /// With `report --image`: a last column, the files (and `(metadata)`, `(unattributed)`) a
    /// READ's range covered, separated by `;`.
    public static let headerWithPaths = header + ",paths"

    public static func row(_ r: RequestRecord, paths: [String]) -> String {
        row(r) + "," + quote(paths.joined(separator: ";"))
    }

    /// RFC 4180 quoting when needed.
    static func quote(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
        var out = "\""
        for c in s { out += c == "\"" ? "\"\"" : String(c) }
        return out + "\""
    }
}
