/// Writes `dump`'s lines — text, JSON or CSV — straight into a `ByteBuffer`: no `String` per line,
/// numbers by `ByteBuffer`'s digit routines, event and field names encoded once per event (the seven
/// on-demand kinds up front, other events the first time they are seen). The text and JSON are
/// byte for byte what `EventFormatting.line` and `.json` return (they call this writer).
///
///     let writer = EventLineWriter(format: .json)
///     let out = ByteBuffer()
///     writer.append(event, to: out)     // one line, with its newline
public final class EventLineWriter {
    public enum Format: String, Sendable, CaseIterable { case text, json, csv }

    public let format: Format
    /// CSV: the field columns after the fixed ones.
    public let csvColumns: [String]
    private var csvColumnIndex: [String: Int] = [:]

    /// Every encoded name, back to back; the tables below hold ranges of it. An event's header is
    /// (text) its name padded to its column, (JSON) `{"event":"NAME","ts_ns":`, (CSV) `NAME,`; a
    /// field's prefix is what precedes its value (text ` name=`, JSON `,"name":`, CSV nothing).
    private let names = ByteBuffer(capacity: 4096)

    /// An event's encoded names: `fieldCount` fields from `firstField` in the field tables.
    private struct Encoded {
        var header: Range<Int>
        var firstField: Int
        var fieldCount: Int
    }

    // Field tables, one entry per field of an encoded event.
    @exclusivity(unchecked) private var fieldNames: [String] = []
    @exclusivity(unchecked) private var fieldPrefixes: [Range<Int>] = []
    /// CSV column of each field, -1 when none.
    @exclusivity(unchecked) private var fieldColumns: [Int] = []

    /// The seven on-demand kinds, in `Kind.allCases` order; then the marker.
    @exclusivity(unchecked) private var fixed: [Encoded] = []
    private static let markerIndex = OndemandEvent.Kind.allCases.count
    /// Other events by name, encoded when first seen; the last one used is tried first.
    @exclusivity(unchecked) private var genericNames: [String] = []
    @exclusivity(unchecked) private var generic: [Encoded] = []
    @exclusivity(unchecked) private var lastGeneric = 0

    /// CSV: where each field column's value of the current row lies in `cells` (empty: absent).
    @exclusivity(unchecked) private var cellRanges: [Range<Int>] = []
    private let cells = ByteBuffer(capacity: 1 << 10)
    /// CSV: the current row's fields that have no column, as `name=value` separated by spaces
    /// (text input's events without a format keep their printed labels as names).
    private let otherFields = ByteBuffer(capacity: 256)

    /// Decodes the records given to `append(record:…)`.
    private let decoder: BinaryEventDecoder

    /// `csvColumns`: the field columns of a CSV (`csvColumns(layouts:selection:)`); ignored otherwise.
    /// `decoder`: how the records given to `append(record:…)` are decoded.
    public init(format: Format, csvColumns: [String] = [], decoder: BinaryEventDecoder = BinaryEventDecoder(layouts: [], selection: [])) {
        self.format = format
        self.csvColumns = csvColumns
        self.decoder = decoder
        for (i, name) in csvColumns.enumerated() where csvColumnIndex[name] == nil { csvColumnIndex[name] = i }
        cellRanges = Array(repeating: 0..<0, count: csvColumns.count)
        for kind in OndemandEvent.Kind.allCases {
            fixed.append(encode(name: kind.eventName, textName: kind.rawValue, fields: kind.fieldNames, textFirstSpace: false))
        }
        fixed.append(encode(name: MarkerEvent.eventName, textName: "marker", fields: ["buf"], textFirstSpace: false))
    }

