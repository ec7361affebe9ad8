import Foundation
import Testing
import TestSupport

/// Runs the built `ondemand-trace` (through `wrapper`, e.g. setpriv, when given).
private func runTool(_ arguments: [String], via wrapper: [String] = []) throws -> (status: Int32, stderr: String) {
    let argv = wrapper.isEmpty ? [Run.binary] + arguments : wrapper + [Run.binary] + arguments
    let result = try Run.start(argv).wait()
    return (result.status, result.stderr)
}

/// A directory with an empty `cache` and `blobs`, removed after the test.
private func scratchDirectory() throws -> TemporaryDirectory {
    let scratch = try TemporaryDirectory("daemon-cli")
    for sub in ["cache", "blobs"] { mkdir(scratch.path + "/" + sub, 0o755) }
    return scratch
}

@Suite struct DaemonCommandTests {
    @Test func aBadFaultSpecIsAUsageError() throws {
        let scratch = try scratchDirectory(); let dir = scratch.path
        let result = try runTool(["daemon", "--cache-dir", dir + "/cache", "--source-dir", dir + "/blobs", "--fault", "delay=fast"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("--fault delay=fast: 'fast': expected a duration"), "\(result.stderr)")
    }

    @Test func aBadWarnAfterIsAUsageErrorInDaemonAndRun() throws {
        let scratch = try scratchDirectory(); let dir = scratch.path
        for (bad, why) in [("fast", "expected a duration"), ("0s", "must be more than 0")] {
            let daemon = try runTool(["daemon", "--cache-dir", dir + "/cache", "--source-dir", dir + "/blobs", "--warn-after", bad])
            #expect(daemon.status == 2)
            #expect(daemon.stderr.contains("--warn-after '\(bad)': \(why)"), "\(daemon.stderr)")
            let run = try runTool(["run", "--image", dir + "/none", "--cache-dir", dir + "/cache", "--warn-after", bad, "--log-requests"])
            #expect(run.status == 2)
            #expect(run.stderr.contains("--warn-after '\(bad)': \(why)"), "\(run.stderr)")
        }
    }

    @Test func aMissingSourceDirectoryIsOneLineAndStatus2() throws {
        let scratch = try scratchDirectory(); let dir = scratch.path
        let result = try runTool(["daemon", "--cache-dir", dir + "/cache", "--source-dir", dir + "/nope"])
        #expect(result.status == 2)
        #expect(result.stderr == "ondemand-trace daemon: \(dir)/nope: cannot open the source directory: ENOENT (No such file or directory)\n")
    }

    @Test func aMissingCacheDirectoryIsNamed() throws {
        let scratch = try scratchDirectory(); let dir = scratch.path
        let result = try runTool(["daemon", "--cache-dir", dir + "/nocache", "--source-dir", dir + "/blobs"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("\(dir)/nocache: the cache directory does not exist"))
    }

    @Test func aKernelWithoutCachefilesIsExplained() throws {
        let scratch = try scratchDirectory(); let dir = scratch.path
        let result = try runTool(["daemon", "--cache-dir", dir + "/cache", "--source-dir", dir + "/blobs", "--devnode", dir + "/no-devnode"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("no-devnode: no such device: this kernel has no cachefiles (CONFIG_CACHEFILES and CONFIG_CACHEFILES_ONDEMAND)"))
    }

    @Test(.enabled(if: HostFacts.canDropPrivileges, "needs root and setpriv"))
    func notRootIsRefused() throws {
        let scratch = try scratchDirectory(); let dir = scratch.path
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: dir)
        let result = try runTool(["daemon", "--cache-dir", dir + "/cache", "--source-dir", dir + "/blobs"],
                                 via: ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("/dev/cachefiles: must run as root"))
    }

    @Test func runRefusesAnFsidThatNamesAPath() throws {
        let scratch = try scratchDirectory(); let dir = scratch.path
        let result = try runTool(["run", "--image", dir + "/img", "--fsid", "../x", "--cache-dir", dir + "/cache"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("fsid \"../x\": contains '/'"))
    }

    @Test func runNamesAMissingImage() throws {
        let scratch = try scratchDirectory(); let dir = scratch.path
        let result = try runTool(["run", "--image", dir + "/small.erofs", "--cache-dir", dir + "/cache"])
        #expect(result.status == 2)
        #expect(result.stderr == "ondemand-trace run: \(dir)/small.erofs: not a readable regular file\n")
    }

    /// Set-up failing after the recording started (no /dev/cachefiles here, or not root): one line,
    /// exit 2, and nothing of the run left behind: no cache subdirectory, no report, no tracefs
    /// instance, no mount point under /tmp.
    @Test func aRunThatCannotStartLeavesNothingBehind() throws {
        let scratch = try scratchDirectory(); let dir = scratch.path
        FileManager.default.createFile(atPath: dir + "/small.erofs", contents: Data(repeating: 0, count: 8192))
        let mountpoints = { Set(((try? Fixtures.list("/tmp")) ?? []).filter { $0.hasPrefix("ondemand-trace-run.") }) }
        let before = mountpoints()
        let running = try Run.start([Run.binary, "run", "--image", dir + "/small.erofs", "--cache-dir", dir + "/cache", "--repeat", "2",
                                     "--no-pin", "-o", dir + "/run.dat", "--report", dir + "/run.json"])
        let result = running.wait()
        #expect(result.status == 2)
        let errors = result.stderr.split(separator: "\n").filter { $0.hasPrefix("ondemand-trace run: ") }
        #expect(errors.count == 1 && result.stderr.hasSuffix("\n") && errors[0] == result.stderr.split(separator: "\n").last!, "\(result.stderr)")
        #expect(try Fixtures.list(dir + "/cache").isEmpty)
        #expect(try Fixtures.list(dir) .sorted() == ["blobs", "cache", "small.erofs"])
        let instances = HostFacts.instances()
        #expect(!instances.contains("ondemand-trace-\(running.pid)"))
        #expect(mountpoints().subtracting(before).isEmpty)
    }

    /// `run --blob/--domain/--daemon-command/--no-daemon`: what cannot work is refused before anything starts.
    @Test(arguments: [
        (["--blob", "a/b/../x=/tmp/blob"], 2, "blob a/b/../x=/tmp/blob: not a readable regular file"),  // '/' before '=': a path
        (["--blob", "..=/tmp/blob"], 2, "tag \"..\" contains '..'"),
        (["--blob", "t=/x", "--blob", "t=/y"], 2, "tag \"t\" given twice"),
        (["--blob", "img=/x"], 2, "is the image's fsid"),
        (["--blob", "a,b=/x"], 2, "contains ','"),
        (["--domain", "d/1"], 2, "--domain \"d/1\": contains '/'"),
        (["--daemon-command", "true", "--no-daemon"], 2, "exclude each other"),
        (["--daemon-command", "true", "--threads", "2"], 2, "--cache-dir, --threads go with the embedded daemon"),
        (["--daemon-command", "true", "--daemon-timeout", "0"], 2, "--daemon-timeout '0'"),
        (["--backend", "fanotify", "--workload-timeout", "0"], 2, "--workload-timeout '0': expected a positive duration"),
        (["--backend", "cachefiles", "--workload-timeout", "5s"], 2, "--workload-timeout is the fanotify path's"),
    ] as [([String], Int32, String)])
    func runRefusesBlobAndDaemonOptionsThatCannotWork(extra: [String], status: Int32, message: String) throws {
        let scratch = try scratchDirectory(); let dir = scratch.path
        FileManager.default.createFile(atPath: dir + "/img", contents: Data(repeating: 0, count: 4096))
        let result = try runTool(["run", "--image", dir + "/img", "--cache-dir", dir + "/cache"] + extra)
        #expect(result.status == status, "\(result.stderr)")
        #expect(result.stderr.contains(message), "\(result.stderr)")
    }

    /// `daemon --fanotify`'s blobs come in pairs, and only with --fanotify.
    @Test func fanotifyBlobFilesAndSourcesGoInPairs() throws {
        let scratch = try scratchDirectory(); let dir = scratch.path
        let fan = ["daemon", "--fanotify", "--image-file", dir + "/img", "--source", dir + "/img"]
        let unpaired = try runTool(fan + ["--blob-file", dir + "/b1", "--blob-file", dir + "/b2", "--blob-source", dir + "/b1"])
        #expect(unpaired.status == 2)
        #expect(unpaired.stderr.contains("--blob-file and --blob-source go in pairs: 2 --blob-file, 1 --blob-source"), "\(unpaired.stderr)")
        let cachefiles = try runTool(["daemon", "--cache-dir", dir + "/cache", "--source-dir", dir + "/blobs", "--blob-file", dir + "/b1"])
        #expect(cachefiles.status == 2)
        #expect(cachefiles.stderr.contains("--blob-source need --fanotify"), "\(cachefiles.stderr)")
        // A missing blob source: one line naming it, exit 2.
        FileManager.default.createFile(atPath: dir + "/img", contents: Data(repeating: 0, count: 4096))
        let missing = try runTool(fan + ["--blob-file", dir + "/img", "--blob-source", dir + "/nope"])
        #expect(missing.status == 2)
        #expect(missing.stderr == "ondemand-trace daemon: \(dir)/nope: cannot open the source: ENOENT (No such file or directory)\n", "\(missing.stderr)")
    }

    /// A bootstrap + blob image without its --blob on the fanotify path: 7.3 would mount it and
    /// fail every read of the blob's data, so the run refuses it first (one line, exit 2, no file left).
    @Test(.enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/mkfs.erofs")))
    func fanotifyRunRefusesABootstrapWithoutItsBlobs() throws {
        let scratch = try scratchDirectory(); let dir = scratch.path
        mkdir(dir + "/tree", 0o755)
        FileManager.default.createFile(atPath: dir + "/tree/f.bin", contents: Data(repeating: 7, count: 20000))
        let made = try Run.program("/usr/bin/mkfs.erofs", ["--chunksize=4096", "--blobdev=" + dir + "/boot.blob", dir + "/boot.erofs", dir + "/tree"])
        try #require(made.status == 0, "\(made.stderr)")
        let result = try runTool(["run", "--backend", "fanotify", "--image", dir + "/boot.erofs", "--cache-dir", dir + "/cache"])
        #expect(result.status == 2)
        #expect(result.stderr == "ondemand-trace run: \(dir)/boot.erofs: the image has 1 data blob(s) (extra devices) and 0 --blob given: give each with --blob, in the image's device order\n",
                "\(result.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/cache").isEmpty)
    }

    @Test func runNamesAMissingBlobAndTheEmbeddedDaemonNeedsACacheDir() throws {
        let scratch = try scratchDirectory(); let dir = scratch.path
        FileManager.default.createFile(atPath: dir + "/img", contents: Data(repeating: 0, count: 4096))
        let missing = try runTool(["run", "--image", dir + "/img", "--cache-dir", dir + "/cache", "--blob", dir + "/none"])
        #expect(missing.status == 2)
        #expect(missing.stderr == "ondemand-trace run: blob \(dir)/none: not a readable regular file\n")
        let noCache = try runTool(["run", "--image", dir + "/img"])
        #expect(noCache.status == 2 && noCache.stderr.contains("--cache-dir is required for the embedded daemon"), "\(noCache.stderr)")
    }

    @Test func thePresetFixesTheWorkload() throws {
        let scratch = try scratchDirectory(); let dir = scratch.path
        let result = try runTool(["run", "--image", dir + "/img", "--cache-dir", dir + "/cache", "--preset", "regression",
                                  "--readers", "2", "--fault", "delay=1ms"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("--preset regression fixes the workload: drop --readers, --fault"))
    }
}
