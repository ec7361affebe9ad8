import CDaemonSys
import Glibc
import Testing
import TestSupport
@testable import OndemandDaemon

/// `bind ondemand` fails with one errno for several causes; the daemon names the likely one.
@Suite struct BindFailureTests {
    @Test(.enabled(if: HostFacts.tmpfsDirectory != nil, "no tmpfs here"))
    func aTmpfsCacheDirectoryIsNamedAsTheCause() throws {
        let tmpfs = try #require(HostFacts.tmpfsDirectory)
        let error = OndemandServer.explainBindFailure(DaemonError("bind failed", errno: EOPNOTSUPP), cacheDirectory: tmpfs)
        #expect(error.description == "\(tmpfs): cachefiles refuses a cache directory on tmpfs (bind fails with EOPNOTSUPP: tmpfs has no sync_fs); put it on ext4 or xfs")
        #expect(error.errno == EOPNOTSUPP)
    }

    @Test(.enabled(if: !HostFacts.isTmpfs("/")))
    func otherwiseTheKernelConfigOrTheFilesystemIsSuspected() {
        let error = OndemandServer.explainBindFailure(DaemonError("bind failed", errno: EOPNOTSUPP), cacheDirectory: "/")
        #expect(error.description.hasPrefix("bind ondemand failed with EOPNOTSUPP: the kernel lacks CONFIG_CACHEFILES_ONDEMAND"))
    }

    @Test func aFullCacheFilesystemIsExplained() {
        let error = OndemandServer.explainBindFailure(DaemonError("bind failed", errno: ENOBUFS), cacheDirectory: "/cache")
        #expect(error.description.contains("the filesystem of /cache is too full for cachefiles"))
    }

    @Test func otherErrorsPassThrough() {
        let error = OndemandServer.explainBindFailure(DaemonError("/dev/cachefiles: command \"bind ondemand\" failed: EBUSY", errno: EBUSY), cacheDirectory: "/cache")
        #expect(error.description == "/dev/cachefiles: command \"bind ondemand\" failed: EBUSY")
    }
}
