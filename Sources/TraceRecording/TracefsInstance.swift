import CTrace
import SystemCalls

/// The tracefs mount, found (and mounted if absent) by libtracefs.
public enum Tracefs {
    /// The tracefs directory, or an error saying why there is none.
    public static func directory() throws(RecordingError) -> String {
        currentErrno = 0
        guard let dir = tracefs_tracing_dir() else {
            let cause = currentErrno == ErrnoCode.EPERM || currentErrno == ErrnoCode.EACCES ? "not mounted, and mounting it was not permitted (run as root)" : "not mounted and could not be mounted"
            throw RecordingError("tracefs: \(cause): mount -t tracefs nodev /sys/kernel/tracing")
        }
        return String(cString: dir)
    }

    /// Reads a file of the top-level tracefs directory (`events/header_page`, `saved_cmdlines`).
    static func readTopLevel(_ file: String) -> [UInt8]? {
        var size: Int32 = 0
        guard let raw = tracefs_instance_file_read(nil, file, &size) else { return nil }
        defer { freeMallocated(raw) }
        return Array(UnsafeRawBufferPointer(start: raw, count: Int(size)))
    }

    /// The events of `system` this kernel has (empty if the system does not exist).
    public static func events(ofSystem system: String) -> [String] {
        guard let list = tracefs_system_events(nil, system) else { return [] }
        defer { tracefs_list_free(list) }
        return strings(list).sorted()
    }

    public static func systems() -> [String] {
        guard let list = tracefs_event_systems(nil) else { return [] }
        defer { tracefs_list_free(list) }
        return strings(list)
    }

    static func strings(_ list: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> [String] {
        var names: [String] = []
        var i = 0
        while let item = list[i] {
            names.append(String(cString: item))
            i += 1
        }
        return names
    }

    /// The format file of one event, from the top-level `events` directory.
    static func format(system: String, event: String) -> [UInt8]? {
        var size: Int32 = 0
        guard let raw = tracefs_event_file_read(nil, system, event, "format", &size) else { return nil }
        defer { freeMallocated(raw) }
        return Array(UnsafeRawBufferPointer(start: raw, count: Int(size)))
    }

    /// Removes instances named `ondemand-trace-<pid>` whose process is gone (left by a crash or
    /// SIGKILL). Returns the names removed.
    @discardableResult
    public static func removeStaleInstances() -> [String] {
        // libtracefs compiles a basic regex: no `+`.
        guard let list = tracefs_instances("^\(InstanceName.prefix)[0-9][0-9]*$") else { return [] }
        defer { tracefs_list_free(list) }
        var removed: [String] = []
        for name in strings(list) {
            guard let pid = InstanceName.ownerPID(name), pid != ThisProcess.id else { continue }
            if ThisProcess.exists(pid) { continue }  // its recorder is alive
            guard let instance = tracefs_instance_alloc(nil, name) else { continue }
            defer { tracefs_instance_free(instance) }
            if TracefsInstance.destroyRetryingBusy(instance) { removed.append(name) }
        }
        return removed
    }
}

/// A private tracefs instance: its own ring buffers, clock and enabled events, so recording never
/// touches the top-level buffer or anyone else's tracing. Removed by `destroy()` or on deinit.
final class TracefsInstance {
    let name: String
    private(set) var handle: OpaquePointer?

    /// Creates the instance; an instance of that name that already exists belongs to someone else.
    init(name: String) throws(RecordingError) {
        self.name = name
        if tracefs_instance_exists(name) {
            let owner = InstanceName.ownerPID(name).map { " (recorder pid \($0))" } ?? ""
            throw RecordingError("tracefs instance \(name) already exists: another recorder is using it\(owner); choose another --instance, or remove it with: rmdir \(Self.tracingDirectory)/instances/\(name)")
        }
        currentErrno = 0
        guard let handle = tracefs_instance_create(name) else {
            throw RecordingError("cannot create tracefs instance \(name): \(Self.describe(currentErrno))")
        }
        guard tracefs_instance_is_new(handle) else {
            // Someone created it between the check and mkdir: not ours to use or remove.
            tracefs_instance_free(handle)
            throw RecordingError("tracefs instance \(name) already exists: another recorder is using it")
        }
        self.handle = handle
    }

    deinit { destroy() }

    static var tracingDirectory: String {
        tracefs_tracing_dir().map { String(cString: $0) } ?? "/sys/kernel/tracing"
    }

