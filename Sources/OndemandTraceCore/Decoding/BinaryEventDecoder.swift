/// Which records a decoder turns into events; the rest are skipped after reading two bytes.
public struct EventSelection: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    /// The seven `cachefiles_ondemand_*` events.
    public static let ondemand = EventSelection(rawValue: 1)
    /// `cachefiles_io_error` and `cachefiles_vfs_error`, which the report lists as anomalies.
    public static let cachefilesErrors = EventSelection(rawValue: 2)
    /// Every other `cachefiles_*` event.
    public static let cachefilesOther = EventSelection(rawValue: 4)
    /// `ftrace:print` records (`trace_marker` writes, e.g. our daemon's markers).
    public static let markers = EventSelection(rawValue: 8)
    /// Events of every other system (e.g. `sched`), kept by field name; not part of `.all`.
    public static let otherSystems = EventSelection(rawValue: 16)
    /// `cachefiles_ref` (an object's cookie), `cachefiles_prep_read` and `cachefiles_read` (a
    /// reader going on after its READ): decoded with only the fields the report uses (`obj`,
    /// `cookie`) unless `.cachefilesOther` asks for all of them.
    public static let objectTies = EventSelection(rawValue: 32)
    /// `cachefiles_ondemand_open` alone (the names pass: an OPEN marker names the object by fd).
    public static let ondemandOpens = EventSelection(rawValue: 64)
    /// The fanotify pre-content path: `record`'s kprobe events (`FanotifyProbe`) and `fsnotify:fsnotify`.
    public static let fanotify = EventSelection(rawValue: 128)
    /// What naming objects takes: OPENs, markers and the ties (`TraceReport`'s first pass).
    public static let names: EventSelection = [.ondemandOpens, .markers, .objectTies]

    public static let report: EventSelection = [.ondemand, .cachefilesErrors, .markers, .objectTies, .fanotify]
    public static let all: EventSelection = [.ondemand, .cachefilesErrors, .cachefilesOther, .markers, .fanotify]

    /// The events of `.objectTies` and the fields the report reads of each.
    public static let tieFields: [String: [String]] = [
        "cachefiles_ref": ["obj", "cookie"], "cachefiles_prep_read": ["obj"], "cachefiles_read": ["obj"],
    ]
    /// Of `cachefiles_ref` (several per READ) only these, once or twice per object, are decoded
    /// for `.objectTies`: the object's creation (before its OPEN), its OPEN, its cookie's lookup.
    public static let tieRefReasons: Set<String> = ["NEW obj", "GET ondemand_fd", "SEE lookup_cookie"]
}

/// What a decoder does with the records of an event id.
public enum RecordDisposition: UInt8, Sendable {
    /// The file has no format for it.
    case unknown
    /// Not selected.
    case skipped
    /// One of the seven on-demand events (`decodeOndemand`).
    case ondemand
    /// Another selected event (`decode`; some records may still be dropped, see `.objectTies`).
    case decoded
    /// A record of the fanotify path (`FanotifyEvent`): decoded as `.decoded` is, and counted
    /// as an on-demand event.
    case fanotify
}

public enum DecodeError: Error, Equatable, CustomStringConvertible {
    /// A record is shorter than its format file says.
    case shortRecord(event: String, size: Int, needed: Int)
    /// A record's common header names an event id the file has no format for.
    case unknownEventID(Int)

    public var description: String {
        switch self {
        case let .shortRecord(event, size, needed):
            return "\(event) record is \(size) bytes, its format needs \(needed)"
        case let .unknownEventID(id):
            return "record of event id \(id), which has no format in the file"
        }
    }
}

/// Decodes raw ring-buffer records (the bytes after the ring-buffer header) into events.
/// Field offsets come from each event's layout, looked up by name once, not per record.
public struct BinaryEventDecoder: Sendable {
    // `@usableFromInline`/`@inlinable`: the per-record accessors are inlined into the reading
    // loop in another module (TraceFiles), where a call per record showed in profiles.
    @usableFromInline struct Slot: Sendable {
        @usableFromInline var offset: Int
        @usableFromInline var size: Int
        @usableFromInline var isSigned: Bool
        @usableFromInline var end: Int { offset + size }
        init(offset: Int, size: Int, isSigned: Bool) { (self.offset, self.size, self.isSigned) = (offset, size, isSigned) }
    }

