import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// `doctor` in a private mount namespace without tracefs (issue 28: --no-mount mounted it).
@Suite struct DoctorCLITests {
    /// Runs `doctor ARGS` in a new mount namespace whose tracefs mounts are gone; prints the
    /// number of tracefs mounts after it on the last line. nil when no namespace can be made.
    static func doctorWithoutTracefs(_ arguments: [String]) throws -> (result: ProcessResult, mountsAfter: Int)? {
        let script = """
            mount --make-rprivate / || exit 97
            for m in $(awk '$3 == "tracefs" { print $2 }' /proc/self/mounts | sort -r); do umount -l "$m" || exit 98; done
            before=$(awk '$3 == "tracefs"' /proc/self/mounts | wc -l)
            [ "$before" = 0 ] || exit 98
            "$@"
            status=$?
            echo "tracefs mounts: $(awk '$3 == "tracefs"' /proc/self/mounts | wc -l)"
            exit $status
            """
        let result = try Run.program("/usr/bin/unshare", ["-m", "sh", "-c", script, "sh", Run.binary, "doctor"] + arguments)
        if result.status == 97 || result.status == 98 || result.stderr.contains("unshare failed") { return nil }
        let last = result.stdout.split(separator: "\n").last ?? ""
        guard last.hasPrefix("tracefs mounts: "), let n = Int(last.dropFirst("tracefs mounts: ".count)) else { return nil }
        return (result, n)
    }

    @Test(.enabled(if: HostFacts.isRoot && HostFacts.isExecutable("/usr/bin/unshare"), "needs root and unshare(1) for a private mount namespace"))
    func noMountLeavesTracefsUnmounted() throws {
        guard let (result, mounts) = try Self.doctorWithoutTracefs(["--no-mount"]) else {
            Issue.record("no private mount namespace without tracefs could be made here (unshare -m, umount)")
            return
        }
        #expect(mounts == 0, "\(result.stdout)")
        #expect(result.status == 1)
        #expect(result.stdout.contains("[FAIL] tracefs           not mounted\n"), "\(result.stdout)")
        #expect(result.stdout.contains("not checked: tracefs is not mounted"), "\(result.stdout)")
        // Without --no-mount doctor mounts it: the namespace is one where mounting shows.
        let mounting = try #require(try Self.doctorWithoutTracefs([]))
        #expect(mounting.mountsAfter >= 1, "\(mounting.result.stdout)")
        #expect(mounting.result.stdout.contains("was not mounted; mounted it at"), "\(mounting.result.stdout)")
    }
}
