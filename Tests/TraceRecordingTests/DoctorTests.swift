import Glibc
import OndemandTraceCore
import Testing
import TestSupport
import TraceRecording

@Suite struct KernelFactsTests {
    @Test(arguments: [
        ("5.15.0-91-generic", OndemandIDSemantics.noOndemandMode),
        ("5.19.0", .idsFilled),
        ("6.1.94", .idsFilled),
        ("6.1.95", .idsZero),
        ("6.6.34-foo", .idsFilled),
        ("6.6.35", .idsZero),
        ("6.7.12", .idsFilled),
        ("6.8.0-rc1", .idsZero),
        ("6.12.9", .idsZero),
        ("6.18.44-fc-v669", .idsZero),
    ])
    func idSemanticsFollowTheRelease(release: String, expected: OndemandIDSemantics) throws {
        let parsed = try #require(KernelRelease(release))
        #expect(OndemandIDSemantics.of(parsed) == expected)
    }

    @Test func releasesParse() {
        #expect(KernelRelease("6.18.44-fc-v669").map { [$0.major, $0.minor, $0.patch] } == [6, 18, 44])
        #expect(KernelRelease("6.8-rc1").map { [$0.major, $0.minor, $0.patch] } == [6, 8, 0])
        #expect(KernelRelease("linux") == nil)
    }

    @Test func configValues() {
        let config = KernelConfig(text: """
            CONFIG_CACHEFILES=m
            # CONFIG_CACHEFILES_DEBUG is not set
            CONFIG_CACHEFILES_ONDEMAND=y
            # CONFIG_EROFS_FS_ONDEMAND is not set
            CONFIG_LOCALVERSION="-test"
            """)
        #expect(config["CONFIG_CACHEFILES"] == "m")
        #expect(config.isEnabled("CONFIG_CACHEFILES"))
        #expect(config.isEnabled("CONFIG_CACHEFILES_ONDEMAND"))
        #expect(!config.isEnabled("CONFIG_EROFS_FS_ONDEMAND"))
        #expect(config.describe("CONFIG_EROFS_FS_ONDEMAND") == "CONFIG_EROFS_FS_ONDEMAND is not set")
        #expect(config.describe("CONFIG_EROFS_FS") == "CONFIG_EROFS_FS is absent")
        #expect(config.describe("CONFIG_CACHEFILES") == "CONFIG_CACHEFILES=m")
        #expect(config["CONFIG_LOCALVERSION"] == "\"-test\"")
    }

    static let testKernelConfig = Fixtures.repo + "/../shared/testkernel/config"

    @Test(.enabled(if: access(KernelFactsTests.testKernelConfig, R_OK) == 0, "no test kernel config"))
    func theTestKernelConfigHasEverythingOnDemandNeeds() throws {
        let path = Self.testKernelConfig
        let config = KernelConfig(text: (try? Fixtures.text(path)) ?? "")
        for option in ["CONFIG_CACHEFILES", "CONFIG_CACHEFILES_ONDEMAND", "CONFIG_EROFS_FS", "CONFIG_EROFS_FS_ONDEMAND"] {
            #expect(config.isEnabled(option), "\(option)")
        }
    }
}

@Suite(.enabled(if: HostFacts.canRecord, "needs root and tracefs"))
struct DoctorCLITests {
    /// This host: root, tracefs mounted; with or without cachefiles in the kernel. Exit 1 exactly
    /// when a check failed, and the last line says which.
    @Test func reportsEachCheckAndFailsWithoutCachefiles() throws {
        let result = try Run.odt("doctor")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        let failed = lines.filter { $0.hasPrefix("[FAIL]") }.count
        #expect(result.status == (failed > 0 ? 1 : 0), "\(result.stdout)")
        #expect(lines.last == (failed > 0 ? "\(failed) check(s) failed" : "all prerequisites met"), "\(result.stdout)")
        #expect(lines.contains { $0.hasPrefix("[ ok ] privileges") && $0.contains("root") })
        #expect(lines.contains { $0.hasPrefix("[ ok ] tracefs ") && $0.contains("mounted at") })
        // warn: a dead recorder's instance another suite's kill test left for a moment.
        #expect(lines.contains { $0.hasPrefix("[ ok ] tracefs instances") || $0.hasPrefix("[warn] tracefs instances") })
        #expect(lines.contains { $0.hasPrefix("[info] kernel semantics") })
        if HostFacts.hasCachefilesEvents {
            #expect(lines.contains { $0.hasPrefix("[ ok ] cachefiles events") })
            #expect(!lines.contains { $0.hasPrefix("[FAIL] on-demand paths") }, "\(result.stdout)")
        } else {
            #expect(result.status == 1)
            #expect(lines.contains { $0.hasPrefix("[FAIL] cachefiles events") && $0.contains("0 of 7") })
            #expect(lines.contains { $0.contains("the kernel lacks CONFIG_CACHEFILES") })
            #expect(lines.contains { $0.hasPrefix("[FAIL] /dev/cachefiles") && $0.contains("absent") })
        }
        #expect(!result.stdout.contains("ondemand-trace-\(getpid())"))
    }
}

