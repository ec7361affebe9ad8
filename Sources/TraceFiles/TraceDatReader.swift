import CTrace
import SystemCalls
import OndemandTraceCore
import TraceDatFormat

/// Reads trace.dat (versions 6 and 7, compressed or not) through libtracecmd; fields are decoded
/// with the layouts libtraceevent parsed from the file's own format files.
enum TraceDatReader {
    final class Context {
        let decoder: BinaryEventDecoder
        let tep: OpaquePointer
        let body: (TraceItem) throws -> Void
        /// Set for `readBatches`: everything goes here instead of to `body`, the on-demand events
        /// as plain records. Unmanaged (no reference counting per record, which even an unowned
        /// reference cost when bound): `readBatches` owns it for longer than this context lives.
        let batcher: Unmanaged<TraceItemBatcher>?
        @exclusivity(unchecked) var summary: ReadSummary
        var error: (any Error)?
        var comms: [Int32: String?] = [:]

        init(decoder: BinaryEventDecoder, tep: OpaquePointer, summary: ReadSummary, batcher: TraceItemBatcher? = nil,
             body: @escaping (TraceItem) throws -> Void) {
            self.decoder = decoder
            self.tep = tep
            self.summary = summary
            self.batcher = batcher.map { Unmanaged.passUnretained($0) }
            self.body = body
        }

        /// Pids whose task name the batcher was given (below `directPids`; the rest in `namedFar`).
        @exclusivity(unchecked) private var named: [Bool] = []
        private var namedFar: Set<Int32> = []

        /// The task name of `pid` the first time it is asked for, then nil (the common case
        /// inlined: once per on-demand record).
        @inline(__always)
        func nameIfNew(_ pid: Int32) -> NewTaskName {
            if pid >= 0, Int(pid) < named.count, named[Int(pid)] { return .alreadyGiven }
            return firstName(pid)
        }

        private func firstName(_ pid: Int32) -> NewTaskName {
            guard pid >= 0, Int(pid) < Self.directPids else {
                return namedFar.insert(pid).inserted ? .new(comm(pid)) : .alreadyGiven
            }
            let i = Int(pid)
            if i < named.count, named[i] { return .alreadyGiven }
            if i >= named.count { named.append(contentsOf: repeatElement(false, count: i + 1 - named.count)) }
            named[i] = true
            return .new(comm(pid))
        }

        /// Comms of pids below `directPids`, indexed by pid: hashing per record showed up in profiles.
        @exclusivity(unchecked) var commByPid: [CachedTaskName] = []
        static let directPids = 1 << 22

