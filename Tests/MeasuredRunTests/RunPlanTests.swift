import Testing
import TestSupport
import OndemandDaemon
import OndemandTraceCore
@testable import MeasuredRun

/// A plan as `run` makes it from its options, without a kernel: the mount options, the passes'
/// fsids, the numbered outputs of several runs, the blobs and the inputs it refuses.
@Suite struct RunPlanTests {
    static func plan(image: String = "/images/small.erofs", fsid: String = "small") -> RunPlan {
        RunPlan(image: image, fsid: fsid, cacheDirectory: "/cache",
                daemon: OndemandServer.Configuration(cacheDirectory: "/cache", sourceDirectory: "/images"), bufferSizeKB: 4096)
    }

    @Test func mountOptionsNameTheDomainAndEveryBlobInOrder() {
        var plan = Self.plan()
        #expect(plan.mountOptions(fsid: "small") == "fsid=small")
        plan.blobs = [RunBlob(tag: "data1", path: "/b/1"), RunBlob(tag: "data2", path: "/b/2")]
        #expect(plan.mountOptions(fsid: "small-pass2") == "fsid=small-pass2,device=data1,device=data2")
        plan.domain = "shared"
        #expect(plan.mountOptions(fsid: "small") == "fsid=small,domain_id=shared,device=data1,device=data2")
    }

    @Test func eachPassHasAFsidOfItsOwn() {
        var plan = Self.plan()
        #expect(plan.passFsids == ["small"])   // one pass: the fsid as given, as the image's blob name
        plan.passes = 3
        #expect(plan.passFsids == ["small-pass1", "small-pass2", "small-pass3"])
        #expect(Set(plan.passFsids).count == 3)
    }

    @Test func severalRunsOrAWarmUpMakeAMultiRun() {
        var plan = Self.plan()
        #expect(!plan.multiRun)
        plan.measuredRuns = 2
        #expect(plan.multiRun)
        plan.measuredRuns = 1
        plan.warmupRuns = 1
        #expect(plan.multiRun)
    }

    @Test(arguments: [
        ("run.dat", "3", "run-3.dat"),
        ("out/run.dat", "warmup1", "out/run-warmup1.dat"),
        ("a.b/run", "2", "a.b/run-2"),          // a dot in a directory is not an extension
        ("dir/.hidden", "2", "dir/.hidden-2"),  // nor a leading dot
        ("x.tar.dat", "10", "x.tar-10.dat"),    // the last dot only
        ("run", "1", "run-1"),
    ])
    func numberedOutputsKeepTheirExtension(path: String, suffix: String, expected: String) {
        #expect(RunPlan.numbered(path, suffix) == expected)
    }

    @Test func theWorkloadIsDescribedAsTheIdentityNamesIt() {
        var plan = Self.plan()
        #expect(plan.workloadDescription == "built-in sequential readers=1 block=131072")
        plan.workload.order = .random
        plan.workload.readers = 4
        plan.workload.blockSize = 8192
        plan.workload.seed = 42
        #expect(plan.workloadDescription == "built-in random readers=4 block=8192 seed=42")
        plan.command = ["sh", "-c", "cat a"]
        #expect(plan.workloadDescription == "sh -c cat a")   // a command replaces the built-in workload
    }

    @Test(arguments: [
        ("/blobs/data.img", "data.img", "/blobs/data.img"),
        ("data=/blobs/x.img", "data", "/blobs/x.img"),
        ("a/b=c", "b=c", "a/b=c"),             // a '/' before '=': the whole spec is a path
        ("t=rel/x", "t", "rel/x"),
    ])
    func blobSpecsNameTheirTag(spec: String, tag: String, path: String) throws {
        #expect(try RunBlob.parse(spec) == RunBlob(tag: tag, path: path))
    }

    @Test(arguments: [
        ("t=", "--blob t=: no file after '='"),
        ("..=/x", "--blob ..=/x: tag \"..\" contains '..'"),
        ("=/x", "--blob =/x: tag \"\" empty"),
        ("a,b=/x", "--blob a,b=/x: tag \"a,b\" contains ',' (it goes into the mount options)"),
        ("/dir/a,b", "--blob /dir/a,b: tag \"a,b\" contains ',' (it goes into the mount options)"),
    ])
    func badBlobSpecsAreRefusedWithTheSpec(spec: String, message: String) {
        do {
            let blob = try RunBlob.parse(spec)
            Issue.record("accepted as \(blob)")
        } catch { #expect(error.description == message) }
    }

    @Test func blobTagsAreDistinctAndNotTheImagesFsid() throws {
        try RunBlob.requireDistinct([RunBlob(tag: "a", path: "/x"), RunBlob(tag: "b", path: "/x")], fsid: "img")
        do {
            try RunBlob.requireDistinct([RunBlob(tag: "a", path: "/x"), RunBlob(tag: "a", path: "/y")], fsid: "img")
            Issue.record("a tag given twice was accepted")
        } catch { #expect(error.description == "--blob: tag \"a\" given twice") }
        do {
            try RunBlob.requireDistinct([RunBlob(tag: "img", path: "/blobs/img")], fsid: "img")
            Issue.record("a blob tagged as the image's fsid was accepted")
        } catch { #expect(error.description == "--blob /blobs/img: tag \"img\" is the image's fsid; give another tag with TAG=FILE") }
    }

    /// Bad input is named before anything looks at the kernel: the image, then each blob.
    @Test func inputsMustBeReadableRegularFiles() throws {
        let scratch = try TemporaryDirectory("run-inputs")
        let image = scratch.path + "/small.erofs", blob = scratch.path + "/blob"
        try Fixtures.write([1, 2, 3], to: image)
        try Fixtures.write([4], to: blob)
        var plan = Self.plan(image: image)
        plan.blobs = [RunBlob(tag: "blob", path: blob)]
        try RunSeries.checkInputs(plan)
        let refusals: [(RunPlan, String)] = [
            (Self.plan(image: scratch.path + "/none.erofs"), "\(scratch.path)/none.erofs: not a readable regular file"),
            (Self.plan(image: scratch.path), "\(scratch.path): not a readable regular file"),
            ({ var p = plan; p.blobs.append(RunBlob(tag: "gone", path: scratch.path + "/gone")); return p }(),
             "blob \(scratch.path)/gone: not a readable regular file"),
        ]
        for (bad, message) in refusals {
            do {
                try RunSeries.checkInputs(bad)
                Issue.record("accepted: \(message)")
            } catch { #expect(error.description == message) }
        }
    }
}