    /// Up to five field slots stored inline: decoding a record touches no reference counts.
    @usableFromInline struct Slots: Sendable {
        @usableFromInline var s0, s1, s2, s3, s4: Slot?
        init(_ slots: [Slot?]) {
            func at(_ i: Int) -> Slot? { i < slots.count ? slots[i] : nil }
            (s0, s1, s2, s3, s4) = (at(0), at(1), at(2), at(3), at(4))
        }
    }

    enum Entry: Sendable {
        /// No format for this id: the file's format for it was missing or libtraceevent refused it.
        case unknown
        case skip
        case ondemand(OndemandEvent.Kind, slots: Slots, needed: Int)
        case generic(GenericPlan)
        /// Only the listed fields (`EventSelection.objectTies`); with `only`, only records whose
        /// field holds one of the values.
        case slim(EventLayout, [FieldLayout], only: (slot: Slot, values: Set<UInt64>)?)
        case marker(buf: FieldLayout)
    }

    private(set) var entries: [Entry]
    /// The on-demand entries again, as plain values by event id: the per-record decode reads
    /// these without copying an `Entry` (whose other cases hold references).
    @usableFromInline var ondemandPlans: [OndemandPlan]
    /// What becomes of each event id's records, without copying an `Entry`: one lookup per
    /// record (`disposition(of:)`; `isSelected`, `isOndemand` and `isKnown` read it too).
    @usableFromInline var dispositions: [RecordDisposition]
    /// `.slim` entries whose `only` values all fit a 64-bit mask, by event id: most records of
    /// those events (`cachefiles_ref`) are dropped with one mask test, not a hash.
    @usableFromInline var slimMasks: [SlimMask?]
    /// The `.slim` entries of `.objectTies` as plain values, by event id (nil: not one, or a field
    /// the plain path does not read, see `TiePlan`): `decodeTie` makes a `TieRecord` of a record
    /// without allocating.
    @usableFromInline var tiePlans: [TiePlan?]
    /// The `buf` field of the `.marker` entries (ftrace `print`: trace_marker writes), by event id,
    /// when it is text (`FieldLayout.isString`, tested here once, not per record; a marker
    /// without text goes by `decode`).
    @usableFromInline var markerFields: [BytesField?]

    /// A tie event's `obj` and `cookie` slots (nil: the layout lacks the field), and the end of
    /// the slot its mask reads (`SlimMask`; 0: none), checked first as `decode` checks it.
    @usableFromInline struct TiePlan: Sendable {
        @usableFromInline var kind: TieRecord.Kind
        @usableFromInline var obj: Slot?
        @usableFromInline var cookie: Slot?
        @usableFromInline var maskEnd: Int
        @usableFromInline var signedFields: UInt8
    }

    @usableFromInline struct OndemandPlan: Sendable {
        @usableFromInline var kind: OndemandEvent.Kind
        @usableFromInline var slots: Slots
        @usableFromInline var needed: Int
    }

    @usableFromInline struct SlimMask: Sendable {
        @usableFromInline var slot: Slot
        @usableFromInline var values: UInt64
    }
    @usableFromInline let typeSlot: Slot
    @usableFromInline let pidSlot: Slot?
    @usableFromInline let bigEndian: Bool
    public let layouts: [EventLayout]