        func comm(_ pid: Int32) -> String? {
            guard pid >= 0, Int(pid) < Self.directPids else { return lookUpComm(pid) }
            let i = Int(pid)
            if i < commByPid.count, case .lookedUp(let known) = commByPid[i] { return known }
            if i >= commByPid.count { commByPid.append(contentsOf: repeatElement(.notLookedUp, count: i + 1 - commByPid.count)) }
            let name = lookUpComm(pid)
            commByPid[i] = .lookedUp(name)
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

        /// The direct path's accounting of one record, as `handle` counts it: true when the record
        /// is selected (and so counted as delivered).
        @inline(__always)
        func select(data: UnsafeRawBufferPointer, cpu: Int32, missedEvents: Int64) -> Bool {
            summary.recordsSeen += 1
            if missedEvents != 0 {
                if missedEvents > 0 { summary.lostEvents[cpu, default: 0] += missedEvents } else { summary.lostEventsUnknownCount += 1 }
            }
            guard data.count > 0, let id = decoder.eventID(of: data) else { return false }
            switch decoder.disposition(of: id) {
            case .skipped: return false
            case .unknown:
                summary.recordsWithoutFormat += 1
                return false
            case .ondemand, .fanotify:
                summary.ondemandEvents += 1
            case .decoded: break
            }
            summary.eventsDelivered += 1
            return true
        }

        func handle(_ record: UnsafeMutablePointer<tep_record>, cpu: Int32) -> Int32 {
            let r = record.pointee
            let data = UnsafeRawBufferPointer(start: r.data, count: r.data == nil ? 0 : Int(r.size))
            return handle(data: data, timestamp: r.ts, cpu: cpu, missedEvents: Int64(r.missed_events),
                          offset: r.offset) ? 0 : 1
        }

        /// Events lost before a record (out of line: the dictionary update's default value was
        /// made and dropped for every record otherwise).
        @inline(never)
        private func noteLost(cpu: Int32, missedEvents: Int64, timestamp: UInt64) throws {
            let count: Int64? = missedEvents > 0 ? missedEvents : nil
            if let count { summary.lostEvents[cpu, default: 0] += count } else { summary.lostEventsUnknownCount += 1 }
            let lost = TraceItem.lost(cpu: cpu, count: count, timestamp: timestamp)
            if let batcher { try batcher._withUnsafeGuaranteedRef { try $0.add(lost) } } else { try body(lost) }
        }

        /// One record from either reader; false after an error (kept in `error`).
        @inline(__always)
        func handle(data: UnsafeRawBufferPointer, timestamp: UInt64, cpu: Int32, missedEvents: Int64, offset: UInt64) -> Bool {
            summary.recordsSeen += 1
            do {
                if missedEvents != 0 { try noteLost(cpu: cpu, missedEvents: missedEvents, timestamp: timestamp) }
                guard data.count > 0, let id = decoder.eventID(of: data) else { return true }
                let disposition = decoder.disposition(of: id)
                guard disposition != .skipped else { return true }
                guard disposition != .unknown else {
                    summary.recordsWithoutFormat += 1
                    return true
                }
                if let batcher, disposition == .ondemand {
                    // Straight into the batch as a plain record: no `EventBody` made and taken apart.
                    let pid = decoder.pid(of: data)
                    let name = nameIfNew(pid)
                    try batcher._withUnsafeGuaranteedRef {
                        try $0.addOndemand(data, eventID: id, decoder: decoder, timestamp: timestamp, cpu: cpu, pid: pid, name: name)
                    }
                    summary.eventsDelivered += 1
                    summary.ondemandEvents += 1
                    return true
                }
                guard decoder.passesMask(data, eventID: id) else { return true }
                if let batcher, decoder.isTie(eventID: id) {
                    // A cookie's ref or a reader's prep_read/read: a plain record too.
                    let tie = try decoder.decodeTie(data, eventID: id, timestamp: timestamp, cpu: cpu)
                    summary.eventsDelivered += 1
                    let name = nameIfNew(tie.pid)
                    try batcher._withUnsafeGuaranteedRef { try $0.add(tie, name: name) }
                    return true
                }
                if let batcher, decoder.isMarker(eventID: id), batcher._withUnsafeGuaranteedRef({ $0.markerRecords }),
                   let text = try decoder.markerText(data, eventID: id), DaemonMarker.looksOurs(text) {
                    // Like one of our daemon's markers: its bytes go on, to be parsed on the other thread.
                    summary.eventsDelivered += 1
                    let pid = decoder.pid(of: data)
                    try batcher._withUnsafeGuaranteedRef { try $0.addMarker(text: text, timestamp: timestamp, cpu: cpu, pid: pid) }
                    return true
                }
                guard let decoded = try decoder.decode(data) else { return true }
                let pid = decoder.pid(of: data)
                summary.eventsDelivered += 1
                if disposition == .fanotify { summary.ondemandEvents += 1 } else if case .ondemand = decoded { summary.ondemandEvents += 1 }
                // Moved, not copied, into the item: the copies showed in profiles.
                let event = TraceEvent(timestamp: timestamp, cpu: cpu, pid: pid, comm: comm(pid), body: consume decoded)
                let item = TraceItem.event(consume event)
                if let batcher { try batcher._withUnsafeGuaranteedRef { try $0.add(item) } } else { try body(item) }
                return true
            } catch let error as DecodeError {
                self.error = TraceFileError(path: summary.path, message: "CPU \(cpu): \(error)", byteOffset: offset)
                return false
            } catch {
                self.error = error
                return false
            }
        }
    }

    static let openFlags = Int32(TRACECMD_FL_LOAD_NO_PLUGINS.rawValue | TRACECMD_FL_LOAD_NO_SYSTEM_PLUGINS.rawValue)

    /// libtraceevent's format-file parser trusts its input and can crash on a corrupt one (found
    /// by scripts/fuzz). So the metadata is first parsed in a child process: if that child dies,
    /// the file is reported as corrupt instead of taking the whole program down.
    static func probeMetadata(path: String) throws(TraceFileError) {
        let status = ChildProcess.runIsolated {
            if let handle = tracecmd_open(path, openFlags) { tracecmd_close(handle) }
        }
        // No child: read in-process, as trace-cmd does.
        if let status, let signal = ChildProcess.killingSignal(status) {
            throw TraceFileError(path: path, message: "its metadata (event formats, kallsyms or cmdlines) is corrupt: libtracecmd crashed on it (signal \(signal))")
        }
    }

    /// The layouts of the file's format files, as `read` decodes with them.
    static func layouts(path: String) throws -> [EventLayout] {
        tracecmd_set_loglevel(TEP_LOG_NONE)
        try probeMetadata(path: path)
        guard let handle = tracecmd_open(path, openFlags) else {
            throw TraceFileError(path: path, message: "libtracecmd cannot open this trace.dat: its header sections are corrupt")
        }
        defer { tracecmd_close(handle) }
        guard let tep = tracecmd_get_tep(handle) else { throw TraceFileError(path: path, message: "libtracecmd gave no event formats") }
        return EventFormats.layouts(of: tep)
    }

