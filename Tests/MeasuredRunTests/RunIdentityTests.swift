import Testing
import TestSupport
import OndemandDaemon
import OndemandTraceCore
@testable import MeasuredRun

/// The `run` section that `check` compares: what was measured (the image's bytes, the daemon, the
/// workload, the path) is in it; where the results went is not.
@Suite struct RunIdentityTests {
    let scratch: TemporaryDirectory
    let image: String
    init() throws {
        scratch = try TemporaryDirectory("run-identity")
        image = scratch.path + "/small.erofs"
        try Fixtures.write(Array("foobar".utf8), to: image)
    }

    func plan() -> RunPlan {
        var daemon = OndemandServer.Configuration(cacheDirectory: scratch.path, sourceDirectory: scratch.path)
        daemon.threads = 2
        return RunPlan(image: image, fsid: "small", cacheDirectory: scratch.path, daemon: daemon, bufferSizeKB: 4096)
    }

    func value(_ key: String, _ plan: RunPlan) -> String? {
        RunIdentity.section(of: plan).first { $0.0 == key }?.1
    }

    @Test func theBaseSectionInItsOrder() {
        let section = RunIdentity.section(of: plan())
        #expect(section.map(\.0) == ["preset", "image", "image_bytes", "image_fnv1a64", "fsid", "daemon_threads", "faults", "passes", "workload"])
        #expect(section.map(\.1) == ["none", "small.erofs", "6", "85944171f73967e8", "small", "2", "", "1",
                                     "built-in sequential readers=1 block=131072"])
    }

    /// FNV-1a 64 of known inputs (the published test vectors), read in chunks.
    @Test(arguments: [("", 0xcbf2_9ce4_8422_2325), ("a", 0xaf63_dc4c_8601_ec8c), ("foobar", 0x8594_4171_f739_67e8)] as [(String, UInt64)])
    func theFingerprintIsFNV1a(text: String, hash: UInt64) throws {
        let path = scratch.path + "/vector"
        try Fixtures.write(Array(text.utf8), to: path)
        #expect(RunIdentity.fingerprint(path) == hash)
        #expect(RunIdentity.fingerprint(scratch.path + "/none") == nil)
    }

    /// A large file spans many chunks: the hash is the same as over the bytes at once.
    @Test func theFingerprintDoesNotDependOnChunks() throws {
        var rng = SplitMix64(seed: 24)
        print("RunIdentityTests: seed 24")
        let bytes = (0..<(3 << 20) + 17).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let path = scratch.path + "/big"
        try Fixtures.write(bytes, to: path)
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        #expect(RunIdentity.fingerprint(path) == hash)
    }

    @Test func theSameImageElsewhereIsTheSameIdentityAndOneChangedByteIsNot() throws {
        let other = try TemporaryDirectory("run-identity-copy")
        try Fixtures.write(Array("foobar".utf8), to: other.path + "/small.erofs")
        var copy = plan()
        copy.image = other.path + "/small.erofs"
        #expect(RunIdentity.section(of: copy).map(\.1) == RunIdentity.section(of: plan()).map(\.1))
        try Fixtures.write(Array("foobaz".utf8), to: copy.image)
        #expect(value("image_bytes", copy) == "6")
        #expect(value("image_fnv1a64", copy) != value("image_fnv1a64", plan()))
        copy.image = other.path + "/none.erofs"
        #expect(value("image_fnv1a64", copy) == "unreadable")
    }

    /// Where results go, the cache and pinning are not what was measured.
    @Test func outputsAndPlacesAreNotIdentity() {
        var moved = plan()
        moved.traceOutput = "/elsewhere/t.dat"
        moved.reportOutput = "/elsewhere/r.json"
        moved.cacheDirectory = "/elsewhere/cache"
        moved.mountpoint = "/mnt/x"
        moved.daemonLog = "/elsewhere/daemon.log"
        moved.pin = true
        moved.measuredRuns = 5
        moved.warmupRuns = 1
        moved.bufferSizeKB = 1024
        #expect(RunIdentity.section(of: moved).map(\.1) == RunIdentity.section(of: plan()).map(\.1))
    }

    @Test func whatShapesTheRequestsIsIdentity() {
        let base = RunIdentity.section(of: plan())
        var changes: [(String, RunPlan)] = []
        var p = plan(); p.preset = "regression"; changes.append(("preset", p))
        p = plan(); p.fsid = "other"; changes.append(("fsid", p))
        p = plan(); p.daemon.threads = 4; changes.append(("daemon_threads", p))
        p = plan(); p.faultSpecs = ["delay=1ms"]; changes.append(("faults", p))
        p = plan(); p.passes = 3; changes.append(("passes", p))
        p = plan(); p.workload.readers = 4; changes.append(("workload", p))
        for (key, changed) in changes {
            let section = RunIdentity.section(of: changed)
            #expect(section.map(\.0) == base.map(\.0), "\(key)")
            let differing = zip(section, base).filter { pair in pair.0.1 != pair.1.1 }.map { pair in pair.0.0 }
            #expect(differing == [key])
        }
    }

    /// Keys added only when used, after the base ones: older reports stay comparable.
    @Test func theBackendIsNamedOnlyOffTheDefaultPath() {
        #expect(value("backend", plan()) == nil)
        var fanotify = plan()
        fanotify.backend = .fanotify
        #expect(value("backend", fanotify) == "fanotify")
        #expect(RunIdentity.section(of: fanotify).last! == ("backend", "fanotify"))
    }

    @Test func anotherDaemonIsNamedAndHasNoThreadCount() {
        var command = plan()
        command.daemonSource = .command("nydusd --config x", bindTimeout: 1_000_000_000)
        #expect(value("daemon", command) == "command: nydusd --config x")
        #expect(value("daemon_threads", command) == "-")
        var serving = plan()
        serving.daemonSource = .alreadyServing
        #expect(value("daemon", serving) == "already serving")
        #expect(value("daemon", plan()) == nil)
    }

    @Test func blobsDomainAndSlowdownAreAddedWhenUsed() throws {
        try Fixtures.write(Array("a".utf8), to: scratch.path + "/blob1")
        var p = plan()
        p.blobs = [RunBlob(tag: "b1", path: scratch.path + "/blob1"), RunBlob(tag: "b2", path: scratch.path + "/missing")]
        p.domain = "dom"
        p.slowdown = "5ms"
        let added = RunIdentity.section(of: p).dropFirst(9)
        #expect(added.map(\.0) == ["blobs", "domain", "slowdown"])
        #expect(added.map(\.1) == ["b1:af63dc4c8601ec8c b2:unreadable", "dom", "5ms"])
    }
}
