import SystemCalls

/// Where `run` puts its threads: the daemon's on the last allowed CPU, the readers (and the
/// mount) on the others, so the two do not take turns on one CPU. Set per thread with
/// sched_setaffinity; threads inherit their creator's CPUs, so the daemon's threads are pinned by
/// starting them from a pinned thread. Only when at least 2 CPUs are allowed.
public struct CPUPinning: CustomStringConvertible {
    let daemonCPUs: [Int]
    let readerCPUs: [Int]
    let original: [Int]

    public static func plan() -> CPUPinning? {
        guard let allowed = CPUAffinity.current(), allowed.count >= 2 else { return nil }
        return CPUPinning(daemonCPUs: [allowed.last!], readerCPUs: Array(allowed.dropLast()), original: allowed)
    }

    public var description: String {
        "daemon threads on cpu \(list(daemonCPUs)), readers on cpu \(list(readerCPUs)), recorder unpinned"
    }

    public func pinDaemon() { CPUAffinity.set(daemonCPUs) }
    public func pinReaders() { CPUAffinity.set(readerCPUs) }
    public func restore() { CPUAffinity.set(original) }

    private func list(_ cpus: [Int]) -> String { cpus.map(String.init).joined(separator: ",") }
}
