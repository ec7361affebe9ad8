import Testing
import TestSupport

/// `check` on real traces recorded by the VM harness (SampleTraces/vm-*).
@Suite struct CheckCLITests {
    static let samples = Fixtures.repo + "/SampleTraces/"

    /// The report JSON of `trace`, written in `scratch` (removed when the test ends).
    static func baseline(_ trace: String, in scratch: TemporaryDirectory) throws -> String {
        let path = scratch.path + "/baseline-\(trace)-\(UInt32.random(in: 0...UInt32.max)).json"
        let result = try Run.odt("report", "--format", "json", samples + trace)
        #expect(result.status == 0)
        try Fixtures.write(Array(result.stdout.utf8), to: path)
        return path
    }

    @Test func sameRunPasses() throws {
        let scratch = try TemporaryDirectory("check-cli")
        let base = try Self.baseline("vm-plain-6.12.txt", in: scratch)
        let result = try Run.odt("check", "--baseline", base, Self.samples + "vm-plain-6.12.txt")
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("result: ok"))
        #expect(result.stdout.contains("test: Mann-Whitney U"))
    }

    @Test func tenMillisecondDelayRegresses() throws {
        let scratch = try TemporaryDirectory("check-cli")
        let base = try Self.baseline("vm-plain-6.12.txt", in: scratch)
        let result = try Run.odt("check", "--baseline", base, Self.samples + "vm-delay10ms-6.12.txt")
        #expect(result.status == 1)
        let p50 = result.stdout.split(separator: "\n").first { $0.hasPrefix("p50 ") }
        #expect(p50?.hasSuffix("REGRESSION") == true, "\(result.stdout)")
        let json = try Run.odt("check", "--baseline", base, "--format", "json", Self.samples + "vm-delay10ms-6.12.txt")
        #expect(json.status == 1)
        #expect(json.stdout.hasPrefix(#"{"result":"regression","test":"Mann-Whitney U"#))
    }

    @Test func aLooseLimitLetsTheDelayPass() throws {
        let scratch = try TemporaryDirectory("check-cli")
        let base = try Self.baseline("vm-plain-6.12.txt", in: scratch)
        let result = try Run.odt("check", "--baseline", base, "--max", "p50=+100ms", "--max", "p90=+100ms",
                                 "--max", "p99=+100ms", "--max", "mean=+100ms", "--max", "throughput=-90%",
                                 Self.samples + "vm-delay10ms-6.12.txt")
        #expect(result.status == 0, "\(result.stdout)")
    }

    @Test func unlikeRunsAndBadInputAreErrors() throws {
        let scratch = try TemporaryDirectory("check-cli")
        let base = try Self.baseline("vm-plain-6.12.txt", in: scratch)
        let unlike = try Run.odt("check", "--baseline", base, Fixtures.repo + "/SampleTraces/starter-6.12.dat")
        #expect(unlike.status == 2)
        #expect(unlike.stderr.contains("measured differently (kernel_release"))
        let allowed = try Run.odt("check", "--allow-different", "--baseline", base, Fixtures.repo + "/SampleTraces/starter-6.12.dat")
        // The starter run is faster on every latency metric: compared anyway, it passes, and says so.
        #expect(allowed.status == 0, "\(allowed.stdout)\(allowed.stderr)")
        #expect(allowed.stdout.contains("note: compared although measured differently: kernel_release"))
        let notJSON = try Run.odt("check", "--baseline", "/etc/hostname", Self.samples + "vm-plain-6.12.txt")
        #expect(notJSON.status == 2)
        let badLimit = try Run.odt("check", "--baseline", base, "--max", "p42=+1%", Self.samples + "vm-plain-6.12.txt")
        #expect(badLimit.status != 0 && badLimit.stderr.contains("unknown metric 'p42'"))
    }
}