    /// Opens the file through libtracecmd (its metadata parsed in a child first) and makes the
    /// decoder from its format files. The caller closes the handle.
    static func openFile(path: String, structure: TraceDatStructure,
                     selection: EventSelection) throws -> (OpaquePointer, OpaquePointer, BinaryEventDecoder, ReadSummary) {
        tracecmd_set_loglevel(TEP_LOG_NONE)
        try probeMetadata(path: path)
        guard let handle = tracecmd_open(path, openFlags) else {
            throw TraceFileError(path: path, message: "libtracecmd cannot open this trace.dat (v\(structure.version), \(structure.compression)): its header sections are corrupt")
        }
        guard let tep = tracecmd_get_tep(handle) else {
            tracecmd_close(handle)
            throw TraceFileError(path: path, message: "libtracecmd gave no event formats")
        }
        let layouts = EventFormats.layouts(of: tep)
        guard !layouts.isEmpty else {
            tracecmd_close(handle)
            throw TraceFileError(path: path, message: "the file holds no event formats")
        }
        let decoder = BinaryEventDecoder(layouts: layouts, selection: selection, bigEndian: tep_is_file_bigendian(tep))
        var summary = ReadSummary(path: path, format: .traceDat,
                                  formatDescription: "trace.dat v\(structure.version)" + (structure.compression == "none" ? "" : ", \(structure.compression)"))
        summary.kernelRelease = structure.kernelRelease
        summary.clock = structure.clock
        summary.cpuStats = structure.cpuStats
        return (handle, tep, decoder, summary)
    }

    /// `file`: the mapped file, for reading uncompressed ring-buffer pages directly (see
    /// `TraceDatPageWalker`); nil, or a file the walker does not agree with libtracecmd on, is read
    /// through libtracecmd.
    /// `batcher`: takes every item instead of `body` (`readBatches`).
    static func read(path: String, structure: TraceDatStructure, file: MappedFile? = nil, selection: EventSelection,
                     batcher: TraceItemBatcher? = nil, _ body: (TraceItem) throws -> Void) throws -> ReadSummary {
        let (handle, tep, decoder, summary) = try openFile(path: path, structure: structure, selection: selection)
        defer { tracecmd_close(handle) }
        return try withoutActuallyEscaping(body) { body in
            let context = Context(decoder: decoder, tep: tep, summary: summary, batcher: batcher, body: body)
            // Every record is decoded into values it owns before the next: its pages can go at once.
            if let file, var walker = directWalker(file: file, structure: structure, handle: handle, tep: tep,
                                                   release: TraceDatPageWalker.copyingRelease) {
                // Records `handle` would skip at once are passed over in the walk, and counted.
                var skipped = 0
                do {
                    try walker.forEach(skipping: decoder.skipTable() ?? ([], []), skipped: &skipped) { r in
                        context.handle(data: r.data, timestamp: r.timestamp, cpu: r.cpu, missedEvents: r.missedEvents,
                                       offset: UInt64(r.offset))
                    }
                } catch let error as TraceDatPageWalker.WalkError {
                    throw TraceFileError(path: path, message: "CPU \(error.cpu): \(error.message)", byteOffset: UInt64(error.offset))
                }
                if let error = context.error { throw error }
                context.summary.recordsSeen += skipped
                return context.summary
            }
            // libtracecmd's iteration trusts every page header: all are checked first.
            var structure = structure
            if let file {
                try structure.checkAllPages(file)
            } else {
                precondition(structure.pageCheck == .all, "a structure checked in part needs its file to check the rest")
            }
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

extension TraceDatReader {
    /// A walker over the file's own pages when it reads them as libtracecmd does: uncompressed,
    /// little-endian, one buffer, and the same first record (time stamp) on every CPU — which also
    /// rules out time stamps libtracecmd would adjust (offsets, guest shifts, TSC conversion).
    static func directWalker(file: MappedFile, structure: TraceDatStructure, handle: OpaquePointer, tep: OpaquePointer,
                             release: (chunk: Int, lag: Int) = (TraceDatPageWalker.releaseChunk, TraceDatPageWalker.releaseLag))
        -> TraceDatPageWalker? {
        guard structure.compression == "none", !structure.bigEndian, !tep_is_file_bigendian(tep),
              Set(structure.cpuData.map(\.cpu)).count == structure.cpuData.count else { return nil }
        let commitSize = Int(tep_get_header_page_size(tep))
        guard commitSize == 4 || commitSize == 8, tep_get_header_timestamp_size(tep) == 8 else { return nil }
        let walker = TraceDatPageWalker(file: file.bytes,
                                      cpuData: structure.cpuData.map { ($0.cpu, Int($0.offset), Int($0.size)) },
                                      pageSize: structure.pageSize, commitSize: commitSize, release: release)
        guard let ours = try? walker.firstRecords() else { return nil }
        var theirs: [Int32: UInt64] = [:]
        for data in structure.cpuData {
            guard let record = tracecmd_read_cpu_first(handle, Int32(data.cpu)) else { continue }
            theirs[Int32(data.cpu)] = record.pointee.ts
            tracecmd_free_record(record)
        }
        return ours == theirs ? walker : nil
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
                                       printFormat: e.print_fmt.format.map { "\"" + String(cString: $0) + "\"" },
                                       symbols: symbols(e.print_fmt.args)))
        }
        return layouts
    }