    var directory: String {
        guard let handle, let dir = tracefs_instance_get_dir(handle) else { return Self.tracingDirectory + "/instances/" + name }
        defer { tracefs_put_tracing_file(dir) }
        return String(cString: dir)
    }

    static func describe(_ code: Int32) -> String {
        switch code {
        case ErrnoCode.EACCES, ErrnoCode.EPERM: return "permission denied (run as root, or with CAP_SYS_ADMIN)"
        case ErrnoCode.ENOENT: return "no such file (is tracefs mounted?)"
        default: return describeErrno(code)
        }
    }

    func write(_ file: String, _ value: String) throws(RecordingError) {
        currentErrno = 0
        if tracefs_instance_file_write(handle, file, value) < 0 {
            throw RecordingError("cannot write '\(value)' to \(directory)/\(file): \(Self.describe(currentErrno))")
        }
    }

    func read(_ file: String) -> String? {
        var size: Int32 = 0
        guard let raw = tracefs_instance_file_read(handle, file, &size) else { return nil }
        defer { freeMallocated(raw) }
        return String(decoding: UnsafeRawBufferPointer(start: raw, count: Int(size)), as: UTF8.self)
    }

    /// Per-CPU buffer size in KiB.
    func setBufferSize(kilobytes: Int) throws(RecordingError) {
        currentErrno = 0
        if tracefs_instance_set_buffer_size(handle, kilobytes, -1) < 0 {
            throw RecordingError("cannot set the per-CPU buffer of \(directory) to \(kilobytes) KiB: \(Self.describe(currentErrno))")
        }
    }

    func setClock(_ clock: String) throws(RecordingError) {
        let available = (read("trace_clock") ?? "").split(whereSeparator: { $0 == " " || $0 == "\n" })
            .map { String($0).trimmingCharacters(in: "[").trimmingCharacters(in: "]") }
        guard available.contains(clock) else {
            throw RecordingError("--clock \(clock): this kernel has no such trace clock (it has: \(available.joined(separator: ", ")))")
        }
        try write("trace_clock", clock)
    }

    func enable(_ spec: EventSpec) throws(RecordingError) {
        if spec == .marker { return }  // ftrace:print is always on; it records trace_marker writes
        currentErrno = 0
        if tracefs_event_enable(handle, spec.system, spec.event) < 0 {
            throw RecordingError("cannot enable event \(spec) in \(directory): \(currentErrno == 0 || currentErrno == ErrnoCode.ENOENT ? "no such event in this kernel" : Self.describe(currentErrno))")
        }
    }

    /// Sets an event's filter in this instance (`mask & 0x100000`).
    func setFilter(system: String, event: String, _ filter: String) throws(RecordingError) {
        currentErrno = 0
        if tracefs_event_file_write(handle, system, event, "filter", filter) < 0 {
            throw RecordingError("cannot set the filter '\(filter)' of \(system):\(event) in \(directory): \(Self.describe(currentErrno))")
        }
    }

    func traceOff() { if let handle { tracefs_trace_off(handle) } }
    func traceOn() throws(RecordingError) {
        currentErrno = 0
        if tracefs_trace_on(handle) < 0 { throw RecordingError("cannot turn tracing on in \(directory): \(Self.describe(currentErrno))") }
    }

    /// Opens `per_cpu/cpuN/<file>` of the instance.
    func open(_ file: String, mode: Int32) -> Int32 {
        tracefs_instance_file_open(handle, file, mode)
    }

    /// Removes an instance's directory; true when it went. EBUSY while a file of the instance is
    /// still open somewhere (a child another thread is spawning holds copies of our descriptors
    /// until its exec; a dead recorder's last references go asynchronously): retried for 1 s.
    static func destroyRetryingBusy(_ handle: OpaquePointer) -> Bool {
        for _ in 0..<50 {
            currentErrno = 0
            if tracefs_instance_destroy(handle) == 0 { return true }
            if currentErrno != ErrnoCode.EBUSY { return false }
            sleepNanoseconds(20_000_000)
        }
        return false
    }

    /// Removes the instance directory. Every file of it we opened must be closed first.
    func destroy() {
        guard let handle else { return }
        tracefs_trace_off(handle)
        _ = Self.destroyRetryingBusy(handle)
        tracefs_instance_free(handle)
        self.handle = nil
    }
}
