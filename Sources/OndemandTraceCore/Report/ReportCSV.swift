/// One CSV row per request, in the order requests close (answered as answered, unanswered at the end).
public enum ReportCSV {
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
