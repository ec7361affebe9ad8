import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The rules every command keeps (issue 28): exit statuses, the one duration grammar, doctor's
/// --no-mount.
@Suite struct CommandLineRulesTests {
    static let sample = Fixtures.repo + "/SampleTraces/vm-plain-6.12.txt"

    /// Usage errors are exit 2 with one line naming the problem, as every error (not 64).
    @Test(arguments: [
        ["report", "--no-such-option", sample],
        ["report"],
        ["report", "--min-latency", "soon", sample],
        ["report", "--since", "10.5", "--until", "10.1", sample],
        ["check", "--baseline", "x.json"],
        ["record", "--duration", "0"],
        ["reprot"],
    ])
    func usageErrorsExitTwo(_ arguments: [String]) throws {
        let result = try Run.odt(arguments)
        #expect(result.status == 2, "\(arguments): \(result.stderr)")
        #expect(result.stderr.hasPrefix("Error: ") || result.stderr.hasPrefix("ondemand-trace: "), "\(result.stderr)")
    }

    @Test func helpOfAnUnknownCommandIsAnError() throws {
        let result = try Run.odt("help", "reprot")
        #expect(result.status == 2)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr == "ondemand-trace: help: no command 'reprot' (commands: dump, report, record, monitor, doctor, daemon, run, check)\n")
        let known = try Run.odt("help", "report")
        #expect(known.status == 0)
        #expect(known.stdout.contains("USAGE: ondemand-trace report"))
        let help = try Run.odt("report", "--help")
        #expect(help.status == 0 && help.stdout.contains("--min-latency"))
    }

    /// A bare number is seconds wherever it was not milliseconds before; where it was
    /// (--min-latency, run --slowdown) it is refused with the unit to add.
    @Test func oneDurationGrammar() throws {
        let bare = try Run.odt("report", "--min-latency", "20", Self.sample)
        #expect(bare.status == 2)
        #expect(bare.stderr.contains("--min-latency '20': add the unit, e.g. 20ms (a bare number is refused here)"), "\(bare.stderr)")
        let slowdown = try Run.odt("run", "--image", "x.erofs", "--cache-dir", "/nonexistent", "--slowdown", "5")
        #expect(slowdown.status == 2)
        #expect(slowdown.stderr.contains("--slowdown '5': add the unit, e.g. 5ms"), "\(slowdown.stderr)")
        // The same window three ways: seconds bare, with s, with ms.
        let windows = try [["9.5", "9.6"], ["9.5s", "9.6s"], ["9500ms", "9600ms"]].map {
            try Run.odt("report", "--format", "csv", "--since", $0[0], "--until", $0[1], Self.sample)
        }
        for w in windows { #expect(w.status == 0, "\(w.stderr)") }
        #expect(windows[0].stdout == windows[1].stdout && windows[1].stdout == windows[2].stdout)
        // Options that took only units, or only bare numbers, take both.
        for arguments in [["daemon", "--cache-dir", "/nonexistent", "--source-dir", "/nonexistent", "--warn-after", "2"],
                          ["daemon", "--cache-dir", "/nonexistent", "--source-dir", "/nonexistent", "--fault", "delay=10"]] {
            let result = try Run.odt(arguments)
            // Past validation: the daemon fails on the missing directories (not on the duration).
            #expect(!result.stderr.contains("duration") && !result.stderr.contains("--warn-after") && !result.stderr.contains("delay"), "\(arguments): \(result.stderr)")
            #expect(result.status == 2)
        }
        let monitor = try Run.odt("monitor", "--hung-after", "soon")
        #expect(monitor.status == 2)
        #expect(monitor.stderr.contains("--hung-after 'soon': expected a duration, a number with a unit ns, us, ms, s, m or h; a bare number is seconds"), "\(monitor.stderr)")
    }

    /// Every option that takes a time says the unit rule in its help.
    @Test(arguments: [
        ("report", ["--since", "--until", "--min-latency"]),
        ("record", ["--duration", "--interval"]),
        ("monitor", ["--hung-after"]),
        ("run", ["--daemon-timeout", "--slowdown", "--warn-after"]),
        ("daemon", ["--warn-after"]),
    ])
    func helpSaysTheUnitRule(_ command: String, _ options: [String]) throws {
        let help = try Run.odt(command, "--help").stdout
        // Argument parser wraps help text: join the lines of each option's entry.
        let entries = help.components(separatedBy: "\n  --").map { $0.split(whereSeparator: \.isWhitespace).joined(separator: " ") }
        for option in options {
            // The last: the options come after the discussion (whose examples may name them).
            let entry = try #require(entries.last { $0.hasPrefix(option.dropFirst(2) + " ") }, "\(command) \(option)")
            #expect(entry.contains("a bare number is seconds") || entry.contains("the unit is required"), "\(command) \(option): \(entry)")
        }
    }

    /// On a kernel without cachefiles events `run` stops at its recording: the message must not
    /// suggest an option `run` lacks (it said "record other events with --events").
    @Test(.enabled(if: HostFacts.isRoot && HostFacts.tracefs != nil && !HostFacts.hasCachefilesEvents,
                   "needs root on a kernel without cachefiles events"))
    func runSuggestsNoOptionItLacks() throws {
        let scratch = try TemporaryDirectory("run-no-cachefiles")
        let image = scratch.path + "/img.erofs"
        try Fixtures.write(try Fixtures.bytes(Fixtures.repo + "/SampleTraces/vm-lz4.erofs"), to: image)
        let result = try Run.odt("run", "--image", image, "--cache-dir", scratch.path + "/cache", "-o", scratch.path + "/r.dat")
        #expect(result.status == 2)
        #expect(result.stderr.contains("no cachefiles events in this kernel"), "\(result.stderr)")
        #expect(!result.stderr.contains("with --events") && result.stderr.contains("`record --events`"), "\(result.stderr)")
    }
}