    public init(layouts: [EventLayout], selection: EventSelection, bigEndian: Bool = false) {
        self.layouts = layouts
        self.bigEndian = bigEndian
        let common = layouts.first?.fields ?? []
        let type = common.first { $0.name == "common_type" }
        typeSlot = Slot(offset: type?.offset ?? 0, size: type?.size ?? 2, isSigned: false)
        pidSlot = common.first { $0.name == "common_pid" }.map { Slot(offset: $0.offset, size: $0.size, isSigned: true) }
        let maxID = layouts.map(\.id).max() ?? 0
        var entries = [Entry](repeating: .unknown, count: max(0, min(maxID, 65_535)) + 1)
        for layout in layouts where layout.id >= 0 && layout.id < entries.count {
            entries[layout.id] = Self.entry(for: layout, selection: selection)
        }
        self.entries = entries
        ondemandPlans = entries.map {
            guard case let .ondemand(kind, slots, needed) = $0 else { return OndemandPlan(kind: .open, slots: Slots([]), needed: 0) }
            return OndemandPlan(kind: kind, slots: slots, needed: needed)
        }
        dispositions = entries.map {
            switch $0 {
            case .unknown: return .unknown
            case .skip: return .skipped
            case .ondemand: return .ondemand
            case .generic(let plan) where FanotifyEvent.isFanotify(system: plan.system, name: plan.name): return .fanotify
            default: return .decoded
            }
        }
        slimMasks = entries.map {
            guard case let .slim(_, _, only?) = $0, only.values.allSatisfy({ $0 < 64 }) else { return nil }
            return SlimMask(slot: only.slot, values: only.values.reduce(0) { $0 | 1 << $1 })
        }
        markerFields = entries.map {
            guard case let .marker(buf) = $0, buf.isString else { return nil }
            return BytesField(buf)
        }
        tiePlans = zip(entries, slimMasks).map { entry, mask in
            guard case let .slim(layout, wanted, only) = entry, let kind = TieRecord.Kind(eventName: layout.name),
                  only == nil || mask != nil else { return nil }
            // Only plain numbers named obj and cookie, as `decode` gives them; anything else goes there.
            var plan = TiePlan(kind: kind, obj: nil, cookie: nil, maskEnd: mask?.slot.end ?? 0, signedFields: 0)
            for field in wanted {
                guard !field.isDynamic, !field.isArray, [1, 2, 4, 8].contains(field.size) else { return nil }
                let slot = Slot(offset: field.offset, size: field.size, isSigned: field.isSigned)
                switch field.name {
                case "obj" where plan.obj == nil && plan.cookie == nil:
                    plan.obj = slot
                    if field.isSigned { plan.signedFields |= 1 }
                case "cookie" where plan.cookie == nil:
                    plan.cookie = slot
                    if field.isSigned { plan.signedFields |= 2 }
                default: return nil
                }
            }
            return plan
        }
    }

    static func entry(for layout: EventLayout, selection: EventSelection) -> Entry {
        if FanotifyEvent.isFanotify(system: layout.system, name: layout.name) {
            return selection.contains(.fanotify) ? .generic(GenericPlan(layout)) : .skip
        }
        if layout.system == "cachefiles" {
            if let kind = OndemandEvent.Kind(eventName: layout.name) {
                guard selection.contains(.ondemand) || (kind == .open && selection.contains(.ondemandOpens)) else { return .skip }
                let slots = kind.fieldNames.map { name in
                    layout.field(named: name).map { Slot(offset: $0.offset, size: $0.size, isSigned: $0.isSigned) }
                }
                let needed = slots.compactMap { $0?.end }.max() ?? 0
                return .ondemand(kind, slots: Slots(slots), needed: needed)
            }
            if !selection.contains(.cachefilesOther), selection.contains(.objectTies),
               let names = EventSelection.tieFields[layout.name] {
                var only: (slot: Slot, values: Set<UInt64>)?
                if layout.name == "cachefiles_ref", let why = layout.field(named: "why"), let table = layout.symbols["why"] {
                    let values = Set(table.filter { EventSelection.tieRefReasons.contains($0.value) }.keys)
                    if !values.isEmpty { only = (Slot(offset: why.offset, size: why.size, isSigned: false), values) }
                }
                return .slim(layout, names.compactMap { layout.field(named: $0) }, only: only)
            }
            let isError = layout.name == "cachefiles_io_error" || layout.name == "cachefiles_vfs_error"
            if isError ? selection.contains(.cachefilesErrors) : selection.contains(.cachefilesOther) {
                return .generic(GenericPlan(layout))
            }
            return .skip
        }
        if layout.system == "ftrace", layout.name == "print", selection.contains(.markers),
           let buf = layout.field(named: "buf") {
            return .marker(buf: buf)
        }
        if selection.contains(.otherSystems), layout.system != "ftrace" {
            return .generic(GenericPlan(layout))
        }
        return .skip
    }

