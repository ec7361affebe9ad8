import Foundation
import Monitoring
import Testing
import TestSupport

/// The real server on loopback, asked by a real HTTP client (python3's urllib).
@Suite struct MetricsHTTPServerTests {
    static let client = """
        import sys, urllib.request, urllib.error
        url, method, accept = sys.argv[1], sys.argv[2], sys.argv[3]
        req = urllib.request.Request(url, method=method, headers={"Accept": accept} if accept else {})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                print(r.status, r.headers["Content-Type"], len(r.read()), sep="|")
        except urllib.error.HTTPError as e:
            print(e.code, e.headers["Content-Type"], len(e.read()), sep="|")
        """

    func get(_ port: Int, _ path: String, method: String = "GET", accept: String = "") throws -> [String] {
        let result = try Run.program("/usr/bin/python3", ["-c", Self.client, "http://127.0.0.1:\(port)\(path)", method, accept])
        #expect(result.status == 0, "\(result.stderr)")
        return result.stdout.trimmingCharacters(in: .newlines).split(separator: "|").map(String.init)
    }

    @Test func servesMetricsInTheFormatAskedFor() throws {
        let body = Array("ondemand_x_total 1\n".utf8)
        let server = try MetricsHTTPServer.start(host: "127.0.0.1", port: 0) { openMetrics in
            openMetrics ? body + Array("# EOF\n".utf8) : body
        }
        defer { server.stop() }
        let port = server.boundAddress.port
        #expect(port > 0)
        #expect(try get(port, "/metrics") == ["200", "text/plain; version=0.0.4; charset=utf-8", "\(body.count)"])
        #expect(try get(port, "/metrics?x=1", accept: "application/openmetrics-text;version=1.0.0,text/plain;q=0.5")
                == ["200", "application/openmetrics-text; version=1.0.0; charset=utf-8", "\(body.count + 6)"])
        #expect(try get(port, "/nope")[0] == "404")
        #expect(try get(port, "/metrics", method: "POST")[0] == "405")
        #expect(try get(port, "/")[0] == "200")
    }

    /// busybox wget is what the test VM scrapes with (not with -T: Debian's 1.35 segfaults with it).
    @Test func busyboxWgetReadsTheMetrics() throws {
        let body = Array("ondemand_x_total 1\n".utf8)
        let server = try MetricsHTTPServer.start(host: "127.0.0.1", port: 0) { _ in body }
        defer { server.stop() }
        let result = try Run.program("/bin/busybox", ["wget", "-q", "-O", "-", "http://127.0.0.1:\(server.boundAddress.port)/metrics"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "ondemand_x_total 1\n")
    }

    @Test func aPortInUseIsOneClearError() throws {
        let first = try MetricsHTTPServer.start(host: "127.0.0.1", port: 0) { _ in [] }
        defer { first.stop() }
        #expect {
            _ = try MetricsHTTPServer.start(host: "127.0.0.1", port: first.boundAddress.port) { _ in [] }
        } throws: { error in
            "\(error)" == "--listen 127.0.0.1:\(first.boundAddress.port): the address is already in use (another monitor or exporter on that port?)"
        }
    }
}
