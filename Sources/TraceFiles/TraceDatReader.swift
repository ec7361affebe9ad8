#if canImport(Glibc)
import Glibc
#endif
import CTrace
import OndemandTraceCore

/// Reads trace.dat (versions 6 and 7, compressed or not) through libtracecmd; fields are decoded
/// with the layouts libtraceevent parsed from the file's own format files.
enum TraceDatReader {
    final class Context {
        let decoder: BinaryEventDecoder
        let tep: OpaquePointer
        let body: (TraceItem) throws -> Void
        var summary: ReadSummary
        var error: (any Error)?
        var comms: [Int32: String?] = [:]

        init(decoder: BinaryEventDecoder, tep: OpaquePointer, summary: ReadSummary, body: @escaping (TraceItem) throws -> Void) {
            self.decoder = decoder
            self.tep = tep
            self.summary = summary
            self.body = body
        }

        /// Comms of pids below `directPids`, indexed by pid: hashing per record showed up in profiles.
        var commByPid: [String??] = []
        static let directPids = 1 << 22

        func comm(_ pid: Int32) -> String? {
            guard pid >= 0, Int(pid) < Self.directPids else { return lookUpComm(pid) }
            let i = Int(pid)
            if i < commByPid.count, let known = commByPid[i] { return known }
            if i >= commByPid.count { commByPid.append(contentsOf: repeatElement(nil, count: i + 1 - commByPid.count)) }
            let name = lookUpComm(pid)
            commByPid[i] = .some(name)
            return name
        }

        func lookUpComm(_ pid: Int32) -> String? {
            if let known = comms[pid] { return known }
            var name: String?
            if let raw = tep_data_comm_from_pid(tep, pid) {
                let s = String(cString: raw)
                name = s == "<...>" ? nil : s
            }
            if pid == 0 { name = name ?? "<idle>" }
            comms[pid] = name
            return name
        }

        func handle(_ record: UnsafeMutablePointer<tep_record>, cpu: Int32) -> Int32 {
            summary.recordsSeen += 1
            let r = record.pointee
            do {
                if r.missed_events != 0 {
                    let count: Int64? = r.missed_events > 0 ? r.missed_events : nil
                    if let count { summary.lostEvents[cpu, default: 0] += count } else { summary.lostEventsUnknownCount += 1 }
                    try body(.lost(cpu: cpu, count: count, timestamp: r.ts))
                }
                guard let base = r.data, r.size > 0 else { return 0 }
                let data = UnsafeRawBufferPointer(start: base, count: Int(r.size))
                guard let id = decoder.eventID(of: data), decoder.isSelected(eventID: id) else {
                    if let id = decoder.eventID(of: data), !decoder.isKnown(eventID: id) {
                        summary.recordsWithoutFormat += 1
                    }
                    return 0
                }
                guard let decoded = try decoder.decode(data) else { return 0 }
                let pid = decoder.pid(of: data)
                summary.eventsDelivered += 1
                if case .ondemand = decoded { summary.ondemandEvents += 1 }
                try body(.event(TraceEvent(timestamp: r.ts, cpu: cpu, pid: pid, comm: comm(pid), body: decoded)))
                return 0
            } catch let error as DecodeError {
                self.error = TraceFileError(path: summary.path, message: "CPU \(cpu): \(error)", byteOffset: r.offset)
                return 1
            } catch {
                self.error = error
                return 1
            }
        }
    }

    static let openFlags = Int32(TRACECMD_FL_LOAD_NO_PLUGINS.rawValue | TRACECMD_FL_LOAD_NO_SYSTEM_PLUGINS.rawValue)

    /// libtraceevent's format-file parser trusts its input and can crash on a corrupt one (found
    /// by scripts/fuzz). So the metadata is first parsed in a child process: if that child dies,
    /// the file is reported as corrupt instead of taking the whole program down.
    static func probeMetadata(path: String) throws(TraceFileError) {
        let child = fork()
        if child == 0 {
            // Die quietly: no Swift crash report, no library chatter.
            for sig in [SIGSEGV, SIGBUS, SIGABRT, SIGILL, SIGFPE] { signal(sig, SIG_DFL) }
            let null = open("/dev/null", O_WRONLY)
            if null >= 0 { dup2(null, 1); dup2(null, 2) }
            if let handle = tracecmd_open(path, openFlags) { tracecmd_close(handle) }
            _exit(0)
        }
        guard child > 0 else { return }  // no fork: read in-process, as trace-cmd does
        var status: Int32 = 0
        while waitpid(child, &status, 0) < 0 && errno == EINTR {}
        let signal = status & 0x7f
        if signal != 0 {
            throw TraceFileError(path: path, message: "its metadata (event formats, kallsyms or cmdlines) is corrupt: libtracecmd crashed on it (signal \(signal))")
        }
    }

