import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// What a newcomer met first (issue 28): order, words and counts that must be true on the samples.
@Suite struct NewcomerDefectsTests {
    static let samples = Fixtures.repo + "/SampleTraces/"

    static func column(_ csv: String, _ name: String) throws -> [Double] {
        let lines = csv.split(separator: "\n")
        let header = lines[0].split(separator: ",", omittingEmptySubsequences: false)
        let index = try #require(header.firstIndex(of: Substring(name)))
        return lines.dropFirst().map { Double($0.split(separator: ",", omittingEmptySubsequences: false)[index]) ?? .infinity }
    }

    /// CSV rows by issue time (the failover's READ taken by the dead daemon closes last).
    @Test func csvRowsComeByIssueTime() throws {
        let result = try Run.odt("report", "--format", "csv", Self.samples + "vm-failover-restore-6.12.txt")
        #expect(result.status == 0)
        let issued = try Self.column(result.stdout, "issued_s")
        #expect(issued.count == 51)
        #expect(issued == issued.sorted())
        // A sample where that matters: the answers do not come in the same order.
        let completed = try Self.column(result.stdout, "completed_s")
        #expect(completed != completed.sorted())
        let image = try Run.odt("report", "--format", "csv", "--image", Self.samples + "vm-lz4.erofs", Self.samples + "vm-lz4-6.12.txt")
        let imageIssued = try Self.column(image.stdout, "issued_s")
        #expect(imageIssued == imageIssued.sorted() && imageIssued.count == 10)
    }

    @Test func theSlowListComesByIssueTime() throws {
        let text = try Run.odt("report", "--min-latency", "2ms", Self.samples + "vm-failover-restore-6.12.txt").stdout
        let times = text.split(separator: "\n").drop { !$0.hasPrefix("requests slower than") }.dropFirst(2)
            .prefix { !$0.isEmpty }.compactMap { Double($0.split(separator: " ").first ?? "") }
        #expect(times.count > 10)
        #expect(times == times.sorted())
        #expect(times.first == 122.723664 || times.first! < 122.8, "the READ the dead daemon took comes first: \(times)")
        let json = try Run.odt("report", "--format", "json", "--min-latency", "2ms", Self.samples + "vm-failover-restore-6.12.txt").stdout
        let issued = json.components(separatedBy: "\"issued_s\":").dropFirst().compactMap { Double($0.prefix { $0 != "," }) }
        #expect(issued.count == times.count && issued == issued.sorted())
    }

    @Test func theHTMLAnomalyListComesByTime() throws {
        let scratch = try TemporaryDirectory("html-anomalies")
        let page = scratch.path + "/r.html"
        #expect(try Run.odt("report", "--html", page, Self.samples + "vm-daemon-exit-6.12.txt").status == 0)
        let html = try Fixtures.text(page)
        let times = html.components(separatedBy: "</td><td class=\"l bad\">").dropLast().compactMap { Double($0.split(separator: ">").last ?? "") }
        #expect(times == [28.699219, 28.737441])
    }

    /// A full disk under `report --format csv` is one line and exit 2, as under `dump`.
    @Test(.enabled(if: access("/dev/full", W_OK) == 0, "needs /dev/full"))
    func aFullDiskIsAnError() throws {
        for format in ["csv", "text", "json", "chrome"] {
            let result = try Run.program("/bin/sh", ["-c", "exec \"$0\" report --format \(format) \"$1\" > /dev/full", Run.binary,
                                                    Self.samples + "vm-plain-6.12.txt"])
            #expect(result.status == 2, "\(format)")
            #expect(result.stderr == "ondemand-trace: standard output: write failed: ENOSPC (No space left on device)\n", "\(format): \(result.stderr)")
        }
        let dump = try Run.program("/bin/sh", ["-c", "exec \"$0\" dump \"$1\" > /dev/full", Run.binary, Self.samples + "vm-plain-6.12.txt"])
        #expect(dump.status == 2 && dump.stderr == "ondemand-trace: standard output: write failed: ENOSPC (No space left on device)\n")
        // check: its table on a full disk is an error too (it printed with print(), errors unseen).
        let check = try Run.program("/bin/sh", ["-c", "exec \"$0\" check --baseline \"$1\" \"$1\" > /dev/full", Run.binary,
                                                Fixtures.repo + "/Tests/Golden/report-starter.json"])
        #expect(check.status == 2 && check.stderr == "ondemand-trace: standard output: write failed: ENOSPC (No space left on device)\n", "\(check.stderr)")
    }

    @Test func aTraceDatOnStandardInputIsNamedAsSuch() throws {
        let result = try Run.program("/bin/sh", ["-c", "exec \"$0\" report - < \"$1\"", Run.binary, Self.samples + "record-6.12.dat"])
        #expect(result.status == 2)
        #expect(result.stderr == "ondemand-trace: <stdin>: standard input takes text only (this is a trace.dat); give the file's path instead\n")
        let text = try Run.odt(["report", "-"], stdin: try Fixtures.text(Self.samples + "vm-plain-6.12.txt"))
        #expect(text.status == 0 && text.stdout.contains("READ      49 requests"))
    }

