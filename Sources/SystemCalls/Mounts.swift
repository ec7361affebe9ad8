import Glibc

/// mount(2) and umount2(2): `run` mounts each pass's image and unmounts it after.
public enum Mounts {
    /// Mounts `source` on `target` as `type` with `options` (the filesystem's data string); the
    /// errno when the kernel refuses.
    public static func mount(_ source: String, on target: String, type: String, readOnly: Bool = false, options: String? = nil) -> Int32? {
        let flags = readOnly ? UInt(MS_RDONLY) : 0
        let rc = options.map { Glibc.mount(source, target, type, flags, $0) } ?? Glibc.mount(source, target, type, flags, nil)
        return rc == 0 ? nil : errno
    }

    /// Unmounts `target`; the errno when it is busy (or not a mount point).
    public static func unmount(_ target: String) -> Int32? {
        umount2(target, 0) == 0 ? nil : errno
    }

    /// Detaches `target` now and unmounts it when no longer busy (MNT_DETACH).
    public static func detach(_ target: String) {
        umount2(target, Int32(MNT_DETACH))
    }
}

/// The CPUs a thread may run on (`sched_getaffinity`, `sched_setaffinity` on the calling thread).
public enum CPUAffinity {
    /// The calling thread's allowed CPUs; nil when they cannot be read.
    public static func current() -> [Int]? {
        var set = cpu_set_t()
        guard getAffinity?(0, MemoryLayout<cpu_set_t>.size, &set) == 0 else { return nil }
        return withUnsafeBytes(of: &set) { raw in
            (0..<(raw.count * 8)).filter { raw[$0 / 8] & (1 << UInt8($0 % 8)) != 0 }
        }
    }

    /// Lets the calling thread (and the threads it starts afterwards) run only on `cpus`.
    public static func set(_ cpus: [Int]) {
        var set = cpu_set_t()
        withUnsafeMutableBytes(of: &set) { raw in
            for cpu in cpus where cpu / 8 < raw.count { raw[cpu / 8] |= 1 << UInt8(cpu % 8) }
        }
        _ = setAffinity?(0, MemoryLayout<cpu_set_t>.size, &set)
    }

    /// glibc's sched_getaffinity / sched_setaffinity (not in Swift's Glibc module: GNU extensions).
    private typealias AffinityCall = @convention(c) (pid_t, Int, UnsafeMutableRawPointer) -> Int32
    private static let getAffinity: AffinityCall? = glibcFunction("sched_getaffinity", as: AffinityCall.self)
    private static let setAffinity: AffinityCall? = glibcFunction("sched_setaffinity", as: AffinityCall.self)
}
