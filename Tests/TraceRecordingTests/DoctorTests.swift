import Glibc
import Testing
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

    @Test func theTestKernelConfigHasEverythingOnDemandNeeds() throws {
        let path = Subprocess.repo + "/../shared/testkernel/config"
        try #require(access(path, R_OK) == 0, "no test kernel config")
        let config = KernelConfig(text: Subprocess.read(path))
        for option in ["CONFIG_CACHEFILES", "CONFIG_CACHEFILES_ONDEMAND", "CONFIG_EROFS_FS", "CONFIG_EROFS_FS_ONDEMAND"] {
            #expect(config.isEnabled(option), "\(option)")
        }
    }
}

@Suite(.enabled(if: HostTracefs.usable, "needs root and tracefs"))
struct DoctorCLITests {
    /// This host: root, tracefs mounted, no cachefiles in the kernel.
    @Test func reportsEachCheckAndFailsWithoutCachefiles() throws {
        let hasCachefiles = !Tracefs.events(ofSystem: "cachefiles").isEmpty
        let result = try Subprocess.odt("doctor")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("[ ok ] privileges") && $0.contains("root") })
        #expect(lines.contains { $0.hasPrefix("[ ok ] tracefs ") && $0.contains("mounted at") })
        #expect(lines.contains { $0.hasPrefix("[ ok ] tracefs instances") })
        #expect(lines.contains { $0.hasPrefix("[info] kernel semantics") })
        if hasCachefiles {
            #expect(lines.contains { $0.hasPrefix("[ ok ] cachefiles events") })
        } else {
            #expect(result.status == 1)
            #expect(lines.contains { $0.hasPrefix("[FAIL] cachefiles events") && $0.contains("0 of 7") })
            #expect(lines.contains { $0.contains("the kernel lacks CONFIG_CACHEFILES") })
            #expect(lines.contains { $0.hasPrefix("[FAIL] /dev/cachefiles") && $0.contains("absent") })
            #expect(lines.last?.hasSuffix("check(s) failed") == true)
        }
        #expect(!result.stdout.contains("ondemand-trace-\(getpid())"))
    }
}
