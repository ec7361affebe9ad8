/// A small streaming JSON writer: keys stay in the order written, so documents are stable and
/// diffable, and writing a million lines costs no intermediate dictionaries.
public struct JSONWriter {
    public private(set) var output = ""
    private var needsComma: [Bool] = [false]

    public init() {}

    private mutating func separate() {
        if needsComma[needsComma.count - 1] { output += "," }
        needsComma[needsComma.count - 1] = true
    }

    public mutating func objectStart() { valuePrefix(); output += "{"; needsComma.append(false) }
    public mutating func objectEnd() { output += "}"; needsComma.removeLast() }
    public mutating func arrayStart() { valuePrefix(); output += "["; needsComma.append(false) }
    public mutating func arrayEnd() { output += "]"; needsComma.removeLast() }

    /// A key inside an object; the next value written belongs to it.
    public mutating func key(_ name: String) {
        separate()
        output += "\"" + Self.escape(name) + "\":"
        needsComma[needsComma.count - 1] = false
        pendingKey = true
    }
    private var pendingKey = false

    private mutating func valuePrefix() {
        if pendingKey { pendingKey = false; needsComma[needsComma.count - 1] = true } else { separate() }
    }

    public mutating func string(_ s: String) { valuePrefix(); output += "\"" + Self.escape(s) + "\"" }
    public mutating func number(_ n: UInt64) { valuePrefix(); output += String(n) }
    public mutating func number(_ n: Int64) { valuePrefix(); output += String(n) }
    public mutating func number(_ n: Int) { valuePrefix(); output += String(n) }
    /// A double, with `decimals` places; non-finite values become null.
    public mutating func number(_ d: Double, decimals: Int = 3) {
        valuePrefix()
        guard d.isFinite else { output += "null"; return }
        output += Self.format(d, decimals: decimals)
    }
    public mutating func bool(_ b: Bool) { valuePrefix(); output += b ? "true" : "false" }
    public mutating func null() { valuePrefix(); output += "null" }
    /// Already-valid JSON text (a number formatted elsewhere).
    public mutating func raw(_ text: String) { valuePrefix(); output += text }

    public mutating func value(_ v: FieldValue) {
        switch v {
        case .unsigned(let n): number(n)
        case .signed(let n): number(n)
        case .string(let s): string(s)
        case .bytes(let b): arrayStart(); for x in b { number(UInt64(x)) }; arrayEnd()
        }
    }

    public static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                out += "\\u" + String(scalar.value, radix: 16).leftPadded(to: 4, with: "0")
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// Fixed-point formatting of a double without Foundation.
    public static func format(_ d: Double, decimals: Int) -> String {
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let rounded = (d * scale).rounded()
        guard abs(rounded) < 9.0e18 else { return String(d) }
        let negative = rounded < 0
        let n = UInt64(abs(rounded))
        let s = UInt64(scale)
        var text = String(n / s)
        if decimals > 0 { text += "." + String(n % s).leftPadded(to: decimals, with: "0") }
        return negative ? "-" + text : text
    }
}