    /// How a generic event is decoded, worked out once per layout: its own fields (not the
    /// `common_` ones) and their symbol tables, small ones as arrays indexed by value.
    final class GenericPlan: Sendable {
        let system: String
        let name: String
        let fields: [FieldLayout]
        let tables: [[UInt64: String]?]
        /// The slot of each field that is a plain 1, 2, 4 or 8-byte number (nil: array, string, other).
        let numeric: [Slot?]
        let denseTables: [[String?]?]
        let hasSymbols: Bool

        init(_ layout: EventLayout) {
            system = layout.system
            name = layout.name
            fields = layout.fields.filter { !$0.name.hasPrefix("common_") }
            tables = fields.map { layout.symbols[$0.name] }
            numeric = fields.map { field in
                guard !field.isDynamic, !field.isArray, [1, 2, 4, 8].contains(field.size) else { return nil }
                return Slot(offset: field.offset, size: field.size, isSigned: field.isSigned)
            }
            denseTables = tables.map { table in
                guard let table, let top = table.keys.max(), top < 1024 else { return nil }
                var dense = [String?](repeating: nil, count: Int(top) + 1)
                for (value, name) in table { dense[Int(value)] = name }
                return dense
            }
            hasSymbols = tables.contains { $0 != nil }
        }

        @inline(__always)
        func symbol(field i: Int, value: UInt64) -> String? {
            if let dense = denseTables[i] { return value < UInt64(dense.count) ? dense[Int(value)] : nil }
            return tables[i]?[value]
        }
    }

    /// The event id in a record's common header.
    @inlinable @inline(__always)
    public func eventID(of data: UnsafeRawBufferPointer) -> Int? {
        guard data.count >= typeSlot.end else { return nil }
        return Int(readUnsigned(data, typeSlot))
    }

    /// What becomes of records of this event id (an id past the table has no format).
    @inlinable @inline(__always)
    public func disposition(of eventID: Int) -> RecordDisposition {
        eventID >= 0 && eventID < dispositions.count ? dispositions[eventID] : .unknown
    }

    /// False for a record `decode` drops by its event's value mask (most `cachefiles_ref` records:
    /// two a READ); a reader may test it first to skip the call to `decode`.
    @inlinable @inline(__always)
    public func passesMask(_ data: UnsafeRawBufferPointer, eventID id: Int) -> Bool {
        guard id >= 0, id < slimMasks.count, let mask = slimMasks[id], data.count >= mask.slot.end else { return true }
        let value = readUnsigned(data, mask.slot)
        return value < 64 && mask.values & (1 << value) != 0
    }

    /// A value mask of `skipTable`: the record is dropped unless its field at `offset` (`size`
    /// bytes, little-endian) is below 64 with its bit set in `values`.
    public struct SkipMask: Sendable {
        public let offset: Int
        public let size: Int
        public let values: UInt64
    }

    /// What a reader of a little-endian file may pass over without looking further, by event id
    /// (the record's first two bytes): 0 for a record to hand over (or an id without a format),
    /// 1 for one not selected (`.skipped`), 2 + i for one dropped unless it passes `masks[i]`
    /// (`passesMask`). Nil when the file's event ids are not little-endian 16-bit numbers at 0.
    public func skipTable() -> (kinds: [UInt8], masks: [SkipMask])? {
        guard !bigEndian, typeSlot.offset == 0, typeSlot.size == 2 else { return nil }
        var masks: [SkipMask] = []
        let kinds = dispositions.indices.map { id -> UInt8 in
            switch dispositions[id] {
            case .skipped: return 1
            case .decoded:
                guard let mask = slimMasks[id], [1, 2, 4, 8].contains(mask.slot.size), masks.count < 250 else { return 0 }
                masks.append(SkipMask(offset: mask.slot.offset, size: mask.slot.size, values: mask.values))
                return UInt8(1 + masks.count)
            case .unknown, .ondemand, .fanotify: return 0
            }
        }
        return (kinds, masks)
    }

    /// Whether records of this event id are decoded by `decodeTie` (a `.decoded` disposition).
    @inlinable @inline(__always)
    public func isTie(eventID id: Int) -> Bool { id >= 0 && id < tiePlans.count && tiePlans[id] != nil }