    /// The field columns of a CSV of the events `selection` takes from files with these layouts:
    /// each field name once, in the order the layouts (by id) first name it.
    public static func csvColumns(layouts: [EventLayout], selection: EventSelection) -> [String] {
        var columns: [String] = []
        var seen: Set<String> = []
        func add(_ names: [String]) {
            for name in names where seen.insert(name).inserted { columns.append(name) }
        }
        for layout in layouts.sorted(by: { $0.id < $1.id }) {
            switch BinaryEventDecoder.entry(for: layout, selection: selection) {
            case .ondemand(let kind, _, _): add(kind.fieldNames)
            case .generic(let plan): add(plan.fields.map(\.name))
            case .slim(_, let fields, _): add(fields.map(\.name))
            case .marker: add(["buf"])
            case .skip, .unknown: break
            }
        }
        return columns
    }

    /// The CSV header line (with its newline); nothing for the other formats.
    public func appendHeader(to out: ByteBuffer) {
        guard format == .csv else { return }
        out.append("event,ts_ns,ts,cpu,pid,comm")
        for column in csvColumns {
            out.append(0x2c)
            Self.appendCSV(column, to: out)
        }
        out.append(",other_fields\n")
    }

    private func encode(name: String, textName: String, fields: [String], textFirstSpace: Bool) -> Encoded {
        let start = names.count
        switch format {
        case .text:
            names.append(textName)
            let written = names.count - start
            if written < 11 { names.append(0x20, repeating: 11 - written) }
        case .json:
            names.append(#"{"event":""#)
            names.appendJSONEscaped(name)
            names.append(#"","ts_ns":"#)
        case .csv:
            Self.appendCSV(name, to: names)
            names.append(0x2c)
        }
        let encoded = Encoded(header: start..<names.count, firstField: fieldNames.count, fieldCount: fields.count)
        for (i, field) in fields.enumerated() {
            fieldNames.append(field)
            fieldPrefixes.append(encodePrefix(field, index: i, textFirstSpace: textFirstSpace))
            fieldColumns.append(csvColumnIndex[field] ?? -1)
        }
        return encoded
    }

    private func encodePrefix(_ field: String, index: Int, textFirstSpace: Bool) -> Range<Int> {
        let start = names.count
        appendFieldPrefix(field, index: index, textFirstSpace: textFirstSpace, to: names)
        return start..<names.count
    }

    /// What stands before field `index`'s value: ` name=` in text, `,"name":` in JSON, nothing in CSV.
    @inline(__always)
    private func appendFieldPrefix(_ field: String, index: Int, textFirstSpace: Bool, to out: ByteBuffer) {
        switch format {
        case .text:
            if index > 0 || textFirstSpace { out.append(0x20) }
            out.append(field)
            out.append(0x3d)
        case .json:
            if index > 0 { out.append(0x2c) }
            out.append(0x22)
            out.appendJSONEscaped(field)
            out.append(0x22)
            out.append(0x3a)
        case .csv:
            break
        }
    }

    /// Appends `event`'s line and its newline.
    public func append(_ event: TraceEvent, to out: ByteBuffer) {
        switch format {
        case .text: appendText(event, to: out)
        case .json: appendJSON(event, to: out)
        case .csv: appendCSVRow(event, to: out)
        }
        out.append(0x0a)
    }

    /// The encoded names of an event.
    @inline(__always)
    private func encoded(_ body: EventBody) -> Encoded {
        switch body {
        case .ondemand(let e): return fixed[Self.kindIndex(e.kind)]
        case .generic(let e): return generic[genericIndex(e)]
        case .marker: return fixed[Self.markerIndex]
        }
    }

    /// The index of a generic event's encoded names, made the first time its name is seen. Names
    /// come from the layouts, so the same string arrives each time and the comparison is quick.
    @inline(__always)
    private func genericIndex(_ e: GenericEvent) -> Int {
        if lastGeneric < genericNames.count, genericNames[lastGeneric] == e.name { return lastGeneric }
        if let i = genericNames.firstIndex(of: e.name) {
            lastGeneric = i
            return i
        }
        generic.append(encode(name: e.name, textName: e.name, fields: e.fields.map(\.name), textFirstSpace: true))
        genericNames.append(e.name)
        lastGeneric = generic.count - 1
        return lastGeneric
    }

    /// Appends the prefix of field `i` of an event encoded as `encoded`: the encoded one when the
    /// event's layout named field `i` so (always, for events from one file), else encoded now.
    @inline(__always)
    private func appendPrefix(_ encoded: Encoded, _ i: Int, _ name: String, textFirstSpace: Bool, to out: ByteBuffer) {
        if i < encoded.fieldCount, fieldNames[encoded.firstField + i] == name {
            out.append(fieldPrefixes[encoded.firstField + i], of: names)
            return
        }
        appendFieldPrefix(name, index: i, textFirstSpace: textFirstSpace, to: out)
    }

    // MARK: Text

    /// `    4.409061 [001] mount-119         read        obj=1 msg_id=0 object_id=0 start=0 len=4096`
    private func appendText(_ event: TraceEvent, to out: ByteBuffer) {
        appendTextHead(event.timestamp, event.cpu, event.pid, event.comm, to: out)
        let encoded = encoded(event.body)
        switch event.body {
        case .ondemand(let e):
            appendOndemandText(encoded, Self.rawValues(e), to: out)
        case .generic(let e):
            out.append(encoded.header, of: names)
            for i in e.fields.indices {
                appendPrefix(encoded, i, e.fields[i].name, textFirstSpace: true, to: out)
                Self.appendText(e.fields[i].value, to: out)
            }
        case .marker(let m):
            out.append("marker     ")
            out.append(m.text)
        }
    }

    /// Time stamp, CPU and task, up to the event name's column.
    @inline(__always)
    private func appendTextHead(_ timestamp: UInt64, _ cpu: Int32, _ pid: Int32, _ comm: String?, to out: ByteBuffer) {
        appendWholeSeconds(timestamp, to: out)
        out.appendDecimal((timestamp % 1_000_000_000) / 1_000, zeroPaddedTo: 6)
        out.append(0x20)
        out.append(0x5b)
        if cpu >= 0 && cpu < 100 { out.append(0x30, repeating: cpu < 10 ? 2 : 1) }
        out.appendDecimal(Int64(cpu))
        out.append(0x5d)
        out.append(0x20)
        appendTask(pid, comm, to: out)
    }

    // MARK: What repeats from line to line

    /// The whole seconds of the last time stamp and their bytes up to the decimal point (text:
    /// with the padding to the time column): time stamps rise, so they rarely change.
    @exclusivity(unchecked) private var lastWholeSeconds = UInt64.max
    private let wholeSeconds = ByteBuffer(capacity: 64)

    @inline(__always)
    private func appendWholeSeconds(_ timestamp: UInt64, to out: ByteBuffer) {
        let whole = timestamp / 1_000_000_000
        if whole != lastWholeSeconds {
            wholeSeconds.removeAll()
            if format == .text {
                let width = ByteBuffer.secondsWidth(timestamp, decimals: 6)
                if width < 14 { wholeSeconds.append(0x20, repeating: 14 - width) }
            }
            wholeSeconds.appendDecimal(whole)
            wholeSeconds.append(0x2e)
            lastWholeSeconds = whole
        }
        out.append(0..<wholeSeconds.count, of: wholeSeconds)
    }

    /// The task part of recent lines by pid (slot: pid mod 256): text `comm-pid` padded and the
    /// space after it; JSON `,"pid":N,"comm":"…","fields":{`; CSV `pid,comm`.
    private struct TaskEntry {
        var pid: Int32
        var comm: String?
        var bytes: Range<Int>
    }
    @exclusivity(unchecked) private var taskCache = [TaskEntry?](repeating: nil, count: 256)
    private let tasks = ByteBuffer(capacity: 1 << 14)

    @inline(__always)
    private func appendTask(_ pid: Int32, _ comm: String?, to out: ByteBuffer) {
        let slot = Int(UInt32(bitPattern: pid) & 255)
        if let entry = taskCache[slot], entry.pid == pid, entry.comm == comm {
            out.append(entry.bytes, of: tasks)
            return
        }
        if tasks.count > 1 << 20 {
            tasks.removeAll()
            for i in taskCache.indices { taskCache[i] = nil }
        }
        let start = tasks.count
        switch format {
        case .text:
            if let comm { tasks.append(comm) } else { tasks.append("<...>") }
            tasks.append(0x2d)
            tasks.appendDecimal(Int64(pid))
            let written = tasks.count - start
            if written < 20 { tasks.append(0x20, repeating: min(20 - written, 31)) }
            tasks.append(0x20)
        case .json:
            tasks.append(#","pid":"#)
            tasks.appendDecimal(Int64(pid))
            tasks.append(#","comm":"#)
            if let comm { Self.appendJSONString(comm, to: tasks) } else { tasks.append("null") }
            tasks.append(#","fields":{"#)
        case .csv:
            tasks.appendDecimal(Int64(pid))
            tasks.append(0x2c)
            if let comm { Self.appendCSV(comm, to: tasks) }
        }
        taskCache[slot] = TaskEntry(pid: pid, comm: comm, bytes: start..<tasks.count)
        out.append(start..<tasks.count, of: tasks)
    }

    @inline(__always)
    private func appendOndemandText(_ encoded: Encoded, _ values: RawValues, to out: ByteBuffer) {
        out.append(encoded.header, of: names)
        for i in 0..<values.count {
            out.append(fieldPrefixes[encoded.firstField + i], of: names)
            if let value = values.values[i] { Self.appendRaw(value, signed: values.isSigned(i), to: out) } else { out.append(0x2d) }
        }
    }


    private static func appendText(_ value: FieldValue, to out: ByteBuffer) {
        switch value {
        case .unsigned(let n): out.appendDecimal(n)
        case .signed(let n): out.appendDecimal(n)
        case .string(let s): out.append(s)
        case .bytes(let b):
            for (i, x) in b.enumerated() {
                if i > 0 { out.append(0x20) }
                out.appendHex(x)
            }
        }
    }

    // MARK: JSON

    /// `{"event":"cachefiles_ondemand_read","ts_ns":4409061000,"ts":4.409061,"cpu":1,"pid":119,"comm":"mount","fields":{"obj":1,...}}`
    private func appendJSON(_ event: TraceEvent, to out: ByteBuffer) {
        let encoded = encoded(event.body)
        appendJSONHead(encoded, event.timestamp, event.cpu, event.pid, event.comm, to: out)
        switch event.body {
        case .ondemand(let e):
            appendOndemandJSON(encoded, Self.rawValues(e), to: out)
        case .generic(let e):
            for i in e.fields.indices {
                appendPrefix(encoded, i, e.fields[i].name, textFirstSpace: false, to: out)
                Self.appendJSON(e.fields[i].value, to: out)
            }
        case .marker(let m):
            out.append(fieldPrefixes[encoded.firstField], of: names)
            Self.appendJSONString(m.text, to: out)
        }
        out.append(0x7d)
        out.append(0x7d)
    }

    /// Up to the opening brace of `fields`.
    @inline(__always)
    private func appendJSONHead(_ encoded: Encoded, _ timestamp: UInt64, _ cpu: Int32, _ pid: Int32, _ comm: String?,
                                to out: ByteBuffer) {
        out.append(encoded.header, of: names)
        out.appendDecimal(timestamp)
        out.append(#","ts":"#)
        appendWholeSeconds(timestamp, to: out)
        out.appendDecimal(timestamp % 1_000_000_000, zeroPaddedTo: 9)
        out.append(#","cpu":"#)
        out.appendDecimal(Int64(cpu))
        appendTask(pid, comm, to: out)
    }

    @inline(__always)
    private func appendOndemandJSON(_ encoded: Encoded, _ values: RawValues, to out: ByteBuffer) {
        for i in 0..<values.count {
            out.append(fieldPrefixes[encoded.firstField + i], of: names)
            if let value = values.values[i] { Self.appendRaw(value, signed: values.isSigned(i), to: out) } else { out.append("null") }
        }
    }

    private static func appendJSON(_ value: FieldValue, to out: ByteBuffer) {
        switch value {
        case .unsigned(let n): out.appendDecimal(n)
        case .signed(let n): out.appendDecimal(n)
        case .string(let s): appendJSONString(s, to: out)
        case .bytes(let b):
            out.append(0x5b)
            for (i, x) in b.enumerated() {
                if i > 0 { out.append(0x2c) }
                out.appendDecimal(UInt64(x))
            }
            out.append(0x5d)
        }
    }

    /// A JSON string: quotes, backslashes and control characters escaped as `JSONWriter.escape` does.
    @inline(__always)
    private static func appendJSONString(_ s: String, to out: ByteBuffer) {
        out.append(0x22)
        out.appendJSONEscaped(s)
        out.append(0x22)
    }

    // MARK: CSV

    /// `event,ts_ns,ts,cpu,pid,comm,<columns>,other_fields`: numbers as in JSON, absent fields
    /// empty, bytes as hex separated by spaces (as the text), quoted per RFC 4180 when needed;
    /// fields without a column go to `other_fields` as `name=value` separated by spaces.
    private func appendCSVRow(_ event: TraceEvent, to out: ByteBuffer) {
        let encoded = encoded(event.body)
        appendCSVHead(encoded, event.timestamp, event.cpu, event.pid, event.comm, to: out)
        switch event.body {
        case .ondemand(let e):
            setOndemandCells(encoded, Self.rawValues(e))
        case .generic(let e):
            for (i, field) in e.fields.enumerated() {
                let column = i < encoded.fieldCount && fieldNames[encoded.firstField + i] == field.name
                    ? fieldColumns[encoded.firstField + i] : (csvColumnIndex[field.name] ?? -1)
                setCell(column, field.value, name: field.name)
            }
        case .marker(let m):
            setCell(fieldColumns[encoded.firstField], .string(m.text), name: "buf")
        }
        appendCells(to: out)
    }

    /// Up to the field columns; clears the cells.
    @inline(__always)
    private func appendCSVHead(_ encoded: Encoded, _ timestamp: UInt64, _ cpu: Int32, _ pid: Int32, _ comm: String?,
                               to out: ByteBuffer) {
        out.append(encoded.header, of: names)
        out.appendDecimal(timestamp)
        out.append(0x2c)
        appendWholeSeconds(timestamp, to: out)
        out.appendDecimal(timestamp % 1_000_000_000, zeroPaddedTo: 9)
        out.append(0x2c)
        out.appendDecimal(Int64(cpu))
        out.append(0x2c)
        appendTask(pid, comm, to: out)
        for i in cellRanges.indices { cellRanges[i] = 0..<0 }
        cells.removeAll()
        otherFields.removeAll()
    }

    @inline(__always)
    private func setOndemandCells(_ encoded: Encoded, _ values: RawValues) {
        for i in 0..<values.count {
            let column = fieldColumns[encoded.firstField + i]
            guard let value = values.values[i] else { continue }
            guard column >= 0 else {
                startOtherField(fieldNames[encoded.firstField + i])
                Self.appendRaw(value, signed: values.isSigned(i), to: otherFields)
                continue
            }
            let start = cells.count
            Self.appendRaw(value, signed: values.isSigned(i), to: cells)
            cellRanges[column] = start..<cells.count
        }
    }

    @inline(__always)
    private func setCell(_ column: Int, _ value: FieldValue, name: String) {
        guard column >= 0 else {
            startOtherField(name)
            Self.appendText(value, to: otherFields)
            return
        }
        let start = cells.count
        if case .string(let s) = value { Self.appendCSV(s, to: cells) } else { Self.appendText(value, to: cells) }
        cellRanges[column] = start..<cells.count
    }

    private func startOtherField(_ name: String) {
        if otherFields.count > 0 { otherFields.append(0x20) }
        otherFields.append(name)
        otherFields.append(0x3d)
    }

    @inline(__always)
    private func appendCells(to out: ByteBuffer) {
        for range in cellRanges {
            out.append(0x2c)
            out.append(range, of: cells)
        }
        out.append(0x2c)
        if otherFields.count > 0 { Self.appendCSV(otherFields.bytes, to: out) }
    }

    /// A CSV field: as is, or in double quotes (inner quotes doubled) when it holds a comma, a
    /// quote, CR or LF, or starts or ends with a space (RFC 4180).
    static func appendCSV(_ s: String, to out: ByteBuffer) {
        var s = s
        s.withUTF8 { appendCSV(UnsafeRawBufferPointer($0), to: out) }
    }

    static func appendCSV(_ utf8: UnsafeRawBufferPointer, to out: ByteBuffer) {
        let needsQuotes = utf8.contains { $0 == 0x2c || $0 == 0x22 || $0 == 0x0a || $0 == 0x0d }
            || utf8.first == 0x20 || utf8.last == 0x20
        guard needsQuotes else { out.append(utf8); return }
        out.append(0x22)
        for b in utf8 {
            if b == 0x22 { out.append(0x22) }
            out.append(b)
        }
        out.append(0x22)
    }

    // MARK: Records straight from their bytes

    /// Appends the line of one ring-buffer record (the bytes after its header), decoded with the
    /// writer's decoder as `decoder.decode` would and written as `append` writes that event, byte
    /// for byte — without building the event: no array, no string per field.
    public func append(record data: UnsafeRawBufferPointer, timestamp: UInt64, cpu: Int32, pid: Int32, comm: String?,
                       to out: ByteBuffer) throws(DecodeError) {
        guard let id = decoder.eventID(of: data) else {
            throw .shortRecord(event: "record", size: data.count, needed: 2)
        }
        guard id < decoder.entries.count else { return }
        switch decoder.entries[id] {
        case .skip, .unknown:
            return
        case .slim:
            // The report's selection only (`.objectTies` without `.cachefilesOther`): as decoded.
            guard let body = try decoder.decode(data) else { return }
            append(TraceEvent(timestamp: timestamp, cpu: cpu, pid: pid, comm: comm, body: body), to: out)
        case let .ondemand(kind, slots, needed):
            guard data.count >= needed else { throw .shortRecord(event: kind.eventName, size: data.count, needed: needed) }
            var raw = RawFieldValues()
            raw.v0 = decoder.raw(data, slots.s0)
            raw.v1 = decoder.raw(data, slots.s1)
            raw.v2 = decoder.raw(data, slots.s2)
            raw.v3 = decoder.raw(data, slots.s3)
            raw.v4 = decoder.raw(data, slots.s4)
            let values = Self.rawValues(kind, raw)
            let encoded = fixed[Self.kindIndex(kind)]
            switch format {
            case .text:
                appendTextHead(timestamp, cpu, pid, comm, to: out)
                appendOndemandText(encoded, values, to: out)
            case .json:
                appendJSONHead(encoded, timestamp, cpu, pid, comm, to: out)
                appendOndemandJSON(encoded, values, to: out)
                out.append(0x7d)
                out.append(0x7d)
            case .csv:
                appendCSVHead(encoded, timestamp, cpu, pid, comm, to: out)
                setOndemandCells(encoded, values)
                appendCells(to: out)
            }
        case let .generic(plan):
            let encoded = generic[genericIndex(id: id, plan)]
            switch format {
            case .text:
                appendTextHead(timestamp, cpu, pid, comm, to: out)
                out.append(encoded.header, of: names)
            case .json:
                appendJSONHead(encoded, timestamp, cpu, pid, comm, to: out)
            case .csv:
                appendCSVHead(encoded, timestamp, cpu, pid, comm, to: out)
            }
            for i in 0..<plan.numeric.count {
                let value: FieldValue
                if let slot = plan.numeric[i] {
                    guard data.count >= slot.end else {
                        throw .shortRecord(event: plan.name, size: data.count, needed: slot.end)
                    }
                    if slot.isSigned {
                        value = .signed(decoder.readSigned(data, slot))
                    } else {
                        let n = decoder.readUnsigned(data, slot)
                        if plan.hasSymbols, let name = plan.symbol(field: i, value: n) { value = .string(name) } else { value = .unsigned(n) }
                    }
                } else {
                    guard var v = try decoder.value(of: plan.fields[i], in: data, event: plan.name) else { continue }
                    if plan.hasSymbols, case .unsigned(let n) = v, let name = plan.symbol(field: i, value: n) { v = .string(name) }
                    value = v
                }
                switch format {
                case .text:
                    out.append(fieldPrefixes[encoded.firstField + i], of: names)
                    Self.appendText(value, to: out)
                case .json:
                    out.append(fieldPrefixes[encoded.firstField + i], of: names)
                    Self.appendJSON(value, to: out)
                case .csv:
                    setCell(fieldColumns[encoded.firstField + i], value, name: fieldNames[encoded.firstField + i])
                }
            }
            switch format {
            case .text: break
            case .json: out.append(0x7d); out.append(0x7d)
            case .csv: appendCells(to: out)
            }
        case .marker:
            // Rare: decoded as an event, then written as one.
            guard let body = try decoder.decode(data) else { return }
            append(TraceEvent(timestamp: timestamp, cpu: cpu, pid: pid, comm: comm, body: body), to: out)
            return
        }
        out.append(0x0a)
    }

    /// Encoded names per event id of the raw path: an index into `generic`, -1 not yet known.
    @exclusivity(unchecked) private var genericByID: [Int] = []

    @inline(__always)
    private func genericIndex(id: Int, _ plan: BinaryEventDecoder.GenericPlan) -> Int {
        if id < genericByID.count, genericByID[id] >= 0 { return genericByID[id] }
        if id >= genericByID.count { genericByID += repeatElement(-1, count: id + 1 - genericByID.count) }
        let fields = plan.fields.map(\.name)
        let index: Int
        if let i = genericNames.indices.first(where: { genericNames[$0] == plan.name && names(of: generic[$0]) == fields }) {
            index = i
        } else {
            generic.append(encode(name: plan.name, textName: plan.name, fields: fields, textFirstSpace: true))
            genericNames.append(plan.name)
            index = generic.count - 1
        }
        genericByID[id] = index
        return index
    }

    private func names(of encoded: Encoded) -> [String] {
        Array(fieldNames[encoded.firstField..<(encoded.firstField + encoded.fieldCount)])
    }

    // MARK: On-demand values

    /// An on-demand event's fields in `kind.fieldNames` order, as bit patterns, without an array.
    private struct RawValues {
        var values = RawFieldValues()
        var count = 0
        /// Bit i: field i is signed (`OndemandEvent.fields`: copen.len, read.start, fd_write.start).
        var signedMask = 0
        @inline(__always) func isSigned(_ i: Int) -> Bool { signedMask & (1 << i) != 0 }
    }

    @inline(__always)
    private static func rawValues(_ e: OndemandEvent) -> RawValues {
        func u(_ v: UInt32?) -> UInt64? { v.map { UInt64($0) } }
        func s(_ v: Int64?) -> UInt64? { v.map { UInt64(bitPattern: $0) } }
        var r = RawValues()
        switch e {
        case .open(let x):
            (r.values.v0, r.values.v1, r.values.v2, r.values.v3, r.values.v4) = (u(x.obj), u(x.msgID), u(x.objectID), u(x.fd), u(x.flags))
            r.count = 5
        case .copen(let x):
            (r.values.v0, r.values.v1, r.values.v2) = (u(x.obj), u(x.msgID), s(x.len))
            (r.count, r.signedMask) = (3, 1 << 2)
        case .close(let x):
            (r.values.v0, r.values.v1, r.values.v2) = (u(x.obj), u(x.msgID), u(x.objectID))
            r.count = 3
        case .read(let x):
            (r.values.v0, r.values.v1, r.values.v2, r.values.v3, r.values.v4) = (u(x.obj), u(x.msgID), u(x.objectID), s(x.start), x.len)
            (r.count, r.signedMask) = (5, 1 << 3)
        case .cread(let x):
            (r.values.v0, r.values.v1) = (u(x.obj), u(x.msgID))
            r.count = 2
        case .fdWrite(let x):
            (r.values.v0, r.values.v1, r.values.v2, r.values.v3) = (u(x.obj), u(x.backer), s(x.start), x.len)
            (r.count, r.signedMask) = (4, 1 << 2)
        case .fdRelease(let x):
            (r.values.v0, r.values.v1) = (u(x.obj), u(x.objectID))
            r.count = 2
        }
        return r
    }

    /// The values of a record's fields as `OndemandEvent` holds them: the fields it types
    /// `UInt32` cut to 32 bits (`OndemandEvent(kind:values:)`), the others as read.
    @inline(__always)
    private static func rawValues(_ kind: OndemandEvent.Kind, _ v: RawFieldValues) -> RawValues {
        func u32(_ x: UInt64?) -> UInt64? { x.map { $0 & 0xffff_ffff } }
        var r = RawValues()
        switch kind {
        case .open:
            (r.values.v0, r.values.v1, r.values.v2, r.values.v3, r.values.v4) = (u32(v.v0), u32(v.v1), u32(v.v2), u32(v.v3), u32(v.v4))
            r.count = 5
        case .copen:
            (r.values.v0, r.values.v1, r.values.v2) = (u32(v.v0), u32(v.v1), v.v2)
            (r.count, r.signedMask) = (3, 1 << 2)
        case .close:
            (r.values.v0, r.values.v1, r.values.v2) = (u32(v.v0), u32(v.v1), u32(v.v2))
            r.count = 3
        case .read:
            (r.values.v0, r.values.v1, r.values.v2, r.values.v3, r.values.v4) = (u32(v.v0), u32(v.v1), u32(v.v2), v.v3, v.v4)
            (r.count, r.signedMask) = (5, 1 << 3)
        case .cread:
            (r.values.v0, r.values.v1) = (u32(v.v0), u32(v.v1))
            r.count = 2
        case .fdWrite:
            (r.values.v0, r.values.v1, r.values.v2, r.values.v3) = (u32(v.v0), u32(v.v1), v.v2, v.v3)
            (r.count, r.signedMask) = (4, 1 << 2)
        case .fdRelease:
            (r.values.v0, r.values.v1) = (u32(v.v0), u32(v.v1))
            r.count = 2
        }
        return r
    }

    @inline(__always)
    private static func appendRaw(_ value: UInt64, signed: Bool, to out: ByteBuffer) {
        if signed { out.appendDecimal(Int64(bitPattern: value)) } else { out.appendDecimal(value) }
    }

    @inline(__always)
    private static func kindIndex(_ kind: OndemandEvent.Kind) -> Int {
        switch kind {
        case .open: return 0
        case .copen: return 1
        case .close: return 2
        case .read: return 3
        case .cread: return 4
        case .fdWrite: return 5
        case .fdRelease: return 6
        }
    }
}