    @Test func formatsForFormatIsHinted() throws {
        let result = try Run.odt("report", "--formats", "json", Self.samples + "vm-plain-6.12.txt")
        #expect(result.status == 2)
        #expect(result.stderr.contains("--formats takes a directory of format files, and there is no 'json': did you mean --format json?"), "\(result.stderr)")
    }

    /// errno the one way: `EISDIR (Is a directory)`, not `errno 21 (Is a directory)`.
    @Test func errnoIsShownByName() throws {
        let result = try Run.odt("report", "--html", "/tmp", Self.samples + "vm-plain-6.12.txt")
        #expect(result.status == 2)
        #expect(result.stderr == "ondemand-trace: /tmp: cannot write: EISDIR (Is a directory)\n", "\(result.stderr)")
        #expect(!result.stderr.contains("errno 21"))
    }

    @Test func chromeMetadataSaysNullAsJSONDoes() throws {
        let chrome = try Run.odt("report", "--format", "chrome", Self.samples + "vm-plain-6.12.txt").stdout
        #expect(chrome.contains(#""kernel_release":null,"clock":null}}"#))
        let json = try Run.odt("report", "--format", "json", Self.samples + "vm-plain-6.12.txt").stdout
        #expect(json.contains(#""kernel_release":null,"clock":null"#))
    }

    /// Filters that match nothing say so on stderr (exit 0: an empty answer is an answer).
    @Test(arguments: [
        (["--object", "99"], "--object 99"),
        (["--since", "100"], "--since 100"),
        (["--comm", "nobody", "--until", "9s"], "--comm nobody --until 9s"),
    ])
    func filtersThatMatchNothingSaySo(_ filter: [String], _ named: String) throws {
        let path = Self.samples + "vm-plain-6.12.txt"
        let result = try Run.odt(["report"] + filter + [path])
        #expect(result.status == 0)
        #expect(result.stderr == "ondemand-trace: note: no request of \(path) matches \(named)\n")
        let some = try Run.odt("report", "--object", "1", path)
        #expect(some.stderr.isEmpty)
    }

    /// `--image 1=FILE` forced onto an object of another size: a warning naming both sizes.
    @Test func aForcedImageOfAnotherSizeIsWarnedOf() throws {
        let image = Self.samples + "vm-lz4.erofs"
        let result = try Run.odt("report", "--files", "--image", "1=" + image, Self.samples + "vm-plain-6.12.txt")
        #expect(result.status == 0)
        #expect(result.stderr == "warning: --image: object 1 is 2523136 bytes (its copen) but \(image) is 69632: the blame of its READs is not to be trusted (is it the right image?)\n")
        let right = try Run.odt("report", "--files", "--image", "1=" + image, Self.samples + "vm-lz4-6.12.txt")
        #expect(right.status == 0 && right.stderr.isEmpty)
    }

    /// A trace.dat cut inside its CPU data is reported up to the cut, with a warning naming it.
    @Test func aCutTraceDatIsReportedUpToTheCut() throws {
        let scratch = try TemporaryDirectory("cut-dat")
        let whole = try Fixtures.bytes(Self.samples + "record-6.12.dat")
        let cut = scratch.path + "/cut.dat"
        try Fixtures.write(Array(whole.prefix(100_000)), to: cut)
        let result = try Run.odt("report", "--format", "json", cut)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr == "warning: \(cut): the file is cut at byte 100000 of 151552 (in the data of CPU 1): reported up to the cut (byte 98304); the other CPUs' records go on past it, so requests near the end may read as unanswered\n")
        #expect(result.stdout.contains(#""reads":{"count":42,"matched":5,"#), "\(result.stdout.prefix(600))")
        // The whole file: more READs, no warning.
        let full = try Run.odt("report", "--format", "json", Self.samples + "record-6.12.dat")
        #expect(full.stderr.isEmpty && full.stdout.contains(#""reads":{"count":49,"matched":49,"#))
    }

    /// A failed OPEN reads as answered, with its errno (it read "never answered" and "0 answered").
    @Test func aFailedOpenReadsAsAnsweredWithItsErrno() throws {
        let result = try Run.odt("report", "--anomalies", Self.samples + "vm-open-eio-6.12.txt")
        #expect(result.status == 0)
        #expect(result.stdout.contains("\nOPEN      1 request: 1 answered (1 with an error), 0 unanswered\n"), "\(result.stdout)")
        #expect(result.stdout.contains("open_failed    3  open fd=9: the daemon answered EIO (Input/output error)"), "\(result.stdout)")
        #expect(!result.stdout.contains("never_answered") && !result.stdout.contains("answered -5"))
    }
}
