/// A map from pid to a value, for the correlator's per-record lookups: open addressing (linear
/// probing, backward-shift deletion, at most half full) with a multiplicative hash. A `Dictionary`
/// hashes each Int32 key with SipHash, which showed in `report`'s profiles (three lookups a READ).
public struct PidTable<Value> {
    /// Keys widened so that no pid (even a corrupt one) is the empty marker.
    private static var empty: Int64 { .min }
    private var keys: [Int64]
    private var slots: [Value?]
    private var shift: UInt64
    public private(set) var count = 0

    public init() {
        keys = [Int64](repeating: Self.empty, count: 16)
        slots = [Value?](repeating: nil, count: 16)
        shift = 64 - 4
    }

    public var isEmpty: Bool { count == 0 }
    private var mask: Int { keys.count - 1 }

    @inline(__always)
    private func home(_ pid: Int32) -> Int {
        Int(truncatingIfNeeded: (UInt64(UInt32(bitPattern: pid)) &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    /// The slot holding `pid`, or the empty slot where it would go.
    @inline(__always)
    private func probe(_ pid: Int32) -> (index: Int, found: Bool) {
        probe(key: Int64(pid))
    }

    @inline(__always)
    private func probe(key pid: Int64) -> (index: Int, found: Bool) {
        var i = home(Int32(truncatingIfNeeded: pid))
        while true {
            let k = keys[i]
            if k == pid { return (i, true) }
            if k == Self.empty { return (i, false) }
            i = (i + 1) & mask
        }
    }

    /// Inlined: the correlator looks up three pids a READ.
    @inline(__always)
    public subscript(pid: Int32) -> Value? {
        let (i, found) = probe(pid)
        return found ? slots[i] : nil
    }

    /// Stores `value` for `pid`; returns the value it replaced.
    @discardableResult
    public mutating func updateValue(_ value: consuming Value, forKey pid: Int32) -> Value? {
        let (i, found) = probe(pid)
        if found { return exchange(i, value) }
        keys[i] = Int64(pid)
        _ = exchange(i, value)
        count += 1
        if count * 2 > keys.count { grow() }
        return nil
    }

    @discardableResult
    public mutating func removeValue(forKey pid: Int32) -> Value? {
        guard count > 0 else { return nil }
        let probed = probe(pid)
        guard probed.found else { return nil }
        var i = probed.index
        let old = exchange(i, nil)
        count -= 1
        // Backward shift: move later entries of the probe run into the hole so no search stops early.
        var j = i
        while true {
            j = (j + 1) & mask
            let k = keys[j]
            if k == Self.empty { break }
            let h = home(Int32(truncatingIfNeeded: k))
            // Entry j may move to i when its home is not cyclically within (i, j].
            let between = i <= j ? (h > i && h <= j) : (h > i || h <= j)
            if !between {
                keys[i] = k
                _ = exchange(i, exchange(j, nil))
                i = j
            }
        }
        keys[i] = Self.empty
        return old
    }

    /// Puts `new` in slot `i` and returns what was there, moved (values can be large).
    @inline(__always)
    private mutating func exchange(_ i: Int, _ new: consuming Value?) -> Value? {
        var value = new
        swap(&slots[i], &value)
        return value
    }

    public mutating func removeAll() {
        self = PidTable()
    }

    /// The values, in no particular order.
    public var values: [Value] { slots.compactMap { $0 } }

    /// The table of the entries whose value `isIncluded` holds for.
    public func filter(_ isIncluded: (Value) -> Bool) -> PidTable {
        var kept = PidTable()
        for (k, v) in zip(keys, slots) where k != Self.empty {
            if let v, isIncluded(v) { kept.updateValue(v, forKey: Int32(truncatingIfNeeded: k)) }
        }
        return kept
    }

    private mutating func grow() {
        let oldKeys = keys, oldSlots = slots
        keys = [Int64](repeating: Self.empty, count: oldKeys.count * 2)
        slots = [Value?](repeating: nil, count: oldKeys.count * 2)
        shift -= 1
        for (k, v) in zip(oldKeys, oldSlots) where k != Self.empty {
            let (i, _) = probe(key: k)
            keys[i] = k
            slots[i] = v
        }
    }
}