    static func read(path: String, structure: TraceDatStructure, selection: EventSelection,
                     _ body: (TraceItem) throws -> Void) throws -> ReadSummary {
        tracecmd_set_loglevel(TEP_LOG_NONE)
        try probeMetadata(path: path)
        guard let handle = tracecmd_open(path, openFlags) else {
            throw TraceFileError(path: path, message: "libtracecmd cannot open this trace.dat (v\(structure.version), \(structure.compression)): its header sections are corrupt")
        }
        defer { tracecmd_close(handle) }
        guard let tep = tracecmd_get_tep(handle) else {
            throw TraceFileError(path: path, message: "libtracecmd gave no event formats")
        }
        let layouts = EventFormats.layouts(of: tep)
        guard !layouts.isEmpty else { throw TraceFileError(path: path, message: "the file holds no event formats") }
        let decoder = BinaryEventDecoder(layouts: layouts, selection: selection, bigEndian: tep_is_file_bigendian(tep))
        var summary = ReadSummary(path: path, format: .traceDat,
                                  formatDescription: "trace.dat v\(structure.version)" + (structure.compression == "none" ? "" : ", \(structure.compression)"))
        summary.kernelRelease = structure.kernelRelease
        summary.clock = structure.clock
        summary.cpuStats = structure.cpuStats
        return try withoutActuallyEscaping(body) { body in
            let context = Context(decoder: decoder, tep: tep, summary: summary, body: body)
            let unmanaged = Unmanaged.passRetained(context)
            defer { unmanaged.release() }
            let rc = tracecmd_iterate_events(handle, nil, 0, { _, record, cpu, data in
                guard let record, let data else { return 1 }
                return Unmanaged<Context>.fromOpaque(data).takeUnretainedValue().handle(record, cpu: cpu)
            }, unmanaged.toOpaque())
            if let error = context.error { throw error }
            if rc < 0 { throw TraceFileError(path: path, message: "libtracecmd failed while reading the event data") }
            return context.summary
        }
    }
}

/// Event layouts from libtraceevent's parse of the file's format files.
enum EventFormats {
    static func layouts(of tep: OpaquePointer) -> [EventLayout] {
        let count = tep_get_events_count(tep)
        var layouts: [EventLayout] = []
        layouts.reserveCapacity(Int(count))
        for index in 0..<count {
            guard let event = tep_get_event(tep, index) else { continue }
            let e = event.pointee
            var fields: [FieldLayout] = []
            appendFields(e.format.common_fields, to: &fields)
            appendFields(e.format.fields, to: &fields)
            layouts.append(EventLayout(system: e.system.map { String(cString: $0) } ?? "",
                                       name: e.name.map { String(cString: $0) } ?? "",
                                       id: Int(e.id), fields: fields,
                                       printFormat: e.print_fmt.format.map { "\"" + String(cString: $0) + "\"" }))
        }
        return layouts
    }

    static func appendFields(_ first: UnsafeMutablePointer<tep_format_field>?, to fields: inout [FieldLayout]) {
        var next = first
        while let field = next {
            let f = field.pointee
            let flags = UInt(f.flags)
            fields.append(FieldLayout(name: f.name.map { String(cString: $0) } ?? "",
                                      type: f.type.map { String(cString: $0) } ?? "",
                                      offset: Int(f.offset), size: Int(f.size),
                                      isSigned: flags & UInt(TEP_FIELD_IS_SIGNED.rawValue) != 0,
                                      isArray: flags & UInt(TEP_FIELD_IS_ARRAY.rawValue) != 0,
                                      isDynamic: flags & UInt(TEP_FIELD_IS_DYNAMIC.rawValue) != 0,
                                      isRelative: flags & UInt(TEP_FIELD_IS_RELATIVE.rawValue) != 0))
            next = f.next
        }
    }
}