    /// Decodes a record of a tie event (`isTie(eventID:)` holds for `id`, its id) that passed its
    /// mask (`passesMask`): the fields `decode` gives, as plain values, with its errors.
    @inlinable @inline(__always)
    public func decodeTie(_ data: UnsafeRawBufferPointer, eventID id: Int, timestamp: UInt64, cpu: Int32) throws(DecodeError) -> TieRecord {
        let record: TieRecord? = tiePlans.withUnsafeBufferPointer { plans in
            let plan = plans.baseAddress! + id
            guard data.count >= plan.pointee!.maskEnd else { return nil }
            let obj = plan.pointee!.obj, cookie = plan.pointee!.cookie
            guard data.count >= (obj?.end ?? 0), data.count >= (cookie?.end ?? 0) else { return nil }
            return TieRecord(timestamp: timestamp, cpu: cpu, pid: pid(of: data), kind: plan.pointee!.kind,
                             obj: raw(data, obj), cookie: raw(data, cookie), signedFields: plan.pointee!.signedFields)
        }
        guard let record else { throw tieShortRecord(data, eventID: id) }
        return record
    }

    /// The error `decode` throws for a tie record too short for its mask or a field.
    @usableFromInline
    func tieShortRecord(_ data: UnsafeRawBufferPointer, eventID id: Int) -> DecodeError {
        let plan = tiePlans[id]!
        let needed = [plan.maskEnd, plan.obj?.end ?? 0, plan.cookie?.end ?? 0].first { $0 > data.count } ?? 0
        return .shortRecord(event: plan.kind.eventName, size: data.count, needed: needed)
    }

    /// Whether records of this event id would be decoded (cheap; no bytes read).
    @inline(__always)
    public func isSelected(eventID: Int) -> Bool {
        let d = disposition(of: eventID)
        return d == .ondemand || d == .decoded
    }

    /// Whether records of this event id are decoded as one of the seven on-demand events.
    @inline(__always)
    public func isOndemand(eventID: Int) -> Bool { disposition(of: eventID) == .ondemand }

    /// Whether the file has a format for this event id.
    public func isKnown(eventID: Int) -> Bool { disposition(of: eventID) != .unknown }

    @inlinable @inline(__always)
    public func pid(of data: UnsafeRawBufferPointer) -> Int32 {
        guard let pidSlot, data.count >= pidSlot.end else { return -1 }
        return Int32(truncatingIfNeeded: readSigned(data, pidSlot))
    }

    /// Decodes a record of an on-demand event (`isOndemand(eventID:)` holds for `id`, its id).
    @inlinable @inline(__always)
    public func decodeOndemand(_ data: UnsafeRawBufferPointer, eventID id: Int) throws(DecodeError) -> OndemandEvent {
        var event = OndemandEvent.cread(.init(obj: nil, msgID: nil))
        try decodeOndemand(data, eventID: id, into: &event)
        return event
    }

    /// `decodeOndemand`, written into `event` where it is kept (a batch's record): an event
    /// returned and copied there was read back while the decoder's narrower stores of it were
    /// still on their way to the cache (a stall per record on the report's reading thread).
    public func decodeOndemand(_ data: UnsafeRawBufferPointer, eventID id: Int, into event: inout OndemandEvent) throws(DecodeError) {
        // Fields read through a pointer to the plan: no copy of it per record.
        let (kind, needed, values) = ondemandPlans.withUnsafeBufferPointer { plans in
            let plan = plans.baseAddress! + id
            let needed = plan.pointee.needed
            var values = RawFieldValues()
            if data.count >= needed {
                values.v0 = raw(data, plan.pointee.slots.s0)
                values.v1 = raw(data, plan.pointee.slots.s1)
                values.v2 = raw(data, plan.pointee.slots.s2)
                values.v3 = raw(data, plan.pointee.slots.s3)
                values.v4 = raw(data, plan.pointee.slots.s4)
            }
            return (plan.pointee.kind, needed, values)
        }
        guard data.count >= needed else {
            throw .shortRecord(event: kind.eventName, size: data.count, needed: needed)
        }
        event = OndemandEvent(kind: kind, values: values)
    }