    /// `__print_symbolic` tables as libtraceevent parsed them from the print format's arguments.
    static func symbols(_ first: UnsafeMutablePointer<tep_print_arg>?) -> [String: [UInt64: String]] {
        var tables: [String: [UInt64: String]] = [:]
        var next = first
        while let arg = next {
            if arg.pointee.type == TEP_PRINT_SYMBOL, let field = arg.pointee.symbol.field,
               field.pointee.type == TEP_PRINT_FIELD, let name = field.pointee.field.name {
                var table: [UInt64: String] = [:]
                var sym = arg.pointee.symbol.symbols
                while let s = sym {
                    if let v = s.pointee.value, let str = s.pointee.str {
                        let text = String(cString: v)
                        let value = text.hasPrefix("0x") ? UInt64(text.dropFirst(2), radix: 16) : UInt64(text)
                        if let value { table[value] = String(cString: str) }
                    }
                    sym = s.pointee.next
                }
                if !table.isEmpty { tables[String(cString: name)] = table }
            }
            next = arg.pointee.next
        }
        return tables
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

/// A trace.dat read straight from its mapped pages, its selected records handed over undecoded
/// (`dump`: the line writer formats them from their bytes). `open` gives nil for input the page
/// walker does not read (text, compressed, big-endian, ...): `TraceInput.read` reads that.
final class DirectTraceDat {
    struct Record {
        var timestamp: UInt64
        var cpu: Int32
        var pid: Int32
        var comm: String?
        /// The payload, in the mapped file (valid while this reader lives).
        var data: UnsafeRawBufferPointer
        /// Byte offset of the payload in the file.
        var offset: Int
    }

    let decoder: BinaryEventDecoder
    private let file: MappedFile
    private let handle: OpaquePointer
    private let context: TraceDatReader.Context
    private var walker: TraceDatPageWalker

    private init(file: MappedFile, handle: OpaquePointer, context: TraceDatReader.Context, walker: TraceDatPageWalker) {
        (self.file, self.handle, self.context, self.walker) = (file, handle, context, walker)
        decoder = context.decoder
    }

    deinit { tracecmd_close(handle) }

    static func open(path: String, selection: EventSelection) throws -> DirectTraceDat? {
        guard path != "-" else { return nil }
        let file = try MappedFile(path: path)
        guard file.bytes.count > 0, TraceDatStructure.looksLikeTraceDat(Array(file.bytes.prefix(4096))) else { return nil }
        // The walker checks each page as it reads it (a file it cannot read goes back to the caller).
        let structure = try TraceDatStructure.parse(file.bytes, path: path, pages: .leading)
        file.dropResidentPages()
        let (handle, tep, decoder, summary) = try TraceDatReader.openFile(path: path, structure: structure, selection: selection)
        guard let walker = TraceDatReader.directWalker(file: file, structure: structure, handle: handle, tep: tep) else {
            tracecmd_close(handle)
            return nil
        }
        let context = TraceDatReader.Context(decoder: decoder, tep: tep, summary: summary, body: { _ in })
        return DirectTraceDat(file: file, handle: handle, context: context, walker: walker)
    }

    /// Walks every record in time order, counting them as `TraceDatReader.read` does, and hands
    /// the selected ones to `body`. Once only.
    func walk(_ body: (Record) throws -> Void) throws -> ReadSummary {
        let context = self.context
        do {
            try walker.forEach { r in
                guard context.select(data: r.data, cpu: r.cpu, missedEvents: r.missedEvents) else { return true }
                let pid = context.decoder.pid(of: r.data)
                try body(Record(timestamp: r.timestamp, cpu: r.cpu, pid: pid, comm: context.comm(pid), data: r.data, offset: r.offset))
                return true
            }
        } catch let error as TraceDatPageWalker.WalkError {
            throw TraceFileError(path: context.summary.path, message: "CPU \(error.cpu): \(error.message)", byteOffset: UInt64(error.offset))
        }
        return context.summary
    }
}