/// `record --live`'s pipeline without a kernel: raw records built from the 6.12 format files go
/// through the decoder and the report's correlator.
@Suite struct LiveLatencyTests {
    static let layouts = DefaultFormats.layouts

    static func record(_ name: String, at timestamp: UInt64, pid: Int32 = 300, _ fields: [String: UInt64],
                       layouts: [EventLayout] = layouts) throws -> RawRecord {
        let layout = try #require(layouts.first { $0.name == name })
        var bytes = [UInt8](repeating: 0, count: layout.fields.map { $0.offset + $0.size }.max() ?? 8)
        func put(_ value: UInt64, _ field: FieldLayout) {
            for i in 0..<field.size { bytes[field.offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
        }
        put(UInt64(layout.id), try #require(layout.field(named: "common_type")))
        put(UInt64(UInt32(bitPattern: pid)), try #require(layout.field(named: "common_pid")))
        for (name, value) in fields { put(value, try #require(layout.field(named: name))) }
        return RawRecord(cpu: 0, timestamp: timestamp, bytes: bytes)
    }

    @Test func eachWindowSumsUpTheRequestsAnsweredInIt() throws {
        let live = try LiveLatency(formats: DefaultFormats.cachefiles.map { ("cachefiles", $0) } + [("ftrace", DefaultFormats.ftracePrint)])
        try live.consume([
            Self.record("cachefiles_ondemand_read", at: 1_000_000, ["obj": 1, "start": 0, "len": 4096]),
            Self.record("cachefiles_ondemand_read", at: 1_100_000, ["obj": 1, "start": 4096, "len": 4096]),
            Self.record("cachefiles_ondemand_cread", at: 1_250_000, ["obj": 1, "msg_id": 7]),
        ])
        let first = live.takeWindow()
        #expect(first.records == 3)
        #expect(first.reads == 1)
        #expect(first.readsAnswered == 1)
        #expect(first.readBytes == 4096)
        #expect(first.readLatency.p50Microseconds == 250)
        #expect(first.text.hasPrefix("reads 1 (1 answered, 4 KiB) p50 250us p99 250us max 250us | opens 0"))

        try live.consume([Self.record("cachefiles_ondemand_cread", at: 3_100_000, ["obj": 1, "msg_id": 8])])
        let second = live.takeWindow()
        #expect(second.readsAnswered == 1)
        #expect(second.readLatency.maxMicroseconds == 2000)
        #expect(second.text.contains("max 2.0ms"))
        #expect(live.takeWindow().reads == 0)
    }

    /// The fanotify path live, with the 7.3 kernel's own format files (SampleTraces/formats-7.3):
    /// one round trip is one request in the window, its latency the hook to the answer.
    @Test func theFanotifyPathIsCountedLive() throws {
        let dir = Fixtures.repo + "/SampleTraces/formats-7.3"
        var formats: [(system: String, format: String)] = []
        for event in ["fan_pre_content", "fan_pre_content_ret", "fan_insert", "fan_pickup", "fan_answer", "fan_destroy"] {
            formats.append(("ondemand_fan", try Fixtures.text("\(dir)/ondemand_fan/\(event)/format")))
        }
        formats.append(("fsnotify", try Fixtures.text("\(dir)/fsnotify/fsnotify/format")))
        let layouts = try formats.map { try FormatFileParser.parse($0.format, system: $0.system) }
        func record(_ name: String, at us: UInt64, pid: Int32, _ fields: [String: UInt64]) throws -> RawRecord {
            try Self.record(name, at: us * 1000, pid: pid, fields, layouts: layouts)
        }
        let live = LiveLatency()
        try live.use(formats: formats)
        let ev: UInt64 = 0xffff_8880_1234_5000
        live.consume([
            try record("fan_pre_content", at: 1000, pid: 50, ["pos": 8192, "count": 16384]),
            try record("fsnotify", at: 1001, pid: 50, ["mask": 0x100000, "ino": 12, "s_dev": 254 << 20]),
            try record("fan_insert", at: 1002, pid: 50, ["ev": ev]),
            try record("fan_pickup", at: 1100, pid: 9, ["ev": ev]),
            try record("fan_answer", at: 1400, pid: 9, ["ev": ev, "resp": 1]),
            try record("fan_destroy", at: 1410, pid: 50, ["ev": ev]),
            try record("fan_pre_content_ret", at: 1420, pid: 50, ["ret": 0]),
        ])
        let window = live.takeWindow()
        #expect(window.records == 7)
        #expect(window.reads == 1 && window.readsAnswered == 1 && window.readBytes == 16384)
        #expect(window.readLatency.p50Microseconds == 400)
    }
}
