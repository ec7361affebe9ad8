import Synchronization
import SystemCalls
import Testing
@testable import MeasuredRun

/// Where `run` puts its threads. Affinity is per thread: each test pins a thread of its own (the
/// test runner's threads keep their CPUs) and checks there what it saw.
@Suite struct CPUPinningTests {
    /// `body`'s result, run on a new thread.
    static func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () -> T) -> T {
        let result = Mutex<T?>(nil)
        let thread = try! startThread { result.withLock { $0 = body() } }
        thread.join()
        return result.withLock { $0! }
    }

    /// The CPUs the calling thread may run on (as `SystemCalls` reads them).
    static func callingThreadCPUs() -> [Int] { CPUAffinity.current() ?? [] }

    struct Seen: Sendable {
        var allowed: [Int] = []
        var planned: (daemon: [Int], readers: [Int], description: String)?
        var afterPinDaemon: [Int] = [], afterPinReaders: [Int] = [], afterRestore: [Int] = []
    }

    /// The daemon on the last allowed CPU, the readers on the others; each pin is what the thread
    /// then runs on, and restore gives back what it had.
    @Test func theDaemonGetsTheLastAllowedCPUAndTheReadersTheRest() throws {
        let seen = Self.onOwnThread { () -> Seen in
            var seen = Seen(allowed: Self.callingThreadCPUs())
            guard let pinning = CPUPinning.plan() else { return seen }
            seen.planned = (pinning.daemonCPUs, pinning.readerCPUs, pinning.description)
            pinning.pinDaemon()
            seen.afterPinDaemon = Self.callingThreadCPUs()
            pinning.pinReaders()
            seen.afterPinReaders = Self.callingThreadCPUs()
            pinning.restore()
            seen.afterRestore = Self.callingThreadCPUs()
            return seen
        }
        let allowed = seen.allowed
        try #require(!allowed.isEmpty)
        guard let planned = seen.planned else {
            #expect(allowed.count < 2, "no plan with CPUs \(allowed) allowed")
            return
        }
        let last = try #require(allowed.last), others = Array(allowed.dropLast())
        #expect(planned.daemon == [last] && planned.readers == others)
        #expect(planned.description == "daemon threads on cpu \(last), readers on cpu \(others.map(String.init).joined(separator: ",")), recorder unpinned")
        #expect(seen.afterPinDaemon == [last])
        #expect(seen.afterPinReaders == others)
        #expect(seen.afterRestore == allowed)
    }

    /// With one CPU allowed there is nothing to split: no plan (`run` says "no (fewer than 2 CPUs
    /// allowed)").
    @Test func oneAllowedCPUIsNoPlan() {
        let (allowed, one, planned, restored) = Self.onOwnThread { () -> ([Int], [Int], Bool, [Int]) in
            let allowed = Self.callingThreadCPUs()
            CPUAffinity.set(Array(allowed.prefix(1)))
            let one = Self.callingThreadCPUs(), planned = CPUPinning.plan() != nil
            CPUAffinity.set(allowed)
            return (allowed, one, planned, Self.callingThreadCPUs())
        }
        #expect(one == Array(allowed.prefix(1)) && one.count == 1)
        #expect(!planned)
        #expect(restored == allowed)
    }
}
