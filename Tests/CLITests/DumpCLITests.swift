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
        ("/etc/hostname", "no cachefiles on-demand events (1 lines read, 1 not understood, the first at line 1)"),
        ("/usr/bin/true", "not a trace file"),
    ])
    func badInputIsOneLineAndExitTwo(path: String, message: String) throws {
        let result = try Run.odt("dump", path)
        #expect(result.status == 2)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(result.stderr.contains(message), "\(result.stderr)")
    }
}