    /// Decodes one record; nil when its event is not selected.
    public func decode(_ data: UnsafeRawBufferPointer) throws(DecodeError) -> EventBody? {
        guard let id = eventID(of: data) else {
            throw .shortRecord(event: "record", size: data.count, needed: typeSlot.end)
        }
        guard id < entries.count else { return nil }
        if dispositions[id] == .ondemand { return .ondemand(try decodeOndemand(data, eventID: id)) }
        guard passesMask(data, eventID: id) else { return nil }
        switch entries[id] {
        case .skip, .unknown:
            return nil
        case .ondemand:
            return nil  // decoded above
        case let .generic(plan):
            var fields: [NamedValue] = []
            fields.reserveCapacity(plan.fields.count)
            for (i, field) in plan.fields.enumerated() {
                guard var value = try value(of: field, in: data, event: plan.name) else { continue }
                if plan.hasSymbols, case .unsigned(let n) = value, let name = plan.symbol(field: i, value: n) {
                    value = .string(name)
                }
                fields.append(NamedValue(field.name, value))
            }
            return .generic(GenericEvent(system: plan.system, name: plan.name, fields: fields))
        case let .slim(layout, wanted, only):
            if let only {
                guard data.count >= only.slot.end else { throw .shortRecord(event: layout.name, size: data.count, needed: only.slot.end) }
                guard only.values.contains(readUnsigned(data, only.slot)) else { return nil }
            }
            var fields: [NamedValue] = []
            fields.reserveCapacity(wanted.count)
            for field in wanted {
                if let value = try value(of: field, in: data, event: layout.name) { fields.append(NamedValue(field.name, value)) }
            }
            return .generic(GenericEvent(system: layout.system, name: layout.name, fields: fields))
        case let .marker(buf):
            guard case .string(var text)? = try value(of: buf, in: data, event: "print") else {
                return .marker(MarkerEvent(text: ""))
            }
            if text.hasSuffix("\n") { text.removeLast() }
            return .marker(MarkerEvent(text: text))
        }
    }

    /// Whether records of this event id are trace_marker writes with a text field (`markerText`).
    @inlinable @inline(__always)
    public func isMarker(eventID id: Int) -> Bool { id >= 0 && id < markerFields.count && markerFields[id] != nil }

    /// The text of a trace_marker write (`isMarker(eventID:)` holds for `id`, its id) as `decode`
    /// gives it in its `MarkerEvent`, but as the record's own bytes: up to its first NUL, one
    /// final newline dropped. For a reader that parses our daemon's markers without making a
    /// `String` of each; nil when the field is not text.
    public func markerText(_ data: UnsafeRawBufferPointer, eventID id: Int) throws(DecodeError) -> UnsafeRawBufferPointer? {
        guard let field = markerFields[id], let bytes = try bytes(of: field, in: data, event: "print") else { return nil }
        // The first NUL: eight bytes at a time up to the word that holds one, then byte by byte.
        var end = 0
        while end + 8 <= bytes.count {
            let word = bytes.loadUnaligned(fromByteOffset: end, as: UInt64.self)
            if (word &- 0x0101_0101_0101_0101) & ~word & 0x8080_8080_8080_8080 != 0 { break }
            end += 8
        }
        while end < bytes.count, bytes[end] != 0 { end += 1 }
        // As `String.hasSuffix("\n")`: a final "\r\n" is one character, not a newline.
        if end > 0, bytes[end - 1] == UInt8(ascii: "\n"), end == 1 || bytes[end - 2] != UInt8(ascii: "\r") { end -= 1 }
        return UnsafeRawBufferPointer(rebasing: bytes[..<end])
    }

    func value(of field: FieldLayout, in data: UnsafeRawBufferPointer, event: String) throws(DecodeError) -> FieldValue? {
        if let bytes = try bytes(of: field, in: data, event: event) { return bytesValue(field, bytes) }
        switch field.size {
        case 1, 2, 4, 8: break
        default: return .bytes(Array(data[field.offset..<min(data.count, field.offset + field.size)]))
        }
        let slot = Slot(offset: field.offset, size: field.size, isSigned: field.isSigned)
        guard data.count >= slot.end else { throw .shortRecord(event: event, size: data.count, needed: slot.end) }
        return field.isSigned ? .signed(readSigned(data, slot)) : .unsigned(readUnsigned(data, slot))
    }

