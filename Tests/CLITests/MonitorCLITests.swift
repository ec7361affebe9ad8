import Foundation
import Testing
import TestSupport

/// `monitor`'s refusals on this machine: one line, exit 2 (usage errors too), nothing left behind.
/// Its working is tested on the real kernel (vm/monitor-test).
@Suite struct MonitorCLITests {
    /// A listening socket on a free loopback port, and that port.
    func listeningSocket() throws -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        #expect(bound == 0 && listen(fd, 1) == 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    @Test func aPortInUse() throws {
        let (fd, port) = try listeningSocket()
        defer { close(fd) }
        let result = try Run.odt("monitor", "--listen", "127.0.0.1:\(port)")
        expectOneLineError(result, "ondemand-trace: --listen 127.0.0.1:\(port): the address is already in use")
    }

    @Test(.enabled(if: !HostFacts.hasCachefilesEvents, "this kernel has cachefiles"))
    func noCachefilesEventsInThisKernel() throws {
        let running = try Run.start([Run.binary, "monitor", "--listen", "127.0.0.1:0"])
        let result = running.wait()
        expectOneLineError(result, "ondemand-trace: no cachefiles events in this kernel (it lacks CONFIG_CACHEFILES")
        // Its own instance only: other tests running beside this one may hold theirs.
        let instances = HostFacts.instances()
        #expect(!instances.contains("ondemand-trace-\(running.pid)"), "\(instances)")
    }

    @Test(.enabled(if: HostFacts.canDropPrivileges, "needs root and setpriv"))
    func notRoot() throws {
        let result = try Run.start(["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
                                    Run.binary, "monitor", "--listen", "127.0.0.1:0"]).wait()
        expectOneLineError(result, "permission denied: monitor needs root (or CAP_SYS_ADMIN)")
    }

    @Test func outputIsNotADirectory() throws {
        let scratch = try TemporaryDirectory("monitor-cli")
        let file = scratch.path + "/file"
        #expect(FileManager.default.createFile(atPath: file, contents: Data()))
        let result = try Run.odt("monitor", "--listen", "127.0.0.1:0", "-o", file)
        expectOneLineError(result, "ondemand-trace: -o \(file): not a directory")
    }

    @Test(arguments: [
        (["--listen", "9464"], "--listen '9464' has no port"),
        (["--listen", "127.0.0.1:70000"], "the port must be a number from 0 to 65535"),
        (["--hung-after", "soon"], "--hung-after 'soon': expected a duration"),
        (["--rotate-size", "1GiB"], "--rotate-size and --keep need -o DIR"),
        (["-o", "/tmp", "--rotate-size", "100KiB"], "--rotate-size '100KiB' is not a size of at least 1 MiB"),
        (["--max-blobs=-1"], "--max-blobs must be between 0 and 10000"),
    ])
    func usageErrors(arguments: [String], message: String) throws {
        let result = try Run.odt(["monitor"] + arguments)
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr.contains(message), "\(result.stderr)")
    }
}
