import Testing
import TestSupport

/// The real binary, as a user runs it.
@Suite struct DumpCLITests {
    static let sample = Fixtures.repo + "/SampleTraces/starter-6.12.dat"

    @Test func dumpsTheSampleTraceGolden() throws {
        let result = try Run.odt("dump", Self.sample)
        #expect(result.status == 0)
        #expect(result.stderr.isEmpty)
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 70)
        #expect(lines.first == "      4.400028 [000] ondemand-117         open       obj=1 msg_id=0 object_id=0 fd=4 flags=0")
        #expect(lines[2] == "      4.409093 [001] mount-119            read       obj=1 msg_id=0 object_id=0 start=0 len=4096")
        #expect(lines.last == "      5.536094 [000] ondemand-117         fd_release obj=1 object_id=1")
    }

    @Test func jsonLinesCarryEveryField() throws {
        let result = try Run.odt("dump", "--format", "json", Self.sample)
        #expect(result.status == 0)
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 70)
        #expect(lines[1] == #"{"event":"cachefiles_ondemand_copen","ts_ns":4402740965,"ts":4.402740965,"cpu":1,"pid":117,"comm":"ondemand","fields":{"obj":1,"msg_id":0,"len":2117632}}"#)
    }

    /// Every line of the JSON output parses (python3's json module), carries the fixed keys, and
    /// the lines are the text's events in the same order.
    @Test(arguments: [Self.sample, Fixtures.repo + "/SampleTraces/record-6.12.dat", Fixtures.repo + "/SampleTraces/starter-6.12.txt"])
    func everyJSONLineIsValidJSON(path: String) throws {
        let json = try Run.odt("dump", "--all", "--format", "json", path)
        let text = try Run.odt("dump", "--all", path)
        #expect(json.status == 0 && text.status == 0)
        let check = try Run.program("/usr/bin/env", ["python3", "-c", """
            import json, sys
            n = 0
            for line in sys.stdin:
                e = json.loads(line)
                assert list(e)[:7] == ["event", "ts_ns", "ts", "cpu", "pid", "comm", "fields"], line
                assert isinstance(e["ts_ns"], int) and isinstance(e["fields"], dict), line
                n += 1
            print(n)
            """], stdin: json.stdout)
        #expect(check.status == 0, "\(check.stderr)")
        let lines = text.stdout.split(separator: "\n").count
        #expect(lines > 100)
        #expect(check.stdout == "\(lines)\n")
    }

    /// CSV: a header, a row per event with every column, values equal to the JSON lines' (python3's
    /// csv module reads it back).
    /// (A trace.dat has a column for every field; text input's events without a format keep their
    /// printed labels, which go to `other_fields`.)
    @Test(arguments: [("record-6.12.dat", 1799), ("starter-6.12.txt", 1324)])
    func csvRowsMatchTheJSONLines(name: String, rows: Int) throws {
        let csv = try Run.odt("dump", "--all", "--format", "csv", Fixtures.repo + "/SampleTraces/" + name)
        let json = try Run.odt("dump", "--all", "--format", "json", Fixtures.repo + "/SampleTraces/" + name)
        #expect(csv.status == 0 && json.status == 0 && csv.stderr.isEmpty)
        #expect(csv.stdout.hasPrefix("event,ts_ns,ts,cpu,pid,comm,"))
        let dir = try TemporaryDirectory("csv")
        try Fixtures.write(Array(json.stdout.utf8), to: dir.path + "/json")
        let check = try Run.program("/usr/bin/env", ["python3", "-c", """
            import csv, json, sys
            rows = list(csv.reader(sys.stdin))
            events = [json.loads(l) for l in open(sys.argv[1])]
            header, rows = rows[0], rows[1:]
            assert len(rows) == len(events), (len(rows), len(events))
            for row, e in zip(rows, events):
                assert len(row) == len(header), row
                cells = dict(zip(header, row))
                assert cells["event"] == e["event"] and cells["ts_ns"] == str(e["ts_ns"]) and cells["comm"] == (e["comm"] or "")
                other = dict(kv.split("=", 1) for kv in cells["other_fields"].split(" ")) if cells["other_fields"] else {}
                for name, value in e["fields"].items():
                    want = "" if value is None else (" ".join("%x" % b for b in value) if isinstance(value, list) else str(value))
                    got = cells[name] if name in header[6:-1] else other.pop(name)
                    assert got == want, (name, got, value)
                assert not other, other
                for name in set(header[6:-1]) - set(e["fields"]):
                    assert cells[name] == "", (name, row)
            print(len(rows))
            """, dir.path + "/json"], stdin: csv.stdout)
        #expect(check.status == 0, "\(check.stderr)")
        #expect(check.stdout == "\(rows)\n")
    }

    /// `dump | head`: the reader goes away; dump stops quietly with exit 0, as other tools do.
    @Test func aClosedPipeEndsTheDumpQuietly() throws {
        let result = try Run.program("/bin/bash", ["-c", #""$0" dump --all --format json "$1" | head -n 1; echo "status=${PIPESTATUS[0]}""#,
                                                   Run.binary, Self.sample])
        #expect(result.stdout.hasPrefix(#"{"event":"#))
        #expect(result.stdout.hasSuffix("status=0\n"))
        #expect(result.stderr.isEmpty)
    }

    @Test func allIncludesOtherCachefilesEvents() throws {
        let result = try Run.odt("dump", "--all", Self.sample)
        #expect(result.status == 0)
        #expect(result.stdout.split(separator: "\n").count == 1324)
    }

    @Test func readsTextFromStandardInput() throws {
        let line = "  mount-119 [001] ..... 4.409061: cachefiles_ondemand_read: o=00000001 mid=0 oid=0 s=2000 l=1000\n"
        let result = try Run.odt("dump", "-", stdin: "# tracer: nop\n" + line)
        #expect(result.status == 0)
        #expect(result.stdout == "      4.409061 [001] mount-119            read       obj=1 msg_id=0 object_id=0 start=8192 len=4096\n")
    }

    @Test func textWithTheTracedKernelsFormatFiles() throws {
        let starter = Fixtures.shared + "/real-traces/starter"
        let result = try Run.odt("dump", "--formats", starter + "/formats/cachefiles", starter + "/trace.txt")
        #expect(result.status == 0)
        #expect(result.stdout.split(separator: "\n").count == 70)
        let bad = try Run.odt("dump", "--formats", "/nonexistent", starter + "/trace.txt")
        #expect(bad.status == 2)
        #expect(bad.stderr.hasPrefix("ondemand-trace: /nonexistent: cannot open formats directory"))
    }

    @Test(arguments: [
        ("/nonexistent/trace.dat", "ondemand-trace: /nonexistent/trace.dat: cannot open: No such file or directory"),
        ("/etc/hostname", "no on-demand events, cachefiles or fanotify (1 lines read, 1 not understood, the first at line 1)"),
        ("/usr/bin/true", "not a trace file"),
    ])
    func badInputIsOneLineAndExitTwo(path: String, message: String) throws {
        expectOneLineError(try Run.odt("dump", path), message)
    }
}