    /// The bytes of a dynamic or array field; nil for a field of neither kind.
    func bytes(of field: FieldLayout, in data: UnsafeRawBufferPointer, event: String) throws(DecodeError) -> UnsafeRawBufferPointer? {
        try bytes(of: BytesField(field), in: data, event: event)
    }

    /// Where a dynamic or array field's bytes are, as plain values (a `FieldLayout` holds strings:
    /// copied out per record, it cost reference counting).
    @usableFromInline struct BytesField: Sendable {
        let offset, size: Int
        let isArray, isDynamic, isRelative: Bool
        init(_ field: FieldLayout) {
            (offset, size, isArray, isDynamic, isRelative) = (field.offset, field.size, field.isArray, field.isDynamic, field.isRelative)
        }
    }

    func bytes(of field: BytesField, in data: UnsafeRawBufferPointer, event: @autoclosure () -> String) throws(DecodeError) -> UnsafeRawBufferPointer? {
        if field.isDynamic {
            let locator = Slot(offset: field.offset, size: 4, isSigned: false)
            guard data.count >= locator.end else { throw .shortRecord(event: event(), size: data.count, needed: locator.end) }
            let raw = readUnsigned(data, locator)
            var start = Int(raw & 0xffff)
            let length = Int(raw >> 16)
            if field.isRelative { start += field.offset + 4 }
            guard start + length <= data.count else { throw .shortRecord(event: event(), size: data.count, needed: start + length) }
            return UnsafeRawBufferPointer(rebasing: data[start..<(start + length)])
        }
        if field.isArray {
            // `char buf[]` (size 0) runs to the end of the record.
            let end = field.size == 0 ? data.count : field.offset + field.size
            guard end <= data.count, field.offset <= end else { throw .shortRecord(event: event(), size: data.count, needed: end) }
            return UnsafeRawBufferPointer(rebasing: data[field.offset..<end])
        }
        return nil
    }

    func bytesValue(_ field: FieldLayout, _ bytes: UnsafeRawBufferPointer) -> FieldValue {
        if field.isString {
            let end = bytes.firstIndex(of: 0) ?? bytes.count
            return .string(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[0..<end]), as: UTF8.self))
        }
        return .bytes(Array(bytes))
    }

    /// A field's bit pattern (sign-extended when signed); nil when the layout lacks the field.
    @inlinable @inline(__always)
    func raw(_ data: UnsafeRawBufferPointer, _ slot: Slot?) -> UInt64? {
        guard let slot else { return nil }
        return slot.isSigned ? UInt64(bitPattern: readSigned(data, slot)) : readUnsigned(data, slot)
    }

    @inlinable @inline(__always)
    func readUnsigned(_ data: UnsafeRawBufferPointer, _ slot: Slot) -> UInt64 {
        let value: UInt64
        switch slot.size {
        case 1: return UInt64(data[slot.offset])
        case 2:
            let raw = data.loadUnaligned(fromByteOffset: slot.offset, as: UInt16.self)
            value = UInt64(bigEndian ? raw.byteSwapped : raw)
        case 4:
            let raw = data.loadUnaligned(fromByteOffset: slot.offset, as: UInt32.self)
            value = UInt64(bigEndian ? raw.byteSwapped : raw)
        default:
            let raw = data.loadUnaligned(fromByteOffset: slot.offset, as: UInt64.self)
            value = bigEndian ? raw.byteSwapped : raw
        }
        return value
    }

    @inlinable @inline(__always)
    func readSigned(_ data: UnsafeRawBufferPointer, _ slot: Slot) -> Int64 {
        let raw = readUnsigned(data, slot)
        switch slot.size {
        case 1: return Int64(Int8(truncatingIfNeeded: raw))
        case 2: return Int64(Int16(truncatingIfNeeded: raw))
        case 4: return Int64(Int32(truncatingIfNeeded: raw))
        default: return Int64(bitPattern: raw)
        }
    }
}
