import Foundation
import Testing
import TestSupport

/// `report` on the fanotify pre-content path, on real recordings of the 7.3 test kernel
/// (SampleTraces/vm-fanotify-*-7.3.dat, README there), against the daemon's own log of every
/// event it got: the ground truth, written by a separate daemon that writes no markers.
struct FanotifyReportCLITests {
    /// One `event seq= pid= offset= count= ... response= errno=` line of `vm/fanotify/fanotify-daemon`'s log.
    struct LoggedEvent: Hashable {
        var pid: Int, offset: Int, count: Int, response: String, errno: Int
    }

    static func log(_ name: String) throws -> [LoggedEvent] {
        try Fixtures.text(Fixtures.repo + "/SampleTraces/\(name).daemon.log").split(separator: "\n")
            .filter { $0.hasPrefix("event ") }
            .map { line in
                var f: [String: String] = [:]
                for word in line.split(separator: " ") {
                    let kv = word.split(separator: "=", maxSplits: 1)
                    if kv.count == 2 { f[String(kv[0])] = String(kv[1]) }
                }
                return LoggedEvent(pid: Int(f["pid"]!)!, offset: Int(f["offset"]!)!, count: Int(f["count"]!)!,
                                   response: f["response"]!, errno: Int(f["errno"] ?? "0") ?? 0)
            }
    }

    /// The CSV rows: (pid, offset, length, answered, join).
    static func rows(_ name: String) throws -> [[String: String]] {
        let result = try Run.odt("report", "--format", "csv", Fixtures.repo + "/SampleTraces/\(name).dat")
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        let header = lines[0]
        return lines.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(header, $0)) }
    }

    static func json(_ name: String) throws -> [String: Any] {
        let result = try Run.odt("report", "--format", "json", Fixtures.repo + "/SampleTraces/\(name).dat")
        #expect(result.status == 0, "\(result.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    }

    @Test(arguments: ["vm-fanotify-7.3", "vm-fanotify-deny-7.3", "vm-fanotify-never-7.3"])
    func everyLoggedEventIsOneRequestWithItsRange(name: String) throws {
        let logged = try Self.log(name)
        let rows = try Self.rows(name)
        #expect(logged.count > 30)
        #expect(rows.count == logged.count)
        // Each request's reader and range is one the daemon logged, each logged event one request.
        let seen = rows.map { "\($0["pid"]!) \($0["offset"]!) \($0["length"]!)" }.sorted()
        let truth = logged.map { "\($0.pid) \($0.offset) \($0.count)" }.sorted()
        #expect(seen == truth)
        // Answered exactly, or not at all: the never-answered one.
        let unanswered = logged.filter { $0.response == "never" }.count
        #expect(rows.filter { $0["join"] == "event" && !$0["completed_s"]!.isEmpty }.count == logged.count - unanswered)
        #expect(rows.filter { $0["join"] == "none" && $0["completed_s"]!.isEmpty }.count == unanswered)
        let doc = try Self.json(name)
        #expect(doc["backend"] as? String == "fanotify")
        let anomalies = try #require((doc["anomalies"] as? [String: Any])?["by_kind"] as? [String: Int])
        #expect(anomalies["denied"] == logged.filter { $0.response == "deny" }.count)
        #expect(anomalies["never_answered"] == unanswered)
        #expect(anomalies["reader_gave_up"] == 0)
    }

    @Test func aDenialNamesTheErrnoTheDaemonGave() throws {
        let denied = try Self.log("vm-fanotify-deny-7.3").filter { $0.response == "deny" }
        #expect(denied.count == 4 && denied.allSatisfy { $0.errno == 5 })
        let result = try Run.odt("report", "--anomalies", Fixtures.repo + "/SampleTraces/vm-fanotify-deny-7.3.dat")
        let lines = result.stdout.split(separator: "\n").filter { $0.contains("FAN_DENY") }
        #expect(lines.count == 4)
        for event in denied {
            #expect(lines.contains { $0.contains("range \(event.offset)+\(event.count) of pid \(event.pid): FAN_DENY: EIO (Input/output error)") })
        }
    }
}
