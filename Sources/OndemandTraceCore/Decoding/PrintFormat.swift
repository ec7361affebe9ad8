/// What a `print fmt:` line says about the text an event prints: which `label=` stands for which
/// field, and in which radix. Lets text output be read back by field name, for any kernel whose
/// format file we have.
public struct PrintFormat: Sendable, Equatable {
    public struct Label: Sendable, Equatable {
        public var field: String
        public var radix: Int
    }

    /// Label (e.g. `mid`) to field (e.g. `msg_id`).
    public var labels: [String: Label]
    /// Fields printed without a label (e.g. `%s` of `__print_symbolic(REC->where, ...)`), in the
    /// order their unlabeled words appear in the text.
    public var unlabeled: [String]

    public init(labels: [String: Label], unlabeled: [String] = []) {
        self.labels = labels
        self.unlabeled = unlabeled
    }

    /// Parses `"o=%08x mid=%x", REC->obj, REC->msg_id`. Conversions whose argument is not a plain
    /// `REC->field` (symbolic tables, helpers) are skipped but still consume their argument.
    public init(parsing line: String) {
        var labels: [String: Label] = [:]
        var unlabeled: [String] = []
        let chars = Array(line)
        guard let open = chars.firstIndex(of: "\"") else { self.labels = [:]; self.unlabeled = []; return }
        var index = open + 1
        var format: [Character] = []
        while index < chars.count, chars[index] != "\"" {
            if chars[index] == "\\", index + 1 < chars.count { format.append(chars[index]); index += 1 }
            format.append(chars[index])
            index += 1
        }
        let args = Self.splitArguments(index + 1 < chars.count ? Array(chars[(index + 1)...]) : [])
        var argIndex = 0
        var i = 0
        while i < format.count {
            guard format[i] == "%" else { i += 1; continue }
            if i + 1 < format.count, format[i + 1] == "%" { i += 2; continue }
            var j = i + 1
            while j < format.count, !"diouxXcspn".contains(format[j]) { j += 1 }
            guard j < format.count else { break }
            let conversion = format[j]
            // A `%p` followed by letters (`%pS`, `%pU`) is a kernel extension: skip its suffix.
            var end = j + 1
            if conversion == "p" { while end < format.count, format[end].isLetter { end += 1 } }
            var labelEnd = i
            let standsAlone = i == 0 || format[i - 1] == " "
            if standsAlone, argIndex < args.count, let field = Self.fieldInside(args[argIndex]) {
                unlabeled.append(field)
            }
            if labelEnd > 0, format[labelEnd - 1] == "=" {
                labelEnd -= 1
                var labelStart = labelEnd
                while labelStart > 0, format[labelStart - 1].isLetter || format[labelStart - 1].isNumber || format[labelStart - 1] == "_" {
                    labelStart -= 1
                }
                let label = String(format[labelStart..<labelEnd])
                if argIndex < args.count, !label.isEmpty {
                    let arg = args[argIndex]
                    if arg.hasPrefix("REC->"), arg.dropFirst(5).allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) {
                        let radix = "xXp".contains(conversion) ? 16 : 10
                        labels[label] = Label(field: String(arg.dropFirst(5)), radix: radix)
                    }
                }
            }
            argIndex += 1
            i = end
        }
        self.labels = labels
        self.unlabeled = unlabeled
    }

    /// `REC->x` or a helper whose first argument is `REC->x` (`__print_symbolic(REC->x, ...)`).
    static func fieldInside(_ arg: String) -> String? {
        guard let range = arg.firstRange(of: "REC->") else { return nil }
        let name = arg[range.upperBound...].prefix { $0.isLetter || $0.isNumber || $0 == "_" }
        return name.isEmpty ? nil : String(name)
    }

    static func splitArguments(_ chars: [Character]) -> [String] {
        var args: [String] = []
        var depth = 0
        var current = ""
        var inString = false
        for c in chars {
            if c == "\"" { inString.toggle() }
            if !inString {
                if c == "(" || c == "{" || c == "[" { depth += 1 }
                if c == ")" || c == "}" || c == "]" { depth -= 1 }
                if c == ",", depth == 0 {
                    args.append(current.trimmingWhitespace())
                    current = ""
                    continue
                }
            }
            current.append(c)
        }
        let last = current.trimmingWhitespace()
        if !last.isEmpty { args.append(last) }
        // The text before the first comma is what followed the format string: drop it.
        return Array(args.dropFirst())
    }

    /// `__print_symbolic(REC->field, { 0, "name" }, ...)` tables: field → value → name, so binary
    /// records print the same names the kernel's text does.
    public static func symbolTables(_ line: String) -> [String: [UInt64: String]] {
        var tables: [String: [UInt64: String]] = [:]
        var rest = Substring(line)
        while let call = rest.firstRange(of: "__print_symbolic(") {
            rest = rest[call.upperBound...]
            guard let field = fieldInside(String(rest.prefix { $0 != "," })) else { continue }
            var table: [UInt64: String] = [:]
            // Pairs `{ value, "name" }` up to the closing parenthesis of the call.
            var depth = 1
            var body = ""
            for c in rest {
                if c == "(" { depth += 1 }
                if c == ")" { depth -= 1; if depth == 0 { break } }
                body.append(c)
            }
            for pair in body.split(separator: "{").dropFirst() {
                let inside = pair.prefix { $0 != "}" }
                let parts = inside.split(separator: ",", maxSplits: 1)
                guard parts.count == 2 else { continue }
                let number = parts[0].filter { !$0.isWhitespace }
                let value = number.hasPrefix("0x") ? UInt64(number.dropFirst(2), radix: 16) : UInt64(number)
                let name = parts[1].filter { $0 != "\"" }.trimmingWhitespace()
                if let value { table[value] = name }
            }
            if !table.isEmpty { tables[field] = table }
        }
        return tables
    }
}
