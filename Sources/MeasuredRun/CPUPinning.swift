import Glibc

/// Where `run` puts its threads: the daemon's on the last allowed CPU, the readers (and the
/// mount) on the others, so the two do not take turns on one CPU. Set per thread with
/// sched_setaffinity; threads inherit their creator's CPUs, so the daemon's threads are pinned by
/// starting them from a pinned thread. Only when at least 2 CPUs are allowed.
public struct CPUPinning: CustomStringConvertible {
    let daemonCPUs: [Int]
    let readerCPUs: [Int]
    let original: cpu_set_t

    public static func plan() -> CPUPinning? {
        var set = cpu_set_t()
        guard Self.sched_getaffinity(0, MemoryLayout<cpu_set_t>.size, &set) == 0 else { return nil }
        let allowed = cpus(in: set)
        guard allowed.count >= 2 else { return nil }
        return CPUPinning(daemonCPUs: [allowed.last!], readerCPUs: Array(allowed.dropLast()), original: set)
    }

    public var description: String {
        "daemon threads on cpu \(list(daemonCPUs)), readers on cpu \(list(readerCPUs)), recorder unpinned"
    }

    public func pinDaemon() { Self.setCalling(daemonCPUs) }
    public func pinReaders() { Self.setCalling(readerCPUs) }
    public func restore() {
        var set = original
        Self.sched_setaffinity(0, MemoryLayout<cpu_set_t>.size, &set)
    }

    /// glibc's sched_getaffinity / sched_setaffinity (not in Swift's Glibc module: GNU extensions).
    typealias AffinityCall = @convention(c) (pid_t, Int, UnsafeMutableRawPointer) -> Int32
    static let getAffinity: AffinityCall? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sched_getaffinity")
        .map { unsafeBitCast($0, to: AffinityCall.self) }
    static let setAffinity: AffinityCall? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sched_setaffinity")
        .map { unsafeBitCast($0, to: AffinityCall.self) }

    static func sched_getaffinity(_ pid: pid_t, _ size: Int, _ set: UnsafeMutablePointer<cpu_set_t>) -> Int32 {
        getAffinity?(pid, size, set) ?? -1
    }

    @discardableResult
    static func sched_setaffinity(_ pid: pid_t, _ size: Int, _ set: UnsafeMutablePointer<cpu_set_t>) -> Int32 {
        setAffinity?(pid, size, set) ?? -1
    }

    private func list(_ cpus: [Int]) -> String { cpus.map(String.init).joined(separator: ",") }

    static func cpus(in set: cpu_set_t) -> [Int] {
        var copy = set
        return withUnsafeBytes(of: &copy) { raw in
            (0..<(raw.count * 8)).filter { raw[$0 / 8] & (1 << UInt8($0 % 8)) != 0 }
        }
    }

    static func setCalling(_ cpus: [Int]) {
        var set = cpu_set_t()
        withUnsafeMutableBytes(of: &set) { raw in
            for cpu in cpus where cpu / 8 < raw.count { raw[cpu / 8] |= 1 << UInt8(cpu % 8) }
        }
        Self.sched_setaffinity(0, MemoryLayout<cpu_set_t>.size, &set)
    }
}
